/*
 * policies.c - IoT policies, versions, attachments, GetEffectivePolicies,
 * TestAuthorization and the broker's compile-at-connect (see policies.h
 * for the operations and the rules).
 *
 * Documents are validated and compiled by policy_doc.c and evaluated by
 * policy_eval.c; this file gathers a principal's policies from the store,
 * resolves its policy variables (thing, type, attributes, certificate
 * fields through ca/'s X.509 reader) and turns the results into the AWS
 * response objects. Knows nothing of HTTP, MQTT or SQL.
 */
#include "policies.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca.h"
#include "jx.h"
#include "outbox.h"
#include "page.h"
#include "policy_doc.h"
#include "store.h"
#include "store_policies.h"
#include "tags.h"
#include "validate.h"

#define ARN_MAX 320
#define TARGET_MAX 2048

/* ---- small helpers ---------------------------------------------------------- */

static void policy_arn(const struct fl_core *c, const char *name, char arn[ARN_MAX])
{
    core_arn(c, arn, ARN_MAX, "policy", name);
}

static enum fl_code check_name(const char *field, const char *name, struct fl_err *err)
{
    if (name == NULL || *name == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: %s", field);
    size_t n = strlen(name);
    int ok = n <= 128;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = name[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             strchr("_+=,.@-", ch) != NULL;
    }
    if (!ok)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value '%.200s' at '%s' failed to satisfy constraint: "
                          "Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length "
                          "between 1 and 128",
                          name, field);
    return FL_OK;
}

static enum fl_code policy_not_found(const char *name, struct fl_err *err)
{
    return fl_err_set(err, FL_NOT_FOUND, "Policy %s does not exist", name);
}

/* A fresh generationId: 64 hex digits (AWS returns a SHA-256-sized id). */
static void new_generation(struct fl_core *c, char out[65])
{
    core_random_hex(c, 32, out);
}

static enum fl_code parse_version(const char *text, int64_t *v, struct fl_err *err)
{
    size_t n = text ? strlen(text) : 0;
    int ok = n > 0 && n <= 18;
    for (size_t i = 0; ok && i < n; i++)
        ok = text[i] >= '0' && text[i] <= '9';
    if (!ok)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value '%.40s' at 'policyVersionId' failed to satisfy "
                          "constraint: Member must satisfy regular expression pattern: [0-9]+",
                          text ? text : "");
    *v = strtoll(text, NULL, 10);
    return FL_OK;
}

static void version_text(int64_t v, char out[24])
{
    snprintf(out, 24, "%lld", (long long)v);
}

/* Markers follow the service's pattern [A-Za-z0-9+/]+={0,2}: page.c's
 * base64url token with its two URL characters swapped back. */
