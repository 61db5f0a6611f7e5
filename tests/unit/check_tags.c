/*
 * check_tags.c - unit tests of resource tags (server/core/tags.c) on thing
 * groups and thing types, and of DescribeEndpoint (server/core/endpoint.c,
 * too small for a suite of its own).
 */
#include <stdio.h>
#include <string.h>

#include "endpoint.h"
#include "page.h"
#include "suites.h"
#include "tags.h"
#include "testutil.h"
#include "thing_groups.h"
#include "thing_types.h"

#define GARN "arn:aws:iot:us-east-1:123456789012:thinggroup/G"
#define TARN "arn:aws:iot:us-east-1:123456789012:thingtype/T"

static struct fl_core *c;
static struct fl_err err;

static void setup(void)
{
    c = tu_core();
    fl_err_clear(&err);
    struct thing_group_create_in in = {.name = "G"};
    json_t *out = NULL;
    ck_assert_int_eq(thing_groups_create(c, &in, &out, &err), FL_OK);
    json_decref(out);
    struct thing_types_ref ref;
    ck_assert_msg(thing_types_create(c, "T", NULL, NULL, &ref, &err) == FL_OK, "type: %s", err.msg);
}

static void teardown(void)
{
    tu_core_free(c);
}

/* "k=v,k=v" of every tag of arn (all pages, page size max). */
static const char *tag_str(const char *arn, int max, char *buf, size_t n)
{
    char tok[PAGE_TOKEN_MAX] = "";
    size_t off = 0;
    buf[0] = '\0';
    for (int pages = 0; pages < 100; pages++) {
        json_t *out = NULL;
        enum fl_code rc = tags_list(c, arn, tok[0] ? tok : NULL, max, &out, &err);
        ck_assert_msg(rc == FL_OK, "tags_list: %s", err.msg);
        json_t *arr = json_object_get(out, "tags"), *t;
        size_t i;
        ck_assert_int_le((int)json_array_size(arr), max);
        json_array_foreach (arr, i, t) {
            off += (size_t)snprintf(buf + off, n - off, "%s%s=%s", off ? "," : "",
                                    json_string_value(json_object_get(t, "Key")),
                                    json_string_value(json_object_get(t, "Value")));
        }
        json_t *next = json_object_get(out, "nextToken");
        if (next == NULL) {
            json_decref(out);
            return buf;
        }
        snprintf(tok, sizeof(tok), "%s", json_string_value(next));
        json_decref(out);
    }
    ck_abort_msg("pagination does not end");
    return buf;
}

static enum fl_code tag1(const char *arn, const char *key, const char *value)
{
    json_t *tags =
        value ? json_pack("[{s:s,s:s}]", "Key", key, "Value", value) : json_pack("[{s:s}]", "Key", key);
    enum fl_code rc = tags_tag_resource(c, arn, tags, &err);
    json_decref(tags);
    return rc;
}

