#!/usr/bin/env python3
"""bench/fleet_setup.py - registry setup for the certificate, policy and MQTT rows of `make bench`.

Talks to fleetd through boto3 only (the same REST API any AWS client uses), on 127.0.0.1.

  fleet_setup.py policy-doc REGION ACCOUNT
      prints the bench device policy (6 statements, thing-name variables)
  fleet_setup.py authz --conn CONN --out DIR
      policy bench-device-policy, thing t1, an ACTIVE certificate for t1 with the policy attached;
      writes DIR/testauth.json (a TestAuthorization body) and prints the certificate ARN
  fleet_setup.py devices --conn CONN --out DIR --count N [--prefix d] [--workers 4]
      N devices PREFIX-0..N-1: thing, CreateKeysAndCertificate (ACTIVE), the policy attached to the
      certificate, the thing attached to it; writes DIR/PREFIX-i.crt and .key, and DIR/ca.pem

Every call must succeed, or the script exits non-zero naming the call.
"""
import argparse
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config

POLICY = "bench-device-policy"
THING = "${iot:Connection.Thing.ThingName}"


def policy_doc(region, account):
    """The policy every bench device holds: 6 statements, 5 with thing-name variables, one Deny.
    MQTT topic things/<thing>/... is the device's own; broadcast/<thing> is how devices reach each other."""
    arn = f"arn:aws:iot:{region}:{account}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/{THING}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": [f"{arn}:topic/things/{THING}/*", f"{arn}:topic/$aws/things/{THING}/*"]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": [f"{arn}:topicfilter/things/{THING}/*", f"{arn}:topicfilter/$aws/things/{THING}/*",
                          f"{arn}:topicfilter/broadcast/*"]},
            {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"{arn}:topic/broadcast/{THING}"},
            {"Effect": "Allow", "Action": "iot:Receive", "Resource": f"{arn}:topic/broadcast/*"},
            {"Effect": "Deny", "Action": ["iot:Publish", "iot:Receive", "iot:Subscribe"],
             "Resource": [f"{arn}:topic/things/*/secret", f"{arn}:topicfilter/things/*/secret"]},
        ],
    }


def client(conn_path):
    with open(conn_path) as f:
        conn = json.load(f)
    ep = conn["apiEndpoint"]
    if not ep.startswith("http://127.0.0.1:"):
        sys.exit(f"fleet_setup: {conn_path}: apiEndpoint must be http://127.0.0.1:PORT")
    cfg = botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=16)
    iot = boto3.client("iot", endpoint_url=ep, region_name=conn["region"], aws_access_key_id=conn["accessKeyId"],
                       aws_secret_access_key=conn["secretAccessKey"], config=cfg)
    return iot, conn


def ensure_policy(iot, conn):
    try:
        iot.create_policy(policyName=POLICY,
                          policyDocument=json.dumps(policy_doc(conn["region"], conn["accountId"])))
    except iot.exceptions.ResourceAlreadyExistsException:
        pass


def make_device(iot, name, out_dir=None):
    iot.create_thing(thingName=name)
    kc = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName=POLICY, target=kc["certificateArn"])
    iot.attach_thing_principal(thingName=name, principal=kc["certificateArn"])
    if out_dir:
        key_path = os.path.join(out_dir, name + ".key")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(kc["keyPair"]["PrivateKey"])
        with open(os.path.join(out_dir, name + ".crt"), "w") as f:
            f.write(kc["certificatePem"])
    return kc["certificateArn"]


def cmd_authz(a):
    iot, conn = client(a.conn)
    ensure_policy(iot, conn)
    arn = make_device(iot, "t1")
    body = {"principal": arn, "authInfos": [{
        "actionType": "PUBLISH",
        "resources": [f"arn:aws:iot:{conn['region']}:{conn['accountId']}:topic/things/t1/x"]}]}
    # check once that the answer is the expected one before timing it
    r = iot.test_authorization(principal=arn, clientId="t1", authInfos=body["authInfos"])
    decision = r["authResults"][0]["authDecision"]
    if decision != "ALLOWED":
        sys.exit(f"fleet_setup: TestAuthorization answered {decision}, expected ALLOWED")
    with open(os.path.join(a.out, "testauth.json"), "w") as f:
        json.dump(body, f, separators=(",", ":"))
    print(arn)


def cmd_devices(a):
    iot, conn = client(a.conn)
    os.makedirs(a.out, exist_ok=True)
    ensure_policy(iot, conn)
    with open(conn["rootCaPath"]) as src, open(os.path.join(a.out, "ca.pem"), "w") as dst:
        dst.write(src.read())
    errors = []
    lock = threading.Lock()

    def one(i):
        name = f"{a.prefix}-{i}"
        try:
            make_device(iot, name, a.out)
        except Exception as e:  # report, keep going, fail at the end
            with lock:
                errors.append(f"{name}: {e}")

    with ThreadPoolExecutor(max_workers=a.workers) as ex:
        list(ex.map(one, range(a.count)))
    if errors:
        for e in errors[:5]:
            print(f"fleet_setup: {e}", file=sys.stderr)
        sys.exit(f"fleet_setup: {len(errors)} of {a.count} devices failed")
    print(a.count)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pd = sub.add_parser("policy-doc")
    pd.add_argument("region")
    pd.add_argument("account")
    pa = sub.add_parser("authz")
    pa.add_argument("--conn", required=True)
    pa.add_argument("--out", required=True)
    pv = sub.add_parser("devices")
    pv.add_argument("--conn", required=True)
    pv.add_argument("--out", required=True)
    pv.add_argument("--count", type=int, required=True)
    pv.add_argument("--prefix", default="d")
    pv.add_argument("--workers", type=int, default=4)
    a = p.parse_args()
    if a.cmd == "policy-doc":
        print(json.dumps(policy_doc(a.region, a.account), indent=2))
    elif a.cmd == "authz":
        cmd_authz(a)
    else:
        cmd_devices(a)


if __name__ == "__main__":
    main()