static void marker_encode(const char *key, char out[PAGE_TOKEN_MAX])
{
    page_token_encode(key, out);
    for (char *p = out; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
}

static enum fl_code marker_decode(const char *marker, char *key, size_t keylen, struct fl_err *err)
{
    char tok[PAGE_TOKEN_MAX];
    size_t n = strlen(marker);
    while (n > 0 && marker[n - 1] == '=')
        n--;
    if (n == 0 || n >= sizeof(tok))
        return fl_err_set(err, FL_INVALID_REQUEST, "The marker is invalid");
    for (size_t i = 0; i < n; i++) {
        char ch = marker[i];
        tok[i] = (ch == '+' || ch == ' ') ? '-' : ch == '/' ? '_' : ch;
    }
    tok[n] = '\0';
    if (page_token_decode(tok, key, keylen, err) != FL_OK)
        return fl_err_set(err, FL_INVALID_REQUEST, "The marker is invalid");
    return FL_OK;
}

static json_t *policy_ref(const struct fl_core *c, const char *name)
{
    char arn[ARN_MAX];
    policy_arn(c, name, arn);
    json_t *o = json_object();
    json_object_set_new(o, "policyName", json_string(name));
    json_object_set_new(o, "policyArn", json_string(arn));
    return o;
}

/* ---- targets ----------------------------------------------------------------- */

enum target_kind { TARGET_CERT, TARGET_GROUP };

static int is_hex64(const char *s)
{
    size_t n = strlen(s);
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    return 1;
}

/* Splits a target (or principal) ARN. *name points into target. */
static enum fl_code parse_target(const struct fl_core *c, const char *field, const char *target,
                                 enum target_kind *kind, const char **name, struct fl_err *err)
{
    if (target == NULL || *target == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: %s", field);
    if (strlen(target) > TARGET_MAX)
        return fl_err_set(err, FL_INVALID_REQUEST, "%s is too long", field);
    const char *n;
    if ((n = core_arn_name(c, target, "cert")) != NULL) {
        if (!is_hex64(n))
            return fl_err_set(err, FL_INVALID_REQUEST, "Invalid certificate id in %s: %.100s", field, n);
        *kind = TARGET_CERT;
        *name = n;
        return FL_OK;
    }
    if ((n = core_arn_name(c, target, "thinggroup")) != NULL) {
        enum fl_code rc = validate_name(field, n, err);
        if (rc)
            return rc;
        *kind = TARGET_GROUP;
        *name = n;
        return FL_OK;
    }
    if (strncmp(target, "arn:aws:iot:", 12) == 0 &&
        (strstr(target, ":cert/") || strstr(target, ":thinggroup/")))
        return fl_err_set(err, FL_NOT_FOUND, "%s %.300s does not exist in this account and region", field,
                          target);
    if (strncmp(target, "arn:", 4) != 0 && strchr(target, ':') && strchr(target, ':') == strrchr(target, ':'))
        return fl_err_set(err, FL_INVALID_REQUEST, "Amazon Cognito identities are not supported: %.300s",
                          target);
    return fl_err_set(
        err, FL_INVALID_REQUEST,
        "Invalid %s %.300s: expected a certificate ARN (arn:aws:iot:%s:%s:cert/<id>) or a thing "
        "group ARN (arn:aws:iot:%s:%s:thinggroup/<name>)",
        field, target, c->cfg.region, c->cfg.account_id, c->cfg.region, c->cfg.account_id);
}

/* ---- broker notifications ------------------------------------------------------ */

/* A policy change reaches the broker as authz outbox rows: one per
 * certificate when the policy has few targets, all of them certificates;
 * one row for everyone (target NULL) when a thing group is among them
 * (every member may inherit it) or there are many. */
#define NOTIFY_MAX_CERTS 32

static enum fl_code notify_cert(struct fl_core *c, const char *id, struct fl_err *err)
{
    char low[65];
    size_t i = 0;
    for (; i < 64 && id[i]; i++)
        low[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
    low[i] = '\0';
    return outbox_append_tx(c, OUTBOX_AUTHZ, low, NULL, NULL, 0, 0, 0, err);
}

/* Inside a write transaction: the policy was attached to or detached from
 * one target. */
static enum fl_code notify_target(struct fl_core *c, enum target_kind kind, const char *name,
                                  struct fl_err *err)
{
    if (kind == TARGET_CERT)
        return notify_cert(c, name, err);
    return outbox_append_tx(c, OUTBOX_AUTHZ, NULL, NULL, NULL, 0, 0, 0, err);
}

struct notify_ctx {
    const struct fl_core *c;
    int n;
    int everyone;
    char ids[NOTIFY_MAX_CERTS][65];
};

static enum fl_code notify_collect(void *ctx, const char *target)
{
    struct notify_ctx *n = ctx;
    const char *id = core_arn_name(n->c, target, "cert");
    if (id == NULL || strlen(id) != 64 || n->n == NOTIFY_MAX_CERTS)
        n->everyone = 1;
    else
        snprintf(n->ids[n->n++], sizeof(n->ids[0]), "%s", id);
    return FL_OK;
}

/* Inside a write transaction: the default version of the policy (row
 * policy_row) changed, so every client it applies to must recompile. */
static enum fl_code notify_policy(struct fl_core *c, int64_t policy_row, struct fl_err *err)
{
    struct notify_ctx *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    n->c = c;
    enum fl_code rc =
        store_policy_targets_page(c->st, policy_row, "", NOTIFY_MAX_CERTS + 1, notify_collect, n, err);
    if (rc == FL_OK && n->everyone)
        rc = outbox_append_tx(c, OUTBOX_AUTHZ, NULL, NULL, NULL, 0, 0, 0, err);
    for (int i = 0; rc == FL_OK && !n->everyone && i < n->n; i++)
        rc = notify_cert(c, n->ids[i], err);
    free(n);
    return rc;
}

/* Inside a transaction: FL_NOT_FOUND (worded) unless the target exists. */
static enum fl_code target_exists(struct fl_core *c, enum target_kind kind, const char *name, char *path,
                                  size_t pathlen, struct fl_err *err)
{
    enum fl_code rc;
    char dummy[8];
    if (kind == TARGET_CERT) {
        rc = store_policies_cert_exists(c->st, name, err);
        if (rc == FL_NOT_FOUND)
            return fl_err_set(err, FL_NOT_FOUND, "Certificate %s does not exist", name);
        return rc;
    }
    rc = store_policies_group_path(c->st, name, path ? path : dummy, path ? pathlen : sizeof(dummy), err);
    if (rc == FL_NOT_FOUND)
        return fl_err_set(err, FL_NOT_FOUND, "Thing group %s does not exist", name);
    return rc;
}

/* ---- lists of (name, document) ------------------------------------------------- */

struct src_item {
    char *name;
    char *doc;
};

struct srcs {
    struct src_item *v;
    size_t n, cap;
    struct fl_err *err;
};

static void srcs_free(struct srcs *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].doc);
    }
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static int srcs_has(const struct srcs *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return 1;
    return 0;
}

/* Appends (name, doc) unless name is already there (store_attached_fn). */
static enum fl_code srcs_add(void *ctx, const char *name, const char *doc)
{
    struct srcs *s = ctx;
    if (srcs_has(s, name))
        return FL_OK;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct src_item *v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL)
            return fl_err_set(s->err, FL_INTERNAL, "out of memory");
        s->v = v;
        s->cap = cap;
    }
    struct src_item *it = &s->v[s->n];
    it->name = strdup(name);
    it->doc = strdup(doc ? doc : "");
    if (it->name == NULL || it->doc == NULL) {
        free(it->name);
        free(it->doc);
        return fl_err_set(s->err, FL_INTERNAL, "out of memory");
    }
    s->n++;
    return FL_OK;
}

static void srcs_remove(struct srcs *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0) {
            free(s->v[i].name);
            free(s->v[i].doc);
            memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
            s->n--;
            return;
        }
}

