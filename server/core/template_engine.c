/*
 * template_engine.c - parse, validate and evaluate provisioning template
 * bodies (see template_engine.h). Knows nothing of the store: the plan it
 * produces is applied by provisioning.c.
 *
 * Validation is static (shapes, names, references); evaluation resolves
 * parameters and intrinsics. Both are bounded: values nest at most
 * TPL_DEPTH_MAX deep, an evaluation takes at most STEPS_MAX steps and makes
 * no string longer than STRING_MAX, so a hostile body (Refs between
 * resources that fan out) cannot make fleetd spin or exhaust memory.
 */
#include "template_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_THING "AWS::IoT::Thing"
#define T_CERT "AWS::IoT::Certificate"
#define T_POLICY "AWS::IoT::Policy"
#define PLACE_MAX 384
#define STEPS_MAX 100000
#define STRING_MAX 65536

struct ctx {
    json_t *params;    /* Parameters section or NULL */
    json_t *mappings;  /* Mappings section or NULL */
    json_t *resources; /* Resources section */
    json_t *given;     /* the caller's parameters or NULL */
    struct fl_err *err;
    long steps;
};

static enum fl_code bad_msg(struct fl_err *err, const char *place, const char *msg)
{
    return fl_err_set(err, FL_INVALID_REQUEST, "%s: %s", place, msg);
}

/* fmt has one %s, for arg (NULL prints as "") */
__attribute__((format(printf, 3, 0))) static enum fl_code bad(struct fl_err *err, const char *place,
                                                              const char *fmt, const char *arg)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    return bad_msg(err, place, msg);
}

/* Places are cut at PLACE_MAX - 1 bytes: a long path still names its start. */
static void place_cat(char out[PLACE_MAX], const char *place, const char *a, const char *b, const char *c)
{
    size_t n = 0;
    const char *parts[4] = {place, a, b, c};
    for (int i = 0; i < 4; i++)
        for (const char *q = parts[i]; q && *q && n < PLACE_MAX - 1; q++)
            out[n++] = *q;
    out[n] = '\0';
}

static void sub_place(char out[PLACE_MAX], const char *place, const char *key)
{
    place_cat(out, place, ".", key, NULL);
}

static void idx_place(char out[PLACE_MAX], const char *place, size_t i)
{
    char num[24];
    snprintf(num, sizeof num, "[%zu]", i);
    place_cat(out, place, num, NULL, NULL);
}

/* A one-member object whose key is Ref or Fn::* is a function call. */
static int as_function(json_t *v, const char **name, json_t **arg)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return 0;
    void *it = json_object_iter(v);
    const char *k = json_object_iter_key(it);
    if (strcmp(k, "Ref") != 0 && strncmp(k, "Fn::", 4) != 0)
        return 0;
    *name = k;
    *arg = json_object_iter_value(it);
    return 1;
}

static int is_declared(struct ctx *x, const char *name)
{
    return (x->params && json_object_get(x->params, name)) || json_object_get(x->resources, name);
}

/* Calls fn for every ${Name} of a Fn::Sub string ("${!x}" is a literal
 * "${x}"); fn returns FL_OK to go on. A "${" without "}" is malformed. */
typedef enum fl_code (*sub_fn)(void *ctx, const char *name, size_t len);
static enum fl_code sub_scan(const char *s, sub_fn fn, void *ctx, const char *place, struct fl_err *err)
{
    for (const char *p = strstr(s, "${"); p; p = strstr(p, "${")) {
        const char *end = strchr(p + 2, '}');
        if (end == NULL)
            return bad_msg(err, place, "Fn::Sub: unterminated ${ in the string");
        if (p[2] != '!') {
            enum fl_code rc = fn(ctx, p + 2, (size_t)(end - p - 2));
            if (rc)
                return rc;
        }
        p = end + 1;
    }
    return FL_OK;
}

/* ---- validation ----------------------------------------------------------- */

static enum fl_code v_value(struct ctx *x, json_t *v, const char *place, int depth);

struct sub_check {
    struct ctx *x;
    json_t *vars;
    const char *place;
};

static enum fl_code sub_check_one(void *ctx, const char *name, size_t len)
{
    struct sub_check *sc = ctx;
    char n[256];
    if (len == 0 || len >= sizeof n)
        return bad_msg(sc->x->err, sc->place, "Fn::Sub: bad variable name");
    memcpy(n, name, len);
    n[len] = '\0';
    if ((sc->vars && json_object_get(sc->vars, n)) || is_declared(sc->x, n))
        return FL_OK;
    return bad(sc->x->err, sc->place, "Fn::Sub: reference to undefined parameter or resource %s", n);
}

