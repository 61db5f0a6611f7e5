/*
 * policy_doc.c - validation and compilation of AWS IoT policy documents
 * (grammar, variables and the compile-time decisions: see policy_doc.h).
 *
 * One walk over the parsed JSON does both jobs: without variables it only
 * validates; with them it also emits compiled statements into a builder
 * whose growable arrays are copied into one block at the end, so the
 * evaluator's data lives in a single allocation. A caller that compiles
 * often (the broker) keeps parsed documents in a policy_doc_cache: the walk
 * only reads the JSON, so one parsed tree serves every compile.
 */
#include "policy_doc.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALL_ACTIONS ((uint32_t)((1u << POLICY_ACTION_COUNT) - 1u))
#define VALUE_MAX 2048       /* one resolved variable or condition key value */
#define ACTION_MAX 128       /* characters after "service:" */
#define AREA_MAX 0x7fffffffu /* offsets are uint32_t */

/* ---- builder -------------------------------------------------------------- */

struct vec {
    void *p;
    size_t n, cap, elem;
};

struct builder {
    const struct policy_vars *vars; /* NULL: validate only */
    struct policy_doc_cache *docs;  /* parsed documents, or NULL */
    const char *pname;              /* policy being compiled, for messages */
    uint32_t policy;
    int v2012;     /* Version 2012-10-17: variables are substituted */
    uint32_t deps; /* POLICY_DEP_*: what the compiled set read */
    struct vec deny, allow, pats, missing, names;
    char *str;
    size_t nstr, capstr;
};

/* Appends a zeroed element; NULL when out of memory. */
static void *vec_push(struct vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void *p = realloc(v->p, cap * v->elem);
        if (p == NULL)
            return NULL;
        v->p = p;
        v->cap = cap;
    }
    void *e = (char *)v->p + v->n++ * v->elem;
    memset(e, 0, v->elem);
    return e;
}

static int str_put(struct builder *b, const char *s, size_t n)
{
    if (b->nstr + n + 1 > b->capstr) {
        size_t cap = b->capstr ? b->capstr : 256;
        while (cap < b->nstr + n + 1)
            cap *= 2;
        if (cap > AREA_MAX)
            return -1;
        char *p = realloc(b->str, cap);
        if (p == NULL)
            return -1;
        b->str = p;
        b->capstr = cap;
    }
    memcpy(b->str + b->nstr, s, n);
    b->nstr += n;
    b->str[b->nstr] = '\0';
    return 0;
}

static int str_putc(struct builder *b, char c)
{
    return str_put(b, &c, 1);
}

static void builder_free(struct builder *b)
{
    free(b->deny.p);
    free(b->allow.p);
    free(b->pats.p);
    free(b->missing.p);
    free(b->names.p);
    free(b->str);
}

