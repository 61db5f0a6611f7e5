/*
 * thing_groups.c - static thing groups and their membership (see
 * thing_groups.h for the operations and the rules).
 *
 * A group's place in its hierarchy is its materialised path "/root/.../name/"
 * (names and parents never change), so ancestors come from the path itself
 * and "same hierarchy" is "same first path segment". Membership keeps a
 * closure over ancestors (store_groups.c) so that recursive listings are
 * index ranges. Knows nothing of HTTP, MQTT or SQL.
 */
#include "thing_groups.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jx.h"
#include "outbox.h"
#include "page.h"
#include "principals.h"
#include "store.h"
#include "store_policies.h"
#include "store_groups.h"
#include "tags.h"
#include "validate.h"

#define ARN_MAX 320

static void group_arn(const struct fl_core *c, const char *name, char arn[ARN_MAX])
{
    core_arn(c, arn, ARN_MAX, "thinggroup", name);
}

static enum fl_code group_not_found(const char *name, struct fl_err *err)
{
    return fl_err_set(err, FL_NOT_FOUND, "Thing group %s does not exist", name);
}

static enum fl_code thing_not_found(const char *name, struct fl_err *err)
{
    return fl_err_set(err, FL_NOT_FOUND, "Thing %s cannot be found.", name);
}

/* Length of the root prefix "/root/" of a path. */
static size_t root_len(const char *path)
{
    const char *e = strchr(path + 1, '/');
    return e ? (size_t)(e - path) + 1 : strlen(path);
}

/* Copies the name of the segment before the last one of path (the parent
 * of the group the path names) into out; "" for a root. */
static void path_parent(const char *path, char out[129])
{
    size_t n = strlen(path);
    out[0] = '\0';
    if (n < 2)
        return;
    size_t end = n - 1; /* the final '/' */
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    if (start <= 1)
        return; /* root: "/name/" */
    size_t pend = start - 1, pstart = pend;
    while (pstart > 0 && path[pstart - 1] != '/')
        pstart--;
    size_t len = pend - pstart;
    if (len > 128)
        len = 128;
    memcpy(out, path + pstart, len);
    out[len] = '\0';
}

/* ---- properties --------------------------------------------------------- */

/* Validates attributes (an object of strings); count_limit applies when the
 * object is stored as is (create, replace). */
static enum fl_code check_attributes(json_t *attrs, int count_limit, struct fl_err *err)
{
    if (attrs == NULL)
        return FL_OK;
    if (!json_is_object(attrs))
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Invalid type for parameter thingGroupProperties.attributePayload.attributes: "
                          "expected a map");
    if (count_limit && json_object_size(attrs) > THING_GROUPS_MAX_ATTRS)
        return fl_err_set(err, FL_INVALID_REQUEST, "A thing group can have at most %d attributes",
                          THING_GROUPS_MAX_ATTRS);
    const char *k;
    json_t *v;
    json_object_foreach (attrs, k, v) {
        enum fl_code rc = validate_attr_name("thingGroupProperties.attributePayload.attributes", k, err);
        if (rc)
            return rc;
        if (!json_is_string(v))
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "Invalid type for attribute %s in thingGroupProperties.attributePayload: "
                              "expected a string",
                              k);
        if ((rc = validate_attr_value("thingGroupProperties.attributePayload.attributes",
                                      json_string_value(v), err)))
            return rc;
    }
    return FL_OK;
}

static enum fl_code check_props(const struct thing_group_props *p, int count_limit, struct fl_err *err)
{
    enum fl_code rc = FL_OK;
    if (p->description)
        rc = validate_text("thingGroupProperties.thingGroupDescription", p->description, 0, 2028, 1, err);
    if (rc == FL_OK)
        rc = check_attributes(p->attributes, count_limit, err);
    return rc;
}

/* Canonical JSON text of an attribute object (sorted keys, compact): equal
 * maps give equal strings, which is how identical re-creates are told.
 * malloc'd; NULL when out of memory. */
