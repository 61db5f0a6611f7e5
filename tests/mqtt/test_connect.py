"""Authentication at connect: which certificates the broker accepts, through
paho (MQTT 3.1.1 and 5) and mosquitto_pub."""
import os
import tempfile
import time

from mqtt_harness import StackTestCase, make_ca, make_leaf, openssl


class ConnectTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pol = cls.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive", "iot:Subscribe"], "Resource": "*"},
        ])

    def test_active_accepted_paho_311_and_5(self):
        d = self.stack.device(policies=[self.pol])
        for proto in (4, 5):
            with self.subTest(protocol=proto):
                c = self.stack.paho(d, protocol=proto)
                self.assertAccepted(c.connect(), "MQTT %d" % proto)
                c.disconnect()
                c.close()

    def test_active_accepted_mosquitto_pub(self):
        d = self.stack.device(policies=[self.pol])
        p = self.stack.mqtt_pub(d, "things/%s/hello" % d.name)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_username_is_not_an_identity(self):
        # the v2 SDKs send SDK metrics as the username
        d = self.stack.device(policies=[self.pol])
        c = self.stack.paho(d, username="?SDK=IoTDeviceSDK/JS&Platform=Unix&Metadata=(CRTVersion=1.33.1)")
        self.assertAccepted(c.connect(), "with a metrics username")
        other = self.stack.device(policies=[self.pol])
        c2 = self.stack.paho(other, username=d.cert_id)
        self.assertAccepted(c2.connect(), "username naming another certificate")

    def test_inactive_refused(self):
        d = self.stack.device(policies=[self.pol], active=False)
        self.assertRefused(self.stack.paho(d).connect(), "INACTIVE certificate")
        p = self.stack.mqtt_pub(d, "things/%s/hello" % d.name)
        self.assertNotEqual(p.returncode, 0)
        # and accepted once ACTIVE (the broker reads the registry at connect)
        self.iot.update_certificate(certificateId=d.cert_id, newStatus="ACTIVE")
        self.assertAccepted(self.stack.paho(d).connect(), "after UpdateCertificate ACTIVE")

    def test_revoked_refused(self):
        d = self.stack.device(policies=[self.pol])
        self.iot.update_certificate(certificateId=d.cert_id, newStatus="REVOKED")
        for proto in (4, 5):
            with self.subTest(protocol=proto):
                self.assertRefused(self.stack.paho(d, protocol=proto).connect(), "REVOKED certificate")

    def test_unknown_ca_refused(self):
        # signed by a CA fleetd never heard of: the TLS handshake fails
        with tempfile.TemporaryDirectory() as tmp:
            ca_key, ca_pem = make_ca(tmp, "stranger-ca")
            key, pem = make_leaf(tmp, ca_key, ca_pem, "stranger")
            d = self.stack.device(policies=[self.pol])
            res = self.stack.paho(d, cert=pem, key=key).connect()
            self.assertRefused(res, "certificate from an unknown CA")

    def test_deleted_certificate_refused(self):
        # signed by fleetd's own CA, but no longer in the registry
        d = self.stack.device(policies=[self.pol], thing=False)
        self.iot.detach_policy(policyName=self.pol, target=d.cert_arn)
        self.iot.update_certificate(certificateId=d.cert_id, newStatus="INACTIVE")
        self.iot.delete_certificate(certificateId=d.cert_id)
        self.assertRefused(self.stack.paho(d, client_id="ghost-" + d.cert_id[:6]).connect(),
                           "deleted certificate")

    def test_connect_policy_checks_client_id(self):
        d = self.stack.device(policies=[self.pol])
        self.assertRefused(self.stack.paho(d, client_id=d.name + "-other").connect(),
                           "client id that is not the thing name")
        bare = self.stack.device()  # no policy at all
        self.assertRefused(self.stack.paho(bare).connect(), "certificate without policies")

    def test_wildcard_client_id_refused(self):
        # '+'/'#' in a client id must never become a wildcard in a policy
        pol = self.stack.policy([{"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/*"}])
        d = self.stack.device(policies=[pol])
        self.assertAccepted(self.stack.paho(d, client_id="plain-id").connect(), "plain id")
        for cid in ("a+b", "a#b"):
            with self.subTest(client_id=cid):
                self.assertRefused(self.stack.paho(d, client_id=cid).connect(), cid)

    def test_duplicate_client_id_takes_over(self):
        d = self.stack.device(policies=[self.pol])
        first = self.connect(d)
        second = self.connect(d)
        ev = first.wait_disconnect(3)
        self.assertIsNotNone(ev, "the first connection was not closed by the second")
        self.assertTrue(second.publish("things/%s/still-here" % d.name, qos=1))

    def test_foreign_ca_registered_then_deactivated(self):
        iot = self.iot
        with tempfile.TemporaryDirectory() as tmp:
            ca_key, ca_pem = make_ca(tmp, "foreign-ca")
            code = iot.get_registration_code()["registrationCode"]
            vkey = os.path.join(tmp, "verify.key")
            vcsr = os.path.join(tmp, "verify.csr")
            vpem = os.path.join(tmp, "verify.pem")
            openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", vkey,
                    "-out", vcsr, "-subj", "/CN=" + code)
            openssl("x509", "-req", "-in", vcsr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-out", vpem,
                    "-days", "5")
            ca = iot.register_ca_certificate(caCertificate=open(ca_pem).read(),
                                             verificationCertificate=open(vpem).read(), setAsActive=True)
            key, pem = make_leaf(tmp, ca_key, ca_pem, "foreign-dev")
            name = "foreign-" + ca["certificateId"][:6]
            iot.create_thing(thingName=name)
            cert = iot.register_certificate(certificatePem=open(pem).read(), caCertificatePem=open(ca_pem).read(),
                                            status="ACTIVE")
            iot.attach_thing_principal(thingName=name, principal=cert["certificateArn"])
            iot.attach_policy(policyName=self.pol, target=cert["certificateArn"])
            d = self.stack._save(name, cert["certificateId"], cert["certificateArn"], open(pem).read(),
                                 open(key).read())
            # fleetd exports registered CAs to the broker's capath within a second
            deadline = time.time() + 5
            res = None
            while time.time() < deadline:
                res = self.stack.paho(d).connect()
                if res.accepted:
                    break
                time.sleep(0.3)
            self.assertAccepted(res, "device of a registered, ACTIVE foreign CA")
            iot.update_ca_certificate(certificateId=ca["certificateId"], newStatus="INACTIVE")
            self.assertRefused(self.stack.paho(d).connect(), "device of a deactivated CA")
