/*
 * provisioning.c - provisioning templates and versions, the application of
 * a template (RegisterThing over REST, the MQTT RegisterThing), claims and
 * ownership tokens (see provisioning.h).
 *
 * A template is applied inside ONE write transaction that this module
 * opens; the registry operations it composes (things_create,
 * principals_attach, policies_attach, certificates_*) each open a nested
 * savepoint (store_begin nests), so the first failure rolls everything
 * back: no thing, attachment or certificate change is left behind.
 * Knows nothing of HTTP, MQTT or template syntax (template_engine.c).
 */
#include "provisioning.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "certificates.h"
#include "jitp.h"
#include "jx.h"
#include "page.h"
#include "policies.h"
#include "prehook.h"
#include "principals.h"
#include "store.h"
#include "store_keys.h"
#include "store_provisioning.h"
#include "tags.h"
#include "template_engine.h"
#include "thing_groups.h"
#include "things.h"
#include "validate.h"

#define TOKEN_SECRET_SETTING "provisioning_token_secret"

/* ---- input checks ------------------------------------------------------------ */

static enum fl_code check_name(const char *name, struct fl_err *err)
{
    if (name == NULL || *name == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST, "templateName is required");
    size_t n = strlen(name);
    if (n > 36)
        return fl_err_set(
            err, FL_INVALID_REQUEST,
            "1 validation error detected: Value at 'templateName' failed to satisfy constraint: "
            "Member must have length less than or equal to 36");
    for (const char *p = name; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              *p == '-'))
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "1 validation error detected: Value '%s' at 'templateName' failed to satisfy "
                              "constraint: Member must satisfy regular expression pattern: ^[0-9A-Za-z_-]+$",
                              name);
    return FL_OK;
}

static enum fl_code check_role(const char *arn, struct fl_err *err)
{
    size_t n = strlen(arn);
    if (n < 20 || n > 2048)
        return fl_err_set(err, FL_INVALID_REQUEST, "provisioningRoleArn: must be 20 to 2048 characters long");
    return FL_OK;
}

static enum fl_code check_hook(json_t *hook, const char **target, const char **version, struct fl_err *err)
{
    *target = *version = NULL;
    if (hook == NULL || json_is_null(hook))
        return FL_OK;
    if (!json_is_object(hook))
        return fl_err_set(err, FL_INVALID_REQUEST, "preProvisioningHook: must be an object");
    enum fl_code rc = jx_str(hook, "targetArn", JX_REQUIRED, target, err);
    if (rc == FL_OK)
        rc = jx_str(hook, "payloadVersion", JX_OPTIONAL, version, err);
    if (rc)
        return rc;
    if (strlen(*target) > 2048 || **target == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "preProvisioningHook.targetArn: must be 1 to 2048 characters");
    if (*version) {
        size_t n = strlen(*version);
        int ok = n >= 10 && n <= 32;
        for (const char *p = *version; ok && *p; p++)
            ok = (*p >= '0' && *p <= '9') || *p == '-';
        if (!ok)
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "preProvisioningHook.payloadVersion: must be 10 to 32 of [0-9-]");
    }
    /* fleetd's hook is an http(s) URL, not a Lambda ARN (prehook.h) */
    return prehook_validate(hook, err);
}

static enum fl_code parse_version(const char *text, int64_t *out, struct fl_err *err)
{
    char *end = NULL;
    long long v = text && *text ? strtoll(text, &end, 10) : -1;
    if (v <= 0 || (end && *end) || v > INT32_MAX)
        return fl_err_set(err, FL_INVALID_REQUEST, "versionId: must be a positive integer");
    *out = v;
    return FL_OK;
}

static enum fl_code tpl_not_found(struct fl_err *err, const char *name)
{
    return fl_err_set(err, FL_NOT_FOUND, "The provisioning template %s does not exist", name);
}

static enum fl_code get_tpl(struct fl_core *c, const char *name, struct store_tpl *row, struct fl_err *err)
{
    enum fl_code rc = check_name(name, err);
    if (rc == FL_OK)
        rc = store_prov_tpl_get(c->st, name, row, err);
    if (rc == FL_NOT_FOUND)
        return tpl_not_found(err, name);
    return rc;
}

static void tpl_arn(const struct fl_core *c, const char *name, char out[320])
{
    core_arn(c, out, 320, "provisioningtemplate", name);
}

/* ---- templates ----------------------------------------------------------------- */

