"""
mqtt_harness.py - the whole stack for the MQTT tests: a real fleetd (which
starts the Debian mosquitto with mosquitto_fleet.so, broker = on) on free
ports, devices made through the REST API (boto3), and MQTT clients:

  Paho     paho-mqtt 1.6 under /usr/bin/python3 (paho_agent.py, driven over
           a pipe: the test Python has boto3 but no paho)
  Observer mosquitto_sub over the broker's unix socket: fleetd's own trusted
           identity, sees every topic whatever the policies say
  mqtt_pub mosquitto_pub with a device's certificate (exit status + output)
  node     the AWS IoT Device SDK v2 for JavaScript (tests/sdk/*.js)

Environment (besides tests/integration/harness.py's FLEETD_BIN, FLEETD_WRAPPER,
FLEETD_KEEP_DATA):
  PAHO_PYTHON   interpreter with paho-mqtt (default /usr/bin/python3)
  NODE          node binary for the SDK tests (default: node on PATH)
"""
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# appended, not prepended: modules named alike in both suites (test_cli.py)
# must resolve to this suite's own
sys.path.append(os.path.join(REPO, "tests", "integration"))

from harness import SANITIZER_MARKERS, Fleetd, error_code, fleetd_bin  # noqa: E402,F401

SANITIZER_MARKERS_LIST = list(SANITIZER_MARKERS)

PAHO_PYTHON = os.environ.get("PAHO_PYTHON", "/usr/bin/python3")
SDK_DIR = os.path.join(REPO, "tests", "sdk")
NODE = os.environ.get("NODE") or shutil.which("node") or "node"

# CONNACK codes that mean "not authorized" (3.1.1: 5; MQTT 5: 0x87) or "bad
# credentials" (4 / 0x86).
REFUSED_CODES = (4, 5, 0x86, 0x87)
MAX_WAIT = 5.0


def is_asan_build():
    """True when FLEETD_BIN is a sanitizer build (then the broker runs the
    ASan plugin with libasan preloaded and valgrind cannot be used)."""
    try:
        out = subprocess.run(["ldd", fleetd_bin()], capture_output=True, timeout=10).stdout.decode()
        return "libasan" in out
    except (OSError, subprocess.SubprocessError):
        return False


class Device:
    """A thing + certificate (+ policies) with its files on disk."""

    def __init__(self, name, cert_id, cert_arn, cert_file, key_file, ca_file):
        self.name = name
        self.cert_id = cert_id
        self.cert_arn = cert_arn
        self.cert_file = cert_file
        self.key_file = key_file
        self.ca_file = ca_file

    def __repr__(self):
        return "<Device %s %s>" % (self.name, self.cert_id[:12])


