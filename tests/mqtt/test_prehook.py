"""Pre-provisioning hooks end to end: a fleet-provisioning template whose
preProvisioningHook targetArn is the URL of a python http.server in this test;
a device provisions over MQTT (paho, json) with a claim certificate from
CreateProvisioningClaim. The plugin's worker calls the hook with AWS's payload
{claimCertificateId, certificateId, certificatePem, templateArn, clientId,
parameters} and
- "allowProvisioning": true + parameterOverrides -> accepted, the overrides
  reach the thing's attributes;
- "allowProvisioning": false -> rejected 403, nothing made, the certificate
  stays PENDING_ACTIVATION and its token still works;
- a hook slower than 5 s -> rejected after ~5 s;
- an unreachable hook -> rejected;
- an https hook is trusted through hook_ca_file (FLEETD_HOOK_CA_FILE), with
  the host name checked; one whose certificate is not trusted -> rejected."""
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid

from fleetprov import ROLE_ARN, SENSOR_TEMPLATE, setup_sensor_template
from mqtt_harness import StackTestCase
from test_provision_mqtt import Requester, make_csr

DENIED_CODES = ("AccessDenied", "ACCESS_DENIED")  # AWS's guide writes ACCESS_DENIED in prose


class HookServer:
    """Answers by the SerialNumber parameter's prefix: allow-, override-,
    deny-, slow- (sleeps 7 s, then allows); records every call."""

    def __init__(self, tls_cert=None):
        calls = self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n) or b"{}")
                calls.append({"path": self.path, "ctype": self.headers.get("Content-Type"), "body": body})
                serial = body.get("parameters", {}).get("SerialNumber", "")
                ans = {"allowProvisioning": not serial.startswith("deny-")}
                if serial.startswith("override-"):
                    ans["parameterOverrides"] = {"HardwareRevision": "set-by-hook"}
                if serial.startswith("slow-"):
                    time.sleep(7)
                out = json.dumps(ans).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass  # the caller gave up (timeout)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d/prehook?src=fleetd" % self.httpd.server_address[1]
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls_cert)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.url = "https://localhost:%d/prehook" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PreProvisioningHookMqttTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hook = HookServer()
        setup_sensor_template(cls.stack, "SensorPlain")  # thing type + SensorDevicePolicy
        cls.iot.create_provisioning_template(templateName="SensorHooked", templateBody=SENSOR_TEMPLATE,
                                             provisioningRoleArn=ROLE_ARN, enabled=True,
                                             preProvisioningHook={"targetArn": cls.hook.url,
                                                                  "payloadVersion": "2020-04-01"})
        cls.iot.create_provisioning_template(templateName="SensorHookDown", templateBody=SENSOR_TEMPLATE,
                                             provisioningRoleArn=ROLE_ARN, enabled=True,
                                             preProvisioningHook={
                                                 "targetArn": "http://127.0.0.1:%d/hook" % closed_port()})

    @classmethod
    def tearDownClass(cls):
        cls.hook.close()
        super().tearDownClass()

    def start(self, tpl):
        """A claim for tpl, connected; a new certificate from a CSR. Returns
        (requester, provision topic, claim cert id, client id, create answer)."""
        r = self.iot.create_provisioning_claim(templateName=tpl)
        claim_id = r["certificateId"]
        d = self.stack._save("claim", claim_id, "", r["certificatePem"], r["keyPair"]["PrivateKey"])
        cid = "factory-" + uuid.uuid4().hex[:8]
        c = self.connect(d, client_id=cid)
        req = Requester(self, c, "json")
        topic = "$aws/provisioning-templates/%s/provision" % tpl
        req.subscribe("$aws/certificates/create-from-csr")
        req.subscribe(topic)
        _, csr = make_csr(self.stack.files)
        cr = req.request("$aws/certificates/create-from-csr", {"certificateSigningRequest": csr})
        return req, topic, claim_id, cid, cr

    def provision(self, req, topic, cr, prefix, hw="r1", expect="accepted"):
        """Provisions thing device-<serial>, serial = prefix + a random
        suffix, with cr's ownership token: (serial, the answer on expect)."""
        serial = prefix + uuid.uuid4().hex[:8]
        p = req.request(topic, {"certificateOwnershipToken": cr["certificateOwnershipToken"],
                                "parameters": {"SerialNumber": serial, "HardwareRevision": hw}}, expect)
        return serial, p

    def provisioned(self, serial, p):
        """Asserts the answer p names thing device-<serial>; its description."""
        self.assertEqual(p["thingName"], "device-" + serial)
        return self.iot.describe_thing(thingName="device-" + serial)

    def not_provisioned(self, serial):
        with self.assertRaises(Exception):
            self.iot.describe_thing(thingName="device-" + serial)

    def status(self, cert_id):
        return self.iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["status"]

    def denied(self, p, text):
        self.assertEqual(set(p), {"statusCode", "errorCode", "errorMessage"}, p)
        self.assertEqual(p["statusCode"], 403, p)
        self.assertIn(p["errorCode"], DENIED_CODES, p)
        self.assertIn(text, p["errorMessage"], p)
        self.assertNotIn("127.0.0.1", p["errorMessage"], "the hook's URL is not for devices")

    def test_allow_with_overrides(self):
        req, topic, claim_id, cid, cr = self.start("SensorHooked")
        n = len(self.hook.calls)
        serial, p = self.provision(req, topic, cr, "override-")
        t = self.provisioned(serial, p)
        self.assertEqual(t["attributes"], {"hwRevision": "set-by-hook", "firmwareVersion": "1.0.0"})
        self.assertEqual(self.status(cr["certificateId"]), "ACTIVE")
        # exactly one call, with AWS's payload
        self.assertEqual(len(self.hook.calls), n + 1)
        call = self.hook.calls[-1]
        self.assertEqual(call["path"], "/prehook?src=fleetd")
        self.assertEqual(call["ctype"], "application/json")
        tpl_arn = self.iot.describe_provisioning_template(templateName="SensorHooked")["templateArn"]
        self.assertEqual(call["body"], {
            "claimCertificateId": claim_id, "certificateId": cr["certificateId"],
            "certificatePem": cr["certificatePem"], "templateArn": tpl_arn, "clientId": cid,
            "parameters": {"SerialNumber": serial, "HardwareRevision": "r1"}})

    def test_allow(self):
        req, topic, _, _, cr = self.start("SensorHooked")
        t = self.provisioned(*self.provision(req, topic, cr, "allow-", hw="r2"))
        self.assertEqual(t["attributes"]["hwRevision"], "r2")

    def test_deny(self):
        req, topic, _, _, cr = self.start("SensorHooked")
        serial, p = self.provision(req, topic, cr, "deny-", expect="rejected")
        self.denied(p, "refused")
        self.not_provisioned(serial)
        self.assertEqual(self.status(cr["certificateId"]), "PENDING_ACTIVATION")
        # a refusal does not use the token up
        self.provisioned(*self.provision(req, topic, cr, "allow-"))

    def test_timeout(self):
        req, topic, _, _, cr = self.start("SensorHooked")
        t0 = time.monotonic()
        serial, p = self.provision(req, topic, cr, "slow-", expect="rejected")
        took = time.monotonic() - t0
        self.denied(p, "5 seconds")
        self.assertGreaterEqual(took, 4.5, "rejected before the hook's 5 s were up")
        self.assertLess(took, 6.9, "the hook's answer after 7 s must not be waited for")
        self.not_provisioned(serial)
        self.assertEqual(self.status(cr["certificateId"]), "PENDING_ACTIVATION")

    def test_unreachable(self):
        req, topic, _, _, cr = self.start("SensorHookDown")
        serial, p = self.provision(req, topic, cr, "allow-", expect="rejected")
        self.denied(p, "could not be reached")
        self.not_provisioned(serial)