enum fl_code provisioning_create(struct fl_core *c, const struct provisioning_create_in *in, json_t **out,
                                 struct fl_err *err)
{
    enum fl_code rc = check_name(in->name, err);
    if (rc)
        return rc;
    if (in->description && (rc = validate_text("description", in->description, 0, 500, 0, err)))
        return rc;
    if (in->role_arn == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "provisioningRoleArn is required");
    if ((rc = check_role(in->role_arn, err)))
        return rc;
    const char *type = in->type ? in->type : PROVISIONING_FLEET;
    if (strcmp(type, PROVISIONING_FLEET) && strcmp(type, PROVISIONING_JITP))
        return fl_err_set(
            err, FL_INVALID_REQUEST,
            "1 validation error detected: Value '%.40s' at 'type' failed to satisfy constraint: "
            "Member must satisfy enum value set: [FLEET_PROVISIONING, JITP]",
            type);
    const char *hook_target, *hook_version;
    if ((rc = check_hook(in->hook, &hook_target, &hook_version, err)))
        return rc;
    if (hook_target && strcmp(type, PROVISIONING_JITP) == 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "preProvisioningHook: JITP templates cannot have a hook");
    if ((rc = tpl_parse(in->body, NULL, err)))
        return rc;
    struct store_tpl *row = calloc(1, sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    snprintf(row->name, sizeof row->name, "%s", in->name);
    snprintf(row->description, sizeof row->description, "%s", in->description ? in->description : "");
    row->enabled = in->enabled;
    snprintf(row->role_arn, sizeof row->role_arn, "%s", in->role_arn);
    snprintf(row->hook_target, sizeof row->hook_target, "%s", hook_target ? hook_target : "");
    snprintf(row->hook_version, sizeof row->hook_version, "%s", hook_version ? hook_version : "");
    snprintf(row->type, sizeof row->type, "%s", type);
    row->default_version = 1;
    row->next_version = 2;
    row->created_at = row->updated_at = core_now_ms(c);
    char arn[320];
    tpl_arn(c, in->name, arn);
    if ((rc = store_begin(c->st, err))) {
        free(row);
        return rc;
    }
    rc = store_prov_tpl_insert(c->st, row, err);
    if (rc == FL_ALREADY_EXISTS) {
        rc = fl_err_set(err, FL_ALREADY_EXISTS, "The provisioning template %s already exists", in->name);
        snprintf(err->resource_id, sizeof err->resource_id, "%s", in->name);
        snprintf(err->resource_arn, sizeof err->resource_arn, "%s", arn);
    }
    if (rc == FL_OK)
        rc = store_prov_ver_insert(c->st, row->id, 1, in->body, row->created_at, err);
    if (rc == FL_OK && in->tags)
        rc = tags_put_tx(c, arn, in->tags, err);
    rc = store_end(c->st, rc, err);
    free(row);
    if (rc)
        return rc;
    *out = json_object();
    json_object_set_new(*out, "templateArn", json_string(arn));
    json_object_set_new(*out, "templateName", json_string(in->name));
    json_object_set_new(*out, "defaultVersionId", json_integer(1));
    return FL_OK;
}

static json_t *hook_json(const struct store_tpl *row)
{
    if (row->hook_target[0] == '\0')
        return NULL;
    json_t *h = json_object();
    json_object_set_new(h, "targetArn", json_string(row->hook_target));
    if (row->hook_version[0])
        json_object_set_new(h, "payloadVersion", json_string(row->hook_version));
    return h;
}

static json_t *summary_json(const struct fl_core *c, const struct store_tpl *row)
{
    char arn[320];
    tpl_arn(c, row->name, arn);
    json_t *o = json_object();
    json_object_set_new(o, "templateArn", json_string(arn));
    json_object_set_new(o, "templateName", json_string(row->name));
    json_object_set_new(o, "description", json_string(row->description));
    json_object_set_new(o, "creationDate", jx_time(row->created_at));
    json_object_set_new(o, "lastModifiedDate", jx_time(row->updated_at));
    json_object_set_new(o, "enabled", json_boolean(row->enabled));
    json_object_set_new(o, "type", json_string(row->type));
    return o;
}

enum fl_code provisioning_describe(struct fl_core *c, const char *name, json_t **out, struct fl_err *err)
{
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    char *body = NULL;
    enum fl_code rc = store_begin_read(c->st, err);
    if (rc == FL_OK) {
        rc = get_tpl(c, name, row, err);
        if (rc == FL_OK)
            rc = store_prov_ver_get(c->st, row->id, row->default_version, &body, NULL, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc == FL_OK) {
        json_t *o = summary_json(c, row);
        json_object_set_new(o, "defaultVersionId", json_integer(row->default_version));
        json_object_set_new(o, "templateBody", json_string(body));
        json_object_set_new(o, "provisioningRoleArn", json_string(row->role_arn));
        json_t *h = hook_json(row);
        if (h)
            json_object_set_new(o, "preProvisioningHook", h);
        *out = o;
    }
    free(body);
    free(row);
    return rc;
}

enum fl_code provisioning_update(struct fl_core *c, const struct provisioning_update_in *in,
                                 struct fl_err *err)
{
    enum fl_code rc = check_name(in->name, err);
    if (rc)
        return rc;
    if (in->description && (rc = validate_text("description", in->description, 0, 500, 0, err)))
        return rc;
    if (in->role_arn && (rc = check_role(in->role_arn, err)))
        return rc;
    const char *hook_target = NULL, *hook_version = NULL;
    if ((rc = check_hook(in->hook, &hook_target, &hook_version, err)))
        return rc;
    if (hook_target && in->remove_hook)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "preProvisioningHook and removePreProvisioningHook cannot be given together");
    if (in->default_version < 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "defaultVersionId: must be a positive integer");
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    if ((rc = store_begin(c->st, err))) {
        free(row);
        return rc;
    }
    rc = get_tpl(c, in->name, row, err);
    if (rc == FL_OK && in->default_version > 0) {
        rc = store_prov_ver_get(c->st, row->id, in->default_version, NULL, NULL, err);
        if (rc == FL_NOT_FOUND)
            rc = fl_err_set(err, FL_NOT_FOUND,
                            "Version %" PRId64 " of provisioning template %s does not exist",
                            in->default_version, in->name);
        row->default_version = in->default_version;
    }
    if (rc == FL_OK && hook_target && strcmp(row->type, PROVISIONING_JITP) == 0)
        rc = fl_err_set(err, FL_INVALID_REQUEST, "preProvisioningHook: JITP templates cannot have a hook");
    if (rc == FL_OK) {
        if (in->description)
            snprintf(row->description, sizeof row->description, "%s", in->description);
        if (in->enabled >= 0)
            row->enabled = in->enabled != 0;
        if (in->role_arn)
            snprintf(row->role_arn, sizeof row->role_arn, "%s", in->role_arn);
        if (hook_target) {
            snprintf(row->hook_target, sizeof row->hook_target, "%s", hook_target);
            snprintf(row->hook_version, sizeof row->hook_version, "%s", hook_version ? hook_version : "");
        }
        if (in->remove_hook)
            row->hook_target[0] = row->hook_version[0] = '\0';
        row->updated_at = core_now_ms(c);
        rc = store_prov_tpl_update(c->st, row, err);
    }
    rc = store_end(c->st, rc, err);
    free(row);
    return rc;
}

enum fl_code provisioning_delete(struct fl_core *c, const char *name, struct fl_err *err)
{
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    enum fl_code rc = store_begin(c->st, err);
    if (rc == FL_OK) {
        rc = get_tpl(c, name, row, err);
        if (rc == FL_OK)
            rc = jitp_template_unused_tx(c, name, err);
        if (rc == FL_OK)
            rc = store_prov_tpl_delete(c->st, row->id, err);
        if (rc == FL_OK) {
            char arn[320];
            tpl_arn(c, name, arn);
            rc = tags_delete_all_tx(c, arn, err);
        }
        rc = store_end(c->st, rc, err);
    }
    free(row);
    return rc;
}

struct list_ctx {
    const struct fl_core *c;
    json_t *items;
    int64_t last;
    int n, limit;
};

static enum fl_code list_one(void *ctx, const struct store_tpl *row)
{
    struct list_ctx *l = ctx;
    if (l->n >= l->limit) {
        l->n++;
        return FL_OK;
    }
    json_array_append_new(l->items, summary_json(l->c, row));
    l->last = row->id;
    l->n++;
    return FL_OK;
}

static enum fl_code decode_after(const char *token, int64_t *after, struct fl_err *err)
{
    *after = 0;
    if (token == NULL || *token == '\0')
        return FL_OK;
    char key[32];
    enum fl_code rc = page_token_decode(token, key, sizeof key, err);
    if (rc)
        return rc;
    char *end;
    long long v = strtoll(key, &end, 10);
    if (*end || v < 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "nextToken: invalid");
    *after = v;
    return FL_OK;
}

static void set_next(json_t *out, int64_t last)
{
    char key[32], tok[PAGE_TOKEN_MAX];
    snprintf(key, sizeof key, "%" PRId64, last);
    page_token_encode(key, tok);
    json_object_set_new(out, "nextToken", json_string(tok));
}

static int page_size(int max_results)
{
    return max_results < 1 || max_results > 250 ? PROVISIONING_PAGE_DEFAULT : max_results;
}

enum fl_code provisioning_list(struct fl_core *c, int max_results, const char *next_token, json_t **out,
                               struct fl_err *err)
{
    int64_t after;
    enum fl_code rc = decode_after(next_token, &after, err);
    if (rc)
        return rc;
    int limit = page_size(max_results);
    struct list_ctx l = {c, json_array(), 0, 0, limit};
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        rc = store_prov_tpl_page(c->st, after, limit + 1, list_one, &l, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc) {
        json_decref(l.items);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "templates", l.items);
    if (l.n > limit)
        set_next(*out, l.last);
    return FL_OK;
}

/* ---- versions ------------------------------------------------------------------- */

enum fl_code provisioning_create_version(struct fl_core *c, const char *name, const char *body,
                                         int set_default, json_t **out, struct fl_err *err)
{
    enum fl_code rc = check_name(name, err);
    if (rc == FL_OK)
        rc = tpl_parse(body, NULL, err);
    if (rc)
        return rc;
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    int64_t version = 0;
    if ((rc = store_begin(c->st, err)) == FL_OK) {
        rc = get_tpl(c, name, row, err);
        int n = 0;
        if (rc == FL_OK)
            rc = store_prov_ver_count(c->st, row->id, &n, err);
        if (rc == FL_OK && n >= PROVISIONING_MAX_VERSIONS)
            rc = fl_err_set(err, FL_VERSIONS_LIMIT_EXCEEDED,
                            "The provisioning template %s already has %d versions: delete one first", name,
                            PROVISIONING_MAX_VERSIONS);
        if (rc == FL_OK) {
            version = row->next_version++;
            row->updated_at = core_now_ms(c);
            if (set_default)
                row->default_version = version;
            rc = store_prov_ver_insert(c->st, row->id, version, body, row->updated_at, err);
        }
        if (rc == FL_OK)
            rc = store_prov_tpl_update(c->st, row, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc == FL_OK) {
        char arn[320];
        tpl_arn(c, name, arn);
        *out = json_object();
        json_object_set_new(*out, "templateArn", json_string(arn));
        json_object_set_new(*out, "templateName", json_string(name));
        json_object_set_new(*out, "versionId", json_integer(version));
        json_object_set_new(*out, "isDefaultVersion", json_boolean(row->default_version == version));
    }
    free(row);
    return rc;
}

static enum fl_code version_not_found(struct fl_err *err, const char *name, int64_t v)
{
    return fl_err_set(err, FL_NOT_FOUND, "Version %" PRId64 " of provisioning template %s does not exist", v,
                      name);
}

enum fl_code provisioning_describe_version(struct fl_core *c, const char *name, const char *version_id,
                                           json_t **out, struct fl_err *err)
{
    int64_t v;
    enum fl_code rc = parse_version(version_id, &v, err);
    if (rc)
        return rc;
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    char *body = NULL;
    int64_t created = 0;
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        rc = get_tpl(c, name, row, err);
        if (rc == FL_OK) {
            rc = store_prov_ver_get(c->st, row->id, v, &body, &created, err);
            if (rc == FL_NOT_FOUND)
                rc = version_not_found(err, name, v);
        }
        rc = store_end(c->st, rc, err);
    }
    if (rc == FL_OK) {
        *out = json_object();
        json_object_set_new(*out, "versionId", json_integer(v));
        json_object_set_new(*out, "creationDate", jx_time(created));
        json_object_set_new(*out, "templateBody", json_string(body));
        json_object_set_new(*out, "isDefaultVersion", json_boolean(row->default_version == v));
    }
    free(body);
    free(row);
    return rc;
}

struct ver_ctx {
    json_t *items;
    int64_t def, last;
    int n, limit;
};

static enum fl_code ver_one(void *ctx, int64_t version, int64_t created_at)
{
    struct ver_ctx *l = ctx;
    if (++l->n > l->limit)
        return FL_OK;
    json_t *o = json_object();
    json_object_set_new(o, "versionId", json_integer(version));
    json_object_set_new(o, "creationDate", jx_time(created_at));
    json_object_set_new(o, "isDefaultVersion", json_boolean(version == l->def));
    json_array_append_new(l->items, o);
    l->last = version;
    return FL_OK;
}

enum fl_code provisioning_list_versions(struct fl_core *c, const char *name, int max_results,
                                        const char *next_token, json_t **out, struct fl_err *err)
{
    int64_t after;
    enum fl_code rc = decode_after(next_token, &after, err);
    if (rc)
        return rc;
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    struct ver_ctx l = {json_array(), 0, 0, 0, page_size(max_results)};
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        rc = get_tpl(c, name, row, err);
        l.def = row->default_version;
        if (rc == FL_OK)
            rc = store_prov_ver_page(c->st, row->id, after, l.limit + 1, ver_one, &l, err);
        rc = store_end(c->st, rc, err);
    }
    free(row);
    if (rc) {
        json_decref(l.items);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "versions", l.items);
    if (l.n > l.limit)
        set_next(*out, l.last);
    return FL_OK;
}

