/*
 * check_provisioning.c - provisioning templates and versions, applying a
 * template (RegisterThing, the MQTT provision call) with its all-or-nothing
 * transaction and OverrideSettings, claims and ownership tokens
 * (server/core/provisioning.c).
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca.h"
#include "certificates.h"
#include "policies.h"
#include "principals.h"
#include "provisioning.h"
#include "suites.h"
#include "testutil.h"
#include "thing_groups.h"
#include "thing_types.h"
#include "things.h"

#define NOW_S 1764142417

static const char SAMPLE[] =
    "{\"Parameters\": {\"SerialNumber\": {\"Type\": \"String\"}, \"HardwareRevision\": {\"Type\": "
    "\"String\"},\n"
    "                \"AWS::IoT::Certificate::Id\": {\"Type\": \"String\"}},\n"
    " \"Resources\": {\n"
    "  \"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\n"
    "     \"ThingName\": {\"Fn::Join\": [\"-\", [\"device\", {\"Ref\": \"SerialNumber\"}]]},\n"
    "     \"ThingTypeName\": \"EnvironmentalSensor\",\n"
    "     \"AttributePayload\": {\"hwRevision\": {\"Ref\": \"HardwareRevision\"}, \"firmwareVersion\": "
    "\"1.0.0\"}}},\n"
    "  \"certificate\": {\"Type\": \"AWS::IoT::Certificate\", \"Properties\": {\n"
    "     \"CertificateId\": {\"Ref\": \"AWS::IoT::Certificate::Id\"}, \"Status\": \"ACTIVE\"}},\n"
    "  \"policy\": {\"Type\": \"AWS::IoT::Policy\", \"Properties\": {\"PolicyName\": "
    "\"SensorDevicePolicy\"}}}}";

static const char POLICY_DOC[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\","
    "\"Resource\":\"*\"}]}";

static struct fl_core *c;
static struct fl_err err;
static char dir[64];

static void setup(void)
{
    c = tu_core();
    fl_err_clear(&err);
    snprintf(dir, sizeof(dir), "/tmp/fleetd-check-prov-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tu_with_ca(c, dir);
}

static void teardown(void)
{
    if (c->ca)
        ca_close(c->ca);
    tu_core_free(c);
    tu_rmtree(dir);
}

#define OK(expr) ck_assert_msg((expr) == FL_OK, "%s: %s", #expr, err.msg)

static void create_tpl(const char *name, const char *body, int enabled, const char *type)
{
    struct provisioning_create_in in = {.name = name,
                                        .body = body,
                                        .enabled = enabled,
                                        .role_arn = "arn:aws:iam::123456789012:role/Provisioning",
                                        .type = type};
    json_t *o = NULL;
    OK(provisioning_create(c, &in, &o, &err));
    json_decref(o);
}

/* A new INACTIVE certificate; its id into id. */
static void new_cert(char id[65])
{
    json_t *o = NULL;
    OK(certificates_create_keys(c, 0, &o, &err));
    snprintf(id, 65, "%s", json_string_value(json_object_get(o, "certificateId")));
    json_decref(o);
}

static void cert_status(const char *id, char *out, size_t n)
{
    json_t *o = NULL;
    OK(certificates_describe(c, id, &o, &err));
    snprintf(out, n, "%s",
             json_string_value(json_object_get(json_object_get(o, "certificateDescription"), "status")));
    json_decref(o);
}

static int attached_policies(const char *cert_id)
{
    char arn[320];
    core_arn(c, arn, sizeof arn, "cert", cert_id);
    json_t *o = NULL;
    OK(policies_list_attached(c, arn, 0, 100, NULL, &o, &err));
    int n = (int)json_array_size(json_object_get(o, "policies"));
    json_decref(o);
    return n;
}

static int thing_exists(const char *name)
{
    json_t *o = NULL;
    enum fl_code rc = things_describe(c, name, &o, &err);
    json_decref(o);
    return rc == FL_OK;
}

static void sample_world(void)
{
    struct thing_types_ref tr;
    OK(thing_types_create(c, "EnvironmentalSensor", NULL, NULL, &tr, &err));
    json_t *o = NULL;
    OK(policies_create(c, "SensorDevicePolicy", POLICY_DOC, NULL, &o, &err));
    json_decref(o);
    create_tpl("sensors", SAMPLE, 1, NULL);
}

