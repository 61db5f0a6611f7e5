/*
 * things.c - the thing registry (see things.h): validation, the AWS rules
 * (identical re-create, attribute limits, merge, versions, deprecated
 * types) and the response objects. SQL lives in store_things.c; this file
 * must not know HTTP or MQTT.
 *
 * Decisions where AWS is silent or fleetd goes further:
 *  - an attribute with an empty value is never stored: in UpdateThing with
 *    merge it removes the attribute (documented), in CreateThing and in a
 *    replacing UpdateThing it is dropped, so "a": "" equals "no a";
 *  - CreateThing with a thing type or billing group that does not exist is
 *    ResourceNotFoundException (listed in CreateThing's errors); fleetd has
 *    no billing groups yet, so any billingGroupName is not found;
 *  - ListThings with attributeName alone lists things that have that
 *    attribute; with usePrefixAttributeValue (or attributeName alone) pages
 *    are ordered by (attribute value, thing name), otherwise by thing name;
 *  - ListThings with a thingTypeName that does not exist is an empty list.
 */
#include "things.h"

#include <stdlib.h>
#include <string.h>

#include "page.h"
#include "principals.h"
#include "store.h"
#include "store_things.h"
#include "validate.h"

#define ATTRS_FIELD "attributePayload.attributes"

/* ---- helpers --------------------------------------------------------------- */

static void thing_arn(const struct fl_core *c, char *out, size_t n, const char *name)
{
    core_arn(c, out, n, "thing", name);
}

static enum fl_code not_found(struct fl_err *err, const char *name)
{
    return fl_err_set(err, FL_NOT_FOUND, "Thing %s cannot be found.", name);
}

/* Checks an attributes object: names and values per the service model,
 * values strings. *nonempty = number of attributes with a non-empty value. */
static enum fl_code check_attrs(json_t *attrs, int *nonempty, struct fl_err *err)
{
    *nonempty = 0;
    if (attrs == NULL)
        return FL_OK;
    if (!json_is_object(attrs))
        return fl_err_set(err, FL_INVALID_REQUEST, "Invalid type for parameter %s: expected an object",
                          ATTRS_FIELD);
    const char *k;
    json_t *v;
    json_object_foreach (attrs, k, v) {
        enum fl_code rc = validate_attr_name(ATTRS_FIELD ".key", k, err);
        if (rc)
            return rc;
        if (!json_is_string(v))
            return fl_err_set(err, FL_INVALID_REQUEST, "Invalid type for parameter %s.%s: expected a string",
                              ATTRS_FIELD, k);
        if ((rc = validate_attr_value(ATTRS_FIELD ".value", json_string_value(v), err)))
            return rc;
        if (json_string_length(v) > 0)
            (*nonempty)++;
    }
    return FL_OK;
}

static int attr_limit(int64_t type_row)
{
    return type_row ? THINGS_MAX_ATTRS_TYPED : THINGS_MAX_ATTRS_UNTYPED;
}

static enum fl_code too_many_attrs(struct fl_err *err, int64_t type_row)
{
    if (type_row)
        return fl_err_set(err, FL_INVALID_REQUEST, "A thing with a thing type can have at most %d attributes",
                          THINGS_MAX_ATTRS_TYPED);
    return fl_err_set(err, FL_INVALID_REQUEST, "A thing without a thing type can have at most %d attributes",
                      THINGS_MAX_ATTRS_UNTYPED);
}

/* Resolves a type for a new association: it must exist and, unless it is
 * the thing's current type (cur_row), must not be deprecated. */
static enum fl_code resolve_type(struct fl_core *c, const char *type_name, int64_t cur_row, int64_t *row,
                                 struct fl_err *err)
{
    int deprecated = 0;
    enum fl_code rc = store_thing_types_lookup(c->st, type_name, row, &deprecated, err);
    if (rc == FL_NOT_FOUND)
        return fl_err_set(err, FL_NOT_FOUND, "Thing type %s does not exist", type_name);
    if (rc)
        return rc;
    if (deprecated && *row != cur_row)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Thing type %s is deprecated; new things cannot be associated with it", type_name);
    return FL_OK;
}

/* The attributes object as stored (things.attributes): compact, keys sorted,
 * so that it reads back in name order. NULL when out of memory. */
static char *attrs_text(json_t *attrs)
{
    return json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
}

