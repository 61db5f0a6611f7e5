"""Thing types: Create/Describe/Update/Deprecate(+undo)/Delete/ListThingTypes,
the deprecated-type rules and the attribute limits that a type lifts."""
import datetime
import glob
import json
import os
import shutil
import time
import unittest

from harness import Fleetd, FleetdTestCase


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


class ThingTypesTest(FleetdTestCase):

    def test_create_describe(self):
        props = {"thingTypeDescription": "Temperature sensor v2", "searchableAttributes": ["serial", "model"]}
        r = self.iot.create_thing_type(thingTypeName="tt-sensor", thingTypeProperties=props)
        self.assertEqual(r["thingTypeName"], "tt-sensor")
        self.assertEqual(r["thingTypeArn"], "arn:aws:iot:us-east-1:123456789012:thingtype/tt-sensor")
        self.assertTrue(r["thingTypeId"])
        d = self.iot.describe_thing_type(thingTypeName="tt-sensor")
        self.assertEqual(d["thingTypeName"], "tt-sensor")
        self.assertEqual(d["thingTypeId"], r["thingTypeId"])
        self.assertEqual(d["thingTypeArn"], r["thingTypeArn"])
        self.assertEqual(d["thingTypeProperties"]["thingTypeDescription"], props["thingTypeDescription"])
        self.assertEqual(d["thingTypeProperties"]["searchableAttributes"], props["searchableAttributes"])
        md = d["thingTypeMetadata"]
        self.assertFalse(md.get("deprecated", False))
        self.assertIsInstance(md["creationDate"], datetime.datetime)
        age = abs(time.time() - md["creationDate"].timestamp())
        self.assertLess(age, 600, "creationDate far from now: %s" % md["creationDate"])
        # on the wire the timestamp is an epoch-seconds JSON number
        raw = self.fleetd.raw("GET", "/thing-types/tt-sensor")
        self.assertEqual(raw.status, 200, raw)
        cd = raw.json["thingTypeMetadata"]["creationDate"]
        self.assertIsInstance(cd, (int, float), "creationDate must be an epoch-seconds number: %r" % cd)
        self.assertLess(abs(time.time() - cd), 600)

    def test_create_idempotent_and_conflict(self):
        props = {"thingTypeDescription": "d1"}
        a = self.iot.create_thing_type(thingTypeName="tt-idem", thingTypeProperties=props)
        b = self.iot.create_thing_type(thingTypeName="tt-idem", thingTypeProperties=props)
        self.assertEqual(a["thingTypeId"], b["thingTypeId"])
        self.assertAwsError("ResourceAlreadyExistsException", self.iot.create_thing_type, thingTypeName="tt-idem",
                            thingTypeProperties={"thingTypeDescription": "d2"}, status=409)
        self.assertEqual(self.iot.describe_thing_type(thingTypeName="tt-idem")["thingTypeProperties"]
                         ["thingTypeDescription"], "d1")

    def test_describe_missing(self):
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing_type, thingTypeName="tt-nope",
                            status=404)

    def test_update(self):
        self.iot.create_thing_type(thingTypeName="tt-upd", thingTypeProperties={"thingTypeDescription": "u"})
        mq = {"propagatingAttributes": [{"userPropertyKey": "serial", "thingAttribute": "serial"},
                                        {"userPropertyKey": "cid", "connectionAttribute": "iot:ClientId"}]}
        if hasattr(self.iot, "update_thing_type"):
            self.iot.update_thing_type(thingTypeName="tt-upd", thingTypeProperties={"mqtt5Configuration": mq})
        else:  # an older botocore model (Debian's python3-boto3) lacks UpdateThingType: send it by hand
            r = self.fleetd.raw("PATCH", "/thing-types/tt-upd",
                                body=json.dumps({"thingTypeProperties": {"mqtt5Configuration": mq}}))
            self.assertEqual(r.status, 200, r)
        d = self.iot.describe_thing_type(thingTypeName="tt-upd")
        got = d["thingTypeProperties"].get("mqtt5Configuration", {}).get("propagatingAttributes")
        self.assertEqual(got, mq["propagatingAttributes"])
        r = self.fleetd.raw("PATCH", "/thing-types/tt-nope",
                            body=json.dumps({"thingTypeProperties": {"mqtt5Configuration": mq}}))
        self.assertRawError(r, 404, "ResourceNotFoundException")

    def test_deprecate_and_undo(self):
        self.iot.create_thing_type(thingTypeName="tt-dep")
        self.iot.create_thing(thingName="tt-dep-old", thingTypeName="tt-dep")
        self.iot.create_thing(thingName="tt-dep-other")
        t0 = time.time()
        self.iot.deprecate_thing_type(thingTypeName="tt-dep")
        md = self.iot.describe_thing_type(thingTypeName="tt-dep")["thingTypeMetadata"]
        self.assertTrue(md["deprecated"])
        self.assertIsInstance(md["deprecationDate"], datetime.datetime)
        self.assertLess(abs(md["deprecationDate"].timestamp() - t0), 600)
        # no new association with a deprecated type...
        self.assertAwsError("InvalidRequestException", self.iot.create_thing, thingName="tt-dep-new",
                            thingTypeName="tt-dep", status=400)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="tt-dep-new")
        self.assertAwsError("InvalidRequestException", self.iot.update_thing, thingName="tt-dep-other",
                            thingTypeName="tt-dep")
        # ...but existing things keep it and can still be updated
        self.assertEqual(self.iot.describe_thing(thingName="tt-dep-old")["thingTypeName"], "tt-dep")
        self.iot.update_thing(thingName="tt-dep-old", attributePayload={"attributes": {"a": "1"}, "merge": True})
        # the listing shows the deprecation too
        lst = [t for t in all_pages(self.iot.list_thing_types, "thingTypes") if t["thingTypeName"] == "tt-dep"]
        self.assertEqual(len(lst), 1)
        self.assertTrue(lst[0]["thingTypeMetadata"]["deprecated"])
        # undo
        self.iot.deprecate_thing_type(thingTypeName="tt-dep", undoDeprecate=True)
        md = self.iot.describe_thing_type(thingTypeName="tt-dep")["thingTypeMetadata"]
        self.assertFalse(md.get("deprecated", False))
        self.iot.create_thing(thingName="tt-dep-new", thingTypeName="tt-dep")
        self.iot.update_thing(thingName="tt-dep-other", thingTypeName="tt-dep")
        self.assertAwsError("ResourceNotFoundException", self.iot.deprecate_thing_type, thingTypeName="tt-nope")

    def test_delete_rules(self):
        self.iot.create_thing_type(thingTypeName="tt-del")
        self.iot.create_thing(thingName="tt-del-user", thingTypeName="tt-del")
        # not deprecated -> refused
        self.assertAwsError("InvalidRequestException", self.iot.delete_thing_type, thingTypeName="tt-del",
                            status=400)
        self.iot.deprecate_thing_type(thingTypeName="tt-del")
        # deprecated but still used by a thing -> refused
        self.assertAwsError("InvalidRequestException", self.iot.delete_thing_type, thingTypeName="tt-del",
                            status=400)
        self.iot.describe_thing_type(thingTypeName="tt-del")
        self.iot.update_thing(thingName="tt-del-user", removeThingType=True)
        # deprecated and unused, but AWS still refuses for 5 minutes after the deprecation
        self.assertAwsError("InvalidRequestException", self.iot.delete_thing_type, thingTypeName="tt-del",
                            status=400, msg_contains="5 minutes")
        self.iot.describe_thing_type(thingTypeName="tt-del")
        # undoing and redoing the deprecation does not shorten the wait
        self.iot.deprecate_thing_type(thingTypeName="tt-del", undoDeprecate=True)
        self.assertAwsError("InvalidRequestException", self.iot.delete_thing_type, thingTypeName="tt-del")
        self.iot.deprecate_thing_type(thingTypeName="tt-del")
        self.assertAwsError("InvalidRequestException", self.iot.delete_thing_type, thingTypeName="tt-del")
        self.assertAwsError("ResourceNotFoundException", self.iot.delete_thing_type, thingTypeName="tt-never",
                            status=404)

    def test_delete_after_five_minutes(self):
        # The success path of DeleteThingType: the same data directory served
        # again by a fleetd whose clock runs 6 minutes ahead (libfaketime,
        # preloaded directly so that SIGTERM reaches fleetd itself; 6 minutes
        # stays inside SigV4's 15-minute skew).
        libs = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1") +
                      glob.glob("/usr/lib/faketime/libfaketimeMT.so.1"))
        if not libs:
            self.skipTest("libfaketime (Debian package faketime) is not installed")
        first = Fleetd(keep_data=True)
        data_dir = first.data_dir
        try:
            c = first.client()
            c.create_thing_type(thingTypeName="tt-old")
            c.create_thing(thingName="tt-old-user", thingTypeName="tt-old")
            c.create_thing_type(thingTypeName="tt-old-used")
            c.create_thing(thingName="tt-old-used-user", thingTypeName="tt-old-used")
            c.create_thing_type(thingTypeName="tt-old-live")
            c.create_thing_type(thingTypeName="tt-old-gone")
            c.create_thing(thingName="tt-old-gone-user", thingTypeName="tt-old-gone")
            c.deprecate_thing_type(thingTypeName="tt-old-gone")
            c.delete_thing(thingName="tt-old-gone-user")
            c.deprecate_thing_type(thingTypeName="tt-old")
            c.deprecate_thing_type(thingTypeName="tt-old-used")
            c.update_thing(thingName="tt-old-user", removeThingType=True)
            first.stop()
            asan = os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
            later = Fleetd({"ASAN_OPTIONS": asan + ":verify_asan_link_order=0", "LD_PRELOAD": libs[0],
                            "FAKETIME": "+6m", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}, data_dir=data_dir)
            try:
                c = later.client()
                c.delete_thing_type(thingTypeName="tt-old")
                self.assertAwsError("ResourceNotFoundException", c.describe_thing_type, thingTypeName="tt-old")
                self.assertNotIn("thingTypeName", c.describe_thing(thingName="tt-old-user"))
                # a thing deleted outright no longer holds its type
                c.delete_thing_type(thingTypeName="tt-old-gone")
                # still refused while a thing uses it, or when never deprecated
                self.assertAwsError("InvalidRequestException", c.delete_thing_type, thingTypeName="tt-old-used")
                self.assertAwsError("InvalidRequestException", c.delete_thing_type, thingTypeName="tt-old-live")
                # the name is free again, and a new type of that name is not deprecated
                c.create_thing_type(thingTypeName="tt-old")
                self.assertFalse(c.describe_thing_type(thingTypeName="tt-old")["thingTypeMetadata"]
                                 .get("deprecated", False))
            finally:
                later.stop()
        finally:
            if not first.stopped:
                first.kill()
            if not os.environ.get("FLEETD_KEEP_DATA"):
                shutil.rmtree(data_dir, ignore_errors=True)

    def test_list(self):
        for n in ("tl-a", "tl-b", "tl-c"):
            self.iot.create_thing_type(thingTypeName=n, thingTypeProperties={"thingTypeDescription": n})
        allt = all_pages(self.iot.list_thing_types, "thingTypes")
        names = [t["thingTypeName"] for t in allt]
        for n in ("tl-a", "tl-b", "tl-c"):
            self.assertEqual(names.count(n), 1)
        t = [t for t in allt if t["thingTypeName"] == "tl-b"][0]
        self.assertEqual(t["thingTypeArn"], self.fleetd.arn("thingtype", "tl-b"))
        self.assertEqual(t["thingTypeProperties"]["thingTypeDescription"], "tl-b")
        self.assertIn("creationDate", t["thingTypeMetadata"])
        one = self.iot.list_thing_types(thingTypeName="tl-b")["thingTypes"]
        self.assertEqual([x["thingTypeName"] for x in one], ["tl-b"])
        paged = all_pages(self.iot.list_thing_types, "thingTypes", maxResults=1)
        self.assertEqual(sorted(x["thingTypeName"] for x in paged), sorted(names))
        for bad in (0, 251):
            self.assertAwsError("InvalidRequestException", self.iot_nv.list_thing_types, maxResults=bad)

    def test_attribute_limit_with_type(self):
        self.iot.create_thing_type(thingTypeName="tt-many")
        fifty = {"attr%02d" % i: "v%d" % i for i in range(50)}
        self.iot.create_thing(thingName="tt-many-1", thingTypeName="tt-many", attributePayload={"attributes": fifty})
        self.assertEqual(len(self.iot.describe_thing(thingName="tt-many-1")["attributes"]), 50)
        self.assertAwsError("InvalidRequestException", self.iot.update_thing, thingName="tt-many-1",
                            attributePayload={"attributes": {"attr50": "x"}, "merge": True})
        fifty_one = dict(fifty, attr50="x")
        self.assertAwsError("InvalidRequestException", self.iot.create_thing, thingName="tt-many-2",
                            thingTypeName="tt-many", attributePayload={"attributes": fifty_one}, status=400)
        # four attributes are fine with a type, not without one
        four = {"a": "1", "b": "2", "c": "3", "d": "4"}
        self.iot.create_thing(thingName="tt-many-3", thingTypeName="tt-many", attributePayload={"attributes": four})
        self.assertAwsError("InvalidRequestException", self.iot.update_thing, thingName="tt-many-3",
                            removeThingType=True)
        self.assertEqual(self.iot.describe_thing(thingName="tt-many-3")["thingTypeName"], "tt-many")

    def test_bad_names(self):
        for bad in ("bad name", "t" * 129, "a/b"):
            with self.subTest(name=bad):
                self.assertAwsError("InvalidRequestException", self.iot_nv.create_thing_type, thingTypeName=bad,
                                    status=400)
        self.assertAwsError("InvalidRequestException", self.iot_nv.create_thing_type, thingTypeName="tt-badattr",
                            thingTypeProperties={"searchableAttributes": ["sp ace"]})
        self.assertAwsError("InvalidRequestException", self.iot_nv.create_thing_type, thingTypeName="tt-baddesc",
                            thingTypeProperties={"thingTypeDescription": "d" * 2029})


if __name__ == "__main__":
    unittest.main()