START_TEST(test_template_crud)
{
    create_tpl("t1", SAMPLE, 0, NULL);
    json_t *o = NULL;
    struct provisioning_create_in dup = {
        .name = "t1", .body = SAMPLE, .role_arn = "arn:aws:iam::123456789012:role/R"};
    ck_assert_int_eq(provisioning_create(c, &dup, &o, &err), FL_ALREADY_EXISTS);
    ck_assert_str_eq(err.resource_id, "t1");
    struct provisioning_create_in bad = dup;
    bad.name = "t2";
    bad.body = "{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
               "{\"Fn::Foo\": 1}}}}}";
    ck_assert_int_eq(provisioning_create(c, &bad, &o, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "Resources.thing.Properties.ThingName: unknown function Fn::Foo"));
    bad.body = SAMPLE;
    bad.name = "bad name";
    ck_assert_int_eq(provisioning_create(c, &bad, &o, &err), FL_INVALID_REQUEST);
    bad.name = "t2";
    bad.type = "OTHER";
    ck_assert_int_eq(provisioning_create(c, &bad, &o, &err), FL_INVALID_REQUEST);
    bad.type = NULL;
    bad.role_arn = "short";
    ck_assert_int_eq(provisioning_create(c, &bad, &o, &err), FL_INVALID_REQUEST);

    OK(provisioning_describe(c, "t1", &o, &err));
    ck_assert_str_eq(json_string_value(json_object_get(o, "templateBody")), SAMPLE);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "defaultVersionId")), 1);
    ck_assert(json_is_false(json_object_get(o, "enabled")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "type")), "FLEET_PROVISIONING");
    ck_assert_str_eq(json_string_value(json_object_get(o, "templateArn")),
                     "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/t1");
    ck_assert_ptr_null(json_object_get(o, "preProvisioningHook"));
    json_decref(o);
    ck_assert_int_eq(provisioning_describe(c, "nope", &o, &err), FL_NOT_FOUND);

    json_t *hook = json_pack("{s:s}", "targetArn", "https://hook.example/x");
    struct provisioning_update_in up = {.name = "t1", .enabled = 1, .description = "d", .hook = hook};
    OK(provisioning_update(c, &up, &err));
    json_decref(hook);
    OK(provisioning_describe(c, "t1", &o, &err));
    ck_assert(json_is_true(json_object_get(o, "enabled")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "description")), "d");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(o, "preProvisioningHook"), "targetArn")),
        "https://hook.example/x");
    json_decref(o);
    struct provisioning_update_in rm = {.name = "t1", .enabled = -1, .remove_hook = 1};
    OK(provisioning_update(c, &rm, &err));
    OK(provisioning_describe(c, "t1", &o, &err));
    ck_assert_ptr_null(json_object_get(o, "preProvisioningHook"));
    json_decref(o);
    struct provisioning_update_in bad_dv = {.name = "t1", .enabled = -1, .default_version = 9};
    ck_assert_int_eq(provisioning_update(c, &bad_dv, &err), FL_NOT_FOUND);

    /* list pages */
    for (int i = 0; i < 4; i++) {
        char n[16];
        snprintf(n, sizeof n, "p%d", i);
        create_tpl(n, SAMPLE, 0, i % 2 ? "JITP" : NULL);
    }
    OK(provisioning_list(c, 3, NULL, &o, &err));
    ck_assert_int_eq(json_array_size(json_object_get(o, "templates")), 3);
    char tok[2048];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(o, "nextToken")));
    json_decref(o);
    OK(provisioning_list(c, 3, tok, &o, &err));
    ck_assert_int_eq(json_array_size(json_object_get(o, "templates")), 2);
    ck_assert_ptr_null(json_object_get(o, "nextToken"));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(o, "templates"), 1), "type")),
        "JITP");
    json_decref(o);

    OK(provisioning_delete(c, "t1", &err));
    ck_assert_int_eq(provisioning_delete(c, "t1", &err), FL_NOT_FOUND);
}
END_TEST