/* A list of names (group names, policy names). */
struct names {
    char **v;
    size_t n, cap;
    struct fl_err *err;
};

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static enum fl_code names_add(void *ctx, const char *name)
{
    struct names *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return fl_err_set(l->err, FL_INTERNAL, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    if ((l->v[l->n] = strdup(name)) == NULL)
        return fl_err_set(l->err, FL_INTERNAL, "out of memory");
    l->n++;
    return FL_OK;
}

static enum fl_code names_add_attached(void *ctx, const char *name, const char *doc)
{
    (void)doc;
    return names_add(ctx, name);
}

/* Inside a transaction: adds the policies of every thing group the thing
 * row is in (and their ancestors, root first) to s. */
static enum fl_code add_group_policies(struct fl_core *c, int64_t thing_row, struct srcs *s,
                                       struct fl_err *err)
{
    struct names groups = {.err = err};
    enum fl_code rc = store_policies_thing_groups(c->st, thing_row, names_add, &groups, err);
    for (size_t i = 0; rc == FL_OK && i < groups.n; i++) {
        char arn[ARN_MAX];
        core_arn(c, arn, sizeof(arn), "thinggroup", groups.v[i]);
        rc = store_policies_for_target(c->st, arn, srcs_add, s, err);
    }
    names_free(&groups);
    return rc;
}

/* ---- CRUD ------------------------------------------------------------------------- */

enum fl_code policies_create(struct fl_core *c, const char *name, const char *document, json_t *tags,
                             json_t **out, struct fl_err *err)
{
    enum fl_code rc = check_name("policyName", name, err);
    if (rc == FL_OK && document == NULL)
        rc = fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: policyDocument");
    if (rc == FL_OK)
        rc = policy_doc_validate(document, err);
    if (rc)
        return rc;
    char arn[ARN_MAX];
    policy_arn(c, name, arn);
    struct store_policy p = {0};
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = store_policies_exists(c->st, name, err);
    if (rc == FL_OK) {
        rc = fl_err_set(err, FL_ALREADY_EXISTS, "Policy %s already exists", name);
        snprintf(err->resource_id, sizeof(err->resource_id), "%s", name);
        snprintf(err->resource_arn, sizeof(err->resource_arn), "%s", arn);
    } else if (rc == FL_NOT_FOUND) {
        snprintf(p.name, sizeof(p.name), "%s", name);
        p.default_version = 1;
        p.next_version = 2;
        p.created_at = p.updated_at = core_now_ms(c);
        new_generation(c, p.generation_id);
        rc = store_policies_insert(c->st, &p, document, err);
        if (rc == FL_OK && tags)
            rc = tags_put_tx(c, arn, tags, err);
    }
    rc = store_end(c->st, rc, err);
    if (rc == FL_OK) {
        *out = policy_ref(c, name);
        json_object_set_new(*out, "policyDocument", json_string(document));
        json_object_set_new(*out, "policyVersionId", json_string("1"));
    }
    return rc;
}

/* Inside a transaction: the policy called name, or a worded FL_NOT_FOUND. */
static enum fl_code get_tx(struct fl_core *c, const char *name, struct store_policy *p, struct fl_err *err)
{
    enum fl_code rc = store_policies_get(c->st, name, p, err);
    return rc == FL_NOT_FOUND ? policy_not_found(name, err) : rc;
}

enum fl_code policies_get(struct fl_core *c, const char *name, json_t **out, struct fl_err *err)
{
    enum fl_code rc = check_name("policyName", name, err);
    if (rc)
        return rc;
    struct store_policy p;
    char *doc = NULL;
    if ((rc = store_begin_read(c->st, err)))
        return rc;
    rc = get_tx(c, name, &p, err);
    if (rc == FL_OK) {
        rc = store_policy_versions_get(c->st, p.row_id, p.default_version, &doc, NULL, err);
        if (rc == FL_NOT_FOUND)
            rc = fl_err_set(err, FL_INTERNAL, "policy %s has no default version", name);
    }
    rc = store_end(c->st, rc, err);
    if (rc == FL_OK) {
        char v[24];
        version_text(p.default_version, v);
        *out = policy_ref(c, name);
        json_object_set_new(*out, "policyDocument", json_string(doc));
        json_object_set_new(*out, "defaultVersionId", json_string(v));
        json_object_set_new(*out, "creationDate", jx_time(p.created_at));
        json_object_set_new(*out, "lastModifiedDate", jx_time(p.updated_at));
        json_object_set_new(*out, "generationId", json_string(p.generation_id));
    }
    free(doc);
    return rc;
}

enum fl_code policies_delete(struct fl_core *c, const char *name, struct fl_err *err)
{
    enum fl_code rc = check_name("policyName", name, err);
    if (rc)
        return rc;
    struct store_policy p;
    int attached = 0, versions = 0;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = get_tx(c, name, &p, err);
    if (rc == FL_OK)
        rc = store_policy_targets_any(c->st, p.row_id, &attached, err);
    if (rc == FL_OK && attached)
        rc = fl_err_set(err, FL_DELETE_CONFLICT,
                        "Cannot delete policy %s: it is attached to one or more targets (see "
                        "ListTargetsForPolicy); detach it first",
                        name);
    if (rc == FL_OK)
        rc = store_policy_versions_count(c->st, p.row_id, &versions, err);
    if (rc == FL_OK && versions > 1)
        rc = fl_err_set(err, FL_DELETE_CONFLICT,
                        "Cannot delete policy %s: it has %d versions; delete every non-default version first",
                        name, versions);
    if (rc == FL_OK)
        rc = store_policies_delete(c->st, p.row_id, err);
    if (rc == FL_OK) {
        char arn[ARN_MAX];
        policy_arn(c, name, arn);
        rc = tags_delete_all_tx(c, arn, err);
    }
    return store_end(c->st, rc, err);
}

struct list_ctx {
    struct fl_core *c;
    json_t *arr;
    int limit; /* items to put in arr; one more row means a next page */
    int count;
    int64_t last_row;
    char last_key[TARGET_MAX + 1];
    int more;
};

static enum fl_code list_policy_row(void *ctx, int64_t row, const char *name)
{
    struct list_ctx *l = ctx;
    if (l->count == l->limit) {
        l->more = 1;
        return FL_OK;
    }
    json_array_append_new(l->arr, policy_ref(l->c, name));
    l->count++;
    l->last_row = row;
    return FL_OK;
}

enum fl_code policies_list(struct fl_core *c, int ascending, int page_size, const char *marker, json_t **out,
                           struct fl_err *err)
{
    int64_t after = 0;
    enum fl_code rc = FL_OK;
    if (page_size < 1 || page_size > 250)
        page_size = POLICIES_PAGE_DEFAULT;
    if (marker && *marker) {
        char key[32];
        char *end;
        if ((rc = marker_decode(marker, key, sizeof(key), err)))
            return rc;
        after = strtoll(key, &end, 10);
        if (*end != '\0' || after <= 0)
            return fl_err_set(err, FL_INVALID_REQUEST, "The marker is invalid");
    }
    struct list_ctx l = {.c = c, .arr = json_array(), .limit = page_size};
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        rc = store_policies_page(c->st, ascending, after, page_size + 1, list_policy_row, &l, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc) {
        json_decref(l.arr);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "policies", l.arr);
    if (l.more) {
        char key[32], tok[PAGE_TOKEN_MAX];
        snprintf(key, sizeof(key), "%lld", (long long)l.last_row);
        marker_encode(key, tok);
        json_object_set_new(*out, "nextMarker", json_string(tok));
    }
    return FL_OK;
}

/* ---- versions ---------------------------------------------------------------------- */

enum fl_code policies_create_version(struct fl_core *c, const char *name, const char *document,
                                     int set_default, json_t **out, struct fl_err *err)
{
    enum fl_code rc = check_name("policyName", name, err);
    if (rc == FL_OK && document == NULL)
        rc = fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: policyDocument");
    if (rc == FL_OK)
        rc = policy_doc_validate(document, err);
    if (rc)
        return rc;
    struct store_policy p;
    int count = 0;
    int64_t version = 0;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = get_tx(c, name, &p, err);
    if (rc == FL_OK)
        rc = store_policy_versions_count(c->st, p.row_id, &count, err);
    if (rc == FL_OK && count >= POLICIES_MAX_VERSIONS)
        rc = fl_err_set(
            err, FL_VERSIONS_LIMIT_EXCEEDED,
            "The policy %s already has the maximum number of versions (%d); delete a version first", name,
            POLICIES_MAX_VERSIONS);
    if (rc == FL_OK) {
        int64_t now = core_now_ms(c);
        version = p.next_version;
        rc = store_policy_versions_insert(c->st, p.row_id, version, document, now, err);
        p.next_version++;
        p.updated_at = now;
        if (set_default) {
            p.default_version = version;
            new_generation(c, p.generation_id);
        }
        if (rc == FL_OK)
            rc = store_policies_update(c->st, &p, err);
        if (rc == FL_OK && set_default)
            rc = notify_policy(c, p.row_id, err);
    }
    rc = store_end(c->st, rc, err);
    if (rc == FL_OK) {
        char arn[ARN_MAX], v[24];
        policy_arn(c, name, arn);
        version_text(version, v);
        *out = json_object();
        json_object_set_new(*out, "policyArn", json_string(arn));
        json_object_set_new(*out, "policyDocument", json_string(document));
        json_object_set_new(*out, "policyVersionId", json_string(v));
        json_object_set_new(*out, "isDefaultVersion", json_boolean(set_default));
    }
    return rc;
}

static enum fl_code version_not_found(const char *name, int64_t v, struct fl_err *err)
{
    return fl_err_set(err, FL_NOT_FOUND, "Version %lld of policy %s does not exist", (long long)v, name);
}

enum fl_code policies_get_version(struct fl_core *c, const char *name, const char *version_id, json_t **out,
                                  struct fl_err *err)
{
    int64_t v = 0;
    enum fl_code rc = check_name("policyName", name, err);
    if (rc == FL_OK)
        rc = parse_version(version_id, &v, err);
    if (rc)
        return rc;
    struct store_policy p;
    char *doc = NULL;
    int64_t created = 0;
    if ((rc = store_begin_read(c->st, err)))
        return rc;
    rc = get_tx(c, name, &p, err);
    if (rc == FL_OK) {
        rc = store_policy_versions_get(c->st, p.row_id, v, &doc, &created, err);
        if (rc == FL_NOT_FOUND)
            rc = version_not_found(name, v, err);
    }
    rc = store_end(c->st, rc, err);
    if (rc == FL_OK) {
        char arn[ARN_MAX], vt[24];
        policy_arn(c, name, arn);
        version_text(v, vt);
        *out = json_object();
        json_object_set_new(*out, "policyArn", json_string(arn));
        json_object_set_new(*out, "policyName", json_string(name));
        json_object_set_new(*out, "policyDocument", json_string(doc));
        json_object_set_new(*out, "policyVersionId", json_string(vt));
        json_object_set_new(*out, "isDefaultVersion", json_boolean(v == p.default_version));
        json_object_set_new(*out, "creationDate", jx_time(created));
        json_object_set_new(*out, "lastModifiedDate",
                            jx_time(p.updated_at > created ? p.updated_at : created));
        json_object_set_new(*out, "generationId", json_string(p.generation_id));
    }
    free(doc);
    return rc;
}

struct versions_ctx {
    json_t *arr;
    int64_t default_version;
};

static enum fl_code version_row(void *ctx, int64_t version, int64_t created_at)
{
    struct versions_ctx *v = ctx;
    char vt[24];
    version_text(version, vt);
    json_t *o = json_object();
    json_object_set_new(o, "versionId", json_string(vt));
    json_object_set_new(o, "isDefaultVersion", json_boolean(version == v->default_version));
    json_object_set_new(o, "createDate", jx_time(created_at));
    json_array_append_new(v->arr, o);
    return FL_OK;
}

enum fl_code policies_list_versions(struct fl_core *c, const char *name, json_t **out, struct fl_err *err)
{
    enum fl_code rc = check_name("policyName", name, err);
    if (rc)
        return rc;
    struct store_policy p;
    struct versions_ctx v = {.arr = json_array()};
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        rc = get_tx(c, name, &p, err);
        if (rc == FL_OK) {
            v.default_version = p.default_version;
            rc = store_policy_versions_each(c->st, p.row_id, version_row, &v, err);
        }
        rc = store_end(c->st, rc, err);
    }
    if (rc) {
        json_decref(v.arr);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "policyVersions", v.arr);
    return FL_OK;
}

