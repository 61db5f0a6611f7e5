"""The same smoke through both aws CLIs, exactly as a user runs them: the
shared-credentials file fleetd wrote, profile fleetd, --endpoint-url.
`aws` on PATH is v1 (pyenv, signs as "iot"); /usr/bin/aws is Debian's v2
(signs as "execute-api")."""
import json
import os
import shutil
import subprocess
import unittest

from harness import FleetdTestCase


def cli_version(path):
    if not path or not os.access(path, os.X_OK):
        return None
    try:
        p = subprocess.run([path, "--version"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (p.stdout + p.stderr).decode("utf-8", "replace").strip()
    return out if out.startswith("aws-cli/") else None


def find_cli(major):
    cands = [shutil.which("aws"), "/usr/bin/aws", "/usr/local/bin/aws"]
    for c in cands:
        v = cli_version(c)
        if v and v.startswith("aws-cli/%d." % major):
            return c, v
    return None, None


class _CliSmoke(FleetdTestCase):
    major = None
    error_rc = None
    prefix = None

    @classmethod
    def setUpClass(cls):
        cls.cli, cls.version = find_cli(cls.major)
        if not cls.cli:
            print("\n  (aws CLI v%d not installed: skipping)" % cls.major)
            raise unittest.SkipTest("aws CLI v%d is not installed" % cls.major)
        super().setUpClass()

    def aws(self, *args, expect_rc=0):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        home = self.fleetd.data_dir
        env.update({
            "AWS_SHARED_CREDENTIALS_FILE": self.fleetd.credentials_file,
            "AWS_CONFIG_FILE": os.path.join(home, "config-does-not-exist"),
            "AWS_PROFILE": "fleetd",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_PAGER": "",
            "AWS_MAX_ATTEMPTS": "1",
        })
        cmd = [self.cli, "iot"] + list(args) + ["--endpoint-url", self.fleetd.endpoint, "--output", "json"]
        p = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, expect_rc, "%s\nrc %d (expected %d)\nstdout: %s\nstderr: %s"
                         % (" ".join(cmd), p.returncode, expect_rc, out, err))
        try:
            js = json.loads(out) if out.strip() else None
        except ValueError:
            self.fail("%s printed non-JSON: %r" % (" ".join(cmd), out[:500]))
        return js, err

    def test_smoke(self):
        t, g = self.prefix + "-thing", self.prefix + "-group"
        r, _ = self.aws("create-thing", "--thing-name", t, "--attribute-payload",
                        '{"attributes":{"serial":"SN-42"}}')
        self.assertEqual(r["thingName"], t)
        self.assertEqual(r["thingArn"], self.fleetd.arn("thing", t))
        d, _ = self.aws("describe-thing", "--thing-name", t)
        self.assertEqual(d["thingId"], r["thingId"])
        self.assertEqual(d["version"], 1)
        self.assertEqual(d["attributes"], {"serial": "SN-42"})
        self.assertEqual(d["defaultClientId"], t)
        lst, _ = self.aws("list-things", "--attribute-name", "serial", "--attribute-value", "SN-42")
        self.assertIn(t, [x["thingName"] for x in lst["things"]])
        grp, _ = self.aws("create-thing-group", "--thing-group-name", g)
        self.assertEqual(grp["thingGroupArn"], self.fleetd.arn("thinggroup", g))
        self.aws("add-thing-to-thing-group", "--thing-group-name", g, "--thing-name", t)
        inside, _ = self.aws("list-things-in-thing-group", "--thing-group-name", g)
        self.assertEqual(inside["things"], [t])
        _, err = self.aws("describe-thing", "--thing-name", self.prefix + "-missing", expect_rc=self.error_rc)
        self.assertIn("ResourceNotFoundException", err)
        self.aws("delete-thing", "--thing-name", t)
        _, err = self.aws("describe-thing", "--thing-name", t, expect_rc=self.error_rc)
        self.assertIn("ResourceNotFoundException", err)


class CliV1Test(_CliSmoke):
    major, error_rc, prefix = 1, 255, "cli1"


class CliV2Test(_CliSmoke):
    major, error_rc, prefix = 2, 254, "cli2"


del _CliSmoke

if __name__ == "__main__":
    unittest.main()