START_TEST(test_versions)
{
    create_tpl("t", SAMPLE, 1, NULL);
    json_t *o = NULL;
    OK(provisioning_create_version(c, "t", SAMPLE, 0, &o, &err));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "versionId")), 2);
    ck_assert(json_is_false(json_object_get(o, "isDefaultVersion")));
    json_decref(o);
    OK(provisioning_create_version(c, "t", "{\"Resources\": {}}", 1, &o, &err));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "versionId")), 3);
    ck_assert(json_is_true(json_object_get(o, "isDefaultVersion")));
    json_decref(o);
    ck_assert_int_eq(provisioning_create_version(c, "t", "{}", 0, &o, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(provisioning_create_version(c, "nope", SAMPLE, 0, &o, &err), FL_NOT_FOUND);
    OK(provisioning_describe_version(c, "t", "3", &o, &err));
    ck_assert_str_eq(json_string_value(json_object_get(o, "templateBody")), "{\"Resources\": {}}");
    ck_assert(json_is_true(json_object_get(o, "isDefaultVersion")));
    json_decref(o);
    ck_assert_int_eq(provisioning_describe_version(c, "t", "9", &o, &err), FL_NOT_FOUND);
    ck_assert_int_eq(provisioning_describe_version(c, "t", "x", &o, &err), FL_INVALID_REQUEST);
    OK(provisioning_create_version(c, "t", SAMPLE, 0, &o, &err));
    json_decref(o);
    OK(provisioning_create_version(c, "t", SAMPLE, 0, &o, &err));
    json_decref(o);
    ck_assert_int_eq(provisioning_create_version(c, "t", SAMPLE, 0, &o, &err), FL_VERSIONS_LIMIT_EXCEEDED);
    OK(provisioning_list_versions(c, "t", 2, NULL, &o, &err));
    ck_assert_int_eq(json_array_size(json_object_get(o, "versions")), 2);
    char tok[2048];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(o, "nextToken")));
    json_decref(o);
    OK(provisioning_list_versions(c, "t", 10, tok, &o, &err));
    ck_assert_int_eq(json_array_size(json_object_get(o, "versions")), 3);
    ck_assert(
        json_is_true(json_object_get(json_array_get(json_object_get(o, "versions"), 0), "isDefaultVersion")));
    json_decref(o);
    ck_assert_int_eq(provisioning_delete_version(c, "t", "3", &err), FL_DELETE_CONFLICT);
    OK(provisioning_delete_version(c, "t", "1", &err));
    ck_assert_int_eq(provisioning_delete_version(c, "t", "1", &err), FL_NOT_FOUND);
    struct provisioning_update_in up = {.name = "t", .enabled = -1, .default_version = 2};
    OK(provisioning_update(c, &up, &err));
    OK(provisioning_describe(c, "t", &o, &err));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "defaultVersionId")), 2);
    json_decref(o);
}
END_TEST

START_TEST(test_provision_sample)
{
    sample_world();
    char id[65], st[32];
    new_cert(id);
    json_t *params = json_pack("{s:s, s:s}", "SerialNumber", "123", "HardwareRevision", "v2");
    json_t *o = NULL;
    OK(provisioning_provision(c, "sensors", params, id, &o, &err));
    ck_assert_str_eq(json_string_value(json_object_get(o, "thingName")), "device-123");
    ck_assert(json_is_object(json_object_get(o, "deviceConfiguration")));
    json_decref(o);
    OK(things_describe(c, "device-123", &o, &err));
    ck_assert_str_eq(json_string_value(json_object_get(o, "thingTypeName")), "EnvironmentalSensor");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "attributes"), "hwRevision")),
                     "v2");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "attributes"), "firmwareVersion")),
                     "1.0.0");
    json_decref(o);
    cert_status(id, st, sizeof st);
    ck_assert_str_eq(st, "ACTIVE");
    int attached = 0;
    OK(principals_is_attached(c, id, "device-123", &attached, &err));
    ck_assert_int_eq(attached, 1);
    ck_assert_int_eq(attached_policies(id), 1);
    /* Provisioning again is idempotent (the thing exists: DO_NOTHING). */
    OK(provisioning_provision(c, "sensors", params, id, &o, &err));
    json_decref(o);
    ck_assert_int_eq(attached_policies(id), 1);
    json_decref(params);
}
END_TEST

START_TEST(test_provision_rolls_back)
{
    sample_world();
    json_t *o = NULL;
    OK(policies_delete(c, "SensorDevicePolicy", &err));
    char id[65], st[32];
    new_cert(id);
    json_t *params = json_pack("{s:s, s:s}", "SerialNumber", "124", "HardwareRevision", "v1");
    /* The policy resource fails last: the thing, the certificate's status
     * and the attachment made before it must all be gone. */
    ck_assert_int_eq(provisioning_provision(c, "sensors", params, id, &o, &err), FL_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "SensorDevicePolicy"));
    ck_assert(!thing_exists("device-124"));
    cert_status(id, st, sizeof st);
    ck_assert_str_eq(st, "INACTIVE");
    ck_assert_int_eq(attached_policies(id), 0);
    /* unknown thing type: fails too, nothing left */
    OK(policies_create(c, "SensorDevicePolicy", POLICY_DOC, NULL, &o, &err));
    json_decref(o);
    char *body = strdup(SAMPLE);
    memcpy(strstr(body, "EnvironmentalSensor"), "EnvironmentalSensoX", 19);
    json_object_set_new(params, "AWS::IoT::Certificate::Id", json_string(id));
    ck_assert_int_eq(provisioning_register_thing(c, body, params, &o, &err), FL_NOT_FOUND);
    free(body);
    ck_assert(!thing_exists("device-124"));
    cert_status(id, st, sizeof st);
    ck_assert_str_eq(st, "INACTIVE");
    /* missing parameter */
    json_t *few = json_pack("{s:s}", "HardwareRevision", "v1");
    ck_assert_int_eq(provisioning_provision(c, "sensors", few, id, &o, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "SerialNumber"));
    json_decref(few);
    /* unknown certificate */
    ck_assert_int_eq(provisioning_provision(c, "sensors", params, "ab", &o, &err), FL_INVALID_REQUEST);
    json_decref(params);
}
END_TEST

