"""SigV4 on every request, checked with raw HTTP signed by botocore's own
SigV4Auth, plus access keys made with `fleetd keys`."""
import datetime
import json
import unittest

from harness import FleetdTestCase, q


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


class AuthTest(FleetdTestCase):
    # request logging on, so that the secret check at stop() covers it
    server_env = {"FLEETD_LOG_REQUESTS": "1"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.iot.create_thing(thingName="auth-t")

    # ---- refusals ------------------------------------------------------------
    def test_no_signature(self):
        r = self.fleetd.raw("GET", "/things/auth-t", sign=False)
        self.assertRawError(r, 403, "MissingAuthenticationTokenException")
        r = self.fleetd.raw("POST", "/things/auth-unsigned", body=b"{}", sign=False)
        self.assertRawError(r, 403, "MissingAuthenticationTokenException")
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="auth-unsigned")

    def test_good_signature(self):
        r = self.fleetd.raw("GET", "/things/auth-t")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["thingName"], "auth-t")
        # JS-SDK style: a signed x-amz-content-sha256 header
        r = self.fleetd.raw("POST", "/things/auth-js", body=b'{"attributePayload":{"attributes":{"a":"1"}}}',
                            content_sha256=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.iot.describe_thing(thingName="auth-js")["attributes"], {"a": "1"})

    def test_bad_signature(self):
        h = self.fleetd.sign("GET", "/things/auth-t")
        auth = h["Authorization"]
        sig = auth.rsplit("Signature=", 1)[1]
        bad = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        h["Authorization"] = auth[: -len(sig)] + bad
        r = self.fleetd.raw("GET", "/things/auth-t", headers=h, sign=False)
        self.assertRawError(r, 403, "InvalidSignatureException")
        # signed with the wrong secret
        r = self.fleetd.raw("GET", "/things/auth-t", key=(self.fleetd.admin[0], "x" * 40))
        self.assertRawError(r, 403, "InvalidSignatureException")
        # body changed after signing (no x-amz-content-sha256: the server hashes the body)
        body = b'{"attributePayload":{"attributes":{"a":"1"}}}'
        h = self.fleetd.sign("POST", "/things/auth-tamper", body, {"Content-Type": "application/json"})
        r = self.fleetd.raw("POST", "/things/auth-tamper", body=body.replace(b'"1"', b'"2"'), headers=h, sign=False)
        self.assertRawError(r, 403, "InvalidSignatureException")
        # path changed after signing
        h = self.fleetd.sign("GET", "/things/auth-t")
        r = self.fleetd.raw("GET", "/things/auth-u", headers=h, sign=False)
        self.assertRawError(r, 403, "InvalidSignatureException")
        # query changed after signing
        h = self.fleetd.sign("GET", "/things?maxResults=1")
        r = self.fleetd.raw("GET", "/things?maxResults=2", headers=h, sign=False)
        self.assertRawError(r, 403, "InvalidSignatureException")
        # a signed header changed after signing
        h = self.fleetd.sign("GET", "/things/auth-t", headers={"X-Amz-Meta": "a"})
        h["X-Amz-Meta"] = "b"
        r = self.fleetd.raw("GET", "/things/auth-t", headers=h, sign=False)
        self.assertRawError(r, 403, "InvalidSignatureException")
        # method changed after signing
        h = self.fleetd.sign("GET", "/things/auth-del")
        self.iot.create_thing(thingName="auth-del")
        r = self.fleetd.raw("DELETE", "/things/auth-del", headers=h, sign=False)
        self.assertRawError(r, 403, "InvalidSignatureException")
        self.iot.describe_thing(thingName="auth-del")
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="auth-tamper")

    def test_content_sha256_must_match_body(self):
        a = b'{"attributePayload":{"attributes":{"a":"1"}}}'
        h = self.fleetd.sign("POST", "/things/auth-sha", a, {"Content-Type": "application/json"}, content_sha256=True)
        r = self.fleetd.raw("POST", "/things/auth-sha", body=a.replace(b'"1"', b'"2"'), headers=h, sign=False)
        self.assertRawError(r, 403, "InvalidSignatureException")
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="auth-sha")

    def test_date_header_required_and_signed(self):
        h = self.fleetd.sign("GET", "/things/auth-t")
        del h["X-Amz-Date"]
        r = self.fleetd.raw("GET", "/things/auth-t", headers=h, sign=False)
        self.assertEqual(r.status, 403, r)
        h = self.fleetd.sign("GET", "/things/auth-t")
        h["Authorization"] = h["Authorization"].replace("SignedHeaders=host;x-amz-date", "SignedHeaders=host")
        r = self.fleetd.raw("GET", "/things/auth-t", headers=h, sign=False)
        self.assertRawError(r, 403, "InvalidSignatureException")

    def test_malformed_authorization(self):
        for auth in ("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
                     "Basic dXNlcjpwYXNz", "AWS4-HMAC-SHA256 Credential=AKIA/20200101/us-east-1/iot/aws4_request",
                     "x" * 5000):
            with self.subTest(auth=auth[:60]):
                h = self.fleetd.sign("GET", "/things/auth-t")
                h["Authorization"] = auth
                r = self.fleetd.raw("GET", "/things/auth-t", headers=h, sign=False)
                self.assertEqual(r.status, 403, r)
                self.assertTrue(r.error_type, "no x-amzn-ErrorType: %r" % r)
                self.assertEqual(r.body_type, r.error_type, r)

    def test_stale_and_future_date(self):
        r = self.fleetd.raw("GET", "/things/auth-t", when=utcnow() - datetime.timedelta(minutes=20))
        self.assertRawError(r, 403, "InvalidSignatureException")
        r = self.fleetd.raw("GET", "/things/auth-t", when=utcnow() + datetime.timedelta(minutes=20))
        self.assertRawError(r, 403, "InvalidSignatureException")
        # inside the 15-minute window both ways
        r = self.fleetd.raw("GET", "/things/auth-t", when=utcnow() - datetime.timedelta(minutes=10))
        self.assertEqual(r.status, 200, r)
        r = self.fleetd.raw("GET", "/things/auth-t", when=utcnow() + datetime.timedelta(minutes=10))
        self.assertEqual(r.status, 200, r)

    def test_wrong_region_in_scope(self):
        # AWS: "Credential should be scoped to a valid region"; fleetd documents
        # the configured region as the one expected in the scope
        r = self.fleetd.raw("GET", "/things/auth-t", region="eu-west-1")
        self.assertRawError(r, 403, "InvalidSignatureException")

    def test_wrong_service_in_scope(self):
        r = self.fleetd.raw("GET", "/things/auth-t", service="s3")
        self.assertRawError(r, 403, "InvalidSignatureException")

    def test_unknown_key(self):
        r = self.fleetd.raw("GET", "/things/auth-t", key=("AKIAUNKNOWNKEY000000", "s" * 40))
        self.assertRawError(r, 403, "UnrecognizedClientException")
        c = self.fleetd.client(key=("AKIAUNKNOWNKEY000000", "s" * 40))
        self.assertAwsError("UnrecognizedClientException", c.list_things, status=403)

    # ---- keys ----------------------------------------------------------------
    def test_keys_create_list_revoke(self):
        k = self.fleetd.keys("create").json
        self.assertIsInstance(k, dict)
        self.assertTrue(k["accessKeyId"] and k["secretAccessKey"])
        self.assertFalse(k["readOnly"])
        c = self.fleetd.client(key=k)
        c.create_thing(thingName="auth-by-new-key")
        self.assertEqual(c.describe_thing(thingName="auth-by-new-key")["thingName"], "auth-by-new-key")
        lst = self.fleetd.keys("list").json
        self.assertIsInstance(lst, list)
        ids = [x.get("accessKeyId") for x in lst]
        self.assertIn(k["accessKeyId"], ids)
        self.assertIn(self.fleetd.admin[0], ids)
        self.assertNotIn(k["secretAccessKey"], json.dumps(lst), "keys list must not print secrets")
        self.fleetd.keys("revoke", k["accessKeyId"])
        self.assertAwsError("UnrecognizedClientException", c.describe_thing, thingName="auth-by-new-key", status=403)
        r = self.fleetd.raw("GET", "/things/auth-t", key=k)
        self.assertRawError(r, 403, "UnrecognizedClientException")
        # the admin key is unaffected
        self.iot.describe_thing(thingName="auth-by-new-key")
        p = self.fleetd.keys("revoke", "AKIADOESNOTEXIST0000", check=False)
        self.assertNotEqual(p.returncode, 0, "revoking an unknown key must fail")
        self.assertNotIn(k["secretAccessKey"], self.fleetd.stderr(), "a secret appears in the server log")

    def test_read_only_key(self):
        k = self.fleetd.keys("create", "--read-only").json
        self.assertTrue(k["readOnly"])
        ro = self.fleetd.client(key=k)
        self.iot.create_thing_group(thingGroupName="auth-ro-g")
        self.iot.create_thing_type(thingTypeName="auth-ro-type")
        # Describe / List / Get are allowed
        self.assertEqual(ro.describe_thing(thingName="auth-t")["thingName"], "auth-t")
        self.assertIn("things", ro.list_things(maxResults=5))
        ro.list_thing_groups()
        ro.describe_thing_group(thingGroupName="auth-ro-g")
        ro.list_thing_types()
        ro.describe_thing_type(thingTypeName="auth-ro-type")
        ro.list_things_in_thing_group(thingGroupName="auth-ro-g")
        ro.list_thing_groups_for_thing(thingName="auth-t")
        ro.list_tags_for_resource(resourceArn=self.fleetd.arn("thinggroup", "auth-ro-g"))
        ro.describe_endpoint(endpointType="iot:Data-ATS")
        # a missing resource is still a 404, not a 403
        self.assertAwsError("ResourceNotFoundException", ro.describe_thing, thingName="auth-ro-nope")
        # anything else is AccessDeniedException
        writes = [
            (ro.create_thing, {"thingName": "auth-ro-new"}),
            (ro.update_thing, {"thingName": "auth-t", "attributePayload": {"attributes": {"a": "1"}}}),
            (ro.delete_thing, {"thingName": "auth-t"}),
            (ro.create_thing_group, {"thingGroupName": "auth-ro-g2"}),
            (ro.add_thing_to_thing_group, {"thingGroupName": "auth-ro-g", "thingName": "auth-t"}),
            (ro.deprecate_thing_type, {"thingTypeName": "auth-ro-type"}),
            (ro.tag_resource, {"resourceArn": self.fleetd.arn("thinggroup", "auth-ro-g"),
                               "tags": [{"Key": "k", "Value": "v"}]}),
        ]
        for fn, kw in writes:
            with self.subTest(op=fn.__name__):
                self.assertAwsError("AccessDeniedException", fn, status=403, **kw)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="auth-ro-new")
        self.assertEqual(self.iot.describe_thing(thingName="auth-t").get("attributes", {}), {})
        self.assertEqual(self.iot.list_things_in_thing_group(thingGroupName="auth-ro-g")["things"], [])
        self.assertFalse(self.iot.describe_thing_type(thingTypeName="auth-ro-type")["thingTypeMetadata"]
                         .get("deprecated", False))

    # ---- what real clients send ------------------------------------------------
    def test_extra_signed_headers(self):
        # JS SDK v3 signs more headers; values are trimmed and inner runs of
        # spaces collapsed in the canonical form
        r = self.fleetd.raw("GET", "/things/auth-t", headers={
            "X-Amz-User-Agent": "aws-sdk-js/3.1168.0", "amz-sdk-invocation-id": "7c1e1b0e-0000-4000-8000-000000000000",
            "amz-sdk-request": "attempt=1; max=3"}, content_sha256=True)
        self.assertEqual(r.status, 200, r)
        r = self.fleetd.raw("GET", "/things/auth-t", headers={"X-Amz-Meta": "  a   b  c  "})
        self.assertEqual(r.status, 200, r)

    def test_services_iot_and_execute_api(self):
        for svc in ("iot", "execute-api"):
            with self.subTest(service=svc):
                r = self.fleetd.raw("GET", "/things/auth-t", service=svc)
                self.assertEqual(r.status, 200, r)
                r = self.fleetd.raw("POST", "/things/auth-svc-" + svc, body=b"{}", service=svc)
                self.assertEqual(r.status, 200, r)
        self.iot.describe_thing(thingName="auth-svc-execute-api")

    def test_sdk_encoded_paths(self):
        # boto3 sends ':' as %3A; the signature covers it encoded once more
        r = self.iot.create_thing(thingName="auth:colon:name")
        self.assertEqual(self.iot.describe_thing(thingName="auth:colon:name")["thingId"], r["thingId"])
        self.iot.update_thing(thingName="auth:colon:name", attributePayload={"attributes": {"a": "b"}})
        self.iot.create_thing_group(thingGroupName="auth:grp")
        self.iot.add_thing_to_thing_group(thingGroupName="auth:grp", thingName="auth:colon:name")
        self.assertEqual(self.iot.list_things_in_thing_group(thingGroupName="auth:grp")["things"],
                         ["auth:colon:name"])
        # the same by hand: %3A in the path, signed the SDK way
        r = self.fleetd.raw("GET", "/things/auth%3Acolon%3Aname")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["thingName"], "auth:colon:name")
        # and sent unencoded, which is also a valid URI
        r = self.fleetd.raw("GET", "/things/auth:colon:name")
        self.assertEqual(r.status, 200, r)
        # '$' (literal and encoded) is re-encoded in the canonical URI; the name
        # itself is invalid, so this must be a validation error, not a 403
        for path in ("/things/auth$x", "/things/auth%24x"):
            with self.subTest(path=path):
                r = self.fleetd.raw("GET", path)
                self.assertRawError(r, 400, "InvalidRequestException")
        self.iot.delete_thing(thingName="auth:colon:name")

    def test_sdk_encoded_query(self):
        # attribute values may hold / = : , @ # [ ] which the canonical query encodes
        val = "a/b=c:d,e@f#g[h]"
        self.iot.create_thing(thingName="auth-q", attributePayload={"attributes": {"qk.x/y": val}})
        r = self.iot.list_things(attributeName="qk.x/y", attributeValue=val)
        self.assertEqual([t["thingName"] for t in r["things"]], ["auth-q"])
        r = self.fleetd.raw("GET", "/things?attributeName=%s&attributeValue=%s" % (q("qk.x/y"), q(val)))
        self.assertEqual(r.status, 200, r)
        self.assertEqual([t["thingName"] for t in r.json["things"]], ["auth-q"])
        # parameters in a non-sorted order (boto3 sends model order)
        r = self.fleetd.raw("GET", "/things?maxResults=5&attributeName=%s" % q("qk.x/y"))
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