static enum fl_code v_args(struct ctx *x, json_t *arg, size_t n, const char *fname, const char *place,
                           int depth)
{
    if (!json_is_array(arg) || json_array_size(arg) != n) {
        char m[96];
        snprintf(m, sizeof m, "%s takes a list of %zu values", fname, n);
        return bad(x->err, place, "%s", m);
    }
    for (size_t i = 0; i < n; i++) {
        char p[PLACE_MAX];
        idx_place(p, place, i);
        enum fl_code rc = v_value(x, json_array_get(arg, i), p, depth + 1);
        if (rc)
            return rc;
    }
    return FL_OK;
}

static enum fl_code v_function(struct ctx *x, const char *name, json_t *arg, const char *place, int depth)
{
    char p[PLACE_MAX];
    sub_place(p, place, name);
    if (strcmp(name, "Ref") == 0) {
        if (!json_is_string(arg))
            return bad_msg(x->err, place, "Ref takes the name of a parameter or resource");
        if (!is_declared(x, json_string_value(arg)))
            return bad(x->err, place, "Ref to undefined parameter or resource %s", json_string_value(arg));
        return FL_OK;
    }
    if (strcmp(name, "Fn::Join") == 0 || strcmp(name, "Fn::Split") == 0) {
        enum fl_code rc = v_args(x, arg, 2, name, p, depth);
        if (rc == FL_OK && !json_is_string(json_array_get(arg, 0)))
            rc = bad_msg(x->err, p, "the delimiter must be a string");
        if (rc == FL_OK && strcmp(name, "Fn::Split") == 0 && json_string_length(json_array_get(arg, 0)) == 0)
            rc = bad_msg(x->err, p, "the delimiter must not be empty");
        return rc;
    }
    if (strcmp(name, "Fn::Select") == 0)
        return v_args(x, arg, 2, name, p, depth);
    if (strcmp(name, "Fn::FindInMap") == 0) {
        enum fl_code rc = v_args(x, arg, 3, name, p, depth);
        json_t *m = json_array_get(arg, 0);
        if (rc == FL_OK && json_is_string(m) &&
            !(x->mappings && json_object_get(x->mappings, json_string_value(m))))
            rc = bad(x->err, p, "Fn::FindInMap: no mapping named %s", json_string_value(m));
        return rc;
    }
    if (strcmp(name, "Fn::Sub") == 0) {
        struct sub_check sc = {x, NULL, p};
        json_t *s = arg;
        if (json_is_array(arg)) {
            if (json_array_size(arg) != 2 || !json_is_string(json_array_get(arg, 0)) ||
                !json_is_object(json_array_get(arg, 1)))
                return bad_msg(x->err, p, "Fn::Sub takes a string or [string, {variables}]");
            s = json_array_get(arg, 0);
            sc.vars = json_array_get(arg, 1);
            char vp[PLACE_MAX];
            idx_place(vp, p, 1);
            enum fl_code rc = v_value(x, sc.vars, vp, depth + 1);
            if (rc)
                return rc;
        } else if (!json_is_string(arg)) {
            return bad_msg(x->err, p, "Fn::Sub takes a string or [string, {variables}]");
        }
        return sub_scan(json_string_value(s), sub_check_one, &sc, p, x->err);
    }
    return bad(x->err, place, "unknown function %s", name);
}

static enum fl_code v_value(struct ctx *x, json_t *v, const char *place, int depth)
{
    if (depth > TPL_DEPTH_MAX)
        return bad_msg(x->err, place, "nested too deeply");
    const char *fname;
    json_t *arg;
    if (as_function(v, &fname, &arg))
        return v_function(x, fname, arg, place, depth + 1);
    char p[PLACE_MAX];
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach (v, k, c) {
            sub_place(p, place, k);
            enum fl_code rc = v_value(x, c, p, depth + 1);
            if (rc)
                return rc;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach (v, i, c) {
            idx_place(p, place, i);
            enum fl_code rc = v_value(x, c, p, depth + 1);
            if (rc)
                return rc;
        }
    }
    return FL_OK;
}

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static const char *const THING_PROPS[] = {"ThingName", "ThingTypeName", "ThingGroups", "AttributePayload",
                                          NULL};
static const char *const CERT_PROPS[] = {"CertificateId", "CertificatePem", "CertificateSigningRequest",
                                         "Status", NULL};
static const char *const POLICY_PROPS[] = {"PolicyName", "PolicyDocument", NULL};
static const char *const OV_ALL[] = {"DO_NOTHING", "REPLACE", "FAIL", "MERGE", NULL};
static const char *const OV_TYPE[] = {"DO_NOTHING", "REPLACE", "FAIL", NULL};