START_TEST(test_provision_template_state)
{
    sample_world();
    create_tpl("off", SAMPLE, 0, NULL);
    create_tpl("jitp", SAMPLE, 1, "JITP");
    char id[65];
    new_cert(id);
    json_t *params = json_pack("{s:s, s:s}", "SerialNumber", "1", "HardwareRevision", "v1");
    json_t *o = NULL;
    ck_assert_int_eq(provisioning_provision(c, "off", params, id, &o, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "disabled"));
    ck_assert_int_eq(provisioning_provision(c, "jitp", params, id, &o, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(provisioning_provision(c, "none", params, id, &o, &err), FL_NOT_FOUND);
    ck_assert(!thing_exists("device-1"));
    json_decref(params);
}
END_TEST

static const char *OV_BODY =
    "{\"Parameters\": {\"A\": {\"Type\": \"String\"}},"
    " \"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": \"dev\","
    " \"AttributePayload\": {\"b\": {\"Ref\": \"A\"}}, \"ThingGroups\": [\"g2\"]},"
    " \"OverrideSettings\": {\"AttributePayload\": \"%s\", \"ThingGroups\": \"%s\"}}},"
    " \"DeviceConfiguration\": {\"k\": {\"Fn::Sub\": \"v-${A}\"}}}";

static json_t *register_ov(const char *attr_ov, const char *group_ov, enum fl_code want)
{
    char body[1024];
    snprintf(body, sizeof body, OV_BODY, attr_ov, group_ov);
    json_t *params = json_pack("{s:s}", "A", "2"), *o = NULL;
    enum fl_code rc = provisioning_register_thing(c, body, params, &o, &err);
    ck_assert_msg(rc == want, "%s/%s: %d %s", attr_ov, group_ov, rc, err.msg);
    json_decref(params);
    json_decref(o);
    json_t *d = NULL;
    OK(things_describe(c, "dev", &d, &err));
    json_t *a = json_incref(json_object_get(d, "attributes"));
    json_decref(d);
    return a;
}

static int in_group(const char *g)
{
    json_t *o = NULL;
    OK(thing_groups_list_for_thing(c, "dev", 100, NULL, &o, &err));
    int found = 0;
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(o, "thingGroups"), i, e)
        if (strcmp(json_string_value(json_object_get(e, "groupName")), g) == 0)
            found = 1;
    json_decref(o);
    return found;
}

START_TEST(test_override_settings)
{
    json_t *o = NULL;
    struct thing_group_create_in g1 = {.name = "g1"}, g2 = {.name = "g2"};
    OK(thing_groups_create(c, &g1, &o, &err));
    json_decref(o);
    OK(thing_groups_create(c, &g2, &o, &err));
    json_decref(o);
    json_t *attrs = json_pack("{s:s}", "a", "1");
    struct things_create_in in = {.name = "dev", .attributes = attrs};
    struct things_ref ref;
    OK(things_create(c, &in, &ref, &err));
    json_decref(attrs);
    json_t *g = json_pack("[s]", "g1");
    OK(thing_groups_update_for_thing(c, "dev", g, NULL, &err));
    json_decref(g);

    json_t *a = register_ov("DO_NOTHING", "DO_NOTHING", FL_OK);
    ck_assert_int_eq(json_object_size(a), 1);
    json_decref(a);
    ck_assert(in_group("g1") && !in_group("g2"));
    a = register_ov("FAIL", "DO_NOTHING", FL_CONFLICT);
    ck_assert_int_eq(json_object_size(a), 1);
    json_decref(a);
    a = register_ov("DO_NOTHING", "FAIL", FL_CONFLICT);
    json_decref(a);
    ck_assert(!in_group("g2"));
    a = register_ov("MERGE", "MERGE", FL_OK);
    ck_assert_int_eq(json_object_size(a), 2);
    ck_assert_str_eq(json_string_value(json_object_get(a, "b")), "2");
    json_decref(a);
    ck_assert(in_group("g1") && in_group("g2"));
    a = register_ov("REPLACE", "REPLACE", FL_OK);
    ck_assert_int_eq(json_object_size(a), 1);
    ck_assert_ptr_null(json_object_get(a, "a"));
    json_decref(a);
    ck_assert(!in_group("g1") && in_group("g2"));
    /* now attributes equal the template's: FAIL passes */
    a = register_ov("FAIL", "FAIL", FL_OK);
    json_decref(a);
}
END_TEST

static char *make_csr(void)
{
    EVP_PKEY *k = tu_ec_key();
    char *s = tu_csr_pem(k, "CN=dev");
    EVP_PKEY_free(k);
    return s;
}

START_TEST(test_register_thing_csr_inline_policy)
{
    const char *body =
        "{\"Parameters\": {\"ThingName\": {\"Type\": \"String\"}, \"CSR\": {\"Type\": \"String\"}},"
        " \"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "{\"Ref\": "
        "\"ThingName\"}}},"
        "  \"certificate\": {\"Type\": \"AWS::IoT::Certificate\", \"Properties\": "
        "{\"CertificateSigningRequest\": "
        "{\"Ref\": \"CSR\"}, \"Status\": \"ACTIVE\"}},"
        "  \"policy\": {\"Type\": \"AWS::IoT::Policy\", \"Properties\": {\"PolicyDocument\": "
        "\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\","
        "\\\"Action\\\":"
        "\\\"iot:Connect\\\",\\\"Resource\\\":\\\"*\\\"}]}\"}}}}";
    char *csr = make_csr();
    json_t *params = json_pack("{s:s, s:s}", "ThingName", "csr-thing", "CSR", csr);
    json_t *o = NULL;
    OK(provisioning_register_thing(c, body, params, &o, &err));
    json_t *arns = json_object_get(o, "resourceArns");
    ck_assert_str_eq(json_string_value(json_object_get(arns, "thing")),
                     "arn:aws:iot:us-east-1:123456789012:thing/csr-thing");
    const char *cert_arn = json_string_value(json_object_get(arns, "certificate"));
    ck_assert_ptr_nonnull(cert_arn);
    const char *pol_arn = json_string_value(json_object_get(arns, "policy"));
    ck_assert_ptr_nonnull(strstr(pol_arn, ":policy/fleetd_"));
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(o, "certificatePem")), "BEGIN CERTIFICATE"));
    char id[65];
    snprintf(id, sizeof id, "%s", strrchr(cert_arn, '/') + 1);
    char st[32];
    cert_status(id, st, sizeof st);
    ck_assert_str_eq(st, "ACTIVE");
    ck_assert_int_eq(attached_policies(id), 1);
    char pol1[320];
    snprintf(pol1, sizeof pol1, "%s", pol_arn);
    json_decref(o);
    /* a second device: same inline policy, reused */
    free(csr);
    csr = make_csr();
    json_object_set_new(params, "CSR", json_string(csr));
    json_object_set_new(params, "ThingName", json_string("csr-thing-2"));
    OK(provisioning_register_thing(c, body, params, &o, &err));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "resourceArns"), "policy")), pol1);
    json_decref(o);
    /* a bad CSR leaves no thing behind */
    json_object_set_new(params, "CSR", json_string("not a csr"));
    json_object_set_new(params, "ThingName", json_string("csr-thing-3"));
    ck_assert_int_eq(provisioning_register_thing(c, body, params, &o, &err), FL_INVALID_REQUEST);
    ck_assert(!thing_exists("csr-thing-3"));
    /* bad parameters */
    json_t *bad = json_pack("{s:[]}", "ThingName");
    ck_assert_int_eq(provisioning_register_thing(c, body, bad, &o, &err), FL_INVALID_REQUEST);
    json_decref(bad);
    json_decref(params);
    free(csr);
}
END_TEST