/* FL_MALFORMED_POLICY, naming the policy when compiling several. */
static enum fl_code bad(const struct builder *b, struct fl_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum fl_code bad(const struct builder *b, struct fl_err *err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (b->pname)
        return fl_err_set(err, FL_MALFORMED_POLICY, "Policy %s: %s", b->pname, msg);
    return fl_err_set(err, FL_MALFORMED_POLICY, "%s", msg);
}

static enum fl_code oom(struct fl_err *err)
{
    return fl_err_set(err, FL_INTERNAL, "out of memory compiling policies");
}

/* ---- variables -------------------------------------------------------------- */

static int name_is(const char *n, size_t nl, const char *lit)
{
    size_t l = strlen(lit);
    return nl == l && strncasecmp(n, lit, l) == 0;
}

/* The value of variable (or condition key) n[0..nl) for this connection, or
 * NULL when it has none. buf holds values that must be produced. Notes in
 * b->deps what the result depends on. */
static const char *lookup(struct builder *b, const char *n, size_t nl, char *buf, size_t buflen)
{
    static const char attrs[] = "iot:Connection.Thing.Attributes[";
    static const char cert[] = "iot:Certificate.";
    const struct policy_vars *v = b->vars;
    if (v == NULL)
        return NULL;
    if (name_is(n, nl, "iot:ClientId"))
        return v->client_id;
    if (name_is(n, nl, "iot:Connection.Thing.IsAttached"))
        return v->is_attached ? "true" : "false";
    if (name_is(n, nl, "iot:Connection.Thing.ThingName"))
        return v->thing_name;
    if (name_is(n, nl, "iot:Connection.Thing.ThingTypeName"))
        return v->thing_name ? v->thing_type_name : NULL;
    if (name_is(n, nl, "iot:CertificateId"))
        return v->certificate_id;
    if (name_is(n, nl, "aws:SourceIp")) {
        b->deps |= POLICY_DEP_SOURCE_IP;
        return v->source_ip;
    }
    size_t al = sizeof(attrs) - 1;
    if (nl > al + 1 && strncasecmp(n, attrs, al) == 0 && n[nl - 1] == ']') {
        if (v->thing_name == NULL)
            return NULL;
        /* attribute names are case-sensitive in the registry */
        const char *an = n + al;
        size_t anl = nl - al - 1;
        for (size_t i = 0; i < v->nattrs; i++)
            if (v->attrs[i].name && strlen(v->attrs[i].name) == anl && memcmp(v->attrs[i].name, an, anl) == 0)
                return v->attrs[i].value;
        return NULL;
    }
    size_t cl = sizeof(cert) - 1;
    if (nl > cl && strncasecmp(n, cert, cl) == 0 && v->cert_field) {
        char field[128];
        if (nl - cl >= sizeof(field))
            return NULL;
        memcpy(field, n + cl, nl - cl);
        field[nl - cl] = '\0';
        buf[0] = '\0';
        if (v->cert_field(v->cert_ctx, field, buf, buflen))
            return buf;
    }
    return NULL;
}

/* Appends one literal character; in glob mode the pattern metacharacters
 * are escaped so that they match only themselves. */
static int put_lit(struct builder *b, char c, int glob_mode)
{
    if (glob_mode && (c == '*' || c == '?' || c == '\\') && str_putc(b, '\\'))
        return -1;
    return str_putc(b, c);
}

static int is_escape_char(char c)
{
    return c == '*' || c == '?' || c == '$';
}

/* Appends template t with variables substituted (see policy_doc.h) to the
 * string area, NUL-terminated. In glob mode the template's own '*' and
 * '?' stay wildcards and everything substituted or escaped is literal.
 * Returns 1 with *off and *len set, 0 when a variable has no value (nothing is
 * left appended), -1 when out of memory. */
static int expand(struct builder *b, const char *t, int glob_mode, uint32_t *off, uint32_t *len)
{
    size_t start = b->nstr;
    const char *p = t;
    while (*p) {
        if (b->v2012 && p[0] == '$' && p[1] == '(' && p[2] && is_escape_char(p[2]) && p[3] == ')') {
            if (put_lit(b, p[2], glob_mode))
                return -1;
            p += 4;
            continue;
        }
        if (b->v2012 && p[0] == '$' && p[1] == '{') {
            const char *e = strchr(p + 2, '}');
            if (e) {
                size_t nl = (size_t)(e - (p + 2));
                if (nl == 1 && is_escape_char(p[2])) {
                    if (put_lit(b, p[2], glob_mode))
                        return -1;
                    p = e + 1;
                    continue;
                }
                char vbuf[VALUE_MAX];
                const char *val = lookup(b, p + 2, nl, vbuf, sizeof(vbuf));
                if (val == NULL) {
                    b->nstr = start;
                    if (b->str)
                        b->str[start] = '\0';
                    return 0;
                }
                for (; *val; val++)
                    if (put_lit(b, *val, glob_mode))
                        return -1;
                p = e + 1;
                continue;
            }
        }
        char c = *p++;
        if (c == '\\' ? put_lit(b, c, glob_mode) : str_putc(b, c))
            return -1;
    }
    *off = (uint32_t)start;
    *len = (uint32_t)(b->nstr - start);
    /* the NUL stays in the area: stored patterns are NUL-terminated too */
    return str_putc(b, '\0') ? -1 : 1;
}

/* ---- conditions ---------------------------------------------------------- */

enum op_kind {
    K_STR,    /* StringEquals */
    K_STR_CI, /* StringEqualsIgnoreCase */
    K_LIKE,   /* StringLike */
    K_NUM_EQ,
    K_NUM_LT,
    K_NUM_LE,
    K_NUM_GT,
    K_NUM_GE,
    K_DATE_EQ,
    K_DATE_LT,
    K_DATE_LE,
    K_DATE_GT,
    K_DATE_GE,
    K_BOOL,
    K_BIN,
    K_IP,
    K_ARN, /* ArnEquals and ArnLike are the same operator in IAM */
    K_NULL,
};

struct op_def {
    const char *name;
    enum op_kind kind;
    int neg; /* true when the condition holds if no value matches */
};

static const struct op_def ops[] = {
    {"StringEquals", K_STR, 0},
    {"StringNotEquals", K_STR, 1},
    {"StringEqualsIgnoreCase", K_STR_CI, 0},
    {"StringNotEqualsIgnoreCase", K_STR_CI, 1},
    {"StringLike", K_LIKE, 0},
    {"StringNotLike", K_LIKE, 1},
    {"NumericEquals", K_NUM_EQ, 0},
    {"NumericNotEquals", K_NUM_EQ, 1},
    {"NumericLessThan", K_NUM_LT, 0},
    {"NumericLessThanEquals", K_NUM_LE, 0},
    {"NumericGreaterThan", K_NUM_GT, 0},
    {"NumericGreaterThanEquals", K_NUM_GE, 0},
    {"DateEquals", K_DATE_EQ, 0},
    {"DateNotEquals", K_DATE_EQ, 1},
    {"DateLessThan", K_DATE_LT, 0},
    {"DateLessThanEquals", K_DATE_LE, 0},
    {"DateGreaterThan", K_DATE_GT, 0},
    {"DateGreaterThanEquals", K_DATE_GE, 0},
    {"Bool", K_BOOL, 0},
    {"BinaryEquals", K_BIN, 0},
    {"IpAddress", K_IP, 0},
    {"NotIpAddress", K_IP, 1},
    {"ArnEquals", K_ARN, 0},
    {"ArnLike", K_ARN, 0},
    {"ArnNotEquals", K_ARN, 1},
    {"ArnNotLike", K_ARN, 1},
    {"Null", K_NULL, 0},
};

enum { SET_NONE, SET_ANY, SET_ALL };

/* Parses "[ForAnyValue:|ForAllValues:]Operator[IfExists]". */
static const struct op_def *find_op(const char *name, int *setq, int *if_exists)
{
    *setq = SET_NONE;
    *if_exists = 0;
    if (strncmp(name, "ForAnyValue:", 12) == 0) {
        *setq = SET_ANY;
        name += 12;
    } else if (strncmp(name, "ForAllValues:", 13) == 0) {
        *setq = SET_ALL;
        name += 13;
    }
    size_t n = strlen(name);
    if (n > 8 && strcmp(name + n - 8, "IfExists") == 0) {
        *if_exists = 1;
        n -= 8;
    }
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strlen(ops[i].name) == n && strncmp(ops[i].name, name, n) == 0)
            return (*if_exists && ops[i].kind == K_NULL) ? NULL : &ops[i];
    return NULL;
}

