/*
 * policy_eval.c - evaluation of a compiled policy set (see policy_eval.h).
 *
 * Everything here runs per MQTT message in the broker, so nothing here
 * allocates, recurses or takes a lock. The subject of a match may be split
 * in up to three pieces (ARN prefix, "topic/", the topic itself) so that
 * the broker never has to build the ARN it checks.
 */
#include "policy_eval.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *kind;  /* NULL: the resource is "*" */
    const char *slash; /* kind + "/" */
    uint8_t kind_id;   /* enum policy_kind */
} actions[POLICY_ACTION_COUNT] = {
    [POLICY_CONNECT] = {"iot:Connect", "client", "client/", POLICY_KIND_CLIENT},
    [POLICY_PUBLISH] = {"iot:Publish", "topic", "topic/", POLICY_KIND_TOPIC},
    [POLICY_SUBSCRIBE] = {"iot:Subscribe", "topicfilter", "topicfilter/", POLICY_KIND_TOPICFILTER},
    [POLICY_RECEIVE] = {"iot:Receive", "topic", "topic/", POLICY_KIND_TOPIC},
    [POLICY_RETAIN_PUBLISH] = {"iot:RetainPublish", "topic", "topic/", POLICY_KIND_TOPIC},
    [POLICY_GET_RETAINED_MESSAGE] = {"iot:GetRetainedMessage", "topic", "topic/", POLICY_KIND_TOPIC},
    [POLICY_LIST_RETAINED_MESSAGES] = {"iot:ListRetainedMessages", NULL, NULL, POLICY_KIND_NONE},
    [POLICY_GET_THING_SHADOW] = {"iot:GetThingShadow", "thing", "thing/", POLICY_KIND_THING},
    [POLICY_UPDATE_THING_SHADOW] = {"iot:UpdateThingShadow", "thing", "thing/", POLICY_KIND_THING},
    [POLICY_DELETE_THING_SHADOW] = {"iot:DeleteThingShadow", "thing", "thing/", POLICY_KIND_THING},
    [POLICY_LIST_NAMED_SHADOWS_FOR_THING] = {"iot:ListNamedShadowsForThing", "thing", "thing/",
                                             POLICY_KIND_THING},
    [POLICY_DESCRIBE_JOB_EXECUTION] = {"iot:DescribeJobExecution", "thing", "thing/", POLICY_KIND_THING},
    [POLICY_GET_PENDING_JOB_EXECUTIONS] = {"iot:GetPendingJobExecutions", "thing", "thing/",
                                           POLICY_KIND_THING},
    [POLICY_START_NEXT_PENDING_JOB_EXECUTION] = {"iot:StartNextPendingJobExecution", "thing", "thing/",
                                                 POLICY_KIND_THING},
    [POLICY_UPDATE_JOB_EXECUTION] = {"iot:UpdateJobExecution", "thing", "thing/", POLICY_KIND_THING},
    [POLICY_ASSUME_ROLE_WITH_CERTIFICATE] = {"iot:AssumeRoleWithCertificate", "rolealias", "rolealias/",
                                             POLICY_KIND_ROLEALIAS},
};

/* "<kind>/" by enum policy_kind */
static const char *const kind_slash[] = {
    [POLICY_KIND_NONE] = NULL,      [POLICY_KIND_CLIENT] = "client/",
    [POLICY_KIND_TOPIC] = "topic/", [POLICY_KIND_TOPICFILTER] = "topicfilter/",
    [POLICY_KIND_THING] = "thing/", [POLICY_KIND_ROLEALIAS] = "rolealias/",
};

const char *policy_action_name(enum policy_action a)
{
    return (unsigned)a < POLICY_ACTION_COUNT ? actions[a].name : NULL;
}

const char *policy_action_resource_kind(enum policy_action a)
{
    return (unsigned)a < POLICY_ACTION_COUNT ? actions[a].kind : NULL;
}

/* ---- matching ----------------------------------------------------------- */

/* The string a pattern is matched against, as up to three pieces. */
struct subj {
    const char *p[3];
    size_t n[3];
    size_t len;
};

static inline unsigned char at(const struct subj *s, size_t i)
{
    if (i < s->n[0])
        return (unsigned char)s->p[0][i];
    i -= s->n[0];
    if (i < s->n[1])
        return (unsigned char)s->p[1][i];
    return (unsigned char)s->p[2][i - s->n[1]];
}

