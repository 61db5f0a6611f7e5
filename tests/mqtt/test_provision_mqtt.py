"""The fleet-provisioning MQTT API of the plugin, driven with paho (MQTT 3.1.1
and 5) from a claim certificate made by CreateProvisioningClaim (boto3):
$aws/certificates/create-from-csr/{json,cbor} and $aws/certificates/create/
{json,cbor} -> $aws/provisioning-templates/<name>/provision/{json,cbor} with
the issue's template -> reconnect with the new certificate as device-<serial>
and publish under SensorDevicePolicy. Rejections: forged, expired and reused
ownership tokens, disabled template, missing parameter, unknown thing type,
unknown template, bad payload; the claim certificate publishing elsewhere is
denied; answers reach the requester only.

CBOR is encoded and decoded by hand below (Debian's python3 has no cbor2).

Expired tokens: fleetd runs with FLEETD_PROVISIONING_TOKEN_TTL_S=3
(ProvisioningExpiryTest), which it passes to the plugin as
plugin_opt_provisioning_token_ttl_s."""
import base64
import json
import os
import struct
import subprocess
import time
import uuid

from fleetprov import ROLE_ARN, SENSOR_TEMPLATE, setup_sensor_template
from mqtt_harness import StackTestCase

WAIT = 20  # seconds for an answer (RSA key generation, a worker, a TICK)
QUIET = 0.8


# ---- a minimal CBOR codec (RFC 8949: the subset AWS payloads use) -----------

