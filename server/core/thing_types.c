/*
 * thing_types.c - thing types (see thing_types.h): property validation and
 * canonical storage, identical re-create, the deprecate/delete rules and
 * the response objects. SQL lives in store_things.c; this file must not
 * know HTTP or MQTT.
 *
 * Decisions where AWS is silent:
 *  - properties are stored canonically (compact JSON, sorted keys), and two
 *    creates are "identical" when description, searchableAttributes (same
 *    order) and mqtt5Configuration are equal; tags are not compared;
 *  - DeprecateThingType on a deprecated type keeps the first deprecation
 *    time, so repeating it does not restart the five-minute delete delay;
 *  - DeleteThingType errors (not deprecated, deprecated under five minutes
 *    ago, still used by things) are InvalidRequestException: it is the only
 *    client error the service model lists for the operation besides
 *    ResourceNotFoundException.
 */
#include "thing_types.h"

#include <stdlib.h>
#include <string.h>

#include "jx.h"
#include "page.h"
#include "store.h"
#include "store_things.h"
#include "tags.h"
#include "validate.h"

#define PROPS "thingTypeProperties"

/* ---- properties ------------------------------------------------------------- */

/* Validated properties, serialised as stored. Strings are owned. */
struct props {
    int has_description, has_searchable, has_mqtt5;
    char *description; /* borrowed from the request */
    char *searchable_json;
    char *mqtt5_json;
};

static void props_free(struct props *p)
{
    free(p->searchable_json);
    free(p->mqtt5_json);
}

static enum fl_code pattern_str(json_t *obj, const char *field, const char *path, const char *extra,
                                const char *pattern, const char **out, struct fl_err *err)
{
    const char *v = NULL;
    enum fl_code rc = jx_str(obj, field, JX_OPTIONAL, &v, err);
    if (rc || v == NULL)
        return rc;
    size_t n = strlen(v);
    if (n > 128)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value at '%s' failed to satisfy constraint: "
                          "Member must have length less than or equal to 128",
                          path);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr(extra, ch)))
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "1 validation error detected: Value at '%s' failed to satisfy constraint: "
                              "Member must satisfy regular expression pattern: %s",
                              path, pattern);
    }
    *out = v;
    return FL_OK;
}

/* mqtt5Configuration: {"propagatingAttributes":[{userPropertyKey,
 * thingAttribute, connectionAttribute}]}, rebuilt from the known members. */
