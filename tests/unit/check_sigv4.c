/*
 * check_sigv4.c - unit tests for sigv4: AWS's published get-vanilla vectors,
 * vectors produced by botocore's SigV4Auth (the client fleetd must accept),
 * sign/verify round trips, every refusal, and very long inputs.
 *
 * Requests are built directly as struct http_req with a header lookup over a
 * small table, as the fuzzers do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sigv4.h"
#include "suites.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T_2015 1440938160000LL /* 20150830T123600Z */
#define T_2025 1764146700000LL /* 20251126T084500Z */
#define MIN_MS 60000LL
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char MISMATCH[] =
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details.";

/* ---- a request over a static header table ------------------------------- */

#define T_MAX_HDRS 16

struct treq {
    struct http_req req;
    struct http_kv hdr[T_MAX_HDRS];
    int nhdr;
    char *query; /* owned copy that query_raw points into */
};

static const char *t_header(void *ctx, const char *name)
{
    struct treq *t = ctx;
    for (int i = 0; i < t->nhdr; i++)
        if (strcasecmp(t->hdr[i].name, name) == 0)
            return t->hdr[i].value;
    return NULL;
}

/* query is the raw query string ("a=1&b"), split the way the transport does. */
static void t_init(struct treq *t, const char *method, const char *path, const char *query, const char *body)
{
    memset(t, 0, sizeof(*t));
    t->req.method = method;
    t->req.path = path;
    t->req.header = t_header;
    t->req.header_ctx = t;
    t->req.body = body;
    t->req.body_len = body ? strlen(body) : 0;
    if (query && *query) {
        t->query = strdup(query);
        ck_assert_ptr_nonnull(t->query);
        char *save = NULL;
        for (char *p = strtok_r(t->query, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
            ck_assert_int_lt(t->req.nquery, HTTP_MAX_QUERY);
            char *eq = strchr(p, '=');
            if (eq)
                *eq = '\0';
            t->req.query_raw[t->req.nquery].name = p;
            t->req.query_raw[t->req.nquery].value = eq ? eq + 1 : NULL;
            t->req.nquery++;
        }
    }
}

static void t_hdr(struct treq *t, const char *name, const char *value)
{
    for (int i = 0; i < t->nhdr; i++)
        if (strcasecmp(t->hdr[i].name, name) == 0) {
            t->hdr[i].value = (char *)value;
            return;
        }
    ck_assert_int_lt(t->nhdr, T_MAX_HDRS);
    t->hdr[t->nhdr].name = (char *)name;
    t->hdr[t->nhdr].value = (char *)value;
    t->nhdr++;
}

static void t_free(struct treq *t)
{
    free(t->query);
    t->query = NULL;
}

/* Parses the request's own Authorization header and verifies it. */
static enum fl_code t_verify(struct treq *t, const char *secret, int64_t now_ms, struct fl_err *err)
{
    struct sigv4_auth auth;
    fl_err_clear(err);
    enum fl_code rc = sigv4_parse_authorization(t_header(t, "authorization"), &auth, err);
    if (rc != FL_OK)
        return rc;
    return sigv4_verify(&t->req, &auth, secret, now_ms, err);
}

/* Signs t with every header it has but Authorization, and stores the
 * Authorization header. */
static void t_sign(struct treq *t, const char *raw_query, const char *service, char *out, size_t outlen)
{
    for (int i = 0; i < t->nhdr; i++)
        if (strcasecmp(t->hdr[i].name, "authorization") == 0)
            t->hdr[i--] = t->hdr[--t->nhdr];
    int rc = sigv4_sign(t->req.method, t->req.path, raw_query, t->hdr, t->nhdr, t->req.body, t->req.body_len,
                        AKID, SECRET, "us-east-1", service, out, outlen);
    ck_assert_int_eq(rc, 0);
    t_hdr(t, "Authorization", out);
}

/* ---- vectors: AWS's test suite and botocore 1.43 SigV4Auth ------------------- */

struct vec {
    const char *name, *method, *path, *query, *body, *service, *region;
    int64_t now_ms;
    const char *hdr[6][2];
    const char *auth;
};

/* Expected values from AWS's SigV4 test suite (get-vanilla,
 * get-vanilla-query-order-key-case) and from botocore.auth.SigV4Auth with
 * the clock pinned, on the same requests. */
static const struct vec vectors[] = {
    {"get-vanilla",
     "GET",
     "/",
     "",
     "",
     "service",
     "us-east-1",
     T_2015,
     {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-vanilla-query-order-key-case",
     "GET",
     "/",
     "Param2=value2&Param1=value1",
     "",
     "service",
     "us-east-1",
     T_2015,
     {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"query-space-unicode",
     "GET",
     "/things",
     "q=hello%20world&u=%E2%82%AC&a=1&tok=tok%2F%2B%3D%201",
     "",
     "iot",
     "us-east-1",
     T_2015,
     {{"Host", "127.0.0.1:8443"}, {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iot/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=73a8801521ad271a44db3bbd865d28c3ba6c9227d1140309efc7e04d3bb999f6"},
    {"path-2f-publish",
     "POST",
     "/topics/devices%2Fx",
     "qos=1&retain=false",
     "hello",
     "iotdata",
     "us-east-1",
     T_2015,
     {{"Host", "127.0.0.1:8443"}, {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iotdata/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=4e02cddc75fb91fa6e345ec6e551a377f9d3e540765d8593c16f2feabb259705"},
    {"jobs-next",
     "PUT",
     "/things/t1/jobs/$next",
     "",
     "{\"statusDetails\":{}}",
     "iot-jobs-data",
     "us-east-1",
     T_2015,
     {{"Host", "127.0.0.1:8443"}, {"Content-Type", "application/json"}, {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iot-jobs-data/aws4_request, "
     "SignedHeaders=content-type;host;x-amz-date, "
     "Signature=e35edf2a77d69292c3825fa92854631e2d01ebac49885778285cb4fcd163eed6"},
    {"post-json-no-payload-header",
     "POST",
     "/things/thing%3A1",
     "",
     "{\"attributePayload\":{\"attributes\":{\"a\":\"b\"}}}",
     "iot",
     "us-east-1",
     T_2025,
     {{"Host", "127.0.0.1:8443"}, {"Content-Type", "application/json"}, {"X-Amz-Date", "20251126T084500Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251126/us-east-1/iot/aws4_request, "
     "SignedHeaders=content-type;host;x-amz-date, "
     "Signature=0ce7fb62b03544e9b0572d8e01049789d3b3e0f913f0cc6b6f05994623e320e4"},
    {"content-sha256-execute-api",
     "GET",
     "/things",
     "maxResults=10",
     "",
     "execute-api",
     "us-east-1",
     T_2015,
     {{"Host", "127.0.0.1:8443"},
      {"X-Amz-Content-SHA256", EMPTY_SHA},
      {"X-Amz-User-Agent", "aws-sdk-js/3.0"},
      {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-user-agent, "
     "Signature=701267210e4bd510a5f3cc08bdba56a0d73bf70d89fa0e18f9ef358d37a99da0"},
    {"unsigned-payload",
     "POST",
     "/topics/a",
     "qos=0",
     "raw",
     "iotdata",
     "us-east-1",
     T_2015,
     {{"Host", "127.0.0.1:8443"},
      {"X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"},
      {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iotdata/aws4_request, "
     "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
     "Signature=8bedf8de20ca491d8fdba1de4ef0c2aa7a63609d2027358ba1f101dc07668cb2"},
    {"flag-query",
     "PUT",
     "/jobs/j1/cancel",
     "force",
     "",
     "iot",
     "us-east-1",
     T_2015,
     {{"Host", "127.0.0.1:8443"}, {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iot/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=f16f2061878f17fa9e1c1e3550ee31daab5c2e97e6ba54b4377dc17d368f4045"},
    {"header-value-spaces",
     "GET",
     "/",
     "",
     "",
     "service",
     "us-east-1",
     T_2015,
     {{"Host", "example.amazonaws.com"},
      {"My-Header1", "  value1   with    spaces  "},
      {"My-Header2", "\"a   b\""},
      {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
     "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
     "Signature=49e0100d57191b7bcd7c10deb7294ad7766058c2cf7b382175aa9910f334f694"},
    {"dot-segments",
     "GET",
     "/a/./b/../c//d/",
     "",
     "",
     "service",
     "us-east-1",
     T_2015,
     {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=07fc47830311f547240f25f97c1565bd7a705059e39e5d0c3e0c5287c2c4bcfc"},
    {"date-header",
     "GET",
     "/",
     "",
     "",
     "service",
     "us-east-1",
     T_2015,
     {{"Host", "example.amazonaws.com"}, {"Date", "Sun, 30 Aug 2015 12:36:00 -0000"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
     "SignedHeaders=date;host, Signature=7680771e48fa28c7db272da980f990fa8ee39dee61905c4203f5da9d3d48ac86"},
    {"eu-region",
     "GET",
     "/thing-groups",
     "recursive=true&maxResults=2",
     "",
     "iot",
     "eu-west-1",
     T_2015,
     {{"Host", "127.0.0.1:8443"}, {"X-Amz-Date", "20150830T123600Z"}},
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/iot/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=7c6deace022f9681a1a9d3c5e353501df20229186f1d9eb2dd94d581813db150"},
};

static void vec_req(const struct vec *v, struct treq *t)
{
    t_init(t, v->method, v->path, v->query, v->body);
    for (int i = 0; i < 6 && v->hdr[i][0]; i++)
        t_hdr(t, v->hdr[i][0], v->hdr[i][1]);
}

START_TEST(test_vector_sign)
{
    const struct vec *v = &vectors[_i];
    struct treq t;
    vec_req(v, &t);
    char out[512];
    int rc = sigv4_sign(v->method, v->path, v->query, t.hdr, t.nhdr, v->body, strlen(v->body), AKID, SECRET,
                        v->region, v->service, out, sizeof(out));
    ck_assert_msg(rc == 0, "%s: sign failed", v->name);
    ck_assert_msg(strcmp(out, v->auth) == 0, "%s:\n got %s\nwant %s", v->name, out, v->auth);
    t_free(&t);
}
END_TEST

START_TEST(test_vector_verify)
{
    const struct vec *v = &vectors[_i];
    struct treq t;
    vec_req(v, &t);
    t_hdr(&t, "Authorization", v->auth);
    struct fl_err err;
    enum fl_code rc = t_verify(&t, SECRET, v->now_ms, &err);
    ck_assert_msg(rc == FL_OK, "%s: %s", v->name, err.msg);

    /* Any change to what was signed must be refused. */
    ck_assert_int_eq(t_verify(&t, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ", v->now_ms, &err),
                     FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, MISMATCH);
    ck_assert_ptr_null(strstr(err.msg, SECRET));
    t.req.method = strcmp(v->method, "GET") == 0 ? "HEAD" : "GET";
    ck_assert_int_eq(t_verify(&t, SECRET, v->now_ms, &err), FL_INVALID_SIGNATURE);
    t.req.method = v->method;
    t.req.path = "/other";
    ck_assert_int_eq(t_verify(&t, SECRET, v->now_ms, &err), FL_INVALID_SIGNATURE);
    t.req.path = v->path;
    ck_assert_int_eq(t_verify(&t, SECRET, v->now_ms, &err), FL_OK);
    t_free(&t);
}
END_TEST

/* Both AWS suite vectors also verify the parse fields. */
START_TEST(test_parse_fields)
{
    struct sigv4_auth a;
    struct fl_err err;
    ck_assert_int_eq(sigv4_parse_authorization(vectors[6].auth, &a, &err), FL_OK);
    ck_assert_str_eq(a.access_key_id, AKID);
    ck_assert_str_eq(a.date, "20150830");
    ck_assert_str_eq(a.region, "us-east-1");
    ck_assert_str_eq(a.service, "execute-api");
    ck_assert_str_eq(a.signed_headers, "host;x-amz-content-sha256;x-amz-date;x-amz-user-agent");
    ck_assert_str_eq(a.signature, "701267210e4bd510a5f3cc08bdba56a0d73bf70d89fa0e18f9ef358d37a99da0");
}
END_TEST

/* ---- whitespace and case variants the parser accepts --------------------------- */

START_TEST(test_parse_whitespace_variants)
{
    static const char *const ok[] = {
        "AWS4-HMAC-SHA256 "
        "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,SignedHeaders=host;x-"
        "amz-date,Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "  AWS4-HMAC-SHA256   Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request "
        ",\tSignedHeaders="
        "host;x-amz-date ,  Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31  ",
        "AWS4-HMAC-SHA256\tSignature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31, "
        "SignedHeaders=host;x-amz-date, Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
    };
    struct treq t;
    t_init(&t, "GET", "/", "", "");
    t_hdr(&t, "Host", "example.amazonaws.com");
    t_hdr(&t, "X-Amz-Date", "20150830T123600Z");
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct sigv4_auth a;
        struct fl_err err;
        ck_assert_msg(sigv4_parse_authorization(ok[i], &a, &err) == FL_OK, "%zu: %s", i, err.msg);
        ck_assert_str_eq(a.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        ck_assert_int_eq(sigv4_verify(&t.req, &a, SECRET, T_2015, &err), FL_OK);
    }
    t_free(&t);
}
END_TEST

/* ---- refusals of the header itself ------------------------------------------- */

START_TEST(test_parse_missing)
{
    struct sigv4_auth a;
    struct fl_err err;
    ck_assert_int_eq(sigv4_parse_authorization(NULL, &a, &err), FL_MISSING_AUTH);
    ck_assert_str_eq(err.msg, "Missing Authentication Token");
    ck_assert_int_eq(sigv4_parse_authorization("", &a, &err), FL_MISSING_AUTH);
    ck_assert_int_eq(sigv4_parse_authorization(" \t ", &a, &err), FL_MISSING_AUTH);
}
END_TEST

struct bad {
    const char *hdr;
    const char *msg; /* prefix of the expected message */
};

#define CRED "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
#define SH "SignedHeaders=host;x-amz-date"
#define SIG "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
#define ALG "AWS4-HMAC-SHA256 "

static const struct bad bads[] = {
    {"Bearer abc", "Unsupported Authorization algorithm 'Bearer'"},
    {"AWS4-HMAC-SHA512 " CRED ", " SH ", " SIG, "Unsupported Authorization algorithm 'AWS4-HMAC-SHA512'"},
    {"aws4-hmac-sha256 " CRED ", " SH ", " SIG, "Unsupported Authorization algorithm"},
    {"AWS4-HMAC-SHA256," CRED ", " SH ", " SIG, "Unsupported Authorization algorithm"},
    {"AWS4-HMAC-SHA256", "Authorization header requires 'Credential' parameter. Authorization header "
                         "requires 'Signature' parameter. "
                         "Authorization header requires 'SignedHeaders' parameter."},
    {ALG "garbage", "Invalid key=value pair (missing equal-sign) in Authorization header: 'garbage'"},
    {ALG SH ", " SIG, "Authorization header requires 'Credential' parameter."},
    {ALG CRED ", " SIG, "Authorization header requires 'SignedHeaders' parameter."},
    {ALG CRED ", " SH, "Authorization header requires 'Signature' parameter."},
    {ALG CRED ", " SH ", Signature=", "Authorization header requires 'Signature' parameter."},
    {ALG CRED ", " SH ", " SIG ", " SIG, "Authorization header has more than one 'Signature' parameter."},
    {ALG CRED ", " SH ", " SIG ", Foo=bar", "Authorization header has an unknown parameter 'Foo'."},
    {ALG CRED ", " SH ", " SIG ",", "Authorization header ends with a comma."},
    {ALG CRED " " SH ", " SIG, "Authorization header parameters must be separated by commas"},
    {ALG "Credential=AKIDEXAMPLE/20150830/us-east-1/aws4_request, " SH ", " SIG,
     "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got "
     "'AKIDEXAMPLE/20150830/us-east-1/aws4_request'"},
    {ALG "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request/x, " SH ", " SIG,
     "Credential must have exactly 5 slash-delimited elements"},
    {ALG "Credential=/20150830/us-east-1/service/aws4_request, " SH ", " SIG,
     "The access key ID in the Credential is malformed"},
    {ALG "Credential=AKIDEXAMPLE/2015083/us-east-1/service/aws4_request, " SH ", " SIG,
     "Credential date must be in yyyymmdd format, got '2015083'"},
    {ALG "Credential=AKIDEXAMPLE/2015-08-30/us-east-1/service/aws4_request, " SH ", " SIG,
     "Credential date must be in yyyymmdd format"},
    {ALG "Credential=AKIDEXAMPLE/20150830//service/aws4_request, " SH ", " SIG,
     "Credential should be scoped to a valid region, not ''."},
    {ALG "Credential=AKIDEXAMPLE/20150830/US-EAST-1/service/aws4_request, " SH ", " SIG,
     "Credential should be scoped to a valid region, not 'US-EAST-1'."},
    {ALG "Credential=AKIDEXAMPLE/20150830/us-east-1/ser;vice/aws4_request, " SH ", " SIG,
     "Credential should be scoped to a valid service, not 'ser;vice'."},
    {ALG "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_requesT, " SH ", " SIG,
     "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requesT'."},
    {ALG CRED ", SignedHeaders=x-amz-date;host, " SIG,
     "SignedHeaders must be lowercase header names, sorted"},
    {ALG CRED ", SignedHeaders=Host;x-amz-date, " SIG,
     "SignedHeaders must be lowercase header names, sorted"},
    {ALG CRED ", SignedHeaders=host;host;x-amz-date, " SIG, "SignedHeaders must be lowercase header names"},
    {ALG CRED ", SignedHeaders=host;;x-amz-date, " SIG, "SignedHeaders must be lowercase header names"},
    {ALG CRED ", SignedHeaders=host;x-amz-date;, " SIG, "SignedHeaders must be lowercase header names"},
    {ALG CRED ", SignedHeaders=ho:st, " SIG, "SignedHeaders must be lowercase header names"},
    {ALG CRED ", " SH ", Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3",
     "Signature must be 64 hexadecimal characters."},
    {ALG CRED ", " SH ", Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf311",
     "Signature must be 64 hexadecimal characters."},
    {ALG CRED ", " SH ", Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3g",
     "Signature must be 64 hexadecimal characters."},
    {ALG "Credential=AKID\x01X/20150830/us-east-1/service/aws4_request, " SH ", " SIG,
     "The access key ID in the Credential is malformed: 'AKID?X'"},
};

START_TEST(test_parse_refusals)
{
    const struct bad *b = &bads[_i];
    struct sigv4_auth a;
    struct fl_err err;
    fl_err_clear(&err);
    enum fl_code rc = sigv4_parse_authorization(b->hdr, &a, &err);
    ck_assert_msg(rc == FL_INVALID_SIGNATURE, "%s: rc %d", b->hdr, rc);
    ck_assert_msg(strncmp(err.msg, b->msg, strlen(b->msg)) == 0, "%s:\n got %s\nwant %s", b->hdr, err.msg,
                  b->msg);
    ck_assert_str_eq(a.access_key_id, ""); /* nothing half-filled is left behind */
    ck_assert_str_eq(a.signature, "");
}
END_TEST

/* ---- refusals at verification -------------------------------------------------- */

static void vanilla(struct treq *t)
{
    vec_req(&vectors[0], t);
    t_hdr(t, "Authorization", vectors[0].auth);
}

START_TEST(test_verify_host_not_signed)
{
    struct treq t;
    vanilla(&t);
    struct sigv4_auth a;
    struct fl_err err;
    ck_assert_int_eq(sigv4_parse_authorization(ALG CRED ", SignedHeaders=x-amz-date, " SIG, &a, &err), FL_OK);
    ck_assert_int_eq(sigv4_verify(&t.req, &a, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    /* A name that merely contains "host" is not host. */
    ck_assert_int_eq(sigv4_parse_authorization(ALG CRED ", SignedHeaders=hostx;x-amz-date, " SIG, &a, &err),
                     FL_OK);
    ck_assert_int_eq(sigv4_verify(&t.req, &a, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    t_free(&t);
}
END_TEST

START_TEST(test_verify_bad_signature)
{
    struct treq t;
    vanilla(&t);
    struct fl_err err;
    t_hdr(&t, "Authorization",
          ALG CRED ", " SH ", Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf30");
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, MISMATCH);
    /* Another access key's scope region or service signs differently too. */
    t_hdr(&t, "Authorization",
          ALG "Credential=AKIDEXAMPLE/20150830/us-east-2/service/aws4_request, " SH ", " SIG);
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, MISMATCH);
    t_hdr(&t, "Authorization",
          ALG "Credential=AKIDEXAMPLE/20150830/us-east-1/iot/aws4_request, " SH ", " SIG);
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    t_free(&t);
}
END_TEST

START_TEST(test_verify_wrong_scope_date)
{
    struct treq t;
    vanilla(&t);
    struct fl_err err;
    t_hdr(&t, "Authorization",
          ALG "Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, " SH ", " SIG);
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg,
                     "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                     "from HTTP: '20150831' != '20150830', from '20150830T123600Z'.");
    t_free(&t);
}
END_TEST

START_TEST(test_verify_skew)
{
    struct treq t;
    vanilla(&t);
    struct fl_err err;
    /* Exactly 15 minutes either way is still accepted. */
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015 + 15 * MIN_MS, &err), FL_OK);
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015 - 15 * MIN_MS, &err), FL_OK);

    ck_assert_int_eq(t_verify(&t, SECRET, T_2015 + 15 * MIN_MS + 1000, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
                              "(20150830T125101Z - 15 min.)");
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015 + 9 * 60 * MIN_MS, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, "Signature expired: 20150830T123600Z is now earlier than 20150830T212100Z "
                              "(20150830T213600Z - 15 min.)");
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015 - 30 * MIN_MS, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg,
                     "Signature not yet current: 20150830T123600Z is still later than 20150830T122100Z "
                     "(20150830T120600Z + 15 min.)");
    t_free(&t);
}
END_TEST

START_TEST(test_verify_signed_header_missing)
{
    struct treq t;
    vec_req(&vectors[5], &t); /* signs content-type */
    t_hdr(&t, "Authorization", vectors[5].auth);
    struct fl_err err;
    ck_assert_int_eq(t_verify(&t, SECRET, T_2025, &err), FL_OK);
    t.hdr[1].name = "X-Content-Type"; /* the request no longer has content-type */
    ck_assert_int_eq(t_verify(&t, SECRET, T_2025, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, MISMATCH);
    t_free(&t);
}
END_TEST

START_TEST(test_verify_dates)
{
    struct treq t;
    struct fl_err err;
    t_init(&t, "GET", "/", "", "");
    t_hdr(&t, "Host", "example.amazonaws.com");
    t_hdr(&t, "Authorization", vectors[0].auth);
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg,
                     "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");

    static const char *const bad_amz[] = {"20150830T123600",
                                          "20150830T123600z",
                                          "2015-08-30T12:36:00Z",
                                          "20150230T123600Z",
                                          "20150830T243600Z",
                                          "20150830T126000Z",
                                          "",
                                          "20150830T123600Z "};
    for (size_t i = 0; i < sizeof(bad_amz) / sizeof(bad_amz[0]); i++) {
        t_hdr(&t, "X-Amz-Date", bad_amz[i]);
        ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
        ck_assert_msg(strncmp(err.msg, "Date must be in ISO-8601 'basic format'. Got '", 46) == 0, "%s",
                      err.msg);
    }
    /* A bad X-Amz-Date is not rescued by a good Date: X-Amz-Date wins. */
    t_hdr(&t, "Date", "Sun, 30 Aug 2015 12:36:00 GMT");
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    t_free(&t);

    /* The Date header in its accepted spellings; the date-header vector signs
     * "-0000", so the other zones reach the signature check and fail there. */
    vec_req(&vectors[11], &t);
    t_hdr(&t, "Authorization", vectors[11].auth);
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_OK);
    static const char *const zones[] = {"Sun, 30 Aug 2015 12:36:00 GMT", "Sun, 30 Aug 2015 12:36:00 UTC",
                                        "Sun, 30 Aug 2015 12:36:00 +0000"};
    for (size_t i = 0; i < 3; i++) {
        t_hdr(&t, "Date", zones[i]);
        ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
        ck_assert_str_eq(err.msg, MISMATCH);
    }
    static const char *const bad_http[] = {"Sun, 30 Aug 2015 12:36:00 PST", "Sun 30 Aug 2015 12:36:00 GMT",
                                           "Sun, 30 Agu 2015 12:36:00 GMT", "Sun, 31 Sep 2015 12:36:00 GMT",
                                           "Sun, 30 Aug 2015 12:36 GMT",    "2015-08-30T12:36:00Z"};
    for (size_t i = 0; i < sizeof(bad_http) / sizeof(bad_http[0]); i++) {
        t_hdr(&t, "Date", bad_http[i]);
        ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
        ck_assert_msg(strncmp(err.msg, "Date must be in RFC 7231 format", 31) == 0, "%s", err.msg);
    }
    t_free(&t);
}
END_TEST

START_TEST(test_verify_payload_hash)
{
    struct treq t;
    struct fl_err err;
    char auth[512];
    t_init(&t, "POST", "/things/t1", "", "{\"a\":1}");
    t_hdr(&t, "Host", "127.0.0.1:8443");
    t_hdr(&t, "X-Amz-Date", "20150830T123600Z");
    t_hdr(&t, "X-Amz-Content-SHA256", "4e65bd6d8d3bd13a1e0f2cbe5e6e77fbec2c8c3ac7ee6c8e0e8d0e6b7b0d1a5f");
    t_sign(&t, "", "iot", auth, sizeof(auth));
    /* Signed, but not the body's hash: the body would be unprotected. */
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, "The provided 'x-amz-content-sha256' header does not match what was computed.");

    /* The real hash, in either case, verifies; a changed body then does not. */
    t_hdr(&t, "X-Amz-Content-SHA256", "015ABD7F5CC57A2DD94B7590F04AD8084273905EE33EC5CEBEAE62276A97F862");
    t_sign(&t, "", "iot", auth, sizeof(auth));
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_OK);
    t.req.body = "{\"a\":2}";
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, "The provided 'x-amz-content-sha256' header does not match what was computed.");

    /* Without the header the server hashes the body itself. */
    t.nhdr = 0;
    t.req.body = "{\"a\":1}";
    t_hdr(&t, "Host", "127.0.0.1:8443");
    t_hdr(&t, "X-Amz-Date", "20150830T123600Z");
    t_sign(&t, "", "iot", auth, sizeof(auth));
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_OK);
    t.req.body = "{\"a\":2}";
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, MISMATCH);
    t_free(&t);
}
END_TEST

/* ---- canonicalisation details -------------------------------------------------- */

/* The server decodes and re-encodes the query, so equivalent encodings of the
 * same bytes verify, and a changed value does not. */
START_TEST(test_query_reencoding)
{
    struct treq t;
    struct fl_err err;
    char auth[512];
    t_init(&t, "GET", "/things", "q=a~b%20c&u=%E2%82%AC&flag&tok=%2B", "");
    t_hdr(&t, "Host", "h");
    t_hdr(&t, "X-Amz-Date", "20150830T123600Z");
    t_sign(&t, "q=a~b%20c&u=%E2%82%AC&flag&tok=%2B", "iot", auth, sizeof(auth));
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_OK);
    t_free(&t);

    static const char *const same[] = {"tok=%2b&flag=&u=%e2%82%ac&q=a%7Eb%20c",
                                       "u=%E2%82%AC&q=a~b%20c&tok=%2B&flag"};
    for (size_t i = 0; i < 2; i++) {
        t_init(&t, "GET", "/things", same[i], "");
        t_hdr(&t, "Host", "h");
        t_hdr(&t, "X-Amz-Date", "20150830T123600Z");
        t_hdr(&t, "Authorization", auth);
        ck_assert_msg(t_verify(&t, SECRET, T_2015, &err) == FL_OK, "%s: %s", same[i], err.msg);
        t_free(&t);
    }
    static const char *const differ[] = {"q=a~b+c&u=%E2%82%AC&flag&tok=%2B",
                                         "q=a~b%20c&u=%E2%82%AC&flag&tok=%2C", "q=a~b%20c&u=%E2%82%AC&flag",
                                         "q=a~b%20c&u=%E2%82%AC&flag&tok=%2B&x"};
    for (size_t i = 0; i < 4; i++) {
        t_init(&t, "GET", "/things", differ[i], "");
        t_hdr(&t, "Host", "h");
        t_hdr(&t, "X-Amz-Date", "20150830T123600Z");
        t_hdr(&t, "Authorization", auth);
        ck_assert_msg(t_verify(&t, SECRET, T_2015, &err) == FL_INVALID_SIGNATURE, "%s", differ[i]);
        t_free(&t);
    }
}
END_TEST

/* The canonical URI encodes the received path once more: "%2F" inside a
 * segment is not a separator, and "$" must be encoded. */
START_TEST(test_path_encoding)
{
    struct treq t;
    struct fl_err err;
    char auth[512];
    t_init(&t, "POST", "/topics/devices%2Fx", "", "");
    t_hdr(&t, "Host", "h");
    t_hdr(&t, "X-Amz-Date", "20150830T123600Z");
    t_sign(&t, "", "iotdata", auth, sizeof(auth));
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_OK);
    t.req.path = "/topics/devices/x"; /* a different resource */
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    t.req.path = "/topics/devices%2fx"; /* different bytes on the wire */
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    t.req.path = "";
    t_sign(&t, "", "iotdata", auth, sizeof(auth));
    t.req.path = "/"; /* empty path canonicalises as "/" */
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_OK);
    t.req.path = "/../.././/";
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_OK);
    t_free(&t);
}
END_TEST

/* ---- sign(): client-side refusals ----------------------------------------------- */

START_TEST(test_sign_refusals)
{
    struct http_kv h[3] = {{"Host", "h"}, {"X-Amz-Date", "20150830T123600Z"}, {"host", "h2"}};
    char out[512];
    ck_assert_int_eq(
        sigv4_sign("GET", "/", "", h, 2, "", 0, AKID, SECRET, "us-east-1", "iot", out, sizeof(out)), 0);
    static const char prefix[] =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iot/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=";
    ck_assert_int_eq(strncmp(out, prefix, strlen(prefix)), 0);
    ck_assert_int_eq(strlen(out), strlen(prefix) + 64);
    /* Out too small, by one: -1 and an empty string. */
    size_t need = strlen(out) + 1;
    ck_assert_int_eq(sigv4_sign("GET", "/", "", h, 2, "", 0, AKID, SECRET, "us-east-1", "iot", out, need), 0);
    ck_assert_int_eq(sigv4_sign("GET", "/", "", h, 2, "", 0, AKID, SECRET, "us-east-1", "iot", out, need - 1),
                     -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(sigv4_sign("GET", "/", "", h, 2, "", 0, AKID, SECRET, "us-east-1", "iot", out, 0), -1);
    /* Duplicate name (case-insensitive), no host, no date, bad date, bad name. */
    ck_assert_int_eq(
        sigv4_sign("GET", "/", "", h, 3, "", 0, AKID, SECRET, "us-east-1", "iot", out, sizeof(out)), -1);
    ck_assert_int_eq(
        sigv4_sign("GET", "/", "", h + 1, 1, "", 0, AKID, SECRET, "us-east-1", "iot", out, sizeof(out)), -1);
    ck_assert_int_eq(
        sigv4_sign("GET", "/", "", h, 1, "", 0, AKID, SECRET, "us-east-1", "iot", out, sizeof(out)), -1);
    struct http_kv bad_date[2] = {{"Host", "h"}, {"X-Amz-Date", "2015-08-30"}};
    ck_assert_int_eq(
        sigv4_sign("GET", "/", "", bad_date, 2, "", 0, AKID, SECRET, "us-east-1", "iot", out, sizeof(out)),
        -1);
    struct http_kv bad_name[3] = {{"Host", "h"}, {"X-Amz-Date", "20150830T123600Z"}, {"My Header", "v"}};
    ck_assert_int_eq(
        sigv4_sign("GET", "/", "", bad_name, 3, "", 0, AKID, SECRET, "us-east-1", "iot", out, sizeof(out)),
        -1);
    ck_assert_int_eq(
        sigv4_sign("GET", "/", "", NULL, 0, "", 0, AKID, SECRET, "us-east-1", "iot", out, sizeof(out)), -1);
}
END_TEST

/* ---- very long inputs ------------------------------------------------------------ */

static char *repeat(const char *unit, size_t times)
{
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

START_TEST(test_long_fields_refused)
{
    struct sigv4_auth a;
    struct fl_err err;
    char *big = repeat("A", 300);
    char *hdr = malloc(4096);
    ck_assert_ptr_nonnull(hdr);

    snprintf(hdr, 4096, ALG "Credential=%s/20150830/us-east-1/iot/aws4_request, " SH ", " SIG, big);
    ck_assert_int_eq(sigv4_parse_authorization(hdr, &a, &err), FL_INVALID_SIGNATURE);
    ck_assert_ptr_nonnull(strstr(err.msg, "access key ID"));
    ck_assert_int_lt(strlen(err.msg), 200); /* quoted input is truncated */

    char *region = repeat("a", 64); /* one more than fits */
    snprintf(hdr, 4096, ALG "Credential=AKID/20150830/%s/iot/aws4_request, " SH ", " SIG, region);
    ck_assert_int_eq(sigv4_parse_authorization(hdr, &a, &err), FL_INVALID_SIGNATURE);
    ck_assert_ptr_nonnull(strstr(err.msg, "valid region"));
    region[63] = '\0'; /* exactly fits */
    snprintf(hdr, 4096, ALG "Credential=AKID/20150830/%s/iot/aws4_request, " SH ", " SIG, region);
    ck_assert_int_eq(sigv4_parse_authorization(hdr, &a, &err), FL_OK);
    ck_assert_int_eq(strlen(a.region), 63);
    snprintf(hdr, 4096, ALG "Credential=AKID/20150830/us-east-1/%s/aws4_request, " SH ", " SIG, big);
    ck_assert_int_eq(sigv4_parse_authorization(hdr, &a, &err), FL_INVALID_SIGNATURE);
    free(region);

    /* SignedHeaders: 1023 characters fit, 1024 do not. */
    char sh[1100];
    size_t o = 0;
    for (int i = 0; o < 1023 - 4; i++)
        o += (size_t)snprintf(sh + o, sizeof(sh) - o, "%sh%03d", i ? ";" : "", i);
    while (o < 1023)
        sh[o++] = 'z';
    sh[o] = '\0';
    snprintf(hdr, 4096, ALG CRED ", SignedHeaders=%s, " SIG, sh);
    ck_assert_int_eq(sigv4_parse_authorization(hdr, &a, &err), FL_OK);
    ck_assert_int_eq(strlen(a.signed_headers), 1023);
    sh[o++] = 'z';
    sh[o] = '\0';
    snprintf(hdr, 4096, ALG CRED ", SignedHeaders=%s, " SIG, sh);
    ck_assert_int_eq(sigv4_parse_authorization(hdr, &a, &err), FL_INVALID_SIGNATURE);
    ck_assert_str_eq(err.msg, "SignedHeaders is too long (at most 1023 characters)");

    /* A huge header of garbage, and a huge signature. */
    char *junk = repeat("Credential=x,", 20000);
    ck_assert_int_eq(sigv4_parse_authorization(junk, &a, &err), FL_INVALID_SIGNATURE);
    free(junk);
    junk = repeat("f", 100000);
    memcpy(junk, "AWS4-HMAC-SHA256 Signature=", 27);
    ck_assert_int_eq(sigv4_parse_authorization(junk, &a, &err), FL_INVALID_SIGNATURE);
    free(junk);
    free(big);
    free(hdr);
}
END_TEST

/* A 30 KB path (also through the dot-segment path), 32 long query values, a
 * long header value and a 1 MB body: sign and verify agree, nothing overflows. */
START_TEST(test_long_request_round_trip)
{
    char *path = repeat("/seg%2F$x", 3000);
    char *dotted = repeat("/./a//b/..", 3000);
    char *qval = repeat("v%20+~", 100);
    char *hval = repeat("x  y\t", 2000);
    size_t blen = 1024 * 1024;
    char *body = malloc(blen + 1);
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < blen; i++)
        body[i] = (char)('a' + i % 26);
    body[blen] = '\0';
    size_t qcap = 32 * (strlen(qval) + 16);
    char *query = malloc(qcap);
    ck_assert_ptr_nonnull(query);
    size_t o = 0;
    for (int i = 0; i < HTTP_MAX_QUERY; i++)
        o += (size_t)snprintf(query + o, qcap - o, "%sk%02d=%s", i ? "&" : "", 31 - i, qval);

    const char *paths[2] = {path, dotted};
    for (int k = 0; k < 2; k++) {
        struct treq t;
        struct fl_err err;
        char auth[512];
        t_init(&t, "PUT", paths[k], query, body);
        ck_assert_int_eq(t.req.nquery, HTTP_MAX_QUERY);
        t_hdr(&t, "Host", "h");
        t_hdr(&t, "X-Amz-Date", "20150830T123600Z");
        t_hdr(&t, "X-Long", hval);
        t_sign(&t, query, "iot", auth, sizeof(auth));
        ck_assert_msg(t_verify(&t, SECRET, T_2015, &err) == FL_OK, "%s", err.msg);
        body[blen - 1] = 'A'; /* last byte of the body */
        ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
        body[blen - 1] = (char)('a' + (blen - 1) % 26);
        t_free(&t);
    }
    /* A 1000-byte secret (heap key buffer, HMAC key longer than a block);
     * expected value from botocore. */
    char *secret = repeat("s", 1000);
    struct http_kv h[2] = {{"host", "h"}, {"x-amz-date", "20150830T123600Z"}};
    char auth[512];
    ck_assert_int_eq(
        sigv4_sign("GET", "/", NULL, h, 2, NULL, 0, AKID, secret, "us-east-1", "iot", auth, sizeof(auth)), 0);
    ck_assert_str_eq(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iot/aws4_request, "
                           "SignedHeaders=host;x-amz-date, "
                           "Signature=dc2e1ca94c9d54de5c88204477f223b354a18f72910525e74ae3925520f3b7a0");
    struct treq t;
    struct fl_err err;
    t_init(&t, "GET", "/", "", NULL);
    t_hdr(&t, "host", "h");
    t_hdr(&t, "x-amz-date", "20150830T123600Z");
    t_hdr(&t, "authorization", auth);
    ck_assert_int_eq(t_verify(&t, secret, T_2015, &err), FL_OK);
    ck_assert_int_eq(t_verify(&t, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    t_free(&t);

    free(secret);
    free(path);
    free(dotted);
    free(qval);
    free(hval);
    free(body);
    free(query);
}
END_TEST

/* An auth struct not produced by the parser must not be read past its fields. */
START_TEST(test_verify_unsane_auth)
{
    struct treq t;
    vanilla(&t);
    struct sigv4_auth a;
    struct fl_err err;
    memset(&a, 'x', sizeof(a));
    ck_assert_int_eq(sigv4_verify(&t.req, &a, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    memset(&a, 0, sizeof(a));
    ck_assert_int_eq(sigv4_verify(&t.req, &a, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    t.req.header = NULL; /* no header accessor at all */
    ck_assert_int_eq(sigv4_parse_authorization(vectors[0].auth, &a, &err), FL_OK);
    ck_assert_int_eq(sigv4_verify(&t.req, &a, SECRET, T_2015, &err), FL_INVALID_SIGNATURE);
    t_free(&t);
}
END_TEST

Suite *sigv4_suite(void)
{
    Suite *s = suite_create("sigv4");
    TCase *tc = tcase_create("vectors");
    tcase_add_loop_test(tc, test_vector_sign, 0, (int)(sizeof(vectors) / sizeof(vectors[0])));
    tcase_add_loop_test(tc, test_vector_verify, 0, (int)(sizeof(vectors) / sizeof(vectors[0])));
    tcase_add_test(tc, test_parse_fields);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_whitespace_variants);
    tcase_add_test(tc, test_parse_missing);
    tcase_add_loop_test(tc, test_parse_refusals, 0, (int)(sizeof(bads) / sizeof(bads[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("verify");
    tcase_add_test(tc, test_verify_host_not_signed);
    tcase_add_test(tc, test_verify_bad_signature);
    tcase_add_test(tc, test_verify_wrong_scope_date);
    tcase_add_test(tc, test_verify_skew);
    tcase_add_test(tc, test_verify_signed_header_missing);
    tcase_add_test(tc, test_verify_dates);
    tcase_add_test(tc, test_verify_payload_hash);
    tcase_add_test(tc, test_verify_unsane_auth);
    suite_add_tcase(s, tc);

    tc = tcase_create("canonical");
    tcase_add_test(tc, test_query_reencoding);
    tcase_add_test(tc, test_path_encoding);
    tcase_add_test(tc, test_sign_refusals);
    suite_add_tcase(s, tc);

    tc = tcase_create("long");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_long_fields_refused);
    tcase_add_test(tc, test_long_request_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
