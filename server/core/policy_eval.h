/*
 * policy_eval.h - the AWS IoT policy evaluator over a compiled policy set.
 *
 * A principal's policies are compiled once (policy_doc_compile() in
 * policy_doc.h, or policies_compile_for_principal() in policies.h, which
 * also reads them from the store): every connection-time variable and every
 * condition is decided then, and what is left is a flat array of
 * statements, each an action bit mask plus resource glob patterns, in one
 * allocation. The functions here answer "may this principal do ACTION on
 * RESOURCE" from that block alone: no allocation, no locks, no SQL, no
 * recursion; a glob match costs at most O(pattern x subject) steps.
 * A set is immutable after compilation, so one set may be shared by
 * threads.
 *
 * Evaluation is IAM's: an explicit Deny in any statement wins, otherwise an
 * Allow allows, otherwise the request is implicitly denied.
 * Knows nothing of HTTP, MQTT, SQL or JSON.
 */
#ifndef FL_POLICY_EVAL_H
#define FL_POLICY_EVAL_H

#include <stddef.h>
#include <stdint.h>

/* The data-plane actions an AWS IoT policy can grant. The names are
 * "iot:" + the AWS action name (policy_action_name()). */
enum policy_action {
    POLICY_CONNECT = 0,                      /* client/<clientId> */
    POLICY_PUBLISH,                          /* topic/<topic> */
    POLICY_SUBSCRIBE,                        /* topicfilter/<filter> */
    POLICY_RECEIVE,                          /* topic/<topic> */
    POLICY_RETAIN_PUBLISH,                   /* topic/<topic> */
    POLICY_GET_RETAINED_MESSAGE,             /* topic/<topic> */
    POLICY_LIST_RETAINED_MESSAGES,           /* * */
    POLICY_GET_THING_SHADOW,                 /* thing/<thing>[/<shadow>] */
    POLICY_UPDATE_THING_SHADOW,              /* thing/<thing>[/<shadow>] */
    POLICY_DELETE_THING_SHADOW,              /* thing/<thing>[/<shadow>] */
    POLICY_LIST_NAMED_SHADOWS_FOR_THING,     /* thing/<thing> */
    POLICY_DESCRIBE_JOB_EXECUTION,           /* thing/<thing> */
    POLICY_GET_PENDING_JOB_EXECUTIONS,       /* thing/<thing> */
    POLICY_START_NEXT_PENDING_JOB_EXECUTION, /* thing/<thing> */
    POLICY_UPDATE_JOB_EXECUTION,             /* thing/<thing> */
    POLICY_ASSUME_ROLE_WITH_CERTIFICATE,     /* rolealias/<alias> */
    POLICY_ACTION_COUNT
};

enum policy_decision {
    POLICY_IMPLICIT_DENY = 0, /* no statement applies */
    POLICY_ALLOWED,           /* an Allow applies and no Deny does */
    POLICY_EXPLICIT_DENY,     /* a Deny applies */
};

/* "iot:Connect" ... for an action; NULL for an out-of-range value. */
const char *policy_action_name(enum policy_action a);
/* The resource type an action's ARN names ("topic", "topicfilter",
 * "client", "thing", "rolealias"); NULL when its resource is "*". */
const char *policy_action_resource_kind(enum policy_action a);

/* ---- compiled set layout (built by policy_doc.c; read-only elsewhere) ---- */

/* Resource kinds, the "<kind>/" after the ARN prefix of a data-plane ARN
 * (POLICY_KIND_NONE: an action whose resource is "*"). */
enum policy_kind {
    POLICY_KIND_NONE = 0,
    POLICY_KIND_CLIENT,
    POLICY_KIND_TOPIC,
    POLICY_KIND_TOPICFILTER,
    POLICY_KIND_THING,
    POLICY_KIND_ROLEALIAS,
};

/* A resource pattern: len bytes at set->str + off. '*' matches any run of
 * characters, '?' exactly one (UTF-8) character, and '\' makes the next
 * byte literal (values substituted from variables are escaped so that a
 * client id "a*" is never a wildcard).
 *
 * Precompiled for policy_eval_name(), which matches names, not ARNs: when
 * the pattern begins with the set's own ARN prefix and "<kind>/", all
 * literal, kind says which and head is that head's length; the name is
 * then matched against the rest alone, and only by actions of that kind
 * (a topic/ pattern can never match a client/ ARN). lit = literal bytes of
 * the rest before its first '*', '?' or '\': a name that does not begin
 * with them is rejected with one memcmp. */