enum fl_code provisioning_delete_version(struct fl_core *c, const char *name, const char *version_id,
                                         struct fl_err *err)
{
    int64_t v;
    enum fl_code rc = parse_version(version_id, &v, err);
    if (rc)
        return rc;
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    if ((rc = store_begin(c->st, err)) == FL_OK) {
        rc = get_tpl(c, name, row, err);
        if (rc == FL_OK) {
            rc = store_prov_ver_get(c->st, row->id, v, NULL, NULL, err);
            if (rc == FL_NOT_FOUND)
                rc = version_not_found(err, name, v);
        }
        if (rc == FL_OK && v == row->default_version)
            rc =
                fl_err_set(err, FL_DELETE_CONFLICT,
                           "Version %" PRId64 " is the default version of provisioning template %s", v, name);
        if (rc == FL_OK)
            rc = store_prov_ver_delete(c->st, row->id, v, err);
        rc = store_end(c->st, rc, err);
    }
    free(row);
    return rc;
}

/* ---- applying a template ------------------------------------------------------------ */

/* What an application made or touched, for the answers. */
struct applied {
    char thing_name[129];
    char thing_arn[320];
    char cert_id[65];
    char cert_arn[320];
    char policy_name[129];
    char policy_arn[320];
    char *cert_pem; /* malloc'd, or NULL */
};

static enum fl_code conflict(struct fl_err *err, const char *thing, const char *what)
{
    return fl_err_set(err, FL_CONFLICT,
                      "The thing %s already exists with a different %s and OverrideSettings says FAIL", thing,
                      what);
}

static int same_json_strings(json_t *a, json_t *b)
{
    return json_equal(a ? a : json_null(), b ? b : json_null());
}