START_TEST(test_claim)
{
    create_tpl("fleet", SAMPLE, 1, NULL);
    json_t *o = NULL;
    ck_assert_int_eq(provisioning_create_claim(c, "nope", &o, &err), FL_NOT_FOUND);
    OK(provisioning_create_claim(c, "fleet", &o, &err));
    const char *pem = json_string_value(json_object_get(o, "certificatePem"));
    struct x509_info *info = malloc(sizeof *info);
    OK(x509_parse(pem, info, &err));
    ck_assert_int_eq(info->not_after_s - info->not_before_s, PROVISIONING_CLAIM_SECONDS + CA_BACKDATE_S);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "expiration")),
                     NOW_S + PROVISIONING_CLAIM_SECONDS);
    ck_assert_str_eq(info->id, json_string_value(json_object_get(o, "certificateId")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(json_object_get(o, "keyPair"), "PrivateKey")));
    OK(x509_verify_signed_by(pem, ca_root_pem(c->ca), &err));
    char st[32];
    cert_status(info->id, st, sizeof st);
    ck_assert_str_eq(st, "ACTIVE");
    ck_assert_int_eq(attached_policies(info->id), 1);
    json_decref(o);
    OK(policies_get(c, "fleetd-claim-fleet", &o, &err));
    const char *doc = json_string_value(json_object_get(o, "policyDocument"));
    ck_assert_ptr_nonnull(strstr(doc, "topic/$aws/provisioning-templates/fleet/provision/*"));
    ck_assert_ptr_nonnull(strstr(doc, "topicfilter/$aws/certificates/create-from-csr/*"));
    json_decref(o);
    /* a second claim reuses the policy */
    OK(provisioning_create_claim(c, "fleet", &o, &err));
    json_decref(o);
    free(info);
}
END_TEST

