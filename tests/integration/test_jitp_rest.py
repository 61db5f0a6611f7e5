"""The REST side of just-in-time provisioning, through boto3:
RegisterCACertificate / UpdateCACertificate / DescribeCACertificate with a
registrationConfig (templateName of a JITP template, or an inline
templateBody), and DeleteProvisioningTemplate of a template a CA names."""
import json

from harness import FleetdTestCase
from test_certificates import ForeignCA, Workdir

ROLE = "arn:aws:iam::123456789012:role/jitp-provisioning"
BODY = json.dumps({
    "Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"},
                   "AWS::IoT::Certificate::Id": {"Type": "String"}},
    "Resources": {
        "thing": {"Type": "AWS::IoT::Thing",
                  "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}}},
        "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
            "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}}}})


class JitpRestTest(FleetdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wd = Workdir()

    @classmethod
    def tearDownClass(cls):
        cls.wd.cleanup()
        super().tearDownClass()

    def register(self, ca, **kw):
        code = self.iot.get_registration_code()["registrationCode"]
        verif, _ = ca.issue(code)
        return self.iot.register_ca_certificate(caCertificate=ca.pem, verificationCertificate=verif,
                                                setAsActive=True, allowAutoRegistration=True, **kw)

    def template(self, name, type_="JITP"):
        self.iot.create_provisioning_template(templateName=name, templateBody=BODY, provisioningRoleArn=ROLE,
                                              type=type_)

    def test_registration_config_round_trip(self):
        self.template("rt-jitp")
        ca = ForeignCA(self.wd, "JITP RT CA")
        cfg = {"templateName": "rt-jitp", "roleArn": ROLE}
        ca_id = self.register(ca, registrationConfig=cfg)["certificateId"]
        d = self.iot.describe_ca_certificate(certificateId=ca_id)
        self.assertEqual(d["registrationConfig"], cfg)
        self.assertEqual(d["certificateDescription"]["autoRegistrationStatus"], "ENABLE")
        listed = self.iot.list_ca_certificates(templateName="rt-jitp")["certificates"]
        self.assertEqual([c["certificateId"] for c in listed], [ca_id])

        # the older inline form
        inline = {"templateBody": BODY, "roleArn": ROLE}
        self.iot.update_ca_certificate(certificateId=ca_id, registrationConfig=inline)
        d = self.iot.describe_ca_certificate(certificateId=ca_id)
        self.assertEqual(d["registrationConfig"], inline)
        self.assertEqual(self.iot.list_ca_certificates(templateName="rt-jitp")["certificates"], [])

        # removeAutoRegistration drops it and disables auto-registration
        self.iot.update_ca_certificate(certificateId=ca_id, removeAutoRegistration=True)
        d = self.iot.describe_ca_certificate(certificateId=ca_id)
        self.assertNotIn("registrationConfig", d)
        self.assertEqual(d["certificateDescription"]["autoRegistrationStatus"], "DISABLE")

    def test_registration_config_refusals(self):
        self.template("rf-fleet", "FLEET_PROVISIONING")
        ca = ForeignCA(self.wd, "JITP Refusals CA")
        self.assertAwsError("ResourceNotFoundException", self.register, ca,
                            registrationConfig={"templateName": "rf-missing", "roleArn": ROLE}, status=404)
        self.assertAwsError("InvalidRequestException", self.register, ca,
                            registrationConfig={"templateName": "rf-fleet", "roleArn": ROLE}, status=400,
                            msg_contains="JITP")
        self.assertAwsError("InvalidRequestException", self.register, ca,
                            registrationConfig={"templateBody": '{"Resources": {"x": {"Type": "AWS::S3::Bucket"}}}',
                                                "roleArn": ROLE}, status=400)
        # nothing was registered by the refusals
        ca_id = self.register(ca)["certificateId"]
        self.assertAwsError("ResourceNotFoundException", self.iot.update_ca_certificate, certificateId=ca_id,
                            registrationConfig={"templateName": "rf-missing"})
        self.assertAwsError("InvalidRequestException", self.iot.update_ca_certificate, certificateId=ca_id,
                            registrationConfig={"templateName": "rf-fleet"})
        self.assertNotIn("registrationConfig", self.iot.describe_ca_certificate(certificateId=ca_id))

    def test_delete_template_named_by_a_ca_conflicts(self):
        self.template("dc-jitp")
        ca = ForeignCA(self.wd, "JITP Delete CA")
        ca_id = self.register(ca, registrationConfig={"templateName": "dc-jitp", "roleArn": ROLE})["certificateId"]
        self.assertAwsError("DeleteConflictException", self.iot.delete_provisioning_template,
                            templateName="dc-jitp", status=409, msg_contains=ca_id)
        self.iot.describe_provisioning_template(templateName="dc-jitp")
        self.iot.update_ca_certificate(certificateId=ca_id, removeAutoRegistration=True)
        self.iot.delete_provisioning_template(templateName="dc-jitp")
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_provisioning_template,
                            templateName="dc-jitp")