/* The names of the groups the thing is directly or indirectly in. */
static enum fl_code current_groups(struct fl_core *c, const char *thing, json_t **names, struct fl_err *err)
{
    json_t *o = NULL;
    enum fl_code rc = thing_groups_list_for_thing(c, thing, 250, NULL, &o, err);
    if (rc)
        return rc;
    *names = json_array();
    size_t i;
    json_t *g;
    json_array_foreach (json_object_get(o, "thingGroups"), i, g)
        json_array_append(*names, json_object_get(g, "groupName"));
    json_decref(o);
    return FL_OK;
}

static int in_array(json_t *arr, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach (arr, i, e)
        if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
            return 1;
    return 0;
}

static enum fl_code apply_thing(struct fl_core *c, const struct tpl_plan *pl, struct applied *ap,
                                struct fl_err *err)
{
    int64_t row = 0;
    enum fl_code rc = things_id_by_name_tx(c, pl->thing_name, &row, err);
    snprintf(ap->thing_name, sizeof ap->thing_name, "%s", pl->thing_name);
    core_arn(c, ap->thing_arn, sizeof ap->thing_arn, "thing", pl->thing_name);
    if (rc == FL_NOT_FOUND) {
        struct things_create_in in = {
            .name = pl->thing_name, .type_name = pl->thing_type, .attributes = pl->attributes};
        struct things_ref ref;
        rc = things_create(c, &in, &ref, err);
        if (rc == FL_OK && pl->groups && json_array_size(pl->groups))
            rc = thing_groups_update_for_thing(c, pl->thing_name, pl->groups, NULL, err);
        return rc;
    }
    if (rc)
        return rc;
    /* The thing exists: OverrideSettings decide, property by property. */
    json_t *cur = NULL;
    if ((rc = things_describe(c, pl->thing_name, &cur, err)))
        return rc;
    json_t *cur_attrs = json_object_get(cur, "attributes");
    const char *cur_type = json_string_value(json_object_get(cur, "thingTypeName"));
    struct things_update_in up = {.name = pl->thing_name};
    int change = 0;
    if (pl->attributes) {
        if (pl->ov_attributes == TPL_OV_FAIL && !same_json_strings(cur_attrs, pl->attributes) &&
            !(json_object_size(pl->attributes) == 0 && json_object_size(cur_attrs) == 0))
            rc = conflict(err, pl->thing_name, "AttributePayload");
        else if (pl->ov_attributes == TPL_OV_REPLACE || pl->ov_attributes == TPL_OV_MERGE) {
            up.attributes = pl->attributes;
            up.merge = pl->ov_attributes == TPL_OV_MERGE;
            change = 1;
        }
    }
    if (rc == FL_OK && pl->thing_type) {
        int differs = cur_type == NULL || strcmp(cur_type, pl->thing_type) != 0;
        if (differs && pl->ov_type == TPL_OV_FAIL)
            rc = conflict(err, pl->thing_name, "ThingTypeName");
        else if (differs && pl->ov_type == TPL_OV_REPLACE) {
            up.type_name = pl->thing_type;
            change = 1;
        }
    }
    if (rc == FL_OK && change)
        rc = things_update(c, &up, err);
    json_decref(cur);
    if (rc || pl->groups == NULL || pl->ov_groups == TPL_OV_DO_NOTHING)
        return rc;
    json_t *now = NULL;
    if ((rc = current_groups(c, pl->thing_name, &now, err)))
        return rc;
    json_t *to_add = json_array(), *to_remove = json_array();
    size_t i;
    json_t *g;
    json_array_foreach (pl->groups, i, g)
        if (!in_array(now, json_string_value(g)))
            json_array_append(to_add, g);
    if (pl->ov_groups == TPL_OV_REPLACE)
        json_array_foreach (now, i, g)
            if (!in_array(pl->groups, json_string_value(g)))
                json_array_append(to_remove, g);
    if (pl->ov_groups == TPL_OV_FAIL &&
        (json_array_size(to_add) || json_array_size(now) != json_array_size(pl->groups)))
        rc = conflict(err, pl->thing_name, "ThingGroups");
    else if (pl->ov_groups != TPL_OV_FAIL && (json_array_size(to_add) || json_array_size(to_remove)))
        rc = thing_groups_update_for_thing(c, pl->thing_name, to_add, to_remove, err);
    json_decref(to_add);
    json_decref(to_remove);
    json_decref(now);
    return rc;
}

static enum fl_code apply_cert(struct fl_core *c, const struct tpl_plan *pl, struct applied *ap,
                               struct fl_err *err)
{
    enum fl_code rc = FL_OK;
    if (pl->cert_csr) {
        json_t *o = NULL;
        int active = pl->cert_status == NULL || strcmp(pl->cert_status, "ACTIVE") == 0;
        rc = certificates_create_from_csr(c, pl->cert_csr, active, &o, err);
        if (rc)
            return rc;
        snprintf(ap->cert_id, sizeof ap->cert_id, "%s",
                 json_string_value(json_object_get(o, "certificateId")));
        ap->cert_pem = strdup(json_string_value(json_object_get(o, "certificatePem")));
        json_decref(o);
    } else if (pl->cert_pem) {
        struct x509_info *info = malloc(sizeof *info);
        if (info == NULL)
            return fl_err_set(err, FL_INTERNAL, "out of memory");
        rc = x509_parse(pl->cert_pem, info, err);
        if (rc == FL_OK)
            snprintf(ap->cert_id, sizeof ap->cert_id, "%s", info->id);
        free(info);
        if (rc)
            return fl_err_set(err, FL_INVALID_REQUEST, "CertificatePem: %s", err->msg);
        if (certificates_exists_tx(c, ap->cert_id, err) == FL_NOT_FOUND) {
            struct certificates_register_in in = {.pem = pl->cert_pem,
                                                  .status = pl->cert_status ? pl->cert_status : "ACTIVE",
                                                  .set_as_active = -1};
            struct certificates_ref ref = {0};
            rc = certificates_register(c, &in, &ref, err);
            if (rc)
                return rc;
        } else if (pl->cert_status && (rc = certificates_update(c, ap->cert_id, pl->cert_status, err))) {
            return rc;
        }
        ap->cert_pem = strdup(pl->cert_pem);
    } else {
        if ((rc = certificates_check_id("CertificateId", pl->cert_id, ap->cert_id, err)))
            return rc;
        if ((rc = certificates_exists_tx(c, ap->cert_id, err)))
            return rc == FL_NOT_FOUND
                       ? fl_err_set(err, FL_NOT_FOUND, "The certificate %s does not exist", ap->cert_id)
                       : rc;
        if (pl->cert_status && (rc = certificates_update(c, ap->cert_id, pl->cert_status, err)))
            return rc;
    }
    core_arn(c, ap->cert_arn, sizeof ap->cert_arn, "cert", ap->cert_id);
    return FL_OK;
}