/* fleetd claim create: the same claim and policy, a factory's validity */
START_TEST(test_claim_for)
{
    create_tpl("fleet", SAMPLE, 1, NULL);
    json_t *o = NULL;
    const int64_t ten_years = 3650LL * 86400;
    ck_assert_int_eq(provisioning_create_claim_for(c, "fleet", 0, &o, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(provisioning_create_claim_for(c, "nope", ten_years, &o, &err), FL_NOT_FOUND);
    OK(provisioning_create_claim_for(c, "fleet", ten_years, &o, &err));
    struct x509_info *info = malloc(sizeof *info);
    OK(x509_parse(json_string_value(json_object_get(o, "certificatePem")), info, &err));
    ck_assert_int_eq(info->not_after_s - info->not_before_s, ten_years + CA_BACKDATE_S);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "expiration")), NOW_S + ten_years);
    ck_assert_int_eq(attached_policies(info->id), 1);
    json_decref(o);
    OK(policies_get(c, "fleetd-claim-fleet", &o, &err));
    json_decref(o);
    free(info);
}
END_TEST

START_TEST(test_tokens)
{
    char id[65];
    new_cert(id);
    char tok[PROVISIONING_TOKEN_MAX], got[65];
    OK(provisioning_token_issue(c, id, tok, &err));
    char tok2[PROVISIONING_TOKEN_MAX];
    OK(provisioning_token_issue(c, id, tok2, &err));
    ck_assert_str_ne(tok, tok2);
    /* forged: one character of the MAC or of the bound id changed */
    char forged[PROVISIONING_TOKEN_MAX];
    snprintf(forged, sizeof forged, "%s", tok);
    forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == '0' ? '1' : '0';
    ck_assert_int_eq(provisioning_token_check(c, forged, got, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "forged"));
    snprintf(forged, sizeof forged, "%s", tok);
    forged[0] = forged[0] == 'a' ? 'b' : 'a';
    ck_assert_int_eq(provisioning_token_check(c, forged, got, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(provisioning_token_check(c, "garbage", got, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(provisioning_token_check(c, "", got, &err), FL_INVALID_REQUEST);
    /* good, once */
    OK(provisioning_token_check(c, tok, got, &err));
    ck_assert_str_eq(got, id);
    ck_assert_int_eq(provisioning_token_check(c, tok, got, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "already used"));
    /* expired after an hour */
    tu_advance(c, PROVISIONING_TOKEN_SECONDS * 1000LL + 1);
    ck_assert_int_eq(provisioning_token_check(c, tok2, got, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "expired"));
    ck_assert_int_eq(provisioning_token_issue(c, "xyz", tok, &err), FL_INVALID_REQUEST);
}
END_TEST

/* ---- the fleet-provisioning MQTT API (provisioning_device_*) ---------------- */

static json_t *device_cert(const char *csr, int64_t ttl_s)
{
    json_t *o = NULL;
    OK(provisioning_device_certificate(c, csr, ttl_s, &o, &err));
    return o;
}

static enum fl_code device_register(const char *tpl, const char *token, json_t *params, json_t **out,
                                    enum provisioning_stage *stage)
{
    struct provisioning_device_in in = {.template_name = tpl, .token = token, .parameters = params};
    return provisioning_device_register(c, &in, out, stage, &err);
}

static int cert_exists(const char *id)
{
    json_t *o = NULL;
    enum fl_code rc = certificates_describe(c, id, &o, &err);
    json_decref(o);
    return rc == FL_OK;
}

START_TEST(test_device_certificate)
{
    /* keys: PENDING_ACTIVATION, a private key and a token bound to it */
    json_t *o = device_cert(NULL, 0);
    const char *id = json_string_value(json_object_get(o, "certificateId"));
    ck_assert_ptr_nonnull(id);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "privateKey")), "PRIVATE KEY"));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "certificatePem")), "CERTIFICATE"));
    ck_assert_ptr_null(json_object_get(o, "certificateArn"));
    char st[32];
    cert_status(id, st, sizeof st);
    ck_assert_str_eq(st, "PENDING_ACTIVATION");
    char got[65];
    OK(provisioning_token_check(c, json_string_value(json_object_get(o, "certificateOwnershipToken")), got,
                                &err));
    ck_assert_str_eq(got, id);
    json_decref(o);
    /* CSR: no private key; a bad CSR is refused and leaves nothing */
    char *csr = make_csr();
    o = device_cert(csr, 0);
    ck_assert_ptr_null(json_object_get(o, "privateKey"));
    cert_status(json_string_value(json_object_get(o, "certificateId")), st, sizeof st);
    ck_assert_str_eq(st, "PENDING_ACTIVATION");
    json_decref(o);
    free(csr);
    o = NULL;
    ck_assert_int_eq(provisioning_device_certificate(c, "garbage", 0, &o, &err), FL_INVALID_REQUEST);
    /* a certificate cannot connect before it is provisioned */
    int usable = 1;
    OK(certificates_is_usable(c, got, &usable, &err));
    ck_assert_int_eq(usable, 0);
}
END_TEST