enum fl_code policies_delete_version(struct fl_core *c, const char *name, const char *version_id,
                                     struct fl_err *err)
{
    int64_t v = 0;
    enum fl_code rc = check_name("policyName", name, err);
    if (rc == FL_OK)
        rc = parse_version(version_id, &v, err);
    if (rc)
        return rc;
    struct store_policy p;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = get_tx(c, name, &p, err);
    if (rc == FL_OK && v == p.default_version)
        rc = fl_err_set(err, FL_DELETE_CONFLICT,
                        "Cannot delete the default version %lld of policy %s; make another version the "
                        "default first, or delete the policy",
                        (long long)v, name);
    if (rc == FL_OK) {
        rc = store_policy_versions_delete(c->st, p.row_id, v, err);
        if (rc == FL_NOT_FOUND)
            rc = version_not_found(name, v, err);
    }
    return store_end(c->st, rc, err);
}

enum fl_code policies_set_default_version(struct fl_core *c, const char *name, const char *version_id,
                                          struct fl_err *err)
{
    int64_t v = 0;
    enum fl_code rc = check_name("policyName", name, err);
    if (rc == FL_OK)
        rc = parse_version(version_id, &v, err);
    if (rc)
        return rc;
    struct store_policy p;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = get_tx(c, name, &p, err);
    if (rc == FL_OK) {
        rc = store_policy_versions_get(c->st, p.row_id, v, NULL, NULL, err);
        if (rc == FL_NOT_FOUND)
            rc = version_not_found(name, v, err);
    }
    if (rc == FL_OK && v != p.default_version) {
        p.default_version = v;
        p.updated_at = core_now_ms(c);
        new_generation(c, p.generation_id);
        rc = store_policies_update(c->st, &p, err);
        if (rc == FL_OK)
            rc = notify_policy(c, p.row_id, err);
    }
    return store_end(c->st, rc, err);
}

