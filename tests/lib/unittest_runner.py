"""
unittest_runner.py - the runner the Python suites share (tests/integration,
tests/mqtt): unittest with a result that counts tests rather than subtests,
module filters on the command line, and exactly one closing line
    <label>: N passed, N failed[, N skipped]
that CI reads. Exit status is non-zero on any failure or error.
"""
import os
import sys
import time
import unittest


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


def load(loader, filters, here):
    if not filters:
        return loader.discover(here, pattern="test_*.py", top_level_dir=here)
    suite = unittest.TestSuite()
    for f in filters:
        name = f[:-3] if f.endswith(".py") else f
        name = os.path.basename(name)
        mod, _, rest = name.partition(".")
        if not mod.startswith("test_"):
            mod = "test_" + mod
        if not os.path.exists(os.path.join(here, mod + ".py")):
            sys.stderr.write("run.py: no module %s.py in %s\n" % (mod, here))
            sys.exit(2)
        suite.addTests(loader.loadTestsFromName(mod + ("." + rest if rest else "")))
    return suite


def main(argv, label, here, doc=""):
    """Runs the test_*.py modules in here (or the FILTERs in argv) and prints
    the closing "<label>: N passed, N failed[, N skipped]" line."""
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        import boto3  # noqa: F401  (the suite's one dependency beyond the standard library)
        import botocore  # noqa: F401
    except ImportError as e:
        print("run.py: %s: this suite needs boto3/botocore for %s (pyenv python3, or Debian python3-boto3)"
              % (e, sys.executable))
        print("%s: 0 passed, 1 failed" % label)
        return 1
    verbosity = 2
    filters = []
    for a in argv:
        if a in ("-q", "--quiet"):
            verbosity = 1
        elif a in ("-h", "--help"):
            print(doc)
            return 0
        else:
            filters.append(a)
    loader = unittest.TestLoader()
    suite = load(loader, filters, here)
    t0 = time.monotonic()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity, resultclass=CountingResult)
    result = runner.run(suite)
    sys.stdout.flush()
    failed = len(result.failed_ids)
    passed = len(result.ok_ids - result.failed_ids)
    skipped = len(result.skipped)
    line = "%s: %d passed, %d failed" % (label, passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print("(%.1fs)" % (time.monotonic() - t0))
    print(line)
    return 1 if failed or (passed == 0 and not skipped) else 0

