"""Fleet provisioning end to end with the AWS IoT Device SDK v2 for
JavaScript (IotIdentityClientv2, the v2 request-response client, over its
MQTT 5 and MQTT 3.1.1 clients): a claim from `fleetd claim create` ->
createCertificateFromCsr (EC P-256 CSR) or createKeysAndCertificate ->
registerThing with the issue's template, verbatim -> reconnect with the new
certificate as the thing -> publish under SensorDevicePolicy, delivered to a
subscriber (the device itself, and fleetd's trusted observer).
tests/sdk/provision.js is the device. Needs tests/sdk/node_modules."""
import json
import os
import subprocess
import tempfile
import unittest
import uuid

from fleetprov import claim_files, make_claim, setup_sensor_template
from mqtt_harness import NODE, SDK_DIR, StackTestCase

HAVE_SDK = os.path.isdir(os.path.join(SDK_DIR, "node_modules", "aws-iot-device-sdk-v2"))


@unittest.skipUnless(HAVE_SDK, "tests/sdk/node_modules missing: run `make sdk-deps` (npm ci in tests/sdk)")
class SdkFleetProvisioningTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tpl = setup_sensor_template(cls.stack, "SensorFleet")
        cls.claim_dir, cls.claim = make_claim(cls.stack, cls.tpl)

    def first_boot(self, client, mode, serial, forged=False, timeout=60):
        cert, key, ca = claim_files(self.claim_dir)
        args = {"client": client, "mode": mode, "host": self.stack.mqtt_host, "port": self.stack.mqtt_port,
                "ca": ca, "claimCert": cert, "claimKey": key, "claimClientId": "factory-" + serial,
                "templateName": self.tpl, "parameters": {"SerialNumber": serial, "HardwareRevision": "rev-B"},
                "outDir": tempfile.mkdtemp(prefix="dev-", dir=self.stack.files), "forgedToken": forged,
                "timeoutMs": 30000}
        p = subprocess.run([NODE, os.path.join(SDK_DIR, "provision.js"), json.dumps(args)], capture_output=True,
                           timeout=timeout, cwd=SDK_DIR)
        lines = [ln for ln in p.stdout.decode().splitlines() if ln.startswith("{")]
        self.assertTrue(lines, "provision.js printed no result (rc %d): %s %s" % (p.returncode, p.stdout, p.stderr))
        return json.loads(lines[-1])

    def check_provisioned(self, r, serial):
        thing = "device-" + serial
        self.assertNotIn("error", r, "%s\nbroker log tail:\n%s" % (r, self.stack.broker_log()[-2000:]))
        self.assertEqual(r["thingName"], thing, r)
        self.assertTrue(r["hasToken"], r)
        self.assertEqual(r["deviceConfiguration"], {}, r)
        # the registry: the template's thing, type, attributes, active certificate, policy
        t = self.iot.describe_thing(thingName=thing)
        self.assertEqual(t["thingTypeName"], "EnvironmentalSensor")
        self.assertEqual(t["attributes"], {"hwRevision": "rev-B", "firmwareVersion": "1.0.0"})
        d = self.iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
        self.assertEqual(d["status"], "ACTIVE")
        self.assertNotEqual(r["certificateId"], self.claim["certificateId"])
        self.assertEqual(self.iot.list_thing_principals(thingName=thing)["principals"], [d["certificateArn"]])
        pols = self.iot.list_attached_policies(target=d["certificateArn"])["policies"]
        self.assertEqual([p["policyName"] for p in pols], ["SensorDevicePolicy"])
        # the device, reconnected as its thing, published under its policy and got its message back
        topic = "things/%s/telemetry" % thing
        self.assertEqual(r["steps"][2:], ["registerThing", "claim-disconnected", "device-connected", "published",
                                          "device-disconnected"], r)
        self.assertTrue(all(c < 128 for c in r["suback"]), r)
        self.assertEqual([m["topic"] for m in r["received"]], [topic], r)
        self.assertEqual(json.loads(r["received"][0]["payload"])["serial"], serial)

    def run_flow(self, client, mode, forged=False):
        serial = "%s-%s-%s" % (mode, client, uuid.uuid4().hex[:6])
        obs = self.stack.observer("things/#")
        r = self.first_boot(client, mode, serial, forged=forged)
        self.check_provisioned(r, serial)
        m = obs.wait_message("things/device-%s/telemetry" % serial)
        self.assertIsNotNone(m, "the observer did not see the device's publish")
        return r

    def test_csr_mqtt5(self):
        r = self.run_flow("sdk5", "csr", forged=True)
        self.assertEqual(r["steps"][:2], ["claim-connected", "createCertificateFromCsr"])
        # a forged ownership token is rejected with AWS's payload, and the real one still works
        rej = r["forgedRejection"]
        self.assertIsNotNone(rej, r)
        self.assertIn("statusCode", rej, r)
        self.assertGreaterEqual(rej["statusCode"], 400)
        self.assertLess(rej["statusCode"], 500)
        self.assertTrue(rej.get("errorCode"), r)
        self.assertTrue(rej.get("errorMessage"), r)

    def test_keys_mqtt5(self):
        r = self.run_flow("sdk5", "keys")
        self.assertEqual(r["steps"][:2], ["claim-connected", "createKeysAndCertificate"])

    def test_csr_mqtt311(self):
        r = self.run_flow("sdk311", "csr")
        self.assertEqual(r["steps"][:2], ["claim-connected", "createCertificateFromCsr"])

    def test_keys_mqtt311(self):
        r = self.run_flow("sdk311", "keys")
        self.assertEqual(r["steps"][:2], ["claim-connected", "createKeysAndCertificate"])

    def test_no_pending_certificate_left(self):
        """After the flows, every certificate this class made is ACTIVE: the
        template activated each one it claimed; none is left PENDING_ACTIVATION."""
        self.run_flow("sdk5", "csr")
        certs = self.iot.list_certificates(pageSize=250)["certificates"]
        pending = [c["certificateId"] for c in certs if c["status"] == "PENDING_ACTIVATION"]
        self.assertEqual(pending, [])
