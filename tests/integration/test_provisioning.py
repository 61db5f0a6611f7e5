"""Provisioning templates, their versions, RegisterThing and
CreateProvisioningClaim through boto3. Certificates fleetd issues are checked
with the openssl CLI against the root in connection.json "rootCaPath"."""
import datetime
import json
import os
import subprocess
import tempfile
import unittest

from harness import FleetdTestCase
# tests/lib (run.py puts it on sys.path)
from sensor_template import SENSOR_TEMPLATE as SAMPLE  # issue 5's template, verbatim
from sensor_template import create_sensor_prerequisites

ROLE = "arn:aws:iam::123456789012:role/ProvisioningRole"

POLICY = json.dumps({"Version": "2012-10-17",
                     "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]})


def openssl(*args, input=None):
    p = subprocess.run(["openssl"] + list(args), input=input, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), p.stderr.decode("utf-8", "replace")))
    return p.stdout


class ProvisioningTemplatesTest(FleetdTestCase):

    def create(self, name, body=SAMPLE, **kw):
        return self.iot.create_provisioning_template(templateName=name, templateBody=body,
                                                     provisioningRoleArn=ROLE, **kw)

    def test_create_describe_update_delete(self):
        r = self.create("crud", description="first", enabled=True, tags=[{"Key": "k", "Value": "v"}],
                        preProvisioningHook={"targetArn": "https://hook.example.com/x",
                                             "payloadVersion": "2020-04-01"})
        self.assertEqual(r["templateName"], "crud")
        self.assertEqual(r["defaultVersionId"], 1)
        self.assertEqual(r["templateArn"], self.fleetd.arn("provisioningtemplate", "crud"))
        d = self.iot.describe_provisioning_template(templateName="crud")
        self.assertEqual(d["templateBody"], SAMPLE)
        self.assertTrue(d["enabled"])
        self.assertEqual(d["description"], "first")
        self.assertEqual(d["provisioningRoleArn"], ROLE)
        self.assertEqual(d["type"], "FLEET_PROVISIONING")
        self.assertEqual(d["preProvisioningHook"]["targetArn"], "https://hook.example.com/x")
        self.assertEqual(d["preProvisioningHook"]["payloadVersion"], "2020-04-01")
        self.assertIsInstance(d["creationDate"], datetime.datetime)
        self.assertIsInstance(d["lastModifiedDate"], datetime.datetime)
        self.iot.update_provisioning_template(templateName="crud", enabled=False, description="second",
                                              removePreProvisioningHook=True)
        d = self.iot.describe_provisioning_template(templateName="crud")
        self.assertFalse(d["enabled"])
        self.assertEqual(d["description"], "second")
        self.assertNotIn("preProvisioningHook", d)
        self.assertAwsError("ResourceAlreadyExistsException", self.create, "crud", status=409)
        self.iot.delete_provisioning_template(templateName="crud")
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_provisioning_template,
                            templateName="crud", status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.delete_provisioning_template,
                            templateName="crud")
        self.assertAwsError("ResourceNotFoundException", self.iot.update_provisioning_template,
                            templateName="crud", enabled=True)

    def test_validation(self):
        bad = json.dumps({"Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
            "ThingName": {"Fn::Foo": ["x"]}}}}})
        self.assertAwsError("InvalidRequestException", self.create, "v1", body=bad, status=400,
                            msg_contains="Resources.thing.Properties.ThingName: unknown function Fn::Foo")
        bad = json.dumps({"Resources": {"x": {"Type": "AWS::IoT::Widget", "Properties": {}}}})
        self.assertAwsError("InvalidRequestException", self.create, "v1", body=bad,
                            msg_contains="Resources.x: unknown resource type")
        bad = json.dumps({"Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
            "ThingName": {"Ref": "Missing"}}}}})
        self.assertAwsError("InvalidRequestException", self.create, "v1", body=bad,
                            msg_contains="undefined parameter or resource Missing")
        self.assertAwsError("InvalidRequestException", self.create, "v1", body="{not json",
                            msg_contains="not valid JSON")
        self.assertAwsError("InvalidRequestException", self.create, "v1", type="JITP",
                            preProvisioningHook={"targetArn": "https://x.example"})
        self.assertAwsError("InvalidRequestException", self.iot_nv.create_provisioning_template,
                            templateName="bad name!", templateBody=SAMPLE, provisioningRoleArn=ROLE)
        self.assertAwsError("InvalidRequestException", self.iot_nv.create_provisioning_template,
                            templateName="v1", templateBody=SAMPLE, provisioningRoleArn=ROLE, type="NOPE")
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_provisioning_template,
                            templateName="v1")

    def test_list_pages(self):
        for i in range(5):
            self.create("list-%d" % i, type="JITP" if i == 3 else "FLEET_PROVISIONING")
        names, token = [], None
        while True:
            kw = {"maxResults": 2}
            if token:
                kw["nextToken"] = token
            r = self.iot.list_provisioning_templates(**kw)
            self.assertLessEqual(len(r["templates"]), 2)
            names += [t["templateName"] for t in r["templates"]]
            token = r.get("nextToken")
            if not token:
                break
        listed = [n for n in names if n.startswith("list-")]
        self.assertEqual(listed, ["list-%d" % i for i in range(5)])
        t = [t for t in self.iot.list_provisioning_templates(maxResults=250)["templates"]
             if t["templateName"] == "list-3"][0]
        self.assertEqual(t["type"], "JITP")
        self.assertFalse(t["enabled"])
        self.assertIn("creationDate", t)
        paginator = self.iot.get_paginator("list_provisioning_templates")
        seen = [t["templateName"] for p in paginator.paginate(PaginationConfig={"PageSize": 3})
                for t in p["templates"]]
        self.assertEqual([n for n in seen if n.startswith("list-")], listed)

    def test_versions(self):
        self.create("ver")
        r = self.iot.create_provisioning_template_version(templateName="ver", templateBody=SAMPLE)
        self.assertEqual(r["versionId"], 2)
        self.assertFalse(r["isDefaultVersion"])
        body3 = json.dumps({"Resources": {}})
        r = self.iot.create_provisioning_template_version(templateName="ver", templateBody=body3,
                                                          setAsDefault=True)
        self.assertEqual(r["versionId"], 3)
        self.assertTrue(r["isDefaultVersion"])
        d = self.iot.describe_provisioning_template(templateName="ver")
        self.assertEqual(d["defaultVersionId"], 3)
        self.assertEqual(d["templateBody"], body3)
        v = self.iot.describe_provisioning_template_version(templateName="ver", versionId=1)
        self.assertEqual(v["templateBody"], SAMPLE)
        self.assertFalse(v["isDefaultVersion"])
        self.assertIsInstance(v["creationDate"], datetime.datetime)
        vs = self.iot.list_provisioning_template_versions(templateName="ver")["versions"]
        self.assertEqual([x["versionId"] for x in vs], [1, 2, 3])
        self.assertEqual([x["isDefaultVersion"] for x in vs], [False, False, True])
        self.assertAwsError("DeleteConflictException", self.iot.delete_provisioning_template_version,
                            templateName="ver", versionId=3, status=409)
        self.iot.delete_provisioning_template_version(templateName="ver", versionId=1)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_provisioning_template_version,
                            templateName="ver", versionId=1)
        self.iot.update_provisioning_template(templateName="ver", defaultVersionId=2)
        self.assertEqual(self.iot.describe_provisioning_template(templateName="ver")["defaultVersionId"], 2)
        self.iot.create_provisioning_template_version(templateName="ver", templateBody=SAMPLE)
        self.iot.create_provisioning_template_version(templateName="ver", templateBody=SAMPLE)
        self.iot.create_provisioning_template_version(templateName="ver", templateBody=SAMPLE)
        self.assertAwsError("VersionsLimitExceededException", self.iot.create_provisioning_template_version,
                            templateName="ver", templateBody=SAMPLE, status=409)
        self.assertAwsError("InvalidRequestException", self.iot.create_provisioning_template_version,
                            templateName="ver", templateBody="{}")
        self.assertAwsError("ResourceNotFoundException", self.iot.create_provisioning_template_version,
                            templateName="nope", templateBody=SAMPLE)
        self.assertAwsError("ResourceNotFoundException", self.iot.list_provisioning_template_versions,
                            templateName="nope")


