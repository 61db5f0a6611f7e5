"""The stack around the broker: iot-data Publish through the broker, the
outbox across a broker stop, fleetd restarting a broker that died, SIGHUP,
the generated configuration and connection.json."""
import json
import os
import signal
import socket
import stat
import time
import unittest

from mqtt_harness import Fleetd, Stack, StackTestCase


class DataPlaneTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pol = cls.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive", "iot:Subscribe"], "Resource": "*"},
        ])

    def test_publish_arrives(self):
        d = self.stack.device(policies=[self.pol])
        c = self.connect(d)
        t = "things/%s/cmd" % d.name
        self.assertEqual(c.subscribe(t, qos=1), [1])
        for qos in (0, 1):
            with self.subTest(qos=qos):
                body = json.dumps({"qos": qos, "n": 1}).encode()
                self.stack.data.publish(topic=t, qos=qos, payload=body)
                m = c.wait_message(t)
                self.assertIsNotNone(m, "iot-data Publish (qos %d) did not arrive" % qos)
                self.assertEqual(m["payload"], body.decode())
                self.assertEqual(m["qos"], qos)

    def test_publish_latency(self):
        # the kick wakes the plugin at once (no waiting for its tick)
        d = self.stack.device(policies=[self.pol])
        c = self.connect(d)
        t = "things/%s/fast" % d.name
        self.assertEqual(c.subscribe(t, qos=1), [1])
        worst = 0.0
        for i in range(10):
            t0 = time.time()
            self.stack.data.publish(topic=t, qos=1, payload=str(i).encode())
            m = c.wait_message(t, payload=str(i))
            self.assertIsNotNone(m)
            worst = max(worst, m["t"] - t0)
        self.assertLess(worst, 0.5, "slowest iot-data Publish -> device: %.3fs" % worst)

    def test_retained_publish(self):
        d = self.stack.device(policies=[self.pol])
        t = "things/%s/config" % d.name
        self.stack.data.publish(topic=t, qos=1, retain=True, payload=b"v1")
        time.sleep(0.3)
        c = self.connect(d)
        self.assertEqual(c.subscribe(t, qos=1), [1])
        m = c.wait_message(t)
        self.assertIsNotNone(m, "retained message not delivered on subscribe")
        self.assertEqual(m["payload"], "v1")
        self.assertTrue(m["retain"])


