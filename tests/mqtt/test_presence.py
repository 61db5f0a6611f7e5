"""Presence events ($aws/events/presence/...) with AWS's payload, and
GetThingConnectivityData over REST."""
import json
import os
import signal
import time

from mqtt_harness import StackTestCase

PRESENCE = "$aws/events/presence/%s/%s"


class PresenceTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pol = cls.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive", "iot:Subscribe"], "Resource": "*"},
        ])

    def setUp(self):
        self.obs = self.stack.observer("$aws/events/presence/#")

    def event(self, kind, client_id, timeout=3):
        m = self.obs.wait_message(PRESENCE % (kind, client_id), timeout=timeout)
        self.assertIsNotNone(m, "no %s event for %s" % (kind, client_id))
        return json.loads(m["payload"])

    def connectivity(self, name, connected, timeout=3):
        """GetThingConnectivityData, polled until `connected` matches (the
        plugin batches its writes off the hot path)."""
        deadline = time.time() + timeout
        while True:
            r = self.iot.get_thing_connectivity_data(thingName=name)
            if r.get("connected") == connected or time.time() > deadline:
                return r
            time.sleep(0.1)

    def test_connected_and_disconnected_events(self):
        d = self.stack.device(policies=[self.pol])
        before_ms = int(time.time() * 1000)
        c = self.connect(d)
        ev = self.event("connected", d.name)
        self.assertEqual(ev.get("clientId"), d.name)
        self.assertEqual(ev.get("eventType"), "connected")
        self.assertEqual(ev.get("principalIdentifier"), d.cert_id)
        self.assertIsInstance(ev.get("timestamp"), int)
        self.assertGreaterEqual(ev["timestamp"], before_ms - 1000)
        self.assertLessEqual(ev["timestamp"], int(time.time() * 1000) + 1000)
        self.assertTrue(ev.get("sessionIdentifier"), ev)
        self.assertIn("versionNumber", ev)
        self.assertNotIn("disconnectReason", ev)
        c.disconnect()
        ev2 = self.event("disconnected", d.name)
        self.assertEqual(ev2.get("eventType"), "disconnected")
        self.assertEqual(ev2.get("clientId"), d.name)
        self.assertEqual(ev2.get("disconnectReason"), "CLIENT_INITIATED_DISCONNECT", ev2)
        self.assertEqual(ev2.get("sessionIdentifier"), ev["sessionIdentifier"])
        self.assertEqual(ev2.get("principalIdentifier"), d.cert_id)
        self.assertGreaterEqual(ev2["versionNumber"], ev["versionNumber"])

    def test_connectivity_over_rest(self):
        d = self.stack.device(policies=[self.pol])
        c = self.connect(d)
        r = self.connectivity(d.name, True)
        self.assertTrue(r.get("connected"), r)
        self.assertEqual(r.get("thingName"), d.name)
        self.assertLess(abs(r["timestamp"].timestamp() - time.time()), 30, r)
        c.disconnect()
        r = self.connectivity(d.name, False)
        self.assertFalse(r.get("connected"), r)
        self.assertEqual(r.get("disconnectReason"), "CLIENT_INITIATED_DISCONNECT", r)
        self.assertAwsError = None
        with self.assertRaises(Exception) as cm:
            self.iot.get_thing_connectivity_data(thingName="no-such-thing-" + d.name)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceNotFoundException")

    def test_never_connected_thing(self):
        self.iot.create_thing(thingName="idle-thing-" + str(os.getpid()))
        r = self.iot.get_thing_connectivity_data(thingName="idle-thing-" + str(os.getpid()))
        self.assertFalse(r.get("connected"), r)

    def test_connection_lost(self):
        d = self.stack.device(policies=[self.pol])
        c = self.connect(d)
        self.event("connected", d.name)
        c.proc.send_signal(signal.SIGKILL)  # the TCP connection drops without DISCONNECT
        ev = self.event("disconnected", d.name)
        self.assertEqual(ev.get("disconnectReason"), "CONNECTION_LOST", ev)

    def test_duplicate_client_id(self):
        d = self.stack.device(policies=[self.pol])
        first = self.connect(d)
        self.event("connected", d.name)
        self.connect(d)
        ev = self.event("disconnected", d.name)
        self.assertEqual(ev.get("disconnectReason"), "DUPLICATE_CLIENTID", ev)
        self.assertIsNotNone(first.wait_disconnect(2))
        self.event("connected", d.name)
        # the device is still connected (the old connection's end must not mark it offline)
        time.sleep(0.6)
        self.assertTrue(self.connectivity(d.name, True)["connected"])

    def test_server_initiated_disconnect(self):
        d = self.stack.device(policies=[self.pol])
        c = self.connect(d)
        self.event("connected", d.name)
        self.iot.update_certificate(certificateId=d.cert_id, newStatus="INACTIVE")
        self.assertIsNotNone(c.wait_disconnect(3))
        ev = self.event("disconnected", d.name)
        self.assertEqual(ev.get("disconnectReason"), "SERVER_INITIATED_DISCONNECT", ev)
        r = self.connectivity(d.name, False)
        self.assertEqual(r.get("disconnectReason"), "SERVER_INITIATED_DISCONNECT", r)

    def test_refused_connect_has_no_presence(self):
        d = self.stack.device(policies=[self.pol], active=False)
        self.assertRefused(self.stack.paho(d).connect())
        self.assertIsNone(self.obs.wait_message(PRESENCE % ("connected", d.name), timeout=0.5))
