"""IoT policies through boto3 (and the aws CLI): documents and versions,
attachments to certificates and thing groups with AWS's limits, markers,
inheritance through three group levels, GetEffectivePolicies and
TestAuthorization decisions from the real evaluator."""
import datetime
import json
import os
import subprocess
import time
import unittest

from harness import FleetdTestCase, q

try:
    from test_cli import find_cli
except ImportError:  # pragma: no cover
    find_cli = None


def doc(*stmts, version="2012-10-17"):
    d = {"Statement": list(stmts)}
    if version:
        d["Version"] = version
    return json.dumps(d)


def allow(action, resource, **extra):
    s = {"Effect": "Allow", "Action": action, "Resource": resource}
    s.update(extra)
    return s


def deny(action, resource, **extra):
    s = {"Effect": "Deny", "Action": action, "Resource": resource}
    s.update(extra)
    return s


ALLOW_ALL = doc(allow("iot:*", "*"))


class PoliciesTest(FleetdTestCase):

    def arn(self, kind, name):
        return self.fleetd.arn(kind, name)

    def cert(self):
        """A certificate from CreateKeysAndCertificate: (id, arn)."""
        r = self.iot.create_keys_and_certificate(setAsActive=True)
        return r["certificateId"], r["certificateArn"]

    def all_markers(self, fn, key, **kw):
        out, marker, seen = [], None, 0
        while True:
            if marker:
                kw["marker"] = marker
            r = fn(**kw)
            out.extend(r.get(key, []))
            self.assertNotIn("nextToken", r)
            marker = r.get("nextMarker")
            seen += 1
            self.assertLess(seen, 100, "paging does not end")
            if not marker:
                return out

    # ---- documents -----------------------------------------------------------
    def test_create_get_delete(self):
        d = doc(allow("iot:Publish", self.arn("topic", "a/b")))
        r = self.iot.create_policy(policyName="cgd-1", policyDocument=d)
        self.assertEqual(r["policyName"], "cgd-1")
        self.assertEqual(r["policyArn"], self.arn("policy", "cgd-1"))
        self.assertEqual(r["policyDocument"], d)
        self.assertEqual(r["policyVersionId"], "1")
        g = self.iot.get_policy(policyName="cgd-1")
        self.assertEqual(g["policyName"], "cgd-1")
        self.assertEqual(g["policyArn"], r["policyArn"])
        self.assertEqual(g["policyDocument"], d)
        self.assertEqual(g["defaultVersionId"], "1")
        self.assertIsInstance(g["creationDate"], datetime.datetime)
        self.assertIsInstance(g["lastModifiedDate"], datetime.datetime)
        self.assertLess(abs(time.time() - g["creationDate"].timestamp()), 600)
        self.assertRegex(g["generationId"], r"^[0-9a-f]{64}$")
        raw = self.fleetd.raw("GET", "/policies/cgd-1")
        self.assertIsInstance(raw.json["creationDate"], (int, float), raw)
        # the document comes back byte for byte, whitespace included
        pretty = json.dumps(json.loads(d), indent=4)
        self.iot.create_policy(policyName="cgd-pretty", policyDocument=pretty)
        self.assertEqual(self.iot.get_policy(policyName="cgd-pretty")["policyDocument"], pretty)
        # names: every allowed character, and the 128 limit
        self.iot.create_policy(policyName="a_b+c=d,e.f@g-h", policyDocument=ALLOW_ALL)
        self.iot.get_policy(policyName="a_b+c=d,e.f@g-h")
        self.iot.create_policy(policyName="n" * 128, policyDocument=ALLOW_ALL)
        self.assertAwsError("InvalidRequestException", self.iot_nv.create_policy, policyName="n" * 129,
                            policyDocument=ALLOW_ALL, status=400)
        self.assertAwsError("InvalidRequestException", self.iot_nv.create_policy, policyName="a b",
                            policyDocument=ALLOW_ALL, status=400)
        self.assertAwsError("InvalidRequestException", self.iot_nv.create_policy, policyName="a:b",
                            policyDocument=ALLOW_ALL, status=400)
        e = self.assertAwsError("ResourceAlreadyExistsException", self.iot.create_policy, policyName="cgd-1",
                                policyDocument=ALLOW_ALL, status=409)
        self.assertEqual(e.response.get("resourceArn"), self.arn("policy", "cgd-1"))
        self.iot.delete_policy(policyName="cgd-1")
        self.assertAwsError("ResourceNotFoundException", self.iot.get_policy, policyName="cgd-1", status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.delete_policy, policyName="cgd-1", status=404)
        # the name is free again
        self.iot.create_policy(policyName="cgd-1", policyDocument=ALLOW_ALL)

    def test_malformed_documents(self):
        cases = [
            ("not json", "JSON"),
            ("[]", "object"),
            (json.dumps({"Version": "2012-10-17"}), "Statement"),
            (json.dumps({"Version": "2012-10-17", "Statement": []}), "Statement"),
            (doc({"Effect": "allow", "Action": "iot:Connect", "Resource": "*"}), "Effect"),
            (json.dumps({"Version": "2012-10-17", "Statement": [allow("iot:*", "*")], "Extra": 1}), "Extra"),
            (doc(allow("s3:GetObject", "*")), "s3:GetObject"),
            (doc(allow("iot:Publish", "topic/a")), "ARN"),
            (doc({"Effect": "Allow", "Action": "iot:Connect"}), "Resource"),
            (doc(allow("iot:Connect", "*", Principal="*")), "Principal"),
            (doc(allow("iot:Connect", "*", Condition={"StringEqual": {"iot:ClientId": "x"}})), "StringEqual"),
            (doc(allow("iot:Connect", "*"), version="2020-01-01"), "Version"),
            ('{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}', ""),
        ]
        for text, needle in cases:
            with self.subTest(doc=text):
                self.assertAwsError("MalformedPolicyException", self.iot.create_policy, policyName="mal",
                                    policyDocument=text, status=400, msg_contains=needle)
        self.assertAwsError("ResourceNotFoundException", self.iot.get_policy, policyName="mal")
        raw = self.fleetd.raw("POST", "/policies/mal", body=json.dumps({"policyDocument": "{"}))
        self.assertRawError(raw, 400, "MalformedPolicyException")
        raw = self.fleetd.raw("POST", "/policies/mal", body=json.dumps({}))
        self.assertRawError(raw, 400, "InvalidRequestException", "policyDocument")

    def test_tags(self):
        r = self.iot.create_policy(policyName="tg-p", policyDocument=ALLOW_ALL,
                                   tags=[{"Key": "team", "Value": "fw"}])
        arn = r["policyArn"]
        self.assertEqual(self.iot.list_tags_for_resource(resourceArn=arn)["tags"], [{"Key": "team", "Value": "fw"}])
        self.iot.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "prod"}])
        got = sorted((t["Key"], t["Value"]) for t in self.iot.list_tags_for_resource(resourceArn=arn)["tags"])
        self.assertEqual(got, [("env", "prod"), ("team", "fw")])
        self.iot.untag_resource(resourceArn=arn, tagKeys=["env"])
        self.iot.delete_policy(policyName="tg-p")
        self.assertAwsError("ResourceNotFoundException", self.iot.list_tags_for_resource, resourceArn=arn)
        self.iot.create_policy(policyName="tg-p", policyDocument=ALLOW_ALL)
        self.assertEqual(self.iot.list_tags_for_resource(resourceArn=arn)["tags"], [])
        self.assertAwsError("InvalidRequestException", self.iot.create_policy, policyName="tg-q",
                            policyDocument=ALLOW_ALL, tags=[{"Key": "aws:x", "Value": "y"}])
        self.assertAwsError("ResourceNotFoundException", self.iot.get_policy, policyName="tg-q")

    def test_document_size(self):
        head = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"%s' % \
            self.arn("topic", "")
        tail = '"}}'
        ok = head + "x" * (2048 - len(head) - len(tail)) + tail
        self.assertEqual(len(ok), 2048)
        self.iot.create_policy(policyName="size-ok", policyDocument=ok)
        # whitespace does not count
        self.iot.create_policy(policyName="size-ws", policyDocument=ok.replace(",", ",\n    ") + " " * 3000)
        too_big = head + "x" * (2049 - len(head) - len(tail)) + tail
        self.assertAwsError("MalformedPolicyException", self.iot.create_policy, policyName="size-big",
                            policyDocument=too_big, status=400, msg_contains="2048")
        self.assertAwsError("MalformedPolicyException", self.iot.create_policy_version, policyName="size-ok",
                            policyDocument=too_big, status=400)

    def test_list_policies(self):
        names = ["lp-%02d" % i for i in range(7)]
        for n in names:
            self.iot.create_policy(policyName=n, policyDocument=ALLOW_ALL)
        got = [p["policyName"] for p in self.all_markers(self.iot.list_policies, "policies", pageSize=3,
                                                           ascendingOrder=True)
               if p["policyName"].startswith("lp-")]
        self.assertEqual(got, names)
        got = [p["policyName"] for p in self.all_markers(self.iot.list_policies, "policies", pageSize=2,
                                                           ascendingOrder=False)
               if p["policyName"].startswith("lp-")]
        self.assertEqual(got, names[::-1])
        r = self.iot.list_policies(pageSize=1, ascendingOrder=True)
        self.assertEqual(len(r["policies"]), 1)
        self.assertRegex(r["nextMarker"], r"^[A-Za-z0-9+/]+={0,2}$")
        p = r["policies"][0]
        self.assertEqual(p["policyArn"], self.arn("policy", p["policyName"]))
        # the boto3 paginator speaks marker / nextMarker
        pages = self.iot.get_paginator("list_policies").paginate(PaginationConfig={"PageSize": 2})
        seen = [p["policyName"] for page in pages for p in page["policies"]]
        for n in names:
            self.assertIn(n, seen)
        self.assertEqual(len(seen), len(set(seen)))
        self.assertAwsError("InvalidRequestException", self.iot.list_policies, marker="bm90IGEgbWFya2Vy", status=400)
        self.assertAwsError("InvalidRequestException", self.iot_nv.list_policies, pageSize=0, status=400)
        self.assertAwsError("InvalidRequestException", self.iot_nv.list_policies, pageSize=251, status=400)

    # ---- versions --------------------------------------------------------------
    def test_versions(self):
        d = [doc(allow("iot:Publish", self.arn("topic", "v%d" % i))) for i in range(8)]
        self.iot.create_policy(policyName="ver", policyDocument=d[1])
        gen1 = self.iot.get_policy(policyName="ver")["generationId"]
        r = self.iot.create_policy_version(policyName="ver", policyDocument=d[2])
        self.assertEqual(r["policyArn"], self.arn("policy", "ver"))
        self.assertEqual(r["policyDocument"], d[2])
        self.assertEqual(r["policyVersionId"], "2")
        self.assertIs(r["isDefaultVersion"], False)
        self.assertEqual(self.iot.get_policy(policyName="ver")["policyDocument"], d[1])
        r = self.iot.create_policy_version(policyName="ver", policyDocument=d[3], setAsDefault=True)
        self.assertEqual(r["policyVersionId"], "3")
        self.assertIs(r["isDefaultVersion"], True)
        g = self.iot.get_policy(policyName="ver")
        self.assertEqual((g["defaultVersionId"], g["policyDocument"]), ("3", d[3]))
        self.assertNotEqual(g["generationId"], gen1)
        v = self.iot.get_policy_version(policyName="ver", policyVersionId="2")
        self.assertEqual(v["policyName"], "ver")
        self.assertEqual(v["policyArn"], self.arn("policy", "ver"))
        self.assertEqual(v["policyDocument"], d[2])
        self.assertEqual(v["policyVersionId"], "2")
        self.assertIs(v["isDefaultVersion"], False)
        self.assertIsInstance(v["creationDate"], datetime.datetime)
        self.assertIsInstance(v["lastModifiedDate"], datetime.datetime)
        self.assertEqual(v["generationId"], g["generationId"])
        lv = self.iot.list_policy_versions(policyName="ver")["policyVersions"]
        self.assertEqual([(x["versionId"], x["isDefaultVersion"]) for x in lv],
                         [("3", True), ("2", False), ("1", False)])
        self.assertIsInstance(lv[0]["createDate"], datetime.datetime)
        self.iot.create_policy_version(policyName="ver", policyDocument=d[4])
        self.iot.create_policy_version(policyName="ver", policyDocument=d[5])
        self.assertAwsError("VersionsLimitExceededException", self.iot.create_policy_version, policyName="ver",
                            policyDocument=d[6], status=409)
        self.assertAwsError("MalformedPolicyException", self.iot.create_policy_version, policyName="ver",
                            policyDocument="{", status=400)
        self.assertAwsError("ResourceNotFoundException", self.iot.create_policy_version, policyName="ver-nope",
                            policyDocument=d[1], status=404)
        # the default version cannot be deleted; ids are never reused
        self.assertAwsError("DeleteConflictException", self.iot.delete_policy_version, policyName="ver",
                            policyVersionId="3", status=409)
        self.iot.delete_policy_version(policyName="ver", policyVersionId="5")
        self.assertAwsError("ResourceNotFoundException", self.iot.delete_policy_version, policyName="ver",
                            policyVersionId="5", status=404)
        self.assertEqual(self.iot.create_policy_version(policyName="ver", policyDocument=d[6])["policyVersionId"],
                         "6")
        self.assertAwsError("ResourceNotFoundException", self.iot.get_policy_version, policyName="ver",
                            policyVersionId="5", status=404)
        self.assertAwsError("InvalidRequestException", self.iot_nv.get_policy_version, policyName="ver",
                            policyVersionId="x", status=400)
        # SetDefaultPolicyVersion
        self.iot.set_default_policy_version(policyName="ver", policyVersionId="1")
        g2 = self.iot.get_policy(policyName="ver")
        self.assertEqual((g2["defaultVersionId"], g2["policyDocument"]), ("1", d[1]))
        self.assertNotEqual(g2["generationId"], g["generationId"])
        self.assertIs(self.iot.get_policy_version(policyName="ver", policyVersionId="1")["isDefaultVersion"], True)
        self.assertAwsError("ResourceNotFoundException", self.iot.set_default_policy_version, policyName="ver",
                            policyVersionId="42", status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.list_policy_versions, policyName="ver-nope")
        # DeletePolicy refuses while non-default versions exist
        self.assertAwsError("DeleteConflictException", self.iot.delete_policy, policyName="ver", status=409)
        for vid in ("2", "3", "4", "6"):
            self.iot.delete_policy_version(policyName="ver", policyVersionId=vid)
        self.iot.delete_policy(policyName="ver")

    # ---- attachments -------------------------------------------------------------
    def test_attach_detach_targets(self):
        cid, carn = self.cert()
        self.iot.create_thing_group(thingGroupName="at-g")
        garn = self.arn("thinggroup", "at-g")
        self.iot.create_policy(policyName="at-p", policyDocument=ALLOW_ALL)
        self.iot.attach_policy(policyName="at-p", target=carn)
        self.iot.attach_policy(policyName="at-p", target=carn)  # again: fine
        self.iot.attach_policy(policyName="at-p", target=garn)
        targets = self.all_markers(self.iot.list_targets_for_policy, "targets", policyName="at-p", pageSize=1)
        self.assertEqual(sorted(targets), sorted([carn, garn]))
        pages = self.iot.get_paginator("list_targets_for_policy").paginate(policyName="at-p",
                                                                         PaginationConfig={"PageSize": 1})
        self.assertEqual(sorted(t for page in pages for t in page["targets"]), sorted([carn, garn]))
        r = self.iot.list_attached_policies(target=carn)
        self.assertEqual(r["policies"], [{"policyName": "at-p", "policyArn": self.arn("policy", "at-p")}])
        self.assertEqual([p["policyName"] for p in self.iot.list_attached_policies(target=garn)["policies"]],
                         ["at-p"])
        # the raw path: the target ARN percent-encoded in one segment
        raw = self.fleetd.raw("POST", "/attached-policies/%s" % q(carn))
        self.assertEqual(raw.status, 200, raw)
        self.assertEqual([p["policyName"] for p in raw.json["policies"]], ["at-p"])
        # errors
        self.assertAwsError("DeleteConflictException", self.iot.delete_policy, policyName="at-p", status=409)
        self.assertAwsError("ResourceNotFoundException", self.iot.attach_policy, policyName="at-nope", target=carn,
                            status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.attach_policy, policyName="at-p",
                            target=self.arn("cert", "0" * 64), status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.attach_policy, policyName="at-p",
                            target=self.arn("thinggroup", "at-nope"), status=404)
        self.assertAwsError("InvalidRequestException", self.iot.attach_policy, policyName="at-p",
                            target=self.arn("cert", "xyz"), status=400)
        self.assertAwsError("InvalidRequestException", self.iot.attach_policy, policyName="at-p",
                            target=self.arn("thing", "t"), status=400)
        self.assertAwsError("InvalidRequestException", self.iot.attach_policy, policyName="at-p",
                            target="not-an-arn", status=400)
        self.assertAwsError("InvalidRequestException", self.iot.attach_policy, policyName="at-p",
                            target="us-east-1:11111111-2222-3333-4444-555555555555", status=400,
                            msg_contains="Cognito")
        self.assertAwsError("ResourceNotFoundException", self.iot.list_attached_policies,
                            target=self.arn("thinggroup", "at-nope"), status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.list_targets_for_policy, policyName="at-nope",
                            status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.detach_policy, policyName="at-nope", target=carn)
        # detach
        self.iot.detach_policy(policyName="at-p", target=carn)
        self.iot.detach_policy(policyName="at-p", target=carn)  # not attached: fine
        self.assertEqual(self.iot.list_attached_policies(target=carn)["policies"], [])
        self.iot.detach_policy(policyName="at-p", target=garn)
        self.assertEqual(self.iot.list_targets_for_policy(policyName="at-p")["targets"], [])
        self.iot.delete_policy(policyName="at-p")

    def test_attach_limits(self):
        cid, carn = self.cert()
        self.iot.create_thing_group(thingGroupName="lim-g")
        garn = self.arn("thinggroup", "lim-g")
        for i in range(11):
            self.iot.create_policy(policyName="lim-%02d" % i, policyDocument=ALLOW_ALL)
        for i in range(10):
            self.iot.attach_policy(policyName="lim-%02d" % i, target=carn)
        self.assertAwsError("LimitExceededException", self.iot.attach_policy, policyName="lim-10", target=carn,
                            status=410)
        self.iot.attach_policy(policyName="lim-00", target=garn)
        self.iot.attach_policy(policyName="lim-01", target=garn)
        self.assertAwsError("LimitExceededException", self.iot.attach_policy, policyName="lim-02", target=garn,
                            status=410)
        got = [p["policyName"] for p in self.all_markers(self.iot.list_attached_policies, "policies", target=carn,
                                                           pageSize=3)]
        self.assertEqual(got, ["lim-%02d" % i for i in range(10)])
        pages = self.iot.get_paginator("list_attached_policies").paginate(target=carn,
                                                                        PaginationConfig={"PageSize": 4})
        self.assertEqual(len([p for page in pages for p in page["policies"]]), 10)
        # a certificate with policies cannot be deleted without force
        self.iot.update_certificate(certificateId=cid, newStatus="INACTIVE")
        self.assertAwsError("DeleteConflictException", self.iot.delete_certificate, certificateId=cid)

    # ---- inheritance ------------------------------------------------------------------
    def _three_levels(self, prefix):
        root, mid, leaf = prefix + "-root", prefix + "-mid", prefix + "-leaf"
        self.iot.create_thing_group(thingGroupName=root)
        self.iot.create_thing_group(thingGroupName=mid, parentGroupName=root)
        self.iot.create_thing_group(thingGroupName=leaf, parentGroupName=mid)
        self.iot.create_thing_type(thingTypeName=prefix + "-type")
        thing = prefix + "-t1"
        self.iot.create_thing(thingName=thing, thingTypeName=prefix + "-type",
                              attributePayload={"attributes": {"color": "red"}})
        self.iot.add_thing_to_thing_group(thingGroupName=leaf, thingName=thing)
        cid, carn = self.cert()
        self.iot.attach_thing_principal(thingName=thing, principal=carn)
        t = lambda s: self.arn("topic", s)
        pols = {
            prefix + "-cert": doc(allow("iot:Publish", t("cert/*"))),
            prefix + "-proot": doc(allow("iot:Publish", t("fleet/*")),
                                   allow("iot:Connect", self.arn("client", "${iot:Connection.Thing.ThingName}"))),
            prefix + "-pmid": doc(allow("iot:Publish", t("${iot:Connection.Thing.ThingName}/*"))),
            prefix + "-pleaf": doc(deny("iot:Publish", t("fleet/secret")),
                                   allow("iot:Publish", t("color/${iot:Connection.Thing.Attributes[color]}/"
                                                          "${iot:Connection.Thing.ThingTypeName}"))),
            prefix + "-extra": doc(allow("iot:Subscribe", self.arn("topicfilter", "extra/#"))),
            prefix + "-cond": doc(allow("iot:Receive", "*", Condition={
                "Bool": {"iot:Connection.Thing.IsAttached": "true"},
                "StringEquals": {"iot:Connection.Thing.ThingTypeName": prefix + "-type"}})),
        }
        for n, d in pols.items():
            self.iot.create_policy(policyName=n, policyDocument=d)
        self.iot.attach_policy(policyName=prefix + "-cert", target=carn)
        self.iot.attach_policy(policyName=prefix + "-proot", target=self.arn("thinggroup", root))
        self.iot.attach_policy(policyName=prefix + "-pmid", target=self.arn("thinggroup", mid))
        self.iot.attach_policy(policyName=prefix + "-pleaf", target=self.arn("thinggroup", leaf))
        return thing, cid, carn, pols

    def test_effective_policies_three_levels(self):
        thing, cid, carn, pols = self._three_levels("ef")
        names = lambda r: [p["policyName"] for p in r["effectivePolicies"]]
        r = self.iot.get_effective_policies(thingName=thing)
        self.assertEqual(names(r), ["ef-proot", "ef-pmid", "ef-pleaf"])
        for p in r["effectivePolicies"]:
            self.assertEqual(p["policyDocument"], pols[p["policyName"]])
            self.assertEqual(p["policyArn"], self.arn("policy", p["policyName"]))
        self.assertEqual(names(self.iot.get_effective_policies(principal=carn)), ["ef-cert"])
        self.assertEqual(names(self.iot.get_effective_policies(principal=carn, thingName=thing)),
                         ["ef-cert", "ef-proot", "ef-pmid", "ef-pleaf"])
        # recursive ListAttachedPolicies on the leaf sees the same group policies
        r = self.iot.list_attached_policies(target=self.arn("thinggroup", "ef-leaf"), recursive=True)
        self.assertEqual(sorted(p["policyName"] for p in r["policies"]), ["ef-pleaf", "ef-pmid", "ef-proot"])
        r = self.iot.list_attached_policies(target=self.arn("thinggroup", "ef-leaf"), recursive=False)
        self.assertEqual([p["policyName"] for p in r["policies"]], ["ef-pleaf"])
        # leaving the group drops its policies
        self.iot.remove_thing_from_thing_group(thingGroupName="ef-leaf", thingName=thing)
        self.assertEqual(names(self.iot.get_effective_policies(thingName=thing)), [])
        self.iot.add_thing_to_thing_group(thingGroupName="ef-mid", thingName=thing)
        self.assertEqual(names(self.iot.get_effective_policies(thingName=thing)), ["ef-proot", "ef-pmid"])
        self.assertAwsError("ResourceNotFoundException", self.iot.get_effective_policies, thingName="ef-nope",
                            status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.get_effective_policies,
                            principal=self.arn("cert", "1" * 64), status=404)
        self.assertAwsError("InvalidRequestException", self.iot.get_effective_policies, status=400)
        self.assertAwsError("InvalidRequestException", self.iot.get_effective_policies,
                            cognitoIdentityPoolId="us-east-1:pool", status=400)

    # ---- TestAuthorization ---------------------------------------------------------------
    def test_authorization(self):
        thing, cid, carn, pols = self._three_levels("ta")

        def auth(action, resources, client=None, **kw):
            args = {"principal": carn, "authInfos": [{"actionType": action, "resources": resources}]}
            if client:
                args["clientId"] = client
            args.update(kw)
            r = self.iot.test_authorization(**args)["authResults"]
            self.assertEqual(len(r), 1)
            r = r[0]
            self.assertEqual(r["authInfo"], {"actionType": action, "resources": resources})
            pn = lambda o: [p["policyName"] for p in o.get("policies", [])]
            for o in (r["allowed"], r["denied"]["explicitDeny"], r["denied"]["implicitDeny"]):
                for p in o.get("policies", []):
                    self.assertEqual(p["policyArn"], self.arn("policy", p["policyName"]))
            return (r["authDecision"], pn(r["allowed"]), pn(r["denied"]["explicitDeny"]),
                    pn(r["denied"]["implicitDeny"]), r.get("missingContextValues", []))

        t = lambda s: self.arn("topic", s)
        self.assertEqual(auth("PUBLISH", [t("cert/a")], "stranger"), ("ALLOWED", ["ta-cert"], [], [], []))
        self.assertEqual(auth("PUBLISH", [t("fleet/a")], "stranger"), ("IMPLICIT_DENY", [], [], ["ta-cert"], []))
        # client id = the attached thing: its group policies and variables apply
        self.assertEqual(auth("PUBLISH", [t("fleet/a")], thing)[:3], ("ALLOWED", ["ta-proot"], []))
        self.assertEqual(auth("PUBLISH", [t("fleet/secret")], thing)[:3],
                         ("EXPLICIT_DENY", ["ta-proot"], ["ta-pleaf"]))
        self.assertEqual(auth("PUBLISH", [t(thing + "/data")], thing)[:2], ("ALLOWED", ["ta-pmid"]))
        self.assertEqual(auth("PUBLISH", [t("color/red/ta-type")], thing)[:2], ("ALLOWED", ["ta-pleaf"]))
        self.assertEqual(auth("PUBLISH", [t("color/blue/ta-type")], thing)[0], "IMPLICIT_DENY")
        self.assertEqual(auth("CONNECT", [self.arn("client", thing)], thing)[:2], ("ALLOWED", ["ta-proot"]))
        self.assertEqual(auth("CONNECT", [self.arn("client", "other")], thing)[0], "IMPLICIT_DENY")
        d = auth("SUBSCRIBE", [self.arn("topicfilter", "fleet/#")], thing)
        self.assertEqual(d[0], "IMPLICIT_DENY")
        self.assertEqual(sorted(d[3]), ["ta-cert", "ta-pleaf", "ta-pmid", "ta-proot"])
        # every resource must be allowed; one explicit deny decides
        self.assertEqual(auth("PUBLISH", [t("fleet/a"), t("cert/b")], thing)[:2], ("ALLOWED", ["ta-cert", "ta-proot"]))
        self.assertEqual(auth("PUBLISH", [t("fleet/a"), t("nowhere")], thing)[0], "IMPLICIT_DENY")
        self.assertEqual(auth("PUBLISH", [t("fleet/a"), t("fleet/secret")], thing)[0], "EXPLICIT_DENY")
        # policyNamesToSkip / policyNamesToAdd
        self.assertEqual(auth("PUBLISH", [t("fleet/secret")], thing, policyNamesToSkip=["ta-pleaf"])[:2],
                         ("ALLOWED", ["ta-proot"]))
        self.assertEqual(auth("SUBSCRIBE", [self.arn("topicfilter", "extra/#")], "stranger",
                              policyNamesToAdd=["ta-extra"])[:2], ("ALLOWED", ["ta-extra"]))
        # conditions: IsAttached and the thing type; the keys are missing without a thing
        self.assertEqual(auth("RECEIVE", [t("x")], thing, policyNamesToAdd=["ta-cond"])[:2],
                         ("ALLOWED", ["ta-cond"]))
        r = auth("RECEIVE", [t("x")], "stranger", policyNamesToAdd=["ta-cond"])
        self.assertEqual(r[0], "IMPLICIT_DENY")
        self.assertEqual(r[4], ["iot:Connection.Thing.ThingTypeName"])
        # several authInfos in one call
        r = self.iot.test_authorization(principal=carn, clientId=thing, authInfos=[
            {"actionType": "PUBLISH", "resources": [t("fleet/a")]},
            {"actionType": "PUBLISH", "resources": [t("fleet/secret")]},
            {"actionType": "RECEIVE", "resources": [t("fleet/a")]}])["authResults"]
        self.assertEqual([x["authDecision"] for x in r], ["ALLOWED", "EXPLICIT_DENY", "IMPLICIT_DENY"])
        # errors
        info = [{"actionType": "PUBLISH", "resources": [t("a")]}]
        self.assertAwsError("ResourceNotFoundException", self.iot.test_authorization, principal=carn,
                            authInfos=info, policyNamesToAdd=["ta-nope"], status=404)
        self.assertAwsError("ResourceNotFoundException", self.iot.test_authorization,
                            principal=self.arn("cert", "2" * 64), authInfos=info, status=404)
        self.assertAwsError("InvalidRequestException", self.iot.test_authorization, authInfos=info, status=400)
        self.assertAwsError("InvalidRequestException", self.iot.test_authorization, principal="garbage",
                            authInfos=info, status=400)
        self.assertAwsError("InvalidRequestException", self.iot_nv.test_authorization, principal=carn,
                            authInfos=[{"actionType": "DELETE", "resources": ["x"]}], status=400)
        self.assertAwsError("InvalidRequestException", self.iot_nv.test_authorization, principal=carn,
                            authInfos=info * 11, status=400)
        self.assertAwsError("InvalidRequestException", self.iot_nv.test_authorization, principal=carn,
                            authInfos=[], status=400)

    def test_policy_changes_apply(self):
        """A new default version, a detach and a skipped policy are seen by
        the next evaluation (nothing is cached across requests)."""
        cid, carn = self.cert()
        self.iot.create_policy(policyName="chg", policyDocument=doc(allow("iot:Publish", self.arn("topic", "a"))))
        self.iot.attach_policy(policyName="chg", target=carn)
        info = [{"actionType": "PUBLISH", "resources": [self.arn("topic", "a")]}]
        dec = lambda: self.iot.test_authorization(principal=carn, authInfos=info)["authResults"][0]["authDecision"]
        self.assertEqual(dec(), "ALLOWED")
        self.iot.create_policy_version(policyName="chg", setAsDefault=True,
                                       policyDocument=doc(deny("iot:Publish", self.arn("topic", "*"))))
        self.assertEqual(dec(), "EXPLICIT_DENY")
        self.iot.set_default_policy_version(policyName="chg", policyVersionId="1")
        self.assertEqual(dec(), "ALLOWED")
        self.iot.detach_policy(policyName="chg", target=carn)
        self.assertEqual(dec(), "IMPLICIT_DENY")