static enum fl_code v_override(struct ctx *x, json_t *ov, const char *place)
{
    if (!json_is_object(ov))
        return bad_msg(x->err, place, "must be an object");
    const char *k;
    json_t *v;
    json_object_foreach (ov, k, v) {
        char p[PLACE_MAX];
        sub_place(p, place, k);
        const char *const *allowed = strcmp(k, "ThingTypeName") == 0 ? OV_TYPE : OV_ALL;
        if (strcmp(k, "AttributePayload") != 0 && strcmp(k, "ThingTypeName") != 0 &&
            strcmp(k, "ThingGroups") != 0)
            return bad(x->err, p, "unknown override setting %s", k);
        if (!json_is_string(v) || !in_list(json_string_value(v), allowed))
            return bad(x->err, p, "must be one of DO_NOTHING, REPLACE, FAIL%s",
                       allowed == OV_ALL ? " or MERGE" : "");
    }
    return FL_OK;
}

static enum fl_code v_resource(struct ctx *x, const char *name, json_t *r, int counts[3])
{
    char place[PLACE_MAX], p[PLACE_MAX];
    place_cat(place, "Resources.", name, NULL, NULL);
    if (!json_is_object(r))
        return bad_msg(x->err, place, "must be an object");
    json_t *type = json_object_get(r, "Type");
    if (!json_is_string(type))
        return bad_msg(x->err, place, "Type is required");
    const char *t = json_string_value(type);
    const char *const *props;
    int k;
    if (strcmp(t, T_THING) == 0)
        props = THING_PROPS, k = 0;
    else if (strcmp(t, T_CERT) == 0)
        props = CERT_PROPS, k = 1;
    else if (strcmp(t, T_POLICY) == 0)
        props = POLICY_PROPS, k = 2;
    else
        return bad(x->err, place, "unknown resource type %s", t);
    if (++counts[k] > 1)
        return bad(x->err, place, "a template has at most one resource of type %s", t);
    const char *key;
    json_t *v;
    json_object_foreach (r, key, v) {
        sub_place(p, place, key);
        if (strcmp(key, "Type") == 0)
            continue;
        if (strcmp(key, "OverrideSettings") == 0 && k == 0) {
            enum fl_code rc = v_override(x, v, p);
            if (rc)
                return rc;
            continue;
        }
        if (strcmp(key, "Properties") != 0)
            return bad(x->err, p, "unknown resource attribute %s", key);
    }
    json_t *pr = json_object_get(r, "Properties");
    sub_place(p, place, "Properties");
    if (!json_is_object(pr))
        return bad_msg(x->err, p, "is required and must be an object");
    json_object_foreach (pr, key, v) {
        char pp[PLACE_MAX];
        sub_place(pp, p, key);
        if (!in_list(key, props))
            return bad(x->err, pp, "unknown property of %s", t);
        enum fl_code rc = v_value(x, v, pp, 1);
        if (rc)
            return rc;
    }
    if (k == 0 && !json_object_get(pr, "ThingName"))
        return bad_msg(x->err, p, "ThingName is required");
    if (k == 1 && !json_object_get(pr, "CertificateId") && !json_object_get(pr, "CertificatePem") &&
        !json_object_get(pr, "CertificateSigningRequest"))
        return bad_msg(x->err, p, "CertificateId, CertificatePem or CertificateSigningRequest is required");
    if (k == 2 && !json_object_get(pr, "PolicyName") && !json_object_get(pr, "PolicyDocument"))
        return bad_msg(x->err, p, "PolicyName or PolicyDocument is required");
    return FL_OK;
}