START_TEST(test_device_register)
{
    sample_world();
    json_t *o = device_cert(NULL, 0);
    char id[65], tok[PROVISIONING_TOKEN_MAX], st[32];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(o, "certificateId")));
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(o, "certificateOwnershipToken")));
    json_decref(o);
    json_t *params = json_pack("{s:s, s:s}", "SerialNumber", "900", "HardwareRevision", "r3");
    enum provisioning_stage stage;
    OK(device_register("sensors", tok, params, &o, &stage));
    ck_assert_str_eq(json_string_value(json_object_get(o, "thingName")), "device-900");
    ck_assert(json_is_object(json_object_get(o, "deviceConfiguration")));
    json_decref(o);
    cert_status(id, st, sizeof st);
    ck_assert_str_eq(st, "ACTIVE");
    int attached = 0;
    OK(principals_is_attached(c, id, "device-900", &attached, &err));
    ck_assert_int_eq(attached, 1);
    ck_assert_int_eq(attached_policies(id), 1);
    /* the parameters were not modified */
    ck_assert_ptr_null(json_object_get(params, "AWS::IoT::Certificate::Id"));
    /* a token works once */
    ck_assert_int_eq(device_register("sensors", tok, params, &o, &stage), FL_INVALID_REQUEST);
    ck_assert_int_eq(stage, PROVISIONING_STAGE_TOKEN);
    ck_assert_ptr_nonnull(strstr(err.msg, "already used"));
    ck_assert_ptr_null(o);
    /* provisioned: the sweep keeps it */
    tu_advance(c, PROVISIONING_TOKEN_SECONDS * 1000LL + 1);
    int deleted = -1;
    OK(provisioning_sweep(c, 0, &deleted, &err));
    ck_assert_int_eq(deleted, 0);
    ck_assert(cert_exists(id));
    json_decref(params);
}
END_TEST

START_TEST(test_device_register_rejections)
{
    sample_world();
    create_tpl("off", SAMPLE, 0, NULL);
    create_tpl("jitp", SAMPLE, 1, "JITP");
    json_t *o = device_cert(NULL, 0);
    char id[65], tok[PROVISIONING_TOKEN_MAX], st[32];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(o, "certificateId")));
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(o, "certificateOwnershipToken")));
    json_decref(o);
    json_t *params = json_pack("{s:s, s:s}", "SerialNumber", "901", "HardwareRevision", "r1");
    enum provisioning_stage stage;
    /* template state */
    ck_assert_int_eq(device_register("nope", tok, params, &o, &stage), FL_NOT_FOUND);
    ck_assert_int_eq(stage, PROVISIONING_STAGE_TEMPLATE);
    ck_assert_int_eq(device_register("off", tok, params, &o, &stage), FL_INVALID_REQUEST);
    ck_assert_int_eq(stage, PROVISIONING_STAGE_TEMPLATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "disabled"));
    ck_assert_int_eq(device_register("jitp", tok, params, &o, &stage), FL_INVALID_REQUEST);
    ck_assert_int_eq(stage, PROVISIONING_STAGE_TEMPLATE);
    /* forged, malformed, empty tokens */
    char forged[PROVISIONING_TOKEN_MAX];
    snprintf(forged, sizeof forged, "%s", tok);
    forged[70] = forged[70] == '1' ? '2' : '1'; /* the expiry */
    ck_assert_int_eq(device_register("sensors", forged, params, &o, &stage), FL_INVALID_REQUEST);
    ck_assert_int_eq(stage, PROVISIONING_STAGE_TOKEN);
    ck_assert_ptr_nonnull(strstr(err.msg, "forged"));
    ck_assert_int_eq(device_register("sensors", "x.y", params, &o, &stage), FL_INVALID_REQUEST);
    ck_assert_int_eq(stage, PROVISIONING_STAGE_TOKEN);
    ck_assert_int_eq(device_register("sensors", "", params, &o, &stage), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot be empty"));
    /* missing parameter: fails while applying, leaves nothing, and the
     * token is still good */
    json_t *few = json_pack("{s:s}", "HardwareRevision", "r1");
    ck_assert_int_eq(device_register("sensors", tok, few, &o, &stage), FL_INVALID_REQUEST);
    ck_assert_int_eq(stage, PROVISIONING_STAGE_APPLY);
    ck_assert_ptr_nonnull(strstr(err.msg, "SerialNumber"));
    json_decref(few);
    /* unknown thing type: the same */
    char *body = strdup(SAMPLE);
    memcpy(strstr(body, "EnvironmentalSensor"), "EnvironmentalSensoX", 19);
    create_tpl("badtype", body, 1, NULL);
    free(body);
    ck_assert_int_eq(device_register("badtype", tok, params, &o, &stage), FL_NOT_FOUND);
    ck_assert_int_eq(stage, PROVISIONING_STAGE_APPLY);
    ck_assert(!thing_exists("device-901"));
    cert_status(id, st, sizeof st);
    ck_assert_str_eq(st, "PENDING_ACTIVATION");
    ck_assert_int_eq(attached_policies(id), 0);
    /* the hook (no HTTP client in this core): refused, nothing applied */
    json_t *hook = json_pack("{s:s}", "targetArn", "http://127.0.0.1:9/hook");
    struct provisioning_create_in hin = {.name = "hooked",
                                         .body = SAMPLE,
                                         .enabled = 1,
                                         .role_arn = "arn:aws:iam::123456789012:role/Provisioning",
                                         .hook = hook};
    OK(provisioning_create(c, &hin, &o, &err));
    json_decref(o);
    json_decref(hook);
    ck_assert_int_eq(device_register("hooked", tok, params, &o, &stage), FL_ACCESS_DENIED);
    ck_assert_int_eq(stage, PROVISIONING_STAGE_HOOK);
    ck_assert(!thing_exists("device-901"));
    /* after all that the token still works, once */
    OK(device_register("sensors", tok, params, &o, &stage));
    json_decref(o);
    ck_assert(thing_exists("device-901"));
    /* expired */
    o = device_cert(NULL, 0);
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(o, "certificateOwnershipToken")));
    json_decref(o);
    tu_advance(c, PROVISIONING_TOKEN_SECONDS * 1000LL + 1);
    json_object_set_new(params, "SerialNumber", json_string("902"));
    ck_assert_int_eq(device_register("sensors", tok, params, &o, &stage), FL_INVALID_REQUEST);
    ck_assert_int_eq(stage, PROVISIONING_STAGE_TOKEN);
    ck_assert_ptr_nonnull(strstr(err.msg, "expired"));
    json_decref(params);
}
END_TEST

