#!/usr/bin/env python3
"""
run.py - runs the MQTT suite (every test_*.py beside this file: fleetd +
mosquitto + mosquitto_fleet.so, driven by paho, mosquitto_pub/sub and the AWS
IoT Device SDK v2 for JavaScript) with unittest and ends with exactly one line:
    mqtt: N passed, N failed[, N skipped]
Exit status is non-zero on any failure or error.

Usage: run.py [-q] [FILTER...]
  FILTER is a module ("connect", "test_connect", "test_connect.py"), or a
  dotted name below a module ("test_connect.ConnectTest.test_revoked_refused").
"""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class CountingResult(unittest.TextTestResult):
    """Counts tests, not subtests: a test with any failing subtest is one
    failure; setUpClass/tearDownClass errors count as one failure each."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.failed_ids = set()
        self.ok_ids = set()

    @staticmethod
    def _id(test):
        return getattr(test, "test_case", test).id() if hasattr(test, "id") else str(test)

    def addSuccess(self, test):
        self.ok_ids.add(self._id(test))
        super().addSuccess(test)

    def addFailure(self, test, err):
        self.failed_ids.add(self._id(test))
        super().addFailure(test, err)

    def addError(self, test, err):
        self.failed_ids.add(str(test) if not hasattr(test, "_testMethodName") else self._id(test))
        super().addError(test, err)

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self.failed_ids.add(self._id(test))
        super().addSubTest(test, subtest, err)

    def addUnexpectedSuccess(self, test):
        self.failed_ids.add(self._id(test))
        super().addUnexpectedSuccess(test)


def load(loader, filters):
    if not filters:
        return loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    suite = unittest.TestSuite()
    for f in filters:
        name = f[:-3] if f.endswith(".py") else f
        name = os.path.basename(name)
        mod, _, rest = name.partition(".")
        if not mod.startswith("test_"):
            mod = "test_" + mod
        if not os.path.exists(os.path.join(HERE, mod + ".py")):
            sys.stderr.write("run.py: no module %s.py in %s\n" % (mod, HERE))
            sys.exit(2)
        suite.addTests(loader.loadTestsFromName(mod + ("." + rest if rest else "")))
    return suite


def main(argv):
    try:
        import boto3  # noqa: F401  (the suite's one dependency beyond the standard library)
        import botocore  # noqa: F401
    except ImportError as e:
        print("run.py: %s: this suite needs boto3/botocore for %s (pyenv python3, or Debian python3-boto3)"
              % (e, sys.executable))
        print("mqtt: 0 passed, 1 failed")
        return 1
    verbosity = 2
    filters = []
    for a in argv:
        if a in ("-q", "--quiet"):
            verbosity = 1
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            filters.append(a)
    loader = unittest.TestLoader()
    suite = load(loader, filters)
    t0 = time.monotonic()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity, resultclass=CountingResult)
    result = runner.run(suite)
    sys.stdout.flush()
    failed = len(result.failed_ids)
    passed = len(result.ok_ids - result.failed_ids)
    skipped = len(result.skipped)
    line = "mqtt: %d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print("(%.1fs)" % (time.monotonic() - t0))
    print(line)
    return 1 if failed or (passed == 0 and not skipped) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