def cbor_encode(v):
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | ai]) + struct.pack(fmt, n)
        raise ValueError(n)
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, (list, tuple)):
        return head(4, len(v)) + b"".join(cbor_encode(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(cbor_encode(k) + cbor_encode(x) for k, x in v.items())
    raise TypeError(type(v))


def cbor_decode(b):
    def item(i):
        ib = b[i]
        major, ai = ib >> 5, ib & 31
        i += 1
        if ai < 24:
            n = ai
        elif ai in (24, 25, 26, 27):
            size = 1 << (ai - 24)
            n = int.from_bytes(b[i:i + size], "big")
            i += size
        else:
            raise ValueError("indefinite lengths are not used here")
        if major == 0:
            return n, i
        if major == 1:
            return -1 - n, i
        if major in (2, 3):
            s = b[i:i + n]
            return (s.decode() if major == 3 else s), i + n
        if major == 4:
            out = []
            for _ in range(n):
                x, i = item(i)
                out.append(x)
            return out, i
        if major == 5:
            out = {}
            for _ in range(n):
                k, i = item(i)
                x, i = item(i)
                out[k] = x
            return out, i
        if major == 6:
            return item(i)
        if major == 7:
            if ai == 20:
                return False, i
            if ai == 21:
                return True, i
            if ai in (22, 23):
                return None, i
            if ai == 25:
                return struct.unpack(">e", b[i - 2:i])[0], i
            if ai == 26:
                return struct.unpack(">f", b[i - 4:i])[0], i
            if ai == 27:
                return struct.unpack(">d", b[i - 8:i])[0], i
        raise ValueError("unsupported CBOR item 0x%02x" % ib)
    v, end = item(0)
    if end != len(b):
        raise ValueError("trailing bytes")
    return v


def make_csr(dirname, cn="sensor"):
    key = os.path.join(dirname, "dev-%s.key" % uuid.uuid4().hex[:8])
    csr = key + ".csr"
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-subj", "/CN=" + cn, "-out", csr], check=True, capture_output=True)
    with open(csr) as f:
        return key, f.read()


class Requester:
    """A paho connection that speaks the provisioning API in json or cbor."""

    def __init__(self, test, client, fmt):
        self.t, self.c, self.fmt = test, client, fmt

    def subscribe(self, base):
        for s in ("accepted", "rejected"):
            g = self.c.subscribe("%s/%s/%s" % (base, self.fmt, s))
            self.t.assertTrue(g and g[0] < 0x80, "SUBACK %r for %s" % (g, base))

    def request(self, base, body, expect="accepted"):
        topic = "%s/%s" % (base, self.fmt)
        if self.fmt == "json":
            ok = self.c.publish(topic, json.dumps(body) if body is not None else "")
        else:
            raw = cbor_encode(body) if body is not None else b""
            self.c._send(op="publish", topic=topic, payload=base64.b64encode(raw).decode(), b64=True, qos=1,
                         retain=False)
            ok = self.c._wait(("published",), WAIT, lambda e: e.get("topic") == topic) is not None
        self.t.assertTrue(ok, "publish to %s not acknowledged" % topic)
        m = self.c.wait_message(timeout=WAIT)
        self.t.assertIsNotNone(m, "no answer to %s\nbroker log tail:\n%s" % (topic,
                                                                            self.t.stack.broker_log()[-2000:]))
        if self.fmt == "json":
            self.t.assertNotIn("b64", m, "a json answer must be text")
            payload = json.loads(m["payload"])
        else:
            raw = base64.b64decode(m["payload"]) if m.get("b64") else m["payload"].encode()
            payload = cbor_decode(raw)
        self.t.assertEqual(m["topic"], "%s/%s" % (topic, expect), payload)
        return payload


class ProvisioningMqttTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tpl = setup_sensor_template(cls.stack, "SensorMqtt")
        cls.iot.create_provisioning_template(templateName="SensorOff", templateBody=SENSOR_TEMPLATE,
                                             provisioningRoleArn=ROLE_ARN, enabled=False)
        bad = SENSOR_TEMPLATE.replace('"EnvironmentalSensor"', '"NoSuchThingType"')
        cls.iot.create_provisioning_template(templateName="SensorBadType", templateBody=bad,
                                             provisioningRoleArn=ROLE_ARN, enabled=True)

    def claim(self, template=None, protocol=4):
        r = self.iot.create_provisioning_claim(templateName=template or self.tpl)
        d = self.stack._save("claim", r["certificateId"], "", r["certificatePem"], r["keyPair"]["PrivateKey"])
        cid = "factory-" + uuid.uuid4().hex[:8]
        c = self.connect(d, client_id=cid, protocol=protocol)
        return d, c

    def provision_topic(self, tpl=None):
        return "$aws/provisioning-templates/%s/provision" % (tpl or self.tpl)

    def first_boot(self, fmt, mode, protocol=4):
        """claim -> certificate (csr or keys) -> provision; returns the new device's files and thing name."""
        _, c = self.claim(protocol=protocol)
        req = Requester(self, c, fmt)
        base = "$aws/certificates/create-from-csr" if mode == "csr" else "$aws/certificates/create"
        req.subscribe(base)
        req.subscribe(self.provision_topic())
        if mode == "csr":
            key_file, csr = make_csr(self.stack.files)
            r = req.request(base, {"certificateSigningRequest": csr})
            self.assertEqual(set(r), {"certificateId", "certificatePem", "certificateOwnershipToken"}, r)
            with open(key_file) as f:
                key = f.read()
        else:
            r = req.request(base, {} if fmt == "json" else None)
            self.assertEqual(set(r), {"certificateId", "certificatePem", "privateKey", "certificateOwnershipToken"},
                             r)
            self.assertIn("PRIVATE KEY", r["privateKey"])
            key = r["privateKey"]
        cert_id = r["certificateId"]
        d = self.iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
        self.assertEqual(d["status"], "PENDING_ACTIVATION")
        serial = uuid.uuid4().hex[:10]
        p = req.request(self.provision_topic(), {"certificateOwnershipToken": r["certificateOwnershipToken"],
                                                 "parameters": {"SerialNumber": serial, "HardwareRevision": "r7"}})
        thing = "device-" + serial
        self.assertEqual(p, {"deviceConfiguration": {}, "thingName": thing})
        t = self.iot.describe_thing(thingName=thing)
        self.assertEqual(t["thingTypeName"], "EnvironmentalSensor")
        self.assertEqual(t["attributes"], {"hwRevision": "r7", "firmwareVersion": "1.0.0"})
        d = self.iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
        self.assertEqual(d["status"], "ACTIVE")
        pols = self.iot.list_attached_policies(target=d["certificateArn"])["policies"]
        self.assertEqual([x["policyName"] for x in pols], ["SensorDevicePolicy"])
        dev = self.stack._save(thing, cert_id, d["certificateArn"], r["certificatePem"], key)
        c.close()
        return dev, r["certificateOwnershipToken"]

    def reconnect_and_publish(self, dev, protocol=4):
        obs = self.stack.observer("things/#")
        c = self.connect(dev, client_id=dev.name, protocol=protocol)
        topic = "things/%s/telemetry" % dev.name
        g = c.subscribe(topic)
        self.assertTrue(g and g[0] < 0x80, g)
        self.assertTrue(c.publish(topic, "21.5C"))
        self.assertIsNotNone(c.wait_message(topic, payload="21.5C"))
        self.assertIsNotNone(obs.wait_message(topic))
        # not outside its policy
        self.assertTrue(c.publish("things/someone-else/telemetry", "x") or True)
        self.assertIsNone(obs.wait_message("things/someone-else/telemetry", timeout=QUIET))
        c.close()

    # ---- the happy paths -------------------------------------------------------
    def test_csr_json(self):
        dev, _ = self.first_boot("json", "csr")
        self.reconnect_and_publish(dev)

    def test_keys_json_mqtt5(self):
        dev, _ = self.first_boot("json", "keys", protocol=5)
        self.reconnect_and_publish(dev, protocol=5)

    def test_csr_cbor(self):
        dev, _ = self.first_boot("cbor", "csr")
        self.reconnect_and_publish(dev)

    def test_keys_cbor_mqtt5(self):
        dev, _ = self.first_boot("cbor", "keys", protocol=5)
        self.reconnect_and_publish(dev)

    # ---- rejections ----------------------------------------------------------------
    def rejected(self, payload, status, code, text=None):
        self.assertEqual(set(payload), {"statusCode", "errorCode", "errorMessage"}, payload)
        self.assertEqual((payload["statusCode"], payload["errorCode"]), (status, code), payload)
        if text:
            self.assertIn(text, payload["errorMessage"])

    def new_cert(self, req):
        base = "$aws/certificates/create-from-csr"
        _, csr = make_csr(self.stack.files)
        return req.request(base, {"certificateSigningRequest": csr})

    def test_token_rejections(self):
        _, c = self.claim()
        for fmt in ("json", "cbor"):
            req = Requester(self, c, fmt)
            req.subscribe("$aws/certificates/create-from-csr")
            req.subscribe(self.provision_topic())
            r = self.new_cert(req)
            params = {"SerialNumber": uuid.uuid4().hex[:8], "HardwareRevision": "r1"}
            tok = r["certificateOwnershipToken"]
            forged = tok[:-1] + ("0" if tok[-1] != "0" else "1")
            p = req.request(self.provision_topic(), {"certificateOwnershipToken": forged, "parameters": params},
                            "rejected")
            self.rejected(p, 400, "InvalidCertificateOwnershipToken", "forged")
            p = req.request(self.provision_topic(), {"parameters": params}, "rejected")
            self.rejected(p, 400, "InvalidCertificateOwnershipToken", "Certificate ownership token cannot be empty.")
            # the certificate stays PENDING_ACTIVATION until a good token is used, once
            d = self.iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
            self.assertEqual(d["status"], "PENDING_ACTIVATION")
            p = req.request(self.provision_topic(), {"certificateOwnershipToken": tok, "parameters": params})
            self.assertEqual(p["thingName"], "device-" + params["SerialNumber"])
            p = req.request(self.provision_topic(), {"certificateOwnershipToken": tok, "parameters": params},
                            "rejected")
            self.rejected(p, 400, "InvalidCertificateOwnershipToken", "already used")

    def test_template_rejections(self):
        _, c = self.claim()
        req = Requester(self, c, "json")
        req.subscribe("$aws/certificates/create-from-csr")
        req.subscribe(self.provision_topic())
        r = self.new_cert(req)
        tok = r["certificateOwnershipToken"]
        serial = uuid.uuid4().hex[:8]
        # missing parameter: nothing made, the token still good
        p = req.request(self.provision_topic(), {"certificateOwnershipToken": tok,
                                                 "parameters": {"HardwareRevision": "r1"}}, "rejected")
        self.rejected(p, 400, "InvalidParameters", "SerialNumber")
        # bad payloads
        p = req.request(self.provision_topic(), {"certificateOwnershipToken": tok, "parameters": "x"}, "rejected")
        self.rejected(p, 400, "InvalidPayload")
        self.assertTrue(c.publish(self.provision_topic() + "/json", "{not json"))
        m = c.wait_message(timeout=WAIT)
        self.assertEqual(m["topic"], self.provision_topic() + "/json/rejected")
        self.rejected(json.loads(m["payload"]), 400, "InvalidPayload")
        p = req.request("$aws/certificates/create-from-csr", {"certificateSigningRequest": "garbage"}, "rejected")
        self.rejected(p, 400, "InvalidCSR")
        # other templates (the claim's policy allows only its own template's topics: a wider claim here)
        wide = self.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": "ARN:topic/$aws/provisioning-templates/*"},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": "ARN:topicfilter/$aws/provisioning-templates/*"}])
        w = self.stack.device(policies=[wide], thing=False)
        wc = self.connect(w, client_id="wide-" + uuid.uuid4().hex[:6])
        wr = Requester(self, wc, "json")
        params = {"SerialNumber": serial, "HardwareRevision": "r1"}
        for tpl, status, code, text in (("SensorOff", 400, "InvalidRequest", "disabled"),
                                        ("SensorBadType", 400, "ResourceRegistrationFailure", "NoSuchThingType"),
                                        ("NoSuchTemplate", 404, "ResourceNotFound", None)):
            wr.subscribe(self.provision_topic(tpl))
            p = wr.request(self.provision_topic(tpl), {"certificateOwnershipToken": tok, "parameters": params},
                           "rejected")
            self.rejected(p, status, code, text)
        with self.assertRaises(Exception):
            self.iot.describe_thing(thingName="device-" + serial)
        # after all that, the token works
        p = req.request(self.provision_topic(), {"certificateOwnershipToken": tok, "parameters": params})
        self.assertEqual(p["thingName"], "device-" + serial)

    def test_claim_may_do_nothing_else(self):
        claim, c = self.claim()
        obs = self.stack.observer("#", "$aws/things/#")
        # publishing elsewhere: refused, not routed
        c.publish("things/anything/telemetry", "x")
        c.publish("$aws/things/anything/shadow/update", "{}")
        self.assertIsNone(obs.wait_message(timeout=QUIET))
        # subscribing elsewhere: refused
        g = c.subscribe("things/#")
        self.assertTrue(g is not None and all(x >= 0x80 for x in g), g)
        # the answers topics: never publishable, by anyone
        c.publish(self.provision_topic() + "/json/accepted", json.dumps({"thingName": "fake"}))
        self.assertIsNone(obs.wait_message(timeout=QUIET))
        # a certificate made over MQTT cannot connect before it is provisioned
        key_file, csr = make_csr(self.stack.files)
        req = Requester(self, c, "json")
        req.subscribe("$aws/certificates/create-from-csr")
        r = req.request("$aws/certificates/create-from-csr", {"certificateSigningRequest": csr})
        with open(key_file) as f:
            pending = self.stack._save("pending", r["certificateId"], "", r["certificatePem"], f.read())
        self.assertRefused(self.stack.paho(pending, client_id="pending-1").connect(), "PENDING_ACTIVATION")

    def test_answers_reach_the_requester_only(self):
        """A second client subscribed with wildcards sees neither the request
        nor the answer; nor does the requester's own wildcard subscription
        see its request echoed."""
        spy_pol = self.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
            {"Effect": "Allow", "Action": ["iot:Receive", "iot:Publish"], "Resource": "ARN:topic/$aws/*"},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "ARN:topicfilter/$aws/*"}])
        spy_dev = self.stack.device(policies=[spy_pol], thing=False)
        spy = self.connect(spy_dev, client_id="spy-" + uuid.uuid4().hex[:6])
        for f in ("$aws/certificates/#", "$aws/provisioning-templates/#"):
            g = spy.subscribe(f)
            self.assertTrue(g and g[0] < 0x80, g)
        obs = self.stack.observer("$aws/certificates/#", "$aws/provisioning-templates/#")
        _, c = self.claim()
        g = c.subscribe("$aws/certificates/create-from-csr/json/+")
        self.assertTrue(g and g[0] < 0x80, g)
        _, csr = make_csr(self.stack.files)
        self.assertTrue(c.publish("$aws/certificates/create-from-csr/json",
                                  json.dumps({"certificateSigningRequest": csr})))
        m = c.wait_message(timeout=WAIT)
        self.assertEqual(m["topic"], "$aws/certificates/create-from-csr/json/accepted")
        self.assertEqual(c.drain(QUIET), [], "the request must not come back to the requester")
        self.assertEqual(spy.drain(QUIET), [], "another client saw the request or the answer")
        self.assertIsNone(obs.wait_message(timeout=0.2), "the request was routed")

    def test_answer_needs_receive(self):
        """Without iot:Receive on the answer topic, no answer is delivered
        (the request is still handled)."""
        pol = self.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
            {"Effect": "Allow", "Action": "iot:Publish", "Resource": "ARN:topic/$aws/certificates/create-from-csr/*"},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "ARN:topicfilter/$aws/certificates/*"}])
        d = self.stack.device(policies=[pol], thing=False)
        c = self.connect(d, client_id="norecv-" + uuid.uuid4().hex[:6])
        g = c.subscribe("$aws/certificates/create-from-csr/json/accepted")
        self.assertTrue(g and g[0] < 0x80, g)
        _, csr = make_csr(self.stack.files)
        self.assertTrue(c.publish("$aws/certificates/create-from-csr/json",
                                  json.dumps({"certificateSigningRequest": csr})))
        self.assertIsNone(c.wait_message(timeout=2.0))


    def test_request_needs_publish(self):
        """Without iot:Publish on the request topic the broker drops the
        request before the plugin's MESSAGE handler sees it: no certificate
        is made, no answer comes."""
        pol = self.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
            {"Effect": "Allow", "Action": "iot:Receive", "Resource": "ARN:topic/$aws/certificates/*"},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "ARN:topicfilter/$aws/certificates/*"}])
        d = self.stack.device(policies=[pol], thing=False)
        c = self.connect(d, client_id="nopub-" + uuid.uuid4().hex[:6], protocol=5)
        for s in ("accepted", "rejected"):
            g = c.subscribe("$aws/certificates/create-from-csr/json/" + s)
            self.assertTrue(g and g[0] < 0x80, g)
        before = len(self.iot.list_certificates(pageSize=250)["certificates"])
        _, csr = make_csr(self.stack.files)
        c.publish("$aws/certificates/create-from-csr/json", json.dumps({"certificateSigningRequest": csr}))
        self.assertIsNone(c.wait_message(timeout=2.0))
        self.assertEqual(len(self.iot.list_certificates(pageSize=250)["certificates"]), before)


class ProvisioningExpiryTest(StackTestCase):
    """Tokens expire and unclaimed certificates go away: fleetd runs with a
    3-second token lifetime."""

    @classmethod
    def setUpClass(cls):
        cls.server_env = {"FLEETD_PROVISIONING_TOKEN_TTL_S": "3"}
        super().setUpClass()
        cls.tpl = setup_sensor_template(cls.stack, "SensorTtl")

    def test_expired_token(self):
        r = self.iot.create_provisioning_claim(templateName=self.tpl)
        d = self.stack._save("claim", r["certificateId"], "", r["certificatePem"], r["keyPair"]["PrivateKey"])
        c = self.connect(d, client_id="factory-" + uuid.uuid4().hex[:6])
        req = Requester(self, c, "json")
        req.subscribe("$aws/certificates/create-from-csr")
        req.subscribe("$aws/provisioning-templates/%s/provision" % self.tpl)
        _, csr = make_csr(self.stack.files)
        r = req.request("$aws/certificates/create-from-csr", {"certificateSigningRequest": csr})
        time.sleep(3.5)
        p = req.request("$aws/provisioning-templates/%s/provision" % self.tpl,
                        {"certificateOwnershipToken": r["certificateOwnershipToken"],
                         "parameters": {"SerialNumber": "exp1", "HardwareRevision": "r1"}}, "rejected")
        self.assertEqual((p["statusCode"], p["errorCode"]), (400, "InvalidCertificateOwnershipToken"), p)
        self.assertIn("expired", p["errorMessage"])
        # the unclaimed certificate is deleted by the plugin's sweep (once a
        # minute, the first a minute after the broker started)
        deadline = time.time() + 75
        while time.time() < deadline:
            try:
                self.iot.describe_certificate(certificateId=r["certificateId"])
            except self.iot.exceptions.ResourceNotFoundException:
                break
            time.sleep(1)
        else:
            self.fail("the unclaimed certificate %s was not deleted" % r["certificateId"])
