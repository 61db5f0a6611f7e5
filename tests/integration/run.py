#!/usr/bin/env python3
"""
run.py - runs the integration suite (every test_*.py beside this file) with
unittest and ends with exactly one line:
    integration: N passed, N failed[, N skipped]
Exit status is non-zero on any failure or error.

Usage: run.py [-q] [FILTER...]
  FILTER is a module ("things", "test_things", "test_things.py"), or a dotted
  name below a module ("test_things.ThingsTest.test_create").
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from unittest_runner import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], "integration", HERE, __doc__))