static char *attrs_dump(json_t *attrs)
{
    json_t *empty = NULL;
    if (attrs == NULL)
        attrs = empty = json_object();
    char *s = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(empty);
    return s;
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* ---- create / describe / update / delete ---------------------------------- */

static json_t *create_out(const struct fl_core *c, const struct store_group *g)
{
    char arn[ARN_MAX];
    group_arn(c, g->name, arn);
    json_t *o = json_object();
    json_object_set_new(o, "thingGroupName", json_string(g->name));
    json_object_set_new(o, "thingGroupArn", json_string(arn));
    json_object_set_new(o, "thingGroupId", json_string(g->group_id));
    return o;
}

/* Inside the transaction: the existing group called in->name decides
 * between an idempotent success and ResourceAlreadyExists. */
static enum fl_code create_existing(struct fl_core *c, const struct thing_group_create_in *in,
                                    const char *attrs_json, struct store_group *g, struct fl_err *err)
{
    char parent[129];
    path_parent(g->path, parent);
    if (same_text(in->parent && *in->parent ? in->parent : NULL, parent[0] ? parent : NULL) &&
        same_text(in->props.description, g->description) && same_text(attrs_json, g->attributes_json))
        return FL_OK;
    fl_err_set(err, FL_ALREADY_EXISTS, "Thing Group %s already exists with different properties", in->name);
    snprintf(err->resource_id, sizeof(err->resource_id), "%s", g->group_id);
    group_arn(c, g->name, err->resource_arn);
    return FL_ALREADY_EXISTS;
}

enum fl_code thing_groups_create(struct fl_core *c, const struct thing_group_create_in *in, json_t **out,
                                 struct fl_err *err)
{
    const char *parent = in->parent && *in->parent ? in->parent : NULL;
    enum fl_code rc = validate_name("thingGroupName", in->name, err);
    if (rc == FL_OK && parent)
        rc = validate_name("parentGroupName", parent, err);
    if (rc == FL_OK)
        rc = check_props(&in->props, 1, err);
    if (rc)
        return rc;
    char *attrs_json = attrs_dump(in->props.attributes);
    if (attrs_json == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");

    struct store_group g = {0};
    if ((rc = store_begin(c->st, err))) {
        free(attrs_json);
        return rc;
    }
    rc = store_groups_get(c->st, in->name, 1, &g, err);
    if (rc == FL_OK) {
        rc = create_existing(c, in, attrs_json, &g, err);
        store_group_clear(&g);
        goto end;
    }
    if (rc != FL_NOT_FOUND)
        goto end;

    memset(&g, 0, sizeof(g));
    g.depth = 1;
    snprintf(g.path, sizeof(g.path), "/%s/", in->name);
    if (parent) {
        struct store_group p;
        rc = store_groups_get(c->st, parent, 0, &p, err);
        if (rc == FL_NOT_FOUND)
            rc = fl_err_set(err, FL_INVALID_REQUEST, "Parent thing group %s does not exist", parent);
        if (rc)
            goto end;
        if (p.depth >= THING_GROUPS_MAX_DEPTH) {
            rc = fl_err_set(err, FL_INVALID_REQUEST,
                            "Cannot create thing group %s under %s: the maximum depth of a thing group "
                            "hierarchy is %d",
                            in->name, parent, THING_GROUPS_MAX_DEPTH);
            goto end;
        }
        g.parent_row = p.row_id;
        g.depth = p.depth + 1;
        /* depth <= 7 names of <= 128 bytes: always fits, checked anyway */
        size_t pl = strlen(p.path), nl = strlen(in->name);
        if (pl + nl + 2 > sizeof(g.path)) {
            rc = fl_err_set(err, FL_INTERNAL, "thing group path too long");
            goto end;
        }
        memcpy(g.path, p.path, pl);
        memcpy(g.path + pl, in->name, nl);
        g.path[pl + nl] = '/';
        g.path[pl + nl + 1] = '\0';
    }
    snprintf(g.name, sizeof(g.name), "%s", in->name);
    core_uuid(c, g.group_id);
    g.description = (char *)in->props.description; /* borrowed: not cleared below */
    g.attributes_json = attrs_json;
    g.created_at = core_now_ms(c);
    rc = store_groups_insert(c->st, &g, err);
    if (rc == FL_OK && in->tags) {
        char arn[ARN_MAX];
        group_arn(c, g.name, arn);
        rc = tags_put_tx(c, arn, in->tags, err);
    }
end:
    rc = store_end(c->st, rc, err);
    free(attrs_json);
    if (rc == FL_OK)
        *out = create_out(c, &g);
    return rc;
}

/* rootToParentThingGroups from a path: every segment but the last. */
static json_t *root_to_parent(const struct fl_core *c, const char *path)
{
    json_t *arr = json_array();
    const char *p = path + 1;
    for (;;) {
        const char *e = strchr(p, '/');
        if (e == NULL || e[1] == '\0')
            break; /* e is the final '/': p is the group itself */
        char name[129], arn[ARN_MAX];
        size_t n = (size_t)(e - p) < sizeof(name) ? (size_t)(e - p) : sizeof(name) - 1;
        memcpy(name, p, n);
        name[n] = '\0';
        group_arn(c, name, arn);
        json_t *o = json_object();
        json_object_set_new(o, "groupName", json_string(name));
        json_object_set_new(o, "groupArn", json_string(arn));
        json_array_append_new(arr, o);
        p = e + 1;
    }
    return arr;
}

enum fl_code thing_groups_describe(struct fl_core *c, const char *name, json_t **out, struct fl_err *err)
{
    enum fl_code rc = validate_name("thingGroupName", name, err);
    if (rc)
        return rc;
    struct store_group g;
    rc = store_groups_get(c->st, name, 1, &g, err);
    if (rc == FL_NOT_FOUND)
        return group_not_found(name, err);
    if (rc)
        return rc;
    json_t *attrs = json_loads(g.attributes_json, 0, NULL);
    if (!json_is_object(attrs)) {
        json_decref(attrs);
        attrs = json_object();
    }
    char arn[ARN_MAX], parent[129];
    group_arn(c, g.name, arn);
    path_parent(g.path, parent);

    json_t *payload = json_object();
    json_object_set_new(payload, "attributes", attrs);
    json_t *props = json_object();
    jx_set_str(props, "thingGroupDescription", g.description);
    json_object_set_new(props, "attributePayload", payload);
    json_t *meta = json_object();
    if (parent[0])
        json_object_set_new(meta, "parentGroupName", json_string(parent));
    json_object_set_new(meta, "rootToParentThingGroups", root_to_parent(c, g.path));
    json_object_set_new(meta, "creationDate", jx_time(g.created_at));

    json_t *o = json_object();
    json_object_set_new(o, "thingGroupName", json_string(g.name));
    json_object_set_new(o, "thingGroupId", json_string(g.group_id));
    json_object_set_new(o, "thingGroupArn", json_string(arn));
    json_object_set_new(o, "version", json_integer(g.version));
    json_object_set_new(o, "thingGroupProperties", props);
    json_object_set_new(o, "thingGroupMetadata", meta);
    store_group_clear(&g);
    *out = o;
    return FL_OK;
}

/* The attributes after an update, as canonical JSON (malloc'd), or NULL
 * with err set. */
static char *updated_attrs(const char *old_json, const struct thing_group_props *p, struct fl_err *err)
{
    json_t *cur = p->merge ? json_loads(old_json, 0, NULL) : json_object();
    if (!json_is_object(cur)) {
        json_decref(cur);
        cur = json_object();
    }
    const char *k;
    json_t *v;
    json_object_foreach (p->attributes, k, v) {
        if (json_string_length(v) == 0)
            json_object_del(cur, k);
        else
            json_object_set(cur, k, v);
    }
    char *s = NULL;
    if (json_object_size(cur) > THING_GROUPS_MAX_ATTRS)
        fl_err_set(err, FL_INVALID_REQUEST, "A thing group can have at most %d attributes",
                   THING_GROUPS_MAX_ATTRS);
    else if ((s = attrs_dump(cur)) == NULL)
        fl_err_set(err, FL_INTERNAL, "out of memory");
    json_decref(cur);
    return s;
}

enum fl_code thing_groups_update(struct fl_core *c, const struct thing_group_update_in *in, int64_t *version,
                                 struct fl_err *err)
{
    enum fl_code rc = validate_name("thingGroupName", in->name, err);
    if (rc == FL_OK)
        rc = check_props(&in->props, 0, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    struct store_group g;
    rc = store_groups_get(c->st, in->name, 1, &g, err);
    if (rc == FL_NOT_FOUND)
        rc = group_not_found(in->name, err);
    if (rc)
        return store_end(c->st, rc, err);
    char *attrs = NULL;
    if (in->has_expected_version && in->expected_version != g.version)
        rc = fl_err_set(err, FL_VERSION_CONFLICT,
                        "The version for thing group %s does not match the expected version.", in->name);
    else if (in->props.attributes && (attrs = updated_attrs(g.attributes_json, &in->props, err)) == NULL)
        rc = err->code;
    if (rc == FL_OK)
        rc = store_groups_set_props(c->st, g.row_id,
                                    in->props.description ? in->props.description : g.description,
                                    attrs ? attrs : g.attributes_json, version, err);
    free(attrs);
    store_group_clear(&g);
    return store_end(c->st, rc, err);
}

static enum fl_code count_name(void *ctx, const char *name)
{
    (void)name;
    ++*(int *)ctx;
    return FL_OK;
}

enum fl_code thing_groups_delete(struct fl_core *c, const char *name, int has_expected_version,
                                 int64_t expected_version, struct fl_err *err)
{
    enum fl_code rc = validate_name("thingGroupName", name, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    struct store_group g;
    int children = 0;
    rc = store_groups_get(c->st, name, 0, &g, err);
    if (rc == FL_NOT_FOUND)
        return store_end(c->st, FL_OK, err); /* already gone: idempotent */
    if (rc == FL_OK && has_expected_version && expected_version != g.version)
        rc = fl_err_set(err, FL_VERSION_CONFLICT,
                        "The version for thing group %s does not match the expected version.", name);
    if (rc == FL_OK)
        rc = store_groups_has_children(c->st, g.row_id, &children, err);
    if (rc == FL_OK && children)
        rc = fl_err_set(err, FL_INVALID_REQUEST,
                        "Cannot delete thing group : %s when there are still child groups attached to it",
                        name);
    /* members lose what the group (and its ancestors) granted; they may be
     * many, so the broker recompiles everyone */
    int members = 0;
    if (rc == FL_OK)
        rc = store_groups_things_page(c->st, g.row_id, 0, "", 1, count_name, &members, err);
    if (rc == FL_OK && members)
        rc = outbox_append_tx(c, OUTBOX_AUTHZ, NULL, NULL, NULL, 0, 0, 0, err);
    if (rc == FL_OK)
        rc = store_groups_delete(c->st, g.row_id, err);
    if (rc == FL_OK) {
        char arn[ARN_MAX];
        group_arn(c, name, arn);
        rc = tags_delete_all_tx(c, arn, err);
        /* the group's inherited permissions go with it */
        if (rc == FL_OK)
            rc = store_policy_targets_detach_all(c->st, arn, err);
    }
    return store_end(c->st, rc, err);
}

/* ---- pages ---------------------------------------------------------------- */

/* Collects up to limit names into a JSON array; one more row (the store is
 * asked for limit + 1) only tells that a next page exists. */
struct name_page {
    const struct fl_core *c;
    json_t *arr;
    int limit;
    int n;
    int more;
    int groups; /* entries are {groupName, groupArn} rather than names */
    char last[129];
};

static enum fl_code page_add(void *ctx, const char *name)
{
    struct name_page *p = ctx;
    if (p->n == p->limit) {
        p->more = 1;
        return FL_OK;
    }
    if (p->groups) {
        char arn[ARN_MAX];
        group_arn(p->c, name, arn);
        json_t *o = json_object();
        json_object_set_new(o, "groupName", json_string(name));
        json_object_set_new(o, "groupArn", json_string(arn));
        json_array_append_new(p->arr, o);
    } else {
        json_array_append_new(p->arr, json_string(name));
    }
    snprintf(p->last, sizeof(p->last), "%s", name);
    p->n++;
    return FL_OK;
}

static int clamp_max(int max_results)
{
    return max_results < 1 || max_results > 250 ? 250 : max_results;
}

/* The resume key of a nextToken, "" for the first page. */
static enum fl_code page_after(const char *next_token, char after[129], struct fl_err *err)
{
    after[0] = '\0';
    if (next_token == NULL || *next_token == '\0')
        return FL_OK;
    return page_token_decode(next_token, after, 129, err);
}

/* Ends a read transaction and builds {field: arr, nextToken?}. */
static enum fl_code page_finish(struct fl_core *c, enum fl_code rc, struct name_page *p, const char *field,
                                json_t **out, struct fl_err *err)
{
    rc = store_end(c->st, rc, err);
    if (rc) {
        json_decref(p->arr);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, field, p->arr);
    if (p->more) {
        char tok[PAGE_TOKEN_MAX];
        page_token_encode(p->last, tok);
        json_object_set_new(*out, "nextToken", json_string(tok));
    }
    return FL_OK;
}

enum fl_code thing_groups_list(struct fl_core *c, const struct thing_groups_filter *f, int max_results,
                               const char *next_token, json_t **out, struct fl_err *err)
{
    const char *parent = f->parent && *f->parent ? f->parent : NULL;
    const char *prefix = f->name_prefix && *f->name_prefix ? f->name_prefix : NULL;
    char after[129], lo[129] = "", hi[129] = "\x7f";
    enum fl_code rc = FL_OK;
    if (parent)
        rc = validate_name("parentGroup", parent, err);
    if (rc == FL_OK && prefix)
        rc = validate_name("namePrefixFilter", prefix, err);
    if (rc == FL_OK)
        rc = page_after(next_token, after, err);
    if (rc)
        return rc;
    /* Names are [a-zA-Z0-9:_-]: bumping the last byte of the prefix gives
     * the first string past every name that starts with it. */
    if (prefix) {
        size_t n = strlen(prefix);
        memcpy(lo, prefix, n + 1);
        memcpy(hi, prefix, n + 1);
        hi[n - 1]++;
    }
    if (strcmp(after, lo) > 0)
        memcpy(lo, after, sizeof(lo));

    struct name_page p = {.c = c, .arr = json_array(), .limit = clamp_max(max_results), .groups = 1};
    if ((rc = store_begin_read(c->st, err))) {
        json_decref(p.arr);
        return rc;
    }
    struct store_group g = {0};
    enum store_groups_scope scope = f->recursive == 0 ? STORE_GROUPS_ROOTS : STORE_GROUPS_ALL;
    if (parent) {
        rc = store_groups_get(c->st, parent, 0, &g, err);
        if (rc == FL_NOT_FOUND)
            rc = group_not_found(parent, err);
        scope = f->recursive == 1 ? STORE_GROUPS_SUBTREE : STORE_GROUPS_CHILDREN;
    }
    if (rc == FL_OK)
        rc = store_groups_page(c->st, scope, g.row_id, g.path, lo, hi, after, p.limit + 1, page_add, &p, err);
    return page_finish(c, rc, &p, "thingGroups", out, err);
}

enum fl_code thing_groups_list_things(struct fl_core *c, const char *group, int recursive, int max_results,
                                      const char *next_token, json_t **out, struct fl_err *err)
{
    char after[129];
    enum fl_code rc = validate_name("thingGroupName", group, err);
    if (rc == FL_OK)
        rc = page_after(next_token, after, err);
    if (rc)
        return rc;
    struct name_page p = {.c = c, .arr = json_array(), .limit = clamp_max(max_results)};
    if ((rc = store_begin_read(c->st, err))) {
        json_decref(p.arr);
        return rc;
    }
    struct store_group g;
    rc = store_groups_get(c->st, group, 0, &g, err);
    if (rc == FL_NOT_FOUND)
        rc = group_not_found(group, err);
    if (rc == FL_OK)
        rc = store_groups_things_page(c->st, g.row_id, recursive, after, p.limit + 1, page_add, &p, err);
    return page_finish(c, rc, &p, "things", out, err);
}

enum fl_code thing_groups_list_for_thing(struct fl_core *c, const char *thing_name, int max_results,
                                         const char *next_token, json_t **out, struct fl_err *err)
{
    char after[129];
    enum fl_code rc = validate_name("thingName", thing_name, err);
    if (rc == FL_OK)
        rc = page_after(next_token, after, err);
    if (rc)
        return rc;
    struct name_page p = {.c = c, .arr = json_array(), .limit = clamp_max(max_results), .groups = 1};
    if ((rc = store_begin_read(c->st, err))) {
        json_decref(p.arr);
        return rc;
    }
    int64_t thing_row = 0;
    rc = store_groups_thing_row(c->st, thing_name, &thing_row, err);
    if (rc == FL_NOT_FOUND)
        rc = thing_not_found(thing_name, err);
    if (rc == FL_OK)
        rc = store_groups_for_thing_page(c->st, thing_row, after, p.limit + 1, page_add, &p, err);
    return page_finish(c, rc, &p, "thingGroups", out, err);
}

/* ---- membership ----------------------------------------------------------- */

/* Resolves the name-or-ARN pair of one side of a membership call. */
static enum fl_code resolve_ref(struct fl_core *c, const char *name, const char *arn, const char *kind,
                                const char *name_field, const char *arn_field, const char **out,
                                struct fl_err *err)
{
    const char *from_arn = NULL;
    if (arn && *arn) {
        from_arn = core_arn_name(c, arn, kind);
        if (from_arn == NULL)
            return fl_err_set(err, FL_INVALID_REQUEST, "Invalid %s: %s", arn_field, arn);
    }
    if (name && *name) {
        if (from_arn && strcmp(from_arn, name) != 0)
            return fl_err_set(err, FL_INVALID_REQUEST, "%s does not match the %s in the request", arn_field,
                              name_field);
        *out = name;
    } else if (from_arn) {
        *out = from_arn;
    } else {
        return fl_err_set(err, FL_INVALID_REQUEST, "Either %s or %s must be specified", name_field,
                          arn_field);
    }
    return validate_name(*out == name ? name_field : arn_field, *out, err);
}

static enum fl_code resolve_member(struct fl_core *c, const struct thing_group_member_in *in,
                                   const char **group, const char **thing, struct fl_err *err)
{
    enum fl_code rc = resolve_ref(c, in->group_name, in->group_arn, "thinggroup", "thingGroupName",
                                  "thingGroupArn", group, err);
    if (rc == FL_OK)
        rc = resolve_ref(c, in->thing_name, in->thing_arn, "thing", "thingName", "thingArn", thing, err);
    return rc;
}

/* What the thing's current memberships say about joining one more group. */
struct join_check {
    int64_t target_row;
    const char *target_path;
    size_t root_len;
    int count;
    int already;
    char conflict[STORE_GROUP_PATH_MAX];
};

static enum fl_code join_scan(void *ctx, int64_t group_row, const char *path)
{
    struct join_check *j = ctx;
    j->count++;
    if (group_row == j->target_row)
        j->already = 1;
    else if (j->conflict[0] == '\0' && strncmp(path, j->target_path, j->root_len) == 0)
        snprintf(j->conflict, sizeof(j->conflict), "%s", path);
    return FL_OK;
}

/* Name of the group a path names (its last segment). */
static void path_name(const char *path, char out[129])
{
    size_t n = strlen(path);
    size_t end = n > 0 ? n - 1 : 0, start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t len = end - start < 128 ? end - start : 128;
    memcpy(out, path + start, len);
    out[len] = '\0';
}

/* Inside a write transaction: adds the thing to group g, enforcing the
 * hierarchy and count rules; a no-op when it is already a member. */
static enum fl_code join_tx(struct fl_core *c, const struct store_group *g, int64_t thing_row,
                            const char *thing_name, struct fl_err *err)
{
    struct join_check j = {.target_row = g->row_id, .target_path = g->path, .root_len = root_len(g->path)};
    enum fl_code rc = store_groups_memberships(c->st, thing_row, join_scan, &j, err);
    if (rc || j.already)
        return rc;
    if (j.conflict[0]) {
        char other[129];
        path_name(j.conflict, other);
        return fl_err_set(
            err, FL_INVALID_REQUEST,
            "Cannot add thing %s to thing group %s: it is already in thing group %s of the same "
            "hierarchy, and a thing can be in only one group of a hierarchy",
            thing_name, g->name, other);
    }
    if (j.count >= THING_GROUPS_MAX_PER_THING)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Cannot add thing %s to thing group %s: a thing can be in at most %d thing groups",
                          thing_name, g->name, THING_GROUPS_MAX_PER_THING);
    return store_groups_member_add(c->st, g->row_id, g->path, thing_row, thing_name, core_now_ms(c), err);
}

/* Inside a transaction: the group and thing rows a membership call names. */
static enum fl_code load_pair(struct fl_core *c, const char *group, const char *thing, struct store_group *g,
                              int64_t *thing_row, struct fl_err *err)
{
    enum fl_code rc = store_groups_get(c->st, group, 0, g, err);
    if (rc == FL_NOT_FOUND)
        return group_not_found(group, err);
    if (rc == FL_OK)
        rc = store_groups_thing_row(c->st, thing, thing_row, err);
    if (rc == FL_NOT_FOUND)
        return thing_not_found(thing, err);
    return rc;
}

enum fl_code thing_groups_add_thing(struct fl_core *c, const struct thing_group_member_in *in,
                                    struct fl_err *err)
{
    const char *group = NULL, *thing = NULL;
    enum fl_code rc = resolve_member(c, in, &group, &thing, err);
    if (rc || (rc = store_begin(c->st, err)))
        return rc;
    struct store_group g;
    int64_t thing_row = 0;
    rc = load_pair(c, group, thing, &g, &thing_row, err);
    if (rc == FL_OK)
        rc = join_tx(c, &g, thing_row, thing, err);
    /* group policies are inherited: the thing's certificates recompile */
    if (rc == FL_OK)
        rc = principals_notify_authz_tx(c, thing_row, err);
    return store_end(c->st, rc, err);
}

enum fl_code thing_groups_remove_thing(struct fl_core *c, const struct thing_group_member_in *in,
                                       struct fl_err *err)
{
    const char *group = NULL, *thing = NULL;
    enum fl_code rc = resolve_member(c, in, &group, &thing, err);
    if (rc || (rc = store_begin(c->st, err)))
        return rc;
    struct store_group g;
    int64_t thing_row = 0;
    int removed = 0;
    rc = load_pair(c, group, thing, &g, &thing_row, err);
    if (rc == FL_OK)
        rc = store_groups_member_remove(c->st, g.row_id, thing_row, thing, &removed, err);
    if (rc == FL_OK && removed)
        rc = principals_notify_authz_tx(c, thing_row, err);
    return store_end(c->st, rc, err);
}

/* Validates a thingGroupsToAdd / thingGroupsToRemove list. */
static enum fl_code check_names(json_t *list, const char *field, struct fl_err *err)
{
    if (list == NULL)
        return FL_OK;
    if (!json_is_array(list))
        return fl_err_set(err, FL_INVALID_REQUEST, "Invalid type for parameter %s: expected a list", field);
    size_t i;
    json_t *v;
    json_array_foreach (list, i, v) {
        if (!json_is_string(v))
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "Invalid type for parameter %s[%zu]: expected a string", field, i);
        enum fl_code rc = validate_name(field, json_string_value(v), err);
        if (rc)
            return rc;
    }
    return FL_OK;
}

enum fl_code thing_groups_update_for_thing(struct fl_core *c, const char *thing_name, json_t *to_add,
                                           json_t *to_remove, struct fl_err *err)
{
    enum fl_code rc = validate_name("thingName", thing_name, err);
    if (rc == FL_OK)
        rc = check_names(to_add, "thingGroupsToAdd", err);
    if (rc == FL_OK)
        rc = check_names(to_remove, "thingGroupsToRemove", err);
    if (rc || (rc = store_begin(c->st, err)))
        return rc;
    int64_t thing_row = 0;
    rc = store_groups_thing_row(c->st, thing_name, &thing_row, err);
    if (rc == FL_NOT_FOUND)
        rc = thing_not_found(thing_name, err);
    size_t i;
    json_t *v;
    struct store_group g;
    if (to_remove && rc == FL_OK) {
        json_array_foreach (to_remove, i, v) {
            int removed = 0;
            const char *name = json_string_value(v);
            rc = store_groups_get(c->st, name, 0, &g, err);
            if (rc == FL_NOT_FOUND)
                rc = group_not_found(name, err);
            if (rc == FL_OK)
                rc = store_groups_member_remove(c->st, g.row_id, thing_row, thing_name, &removed, err);
            if (rc)
                break;
        }
    }
    if (to_add && rc == FL_OK) {
        json_array_foreach (to_add, i, v) {
            const char *name = json_string_value(v);
            rc = store_groups_get(c->st, name, 0, &g, err);
            if (rc == FL_NOT_FOUND)
                rc = group_not_found(name, err);
            if (rc == FL_OK)
                rc = join_tx(c, &g, thing_row, thing_name, err);
            if (rc)
                break;
        }
    }
    if (rc == FL_OK && (json_array_size(to_add) || json_array_size(to_remove)))
        rc = principals_notify_authz_tx(c, thing_row, err);
    return store_end(c->st, rc, err);
}