class RegisterThingTest(FleetdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_sensor_prerequisites(cls.iot, POLICY)
        conn = cls.fleetd.conn
        cls.root = conn.get("rootCaPath") or os.path.join(cls.fleetd.data_dir, "ca", "ca.pem")

    def verify(self, pem):
        with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
            f.write(pem)
        try:
            openssl("verify", "-CAfile", self.root, f.name)
        finally:
            os.unlink(f.name)

    def test_sample_template_with_existing_certificate(self):
        c = self.iot.create_keys_and_certificate(setAsActive=False)
        r = self.iot.register_thing(templateBody=SAMPLE, parameters={
            "SerialNumber": "0001", "HardwareRevision": "rev2", "AWS::IoT::Certificate::Id": c["certificateId"]})
        arns = r["resourceArns"]
        self.assertEqual(arns["thing"], self.fleetd.arn("thing", "device-0001"))
        self.assertEqual(arns["certificate"], c["certificateArn"])
        self.assertEqual(arns["policy"], self.fleetd.arn("policy", "SensorDevicePolicy"))
        self.assertEqual(r["certificatePem"], c["certificatePem"])
        t = self.iot.describe_thing(thingName="device-0001")
        self.assertEqual(t["thingTypeName"], "EnvironmentalSensor")
        self.assertEqual(t["attributes"], {"hwRevision": "rev2", "firmwareVersion": "1.0.0"})
        d = self.iot.describe_certificate(certificateId=c["certificateId"])["certificateDescription"]
        self.assertEqual(d["status"], "ACTIVE")
        self.assertEqual(self.iot.list_thing_principals(thingName="device-0001")["principals"],
                         [c["certificateArn"]])
        pols = self.iot.list_attached_policies(target=c["certificateArn"])["policies"]
        self.assertEqual([p["policyName"] for p in pols], ["SensorDevicePolicy"])

    def test_csr_and_inline_policy(self):
        key = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
        csr = openssl("req", "-new", "-key", "/dev/stdin", "-subj", "/CN=csr-device", input=key).decode()
        body = json.dumps({
            "Parameters": {"ThingName": {"Type": "String"}, "CSR": {"Type": "String"}},
            "Resources": {
                "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "ThingName"}}},
                "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                    "CertificateSigningRequest": {"Ref": "CSR"}, "Status": "ACTIVE"}},
                "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": POLICY}}}})
        r = self.iot.register_thing(templateBody=body, parameters={"ThingName": "csr-thing", "CSR": csr})
        pem = r["certificatePem"]
        self.verify(pem)
        cert_id = r["resourceArns"]["certificate"].rsplit("/", 1)[1]
        d = self.iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
        self.assertEqual(d["status"], "ACTIVE")
        self.assertEqual(self.iot.list_principal_things(principal=r["resourceArns"]["certificate"])["things"],
                         ["csr-thing"])
        pol = r["resourceArns"]["policy"].rsplit("/", 1)[1]
        self.assertEqual(self.iot.get_policy(policyName=pol)["policyDocument"], POLICY)

    def test_failure_changes_nothing(self):
        c = self.iot.create_keys_and_certificate(setAsActive=False)
        body = SAMPLE.replace("SensorDevicePolicy", "NoSuchPolicy")
        self.assertAwsError("ResourceNotFoundException", self.iot.register_thing, templateBody=body,
                            parameters={"SerialNumber": "0404", "HardwareRevision": "r",
                                        "AWS::IoT::Certificate::Id": c["certificateId"]})
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="device-0404")
        d = self.iot.describe_certificate(certificateId=c["certificateId"])["certificateDescription"]
        self.assertEqual(d["status"], "INACTIVE")
        self.assertEqual(self.iot.list_principal_things(principal=c["certificateArn"])["things"], [])
        # a missing parameter, a malformed body
        self.assertAwsError("InvalidRequestException", self.iot.register_thing, templateBody=SAMPLE,
                            parameters={"HardwareRevision": "r"}, msg_contains="SerialNumber")
        self.assertAwsError("InvalidRequestException", self.iot.register_thing, templateBody="[]")

    def test_provisioning_claim(self):
        self.iot.create_provisioning_template(templateName="fleet", templateBody=SAMPLE,
                                              provisioningRoleArn=ROLE, enabled=True)
        before = datetime.datetime.now(datetime.timezone.utc)
        r = self.iot.create_provisioning_claim(templateName="fleet")
        self.assertEqual(len(r["certificateId"]), 64)
        self.assertIn("BEGIN", r["keyPair"]["PrivateKey"])
        self.assertIn("BEGIN PUBLIC KEY", r["keyPair"]["PublicKey"])
        pem = r["certificatePem"]
        self.verify(pem)
        end = openssl("x509", "-noout", "-enddate", "-dateopt", "iso_8601", input=pem.encode()).decode()
        not_after = datetime.datetime.fromisoformat(end.strip().split("=", 1)[1].replace("Z", "+00:00"))
        self.assertLess(abs((not_after - before).total_seconds() - 300), 30)
        self.assertLess(abs((r["expiration"] - not_after).total_seconds()), 2)
        d = self.iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
        self.assertEqual(d["status"], "ACTIVE")
        arn = d["certificateArn"]
        pols = self.iot.list_attached_policies(target=arn)["policies"]
        self.assertEqual([p["policyName"] for p in pols], ["fleetd-claim-fleet"])
        doc = json.loads(self.iot.get_policy(policyName="fleetd-claim-fleet")["policyDocument"])
        text = json.dumps(doc)
        self.assertIn("$aws/provisioning-templates/fleet/provision/*", text)
        self.assertIn("$aws/certificates/create/*", text)
        self.assertIn("$aws/certificates/create-from-csr/*", text)
        self.assertAwsError("ResourceNotFoundException", self.iot.create_provisioning_claim,
                            templateName="nope")




class ProvisioningTagsTest(FleetdTestCase):
    def test_tags_on_a_template(self):
        arn = self.iot.create_provisioning_template(
            templateName="tagged", templateBody=SAMPLE, provisioningRoleArn=ROLE,
            tags=[{"Key": "team", "Value": "factory"}])["templateArn"]
        self.assertEqual(self.iot.list_tags_for_resource(resourceArn=arn)["tags"],
                         [{"Key": "team", "Value": "factory"}])
        self.iot.tag_resource(resourceArn=arn, tags=[{"Key": "line", "Value": "2"}])
        self.iot.untag_resource(resourceArn=arn, tagKeys=["team"])
        self.assertEqual(self.iot.list_tags_for_resource(resourceArn=arn)["tags"], [{"Key": "line", "Value": "2"}])
        self.assertAwsError("ResourceNotFoundException", self.iot.list_tags_for_resource,
                            resourceArn=arn.replace("tagged", "missing"))


if __name__ == "__main__":
    unittest.main()
