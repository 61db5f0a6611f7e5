/*
 * check_template_engine.c - the provisioning template parser, validator
 * and evaluator (server/core/template_engine.c), without a store.
 */
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "template_engine.h"
#include "testutil.h"

/* The template of issue 5, verbatim. */
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

static struct fl_err err;

/* Evaluates body with params (JSON text or NULL) expecting want. */
static enum fl_code eval(const char *body, const char *params, struct tpl_plan *pl)
{
    json_t *b = NULL;
    fl_err_clear(&err);
    enum fl_code rc = tpl_parse(body, &b, &err);
    if (rc) {
        memset(pl, 0, sizeof *pl);
        return rc;
    }
    json_t *p = params ? json_loads(params, 0, NULL) : NULL;
    rc = tpl_evaluate(b, p, pl, &err);
    json_decref(p);
    json_decref(b);
    return rc;
}

/* A template whose thing is named by expr (a JSON value). */
static char *thing_named(const char *params_decl, const char *mappings, const char *expr)
{
    char *s = malloc(8192);
    snprintf(s, 8192,
             "{\"Parameters\": {%s}, \"Mappings\": {%s}, \"Resources\": {\"thing\": {\"Type\": "
             "\"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": %s}}}}",
             params_decl, mappings, expr);
    return s;
}

static void expect_name(const char *decl, const char *maps, const char *expr, const char *params,
                        const char *want)
{
    char *b = thing_named(decl, maps, expr);
    struct tpl_plan pl;
    enum fl_code rc = eval(b, params, &pl);
    ck_assert_msg(rc == FL_OK, "%s: %s", expr, err.msg);
    ck_assert_str_eq(pl.thing_name, want);
    tpl_plan_free(&pl);
    free(b);
}

static void expect_fail(const char *body, const char *params, const char *msg_part)
{
    struct tpl_plan pl;
    enum fl_code rc = eval(body, params, &pl);
    ck_assert_msg(rc == FL_INVALID_REQUEST, "expected failure for %s", body);
    ck_assert_msg(strstr(err.msg, msg_part) != NULL, "message '%s' lacks '%s'", err.msg, msg_part);
    tpl_plan_free(&pl);
}

START_TEST(test_sample)
{
    struct tpl_plan pl;
    const char *params = "{\"SerialNumber\":\"123\",\"HardwareRevision\":\"v2\","
                         "\"AWS::IoT::Certificate::Id\":\"" /* 64 hex */
                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}";
    ck_assert_int_eq(eval(SAMPLE, params, &pl), FL_OK);
    ck_assert(pl.has_thing && pl.has_cert && pl.has_policy);
    ck_assert_str_eq(pl.thing_name, "device-123");
    ck_assert_str_eq(pl.thing_type, "EnvironmentalSensor");
    ck_assert_str_eq(json_string_value(json_object_get(pl.attributes, "hwRevision")), "v2");
    ck_assert_str_eq(json_string_value(json_object_get(pl.attributes, "firmwareVersion")), "1.0.0");
    ck_assert_str_eq(pl.cert_id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    ck_assert_str_eq(pl.cert_status, "ACTIVE");
    ck_assert_str_eq(pl.policy_name, "SensorDevicePolicy");
    ck_assert_ptr_null(pl.policy_doc);
    ck_assert_int_eq(json_object_size(pl.device_config), 0);
    ck_assert_int_eq(pl.ov_attributes, TPL_OV_DO_NOTHING);
    tpl_plan_free(&pl);
    /* A missing parameter without Default fails, naming it. */
    expect_fail(SAMPLE, "{\"HardwareRevision\":\"v2\"}", "SerialNumber");
}
END_TEST

