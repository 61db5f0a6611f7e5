/*
 * check_prehook.c - unit tests of the pre-provisioning hook
 * (server/core/prehook.c) with a fake c->http: validation of the hook
 * object, the payload sent, allow / deny, parameterOverrides, failures.
 */
#include <stdlib.h>
#include <string.h>

#include "prehook.h"
#include "suites.h"
#include "testutil.h"

/* What the fake HTTP client answers, and what it was sent. */
struct fake {
    enum fl_code rc;
    const char *errmsg;
    int status;
    const char *resp; /* NULL: no body */
    int calls;
    int timeout_ms;
    char url[256];
    json_t *sent;
};

static enum fl_code fake_post(void *ctx, const char *url, const char *body, size_t len, int timeout_ms,
                              int *status, char **resp, size_t *resp_len, struct fl_err *err)
{
    struct fake *f = ctx;
    f->calls++;
    f->timeout_ms = timeout_ms;
    snprintf(f->url, sizeof(f->url), "%s", url);
    json_decref(f->sent);
    f->sent = json_loadb(body, len, 0, NULL);
    *resp = NULL;
    *resp_len = 0;
    if (f->rc != FL_OK)
        return fl_err_set(err, f->rc, "%s", f->errmsg);
    *status = f->status;
    if (f->resp) {
        *resp = strdup(f->resp);
        *resp_len = strlen(f->resp);
    }
    return FL_OK;
}

static struct fl_core *c;
static struct fl_err err;
static struct fake fk;
static json_t *hook, *params;
static struct prehook_in in;

static void setup(void)
{
    c = tu_core();
    fl_err_clear(&err);
    memset(&fk, 0, sizeof(fk));
    fk.status = 200;
    c->http.post = fake_post;
    c->http.ctx = &fk;
    hook = json_pack("{s:s,s:s}", "targetArn", "https://hooks.example.com/prov?k=1", "payloadVersion",
                     "2020-04-01");
    params = json_pack("{s:s,s:s}", "SerialNumber", "123", "HardwareRevision", "v1");
    in = (struct prehook_in){.claim_certificate_id = "claimid",
                             .certificate_id = "newid",
                             .certificate_pem = "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",
                             .template_arn = "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/T",
                             .client_id = "dev-1",
                             .parameters = params};
}

static void teardown(void)
{
    json_decref(fk.sent);
    json_decref(hook);
    json_decref(params);
    tu_core_free(c);
}

static void validate_bad(const char *json, const char *want)
{
    json_t *h = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_msg(prehook_validate(h, &err) == FL_INVALID_REQUEST, "%s accepted", json);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s: message %s", json, err.msg);
    json_decref(h);
}

START_TEST(validate)
{
    ck_assert_int_eq(prehook_validate(hook, &err), FL_OK);
    ck_assert_int_eq(prehook_validate(NULL, &err), FL_OK);
    json_t *h = json_pack("{s:s}", "targetArn", "HTTP://127.0.0.1:8080");
    ck_assert_int_eq(prehook_validate(h, &err), FL_OK);
    json_decref(h);
    validate_bad("{\"targetArn\":\"arn:aws:lambda:us-east-1:123456789012:function:pre\"}",
                 "http:// or https://");
    validate_bad("{\"targetArn\":\"ftp://x/\"}", "http:// or https://");
    validate_bad("{\"targetArn\":\"http://\"}", "http:// or https://");
    validate_bad("{\"targetArn\":\"http:///path\"}", "http:// or https://");
    validate_bad("{\"targetArn\":\"http://u:p@host/\"}", "http:// or https://");
    validate_bad("{\"targetArn\":\"http://host/a b\"}", "http:// or https://");
    validate_bad("{\"targetArn\":7}", "targetArn");
    validate_bad("{}", "targetArn");
    validate_bad("[]", "must be an object");
    validate_bad("{\"targetArn\":\"http://h/\",\"payloadVersion\":\"2019-01-01\"}", "2020-04-01");
    char *longurl = malloc(2100);
    strcpy(longurl, "http://h/");
    memset(longurl + 9, 'a', 2040);
    longurl[2049] = '\0';
    h = json_pack("{s:s}", "targetArn", longurl);
    ck_assert_int_eq(prehook_validate(h, &err), FL_INVALID_REQUEST);
    json_decref(h);
    longurl[2048] = '\0';
    h = json_pack("{s:s}", "targetArn", longurl);
    ck_assert_int_eq(prehook_validate(h, &err), FL_OK);
    json_decref(h);
    free(longurl);
}
END_TEST