static enum fl_code apply_policy(struct fl_core *c, const char *tpl_name, const struct tpl_plan *pl,
                                 struct applied *ap, struct fl_err *err)
{
    json_t *o = NULL;
    enum fl_code rc;
    if (pl->policy_doc) {
        /* Inline documents get a content-addressed name: provisioning many
         * devices with one template makes one policy, not one each. */
        char h[65];
        ca_sha256_hex(pl->policy_doc, strlen(pl->policy_doc), h);
        if (pl->policy_name)
            snprintf(ap->policy_name, sizeof ap->policy_name, "%s", pl->policy_name);
        else
            snprintf(ap->policy_name, sizeof ap->policy_name, "%.36s_%.16s", tpl_name, h);
        rc = policies_get(c, ap->policy_name, &o, err);
        if (rc == FL_NOT_FOUND)
            rc = policies_create(c, ap->policy_name, pl->policy_doc, NULL, &o, err);
    } else {
        snprintf(ap->policy_name, sizeof ap->policy_name, "%s", pl->policy_name);
        rc = policies_get(c, ap->policy_name, &o, err);
        if (rc == FL_NOT_FOUND)
            rc = fl_err_set(err, FL_NOT_FOUND, "The policy %s does not exist", ap->policy_name);
    }
    json_decref(o);
    if (rc)
        return rc;
    core_arn(c, ap->policy_arn, sizeof ap->policy_arn, "policy", ap->policy_name);
    if (ap->cert_id[0])
        rc = policies_attach(c, ap->policy_name, ap->cert_arn, err);
    return rc;
}

/* Inside the caller's write transaction. */
static enum fl_code apply_tx(struct fl_core *c, const char *tpl_name, const struct tpl_plan *pl,
                             struct applied *ap, struct fl_err *err)
{
    enum fl_code rc = FL_OK;
    if (pl->has_cert)
        rc = apply_cert(c, pl, ap, err);
    if (rc == FL_OK && pl->has_thing)
        rc = apply_thing(c, pl, ap, err);
    if (rc == FL_OK && pl->has_thing && pl->has_cert)
        rc = principals_attach(c, ap->thing_name, ap->cert_arn, NULL, err);
    if (rc == FL_OK && pl->has_policy)
        rc = apply_policy(c, tpl_name, pl, ap, err);
    return rc;
}

/* Parameters must be an object of strings (numbers are taken as text). */
static enum fl_code check_params(json_t *params, struct fl_err *err)
{
    if (params == NULL || json_is_null(params))
        return FL_OK;
    if (!json_is_object(params))
        return fl_err_set(err, FL_INVALID_REQUEST, "parameters: must be an object");
    const char *k;
    json_t *v;
    json_object_foreach (params, k, v) {
        if (!json_is_string(v) && !json_is_number(v))
            return fl_err_set(err, FL_INVALID_REQUEST, "parameters.%.128s: must be a string", k);
        if (json_is_string(v) && json_string_length(v) > 4096)
            return fl_err_set(err, FL_INVALID_REQUEST, "parameters.%.128s: longer than 4096 characters", k);
    }
    return FL_OK;
}

enum fl_code provisioning_register_thing(struct fl_core *c, const char *body, json_t *params, json_t **out,
                                         struct fl_err *err)
{
    json_t *tb = NULL;
    enum fl_code rc = check_params(params, err);
    if (rc == FL_OK)
        rc = tpl_parse(body, &tb, err);
    if (rc)
        return rc;
    struct tpl_plan pl;
    rc = tpl_evaluate(tb, params, &pl, err);
    struct applied ap;
    memset(&ap, 0, sizeof ap);
    if (rc == FL_OK && (rc = store_begin(c->st, err)) == FL_OK) {
        rc = apply_tx(c, "fleetd", &pl, &ap, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc == FL_OK) {
        json_t *o = json_object(), *arns = json_object();
        if (ap.cert_id[0] && ap.cert_pem == NULL) {
            json_t *d = NULL;
            if (certificates_describe(c, ap.cert_id, &d, err) == FL_OK)
                jx_set_str(o, "certificatePem",
                           json_string_value(json_object_get(json_object_get(d, "certificateDescription"),
                                                             "certificatePem")));
            json_decref(d);
        } else if (ap.cert_pem) {
            json_object_set_new(o, "certificatePem", json_string(ap.cert_pem));
        }
        if (ap.cert_id[0])
            jx_set_str(arns, "certificate", ap.cert_arn);
        if (ap.thing_name[0])
            jx_set_str(arns, "thing", ap.thing_arn);
        if (ap.policy_name[0])
            jx_set_str(arns, "policy", ap.policy_arn);
        json_object_set_new(o, "resourceArns", arns);
        *out = o;
    }
    free(ap.cert_pem);
    tpl_plan_free(&pl);
    json_decref(tb);
    return rc;
}

enum fl_code provisioning_apply_tx(struct fl_core *c, const char *tpl_name, const char *body, json_t *params,
                                   char thing_name[129], struct fl_err *err)
{
    json_t *tb = NULL;
    struct tpl_plan pl;
    memset(&pl, 0, sizeof pl);
    struct applied ap;
    memset(&ap, 0, sizeof ap);
    enum fl_code rc = check_params(params, err);
    if (rc == FL_OK)
        rc = tpl_parse(body, &tb, err);
    if (rc == FL_OK)
        rc = tpl_evaluate(tb, params, &pl, err);
    if (rc == FL_OK)
        rc = apply_tx(c, tpl_name, &pl, &ap, err);
    if (thing_name)
        snprintf(thing_name, 129, "%s", rc == FL_OK ? ap.thing_name : "");
    free(ap.cert_pem);
    tpl_plan_free(&pl);
    json_decref(tb);
    return rc;
}

/* The template must exist, be enabled and be a fleet-provisioning one. */
static enum fl_code fleet_tpl_tx(struct fl_core *c, const char *name, struct store_tpl *row,
                                 struct fl_err *err)
{
    enum fl_code rc = get_tpl(c, name, row, err);
    if (rc == FL_OK && !row->enabled)
        rc = fl_err_set(err, FL_INVALID_REQUEST, "The provisioning template %s is disabled", name);
    if (rc == FL_OK && strcmp(row->type, PROVISIONING_FLEET) != 0)
        rc = fl_err_set(err, FL_INVALID_REQUEST, "The provisioning template %s is not a %s template", name,
                        PROVISIONING_FLEET);
    return rc;
}

/* Applies the default version of template row (checked by fleet_tpl_tx)
 * for certificate cid with parameters, inside the caller's transaction. */
static enum fl_code provision_tx(struct fl_core *c, const char *template_name, const struct store_tpl *row,
                                 json_t *parameters, const char *cid, json_t **out, struct fl_err *err)
{
    json_t *params = parameters && json_is_object(parameters) ? json_deep_copy(parameters) : json_object();
    json_object_set_new(params, PROVISIONING_CERT_ID_PARAM, json_string(cid));
    char *body = NULL;
    json_t *tb = NULL;
    struct tpl_plan pl;
    memset(&pl, 0, sizeof pl);
    struct applied ap;
    memset(&ap, 0, sizeof ap);
    enum fl_code rc = store_prov_ver_get(c->st, row->id, row->default_version, &body, NULL, err);
    if (rc == FL_OK)
        rc = tpl_parse(body, &tb, err);
    if (rc == FL_OK)
        rc = tpl_evaluate(tb, params, &pl, err);
    if (rc == FL_OK)
        rc = apply_tx(c, template_name, &pl, &ap, err);
    if (rc == FL_OK) {
        json_t *o = json_object();
        json_object_set(o, "deviceConfiguration", pl.device_config);
        if (ap.thing_name[0])
            json_object_set_new(o, "thingName", json_string(ap.thing_name));
        *out = o;
    }
    free(ap.cert_pem);
    tpl_plan_free(&pl);
    json_decref(tb);
    free(body);
    json_decref(params);
    return rc;
}

enum fl_code provisioning_provision(struct fl_core *c, const char *template_name, json_t *parameters,
                                    const char *certificate_id, json_t **out, struct fl_err *err)
{
    enum fl_code rc = check_params(parameters, err);
    if (rc)
        return rc;
    char cid[65];
    if ((rc = certificates_check_id("certificateId", certificate_id, cid, err)))
        return rc;
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    if ((rc = store_begin(c->st, err)) == FL_OK) {
        rc = fleet_tpl_tx(c, template_name, row, err);
        if (rc == FL_OK)
            rc = provision_tx(c, template_name, row, parameters, cid, out, err);
        rc = store_end(c->st, rc, err);
    }
    free(row);
    return rc;
}

/* ---- claims --------------------------------------------------------------------- */

char *provisioning_claim_policy(const struct fl_core *c, const char *template_name)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "arn:aws:iot:%s:%s:", c->cfg.region, c->cfg.account_id);
    const char *topics[3] = {"$aws/certificates/create/*", "$aws/certificates/create-from-csr/*", NULL};
    char prov[128];
    snprintf(prov, sizeof prov, "$aws/provisioning-templates/%s/provision/*", template_name);
    topics[2] = prov;
    json_t *pubrecv = json_array(), *sub = json_array();
    for (int i = 0; i < 3; i++) {
        char a[320];
        snprintf(a, sizeof a, "%stopic/%s", prefix, topics[i]);
        json_array_append_new(pubrecv, json_string(a));
        snprintf(a, sizeof a, "%stopicfilter/%s", prefix, topics[i]);
        json_array_append_new(sub, json_string(a));
    }
    json_t *doc = json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:[s,s], s:o}, {s:s, s:s, s:o}]}", "Version",
                            "2012-10-17", "Statement", "Effect", "Allow", "Action", "iot:Connect", "Resource",
                            "*", "Effect", "Allow", "Action", "iot:Publish", "iot:Receive", "Resource",
                            pubrecv, "Effect", "Allow", "Action", "iot:Subscribe", "Resource", sub);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return s;
}