/* A condition value as text: strings as they are, booleans and numbers as
 * IAM reads them. */
static const char *value_text(json_t *v, char *buf, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_true(v))
        return "true";
    if (json_is_false(v))
        return "false";
    if (json_is_integer(v))
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, n, "%.17g", json_real_value(v));
    return buf;
}

static int parse_num(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return *end == '\0' && isfinite(*out);
}

static int cmp_result(enum op_kind k, int c)
{
    switch (k) {
    case K_NUM_EQ:
    case K_DATE_EQ:
        return c == 0;
    case K_NUM_LT:
    case K_DATE_LT:
        return c < 0;
    case K_NUM_LE:
    case K_DATE_LE:
        return c <= 0;
    case K_NUM_GT:
    case K_DATE_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

/* Parses "a.b.c.d[/n]" or an IPv6 address[/n]; bits = prefix length. */
static int parse_ip(const char *s, size_t n, int *family, unsigned char addr[16], int *bits)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    long plen = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        plen = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || plen < 0)
            return 0;
    }
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *family = AF_INET;
        *bits = plen < 0 ? 32 : (int)plen;
        return *bits <= 32;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        *family = AF_INET6;
        *bits = plen < 0 ? 128 : (int)plen;
        return *bits <= 128;
    }
    return 0;
}

