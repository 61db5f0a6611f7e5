"""Configuration as documented in docs/configuration.md: config file and
environment (environment wins), bad settings refused at start, the files in
the data directory and the hint line printed at start."""
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import Fleetd, _child_env, _wrapper, fleetd_bin


def run_fleetd(args, data_dir, extra=None, timeout=20):
    env = _child_env(data_dir, dict(extra or {}, FLEETD_HTTP_PORT=(extra or {}).get("FLEETD_HTTP_PORT", "0")))
    try:
        p = subprocess.run(_wrapper() + [fleetd_bin()] + args, env=env, capture_output=True, timeout=timeout,
                           cwd=data_dir)
    except subprocess.TimeoutExpired:
        return None
    return p


class ConfigTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fleetd-cfg-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_file_then_environment(self):
        with open(os.path.join(self.dir, "fleetd.conf"), "w") as f:
            f.write("# test\nregion = eu-west-3\naccount_id = 000000000007\n")
        f1 = Fleetd(data_dir=self.dir)
        try:
            r = f1.client().create_thing(thingName="cfg-t")
            self.assertEqual(r["thingArn"], "arn:aws:iot:eu-west-3:000000000007:thing/cfg-t")
        finally:
            f1.stop()
        f2 = Fleetd({"FLEETD_REGION": "ap-south-1"}, data_dir=self.dir)
        try:
            self.assertEqual(f2.region, "ap-south-1")
            r = f2.client().create_thing(thingName="cfg-t2")
            self.assertEqual(r["thingArn"], "arn:aws:iot:ap-south-1:000000000007:thing/cfg-t2")
        finally:
            f2.stop()

    def test_bad_settings_refused(self):
        cases = [
            ({"FLEETD_HTTP_PORT": "not-a-port"}, None, "http_port"),
            ({"FLEETD_ACCOUNT_ID": "12345"}, None, "account_id"),
            ({}, "no_such_key = 1\n", "no_such_key"),
            ({}, "max_body_bytes = lots\n", "max_body_bytes"),
        ]
        for env, conf, name in cases:
            with self.subTest(setting=name):
                d = tempfile.mkdtemp(prefix="fleetd-cfg-", dir=self.dir)
                if conf is not None:
                    with open(os.path.join(d, "fleetd.conf"), "w") as f:
                        f.write(conf)
                p = run_fleetd(["serve"], d, env)
                self.assertIsNotNone(p, "fleetd started (or hung) despite a bad %s" % name)
                self.assertNotEqual(p.returncode, 0)
                out = (p.stdout + p.stderr).decode("utf-8", "replace")
                self.assertTrue(name in out or name.upper() in out,
                                "the message does not name the setting %s: %r" % (name, out))
                self.assertFalse(os.path.exists(os.path.join(d, "connection.json")))
        p = run_fleetd(["serve"], self.dir, {"FLEETD_CONFIG": os.path.join(self.dir, "missing.conf")})
        self.assertIsNotNone(p)
        self.assertNotEqual(p.returncode, 0, "FLEETD_CONFIG naming a missing file must stop fleetd")

    def test_usage_errors(self):
        for args in (["bogus"], ["keys"], ["keys", "bogus"], ["keys", "revoke"]):
            with self.subTest(args=args):
                p = run_fleetd(args, self.dir)
                self.assertIsNotNone(p)
                self.assertNotEqual(p.returncode, 0)

    def test_data_dir_files(self):
        sub = os.path.join(self.dir, "new", "data")   # created on first start
        f = Fleetd(data_dir=sub)
        try:
            self.assertEqual(stat.S_IMODE(os.stat(sub).st_mode), 0o700)
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(sub, "fleetd.db")).st_mode), 0o600)
            for secret_file in ("credentials", "connection.json"):
                mode = stat.S_IMODE(os.stat(os.path.join(sub, secret_file)).st_mode)
                self.assertEqual(mode & 0o077, 0, "%s holds a secret but is mode %o" % (secret_file, mode))
            with open(f.credentials_file) as fh:
                text = fh.read()
            self.assertIn("[fleetd]", text)
            self.assertIn("aws_access_key_id = " + f.admin[0], text.replace("=", " = ").replace("  ", " "))
            self.assertIn(f.admin[1], text)
            # the line to try next, with the real endpoint
            log = f.stderr()
            self.assertIn("aws iot", log)
            self.assertIn("--endpoint-url " + f.endpoint, log)
        finally:
            f.stop()

    def test_port_in_use_refused(self):
        """A second fleetd on the port of a running one refuses to start
        (and does not share the port with it)."""
        f1 = Fleetd()
        try:
            d = tempfile.mkdtemp(prefix="fleetd-cfg-", dir=self.dir)
            p = run_fleetd(["serve"], d, {"FLEETD_HTTP_PORT": str(f1.port), "FLEETD_BROKER": "off"})
            self.assertIsNotNone(p, "the second fleetd did not exit")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(b"port in use", p.stderr + p.stdout)
            self.assertEqual(f1.client().list_things()["things"], [])  # the first one still answers
        finally:
            f1.stop()


if __name__ == "__main__":
    unittest.main()
