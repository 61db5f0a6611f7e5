/*
 * check_payload.c - unit tests of the MQTT payload codec
 * (broker-plugin/payload.c): JSON and CBOR decoding, the limits, refusals
 * and encode/decode round trips.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "suites.h"

static json_t *dec_ok(enum payload_fmt fmt, const void *buf, size_t len)
{
    json_t *v = NULL;
    struct fl_err err;
    fl_err_clear(&err);
    enum fl_code rc = payload_decode(fmt, buf, len, &v, &err);
    ck_assert_msg(rc == FL_OK, "decode: %s", err.msg);
    ck_assert_ptr_nonnull(v);
    ck_assert(json_is_object(v));
    return v;
}

/* Decodes and expects a refusal whose message contains want. */
static void dec_bad(enum payload_fmt fmt, const void *buf, size_t len, const char *want)
{
    json_t *v = (json_t *)1;
    struct fl_err err;
    fl_err_clear(&err);
    ck_assert_int_eq(payload_decode(fmt, buf, len, &v, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_null(v);
    ck_assert_int_eq(err.code, FL_INVALID_REQUEST);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message \"%s\" lacks \"%s\"", err.msg, want);
}

#define DEC_OK(fmt, lit) dec_ok(fmt, lit, sizeof(lit) - 1)
#define DEC_BAD(fmt, lit, want) dec_bad(fmt, lit, sizeof(lit) - 1, want)

START_TEST(fmt_names)
{
    enum payload_fmt f = PAYLOAD_CBOR;
    ck_assert_int_eq(payload_fmt_from_name("json", 4, &f), 0);
    ck_assert_int_eq(f, PAYLOAD_JSON);
    ck_assert_int_eq(payload_fmt_from_name("cbor/accepted", 4, &f), 0);
    ck_assert_int_eq(f, PAYLOAD_CBOR);
    ck_assert_int_eq(payload_fmt_from_name("JSON", 4, &f), -1);
    ck_assert_int_eq(payload_fmt_from_name("jso", 3, &f), -1);
    ck_assert_int_eq(payload_fmt_from_name("jsonx", 5, &f), -1);
    ck_assert_int_eq(payload_fmt_from_name("", 0, &f), -1);
}
END_TEST

START_TEST(empty_is_object)
{
    json_t *v = dec_ok(PAYLOAD_JSON, "", 0);
    ck_assert_int_eq(json_object_size(v), 0);
    json_decref(v);
    v = dec_ok(PAYLOAD_CBOR, NULL, 0);
    ck_assert_int_eq(json_object_size(v), 0);
    json_decref(v);
}
END_TEST

START_TEST(json_requests)
{
    json_t *v =
        DEC_OK(PAYLOAD_JSON, "{\"certificateOwnershipToken\":\"t\",\"parameters\":{\"SerialNumber\":\"1\"}}");
    ck_assert_str_eq(json_string_value(json_object_get(v, "certificateOwnershipToken")), "t");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "parameters"), "SerialNumber")),
                     "1");
    json_decref(v);
    DEC_BAD(PAYLOAD_JSON, "[1]", "must be a JSON object");
    DEC_BAD(PAYLOAD_JSON, "\"x\"", "not valid JSON");
    DEC_BAD(PAYLOAD_JSON, "{", "not valid JSON");
    DEC_BAD(PAYLOAD_JSON, "{} {}", "not valid JSON");
    DEC_BAD(PAYLOAD_JSON, "{\"a\":1,\"a\":2}", "duplicate");
    DEC_BAD(PAYLOAD_JSON, "{\"a\":\"\\u0000\"}", "not valid JSON");
    DEC_BAD(PAYLOAD_JSON, "{\"a\":\"\xc3\x28\"}", "not valid JSON");
}
END_TEST

/* n nested objects {"a":{"a":...1}} in fmt. */
static void nested(enum payload_fmt fmt, int n, char **buf, size_t *len)
{
    json_t *v = json_integer(1);
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "a", v);
        v = o;
    }
    ck_assert_int_eq(payload_encode(fmt, v, buf, len), 0);
    json_decref(v);
}