static int ip_match(const char *ip, const char *cidr, size_t clen)
{
    unsigned char a[16], m[16];
    int fa, fm, ba, bm;
    if (!parse_ip(ip, strlen(ip), &fa, a, &ba) || !parse_ip(cidr, clen, &fm, m, &bm) || fa != fm)
        return 0;
    int full = bm / 8, rest = bm % 8;
    if (memcmp(a, m, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xFFu << (8 - rest));
    return (a[full] & mask) == (m[full] & mask);
}

/* ArnLike: the six colon-separated parts of an ARN are matched one by one
 * (a '*' in the region does not reach into the account), the last part
 * taking the rest. A pattern with fewer than five colons is one glob. */
static int arn_match(const char *pat, size_t plen, const char *v)
{
    const char *ps[6], *vs[6];
    size_t pl[6], vl[6];
    int np = 0, nv = 0;
    size_t s = 0;
    for (size_t i = 0; i < plen && np < 5; i++) {
        if (pat[i] == '\\') {
            i++;
            continue;
        }
        if (pat[i] == ':') {
            ps[np] = pat + s;
            pl[np++] = i - s;
            s = i + 1;
        }
    }
    if (np < 5)
        return policy_glob_match(pat, plen, v, strlen(v));
    ps[5] = pat + s;
    pl[5] = plen - s;
    size_t vlen = strlen(v);
    s = 0;
    for (size_t i = 0; i < vlen && nv < 5; i++) {
        if (v[i] == ':') {
            vs[nv] = v + s;
            vl[nv++] = i - s;
            s = i + 1;
        }
    }
    if (nv < 5)
        return 0;
    vs[5] = v + s;
    vl[5] = vlen - s;
    for (int i = 0; i < 6; i++)
        if (!policy_glob_match(ps[i], pl[i], vs[i], vl[i]))
            return 0;
    return 1;
}

/* One value of a condition against the key's value kv. */
static int value_matches(enum op_kind k, const char *kv, const char *val, size_t vlen)
{
    size_t kl = strlen(kv);
    double a, b;
    switch (k) {
    case K_STR:
    case K_BIN:
        return kl == vlen && memcmp(kv, val, vlen) == 0;
    case K_STR_CI:
    case K_BOOL:
        return kl == vlen && strncasecmp(kv, val, vlen) == 0;
    case K_LIKE:
        return policy_glob_match(val, vlen, kv, kl);
    case K_ARN:
        return arn_match(val, vlen, kv);
    case K_IP:
        return ip_match(kv, val, vlen);
    case K_NUM_EQ:
    case K_NUM_LT:
    case K_NUM_LE:
    case K_NUM_GT:
    case K_NUM_GE:
        if (!parse_num(kv, kl, &a) || !parse_num(val, vlen, &b))
            return 0;
        return cmp_result(k, a < b ? -1 : a > b ? 1 : 0);
    case K_DATE_EQ:
    case K_DATE_LT:
    case K_DATE_LE:
    case K_DATE_GT:
    case K_DATE_GE:
        /* epoch numbers compare as numbers, ISO 8601 texts of one format
         * compare as text */
        if (parse_num(kv, kl, &a) && parse_num(val, vlen, &b))
            return cmp_result(k, a < b ? -1 : a > b ? 1 : 0);
        {
            int c = strncmp(kv, val, vlen);
            if (c == 0)
                c = kl > vlen;
            return cmp_result(k, c);
        }
    case K_NULL:
        break;
    }
    return 0;
}

/* Notes a condition key that the connection does not provide. */
static int note_missing(struct builder *b, const char *key, uint32_t actions)
{
    struct policy_missing *m = b->missing.p;
    for (size_t i = 0; i < b->missing.n; i++)
        if (strcmp(b->str + m[i].key_off, key) == 0) {
            m[i].actions |= actions;
            return 0;
        }
    size_t off = b->nstr;
    if (str_put(b, key, strlen(key)) || str_putc(b, '\0'))
        return -1;
    struct policy_missing *n = vec_push(&b->missing);
    if (n == NULL)
        return -1;
    n->actions = actions;
    n->key_off = (uint32_t)off;
    return 0;
}

static size_t list_size(json_t *v)
{
    return json_is_array(v) ? json_array_size(v) : 1;
}

static json_t *list_item(json_t *v, size_t i)
{
    return json_is_array(v) ? json_array_get(v, i) : v;
}

/* One key of one operator. 1: holds, 0: does not, -1: a value names a
 * variable without a value, -2: out of memory. */
static int cond_holds(struct builder *b, const struct op_def *op, int setq, int if_exists, const char *key,
                      json_t *vals, uint32_t actions)
{
    char kbuf[VALUE_MAX], nbuf[64];
    const char *kv = lookup(b, key, strlen(key), kbuf, sizeof(kbuf));
    size_t nvals = list_size(vals);
    if (op->kind == K_NULL) {
        for (size_t i = 0; i < nvals; i++) {
            const char *t = value_text(list_item(vals, i), nbuf, sizeof(nbuf));
            if ((strcasecmp(t, "true") == 0 && kv == NULL) || (strcasecmp(t, "false") == 0 && kv != NULL))
                return 1;
        }
        return 0;
    }
    if (kv == NULL) {
        if (if_exists || setq == SET_ALL)
            return 1;
        if (note_missing(b, key, actions))
            return -2;
        return setq == SET_ANY ? 0 : op->neg;
    }
    int glob_mode = op->kind == K_LIKE || op->kind == K_ARN;
    int any = 0, unresolved = 0;
    for (size_t i = 0; i < nvals; i++) {
        const char *t = value_text(list_item(vals, i), nbuf, sizeof(nbuf));
        size_t mark = b->nstr;
        uint32_t off, len;
        int r = expand(b, t, glob_mode, &off, &len);
        if (r < 0)
            return -2;
        if (r == 0)
            unresolved = 1;
        else if (value_matches(op->kind, kv, b->str + off, len))
            any = 1;
        b->nstr = mark; /* the expansion was scratch */
        b->str[mark] = '\0';
    }
    if (unresolved)
        return -1;
    return op->neg ? !any : any;
}

/* The whole Condition block (operators AND keys AND): 1, 0, -1 or -2 as
 * cond_holds. Every key is evaluated so that all missing keys are noted. */
static int conds_hold(struct builder *b, json_t *cond, uint32_t actions)
{
    int result = 1;
    const char *opname, *key;
    json_t *keys, *vals;
    json_object_foreach (cond, opname, keys) {
        int setq, if_exists;
        const struct op_def *op = find_op(opname, &setq, &if_exists);
        json_object_foreach (keys, key, vals) {
            int r = cond_holds(b, op, setq, if_exists, key, vals, actions);
            if (r == -2)
                return -2;
            if (r == -1)
                result = -1;
            else if (r == 0 && result == 1)
                result = 0;
        }
    }
    return result;
}

/* ---- validation ------------------------------------------------------------ */

static int is_scalar(json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static enum fl_code check_condition(const struct builder *b, size_t idx, json_t *cond, struct fl_err *err)
{
    if (!json_is_object(cond))
        return bad(b, err, "Statement %zu: Condition must be an object", idx);
    const char *opname, *key;
    json_t *keys, *vals;
    json_object_foreach (cond, opname, keys) {
        int setq, if_exists;
        if (find_op(opname, &setq, &if_exists) == NULL)
            return bad(b, err, "Statement %zu: unknown condition operator %s", idx, opname);
        if (!json_is_object(keys) || json_object_size(keys) == 0)
            return bad(b, err, "Statement %zu: condition %s must be an object of condition keys", idx,
                       opname);
        json_object_foreach (keys, key, vals) {
            if (key[0] == '\0')
                return bad(b, err, "Statement %zu: condition %s has an empty key", idx, opname);
            int ok = is_scalar(vals) || (json_is_array(vals) && json_array_size(vals) > 0);
            for (size_t i = 0; ok && json_is_array(vals) && i < json_array_size(vals); i++)
                ok = is_scalar(json_array_get(vals, i));
            if (!ok)
                return bad(b, err,
                           "Statement %zu: condition %s %s: values must be a string or a non-empty list "
                           "of strings",
                           idx, opname, key);
        }
    }
    return FL_OK;
}

/* field is a string or a non-empty list of non-empty strings. */
static enum fl_code check_strings(const struct builder *b, size_t idx, const char *field, json_t *v,
                                  struct fl_err *err)
{
    if (json_is_array(v) && json_array_size(v) == 0)
        return bad(b, err, "Statement %zu: %s must not be an empty list", idx, field);
    if (!json_is_string(v) && !json_is_array(v))
        return bad(b, err, "Statement %zu: %s must be a string or a list of strings", idx, field);
    for (size_t i = 0; i < list_size(v); i++) {
        json_t *s = list_item(v, i);
        if (!json_is_string(s))
            return bad(b, err, "Statement %zu: %s must be a string or a list of strings", idx, field);
        if (json_string_length(s) == 0 || strlen(json_string_value(s)) != json_string_length(s))
            return bad(b, err, "Statement %zu: %s must not contain empty strings or NUL characters", idx,
                       field);
    }
    return FL_OK;
}

/* Validates one action and ORs the actions it names into *mask. Actions
 * are case-insensitive with * and ? wildcards, as in IAM. */
static enum fl_code action_bits(const struct builder *b, size_t idx, const char *a, uint32_t *mask,
                                struct fl_err *err)
{
    if (strcmp(a, "*") == 0) {
        *mask |= ALL_ACTIONS;
        return FL_OK;
    }
    const char *colon = strchr(a, ':');
    size_t sl = colon ? (size_t)(colon - a) : 0;
    int iot = sl == 3 && strncasecmp(a, "iot", 3) == 0;
    int gg = sl == 10 && strncasecmp(a, "greengrass", 10) == 0;
    if (!iot && !gg)
        return bad(b, err,
                   "Statement %zu: invalid action %s: AWS IoT policies allow only iot: (and greengrass:) "
                   "actions",
                   idx, a);
    const char *rest = colon + 1;
    size_t rl = strlen(rest);
    if (rl == 0 || rl > ACTION_MAX)
        return bad(b, err, "Statement %zu: invalid action %s", idx, a);
    for (size_t i = 0; i < rl; i++) {
        char c = rest[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*' ||
              c == '?'))
            return bad(b, err, "Statement %zu: invalid character in action %s", idx, a);
    }
    if (gg)
        return FL_OK; /* valid in AWS IoT policies; no MQTT action it covers */
    char pat[ACTION_MAX + 8], name[64];
    size_t pl = 4 + rl;
    memcpy(pat, "iot:", 4);
    for (size_t i = 0; i < rl; i++)
        pat[4 + i] = (char)((rest[i] >= 'A' && rest[i] <= 'Z') ? rest[i] + 32 : rest[i]);
    for (int k = 0; k < POLICY_ACTION_COUNT; k++) {
        const char *an = policy_action_name((enum policy_action)k);
        size_t nl = strlen(an);
        for (size_t i = 0; i < nl; i++)
            name[i] = (char)((an[i] >= 'A' && an[i] <= 'Z') ? an[i] + 32 : an[i]);
        if (policy_glob_match(pat, pl, name, nl))
            *mask |= 1u << k;
    }
    return FL_OK;
}

static enum fl_code check_resource(const struct builder *b, size_t idx, const char *field, const char *r,
                                   struct fl_err *err)
{
    if (strcmp(r, "*") != 0 && strncmp(r, "arn:", 4) != 0)
        return bad(b, err, "Statement %zu: %s %s must be \"*\" or an ARN (arn:aws:iot:region:account:...)",
                   idx, field, r);
    return FL_OK;
}

/* ---- statements ------------------------------------------------------------- */

/* Emits the compiled form of a validated statement (compile mode only). */
static enum fl_code emit(struct builder *b, int deny, uint32_t mask, json_t *res, int not_res, json_t *cond,
                         struct fl_err *err)
{
    if (mask == 0)
        return FL_OK;
    if (cond) {
        int r = conds_hold(b, cond, mask);
        if (r == -2)
            return oom(err);
        if (r != 1)
            return FL_OK;
    }
    size_t first = b->pats.n;
    int any = 0;
    for (size_t i = 0; i < list_size(res); i++) {
        const char *r = json_string_value(list_item(res, i));
        if (strcmp(r, "*") == 0) {
            any = 1;
            continue;
        }
        uint32_t off, len;
        int x = expand(b, r, 1, &off, &len);
        if (x < 0)
            return oom(err);
        if (x == 0) {
            if (not_res) {
                b->pats.n = first;
                return FL_OK;
            }
            continue;
        }
        struct policy_pat *p = vec_push(&b->pats);
        if (p == NULL)
            return oom(err);
        p->off = off;
        p->len = len;
    }
    size_t npat = b->pats.n - first;
    if ((!any && npat == 0 && !not_res) || (any && not_res)) {
        b->pats.n = first; /* matches nothing */
        return FL_OK;
    }
    struct policy_stmt *st = vec_push(deny ? &b->deny : &b->allow);
    if (st == NULL)
        return oom(err);
    st->actions = mask;
    st->policy = b->policy;
    st->res_first = (uint32_t)first;
    st->res_count = any ? 0 : (uint32_t)npat;
    st->deny = (uint8_t)deny;
    st->not_resource = (uint8_t)not_res;
    st->any_resource = (uint8_t)any;
    if (any)
        b->pats.n = first;
    return FL_OK;
}

static enum fl_code walk_stmt(struct builder *b, json_t *st, size_t idx, struct fl_err *err)
{
    json_t *effect = NULL, *action = NULL, *not_action = NULL, *res = NULL, *not_res = NULL, *cond = NULL;
    const char *k;
    json_t *v;
    json_object_foreach (st, k, v) {
        if (strcmp(k, "Sid") == 0) {
            if (!json_is_string(v))
                return bad(b, err, "Statement %zu: Sid must be a string", idx);
        } else if (strcmp(k, "Effect") == 0) {
            effect = v;
        } else if (strcmp(k, "Action") == 0) {
            action = v;
        } else if (strcmp(k, "NotAction") == 0) {
            not_action = v;
        } else if (strcmp(k, "Resource") == 0) {
            res = v;
        } else if (strcmp(k, "NotResource") == 0) {
            not_res = v;
        } else if (strcmp(k, "Condition") == 0) {
            cond = v;
        } else if (strcmp(k, "Principal") == 0 || strcmp(k, "NotPrincipal") == 0) {
            return bad(b, err, "Statement %zu: %s is not allowed in an AWS IoT policy", idx, k);
        } else {
            return bad(b, err, "Statement %zu: unknown field %s", idx, k);
        }
    }
    if (effect == NULL)
        return bad(b, err, "Statement %zu: Effect is missing", idx);
    if (!json_is_string(effect) ||
        (strcmp(json_string_value(effect), "Allow") != 0 && strcmp(json_string_value(effect), "Deny") != 0))
        return bad(b, err, "Statement %zu: Effect must be \"Allow\" or \"Deny\"", idx);
    int deny = strcmp(json_string_value(effect), "Deny") == 0;
    if (action && not_action)
        return bad(b, err, "Statement %zu: Action and NotAction cannot both be present", idx);
    if (!action && !not_action)
        return bad(b, err, "Statement %zu: Action is missing", idx);
    if (res && not_res)
        return bad(b, err, "Statement %zu: Resource and NotResource cannot both be present", idx);
    if (!res && !not_res)
        return bad(b, err, "Statement %zu: Resource is missing", idx);

    const char *afield = action ? "Action" : "NotAction";
    json_t *acts = action ? action : not_action;
    enum fl_code rc = check_strings(b, idx, afield, acts, err);
    uint32_t mask = 0;
    for (size_t i = 0; rc == FL_OK && i < list_size(acts); i++)
        rc = action_bits(b, idx, json_string_value(list_item(acts, i)), &mask, err);
    const char *rfield = res ? "Resource" : "NotResource";
    json_t *rs = res ? res : not_res;
    if (rc == FL_OK)
        rc = check_strings(b, idx, rfield, rs, err);
    for (size_t i = 0; rc == FL_OK && i < list_size(rs); i++)
        rc = check_resource(b, idx, rfield, json_string_value(list_item(rs, i)), err);
    if (rc == FL_OK && cond)
        rc = check_condition(b, idx, cond, err);
    if (rc || b->vars == NULL)
        return rc;
    return emit(b, deny, not_action ? (ALL_ACTIONS & ~mask) : mask, rs, not_res != NULL, cond, err);
}

/* ---- parsed documents ------------------------------------------------------- */

#define DOC_BUCKETS 256u

struct doc_entry {
    struct doc_entry *next;          /* hash chain */
    struct doc_entry *older, *newer; /* use order */
    json_t *root;
    uint32_t hash;
    size_t len;
    char text[];
};

struct policy_doc_cache {
    struct doc_entry *buckets[DOC_BUCKETS];
    struct doc_entry *oldest, *newest;
    size_t n, max;
    uint64_t hits;
};

struct policy_doc_cache *policy_doc_cache_new(size_t max_docs)
{
    struct policy_doc_cache *dc = calloc(1, sizeof(*dc));
    if (dc)
        dc->max = max_docs ? max_docs : 1;
    return dc;
}

static void doc_unlink(struct policy_doc_cache *dc, struct doc_entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        dc->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        dc->newest = e->older;
    e->older = e->newer = NULL;
}

static void doc_link_newest(struct policy_doc_cache *dc, struct doc_entry *e)
{
    e->older = dc->newest;
    e->newer = NULL;
    if (dc->newest)
        dc->newest->newer = e;
    else
        dc->oldest = e;
    dc->newest = e;
}

static void doc_drop(struct policy_doc_cache *dc, struct doc_entry *e)
{
    for (struct doc_entry **ep = &dc->buckets[e->hash % DOC_BUCKETS]; *ep; ep = &(*ep)->next)
        if (*ep == e) {
            *ep = e->next;
            break;
        }
    doc_unlink(dc, e);
    json_decref(e->root);
    free(e);
    dc->n--;
}

void policy_doc_cache_free(struct policy_doc_cache *dc)
{
    if (dc == NULL)
        return;
    while (dc->oldest)
        doc_drop(dc, dc->oldest);
    free(dc);
}

size_t policy_doc_cache_size(const struct policy_doc_cache *dc)
{
    return dc ? dc->n : 0;
}

uint64_t policy_doc_cache_hits(const struct policy_doc_cache *dc)
{
    return dc ? dc->hits : 0;
}

/* Bucket hash: the length and the ends of the text (equal texts are then
 * compared whole; hashing all of a 2 KB document would cost more than the
 * comparison). */
static uint32_t doc_hash(const char *t, size_t len)
{
    uint32_t h = 2166136261u ^ (uint32_t)len;
    size_t head = len < 64 ? len : 64;
    for (size_t i = 0; i < head; i++)
        h = (h ^ (unsigned char)t[i]) * 16777619u;
    for (size_t i = len - (len < 64 ? len : 64); i < len; i++)
        h = (h ^ (unsigned char)t[i]) * 16777619u;
    return h;
}

/* The parsed document: borrowed from the cache (*owned 0) or parsed for
 * this call (*owned 1, the caller releases it). NULL when it is not JSON
 * (je filled). */
static json_t *doc_parse(struct policy_doc_cache *dc, const char *text, int *owned, json_error_t *je)
{
    *owned = 1;
    if (dc == NULL)
        return json_loads(text, JSON_REJECT_DUPLICATES, je);
    size_t len = strlen(text);
    uint32_t h = doc_hash(text, len);
    for (struct doc_entry *e = dc->buckets[h % DOC_BUCKETS]; e; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->text, text, len) == 0) {
            doc_unlink(dc, e);
            doc_link_newest(dc, e);
            dc->hits++;
            *owned = 0;
            return e->root;
        }
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, je);
    struct doc_entry *e = root ? malloc(sizeof(*e) + len + 1) : NULL;
    if (e == NULL)
        return root; /* not JSON, or no memory to keep it: parsed for this call only */
    while (dc->n >= dc->max)
        doc_drop(dc, dc->oldest);
    e->root = root;
    e->hash = h;
    e->len = len;
    memcpy(e->text, text, len + 1);
    e->next = dc->buckets[h % DOC_BUCKETS];
    dc->buckets[h % DOC_BUCKETS] = e;
    doc_link_newest(dc, e);
    dc->n++;
    *owned = 0;
    return root;
}

