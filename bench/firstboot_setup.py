#!/usr/bin/env python3
"""bench/firstboot_setup.py - registry setup and checks for the first-boot part of `make bench`
(bench/firstboot.sh). boto3 against fleetd's REST API on 127.0.0.1 (fleet_setup.client).

  firstboot_setup.py setup --conn CONN --template NAME
      thing type EnvironmentalSensor, policy SensorDevicePolicy (connect as the thing, publish/receive/
      subscribe under things/<thing>/) and the fleet-provisioning template NAME with issue 5's body,
      verbatim, enabled (all three from tests/lib/sensor_template.py)
  firstboot_setup.py verify --conn CONN --expect N [--sample 50]
      exactly N things of type EnvironmentalSensor; a sample of them each with exactly one ACTIVE
      certificate attached; no certificate left PENDING_ACTIVATION. Prints one JSON line.

Every call must succeed, or the script exits non-zero naming the call.
"""
import argparse
import json
import os
import random
import sys

from fleet_setup import client

# the template and what it names: one copy, shared with the tests
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from sensor_template import (SENSOR_TEMPLATE, SENSOR_THING_TYPE, create_sensor_prerequisites,  # noqa: E402
                             sensor_policy_document)


def cmd_setup(a):
    iot, conn = client(a.conn)
    create_sensor_prerequisites(iot, sensor_policy_document(conn["region"], conn["accountId"]))
    iot.create_provisioning_template(templateName=a.template, templateBody=SENSOR_TEMPLATE, enabled=True,
                                     provisioningRoleArn="arn:aws:iam::123456789012:role/BenchProvisioning")
    print(a.template)


def cmd_verify(a):
    iot, _ = client(a.conn)
    things = []
    kw = {"thingTypeName": SENSOR_THING_TYPE, "maxResults": 250}
    while True:
        page = iot.list_things(**kw)
        things += [t["thingName"] for t in page["things"]]
        if not page.get("nextToken"):
            break
        kw["nextToken"] = page["nextToken"]
    statuses = {}
    kw = {"pageSize": 250}
    while True:
        page = iot.list_certificates(**kw)
        for c in page["certificates"]:
            statuses[c["certificateId"]] = c["status"]
        if not page.get("nextMarker"):
            break
        kw["marker"] = page["nextMarker"]
    problems = []
    if len(things) != a.expect or len(set(things)) != len(things):
        problems.append(f"{len(things)} things of type EnvironmentalSensor ({len(set(things))} distinct), "
                        f"mqttgen completed {a.expect} first boots")
    for name in random.Random(1).sample(things, min(a.sample, len(things))):
        principals = iot.list_thing_principals(thingName=name)["principals"]
        if len(principals) != 1 or statuses.get(principals[0].rsplit("/", 1)[1]) != "ACTIVE":
            problems.append(f"{name}: principals {principals}")
    pending = sum(1 for s in statuses.values() if s == "PENDING_ACTIVATION")
    if pending:
        problems.append(f"{pending} certificates left PENDING_ACTIVATION")
    print(json.dumps({"things": len(things), "certificates": len(statuses), "pending": pending,
                      "sampled": min(a.sample, len(things)), "problems": problems[:5]}, separators=(",", ":")))
    if problems:
        sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("setup")
    ps.add_argument("--conn", required=True)
    ps.add_argument("--template", required=True)
    pv = sub.add_parser("verify")
    pv.add_argument("--conn", required=True)
    pv.add_argument("--expect", type=int, required=True)
    pv.add_argument("--sample", type=int, default=50)
    a = p.parse_args()
    cmd_setup(a) if a.cmd == "setup" else cmd_verify(a)


if __name__ == "__main__":
    main()