/* ---- attachments --------------------------------------------------------------------- */

enum fl_code policies_attach(struct fl_core *c, const char *name, const char *target, struct fl_err *err)
{
    enum target_kind kind;
    const char *tname;
    enum fl_code rc = check_name("policyName", name, err);
    if (rc == FL_OK)
        rc = parse_target(c, "target", target, &kind, &tname, err);
    if (rc)
        return rc;
    struct store_policy p;
    int has = 0, count = 0, added = 0;
    int limit = kind == TARGET_CERT ? POLICIES_MAX_PER_CERT : POLICIES_MAX_PER_GROUP;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = get_tx(c, name, &p, err);
    if (rc == FL_OK)
        rc = target_exists(c, kind, tname, NULL, 0, err);
    if (rc == FL_OK)
        rc = store_policy_targets_has(c->st, p.row_id, target, &has, err);
    if (rc == FL_OK && !has) {
        rc = store_policy_targets_count(c->st, target, &count, err);
        if (rc == FL_OK && count >= limit)
            rc = fl_err_set(err, FL_LIMIT_EXCEEDED, "%s %s already has the maximum number of policies (%d)",
                            kind == TARGET_CERT ? "Certificate" : "Thing group", tname, limit);
        if (rc == FL_OK)
            rc = store_policy_targets_add(c->st, p.row_id, target, core_now_ms(c), &added, err);
        if (rc == FL_OK && added)
            rc = notify_target(c, kind, tname, err);
    }
    return store_end(c->st, rc, err);
}

