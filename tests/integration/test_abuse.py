"""Abuse: oversize bodies, broken JSON, wrong JSON types, bad percent-encoding,
unknown routes, wrong methods, huge paths and query strings. Every request is
correctly signed, so what answers is the HTTP layer, not SigV4. The server must
answer each with the right AWS error and keep serving."""
import socket
import unittest

from harness import FleetdTestCase


class AbuseTest(FleetdTestCase):

    def setUp(self):
        self.assertTrue(self.fleetd.alive(), "fleetd died during an earlier test")

    def tearDown(self):
        # after every abuse the server still answers a normal request
        self.assertTrue(self.fleetd.alive(), "fleetd died")
        self.iot.list_things(maxResults=1)

    def test_oversize_body(self):
        body = b'{"attributePayload":{"attributes":{"a":"' + b"x" * (2 * 1024 * 1024) + b'"}}}'
        r = self.fleetd.raw("POST", "/things/abuse-big", body=body, timeout=60)
        self.assertRawError(r, 413, "PayloadTooLargeException")
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="abuse-big")

    def test_oversize_expect_continue(self):
        # curl-style: announce 2 MiB with "Expect: 100-continue". The server may
        # refuse at once (413) or say 100 Continue; either way the end is a 413.
        body = b"x" * (2 * 1024 * 1024)
        path = "/things/abuse-big2"
        h = self.fleetd.sign("POST", path, body, {"Content-Type": "application/json"})
        s = socket.create_connection((self.fleetd.host, self.fleetd.port), timeout=30)
        data = b""
        try:
            head = "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %d\r\nExpect: 100-continue\r\n" % (
                path, self.fleetd.host, self.fleetd.port, len(body))
            head += "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
            s.sendall(head.encode())
            s.settimeout(3)
            try:
                data = s.recv(65536)
            except socket.timeout:
                data = b""  # no interim answer: RFC 7231 lets the client send the body anyway
            s.settimeout(30)
            if not data.startswith(b"HTTP/1.1 413"):
                try:
                    s.sendall(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                rest = data.split(b"\r\n\r\n", 1)[1] if data.startswith(b"HTTP/1.1 100") else b""
                data = rest
                try:
                    while b"\r\n\r\n" not in data:
                        c = s.recv(65536)
                        if not c:
                            break
                        data += c
                except ConnectionResetError:
                    pass
        finally:
            s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), "2 MiB with Expect: 100-continue: got %r" % data[:300])
        self.assertIn(b"PayloadTooLargeException", data)

    def test_body_at_the_cap_is_not_413(self):
        # just under 1 MiB parses as JSON; CreateThing then refuses the value (800 chars max)
        body = b'{"attributePayload":{"attributes":{"a":"' + b"x" * (1024 * 1024 - 200) + b'"}}}'
        r = self.fleetd.raw("POST", "/things/abuse-cap", body=body, timeout=60)
        self.assertRawError(r, 400, "InvalidRequestException")

    def test_invalid_json(self):
        for body in (b'{"attributePayload":', b"{", b"not json", b'{"a":1,}', b"\xff\xfe{}",
                     b'{"thingTypeName":"a\\u0000b"}', b"[" * 100000):
            with self.subTest(body=body[:40]):
                r = self.fleetd.raw("POST", "/things/abuse-json", body=body)
                self.assertRawError(r, 400, "InvalidRequestException")
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="abuse-json")

    def test_json_not_an_object(self):
        for body in (b"[]", b'"str"', b"5", b"null"):
            with self.subTest(body=body):
                r = self.fleetd.raw("POST", "/things/abuse-json2", body=body)
                self.assertRawError(r, 400, "InvalidRequestException")

    def test_wrong_field_types(self):
        cases = [
            ("POST", "/things/abuse-type", {"thingTypeName": 5}, "thingTypeName"),
            ("POST", "/things/abuse-type", {"attributePayload": "x"}, "attributePayload"),
            ("POST", "/things/abuse-type", {"attributePayload": {"attributes": {"a": 5}}}, "attributes"),
            ("POST", "/things/abuse-type", {"attributePayload": {"attributes": ["a"]}}, "attributes"),
            ("POST", "/thing-groups/abuse-type", {"parentGroupName": True}, "parentGroupName"),
            ("POST", "/thing-groups/abuse-type", {"thingGroupProperties": {"thingGroupDescription": 1}},
             "thingGroupDescription"),
            ("PUT", "/thing-groups/addThingToThingGroup", {"thingGroupName": ["g"], "thingName": "t"},
             "thingGroupName"),
            ("PUT", "/thing-groups/updateThingGroupsForThing", {"thingName": "t", "thingGroupsToAdd": "g"},
             "thingGroupsToAdd"),
            ("POST", "/tags", {"resourceArn": 1, "tags": []}, "resourceArn"),
        ]
        import json
        self.iot.create_thing(thingName="abuse-tt")
        cases.append(("PATCH", "/things/abuse-tt", {"expectedVersion": "1"}, "expectedVersion"))
        cases.append(("PATCH", "/things/abuse-tt", {"removeThingType": "yes"}, "removeThingType"))
        for method, path, body, field in cases:
            with self.subTest(method=method, path=path, field=field):
                r = self.fleetd.raw(method, path, body=json.dumps(body))
                self.assertRawError(r, 400, "InvalidRequestException", msg_contains=field)
        self.assertAwsError("ResourceNotFoundException", self.iot.describe_thing, thingName="abuse-type")
        self.assertEqual(self.iot.describe_thing(thingName="abuse-tt")["version"], 1)

    def test_bad_percent_encoding(self):
        for path in ("/things/%ZZ", "/things/%2", "/things/%", "/things/a%G1b", "/thing-groups/%zz/things"):
            with self.subTest(path=path):
                r = self.fleetd.raw("GET", path)
                self.assertRawError(r, 400, "InvalidRequestException")
        # %00 decodes to a NUL byte: never a valid name
        r = self.fleetd.raw("GET", "/things/a%00b")
        self.assertRawError(r, 400, "InvalidRequestException")
        r = self.fleetd.raw("POST", "/things/a%00b", body=b"{}")
        self.assertRawError(r, 400, "InvalidRequestException")

    def test_unknown_route(self):
        for method, path in (("GET", "/nope"), ("GET", "/things/a/b/c"), ("POST", "/thingz/x"), ("GET", "/"),
                             ("DELETE", "/thing-groups/g/things/x"), ("GET", "/things/x/shadow/y")):
            with self.subTest(method=method, path=path):
                r = self.fleetd.raw(method, path, body=b"{}" if method == "POST" else b"")
                self.assertRawError(r, 404, "UnknownOperationException")

    def test_wrong_method(self):
        r = self.fleetd.raw("PUT", "/things/abuse-m", body=b"{}")
        self.assertRawError(r, 405, "MethodNotAllowedException")
        allow = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
        self.assertEqual(allow, {"GET", "POST", "PATCH", "DELETE"}, r.headers)
        r = self.fleetd.raw("DELETE", "/things")
        self.assertRawError(r, 405, "MethodNotAllowedException")
        self.assertIn("GET", r.headers.get("allow", ""))
        r = self.fleetd.raw("GET", "/thing-groups/addThingToThingGroup")
        # GET on that literal path also matches GET /thing-groups/{thingGroupName}:
        # a group named addThingToThingGroup does not exist
        self.assertIn(r.status, (404, 405), r)
        r = self.fleetd.raw("POST", "/tags/x", body=b"{}")
        self.assertRawError(r, 404, "UnknownOperationException")
        r = self.fleetd.raw("FOO", "/things/abuse-m")
        self.assertIn(r.status, (400, 405, 501), r)

    def test_very_long_path(self):
        for n in (129, 4096, 60000):
            with self.subTest(length=n):
                r = self.fleetd.raw("GET", "/things/" + "a" * n)
                if n == 129:
                    self.assertRawError(r, 400, "InvalidRequestException")
                else:
                    self.assertIn(r.status, (400, 404, 414, 431), r)
        r = self.fleetd.raw("GET", "/things" + "/a" * 200)
        self.assertIn(r.status, (400, 404, 414), r)
        self.assertLess(r.status, 500)

    def test_many_query_params(self):
        qs = "&".join("p%d=%d" % (i, i) for i in range(500))
        r = self.fleetd.raw("GET", "/things?maxResults=1&" + qs)
        self.assertLess(r.status, 500, r)
        self.assertNotEqual(r.status, 403, r)
        r = self.fleetd.raw("GET", "/things?maxResults=1&maxResults=2")
        self.assertLess(r.status, 500, r)
        r = self.fleetd.raw("GET", "/things?maxResults=abc")
        self.assertRawError(r, 400, "InvalidRequestException")
        r = self.fleetd.raw("GET", "/things?maxResults=99999999999999999999")
        self.assertRawError(r, 400, "InvalidRequestException")
        r = self.fleetd.raw("GET", "/things?usePrefixAttributeValue=maybe&attributeName=a&attributeValue=b")
        self.assertRawError(r, 400, "InvalidRequestException")
        r = self.fleetd.raw("GET", "/things?nextToken=%ZZ")
        self.assertLess(r.status, 500, r)
        r = self.fleetd.raw("GET", "/things?attributeName=" + "a" * 20000)
        self.assertLess(r.status, 500, r)

    def test_garbage_requests(self):
        for raw in (b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"GET /things HTTP/9.9\r\n\r\n",
                    b"GET /things HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                    b"POST /things/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
            with self.subTest(raw=raw[:30]):
                s = socket.create_connection((self.fleetd.host, self.fleetd.port), timeout=10)
                try:
                    s.sendall(raw)
                    s.shutdown(socket.SHUT_WR)
                    try:
                        s.recv(4096)
                    except (ConnectionResetError, socket.timeout):
                        pass
                finally:
                    s.close()

    def test_chunked_oversize(self):
        s = socket.create_connection((self.fleetd.host, self.fleetd.port), timeout=30)
        data = b""
        try:
            s.sendall(("POST /things/abuse-chunk HTTP/1.1\r\nHost: %s:%d\r\nTransfer-Encoding: chunked\r\n"
                       "Content-Type: application/json\r\n\r\n" % (self.fleetd.host, self.fleetd.port)).encode())
            chunk = b"x" * 65536
            try:
                for _ in range(40):  # 2.5 MiB
                    s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                s.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                while b"\r\n\r\n" not in data:
                    c = s.recv(65536)
                    if not c:
                        break
                    data += c
            except ConnectionResetError:
                pass
        finally:
            s.close()
        status = data.split(b"\r\n", 1)[0]
        self.assertTrue(status.startswith(b"HTTP/1.1 413") or status.startswith(b"HTTP/1.1 403"),
                        "chunked 2.5 MiB body: got %r" % data[:300])

    def test_many_connections(self):
        socks = []
        try:
            for _ in range(100):
                socks.append(socket.create_connection((self.fleetd.host, self.fleetd.port), timeout=10))
            r = self.fleetd.raw("GET", "/things?maxResults=1")
            self.assertEqual(r.status, 200, r)
        finally:
            for s in socks:
                s.close()


if __name__ == "__main__":
    unittest.main()