/* The byte at i of s; flat: s is its first piece alone. */
static inline __attribute__((always_inline)) unsigned char subj_at(const struct subj *s, int flat, size_t i)
{
    return flat ? (unsigned char)s->p[0][i] : at(s, i);
}

/* Index after the character starting at i: UTF-8 continuation bytes belong
 * to the character before them, so '?' and '*' never split one. */
static inline __attribute__((always_inline)) size_t next_char(const struct subj *s, int flat, size_t i)
{
    i++;
    while (i < s->len && (subj_at(s, flat, i) & 0xC0) == 0x80)
        i++;
    return i;
}

/* Iterative glob with single-star backtracking: on a mismatch, the last
 * '*' absorbs one more character and matching resumes after it. Earlier
 * stars never need revisiting, so the cost is O(pattern x subject). flat:
 * s is one piece; glob() and glob_flat() below each inline this with flat
 * constant, so the broker's per-message case (one contiguous subject) pays
 * no piece lookups. */
static inline __attribute__((always_inline)) int glob_in(const char *p, size_t pn, const struct subj *s,
                                                         int flat)
{
    size_t pi = 0, si = 0, sn = s->len;
    size_t star_p = (size_t)-1, star_s = 0;
    while (si < sn) {
        if (pi < pn) {
            unsigned char c = (unsigned char)p[pi];
            if (c == '*') {
                star_p = ++pi;
                star_s = si;
                continue;
            }
            if (c == '?') {
                pi++;
                si = next_char(s, flat, si);
                continue;
            }
            size_t adv = 1;
            if (c == '\\' && pi + 1 < pn) {
                c = (unsigned char)p[pi + 1];
                adv = 2;
            }
            if (c == subj_at(s, flat, si)) {
                pi += adv;
                si++;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return 0;
        pi = star_p;
        star_s = next_char(s, flat, star_s);
        si = star_s;
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

static int glob(const char *p, size_t pn, const struct subj *s)
{
    return glob_in(p, pn, s, 0);
}

static int glob_flat(const char *p, size_t pn, const char *s, size_t sn)
{
    const struct subj one = {{s, NULL, NULL}, {sn, 0, 0}, sn};
    return glob_in(p, pn, &one, 1);
}

int policy_glob_match(const char *pat, size_t pat_len, const char *s, size_t s_len)
{
    return glob_flat(pat, pat_len, s, s_len);
}

void policy_pat_classify(const char *str, uint32_t arn_prefix_len, struct policy_pat *pt)
{
    const char *p = str + pt->off;
    pt->kind = POLICY_KIND_NONE;
    pt->head = 0;
    pt->lit = 0;
    if (pt->len < arn_prefix_len || memcmp(p, str, arn_prefix_len) != 0)
        return;
    for (unsigned k = POLICY_KIND_CLIENT; k <= POLICY_KIND_ROLEALIAS; k++) {
        size_t kl = strlen(kind_slash[k]);
        if (pt->len - arn_prefix_len < kl || memcmp(p + arn_prefix_len, kind_slash[k], kl) != 0)
            continue;
        /* the ARN prefix of the set is literal text (no '*', '?', '\\') */
        if (arn_prefix_len + kl > UINT8_MAX)
            return; /* a region or account no deployment has: match whole */
        pt->kind = (uint8_t)k;
        pt->head = (uint8_t)(arn_prefix_len + kl);
        size_t lit = 0;
        for (const char *r = p + pt->head; lit < pt->len - pt->head && lit < UINT16_MAX; lit++)
            if (r[lit] == '*' || r[lit] == '?' || r[lit] == '\\')
                break;
        pt->lit = (uint16_t)lit;
        return;
    }
}

/* A precompiled pattern against a name of kind (policy_eval_name). */
static inline int pat_name(const struct policy_set *set, const struct policy_pat *pt, unsigned kind,
                           const char *name, size_t nl, const struct subj *s)
{
    if (pt->kind == POLICY_KIND_NONE)
        return glob(set->str + pt->off, pt->len, s);
    if (pt->kind != kind)
        return 0;
    const char *r = set->str + pt->off + pt->head;
    size_t rl = pt->len - pt->head, lit = pt->lit;
    if (nl < lit || memcmp(name, r, lit) != 0)
        return 0;
    if (lit == rl)
        return nl == lit;
    return glob_flat(r + lit, rl - lit, name + lit, nl - lit);
}

static int stmt_applies(const struct policy_set *set, const struct policy_stmt *st, const struct subj *s)
{
    int hit = st->any_resource;
    for (uint32_t i = 0; !hit && i < st->res_count; i++) {
        const struct policy_pat *pt = &set->pats[st->res_first + i];
        hit = glob(set->str + pt->off, pt->len, s);
    }
    return st->not_resource ? !hit : hit;
}

/* stmt_applies for policy_eval_name: name (of kind) is s->p[2]. */
static int stmt_applies_name(const struct policy_set *set, const struct policy_stmt *st, unsigned kind,
                             const struct subj *s)
{
    int hit = st->any_resource;
    for (uint32_t i = 0; !hit && i < st->res_count; i++)
        hit = pat_name(set, &set->pats[st->res_first + i], kind, s->p[2], s->n[2], s);
    return st->not_resource ? !hit : hit;
}

/* by_name: s->p[2] is a name of the action's kind (policy_eval_name), and
 * precompiled patterns may skip the ARN. */
static enum policy_decision eval_subj(const struct policy_set *set, enum policy_action action,
                                      const struct subj *s, int by_name, int *policy)
{
    if (policy)
        *policy = -1;
    if (set == NULL || (unsigned)action >= POLICY_ACTION_COUNT)
        return POLICY_IMPLICIT_DENY;
    uint32_t bit = 1u << action;
    unsigned kind = actions[action].kind_id;
    /* Deny statements come first: the first that applies decides; an Allow
     * can only decide once no Deny applies. */
    for (uint32_t i = 0; i < set->nstmts; i++) {
        const struct policy_stmt *st = &set->stmts[i];
        if (!(st->actions & bit))
            continue;
        if (by_name ? stmt_applies_name(set, st, kind, s) : stmt_applies(set, st, s)) {
            if (policy)
                *policy = (int)st->policy;
            return st->deny ? POLICY_EXPLICIT_DENY : POLICY_ALLOWED;
        }
    }
    return POLICY_IMPLICIT_DENY;
}

enum policy_decision policy_eval(const struct policy_set *set, enum policy_action action,
                                 const char *resource, int *policy)
{
    size_t n = resource ? strlen(resource) : 0;
    struct subj s = {{resource ? resource : "", "", ""}, {n, 0, 0}, n};
    return eval_subj(set, action, &s, 0, policy);
}

enum policy_decision policy_eval_name(const struct policy_set *set, enum policy_action action,
                                      const char *name, size_t name_len, int *policy)
{
    if (set == NULL || (unsigned)action >= POLICY_ACTION_COUNT)
        return eval_subj(NULL, action, NULL, 0, policy);
    const char *kind = actions[action].kind;
    if (kind == NULL) {
        struct subj star = {{"*", "", ""}, {1, 0, 0}, 1};
        return eval_subj(set, action, &star, 0, policy);
    }
    const char *k = actions[action].slash;
    size_t kl = strlen(k);
    if (name == NULL)
        name_len = 0;
    struct subj s = {{set->str, k, name ? name : ""}, {set->arn_prefix_len, kl, name_len}, 0};
    s.len = s.n[0] + s.n[1] + s.n[2];
    return eval_subj(set, action, &s, 1, policy);
}

enum policy_decision policy_eval_marks(const struct policy_set *set, enum policy_action action,
                                       const char *resource, uint8_t *marks)
{
    if (set == NULL || (unsigned)action >= POLICY_ACTION_COUNT)
        return POLICY_IMPLICIT_DENY;
    size_t n = resource ? strlen(resource) : 0;
    struct subj s = {{resource ? resource : "", "", ""}, {n, 0, 0}, n};
    uint32_t bit = 1u << action;
    int allowed = 0, denied = 0;
    for (uint32_t i = 0; i < set->nstmts; i++) {
        const struct policy_stmt *st = &set->stmts[i];
        if (!(st->actions & bit) || !stmt_applies(set, st, &s))
            continue;
        if (st->deny) {
            denied = 1;
            marks[st->policy] |= POLICY_MARK_DENY;
        } else {
            allowed = 1;
            marks[st->policy] |= POLICY_MARK_ALLOW;
        }
    }
    return denied ? POLICY_EXPLICIT_DENY : allowed ? POLICY_ALLOWED : POLICY_IMPLICIT_DENY;
}

const char *policy_set_policy_name(const struct policy_set *set, uint32_t i)
{
    if (set == NULL || i >= set->npolicies)
        return NULL;
    return set->str + set->policy_name_off[i];
}

void policy_set_free(struct policy_set *set)
{
    free(set);
}