def self_signed(dirname, name, san):
    """(cert, key) of a self-signed certificate for san ("DNS:localhost")."""
    cert, key = os.path.join(dirname, name + ".pem"), os.path.join(dirname, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=hook-" + name,
                    "-addext", "subjectAltName=" + san], check=True, capture_output=True)
    return cert, key


class HttpsHookTest(StackTestCase):
    """https hooks: trusted through hook_ca_file, refused otherwise."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fleetd-hook-tls-")
        trusted = self_signed(cls.tmp, "trusted", "DNS:localhost")
        other = self_signed(cls.tmp, "other", "DNS:localhost")
        cls.server_env = {"FLEETD_HOOK_CA_FILE": trusted[0]}
        super().setUpClass()
        cls.good, cls.bad = HookServer(trusted), HookServer(other)
        setup_sensor_template(cls.stack, "SensorPlainTls")
        for name, hook in (("SensorHttps", cls.good), ("SensorHttpsUntrusted", cls.bad)):
            cls.iot.create_provisioning_template(templateName=name, templateBody=SENSOR_TEMPLATE,
                                                 provisioningRoleArn=ROLE_ARN, enabled=True,
                                                 preProvisioningHook={"targetArn": hook.url})

    @classmethod
    def tearDownClass(cls):
        cls.good.close()
        cls.bad.close()
        super().tearDownClass()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    start = PreProvisioningHookMqttTest.start
    provision = PreProvisioningHookMqttTest.provision
    provisioned = PreProvisioningHookMqttTest.provisioned
    denied = PreProvisioningHookMqttTest.denied

    def test_trusted_https(self):
        req, topic, _, _, cr = self.start("SensorHttps")
        t = self.provisioned(*self.provision(req, topic, cr, "override-"))
        self.assertEqual(t["attributes"]["hwRevision"], "set-by-hook")
        self.assertEqual(len(self.good.calls), 1)

    def test_untrusted_https(self):
        req, topic, _, _, cr = self.start("SensorHttpsUntrusted")
        _, p = self.provision(req, topic, cr, "allow-", expect="rejected")
        self.denied(p, "could not be reached")
        self.assertEqual(self.bad.calls, [])
        # the reason, with the URL, is logged for the operator (worker threads log to fleetd's stderr)
        deadline = time.monotonic() + 5
        while "not trusted" not in self.stack.stderr() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIn("is not trusted", self.stack.stderr())
        self.assertIn(self.bad.url, self.stack.stderr())