class PoliciesCliTest(FleetdTestCase):
    """The policy commands of the aws CLI (v1 or v2, whichever is
    installed), as a user runs them."""

    @classmethod
    def setUpClass(cls):
        cls.cli = None
        if find_cli:
            for major in (2, 1):
                cli, _ = find_cli(major)
                if cli:
                    cls.cli = cli
                    break
        if not cls.cli:
            print("\n  (no aws CLI installed: skipping)")
            raise unittest.SkipTest("no aws CLI installed")
        super().setUpClass()

    def aws(self, *args, expect_rc=0):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_SHARED_CREDENTIALS_FILE": self.fleetd.credentials_file,
            "AWS_CONFIG_FILE": os.path.join(self.fleetd.data_dir, "config-does-not-exist"),
            "AWS_PROFILE": "fleetd",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_PAGER": "",
            "AWS_MAX_ATTEMPTS": "1",
        })
        cmd = [self.cli, "iot"] + list(args) + ["--endpoint-url", self.fleetd.endpoint, "--output", "json"]
        p = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        if expect_rc == 0:
            self.assertEqual(p.returncode, 0, "%s\nstdout: %s\nstderr: %s" % (" ".join(cmd), out, err))
        else:
            self.assertNotEqual(p.returncode, 0, "%s unexpectedly succeeded: %s" % (" ".join(cmd), out))
        return (json.loads(out) if out.strip() else None), err

    def test_cli_policies(self):
        d = doc(allow("iot:Publish", self.fleetd.arn("topic", "cli/*")))
        r, _ = self.aws("create-policy", "--policy-name", "cli-p", "--policy-document", d)
        self.assertEqual(r["policyVersionId"], "1")
        r, _ = self.aws("get-policy", "--policy-name", "cli-p")
        self.assertEqual(r["policyDocument"], d)
        r, _ = self.aws("create-policy-version", "--policy-name", "cli-p", "--policy-document", d,
                        "--set-as-default")
        self.assertEqual((r["policyVersionId"], r["isDefaultVersion"]), ("2", True))
        r, _ = self.aws("list-policy-versions", "--policy-name", "cli-p")
        self.assertEqual([v["versionId"] for v in r["policyVersions"]], ["2", "1"])
        for i in range(3):
            self.aws("create-policy", "--policy-name", "cli-q%d" % i, "--policy-document", ALLOW_ALL)
        r, _ = self.aws("list-policies")
        self.assertEqual(sorted(p["policyName"] for p in r["policies"]), ["cli-p", "cli-q0", "cli-q1", "cli-q2"])
        # --page-size is the operation's own parameter here, so the CLI does
        # not paginate with it (as against AWS); --max-items does
        r, _ = self.aws("list-policies", "--page-size", "1")
        self.assertEqual(len(r["policies"]), 1)
        self.assertIn("nextMarker", r)
        r, _ = self.aws("list-policies", "--marker", r["nextMarker"], "--page-size", "2")
        self.assertEqual(len(r["policies"]), 2)
        r1, _ = self.aws("list-policies", "--max-items", "3")
        self.assertEqual(len(r1["policies"]), 3)
        r2, _ = self.aws("list-policies", "--max-items", "3", "--starting-token", r1["NextToken"])
        self.assertEqual(sorted(p["policyName"] for p in r1["policies"] + r2["policies"]),
                         ["cli-p", "cli-q0", "cli-q1", "cli-q2"])
        _, err = self.aws("create-policy", "--policy-name", "cli-bad", "--policy-document", "{", expect_rc=255)
        self.assertIn("MalformedPolicyException", err)
        c, _ = self.aws("create-keys-and-certificate", "--set-as-active")
        self.aws("attach-policy", "--policy-name", "cli-p", "--target", c["certificateArn"])
        r, _ = self.aws("list-attached-policies", "--target", c["certificateArn"])
        self.assertEqual([p["policyName"] for p in r["policies"]], ["cli-p"])
        r, _ = self.aws("list-targets-for-policy", "--policy-name", "cli-p")
        self.assertEqual(r["targets"], [c["certificateArn"]])
        r, _ = self.aws("get-effective-policies", "--principal", c["certificateArn"])
        self.assertEqual([p["policyName"] for p in r["effectivePolicies"]], ["cli-p"])
        r, _ = self.aws("test-authorization", "--principal", c["certificateArn"], "--auth-infos",
                        json.dumps([{"actionType": "PUBLISH", "resources": [self.fleetd.arn("topic", "cli/x")]},
                                    {"actionType": "PUBLISH", "resources": [self.fleetd.arn("topic", "other")]}]))
        self.assertEqual([x["authDecision"] for x in r["authResults"]], ["ALLOWED", "IMPLICIT_DENY"])
        _, err = self.aws("delete-policy", "--policy-name", "cli-p", expect_rc=255)
        self.assertIn("DeleteConflictException", err)
        self.aws("detach-policy", "--policy-name", "cli-p", "--target", c["certificateArn"])
        self.aws("delete-policy-version", "--policy-name", "cli-p", "--policy-version-id", "1")
        self.aws("delete-policy", "--policy-name", "cli-p")


if __name__ == "__main__":
    unittest.main()
