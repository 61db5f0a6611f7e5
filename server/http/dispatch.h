/*
 * dispatch.h - the one choke point of the HTTP adapter: authentication
 * (SigV4 + access keys), routing, read-only enforcement, body decoding,
 * the handler call, error rendering and the access log line.
 */
#ifndef FL_DISPATCH_H
#define FL_DISPATCH_H

#include "http.h"

struct core_pool;
struct kick;

struct http_app {
    struct core_pool *pool;
    size_t max_body;   /* bytes; larger bodies are 413 */
    int auth_disabled; /* tests and fuzzers only: skip SigV4 */
    int log_requests;  /* one line per request on the core log */
    struct kick *kick; /* wakes the broker after outbox writes (kick.h); NULL: no broker */
};

/* Handles one complete request: always fills resp (status, body, headers)
 * and never fails. The transport then sends resp and calls
 * http_resp_free(); http_req_free() releases what dispatch attached to req. */
void http_dispatch(struct http_app *app, struct http_req *req, struct http_resp *resp);
void http_req_free(struct http_req *req);
void http_resp_free(struct http_resp *resp);

/* Sets resp to an AWS error from err: status, x-amzn-ErrorType and
 * {"__type","message"} (+ resourceId/resourceArn when set). */
void response_error(struct http_resp *resp, const struct fl_err *err);
/* Serialises resp's body; returns malloc'd bytes (caller frees) and length. */
char *response_body(struct http_resp *resp, size_t *len);

#endif