enum fl_code provisioning_create_claim(struct fl_core *c, const char *template_name, json_t **out,
                                       struct fl_err *err)
{
    return provisioning_create_claim_for(c, template_name, PROVISIONING_CLAIM_SECONDS, out, err);
}

struct claim_tx {
    const char *template_name;
    const char *policy_name;
};

/* Inside the transaction that stores the claim certificate: the template
 * still exists, and the claim policy (made on first use) is attached. */
static enum fl_code claim_in_tx(struct fl_core *c, const char *id, void *ctx, struct fl_err *err)
{
    const struct claim_tx *t = ctx;
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    enum fl_code rc = get_tpl(c, t->template_name, row, err);
    free(row);
    json_t *pol = NULL;
    if (rc == FL_OK) {
        rc = policies_get(c, t->policy_name, &pol, err);
        if (rc == FL_NOT_FOUND) {
            char *doc = provisioning_claim_policy(c, t->template_name);
            rc = doc ? policies_create(c, t->policy_name, doc, NULL, &pol, err)
                     : fl_err_set(err, FL_INTERNAL, "out of memory");
            free(doc);
        }
    }
    json_decref(pol);
    if (rc == FL_OK) {
        char cert_arn[320];
        core_arn(c, cert_arn, sizeof cert_arn, "cert", id);
        rc = policies_attach(c, t->policy_name, cert_arn, err);
    }
    return rc;
}

enum fl_code provisioning_create_claim_for(struct fl_core *c, const char *template_name, int64_t valid_s,
                                           json_t **out, struct fl_err *err)
{
    if (valid_s <= 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "the claim validity must be positive");
    /* the template first, so that a typo costs no key generation; the
     * key pair is made before the transaction (an RSA key takes up to half
     * a second, which must not hold the write lock), and the transaction
     * checks the template again */
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    enum fl_code rc = get_tpl(c, template_name, row, err);
    free(row);
    if (rc)
        return rc;
    char pname[64];
    provisioning_claim_policy_name(template_name, pname);
    struct claim_tx t = {.template_name = template_name, .policy_name = pname};
    struct certificates_issue is = {.status = "ACTIVE", .valid_s = valid_s, .in_tx = claim_in_tx, .ctx = &t};
    json_t *o = NULL;
    if ((rc = certificates_create_keys_with(c, &is, &o, err)) != FL_OK)
        return rc;
    json_object_del(o, "certificateArn");
    json_object_set_new(o, "expiration", jx_time(core_now_ms(c) + valid_s * 1000));
    *out = o;
    return FL_OK;
}

void provisioning_claim_policy_name(const char *template_name, char out[PROVISIONING_CLAIM_POLICY_MAX])
{
    snprintf(out, PROVISIONING_CLAIM_POLICY_MAX, "fleetd-claim-%.36s", template_name ? template_name : "");
}

/* ---- ownership tokens --------------------------------------------------------------- */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* The server secret, made on first use when create (inside a write
 * transaction); without create FL_NOT_FOUND when there is none yet. */
