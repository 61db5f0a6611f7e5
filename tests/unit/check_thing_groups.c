/*
 * check_thing_groups.c - unit tests of static thing groups and membership
 * (server/core/thing_groups.c) over an in-memory database.
 */
#include <stdio.h>
#include <string.h>

#include "page.h"
#include "suites.h"
#include "tags.h"
#include "testutil.h"
#include "thing_groups.h"
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

static void mk_thing(const char *name)
{
    struct things_create_in in = {.name = name};
    struct things_ref ref;
    enum fl_code rc = things_create(c, &in, &ref, &err);
    ck_assert_msg(rc == FL_OK, "things_create %s: %s", name, err.msg);
}

static enum fl_code mk_group_full(const char *name, const char *parent, const char *desc, json_t *attrs,
                                  json_t *tags)
{
    struct thing_group_create_in in = {.name = name, .parent = parent, .tags = tags};
    in.props.description = desc;
    in.props.attributes = attrs;
    json_t *out = NULL;
    enum fl_code rc = thing_groups_create(c, &in, &out, &err);
    if (rc == FL_OK) {
        ck_assert_str_eq(json_string_value(json_object_get(out, "thingGroupName")), name);
        json_decref(out);
    } else {
        ck_assert_ptr_null(out);
    }
    return rc;
}

static void mk_group(const char *name, const char *parent)
{
    enum fl_code rc = mk_group_full(name, parent, NULL, NULL, NULL);
    ck_assert_msg(rc == FL_OK, "create %s: %s", name, err.msg);
}

static enum fl_code add(const char *group, const char *thing)
{
    struct thing_group_member_in in = {.group_name = group, .thing_name = thing};
    return thing_groups_add_thing(c, &in, &err);
}

static enum fl_code rm(const char *group, const char *thing)
{
    struct thing_group_member_in in = {.group_name = group, .thing_name = thing};
    return thing_groups_remove_thing(c, &in, &err);
}

/* Joins the strings (or groupName of objects) of arr[field] with ','. */
static const char *names(json_t *o, const char *field, char *buf, size_t n)
{
    json_t *arr = json_object_get(o, field);
    size_t i, off = 0;
    json_t *v;
    buf[0] = '\0';
    ck_assert_msg(json_is_array(arr), "no array %s", field);
    json_array_foreach (arr, i, v) {
        const char *s =
            json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "groupName"));
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? "," : "", s);
    }
    return buf;
}