static enum fl_code walk_doc(struct builder *b, const char *text, struct fl_err *err)
{
    json_error_t je;
    int owned = 1;
    json_t *root = doc_parse(b->docs, text ? text : "", &owned, &je);
    if (root == NULL)
        return bad(b, err, "Policy document is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                   je.column);
    enum fl_code rc = FL_OK;
    json_t *stmts = NULL;
    const char *k;
    json_t *v;
    b->v2012 = 0;
    if (!json_is_object(root)) {
        rc = bad(b, err, "Policy document must be a JSON object");
        goto out;
    }
    json_object_foreach (root, k, v) {
        if (strcmp(k, "Version") == 0) {
            const char *ver = json_string_value(v);
            if (ver && strcmp(ver, "2012-10-17") == 0)
                b->v2012 = 1;
            else if (!ver || strcmp(ver, "2008-10-17") != 0) {
                rc = bad(b, err, "Version must be \"2012-10-17\" (or \"2008-10-17\")");
                goto out;
            }
        } else if (strcmp(k, "Statement") == 0) {
            stmts = v;
        } else if (strcmp(k, "Id") == 0) {
            if (!json_is_string(v)) {
                rc = bad(b, err, "Id must be a string");
                goto out;
            }
        } else {
            rc = bad(b, err, "Unknown field %s in the policy document (expected Version, Statement, Id)", k);
            goto out;
        }
    }
    if (stmts == NULL) {
        rc = bad(b, err, "Policy document has no Statement");
    } else if (json_is_object(stmts)) {
        rc = walk_stmt(b, stmts, 1, err);
    } else if (json_is_array(stmts) && json_array_size(stmts) > 0) {
        for (size_t i = 0; rc == FL_OK && i < json_array_size(stmts); i++) {
            json_t *st = json_array_get(stmts, i);
            rc = json_is_object(st) ? walk_stmt(b, st, i + 1, err)
                                    : bad(b, err, "Statement %zu must be an object", i + 1);
        }
    } else {
        rc = bad(b, err, "Statement must be an object or a non-empty list of objects");
    }
out:
    if (owned)
        json_decref(root);
    return rc;
}

/* ---- API -------------------------------------------------------------------- */

enum fl_code policy_doc_validate(const char *document, struct fl_err *err)
{
    struct builder b = {0};
    if (document == NULL)
        return bad(&b, err, "Policy document is missing");
    size_t bytes = strlen(document), chars = 0;
    if (bytes > POLICY_DOC_MAX_BYTES)
        return bad(&b, err, "Policy document is too large: %zu bytes (at most %d)", bytes,
                   POLICY_DOC_MAX_BYTES);
    for (const unsigned char *p = (const unsigned char *)document; *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && (*p & 0xC0) != 0x80)
            chars++;
    if (chars > POLICY_DOC_MAX_CHARS)
        return bad(&b, err, "Policy document is too large: %zu characters excluding whitespace (at most %d)",
                   chars, POLICY_DOC_MAX_CHARS);
    return walk_doc(&b, document, err);
}

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

enum fl_code policy_doc_compile(const struct policy_src *src, size_t n, const struct policy_vars *vars,
                                struct policy_set **out, struct fl_err *err)
{
    return policy_doc_compile_with(NULL, src, n, vars, out, err);
}

enum fl_code policy_doc_compile_with(struct policy_doc_cache *dc, const struct policy_src *src, size_t n,
                                     const struct policy_vars *vars, struct policy_set **out,
                                     struct fl_err *err)
{
    static const struct policy_vars none = {0};
    struct builder b = {.vars = vars ? vars : &none, .docs = dc};
    b.deny.elem = b.allow.elem = sizeof(struct policy_stmt);
    b.pats.elem = sizeof(struct policy_pat);
    b.missing.elem = sizeof(struct policy_missing);
    b.names.elem = sizeof(uint32_t);
    *out = NULL;
    if (n > UINT32_MAX / 2)
        return fl_err_set(err, FL_INVALID_REQUEST, "too many policies");