static enum fl_code token_secret_tx(struct fl_core *c, int create, unsigned char key[32], struct fl_err *err)
{
    char hex[80];
    enum fl_code rc = store_settings_get(c->st, TOKEN_SECRET_SETTING, hex, sizeof hex, err);
    if (rc == FL_NOT_FOUND && create) {
        unsigned char r[32];
        core_random(c, r, sizeof r);
        core_hex(r, sizeof r, hex);
        explicit_bzero(r, sizeof r);
        rc = store_settings_add(c->st, TOKEN_SECRET_SETTING, hex, err);
        if (rc == FL_OK)
            rc = store_settings_get(c->st, TOKEN_SECRET_SETTING, hex, sizeof hex, err);
    }
    if (rc)
        return rc;
    for (int i = 0; i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
        if (lo < 0)
            return fl_err_set(err, FL_INTERNAL, "the provisioning token secret is corrupt");
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    explicit_bzero(hex, sizeof hex);
    return FL_OK;
}

/* "<certificateId>.<expires ms>.<nonce>" then ".<mac>" */
static enum fl_code token_mac(const unsigned char key[32], const char *msg, size_t n, char mac_hex[65],
                              struct fl_err *err)
{
    unsigned char mac[32];
    if (ca_hmac_sha256(key, 32, msg, n, mac) != 0)
        return fl_err_set(err, FL_INTERNAL, "HMAC failed");
    core_hex(mac, sizeof mac, mac_hex);
    return FL_OK;
}

/* A token for certificate cid (checked), inside a write transaction the
 * caller opened: the secret is made on first use, expired nonces purged. */
static enum fl_code token_issue_tx(struct fl_core *c, const char *cid, int64_t ttl_s,
                                   char out[PROVISIONING_TOKEN_MAX], struct fl_err *err)
{
    unsigned char key[32];
    enum fl_code rc = token_secret_tx(c, 1, key, err);
    if (rc == FL_OK)
        rc = store_prov_token_purge(c->st, core_now_ms(c), err);
    if (rc == FL_OK) {
        unsigned char nonce[16];
        char nonce_hex[33], mac_hex[65];
        core_random(c, nonce, sizeof nonce);
        core_hex(nonce, sizeof nonce, nonce_hex);
        int n = snprintf(out, PROVISIONING_TOKEN_MAX, "%s.%" PRId64 ".%s", cid, core_now_ms(c) + ttl_s * 1000,
                         nonce_hex);
        rc = token_mac(key, out, (size_t)n, mac_hex, err);
        if (rc == FL_OK)
            snprintf(out + n, PROVISIONING_TOKEN_MAX - (size_t)n, ".%s", mac_hex);
    }
    explicit_bzero(key, sizeof key);
    return rc;
}

enum fl_code provisioning_token_issue(struct fl_core *c, const char *certificate_id,
                                      char out[PROVISIONING_TOKEN_MAX], struct fl_err *err)
{
    char cid[65];
    enum fl_code rc = certificates_check_id("certificateId", certificate_id, cid, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = token_issue_tx(c, cid, PROVISIONING_TOKEN_SECONDS, out, err);
    return store_end(c->st, rc, err);
}

static enum fl_code bad_token(struct fl_err *err, const char *why)
{
    return fl_err_set(err, FL_INVALID_REQUEST, "Invalid certificateOwnershipToken: %s", why);
}

/* Form, MAC and expiry of a token, inside a transaction the caller opened
 * (create: a write transaction that may make the secret). FL_OK with the
 * certificate id, the expiry and the nonce. */
static enum fl_code token_verify_tx(struct fl_core *c, const char *token, int create, char cid[65],
                                    int64_t *expires_out, char nonce[33], struct fl_err *err)
{
    if (token == NULL || *token == '\0')
        return bad_token(err, "Certificate ownership token cannot be empty.");
    if (strlen(token) >= PROVISIONING_TOKEN_MAX)
        return bad_token(err, "malformed");
    /* cid(64) '.' expiry '.' nonce(32) '.' mac(64) */
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    const char *d3 = d2 ? strchr(d2 + 1, '.') : NULL;
    if (!d1 || !d2 || !d3 || d1 - token != 64 || d3 - d2 - 1 != 32 || strlen(d3 + 1) != 64 ||
        d2 - d1 - 1 < 1 || d2 - d1 - 1 > 19)
        return bad_token(err, "malformed");
    for (const char *p = d1 + 1; p < d2; p++)
        if (*p < '0' || *p > '9')
            return bad_token(err, "malformed");
    unsigned char key[32];
    enum fl_code rc = token_secret_tx(c, create, key, err);
    if (rc == FL_NOT_FOUND)
        return bad_token(err, "forged or damaged"); /* no token was ever issued */
    char mac_hex[65];
    if (rc == FL_OK)
        rc = token_mac(key, token, (size_t)(d3 - token), mac_hex, err);
    explicit_bzero(key, sizeof key);
    if (rc == FL_OK) {
        unsigned diff = 0;
        for (int i = 0; i < 64; i++)
            diff |= (unsigned)(mac_hex[i] ^ d3[1 + i]);
        if (diff)
            rc = bad_token(err, "forged or damaged");
    }
    int64_t expires = rc == FL_OK ? strtoll(d1 + 1, NULL, 10) : 0;
    if (rc == FL_OK && expires < core_now_ms(c))
        rc = bad_token(err, "expired");
    if (rc == FL_OK) {
        memcpy(nonce, d2 + 1, 32);
        nonce[32] = '\0';
        memcpy(cid, token, 64);
        cid[64] = '\0';
        *expires_out = expires;
    }
    return rc;
}

enum fl_code provisioning_token_check(struct fl_core *c, const char *token, char certificate_id_out[65],
                                      struct fl_err *err)
{
    certificate_id_out[0] = '\0';
    char cid[65], nonce[33];
    int64_t expires = 0;
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    rc = token_verify_tx(c, token, 1, cid, &expires, nonce, err);
    if (rc == FL_OK) {
        rc = store_prov_token_use(c->st, nonce, expires, err);
        if (rc == FL_ALREADY_EXISTS)
            rc = bad_token(err, "already used");
    }
    rc = store_end(c->st, rc, err);
    if (rc == FL_OK)
        memcpy(certificate_id_out, cid, 65);
    return rc;
}

/* ---- the fleet-provisioning MQTT API ---------------------------------------------- */

struct unclaimed_ctx {
    int64_t expires_at, ttl_s;
    char token[PROVISIONING_TOKEN_MAX];
};

/* Inside the transaction that stores the new certificate: the certificate
 * is unclaimed until a template uses its token, which is issued here too,
 * so a failure leaves neither behind. */
static enum fl_code unclaimed_tx(struct fl_core *c, const char *id, void *ctx, struct fl_err *err)
{
    struct unclaimed_ctx *u = ctx;
    enum fl_code rc = store_prov_unclaimed_add(c->st, id, u->expires_at, err);
    return rc ? rc : token_issue_tx(c, id, u->ttl_s, u->token, err);
}

enum fl_code provisioning_device_certificate(struct fl_core *c, const char *csr, int64_t ttl_s, json_t **out,
                                             struct fl_err *err)
{
    if (ttl_s <= 0)
        ttl_s = PROVISIONING_TOKEN_SECONDS;
    struct unclaimed_ctx u = {.expires_at = core_now_ms(c) + ttl_s * 1000, .ttl_s = ttl_s};
    struct certificates_issue is = {.status = "PENDING_ACTIVATION", .in_tx = unclaimed_tx, .ctx = &u};
    json_t *o = NULL;
    enum fl_code rc = csr ? certificates_create_from_csr_with(c, csr, &is, &o, err)
                          : certificates_create_keys_with(c, &is, &o, err);
    if (rc) {
        explicit_bzero(u.token, sizeof u.token);
        return rc;
    }
    json_t *r = json_object();
    json_object_set(r, "certificateId", json_object_get(o, "certificateId"));
    json_object_set(r, "certificatePem", json_object_get(o, "certificatePem"));
    json_t *priv = json_object_get(json_object_get(o, "keyPair"), "PrivateKey");
    if (priv)
        json_object_set(r, "privateKey", priv);
    json_object_set_new(r, "certificateOwnershipToken", json_string(u.token));
    explicit_bzero(u.token, sizeof u.token);
    json_decref(o);
    *out = r;
    return FL_OK;
}

/* Read-only token check (no secret is made, nothing consumed), inside a
 * read transaction the caller opened. */
static enum fl_code token_peek_tx(struct fl_core *c, const char *token, char cid[65], struct fl_err *err)
{
    char nonce[33];
    int64_t expires = 0;
    enum fl_code rc = token_verify_tx(c, token, 0, cid, &expires, nonce, err);
    if (rc == FL_OK && certificates_exists_tx(c, cid, err) == FL_NOT_FOUND)
        rc = bad_token(err, "its certificate no longer exists");
    return rc;
}

/* Calls the template's pre-provisioning hook, outside any transaction. */
static enum fl_code device_hook(struct fl_core *c, const struct provisioning_device_in *in,
                                const struct store_tpl *row, const char *cid, json_t *params,
                                struct fl_err *err)
{
    json_t *d = NULL;
    enum fl_code rc = certificates_describe(c, cid, &d, err);
    if (rc)
        return rc == FL_NOT_FOUND ? bad_token(err, "its certificate no longer exists") : rc;
    json_t *hook = hook_json(row);
    char arn[320];
    tpl_arn(c, in->template_name, arn);
    struct prehook_in hin = {
        .claim_certificate_id = in->claim_certificate_id ? in->claim_certificate_id : "",
        .certificate_id = cid,
        .certificate_pem = json_string_value(
            json_object_get(json_object_get(d, "certificateDescription"), "certificatePem")),
        .template_arn = arn,
        .client_id = in->client_id ? in->client_id : "",
        .parameters = params,
    };
    rc = prehook_run(c, hook, &hin, err);
    json_decref(hook);
    json_decref(d);
    return rc;
}

enum fl_code provisioning_device_register(struct fl_core *c, const struct provisioning_device_in *in,
                                          json_t **out, enum provisioning_stage *stage, struct fl_err *err)
{
    *stage = PROVISIONING_STAGE_REQUEST;
    *out = NULL;
    enum fl_code rc = check_name(in->template_name, err);
    if (rc == FL_OK)
        rc = check_params(in->parameters, err);
    if (rc)
        return rc;
    char cid[65];
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    /* token, then template, read only: the hook must know both, and must
     * run outside any transaction */
    *stage = PROVISIONING_STAGE_TOKEN;
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        rc = token_peek_tx(c, in->token, cid, err);
        if (rc == FL_OK) {
            *stage = PROVISIONING_STAGE_TEMPLATE;
            rc = fleet_tpl_tx(c, in->template_name, row, err);
        }
        rc = store_end(c->st, rc, err);
    }
    if (rc) {
        free(row);
        return rc;
    }
    json_t *params =
        in->parameters && json_is_object(in->parameters) ? json_deep_copy(in->parameters) : json_object();
    if (row->hook_target[0]) {
        *stage = PROVISIONING_STAGE_HOOK;
        rc = device_hook(c, in, row, cid, params, err);
    }
    /* One write transaction: everything is checked again (the token may have
     * been used, the template changed, the certificate deleted meanwhile);
     * any failure undoes the token's use, the template's changes and the
     * claim together. */
    if (rc == FL_OK) {
        *stage = PROVISIONING_STAGE_TOKEN;
        rc = store_begin(c->st, err);
        if (rc == FL_OK) {
            char used[65];
            rc = provisioning_token_check(c, in->token, used, err);
            if (rc == FL_OK && strcmp(used, cid) != 0)
                rc = bad_token(err, "forged or damaged");
            if (rc == FL_OK && certificates_exists_tx(c, cid, err) == FL_NOT_FOUND)
                rc = bad_token(err, "its certificate no longer exists");
            if (rc == FL_OK) {
                *stage = PROVISIONING_STAGE_TEMPLATE;
                rc = fleet_tpl_tx(c, in->template_name, row, err);
            }
            if (rc == FL_OK) {
                *stage = PROVISIONING_STAGE_APPLY;
                rc = provision_tx(c, in->template_name, row, params, cid, out, err);
            }
            if (rc == FL_OK)
                rc = store_prov_unclaimed_delete(c->st, cid, err);
            rc = store_end(c->st, rc, err);
            if (rc && *out) {
                json_decref(*out);
                *out = NULL;
            }
        }
    }
    json_decref(params);
    free(row);
    return rc;
}

enum fl_code provisioning_sweep(struct fl_core *c, int max, int *deleted, struct fl_err *err)
{
    *deleted = 0;
    if (max < 1 || max > PROVISIONING_SWEEP_MAX)
        max = PROVISIONING_SWEEP_MAX;
    char(*ids)[65] = malloc((size_t)max * sizeof *ids);
    if (ids == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    int n = 0;
    enum fl_code rc = store_begin(c->st, err);
    if (rc == FL_OK) {
        rc = store_prov_unclaimed_expired(c->st, core_now_ms(c), max, ids, &n, err);
        for (int i = 0; rc == FL_OK && i < n; i++) {
            rc = store_prov_unclaimed_delete(c->st, ids[i], err);
            json_t *d = NULL;
            enum fl_code r = rc ? rc : certificates_describe(c, ids[i], &d, err);
            const char *status =
                json_string_value(json_object_get(json_object_get(d, "certificateDescription"), "status"));
            /* only a certificate nobody took over: an administrator may have
             * activated it, or attached it to a thing, meanwhile */
            if (r == FL_OK && status && strcmp(status, "PENDING_ACTIVATION") == 0) {
                struct fl_err e2;
                fl_err_clear(&e2);
                r = certificates_delete(c, ids[i], 1, &e2);
                if (r == FL_OK)
                    (*deleted)++;
                else if (r == FL_DELETE_CONFLICT || r == FL_CERTIFICATE_STATE)
                    core_log(c, FL_LOG_INFO, "unclaimed certificate %s kept: %s", ids[i], e2.msg);
                else
                    rc = fl_err_set(err, r, "%s", e2.msg);
            } else if (r != FL_OK && r != FL_NOT_FOUND) {
                rc = r;
            }
            json_decref(d);
        }
        rc = store_end(c->st, rc, err);
    }
    if (rc)
        *deleted = 0;
    free(ids);
    return rc;
}