/* Parses a stored attributes object; NULL (err set) if it is not one. */
static json_t *attrs_parse(const char *text, struct fl_err *err)
{
    json_t *o = text ? json_loads(text, 0, NULL) : json_object();
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        fl_err_set(err, FL_INTERNAL, "Stored attributes are not a JSON object");
        return NULL;
    }
    return o;
}

/* A request's attributes without the empty values (those are never stored). */
static json_t *attrs_nonempty(json_t *in)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    if (in)
        json_object_foreach (in, k, v)
            if (json_string_length(v) > 0)
                json_object_set(o, k, v);
    return o;
}

/* Keeps the attribute index in step with a change from cur to next. */
static enum fl_code attrs_reindex(struct fl_core *c, int64_t row_id, const char *thing_name, json_t *cur,
                                  json_t *next, struct fl_err *err)
{
    const char *k;
    json_t *v;
    enum fl_code rc = FL_OK;
    json_object_foreach (cur, k, v) {
        json_t *n = json_object_get(next, k);
        if (n == NULL || !json_equal(n, v))
            if ((rc = store_things_attr_unindex(c->st, thing_name, k, json_string_value(v), err)))
                return rc;
    }
    json_object_foreach (next, k, v) {
        json_t *o = json_object_get(cur, k);
        if (o == NULL || !json_equal(o, v))
            if ((rc = store_things_attr_index(c->st, row_id, thing_name, k, json_string_value(v), err)))
                return rc;
    }
    return rc;
}

/* ---- CreateThing ---------------------------------------------------------- */

static enum fl_code create_tx(struct fl_core *c, const struct things_create_in *in, struct things_ref *out,
                              struct fl_err *err)
{
    struct store_thing t;
    char *cur_text = NULL;
    json_t *want = attrs_nonempty(in->attributes);
    enum fl_code rc = store_things_get(c->st, in->name, &t, &cur_text, err);
    if (rc == FL_OK) {
        /* Exists: succeed only when the configuration is the same. */
        json_t *cur = attrs_parse(cur_text, err);
        free(cur_text);
        if (cur == NULL) {
            json_decref(want);
            return FL_INTERNAL;
        }
        int same = json_equal(cur, want) && strcmp(t.type_name, in->type_name ? in->type_name : "") == 0;
        json_decref(cur);
        json_decref(want);
        snprintf(out->name, sizeof(out->name), "%s", t.name);
        snprintf(out->thing_id, sizeof(out->thing_id), "%s", t.thing_id);
        thing_arn(c, out->arn, sizeof(out->arn), t.name);
        if (same)
            return FL_OK;
        fl_err_set(err, FL_ALREADY_EXISTS, "Thing %s already exists with a different configuration",
                   in->name);
        snprintf(err->resource_id, sizeof(err->resource_id), "%s", t.thing_id);
        snprintf(err->resource_arn, sizeof(err->resource_arn), "%s", out->arn);
        return FL_ALREADY_EXISTS;
    }
    if (rc != FL_NOT_FOUND)
        goto done;

    memset(&t, 0, sizeof(t));
    if (in->type_name && (rc = resolve_type(c, in->type_name, 0, &t.type_row, err)))
        goto done;
    if (in->billing_group) {
        rc = fl_err_set(err, FL_NOT_FOUND, "Billing group %s does not exist", in->billing_group);
        goto done;
    }
    snprintf(t.name, sizeof(t.name), "%s", in->name);
    core_uuid(c, t.thing_id);
    char *text = attrs_text(want);
    if (text == NULL) {
        rc = fl_err_set(err, FL_INTERNAL, "out of memory");
        goto done;
    }
    rc = store_things_insert(c->st, &t, text, core_now_ms(c), err);
    free(text);
    const char *k;
    json_t *v;
    if (rc == FL_OK)
        json_object_foreach (want, k, v)
            if ((rc = store_things_attr_index(c->st, t.row_id, t.name, k, json_string_value(v), err)))
                break;
    if (rc == FL_OK) {
        snprintf(out->name, sizeof(out->name), "%s", t.name);
        snprintf(out->thing_id, sizeof(out->thing_id), "%s", t.thing_id);
        thing_arn(c, out->arn, sizeof(out->arn), t.name);
    }
done:
    json_decref(want);
    return rc;
}

