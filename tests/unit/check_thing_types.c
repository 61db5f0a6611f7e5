/*
 * check_thing_types.c - unit tests for thing_types.c (Create, Describe,
 * Update, Deprecate, Delete, ListThingTypes, tags on types) against an
 * in-memory database.
 */
#include <stdio.h>
#include <string.h>

#include "page.h"
#include "suites.h"
#include "tags.h"
#include "testutil.h"
#include "thing_types.h"
#include "things.h"

static struct fl_core *c;
static struct fl_err err;

static void setup(void)
{
    c = tu_core();
    fl_err_clear(&err);
}

static void teardown(void)
{
    tu_core_free(c);
}

/* Creates a type; props and tags are consumed. */
static enum fl_code mk(const char *name, json_t *props, json_t *tags, struct thing_types_ref *out)
{
    struct thing_types_ref tmp;
    enum fl_code rc = thing_types_create(c, name, props, tags, out ? out : &tmp, &err);
    json_decref(props);
    json_decref(tags);
    return rc;
}

static json_t *describe(const char *name)
{
    json_t *out = NULL;
    ck_assert_msg(thing_types_describe(c, name, &out, &err) == FL_OK, "%s", err.msg);
    return out;
}

static json_t *path(json_t *o, const char *a, const char *b)
{
    return json_object_get(json_object_get(o, a), b);
}

