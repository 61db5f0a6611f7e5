"""What survives a restart (same data directory), and the settings that shape
every ARN and the SigV4 scope (region, account id)."""
import json
import os
import shutil
import unittest

import botocore.exceptions

from harness import Fleetd, FleetdTestCase


class RestartTest(unittest.TestCase):

    def test_restart_keeps_everything(self):
        a = Fleetd(keep_data=True)
        data_dir = a.data_dir
        try:
            c = a.client()
            t = c.create_thing(thingName="p-thing", attributePayload={"attributes": {"k": "v"}})
            c.update_thing(thingName="p-thing", attributePayload={"attributes": {"k2": "v2"}, "merge": True})
            c.create_thing_type(thingTypeName="p-type", tags=[{"Key": "a", "Value": "b"}])
            c.deprecate_thing_type(thingTypeName="p-type")
            c.create_thing_group(thingGroupName="p-root")
            c.create_thing_group(thingGroupName="p-child", parentGroupName="p-root")
            c.add_thing_to_thing_group(thingGroupName="p-child", thingName="p-thing")
            extra = a.keys("create").json
            gone = a.keys("create").json
            a.keys("revoke", gone["accessKeyId"])
            admin = a.admin
            a.stop()

            b = Fleetd(data_dir=data_dir)
            try:
                # the admin key is kept (credentials and connection.json rewritten)
                self.assertEqual(b.admin, admin)
                with open(b.credentials_file) as f:
                    creds = f.read()
                self.assertIn("[fleetd]", creds)
                self.assertIn(admin[0], creds)
                c = b.client()
                d = c.describe_thing(thingName="p-thing")
                self.assertEqual(d["thingId"], t["thingId"])
                self.assertEqual(d["version"], 2)
                self.assertEqual(d["attributes"], {"k": "v", "k2": "v2"})
                self.assertTrue(c.describe_thing_type(thingTypeName="p-type")["thingTypeMetadata"]["deprecated"])
                self.assertEqual(c.list_tags_for_resource(resourceArn=b.arn("thingtype", "p-type"))["tags"],
                                 [{"Key": "a", "Value": "b"}])
                g = c.describe_thing_group(thingGroupName="p-child")
                self.assertEqual(g["thingGroupMetadata"]["parentGroupName"], "p-root")
                self.assertEqual(c.list_things_in_thing_group(thingGroupName="p-root", recursive=True)["things"],
                                 ["p-thing"])
                b.client(key=extra).describe_thing(thingName="p-thing")
                with self.assertRaises(botocore.exceptions.ClientError) as cm:
                    b.client(key=gone).describe_thing(thingName="p-thing")
                self.assertEqual(cm.exception.response["Error"]["Code"], "UnrecognizedClientException")
            finally:
                b.stop()
        finally:
            if not a.stopped:
                a.kill()
            if not os.environ.get("FLEETD_KEEP_DATA"):
                shutil.rmtree(data_dir, ignore_errors=True)


class RegionAccountTest(FleetdTestCase):
    server_env = {"FLEETD_REGION": "eu-central-1", "FLEETD_ACCOUNT_ID": "000000000042"}

    def test_connection_json(self):
        with open(os.path.join(self.fleetd.data_dir, "connection.json")) as f:
            conn = json.load(f)
        self.assertEqual(conn["region"], "eu-central-1")
        self.assertEqual(conn["accountId"], "000000000042")
        self.assertTrue(conn["apiEndpoint"].startswith("http://127.0.0.1:"))
        self.assertTrue(os.path.isfile(conn["credentialsFile"]))

    def test_arns(self):
        r = self.iot.create_thing(thingName="ra-t")
        self.assertEqual(r["thingArn"], "arn:aws:iot:eu-central-1:000000000042:thing/ra-t")
        r = self.iot.create_thing_group(thingGroupName="ra-g")
        self.assertEqual(r["thingGroupArn"], "arn:aws:iot:eu-central-1:000000000042:thinggroup/ra-g")
        r = self.iot.create_thing_type(thingTypeName="ra-tt")
        self.assertEqual(r["thingTypeArn"], "arn:aws:iot:eu-central-1:000000000042:thingtype/ra-tt")
        self.iot.add_thing_to_thing_group(thingGroupArn="arn:aws:iot:eu-central-1:000000000042:thinggroup/ra-g",
                                          thingArn="arn:aws:iot:eu-central-1:000000000042:thing/ra-t")
        self.assertEqual(self.iot.list_things_in_thing_group(thingGroupName="ra-g")["things"], ["ra-t"])
        # an ARN of another account or region names nothing here
        self.assertAwsError("ResourceNotFoundException", self.iot.list_tags_for_resource,
                            resourceArn="arn:aws:iot:us-east-1:123456789012:thinggroup/ra-g")

    def test_scope_region(self):
        r = self.fleetd.raw("GET", "/things/ra-none")
        self.assertEqual(r.status, 404, r)
        r = self.fleetd.raw("GET", "/things/ra-none", region="us-east-1")
        self.assertRawError(r, 403, "InvalidSignatureException")


if __name__ == "__main__":
    unittest.main()