enum fl_code things_create(struct fl_core *c, const struct things_create_in *in, struct things_ref *out,
                           struct fl_err *err)
{
    enum fl_code rc;
    int nattrs;
    if ((rc = validate_name("thingName", in->name, err)))
        return rc;
    if (in->type_name && (rc = validate_name("thingTypeName", in->type_name, err)))
        return rc;
    if (in->billing_group && (rc = validate_name("billingGroupName", in->billing_group, err)))
        return rc;
    if ((rc = check_attrs(in->attributes, &nattrs, err)))
        return rc;
    /* The limit depends only on whether a type is named, so it is checked
     * before touching the store. */
    if (nattrs > (in->type_name ? THINGS_MAX_ATTRS_TYPED : THINGS_MAX_ATTRS_UNTYPED))
        return too_many_attrs(err, in->type_name != NULL);
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = create_tx(c, in, out, err);
    return store_end(c->st, rc, err);
}

/* ---- DescribeThing --------------------------------------------------------- */

/* {thingName, thingTypeName?, thingArn, attributes, version}: the shared
 * part of DescribeThing and a ListThings item. */
static enum fl_code thing_json(struct fl_core *c, const struct store_thing *t, json_t *obj,
                               struct fl_err *err)
{
    char arn[320];
    json_t *attrs = attrs_parse(t->attrs_json, err);
    if (attrs == NULL)
        return FL_INTERNAL;
    thing_arn(c, arn, sizeof(arn), t->name);
    json_object_set_new(obj, "thingName", json_string(t->name));
    if (t->type_name[0])
        json_object_set_new(obj, "thingTypeName", json_string(t->type_name));
    json_object_set_new(obj, "thingArn", json_string(arn));
    json_object_set_new(obj, "attributes", attrs);
    json_object_set_new(obj, "version", json_integer(t->version));
    return FL_OK;
}

enum fl_code things_describe(struct fl_core *c, const char *name, json_t **out, struct fl_err *err)
{
    enum fl_code rc = validate_name("thingName", name, err);
    if (rc)
        return rc;
    /* One statement (thing, type name and attributes): the hot path the
     * benchmark measures, and a consistent snapshot without BEGIN/COMMIT. */
    struct store_thing t;
    char *text = NULL;
    rc = store_things_get(c->st, name, &t, &text, err);
    if (rc)
        return rc == FL_NOT_FOUND ? not_found(err, name) : rc;
    json_t *attrs = attrs_parse(text, err);
    free(text);
    if (attrs == NULL)
        return FL_INTERNAL;
    char arn[320];
    thing_arn(c, arn, sizeof(arn), t.name);
    json_t *obj = json_object();
    json_object_set_new(obj, "defaultClientId", json_string(t.name));
    json_object_set_new(obj, "thingName", json_string(t.name));
    json_object_set_new(obj, "thingId", json_string(t.thing_id));
    json_object_set_new(obj, "thingArn", json_string(arn));
    if (t.type_name[0])
        json_object_set_new(obj, "thingTypeName", json_string(t.type_name));
    json_object_set_new(obj, "attributes", attrs);
    json_object_set_new(obj, "version", json_integer(t.version));
    *out = obj;
    return FL_OK;
}

/* ---- UpdateThing ------------------------------------------------------------ */

static enum fl_code update_attrs(struct fl_core *c, const struct things_update_in *in,
                                 const struct store_thing *t, json_t *cur, int64_t type_row,
                                 struct fl_err *err)
{
    json_t *next = in->merge ? json_deep_copy(cur) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach (in->attributes, k, v) {
        if (json_string_length(v) > 0)
            json_object_set(next, k, v);
        else
            json_object_del(next, k);
    }
    /* The limit applies to the result (a merge adds to what is stored, and
     * removing the type lowers the limit). */
    enum fl_code rc = FL_OK;
    char *text = NULL;
    if ((int)json_object_size(next) > attr_limit(type_row))
        rc = too_many_attrs(err, type_row);
    else if ((text = attrs_text(next)) == NULL)
        rc = fl_err_set(err, FL_INTERNAL, "out of memory");
    else if ((rc = store_things_attrs_set(c->st, t->row_id, text, err)) == FL_OK)
        rc = attrs_reindex(c, t->row_id, t->name, cur, next, err);
    free(text);
    json_decref(next);
    return rc;
}

