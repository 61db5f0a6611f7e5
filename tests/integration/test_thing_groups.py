"""Static thing groups: hierarchy, versions, membership and the listings,
with AWS semantics, through boto3."""
import datetime
import time
import unittest

from harness import FleetdTestCase

import botocore.exceptions


def all_pages(fn, key, **kw):
    out, token = [], None
    while True:
        if token:
            kw["nextToken"] = token
        r = fn(**kw)
        out.extend(r.get(key, []))
        token = r.get("nextToken")
        if not token:
            return out


class ThingGroupsTest(FleetdTestCase):

    def groups_of(self, thing):
        return sorted(g["groupName"] for g in all_pages(self.iot.list_thing_groups_for_thing, "thingGroups",
                                                         thingName=thing))

    def things_in(self, group, **kw):
        return sorted(all_pages(self.iot.list_things_in_thing_group, "things", thingGroupName=group, **kw))

    def test_create_describe(self):
        props = {"thingGroupDescription": "All of building A",
                 "attributePayload": {"attributes": {"site": "A", "floor-count": "3"}}}
        r = self.iot.create_thing_group(thingGroupName="cg-root", thingGroupProperties=props)
        self.assertEqual(r["thingGroupName"], "cg-root")
        self.assertEqual(r["thingGroupArn"], "arn:aws:iot:us-east-1:123456789012:thinggroup/cg-root")
        self.assertTrue(r["thingGroupId"])
        d = self.iot.describe_thing_group(thingGroupName="cg-root")
        self.assertEqual(d["thingGroupName"], "cg-root")
        self.assertEqual(d["thingGroupId"], r["thingGroupId"])
        self.assertEqual(d["thingGroupArn"], r["thingGroupArn"])
        self.assertEqual(d["version"], 1)
        self.assertEqual(d["thingGroupProperties"]["thingGroupDescription"], "All of building A")
        self.assertEqual(d["thingGroupProperties"]["attributePayload"]["attributes"], {"site": "A", "floor-count": "3"})
        md = d["thingGroupMetadata"]
        self.assertNotIn("parentGroupName", md)
        self.assertEqual(md.get("rootToParentThingGroups", []), [])
        self.assertIsInstance(md["creationDate"], datetime.datetime)
        self.assertLess(abs(time.time() - md["creationDate"].timestamp()), 600)
        raw = self.fleetd.raw("GET", "/thing-groups/cg-root")
        self.assertIsInstance(raw.json["thingGroupMetadata"]["creationDate"], (int, float), raw)
        # identical re-create returns the same group; a different one conflicts
        again = self.iot.create_thing_group(thingGroupName="cg-root", thingGroupProperties=props)
        self.assertEqual(again["thingGroupId"], r["thingGroupId"])
        self.assertAwsError("ResourceAlreadyExistsException", self.iot.create_thing_group, thingGroupName="cg-root",
                            thingGroupProperties={"thingGroupDescription": "other"}, status=409)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing_group, thingGroupName="cg-nope",
                            status=404)

    def test_hierarchy_depth_and_ancestry(self):
        names = ["dp-%d" % i for i in range(1, 8)]
        parent = None
        for n in names:
            kw = {"thingGroupName": n}
            if parent:
                kw["parentGroupName"] = parent
            self.iot.create_thing_group(**kw)
            parent = n
        # the 8th level is refused
        self.assertAwsError("InvalidRequestException", self.iot.create_thing_group, thingGroupName="dp-8",
                            parentGroupName="dp-7", status=400)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing_group, thingGroupName="dp-8")
        d = self.iot.describe_thing_group(thingGroupName="dp-3")
        md = d["thingGroupMetadata"]
        self.assertEqual(md["parentGroupName"], "dp-2")
        self.assertEqual(md["rootToParentThingGroups"],
                         [{"groupName": "dp-1", "groupArn": self.fleetd.arn("thinggroup", "dp-1")},
                          {"groupName": "dp-2", "groupArn": self.fleetd.arn("thinggroup", "dp-2")}])
        d7 = self.iot.describe_thing_group(thingGroupName="dp-7")["thingGroupMetadata"]
        self.assertEqual([g["groupName"] for g in d7["rootToParentThingGroups"]], names[:6])
        # a missing parent is refused (AWS answers 4xx; no group is created)
        try:
            self.iot.create_thing_group(thingGroupName="orphan", parentGroupName="no-such-parent")
            self.fail("CreateThingGroup with a missing parent succeeded")
        except botocore.exceptions.ClientError as e:
            self.assertIn(e.response["Error"]["Code"], ("ResourceNotFoundException", "InvalidRequestException"), e)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing_group, thingGroupName="orphan")
        # re-creating a child under a different parent is a conflict, not a move
        self.iot.create_thing_group(thingGroupName="dp-other")
        self.assertAwsError("ResourceAlreadyExistsException", self.iot.create_thing_group, thingGroupName="dp-3",
                            parentGroupName="dp-other")
        self.iot.create_thing_group(thingGroupName="dp-3", parentGroupName="dp-2")

    def test_update_expected_version(self):
        self.iot.create_thing_group(thingGroupName="ug-1", thingGroupProperties={"thingGroupDescription": "v1",
                                    "attributePayload": {"attributes": {"a": "1"}}})
        r = self.iot.update_thing_group(thingGroupName="ug-1", thingGroupProperties={
            "thingGroupDescription": "v2", "attributePayload": {"attributes": {"b": "2"}, "merge": True}})
        self.assertEqual(r["version"], 2)
        d = self.iot.describe_thing_group(thingGroupName="ug-1")
        self.assertEqual(d["version"], 2)
        self.assertEqual(d["thingGroupProperties"]["thingGroupDescription"], "v2")
        self.assertEqual(d["thingGroupProperties"]["attributePayload"]["attributes"], {"a": "1", "b": "2"})
        self.assertAwsError("VersionConflictException", self.iot.update_thing_group, thingGroupName="ug-1",
                            expectedVersion=1, thingGroupProperties={"thingGroupDescription": "v3"}, status=409)
        self.assertEqual(self.iot.describe_thing_group(thingGroupName="ug-1")["version"], 2)
        r = self.iot.update_thing_group(thingGroupName="ug-1", expectedVersion=2,
                                        thingGroupProperties={"thingGroupDescription": "v3"})
        self.assertEqual(r["version"], 3)
        self.assertEqual(self.iot.describe_thing_group(thingGroupName="ug-1")["thingGroupProperties"]
                         .get("thingGroupDescription"), "v3")
        # without merge the attributes are replaced; with merge an empty value removes one
        r = self.iot.update_thing_group(thingGroupName="ug-1", thingGroupProperties={
            "thingGroupDescription": "v3", "attributePayload": {"attributes": {"a": "1", "b": "2"}}})
        self.assertEqual(r["version"], 4)
        r = self.iot.update_thing_group(thingGroupName="ug-1", thingGroupProperties={
            "thingGroupDescription": "v3", "attributePayload": {"attributes": {"a": ""}, "merge": True}})
        self.assertEqual(r["version"], 5)
        self.assertEqual(self.iot.describe_thing_group(thingGroupName="ug-1")["thingGroupProperties"]
                         ["attributePayload"]["attributes"], {"b": "2"})
        self.assertAwsError("ResourceNotFoundException", self.iot.update_thing_group, thingGroupName="ug-nope",
                            thingGroupProperties={"thingGroupDescription": "x"}, status=404)

    def test_delete(self):
        self.iot.create_thing_group(thingGroupName="dg-p")
        self.iot.create_thing_group(thingGroupName="dg-c", parentGroupName="dg-p")
        self.assertAwsError("InvalidRequestException", self.iot.delete_thing_group, thingGroupName="dg-p",
                            status=400)
        self.iot.describe_thing_group(thingGroupName="dg-p")
        self.iot.create_thing(thingName="dg-member")
        self.iot.add_thing_to_thing_group(thingGroupName="dg-c", thingName="dg-member")
        self.iot.update_thing_group(thingGroupName="dg-c", thingGroupProperties={"thingGroupDescription": "x"})
        self.assertAwsError("VersionConflictException", self.iot.delete_thing_group, thingGroupName="dg-c",
                            expectedVersion=1, status=409)
        # a group with things (but no child groups) may be deleted; the things stay
        self.iot.delete_thing_group(thingGroupName="dg-c", expectedVersion=2)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing_group, thingGroupName="dg-c")
        self.assertEqual(self.groups_of("dg-member"), [])
        self.iot.describe_thing(thingName="dg-member")
        self.iot.delete_thing_group(thingGroupName="dg-p")
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing_group, thingGroupName="dg-p")
        # deleting a group that does not exist succeeds, as on AWS
        self.iot.delete_thing_group(thingGroupName="dg-p")

    def test_list_thing_groups(self):
        # lg-a > lg-a1 > lg-a1x ; lg-a > lg-a2 ; lg-b
        self.iot.create_thing_group(thingGroupName="lg-a")
        self.iot.create_thing_group(thingGroupName="lg-a1", parentGroupName="lg-a")
        self.iot.create_thing_group(thingGroupName="lg-a1x", parentGroupName="lg-a1")
        self.iot.create_thing_group(thingGroupName="lg-a2", parentGroupName="lg-a")
        self.iot.create_thing_group(thingGroupName="lg-b")
        every = all_pages(self.iot.list_thing_groups, "thingGroups")
        names = [g["groupName"] for g in every]
        for n in ("lg-a", "lg-a1", "lg-a1x", "lg-a2", "lg-b"):
            self.assertEqual(names.count(n), 1, names)
        for g in every:
            self.assertEqual(g["groupArn"], self.fleetd.arn("thinggroup", g["groupName"]))

        def ls(**kw):
            return sorted(g["groupName"] for g in all_pages(self.iot.list_thing_groups, "thingGroups", **kw))

        self.assertEqual(ls(parentGroup="lg-a", recursive=False), ["lg-a1", "lg-a2"])
        self.assertEqual(ls(parentGroup="lg-a", recursive=True), ["lg-a1", "lg-a1x", "lg-a2"])
        self.assertEqual(ls(parentGroup="lg-a1x", recursive=True), [])
        self.assertEqual(ls(namePrefixFilter="lg-"), ["lg-a", "lg-a1", "lg-a1x", "lg-a2", "lg-b"])
        self.assertEqual(ls(namePrefixFilter="lg-a1"), ["lg-a1", "lg-a1x"])
        self.assertEqual(ls(namePrefixFilter="lg-", recursive=False), ["lg-a", "lg-b"])
        self.assertEqual(ls(parentGroup="lg-a", namePrefixFilter="lg-a2", recursive=True), ["lg-a2"])
        self.assertEqual(ls(namePrefixFilter="lg-zzz"), [])
        # the prefix is literal and case-sensitive
        self.iot.create_thing_group(thingGroupName="pf_a")
        self.iot.create_thing_group(thingGroupName="pfxa")
        self.iot.create_thing_group(thingGroupName="PF_b")
        self.assertEqual(ls(namePrefixFilter="pf_"), ["pf_a"])
        self.assertEqual(ls(namePrefixFilter="PF"), ["PF_b"])
        paged = ls(namePrefixFilter="lg-", maxResults=2)
        self.assertEqual(paged, ["lg-a", "lg-a1", "lg-a1x", "lg-a2", "lg-b"])
        self.assertAwsError("ResourceNotFoundException", self.iot.list_thing_groups, parentGroup="lg-nope")
        for bad in (0, 251):
            self.assertAwsError("InvalidRequestException", self.iot_nv.list_thing_groups, maxResults=bad)

    def test_add_remove_by_name_and_arn(self):
        self.iot.create_thing_group(thingGroupName="ar-g1")
        self.iot.create_thing_group(thingGroupName="ar-g2")
        self.iot.create_thing(thingName="ar-t")
        self.iot.add_thing_to_thing_group(thingGroupName="ar-g1", thingName="ar-t", overrideDynamicGroups=False)
        self.iot.add_thing_to_thing_group(thingGroupArn=self.fleetd.arn("thinggroup", "ar-g2"),
                                          thingArn=self.fleetd.arn("thing", "ar-t"))
        self.assertEqual(self.groups_of("ar-t"), ["ar-g1", "ar-g2"])
        got = all_pages(self.iot.list_thing_groups_for_thing, "thingGroups", thingName="ar-t")
        self.assertEqual(sorted(g["groupArn"] for g in got),
                         [self.fleetd.arn("thinggroup", "ar-g1"), self.fleetd.arn("thinggroup", "ar-g2")])
        # adding again is harmless
        self.iot.add_thing_to_thing_group(thingGroupName="ar-g1", thingName="ar-t")
        self.assertEqual(self.things_in("ar-g1"), ["ar-t"])
        self.iot.remove_thing_from_thing_group(thingGroupArn=self.fleetd.arn("thinggroup", "ar-g1"),
                                               thingName="ar-t")
        self.assertEqual(self.groups_of("ar-t"), ["ar-g2"])
        self.iot.remove_thing_from_thing_group(thingGroupName="ar-g2", thingArn=self.fleetd.arn("thing", "ar-t"))
        self.assertEqual(self.groups_of("ar-t"), [])
        self.assertEqual(self.things_in("ar-g1"), [])
        # unknown thing / group
        self.assertAwsError("ResourceNotFoundException", self.iot.add_thing_to_thing_group, thingGroupName="ar-g1",
                            thingName="ar-nope", status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.add_thing_to_thing_group,
                            thingGroupName="ar-nope", thingName="ar-t", status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.add_thing_to_thing_group,
                            thingGroupArn=self.fleetd.arn("thinggroup", "ar-nope"), thingName="ar-t")
        self.assertAwsError("ResourceNotFoundException", self.iot.remove_thing_from_thing_group,
                            thingGroupName="ar-nope", thingName="ar-t")
        # neither name nor ARN of the group / the thing
        self.assertAwsError("InvalidRequestException", self.iot.add_thing_to_thing_group, thingName="ar-t",
                            status=400)
        self.assertAwsError("InvalidRequestException", self.iot.add_thing_to_thing_group, thingGroupName="ar-g1",
                            status=400)

    def test_ten_groups_per_thing(self):
        for i in range(11):
            self.iot.create_thing_group(thingGroupName="ten-g%02d" % i)
        self.iot.create_thing(thingName="ten-t")
        for i in range(10):
            self.iot.add_thing_to_thing_group(thingGroupName="ten-g%02d" % i, thingName="ten-t")
        self.assertAwsError("InvalidRequestException", self.iot.add_thing_to_thing_group,
                            thingGroupName="ten-g10", thingName="ten-t", status=400)
        self.assertEqual(len(self.groups_of("ten-t")), 10)
        self.assertNotIn("ten-g10", self.groups_of("ten-t"))
        self.assertEqual(self.things_in("ten-g10"), [])
        # re-adding to a group it is already in stays within the limit
        self.iot.add_thing_to_thing_group(thingGroupName="ten-g03", thingName="ten-t")
        self.assertAwsError("InvalidRequestException", self.iot.update_thing_groups_for_thing, thingName="ten-t",
                            thingGroupsToAdd=["ten-g10"])
        # swapping one out in the same call is fine
        self.iot.update_thing_groups_for_thing(thingName="ten-t", thingGroupsToAdd=["ten-g10"],
                                               thingGroupsToRemove=["ten-g00"])
        g = self.groups_of("ten-t")
        self.assertEqual(len(g), 10)
        self.assertIn("ten-g10", g)
        self.assertNotIn("ten-g00", g)

    def test_one_group_per_hierarchy(self):
        # developer guide: "You cannot add a thing to more than one group in
        # the same hierarchy"
        self.iot.create_thing_group(thingGroupName="sh-root")
        self.iot.create_thing_group(thingGroupName="sh-a1", parentGroupName="sh-root")
        self.iot.create_thing_group(thingGroupName="sh-a2", parentGroupName="sh-root")
        self.iot.create_thing_group(thingGroupName="sh-other")
        self.iot.create_thing(thingName="sh-t")
        self.iot.add_thing_to_thing_group(thingGroupName="sh-a1", thingName="sh-t")
        for g in ("sh-a2", "sh-root"):
            with self.subTest(group=g):
                self.assertAwsError("InvalidRequestException", self.iot.add_thing_to_thing_group,
                                    thingGroupName=g, thingName="sh-t", status=400)
        self.iot.add_thing_to_thing_group(thingGroupName="sh-other", thingName="sh-t")
        self.assertEqual(self.things_in("sh-a2"), [])
        # moving inside the hierarchy in one call: the removal happens first
        self.iot.update_thing_groups_for_thing(thingName="sh-t", thingGroupsToAdd=["sh-a2"],
                                               thingGroupsToRemove=["sh-a1"])
        self.assertEqual(self.things_in("sh-a2"), ["sh-t"])
        self.assertEqual(self.things_in("sh-a1"), [])
        self.assertEqual(self.things_in("sh-root", recursive=True), ["sh-t"])

    def test_update_thing_groups_for_thing(self):
        for n in ("ut-a", "ut-b", "ut-c"):
            self.iot.create_thing_group(thingGroupName=n)
        self.iot.create_thing(thingName="ut-t")
        self.iot.add_thing_to_thing_group(thingGroupName="ut-c", thingName="ut-t")
        self.iot.update_thing_groups_for_thing(thingName="ut-t", thingGroupsToAdd=["ut-a", "ut-b"],
                                               thingGroupsToRemove=["ut-c"])
        self.assertEqual(self.groups_of("ut-t"), ["ut-a", "ut-b"])
        self.assertEqual(self.things_in("ut-c"), [])
        self.iot.update_thing_groups_for_thing(thingName="ut-t", thingGroupsToRemove=["ut-a"])
        self.assertEqual(self.groups_of("ut-t"), ["ut-b"])
        self.assertAwsError("ResourceNotFoundException", self.iot.update_thing_groups_for_thing, thingName="ut-nope",
                            thingGroupsToAdd=["ut-a"])
        self.assertAwsError("ResourceNotFoundException", self.iot.update_thing_groups_for_thing, thingName="ut-t",
                            thingGroupsToAdd=["ut-nope"])
        # a failed call changes nothing
        self.assertEqual(self.groups_of("ut-t"), ["ut-b"])

    def test_list_things_in_group_recursive(self):
        # rt-1 > rt-2 > rt-3, one thing at each level, two at the leaf
        self.iot.create_thing_group(thingGroupName="rt-1")
        self.iot.create_thing_group(thingGroupName="rt-2", parentGroupName="rt-1")
        self.iot.create_thing_group(thingGroupName="rt-3", parentGroupName="rt-2")
        self.iot.create_thing_group(thingGroupName="rt-side", parentGroupName="rt-1")
        for t, g in (("rt-t1", "rt-1"), ("rt-t2", "rt-2"), ("rt-t3", "rt-3"), ("rt-t3b", "rt-3"),
                     ("rt-ts", "rt-side")):
            self.iot.create_thing(thingName=t)
            self.iot.add_thing_to_thing_group(thingGroupName=g, thingName=t)
        self.iot.create_thing(thingName="rt-outside")
        self.assertEqual(self.things_in("rt-1"), ["rt-t1"])
        self.assertEqual(self.things_in("rt-1", recursive=False), ["rt-t1"])
        self.assertEqual(self.things_in("rt-1", recursive=True), ["rt-t1", "rt-t2", "rt-t3", "rt-t3b", "rt-ts"])
        self.assertEqual(self.things_in("rt-2", recursive=True), ["rt-t2", "rt-t3", "rt-t3b"])
        self.assertEqual(self.things_in("rt-3", recursive=True), ["rt-t3", "rt-t3b"])
        self.assertEqual(self.things_in("rt-1", recursive=True, maxResults=2),
                         ["rt-t1", "rt-t2", "rt-t3", "rt-t3b", "rt-ts"])
        # AWS developer guide: "returns a list of the thing groups this thing
        # belongs to, including any parent groups"
        self.assertEqual(self.groups_of("rt-t3"), ["rt-1", "rt-2", "rt-3"])
        self.assertEqual(self.groups_of("rt-t1"), ["rt-1"])
        self.assertAwsError("ResourceNotFoundException", self.iot.list_things_in_thing_group,
                            thingGroupName="rt-nope", status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.list_thing_groups_for_thing, thingName="rt-nope",
                            status=404)
        # a deleted thing leaves its groups
        self.iot.delete_thing(thingName="rt-t3b")
        self.assertEqual(self.things_in("rt-1", recursive=True), ["rt-t1", "rt-t2", "rt-t3", "rt-ts"])
        for bad in (0, 251):
            self.assertAwsError("InvalidRequestException", self.iot_nv.list_things_in_thing_group,
                                thingGroupName="rt-1", maxResults=bad)

    def test_bad_names_and_properties(self):
        for bad in ("bad name", "g" * 129, "a/b"):
            with self.subTest(name=bad):
                self.assertAwsError("InvalidRequestException", self.iot_nv.create_thing_group, thingGroupName=bad,
                                    status=400)
        self.assertAwsError("InvalidRequestException", self.iot_nv.create_thing_group, thingGroupName="bg-attr",
                            thingGroupProperties={"attributePayload": {"attributes": {"k": "sp ace"}}})
        self.assertAwsError("InvalidRequestException", self.iot_nv.create_thing_group, thingGroupName="bg-desc",
                            thingGroupProperties={"thingGroupDescription": "d" * 2029})
        self.assertAwsError("InvalidRequestException", self.iot_nv.create_thing_group, thingGroupName="bg-parent",
                            parentGroupName="bad parent")


if __name__ == "__main__":
    unittest.main()