START_TEST(test_crud)
{
    char buf[1024];
    ck_assert_str_eq(tag_str(GARN, 250, buf, sizeof(buf)), "");
    json_t *tags = json_pack("[{s:s,s:s},{s:s,s:s},{s:s}]", "Key", "env", "Value", "prod", "Key", "app",
                             "Value", "lights", "Key", "empty");
    ck_assert_int_eq(tags_tag_resource(c, GARN, tags, &err), FL_OK);
    json_decref(tags);
    ck_assert_str_eq(tag_str(GARN, 250, buf, sizeof(buf)), "app=lights,empty=,env=prod");
    ck_assert_int_eq(tag1(GARN, "env", "dev"), FL_OK); /* overwrite */
    ck_assert_str_eq(tag_str(GARN, 250, buf, sizeof(buf)), "app=lights,empty=,env=dev");

    json_t *keys = json_pack("[s,s]", "app", "not-there");
    ck_assert_int_eq(tags_untag_resource(c, GARN, keys, &err), FL_OK);
    json_decref(keys);
    ck_assert_str_eq(tag_str(GARN, 250, buf, sizeof(buf)), "empty=,env=dev");

    /* thing types are taggable too, separately */
    ck_assert_int_eq(tag1(TARN, "kind", "bulb"), FL_OK);
    ck_assert_str_eq(tag_str(TARN, 250, buf, sizeof(buf)), "kind=bulb");
    ck_assert_str_eq(tag_str(GARN, 250, buf, sizeof(buf)), "empty=,env=dev");

    /* unicode keys and values and the allowed punctuation */
    ck_assert_int_eq(tag1(GARN, "caf\xc3\xa9 k_.:/=+-@", "v\xc3\xa4lue !"), FL_OK);

    /* missing pieces */
    ck_assert_int_eq(tags_tag_resource(c, GARN, NULL, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(tags_untag_resource(c, GARN, NULL, &err), FL_INVALID_REQUEST);
    keys = json_pack("[i]", 1);
    ck_assert_int_eq(tags_untag_resource(c, GARN, keys, &err), FL_INVALID_REQUEST);
    json_decref(keys);
    keys = json_pack("[s]", "");
    ck_assert_int_eq(tags_untag_resource(c, GARN, keys, &err), FL_INVALID_REQUEST);
    json_decref(keys);
}
END_TEST

START_TEST(test_arns)
{
    json_t *out = NULL, *keys = json_pack("[s]", "k");
    ck_assert_int_eq(tag1("arn:aws:iot:us-east-1:123456789012:thinggroup/Nope", "k", "v"), FL_NOT_FOUND);
    ck_assert_int_eq(tag1("arn:aws:iot:us-east-1:123456789012:thingtype/Nope", "k", "v"), FL_NOT_FOUND);
    ck_assert_int_eq(tags_list(c, "arn:aws:iot:us-east-1:123456789012:thinggroup/Nope", NULL, 0, &out, &err),
                     FL_NOT_FOUND);
    ck_assert_int_eq(tags_untag_resource(c, "arn:aws:iot:us-east-1:123456789012:thinggroup/Nope", keys, &err),
                     FL_NOT_FOUND);
    /* another account or region: nothing of ours */
    ck_assert_int_eq(tag1("arn:aws:iot:eu-west-1:123456789012:thinggroup/G", "k", "v"), FL_NOT_FOUND);
    ck_assert_int_eq(tag1("arn:aws:iot:us-east-1:999999999999:thinggroup/G", "k", "v"), FL_NOT_FOUND);
    /* ours, but not a taggable kind */
    ck_assert_int_eq(tag1("arn:aws:iot:us-east-1:123456789012:thing/G", "k", "v"), FL_INVALID_REQUEST);
    /* not ARNs */
    ck_assert_int_eq(tag1("G", "k", "v"), FL_INVALID_REQUEST);
    ck_assert_int_eq(tag1("arn:aws:iot", "k", "v"), FL_INVALID_REQUEST);
    ck_assert_int_eq(tag1("", "k", "v"), FL_INVALID_REQUEST);
    ck_assert_int_eq(tags_list(c, NULL, NULL, 0, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(tags_list(c, GARN, "bogus", 0, &out, &err), FL_INVALID_REQUEST);
    json_decref(keys);
}
END_TEST

START_TEST(test_validation)
{
    char k129[130], v257[258], buf[300];
    memset(k129, 'k', 129);
    k129[129] = '\0';
    memset(v257, 'v', 257);
    v257[257] = '\0';
    ck_assert_int_eq(tag1(GARN, "", "v"), FL_INVALID_REQUEST);
    ck_assert_int_eq(tag1(GARN, k129, "v"), FL_INVALID_REQUEST);
    k129[128] = '\0';
    ck_assert_int_eq(tag1(GARN, k129, "v"), FL_OK);
    ck_assert_int_eq(tag1(GARN, "k", v257), FL_INVALID_REQUEST);
    v257[256] = '\0';
    ck_assert_int_eq(tag1(GARN, "k", v257), FL_OK);
    ck_assert_int_eq(tag1(GARN, "bad!key", "v"), FL_INVALID_REQUEST);
    ck_assert_int_eq(tag1(GARN, "tab\tkey", "v"), FL_INVALID_REQUEST);
    ck_assert_int_eq(tag1(GARN, "aws:owner", "v"), FL_INVALID_REQUEST);
    ck_assert_int_eq(tag1(GARN, "bad\xff", "v"), FL_INVALID_REQUEST);

    json_t *tags = json_pack("[{s:s,s:s},{s:s,s:s}]", "Key", "dup", "Value", "1", "Key", "dup", "Value", "2");
    ck_assert_int_eq(tags_tag_resource(c, GARN, tags, &err), FL_INVALID_REQUEST);
    json_decref(tags);
    tags = json_pack("[{s:s}]", "Value", "no key");
    ck_assert_int_eq(tags_tag_resource(c, GARN, tags, &err), FL_INVALID_REQUEST);
    json_decref(tags);
    tags = json_pack("[s]", "k");
    ck_assert_int_eq(tags_tag_resource(c, GARN, tags, &err), FL_INVALID_REQUEST);
    json_decref(tags);
    tags = json_pack("{s:s}", "Key", "k");
    ck_assert_int_eq(tags_tag_resource(c, GARN, tags, &err), FL_INVALID_REQUEST);
    json_decref(tags);
    tags = json_pack("[{s:s,s:i}]", "Key", "k", "Value", 3);
    ck_assert_int_eq(tags_tag_resource(c, GARN, tags, &err), FL_INVALID_REQUEST);
    json_decref(tags);

    /* a refused request writes nothing, even its valid tags */
    tags = json_pack("[{s:s,s:s},{s:s}]", "Key", "good", "Value", "1", "Key", "aws:bad");
    ck_assert_int_eq(tags_tag_resource(c, GARN, tags, &err), FL_INVALID_REQUEST);
    json_decref(tags);
    json_t *keys = json_pack("[s]", k129);
    ck_assert_int_eq(tags_untag_resource(c, GARN, keys, &err), FL_OK);
    json_decref(keys);
    snprintf(buf, sizeof(buf), "k=%s", v257);
    char got[1024];
    ck_assert_str_eq(tag_str(GARN, 250, got, sizeof(got)), buf);
}
END_TEST

START_TEST(test_limit)
{
    char key[16], buf[2048];
    json_t *tags = json_array();
    for (int i = 0; i < 51; i++) {
        snprintf(key, sizeof(key), "k%02d", i);
        json_array_append_new(tags, json_pack("{s:s,s:s}", "Key", key, "Value", "v"));
    }
    ck_assert_int_eq(tags_tag_resource(c, GARN, tags, &err), FL_INVALID_REQUEST); /* 51 in one request */
    json_array_remove(tags, 50);
    ck_assert_int_eq(tags_tag_resource(c, GARN, tags, &err), FL_OK); /* exactly 50 */
    json_decref(tags);
    ck_assert_int_eq(tag1(GARN, "k10", "again"), FL_OK); /* overwrite at the limit */
    ck_assert_int_eq(tag1(GARN, "one-more", "v"), FL_LIMIT_EXCEEDED);
    tag_str(GARN, 250, buf, sizeof(buf));
    ck_assert_ptr_null(strstr(buf, "one-more"));
    ck_assert_ptr_nonnull(strstr(buf, "k10=again"));

    json_t *keys = json_pack("[s]", "k00");
    ck_assert_int_eq(tags_untag_resource(c, GARN, keys, &err), FL_OK);
    json_decref(keys);
    ck_assert_int_eq(tag1(GARN, "one-more", "v"), FL_OK);
}
END_TEST

START_TEST(test_pagination)
{
    char key[16], buf[2048], want[2048];
    size_t off = 0;
    json_t *tags = json_array();
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        json_array_append_new(tags, json_pack("{s:s,s:s}", "Key", key, "Value", "v"));
        off += (size_t)snprintf(want + off, sizeof(want) - off, "%s%s=v", off ? "," : "", key);
    }
    ck_assert_int_eq(tags_tag_resource(c, GARN, tags, &err), FL_OK);
    json_decref(tags);
    ck_assert_str_eq(tag_str(GARN, 2, buf, sizeof(buf)), want);
    ck_assert_str_eq(tag_str(GARN, 7, buf, sizeof(buf)), want);
    ck_assert_str_eq(tag_str(GARN, 1, buf, sizeof(buf)), want);
}
END_TEST

START_TEST(test_delete_all)
{
    char buf[256];
    ck_assert_int_eq(tag1(GARN, "a", "1"), FL_OK);
    ck_assert_int_eq(tag1(TARN, "b", "2"), FL_OK);
    ck_assert_int_eq(thing_groups_delete(c, "G", 0, 0, &err), FL_OK);
    json_t *out = NULL;
    ck_assert_int_eq(tags_list(c, GARN, NULL, 0, &out, &err), FL_NOT_FOUND);
    struct thing_group_create_in in = {.name = "G"};
    ck_assert_int_eq(thing_groups_create(c, &in, &out, &err), FL_OK);
    json_decref(out);
    ck_assert_str_eq(tag_str(GARN, 250, buf, sizeof(buf)), "");
    ck_assert_str_eq(tag_str(TARN, 250, buf, sizeof(buf)), "b=2");
}
END_TEST

/* ---- DescribeEndpoint ------------------------------------------------------- */

START_TEST(test_endpoint)
{
    const char *addr = NULL;
    const char *ok[] = {NULL, "", "iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        addr = NULL;
        ck_assert_int_eq(endpoint_describe(c, ok[i], &addr, &err), FL_OK);
        ck_assert_str_eq(addr, "localhost");
    }
    snprintf(c->cfg.endpoint_host, sizeof(c->cfg.endpoint_host), "fleet.example.com");
    ck_assert_int_eq(endpoint_describe(c, "iot:Data-ATS", &addr, &err), FL_OK);
    ck_assert_str_eq(addr, "fleet.example.com");
    ck_assert_int_eq(endpoint_describe(c, "iot:data-ats", &addr, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(endpoint_describe(c, "iot:Shadow", &addr, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "iot:Shadow"));
}
END_TEST

Suite *tags_suite(void)
{
    Suite *s = suite_create("tags");
    TCase *tc = tcase_create("tags");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_crud);
    tcase_add_test(tc, test_arns);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_limit);
    tcase_add_test(tc, test_pagination);
    tcase_add_test(tc, test_delete_all);
    suite_add_tcase(s, tc);

    tc = tcase_create("endpoint");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_endpoint);
    suite_add_tcase(s, tc);
    return s;
}
