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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from unittest_runner import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], "mqtt", HERE, __doc__))
