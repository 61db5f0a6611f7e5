"""`fleetd device create`, run beside a serving fleetd: the files, the
registry entries, and the printed mosquitto_pub line that works as is."""
import json
import os
import shlex
import stat
import subprocess
import tempfile

from mqtt_harness import StackTestCase, SANITIZER_MARKERS_LIST


class DeviceCreateTest(StackTestCase):

    def run_cli(self, *args, check=True):
        p = subprocess.run([self.stack.bin, "device"] + list(args), env=self.stack.env, capture_output=True,
                           timeout=60, cwd=self.stack.data_dir)
        err = p.stderr.decode("utf-8", "replace")
        for m in SANITIZER_MARKERS_LIST:
            self.assertNotIn(m, err)
        if check:
            self.assertEqual(p.returncode, 0, "device %s: %s %s" % (" ".join(args), p.stdout.decode(), err))
        return p

    def test_create_and_the_printed_line_works(self):
        out = tempfile.mkdtemp(prefix="fleetd-devices-", dir=self.stack.files)
        p = self.run_cli("create", "sensor-cli", "--policy", "default", "--out", out, "--json")
        r = json.loads(p.stdout)
        self.assertEqual(r["thingName"], "sensor-cli")
        self.assertEqual(r["policyName"], "fleetd-device-default")
        self.assertEqual(r["mqttPort"], self.stack.mqtt_port)
        for f in ("certificateFile", "privateKeyFile", "rootCaFile"):
            self.assertTrue(os.path.isfile(r[f]), r[f])
            self.assertEqual(os.path.dirname(r[f]), os.path.realpath(out))
        self.assertEqual(os.path.basename(r["certificateFile"]), "sensor-cli.cert.pem")
        self.assertEqual(os.path.basename(r["privateKeyFile"]), "sensor-cli.private.key")
        self.assertEqual(os.path.basename(r["rootCaFile"]), "root-CA.pem")
        self.assertEqual(stat.S_IMODE(os.stat(r["privateKeyFile"]).st_mode), 0o600)
        self.assertEqual(open(r["rootCaFile"]).read(), open(self.stack.root_ca).read())
        # the registry says what the command said
        d = self.iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
        self.assertEqual(d["status"], "ACTIVE")
        self.assertEqual(self.iot.list_thing_principals(thingName="sensor-cli")["principals"], [r["certificateArn"]])
        self.assertEqual([x["policyName"] for x in self.iot.list_attached_policies(target=r["certificateArn"])
                          ["policies"]], ["fleetd-device-default"])
        # the printed lines work, unchanged, against the running broker
        obs = self.stack.observer("things/#")
        pub = subprocess.run(shlex.split(r["mosquittoPub"]), capture_output=True, timeout=20)
        self.assertEqual(pub.returncode, 0, pub.stdout + pub.stderr)
        m = obs.wait_message(r["topic"])
        self.assertIsNotNone(m, "the mosquitto_pub line's message did not arrive")
        self.assertEqual(json.loads(m["payload"]), {"hello": "world"})
        rr = subprocess.run(shlex.split(r["mosquittoRr"]), capture_output=True, timeout=20)
        self.assertEqual(rr.returncode, 0, rr.stdout + rr.stderr)
        self.assertIn(b'{"hello":"world"}', rr.stdout)

    def test_human_output_and_second_device(self):
        out = tempfile.mkdtemp(prefix="fleetd-devices-", dir=self.stack.files)
        self.iot.create_thing(thingName="pre-existing")
        p = self.run_cli("create", "pre-existing", "--policy", "default", "--out", out)
        text = p.stdout.decode()
        self.assertIn("thing        pre-existing (existed)", text)
        line = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("mosquitto_pub ")]
        self.assertEqual(len(line), 1, text)
        pub = subprocess.run(shlex.split(line[0]), capture_output=True, timeout=20)
        self.assertEqual(pub.returncode, 0, pub.stdout + pub.stderr)
        # the default policy gives each device its own topics only
        other = self.run_cli("create", "other-dev", "--policy", "default", "--out", out, "--json")
        o = json.loads(other.stdout)
        argv = shlex.split(o["mosquittoRr"])
        argv[argv.index("-t") + 1] = "things/pre-existing/telemetry"
        argv[argv.index("-e") + 1] = "things/pre-existing/telemetry"
        argv[argv.index("-W") + 1] = "2"
        rr = subprocess.run(argv, capture_output=True, timeout=20)
        self.assertNotIn(b'{"hello":"world"}', rr.stdout, "another device's topic was delivered")

    def test_refusals(self):
        out = tempfile.mkdtemp(prefix="fleetd-devices-", dir=self.stack.files)
        p = self.run_cli("create", "no-policy-dev", "--policy", "no-such-policy", "--out", out, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no-such-policy", p.stderr)
        with self.assertRaises(Exception):
            self.iot.describe_thing(thingName="no-policy-dev")
        self.assertEqual(os.listdir(out), [])
        self.run_cli("create", "twice", "--policy", "default", "--out", out)
        p = self.run_cli("create", "twice", "--policy", "default", "--out", out, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"--force", p.stderr)
        self.run_cli("create", "twice", "--policy", "default", "--out", out, "--force")
        for args in (["create"], ["create", "x"], ["create", "x", "--policy", "default"], ["bogus"]):
            with self.subTest(args=args):
                self.assertEqual(self.run_cli(*args, check=False).returncode, 2)
        p = self.run_cli("create", "bad name!", "--policy", "default", "--out", out, check=False)
        self.assertEqual(p.returncode, 1)

    def test_custom_policy(self):
        pol = self.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:ClientId}"},
            {"Effect": "Allow", "Action": "iot:Publish", "Resource": "ARN:topic/${iot:ClientId}/telemetry"},
        ])
        out = tempfile.mkdtemp(prefix="fleetd-devices-", dir=self.stack.files)
        r = json.loads(self.run_cli("create", "custom-dev", "--policy", pol, "--out", out, "--json").stdout)
        self.assertEqual(r["topic"], "custom-dev/telemetry")
        self.assertTrue(r["publishAllowed"])
        self.assertFalse(r["roundTripAllowed"])
        pub = subprocess.run(shlex.split(r["mosquittoPub"]), capture_output=True, timeout=20)
        self.assertEqual(pub.returncode, 0, pub.stdout + pub.stderr)
