/*
 * pcache.c - the policy cache: compiled policy sets by (certificate id,
 * client id[, source address]), so that a device that reconnects does not
 * pay for reading and compiling its policies again (the SQL reads, JSON
 * parsing and compiling of policies_compile_for_principal are most of
 * what the plugin adds to a TLS connect).
 *
 * An entry (struct fp_pol) is also what a context holds on to: a set is
 * compiled once and shared by the cache and the contexts of its key
 * (reference counted), so caching costs a connected device only the entry
 * header. Entries only the cache holds are "idle": kept oldest first on a
 * list, at most max_idle of them and for at most the TTL.
 *
 * Invalidation is by generation counters, not by search: an authz or
 * cert_status row for a certificate bumps the counter of that
 * certificate's slot (hash of the id: a collision only costs a spurious
 * recompile), a row for everyone bumps the global counter. An entry
 * records both counters when compiled and is used only while they are
 * unchanged. The other half of freshness (rows committed but not handled
 * yet) is clients_compile's: see fleet_plugin.h.
 *
 * No SQL and no mosquitto call here; everything runs on the broker thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_plugin.h"

#define INITIAL_BUCKETS 1024u

static uint32_t key_hash(const char *cert_id, const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a over both, with a separator */
    for (const char *s = cert_id; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    h ^= 0xffu;
    h *= 16777619u;
    for (const char *s = id; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* The invalidation slot of a certificate: its id is hex SHA-256, so any
 * few characters are uniformly distributed. */
static uint32_t slot_of(const char *cert_id)
{
    uint32_t v = 0;
    for (int i = 0; i < 8 && cert_id[i]; i++) {
        char ch = cert_id[i];
        uint32_t d = ch >= '0' && ch <= '9' ? (uint32_t)(ch - '0') : (uint32_t)((ch | 0x20) - 'a' + 10);
        v = v << 4 | (d & 15u);
    }
    return v & (FP_PCACHE_SLOTS - 1);
}

static const char *pol_ip(const struct fp_pol *e)
{
    return e->key + strlen(e->key) + 1;
}

void pcache_init(struct fp_pcache *pc, int max_idle, int ttl_s)
{
    memset(pc, 0, sizeof(*pc));
    pc->max_idle = max_idle > 0 ? (uint32_t)max_idle : 0;
    pc->ttl_ms = (int64_t)(ttl_s > 0 ? ttl_s : 0) * 1000;
}

static void idle_remove(struct fp_pcache *pc, struct fp_pol *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        pc->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        pc->newest = e->older;
    e->older = e->newer = NULL;
    e->idle = 0;
    pc->nidle--;
}

static void idle_append(struct fp_plugin *p, struct fp_pol *e)
{
    struct fp_pcache *pc = &p->pcache;
    e->idle_since = plugin_mono_ms(p);
    e->older = pc->newest;
    e->newer = NULL;
    if (pc->newest)
        pc->newest->newer = e;
    else
        pc->oldest = e;
    pc->newest = e;
    e->idle = 1;
    pc->nidle++;
}

static void pol_free(struct fp_pol *e)
{
    policy_set_free(e->set);
    free(e);
}

/* Takes e out of the cache and drops the cache's reference. */
static void uncache(struct fp_plugin *p, struct fp_pol *e)
{
    struct fp_pcache *pc = &p->pcache;
    for (struct fp_pol **ep = &pc->buckets[e->hash & pc->mask]; *ep; ep = &(*ep)->next)
        if (*ep == e) {
            *ep = e->next;
            break;
        }
    e->next = NULL;
    pc->count--;
    if (e->idle)
        idle_remove(pc, e);
    e->cached = 0;
    if (--e->refs == 0)
        pol_free(e);
}

static int valid(const struct fp_pcache *pc, const struct fp_pol *e)
{
    return e->ggen == pc->ggen && e->cgen == pc->cgen[slot_of(e->cert_id)];
}

struct fp_pol *pcache_get(struct fp_plugin *p, const char *cert_id, const char *id, const char *ip)
{
    struct fp_pcache *pc = &p->pcache;
    if (pc->buckets == NULL)
        return NULL;
    if (ip == NULL)
        ip = "";
    uint32_t h = key_hash(cert_id, id);
    for (struct fp_pol *e = pc->buckets[h & pc->mask], *nx; e; e = nx) {
        nx = e->next;
        if (e->hash != h || strcmp(e->key, id) != 0 || strcmp(e->cert_id, cert_id) != 0)
            continue;
        if (!valid(pc, e)) {
            p->stats.pcache_stale++;
            uncache(p, e);
            continue;
        }
        if (e->by_ip && strcmp(pol_ip(e), ip) != 0)
            continue;
        if (e->idle)
            idle_remove(pc, e);
        e->refs++;
        return e;
    }
    return NULL;
}

static int grow(struct fp_pcache *pc)
{
    uint32_t n = pc->buckets ? (pc->mask + 1) * 2 : INITIAL_BUCKETS;
    struct fp_pol **b = calloc(n, sizeof(*b));
    if (b == NULL)
        return -1;
    if (pc->buckets) {
        /* chain order does not matter here: one entry per key is valid */
        for (uint32_t i = 0; i <= pc->mask; i++)
            for (struct fp_pol *e = pc->buckets[i], *nx; e; e = nx) {
                nx = e->next;
                e->next = b[e->hash & (n - 1)];
                b[e->hash & (n - 1)] = e;
            }
        free(pc->buckets);
    }
    pc->buckets = b;
    pc->mask = n - 1;
    return 0;
}

struct fp_pol *pcache_put(struct fp_plugin *p, const char *cert_id, const char *id, const char *ip,
                          struct policy_set *set)
{
    struct fp_pcache *pc = &p->pcache;
    if (ip == NULL)
        ip = "";
    int by_ip = (set->deps & POLICY_DEP_SOURCE_IP) != 0;
    size_t il = strlen(id), pl = by_ip ? strlen(ip) : 0;
    struct fp_pol *e = calloc(1, sizeof(*e) + il + 1 + pl + 1);
    if (e == NULL) {
        policy_set_free(set);
        return NULL;
    }
    e->set = set;
    e->refs = 1;
    e->ggen = pc->ggen;
    e->cgen = pc->cgen[slot_of(cert_id)];
    e->hash = key_hash(cert_id, id);
    e->by_ip = (uint8_t)by_ip;
    snprintf(e->cert_id, sizeof(e->cert_id), "%s", cert_id);
    memcpy(e->key, id, il + 1);
    memcpy(e->key + il + 1, ip, pl);
    if (pc->max_idle == 0)
        return e; /* no cache: the entry only carries the caller's reference */
    if ((pc->buckets == NULL || pc->count >= pc->mask + 1) && grow(pc) != 0)
        return e; /* not cached; still usable */
    /* what the new entry replaces: older entries of the key (for another
     * address only when both depend on it) */
    for (struct fp_pol *o = pc->buckets[e->hash & pc->mask], *nx; o; o = nx) {
        nx = o->next;
        if (o->hash == e->hash && strcmp(o->key, id) == 0 && strcmp(o->cert_id, cert_id) == 0 &&
            (!o->by_ip || !by_ip || strcmp(pol_ip(o), ip) == 0))
            uncache(p, o);
    }
    e->next = pc->buckets[e->hash & pc->mask];
    pc->buckets[e->hash & pc->mask] = e;
    e->cached = 1;
    e->refs++;
    pc->count++;
    return e;
}

void pcache_unref(struct fp_plugin *p, struct fp_pol *pol)
{
    if (pol == NULL)
        return;
    struct fp_pcache *pc = &p->pcache;
    if (--pol->refs == 0) {
        pol_free(pol);
        return;
    }
    if (pol->refs == 1 && pol->cached) {
        if (!valid(pc, pol)) {
            uncache(p, pol); /* of no further use */
            return;
        }
        idle_append(p, pol);
        while (pc->nidle > pc->max_idle) {
            p->stats.pcache_evicted++;
            uncache(p, pc->oldest);
        }
    }
}

void pcache_invalidate(struct fp_plugin *p, const char *cert_id)
{
    struct fp_pcache *pc = &p->pcache;
    if (cert_id) {
        pc->cgen[slot_of(cert_id)]++;
        return;
    }
    pc->ggen++;
    /* nothing cached can be used again: free the idle entries now */
    while (pc->oldest)
        uncache(p, pc->oldest);
}

size_t pcache_expire(struct fp_plugin *p)
{
    struct fp_pcache *pc = &p->pcache;
    int64_t now = plugin_mono_ms(p);
    size_t n = 0;
    while (pc->oldest && now - pc->oldest->idle_since >= pc->ttl_ms) {
        uncache(p, pc->oldest);
        n++;
    }
    return n;
}

void pcache_free_all(struct fp_plugin *p)
{
    struct fp_pcache *pc = &p->pcache;
    for (uint32_t i = 0; pc->buckets && i <= pc->mask; i++)
        while (pc->buckets[i])
            uncache(p, pc->buckets[i]);
    free(pc->buckets);
    pcache_init(pc, (int)pc->max_idle, (int)(pc->ttl_ms / 1000));
}
