/*
 * fuzz_sigv4.c - SigV4 parsing, verification and signing.
 *
 * Input: '\n'-separated fields
 *   0 Authorization   1 x-amz-date   2 host   3 x-amz-content-sha256
 *   4 date            5 content-type 6 method 7 path   8 raw query
 * and everything after the ninth '\n' is the body. An empty or missing
 * header field means the header is absent.
 *
 * Phase 1 parses field 0 and verifies the request with a fixed secret and
 * clock. Phase 2 is an oracle: it signs the same request with sigv4_sign
 * (x-amz-date pinned to the clock), then parses and verifies that signature;
 * anything but success (or the payload-hash refusal when field 3 is not the
 * body's hash) aborts, since the signer and the verifier must agree on every
 * canonicalisation. It also signs into a too-small buffer, which must fail
 * cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define NOW_MS 1440938160000LL /* 20150830T123600Z */
#define NOW_AMZ "20150830T123600Z"
#define MAX_INPUT 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_AUTH, F_XDATE, F_HOST, F_SHA, F_DATE, F_CTYPE, F_METHOD, F_PATH, F_QUERY, F_BODY, F_N };

static const char *const header_names[] = {"authorization",        "x-amz-date", "host",
                                           "x-amz-content-sha256", "date",       "content-type"};
#define NHDR ((int)(sizeof(header_names) / sizeof(header_names[0])))

struct table {
    struct http_kv kv[NHDR];
    int n;
};

static const char *lookup(void *ctx, const char *name)
{
    const struct table *t = ctx;
    for (int i = 0; i < t->n; i++)
        if (strcasecmp(t->kv[i].name, name) == 0)
            return t->kv[i].value;
    return NULL;
}

static void table_set(struct table *t, const char *name, char *value)
{
    for (int i = 0; i < t->n; i++)
        if (strcasecmp(t->kv[i].name, name) == 0) {
            t->kv[i].value = value;
            return;
        }
    t->kv[t->n].name = (char *)name;
    t->kv[t->n].value = value;
    t->n++;
}

/* Splits q in place the way sigv4_sign reads a raw query: '&'-separated,
 * empty pieces skipped, name and value split at the first '='. Returns the
 * number of pairs, or -1 when there are more than HTTP_MAX_QUERY. */
static int split_query(char *q, struct http_kv *kv)
{
    int n = 0;
    while (*q) {
        char *amp = strchr(q, '&');
        if (amp)
            *amp = '\0';
        if (*q) {
            if (n == HTTP_MAX_QUERY)
                return -1;
            char *eq = strchr(q, '=');
            if (eq)
                *eq++ = '\0';
            kv[n].name = q;
            kv[n].value = eq;
            n++;
        }
        if (!amp)
            break;
        q = amp + 1;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    char *f[F_N] = {0};
    const char *body = "";
    size_t body_len = 0;
    char *p = buf;
    for (int i = 0; i < F_BODY && p; i++) {
        f[i] = p;
        char *nl = memchr(p, '\n', size - (size_t)(p - buf));
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = NULL;
        }
    }
    if (p) {
        body = p;
        body_len = size - (size_t)(p - buf);
    }
    const char *method = f[F_METHOD] ? f[F_METHOD] : "GET";
    const char *path = f[F_PATH] ? f[F_PATH] : "/";
    const char *raw_query = f[F_QUERY] ? f[F_QUERY] : "";

    struct table hdrs = {.n = 0};
    for (int i = 0; i < NHDR; i++)
        if (f[i] && f[i][0])
            table_set(&hdrs, header_names[i], f[i]);

    /* Query pairs point into a copy: split_query writes NULs. */
    char *qcopy = strdup(raw_query);
    struct http_req req;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = path;
    req.header = lookup;
    req.header_ctx = &hdrs;
    req.body = body;
    req.body_len = body_len;
    int nq = qcopy ? split_query(qcopy, req.query_raw) : -1;
    req.nquery = nq < 0 ? HTTP_MAX_QUERY : nq;

    /* Phase 1: whatever the input says. */
    struct sigv4_auth auth;
    struct fl_err err;
    fl_err_clear(&err);
    if (sigv4_parse_authorization(f[F_AUTH], &auth, &err) == FL_OK)
        sigv4_verify(&req, &auth, SECRET, NOW_MS, &err);
    if (qcopy == NULL || nq < 0) {
        free(qcopy);
        free(buf);
        return 0;
    }

    /* Phase 2: sign, then verify what was signed. */
    struct table sh = {.n = 0};
    for (int i = 1; i < NHDR; i++)
        if (f[i] && f[i][0])
            table_set(&sh, header_names[i], f[i]);
    table_set(&sh, "x-amz-date", (char *)NOW_AMZ);
    if (lookup(&sh, "host") == NULL)
        table_set(&sh, "host", (char *)"h");
    char out[1024];
    if (sigv4_sign(method, path, raw_query, sh.kv, sh.n, body, body_len, "AKIDEXAMPLE", SECRET, "us-east-1",
                   "iot", out, sizeof(out)) == 0) {
        size_t small = size % (strlen(out) + 1); /* too small by at least one byte */
        char *tight = malloc(small ? small : 1);
        if (tight && sigv4_sign(method, path, raw_query, sh.kv, sh.n, body, body_len, "AKIDEXAMPLE", SECRET,
                                "us-east-1", "iot", tight, small) != -1)
            abort();
        free(tight);

        table_set(&sh, "authorization", out);
        req.header_ctx = &sh;
        if (sigv4_parse_authorization(out, &auth, &err) != FL_OK)
            abort();
        enum fl_code rc = sigv4_verify(&req, &auth, SECRET, NOW_MS, &err);
        if (rc != FL_OK && !(lookup(&sh, "x-amz-content-sha256") && strstr(err.msg, "x-amz-content-sha256")))
            abort(); /* signer and verifier disagree */
    }
    free(qcopy);
    free(buf);
    return 0;
}