class Stack(Fleetd):
    """fleetd + broker in a temporary data directory."""

    def __init__(self, extra_env=None, **kw):
        env = {"FLEETD_MQTT_PORT": "0", "FLEETD_BROKER": "on", "FLEETD_DEVICE_KEY_TYPE": "ec"}
        env.update(extra_env or {})
        self._children = []
        self.files = tempfile.mkdtemp(prefix="fleetd-mqtt-files-")
        super().__init__(env, **kw)
        if "mqttPort" not in self.conn:
            raise RuntimeError("connection.json has no mqttPort; stderr:\n%s" % self.stderr())
        self.mqtt_host = self.conn["mqttHost"]
        self.mqtt_port = int(self.conn["mqttPort"])
        self.root_ca = self.conn["rootCaPath"]
        self.broker_dir = os.path.join(self.data_dir, "broker")
        self.sock = os.path.join(os.path.realpath(self.data_dir), "broker", "broker.sock")
        self.pidfile = os.path.join(self.broker_dir, "broker.pid")
        self.data = self.client(service="iot-data")

    # ---- broker process ---------------------------------------------------
    def broker_pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def port_open(self):
        try:
            with socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=0.5):
                return True
        except OSError:
            return False

    def wait_broker_down(self, pid, timeout=10):
        """Waits until pid no longer runs (a zombie counts as gone) and the
        port refuses connections."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                alive = state != "Z"
            except OSError:
                alive = False
            if not alive and not self.port_open():
                return True
            time.sleep(0.02)
        return False

    def wait_broker_up(self, not_pid=None, timeout=15):
        """Waits for a broker (another pid than not_pid) that accepts
        connections; returns its pid."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid = self.broker_pid()
            if pid and pid != not_pid and os.path.exists("/proc/%d" % pid) and self.port_open() \
                    and os.path.exists(self.sock):
                return pid
            time.sleep(0.05)
        raise AssertionError("no broker came up within %ss; fleetd stderr:\n%s" % (timeout, self.stderr()[-3000:]))

    def broker_log(self):
        try:
            with open(os.path.join(self.broker_dir, "mosquitto.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ---- registry helpers ---------------------------------------------------
    def policy(self, statements, name=None):
        """Creates a policy from a list of statements (dicts); returns its name.
        "ARN:" in resources is replaced by this deployment's ARN prefix."""
        name = name or "p-" + uuid.uuid4().hex[:10]
        prefix = "arn:aws:iot:%s:%s:" % (self.region, self.account)

        def fix(r):
            return r.replace("ARN:", prefix)

        for st in statements:
            if isinstance(st.get("Resource"), list):
                st["Resource"] = [fix(r) for r in st["Resource"]]
            elif isinstance(st.get("Resource"), str):
                st["Resource"] = fix(st["Resource"])
        doc = {"Version": "2012-10-17", "Statement": statements}
        self.iot.create_policy(policyName=name, policyDocument=json.dumps(doc))
        return name

    @property
    def iot(self):
        return self.client()

    def device(self, name=None, policies=(), active=True, thing=True, key_type=None):
        """A thing (unless thing=False) with a new certificate attached (ACTIVE
        unless active=False) and the named policies attached to it."""
        name = name or "dev-" + uuid.uuid4().hex[:8]
        if thing:
            self.iot.create_thing(thingName=name)
        r = self.iot.create_keys_and_certificate(setAsActive=active)
        d = self._save(name, r["certificateId"], r["certificateArn"], r["certificatePem"],
                       r["keyPair"]["PrivateKey"])
        if thing:
            self.iot.attach_thing_principal(thingName=name, principal=d.cert_arn)
        for p in policies:
            self.iot.attach_policy(policyName=p, target=d.cert_arn)
        return d

    def _save(self, name, cert_id, cert_arn, pem, key, ca_file=None):
        cert_file = os.path.join(self.files, "%s-%s.cert.pem" % (name, cert_id[:8]))
        key_file = os.path.join(self.files, "%s-%s.private.key" % (name, cert_id[:8]))
        with open(cert_file, "w") as f:
            f.write(pem)
        with open(key_file, "w") as f:
            f.write(key)
        os.chmod(key_file, 0o600)
        return Device(name, cert_id, cert_arn, cert_file, key_file, ca_file or self.root_ca)

    # ---- clients ------------------------------------------------------------
    def paho(self, device, client_id=None, protocol=4, clean=True, keepalive=60, username=None, cert=None,
             key=None):
        p = Paho(self, device, client_id, protocol, clean, keepalive, username, cert, key)
        self._children.append(p)
        return p

    def observer(self, *topics):
        o = Observer(self.sock, topics)
        self._children.append(o)
        return o

    def mqtt_pub(self, device, topic, message="x", client_id=None, qos=1, extra=(), timeout=15):
        """mosquitto_pub with the device's certificate; CompletedProcess."""
        argv = ["mosquitto_pub", "-h", self.mqtt_host, "-p", str(self.mqtt_port), "--cafile", device.ca_file,
                "--cert", device.cert_file, "--key", device.key_file, "-i", client_id or device.name,
                "-t", topic, "-m", message, "-q", str(qos)] + list(extra)
        return subprocess.run(argv, capture_output=True, timeout=timeout)

    def close_clients(self):
        for c in self._children:
            c.close()
        self._children = []

    def stop(self):
        self.close_clients()
        shutil.rmtree(self.files, ignore_errors=True)
        super().stop()

    def kill(self):
        self.close_clients()
        shutil.rmtree(self.files, ignore_errors=True)
        super().kill()
        if not os.environ.get("FLEETD_KEEP_DATA"):
            try:
                os.unlink(self.stderr_path)
            except OSError:
                pass


class ConnectResult:
    def __init__(self, accepted, rc=None, how=""):
        self.accepted = accepted
        self.rc = rc
        self.how = how

    def __repr__(self):
        return "<connect %s rc=%s %s>" % ("accepted" if self.accepted else "refused", self.rc, self.how)


def queue_next(q, timeout, accept, skipped=None):
    """The next item of queue q that accept() takes, or None after timeout
    seconds; the items passed over go to skipped() when given."""
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        try:
            item = q.get(timeout=left)
        except queue.Empty:
            return None
        if accept(item):
            return item
        if skipped is not None:
            skipped(item)


class Inbox:
    """The received messages of a client (self.messages, a queue of dicts
    with "topic" and "payload"), for Paho and Observer."""

    def _next_message(self, topic, timeout, pred):
        """The next message on topic (any when None) that pred accepts (any
        when None), skipping others, or None after timeout seconds."""
        return queue_next(self.messages, timeout,
                          lambda m: (topic is None or m["topic"] == topic) and (pred is None or pred(m)))

    def drain(self, wait=0.0):
        """All messages received so far (after waiting `wait` seconds)."""
        if wait:
            time.sleep(wait)
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out


class Paho(Inbox):
    """One connection through paho_agent.py."""

    def __init__(self, stack, device, client_id, protocol, clean, keepalive, username, cert, key):
        self.client_id = client_id or device.name
        cfg = {"host": stack.mqtt_host, "port": stack.mqtt_port, "ca": device.ca_file,
               "cert": cert or device.cert_file, "key": key or device.key_file, "client_id": self.client_id,
               "protocol": protocol, "clean": clean, "keepalive": keepalive, "username": username}
        self.proc = subprocess.Popen([PAHO_PYTHON, os.path.join(HERE, "paho_agent.py"), json.dumps(cfg)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.events = queue.Queue()
        self.messages = queue.Queue()
        self.disconnects = queue.Queue()
        self.backlog = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("ev") == "message":
                self.messages.put(ev)
            elif ev.get("ev") == "disconnect":
                self.disconnects.put(ev)
                self.events.put(ev)
            else:
                self.events.put(ev)

    def _send(self, **cmd):
        try:
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def _wait(self, kinds, timeout=MAX_WAIT, pred=None):
        return queue_next(self.events, timeout, lambda ev: ev.get("ev") in kinds and (pred is None or pred(ev)),
                          skipped=self.backlog.append)

    def connect(self, timeout=MAX_WAIT):
        """ConnectResult: accepted on CONNACK 0; refused on another CONNACK,
        a failed TLS handshake or a connection closed before CONNACK."""
        self._send(op="connect")
        ev = self._wait(("connack", "connect_error", "disconnect"), timeout)
        if ev is None:
            return ConnectResult(False, None, "no CONNACK within %ss" % timeout)
        if ev["ev"] == "connack":
            return ConnectResult(ev["rc"] == 0, ev["rc"], "CONNACK %d" % ev["rc"])
        if ev["ev"] == "connect_error":
            return ConnectResult(False, None, ev["error"])
        return ConnectResult(False, None, "closed before CONNACK (rc %s)" % ev.get("rc"))

    def subscribe(self, topic, qos=1, timeout=MAX_WAIT):
        """The SUBACK codes ([qos] granted, [128] or [0x87] refused), or None."""
        self._send(op="subscribe", topic=topic, qos=qos)
        ev = self._wait(("suback",), timeout, lambda e: e.get("topic") == topic)
        return ev["granted"] if ev else None

    def publish(self, topic, payload="x", qos=1, retain=False, timeout=MAX_WAIT):
        """True once sent (QoS 0) or acknowledged (QoS 1/2)."""
        self._send(op="publish", topic=topic, payload=payload, qos=qos, retain=retain)
        return self._wait(("published",), timeout, lambda e: e.get("topic") == topic) is not None

    def disconnect(self, timeout=MAX_WAIT):
        self._send(op="disconnect")
        return self.wait_disconnect(timeout)

    def wait_disconnect(self, timeout=MAX_WAIT):
        try:
            return self.disconnects.get(timeout=timeout)
        except queue.Empty:
            return None

    def wait_message(self, topic=None, timeout=MAX_WAIT, payload=None):
        """The next message (on topic / with payload when given), or None."""
        return self._next_message(topic, timeout, lambda m: payload is None or m["payload"] == payload)

    def close(self):
        if self.proc.poll() is None:
            self._send(op="quit")
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=2)  # it ends at EOF; closing under it would break its read
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


class Observer(Inbox):
    """mosquitto_sub over the broker's unix socket (fleetd's trusted
    identity). Lines are JSON (-F %j); -d prints the SUBACK."""

    def __init__(self, sock, topics, wait=True):
        self.client_id = "observer-" + uuid.uuid4().hex[:8]
        # stdbuf: mosquitto_sub's stdout is block-buffered into a pipe
        argv = ["stdbuf", "-oL", "mosquitto_sub", "--unix", sock, "-i", self.client_id, "-d", "-F", "%j", "-q", "1"]
        for t in topics:
            argv += ["-t", t]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.messages = queue.Queue()
        self.subacked = threading.Event()
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait and not self.subacked.wait(MAX_WAIT):
            self.close()
            raise AssertionError("observer: no SUBACK: %s" % "".join(self.lines)[-2000:])

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if line.startswith("{"):
                try:
                    m = json.loads(line)
                except ValueError:
                    continue
                p = m.get("payload")
                if not isinstance(p, str):
                    m["payload"] = json.dumps(p)
                self.messages.put(m)
            elif "received SUBACK" in line:
                self.subacked.set()

    def wait_message(self, topic=None, timeout=MAX_WAIT, pred=None):
        return self._next_message(topic, timeout, pred)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=2)
        self.proc.stdout.close()


def openssl(*args, input=None):
    p = subprocess.run(["openssl"] + list(args), capture_output=True, input=input, timeout=30)
    if p.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


def make_ca(dirname, cn):
    """A throwaway EC CA (key, pem) in dirname."""
    key = os.path.join(dirname, cn + ".key")
    pem = os.path.join(dirname, cn + ".pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", pem, "-days", "30", "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, pem


def make_leaf(dirname, ca_key, ca_pem, cn, subj=None):
    """A client certificate signed by the CA, with subject subj (default
    /CN=cn), in files named after cn: (key path, cert path)."""
    key = os.path.join(dirname, cn + ".key")
    csr = os.path.join(dirname, cn + ".csr")
    pem = os.path.join(dirname, cn + ".pem")
    ext = os.path.join(dirname, cn + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
            "-subj", subj or "/CN=" + cn)
    openssl("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-out", pem,
            "-days", "10", "-extfile", ext)
    os.chmod(key, 0o600)
    return key, pem


class StackTestCase(unittest.TestCase):
    """One fleetd + broker per test class."""

    server_env = None
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(cls.server_env)
        cls.iot = cls.stack.client()

    @classmethod
    def tearDownClass(cls):
        s = getattr(cls, "stack", None)
        if s is not None:
            s.stop()

    def tearDown(self):
        if self.stack is not None:
            self.stack.close_clients()

    def assertAccepted(self, res, what=""):
        self.assertTrue(res.accepted, "%s: expected the connection to be accepted, got %r\nbroker log tail:\n%s"
                        % (what, res, self.stack.broker_log()[-1500:]))

    def assertRefused(self, res, what=""):
        self.assertFalse(res.accepted, "%s: expected the connection to be refused, got %r" % (what, res))
        if res.rc is not None:
            self.assertIn(res.rc, REFUSED_CODES, "%s: refused with an unexpected CONNACK code %r" % (what, res))

    def connect(self, device, **kw):
        """A connected Paho (asserts acceptance)."""
        c = self.stack.paho(device, **kw)
        self.assertAccepted(c.connect(), "connect %s" % device.name)
        return c

    def own_policy(self):
        """Allows a device everything under its own thing name (and connect as it)."""
        return self.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": ["ARN:topic/things/${iot:Connection.Thing.ThingName}/*",
                          "ARN:topic/$aws/things/${iot:Connection.Thing.ThingName}/*"]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": ["ARN:topicfilter/things/${iot:Connection.Thing.ThingName}/*",
                          "ARN:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/*"]},
        ])
