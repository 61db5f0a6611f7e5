"""The server side of the broker integration, through boto3: iot-data Publish
(service `iotdata`) writes an outbox row the broker plugin delivers;
GetThingConnectivityData reads what the plugin records; registry changes a
connected device must hear about (certificate status, policies, principals,
groups, attributes) write outbox rows in the same transaction.

fleetd runs with the broker off here, so rows stay in the outbox and the
test reads them from the database; delivery through mosquitto is covered by
the MQTT tests."""
import datetime
import os
import sqlite3
import unittest

import botocore.exceptions

from harness import FleetdTestCase, q

POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}'


class DataPlaneTest(FleetdTestCase):
    server_env = {"FLEETD_BROKER": "off"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = cls.fleetd.client(service="iot-data")
        cls.data_nv = cls.fleetd.client(service="iot-data", validate=False)

    # ---- helpers ---------------------------------------------------------------
    def db(self):
        c = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.fleetd.data_dir, "fleetd.db"), uri=True,
                            timeout=10)
        self.addCleanup(c.close)
        return c

    def last_id(self):
        return self.db().execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]

    def rows_after(self, after):
        return self.db().execute("SELECT kind, target, client_id, payload, qos, retain FROM outbox WHERE id > ? "
                                 "ORDER BY id", (after,)).fetchall()

    # ---- Publish ---------------------------------------------------------------
    def test_publish_writes_outbox_row(self):
        before = self.last_id()
        r = self.data.publish(topic="devices/dev-1/cmd", qos=1, retain=True, payload=b'{"on": true}')
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(self.rows_after(before), [("publish", "devices/dev-1/cmd", None, b'{"on": true}', 1, 1)])

    def test_publish_defaults_and_raw_payload(self):
        before = self.last_id()
        binary = bytes(range(256)) * 4
        self.data.publish(topic="bin", payload=binary)
        self.data.publish(topic="not-json", payload=b"{ not json")
        self.data.publish(topic="empty")
        rows = self.rows_after(before)
        self.assertEqual(rows[0], ("publish", "bin", None, binary, 0, 0))
        self.assertEqual(rows[1][3], b"{ not json")
        self.assertEqual(rows[2][1:], ("empty", None, None, 0, 0))

    def test_publish_topic_encoding(self):
        before = self.last_id()
        topic = "a b/caf\u00e9/%41/x?y/\u2603"
        self.data.publish(topic=topic, payload=b"x")
        self.assertEqual(self.rows_after(before)[0][1], topic)

    def test_publish_max_payload(self):
        before = self.last_id()
        self.data.publish(topic="big", payload=b"x" * (128 * 1024))
        self.assertEqual(len(self.rows_after(before)[0][3]), 128 * 1024)
        self.assertAwsError("RequestEntityTooLargeException", self.data.publish, topic="big",
                            payload=b"x" * (128 * 1024 + 1), status=413)
        self.assertEqual(len(self.rows_after(before)), 1)

    def test_publish_bad_topics(self):
        before = self.last_id()
        for topic in ("a/+/b", "a/#", "#", "$aws/things/t/shadow/update", "$SYS/broker/x", "$CONTROL/fleet/v1",
                      "a/b/c/d/e/f/g/h/i", "t" * 257):
            with self.subTest(topic=topic):
                self.assertAwsError("InvalidRequestException", self.data.publish, topic=topic, payload=b"x",
                                    status=400)
        self.data.publish(topic="a/b/c/d/e/f/g/h", payload=b"x")  # 7 slashes
        self.data.publish(topic="t" * 256, payload=b"x")
        self.assertEqual(len(self.rows_after(before)), 2)

    def test_publish_bad_qos_and_retain(self):
        for qs in ("qos=2", "qos=-1", "qos=x", "retain=maybe"):
            with self.subTest(query=qs):
                r = self.fleetd.raw("POST", "/topics/t?" + qs, b"x", service="iotdata")
                self.assertRawError(r, 400, "InvalidRequestException")
        self.assertAwsError("InvalidRequestException", self.data_nv.publish, topic="t", qos=2, payload=b"x")

    def test_publish_only_on_data_plane(self):
        # signed for "iot", the data-plane path does not exist
        r = self.fleetd.raw("POST", "/topics/" + q("a/b"), b"x", service="iot")
        self.assertEqual(r.status, 404, r)
        # and iot operations are not reachable with an iotdata signature
        r = self.fleetd.raw("GET", "/things", service="iotdata")
        self.assertEqual(r.status, 404, r)
        r = self.fleetd.raw("GET", "/topics/" + q("a/b"), service="iotdata")
        self.assertRawError(r, 405, "MethodNotAllowedException")

    def test_publish_read_only_key(self):
        k = self.fleetd.keys("create", "--read-only").json
        ro = self.fleetd.client(key=k, service="iot-data")
        before = self.last_id()
        self.assertAwsError("AccessDeniedException", ro.publish, topic="t", payload=b"x", status=403)
        self.assertEqual(self.rows_after(before), [])

    # ---- GetThingConnectivityData ---------------------------------------------------
    def test_connectivity_unknown_thing(self):
        self.assertAwsError("ResourceNotFoundException", self.iot.get_thing_connectivity_data, thingName="nope",
                            status=404)

    def test_connectivity_never_connected(self):
        self.iot.create_thing(thingName="conn-never")
        r = self.iot.get_thing_connectivity_data(thingName="conn-never")
        self.assertEqual(r["thingName"], "conn-never")
        self.assertIs(r["connected"], False)
        self.assertNotIn("timestamp", r)
        self.assertNotIn("disconnectReason", r)

    def test_connectivity_recorded(self):
        # what the broker plugin writes (connectivity_write_batch), written directly
        self.iot.create_thing(thingName="conn-on")
        self.iot.create_thing(thingName="conn-off")
        db = sqlite3.connect(os.path.join(self.fleetd.data_dir, "fleetd.db"), timeout=10)
        with db:
            db.execute("INSERT INTO connectivity(thing_name, connected, timestamp_ms, disconnect_reason, version) "
                       "VALUES ('conn-on', 1, 1764142418250, NULL, 1), "
                       "('conn-off', 0, 1764142419000, 'DUPLICATE_CLIENTID', 2)")
        db.close()
        r = self.iot.get_thing_connectivity_data(thingName="conn-on")
        self.assertIs(r["connected"], True)
        self.assertEqual(r["timestamp"], datetime.datetime.fromtimestamp(1764142418.25, datetime.timezone.utc)
                         .astimezone(r["timestamp"].tzinfo))
        self.assertNotIn("disconnectReason", r)
        r = self.iot.get_thing_connectivity_data(thingName="conn-off")
        self.assertIs(r["connected"], False)
        self.assertEqual(r["disconnectReason"], "DUPLICATE_CLIENTID")

    def test_connectivity_read_only_key(self):
        self.iot.create_thing(thingName="conn-ro")
        ro = self.fleetd.client(key=self.fleetd.keys("create", "--read-only").json)
        self.assertIs(ro.get_thing_connectivity_data(thingName="conn-ro")["connected"], False)

    # ---- registry hooks --------------------------------------------------------------
    def test_registry_changes_write_outbox_rows(self):
        cert = self.iot.create_keys_and_certificate(setAsActive=True)
        cid, carn = cert["certificateId"], cert["certificateArn"]
        self.iot.create_thing(thingName="hook-thing")
        self.iot.create_policy(policyName="hook-policy", policyDocument=POLICY)
        self.iot.create_thing_group(thingGroupName="hook-group")
        garn = self.iot.describe_thing_group(thingGroupName="hook-group")["thingGroupArn"]

        def expect(fn, rows, **kw):
            before = self.last_id()
            fn(**kw)
            self.assertEqual([(k, t) for k, t, *_ in self.rows_after(before)], rows, fn)

        expect(self.iot.attach_policy, [("authz", cid)], policyName="hook-policy", target=carn)
        expect(self.iot.attach_thing_principal, [("authz", cid)], thingName="hook-thing", principal=carn)
        expect(self.iot.update_thing, [("authz", cid)], thingName="hook-thing",
               attributePayload={"attributes": {"floor": "3"}})
        expect(self.iot.add_thing_to_thing_group, [("authz", cid)], thingGroupName="hook-group",
               thingName="hook-thing")
        expect(self.iot.create_policy_version, [("authz", cid)], policyName="hook-policy", policyDocument=POLICY,
               setAsDefault=True)
        expect(self.iot.create_policy_version, [], policyName="hook-policy", policyDocument=POLICY)
        expect(self.iot.attach_policy, [("authz", None)], policyName="hook-policy", target=garn)
        expect(self.iot.set_default_policy_version, [("authz", None)], policyName="hook-policy",
               policyVersionId="1")
        expect(self.iot.remove_thing_from_thing_group, [("authz", cid)], thingGroupName="hook-group",
               thingName="hook-thing")
        expect(self.iot.update_certificate, [("cert_status", cid)], certificateId=cid, newStatus="INACTIVE")
        expect(self.iot.detach_thing_principal, [("authz", cid)], thingName="hook-thing", principal=carn)
        expect(self.iot.describe_thing, [], thingName="hook-thing")
        # a failed change writes nothing
        before = self.last_id()
        self.assertAwsError("ResourceNotFoundException", self.iot.update_certificate, certificateId="0" * 64,
                            newStatus="ACTIVE")
        self.assertEqual(self.rows_after(before), [])


if __name__ == "__main__":
    unittest.main()
