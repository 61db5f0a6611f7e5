#!/usr/bin/env python3
"""bench/firstboot_setup.py - registry setup and checks for the first-boot part of `make bench`
(bench/firstboot.sh). boto3 against fleetd's REST API on 127.0.0.1 (fleet_setup.client).

  firstboot_setup.py setup --conn CONN --template NAME
      thing type EnvironmentalSensor, policy SensorDevicePolicy (connect as the thing, publish/receive/
      subscribe under things/<thing>/) and the fleet-provisioning template NAME with issue 5's body,
      verbatim, enabled
  firstboot_setup.py verify --conn CONN --expect N [--sample 50]
      exactly N things of type EnvironmentalSensor; a sample of them each with exactly one ACTIVE
      certificate attached; no certificate left PENDING_ACTIVATION. Prints one JSON line.

Every call must succeed, or the script exits non-zero naming the call.
"""
import argparse
import json
import random
import sys

from fleet_setup import client

TEMPLATE = """{"Parameters": {"SerialNumber": {"Type": "String"}, "HardwareRevision": {"Type": "String"},
                "AWS::IoT::Certificate::Id": {"Type": "String"}},
 "Resources": {
  "thing": {"Type": "AWS::IoT::Thing", "Properties": {
     "ThingName": {"Fn::Join": ["-", ["device", {"Ref": "SerialNumber"}]]},
     "ThingTypeName": "EnvironmentalSensor",
     "AttributePayload": {"hwRevision": {"Ref": "HardwareRevision"}, "firmwareVersion": "1.0.0"}}},
  "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
     "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
  "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "SensorDevicePolicy"}}}}"""

THING = "${iot:Connection.Thing.ThingName}"


def sensor_policy(region, account):
    arn = f"arn:aws:iot:{region}:{account}"
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/{THING}"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": f"{arn}:topic/things/{THING}/*"},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{arn}:topicfilter/things/{THING}/*"},
    ]}


def cmd_setup(a):
    iot, conn = client(a.conn)
    iot.create_thing_type(thingTypeName="EnvironmentalSensor")
    iot.create_policy(policyName="SensorDevicePolicy",
                      policyDocument=json.dumps(sensor_policy(conn["region"], conn["accountId"])))
    iot.create_provisioning_template(templateName=a.template, templateBody=TEMPLATE, enabled=True,
                                     provisioningRoleArn="arn:aws:iam::123456789012:role/BenchProvisioning")
    print(a.template)


def cmd_verify(a):
    iot, _ = client(a.conn)
    things = []
    kw = {"thingTypeName": "EnvironmentalSensor", "maxResults": 250}
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
