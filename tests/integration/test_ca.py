"""
test_ca.py - the built-in CA as a user meets it: rootCaPath in
connection.json, the broker's server certificate, the fleet-ca CLI, and
certificates fleetd issues verifying against the root with openssl.
"""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import FleetdTestCase, fleetd_bin

OPENSSL = shutil.which("openssl")


def fleet_ca_bin():
    return os.path.join(os.path.dirname(fleetd_bin()), "fleet-ca")


@unittest.skipIf(OPENSSL is None, "openssl CLI not installed")
class CaTest(FleetdTestCase):
    def test_root_ca_path_and_files(self):
        root = self.fleetd.conn["rootCaPath"]
        self.assertTrue(os.path.isabs(root), root)
        self.assertTrue(os.path.exists(root))
        ca_dir = os.path.dirname(root)
        key = os.path.join(ca_dir, "ca.key")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        out = subprocess.run([OPENSSL, "x509", "-in", root, "-noout", "-text"], capture_output=True, text=True,
                             check=True).stdout
        self.assertIn("CA:TRUE", out)
        # the broker's server certificate verifies against the root and names localhost and 127.0.0.1
        server = os.path.join(ca_dir, "server.pem")
        subprocess.run([OPENSSL, "verify", "-CAfile", root, server], check=True, capture_output=True)
        text = subprocess.run([OPENSSL, "x509", "-in", server, "-noout", "-ext", "subjectAltName"],
                              capture_output=True, text=True, check=True).stdout
        self.assertIn("DNS:localhost", text)
        self.assertIn("IP Address:127.0.0.1", text)

    def test_root_is_an_active_ca_certificate(self):
        cas = self.iot.list_ca_certificates()["certificates"]
        self.assertEqual(len(cas), 1)
        self.assertEqual(cas[0]["status"], "ACTIVE")
        desc = self.iot.describe_ca_certificate(certificateId=cas[0]["certificateId"])["certificateDescription"]
        with open(self.fleetd.conn["rootCaPath"]) as f:
            self.assertEqual(desc["certificatePem"].strip(), f.read().strip())

    def test_issued_certificate_verifies(self):
        r = self.iot.create_keys_and_certificate(setAsActive=True)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "c.pem")
            with open(p, "w") as f:
                f.write(r["certificatePem"])
            subprocess.run([OPENSSL, "verify", "-CAfile", self.fleetd.conn["rootCaPath"], p], check=True,
                           capture_output=True)
            der = subprocess.run([OPENSSL, "x509", "-in", p, "-outform", "DER"], capture_output=True,
                                 check=True).stdout
            import hashlib
            self.assertEqual(hashlib.sha256(der).hexdigest(), r["certificateId"])

    def test_fleet_ca_cli(self):
        exe = fleet_ca_bin()
        if not os.access(exe, os.X_OK):
            self.skipTest("fleet-ca not built next to fleetd: %s" % exe)
        with tempfile.TemporaryDirectory() as d:
            ca_dir = os.path.join(d, "ca")
            env = dict(os.environ, FLEETD_DATA_DIR=d)
            subprocess.run([exe, "init", "--dir", ca_dir], check=True, capture_output=True, env=env)
            show = subprocess.run([exe, "show", "--dir", ca_dir], check=True, capture_output=True, text=True,
                                  env=env).stdout
            self.assertIn("CN", show)
            key, cert = os.path.join(d, "srv.key"), os.path.join(d, "srv.pem")
            subprocess.run([exe, "issue-server", "--dir", ca_dir, "--san", "broker.local", "--san", "10.0.0.5",
                            "--out-key", key, "--out-cert", cert], check=True, capture_output=True, env=env)
            self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
            subprocess.run([OPENSSL, "verify", "-CAfile", os.path.join(ca_dir, "ca.pem"), cert], check=True,
                           capture_output=True)
            text = subprocess.run([OPENSSL, "x509", "-in", cert, "-noout", "-ext", "subjectAltName"],
                                  capture_output=True, text=True, check=True).stdout
            self.assertIn("DNS:broker.local", text)
            self.assertIn("IP Address:10.0.0.5", text)
            # a second init keeps the existing root
            before = open(os.path.join(ca_dir, "ca.pem")).read()
            subprocess.run([exe, "init", "--dir", ca_dir], capture_output=True, env=env)
            self.assertEqual(before, open(os.path.join(ca_dir, "ca.pem")).read())
            bad = subprocess.run([exe, "frobnicate"], capture_output=True, env=env)
            self.assertNotEqual(bad.returncode, 0)


if __name__ == "__main__":
    unittest.main()