START_TEST(depth_limits)
{
    for (int f = PAYLOAD_JSON; f <= PAYLOAD_CBOR; f++) {
        char *buf;
        size_t len;
        nested(f, PAYLOAD_MAX_DEPTH, &buf, &len);
        json_decref(dec_ok(f, buf, len));
        free(buf);
        nested(f, PAYLOAD_MAX_DEPTH + 1, &buf, &len);
        dec_bad(f, buf, len, f == PAYLOAD_JSON ? "deeper than" : "nested too deeply");
        free(buf);
    }
    /* far deeper than any limit, without recursion trouble */
    size_t n = 100000;
    char *deep = malloc(n);
    memset(deep, 0x81, n); /* CBOR: array of one element, nested */
    dec_bad(PAYLOAD_CBOR, deep, n, "nested too deeply");
    memset(deep, '[', n);
    dec_bad(PAYLOAD_JSON, deep, n, "not valid JSON");
    free(deep);
}
END_TEST

START_TEST(size_limit)
{
    size_t n = PAYLOAD_MAX_BYTES + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    dec_bad(PAYLOAD_JSON, big, n, "larger than");
    dec_bad(PAYLOAD_CBOR, big, n, "larger than");
    big[n - 2] = '}'; /* exactly PAYLOAD_MAX_BYTES is accepted */
    json_decref(dec_ok(PAYLOAD_JSON, big, n - 1));
    free(big);
}
END_TEST

START_TEST(cbor_types)
{
    /* {"u":5,"n":-10,"big":2^63-1,"h":1.0(half),"f":1.5(single),"d":2.5,"t":true,"x":false,"z":null,
     *  "un":undefined,"tag":1(1),"arr":[1,"x",{}],"s":"é"} */
    static const unsigned char b[] = {
        0xad,                                                                        /* map(13) */
        0x61, 'u', 0x05,                                                             /* */
        0x61, 'n', 0x29,                                                             /* -10 */
        0x63, 'b', 'i',  'g',  0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* */
        0x61, 'h', 0xf9, 0x3c, 0x00,                                                 /* */
        0x61, 'f', 0xfa, 0x3f, 0xc0, 0x00, 0x00,                                     /* */
        0x61, 'd', 0xfb, 0x40, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,             /* */
        0x61, 't', 0xf5,                                                             /* */
        0x61, 'x', 0xf4,                                                             /* */
        0x61, 'z', 0xf6,                                                             /* */
        0x62, 'u', 'n',  0xf7,                                                       /* */
        0x63, 't', 'a',  'g',  0xc1, 0x01,                                           /* */
        0x63, 'a', 'r',  'r',  0x83, 0x01, 0x61, 'x',  0xa0,                         /* */
        0x61, 's', 0x62, 0xc3, 0xa9,                                                 /* */
    };
    json_t *v = dec_ok(PAYLOAD_CBOR, b, sizeof(b));
    json_t *want = json_pack("{s:i,s:i,s:I,s:f,s:f,s:f,s:b,s:b,s:n,s:n,s:i,s:[i,s,{}],s:s}", "u", 5, "n", -10,
                             "big", (json_int_t)INT64_MAX, "h", 1.0, "f", 1.5, "d", 2.5, "t", 1, "x", 0, "z",
                             "un", "tag", 1, "arr", 1, "x", "s", "\xc3\xa9");
    ck_assert_ptr_nonnull(want);
    ck_assert_msg(json_equal(v, want), "got %s", json_dumps(v, JSON_COMPACT));
    json_decref(want);
    json_decref(v);
}
END_TEST

START_TEST(cbor_indefinite)
{
    /* {_ "a": [_ 1, 2], "s": (_ "ab", "cd") } */
    static const unsigned char b[] = {0xbf, 0x61, 'a', 0x9f, 0x01, 0x02, 0xff, 0x61, 's',
                                      0x7f, 0x62, 'a', 'b',  0x62, 'c',  'd',  0xff, 0xff};
    json_t *v = dec_ok(PAYLOAD_CBOR, b, sizeof(b));
    json_t *want = json_pack("{s:[i,i],s:s}", "a", 1, 2, "s", "abcd");
    ck_assert(json_equal(v, want));
    json_decref(want);
    json_decref(v);
}
END_TEST