class BrokerLifecycleTest(StackTestCase):
    """Each test stops or kills the broker; fleetd brings it back."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pol = cls.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive", "iot:Subscribe"], "Resource": "*"},
        ])

    def test_outbox_rows_written_while_broker_is_down_arrive(self):
        st = self.stack
        d = st.device(policies=[self.pol])
        pid = st.wait_broker_up()
        os.kill(pid, signal.SIGTERM)  # our broker, by the pid fleetd wrote
        self.assertTrue(st.wait_broker_down(pid), "the broker did not stop")
        topics = ["things/%s/offline/%d" % (d.name, i) for i in range(3)]
        for i, t in enumerate(topics):
            st.data.publish(topic=t, qos=1, retain=True, payload=("while-down-%d" % i).encode())
        self.assertFalse(st.port_open(), "the broker came back before the rows were written")
        st.wait_broker_up(not_pid=pid)
        c = self.connect(d)
        self.assertEqual(c.subscribe("things/%s/offline/#" % d.name, qos=1), [1])
        got = {}
        deadline = time.time() + 5
        while len(got) < 3 and time.time() < deadline:
            m = c.wait_message(timeout=deadline - time.time())
            if m:
                got[m["topic"]] = m["payload"]
        self.assertEqual(got, {t: "while-down-%d" % i for i, t in enumerate(topics)},
                         "rows written while the broker was down")

    def test_killed_broker_is_restarted(self):
        st = self.stack
        d = st.device(policies=[self.pol])
        c = self.connect(d)
        pid = st.wait_broker_up()
        deadline = time.time() + 3
        while not self.iot.get_thing_connectivity_data(thingName=d.name)["connected"] and time.time() < deadline:
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        self.assertIsNotNone(c.wait_disconnect(5), "the device did not notice the broker's death")
        t0 = time.time()
        # a killed broker says nothing; fleetd marks its devices offline at once
        deadline = time.time() + 0.8
        r = self.iot.get_thing_connectivity_data(thingName=d.name)
        while r["connected"] and time.time() < deadline:
            time.sleep(0.05)
            r = self.iot.get_thing_connectivity_data(thingName=d.name)
        self.assertFalse(r["connected"], "still connected after the broker was killed: %r" % r)
        self.assertEqual(r.get("disconnectReason"), "CONNECTION_LOST")
        new = st.wait_broker_up(not_pid=pid, timeout=10)
        self.assertNotEqual(new, pid)
        self.assertLess(time.time() - t0, 5, "restart took too long")
        self.assertIn("restart", st.stderr())
        c2 = self.connect(d)
        self.assertTrue(c2.publish("things/%s/back" % d.name, qos=1))
        # the REST API went on meanwhile, and the kick connection recovered
        self.assertEqual(c2.subscribe("things/%s/cmd" % d.name, qos=1), [1])
        st.data.publish(topic="things/%s/cmd" % d.name, qos=1, payload=b"after-restart")
        self.assertIsNotNone(c2.wait_message("things/%s/cmd" % d.name, timeout=3))

    def test_sighup_reloads_and_keeps_clients(self):
        st = self.stack
        d = st.device(policies=[self.pol])
        c = self.connect(d)
        pid = st.wait_broker_up()
        st.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 3
        while "Reloading config" not in st.broker_log() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("Reloading config", st.broker_log(), "SIGHUP was not forwarded to the broker")
        self.assertIsNone(c.wait_disconnect(1.0), "a certificate client was disconnected by the reload")
        self.assertEqual(st.broker_pid(), pid)
        self.assertTrue(st.alive())
        self.assertTrue(c.publish("things/%s/after-hup" % d.name, qos=1))


class GeneratedConfigTest(StackTestCase):

    def test_connection_json_and_files(self):
        st = self.stack
        conn = json.load(open(os.path.join(st.data_dir, "connection.json")))
        self.assertEqual(conn["mqttHost"], "localhost")
        self.assertIsInstance(conn["mqttPort"], int)
        self.assertTrue(os.path.isabs(conn["rootCaPath"]))
        conf = open(os.path.join(st.broker_dir, "mosquitto.conf")).read()
        lines = [ln.strip() for ln in conf.splitlines() if ln.strip() and not ln.startswith("#")]
        for must in ("per_listener_settings false", "allow_anonymous false", "set_tcp_nodelay true",
                     "require_certificate true", "use_identity_as_username false",
                     "listener %d 127.0.0.1" % conn["mqttPort"], "listener 0 " + st.sock,
                     "cafile " + conn["rootCaPath"], "plugin_opt_region " + st.region,
                     "plugin_opt_account_id " + st.account):
            self.assertIn(must, lines)
        self.assertTrue(any(ln.startswith("plugin ") and ln.endswith("mosquitto_fleet.so") for ln in lines))
        self.assertEqual(stat.S_IMODE(os.stat(st.broker_dir).st_mode), 0o700)
        self.assertTrue(stat.S_ISSOCK(os.stat(st.sock).st_mode))
        pid = st.broker_pid()
        self.assertTrue(os.path.exists("/proc/%d" % pid))
        with open("/proc/%d/stat" % pid) as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        self.assertEqual(ppid, st.proc.pid, "the broker is not fleetd's child")
        self.assertIn("MQTT: mqtts://localhost:%d" % conn["mqttPort"], st.stderr())


class StopTest(unittest.TestCase):
    """One Ctrl-C stops both; a killed fleetd takes its broker with it;
    broker = on | off | auto."""

    def test_sigint_stops_both(self):
        st = Stack()
        try:
            pid = st.wait_broker_up()
            st.proc.send_signal(signal.SIGINT)
            rc = st.proc.wait(timeout=15)
            self.assertEqual(rc, 0, st.stderr()[-2000:])
            self.assertFalse(os.path.exists("/proc/%d" % pid) and "Z" not in open("/proc/%d/stat" % pid).read(),
                             "the broker outlived fleetd")
            self.assertIn("terminating", st.broker_log())
        finally:
            st.kill()

    def test_sigkill_of_fleetd_takes_the_broker_along(self):
        st = Stack()
        try:
            pid = st.wait_broker_up()
            st.proc.kill()
            st.proc.wait()
            deadline = time.time() + 5
            while os.path.exists("/proc/%d" % pid) and time.time() < deadline:
                time.sleep(0.05)
            self.assertFalse(os.path.exists("/proc/%d" % pid), "an orphaned broker kept running")
        finally:
            st.kill()

    def test_broker_off(self):
        f = Fleetd({"FLEETD_BROKER": "off", "FLEETD_MQTT_PORT": "0"})
        try:
            self.assertNotIn("mqttPort", f.conn)
            self.assertIn("MQTT: off", f.stderr())
            self.assertFalse(os.path.exists(os.path.join(f.data_dir, "broker", "broker.pid")))
        finally:
            f.stop()

    def test_broker_on_but_missing_plugin_fails(self):
        with self.assertRaises(RuntimeError) as cm:
            Fleetd({"FLEETD_BROKER": "on", "FLEETD_BROKER_PLUGIN": "/nonexistent/mosquitto_fleet.so"})
        self.assertIn("/nonexistent/mosquitto_fleet.so", str(cm.exception))

    def test_port_in_use(self):
        # auto: REST keeps working, the broker is retried; on: fleetd refuses to start
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            f = Fleetd({"FLEETD_MQTT_PORT": str(port), "FLEETD_BROKER": "auto"})
            try:
                self.assertEqual(f.client().list_things()["things"], [])
                self.assertIn("retried", f.stderr())
            finally:
                f.stop()
            with self.assertRaises(RuntimeError):
                Fleetd({"FLEETD_MQTT_PORT": str(port), "FLEETD_BROKER": "on"})
        finally:
            s.close()
