"""
harness.py - starts a real fleetd for the integration tests and hands out
clients that talk to it: boto3 (the judge of compatibility), raw signed HTTP
(for what boto3 will not send) and the `fleetd keys` command.

Standard library + boto3/botocore only (no pytest on the CI machine).

Environment:
  FLEETD_BIN            binary to run (default build/release/fleetd)
  FLEETD_WRAPPER        command prefix, e.g. "valgrind --error-exitcode=99"
  FLEETD_START_TIMEOUT  seconds to wait for connection.json (default 20, 120 with a wrapper)
  FLEETD_KEEP_DATA      keep the temporary data directories (for post-mortems)
"""
import datetime
import hashlib
import http.client
import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from unittest import mock
from urllib.parse import quote

import boto3
import botocore.auth
import botocore.exceptions
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
REGION = "us-east-1"
ACCOUNT = "123456789012"
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def fleetd_bin():
    """FLEETD_BIN, relative to the current directory when it exists there,
    else to the repository root."""
    b = os.environ.get("FLEETD_BIN", "build/release/fleetd")
    if os.path.isabs(b):
        return b
    return os.path.abspath(b) if os.path.exists(b) else os.path.join(REPO, b)


def _child_env(data_dir, extra=None):
    env = dict(os.environ)
    # A developer's own AWS and fleetd settings must not leak into fleetd or the CLIs.
    for k in list(env):
        if k.startswith("AWS_") or (k.startswith("FLEETD_") and k not in ("FLEETD_BIN", "FLEETD_WRAPPER")):
            del env[k]
    env["FLEETD_DATA_DIR"] = data_dir
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if extra:
        env.update(extra)
    return env


def _wrapper():
    w = os.environ.get("FLEETD_WRAPPER", "").strip()
    return shlex.split(w) if w else []