enum fl_code tpl_validate(json_t *body, struct fl_err *err)
{
    if (!json_is_object(body))
        return fl_err_set(err, FL_INVALID_REQUEST, "templateBody: must be a JSON object");
    struct ctx x = {.err = err};
    const char *k;
    json_t *v;
    json_object_foreach (body, k, v) {
        if (strcmp(k, "Parameters") && strcmp(k, "Mappings") && strcmp(k, "Resources") &&
            strcmp(k, "DeviceConfiguration") && strcmp(k, "Description") &&
            strcmp(k, "AWSTemplateFormatVersion"))
            return bad_msg(err, k, "unknown template section");
    }
    x.params = json_object_get(body, "Parameters");
    x.mappings = json_object_get(body, "Mappings");
    x.resources = json_object_get(body, "Resources");
    if (x.params && !json_is_object(x.params))
        return bad_msg(err, "Parameters", "must be an object");
    if (x.mappings && !json_is_object(x.mappings))
        return bad_msg(err, "Mappings", "must be an object");
    if (!json_is_object(x.resources))
        return bad_msg(err, "Resources", "is required and must be an object");
    char p[PLACE_MAX];
    json_object_foreach (x.params, k, v) {
        sub_place(p, "Parameters", k);
        if (!json_is_object(v))
            return bad_msg(err, p, "must be an object");
        json_t *t = json_object_get(v, "Type");
        if (!json_is_string(t))
            return bad_msg(err, p, "Type is required");
        if (strcmp(json_string_value(t), "String") && strcmp(json_string_value(t), "Number") &&
            strcmp(json_string_value(t), "CommaDelimitedList"))
            return bad(err, p, "unsupported parameter Type %s", json_string_value(t));
        json_t *d = json_object_get(v, "Default");
        if (d && !json_is_string(d) && !json_is_number(d))
            return bad_msg(err, p, "Default must be a string or a number");
        if (json_object_get(x.resources, k))
            return bad_msg(err, p, "a parameter and a resource have the same name");
    }
    json_object_foreach (x.mappings, k, v) {
        sub_place(p, "Mappings", k);
        if (!json_is_object(v))
            return bad_msg(err, p, "must be an object");
        const char *k2;
        json_t *v2;
        json_object_foreach (v, k2, v2) {
            char p2[PLACE_MAX];
            sub_place(p2, p, k2);
            if (!json_is_object(v2))
                return bad_msg(err, p2, "must be an object");
        }
    }
    int counts[3] = {0, 0, 0};
    json_object_foreach (x.resources, k, v) {
        enum fl_code rc = v_resource(&x, k, v, counts);
        if (rc)
            return rc;
    }
    json_t *dc = json_object_get(body, "DeviceConfiguration");
    if (dc) {
        if (!json_is_object(dc))
            return bad_msg(err, "DeviceConfiguration", "must be an object");
        enum fl_code rc = v_value(&x, dc, "DeviceConfiguration", 1);
        if (rc)
            return rc;
    }
    return FL_OK;
}

enum fl_code tpl_parse(const char *body, json_t **out, struct fl_err *err)
{
    if (out)
        *out = NULL;
    if (body == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "templateBody is required");
    size_t n = strlen(body);
    if (n > TPL_BODY_MAX)
        return fl_err_set(err, FL_INVALID_REQUEST, "templateBody: longer than %d characters", TPL_BODY_MAX);
    json_error_t je;
    json_t *j = json_loadb(body, n, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "templateBody: not valid JSON (line %d, column %d: %s)",
                          je.line, je.column, je.text);
    enum fl_code rc = tpl_validate(j, err);
    if (rc == FL_OK && out)
        *out = j;
    else
        json_decref(j);
    return rc;
}

/* ---- evaluation ----------------------------------------------------------- */

static json_t *ev(struct ctx *x, json_t *v, const char *place, int depth);

static int budget(struct ctx *x, const char *place, int depth)
{
    if (++x->steps > STEPS_MAX) {
        bad_msg(x->err, place, "the template takes too many steps to evaluate");
        return 0;
    }
    if (depth > TPL_DEPTH_MAX * 4) {
        bad_msg(x->err, place, "references nest too deeply (a cycle?)");
        return 0;
    }
    return 1;
}

/* Strings, and numbers as their decimal text (parameters may be numbers). */
static json_t *as_string(struct ctx *x, json_t *v, const char *place, const char *what)
{
    if (json_is_string(v))
        return json_incref(v);
    if (json_is_integer(v)) {
        char b[32];
        snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
        return json_string(b);
    }
    if (json_is_real(v)) {
        char b[64];
        snprintf(b, sizeof b, "%.17g", json_real_value(v));
        return json_string(b);
    }
    bad(x->err, place, "%s must be a string", what);
    return NULL;
}

static json_t *ev_ref(struct ctx *x, const char *name, const char *place, int depth)
{
    json_t *decl = x->params ? json_object_get(x->params, name) : NULL;
    if (decl) {
        json_t *g = x->given ? json_object_get(x->given, name) : NULL;
        if (g && !json_is_null(g)) {
            char p[PLACE_MAX];
            sub_place(p, "parameters", name);
            return as_string(x, g, p, "the value");
        }
        json_t *d = json_object_get(decl, "Default");
        if (d)
            return as_string(x, d, place, "Default");
        bad(x->err, place, "parameter %s is required and was not given", name);
        return NULL;
    }
    json_t *r = json_object_get(x->resources, name);
    if (r == NULL) {
        bad(x->err, place, "Ref to undefined parameter or resource %s", name);
        return NULL;
    }
    /* A resource's Ref is its name: ThingName, CertificateId, PolicyName. */
    const char *t = json_string_value(json_object_get(r, "Type"));
    const char *prop = strcmp(t, T_THING) == 0  ? "ThingName"
                       : strcmp(t, T_CERT) == 0 ? "CertificateId"
                                                : "PolicyName";
    json_t *pv = json_object_get(json_object_get(r, "Properties"), prop);
    if (pv == NULL) {
        bad(x->err, place, "Ref to resource %s, which has no name property", name);
        return NULL;
    }
    char p[PLACE_MAX];
    place_cat(p, "Resources.", name, ".Properties.", prop);
    json_t *out = ev(x, pv, p, depth + 1);
    if (out && !json_is_string(out)) {
        json_decref(out);
        bad_msg(x->err, p, "must be a string");
        return NULL;
    }
    return out;
}