/* Every page of ListThingsInThingGroup joined, page size max. */
static const char *all_things(const char *group, int recursive, int max, char *buf, size_t n)
{
    char tok[PAGE_TOKEN_MAX] = "";
    size_t off = 0;
    buf[0] = '\0';
    for (int pages = 0; pages < 100; pages++) {
        json_t *out = NULL;
        enum fl_code rc = thing_groups_list_things(c, group, recursive, max, tok[0] ? tok : NULL, &out, &err);
        ck_assert_msg(rc == FL_OK, "list things: %s", err.msg);
        char part[2048];
        names(out, "things", part, sizeof(part));
        ck_assert_int_le((int)json_array_size(json_object_get(out, "things")), max);
        if (part[0])
            off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? "," : "", part);
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

/* ---- create / describe ------------------------------------------------------ */

START_TEST(test_create_describe)
{
    json_t *attrs = json_pack("{s:s,s:s}", "color", "red", "watts", "60");
    mk_group("Lights", NULL);
    ck_assert_int_eq(mk_group_full("Bulbs", "Lights", "all bulbs", attrs, NULL), FL_OK);
    mk_group("RedBulbs", "Bulbs");
    json_decref(attrs);

    json_t *d = NULL;
    ck_assert_int_eq(thing_groups_describe(c, "RedBulbs", &d, &err), FL_OK);
    ck_assert_str_eq(json_string_value(json_object_get(d, "thingGroupName")), "RedBulbs");
    ck_assert_str_eq(json_string_value(json_object_get(d, "thingGroupArn")),
                     "arn:aws:iot:us-east-1:123456789012:thinggroup/RedBulbs");
    ck_assert_int_eq(strlen(json_string_value(json_object_get(d, "thingGroupId"))), 36);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "version")), 1);
    json_t *meta = json_object_get(d, "thingGroupMetadata");
    ck_assert_str_eq(json_string_value(json_object_get(meta, "parentGroupName")), "Bulbs");
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "creationDate")), 1764142417);
    json_t *r2p = json_object_get(meta, "rootToParentThingGroups");
    ck_assert_int_eq(json_array_size(r2p), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r2p, 0), "groupName")), "Lights");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r2p, 0), "groupArn")),
                     "arn:aws:iot:us-east-1:123456789012:thinggroup/Lights");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r2p, 1), "groupName")), "Bulbs");
    json_decref(d);

    ck_assert_int_eq(thing_groups_describe(c, "Bulbs", &d, &err), FL_OK);
    json_t *props = json_object_get(d, "thingGroupProperties");
    ck_assert_str_eq(json_string_value(json_object_get(props, "thingGroupDescription")), "all bulbs");
    json_t *a = json_object_get(json_object_get(props, "attributePayload"), "attributes");
    ck_assert_str_eq(json_string_value(json_object_get(a, "color")), "red");
    ck_assert_str_eq(json_string_value(json_object_get(a, "watts")), "60");
    json_decref(d);

    /* a root: no parent, empty ancestry */
    ck_assert_int_eq(thing_groups_describe(c, "Lights", &d, &err), FL_OK);
    meta = json_object_get(d, "thingGroupMetadata");
    ck_assert_ptr_null(json_object_get(meta, "parentGroupName"));
    ck_assert_int_eq(json_array_size(json_object_get(meta, "rootToParentThingGroups")), 0);
    ck_assert_ptr_null(json_object_get(json_object_get(d, "thingGroupProperties"), "thingGroupDescription"));
    json_decref(d);

    ck_assert_int_eq(thing_groups_describe(c, "Nope", &d, &err), FL_NOT_FOUND);
    ck_assert_int_eq(thing_groups_describe(c, "bad name!", &d, &err), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_create_idempotent_and_conflict)
{
    json_t *attrs = json_pack("{s:s}", "a", "1");
    json_t *attrs2 = json_pack("{s:s}", "a", "2");
    mk_group("P", NULL);
    mk_group("Q", NULL);
    ck_assert_int_eq(mk_group_full("G", "P", "d", attrs, NULL), FL_OK);

    struct thing_group_create_in in = {.name = "G", .parent = "P"};
    in.props.description = "d";
    in.props.attributes = attrs;
    json_t *o1 = NULL, *o2 = NULL;
    ck_assert_int_eq(thing_groups_create(c, &in, &o1, &err), FL_OK);
    json_t *d = NULL;
    ck_assert_int_eq(thing_groups_describe(c, "G", &d, &err), FL_OK);
    ck_assert_str_eq(json_string_value(json_object_get(o1, "thingGroupId")),
                     json_string_value(json_object_get(d, "thingGroupId")));
    ck_assert_int_eq(json_integer_value(json_object_get(d, "version")), 1);

    in.props.attributes = attrs2; /* different attributes */
    ck_assert_int_eq(thing_groups_create(c, &in, &o2, &err), FL_ALREADY_EXISTS);
    ck_assert_str_eq(err.resource_id, json_string_value(json_object_get(d, "thingGroupId")));
    ck_assert_str_eq(err.resource_arn, "arn:aws:iot:us-east-1:123456789012:thinggroup/G");
    in.props.attributes = attrs;
    in.parent = "Q"; /* different parent */
    ck_assert_int_eq(thing_groups_create(c, &in, &o2, &err), FL_ALREADY_EXISTS);
    in.parent = "P";
    in.props.description = NULL; /* description dropped */
    ck_assert_int_eq(thing_groups_create(c, &in, &o2, &err), FL_ALREADY_EXISTS);
    ck_assert_ptr_null(o2);
    json_decref(o1);
    json_decref(d);
    json_decref(attrs);
    json_decref(attrs2);
}
END_TEST