START_TEST(test_device_sweep)
{
    sample_world();
    /* a short lifetime (plugin_opt_provisioning_token_ttl_s) */
    json_t *a = device_cert(NULL, 60), *b = device_cert(NULL, 60), *k = device_cert(NULL, 0);
    const char *ida = json_string_value(json_object_get(a, "certificateId"));
    const char *idb = json_string_value(json_object_get(b, "certificateId"));
    const char *idk = json_string_value(json_object_get(k, "certificateId"));
    /* b gets attached to a thing by an administrator meanwhile: kept */
    json_t *o = NULL;
    struct things_create_in tin = {.name = "manual"};
    struct things_ref tref;
    OK(things_create(c, &tin, &tref, &err));
    char arn[320];
    core_arn(c, arn, sizeof arn, "cert", idb);
    OK(principals_attach(c, "manual", arn, NULL, &err));
    int deleted = -1;
    OK(provisioning_sweep(c, 0, &deleted, &err));
    ck_assert_int_eq(deleted, 0); /* nothing expired yet */
    tu_advance(c, 61 * 1000);
    /* the token of a died with it */
    enum provisioning_stage stage;
    json_t *params = json_pack("{s:s, s:s}", "SerialNumber", "903", "HardwareRevision", "r1");
    ck_assert_int_eq(device_register("sensors",
                                     json_string_value(json_object_get(a, "certificateOwnershipToken")),
                                     params, &o, &stage),
                     FL_INVALID_REQUEST);
    OK(provisioning_sweep(c, 0, &deleted, &err));
    ck_assert_int_eq(deleted, 1);
    ck_assert(!cert_exists(ida));
    ck_assert(cert_exists(idb));
    ck_assert(cert_exists(idk)); /* an hour, not a minute */
    OK(provisioning_sweep(c, 0, &deleted, &err));
    ck_assert_int_eq(deleted, 0);
    tu_advance(c, PROVISIONING_TOKEN_SECONDS * 1000LL);
    OK(provisioning_sweep(c, 0, &deleted, &err));
    ck_assert_int_eq(deleted, 1);
    ck_assert(!cert_exists(idk));
    json_decref(params);
    json_decref(a);
    json_decref(b);
    json_decref(k);
}
END_TEST

Suite *provisioning_suite(void)
{
    Suite *s = suite_create("provisioning");
    TCase *tc = tcase_create("provisioning");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_template_crud);
    tcase_add_test(tc, test_versions);
    tcase_add_test(tc, test_provision_sample);
    tcase_add_test(tc, test_provision_rolls_back);
    tcase_add_test(tc, test_provision_template_state);
    tcase_add_test(tc, test_override_settings);
    tcase_add_test(tc, test_register_thing_csr_inline_policy);
    tcase_add_test(tc, test_claim);
    tcase_add_test(tc, test_claim_for);
    tcase_add_test(tc, test_tokens);
    tcase_add_test(tc, test_device_certificate);
    tcase_add_test(tc, test_device_register);
    tcase_add_test(tc, test_device_register_rejections);
    tcase_add_test(tc, test_device_sweep);
    suite_add_tcase(s, tc);
    return s;
}
