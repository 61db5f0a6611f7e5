/*
 * clients.c - the per-client context table of the plugin: a hash keyed by
 * client id whose chains hold, newest first, the current connection of an
 * id and the ones it superseded or that went offline (wills and offline
 * persistent sessions are checked against those after DISCONNECT); the
 * compile of a context's policies; and the budgeted re-check of contexts
 * that a certificate or policy change made stale.
 *
 * Knows the broker only as opaque connection pointers: no mosquitto call
 * happens here, so the unit tests drive it directly.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "certificates.h"
#include "fleet_plugin.h"
#include "policies.h"

#define INITIAL_BUCKETS 1024u

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

int clients_id_ok(const char *id)
{
    if (id == NULL || *id == '\0')
        return 0;
    size_t n = 0;
    for (const char *s = id; *s; s++, n++)
        if (*s == '+' || *s == '#' || *s == '/' || n >= FP_CLIENT_ID_MAX)
            return 0;
    return 1;
}

struct fp_ctx *clients_find(const struct fp_clients *t, const void *conn, const char *id)
{
    if (t->buckets == NULL || id == NULL)
        return NULL;
    uint32_t h = hash_id(id);
    for (struct fp_ctx *c = t->buckets[h & t->mask]; c; c = c->next)
        if (c->conn == conn && c->hash == h && strcmp(c->client_id, id) == 0)
            return c;
    return NULL;
}

struct fp_ctx *clients_live(const struct fp_clients *t, const char *id)
{
    if (t->buckets == NULL || id == NULL)
        return NULL;
    uint32_t h = hash_id(id);
    for (struct fp_ctx *c = t->buckets[h & t->mask]; c; c = c->next)
        if (c->state == FP_LIVE && c->hash == h && strcmp(c->client_id, id) == 0)
            return c;
    return NULL;
}

struct fp_ctx *clients_newest(const struct fp_clients *t, const char *id)
{
    if (t->buckets == NULL || id == NULL)
        return NULL;
    uint32_t h = hash_id(id);
    for (struct fp_ctx *c = t->buckets[h & t->mask]; c; c = c->next)
        if (c->hash == h && strcmp(c->client_id, id) == 0)
            return c;
    return NULL;
}

/* Doubles the bucket array (keeping each chain's newest-first order). */
static int grow(struct fp_clients *t)
{
    uint32_t n = t->buckets ? (t->mask + 1) * 2 : INITIAL_BUCKETS;
    struct fp_ctx **b = calloc(n, sizeof(*b));
    if (b == NULL)
        return -1;
    if (t->buckets) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            /* walk each old chain oldest-first by reversing it, so pushing
             * at the head keeps newest first */
            struct fp_ctx *rev = NULL, *c = t->buckets[i];
            while (c) {
                struct fp_ctx *nx = c->next;
                c->next = rev;
                rev = c;
                c = nx;
            }
            while (rev) {
                struct fp_ctx *nx = rev->next;
                rev->next = b[rev->hash & (n - 1)];
                b[rev->hash & (n - 1)] = rev;
                rev = nx;
            }
        }
        free(t->buckets);
    }
    t->buckets = b;
    t->mask = n - 1;
    return 0;
}

struct fp_ctx *clients_add(struct fp_plugin *p, const void *conn, const char *id)
{
    struct fp_clients *t = &p->clients;
    if ((t->buckets == NULL || t->count >= t->mask + 1) && grow(t) != 0)
        return NULL;
    size_t len = strlen(id);
    struct fp_ctx *c = calloc(1, sizeof(*c) + len + 1);
    if (c == NULL)
        return NULL;
    memcpy(c->client_id, id, len + 1);
    c->conn = conn;
    c->hash = hash_id(id);
    c->state = FP_LIVE;
    c->gen = ++p->gen;
    c->next = t->buckets[c->hash & t->mask];
    t->buckets[c->hash & t->mask] = c;
    t->count++;
    return c;
}

void clients_retire(struct fp_plugin *p, struct fp_ctx *ctx, int64_t expire_ms)
{
    if (ctx->state == FP_GONE) {
        if (expire_ms < ctx->expire_ms)
            ctx->expire_ms = expire_ms;
        return;
    }
    if (ctx->state == FP_LIVE && !ctx->internal && p->clients.live > 0)
        p->clients.live--;
    ctx->state = FP_GONE;
    ctx->expire_ms = expire_ms;
    ctx->gnext = p->clients.gone;
    p->clients.gone = ctx;
}