enum fl_code policies_detach(struct fl_core *c, const char *name, const char *target, struct fl_err *err)
{
    enum target_kind kind;
    const char *tname;
    enum fl_code rc = check_name("policyName", name, err);
    if (rc == FL_OK)
        rc = parse_target(c, "target", target, &kind, &tname, err);
    if (rc)
        return rc;
    struct store_policy p;
    int removed = 0;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = get_tx(c, name, &p, err);
    if (rc == FL_OK)
        rc = store_policy_targets_remove(c->st, p.row_id, target, &removed, err);
    if (rc == FL_OK && removed)
        rc = notify_target(c, kind, tname, err);
    return store_end(c->st, rc, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum fl_code policies_list_attached(struct fl_core *c, const char *target, int recursive, int page_size,
                                    const char *marker, json_t **out, struct fl_err *err)
{
    enum target_kind kind;
    const char *tname;
    char after[130] = "";
    enum fl_code rc = parse_target(c, "target", target, &kind, &tname, err);
    if (rc == FL_OK && marker && *marker)
        rc = marker_decode(marker, after, sizeof(after), err);
    if (rc)
        return rc;
    if (page_size < 1 || page_size > 250)
        page_size = POLICIES_PAGE_DEFAULT;
    /* At most 10 policies per certificate and 2 per group in a hierarchy
     * of at most 7: the whole list is small, so it is gathered, sorted and
     * cut into pages here. */
    struct names l = {.err = err};
    char path[1024] = "";
    if ((rc = store_begin_read(c->st, err)))
        return rc;
    rc = target_exists(c, kind, tname, path, sizeof(path), err);
    if (rc == FL_OK && kind == TARGET_GROUP && recursive) {
        const char *p = path + 1;
        while (rc == FL_OK && *p) {
            const char *e = strchr(p, '/');
            if (e == NULL)
                break;
            char gname[129], arn[ARN_MAX];
            size_t n = (size_t)(e - p) < sizeof(gname) ? (size_t)(e - p) : sizeof(gname) - 1;
            memcpy(gname, p, n);
            gname[n] = '\0';
            core_arn(c, arn, sizeof(arn), "thinggroup", gname);
            rc = store_policies_for_target(c->st, arn, names_add_attached, &l, err);
            p = e + 1;
        }
    } else if (rc == FL_OK) {
        rc = store_policies_for_target(c->st, target, names_add_attached, &l, err);
    }
    rc = store_end(c->st, rc, err);
    if (rc) {
        names_free(&l);
        return rc;
    }
    if (l.n > 1)
        qsort(l.v, l.n, sizeof(l.v[0]), cmp_str);
    json_t *arr = json_array();
    int count = 0, more = 0;
    const char *last = NULL;
    for (size_t i = 0; i < l.n; i++) {
        if ((last && strcmp(last, l.v[i]) == 0) || strcmp(l.v[i], after) <= 0)
            continue;
        if (count == page_size) {
            more = 1;
            break;
        }
        json_array_append_new(arr, policy_ref(c, l.v[i]));
        last = l.v[i];
        count++;
    }
    *out = json_object();
    json_object_set_new(*out, "policies", arr);
    if (more && last) {
        char tok[PAGE_TOKEN_MAX];
        marker_encode(last, tok);
        json_object_set_new(*out, "nextMarker", json_string(tok));
    }
    names_free(&l);
    return FL_OK;
}

static enum fl_code list_target_row(void *ctx, const char *target)
{
    struct list_ctx *l = ctx;
    if (l->count == l->limit) {
        l->more = 1;
        return FL_OK;
    }
    json_array_append_new(l->arr, json_string(target));
    l->count++;
    snprintf(l->last_key, sizeof(l->last_key), "%s", target);
    return FL_OK;
}

enum fl_code policies_list_targets(struct fl_core *c, const char *name, int page_size, const char *marker,
                                   json_t **out, struct fl_err *err)
{
    char after[TARGET_MAX + 1] = "";
    enum fl_code rc = check_name("policyName", name, err);
    if (rc == FL_OK && marker && *marker)
        rc = marker_decode(marker, after, sizeof(after), err);
    if (rc)
        return rc;
    if (page_size < 1 || page_size > 250)
        page_size = POLICIES_PAGE_DEFAULT;
    struct store_policy p;
    struct list_ctx l = {.c = c, .arr = json_array(), .limit = page_size};
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        rc = get_tx(c, name, &p, err);
        if (rc == FL_OK)
            rc = store_policy_targets_page(c->st, p.row_id, after, page_size + 1, list_target_row, &l, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc) {
        json_decref(l.arr);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "targets", l.arr);
    if (l.more) {
        char tok[PAGE_TOKEN_MAX];
        marker_encode(l.last_key, tok);
        json_object_set_new(*out, "nextMarker", json_string(tok));
    }
    return FL_OK;
}

enum fl_code policies_attached_count_tx(struct fl_core *c, const char *target_arn, int *n, struct fl_err *err)
{
    return store_policy_targets_count(c->st, target_arn, n, err);
}

/* ---- principals: gathering and compiling -------------------------------------------- */

/* What a connection of one certificate resolves to. */
struct principal {
    char cert_id[65];
    char cert_arn[ARN_MAX];
    char *pem;
    int has_thing;
    char thing[129];
    char type[129];
    struct policy_attr *attrs;
    size_t nattrs, capattrs;
    struct srcs policies;
    struct fl_err *err;
};

static void principal_free(struct principal *p)
{
    free(p->pem);
    for (size_t i = 0; i < p->nattrs; i++) {
        free((char *)p->attrs[i].name);
        free((char *)p->attrs[i].value);
    }
    free(p->attrs);
    srcs_free(&p->policies);
}

static enum fl_code principal_attr(void *ctx, const char *name, const char *value)
{
    struct principal *p = ctx;
    if (p->nattrs == p->capattrs) {
        size_t cap = p->capattrs ? p->capattrs * 2 : 8;
        struct policy_attr *v = realloc(p->attrs, cap * sizeof(*v));
        if (v == NULL)
            return fl_err_set(p->err, FL_INTERNAL, "out of memory");
        p->attrs = v;
        p->capattrs = cap;
    }
    char *n = strdup(name), *v = strdup(value ? value : "");
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return fl_err_set(p->err, FL_INTERNAL, "out of memory");
    }
    p->attrs[p->nattrs].name = n;
    p->attrs[p->nattrs].value = v;
    p->nattrs++;
    return FL_OK;
}

/* Inside a read transaction: the certificate, its thing for client_id,
 * the thing's type and attributes, and the certificate's and the thing
 * groups' policies. p->cert_id is set by the caller. */
static enum fl_code principal_load(struct fl_core *c, struct principal *p, const char *client_id,
                                   struct fl_err *err)
{
    p->err = err;
    p->policies.err = err;
    core_arn(c, p->cert_arn, sizeof(p->cert_arn), "cert", p->cert_id);
    enum fl_code rc = store_policies_cert_pem(c->st, p->cert_id, &p->pem, err);
    if (rc == FL_NOT_FOUND)
        return fl_err_set(err, FL_NOT_FOUND, "Certificate %s does not exist", p->cert_id);
    if (rc == FL_OK)
        rc = store_policies_for_target(c->st, p->cert_arn, srcs_add, &p->policies, err);
    if (rc)
        return rc;
    rc = store_policies_principal_thing(c->st, p->cert_arn, client_id, p->thing, err);
    if (rc == FL_NOT_FOUND)
        return FL_OK;
    if (rc)
        return rc;
    int64_t row = 0;
    rc = store_policies_thing(c->st, p->thing, &row, p->type, err);
    if (rc == FL_NOT_FOUND)
        return FL_OK;
    p->has_thing = rc == FL_OK;
    if (rc == FL_OK)
        rc = store_policies_thing_attrs(c->st, row, principal_attr, p, err);
    if (rc == FL_OK)
        rc = add_group_policies(c, row, &p->policies, err);
    return rc;
}

/* iot:Certificate.Subject.<Name> / Issuer.<Name> -> the OpenSSL short name
 * x509_name_field() takes. */
static const struct {
    const char *aws;
    const char *sn;
} cert_fields[] = {
    {"CommonName", "CN"},
    {"Country", "C"},
    {"Organization", "O"},
    {"OrganizationalUnit", "OU"},
    {"State", "ST"},
    {"Locality", "L"},
    {"SerialNumber", "serialNumber"},
    {"Title", "title"},
    {"Surname", "SN"},
    {"GivenName", "GN"},
    {"Initials", "initials"},
    {"Pseudonym", "pseudonym"},
    {"GenerationQualifier", "generationQualifier"},
    {"DistinguishedNameQualifier", "dnQualifier"},
};

static int cert_field(void *ctx, const char *name, char *buf, size_t buflen)
{
    const char *pem = ctx;
    int issuer;
    if (strncasecmp(name, "Subject.", 8) == 0) {
        issuer = 0;
        name += 8;
    } else if (strncasecmp(name, "Issuer.", 7) == 0) {
        issuer = 1;
        name += 7;
    } else {
        return 0;
    }
    for (size_t i = 0; i < sizeof(cert_fields) / sizeof(cert_fields[0]); i++) {
        if (strcasecmp(name, cert_fields[i].aws) != 0)
            continue;
        struct fl_err e;
        if (x509_name_field(pem, issuer, cert_fields[i].sn, buf, buflen, &e) != FL_OK)
            return 0;
        return buf[0] != '\0';
    }
    return 0;
}

static enum fl_code principal_compile(struct fl_core *c, struct policy_doc_cache *docs,
                                      const struct principal *p, const char *client_id, const char *source_ip,
                                      struct policy_set **out, struct fl_err *err)
{
    struct policy_src *src = calloc(p->policies.n ? p->policies.n : 1, sizeof(*src));
    if (src == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    for (size_t i = 0; i < p->policies.n; i++) {
        src[i].name = p->policies.v[i].name;
        src[i].document = p->policies.v[i].doc;
    }
    struct policy_vars v = {
        .region = c->cfg.region,
        .account = c->cfg.account_id,
        .client_id = client_id,
        .thing_name = p->has_thing ? p->thing : NULL,
        .thing_type_name = p->has_thing && p->type[0] ? p->type : NULL,
        .attrs = p->attrs,
        .nattrs = p->nattrs,
        .is_attached = p->has_thing,
        .certificate_id = p->cert_id,
        .source_ip = source_ip,
        .cert_field = p->pem ? cert_field : NULL,
        .cert_ctx = p->pem,
    };
    enum fl_code rc = policy_doc_compile_with(docs, src, p->policies.n, &v, out, err);
    free(src);
    return rc;
}

enum fl_code policies_compile_for_principal(struct fl_core *c, const char *cert_id, const char *client_id,
                                            const char *source_ip, struct policy_set **out,
                                            struct fl_err *err)
{
    return policies_compile_for_principal_with(c, NULL, cert_id, client_id, source_ip, out, err);
}

enum fl_code policies_compile_for_principal_with(struct fl_core *c, struct policy_doc_cache *docs,
                                                 const char *cert_id, const char *client_id,
                                                 const char *source_ip, struct policy_set **out,
                                                 struct fl_err *err)
{
    *out = NULL;
    if (cert_id == NULL || !is_hex64(cert_id))
        return fl_err_set(err, FL_INVALID_REQUEST, "Invalid certificate id");
    struct principal p = {0};
    snprintf(p.cert_id, sizeof(p.cert_id), "%s", cert_id);
    enum fl_code rc = store_begin_read(c->st, err);
    if (rc == FL_OK) {
        rc = principal_load(c, &p, client_id, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc == FL_OK)
        rc = principal_compile(c, docs, &p, client_id, source_ip, out, err);
    principal_free(&p);
    return rc;
}

/* ---- GetEffectivePolicies ---------------------------------------------------------------- */

static enum fl_code principal_cert(const struct fl_core *c, const char *principal, const char *cognito,
                                   const char **cert_id, struct fl_err *err)
{
    if (principal == NULL || *principal == '\0') {
        if (cognito && *cognito)
            return fl_err_set(err, FL_INVALID_REQUEST, "Amazon Cognito identities are not supported");
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: principal");
    }
    enum target_kind kind;
    enum fl_code rc = parse_target(c, "principal", principal, &kind, cert_id, err);
    if (rc == FL_OK && kind != TARGET_CERT)
        rc = fl_err_set(err, FL_INVALID_REQUEST,
                        "Invalid principal %.300s: expected a certificate ARN (arn:aws:iot:%s:%s:cert/<id>)",
                        principal, c->cfg.region, c->cfg.account_id);
    return rc;
}

enum fl_code policies_effective(struct fl_core *c, const char *principal, const char *cognito_pool,
                                const char *thing_name, json_t **out, struct fl_err *err)
{
    const char *cert_id = NULL;
    enum fl_code rc = FL_OK;
    if (principal && *principal)
        rc = principal_cert(c, principal, cognito_pool, &cert_id, err);
    else if (!(thing_name && *thing_name))
        rc = principal_cert(c, NULL, cognito_pool, &cert_id, err);
    if (rc == FL_OK && thing_name && *thing_name)
        rc = validate_name("thingName", thing_name, err);
    if (rc)
        return rc;
    struct srcs s = {.err = err};
    if ((rc = store_begin_read(c->st, err)))
        return rc;
    if (cert_id) {
        char arn[ARN_MAX];
        core_arn(c, arn, sizeof(arn), "cert", cert_id);
        rc = store_policies_cert_exists(c->st, cert_id, err);
        if (rc == FL_NOT_FOUND)
            rc = fl_err_set(err, FL_NOT_FOUND, "Certificate %s does not exist", cert_id);
        if (rc == FL_OK)
            rc = store_policies_for_target(c->st, arn, srcs_add, &s, err);
    }
    if (rc == FL_OK && thing_name && *thing_name) {
        int64_t row = 0;
        char type[129];
        rc = store_policies_thing(c->st, thing_name, &row, type, err);
        if (rc == FL_NOT_FOUND)
            rc = fl_err_set(err, FL_NOT_FOUND, "Thing %s cannot be found.", thing_name);
        if (rc == FL_OK)
            rc = add_group_policies(c, row, &s, err);
    }
    rc = store_end(c->st, rc, err);
    if (rc == FL_OK) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s.n; i++) {
            json_t *o = policy_ref(c, s.v[i].name);
            json_object_set_new(o, "policyDocument", json_string(s.v[i].doc));
            json_array_append_new(arr, o);
        }
        *out = json_object();
        json_object_set_new(*out, "effectivePolicies", arr);
    }
    srcs_free(&s);
    return rc;
}

/* ---- TestAuthorization ------------------------------------------------------------------- */

static const struct {
    const char *type;
    enum policy_action action;
} action_types[] = {
    {"PUBLISH", POLICY_PUBLISH},
    {"SUBSCRIBE", POLICY_SUBSCRIBE},
    {"RECEIVE", POLICY_RECEIVE},
    {"CONNECT", POLICY_CONNECT},
};

/* Validates authInfos; actions[i] receives each one's action. */
static enum fl_code check_auth_infos(json_t *infos, enum policy_action *actions, struct fl_err *err)
{
    if (!json_is_array(infos))
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: authInfos");
    size_t n = json_array_size(infos);
    if (n < 1 || n > 10)
        return fl_err_set(err, FL_INVALID_REQUEST, "authInfos must hold between 1 and 10 items, not %zu", n);
    for (size_t i = 0; i < n; i++) {
        json_t *ai = json_array_get(infos, i), *res = NULL;
        const char *type = NULL;
        if (!json_is_object(ai))
            return fl_err_set(err, FL_INVALID_REQUEST, "authInfos[%zu] must be an object", i);
        enum fl_code rc = jx_str(ai, "actionType", JX_REQUIRED, &type, err);
        if (rc == FL_OK)
            rc = jx_arr(ai, "resources", JX_REQUIRED, &res, err);
        if (rc)
            return rc;
        size_t k = 0;
        while (k < sizeof(action_types) / sizeof(action_types[0]) && strcmp(action_types[k].type, type) != 0)
            k++;
        if (k == sizeof(action_types) / sizeof(action_types[0]))
            return fl_err_set(
                err, FL_INVALID_REQUEST,
                "1 validation error detected: Value '%.40s' at 'authInfos.%zu.member.actionType' "
                "failed to satisfy constraint: Member must satisfy enum value set: [PUBLISH, "
                "SUBSCRIBE, RECEIVE, CONNECT]",
                type, i + 1);
        actions[i] = action_types[k].action;
        for (size_t j = 0; j < json_array_size(res); j++) {
            json_t *r = json_array_get(res, j);
            if (!json_is_string(r) || json_string_length(r) > 2048)
                return fl_err_set(err, FL_INVALID_REQUEST,
                                  "authInfos[%zu].resources must be strings of at most 2048 characters", i);
        }
    }
    return FL_OK;
}

static enum fl_code check_names_list(const char *field, json_t *arr, struct fl_err *err)
{
    if (arr == NULL)
        return FL_OK;
    if (!json_is_array(arr))
        return fl_err_set(err, FL_INVALID_REQUEST, "%s must be a list of policy names", field);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v))
            return fl_err_set(err, FL_INVALID_REQUEST, "%s must be a list of policy names", field);
        enum fl_code rc = check_name(field, json_string_value(v), err);
        if (rc)
            return rc;
    }
    return FL_OK;
}

