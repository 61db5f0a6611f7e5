/*
 * check_policies.c - unit tests of the policy operations (server/core/
 * policies.c) over an in-memory database: every REST operation and its
 * errors, attachment limits, markers, group inheritance through three
 * levels (ListAttachedPolicies recursive, GetEffectivePolicies), and
 * TestAuthorization / policies_compile_for_principal with certificates
 * from a real built-in CA.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "page.h"
#include "store.h"
#include "certificates.h"
#include "policies.h"
#include "policy_eval.h"
#include "principals.h"
#include "suites.h"
#include "tags.h"
#include "testutil.h"
#include "thing_groups.h"
#include "thing_types.h"
#include "things.h"

#define P "arn:aws:iot:us-east-1:123456789012:"
#define NOW_S 1764142417

#define DOC(stmts) "{\"Version\":\"2012-10-17\",\"Statement\":[" stmts "]}"
#define ALLOW_PUB(res) "{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"Resource\":\"" res "\"}"
#define DENY_PUB(res) "{\"Effect\":\"Deny\",\"Action\":\"iot:Publish\",\"Resource\":\"" res "\"}"
#define ALLOW_ALL DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\"}")

static struct fl_core *c;
static struct fl_err err;
static char dir[64];

static void setup(void)
{
    c = tu_core();
    fl_err_clear(&err);
    snprintf(dir, sizeof(dir), "/tmp/fleetd-check-pol-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    if (c->ca)
        ca_close(c->ca);
    tu_core_free(c);
    tu_rmtree(dir);
}

static void with_ca(void)
{
    char cadir[128];
    snprintf(cadir, sizeof(cadir), "%s/ca", dir);
    struct ca_options o = {
        .root_key = CA_KEY_EC_P256, .device_key = CA_KEY_EC_P256, .common_name = "Test Root"};
    c->ca = ca_open(cadir, &o, NOW_S, &err);
    ck_assert_msg(c->ca != NULL, "ca_open: %s", err.msg);
}

static const char *sget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_string(v), "no string %s", k);
    return json_string_value(v);
}

static void mk_policy(const char *name, const char *doc)
{
    json_t *out = NULL;
    enum fl_code rc = policies_create(c, name, doc, NULL, &out, &err);
    ck_assert_msg(rc == FL_OK, "create %s: %s", name, err.msg);
    json_decref(out);
}

static void mk_cert(char id[65], char arn[320])
{
    json_t *out = NULL;
    ck_assert_msg(certificates_create_keys(c, 1, &out, &err) == FL_OK, "%s", err.msg);
    snprintf(id, 65, "%s", sget(out, "certificateId"));
    snprintf(arn, 320, "%s", sget(out, "certificateArn"));
    json_decref(out);
}

static void mk_thing(const char *name, const char *type, json_t *attrs)
{
    struct things_create_in in = {.name = name, .type_name = type, .attributes = attrs};
    struct things_ref ref;
    ck_assert_msg(things_create(c, &in, &ref, &err) == FL_OK, "thing %s: %s", name, err.msg);
}

static void mk_group(const char *name, const char *parent)
{
    struct thing_group_create_in in = {.name = name, .parent = parent};
    json_t *out = NULL;
    ck_assert_msg(thing_groups_create(c, &in, &out, &err) == FL_OK, "group %s: %s", name, err.msg);
    json_decref(out);
}

static void add_to_group(const char *group, const char *thing)
{
    struct thing_group_member_in in = {.group_name = group, .thing_name = thing};
    ck_assert_msg(thing_groups_add_thing(c, &in, &err) == FL_OK, "%s", err.msg);
}

static void attach(const char *policy, const char *target)
{
    enum fl_code rc = policies_attach(c, policy, target, &err);
    ck_assert_msg(rc == FL_OK, "attach %s to %s: %s", policy, target, err.msg);
}

/* Names (policyName of objects, or strings) of arr joined with ','. */
static const char *join(json_t *arr, char *buf, size_t n)
{
    size_t i, off = 0;
    json_t *v;
    buf[0] = '\0';
    ck_assert_msg(json_is_array(arr), "not an array");
    json_array_foreach (arr, i, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : sget(v, "policyName");
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? "," : "", s);
    }
    return buf;
}

static int marker_ok(const char *m)
{
    size_t n = strlen(m), i = 0;
    for (; i < n && m[i] != '='; i++)
        if (!((m[i] >= 'A' && m[i] <= 'Z') || (m[i] >= 'a' && m[i] <= 'z') || (m[i] >= '0' && m[i] <= '9') ||
              m[i] == '+' || m[i] == '/'))
            return 0;
    return i > 0 && n - i <= 2;
}

/* ---- create / get / delete / list ------------------------------------------------- */