class Response:
    """A raw HTTP answer: status, headers (lower-case keys), body, parsed JSON."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            self.json = None

    @property
    def error_type(self):
        """The AWS error type, from x-amzn-ErrorType (what the SDKs read first)."""
        t = self.headers.get("x-amzn-errortype", "")
        return t.split(":", 1)[0]

    @property
    def body_type(self):
        return (self.json or {}).get("__type", "") if isinstance(self.json, dict) else ""

    @property
    def message(self):
        if isinstance(self.json, dict):
            return self.json.get("message") or self.json.get("Message") or ""
        return ""

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.error_type, self.body[:300])


class Fleetd:
    """One running fleetd with its temporary data directory."""

    def __init__(self, extra_env=None, data_dir=None, keep_data=False, prefix=None):
        """extra_env: more environment for fleetd; data_dir: reuse an existing
        data directory (then it is never removed); keep_data: do not remove
        the temporary one at stop(); prefix: argv placed before fleetd (after
        FLEETD_WRAPPER), e.g. ["faketime", "-f", "+6m"]."""
        self.bin = fleetd_bin()
        if not os.access(self.bin, os.X_OK):
            raise RuntimeError("fleetd binary not found or not executable: %s (set FLEETD_BIN)" % self.bin)
        self.own_dir = data_dir is None
        self.keep_data = keep_data or not self.own_dir
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="fleetd-it-")
        fd, self.stderr_path = tempfile.mkstemp(prefix=os.path.basename(self.data_dir) + "-", suffix=".stderr")
        os.close(fd)
        # a free MQTT port too: several fleetd (each with its broker) run at once
        self.env = _child_env(self.data_dir, dict({"FLEETD_MQTT_PORT": "0"}, **dict(extra_env or {}, FLEETD_HTTP_PORT="0")))
        if not self.own_dir:
            try:
                os.unlink(os.path.join(self.data_dir, "connection.json"))
            except OSError:
                pass
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(_wrapper() + list(prefix or []) + [self.bin, "serve"], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
                                     cwd=self.data_dir if os.path.isdir(self.data_dir) else tempfile.gettempdir())
        self.stopped = False
        try:
            self.conn = self._wait_connection()
        except Exception:
            self.kill()
            raise
        self.endpoint = self.conn["apiEndpoint"].rstrip("/")
        hp = self.endpoint.split("://", 1)[1]
        self.host, port = hp.rsplit(":", 1)
        self.port = int(port)
        self.region = self.conn.get("region", REGION)
        self.account = self.conn.get("accountId", ACCOUNT)
        self.admin = (self.conn["accessKeyId"], self.conn["secretAccessKey"])
        self.credentials_file = self.conn.get("credentialsFile", os.path.join(self.data_dir, "credentials"))
        self._clients = {}

    # ---- lifecycle ---------------------------------------------------------
    def _wait_connection(self):
        timeout = float(os.environ.get("FLEETD_START_TIMEOUT", "120" if _wrapper() else "20"))
        path = os.path.join(self.data_dir, "connection.json")
        deadline = time.time() + timeout
        while time.time() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError("fleetd exited with %s before listening; stderr:\n%s" % (rc, self.stderr()))
            try:
                with open(path) as f:
                    conn = json.load(f)
                if conn.get("apiEndpoint") and conn.get("accessKeyId"):
                    return conn
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError("fleetd did not write %s within %.0fs; stderr:\n%s" % (path, timeout, self.stderr()))

    def stderr(self):
        try:
            self._stderr.flush()
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._cleanup()

    def _cleanup(self):
        self.stopped = True
        self._stderr.close()
        if not self.keep_data and not os.environ.get("FLEETD_KEEP_DATA"):
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def stop(self):
        """SIGTERM, wait, then fail (AssertionError) on a non-zero exit or any
        sanitizer report in stderr. The stderr log is kept when it fails."""
        if self.stopped:
            return
        problems = []
        rc = self.proc.poll()
        if rc is not None:
            problems.append("fleetd had already exited (rc %s) before stop()" % rc)
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=60 if _wrapper() else 15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
                problems.append("fleetd did not exit within the timeout after SIGTERM (killed)")
            if rc != 0:
                problems.append("fleetd exited with %s after SIGTERM (expected 0)" % rc)
        log = self.stderr()
        for m in SANITIZER_MARKERS:
            if m in log:
                problems.append("stderr contains %r" % m)
        secret = self.admin[1] if hasattr(self, "admin") else None
        if secret and secret in log:
            problems.append("the admin secret access key appears in the log")
        self._cleanup()
        if problems:
            tail = "\n".join(log.splitlines()[-80:])
            raise AssertionError("; ".join(problems) + "\n--- fleetd stderr (%s), last lines ---\n%s"
                                 % (self.stderr_path, tail))
        try:
            os.unlink(self.stderr_path)
        except OSError:
            pass

    def alive(self):
        return self.proc.poll() is None

    # ---- clients -----------------------------------------------------------
    def client(self, key=None, validate=True, service="iot"):
        """A boto3 client for `service` with explicit credentials. key =
        (akid, secret) or a dict from `keys create`; default the admin key.
        validate=False turns off botocore's client-side parameter checks so
        the server's own validation is what answers."""
        if key is None:
            key = self.admin
        elif isinstance(key, dict):
            key = (key["accessKeyId"], key["secretAccessKey"])
        ck = (key, validate, service)
        if ck not in self._clients:
            session = boto3.session.Session(aws_access_key_id=key[0], aws_secret_access_key=key[1],
                                            region_name=self.region)
            cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                         read_timeout=60, parameter_validation=validate)
            self._clients[ck] = session.client(service, endpoint_url=self.endpoint, config=cfg)
        return self._clients[ck]

    def arn(self, kind, name):
        return "arn:aws:iot:%s:%s:%s/%s" % (self.region, self.account, kind, name)

    def keys(self, *args, check=True):
        """Runs `fleetd keys ARGS` against this data dir; returns the
        CompletedProcess with .json set when stdout parses."""
        p = subprocess.run(_wrapper() + [self.bin, "keys"] + list(args), env=self.env, capture_output=True,
                           timeout=120, cwd=self.data_dir)
        try:
            p.json = json.loads(p.stdout.decode())
        except ValueError:
            p.json = None
        if check and p.returncode != 0:
            raise AssertionError("fleetd keys %s -> rc %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), p.returncode, p.stdout.decode(), p.stderr.decode()))
        for m in SANITIZER_MARKERS:
            if m in p.stderr.decode("utf-8", "replace"):
                raise AssertionError("fleetd keys %s: stderr contains %r:\n%s" % (" ".join(args), m,
                                                                                    p.stderr.decode()))
        return p

    # ---- raw HTTP ----------------------------------------------------------
    def sign(self, method, path, body=b"", headers=None, key=None, service="iot", region=None,
             when=None, content_sha256=False):
        """Returns the headers botocore's SigV4Auth produces for this request.
        `path` is sent verbatim (it may carry a query string); `when` is a
        datetime (UTC) to sign at; content_sha256 adds a signed
        x-amz-content-sha256 header, as the JS SDK does."""
        key = key or self.admin
        if isinstance(key, dict):
            key = (key["accessKeyId"], key["secretAccessKey"])
        hdrs = dict(headers or {})
        if content_sha256:
            hdrs["X-Amz-Content-SHA256"] = hashlib.sha256(body or b"").hexdigest()
        req = AWSRequest(method=method, url=self.endpoint + path, data=body, headers=hdrs)
        signer = botocore.auth.SigV4Auth(Credentials(key[0], key[1]), service, region or self.region)
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=datetime.timezone.utc)
            naive = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: naive):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
        return {k: v for k, v in req.headers.items()}

    def raw(self, method, path, body=b"", headers=None, sign=True, timeout=30, **sign_kw):
        """Sends one request over a fresh connection (path verbatim) and
        returns a Response. sign=False sends no Authorization at all."""
        if isinstance(body, str):
            body = body.encode()
        hdrs = dict(headers or {})
        if body and not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = "application/json"
        if sign:
            hdrs = self.sign(method, path, body, hdrs, **sign_kw)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            if not any(k.lower() == "host" for k in hdrs):
                conn.putheader("Host", "%s:%d" % (self.host, self.port))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            try:
                conn.endheaders(body if body else None)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (413) before reading it all
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()