static enum fl_code parse_mqtt5(json_t *m, char **out, struct fl_err *err)
{
    json_t *list = NULL, *canon = json_object();
    enum fl_code rc = jx_arr(m, "propagatingAttributes", JX_OPTIONAL, &list, err);
    if (rc == FL_OK && list) {
        json_t *arr = json_array();
        json_object_set_new(canon, "propagatingAttributes", arr);
        size_t i;
        json_t *e;
        json_array_foreach (list, i, e) {
            if (!json_is_object(e)) {
                rc = fl_err_set(err, FL_INVALID_REQUEST,
                                "Invalid type for parameter " PROPS
                                ".mqtt5Configuration.propagatingAttributes[%zu]: expected an object",
                                i);
                break;
            }
            const char *key = NULL, *attr = NULL, *conn = NULL;
            rc = pattern_str(e, "userPropertyKey", "mqtt5Configuration.propagatingAttributes.userPropertyKey",
                             ":$.", "[a-zA-Z0-9:$.]+", &key, err);
            if (rc == FL_OK && key && !key[0])
                rc = fl_err_set(err, FL_INVALID_REQUEST, "userPropertyKey must not be empty");
            if (rc == FL_OK)
                rc = jx_str(e, "thingAttribute", JX_OPTIONAL, &attr, err);
            if (rc == FL_OK && attr)
                rc = validate_attr_name("mqtt5Configuration.propagatingAttributes.thingAttribute", attr, err);
            if (rc == FL_OK)
                rc = pattern_str(e, "connectionAttribute",
                                 "mqtt5Configuration.propagatingAttributes.connectionAttribute", ":.",
                                 "[a-zA-Z0-9:.]+", &conn, err);
            if (rc)
                break;
            json_t *c = json_object();
            jx_set_str(c, "userPropertyKey", key);
            jx_set_str(c, "thingAttribute", attr);
            jx_set_str(c, "connectionAttribute", conn);
            json_array_append_new(arr, c);
        }
    }
    if (rc == FL_OK && (*out = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        rc = fl_err_set(err, FL_INTERNAL, "out of memory");
    json_decref(canon);
    return rc;
}

/* Validates thingTypeProperties (may be NULL) into *p. */
static enum fl_code parse_props(json_t *props, struct props *p, struct fl_err *err)
{
    memset(p, 0, sizeof(*p));
    if (props == NULL)
        return FL_OK;
    if (!json_is_object(props))
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Invalid type for parameter " PROPS ": expected an object");
    const char *desc = NULL;
    json_t *search = NULL, *mqtt5 = NULL;
    enum fl_code rc = jx_str(props, "thingTypeDescription", JX_OPTIONAL, &desc, err);
    if (rc == FL_OK && desc) {
        rc = validate_text(PROPS ".thingTypeDescription", desc, 0, 2028, 1, err);
        p->has_description = 1;
        p->description = (char *)desc;
    }
    if (rc == FL_OK)
        rc = jx_arr(props, "searchableAttributes", JX_OPTIONAL, &search, err);
    if (rc == FL_OK && search) {
        if (json_array_size(search) > THING_TYPES_MAX_SEARCHABLE)
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "A thing type can have at most %d searchable attributes",
                              THING_TYPES_MAX_SEARCHABLE);
        size_t i;
        json_t *e;
        json_array_foreach (search, i, e) {
            if (!json_is_string(e))
                return fl_err_set(
                    err, FL_INVALID_REQUEST,
                    "Invalid type for parameter " PROPS ".searchableAttributes[%zu]: expected a string", i);
            if ((rc = validate_attr_name(PROPS ".searchableAttributes.member", json_string_value(e), err)))
                return rc;
        }
        p->has_searchable = 1;
        if ((p->searchable_json = json_dumps(search, JSON_COMPACT)) == NULL)
            return fl_err_set(err, FL_INTERNAL, "out of memory");
    }
    if (rc == FL_OK)
        rc = jx_obj(props, "mqtt5Configuration", JX_OPTIONAL, &mqtt5, err);
    if (rc == FL_OK && mqtt5) {
        p->has_mqtt5 = 1;
        rc = parse_mqtt5(mqtt5, &p->mqtt5_json, err);
    }
    if (rc)
        props_free(p);
    return rc;
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* thingTypeProperties and thingTypeMetadata of a stored type into obj. */
static void type_json(const struct store_thing_type *t, json_t *obj)
{
    json_t *props = json_object();
    jx_set_str(props, "thingTypeDescription", t->description);
    if (t->searchable_json)
        json_object_set_new(props, "searchableAttributes", json_loads(t->searchable_json, 0, NULL));
    if (t->mqtt5_json)
        json_object_set_new(props, "mqtt5Configuration", json_loads(t->mqtt5_json, 0, NULL));
    json_object_set_new(obj, "thingTypeProperties", props);
    json_t *meta = json_object();
    json_object_set_new(meta, "deprecated", json_boolean(t->deprecated));
    if (t->deprecated)
        json_object_set_new(meta, "deprecationDate", jx_time(t->deprecated_at));
    json_object_set_new(meta, "creationDate", jx_time(t->created_at));
    json_object_set_new(obj, "thingTypeMetadata", meta);
}

static void type_arn(const struct fl_core *c, char *out, size_t n, const char *name)
{
    core_arn(c, out, n, "thingtype", name);
}

static enum fl_code not_found(struct fl_err *err, const char *name)
{
    return fl_err_set(err, FL_NOT_FOUND, "Thing type %s does not exist", name);
}

/* Loads the type called name; FL_NOT_FOUND with the message set. */
static enum fl_code get_type(struct fl_core *c, const char *name, struct store_thing_type *t,
                             struct fl_err *err)
{
    enum fl_code rc = store_thing_types_get(c->st, name, t, err);
    return rc == FL_NOT_FOUND ? not_found(err, name) : rc;
}

/* ---- CreateThingType ---------------------------------------------------------- */

static enum fl_code create_tx(struct fl_core *c, const char *name, const struct props *p, json_t *tags,
                              struct thing_types_ref *out, struct fl_err *err)
{
    struct store_thing_type t;
    enum fl_code rc = store_thing_types_get(c->st, name, &t, err);
    if (rc == FL_OK) {
        int same = same_str(t.description, p->description) &&
                   same_str(t.searchable_json, p->searchable_json) && same_str(t.mqtt5_json, p->mqtt5_json);
        snprintf(out->name, sizeof(out->name), "%s", t.name);
        snprintf(out->type_id, sizeof(out->type_id), "%s", t.type_id);
        type_arn(c, out->arn, sizeof(out->arn), t.name);
        store_thing_type_clear(&t);
        if (same)
            return FL_OK;
        fl_err_set(err, FL_ALREADY_EXISTS, "Thing type %s already exists with a different configuration",
                   name);
        snprintf(err->resource_id, sizeof(err->resource_id), "%s", out->type_id);
        snprintf(err->resource_arn, sizeof(err->resource_arn), "%s", out->arn);
        return FL_ALREADY_EXISTS;
    }
    if (rc != FL_NOT_FOUND)
        return rc;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "%s", name);
    core_uuid(c, t.type_id);
    t.description = p->description;
    t.searchable_json = p->searchable_json;
    t.mqtt5_json = p->mqtt5_json;
    t.created_at = core_now_ms(c);
    if ((rc = store_thing_types_insert(c->st, &t, err)))
        return rc;
    snprintf(out->name, sizeof(out->name), "%s", t.name);
    snprintf(out->type_id, sizeof(out->type_id), "%s", t.type_id);
    type_arn(c, out->arn, sizeof(out->arn), t.name);
    if (tags && json_array_size(tags) > 0)
        rc = tags_put_tx(c, out->arn, tags, err);
    return rc;
}

enum fl_code thing_types_create(struct fl_core *c, const char *name, json_t *props, json_t *tags,
                                struct thing_types_ref *out, struct fl_err *err)
{
    struct props p;
    enum fl_code rc = validate_name("thingTypeName", name, err);
    if (rc)
        return rc;
    if (tags && !json_is_array(tags))
        return fl_err_set(err, FL_INVALID_REQUEST, "Invalid type for parameter tags: expected a list");
    if ((rc = parse_props(props, &p, err)))
        return rc;
    if ((rc = store_begin(c->st, err)) == FL_OK) {
        rc = create_tx(c, name, &p, tags, out, err);
        rc = store_end(c->st, rc, err);
    }
    props_free(&p);
    return rc;
}

/* ---- DescribeThingType -------------------------------------------------------- */

enum fl_code thing_types_describe(struct fl_core *c, const char *name, json_t **out, struct fl_err *err)
{
    enum fl_code rc = validate_name("thingTypeName", name, err);
    if (rc)
        return rc;
    struct store_thing_type t;
    /* One statement: no transaction needed for a consistent row. */
    if ((rc = get_type(c, name, &t, err)))
        return rc;
    char arn[320];
    type_arn(c, arn, sizeof(arn), t.name);
    json_t *obj = json_object();
    json_object_set_new(obj, "thingTypeName", json_string(t.name));
    json_object_set_new(obj, "thingTypeId", json_string(t.type_id));
    json_object_set_new(obj, "thingTypeArn", json_string(arn));
    type_json(&t, obj);
    store_thing_type_clear(&t);
    *out = obj;
    return FL_OK;
}

/* ---- UpdateThingType ---------------------------------------------------------- */

static enum fl_code update_tx(struct fl_core *c, const char *name, const struct props *p, struct fl_err *err)
{
    struct store_thing_type t;
    enum fl_code rc = get_type(c, name, &t, err);
    if (rc)
        return rc;
    rc = store_thing_types_set_props(c->st, t.row_id, p->has_description ? p->description : t.description,
                                     p->has_searchable ? p->searchable_json : t.searchable_json,
                                     p->has_mqtt5 ? p->mqtt5_json : t.mqtt5_json, err);
    store_thing_type_clear(&t);
    return rc;
}

enum fl_code thing_types_update(struct fl_core *c, const char *name, json_t *props, struct fl_err *err)
{
    struct props p;
    enum fl_code rc = validate_name("thingTypeName", name, err);
    if (rc)
        return rc;
    if ((rc = parse_props(props, &p, err)))
        return rc;
    if ((rc = store_begin(c->st, err)) == FL_OK) {
        rc = update_tx(c, name, &p, err);
        rc = store_end(c->st, rc, err);
    }
    props_free(&p);
    return rc;
}

/* ---- DeprecateThingType ------------------------------------------------------- */

enum fl_code thing_types_deprecate(struct fl_core *c, const char *name, int undo, struct fl_err *err)
{
    enum fl_code rc = validate_name("thingTypeName", name, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    int64_t row = 0;
    int deprecated = 0;
    rc = store_thing_types_lookup(c->st, name, &row, &deprecated, err);
    if (rc == FL_NOT_FOUND)
        rc = not_found(err, name);
    else if (rc == FL_OK && (undo ? deprecated : !deprecated))
        rc = store_thing_types_set_deprecated(c->st, row, !undo, core_now_ms(c), err);
    return store_end(c->st, rc, err);
}

/* ---- DeleteThingType ---------------------------------------------------------- */

static enum fl_code delete_tx(struct fl_core *c, const char *name, struct fl_err *err)
{
    struct store_thing_type t;
    enum fl_code rc = get_type(c, name, &t, err);
    if (rc)
        return rc;
    int64_t row = t.row_id, deprecated_at = t.deprecated_at;
    int deprecated = t.deprecated;
    store_thing_type_clear(&t);
    if (!deprecated)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Thing type %s must be deprecated before it can be deleted", name);
    if (core_now_ms(c) - deprecated_at < THING_TYPES_DELETE_DELAY_MS)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Thing type %s was deprecated less than 5 minutes ago; try again later", name);
    int used = 0;
    if ((rc = store_thing_types_in_use(c->st, row, &used, err)))
        return rc;
    if (used)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Thing type %s cannot be deleted while things are associated with it", name);
    char arn[320];
    type_arn(c, arn, sizeof(arn), name);
    if ((rc = tags_delete_all_tx(c, arn, err)))
        return rc;
    return store_thing_types_delete(c->st, row, err);
}

enum fl_code thing_types_delete(struct fl_core *c, const char *name, struct fl_err *err)
{
    enum fl_code rc = validate_name("thingTypeName", name, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = delete_tx(c, name, err);
    return store_end(c->st, rc, err);
}

/* ---- ListThingTypes ----------------------------------------------------------- */

struct list_ctx {
    const struct fl_core *c;
    json_t *types;
    int limit;
    int n;
    int more;
};

static enum fl_code list_cb(void *ctx, const struct store_thing_type *t)
{
    struct list_ctx *l = ctx;
    if (l->n == l->limit) {
        l->more = 1;
        return FL_OK;
    }
    char arn[320];
    type_arn(l->c, arn, sizeof(arn), t->name);
    json_t *item = json_object();
    json_object_set_new(item, "thingTypeName", json_string(t->name));
    json_object_set_new(item, "thingTypeArn", json_string(arn));
    type_json(t, item);
    json_array_append_new(l->types, item);
    l->n++;
    return FL_OK;
}

enum fl_code thing_types_list(struct fl_core *c, const char *name_filter, int max_results,
                              const char *next_token, json_t **out, struct fl_err *err)
{
    enum fl_code rc;
    if (name_filter && (rc = validate_name("thingTypeName", name_filter, err)))
        return rc;
    if (max_results < 1 || max_results > 250)
        return fl_err_set(err, FL_INVALID_REQUEST, "maxResults must be between 1 and 250");
    char after[PAGE_TOKEN_MAX];
    after[0] = '\0';
    if (next_token && next_token[0] && (rc = page_token_decode(next_token, after, sizeof(after), err)))
        return rc;
    struct list_ctx l = {c, json_array(), max_results, 0, 0};
    int count = 0;
    /* One statement, so no transaction. */
    rc = store_thing_types_page(c->st, name_filter, after, max_results + 1, list_cb, &l, &count, err);
    if (rc) {
        json_decref(l.types);
        return rc;
    }
    json_t *obj = json_object();
    json_object_set_new(obj, "thingTypes", l.types);
    if (l.more) {
        char token[PAGE_TOKEN_MAX];
        json_t *last = json_array_get(l.types, json_array_size(l.types) - 1);
        page_token_encode(json_string_value(json_object_get(last, "thingTypeName")), token);
        json_object_set_new(obj, "nextToken", json_string(token));
    }
    *out = obj;
    return FL_OK;
}
