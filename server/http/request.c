/*
 * request.c - request accessors for handlers: path parameters, decoded query
 * parameters with typed validation, and percent-decoding.
 */
#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *http_pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '\0') {
            free(out);
            return NULL;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

const char *req_param(const struct http_req *req, const char *name)
{
    if (req->route == NULL)
        return NULL;
    const char *p = req->route->pattern;
    int k = 0;
    size_t nl = strlen(name);
    while ((p = strchr(p, '{')) != NULL && k < HTTP_MAX_PARAMS) {
        const char *e = strchr(p, '}');
        if (e == NULL)
            break;
        if ((size_t)(e - p - 1) == nl && memcmp(p + 1, name, nl) == 0)
            return req->params[k];
        k++;
        p = e + 1;
    }
    return NULL;
}

const char *req_query(const struct http_req *req, const char *name)
{
    for (int i = 0; i < req->nquery; i++)
        if (req->query[i].name && strcmp(req->query[i].name, name) == 0)
            return req->query[i].value ? req->query[i].value : "";
    return NULL;
}

enum fl_code req_query_int(struct http_req *req, const char *name, int64_t min, int64_t max, int64_t def,
                           int64_t *out)
{
    const char *v = req_query(req, name);
    if (v == NULL) {
        *out = def;
        return FL_OK;
    }
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0')
        return fl_err_set(&req->err, FL_INVALID_REQUEST,
                          "Invalid value for parameter %s: expected an integer", name);
    if (x < min || x > max)
        return fl_err_set(&req->err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value '%lld' at '%s' failed to satisfy constraint: "
                          "Member must have value between %lld and %lld",
                          x, name, (long long)min, (long long)max);
    *out = x;
    return FL_OK;
}

enum fl_code req_query_bool(struct http_req *req, const char *name, int def, int *out)
{
    const char *v = req_query(req, name);
    if (v == NULL)
        *out = def;
    else if (strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0)
        *out = 0;
    else
        return fl_err_set(&req->err, FL_INVALID_REQUEST,
                          "Invalid value for parameter %s: expected true or false", name);
    return FL_OK;
}

enum fl_code req_max_results(struct http_req *req, int def, int *out)
{
    int64_t v;
    enum fl_code rc = req_query_int(req, "maxResults", 1, 250, def, &v);
    if (rc == FL_OK)
        *out = (int)v;
    return rc;
}