START_TEST(test_create_validation)
{
    char longdesc[2100];
    memset(longdesc, 'x', sizeof(longdesc) - 1);
    longdesc[sizeof(longdesc) - 1] = '\0';
    ck_assert_int_eq(mk_group_full("bad/name", NULL, NULL, NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk_group_full("", NULL, NULL, NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk_group_full(NULL, NULL, NULL, NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk_group_full("G", "NoSuchParent", NULL, NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "NoSuchParent"));
    ck_assert_int_eq(mk_group_full("G", NULL, longdesc, NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(mk_group_full("G", NULL, "tab\there", NULL, NULL), FL_INVALID_REQUEST);

    json_t *bad = json_pack("{s:s}", "sp ace", "v");
    ck_assert_int_eq(mk_group_full("G", NULL, NULL, bad, NULL), FL_INVALID_REQUEST);
    json_decref(bad);
    bad = json_pack("{s:i}", "n", 5);
    ck_assert_int_eq(mk_group_full("G", NULL, NULL, bad, NULL), FL_INVALID_REQUEST);
    json_decref(bad);
    bad = json_object();
    for (int i = 0; i < 51; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        json_object_set_new(bad, k, json_string("v"));
    }
    ck_assert_int_eq(mk_group_full("G", NULL, NULL, bad, NULL), FL_INVALID_REQUEST);
    json_object_del(bad, "k0");
    ck_assert_int_eq(mk_group_full("G", NULL, NULL, bad, NULL), FL_OK);
    json_decref(bad);

    /* bad tags roll the whole create back */
    json_t *tags = json_pack("[{s:s}]", "Key", "aws:reserved");
    ck_assert_int_eq(mk_group_full("T", NULL, NULL, NULL, tags), FL_INVALID_REQUEST);
    json_t *d = NULL;
    ck_assert_int_eq(thing_groups_describe(c, "T", &d, &err), FL_NOT_FOUND);
    json_decref(tags);
}
END_TEST

START_TEST(test_depth_limit)
{
    char name[16], parent[16] = "";
    for (int i = 1; i <= 7; i++) {
        snprintf(name, sizeof(name), "L%d", i);
        mk_group(name, i == 1 ? NULL : parent);
        snprintf(parent, sizeof(parent), "%s", name);
    }
    ck_assert_int_eq(mk_group_full("L8", "L7", NULL, NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "depth"));
    json_t *d = NULL;
    ck_assert_int_eq(thing_groups_describe(c, "L8", &d, &err), FL_NOT_FOUND);
    ck_assert_int_eq(thing_groups_describe(c, "L7", &d, &err), FL_OK);
    ck_assert_int_eq(
        json_array_size(json_object_get(json_object_get(d, "thingGroupMetadata"), "rootToParentThingGroups")),
        6);
    json_decref(d);
    /* a sibling at depth 7 is still fine */
    mk_group("L7b", "L6");
}
END_TEST

START_TEST(test_create_with_tags)
{
    json_t *tags = json_pack("[{s:s,s:s},{s:s}]", "Key", "env", "Value", "prod", "Key", "team");
    ck_assert_int_eq(mk_group_full("Tagged", NULL, NULL, NULL, tags), FL_OK);
    json_decref(tags);
    json_t *out = NULL;
    ck_assert_int_eq(
        tags_list(c, "arn:aws:iot:us-east-1:123456789012:thinggroup/Tagged", NULL, 0, &out, &err), FL_OK);
    json_t *arr = json_object_get(out, "tags");
    ck_assert_int_eq(json_array_size(arr), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "Key")), "env");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "Value")), "prod");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 1), "Value")), "");
    json_decref(out);
}
END_TEST

/* ---- update / delete ------------------------------------------------------ */

static enum fl_code update(const char *name, const char *desc, json_t *attrs, int merge, int has_ev,
                           int64_t ev, int64_t *version)
{
    struct thing_group_update_in in = {.name = name, .has_expected_version = has_ev, .expected_version = ev};
    in.props.description = desc;
    in.props.attributes = attrs;
    in.props.merge = merge;
    return thing_groups_update(c, &in, version, &err);
}

START_TEST(test_update)
{
    json_t *attrs = json_pack("{s:s,s:s}", "a", "1", "b", "2");
    ck_assert_int_eq(mk_group_full("G", NULL, "old", attrs, NULL), FL_OK);
    json_decref(attrs);
    int64_t v = 0;

    /* merge: change a, remove b (empty value), add c */
    attrs = json_pack("{s:s,s:s,s:s}", "a", "9", "b", "", "c", "3");
    ck_assert_int_eq(update("G", NULL, attrs, 1, 0, 0, &v), FL_OK);
    json_decref(attrs);
    ck_assert_int_eq(v, 2);
    json_t *d = NULL;
    ck_assert_int_eq(thing_groups_describe(c, "G", &d, &err), FL_OK);
    json_t *props = json_object_get(d, "thingGroupProperties");
    json_t *a = json_object_get(json_object_get(props, "attributePayload"), "attributes");
    ck_assert_int_eq(json_object_size(a), 2);
    ck_assert_str_eq(json_string_value(json_object_get(a, "a")), "9");
    ck_assert_str_eq(json_string_value(json_object_get(a, "c")), "3");
    ck_assert_str_eq(json_string_value(json_object_get(props, "thingGroupDescription")), "old");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "version")), 2);
    json_decref(d);

    /* replace + description, with the right expectedVersion */
    attrs = json_pack("{s:s,s:s}", "z", "26", "gone", "");
    ck_assert_int_eq(update("G", "new", attrs, 0, 1, 2, &v), FL_OK);
    json_decref(attrs);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(thing_groups_describe(c, "G", &d, &err), FL_OK);
    props = json_object_get(d, "thingGroupProperties");
    a = json_object_get(json_object_get(props, "attributePayload"), "attributes");
    ck_assert_int_eq(json_object_size(a), 1);
    ck_assert_str_eq(json_string_value(json_object_get(a, "z")), "26");
    ck_assert_str_eq(json_string_value(json_object_get(props, "thingGroupDescription")), "new");
    json_decref(d);

    /* no attributes given: attributes untouched, version still moves */
    ck_assert_int_eq(update("G", NULL, NULL, 0, 0, 0, &v), FL_OK);
    ck_assert_int_eq(v, 4);

    /* version conflict changes nothing */
    ck_assert_int_eq(update("G", "x", NULL, 0, 1, 3, &v), FL_VERSION_CONFLICT);
    ck_assert_int_eq(thing_groups_describe(c, "G", &d, &err), FL_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "version")), 4);
    json_decref(d);

    ck_assert_int_eq(update("Nope", "x", NULL, 0, 0, 0, &v), FL_NOT_FOUND);
    attrs = json_pack("{s:s}", "bad key", "v");
    ck_assert_int_eq(update("G", NULL, attrs, 1, 0, 0, &v), FL_INVALID_REQUEST);
    json_decref(attrs);

    /* merging past 50 attributes is refused */
    attrs = json_object();
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof(k), "m%d", i);
        json_object_set_new(attrs, k, json_string("v"));
    }
    ck_assert_int_eq(update("G", NULL, attrs, 1, 0, 0, &v), FL_INVALID_REQUEST); /* 50 + z */
    ck_assert_int_eq(update("G", NULL, attrs, 0, 0, 0, &v), FL_OK);              /* replace: 50 */
    json_decref(attrs);
}
END_TEST