static json_t *policies_obj(const struct fl_core *c, const struct policy_set *set, const uint8_t *marks,
                            uint8_t want, int none)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i < set->npolicies; i++)
        if (none ? marks[i] == 0 : (marks[i] & want) != 0)
            json_array_append_new(arr, policy_ref(c, policy_set_policy_name(set, i)));
    json_t *o = json_object();
    json_object_set_new(o, "policies", arr);
    return o;
}

static json_t *auth_result(const struct fl_core *c, const struct policy_set *set, json_t *info,
                           enum policy_action action, uint8_t *marks)
{
    json_t *res = json_object_get(info, "resources");
    memset(marks, 0, set->npolicies ? set->npolicies : 1);
    int denied = 0, all_allowed = json_array_size(res) > 0;
    for (size_t j = 0; j < json_array_size(res); j++) {
        enum policy_decision d =
            policy_eval_marks(set, action, json_string_value(json_array_get(res, j)), marks);
        if (d == POLICY_EXPLICIT_DENY)
            denied = 1;
        if (d != POLICY_ALLOWED)
            all_allowed = 0;
    }
    const char *decision = denied ? "EXPLICIT_DENY" : all_allowed ? "ALLOWED" : "IMPLICIT_DENY";
    json_t *echo = json_object();
    json_object_set(echo, "actionType", json_object_get(info, "actionType"));
    json_object_set(echo, "resources", res);
    json_t *denied_o = json_object();
    json_t *implicit =
        !denied && !all_allowed ? policies_obj(c, set, marks, 0, 1) : json_pack("{s:[]}", "policies");
    json_object_set_new(denied_o, "implicitDeny", implicit);
    json_object_set_new(denied_o, "explicitDeny", policies_obj(c, set, marks, POLICY_MARK_DENY, 0));
    json_t *missing = json_array();
    for (uint32_t i = 0; i < set->nmissing; i++)
        if (set->missing[i].actions & (1u << action))
            json_array_append_new(missing, json_string(set->str + set->missing[i].key_off));
    json_t *o = json_object();
    json_object_set_new(o, "authInfo", echo);
    json_object_set_new(o, "allowed", policies_obj(c, set, marks, POLICY_MARK_ALLOW, 0));
    json_object_set_new(o, "denied", denied_o);
    json_object_set_new(o, "authDecision", json_string(decision));
    json_object_set_new(o, "missingContextValues", missing);
    return o;
}