static json_t *ev_string(struct ctx *x, json_t *v, const char *place, int depth)
{
    json_t *r = ev(x, v, place, depth);
    if (r == NULL)
        return NULL;
    json_t *s = as_string(x, r, place, "the value");
    json_decref(r);
    return s;
}

static json_t *ev_join(struct ctx *x, json_t *arg, const char *place, int depth)
{
    const char *delim = json_string_value(json_array_get(arg, 0));
    char p[PLACE_MAX];
    idx_place(p, place, 1);
    json_t *list = ev(x, json_array_get(arg, 1), p, depth + 1);
    if (list == NULL)
        return NULL;
    if (!json_is_array(list)) {
        json_decref(list);
        bad_msg(x->err, p, "must be a list");
        return NULL;
    }
    size_t dl = strlen(delim), len = 0, i;
    json_t *e;
    json_t *strs = json_array();
    json_array_foreach (list, i, e) {
        char ep[PLACE_MAX];
        idx_place(ep, p, i);
        json_t *s = as_string(x, e, ep, "a joined value");
        if (s == NULL) {
            json_decref(strs);
            json_decref(list);
            return NULL;
        }
        len += json_string_length(s) + dl;
        json_array_append_new(strs, s);
    }
    json_decref(list);
    if (len > STRING_MAX) {
        json_decref(strs);
        bad_msg(x->err, place, "Fn::Join: the result is too long");
        return NULL;
    }
    char *buf = malloc(len + 1), *w = buf;
    if (buf == NULL) {
        json_decref(strs);
        fl_err_set(x->err, FL_INTERNAL, "out of memory");
        return NULL;
    }
    json_array_foreach (strs, i, e) {
        if (i) {
            memcpy(w, delim, dl);
            w += dl;
        }
        memcpy(w, json_string_value(e), json_string_length(e));
        w += json_string_length(e);
    }
    *w = '\0';
    json_decref(strs);
    json_t *out = json_stringn(buf, (size_t)(w - buf));
    free(buf);
    if (out == NULL)
        bad_msg(x->err, place, "Fn::Join: the result is not valid UTF-8");
    return out;
}

static json_t *ev_select(struct ctx *x, json_t *arg, const char *place, int depth)
{
    char p0[PLACE_MAX], p1[PLACE_MAX];
    idx_place(p0, place, 0);
    idx_place(p1, place, 1);
    json_t *ix = ev(x, json_array_get(arg, 0), p0, depth + 1);
    if (ix == NULL)
        return NULL;
    long long i = -1;
    if (json_is_integer(ix)) {
        i = json_integer_value(ix);
    } else if (json_is_string(ix)) {
        const char *s = json_string_value(ix);
        char *end;
        if (*s >= '0' && *s <= '9') {
            i = strtoll(s, &end, 10);
            if (*end)
                i = -1;
        }
    }
    json_decref(ix);
    if (i < 0) {
        bad_msg(x->err, p0, "the index must be a non-negative integer");
        return NULL;
    }
    json_t *list = ev(x, json_array_get(arg, 1), p1, depth + 1);
    if (list == NULL)
        return NULL;
    if (!json_is_array(list)) {
        json_decref(list);
        bad_msg(x->err, p1, "must be a list");
        return NULL;
    }
    if ((size_t)i >= json_array_size(list)) {
        json_decref(list);
        bad_msg(x->err, place, "Fn::Select: index out of range");
        return NULL;
    }
    json_t *out = json_incref(json_array_get(list, (size_t)i));
    json_decref(list);
    return out;
}

static json_t *ev_split(struct ctx *x, json_t *arg, const char *place, int depth)
{
    const char *delim = json_string_value(json_array_get(arg, 0));
    char p[PLACE_MAX];
    idx_place(p, place, 1);
    json_t *s = ev_string(x, json_array_get(arg, 1), p, depth + 1);
    if (s == NULL)
        return NULL;
    json_t *out = json_array();
    const char *cur = json_string_value(s), *end = cur + json_string_length(s);
    size_t dl = strlen(delim);
    for (;;) {
        const char *hit = dl ? strstr(cur, delim) : NULL;
        const char *stop = hit ? hit : end;
        json_t *part = json_stringn(cur, (size_t)(stop - cur));
        if (part == NULL) { /* a delimiter cut a UTF-8 sequence */
            json_decref(out);
            json_decref(s);
            bad_msg(x->err, place, "Fn::Split: a part is not valid UTF-8");
            return NULL;
        }
        json_array_append_new(out, part);
        if (!hit)
            break;
        cur = hit + dl;
    }
    json_decref(s);
    return out;
}

