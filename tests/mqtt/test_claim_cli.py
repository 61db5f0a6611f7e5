"""`fleetd claim create`, run beside a serving fleetd: the four files and
their modes, the certificate and its claim policy in the registry, a long
validity, a connection with the claim certificate that may use the
fleet-provisioning topics and nothing else; refusals (unknown template, JITP
template, existing files, usage); --data-dir."""
import datetime
import json
import os
import stat
import tempfile
import uuid

from fleetprov import claim_cli, claim_files, make_claim, setup_sensor_template
from mqtt_harness import StackTestCase


class ClaimCreateTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tpl = setup_sensor_template(cls.stack, "ClaimCliTemplate")

    def test_files_registry_and_validity(self):
        out, r = make_claim(self.stack, self.tpl)
        cert, key, ca = claim_files(out)
        for f in (cert, key, ca, os.path.join(out, "claim.json")):
            self.assertTrue(os.path.isfile(f), f)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertEqual(open(ca).read(), open(self.stack.root_ca).read())
        meta = json.load(open(os.path.join(out, "claim.json")))
        self.assertEqual(meta["endpoint"], self.stack.mqtt_host)
        self.assertEqual(meta["port"], self.stack.mqtt_port)
        self.assertEqual(meta["templateName"], self.tpl)
        self.assertEqual((meta["certificateFile"], meta["privateKeyFile"], meta["rootCaFile"]),
                         ("claim.cert.pem", "claim.private.key", "root-CA.crt"))
        self.assertEqual(meta["certificateId"], r["certificateId"])
        self.assertEqual(r["directory"], os.path.realpath(out))
        self.assertTrue(r["templateEnabled"])
        # ACTIVE, the template's claim policy (the one CreateProvisioningClaim uses), no thing
        d = self.iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
        self.assertEqual(d["status"], "ACTIVE")
        self.assertEqual(d["certificatePem"].strip(), open(cert).read().strip())
        pols = [p["policyName"] for p in self.iot.list_attached_policies(target=d["certificateArn"])["policies"]]
        self.assertEqual(pols, ["fleetd-claim-" + self.tpl])
        self.assertEqual(r["policyName"], "fleetd-claim-" + self.tpl)
        self.assertEqual(self.iot.list_principal_things(principal=d["certificateArn"])["things"], [])
        # flashed at the factory: valid for years, not CreateProvisioningClaim's 5 minutes
        not_after = d["validity"]["notAfter"]
        now = datetime.datetime.now(not_after.tzinfo)
        self.assertGreater(not_after - now, datetime.timedelta(days=9 * 365))
        self.assertEqual(meta["notAfter"], not_after.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        # the same policy document as CreateProvisioningClaim's
        claim = self.iot.create_provisioning_claim(templateName=self.tpl)
        cpols = self.iot.list_attached_policies(
            target=self.iot.describe_certificate(certificateId=claim["certificateId"])
            ["certificateDescription"]["certificateArn"])["policies"]
        self.assertEqual([p["policyName"] for p in cpols], pols)

    def test_connects_and_may_only_provision(self):
        out, r = make_claim(self.stack, self.tpl)
        cert, key, ca = claim_files(out)
        obs = self.stack.observer("things/#")
        # many devices share one claim: any client id is accepted
        for cid in ("factory-unit-1", "sn-" + uuid.uuid4().hex[:8]):
            with self.subTest(client_id=cid):
                c = self.stack.paho(_Files(cert, key, ca, cid), client_id=cid)
                self.assertAccepted(c.connect(), "claim certificate as " + cid)
                for t in ("$aws/certificates/create/json/accepted", "$aws/certificates/create-from-csr/json/+",
                          "$aws/provisioning-templates/%s/provision/json/rejected" % self.tpl):
                    g = c.subscribe(t)
                    self.assertIsNotNone(g, t)
                    self.assertLess(g[0], 128, "%s refused: %r" % (t, g))
                for t in ("things/x/#", "$aws/provisioning-templates/OtherTemplate/provision/json/accepted"):
                    g = c.subscribe(t)
                    self.assertIsNotNone(g, t)
                    self.assertGreaterEqual(g[0], 128, "%s granted to the claim: %r" % (t, g))
                c.publish("things/x/telemetry", "from the claim")
                c.disconnect()
        self.assertEqual(obs.drain(wait=0.5), [], "the claim certificate published outside its policy")

    def test_refusals(self):
        out = tempfile.mkdtemp(prefix="fleetd-claim-", dir=self.stack.files)
        p = claim_cli(self.stack, "create", "--template", "NoSuchTemplate", "--out", out)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"provisioning template 'NoSuchTemplate' does not exist", p.stderr)
        self.assertEqual(os.listdir(out), [])
        # a JITP template has no use for a claim
        body = json.dumps({"Parameters": {"AWS::IoT::Certificate::Id": {"Type": "String"}},
                           "Resources": {"certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                               "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}}}})
        self.iot.create_provisioning_template(templateName="ClaimCliJitp", templateBody=body, type="JITP",
                                              provisioningRoleArn="arn:aws:iam::123456789012:role/R")
        p = claim_cli(self.stack, "create", "--template", "ClaimCliJitp", "--out", out)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"JITP", p.stderr)
        self.assertEqual(os.listdir(out), [])
        # existing files need --force
        p = claim_cli(self.stack, "create", "--template", self.tpl, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        first = open(os.path.join(out, "claim.cert.pem")).read()
        p = claim_cli(self.stack, "create", "--template", self.tpl, "--out", out)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"--force", p.stderr)
        self.assertEqual(open(os.path.join(out, "claim.cert.pem")).read(), first)
        self.assertEqual(claim_cli(self.stack, "create", "--template", self.tpl, "--out", out, "--force")
                         .returncode, 0)
        self.assertNotEqual(open(os.path.join(out, "claim.cert.pem")).read(), first)
        for args in (["create"], ["create", "--template", self.tpl], ["create", "--out", out], ["bogus"],
                     ["create", "--template", self.tpl, "--out", out, "--days", "0"],
                     ["create", "--template", self.tpl, "--out", out, "--days", "x"]):
            with self.subTest(args=args):
                self.assertEqual(claim_cli(self.stack, *args).returncode, 2)

    def test_days_and_data_dir(self):
        out = tempfile.mkdtemp(prefix="fleetd-claim-", dir=self.stack.files)
        env = {k: v for k, v in self.stack.env.items() if k != "FLEETD_DATA_DIR"}
        p = claim_cli(self.stack, "create", "--template", self.tpl, "--out", out, "--days", "30", "--json",
                      "--data-dir", self.stack.data_dir, env=env, cwd=tempfile.gettempdir())
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual(r["port"], self.stack.mqtt_port)
        d = self.iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
        left = d["validity"]["notAfter"] - datetime.datetime.now(d["validity"]["notAfter"].tzinfo)
        self.assertLess(abs(left - datetime.timedelta(days=30)), datetime.timedelta(hours=1))
        self.assertTrue(r["certificateArn"].endswith("cert/" + r["certificateId"]))


class _Files:
    """The minimum of mqtt_harness.Device that Stack.paho needs."""

    def __init__(self, cert, key, ca, name):
        self.cert_file, self.key_file, self.ca_file, self.name = cert, key, ca, name
