"""The AWS IoT Device SDK v2 for JavaScript (MQTT 3.1.1 and MQTT 5 clients,
built the way AWS's samples build them) and mqtt.js, against the broker:
connect with mTLS, subscribe, publish, receive; refused when revoked.
Needs tests/sdk/node_modules (`make sdk-deps`: npm ci)."""
import json
import os
import subprocess
import unittest

from mqtt_harness import NODE, SDK_DIR, StackTestCase

HAVE_SDK = os.path.isdir(os.path.join(SDK_DIR, "node_modules", "aws-iot-device-sdk-v2")) and \
    os.path.isdir(os.path.join(SDK_DIR, "node_modules", "mqtt"))
CLIENTS = ("sdk311", "sdk5", "mqttjs4", "mqttjs5")


@unittest.skipUnless(HAVE_SDK, "tests/sdk/node_modules missing: run `make sdk-deps` (npm ci in tests/sdk)")
class DeviceSdkTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pol = cls.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": ["ARN:topic/things/${iot:Connection.Thing.ThingName}/*"]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": ["ARN:topicfilter/things/${iot:Connection.Thing.ThingName}/*"]},
        ])

    def node(self, client, device, timeout=30, **kw):
        args = {"client": client, "host": self.stack.mqtt_host, "port": self.stack.mqtt_port,
                "ca": device.ca_file, "cert": device.cert_file, "key": device.key_file,
                "clientId": kw.pop("client_id", device.name)}
        args.update(kw)
        p = subprocess.run([NODE, os.path.join(SDK_DIR, "device.js"), json.dumps(args)], capture_output=True,
                           timeout=timeout, cwd=SDK_DIR)
        lines = [ln for ln in p.stdout.decode().splitlines() if ln.startswith("{")]
        self.assertTrue(lines, "device.js printed no result (rc %d): %s %s" % (p.returncode, p.stdout, p.stderr))
        return json.loads(lines[-1])

    def test_round_trip(self):
        for client in CLIENTS:
            with self.subTest(client=client):
                d = self.stack.device(policies=[self.pol])
                own = "things/%s/echo" % d.name
                r = self.node(client, d, subscribe=["things/%s/#" % d.name],
                              publish=[{"topic": own, "payload": "hi from " + client}], expect=1)
                self.assertTrue(r["connected"], r)
                self.assertEqual(r["suback"], [[1]], r)
                self.assertEqual(r["published"], 1, r)
                self.assertEqual(r["received"], [{"topic": own, "payload": "hi from " + client}], r)

    def test_other_device_refused(self):
        other = self.stack.device(policies=[self.pol])
        for client in CLIENTS:
            with self.subTest(client=client):
                d = self.stack.device(policies=[self.pol])
                r = self.node(client, d, subscribe=["things/%s/#" % other.name], expect=0, timeoutMs=1500)
                self.assertTrue(r["connected"], r)
                self.assertTrue(all(c >= 128 for c in r["suback"][0]), r)

    def test_server_to_device(self):
        d = self.stack.device(policies=[self.pol])
        topic = "things/%s/cmd" % d.name
        proc = subprocess.Popen([NODE, os.path.join(SDK_DIR, "device.js"), json.dumps({
            "client": "sdk5", "host": self.stack.mqtt_host, "port": self.stack.mqtt_port, "ca": d.ca_file,
            "cert": d.cert_file, "key": d.key_file, "clientId": d.name, "subscribe": [topic], "expect": 1,
            "timeoutMs": 10000})], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=SDK_DIR)
        try:
            # publish until the subscriber is in place (it prints nothing before the end)
            out = None
            for i in range(40):
                self.stack.data.publish(topic=topic, qos=1, payload=b'{"cmd":"reboot"}')
                try:
                    out, err = proc.communicate(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    continue
            self.assertIsNotNone(out, "the SDK client received nothing")
            r = json.loads(out.decode().splitlines()[-1])
            self.assertTrue(r["received"], r)
            self.assertEqual(r["received"][0], {"topic": topic, "payload": '{"cmd":"reboot"}'})
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def test_revoked_refused(self):
        for client in CLIENTS:
            with self.subTest(client=client):
                d = self.stack.device(policies=[self.pol])
                self.iot.update_certificate(certificateId=d.cert_id, newStatus="REVOKED")
                r = self.node(client, d, timeoutMs=3000)
                self.assertFalse(r["connected"], r)