static json_t *ev_findinmap(struct ctx *x, json_t *arg, const char *place, int depth)
{
    json_t *k[3] = {NULL, NULL, NULL};
    json_t *v = NULL;
    for (int i = 0; i < 3; i++) {
        char p[PLACE_MAX];
        idx_place(p, place, (size_t)i);
        if ((k[i] = ev_string(x, json_array_get(arg, (size_t)i), p, depth + 1)) == NULL)
            goto done;
    }
    v = x->mappings ? json_object_get(x->mappings, json_string_value(k[0])) : NULL;
    if (v == NULL) {
        bad(x->err, place, "Fn::FindInMap: no mapping named %s", json_string_value(k[0]));
        goto done;
    }
    v = json_object_get(v, json_string_value(k[1]));
    if (v == NULL) {
        bad(x->err, place, "Fn::FindInMap: no key %s", json_string_value(k[1]));
        goto done;
    }
    v = json_object_get(v, json_string_value(k[2]));
    if (v == NULL)
        bad(x->err, place, "Fn::FindInMap: no key %s", json_string_value(k[2]));
    else
        json_incref(v);
done:
    for (int i = 0; i < 3; i++)
        json_decref(k[i]);
    return v;
}

static json_t *ev_sub(struct ctx *x, json_t *arg, const char *place, int depth)
{
    json_t *tmpl = json_is_array(arg) ? json_array_get(arg, 0) : arg;
    json_t *vars = json_is_array(arg) ? json_array_get(arg, 1) : NULL;
    const char *s = json_string_value(tmpl);
    size_t cap = json_string_length(tmpl) + 64, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        fl_err_set(x->err, FL_INTERNAL, "out of memory");
        return NULL;
    }
    const char *cur = s;
    json_t *out = NULL;
    for (;;) {
        const char *p = strstr(cur, "${");
        const char *end = p ? strchr(p + 2, '}') : NULL;
        const char *lit_end = p ? p : cur + strlen(cur);
        json_t *piece = NULL;
        const char *add = NULL;
        size_t addn = 0;
        /* literal text up to the next ${ */
        size_t need = (size_t)(lit_end - cur);
        if (p && end && p[2] == '!') {
            /* "${!x}" is the literal "${x}" */
            size_t n = need;
            if (len + n + (size_t)(end - p) + 1 > STRING_MAX)
                goto too_long;
            while (len + n + (size_t)(end - p) + 2 > cap) {
                cap *= 2;
                char *nb = realloc(buf, cap);
                if (nb == NULL)
                    goto oom;
                buf = nb;
            }
            memcpy(buf + len, cur, n);
            len += n;
            buf[len++] = '$';
            buf[len++] = '{';
            memcpy(buf + len, p + 3, (size_t)(end - p - 3));
            len += (size_t)(end - p - 3);
            buf[len++] = '}';
            cur = end + 1;
            continue;
        }
        if (p && end) {
            char name[256];
            size_t nl = (size_t)(end - p - 2);
            if (nl == 0 || nl >= sizeof name) {
                bad_msg(x->err, place, "Fn::Sub: bad variable name");
                goto fail;
            }
            memcpy(name, p + 2, nl);
            name[nl] = '\0';
            json_t *vv = vars ? json_object_get(vars, name) : NULL;
            char vp[PLACE_MAX];
            sub_place(vp, place, name);
            piece = vv ? ev_string(x, vv, vp, depth + 1) : ev_ref(x, name, place, depth + 1);
            if (piece == NULL)
                goto fail;
            json_t *ps = as_string(x, piece, vp, "a substituted value");
            json_decref(piece);
            if ((piece = ps) == NULL)
                goto fail;
            add = json_string_value(piece);
            addn = json_string_length(piece);
        } else if (p) {
            bad_msg(x->err, place, "Fn::Sub: unterminated ${ in the string");
            goto fail;
        }
        if (len + need + addn > STRING_MAX) {
            json_decref(piece);
            goto too_long;
        }
        while (len + need + addn + 1 > cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                json_decref(piece);
                goto oom;
            }
            buf = nb;
        }
        memcpy(buf + len, cur, need);
        len += need;
        if (addn)
            memcpy(buf + len, add, addn);
        len += addn;
        json_decref(piece);
        if (!p)
            break;
        cur = end + 1;
    }
    out = json_stringn(buf, len);
    if (out == NULL)
        bad_msg(x->err, place, "Fn::Sub: the result is not valid UTF-8");
    free(buf);
    return out;