def q(s):
    """RFC 3986 encoding of one path segment or query value."""
    return quote(s, safe="-_.~")


# ---- shared assertions -----------------------------------------------------
def error_code(exc):
    return exc.response.get("Error", {}).get("Code")


class FleetdTestCase(unittest.TestCase):
    """One fleetd per test class (setUpClass); subclasses use self.iot."""

    server_env = None
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.fleetd = Fleetd(cls.server_env)
        cls.iot = cls.fleetd.client()
        cls.iot_nv = cls.fleetd.client(validate=False)

    @classmethod
    def tearDownClass(cls):
        f = getattr(cls, "fleetd", None)
        if f is not None:
            f.stop()

    def assertAwsError(self, code, fn, *args, status=None, msg_contains=None, **kw):
        """Calls fn and asserts it raises a botocore ClientError with `code`
        (and HTTP status / message substring when given). Returns the error."""
        try:
            r = fn(*args, **kw)
        except botocore.exceptions.ClientError as e:
            got = error_code(e)
            st = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            self.assertEqual(got, code, "expected %s, got %s (HTTP %s): %s" % (code, got, st, e))
            if status is not None:
                self.assertEqual(st, status, "expected HTTP %s for %s, got %s" % (status, code, st))
            if msg_contains is not None:
                m = e.response.get("Error", {}).get("Message", "") or ""
                self.assertIn(msg_contains.lower(), m.lower(), "message %r lacks %r" % (m, msg_contains))
            return e
        self.fail("expected %s, but the call succeeded: %r" % (code, {k: v for k, v in (r or {}).items()
                                                                         if k != "ResponseMetadata"}))

    def assertRawError(self, resp, status, code, msg_contains=None):
        """Checks the AWS error triple: status, x-amzn-ErrorType header and
        {"__type","message"} body."""
        self.assertEqual(resp.status, status, "expected HTTP %d %s, got %r" % (status, code, resp))
        self.assertEqual(resp.error_type, code, "x-amzn-ErrorType: expected %s, got %r" % (code, resp))
        self.assertIsInstance(resp.json, dict, "error body is not a JSON object: %r" % resp)
        self.assertEqual(resp.body_type.split("#")[-1], code, "body __type: expected %s, got %r" % (code, resp))
        self.assertIn("message", resp.json, "error body has no \"message\": %r" % resp)
        if msg_contains is not None:
            self.assertIn(msg_contains.lower(), resp.message.lower(), "message lacks %r: %r" % (msg_contains, resp))


def start_fleetd(extra_env=None, **kw):
    """Starts fleetd on an ephemeral port in a temp data dir; returns a Fleetd."""
    return Fleetd(extra_env, **kw)