static enum fl_code update_tx(struct fl_core *c, const struct things_update_in *in, struct fl_err *err)
{
    struct store_thing t;
    char *text = NULL;
    enum fl_code rc = store_things_get(c->st, in->name, &t, &text, err);
    if (rc == FL_NOT_FOUND)
        return not_found(err, in->name);
    if (rc)
        return rc;
    json_t *cur = attrs_parse(text, err);
    free(text);
    if (cur == NULL)
        return FL_INTERNAL;
    int64_t type_row = t.type_row;
    if (in->has_expected_version && in->expected_version != t.version)
        rc = fl_err_set(err, FL_VERSION_CONFLICT,
                        "The version for thing %s does not match the expected version (%lld, expected %lld)",
                        in->name, (long long)t.version, (long long)in->expected_version);
    else if (in->remove_type)
        type_row = 0;
    else if (in->type_name)
        rc = resolve_type(c, in->type_name, t.type_row, &type_row, err);
    if (rc == FL_OK && in->attributes)
        rc = update_attrs(c, in, &t, cur, type_row, err);
    else if (rc == FL_OK && (int)json_object_size(cur) > attr_limit(type_row))
        rc = too_many_attrs(err, type_row);
    json_decref(cur);
    if (rc == FL_OK)
        rc = store_things_touch(c->st, t.row_id, type_row, core_now_ms(c), err);
    /* policy variables read the thing's attributes and type */
    if (rc == FL_OK && (in->attributes || type_row != t.type_row))
        rc = principals_notify_authz_tx(c, t.row_id, err);
    return rc;
}

enum fl_code things_update(struct fl_core *c, const struct things_update_in *in, struct fl_err *err)
{
    enum fl_code rc;
    int nattrs;
    if ((rc = validate_name("thingName", in->name, err)))
        return rc;
    if (in->type_name && (rc = validate_name("thingTypeName", in->type_name, err)))
        return rc;
    if (in->type_name && in->remove_type)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Cannot specify both thingTypeName and removeThingType in the same request");
    if ((rc = check_attrs(in->attributes, &nattrs, err)))
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = update_tx(c, in, err);
    return store_end(c->st, rc, err);
}

/* ---- DeleteThing ------------------------------------------------------------ */

/* AWS refuses to delete a thing that still has principals attached: the
 * certificate would otherwise keep authenticating as a thing that is gone. */
static enum fl_code delete_unattached(struct fl_core *c, const struct store_thing *t, struct fl_err *err)
{
    int n = 0;
    enum fl_code rc = store_things_principal_count(c->st, t->row_id, &n, err);
    if (rc)
        return rc;
    if (n > 0)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Cannot delete thing %s: it has %d principal(s) attached; detach them first",
                          t->name, n);
    return store_things_delete(c->st, t->row_id, err);
}

enum fl_code things_delete(struct fl_core *c, const char *name, int has_expected_version,
                           int64_t expected_version, struct fl_err *err)
{
    enum fl_code rc = validate_name("thingName", name, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    struct store_thing t;
    rc = store_things_get(c->st, name, &t, NULL, err);
    if (rc == FL_NOT_FOUND) {
        rc = FL_OK; /* DeleteThing is idempotent */
    } else if (rc == FL_OK) {
        if (has_expected_version && expected_version != t.version)
            rc = fl_err_set(
                err, FL_VERSION_CONFLICT,
                "The version for thing %s does not match the expected version (%lld, expected %lld)", name,
                (long long)t.version, (long long)expected_version);
        else
            rc = delete_unattached(c, &t, err);
    }
    return store_end(c->st, rc, err);
}

/* ---- ListThings ------------------------------------------------------------- */

/* Room for a resume key inside a token (page.c's framing: 4 bytes, base64). */
#define KEY_CAP ((PAGE_TOKEN_MAX - 1) / 4 * 3 - 4)
/* A (value, name) key too long for a token is sent as KEY_BY_NAME + name;
 * the value is looked up again on resume. Neither names nor values can
 * hold this byte or '\n'. */
#define KEY_BY_NAME '\x01'

struct list_ctx {
    struct fl_core *c;
    json_t *things;
    int limit;
    int n;
    int more; /* a row beyond limit exists */
    char last_name[129];
    char last_value[801]; /* attribute-ordered pages only */
    struct fl_err *err;
};

static enum fl_code list_cb(void *ctx, const struct store_thing *t)
{
    struct list_ctx *l = ctx;
    if (l->n == l->limit) {
        l->more = 1;
        return FL_OK;
    }
    json_t *item = json_object();
    json_array_append_new(l->things, item);
    enum fl_code rc = thing_json(l->c, t, item, l->err);
    l->n++;
    snprintf(l->last_name, sizeof(l->last_name), "%s", t->name);
    if (t->attr_value)
        snprintf(l->last_value, sizeof(l->last_value), "%s", t->attr_value);
    return rc;
}

static enum fl_code list_tx(struct fl_core *c, const struct things_filter *f, char *after, struct list_ctx *l,
                            struct fl_err *err)
{
    int64_t type_row = 0;
    int count = 0;
    enum fl_code rc;
    if (f->type_name) {
        rc = store_thing_types_lookup(c->st, f->type_name, &type_row, NULL, err);
        if (rc == FL_NOT_FOUND)
            return FL_OK;
        if (rc)
            return rc;
    }
    if (f->attr_name && f->attr_value && !f->use_prefix)
        return store_things_page_attr_eq(c->st, f->attr_name, f->attr_value, type_row, after, l->limit + 1,
                                         list_cb, l, &count, err);
    if (!f->attr_name)
        return store_things_page(c->st, type_row, after, l->limit + 1, list_cb, l, &count, err);

    /* Attribute values use only bytes below 0x7f, so every value that
     * starts with p sorts before p + "\x7f". */
    const char *p = f->attr_value ? f->attr_value : "";
    char hi[812], value[801];
    snprintf(hi, sizeof(hi), "%s\x7f", p);
    const char *after_value = p, *after_name = "";
    if (after[0] == KEY_BY_NAME) {
        after_name = after + 1;
        rc = store_things_attr_get(c->st, after_name, f->attr_name, value, sizeof(value), err);
        if (rc == FL_NOT_FOUND)
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "The pagination token is no longer valid: thing %s changed", after_name);
        if (rc)
            return rc;
        after_value = value;
    } else if (after[0]) {
        char *nl = strchr(after, '\n');
        if (nl == NULL)
            return fl_err_set(err, FL_INVALID_REQUEST, "The pagination token is invalid");
        *nl = '\0';
        after_value = after;
        after_name = nl + 1;
    }
    return store_things_page_attr_range(c->st, f->attr_name, hi, type_row, after_value, after_name,
                                        l->limit + 1, list_cb, l, &count, err);
}