too_long:
    bad_msg(x->err, place, "Fn::Sub: the result is too long");
    goto fail;
oom:
    fl_err_set(x->err, FL_INTERNAL, "out of memory");
fail:
    free(buf);
    return NULL;
}

static json_t *ev(struct ctx *x, json_t *v, const char *place, int depth)
{
    if (!budget(x, place, depth))
        return NULL;
    const char *fname;
    json_t *arg;
    char p[PLACE_MAX];
    if (as_function(v, &fname, &arg)) {
        sub_place(p, place, fname);
        if (strcmp(fname, "Ref") == 0)
            return ev_ref(x, json_string_value(arg), place, depth + 1);
        if (strcmp(fname, "Fn::Join") == 0)
            return ev_join(x, arg, p, depth + 1);
        if (strcmp(fname, "Fn::Select") == 0)
            return ev_select(x, arg, p, depth + 1);
        if (strcmp(fname, "Fn::Split") == 0)
            return ev_split(x, arg, p, depth + 1);
        if (strcmp(fname, "Fn::FindInMap") == 0)
            return ev_findinmap(x, arg, p, depth + 1);
        if (strcmp(fname, "Fn::Sub") == 0)
            return ev_sub(x, arg, p, depth + 1);
        bad(x->err, place, "unknown function %s", fname);
        return NULL;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *c;
        json_object_foreach (v, k, c) {
            sub_place(p, place, k);
            json_t *r = ev(x, c, p, depth + 1);
            if (r == NULL) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, k, r);
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *c;
        json_array_foreach (v, i, c) {
            idx_place(p, place, i);
            json_t *r = ev(x, c, p, depth + 1);
            if (r == NULL) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, r);
        }
        return a;
    }
    return json_incref(v);
}

/* ---- the plan -------------------------------------------------------------- */

static enum fl_code prop_str(struct ctx *x, json_t *props, const char *place, const char *key,
                             const char **out)
{
    json_t *v = json_object_get(props, key);
    if (v == NULL || json_is_null(v))
        return FL_OK;
    if (!json_is_string(v)) {
        char p[PLACE_MAX];
        sub_place(p, place, key);
        return bad_msg(x->err, p, "must be a string");
    }
    *out = json_string_value(v);
    return FL_OK;
}

static enum tpl_override ov_of(json_t *ov, const char *key)
{
    const char *s = json_string_value(json_object_get(ov, key));
    if (s == NULL)
        return TPL_OV_DO_NOTHING;
    if (strcmp(s, "REPLACE") == 0)
        return TPL_OV_REPLACE;
    if (strcmp(s, "FAIL") == 0)
        return TPL_OV_FAIL;
    if (strcmp(s, "MERGE") == 0)
        return TPL_OV_MERGE;
    return TPL_OV_DO_NOTHING;
}

static enum fl_code plan_thing(struct ctx *x, json_t *r, json_t *props, const char *place,
                               struct tpl_plan *pl)
{
    enum fl_code rc = prop_str(x, props, place, "ThingName", &pl->thing_name);
    if (rc == FL_OK)
        rc = prop_str(x, props, place, "ThingTypeName", &pl->thing_type);
    if (rc)
        return rc;
    char p[PLACE_MAX];
    json_t *g = json_object_get(props, "ThingGroups");
    if (g && !json_is_null(g)) {
        sub_place(p, place, "ThingGroups");
        if (!json_is_array(g))
            return bad_msg(x->err, p, "must be a list of strings");
        size_t i;
        json_t *e;
        json_array_foreach (g, i, e)
            if (!json_is_string(e))
                return bad_msg(x->err, p, "must be a list of strings");
        pl->groups = g;
    }
    json_t *a = json_object_get(props, "AttributePayload");
    if (a && !json_is_null(a)) {
        sub_place(p, place, "AttributePayload");
        if (!json_is_object(a))
            return bad_msg(x->err, p, "must be an object of strings");
        const char *k;
        json_t *e;
        json_object_foreach (a, k, e) {
            if (!json_is_string(e)) {
                char pp[PLACE_MAX];
                sub_place(pp, p, k);
                return bad_msg(x->err, pp, "must be a string");
            }
        }
        pl->attributes = a;
    }
    json_t *ov = json_object_get(r, "OverrideSettings");
    pl->ov_attributes = ov_of(ov, "AttributePayload");
    pl->ov_type = ov_of(ov, "ThingTypeName");
    pl->ov_groups = ov_of(ov, "ThingGroups");
    pl->has_thing = 1;
    if (pl->thing_name == NULL)
        return bad_msg(x->err, place, "ThingName is required");
    return FL_OK;
}

