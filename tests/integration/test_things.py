"""Things: CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThings,
with AWS semantics and every documented error, through boto3."""
import unittest

from harness import FleetdTestCase


def all_pages(fn, key, **kw):
    out, token = [], None
    for _ in range(10000):
        if token:
            kw["nextToken"] = token
        r = fn(**kw)
        out.extend(r.get(key, []))
        token = r.get("nextToken")
        if not token:
            return out
    raise AssertionError("pagination did not end")


class ThingsTest(FleetdTestCase):

    def test_create_describe(self):
        r = self.iot.create_thing(thingName="basic-1", attributePayload={"attributes": {"serial": "SN-1", "fw": "1.0"}})
        self.assertEqual(r["thingName"], "basic-1")
        self.assertEqual(r["thingArn"], self.fleetd.arn("thing", "basic-1"))
        self.assertTrue(r["thingId"])
        d = self.iot.describe_thing(thingName="basic-1")
        self.assertEqual(d["thingName"], "basic-1")
        self.assertEqual(d["thingId"], r["thingId"])
        self.assertEqual(d["thingArn"], "arn:aws:iot:us-east-1:123456789012:thing/basic-1")
        self.assertEqual(d["version"], 1)
        self.assertEqual(d["defaultClientId"], "basic-1")
        self.assertEqual(d["attributes"], {"serial": "SN-1", "fw": "1.0"})
        self.assertNotIn("thingTypeName", d)

    def test_create_minimal_and_colon_name(self):
        r = self.iot.create_thing(thingName="ns:dev_1-a")
        d = self.iot.describe_thing(thingName="ns:dev_1-a")
        self.assertEqual(d["thingId"], r["thingId"])
        self.assertEqual(d.get("attributes", {}), {})
        self.assertEqual(d["thingArn"], self.fleetd.arn("thing", "ns:dev_1-a"))

    def test_create_identical_is_idempotent(self):
        a = self.iot.create_thing(thingName="idem-1", attributePayload={"attributes": {"k": "v"}})
        b = self.iot.create_thing(thingName="idem-1", attributePayload={"attributes": {"k": "v"}})
        self.assertEqual(a["thingId"], b["thingId"])
        self.assertEqual(a["thingArn"], b["thingArn"])
        self.assertEqual(self.iot.describe_thing(thingName="idem-1")["version"], 1)

    def test_create_different_conflicts(self):
        a = self.iot.create_thing(thingName="conf-1", attributePayload={"attributes": {"k": "v"}})
        e = self.assertAwsError("ResourceAlreadyExistsException", self.iot.create_thing, thingName="conf-1",
                                attributePayload={"attributes": {"k": "other"}}, status=409)
        # AWS fills the modeled resourceId / resourceArn of the existing thing.
        self.assertEqual(e.response.get("resourceArn"), a["thingArn"], e.response)
        self.assertEqual(e.response.get("resourceId"), a["thingId"], e.response)
        self.assertAwsError("ResourceAlreadyExistsException", self.iot.create_thing, thingName="conf-1")
        # unchanged
        self.assertEqual(self.iot.describe_thing(thingName="conf-1")["attributes"], {"k": "v"})

    def test_create_with_missing_type(self):
        self.assertAwsError("ResourceNotFoundException", self.iot.create_thing, thingName="nt-1",
                            thingTypeName="no-such-type", status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="nt-1")

    def test_describe_missing(self):
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="nope-404", status=404)
        # the wire format every client understands: header + {"__type","message"}
        r = self.fleetd.raw("GET", "/things/nope-404")
        self.assertRawError(r, 404, "ResourceNotFoundException")
        self.assertTrue(r.message)

    def test_conflict_wire_format(self):
        a = self.iot.create_thing(thingName="wire-409", attributePayload={"attributes": {"k": "v"}})
        r = self.fleetd.raw("POST", "/things/wire-409", body=b'{"attributePayload":{"attributes":{"k":"w"}}}')
        self.assertRawError(r, 409, "ResourceAlreadyExistsException")
        self.assertEqual(r.json.get("resourceId"), a["thingId"], r)
        self.assertEqual(r.json.get("resourceArn"), a["thingArn"], r)

    def test_update_merge_replace_remove(self):
        self.iot.create_thing(thingName="upd-1", attributePayload={"attributes": {"a": "1", "b": "2"}})
        self.iot.update_thing(thingName="upd-1", attributePayload={"attributes": {"c": "3"}, "merge": True})
        d = self.iot.describe_thing(thingName="upd-1")
        self.assertEqual(d["attributes"], {"a": "1", "b": "2", "c": "3"})
        self.assertEqual(d["version"], 2)
        # merge: an empty value removes that attribute; an existing one is overwritten
        self.iot.update_thing(thingName="upd-1", attributePayload={"attributes": {"a": "", "b": "22"}, "merge": True})
        d = self.iot.describe_thing(thingName="upd-1")
        self.assertEqual(d["attributes"], {"b": "22", "c": "3"})
        self.assertEqual(d["version"], 3)
        # without merge the attributes are replaced
        self.iot.update_thing(thingName="upd-1", attributePayload={"attributes": {"d": "4"}})
        d = self.iot.describe_thing(thingName="upd-1")
        self.assertEqual(d["attributes"], {"d": "4"})
        self.assertEqual(d["version"], 4)
        self.iot.update_thing(thingName="upd-1", attributePayload={"attributes": {}, "merge": False})
        d = self.iot.describe_thing(thingName="upd-1")
        self.assertEqual(d.get("attributes", {}), {})
        self.assertEqual(d["version"], 5)

    def test_update_expected_version(self):
        self.iot.create_thing(thingName="ver-1")
        self.assertAwsError("VersionConflictException", self.iot.update_thing, thingName="ver-1",
                            expectedVersion=7, attributePayload={"attributes": {"x": "1"}}, status=409)
        self.assertEqual(self.iot.describe_thing(thingName="ver-1")["version"], 1)
        self.iot.update_thing(thingName="ver-1", expectedVersion=1, attributePayload={"attributes": {"x": "1"}})
        d = self.iot.describe_thing(thingName="ver-1")
        self.assertEqual(d["version"], 2)
        self.assertEqual(d["attributes"], {"x": "1"})
        self.assertAwsError("VersionConflictException", self.iot.update_thing, thingName="ver-1",
                            expectedVersion=1, attributePayload={"attributes": {"x": "2"}})
        self.iot.update_thing(thingName="ver-1", expectedVersion=2, attributePayload={"attributes": {"x": "2"}})
        self.assertEqual(self.iot.describe_thing(thingName="ver-1")["version"], 3)

    def test_update_missing(self):
        self.assertAwsError("ResourceNotFoundException", self.iot.update_thing, thingName="nope-upd",
                            attributePayload={"attributes": {"a": "b"}})

    def test_thing_type_association(self):
        self.iot.create_thing_type(thingTypeName="assoc-type")
        self.iot.create_thing(thingName="assoc-1", thingTypeName="assoc-type")
        d = self.iot.describe_thing(thingName="assoc-1")
        self.assertEqual(d["thingTypeName"], "assoc-type")
        self.iot.update_thing(thingName="assoc-1", removeThingType=True)
        d = self.iot.describe_thing(thingName="assoc-1")
        self.assertNotIn("thingTypeName", d)
        self.assertEqual(d["version"], 2)
        self.iot.update_thing(thingName="assoc-1", thingTypeName="assoc-type")
        d = self.iot.describe_thing(thingName="assoc-1")
        self.assertEqual(d["thingTypeName"], "assoc-type")
        self.assertEqual(d["version"], 3)
        self.assertAwsError("ResourceNotFoundException", self.iot.update_thing, thingName="assoc-1",
                            thingTypeName="no-such-type")
        self.assertEqual(self.iot.describe_thing(thingName="assoc-1")["thingTypeName"], "assoc-type")

    def test_delete(self):
        self.iot.create_thing(thingName="del-1")
        self.iot.update_thing(thingName="del-1", attributePayload={"attributes": {"a": "1"}})
        self.assertAwsError("VersionConflictException", self.iot.delete_thing, thingName="del-1",
                            expectedVersion=1, status=409)
        self.iot.describe_thing(thingName="del-1")
        self.iot.delete_thing(thingName="del-1", expectedVersion=2)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="del-1")
        # AWS: "Returns successfully ... if you specify a thing that doesn't exist."
        self.iot.delete_thing(thingName="del-1")
        self.iot.delete_thing(thingName="never-existed")
        # the name can be reused, with a new id
        self.iot.create_thing(thingName="del-2")
        id1 = self.iot.describe_thing(thingName="del-2")["thingId"]
        self.iot.delete_thing(thingName="del-2")
        r = self.iot.create_thing(thingName="del-2")
        self.assertNotEqual(r["thingId"], id1)
        self.assertEqual(self.iot.describe_thing(thingName="del-2")["version"], 1)

    # ---- ListThings ---------------------------------------------------------
    def test_list_filters(self):
        self.iot.create_thing_type(thingTypeName="lf-type")
        specs = {
            "lf-red-1": ({"lfcolor": "red", "lfmodel": "m1-alpha"}, None),
            "lf-red-2": ({"lfcolor": "red", "lfmodel": "m2"}, "lf-type"),
            "lf-blue-1": ({"lfcolor": "blue", "lfmodel": "m1-beta"}, "lf-type"),
            "lf-none": ({}, None),
        }
        for n, (attrs, tt) in specs.items():
            kw = {"thingName": n, "attributePayload": {"attributes": attrs}}
            if tt:
                kw["thingTypeName"] = tt
            self.iot.create_thing(**kw)
        red = all_pages(self.iot.list_things, "things", attributeName="lfcolor", attributeValue="red")
        self.assertEqual(sorted(t["thingName"] for t in red), ["lf-red-1", "lf-red-2"])
        for t in red:
            self.assertEqual(t["thingArn"], self.fleetd.arn("thing", t["thingName"]))
            self.assertEqual(t["attributes"]["lfcolor"], "red")
            self.assertEqual(t["version"], 1)
        self.assertEqual([t.get("thingTypeName") for t in red if t["thingName"] == "lf-red-2"], ["lf-type"])
        # attributeName alone: every thing that has the attribute
        has = all_pages(self.iot.list_things, "things", attributeName="lfcolor")
        self.assertEqual(sorted(t["thingName"] for t in has), ["lf-blue-1", "lf-red-1", "lf-red-2"])
        # exact value match is not a prefix match
        self.assertEqual(all_pages(self.iot.list_things, "things", attributeName="lfmodel", attributeValue="m1"), [])
        pre = all_pages(self.iot.list_things, "things", attributeName="lfmodel", attributeValue="m1",
                        usePrefixAttributeValue=True)
        self.assertEqual(sorted(t["thingName"] for t in pre), ["lf-blue-1", "lf-red-1"])
        typed = all_pages(self.iot.list_things, "things", thingTypeName="lf-type")
        self.assertEqual(sorted(t["thingName"] for t in typed), ["lf-blue-1", "lf-red-2"])
        both = all_pages(self.iot.list_things, "things", thingTypeName="lf-type", attributeName="lfcolor",
                         attributeValue="red")
        self.assertEqual([t["thingName"] for t in both], ["lf-red-2"])
        self.assertEqual(all_pages(self.iot.list_things, "things", attributeName="lfcolor", attributeValue="green"), [])

    def test_names_and_values_are_case_sensitive(self):
        a = self.iot.create_thing(thingName="CaseThing", attributePayload={"attributes": {"csk": "Red"}})
        b = self.iot.create_thing(thingName="casething", attributePayload={"attributes": {"csk": "red"}})
        self.assertNotEqual(a["thingId"], b["thingId"])
        self.assertEqual(self.iot.describe_thing(thingName="CaseThing")["attributes"], {"csk": "Red"})
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="CASETHING")
        r = all_pages(self.iot.list_things, "things", attributeName="csk", attributeValue="red")
        self.assertEqual([t["thingName"] for t in r], ["casething"])
        r = all_pages(self.iot.list_things, "things", attributeName="csk", attributeValue="R",
                      usePrefixAttributeValue=True)
        self.assertEqual([t["thingName"] for t in r], ["CaseThing"])
        self.assertEqual(all_pages(self.iot.list_things, "things", attributeName="CSK"), [])

    def test_prefix_is_literal(self):
        # '_' is an ordinary character in names and values, never a wildcard
        self.iot.create_thing(thingName="lit-1", attributePayload={"attributes": {"litk": "v_1"}})
        self.iot.create_thing(thingName="lit-2", attributePayload={"attributes": {"litk": "vx1"}})
        self.iot.create_thing(thingName="lit-3", attributePayload={"attributes": {"litk": "v_"}})
        r = all_pages(self.iot.list_things, "things", attributeName="litk", attributeValue="v_",
                      usePrefixAttributeValue=True)
        self.assertEqual(sorted(t["thingName"] for t in r), ["lit-1", "lit-3"])
        r = all_pages(self.iot.list_things, "things", attributeName="litk", attributeValue="v_")
        self.assertEqual([t["thingName"] for t in r], ["lit-3"])

    def test_list_max_results_bounds(self):
        for i in range(3):
            self.iot.create_thing(thingName="mr-%d" % i)
        r = self.iot.list_things(maxResults=1)
        self.assertEqual(len(r["things"]), 1)
        self.assertTrue(r.get("nextToken"))
        r = self.iot.list_things(maxResults=250)
        self.assertLessEqual(len(r["things"]), 250)
        self.assertGreaterEqual(len(r["things"]), 3)
        for bad in (0, 251, -1, 1000):
            self.assertAwsError("InvalidRequestException", self.iot_nv.list_things, maxResults=bad, status=400)
        self.assertAwsError("InvalidRequestException", self.iot.list_things, nextToken="not-a-valid-token!!")

    def test_list_paging_stable_while_adding(self):
        originals = ["pg-%03d" % i for i in range(120)]
        for n in originals:
            self.iot.create_thing(thingName=n, attributePayload={"attributes": {"pgrun": "1"}})
        seen, token, pages, added, deleted = [], None, 0, 0, []
        while True:
            kw = {"maxResults": 50}
            if token:
                kw["nextToken"] = token
            r = self.iot.list_things(**kw)
            self.assertLessEqual(len(r["things"]), 50)
            seen.extend(t["thingName"] for t in r["things"])
            pages += 1
            token = r.get("nextToken")
            if not token:
                break
            self.assertLess(pages, 100, "paging does not end")
            # things added between pages, before, among and after the originals
            for n in ("aa-pg-%d" % pages, "pg-%03d-x%d" % (pages * 30, pages), "zz-pg-%d" % pages,
                      "pg-new-%d" % pages):
                self.iot.create_thing(thingName=n)
                added += 1
            # and the last thing of the page (where the token points) deleted
            last = r["things"][-1]["thingName"]
            self.iot.delete_thing(thingName=last)
            deleted.append(last)
        dups = sorted({n for n in seen if seen.count(n) > 1})
        self.assertEqual(dups, [], "things returned twice while paging")
        missing = [n for n in originals if n not in seen]
        self.assertEqual(missing, [], "original things missing after paging")
        self.assertGreaterEqual(pages, 3)
        # the same through the filtered listing (its own index path)
        left = sorted(set(originals) - set(deleted))
        seen = all_pages(self.iot.list_things, "things", attributeName="pgrun", attributeValue="1", maxResults=50)
        self.assertEqual(sorted(t["thingName"] for t in seen), left)
        # boto3's paginator drives nextToken the same way
        pag = self.iot.get_paginator("list_things")
        names = [t["thingName"] for p in pag.paginate(attributeName="pgrun", PaginationConfig={"PageSize": 7})
                 for t in p["things"]]
        self.assertEqual(sorted(names), left)

    # ---- validation ---------------------------------------------------------
    def test_bad_names(self):
        for bad in ("has space", "x" * 129, "semi;colon", "slash/inside", "dollar$", "ünïcode"):
            with self.subTest(name=bad):
                self.assertAwsError("InvalidRequestException", self.iot_nv.create_thing, thingName=bad, status=400)
        ok = "y" * 128
        self.iot.create_thing(thingName=ok)
        self.assertEqual(self.iot.describe_thing(thingName=ok)["thingName"], ok)
        self.assertAwsError("InvalidRequestException", self.iot_nv.describe_thing, thingName="x" * 129)

    def test_bad_attributes(self):
        cases = {
            "space in value": {"a": "has space"},
            "value 801 chars": {"a": "v" * 801},
            "name with space": {"bad name": "v"},
            "name 129 chars": {"n" * 129: "v"},
            "quote in value": {"a": 'q"q'},
        }
        for what, attrs in cases.items():
            with self.subTest(what):
                self.assertAwsError("InvalidRequestException", self.iot_nv.create_thing, thingName="badattr",
                                    attributePayload={"attributes": attrs}, status=400)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="badattr")
        # the edges that are valid
        self.iot.create_thing(thingName="okattr", attributePayload={"attributes": {
            "n" * 128: "v" * 800, "a_.,@/:#-": "_.,@/:#=[]-"}})
        self.assertEqual(self.iot.describe_thing(thingName="okattr")["attributes"]["a_.,@/:#-"], "_.,@/:#=[]-")
        self.iot.create_thing(thingName="updattr")
        self.assertAwsError("InvalidRequestException", self.iot_nv.update_thing, thingName="updattr",
                            attributePayload={"attributes": {"a": "sp ace"}, "merge": True})

    def test_attribute_limit_without_type(self):
        four = {"a1": "1", "a2": "2", "a3": "3", "a4": "4"}
        self.assertAwsError("InvalidRequestException", self.iot.create_thing, thingName="lim-1",
                            attributePayload={"attributes": four}, status=400)
        self.iot.create_thing(thingName="lim-1", attributePayload={"attributes": {"a1": "1", "a2": "2", "a3": "3"}})
        self.assertAwsError("InvalidRequestException", self.iot.update_thing, thingName="lim-1",
                            attributePayload={"attributes": {"a4": "4"}, "merge": True})
        # replacing one keeps the count at 3
        self.iot.update_thing(thingName="lim-1", attributePayload={"attributes": {"a3": "", "a4": "4"}, "merge": True})
        self.assertEqual(sorted(self.iot.describe_thing(thingName="lim-1")["attributes"]), ["a1", "a2", "a4"])


if __name__ == "__main__":
    unittest.main()