/* Inside a transaction: the default version of each policy in to_add. */
static enum fl_code add_named(struct fl_core *c, json_t *to_add, struct srcs *s, struct fl_err *err)
{
    for (size_t i = 0; i < json_array_size(to_add); i++) {
        const char *name = json_string_value(json_array_get(to_add, i));
        struct store_policy p;
        char *doc = NULL;
        enum fl_code rc = get_tx(c, name, &p, err);
        if (rc == FL_OK)
            rc = store_policy_versions_get(c->st, p.row_id, p.default_version, &doc, NULL, err);
        if (rc == FL_OK)
            rc = srcs_add(s, name, doc);
        free(doc);
        if (rc)
            return rc == FL_NOT_FOUND ? policy_not_found(name, err) : rc;
    }
    return FL_OK;
}

enum fl_code policies_test_authorization(struct fl_core *c, const struct policies_test_in *in, json_t **out,
                                         struct fl_err *err)
{
    enum policy_action actions[10];
    const char *cert_id = NULL;
    enum fl_code rc = principal_cert(c, in->principal, in->cognito_pool, &cert_id, err);
    if (rc == FL_OK)
        rc = check_auth_infos(in->auth_infos, actions, err);
    if (rc == FL_OK)
        rc = check_names_list("policyNamesToAdd", in->to_add, err);
    if (rc == FL_OK)
        rc = check_names_list("policyNamesToSkip", in->to_skip, err);
    if (rc == FL_OK && in->client_id && strlen(in->client_id) > 128)
        rc = fl_err_set(err, FL_INVALID_REQUEST, "clientId is too long (at most 128 characters)");
    if (rc)
        return rc;
    struct principal p = {0};
    snprintf(p.cert_id, sizeof(p.cert_id), "%s", cert_id);
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        rc = principal_load(c, &p, in->client_id, err);
        for (size_t i = 0; rc == FL_OK && i < json_array_size(in->to_skip); i++)
            srcs_remove(&p.policies, json_string_value(json_array_get(in->to_skip, i)));
        if (rc == FL_OK && in->to_add)
            rc = add_named(c, in->to_add, &p.policies, err);
        rc = store_end(c->st, rc, err);
    }
    struct policy_set *set = NULL;
    if (rc == FL_OK)
        rc = principal_compile(c, NULL, &p, in->client_id, NULL, &set, err);
    principal_free(&p);
    if (rc)
        return rc;
    uint8_t *marks = malloc(set->npolicies ? set->npolicies : 1);
    if (marks == NULL) {
        policy_set_free(set);
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    }
    json_t *results = json_array();
    for (size_t i = 0; i < json_array_size(in->auth_infos); i++)
        json_array_append_new(results,
                              auth_result(c, set, json_array_get(in->auth_infos, i), actions[i], marks));
    free(marks);
    policy_set_free(set);
    *out = json_object();
    json_object_set_new(*out, "authResults", results);
    return FL_OK;
}
