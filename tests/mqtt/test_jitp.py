"""Just-in-time registration (JITR) and provisioning (JITP): a device whose
certificate comes from a registered foreign CA with auto-registration connects
once (refused, its certificate registered, $aws/events/certificates/registered/
<caCertificateId> published), then again: as its thing when the CA has a JITP
template, refused until someone activates the certificate when it has none."""
import json
import os
import tempfile
import time
import uuid

from mqtt_harness import REFUSED_CODES, StackTestCase, make_ca, make_leaf, openssl

ROLE = "arn:aws:iam::123456789012:role/jitp-provisioning"


def der_id(pem_path):
    import hashlib
    der = openssl("x509", "-in", pem_path, "-outform", "DER")
    return hashlib.sha256(der).hexdigest()


class JitpTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="fleetd-jitp-")
        # who listens to the registered events (a device with a suitable policy)
        cls.listen_pol = cls.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": "ARN:topicfilter/$aws/events/certificates/registered/*"},
            {"Effect": "Allow", "Action": "iot:Receive",
             "Resource": "ARN:topic/$aws/events/certificates/registered/*"},
        ])

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # ---- helpers -------------------------------------------------------------
    def register_ca(self, cn, **kw):
        """A foreign CA made with the openssl CLI, registered ACTIVE (DEFAULT
        mode: verification certificate over the registration code)."""
        ca_key, ca_pem = make_ca(self.tmp, cn)
        code = self.iot.get_registration_code()["registrationCode"]
        vkey = os.path.join(self.tmp, cn + "-verify.key")
        vcsr = os.path.join(self.tmp, cn + "-verify.csr")
        vpem = os.path.join(self.tmp, cn + "-verify.pem")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", vkey,
                "-out", vcsr, "-subj", "/CN=" + code)
        openssl("x509", "-req", "-in", vcsr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-out", vpem,
                "-days", "5")
        r = self.iot.register_ca_certificate(caCertificate=open(ca_pem).read(),
                                             verificationCertificate=open(vpem).read(), setAsActive=True,
                                             allowAutoRegistration=True, **kw)
        return ca_key, ca_pem, r["certificateId"]

    def listener(self):
        d = self.stack.device(policies=[self.listen_pol])
        p = self.connect(d)
        self.assertEqual(p.subscribe("$aws/events/certificates/registered/#", qos=1), [1])
        return p

    def first_connect(self, dev):
        """Connects until the broker answers with a CONNACK (the capath
        export of a new CA takes up to a second; until then TLS fails)."""
        deadline = time.time() + 10
        res = None
        while time.time() < deadline:
            res = self.stack.paho(dev).connect()
            if res.accepted or res.rc is not None:
                return res
            time.sleep(0.3)
        self.fail("no CONNACK for %s within 10 s: %r\nfleetd stderr:\n%s"
                  % (dev.name, res, self.stack.stderr()[-2000:]))

    def connect_until(self, dev, timeout=10):
        deadline = time.time() + timeout
        res = None
        while time.time() < deadline:
            c = self.stack.paho(dev)
            res = c.connect()
            if res.accepted:
                return c
            c.close()
            time.sleep(0.3)
        self.fail("%s was never accepted: %r\nbroker log:\n%s" % (dev.name, res, self.stack.broker_log()[-2000:]))

    # ---- tests ---------------------------------------------------------------
    def test_jitp_template_provisions_the_thing(self):
        tag = uuid.uuid4().hex[:6]
        pol = self.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": "ARN:topic/things/${iot:Connection.Thing.ThingName}/*"},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": "ARN:topicfilter/things/${iot:Connection.Thing.ThingName}/*"},
        ], name="jitp-device-" + tag)
        body = {
            "Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"},
                           "AWS::IoT::Certificate::Country": {"Type": "String"},
                           "AWS::IoT::Certificate::Id": {"Type": "String"}},
            "Resources": {
                "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                    "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
                    "AttributePayload": {"country": {"Ref": "AWS::IoT::Certificate::Country"}}}},
                "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                    "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
                "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": pol}}}}
        tname = "jitp-" + tag
        self.iot.create_provisioning_template(templateName=tname, templateBody=json.dumps(body),
                                              provisioningRoleArn=ROLE, type="JITP")
        ca_key, ca_pem, ca_id = self.register_ca(
            "jitp-ca-" + tag, registrationConfig={"templateName": tname, "roleArn": ROLE})
        listen = self.listener()

        name = "sensor-" + tag
        key, pem = make_leaf(self.tmp, ca_key, ca_pem, name, "/C=DE/O=Acme/CN=" + name)
        cert_id = der_id(pem)
        dev = self.stack._save(name, cert_id, self.stack.arn("cert", cert_id), open(pem).read(), open(key).read())

        first = self.first_connect(dev)
        self.assertFalse(first.accepted, "AWS refuses the first connection of a just-in-time registration")
        self.assertIn(first.rc, REFUSED_CODES)
        ev = listen.wait_message("$aws/events/certificates/registered/" + ca_id, timeout=10)
        self.assertIsNotNone(ev, "no registered event; broker log:\n" + self.stack.broker_log()[-2000:])
        p = json.loads(ev["payload"])
        self.assertEqual(p["certificateId"], cert_id)
        self.assertEqual(p["caCertificateId"], ca_id)
        self.assertEqual(p["awsAccountId"], self.stack.account)
        self.assertIsInstance(p["timestamp"], int)
        self.assertRegex(p["certificateRegistrationTimestamp"], r"^[0-9]{13}$")
        self.assertIn(p["certificateStatus"], ("ACTIVE", "PENDING_ACTIVATION"))

        c = self.connect_until(dev)
        self.assertEqual(c.subscribe("things/%s/#" % name, qos=1), [1])
        self.assertTrue(c.publish("things/%s/hello" % name, payload="hi", qos=1))
        self.assertIsNotNone(c.wait_message("things/%s/hello" % name, payload="hi"))

        t = self.iot.describe_thing(thingName=name)
        self.assertEqual(t["attributes"], {"country": "DE"})
        principals = self.iot.list_thing_principals(thingName=name)["principals"]
        self.assertEqual(principals, [self.stack.arn("cert", cert_id)])
        cd = self.iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
        self.assertEqual(cd["status"], "ACTIVE")
        self.assertEqual(cd["caCertificateId"], ca_id)
        pols = self.iot.list_attached_policies(target=self.stack.arn("cert", cert_id))["policies"]
        self.assertEqual([x["policyName"] for x in pols], [pol])
        # the template is in use: it cannot go away under the CA
        with self.assertRaises(Exception) as cm:
            self.iot.delete_provisioning_template(templateName=tname)
        self.assertEqual(cm.exception.response["Error"]["Code"], "DeleteConflictException")

    def test_jitr_only_stays_pending_until_activated(self):
        tag = uuid.uuid4().hex[:6]
        ca_key, ca_pem, ca_id = self.register_ca("jitr-ca-" + tag)
        listen = self.listener()
        name = "plain-" + tag
        key, pem = make_leaf(self.tmp, ca_key, ca_pem, name)
        cert_id = der_id(pem)
        dev = self.stack._save(name, cert_id, self.stack.arn("cert", cert_id), open(pem).read(), open(key).read())

        self.assertFalse(self.first_connect(dev).accepted)
        ev = listen.wait_message("$aws/events/certificates/registered/" + ca_id, timeout=10)
        self.assertIsNotNone(ev, "no registered event; broker log:\n" + self.stack.broker_log()[-2000:])
        p = json.loads(ev["payload"])
        self.assertEqual(p["certificateId"], cert_id)
        self.assertEqual(p["certificateStatus"], "PENDING_ACTIVATION")

        certs = self.iot.list_certificates_by_ca(caCertificateId=ca_id)["certificates"]
        self.assertEqual([(x["certificateId"], x["status"]) for x in certs], [(cert_id, "PENDING_ACTIVATION")])
        # PENDING_ACTIVATION is refused, and registering it again publishes nothing
        self.assertRefused(self.stack.paho(dev).connect(), "PENDING_ACTIVATION certificate")
        self.assertIsNone(listen.wait_message("$aws/events/certificates/registered/" + ca_id, timeout=1))

        # what a JITR Lambda would do: activate, attach a policy
        pol = self.stack.policy([{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}])
        self.iot.update_certificate(certificateId=cert_id, newStatus="ACTIVE")
        self.iot.attach_policy(policyName=pol, target=self.stack.arn("cert", cert_id))
        self.connect_until(dev, timeout=5)

    def test_no_auto_registration_refuses_without_registering(self):
        tag = uuid.uuid4().hex[:6]
        ca_key, ca_pem, ca_id = self.register_ca("noauto-ca-" + tag)
        self.iot.update_ca_certificate(certificateId=ca_id, newAutoRegistrationStatus="DISABLE")
        name = "noauto-" + tag
        key, pem = make_leaf(self.tmp, ca_key, ca_pem, name)
        cert_id = der_id(pem)
        dev = self.stack._save(name, cert_id, self.stack.arn("cert", cert_id), open(pem).read(), open(key).read())
        self.assertFalse(self.first_connect(dev).accepted)
        time.sleep(0.5)
        self.assertEqual(self.iot.list_certificates_by_ca(caCertificateId=ca_id)["certificates"], [])


if __name__ == "__main__":
    import unittest
    unittest.main()
