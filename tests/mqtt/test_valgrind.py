"""The broker with the plugin under valgrind (memcheck): a short session that
exercises connect (accepted and refused), subscribe, publish, receive, an
outbox delivery, a revocation kick, presence and a reload, then a clean stop.
No memory errors and no definite or indirect leaks. Skipped for sanitizer
builds: there the whole suite runs the ASan plugin instead."""
import glob
import os
import re
import shutil
import tempfile
import time
import unittest

from mqtt_harness import Stack, StackTestCase, is_asan_build


@unittest.skipIf(shutil.which("valgrind") is None, "valgrind is not installed")
@unittest.skipIf(is_asan_build(), "sanitizer build: the ASan plugin is checked by every test instead")
class ValgrindTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        cls.logdir = tempfile.mkdtemp(prefix="fleetd-vg-")
        wrapper = ("valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect "
                   "--errors-for-leak-kinds=definite,indirect --num-callers=30 --log-file=%s/vg.%%p.log"
                   % cls.logdir)
        cls.server_env = {"FLEETD_BROKER_WRAPPER": wrapper, "FLEETD_START_TIMEOUT": "120"}
        os.environ["FLEETD_START_TIMEOUT"] = "120"
        try:
            super().setUpClass()
        finally:
            del os.environ["FLEETD_START_TIMEOUT"]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            if os.environ.get("FLEETD_KEEP_DATA"):
                print("valgrind logs kept in", cls.logdir)
            else:
                shutil.rmtree(cls.logdir, ignore_errors=True)

    def test_session_is_clean(self):
        st = self.stack
        pol = st.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": "ARN:topic/things/${iot:Connection.Thing.ThingName}/*"},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": "ARN:topicfilter/things/${iot:Connection.Thing.ThingName}/*"},
            {"Effect": "Deny", "Action": "iot:Publish", "Resource": "ARN:topic/things/*/denied"},
        ])
        obs = st.observer("$aws/events/presence/#", "things/#")
        a = st.device(policies=[pol])
        b = st.device(policies=[pol])
        for proto in (4, 5):
            c = st.paho(a, protocol=proto)
            self.assertAccepted(c.connect(timeout=20))
            self.assertEqual(c.subscribe("things/%s/#" % a.name, qos=1, timeout=20), [1])
            self.assertTrue(c.subscribe("things/%s/#" % b.name, qos=1, timeout=20)[0] >= 128)
            self.assertTrue(c.publish("things/%s/t" % a.name, "x" * 300, qos=1, timeout=20))
            c.publish("things/%s/denied" % a.name, "no", qos=1, timeout=20)
            c.publish("things/%s/t" % b.name, "no", qos=0, timeout=20)
            st.data.publish(topic="things/%s/cmd" % a.name, qos=1, payload=b"go")
            self.assertIsNotNone(c.wait_message("things/%s/cmd" % a.name, timeout=20))
            c.disconnect(timeout=20)
            c.close()
        self.assertIsNotNone(obs.wait_message(timeout=20))
        # takeover, refusal, revocation while connected, reload
        first = st.paho(b)
        self.assertAccepted(first.connect(timeout=20))
        second = st.paho(b)
        self.assertAccepted(second.connect(timeout=20))
        self.assertIsNotNone(first.wait_disconnect(20))
        self.assertRefused(st.paho(a, client_id="wrong-id").connect(timeout=20))
        st.proc.send_signal(1)  # SIGHUP: the broker reloads, BASIC_AUTH runs again
        time.sleep(1.0)
        self.iot.update_certificate(certificateId=b.cert_id, newStatus="REVOKED")
        self.assertIsNotNone(second.wait_disconnect(20))
        self.assertRefused(st.paho(b).connect(timeout=20))
        st.close_clients()
        # stop fleetd: the broker exits, valgrind writes its summary
        st.stop()
        type(self).stack = None
        logs = glob.glob(os.path.join(self.logdir, "vg.*.log"))
        self.assertTrue(logs, "valgrind wrote no log")
        text = "".join(open(f, errors="replace").read() for f in logs)
        m = re.findall(r"ERROR SUMMARY: (\d+) errors", text)
        self.assertTrue(m, "no valgrind summary (was the broker killed?):\n" + text[-3000:])
        self.assertEqual([int(x) for x in m], [0] * len(m), "valgrind found errors:\n" + text[-6000:])
        for kind in ("definitely lost", "indirectly lost"):
            for n in re.findall(kind + r": ([\d,]+) bytes", text):
                self.assertEqual(n, "0", "%s: %s bytes\n%s" % (kind, n, text[-6000:]))
