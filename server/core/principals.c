/*
 * principals.c - certificates attached to things (see principals.h): the
 * principal and type checks, the exclusive-thing rule, the listings and
 * the lookups for the broker plugin and the policy engine. SQL lives in
 * store_certs.c. Must not know HTTP or MQTT.
 *
 * Decisions where AWS is silent:
 *  - a principal that is not a certificate ARN is InvalidRequestException;
 *    a certificate ARN of another region or account, or of a certificate
 *    that does not exist, is ResourceNotFoundException;
 *  - detaching a principal that is not attached succeeds (the thing and
 *    the certificate must exist);
 *  - ListPrincipalThings pages in the order the things were created.
 */
#include "principals.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certificates.h"
#include "outbox.h"
#include "page.h"
#include "store.h"
#include "store_certs.h"
#include "things.h"
#include "validate.h"

/* ---- helpers --------------------------------------------------------------- */

/* The certificate id a principal names, checked for form only. */
static enum fl_code principal_id(struct fl_core *c, const char *principal, char id[65], struct fl_err *err)
{
    if (principal == NULL || *principal == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Missing required parameter: principal (x-amzn-principal)");
    if (strlen(principal) > 2048)
        return fl_err_set(err, FL_INVALID_REQUEST, "The principal is longer than 2048 characters");
    struct fl_err ignore;
    if (certificates_id_from_arn(c, principal, id, &ignore) == FL_OK)
        return FL_OK;
    if (strncmp(principal, "arn:", 4) == 0 && strstr(principal, ":cert/") != NULL)
        return fl_err_set(err, FL_NOT_FOUND, "Certificate %.300s does not exist in this account and region",
                          principal);
    return fl_err_set(err, FL_INVALID_REQUEST,
                      "Invalid principal %.300s: only certificate ARNs (arn:aws:iot:%s:%s:cert/ID) can be "
                      "attached to things",
                      principal, c->cfg.region, c->cfg.account_id);
}

/* thingPrincipalType: *exclusive = 1, 0, or -1 when absent. */
static enum fl_code principal_type(const char *type, int *exclusive, struct fl_err *err)
{
    if (type == NULL)
        *exclusive = -1;
    else if (strcmp(type, PRINCIPALS_EXCLUSIVE) == 0)
        *exclusive = 1;
    else if (strcmp(type, PRINCIPALS_NON_EXCLUSIVE) == 0)
        *exclusive = 0;
    else
        return fl_err_set(
            err, FL_INVALID_REQUEST,
            "1 validation error detected: Value '%.64s' at 'thingPrincipalType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [EXCLUSIVE_THING, NON_EXCLUSIVE_THING]",
            type);
    return FL_OK;
}

static const char *type_name(int exclusive)
{
    return exclusive ? PRINCIPALS_EXCLUSIVE : PRINCIPALS_NON_EXCLUSIVE;
}

static enum fl_code check_max(int max_results, struct fl_err *err)
{
    if (max_results < 1 || max_results > 250)
        return fl_err_set(err, FL_INVALID_REQUEST, "maxResults must be between 1 and 250");
    return FL_OK;
}

/* ---- Attach / Detach ------------------------------------------------------------ */

static enum fl_code attach_tx(struct fl_core *c, const char *thing_name, const char *id, int exclusive,
                              struct fl_err *err)
{
    int64_t row = 0;
    enum fl_code rc = things_id_by_name_tx(c, thing_name, &row, err);
    if (rc == FL_OK)
        rc = certificates_exists_tx(c, id, err);
    if (rc)
        return rc;
    int64_t other_row = 0;
    int other_excl = 0;
    char other[129], arn[320];
    core_arn(c, arn, sizeof(arn), "cert", id);
    rc = store_certs_principal_other(c->st, id, row, &other_row, other, sizeof(other), &other_excl, err);
    if (rc == FL_OK) {
        if (other_excl)
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "Principal %s is attached to thing %s as EXCLUSIVE_THING; detach it first", arn,
                              other);
        if (exclusive)
            return fl_err_set(
                err, FL_INVALID_REQUEST,
                "Principal %s is already attached to thing %s, so it cannot be attached to %s as "
                "EXCLUSIVE_THING",
                arn, other, thing_name);
    } else if (rc != FL_NOT_FOUND) {
        return rc;
    }
    rc = store_certs_principal_put(c->st, row, id, arn, exclusive, core_now_ms(c), err);
    /* the thing variables of the certificate's clients now resolve */
    if (rc == FL_OK)
        rc = outbox_append_tx(c, OUTBOX_AUTHZ, id, NULL, NULL, 0, 0, 0, err);
    return rc;
}

struct notify_ctx {
    struct fl_core *c;
    char last[65];
    struct fl_err *err;
};