static enum fl_code plan_cert(struct ctx *x, json_t *props, const char *place, struct tpl_plan *pl)
{
    enum fl_code rc = prop_str(x, props, place, "CertificateId", &pl->cert_id);
    if (rc == FL_OK)
        rc = prop_str(x, props, place, "CertificatePem", &pl->cert_pem);
    if (rc == FL_OK)
        rc = prop_str(x, props, place, "CertificateSigningRequest", &pl->cert_csr);
    if (rc == FL_OK)
        rc = prop_str(x, props, place, "Status", &pl->cert_status);
    if (rc)
        return rc;
    if (pl->cert_status && strcmp(pl->cert_status, "ACTIVE") && strcmp(pl->cert_status, "INACTIVE")) {
        char p[PLACE_MAX];
        sub_place(p, place, "Status");
        return bad_msg(x->err, p, "must be ACTIVE or INACTIVE");
    }
    if (!pl->cert_id && !pl->cert_pem && !pl->cert_csr)
        return bad_msg(x->err, place,
                       "CertificateId, CertificatePem or CertificateSigningRequest is required");
    pl->has_cert = 1;
    return FL_OK;
}

static enum fl_code plan_policy(struct ctx *x, json_t *props, const char *place, struct tpl_plan *pl)
{
    enum fl_code rc = prop_str(x, props, place, "PolicyName", &pl->policy_name);
    if (rc)
        return rc;
    json_t *d = json_object_get(props, "PolicyDocument");
    if (json_is_string(d)) {
        pl->policy_doc = json_string_value(d);
    } else if (json_is_object(d)) {
        char *s = json_dumps(d, JSON_COMPACT);
        json_t *js = s ? json_string(s) : NULL;
        free(s);
        if (js == NULL)
            return fl_err_set(x->err, FL_INTERNAL, "out of memory");
        json_array_append_new(pl->hold, js);
        pl->policy_doc = json_string_value(js);
    } else if (d && !json_is_null(d)) {
        char p[PLACE_MAX];
        sub_place(p, place, "PolicyDocument");
        return bad_msg(x->err, p, "must be a JSON object or a string");
    }
    if (!pl->policy_name && !pl->policy_doc)
        return bad_msg(x->err, place, "PolicyName or PolicyDocument is required");
    pl->has_policy = 1;
    return FL_OK;
}

enum fl_code tpl_evaluate(json_t *body, json_t *params, struct tpl_plan *pl, struct fl_err *err)
{
    memset(pl, 0, sizeof *pl);
    pl->hold = json_array();
    if (pl->hold == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    if (params && !json_is_object(params))
        return fl_err_set(err, FL_INVALID_REQUEST, "parameters: must be an object");
    struct ctx x = {.params = json_object_get(body, "Parameters"),
                    .mappings = json_object_get(body, "Mappings"),
                    .resources = json_object_get(body, "Resources"),
                    .given = params,
                    .err = err};
    if (!json_is_object(x.resources))
        return fl_err_set(err, FL_INVALID_REQUEST, "Resources: is required and must be an object");
    const char *name;
    json_t *r;
    json_object_foreach (x.resources, name, r) {
        char place[PLACE_MAX];
        place_cat(place, "Resources.", name, ".Properties", NULL);
        json_t *props = ev(&x, json_object_get(r, "Properties"), place, 0);
        if (props == NULL)
            return err->code ? err->code : fl_err_set(err, FL_INTERNAL, "evaluation failed");
        json_array_append_new(pl->hold, props);
        const char *t = json_string_value(json_object_get(r, "Type"));
        enum fl_code rc = !json_is_object(props)    ? bad_msg(err, place, "must be an object")
                          : strcmp(t, T_THING) == 0 ? plan_thing(&x, r, props, place, pl)
                          : strcmp(t, T_CERT) == 0  ? plan_cert(&x, props, place, pl)
                                                    : plan_policy(&x, props, place, pl);
        if (rc)
            return rc;
    }
    json_t *dc = json_object_get(body, "DeviceConfiguration");
    json_t *dco = dc ? ev(&x, dc, "DeviceConfiguration", 0) : json_object();
    if (dco == NULL)
        return err->code ? err->code : fl_err_set(err, FL_INTERNAL, "evaluation failed");
    json_array_append_new(pl->hold, dco);
    pl->device_config = dco;
    return FL_OK;
}

void tpl_plan_free(struct tpl_plan *plan)
{
    if (plan) {
        json_decref(plan->hold);
        memset(plan, 0, sizeof *plan);
    }
}