static void ctx_free(struct fp_plugin *p, struct fp_ctx *ctx)
{
    if (ctx->kick && p->kicks_pending)
        p->kicks_pending--;
    if (ctx->stale && p->stale_pending)
        p->stale_pending--;
    pcache_unref(p, ctx->pol);
    free(ctx);
}

size_t clients_sweep(struct fp_plugin *p, int force)
{
    struct fp_clients *t = &p->clients;
    int64_t now = plugin_mono_ms(p);
    size_t freed = 0;
    struct fp_ctx **gp = &t->gone;
    while (*gp) {
        struct fp_ctx *c = *gp;
        if (!force && c->expire_ms > now) {
            gp = &c->gnext;
            continue;
        }
        *gp = c->gnext;
        for (struct fp_ctx **cp = &t->buckets[c->hash & t->mask]; *cp; cp = &(*cp)->next)
            if (*cp == c) {
                *cp = c->next;
                break;
            }
        t->count--;
        ctx_free(p, c);
        freed++;
    }
    return freed;
}

void clients_free_all(struct fp_plugin *p)
{
    struct fp_clients *t = &p->clients;
    if (t->buckets) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            struct fp_ctx *c = t->buckets[i];
            while (c) {
                struct fp_ctx *nx = c->next;
                pcache_unref(p, c->pol);
                free(c);
                c = nx;
            }
        }
        free(t->buckets);
    }
    memset(t, 0, sizeof(*t));
}

int clients_each(struct fp_plugin *p, clients_fn fn, void *arg)
{
    struct fp_clients *t = &p->clients;
    if (t->buckets == NULL)
        return 0;
    for (uint32_t i = 0; i <= t->mask; i++)
        for (struct fp_ctx *c = t->buckets[i], *nx; c; c = nx) {
            nx = c->next;
            int r = fn(p, c, arg);
            if (r)
                return r;
        }
    return 0;
}

size_t clients_ctx_bytes(const struct fp_ctx *ctx)
{
    size_t n = malloc_usable_size((void *)ctx);
    if (ctx->pol)
        n += malloc_usable_size(ctx->pol) + malloc_usable_size(ctx->pol->set);
    return n;
}

void clients_set_pol(struct fp_plugin *p, struct fp_ctx *ctx, struct fp_pol *pol)
{
    struct fp_pol *old = ctx->pol;
    ctx->pol = pol;
    ctx->set = pol ? pol->set : NULL;
    pcache_unref(p, old);
}

static enum fl_code connect_denied(const char *id, struct fl_err *err)
{
    return fl_err_set(err, FL_ACCESS_DENIED, "iot:Connect is not allowed for client id %s", id);
}