enum fl_code things_list(struct fl_core *c, const struct things_filter *f, int max_results,
                         const char *next_token, json_t **out, struct fl_err *err)
{
    enum fl_code rc;
    if (f->attr_value && !f->attr_name)
        return fl_err_set(err, FL_INVALID_REQUEST, "attributeValue requires attributeName");
    if (f->attr_name && (rc = validate_attr_name("attributeName", f->attr_name, err)))
        return rc;
    if (f->attr_value && (rc = validate_attr_value("attributeValue", f->attr_value, err)))
        return rc;
    if (f->type_name && (rc = validate_name("thingTypeName", f->type_name, err)))
        return rc;
    if (max_results < 1 || max_results > 250)
        return fl_err_set(err, FL_INVALID_REQUEST, "maxResults must be between 1 and 250");

    char after[PAGE_TOKEN_MAX];
    after[0] = '\0';
    if (next_token && next_token[0] && (rc = page_token_decode(next_token, after, sizeof(after), err)))
        return rc;

    struct list_ctx l;
    memset(&l, 0, sizeof(l));
    l.c = c;
    l.things = json_array();
    l.limit = max_results;
    l.err = err;
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        rc = list_tx(c, f, after, &l, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc) {
        json_decref(l.things);
        return rc;
    }
    json_t *obj = json_object();
    json_object_set_new(obj, "things", l.things);
    if (l.more) {
        char key[sizeof(l.last_value) + sizeof(l.last_name) + 1], token[PAGE_TOKEN_MAX];
        int by_value = f->attr_name && (f->use_prefix || !f->attr_value);
        if (!by_value)
            snprintf(key, sizeof(key), "%s", l.last_name);
        else if (strlen(l.last_value) + 1 + strlen(l.last_name) <= KEY_CAP)
            snprintf(key, sizeof(key), "%s\n%s", l.last_value, l.last_name);
        else
            snprintf(key, sizeof(key), "%c%s", KEY_BY_NAME, l.last_name);
        page_token_encode(key, token);
        json_object_set_new(obj, "nextToken", json_string(token));
    }
    *out = obj;
    return FL_OK;
}

/* ---- for other modules ------------------------------------------------------ */

enum fl_code things_id_by_name_tx(struct fl_core *c, const char *name, int64_t *row_id, struct fl_err *err)
{
    enum fl_code rc = store_things_id(c->st, name, row_id, err);
    if (rc == FL_NOT_FOUND)
        return not_found(err, name);
    return rc;
}