    char prefix[160];
    int pl = snprintf(prefix, sizeof(prefix), "arn:aws:iot:%s:%s:", b.vars->region ? b.vars->region : "",
                      b.vars->account ? b.vars->account : "");
    if (pl < 0 || (size_t)pl >= sizeof(prefix))
        return fl_err_set(err, FL_INVALID_REQUEST, "region or account too long");
    enum fl_code rc = FL_OK;
    if (str_put(&b, prefix, (size_t)pl) || str_putc(&b, '\0')) {
        rc = oom(err);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t *off = vec_push(&b.names);
        const char *name = src[i].name ? src[i].name : "";
        if (off == NULL) {
            rc = oom(err);
            goto fail;
        }
        *off = (uint32_t)b.nstr;
        if (str_put(&b, name, strlen(name)) || str_putc(&b, '\0')) {
            rc = oom(err);
            goto fail;
        }
    }
    for (size_t i = 0; i < n; i++) {
        b.policy = (uint32_t)i;
        b.pname = src[i].name ? src[i].name : "";
        if ((rc = walk_doc(&b, src[i].document, err)))
            goto fail;
    }

    size_t nst = b.deny.n + b.allow.n;
    size_t o_names = ALIGN8(sizeof(struct policy_set));
    size_t o_stmts = ALIGN8(o_names + b.names.n * sizeof(uint32_t));
    size_t o_pats = ALIGN8(o_stmts + nst * sizeof(struct policy_stmt));
    size_t o_miss = ALIGN8(o_pats + b.pats.n * sizeof(struct policy_pat));
    size_t o_str = ALIGN8(o_miss + b.missing.n * sizeof(struct policy_missing));
    char *blk = malloc(o_str + b.nstr + 1);
    if (blk == NULL) {
        rc = oom(err);
        goto fail;
    }
    struct policy_set *set = (struct policy_set *)blk;
    set->deps = b.deps;
    set->npolicies = (uint32_t)n;
    set->nstmts = (uint32_t)nst;
    set->ndeny = (uint32_t)b.deny.n;
    set->npats = (uint32_t)b.pats.n;
    set->nmissing = (uint32_t)b.missing.n;
    set->arn_prefix_len = (uint32_t)pl;
    set->policy_name_off = (const uint32_t *)(blk + o_names);
    set->stmts = (const struct policy_stmt *)(blk + o_stmts);
    set->pats = (const struct policy_pat *)(blk + o_pats);
    set->missing = (const struct policy_missing *)(blk + o_miss);
    set->str = blk + o_str;
    if (b.names.n)
        memcpy(blk + o_names, b.names.p, b.names.n * sizeof(uint32_t));
    if (b.deny.n)
        memcpy(blk + o_stmts, b.deny.p, b.deny.n * sizeof(struct policy_stmt));
    if (b.allow.n)
        memcpy(blk + o_stmts + b.deny.n * sizeof(struct policy_stmt), b.allow.p,
               b.allow.n * sizeof(struct policy_stmt));
    if (b.pats.n)
        memcpy(blk + o_pats, b.pats.p, b.pats.n * sizeof(struct policy_pat));
    for (size_t i = 0; i < b.pats.n; i++)
        policy_pat_classify(b.str, (uint32_t)pl, (struct policy_pat *)(blk + o_pats) + i);
    if (b.missing.n)
        memcpy(blk + o_miss, b.missing.p, b.missing.n * sizeof(struct policy_missing));
    memcpy(blk + o_str, b.str, b.nstr);
    blk[o_str + b.nstr] = '\0';
    builder_free(&b);
    *out = set;
    return FL_OK;
fail:
    builder_free(&b);
    return rc;
}