START_TEST(allow_sends_payload)
{
    fk.resp = "{\"allowProvisioning\":true}";
    ck_assert_msg(prehook_run(c, hook, &in, &err) == FL_OK, "%s", err.msg);
    ck_assert_int_eq(fk.calls, 1);
    ck_assert_int_eq(fk.timeout_ms, PREHOOK_TIMEOUT_MS);
    ck_assert_str_eq(fk.url, "https://hooks.example.com/prov?k=1");
    json_t *want =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "claimCertificateId", "claimid", "certificateId",
                  "newid", "certificatePem", in.certificate_pem, "templateArn", in.template_arn, "clientId",
                  "dev-1", "parameters", "SerialNumber", "123", "HardwareRevision", "v1");
    ck_assert_msg(json_equal(fk.sent, want), "sent %s", json_dumps(fk.sent, JSON_COMPACT));
    json_decref(want);
    ck_assert_int_eq(json_object_size(params), 2);
    /* AWS's note spells it as a string too */
    fk.resp = "{\"allowProvisioning\":\"true\"}";
    ck_assert_int_eq(prehook_run(c, hook, &in, &err), FL_OK);
}
END_TEST

START_TEST(overrides_merged)
{
    fk.resp = "{\"allowProvisioning\":true,\"parameterOverrides\":{\"HardwareRevision\":\"v9\",\"Location\":"
              "\"Seattle\"}}";
    ck_assert_msg(prehook_run(c, hook, &in, &err) == FL_OK, "%s", err.msg);
    json_t *want =
        json_pack("{s:s,s:s,s:s}", "SerialNumber", "123", "HardwareRevision", "v9", "Location", "Seattle");
    ck_assert_msg(json_equal(params, want), "params %s", json_dumps(params, JSON_COMPACT));
    json_decref(want);
}
END_TEST

static void denied(const char *want)
{
    json_t *before = json_deep_copy(params);
    ck_assert_int_eq(prehook_run(c, hook, &in, &err), FL_ACCESS_DENIED);
    ck_assert_int_eq(err.code, FL_ACCESS_DENIED);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message %s lacks %s", err.msg, want);
    ck_assert_msg(strstr(err.msg, "hooks.example.com") == NULL, "the URL is not for devices: %s", err.msg);
    ck_assert(json_equal(before, params)); /* a refusal changes nothing */
    json_decref(before);
}

START_TEST(deny)
{
    fk.resp = "{\"allowProvisioning\":false,\"parameterOverrides\":{\"SerialNumber\":\"x\"}}";
    denied("refused");
    fk.resp = "{\"parameterOverrides\":{}}";
    denied("refused");
    fk.resp = "{\"allowProvisioning\":1}";
    denied("refused");
}
END_TEST

START_TEST(failures)
{
    fk.status = 500;
    fk.resp = "{\"allowProvisioning\":true}";
    denied("failed");
    fk.status = 302;
    denied("failed");
    fk.status = 200;
    fk.resp = "<html>hi</html>";
    denied("JSON object");
    fk.resp = NULL;
    denied("JSON object");
    fk.resp = "[true]";
    denied("JSON object");
    fk.resp = "{\"allowProvisioning\":true,\"parameterOverrides\":{\"a\":1}}";
    denied("strings");
    fk.resp = "{\"allowProvisioning\":true,\"parameterOverrides\":[1]}";
    denied("not an object");
    fk.rc = FL_UNAVAILABLE;
    fk.errmsg = "timed out waiting for the response";
    denied("within 5 seconds");
    fk.errmsg = "cannot connect to 127.0.0.1:9: Connection refused";
    denied("could not be reached");
    fk.rc = FL_INVALID_REQUEST;
    fk.errmsg = "cannot call x: bad URL";
    denied("could not be reached");
    c->http.post = NULL;
    denied("no HTTP client");
    json_t *nohook = json_object();
    ck_assert_int_eq(prehook_run(c, nohook, &in, &err), FL_ACCESS_DENIED);
    json_decref(nohook);
}
END_TEST

START_TEST(no_parameters)
{
    in.parameters = NULL;
    in.client_id = NULL;
    fk.resp = "{\"allowProvisioning\":true,\"parameterOverrides\":{\"a\":\"b\"}}";
    ck_assert_msg(prehook_run(c, hook, &in, &err) == FL_OK, "%s", err.msg);
    ck_assert(json_is_object(json_object_get(fk.sent, "parameters")));
    ck_assert_int_eq(json_object_size(json_object_get(fk.sent, "parameters")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(fk.sent, "clientId")), "");
}
END_TEST

Suite *prehook_suite(void)
{
    Suite *s = suite_create("prehook");
    TCase *tc = tcase_create("hook");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, validate);
    tcase_add_test(tc, allow_sends_payload);
    tcase_add_test(tc, overrides_merged);
    tcase_add_test(tc, deny);
    tcase_add_test(tc, failures);
    tcase_add_test(tc, no_parameters);
    suite_add_tcase(s, tc);
    return s;
}