START_TEST(test_delete)
{
    mk_group("Root", NULL);
    mk_group("Child", "Root");
    mk_thing("t1");
    ck_assert_int_eq(add("Child", "t1"), FL_OK);

    ck_assert_int_eq(thing_groups_delete(c, "Root", 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_str_eq(err.msg,
                     "Cannot delete thing group : Root when there are still child groups attached to it");
    ck_assert_int_eq(thing_groups_delete(c, "Child", 1, 2, &err), FL_VERSION_CONFLICT);

    json_t *tags = json_pack("[{s:s,s:s}]", "Key", "k", "Value", "v");
    const char *arn = "arn:aws:iot:us-east-1:123456789012:thinggroup/Child";
    ck_assert_int_eq(tags_tag_resource(c, arn, tags, &err), FL_OK);
    json_decref(tags);

    /* a group with member things can go; memberships and tags go with it */
    ck_assert_int_eq(thing_groups_delete(c, "Child", 1, 1, &err), FL_OK);
    json_t *out = NULL;
    char buf[256];
    ck_assert_int_eq(thing_groups_list_for_thing(c, "t1", 50, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(names(out, "thingGroups", buf, sizeof(buf)), "");
    json_decref(out);
    ck_assert_str_eq(all_things("Root", 1, 50, buf, sizeof(buf)), "");
    ck_assert_int_eq(tags_list(c, arn, NULL, 0, &out, &err), FL_NOT_FOUND);

    /* re-created under the same name: fresh, untagged, and t1 can join */
    mk_group("Child", "Root");
    ck_assert_int_eq(tags_list(c, arn, NULL, 0, &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "tags")), 0);
    json_decref(out);
    ck_assert_int_eq(add("Child", "t1"), FL_OK);

    /* deleting what does not exist succeeds */
    ck_assert_int_eq(thing_groups_delete(c, "Ghost", 0, 0, &err), FL_OK);
    ck_assert_int_eq(thing_groups_delete(c, "Ghost", 1, 5, &err), FL_OK);
    ck_assert_int_eq(thing_groups_delete(c, "bad name", 0, 0, &err), FL_INVALID_REQUEST);

    ck_assert_int_eq(thing_groups_delete(c, "Child", 0, 0, &err), FL_OK);
    ck_assert_int_eq(thing_groups_delete(c, "Root", 0, 0, &err), FL_OK);
    json_t *d = NULL;
    ck_assert_int_eq(thing_groups_describe(c, "Root", &d, &err), FL_NOT_FOUND);
}
END_TEST

/* ---- ListThingGroups ------------------------------------------------------ */

static const char *list_groups(const char *parent, const char *prefix, int recursive, char *buf, size_t n)
{
    struct thing_groups_filter f = {.parent = parent, .name_prefix = prefix, .recursive = recursive};
    json_t *out = NULL;
    enum fl_code rc = thing_groups_list(c, &f, 250, NULL, &out, &err);
    ck_assert_msg(rc == FL_OK, "list: %s", err.msg);
    ck_assert_ptr_null(json_object_get(out, "nextToken"));
    json_t *first = json_array_get(json_object_get(out, "thingGroups"), 0);
    if (first) {
        char arn[320];
        snprintf(arn, sizeof(arn), "arn:aws:iot:us-east-1:123456789012:thinggroup/%s",
                 json_string_value(json_object_get(first, "groupName")));
        ck_assert_str_eq(json_string_value(json_object_get(first, "groupArn")), arn);
    }
    names(out, "thingGroups", buf, n);
    json_decref(out);
    return buf;
}

START_TEST(test_list_groups)
{
    char buf[512];
    mk_group("a", NULL);
    mk_group("a1", "a");
    mk_group("a2", "a");
    mk_group("a21", "a2");
    mk_group("b", NULL);
    mk_group("ab", "b");

    ck_assert_str_eq(list_groups(NULL, NULL, -1, buf, sizeof(buf)), "a,a1,a2,a21,ab,b");
    ck_assert_str_eq(list_groups(NULL, NULL, 1, buf, sizeof(buf)), "a,a1,a2,a21,ab,b");
    ck_assert_str_eq(list_groups(NULL, NULL, 0, buf, sizeof(buf)), "a,b");
    ck_assert_str_eq(list_groups(NULL, "a2", -1, buf, sizeof(buf)), "a2,a21");
    ck_assert_str_eq(list_groups(NULL, "a", 0, buf, sizeof(buf)), "a");
    ck_assert_str_eq(list_groups(NULL, "zz", -1, buf, sizeof(buf)), "");
    ck_assert_str_eq(list_groups("a", NULL, -1, buf, sizeof(buf)), "a1,a2");
    ck_assert_str_eq(list_groups("a", NULL, 0, buf, sizeof(buf)), "a1,a2");
    ck_assert_str_eq(list_groups("a", NULL, 1, buf, sizeof(buf)), "a1,a2,a21");
    ck_assert_str_eq(list_groups("a", "a2", 1, buf, sizeof(buf)), "a2,a21");
    ck_assert_str_eq(list_groups("a21", NULL, 1, buf, sizeof(buf)), "");
    ck_assert_str_eq(list_groups("b", NULL, 1, buf, sizeof(buf)), "ab");

    struct thing_groups_filter f = {.parent = "nope", .recursive = -1};
    json_t *out = NULL;
    ck_assert_int_eq(thing_groups_list(c, &f, 10, NULL, &out, &err), FL_NOT_FOUND);
    f.parent = NULL;
    ck_assert_int_eq(thing_groups_list(c, &f, 10, "garbage!", &out, &err), FL_INVALID_REQUEST);
    f.name_prefix = "bad prefix";
    ck_assert_int_eq(thing_groups_list(c, &f, 10, NULL, &out, &err), FL_INVALID_REQUEST);

    /* pagination, two at a time, a group added behind the cursor meanwhile */
    f.name_prefix = NULL;
    char tok[PAGE_TOKEN_MAX] = "", all[512] = "";
    size_t off = 0;
    for (int page = 0; page < 10; page++) {
        ck_assert_int_eq(thing_groups_list(c, &f, 2, tok[0] ? tok : NULL, &out, &err), FL_OK);
        ck_assert_int_le((int)json_array_size(json_object_get(out, "thingGroups")), 2);
        off += (size_t)snprintf(all + off, sizeof(all) - off, "%s%s", off ? "," : "",
                                names(out, "thingGroups", buf, sizeof(buf)));
        if (page == 0)
            mk_group("_early", NULL); /* sorts before the cursor: not seen */
        json_t *next = json_object_get(out, "nextToken");
        if (next == NULL) {
            json_decref(out);
            break;
        }
        snprintf(tok, sizeof(tok), "%s", json_string_value(next));
        json_decref(out);
    }
    ck_assert_str_eq(all, "a,a1,a2,a21,ab,b");
}
END_TEST

/* ---- membership ----------------------------------------------------------- */

START_TEST(test_add_remove)
{
    char buf[512];
    mk_group("G", NULL);
    mk_thing("t1");
    ck_assert_int_eq(add("G", "t1"), FL_OK);
    ck_assert_int_eq(add("G", "t1"), FL_OK); /* idempotent */
    ck_assert_str_eq(all_things("G", 0, 50, buf, sizeof(buf)), "t1");

    ck_assert_int_eq(add("G", "ghost"), FL_NOT_FOUND);
    ck_assert_int_eq(add("Nope", "t1"), FL_NOT_FOUND);
    ck_assert_int_eq(add(NULL, "t1"), FL_INVALID_REQUEST);
    ck_assert_int_eq(add("G", NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(add("G", "bad name"), FL_INVALID_REQUEST);

    /* ARNs */
    mk_thing("t2");
    struct thing_group_member_in in = {.group_arn = "arn:aws:iot:us-east-1:123456789012:thinggroup/G",
                                       .thing_arn = "arn:aws:iot:us-east-1:123456789012:thing/t2"};
    ck_assert_int_eq(thing_groups_add_thing(c, &in, &err), FL_OK);
    ck_assert_str_eq(all_things("G", 0, 50, buf, sizeof(buf)), "t1,t2");
    in.thing_name = "t1"; /* name and ARN disagree */
    ck_assert_int_eq(thing_groups_add_thing(c, &in, &err), FL_INVALID_REQUEST);
    in.thing_name = "t2"; /* agree */
    ck_assert_int_eq(thing_groups_add_thing(c, &in, &err), FL_OK);
    in.group_arn = "arn:aws:iot:eu-west-1:123456789012:thinggroup/G"; /* other region */
    ck_assert_int_eq(thing_groups_add_thing(c, &in, &err), FL_INVALID_REQUEST);
    in.group_arn = "not-an-arn";
    ck_assert_int_eq(thing_groups_add_thing(c, &in, &err), FL_INVALID_REQUEST);
    in.group_arn = "arn:aws:iot:us-east-1:123456789012:thing/G"; /* wrong kind */
    ck_assert_int_eq(thing_groups_add_thing(c, &in, &err), FL_INVALID_REQUEST);

    in.group_arn = "arn:aws:iot:us-east-1:123456789012:thinggroup/G";
    ck_assert_int_eq(thing_groups_remove_thing(c, &in, &err), FL_OK);
    ck_assert_str_eq(all_things("G", 0, 50, buf, sizeof(buf)), "t1");
    ck_assert_int_eq(thing_groups_remove_thing(c, &in, &err), FL_OK); /* not a member: fine */
    ck_assert_int_eq(rm("G", "t1"), FL_OK);
    ck_assert_str_eq(all_things("G", 0, 50, buf, sizeof(buf)), "");
    ck_assert_int_eq(rm("G", "ghost"), FL_NOT_FOUND);
    ck_assert_int_eq(rm("Nope", "t1"), FL_NOT_FOUND);

    /* deleting a thing ends its memberships */
    ck_assert_int_eq(add("G", "t1"), FL_OK);
    ck_assert_int_eq(things_delete(c, "t1", 0, 0, &err), FL_OK);
    ck_assert_str_eq(all_things("G", 1, 50, buf, sizeof(buf)), "");
    ck_assert_str_eq(all_things("G", 0, 50, buf, sizeof(buf)), "");
}
END_TEST

START_TEST(test_same_hierarchy)
{
    char buf[512];
    mk_group("A", NULL);
    mk_group("A1", "A");
    mk_group("A2", "A");
    mk_group("A11", "A1");
    mk_group("B", NULL);
    mk_thing("t");
    ck_assert_int_eq(add("A1", "t"), FL_OK);
    ck_assert_int_eq(add("A2", "t"), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "same hierarchy"));
    ck_assert_int_eq(add("A", "t"), FL_INVALID_REQUEST);
    ck_assert_int_eq(add("A11", "t"), FL_INVALID_REQUEST);
    ck_assert_int_eq(add("B", "t"), FL_OK);
    ck_assert_int_eq(add("A1", "t"), FL_OK); /* still idempotent */

    json_t *out = NULL;
    ck_assert_int_eq(thing_groups_list_for_thing(c, "t", 50, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(names(out, "thingGroups", buf, sizeof(buf)), "A,A1,B");
    json_decref(out);

    /* moving within the hierarchy: remove, then add */
    ck_assert_int_eq(rm("A1", "t"), FL_OK);
    ck_assert_int_eq(add("A11", "t"), FL_OK);
    ck_assert_int_eq(thing_groups_list_for_thing(c, "t", 50, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(names(out, "thingGroups", buf, sizeof(buf)), "A,A1,A11,B");
    json_decref(out);
}
END_TEST

START_TEST(test_ten_group_limit)
{
    char g[16];
    mk_thing("t");
    for (int i = 0; i < 11; i++) {
        snprintf(g, sizeof(g), "G%02d", i);
        mk_group(g, NULL);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(g, sizeof(g), "G%02d", i);
        ck_assert_int_eq(add(g, "t"), FL_OK);
    }
    ck_assert_int_eq(add("G10", "t"), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "10"));
    ck_assert_int_eq(add("G03", "t"), FL_OK); /* already a member: no new membership */
    ck_assert_int_eq(rm("G03", "t"), FL_OK);
    ck_assert_int_eq(add("G10", "t"), FL_OK);

    json_t *out = NULL;
    ck_assert_int_eq(thing_groups_list_for_thing(c, "t", 4, NULL, &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "thingGroups")), 4);
    ck_assert_ptr_nonnull(json_object_get(out, "nextToken"));
    json_decref(out);
}
END_TEST

START_TEST(test_recursive_three_levels)
{
    char buf[1024];
    mk_group("Top", NULL);
    mk_group("Mid", "Top");
    mk_group("Low", "Mid");
    mk_group("Side", "Top");
    mk_group("Other", NULL);
    const char *top[] = {"m", "c"}, *mid[] = {"k", "a"}, *low[] = {"z", "b", "e"}, *side[] = {"d"};
    for (size_t i = 0; i < 2; i++) {
        mk_thing(top[i]);
        ck_assert_int_eq(add("Top", top[i]), FL_OK);
        mk_thing(mid[i]);
        ck_assert_int_eq(add("Mid", mid[i]), FL_OK);
    }
    for (size_t i = 0; i < 3; i++) {
        mk_thing(low[i]);
        ck_assert_int_eq(add("Low", low[i]), FL_OK);
    }
    mk_thing(side[0]);
    ck_assert_int_eq(add("Side", side[0]), FL_OK);
    mk_thing("x");
    ck_assert_int_eq(add("Other", "x"), FL_OK);
    ck_assert_int_eq(add("Low", "x"), FL_OK); /* another hierarchy: allowed */

    ck_assert_str_eq(all_things("Top", 0, 50, buf, sizeof(buf)), "c,m");
    ck_assert_str_eq(all_things("Top", 1, 50, buf, sizeof(buf)), "a,b,c,d,e,k,m,x,z");
    ck_assert_str_eq(all_things("Mid", 1, 50, buf, sizeof(buf)), "a,b,e,k,x,z");
    ck_assert_str_eq(all_things("Low", 1, 50, buf, sizeof(buf)), "b,e,x,z");
    ck_assert_str_eq(all_things("Low", 0, 50, buf, sizeof(buf)), "b,e,x,z");
    /* page sizes 1 and 2: same set, no duplicates, no gaps */
    ck_assert_str_eq(all_things("Top", 1, 1, buf, sizeof(buf)), "a,b,c,d,e,k,m,x,z");
    ck_assert_str_eq(all_things("Top", 1, 2, buf, sizeof(buf)), "a,b,c,d,e,k,m,x,z");
    ck_assert_str_eq(all_things("Mid", 0, 1, buf, sizeof(buf)), "a,k");

    /* leaving a deep group leaves every ancestor's listing */
    ck_assert_int_eq(rm("Low", "e"), FL_OK);
    ck_assert_str_eq(all_things("Top", 1, 50, buf, sizeof(buf)), "a,b,c,d,k,m,x,z");
    /* deleting a leaf group with members */
    ck_assert_int_eq(thing_groups_delete(c, "Low", 0, 0, &err), FL_OK);
    ck_assert_str_eq(all_things("Top", 1, 50, buf, sizeof(buf)), "a,c,d,k,m");
    ck_assert_str_eq(all_things("Other", 1, 50, buf, sizeof(buf)), "x");

    json_t *out = NULL;
    ck_assert_int_eq(thing_groups_list_things(c, "Nope", 1, 50, NULL, &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(thing_groups_list_things(c, "Top", 1, 50, "bad token", &out, &err), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_update_groups_for_thing)
{
    char buf[512];
    mk_group("A", NULL);
    mk_group("A1", "A");
    mk_group("A2", "A");
    mk_group("B", NULL);
    mk_thing("t");
    ck_assert_int_eq(add("A1", "t"), FL_OK);

    /* move A1 -> A2 and join B in one call */
    json_t *to_add = json_pack("[s,s]", "A2", "B"), *to_remove = json_pack("[s]", "A1");
    ck_assert_int_eq(thing_groups_update_for_thing(c, "t", to_add, to_remove, &err), FL_OK);
    json_t *out = NULL;
    ck_assert_int_eq(thing_groups_list_for_thing(c, "t", 50, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(names(out, "thingGroups", buf, sizeof(buf)), "A,A2,B");
    json_decref(out);
    json_decref(to_add);
    json_decref(to_remove);

    /* all or nothing: an unknown group undoes the removal too */
    to_add = json_pack("[s]", "Missing");
    to_remove = json_pack("[s]", "B");
    ck_assert_int_eq(thing_groups_update_for_thing(c, "t", to_add, to_remove, &err), FL_NOT_FOUND);
    json_decref(to_add);
    /* ... as does a hierarchy conflict */
    to_add = json_pack("[s]", "A1");
    ck_assert_int_eq(thing_groups_update_for_thing(c, "t", to_add, to_remove, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(thing_groups_list_for_thing(c, "t", 50, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(names(out, "thingGroups", buf, sizeof(buf)), "A,A2,B");
    json_decref(out);
    json_decref(to_add);
    json_decref(to_remove);

    ck_assert_int_eq(thing_groups_update_for_thing(c, "ghost", NULL, NULL, &err), FL_NOT_FOUND);
    ck_assert_int_eq(thing_groups_update_for_thing(c, NULL, NULL, NULL, &err), FL_INVALID_REQUEST);
    to_add = json_pack("[i]", 3);
    ck_assert_int_eq(thing_groups_update_for_thing(c, "t", to_add, NULL, &err), FL_INVALID_REQUEST);
    json_decref(to_add);
    ck_assert_int_eq(thing_groups_update_for_thing(c, "t", NULL, NULL, &err), FL_OK);
}
END_TEST

START_TEST(test_list_groups_for_thing)
{
    char buf[512];
    mk_group("R", NULL);
    mk_group("S", "R");
    mk_group("T", "S");
    mk_group("U", NULL);
    mk_thing("t");
    mk_thing("lonely");
    ck_assert_int_eq(add("T", "t"), FL_OK);
    ck_assert_int_eq(add("U", "t"), FL_OK);

    json_t *out = NULL;
    ck_assert_int_eq(thing_groups_list_for_thing(c, "t", 50, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(names(out, "thingGroups", buf, sizeof(buf)), "R,S,T,U");
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_array_get(json_object_get(out, "thingGroups"), 0), "groupArn")),
                     "arn:aws:iot:us-east-1:123456789012:thinggroup/R");
    json_decref(out);

    ck_assert_int_eq(thing_groups_list_for_thing(c, "t", 3, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(names(out, "thingGroups", buf, sizeof(buf)), "R,S,T");
    char tok[PAGE_TOKEN_MAX];
    snprintf(tok, sizeof(tok), "%s", json_string_value(json_object_get(out, "nextToken")));
    json_decref(out);
    ck_assert_int_eq(thing_groups_list_for_thing(c, "t", 3, tok, &out, &err), FL_OK);
    ck_assert_str_eq(names(out, "thingGroups", buf, sizeof(buf)), "U");
    ck_assert_ptr_null(json_object_get(out, "nextToken"));
    json_decref(out);

    ck_assert_int_eq(thing_groups_list_for_thing(c, "lonely", 50, NULL, &out, &err), FL_OK);
    ck_assert_str_eq(names(out, "thingGroups", buf, sizeof(buf)), "");
    json_decref(out);
    ck_assert_int_eq(thing_groups_list_for_thing(c, "ghost", 50, NULL, &out, &err), FL_NOT_FOUND);
}
END_TEST

START_TEST(test_many_members_pagination)
{
    char name[32], buf[8192], want[8192];
    size_t off = 0;
    mk_group("Big", NULL);
    mk_group("Sub", "Big");
    for (int i = 0; i < 120; i++) {
        snprintf(name, sizeof(name), "thing-%03d", i);
        mk_thing(name);
        ck_assert_int_eq(add(i % 3 ? "Sub" : "Big", name), FL_OK);
        off += (size_t)snprintf(want + off, sizeof(want) - off, "%s%s", off ? "," : "", name);
    }
    ck_assert_str_eq(all_things("Big", 1, 7, buf, sizeof(buf)), want);
    ck_assert_str_eq(all_things("Big", 1, 250, buf, sizeof(buf)), want);
    json_t *out = NULL;
    ck_assert_int_eq(thing_groups_list_things(c, "Big", 0, 250, NULL, &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "things")), 40);
    json_decref(out);
}
END_TEST

Suite *thing_groups_suite(void)
{
    Suite *s = suite_create("thing_groups");
    TCase *tc = tcase_create("groups");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_create_describe);
    tcase_add_test(tc, test_create_idempotent_and_conflict);
    tcase_add_test(tc, test_create_validation);
    tcase_add_test(tc, test_depth_limit);
    tcase_add_test(tc, test_create_with_tags);
    tcase_add_test(tc, test_update);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_list_groups);
    suite_add_tcase(s, tc);

    tc = tcase_create("membership");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_add_remove);
    tcase_add_test(tc, test_same_hierarchy);
    tcase_add_test(tc, test_ten_group_limit);
    tcase_add_test(tc, test_recursive_three_levels);
    tcase_add_test(tc, test_update_groups_for_thing);
    tcase_add_test(tc, test_list_groups_for_thing);
    tcase_add_test(tc, test_many_members_pagination);
    suite_add_tcase(s, tc);
    return s;
}