struct policy_pat {
    uint32_t off;
    uint32_t len;
    uint16_t lit; /* kind != NONE: literal bytes after the head */
    uint8_t head; /* kind != NONE: bytes of "arn:aws:iot:R:A:<kind>/" (region and account are short) */
    uint8_t kind; /* enum policy_kind; NONE: the pattern is matched whole */
};

struct policy_stmt {
    uint32_t actions;   /* bit (1u << enum policy_action) per action the statement covers */
    uint32_t policy;    /* index of the policy it came from */
    uint32_t res_first; /* patterns set->pats[res_first .. res_first + res_count) */
    uint32_t res_count;
    uint8_t deny;         /* Effect: Deny */
    uint8_t not_resource; /* NotResource: applies to resources matching none of the patterns */
    uint8_t any_resource; /* one of the patterns is "*" (patterns then unused) */
};

/* A condition key that was not in the context while compiling, for the
 * statements covering `actions` (TestAuthorization's missingContextValues). */
struct policy_missing {
    uint32_t actions;
    uint32_t key_off; /* NUL-terminated at set->str + key_off */
};

/* struct policy_set.deps: what a compiled set depends on besides the
 * certificate, client id and registry (a cache of sets must key on it). */
#define POLICY_DEP_SOURCE_IP 1u /* a variable or condition read aws:SourceIp */

struct policy_set {
    uint32_t deps; /* POLICY_DEP_* */
    uint32_t npolicies;
    uint32_t nstmts;
    uint32_t ndeny; /* stmts[0 .. ndeny) are Deny statements, the rest Allow */
    uint32_t npats;
    uint32_t nmissing;
    uint32_t arn_prefix_len;              /* "arn:aws:iot:REGION:ACCOUNT:" */
    const uint32_t *policy_name_off;      /* [npolicies], NUL-terminated names in str */
    const struct policy_stmt *stmts;      /* [nstmts] */
    const struct policy_pat *pats;        /* [npats] */
    const struct policy_missing *missing; /* [nmissing] */
    const char *str;                      /* string area; str + 0 is the ARN prefix */
};

/* Fills pt->kind, head and lit from the pattern text (str + pt->off, the
 * set's string area whose first arn_prefix_len bytes are its ARN prefix).
 * For policy_doc.c, once per pattern when a set is built. */
void policy_pat_classify(const char *str, uint32_t arn_prefix_len, struct policy_pat *pt);

/* ---- evaluation ----------------------------------------------------------- */

/* Evaluates action on resource, a full ARN ("arn:aws:iot:us-east-1:
 * 123456789012:topic/a/b") or anything else a policy could name. When
 * policy is not NULL it receives the index of the policy whose statement
 * decided (first matching Deny, else first matching Allow), or -1.
 * set may be NULL (then IMPLICIT_DENY). Does not allocate. */
enum policy_decision policy_eval(const struct policy_set *set, enum policy_action action,
                                 const char *resource, int *policy);

/* Same for the broker: name is the topic (Publish, Receive, RetainPublish,
 * GetRetainedMessage), topic filter (Subscribe), client id (Connect),
 * thing[/shadow] or role alias, name_len bytes long (need not be
 * NUL-terminated); the ARN "arn:aws:iot:R:A:<kind>/<name>" is matched
 * without being built. Actions whose resource is "*" ignore name. */
enum policy_decision policy_eval_name(const struct policy_set *set, enum policy_action action,
                                      const char *name, size_t name_len, int *policy);

#define POLICY_MARK_ALLOW 1u
#define POLICY_MARK_DENY 2u

/* Evaluates every statement (no short cut) and ORs into marks[i] (the
 * caller's array of set->npolicies bytes) POLICY_MARK_ALLOW when a statement
 * of policy i allows, POLICY_MARK_DENY when one denies. For
 * TestAuthorization. Returns the decision. */
enum policy_decision policy_eval_marks(const struct policy_set *set, enum policy_action action,
                                       const char *resource, uint8_t *marks);

/* Name of policy i of the set (NUL-terminated, owned by the set). */
const char *policy_set_policy_name(const struct policy_set *set, uint32_t i);

/* Releases a set (NULL is fine). */
void policy_set_free(struct policy_set *set);

/* The glob matcher of the evaluator: pattern (escaped as described at
 * struct policy_pat) against s. 1 on a match. Iterative; no allocation. */
int policy_glob_match(const char *pat, size_t pat_len, const char *s, size_t s_len);

#endif
