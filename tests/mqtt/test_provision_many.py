"""200 devices provisioning at once with the same claim certificate
(distinct client ids): create-from-csr + provision with distinct serials,
all requests fired together once every device is connected and subscribed
(tests/sdk/provision_many.js, mqtt.js, one process). Then the registry: 200
distinct things, each with exactly one certificate attached, every one
ACTIVE, no duplicate, and no PENDING_ACTIVATION certificate left behind."""
import json
import os
import subprocess
import time
import unittest

from fleetprov import claim_files, make_claim, setup_sensor_template
from mqtt_harness import NODE, SDK_DIR, StackTestCase

HAVE_MQTTJS = os.path.isdir(os.path.join(SDK_DIR, "node_modules", "mqtt"))
N = 200


@unittest.skipUnless(HAVE_MQTTJS, "tests/sdk/node_modules missing: run `make sdk-deps` (npm ci in tests/sdk)")
class ProvisionManyTest(StackTestCase):

    def test_200_at_once(self):
        tpl = setup_sensor_template(self.stack, "SensorMass")
        claim_dir, claim = make_claim(self.stack, tpl)
        cert, key, ca = claim_files(claim_dir)
        args = {"host": self.stack.mqtt_host, "port": self.stack.mqtt_port, "ca": ca, "claimCert": cert,
                "claimKey": key, "templateName": tpl, "count": N, "serialPrefix": "mass-",
                "clientPrefix": "factory-", "hardwareRevision": "r1", "timeoutMs": 45000}
        t0 = time.time()
        p = subprocess.run([NODE, os.path.join(SDK_DIR, "provision_many.js"), json.dumps(args)], capture_output=True,
                           timeout=90, cwd=SDK_DIR)
        wall = time.time() - t0
        lines = [ln for ln in p.stdout.decode().splitlines() if ln.startswith("{")]
        self.assertTrue(lines, "provision_many.js printed nothing (rc %d): %s" % (p.returncode, p.stderr[-2000:]))
        r = json.loads(lines[-1])
        errors = [d for d in r["devices"] if d.get("error")]
        self.assertEqual(errors[:5], [], "%d of %d failed; broker log tail:\n%s"
                         % (len(errors), N, self.stack.broker_log()[-2000:]))
        self.assertEqual(r["ready"], N)
        self.assertEqual(r["provisioned"], N)
        print("\n  %d devices: ready (connect + subscribe) in %.2f s, provisioned in %.2f s, %.1f s in all"
              % (N, r["readySeconds"], r["provisionSeconds"], wall))

        # what the devices were told
        names = [d["thingName"] for d in r["devices"]]
        cert_ids = [d["certificateId"] for d in r["devices"]]
        self.assertEqual(sorted(names), sorted("device-mass-%d" % i for i in range(N)))
        self.assertEqual(len(set(cert_ids)), N, "a certificate was handed out twice")
        self.assertNotIn(claim["certificateId"], cert_ids)
        for d in r["devices"]:
            self.assertEqual(d["thingName"], "device-mass-%d" % d["i"])

        # what the registry says
        things = []
        kw = {"thingTypeName": "EnvironmentalSensor", "maxResults": 250}
        while True:
            page = self.iot.list_things(**kw)
            things += [t["thingName"] for t in page["things"]]
            if not page.get("nextToken"):
                break
            kw["nextToken"] = page["nextToken"]
        self.assertEqual(sorted(things), sorted(names), "things of the type are exactly the ones provisioned")
        by_thing = {}
        for d in r["devices"]:
            principals = self.iot.list_thing_principals(thingName=d["thingName"])["principals"]
            self.assertEqual(len(principals), 1, "%s: %r" % (d["thingName"], principals))
            self.assertTrue(principals[0].endswith("cert/" + d["certificateId"]), (d, principals))
            by_thing[d["thingName"]] = principals[0]
        self.assertEqual(len(set(by_thing.values())), N, "one certificate attached to two things")
        statuses = {}
        kw = {"pageSize": 250}
        while True:
            page = self.iot.list_certificates(**kw)
            for c in page["certificates"]:
                statuses[c["certificateId"]] = c["status"]
            if not page.get("nextMarker"):
                break
            kw["marker"] = page["nextMarker"]
        for cid in cert_ids:
            self.assertEqual(statuses.get(cid), "ACTIVE", cid)
        pending = [c for c, s in statuses.items() if s == "PENDING_ACTIVATION"]
        self.assertEqual(pending, [], "certificates left PENDING_ACTIVATION")
        # this stack made only the claim and the 200: nothing orphaned
        self.assertEqual(set(statuses), set(cert_ids) | {claim["certificateId"]})