START_TEST(cbor_refusals)
{
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "b\x43"
            "abc",
            "byte strings");
    DEC_BAD(PAYLOAD_CBOR, "\xa1\x01\x02", "not a text string");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "x\x1b\xff\xff\xff\xff\xff\xff\xff\xff",
            "out of range");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "x\x3b\x80\x00\x00\x00\x00\x00\x00\x00",
            "out of range");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "x\xf9\x7e\x00",
            "NaN");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "x\xf9\x7c\x00",
            "NaN");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa2\x61"
            "a\x01",
            "truncated");
    DEC_BAD(PAYLOAD_CBOR, "\xa0\x00", "trailing");
    DEC_BAD(PAYLOAD_CBOR, "\xff", "break outside");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "a\xf8\x20",
            "malformed"); /* simple value 32 */
    DEC_BAD(PAYLOAD_CBOR, "\x80", "must be a CBOR map");
    DEC_BAD(PAYLOAD_CBOR, "\x01", "must be a CBOR map");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa2\x61"
            "a\x01\x61"
            "a\x02",
            "duplicate");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "a\x62\xc3\x28",
            "UTF-8");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "a\x61\x00",
            "NUL");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "a\x7f\x01\xff",
            "non-text chunk");
    DEC_BAD(PAYLOAD_CBOR,
            "\xbf\x61"
            "a\xff",
            "no value");
    DEC_BAD(PAYLOAD_CBOR, "\xbb\xff\xff\xff\xff\xff\xff\xff\xff", "too large");
    DEC_BAD(PAYLOAD_CBOR, "\xbb\x7f\xff\xff\xff\xff\xff\xff\xff", "truncated");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "a\x7b\xff\xff\xff\xff\xff\xff\xff\xff",
            "truncated");
    DEC_BAD(PAYLOAD_CBOR,
            "\xa1\x61"
            "a\xc1",
            "truncated");
}
END_TEST

static void round_trip(json_t *v)
{
    for (int f = PAYLOAD_JSON; f <= PAYLOAD_CBOR; f++) {
        char *buf;
        size_t len;
        ck_assert_int_eq(payload_encode(f, v, &buf, &len), 0);
        json_t *back = dec_ok(f, buf, len);
        ck_assert_msg(json_equal(v, back), "format %d: %s", f, json_dumps(back, JSON_COMPACT));
        json_decref(back);
        free(buf);
    }
}

START_TEST(round_trips)
{
    json_t *v = json_pack("{s:s,s:s,s:{s:s,s:s},s:[i,I,I,f,f,b,n,{},[]]}", "certificateId", "abc",
                          "certificatePem", "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n",
                          "deviceConfiguration", "k", "v", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "misc", 0,
                          (json_int_t)INT64_MIN, (json_int_t)INT64_MAX, -0.0, 1e-310, 1, "");
    ck_assert_ptr_nonnull(v);
    round_trip(v);
    json_decref(v);
    v = json_object();
    round_trip(v);
    json_decref(v);
    /* a long string and a large map need multi-byte CBOR heads */
    v = json_object();
    char key[16];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(v, key, json_integer(i * 1000));
    }
    char *s = malloc(70000);
    memset(s, 'x', 69999);
    s[69999] = '\0';
    json_object_set_new(v, "long", json_string(s));
    free(s);
    round_trip(v);
    json_decref(v);
}
END_TEST

START_TEST(encode_shapes)
{
    char *buf;
    size_t len;
    json_t *v = json_pack("{s:s}", "a", "b");
    ck_assert_int_eq(payload_encode(PAYLOAD_JSON, v, &buf, &len), 0);
    ck_assert_uint_eq(len, strlen("{\"a\":\"b\"}"));
    ck_assert(memcmp(buf, "{\"a\":\"b\"}", len) == 0);
    free(buf);
    ck_assert_int_eq(payload_encode(PAYLOAD_CBOR, v, &buf, &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(buf,
                     "\xa1\x61"
                     "a\x61"
                     "b",
                     5) == 0);
    free(buf);
    json_decref(v);
    ck_assert_int_eq(payload_encode(PAYLOAD_CBOR, NULL, &buf, &len), -1);
}
END_TEST

Suite *payload_suite(void)
{
    Suite *s = suite_create("payload");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, fmt_names);
    tcase_add_test(tc, empty_is_object);
    tcase_add_test(tc, json_requests);
    tcase_add_test(tc, depth_limits);
    tcase_add_test(tc, size_limit);
    tcase_add_test(tc, cbor_types);
    tcase_add_test(tc, cbor_indefinite);
    tcase_add_test(tc, cbor_refusals);
    tcase_add_test(tc, round_trips);
    tcase_add_test(tc, encode_shapes);
    suite_add_tcase(s, tc);
    return s;
}