static enum fl_code notify_cb(void *ctx, const struct store_principal *p)
{
    struct notify_ctx *n = ctx;
    snprintf(n->last, sizeof(n->last), "%s", p->certificate_id);
    return outbox_append_tx(n->c, OUTBOX_AUTHZ, p->certificate_id, NULL, NULL, 0, 0, 0, n->err);
}

enum fl_code principals_notify_authz_tx(struct fl_core *c, int64_t thing_row, struct fl_err *err)
{
    struct notify_ctx n = {.c = c, .err = err};
    enum fl_code rc;
    int count = 0;
    do {
        count = 0;
        rc = store_certs_principal_page_thing(c->st, thing_row, -1, n.last, 100, notify_cb, &n, &count, err);
    } while (rc == FL_OK && count == 100);
    return rc;
}

enum fl_code principals_attach(struct fl_core *c, const char *thing_name, const char *principal,
                               const char *type, struct fl_err *err)
{
    char id[65];
    int exclusive = 0;
    enum fl_code rc = validate_name("thingName", thing_name, err);
    if (rc == FL_OK)
        rc = principal_type(type, &exclusive, err);
    if (rc == FL_OK)
        rc = principal_id(c, principal, id, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = attach_tx(c, thing_name, id, exclusive == 1, err);
    return store_end(c->st, rc, err);
}

enum fl_code principals_detach(struct fl_core *c, const char *thing_name, const char *principal,
                               struct fl_err *err)
{
    char id[65];
    enum fl_code rc = validate_name("thingName", thing_name, err);
    if (rc == FL_OK)
        rc = principal_id(c, principal, id, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    int64_t row = 0;
    rc = things_id_by_name_tx(c, thing_name, &row, err);
    if (rc == FL_OK)
        rc = certificates_exists_tx(c, id, err);
    if (rc == FL_OK)
        rc = store_certs_principal_delete(c->st, row, id, err);
    if (rc == FL_OK)
        rc = outbox_append_tx(c, OUTBOX_AUTHZ, id, NULL, NULL, 0, 0, 0, err);
    return store_end(c->st, rc, err);
}

/* ---- listings ---------------------------------------------------------------------- */

struct list_ctx {
    struct fl_core *c;
    json_t *items;
    int v2;
    int limit, n, more;
    char last_cert[65];
    int64_t last_row;
};

/* 0 for the look-ahead row beyond the page. */
static int take(struct list_ctx *l, const struct store_principal *p)
{
    if (l->n == l->limit) {
        l->more = 1;
        return 0;
    }
    l->n++;
    snprintf(l->last_cert, sizeof(l->last_cert), "%s", p->certificate_id);
    l->last_row = p->thing_row;
    return 1;
}

static enum fl_code thing_principal_cb(void *ctx, const struct store_principal *p)
{
    struct list_ctx *l = ctx;
    if (!take(l, p))
        return FL_OK;
    char arn[320];
    core_arn(l->c, arn, sizeof(arn), "cert", p->certificate_id);
    if (!l->v2) {
        json_array_append_new(l->items, json_string(arn));
        return FL_OK;
    }
    json_t *o = json_object();
    json_object_set_new(o, "principal", json_string(arn));
    json_object_set_new(o, "thingPrincipalType", json_string(type_name(p->exclusive)));
    json_array_append_new(l->items, o);
    return FL_OK;
}

static enum fl_code principal_thing_cb(void *ctx, const struct store_principal *p)
{
    struct list_ctx *l = ctx;
    if (!take(l, p))
        return FL_OK;
    if (!l->v2) {
        json_array_append_new(l->items, json_string(p->thing_name));
        return FL_OK;
    }
    json_t *o = json_object();
    json_object_set_new(o, "thingName", json_string(p->thing_name));
    json_object_set_new(o, "thingPrincipalType", json_string(type_name(p->exclusive)));
    json_array_append_new(l->items, o);
    return FL_OK;
}

static void finish(struct list_ctx *l, const char *field, const char *resume_key, json_t **out)
{
    *out = json_object();
    json_object_set_new(*out, field, l->items);
    if (l->more) {
        char tok[PAGE_TOKEN_MAX];
        page_token_encode(resume_key, tok);
        json_object_set_new(*out, "nextToken", json_string(tok));
    }
}

enum fl_code principals_list_for_thing(struct fl_core *c, const char *thing_name, int v2,
                                       const char *type_filter, int max_results, const char *next_token,
                                       json_t **out, struct fl_err *err)
{
    int filter = -1;
    char after[65] = "";
    enum fl_code rc = validate_name("thingName", thing_name, err);
    if (rc == FL_OK)
        rc = check_max(max_results, err);
    if (rc == FL_OK)
        rc = principal_type(type_filter, &filter, err);
    if (rc == FL_OK && next_token && *next_token) {
        char key[128];
        struct fl_err ignore;
        rc = page_token_decode(next_token, key, sizeof(key), err);
        if (rc == FL_OK && certificates_check_id("nextToken", key, after, &ignore) != FL_OK)
            rc = fl_err_set(err, FL_INVALID_REQUEST, "The nextToken is invalid");
    }
    if (rc)
        return rc;
    struct list_ctx l = {.c = c, .items = json_array(), .v2 = v2, .limit = max_results};
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        int64_t row = 0;
        int count = 0;
        rc = things_id_by_name_tx(c, thing_name, &row, err);
        if (rc == FL_OK)
            rc = store_certs_principal_page_thing(c->st, row, filter, after, max_results + 1,
                                                  thing_principal_cb, &l, &count, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc) {
        json_decref(l.items);
        return rc;
    }
    finish(&l, v2 ? "thingPrincipalObjects" : "principals", l.last_cert, out);
    return FL_OK;
}

enum fl_code principals_list_things(struct fl_core *c, const char *principal, int v2, const char *type_filter,
                                    int max_results, const char *next_token, json_t **out, struct fl_err *err)
{
    int filter = -1;
    int64_t after = 0;
    char id[65];
    enum fl_code rc = check_max(max_results, err);
    if (rc == FL_OK)
        rc = principal_type(type_filter, &filter, err);
    if (rc == FL_OK && next_token && *next_token) {
        char key[32], *end = NULL;
        rc = page_token_decode(next_token, key, sizeof(key), err);
        if (rc == FL_OK) {
            long long v = strtoll(key, &end, 10);
            if (end == key || *end != '\0' || v < 0)
                rc = fl_err_set(err, FL_INVALID_REQUEST, "The nextToken is invalid");
            after = v;
        }
    }
    if (rc == FL_OK)
        rc = principal_id(c, principal, id, err);
    if (rc)
        return rc;
    struct list_ctx l = {.c = c, .items = json_array(), .v2 = v2, .limit = max_results};
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        int count = 0;
        rc = certificates_exists_tx(c, id, err);
        if (rc == FL_OK)
            rc = store_certs_principal_page_cert(c->st, id, filter, after, max_results + 1,
                                                 principal_thing_cb, &l, &count, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc) {
        json_decref(l.items);
        return rc;
    }
    char key[32];
    snprintf(key, sizeof(key), "%" PRId64, l.last_row);
    finish(&l, v2 ? "principalThingObjects" : "things", key, out);
    return FL_OK;
}

/* ---- lookups ------------------------------------------------------------------------- */

struct walk_ctx {
    principals_thing_fn fn;
    void *ctx;
    int64_t last_row;
};

static enum fl_code walk_cb(void *ctx, const struct store_principal *p)
{
    struct walk_ctx *w = ctx;
    w->last_row = p->thing_row;
    return w->fn(w->ctx, p->thing_name, p->exclusive);
}

enum fl_code principals_things_for_certificate_tx(struct fl_core *c, const char *certificate_id,
                                                  principals_thing_fn fn, void *ctx, struct fl_err *err)
{
    char id[65];
    enum fl_code rc = certificates_check_id("certificateId", certificate_id, id, err);
    if (rc)
        return rc;
    /* In batches, so a certificate attached to many things needs no
     * unbounded statement. */
    enum { BATCH = 100 };
    struct walk_ctx w = {.fn = fn, .ctx = ctx};
    int count;
    do {
        count = 0;
        rc = store_certs_principal_page_cert(c->st, id, -1, w.last_row, BATCH, walk_cb, &w, &count, err);
    } while (rc == FL_OK && count == BATCH);
    return rc;
}

enum fl_code principals_things_for_certificate(struct fl_core *c, const char *certificate_id,
                                               principals_thing_fn fn, void *ctx, struct fl_err *err)
{
    enum fl_code rc = store_begin_read(c->st, err);
    if (rc)
        return rc;
    rc = principals_things_for_certificate_tx(c, certificate_id, fn, ctx, err);
    return store_end(c->st, rc, err);
}

enum fl_code principals_is_attached_tx(struct fl_core *c, const char *certificate_id, const char *thing_name,
                                       int *attached, struct fl_err *err)
{
    char id[65];
    *attached = 0;
    enum fl_code rc = certificates_check_id("certificateId", certificate_id, id, err);
    if (rc == FL_OK)
        rc = validate_name("thingName", thing_name, err);
    if (rc == FL_OK)
        rc = store_certs_principal_by_name(c->st, id, thing_name, attached, err);
    return rc;
}

enum fl_code principals_is_attached(struct fl_core *c, const char *certificate_id, const char *thing_name,
                                    int *attached, struct fl_err *err)
{
    /* One statement: a consistent read without BEGIN. */
    return principals_is_attached_tx(c, certificate_id, thing_name, attached, err);
}
