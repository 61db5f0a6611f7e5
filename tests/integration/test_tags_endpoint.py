"""TagResource / UntagResource / ListTagsForResource on thing groups and thing
types, and DescribeEndpoint."""
import unittest

from harness import FleetdTestCase


def tags_of(iot, arn):
    out, token = [], None
    while True:
        kw = {"resourceArn": arn}
        if token:
            kw["nextToken"] = token
        r = iot.list_tags_for_resource(**kw)
        out.extend(r.get("tags", []))
        token = r.get("nextToken")
        if not token:
            return sorted((t["Key"], t.get("Value", "")) for t in out)


class TagsTest(FleetdTestCase):

    def _roundtrip(self, arn, initial):
        self.assertEqual(tags_of(self.iot, arn), sorted(initial))
        self.iot.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "fw"}])
        want = dict(initial)
        want.update({"env": "prod", "team": "fw"})
        self.assertEqual(tags_of(self.iot, arn), sorted(want.items()))
        # tagging an existing key overwrites its value
        self.iot.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "staging"}])
        want["env"] = "staging"
        self.assertEqual(tags_of(self.iot, arn), sorted(want.items()))
        self.iot.untag_resource(resourceArn=arn, tagKeys=["env", "not-there"])
        del want["env"]
        self.assertEqual(tags_of(self.iot, arn), sorted(want.items()))
        self.iot.untag_resource(resourceArn=arn, tagKeys=list(want))
        self.assertEqual(tags_of(self.iot, arn), [])
        # keys and values with the characters the model allows; empty value
        self.iot.tag_resource(resourceArn=arn, tags=[{"Key": "a b_.:/=+-@", "Value": ""},
                                                     {"Key": "k", "Value": "v" * 256}])
        self.assertEqual(tags_of(self.iot, arn), [("a b_.:/=+-@", ""), ("k", "v" * 256)])

    def test_group_tags(self):
        r = self.iot.create_thing_group(thingGroupName="tag-g", tags=[{"Key": "owner", "Value": "ops"}])
        self.assertEqual(r["thingGroupArn"], self.fleetd.arn("thinggroup", "tag-g"))
        self._roundtrip(r["thingGroupArn"], [("owner", "ops")])

    def test_type_tags(self):
        r = self.iot.create_thing_type(thingTypeName="tag-t", tags=[{"Key": "owner", "Value": "hw"}])
        self.assertEqual(r["thingTypeArn"], self.fleetd.arn("thingtype", "tag-t"))
        self._roundtrip(r["thingTypeArn"], [("owner", "hw")])

    def test_tags_follow_the_resource(self):
        r = self.iot.create_thing_group(thingGroupName="tag-gone", tags=[{"Key": "x", "Value": "1"}])
        self.iot.delete_thing_group(thingGroupName="tag-gone")
        self.iot.create_thing_group(thingGroupName="tag-gone")
        self.assertEqual(tags_of(self.iot, r["thingGroupArn"]), [])

    def test_errors(self):
        missing = self.fleetd.arn("thinggroup", "tag-missing")
        self.assertAwsError("ResourceNotFoundException", self.iot.tag_resource, resourceArn=missing,
                            tags=[{"Key": "k", "Value": "v"}], status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.list_tags_for_resource, resourceArn=missing)
        self.assertAwsError("ResourceNotFoundException", self.iot.untag_resource, resourceArn=missing,
                            tagKeys=["k"])
        self.assertAwsError("ResourceNotFoundException", self.iot.list_tags_for_resource,
                            resourceArn=self.fleetd.arn("thingtype", "tag-missing"))
        self.assertAwsError("InvalidRequestException", self.iot.list_tags_for_resource, resourceArn="not-an-arn",
                            status=400)
        self.iot.create_thing_group(thingGroupName="tag-v")
        arn = self.fleetd.arn("thinggroup", "tag-v")
        self.assertAwsError("InvalidRequestException", self.iot_nv.tag_resource, resourceArn=arn,
                            tags=[{"Key": "", "Value": "v"}], status=400)
        self.assertAwsError("InvalidRequestException", self.iot_nv.tag_resource, resourceArn=arn,
                            tags=[{"Key": "k" * 129, "Value": "v"}])
        self.assertAwsError("InvalidRequestException", self.iot_nv.tag_resource, resourceArn=arn,
                            tags=[{"Key": "k", "Value": "v" * 257}])
        self.assertEqual(tags_of(self.iot, arn), [])


class EndpointTest(FleetdTestCase):

    def test_describe_endpoint(self):
        seen = {}
        for et in ("iot:Data-ATS", "iot:Data", "iot:CredentialProvider", "iot:Jobs"):
            with self.subTest(endpointType=et):
                a = self.iot.describe_endpoint(endpointType=et)["endpointAddress"]
                self.assertIsInstance(a, str)
                self.assertTrue(a)
                self.assertNotIn("://", a, "endpointAddress is a host name, not a URL")
                self.assertEqual(self.iot.describe_endpoint(endpointType=et)["endpointAddress"], a,
                                 "DescribeEndpoint must be stable")
                seen[et] = a
        self.assertTrue(self.iot.describe_endpoint()["endpointAddress"])
        self.assertAwsError("InvalidRequestException", self.iot.describe_endpoint, endpointType="iot:Bogus",
                            status=400)


if __name__ == "__main__":
    unittest.main()
