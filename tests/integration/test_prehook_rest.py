"""Pre-provisioning hooks over REST (boto3): fleetd's hook target is an http(s)
URL (docs/provisioning.md), kept by Create/Update/DescribeProvisioningTemplate;
anything else is refused with InvalidRequestException. RegisterThing over REST
is the trusted path and never calls a hook (as on AWS: it takes a template
body, not a template). The hook calls themselves (allow, deny, timeout,
overrides) are exercised over MQTT in tests/mqtt/test_prehook.py (hence this name:
the MQTT suite also sees tests/integration on its path)."""
import http.server
import json
import threading
import unittest

from harness import FleetdTestCase

ROLE = "arn:aws:iam::123456789012:role/ProvisioningRole"

BODY = json.dumps({
    "Parameters": {"SerialNumber": {"Type": "String"}},
    "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
        "ThingName": {"Fn::Join": ["-", ["hooked", {"Ref": "SerialNumber"}]]}}}}})


class HookServer:
    """A python http.server on 127.0.0.1 that allows everything and counts calls."""

    def __init__(self):
        calls = self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                calls.append(json.loads(self.rfile.read(n) or b"{}"))
                out = json.dumps({"allowProvisioning": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class PreProvisioningHookTest(FleetdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hook = HookServer()

    @classmethod
    def tearDownClass(cls):
        cls.hook.close()
        super().tearDownClass()

    def create(self, name, hook, **kw):
        return self.iot.create_provisioning_template(templateName=name, templateBody=BODY,
                                                     provisioningRoleArn=ROLE, enabled=True,
                                                     preProvisioningHook=hook, **kw)

    def test_url_hook_kept(self):
        self.create("hook-keep", {"targetArn": self.hook.url, "payloadVersion": "2020-04-01"})
        d = self.iot.describe_provisioning_template(templateName="hook-keep")
        self.assertEqual(d["preProvisioningHook"], {"targetArn": self.hook.url, "payloadVersion": "2020-04-01"})
        # an update that does not name the hook keeps it
        self.iot.update_provisioning_template(templateName="hook-keep", description="changed")
        d = self.iot.describe_provisioning_template(templateName="hook-keep")
        self.assertEqual(d["preProvisioningHook"]["targetArn"], self.hook.url)
        # a new URL (https, no payloadVersion) replaces it
        self.iot.update_provisioning_template(templateName="hook-keep",
                                              preProvisioningHook={"targetArn": "https://hooks.example.com/p?k=1"})
        d = self.iot.describe_provisioning_template(templateName="hook-keep")
        self.assertEqual(d["preProvisioningHook"]["targetArn"], "https://hooks.example.com/p?k=1")
        self.assertNotIn("payloadVersion", d["preProvisioningHook"])
        # a new version of the body does not touch the hook
        self.iot.create_provisioning_template_version(templateName="hook-keep", templateBody=BODY,
                                                      setAsDefault=True)
        d = self.iot.describe_provisioning_template(templateName="hook-keep")
        self.assertEqual(d["preProvisioningHook"]["targetArn"], "https://hooks.example.com/p?k=1")
        self.iot.update_provisioning_template(templateName="hook-keep", removePreProvisioningHook=True)
        self.assertNotIn("preProvisioningHook", self.iot.describe_provisioning_template(templateName="hook-keep"))

    def test_non_url_refused(self):
        lam = "arn:aws:lambda:us-east-1:123456789012:function:pre-provisioning-hook"
        for target in (lam, "ftp://hooks.example.com/x", "hooks.example.com/x", "http://", "http://a b/",
                       "http://user:pw@hooks.example.com/"):
            self.assertAwsError("InvalidRequestException", self.create, "hook-bad", {"targetArn": target},
                                status=400, msg_contains="preProvisioningHook.targetArn")
        self.assertAwsError("InvalidRequestException", self.create, "hook-bad",
                            {"targetArn": "http://127.0.0.1/" + "a" * 2100}, status=400)
        self.assertAwsError("InvalidRequestException", self.create, "hook-bad",
                            {"targetArn": self.hook.url, "payloadVersion": "2019-01-01"},
                            msg_contains="payloadVersion")
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_provisioning_template,
                            templateName="hook-bad")
        # update: refused, and the stored hook is unchanged
        self.create("hook-upd", {"targetArn": self.hook.url})
        self.assertAwsError("InvalidRequestException", self.iot.update_provisioning_template,
                            templateName="hook-upd", preProvisioningHook={"targetArn": lam},
                            msg_contains="http:// or https://")
        d = self.iot.describe_provisioning_template(templateName="hook-upd")
        self.assertEqual(d["preProvisioningHook"]["targetArn"], self.hook.url)

    def test_register_thing_never_calls_hooks(self):
        self.create("hook-rest", {"targetArn": self.hook.url})
        before = len(self.hook.calls)
        r = self.iot.register_thing(templateBody=BODY, parameters={"SerialNumber": "7"})
        self.assertEqual(r["resourceArns"]["thing"], self.fleetd.arn("thing", "hooked-7"))
        self.assertEqual(len(self.hook.calls), before)


if __name__ == "__main__":
    unittest.main()