enum fl_code clients_compile(struct fp_plugin *p, const char *cert_id, const char *id, const char *ip,
                             int use_cache, struct fp_pol **out, struct fl_err *err)
{
    *out = NULL;
    size_t idl = strlen(id);
    if (use_cache && p->pcache.max_idle) {
        struct fp_pol *e = pcache_get(p, cert_id, id, ip);
        /* a hit is only as fresh as the last outbox row handled; a change
         * still waiting there may concern it (fleet_plugin.h) */
        if (e && !control_cb_settled(p)) {
            p->stats.pcache_unsettled++;
            pcache_unref(p, e);
            e = NULL;
        }
        if (e) {
            p->stats.pcache_hits++;
            if (policy_eval_name(e->set, POLICY_CONNECT, id, idl, NULL) != POLICY_ALLOWED) {
                pcache_unref(p, e);
                return connect_denied(id, err);
            }
            *out = e;
            return FL_OK;
        }
        p->stats.pcache_misses++;
    }
    struct policy_set *set = NULL;
    enum fl_code rc =
        policies_compile_for_principal_with(p->core, p->docs, cert_id, id, ip && *ip ? ip : NULL, &set, err);
    if (rc)
        return rc;
    if (policy_eval_name(set, POLICY_CONNECT, id, idl, NULL) != POLICY_ALLOWED) {
        policy_set_free(set);
        return connect_denied(id, err);
    }
    *out = pcache_put(p, cert_id, id, ip, set);
    if (*out == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    return FL_OK;
}

static void mark_stale(struct fp_plugin *p, struct fp_ctx *c)
{
    if (c->stale || c->internal)
        return;
    c->stale = 1;
    p->stale_pending++;
}

size_t clients_mark_stale(struct fp_plugin *p, const char *cert_id)
{
    struct fp_clients *t = &p->clients;
    size_t n = 0;
    for (uint32_t i = 0; t->buckets && i <= t->mask; i++)
        for (struct fp_ctx *c = t->buckets[i]; c; c = c->next)
            if (!c->internal && (cert_id == NULL || strcmp(c->cert_id, cert_id) == 0)) {
                mark_stale(p, c);
                n++;
            }
    return n;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

size_t clients_mark_stale_set(struct fp_plugin *p, char (*targets)[65], size_t n, int all)
{
    if (all)
        return clients_mark_stale(p, NULL);
    if (n == 0)
        return 0;
    if (n == 1)
        return clients_mark_stale(p, targets[0]);
    qsort(targets, n, sizeof(targets[0]), cmp_id);
    struct fp_clients *t = &p->clients;
    size_t marked = 0;
    for (uint32_t i = 0; t->buckets && i <= t->mask; i++)
        for (struct fp_ctx *c = t->buckets[i]; c; c = c->next)
            if (!c->internal && bsearch(c->cert_id, targets, n, sizeof(targets[0]), cmp_id)) {
                mark_stale(p, c);
                marked++;
            }
    return marked;
}

/* Marks ctx to be disconnected by the next TICK, with SERVER_INITIATED. */
static void mark_kick(struct fp_plugin *p, struct fp_ctx *ctx)
{
    if (ctx->state != FP_LIVE || ctx->internal || ctx->kick)
        return;
    ctx->kick = 1;
    ctx->reason = FP_R_SERVER_INITIATED;
    p->kicks_pending++;
}

/* Re-checks one stale context. FL_UNAVAILABLE leaves it stale. */
static enum fl_code refresh_one(struct fp_plugin *p, struct fp_ctx *ctx)
{
    struct fl_err err;
    fl_err_clear(&err);
    int usable = 0;
    enum fl_code rc = certificates_is_usable(p->core, ctx->cert_id, &usable, &err);
    if (rc == FL_UNAVAILABLE)
        return rc;
    struct fp_pol *pol = NULL;
    if (rc == FL_OK && usable) {
        /* stale because something changed: compile (and cache) afresh */
        rc = clients_compile(p, ctx->cert_id, ctx->client_id, ctx->ip, 0, &pol, &err);
        if (rc == FL_UNAVAILABLE)
            return rc;
    } else if (rc == FL_OK) {
        rc = FL_CERTIFICATE_STATE;
        fl_err_set(&err, rc, "certificate %s is no longer ACTIVE (or its CA is not)", ctx->cert_id);
    }
    /* Decision: a context whose certificate or policies no longer check
     * out does not keep its old rights while it waits: it denies
     * everything at once and is disconnected. */
    clients_set_pol(p, ctx, pol);
    if (rc) {
        core_log(p->core, FL_LOG_INFO, "client %s: %s; disconnecting", ctx->client_id, err.msg);
        mark_kick(p, ctx);
    }
    p->stats.recompiles++;
    return FL_OK;
}

enum fl_code clients_refresh_stale(struct fp_plugin *p, int64_t budget_ms)
{
    struct fp_clients *t = &p->clients;
    if (p->stale_pending == 0 || t->buckets == NULL)
        return FL_OK;
    int64_t start = plugin_mono_ms(p);
    uint32_t n = t->mask + 1, i = p->stale_bucket % n, seen = 0;
    int work = 0;
    for (; seen < n && p->stale_pending > 0; seen++, i = (i + 1) & t->mask) {
        for (struct fp_ctx *c = t->buckets[i]; c; c = c->next) {
            if (!c->stale)
                continue;
            if (c->internal || (c->state == FP_GONE && (!c->durable || c->set == NULL))) {
                c->stale = 0; /* nothing to protect: it is going away */
                p->stale_pending--;
                continue;
            }
            enum fl_code rc = refresh_one(p, c);
            if (rc) {
                p->stale_bucket = i;
                return rc;
            }
            c->stale = 0;
            p->stale_pending--;
            work++;
        }
        /* the budget is checked between buckets, so a chain is done whole */
        if (work && plugin_mono_ms(p) - start >= budget_ms) {
            p->stale_bucket = (i + 1) & t->mask;
            return FL_OK;
        }
    }
    p->stale_bucket = i;
    if (seen == n)
        p->stale_pending = 0; /* a whole pass: every stale context was handled */
    return FL_OK;
}