START_TEST(test_create_describe)
{
    struct thing_types_ref r;
    json_t *props = json_pack("{s:s, s:[ss]}", "thingTypeDescription", "traffic light type",
                              "searchableAttributes", "wattage", "model");
    ck_assert_int_eq(mk("StopLight", props, NULL, &r), FL_OK);
    ck_assert_str_eq(r.name, "StopLight");
    ck_assert_str_eq(r.arn, "arn:aws:iot:us-east-1:123456789012:thingtype/StopLight");
    ck_assert_int_eq(strlen(r.type_id), 36);

    json_t *d = describe("StopLight");
    ck_assert_str_eq(json_string_value(json_object_get(d, "thingTypeName")), "StopLight");
    ck_assert_str_eq(json_string_value(json_object_get(d, "thingTypeId")), r.type_id);
    ck_assert_str_eq(json_string_value(json_object_get(d, "thingTypeArn")), r.arn);
    ck_assert_str_eq(json_string_value(path(d, "thingTypeProperties", "thingTypeDescription")),
                     "traffic light type");
    json_t *sa = path(d, "thingTypeProperties", "searchableAttributes");
    ck_assert_int_eq(json_array_size(sa), 2);
    ck_assert_str_eq(json_string_value(json_array_get(sa, 1)), "model");
    ck_assert(json_is_false(path(d, "thingTypeMetadata", "deprecated")));
    ck_assert_ptr_null(path(d, "thingTypeMetadata", "deprecationDate"));
    ck_assert_int_eq(json_integer_value(path(d, "thingTypeMetadata", "creationDate")), 1764142417);
    json_decref(d);

    /* No properties: an empty thingTypeProperties object. */
    ck_assert_int_eq(mk("Bare", NULL, NULL, NULL), FL_OK);
    d = describe("Bare");
    ck_assert(json_is_object(json_object_get(d, "thingTypeProperties")));
    ck_assert_int_eq(json_object_size(json_object_get(d, "thingTypeProperties")), 0);
    json_decref(d);

    json_t *out = NULL;
    ck_assert_int_eq(thing_types_describe(c, "Nope", &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(thing_types_describe(c, "bad name", &out, &err), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_mqtt5_configuration)
{
    json_t *props = json_pack("{s:{s:[{s:s,s:s},{s:s,s:s}]}}", "mqtt5Configuration", "propagatingAttributes",
                              "userPropertyKey", "serial", "thingAttribute", "serialNumber",
                              "userPropertyKey", "client", "connectionAttribute", "iot:ClientId");
    ck_assert_int_eq(mk("M", props, NULL, NULL), FL_OK);
    json_t *d = describe("M");
    json_t *pa =
        json_object_get(path(d, "thingTypeProperties", "mqtt5Configuration"), "propagatingAttributes");
    ck_assert_int_eq(json_array_size(pa), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(pa, 1), "connectionAttribute")),
                     "iot:ClientId");
    json_decref(d);
    ck_assert_int_eq(mk("M2",
                        json_pack("{s:{s:[{s:s}]}}", "mqtt5Configuration", "propagatingAttributes",
                                  "userPropertyKey", "bad key"),
                        NULL, NULL),
                     FL_INVALID_REQUEST);
    ck_assert_int_eq(
        mk("M2", json_pack("{s:{s:[i]}}", "mqtt5Configuration", "propagatingAttributes", 1), NULL, NULL),
        FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("M2", json_pack("{s:s}", "mqtt5Configuration", "x"), NULL, NULL), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_recreate)
{
    struct thing_types_ref r1, r2;
    ck_assert_int_eq(mk("T", json_pack("{s:s}", "thingTypeDescription", "d"), NULL, &r1), FL_OK);
    tu_advance(c, 1000);
    ck_assert_int_eq(mk("T", json_pack("{s:s}", "thingTypeDescription", "d"), NULL, &r2), FL_OK);
    ck_assert_str_eq(r1.type_id, r2.type_id);
    json_t *d = describe("T");
    ck_assert_int_eq(json_integer_value(path(d, "thingTypeMetadata", "creationDate")), 1764142417);
    json_decref(d);
    ck_assert_int_eq(mk("T", json_pack("{s:s}", "thingTypeDescription", "other"), NULL, NULL),
                     FL_ALREADY_EXISTS);
    ck_assert_str_eq(err.resource_id, r1.type_id);
    ck_assert_str_eq(err.resource_arn, r1.arn);
    ck_assert_int_eq(mk("T", NULL, NULL, NULL), FL_ALREADY_EXISTS);
    ck_assert_int_eq(mk("T",
                        json_pack("{s:s,s:[s]}", "thingTypeDescription", "d", "searchableAttributes", "a"),
                        NULL, NULL),
                     FL_ALREADY_EXISTS);
}
END_TEST

START_TEST(test_validation)
{
    ck_assert_int_eq(mk("bad name", NULL, NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("", NULL, NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("T", json_pack("{s:[ssss]}", "searchableAttributes", "a", "b", "c", "d"), NULL, NULL),
                     FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("T", json_pack("{s:[s]}", "searchableAttributes", "bad name"), NULL, NULL),
                     FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("T", json_pack("{s:[i]}", "searchableAttributes", 3), NULL, NULL),
                     FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("T", json_pack("{s:s}", "searchableAttributes", "a"), NULL, NULL),
                     FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("T", json_pack("{s:s}", "thingTypeDescription", "tab\there"), NULL, NULL),
                     FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("T", json_pack("{s:i}", "thingTypeDescription", 4), NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "thingTypeDescription"));
    char desc[2100];
    memset(desc, 'x', 2029);
    desc[2029] = '\0';
    ck_assert_int_eq(mk("T", json_pack("{s:s}", "thingTypeDescription", desc), NULL, NULL),
                     FL_INVALID_REQUEST);
    desc[2028] = '\0';
    ck_assert_int_eq(mk("T", json_pack("{s:s}", "thingTypeDescription", desc), NULL, NULL), FL_OK);
    ck_assert_int_eq(mk("U", json_pack("{s:s}", "thingTypeDescription", "Ünïcode ok"), NULL, NULL), FL_OK);
    ck_assert_int_eq(mk("V", json_pack("[]"), NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("V", NULL, json_pack("{}"), NULL), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_update)
{
    ck_assert_int_eq(mk("T",
                        json_pack("{s:s,s:[s]}", "thingTypeDescription", "d", "searchableAttributes", "a"),
                        NULL, NULL),
                     FL_OK);
    json_t *p = json_pack("{s:s}", "thingTypeDescription", "new");
    ck_assert_int_eq(thing_types_update(c, "T", p, &err), FL_OK);
    json_decref(p);
    json_t *d = describe("T");
    ck_assert_str_eq(json_string_value(path(d, "thingTypeProperties", "thingTypeDescription")), "new");
    ck_assert_int_eq(json_array_size(path(d, "thingTypeProperties", "searchableAttributes")), 1);
    json_decref(d);

    p = json_pack("{s:[ss]}", "searchableAttributes", "x", "y");
    ck_assert_int_eq(thing_types_update(c, "T", p, &err), FL_OK);
    json_decref(p);
    d = describe("T");
    ck_assert_str_eq(json_string_value(path(d, "thingTypeProperties", "thingTypeDescription")), "new");
    ck_assert_int_eq(json_array_size(path(d, "thingTypeProperties", "searchableAttributes")), 2);
    json_decref(d);

    ck_assert_int_eq(thing_types_update(c, "T", NULL, &err), FL_OK);
    ck_assert_int_eq(thing_types_update(c, "Nope", NULL, &err), FL_NOT_FOUND);
    p = json_pack("{s:[ssss]}", "searchableAttributes", "a", "b", "c", "d");
    ck_assert_int_eq(thing_types_update(c, "T", p, &err), FL_INVALID_REQUEST);
    json_decref(p);
}
END_TEST

START_TEST(test_deprecate)
{
    ck_assert_int_eq(mk("T", NULL, NULL, NULL), FL_OK);
    ck_assert_int_eq(thing_types_deprecate(c, "Nope", 0, &err), FL_NOT_FOUND);
    tu_advance(c, 2500);
    ck_assert_int_eq(thing_types_deprecate(c, "T", 0, &err), FL_OK);
    json_t *d = describe("T");
    ck_assert(json_is_true(path(d, "thingTypeMetadata", "deprecated")));
    ck_assert(json_real_value(path(d, "thingTypeMetadata", "deprecationDate")) == 1764142419.5);
    json_decref(d);
    /* Again: the first deprecation time stays. */
    tu_advance(c, 1000);
    ck_assert_int_eq(thing_types_deprecate(c, "T", 0, &err), FL_OK);
    d = describe("T");
    ck_assert(json_real_value(path(d, "thingTypeMetadata", "deprecationDate")) == 1764142419.5);
    json_decref(d);

    ck_assert_int_eq(thing_types_deprecate(c, "T", 1, &err), FL_OK);
    d = describe("T");
    ck_assert(json_is_false(path(d, "thingTypeMetadata", "deprecated")));
    ck_assert_ptr_null(path(d, "thingTypeMetadata", "deprecationDate"));
    json_decref(d);
    ck_assert_int_eq(thing_types_deprecate(c, "T", 1, &err), FL_OK);
}
END_TEST

START_TEST(test_delete_rules)
{
    ck_assert_int_eq(mk("T", NULL, NULL, NULL), FL_OK);
    ck_assert_int_eq(thing_types_delete(c, "Nope", &err), FL_NOT_FOUND);
    ck_assert_int_eq(thing_types_delete(c, "T", &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "deprecated"));

    struct things_ref r;
    struct things_create_in in = {.name = "thing1", .type_name = "T"};
    ck_assert_int_eq(things_create(c, &in, &r, &err), FL_OK);

    ck_assert_int_eq(thing_types_deprecate(c, "T", 0, &err), FL_OK);
    ck_assert_int_eq(thing_types_delete(c, "T", &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "5 minutes"));
    tu_advance(c, THING_TYPES_DELETE_DELAY_MS - 1);
    ck_assert_int_eq(thing_types_delete(c, "T", &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "5 minutes"));
    tu_advance(c, 1);
    ck_assert_int_eq(thing_types_delete(c, "T", &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "associated"));

    struct things_update_in up = {.name = "thing1", .remove_type = 1};
    ck_assert_int_eq(things_update(c, &up, &err), FL_OK);
    ck_assert_int_eq(thing_types_delete(c, "T", &err), FL_OK);
    json_t *out = NULL;
    ck_assert_int_eq(thing_types_describe(c, "T", &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(thing_types_delete(c, "T", &err), FL_NOT_FOUND);

    /* The name is free again. */
    ck_assert_int_eq(mk("T", NULL, NULL, NULL), FL_OK);
}
END_TEST

START_TEST(test_tags)
{
    struct thing_types_ref r;
    ck_assert_int_eq(
        mk("T", NULL, json_pack("[{s:s,s:s},{s:s}]", "Key", "env", "Value", "prod", "Key", "team"), &r),
        FL_OK);
    json_t *out = NULL;
    ck_assert_msg(tags_list(c, r.arn, NULL, 50, &out, &err) == FL_OK, "%s", err.msg);
    ck_assert_int_eq(json_array_size(json_object_get(out, "tags")), 2);
    json_decref(out);

    /* Bad tags roll the whole create back. */
    ck_assert_int_ne(mk("U", NULL, json_pack("[{s:s}]", "Value", "x"), NULL), FL_OK);
    ck_assert_int_eq(thing_types_describe(c, "U", &out, &err), FL_NOT_FOUND);

    ck_assert_int_eq(thing_types_deprecate(c, "T", 0, &err), FL_OK);
    tu_advance(c, THING_TYPES_DELETE_DELAY_MS);
    ck_assert_int_eq(thing_types_delete(c, "T", &err), FL_OK);
    ck_assert_int_eq(mk("T", NULL, NULL, &r), FL_OK);
    out = NULL;
    ck_assert_msg(tags_list(c, r.arn, NULL, 50, &out, &err) == FL_OK, "%s", err.msg);
    ck_assert_int_eq(json_array_size(json_object_get(out, "tags")), 0);
    json_decref(out);
}
END_TEST

static int list_all(const char *only, int max, char *buf, size_t n)
{
    char token[PAGE_TOKEN_MAX] = "";
    int pages = 0;
    buf[0] = '\0';
    for (;;) {
        json_t *out = NULL;
        ck_assert_msg(thing_types_list(c, only, max, token[0] ? token : NULL, &out, &err) == FL_OK, "%s",
                      err.msg);
        pages++;
        size_t i;
        json_t *t;
        json_array_foreach (json_object_get(out, "thingTypes"), i, t) {
            ck_assert_ptr_nonnull(json_object_get(t, "thingTypeArn"));
            ck_assert_ptr_nonnull(json_object_get(t, "thingTypeProperties"));
            ck_assert_ptr_nonnull(path(t, "thingTypeMetadata", "creationDate"));
            strncat(buf, json_string_value(json_object_get(t, "thingTypeName")), n - strlen(buf) - 1);
            strncat(buf, ",", n - strlen(buf) - 1);
        }
        const char *next = json_string_value(json_object_get(out, "nextToken"));
        if (next == NULL) {
            json_decref(out);
            return pages;
        }
        snprintf(token, sizeof(token), "%s", next);
        json_decref(out);
    }
}

START_TEST(test_list)
{
    char buf[256];
    ck_assert_int_eq(list_all(NULL, 10, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "");
    const char *names[] = {"Delta", "Alpha", "Charlie", "Bravo", "Echo"};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(mk(names[i], NULL, NULL, NULL), FL_OK);
    ck_assert_int_eq(list_all(NULL, 2, buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "Alpha,Bravo,Charlie,Delta,Echo,");
    ck_assert_int_eq(list_all(NULL, 5, buf, sizeof(buf)), 1);
    ck_assert_int_eq(list_all("Charlie", 1, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "Charlie,");
    ck_assert_int_eq(list_all("Zulu", 1, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "");
    json_t *out = NULL;
    ck_assert_int_eq(thing_types_list(c, NULL, 0, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(thing_types_list(c, NULL, 10, "@@", &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(thing_types_list(c, "bad name", 10, NULL, &out, &err), FL_INVALID_REQUEST);
}
END_TEST

Suite *thing_types_suite(void)
{
    Suite *s = suite_create("thing_types");
    TCase *tc = tcase_create("thing_types");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_create_describe);
    tcase_add_test(tc, test_mqtt5_configuration);
    tcase_add_test(tc, test_recreate);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_update);
    tcase_add_test(tc, test_deprecate);
    tcase_add_test(tc, test_delete_rules);
    tcase_add_test(tc, test_tags);
    tcase_add_test(tc, test_list);
    suite_add_tcase(s, tc);
    return s;
}