START_TEST(test_intrinsics)
{
    const char *d = "\"P\": {\"Type\": \"String\"}, \"Q\": {\"Type\": \"String\", \"Default\": \"dq\"},"
                    "\"N\": {\"Type\": \"Number\", \"Default\": 7}";
    const char *m = "\"Region\": {\"eu\": {\"prefix\": \"E\"}, \"us\": {\"prefix\": \"U\"}}";
    const char *p = "{\"P\": \"a,b,c\"}";
    expect_name(d, m, "{\"Ref\": \"P\"}", p, "a,b,c");
    expect_name(d, m, "{\"Ref\": \"Q\"}", p, "dq"); /* Default */
    expect_name(d, m, "{\"Ref\": \"Q\"}", "{\"P\":\"x\",\"Q\":\"given\"}", "given");
    expect_name(d, m, "{\"Fn::Join\": [\"\", [\"n\", {\"Ref\": \"N\"}]]}", p, "n7"); /* number Default */
    expect_name(d, m, "{\"Fn::Join\": [\"_\", {\"Fn::Split\": [\",\", {\"Ref\": \"P\"}]}]}", p, "a_b_c");
    expect_name(d, m, "{\"Fn::Select\": [1, {\"Fn::Split\": [\",\", {\"Ref\": \"P\"}]}]}", p, "b");
    expect_name(d, m, "{\"Fn::Select\": [\"2\", [\"x\", \"y\", \"z\"]]}", p, "z");
    expect_name(d, m, "{\"Fn::Sub\": \"dev-${P}-${Q}\"}", p, "dev-a,b,c-dq");
    expect_name(d, m, "{\"Fn::Sub\": [\"${X}:${!Lit}\", {\"X\": {\"Ref\": \"Q\"}}]}", p, "dq:${Lit}");
    expect_name(d, m, "{\"Fn::FindInMap\": [\"Region\", \"us\", \"prefix\"]}", p, "U");
    expect_name(d, m,
                "{\"Fn::Join\": [\"-\", [{\"Fn::FindInMap\": [\"Region\", {\"Ref\": \"Q\"}, \"prefix\"]}]]}",
                "{\"P\":\"x\",\"Q\":\"eu\"}", "E");
    /* evaluation errors */
    char *b = thing_named(d, m, "{\"Fn::Select\": [5, [\"x\"]]}");
    expect_fail(b, p, "index out of range");
    free(b);
    b = thing_named(d, m, "{\"Fn::FindInMap\": [\"Region\", \"mars\", \"prefix\"]}");
    expect_fail(b, p, "no key mars");
    free(b);
    b = thing_named(d, m, "{\"Fn::Join\": [\"-\", {\"Ref\": \"P\"}]}");
    expect_fail(b, p, "must be a list");
    free(b);
}
END_TEST

