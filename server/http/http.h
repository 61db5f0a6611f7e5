/*
 * http.h - the request and response of the HTTP adapter, as handlers see
 * them. Handlers never touch libmicrohttpd: http_server.c fills a struct
 * http_req from the wire, dispatch.c authenticates, routes and decodes, the
 * handler makes one libfleet call and fills struct http_resp, response
 * rendering happens in one place. The fuzzers fill struct http_req directly.
 */
#ifndef FL_HTTP_H
#define FL_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/core.h"
#include "../core/err.h"

#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_QUERY 32

struct http_kv {
    char *name;
    char *value; /* NULL for "?flag" without '=' */
};

/* Service plane a request is signed for (SigV4 credential scope). */
enum http_plane {
    PLANE_IOT = 1,  /* service "iot" or "execute-api" */
    PLANE_DATA = 2, /* "iotdata" */
    PLANE_JOBS = 4, /* "iot-jobs-data" */
};

struct route;

struct http_req {
    /* Set by the transport. */
    const char *method;
    const char *path;                         /* raw, still percent-encoded, without the query */
    struct http_kv query_raw[HTTP_MAX_QUERY]; /* raw, as received */
    int nquery;
    const char *(*header)(void *ctx, const char *name); /* case-insensitive */
    void *header_ctx;
    const char *body;
    size_t body_len;

    /* Set by dispatch before the handler runs. */
    const struct route *route;
    enum http_plane plane;
    char *params[HTTP_MAX_PARAMS];        /* decoded {param} values, route order */
    struct http_kv query[HTTP_MAX_QUERY]; /* decoded */
    json_t *json;                         /* parsed body, NULL when empty */
    char access_key_id[64];
    int read_only;
    struct fl_core *core;
    struct fl_err err;
};

struct http_resp {
    int status;   /* 200 unless the handler says otherwise */
    json_t *json; /* body, owned; rendered compactly */
    char *raw;    /* or a raw body (malloc'd, owned) */
    size_t raw_len;
    const char *content_type;
    const char *error_type; /* x-amzn-ErrorType, set with an error body */
    char allow[64];         /* Allow header for 405 */
};

/* A handler decodes req, makes one libfleet call and sets resp->json.
 * On failure it returns the fl_code and leaves the message in req->err
 * (the req_* accessors and libfleet calls fill it). */
typedef enum fl_code (*http_handler)(struct http_req *req, struct http_resp *resp);

/* ---- request accessors (request.c) ------------------------------------- */

/* Decoded value of a path parameter named in the route pattern, or NULL. */
const char *req_param(const struct http_req *req, const char *name);
/* Decoded value of a query parameter, or NULL when absent. */
const char *req_query(const struct http_req *req, const char *name);
/* Query integer in [min,max]; absent -> def. Bad -> InvalidRequest naming it. */
enum fl_code req_query_int(struct http_req *req, const char *name, int64_t min, int64_t max, int64_t def,
                           int64_t *out);
/* Query boolean "true"/"false"; absent -> def. */
enum fl_code req_query_bool(struct http_req *req, const char *name, int def, int *out);
/* maxResults in 1..250 (default def). */
enum fl_code req_max_results(struct http_req *req, int def, int *out);

/* Percent-decodes s[0..n) into a new string. Returns NULL on a malformed
 * escape or an encoded NUL. Caller frees. */
char *http_pct_decode(const char *s, size_t n);

#endif