START_TEST(test_create_get)
{
    const char *doc = DOC(ALLOW_PUB(P "topic/a"));
    json_t *out = NULL;
    ck_assert_int_eq(policies_create(c, "pol-1", doc, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(sget(out, "policyName"), "pol-1");
    ck_assert_str_eq(sget(out, "policyArn"), P "policy/pol-1");
    ck_assert_str_eq(sget(out, "policyDocument"), doc);
    ck_assert_str_eq(sget(out, "policyVersionId"), "1");
    json_decref(out);

    tu_advance(c, 5000);
    ck_assert_int_eq(policies_get(c, "pol-1", &out, &err), FL_OK);
    ck_assert_str_eq(sget(out, "policyName"), "pol-1");
    ck_assert_str_eq(sget(out, "policyArn"), P "policy/pol-1");
    ck_assert_str_eq(sget(out, "policyDocument"), doc);
    ck_assert_str_eq(sget(out, "defaultVersionId"), "1");
    ck_assert_int_eq(strlen(sget(out, "generationId")), 64);
    ck_assert(json_real_value(json_object_get(out, "creationDate")) == 1764142417.0 ||
              json_integer_value(json_object_get(out, "creationDate")) == NOW_S);
    ck_assert_ptr_nonnull(json_object_get(out, "lastModifiedDate"));
    json_decref(out);

    /* names with every allowed punctuation character */
    mk_policy("a_b+c=d,e.f@g-h", ALLOW_ALL);
    char longname[129];
    memset(longname, 'n', 128);
    longname[128] = '\0';
    mk_policy(longname, ALLOW_ALL);
}
END_TEST

START_TEST(test_create_errors)
{
    json_t *out = NULL;
    mk_policy("dup", ALLOW_ALL);
    ck_assert_int_eq(policies_create(c, "dup", ALLOW_ALL, NULL, &out, &err), FL_ALREADY_EXISTS);
    ck_assert_str_eq(err.resource_arn, P "policy/dup");
    ck_assert_str_eq(err.resource_id, "dup");
    ck_assert_ptr_null(out);
    ck_assert_int_eq(policies_create(c, "", ALLOW_ALL, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_create(c, NULL, ALLOW_ALL, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_create(c, "a b", ALLOW_ALL, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_create(c, "a/b", ALLOW_ALL, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_create(c, "a:b", ALLOW_ALL, NULL, &out, &err), FL_INVALID_REQUEST);
    char longname[130];
    memset(longname, 'n', 129);
    longname[129] = '\0';
    ck_assert_int_eq(policies_create(c, longname, ALLOW_ALL, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_create(c, "p", NULL, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_create(c, "p", "{\"Statement\":", NULL, &out, &err), FL_MALFORMED_POLICY);
    ck_assert_ptr_nonnull(strstr(err.msg, "JSON"));
    ck_assert_int_eq(policies_create(c, "p", DOC(ALLOW_PUB("topic/x")), NULL, &out, &err),
                     FL_MALFORMED_POLICY);
    ck_assert_int_eq(policies_get(c, "p", &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_get(c, "a b", &out, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_create_with_tags)
{
    json_t *tags = json_pack("[{s:s,s:s}]", "Key", "team", "Value", "fw");
    json_t *out = NULL;
    ck_assert_int_eq(policies_create(c, "tagged", ALLOW_ALL, tags, &out, &err), FL_OK);
    json_decref(out);
    out = NULL;
    ck_assert_int_eq(tags_list(c, P "policy/tagged", NULL, 250, &out, &err), FL_OK);
    ck_assert(json_equal(json_object_get(out, "tags"), tags));
    json_decref(out);
    /* TagResource knows policies; DeletePolicy takes the tags along */
    json_t *more = json_pack("[{s:s,s:s}]", "Key", "env", "Value", "prod");
    ck_assert_int_eq(tags_tag_resource(c, P "policy/tagged", more, &err), FL_OK);
    ck_assert_int_eq(tags_tag_resource(c, P "policy/nope", more, &err), FL_NOT_FOUND);
    json_decref(more);
    ck_assert_int_eq(policies_delete(c, "tagged", &err), FL_OK);
    mk_policy("tagged", ALLOW_ALL);
    ck_assert_int_eq(tags_list(c, P "policy/tagged", NULL, 250, &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "tags")), 0);
    json_decref(out);
    json_t *bad = json_pack("[{s:s}]", "Key", "aws:reserved");
    ck_assert_int_eq(policies_create(c, "tagged2", ALLOW_ALL, bad, &out, &err), FL_INVALID_REQUEST);
    /* the failed create left nothing behind */
    ck_assert_int_eq(policies_get(c, "tagged2", &out, &err), FL_NOT_FOUND);
    json_decref(tags);
    json_decref(bad);
}
END_TEST

START_TEST(test_delete)
{
    mk_policy("d1", ALLOW_ALL);
    ck_assert_int_eq(policies_delete(c, "d1", &err), FL_OK);
    json_t *out = NULL;
    ck_assert_int_eq(policies_get(c, "d1", &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_delete(c, "d1", &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_delete(c, "bad name", &err), FL_INVALID_REQUEST);
    /* a name can be reused after delete */
    mk_policy("d1", ALLOW_ALL);
}
END_TEST

/* Every page of ListPolicies joined. */
static const char *list_all(int ascending, int size, char *buf, size_t n)
{
    char marker[PAGE_TOKEN_MAX] = "";
    size_t off = 0;
    buf[0] = '\0';
    for (int pages = 0; pages < 50; pages++) {
        json_t *out = NULL;
        ck_assert_int_eq(policies_list(c, ascending, size, marker[0] ? marker : NULL, &out, &err), FL_OK);
        char part[1024];
        join(json_object_get(out, "policies"), part, sizeof(part));
        ck_assert_int_le((int)json_array_size(json_object_get(out, "policies")), size);
        if (part[0])
            off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? "," : "", part);
        json_t *next = json_object_get(out, "nextMarker");
        if (next == NULL) {
            ck_assert_ptr_null(json_object_get(out, "nextToken"));
            json_decref(out);
            return buf;
        }
        ck_assert_msg(marker_ok(json_string_value(next)), "marker %s", json_string_value(next));
        snprintf(marker, sizeof(marker), "%s", json_string_value(next));
        json_decref(out);
    }
    ck_abort_msg("pagination does not end");
    return buf;
}

START_TEST(test_list)
{
    char buf[1024];
    ck_assert_str_eq(list_all(1, 10, buf, sizeof(buf)), "");
    const char *names[] = {"zeta", "alpha", "mid", "beta", "omega"};
    for (int i = 0; i < 5; i++) {
        mk_policy(names[i], ALLOW_ALL);
        tu_advance(c, 1000);
    }
    ck_assert_str_eq(list_all(1, 2, buf, sizeof(buf)), "zeta,alpha,mid,beta,omega");
    ck_assert_str_eq(list_all(0, 2, buf, sizeof(buf)), "omega,beta,mid,alpha,zeta");
    ck_assert_str_eq(list_all(1, 250, buf, sizeof(buf)), "zeta,alpha,mid,beta,omega");
    ck_assert_str_eq(list_all(1, 5, buf, sizeof(buf)), "zeta,alpha,mid,beta,omega");
    /* a page cut right after the last item has no nextMarker */
    json_t *out = NULL;
    ck_assert_int_eq(policies_list(c, 1, 5, NULL, &out, &err), FL_OK);
    ck_assert_ptr_null(json_object_get(out, "nextMarker"));
    json_t *p0 = json_array_get(json_object_get(out, "policies"), 0);
    ck_assert_str_eq(sget(p0, "policyArn"), P "policy/zeta");
    json_decref(out);
    /* deleting a policy between pages does not disturb paging */
    ck_assert_int_eq(policies_list(c, 1, 2, NULL, &out, &err), FL_OK);
    char marker[PAGE_TOKEN_MAX];
    snprintf(marker, sizeof(marker), "%s", sget(out, "nextMarker"));
    json_decref(out);
    ck_assert_int_eq(policies_delete(c, "alpha", &err), FL_OK);
    ck_assert_int_eq(policies_delete(c, "mid", &err), FL_OK);
    ck_assert_int_eq(policies_list(c, 1, 2, marker, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "policies"), buf, sizeof(buf)), "beta,omega");
    json_decref(out);
    ck_assert_int_eq(policies_list(c, 1, 2, "garbage!!", &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_list(c, 1, 2, "QUJD", &out, &err), FL_INVALID_REQUEST);
}
END_TEST

/* ---- versions -------------------------------------------------------------------- */

static void new_version(const char *name, const char *doc, int set_default, const char *want_id)
{
    json_t *out = NULL;
    enum fl_code rc = policies_create_version(c, name, doc, set_default, &out, &err);
    ck_assert_msg(rc == FL_OK, "version of %s: %s", name, err.msg);
    ck_assert_str_eq(sget(out, "policyVersionId"), want_id);
    ck_assert_str_eq(sget(out, "policyArn"), P "policy/v");
    ck_assert_str_eq(sget(out, "policyDocument"), doc);
    ck_assert(json_is_boolean(json_object_get(out, "isDefaultVersion")));
    ck_assert_int_eq(json_is_true(json_object_get(out, "isDefaultVersion")), set_default);
    json_decref(out);
}

static const char *default_doc(const char *name, char *buf, size_t n)
{
    json_t *out = NULL;
    ck_assert_int_eq(policies_get(c, name, &out, &err), FL_OK);
    snprintf(buf, n, "%s|%s", sget(out, "defaultVersionId"), sget(out, "policyDocument"));
    json_decref(out);
    return buf;
}

static const char *versions(const char *name, char *buf, size_t n)
{
    json_t *out = NULL;
    ck_assert_int_eq(policies_list_versions(c, name, &out, &err), FL_OK);
    json_t *arr = json_object_get(out, "policyVersions"), *v;
    size_t i, off = 0;
    buf[0] = '\0';
    json_array_foreach (arr, i, v) {
        ck_assert_ptr_nonnull(json_object_get(v, "createDate"));
        off += (size_t)snprintf(buf + off, n - off, "%s%s%s", i ? "," : "", sget(v, "versionId"),
                                json_is_true(json_object_get(v, "isDefaultVersion")) ? "*" : "");
    }
    json_decref(out);
    return buf;
}

START_TEST(test_versions)
{
    char buf[512];
    const char *d1 = DOC(ALLOW_PUB(P "topic/1")), *d2 = DOC(ALLOW_PUB(P "topic/2")),
               *d3 = DOC(ALLOW_PUB(P "topic/3"));
    mk_policy("v", d1);
    json_t *out = NULL;
    ck_assert_int_eq(policies_get(c, "v", &out, &err), FL_OK);
    char gen1[65];
    snprintf(gen1, sizeof(gen1), "%s", sget(out, "generationId"));
    json_decref(out);

    new_version("v", d2, 0, "2");
    ck_assert_str_eq(versions("v", buf, sizeof(buf)), "2,1*");
    char want[512];
    snprintf(want, sizeof(want), "1|%s", d1);
    ck_assert_str_eq(default_doc("v", buf, sizeof(buf)), want);

    tu_advance(c, 2000);
    new_version("v", d3, 1, "3");
    snprintf(want, sizeof(want), "3|%s", d3);
    ck_assert_str_eq(default_doc("v", buf, sizeof(buf)), want);
    ck_assert_str_eq(versions("v", buf, sizeof(buf)), "3*,2,1");
    ck_assert_int_eq(policies_get(c, "v", &out, &err), FL_OK);
    ck_assert_str_ne(sget(out, "generationId"), gen1);
    json_decref(out);

    /* GetPolicyVersion */
    ck_assert_int_eq(policies_get_version(c, "v", "2", &out, &err), FL_OK);
    ck_assert_str_eq(sget(out, "policyName"), "v");
    ck_assert_str_eq(sget(out, "policyArn"), P "policy/v");
    ck_assert_str_eq(sget(out, "policyDocument"), d2);
    ck_assert_str_eq(sget(out, "policyVersionId"), "2");
    ck_assert(json_is_false(json_object_get(out, "isDefaultVersion")));
    ck_assert_int_eq(strlen(sget(out, "generationId")), 64);
    ck_assert_ptr_nonnull(json_object_get(out, "creationDate"));
    ck_assert_ptr_nonnull(json_object_get(out, "lastModifiedDate"));
    json_decref(out);
    ck_assert_int_eq(policies_get_version(c, "v", "3", &out, &err), FL_OK);
    ck_assert(json_is_true(json_object_get(out, "isDefaultVersion")));
    json_decref(out);
    ck_assert_int_eq(policies_get_version(c, "v", "9", &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_get_version(c, "v", "x1", &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_get_version(c, "v", "", &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_get_version(c, "nope", "1", &out, &err), FL_NOT_FOUND);

    /* at most five versions */
    new_version("v", d1, 0, "4");
    new_version("v", d2, 0, "5");
    out = NULL;
    ck_assert_int_eq(policies_create_version(c, "v", d1, 0, &out, &err), FL_VERSIONS_LIMIT_EXCEEDED);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(policies_create_version(c, "v", "nope", 0, &out, &err), FL_MALFORMED_POLICY);
    ck_assert_int_eq(policies_create_version(c, "nope", d1, 0, &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_create_version(c, "v", NULL, 0, &out, &err), FL_INVALID_REQUEST);

    /* the default version cannot be deleted; others can; ids are not reused */
    ck_assert_int_eq(policies_delete_version(c, "v", "3", &err), FL_DELETE_CONFLICT);
    ck_assert_int_eq(policies_delete_version(c, "v", "5", &err), FL_OK);
    ck_assert_int_eq(policies_delete_version(c, "v", "5", &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_delete_version(c, "v", "abc", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_delete_version(c, "nope", "1", &err), FL_NOT_FOUND);
    new_version("v", d2, 0, "6");
    ck_assert_str_eq(versions("v", buf, sizeof(buf)), "6,4,3*,2,1");

    /* SetDefaultPolicyVersion */
    ck_assert_int_eq(policies_get(c, "v", &out, &err), FL_OK);
    char gen3[65];
    snprintf(gen3, sizeof(gen3), "%s", sget(out, "generationId"));
    json_decref(out);
    ck_assert_int_eq(policies_set_default_version(c, "v", "1", &err), FL_OK);
    snprintf(want, sizeof(want), "1|%s", d1);
    ck_assert_str_eq(default_doc("v", buf, sizeof(buf)), want);
    ck_assert_int_eq(policies_get(c, "v", &out, &err), FL_OK);
    ck_assert_str_ne(sget(out, "generationId"), gen3);
    json_decref(out);
    ck_assert_int_eq(policies_set_default_version(c, "v", "5", &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_set_default_version(c, "v", "-1", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_set_default_version(c, "nope", "1", &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_list_versions(c, "nope", &out, &err), FL_NOT_FOUND);

    /* DeletePolicy refuses while non-default versions exist */
    ck_assert_int_eq(policies_delete(c, "v", &err), FL_DELETE_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "version"));
    const char *others[] = {"2", "3", "4", "6"};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(policies_delete_version(c, "v", others[i], &err), FL_OK);
    ck_assert_str_eq(versions("v", buf, sizeof(buf)), "1*");
    ck_assert_int_eq(policies_delete(c, "v", &err), FL_OK);
}
END_TEST

/* ---- attachments ------------------------------------------------------------------ */

START_TEST(test_attach_detach)
{
    with_ca();
    char id[65], arn[320];
    mk_cert(id, arn);
    mk_policy("pa", ALLOW_ALL);
    mk_group("g1", NULL);
    attach("pa", arn);
    attach("pa", arn); /* again: no-op */
    attach("pa", P "thinggroup/g1");

    json_t *out = NULL;
    char buf[2048], want[2048];
    ck_assert_int_eq(policies_list_targets(c, "pa", 250, NULL, &out, &err), FL_OK);
    snprintf(want, sizeof(want), "%s,%s", arn, P "thinggroup/g1");
    ck_assert_str_eq(join(json_object_get(out, "targets"), buf, sizeof(buf)), want);
    ck_assert_ptr_null(json_object_get(out, "nextMarker"));
    json_decref(out);
    /* pages of one */
    ck_assert_int_eq(policies_list_targets(c, "pa", 1, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "targets"), buf, sizeof(buf)), arn);
    char marker[PAGE_TOKEN_MAX];
    snprintf(marker, sizeof(marker), "%s", sget(out, "nextMarker"));
    ck_assert(marker_ok(marker));
    json_decref(out);
    ck_assert_int_eq(policies_list_targets(c, "pa", 1, marker, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "targets"), buf, sizeof(buf)), P "thinggroup/g1");
    ck_assert_ptr_null(json_object_get(out, "nextMarker"));
    json_decref(out);
    ck_assert_int_eq(policies_list_targets(c, "nope", 10, NULL, &out, &err), FL_NOT_FOUND);

    /* errors */
    ck_assert_int_eq(policies_attach(c, "nope", arn, &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_attach(c, "pa",
                                     P "cert/"
                                       "0000000000000000000000000000000000000000000000000000000000000000",
                                     &err),
                     FL_NOT_FOUND);
    ck_assert_int_eq(policies_attach(c, "pa", P "cert/xyz", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_attach(c, "pa", P "thinggroup/nope", &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_attach(c, "pa", P "thing/t1", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_attach(c, "pa", "us-east-1:6e3d8f1c-1111-2222-3333-444455556666", &err),
                     FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "Cognito"));
    ck_assert_int_eq(policies_attach(c, "pa", "arn:aws:iot:eu-west-1:999999999999:cert/abc", &err),
                     FL_NOT_FOUND);
    ck_assert_int_eq(policies_attach(c, "pa", "", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_attach(c, "pa", NULL, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_attach(c, "pa", "garbage", &err), FL_INVALID_REQUEST);

    /* attached policies cannot be deleted */
    ck_assert_int_eq(policies_delete(c, "pa", &err), FL_DELETE_CONFLICT);
    ck_assert_int_eq(policies_detach(c, "pa", arn, &err), FL_OK);
    ck_assert_int_eq(policies_detach(c, "pa", arn, &err), FL_OK); /* not attached: no-op */
    ck_assert_int_eq(policies_detach(c, "nope", arn, &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_detach(c, "pa", "garbage", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_delete(c, "pa", &err), FL_DELETE_CONFLICT);
    ck_assert_int_eq(policies_detach(c, "pa", P "thinggroup/g1", &err), FL_OK);
    ck_assert_int_eq(policies_list_targets(c, "pa", 10, NULL, &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "targets")), 0);
    json_decref(out);
    ck_assert_int_eq(policies_delete(c, "pa", &err), FL_OK);

    int n = -1;
    ck_assert_int_eq(store_begin_read(c->st, &err), FL_OK);
    ck_assert_int_eq(policies_attached_count_tx(c, arn, &n, &err), FL_OK);
    ck_assert_int_eq(store_end(c->st, FL_OK, &err), FL_OK);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(test_attach_limits)
{
    with_ca();
    char id[65], arn[320];
    mk_cert(id, arn);
    mk_group("lg", NULL);
    char name[16];
    for (int i = 0; i < 11; i++) {
        snprintf(name, sizeof(name), "lp%02d", i);
        mk_policy(name, ALLOW_ALL);
    }
    for (int i = 0; i < POLICIES_MAX_PER_CERT; i++) {
        snprintf(name, sizeof(name), "lp%02d", i);
        attach(name, arn);
    }
    ck_assert_int_eq(policies_attach(c, "lp10", arn, &err), FL_LIMIT_EXCEEDED);
    attach("lp09", arn); /* re-attaching at the limit is fine */
    attach("lp00", P "thinggroup/lg");
    attach("lp01", P "thinggroup/lg");
    ck_assert_int_eq(policies_attach(c, "lp02", P "thinggroup/lg", &err), FL_LIMIT_EXCEEDED);
    ck_assert_int_eq(policies_detach(c, "lp00", P "thinggroup/lg", &err), FL_OK);
    attach("lp02", P "thinggroup/lg");

    json_t *out = NULL;
    char buf[1024];
    ck_assert_int_eq(policies_list_attached(c, arn, 0, 4, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "policies"), buf, sizeof(buf)), "lp00,lp01,lp02,lp03");
    char marker[PAGE_TOKEN_MAX];
    snprintf(marker, sizeof(marker), "%s", sget(out, "nextMarker"));
    json_decref(out);
    ck_assert_int_eq(policies_list_attached(c, arn, 0, 4, marker, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "policies"), buf, sizeof(buf)), "lp04,lp05,lp06,lp07");
    snprintf(marker, sizeof(marker), "%s", sget(out, "nextMarker"));
    json_decref(out);
    ck_assert_int_eq(policies_list_attached(c, arn, 0, 4, marker, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "policies"), buf, sizeof(buf)), "lp08,lp09");
    ck_assert_ptr_null(json_object_get(out, "nextMarker"));
    json_t *p0 = json_array_get(json_object_get(out, "policies"), 0);
    ck_assert_str_eq(sget(p0, "policyArn"), P "policy/lp08");
    json_decref(out);
    ck_assert_int_eq(policies_list_attached(c, arn, 0, 4, "bad marker", &out, &err), FL_INVALID_REQUEST);
}
END_TEST

/* root > mid > leaf, thing t1 in leaf, t2 in mid; a policy per level plus
 * one on the certificate */
static void three_levels(char arn[320], char id[65])
{
    with_ca();
    mk_cert(id, arn);
    mk_group("root", NULL);
    mk_group("mid", "root");
    mk_group("leaf", "mid");
    mk_group("other", NULL);
    json_t *attrs = json_pack("{s:s}", "color", "red");
    struct thing_types_ref tref;
    ck_assert_msg(thing_types_create(c, "sensor", NULL, NULL, &tref, &err) == FL_OK, "%s", err.msg);
    mk_thing("t1", "sensor", attrs);
    mk_thing("t2", NULL, NULL);
    json_decref(attrs);
    add_to_group("leaf", "t1");
    add_to_group("mid", "t2");
    mk_policy("p-cert", DOC(ALLOW_PUB(P "topic/cert/*")));
    mk_policy(
        "p-root",
        DOC(ALLOW_PUB(P "topic/fleet/*") ",{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"" P
                                         "client/${iot:Connection.Thing.ThingName}\"}"));
    mk_policy("p-mid", DOC(ALLOW_PUB(P "topic/${iot:Connection.Thing.ThingName}/*")));
    mk_policy(
        "p-leaf",
        DOC(DENY_PUB(P "topic/fleet/secret") "," ALLOW_PUB(
            P
            "topic/color/${iot:Connection.Thing.Attributes[color]}/${iot:Connection.Thing.ThingTypeName}")));
    mk_policy("p-extra", DOC(ALLOW_PUB(P "topic/extra")));
    mk_policy("p-other", ALLOW_ALL);
    attach("p-cert", arn);
    attach("p-root", P "thinggroup/root");
    attach("p-mid", P "thinggroup/mid");
    attach("p-leaf", P "thinggroup/leaf");
    attach("p-other", P "thinggroup/other");
}

START_TEST(test_list_attached_recursive)
{
    char arn[320], id[65], buf[1024];
    three_levels(arn, id);
    json_t *out = NULL;
    ck_assert_int_eq(policies_list_attached(c, P "thinggroup/leaf", 0, 250, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "policies"), buf, sizeof(buf)), "p-leaf");
    json_decref(out);
    ck_assert_int_eq(policies_list_attached(c, P "thinggroup/leaf", 1, 250, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "policies"), buf, sizeof(buf)), "p-leaf,p-mid,p-root");
    json_decref(out);
    ck_assert_int_eq(policies_list_attached(c, P "thinggroup/mid", 1, 250, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "policies"), buf, sizeof(buf)), "p-mid,p-root");
    json_decref(out);
    /* the same policy on two levels is listed once */
    attach("p-root", P "thinggroup/leaf");
    ck_assert_int_eq(policies_list_attached(c, P "thinggroup/leaf", 1, 2, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "policies"), buf, sizeof(buf)), "p-leaf,p-mid");
    char marker[PAGE_TOKEN_MAX];
    snprintf(marker, sizeof(marker), "%s", sget(out, "nextMarker"));
    json_decref(out);
    ck_assert_int_eq(policies_list_attached(c, P "thinggroup/leaf", 1, 2, marker, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "policies"), buf, sizeof(buf)), "p-root");
    ck_assert_ptr_null(json_object_get(out, "nextMarker"));
    json_decref(out);
    /* recursive on a certificate is its own list */
    ck_assert_int_eq(policies_list_attached(c, arn, 1, 250, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(join(json_object_get(out, "policies"), buf, sizeof(buf)), "p-cert");
    json_decref(out);
    ck_assert_int_eq(policies_list_attached(c, P "thinggroup/nope", 1, 250, NULL, &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_list_attached(c, P "thing/t1", 1, 250, NULL, &out, &err), FL_INVALID_REQUEST);
}
END_TEST

/* ---- GetEffectivePolicies ------------------------------------------------------------- */

static const char *effective(const char *principal, const char *thing, char *buf, size_t n)
{
    json_t *out = NULL;
    enum fl_code rc = policies_effective(c, principal, NULL, thing, &out, &err);
    ck_assert_msg(rc == FL_OK, "effective: %s", err.msg);
    json_t *arr = json_object_get(out, "effectivePolicies"), *v;
    size_t i;
    json_array_foreach (arr, i, v) {
        ck_assert_ptr_nonnull(strstr(sget(v, "policyDocument"), "Statement"));
        ck_assert_ptr_nonnull(strstr(sget(v, "policyArn"), ":policy/"));
    }
    join(arr, buf, n);
    json_decref(out);
    return buf;
}

START_TEST(test_effective)
{
    char arn[320], id[65], buf[1024];
    three_levels(arn, id);
    ck_assert_str_eq(effective(arn, NULL, buf, sizeof(buf)), "p-cert");
    ck_assert_str_eq(effective(NULL, "t1", buf, sizeof(buf)), "p-root,p-mid,p-leaf");
    ck_assert_str_eq(effective(arn, "t1", buf, sizeof(buf)), "p-cert,p-root,p-mid,p-leaf");
    ck_assert_str_eq(effective(arn, "t2", buf, sizeof(buf)), "p-cert,p-root,p-mid");
    /* a thing in two hierarchies gets both */
    add_to_group("other", "t1");
    ck_assert_str_eq(effective(NULL, "t1", buf, sizeof(buf)), "p-other,p-root,p-mid,p-leaf");
    /* a policy attached to the certificate and a group is listed once */
    attach("p-root", arn);
    ck_assert_str_eq(effective(arn, "t2", buf, sizeof(buf)), "p-cert,p-root,p-mid");
    /* the default version is what is returned */
    json_t *out = NULL;
    const char *v2 = DOC(ALLOW_PUB(P "topic/v2"));
    ck_assert_int_eq(policies_create_version(c, "p-cert", v2, 1, &out, &err), FL_OK);
    json_decref(out);
    ck_assert_int_eq(policies_effective(c, arn, NULL, NULL, &out, &err), FL_OK);
    json_t *first = json_array_get(json_object_get(out, "effectivePolicies"), 0);
    ck_assert_str_eq(sget(first, "policyDocument"), v2);
    json_decref(out);

    ck_assert_int_eq(policies_effective(c, NULL, NULL, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_effective(c, NULL, "us-east-1:pool", NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_effective(c, NULL, NULL, "nope", &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(policies_effective(c,
                                        P "cert/"
                                          "1111111111111111111111111111111111111111111111111111111111111111",
                                        NULL, NULL, &out, &err),
                     FL_NOT_FOUND);
    ck_assert_int_eq(policies_effective(c, P "thinggroup/root", NULL, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(policies_effective(c, arn, NULL, "bad name!", &out, &err), FL_INVALID_REQUEST);
}
END_TEST

/* ---- TestAuthorization ----------------------------------------------------------------- */

static json_t *auth_info(const char *type, const char *res1, const char *res2)
{
    json_t *r = json_array();
    json_array_append_new(r, json_string(res1));
    if (res2)
        json_array_append_new(r, json_string(res2));
    return json_pack("{s:s,s:o}", "actionType", type, "resources", r);
}

/* Runs TestAuthorization with one authInfo; returns decision|allowed|explicit|implicit|missing. */
static const char *authorize(const char *principal, const char *client_id, json_t *info, json_t *add,
                             json_t *skip, char *buf, size_t n)
{
    json_t *infos = json_array();
    json_array_append_new(infos, info);
    struct policies_test_in in = {
        .principal = principal, .client_id = client_id, .auth_infos = infos, .to_add = add, .to_skip = skip};
    json_t *out = NULL;
    enum fl_code rc = policies_test_authorization(c, &in, &out, &err);
    ck_assert_msg(rc == FL_OK, "test-authorization: %s", err.msg);
    json_t *r = json_array_get(json_object_get(out, "authResults"), 0);
    ck_assert_ptr_nonnull(r);
    json_t *echo = json_object_get(r, "authInfo");
    ck_assert(json_equal(echo, info));
    char a[512], e[512], i[512], m[512];
    join(json_object_get(json_object_get(r, "allowed"), "policies"), a, sizeof(a));
    json_t *denied = json_object_get(r, "denied");
    join(json_object_get(json_object_get(denied, "explicitDeny"), "policies"), e, sizeof(e));
    join(json_object_get(json_object_get(denied, "implicitDeny"), "policies"), i, sizeof(i));
    join(json_object_get(r, "missingContextValues"), m, sizeof(m));
    int w = snprintf(buf, n, "%s|%s|%s|%s|%s", sget(r, "authDecision"), a, e, i, m);
    ck_assert(w > 0 && (size_t)w < n);
    json_decref(out);
    json_decref(infos);
    return buf;
}

START_TEST(test_authorization)
{
    char arn[320], id[65], buf[2048];
    three_levels(arn, id);
    ck_assert_int_eq(principals_attach(c, "t1", arn, NULL, &err), FL_OK);

    /* certificate policy alone (client id names no attached thing) */
    ck_assert_str_eq(
        authorize(arn, "nobody", auth_info("PUBLISH", P "topic/cert/x", NULL), NULL, NULL, buf, sizeof(buf)),
        "ALLOWED|p-cert|||");
    ck_assert_str_eq(
        authorize(arn, "nobody", auth_info("PUBLISH", P "topic/fleet/a", NULL), NULL, NULL, buf, sizeof(buf)),
        "IMPLICIT_DENY|||p-cert|");
    /* client id = attached thing t1: group policies of leaf, mid and root apply */
    ck_assert_str_eq(
        authorize(arn, "t1", auth_info("PUBLISH", P "topic/fleet/a", NULL), NULL, NULL, buf, sizeof(buf)),
        "ALLOWED|p-root|||");
    ck_assert_str_eq(authorize(arn, "t1", auth_info("PUBLISH", P "topic/fleet/secret", NULL), NULL, NULL, buf,
                               sizeof(buf)),
                     "EXPLICIT_DENY|p-root|p-leaf||");
    ck_assert_str_eq(
        authorize(arn, "t1", auth_info("PUBLISH", P "topic/t1/x", NULL), NULL, NULL, buf, sizeof(buf)),
        "ALLOWED|p-mid|||");
    ck_assert_str_eq(authorize(arn, "t1", auth_info("PUBLISH", P "topic/color/red/sensor", NULL), NULL, NULL,
                               buf, sizeof(buf)),
                     "ALLOWED|p-leaf|||");
    ck_assert_str_eq(
        authorize(arn, "t1", auth_info("CONNECT", P "client/t1", NULL), NULL, NULL, buf, sizeof(buf)),
        "ALLOWED|p-root|||");
    ck_assert_str_eq(authorize(arn, "t1", auth_info("SUBSCRIBE", P "topicfilter/fleet/#", NULL), NULL, NULL,
                               buf, sizeof(buf)),
                     "IMPLICIT_DENY|||p-cert,p-root,p-mid,p-leaf|");
    /* several resources: all must be allowed; one deny decides */
    ck_assert_str_eq(authorize(arn, "t1", auth_info("PUBLISH", P "topic/fleet/a", P "topic/cert/b"), NULL,
                               NULL, buf, sizeof(buf)),
                     "ALLOWED|p-cert,p-root|||");
    ck_assert_str_eq(authorize(arn, "t1", auth_info("PUBLISH", P "topic/fleet/a", P "topic/none"), NULL, NULL,
                               buf, sizeof(buf)),
                     "IMPLICIT_DENY|p-root||p-cert,p-mid,p-leaf|");
    ck_assert_str_eq(authorize(arn, "t1", auth_info("PUBLISH", P "topic/fleet/a", P "topic/fleet/secret"),
                               NULL, NULL, buf, sizeof(buf)),
                     "EXPLICIT_DENY|p-root|p-leaf||");
    /* policyNamesToSkip / policyNamesToAdd */
    json_t *skip = json_pack("[s]", "p-leaf"), *add = json_pack("[s]", "p-extra");
    ck_assert_str_eq(authorize(arn, "t1", auth_info("PUBLISH", P "topic/fleet/secret", NULL), NULL, skip, buf,
                               sizeof(buf)),
                     "ALLOWED|p-root|||");
    ck_assert_str_eq(
        authorize(arn, "nobody", auth_info("PUBLISH", P "topic/extra", NULL), add, NULL, buf, sizeof(buf)),
        "ALLOWED|p-extra|||");
    json_decref(skip);
    json_decref(add);
    /* missing context values: thing variables without a thing */
    mk_policy("p-cond",
              DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
                  "{\"StringEquals\":{\"iot:Connection.Thing.ThingTypeName\":\"sensor\"}}}"));
    add = json_pack("[s]", "p-cond");
    ck_assert_str_eq(
        authorize(arn, "nobody", auth_info("CONNECT", P "client/nobody", NULL), add, NULL, buf, sizeof(buf)),
        "IMPLICIT_DENY|||p-cert,p-cond|iot:Connection.Thing.ThingTypeName");
    ck_assert_str_eq(
        authorize(arn, "t1", auth_info("CONNECT", P "client/t1", NULL), add, NULL, buf, sizeof(buf)),
        "ALLOWED|p-root,p-cond|||");
    json_decref(add);

    /* errors */
    json_t *infos = json_array(), *out = NULL;
    json_array_append_new(infos, auth_info("PUBLISH", P "topic/a", NULL));
    struct policies_test_in in = {.principal = arn, .auth_infos = infos};
    in.to_add = json_pack("[s]", "no-such-policy");
    ck_assert_int_eq(policies_test_authorization(c, &in, &out, &err), FL_NOT_FOUND);
    json_decref(in.to_add);
    in.to_add = json_pack("[s]", "bad name");
    ck_assert_int_eq(policies_test_authorization(c, &in, &out, &err), FL_INVALID_REQUEST);
    json_decref(in.to_add);
    in.to_add = NULL;
    in.principal = NULL;
    ck_assert_int_eq(policies_test_authorization(c, &in, &out, &err), FL_INVALID_REQUEST);
    in.cognito_pool = "us-east-1:pool";
    ck_assert_int_eq(policies_test_authorization(c, &in, &out, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "Cognito"));
    in.cognito_pool = NULL;
    in.principal = P "cert/2222222222222222222222222222222222222222222222222222222222222222";
    ck_assert_int_eq(policies_test_authorization(c, &in, &out, &err), FL_NOT_FOUND);
    in.principal = arn;
    json_array_append_new(infos, json_pack("{s:s,s:[s]}", "actionType", "DELETE", "resources", "x"));
    ck_assert_int_eq(policies_test_authorization(c, &in, &out, &err), FL_INVALID_REQUEST);
    json_array_clear(infos);
    ck_assert_int_eq(policies_test_authorization(c, &in, &out, &err), FL_INVALID_REQUEST);
    for (int i = 0; i < 11; i++)
        json_array_append_new(infos, auth_info("PUBLISH", P "topic/a", NULL));
    ck_assert_int_eq(policies_test_authorization(c, &in, &out, &err), FL_INVALID_REQUEST);
    json_array_remove(infos, 0);
    ck_assert_int_eq(policies_test_authorization(c, &in, &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "authResults")), 10);
    json_decref(out);
    json_array_clear(infos);
    json_array_append_new(infos, json_pack("{s:s}", "actionType", "PUBLISH"));
    out = NULL;
    ck_assert_int_eq(policies_test_authorization(c, &in, &out, &err), FL_INVALID_REQUEST);
    json_decref(infos);
    ck_assert_ptr_null(out);
}
END_TEST

/* ---- the broker's compile at connect -------------------------------------------------- */

START_TEST(test_compile_for_principal)
{
    char arn[320], id[65];
    three_levels(arn, id);
    /* clang-format off */
    static const char vars_doc[] = DOC(
        ALLOW_PUB(P "topic/cn/${iot:Certificate.Subject.CommonName}") ","
        ALLOW_PUB(P "topic/issuer/${iot:Certificate.Issuer.CommonName}") ","
        ALLOW_PUB(P "topic/id/${iot:CertificateId}") ","
        ALLOW_PUB(P "topic/ip/${aws:SourceIp}"));
    /* clang-format on */
    mk_policy("p-vars", vars_doc);
    attach("p-vars", arn);
    struct policy_set *set = NULL;

    /* not attached to any thing yet: certificate policies only */
    ck_assert_int_eq(policies_compile_for_principal(c, id, "t1", "10.0.0.7", &set, &err), FL_OK);
    ck_assert_uint_eq(set->npolicies, 2);
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, "cert/x", 6, NULL), POLICY_ALLOWED);
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, "fleet/x", 7, NULL), POLICY_IMPLICIT_DENY);
    const char *cn = "cn/AWS IoT Certificate", *is = "issuer/Test Root", *ip = "ip/10.0.0.7";
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, cn, strlen(cn), NULL), POLICY_ALLOWED);
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, is, strlen(is), NULL), POLICY_ALLOWED);
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, ip, strlen(ip), NULL), POLICY_ALLOWED);
    char idt[128];
    snprintf(idt, sizeof(idt), "id/%s", id);
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, idt, strlen(idt), NULL), POLICY_ALLOWED);
    policy_set_free(set);

    /* attached to t1 (non-exclusive): the thing applies only when the client id names it */
    ck_assert_int_eq(principals_attach(c, "t1", arn, NULL, &err), FL_OK);
    ck_assert_int_eq(principals_attach(c, "t2", arn, NULL, &err), FL_OK);
    ck_assert_int_eq(policies_compile_for_principal(c, id, "t1", NULL, &set, &err), FL_OK);
    ck_assert_uint_eq(set->npolicies, 5);
    int pol = -1;
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, "fleet/x", 7, &pol), POLICY_ALLOWED);
    ck_assert_str_eq(policy_set_policy_name(set, (uint32_t)pol), "p-root");
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, "fleet/secret", 12, &pol), POLICY_EXPLICIT_DENY);
    ck_assert_str_eq(policy_set_policy_name(set, (uint32_t)pol), "p-leaf");
    ck_assert_int_eq(policy_eval_name(set, POLICY_CONNECT, "t1", 2, NULL), POLICY_ALLOWED);
    ck_assert_int_eq(policy_eval_name(set, POLICY_CONNECT, "t2", 2, NULL), POLICY_IMPLICIT_DENY);
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, "t1/a", 4, NULL), POLICY_ALLOWED);
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, "ip/", 3, NULL), POLICY_IMPLICIT_DENY);
    policy_set_free(set);
    ck_assert_int_eq(policies_compile_for_principal(c, id, "t2", NULL, &set, &err), FL_OK);
    ck_assert_uint_eq(set->npolicies, 4); /* cert, vars, root, mid */
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, "t2/a", 4, NULL), POLICY_ALLOWED);
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, "fleet/secret", 12, NULL), POLICY_ALLOWED);
    policy_set_free(set);
    ck_assert_int_eq(policies_compile_for_principal(c, id, "stranger", NULL, &set, &err), FL_OK);
    ck_assert_uint_eq(set->npolicies, 2);
    policy_set_free(set);

    /* exclusive attachment: the thing applies whatever the client id */
    ck_assert_int_eq(principals_detach(c, "t2", arn, &err), FL_OK);
    ck_assert_int_eq(principals_attach(c, "t1", arn, PRINCIPALS_EXCLUSIVE, &err), FL_OK);
    ck_assert_int_eq(policies_compile_for_principal(c, id, "stranger", NULL, &set, &err), FL_OK);
    ck_assert_uint_eq(set->npolicies, 5);
    ck_assert_int_eq(policy_eval_name(set, POLICY_CONNECT, "t1", 2, NULL), POLICY_ALLOWED);
    policy_set_free(set);

    /* a stored policy changed to a new default version is what compiles */
    json_t *out = NULL;
    ck_assert_int_eq(policies_create_version(c, "p-cert", DOC(DENY_PUB(P "topic/cert/*")), 1, &out, &err),
                     FL_OK);
    json_decref(out);
    ck_assert_int_eq(policies_compile_for_principal(c, id, "stranger", NULL, &set, &err), FL_OK);
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, "cert/x", 6, NULL), POLICY_EXPLICIT_DENY);
    policy_set_free(set);

    ck_assert_int_eq(policies_compile_for_principal(c, "00", NULL, NULL, &set, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(
        policies_compile_for_principal(c, "3333333333333333333333333333333333333333333333333333333333333333",
                                       NULL, NULL, &set, &err),
        FL_NOT_FOUND);
    ck_assert_ptr_null(set);
}
END_TEST

/* Deleting a group or a certificate with policies attached: what the other
 * modules do with the attachments stays consistent with ours. */
START_TEST(test_targets_go_with_their_resources)
{
    char arn[320], id[65];
    three_levels(arn, id);
    ck_assert_int_eq(thing_groups_delete(c, "other", 0, 0, &err), FL_OK);
    json_t *out = NULL;
    ck_assert_int_eq(policies_list_targets(c, "p-other", 10, NULL, &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "targets")), 0);
    json_decref(out);
    ck_assert_int_eq(policies_delete(c, "p-other", &err), FL_OK);
    /* an ACTIVE certificate with a policy cannot be deleted; an inactive one
     * still has its attachment in the way */
    ck_assert_int_eq(certificates_update(c, id, "INACTIVE", &err), FL_OK);
    ck_assert_int_eq(certificates_delete(c, id, 0, &err), FL_DELETE_CONFLICT);
    ck_assert_int_eq(policies_detach(c, "p-cert", arn, &err), FL_OK);
    ck_assert_int_eq(certificates_delete(c, id, 0, &err), FL_OK);
    ck_assert_int_eq(policies_attach(c, "p-cert", arn, &err), FL_NOT_FOUND);
}
END_TEST

Suite *policies_suite(void)
{
    Suite *s = suite_create("policies");
    TCase *tc = tcase_create("policies");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_create_get);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_create_with_tags);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_versions);
    tcase_add_test(tc, test_attach_detach);
    tcase_add_test(tc, test_attach_limits);
    tcase_add_test(tc, test_list_attached_recursive);
    tcase_add_test(tc, test_effective);
    tcase_add_test(tc, test_authorization);
    tcase_add_test(tc, test_compile_for_principal);
    tcase_add_test(tc, test_targets_go_with_their_resources);
    suite_add_tcase(s, tc);
    return s;
}