START_TEST(test_resource_refs_and_config)
{
    const char *body =
        "{\"Parameters\": {\"S\": {\"Type\": \"String\"}},"
        " \"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "{\"Ref\": "
        "\"S\"}, \"ThingGroups\": [\"g1\", {\"Ref\": \"S\"}]},"
        "  \"OverrideSettings\": {\"AttributePayload\": \"MERGE\", \"ThingTypeName\": \"REPLACE\", "
        "\"ThingGroups\": \"FAIL\"}},"
        "  \"policy\": {\"Type\": \"AWS::IoT::Policy\", \"Properties\": {\"PolicyDocument\": {\"Version\": "
        "\"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"iot:Connect\", \"Resource\": "
        "{\"Fn::Sub\": \"arn:client/${thing}\"}}]}}}},"
        " \"DeviceConfiguration\": {\"name\": {\"Ref\": \"thing\"}, \"fixed\": \"x\"}}";
    struct tpl_plan pl;
    ck_assert_msg(eval(body, "{\"S\": \"dev1\"}", &pl) == FL_OK, "%s", err.msg);
    ck_assert_str_eq(pl.thing_name, "dev1");
    ck_assert_int_eq(json_array_size(pl.groups), 2);
    ck_assert_str_eq(json_string_value(json_array_get(pl.groups, 1)), "dev1");
    ck_assert_int_eq(pl.ov_attributes, TPL_OV_MERGE);
    ck_assert_int_eq(pl.ov_type, TPL_OV_REPLACE);
    ck_assert_int_eq(pl.ov_groups, TPL_OV_FAIL);
    ck_assert_ptr_nonnull(pl.policy_doc);
    ck_assert_ptr_nonnull(strstr(pl.policy_doc, "arn:client/dev1"));
    ck_assert_str_eq(json_string_value(json_object_get(pl.device_config, "name")), "dev1");
    ck_assert_str_eq(json_string_value(json_object_get(pl.device_config, "fixed")), "x");
    tpl_plan_free(&pl);
}
END_TEST

static void expect_invalid(const char *body, const char *msg)
{
    fl_err_clear(&err);
    ck_assert_int_eq(tpl_parse(body, NULL, &err), FL_INVALID_REQUEST);
    ck_assert_msg(strstr(err.msg, msg) != NULL, "message '%s' lacks '%s'", err.msg, msg);
}

START_TEST(test_validation_places)
{
    expect_invalid(
        "{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "{\"Fn::Foo\": [1]}}}}}",
        "Resources.thing.Properties.ThingName: unknown function Fn::Foo");
    expect_invalid("{\"Resources\": {\"x\": {\"Type\": \"AWS::IoT::Job\", \"Properties\": {}}}}",
                   "Resources.x: unknown resource type AWS::IoT::Job");
    expect_invalid(
        "{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "{\"Ref\": \"Nope\"}}}}}",
        "Resources.thing.Properties.ThingName: Ref to undefined parameter or resource Nope");
    expect_invalid(
        "{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "{\"Fn::Sub\": \"a-${Nope}\"}}}}}",
        "undefined parameter or resource Nope");
    expect_invalid(
        "{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "{\"Fn::Join\": [\"-\"]}}}}}",
        "Resources.thing.Properties.ThingName.Fn::Join: Fn::Join takes a list of 2 values");
    expect_invalid(
        "{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "{\"Fn::FindInMap\": [\"M\", \"a\", \"b\"]}}}}}",
        "no mapping named M");
    expect_invalid("{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"Name\": "
                   "\"x\"}}}}",
                   "Resources.thing.Properties.Name: unknown property");
    expect_invalid(
        "{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "\"x\"}, \"OverrideSettings\": {\"ThingTypeName\": \"MERGE\"}}}}",
        "Resources.thing.OverrideSettings.ThingTypeName: must be one of");
    expect_invalid("{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {}}}}",
                   "ThingName is required");
    expect_invalid(
        "{\"Resources\": {\"a\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "\"x\"}}, \"b\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": \"y\"}}}}",
        "at most one");
    expect_invalid("{\"Resources\": {}, \"Outputs\": {}}", "Outputs: unknown template section");
    expect_invalid("{\"Parameters\": {\"P\": {}}, \"Resources\": {}}", "Parameters.P: Type is required");
    expect_invalid("{\"Parameters\": {}}", "Resources: is required");
    expect_invalid("[1]", "must be a JSON object");
    expect_invalid("{\"Resources\": ", "not valid JSON");
    expect_invalid("{\"Resources\": {}, \"Resources\": {}}", "not valid JSON");
    /* nesting beyond TPL_DEPTH_MAX */
    char deep[400] = "{\"Resources\": {}, \"DeviceConfiguration\": ";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    expect_invalid(deep, "must be an object");
    char deep2[600] = "{\"Resources\": {}, \"DeviceConfiguration\": {\"a\": ";
    for (int i = 0; i < 40; i++)
        strcat(deep2, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep2, "]");
    strcat(deep2, "}}");
    expect_invalid(deep2, "nested too deeply");
    /* too long */
    char *big = malloc(TPL_BODY_MAX + 100);
    memset(big, ' ', TPL_BODY_MAX + 50);
    big[TPL_BODY_MAX + 50] = '\0';
    expect_invalid(big, "longer than");
    free(big);
}
END_TEST

START_TEST(test_cycles_are_bounded)
{
    /* Resources naming each other: a cycle, and a fan-out that would take
     * 2^30 steps unbounded. Both fail quickly. */
    const char *cyc =
        "{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "{\"Ref\": \"policy\"}}}, \"policy\": {\"Type\": \"AWS::IoT::Policy\", \"Properties\": "
        "{\"PolicyName\": {\"Ref\": \"thing\"}}}}}";
    expect_fail(cyc, NULL, "nest too deeply");
    const char *self =
        "{\"Resources\": {\"thing\": {\"Type\": \"AWS::IoT::Thing\", \"Properties\": {\"ThingName\": "
        "{\"Fn::Join\": [\"\", [{\"Ref\": \"thing\"}, {\"Ref\": \"thing\"}]]}}}}}";
    struct tpl_plan pl;
    ck_assert_int_ne(eval(self, NULL, &pl), FL_OK);
    tpl_plan_free(&pl);
}
END_TEST

Suite *template_engine_suite(void)
{
    Suite *s = suite_create("template_engine");
    TCase *tc = tcase_create("engine");
    tcase_add_test(tc, test_sample);
    tcase_add_test(tc, test_intrinsics);
    tcase_add_test(tc, test_resource_refs_and_config);
    tcase_add_test(tc, test_validation_places);
    tcase_add_test(tc, test_cycles_are_bounded);
    suite_add_tcase(s, tc);
    return s;
}
