/*
 * check_things.c - unit tests for things.c (CreateThing, DescribeThing,
 * UpdateThing, DeleteThing, ListThings, things_id_by_name_tx) against an
 * in-memory database.
 */
#include <stdio.h>
#include <string.h>

#include "page.h"
#include "store.h"
#include "suites.h"
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

static void mk_type(const char *name)
{
    struct thing_types_ref r;
    ck_assert_msg(thing_types_create(c, name, NULL, NULL, &r, &err) == FL_OK, "%s", err.msg);
}

static enum fl_code mk(const char *name, const char *type, json_t *attrs, struct things_ref *out)
{
    struct things_ref tmp;
    struct things_create_in in = {.name = name, .type_name = type, .attributes = attrs};
    enum fl_code rc = things_create(c, &in, out ? out : &tmp, &err);
    json_decref(attrs);
    return rc;
}

static json_t *describe(const char *name)
{
    json_t *out = NULL;
    ck_assert_msg(things_describe(c, name, &out, &err) == FL_OK, "%s", err.msg);
    return out;
}

static const char *sget(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_int_t iget(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *attr(json_t *thing, const char *k)
{
    return json_string_value(json_object_get(json_object_get(thing, "attributes"), k));
}

static enum fl_code update(const char *name, const char *type, int remove_type, json_t *attrs, int merge,
                           int has_ev, int64_t ev)
{
    struct things_update_in in = {.name = name,
                                  .type_name = type,
                                  .remove_type = remove_type,
                                  .attributes = attrs,
                                  .merge = merge,
                                  .has_expected_version = has_ev,
                                  .expected_version = ev};
    enum fl_code rc = things_update(c, &in, &err);
    json_decref(attrs);
    return rc;
}

static json_t *nattrs(int n)
{
    json_t *o = json_object();
    for (int i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof(k), "a%d", i);
        json_object_set_new(o, k, json_string("v"));
    }
    return o;
}

/* ---- create / describe ----------------------------------------------------- */

START_TEST(test_create_describe)
{
    struct things_ref r;
    ck_assert_int_eq(mk("lamp-1", NULL, json_pack("{ss}", "color", "red"), &r), FL_OK);
    ck_assert_str_eq(r.name, "lamp-1");
    ck_assert_str_eq(r.arn, "arn:aws:iot:us-east-1:123456789012:thing/lamp-1");
    ck_assert_int_eq(strlen(r.thing_id), 36);
    json_t *d = describe("lamp-1");
    ck_assert_str_eq(sget(d, "defaultClientId"), "lamp-1");
    ck_assert_str_eq(sget(d, "thingName"), "lamp-1");
    ck_assert_str_eq(sget(d, "thingId"), r.thing_id);
    ck_assert_str_eq(sget(d, "thingArn"), r.arn);
    ck_assert_ptr_null(json_object_get(d, "thingTypeName"));
    ck_assert_ptr_null(json_object_get(d, "billingGroupName"));
    ck_assert_str_eq(attr(d, "color"), "red");
    ck_assert_int_eq(iget(d, "version"), 1);
    json_decref(d);

    json_t *out = NULL;
    ck_assert_int_eq(things_describe(c, "nope", &out, &err), FL_NOT_FOUND);
    ck_assert_ptr_null(strstr(err.msg, "%"));
    ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
    ck_assert_int_eq(things_describe(c, "bad name", &out, &err), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_create_typed_empty_attributes)
{
    mk_type("Bulb");
    ck_assert_int_eq(mk("b1", "Bulb", NULL, NULL), FL_OK);
    json_t *d = describe("b1");
    ck_assert_str_eq(sget(d, "thingTypeName"), "Bulb");
    ck_assert(json_is_object(json_object_get(d, "attributes")));
    ck_assert_int_eq(json_object_size(json_object_get(d, "attributes")), 0);
    json_decref(d);
    /* An empty value is never stored. */
    ck_assert_int_eq(mk("b2", NULL, json_pack("{ssss}", "x", "", "y", "1"), NULL), FL_OK);
    d = describe("b2");
    ck_assert_int_eq(json_object_size(json_object_get(d, "attributes")), 1);
    json_decref(d);
}
END_TEST

START_TEST(test_recreate)
{
    struct things_ref r1, r2;
    mk_type("T");
    ck_assert_int_eq(mk("t", "T", json_pack("{ssss}", "a", "1", "b", "2"), &r1), FL_OK);
    ck_assert_int_eq(mk("t", "T", json_pack("{ssss}", "b", "2", "a", "1"), &r2), FL_OK);
    ck_assert_str_eq(r1.thing_id, r2.thing_id);
    ck_assert_str_eq(r1.arn, r2.arn);

    ck_assert_int_eq(mk("t", "T", json_pack("{ss}", "a", "1"), NULL), FL_ALREADY_EXISTS);
    ck_assert_str_eq(err.resource_id, r1.thing_id);
    ck_assert_str_eq(err.resource_arn, r1.arn);
    ck_assert_int_eq(mk("t", "T", json_pack("{ssss}", "a", "1", "b", "3"), NULL), FL_ALREADY_EXISTS);
    ck_assert_int_eq(mk("t", NULL, json_pack("{ssss}", "a", "1", "b", "2"), NULL), FL_ALREADY_EXISTS);
    ck_assert_int_eq(mk("t", "T", json_pack("{ssssss}", "a", "1", "b", "2", "c", "3"), NULL),
                     FL_ALREADY_EXISTS);
    /* An identical re-create still works once the type is deprecated. */
    ck_assert_int_eq(thing_types_deprecate(c, "T", 0, &err), FL_OK);
    ck_assert_int_eq(mk("t", "T", json_pack("{ssss}", "a", "1", "b", "2"), NULL), FL_OK);
    json_t *d = describe("t");
    ck_assert_int_eq(iget(d, "version"), 1);
    json_decref(d);
}
END_TEST

START_TEST(test_create_validation)
{
    ck_assert_int_eq(mk("bad name", NULL, NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("", NULL, NULL, NULL), FL_INVALID_REQUEST);
    char longname[200];
    memset(longname, 'x', 129);
    longname[129] = '\0';
    ck_assert_int_eq(mk(longname, NULL, NULL, NULL), FL_INVALID_REQUEST);
    longname[128] = '\0';
    ck_assert_int_eq(mk(longname, NULL, NULL, NULL), FL_OK);
    ck_assert_int_eq(mk("t", "bad type!", NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("t", NULL, json_pack("{ss}", "bad key", "v"), NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("t", NULL, json_pack("{ss}", "k", "bad value"), NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("t", NULL, json_pack("{si}", "k", 5), NULL), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "attributePayload.attributes"));
    ck_assert_int_eq(mk("t", NULL, json_pack("[s]", "x"), NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("t", NULL, json_pack("{ss}", "k", "a[0]=b,c@d/e:f#g.h_i-j"), NULL), FL_OK);
    json_t *out = NULL;
    ck_assert_int_eq(things_describe(c, "nothing-created", &out, &err), FL_NOT_FOUND);
}
END_TEST

START_TEST(test_create_type_rules)
{
    ck_assert_int_eq(mk("t", "Missing", NULL, NULL), FL_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "Missing"));
    mk_type("Old");
    ck_assert_int_eq(thing_types_deprecate(c, "Old", 0, &err), FL_OK);
    ck_assert_int_eq(mk("t", "Old", NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(thing_types_deprecate(c, "Old", 1, &err), FL_OK);
    ck_assert_int_eq(mk("t", "Old", NULL, NULL), FL_OK);

    struct things_ref r;
    struct things_create_in in = {.name = "bg", .billing_group = "group1"};
    ck_assert_int_eq(things_create(c, &in, &r, &err), FL_NOT_FOUND);
}
END_TEST

START_TEST(test_attribute_limits)
{
    ck_assert_int_eq(mk("u3", NULL, nattrs(3), NULL), FL_OK);
    ck_assert_int_eq(mk("u4", NULL, nattrs(4), NULL), FL_INVALID_REQUEST);
    mk_type("T");
    ck_assert_int_eq(mk("t50", "T", nattrs(50), NULL), FL_OK);
    ck_assert_int_eq(mk("t51", "T", nattrs(51), NULL), FL_INVALID_REQUEST);
    json_t *out = NULL;
    ck_assert_int_eq(things_describe(c, "u4", &out, &err), FL_NOT_FOUND);

    /* Merging a fourth attribute into an untyped thing is refused and rolls back. */
    ck_assert_int_eq(update("u3", NULL, 0, json_pack("{ss}", "extra", "1"), 1, 0, 0), FL_INVALID_REQUEST);
    json_t *d = describe("u3");
    ck_assert_int_eq(iget(d, "version"), 1);
    ck_assert_ptr_null(attr(d, "extra"));
    json_decref(d);
    /* Removing the type of a thing with 50 attributes is refused. */
    ck_assert_int_eq(update("t50", NULL, 1, NULL, 0, 0, 0), FL_INVALID_REQUEST);
    d = describe("t50");
    ck_assert_str_eq(sget(d, "thingTypeName"), "T");
    json_decref(d);
    /* Giving a type lets a thing take more. */
    ck_assert_int_eq(update("u3", "T", 0, json_pack("{ss}", "extra", "1"), 1, 0, 0), FL_OK);
    d = describe("u3");
    ck_assert_int_eq(json_object_size(json_object_get(d, "attributes")), 4);
    json_decref(d);
}
END_TEST

/* ---- update ------------------------------------------------------------------ */

START_TEST(test_update_merge_replace)
{
    ck_assert_int_eq(mk("t", NULL, json_pack("{ssss}", "a", "1", "b", "2"), NULL), FL_OK);
    ck_assert_int_eq(update("t", NULL, 0, json_pack("{ssss}", "b", "", "c", "3"), 1, 1, 1), FL_OK);
    json_t *d = describe("t");
    ck_assert_str_eq(attr(d, "a"), "1");
    ck_assert_ptr_null(attr(d, "b"));
    ck_assert_str_eq(attr(d, "c"), "3");
    ck_assert_int_eq(iget(d, "version"), 2);
    json_decref(d);

    ck_assert_int_eq(update("t", NULL, 0, json_pack("{ss}", "z", "9"), 0, 0, 0), FL_OK);
    d = describe("t");
    ck_assert_int_eq(json_object_size(json_object_get(d, "attributes")), 1);
    ck_assert_str_eq(attr(d, "z"), "9");
    ck_assert_int_eq(iget(d, "version"), 3);
    json_decref(d);

    /* No attributePayload: attributes kept, version still moves. */
    ck_assert_int_eq(update("t", NULL, 0, NULL, 0, 0, 0), FL_OK);
    d = describe("t");
    ck_assert_str_eq(attr(d, "z"), "9");
    ck_assert_int_eq(iget(d, "version"), 4);
    json_decref(d);

    /* Replace with {} clears. */
    ck_assert_int_eq(update("t", NULL, 0, json_object(), 0, 0, 0), FL_OK);
    d = describe("t");
    ck_assert_int_eq(json_object_size(json_object_get(d, "attributes")), 0);
    json_decref(d);
}
END_TEST

START_TEST(test_update_version_conflict)
{
    ck_assert_int_eq(mk("t", NULL, NULL, NULL), FL_OK);
    ck_assert_int_eq(update("t", NULL, 0, json_pack("{ss}", "a", "1"), 1, 1, 2), FL_VERSION_CONFLICT);
    json_t *d = describe("t");
    ck_assert_int_eq(iget(d, "version"), 1);
    ck_assert_ptr_null(attr(d, "a"));
    json_decref(d);
    ck_assert_int_eq(update("t", NULL, 0, NULL, 0, 1, 1), FL_OK);
    ck_assert_int_eq(update("t", NULL, 0, NULL, 0, 1, 1), FL_VERSION_CONFLICT);
    ck_assert_int_eq(update("t", NULL, 0, NULL, 0, 1, 2), FL_OK);
    d = describe("t");
    ck_assert_int_eq(iget(d, "version"), 3);
    json_decref(d);
}
END_TEST

START_TEST(test_update_type)
{
    mk_type("A");
    mk_type("B");
    ck_assert_int_eq(mk("t", "A", NULL, NULL), FL_OK);
    ck_assert_int_eq(update("t", "B", 1, NULL, 0, 0, 0), FL_INVALID_REQUEST);
    ck_assert_int_eq(update("t", "Nope", 0, NULL, 0, 0, 0), FL_NOT_FOUND);
    ck_assert_int_eq(update("missing", NULL, 0, NULL, 0, 0, 0), FL_NOT_FOUND);
    ck_assert_int_eq(update("t", "B", 0, NULL, 0, 0, 0), FL_OK);
    json_t *d = describe("t");
    ck_assert_str_eq(sget(d, "thingTypeName"), "B");
    json_decref(d);
    /* A deprecated type: no new association, but the current one may stay. */
    ck_assert_int_eq(thing_types_deprecate(c, "A", 0, &err), FL_OK);
    ck_assert_int_eq(thing_types_deprecate(c, "B", 0, &err), FL_OK);
    ck_assert_int_eq(update("t", "A", 0, NULL, 0, 0, 0), FL_INVALID_REQUEST);
    ck_assert_int_eq(update("t", "B", 0, NULL, 0, 0, 0), FL_OK);
    ck_assert_int_eq(update("t", NULL, 1, NULL, 0, 0, 0), FL_OK);
    d = describe("t");
    ck_assert_ptr_null(json_object_get(d, "thingTypeName"));
    ck_assert_int_eq(iget(d, "version"), 4);
    json_decref(d);
    ck_assert_int_eq(update("t", NULL, 0, json_pack("{ss}", "bad key", "1"), 1, 0, 0), FL_INVALID_REQUEST);
}
END_TEST

/* ---- delete ------------------------------------------------------------------ */

START_TEST(test_delete)
{
    ck_assert_int_eq(things_delete(c, "never-existed", 0, 0, &err), FL_OK);
    ck_assert_int_eq(things_delete(c, "never-existed", 1, 7, &err), FL_OK);
    ck_assert_int_eq(things_delete(c, "bad name", 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk("t", NULL, json_pack("{ss}", "a", "1"), NULL), FL_OK);
    ck_assert_int_eq(things_delete(c, "t", 1, 2, &err), FL_VERSION_CONFLICT);
    json_decref(describe("t"));
    ck_assert_int_eq(things_delete(c, "t", 1, 1, &err), FL_OK);
    json_t *out = NULL;
    ck_assert_int_eq(things_describe(c, "t", &out, &err), FL_NOT_FOUND);
    /* The attributes went with it: a new thing of the same name starts clean. */
    struct things_ref r;
    ck_assert_int_eq(mk("t", NULL, NULL, &r), FL_OK);
    json_t *d = describe("t");
    ck_assert_int_eq(json_object_size(json_object_get(d, "attributes")), 0);
    json_decref(d);
    json_t *l = NULL;
    struct things_filter f = {.attr_name = "a", .attr_value = "1"};
    ck_assert_int_eq(things_list(c, &f, 50, NULL, &l, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(l, "things")), 0);
    json_decref(l);
}
END_TEST

START_TEST(test_id_by_name)
{
    ck_assert_int_eq(mk("t", NULL, NULL, NULL), FL_OK);
    int64_t id = 0;
    ck_assert_int_eq(store_begin_read(c->st, &err), FL_OK);
    ck_assert_int_eq(things_id_by_name_tx(c, "t", &id, &err), FL_OK);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(things_id_by_name_tx(c, "x", &id, &err), FL_NOT_FOUND);
    ck_assert_str_eq(err.msg, "Thing x cannot be found.");
    ck_assert_int_eq(store_end(c->st, FL_OK, &err), FL_OK);
}
END_TEST

/* ---- list -------------------------------------------------------------------- */

/* Pages through ListThings with f and max; appends "name," per thing to
 * buf. After the first page, calls between() once. */
static int list_all(const struct things_filter *f, int max, char *buf, size_t n, void (*between)(void))
{
    char token[PAGE_TOKEN_MAX] = "";
    int pages = 0;
    buf[0] = '\0';
    for (;;) {
        json_t *out = NULL;
        ck_assert_msg(things_list(c, f, max, token[0] ? token : NULL, &out, &err) == FL_OK, "%s", err.msg);
        pages++;
        json_t *things = json_object_get(out, "things");
        ck_assert_int_le(json_array_size(things), max);
        size_t i;
        json_t *t;
        json_array_foreach (things, i, t) {
            ck_assert_ptr_nonnull(sget(t, "thingArn"));
            ck_assert(json_is_object(json_object_get(t, "attributes")));
            ck_assert(json_is_integer(json_object_get(t, "version")));
            ck_assert_ptr_null(json_object_get(t, "thingId"));
            strncat(buf, sget(t, "thingName"), n - strlen(buf) - 1);
            strncat(buf, ",", n - strlen(buf) - 1);
        }
        const char *next = sget(out, "nextToken");
        if (next == NULL) {
            json_decref(out);
            return pages;
        }
        ck_assert_int_eq(json_array_size(things), max);
        snprintf(token, sizeof(token), "%s", next);
        json_decref(out);
        if (pages == 1 && between)
            between();
    }
}

static void insert_during(void)
{
    ck_assert_int_eq(mk("a0", NULL, NULL, NULL), FL_OK); /* before the cursor: not seen */
    ck_assert_int_eq(mk("zz", NULL, NULL, NULL), FL_OK); /* after it: seen once */
    ck_assert_int_eq(mk("b2", NULL, NULL, NULL), FL_OK); /* after it: seen once */
}

START_TEST(test_list_pages)
{
    const char *names[] = {"e", "b", "d", "a", "c"};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(mk(names[i], NULL, NULL, NULL), FL_OK);
    struct things_filter f = {0};
    char buf[512];
    ck_assert_int_eq(list_all(&f, 2, buf, sizeof(buf), NULL), 3);
    ck_assert_str_eq(buf, "a,b,c,d,e,");
    ck_assert_int_eq(list_all(&f, 5, buf, sizeof(buf), NULL), 1);
    ck_assert_str_eq(buf, "a,b,c,d,e,");
    ck_assert_int_eq(list_all(&f, 250, buf, sizeof(buf), NULL), 1);
    /* Stable while things are added. */
    list_all(&f, 2, buf, sizeof(buf), insert_during);
    ck_assert_str_eq(buf, "a,b,b2,c,d,e,zz,");

    json_t *out = NULL;
    ck_assert_int_eq(things_list(c, &f, 0, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(things_list(c, &f, 251, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(things_list(c, &f, 10, "garbage!", &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(things_list(c, &f, 10, "", &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "things")), 8);
    json_decref(out);
}
END_TEST

START_TEST(test_list_empty)
{
    struct things_filter f = {0};
    json_t *out = NULL;
    ck_assert_int_eq(things_list(c, &f, 50, NULL, &out, &err), FL_OK);
    ck_assert(json_is_array(json_object_get(out, "things")));
    ck_assert_int_eq(json_array_size(json_object_get(out, "things")), 0);
    ck_assert_ptr_null(json_object_get(out, "nextToken"));
    json_decref(out);
}
END_TEST

START_TEST(test_list_attribute_filters)
{
    ck_assert_int_eq(mk("t1", NULL, json_pack("{ss}", "model", "x100"), NULL), FL_OK);
    ck_assert_int_eq(mk("t2", NULL, json_pack("{ss}", "model", "x1"), NULL), FL_OK);
    ck_assert_int_eq(mk("t3", NULL, json_pack("{ss}", "model", "x100"), NULL), FL_OK);
    ck_assert_int_eq(mk("t4", NULL, json_pack("{ss}", "model", "y100"), NULL), FL_OK);
    ck_assert_int_eq(mk("t5", NULL, json_pack("{ss}", "other", "x100"), NULL), FL_OK);
    ck_assert_int_eq(mk("t6", NULL, json_pack("{ss}", "model", "x2"), NULL), FL_OK);
    ck_assert_int_eq(mk("t0", NULL, json_pack("{ss}", "model", "x100"), NULL), FL_OK);
    char buf[512];

    struct things_filter eq = {.attr_name = "model", .attr_value = "x100"};
    ck_assert_int_eq(list_all(&eq, 2, buf, sizeof(buf), NULL), 2);
    ck_assert_str_eq(buf, "t0,t1,t3,");

    /* Prefix: ordered by (value, name). */
    struct things_filter pre = {.attr_name = "model", .attr_value = "x1", .use_prefix = 1};
    ck_assert_int_eq(list_all(&pre, 1, buf, sizeof(buf), NULL), 4);
    ck_assert_str_eq(buf, "t2,t0,t1,t3,");
    ck_assert_int_eq(list_all(&pre, 3, buf, sizeof(buf), NULL), 2);
    ck_assert_str_eq(buf, "t2,t0,t1,t3,");

    struct things_filter px = {.attr_name = "model", .attr_value = "x", .use_prefix = 1};
    list_all(&px, 2, buf, sizeof(buf), NULL);
    ck_assert_str_eq(buf, "t2,t0,t1,t3,t6,");

    /* attributeName alone: every thing that has it. */
    struct things_filter has = {.attr_name = "model"};
    list_all(&has, 4, buf, sizeof(buf), NULL);
    ck_assert_str_eq(buf, "t2,t0,t1,t3,t6,t4,");

    struct things_filter none = {.attr_name = "model", .attr_value = "x10"};
    list_all(&none, 4, buf, sizeof(buf), NULL);
    ck_assert_str_eq(buf, "");

    json_t *out = NULL;
    struct things_filter bad = {.attr_value = "x"};
    ck_assert_int_eq(things_list(c, &bad, 10, NULL, &out, &err), FL_INVALID_REQUEST);
    struct things_filter bad2 = {.attr_name = "model", .attr_value = "has space"};
    ck_assert_int_eq(things_list(c, &bad2, 10, NULL, &out, &err), FL_INVALID_REQUEST);
    struct things_filter bad3 = {.attr_name = "bad name", .attr_value = "x"};
    ck_assert_int_eq(things_list(c, &bad3, 10, NULL, &out, &err), FL_INVALID_REQUEST);

    /* A plain name token is not a (value, name) token. */
    char token[PAGE_TOKEN_MAX];
    page_token_encode("t1", token);
    ck_assert_int_eq(things_list(c, &pre, 10, token, &out, &err), FL_INVALID_REQUEST);
}
END_TEST

static void insert_attr_during(void)
{
    ck_assert_int_eq(mk("n0", NULL, json_pack("{ss}", "k", "p1"), NULL), FL_OK); /* before the cursor */
    ck_assert_int_eq(mk("n9", NULL, json_pack("{ss}", "k", "p3"), NULL), FL_OK); /* after it */
}

START_TEST(test_list_prefix_stable)
{
    ck_assert_int_eq(mk("n1", NULL, json_pack("{ss}", "k", "p1"), NULL), FL_OK);
    ck_assert_int_eq(mk("n2", NULL, json_pack("{ss}", "k", "p2"), NULL), FL_OK);
    ck_assert_int_eq(mk("n3", NULL, json_pack("{ss}", "k", "p2"), NULL), FL_OK);
    ck_assert_int_eq(mk("n4", NULL, json_pack("{ss}", "k", "q1"), NULL), FL_OK);
    struct things_filter pre = {.attr_name = "k", .attr_value = "p", .use_prefix = 1};
    char buf[256];
    list_all(&pre, 2, buf, sizeof(buf), insert_attr_during);
    ck_assert_str_eq(buf, "n1,n2,n3,n9,");
}
END_TEST

START_TEST(test_list_long_values)
{
    /* (value, name) keys longer than a token can carry still page through. */
    char v[801];
    memset(v, 'v', 800);
    v[800] = '\0';
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "long%d", i);
        v[799] = (char)('a' + i);
        ck_assert_int_eq(mk(name, NULL, json_pack("{ss}", "k", v), NULL), FL_OK);
    }
    ck_assert_int_eq(mk("short", NULL, json_pack("{ss}", "k", "a"), NULL), FL_OK);
    struct things_filter pre = {.attr_name = "k", .attr_value = "", .use_prefix = 1};
    char buf[256];
    list_all(&pre, 250, buf, sizeof(buf), NULL);
    ck_assert_str_eq(buf, "short,long0,long1,long2,");
    ck_assert_int_eq(list_all(&pre, 1, buf, sizeof(buf), NULL), 4);
    ck_assert_str_eq(buf, "short,long0,long1,long2,");
    /* Exact matches resume by name only, whatever the value's length. */
    struct things_filter eq = {.attr_name = "k", .attr_value = v};
    list_all(&eq, 1, buf, sizeof(buf), NULL);
    ck_assert_str_eq(buf, "long2,");
}
END_TEST

START_TEST(test_list_type_filter)
{
    mk_type("A");
    mk_type("B");
    ck_assert_int_eq(mk("a1", "A", json_pack("{ss}", "k", "1"), NULL), FL_OK);
    ck_assert_int_eq(mk("b1", "B", json_pack("{ss}", "k", "1"), NULL), FL_OK);
    ck_assert_int_eq(mk("a2", "A", NULL, NULL), FL_OK);
    ck_assert_int_eq(mk("u1", NULL, json_pack("{ss}", "k", "1"), NULL), FL_OK);
    ck_assert_int_eq(mk("a3", "A", json_pack("{ss}", "k", "1"), NULL), FL_OK);
    char buf[256];
    struct things_filter fa = {.type_name = "A"};
    ck_assert_int_eq(list_all(&fa, 2, buf, sizeof(buf), NULL), 2);
    ck_assert_str_eq(buf, "a1,a2,a3,");
    struct things_filter fak = {.type_name = "A", .attr_name = "k", .attr_value = "1"};
    list_all(&fak, 1, buf, sizeof(buf), NULL);
    ck_assert_str_eq(buf, "a1,a3,");
    struct things_filter fakp = {.type_name = "A", .attr_name = "k", .attr_value = "1", .use_prefix = 1};
    list_all(&fakp, 1, buf, sizeof(buf), NULL);
    ck_assert_str_eq(buf, "a1,a3,");
    struct things_filter fn = {.type_name = "Nope"};
    list_all(&fn, 10, buf, sizeof(buf), NULL);
    ck_assert_str_eq(buf, "");

    json_t *out = NULL;
    ck_assert_int_eq(things_list(c, &fa, 1, NULL, &out, &err), FL_OK);
    json_t *t = json_array_get(json_object_get(out, "things"), 0);
    ck_assert_str_eq(sget(t, "thingTypeName"), "A");
    ck_assert_str_eq(attr(t, "k"), "1");
    ck_assert_int_eq(iget(t, "version"), 1);
    ck_assert_str_eq(sget(t, "thingArn"), "arn:aws:iot:us-east-1:123456789012:thing/a1");
    json_decref(out);
}
END_TEST

Suite *things_suite(void)
{
    Suite *s = suite_create("things");
    TCase *tc = tcase_create("things");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_create_describe);
    tcase_add_test(tc, test_create_typed_empty_attributes);
    tcase_add_test(tc, test_recreate);
    tcase_add_test(tc, test_create_validation);
    tcase_add_test(tc, test_create_type_rules);
    tcase_add_test(tc, test_attribute_limits);
    tcase_add_test(tc, test_update_merge_replace);
    tcase_add_test(tc, test_update_version_conflict);
    tcase_add_test(tc, test_update_type);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_id_by_name);
    tcase_add_test(tc, test_list_pages);
    tcase_add_test(tc, test_list_empty);
    tcase_add_test(tc, test_list_attribute_filters);
    tcase_add_test(tc, test_list_prefix_stable);
    tcase_add_test(tc, test_list_long_values);
    tcase_add_test(tc, test_list_type_filter);
    suite_add_tcase(s, tc);
    return s;
}
