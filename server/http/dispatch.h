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
struct key_cache;

struct http_app {
    struct core_pool *pool;
    size_t max_body;        /* bytes; larger bodies are 413 */
    int auth_disabled;      /* tests and fuzzers only: skip SigV4 */
    int log_requests;       /* one line per request on the core log */
    struct kick *kick;      /* wakes the broker after outbox writes (kick.h); NULL: no broker */
    struct key_cache *keys; /* access keys seen lately (key_cache_new); NULL: none */
};

/* The cache of access keys a write may verify its signature with before the
 * writer checks the key again in the write's transaction (dispatch.c). */
struct key_cache *key_cache_new(void);
void key_cache_free(struct key_cache *k);

/* Handles one complete request: always fills resp (status, body, headers)
 * and never fails. The transport then sends resp and calls
 * http_resp_free(); http_req_free() releases what dispatch attached to req. */
void http_dispatch(struct http_app *app, struct http_req *req, struct http_resp *resp);

/* The same in steps, so that a transport need not block a thread while a
 * write waits for its group commit:
 *   if (http_call_start(&call, app, req, resp))       req->core: a pool core
 *       http_call_write(&call);                         blocks until committed
 *   (or http_call_write_async(&call, resume, arg): resume(arg) is called on
 *    the writer thread once committed; req->core is then NULL and the
 *    transport gives it a core again before finishing)
 *   http_call_finish(&call);                            error body, kick, log
 * start returns 1 when the request is a write still to run, 0 when it is
 * done (a read, or an error). call, req and resp must stay put in between;
 * the core given to start may go back to the pool before the write. */
struct http_call {
    struct http_app *app;
    struct http_req *req;
    struct http_resp *resp;
    int64_t t0;
    enum fl_code rc;    /* the handler's (or the decoding's) */
    enum fl_code crc;   /* the commit's */
    struct fl_err cerr; /* the commit's error */
    int kick;           /* the handler queued outbox rows */
    int key_cached;     /* signed with a cached key: the writer checks it */
    char key_id[32];    /* that key */
    void (*resume)(void *arg);
    void *resume_arg;
};
int http_call_start(struct http_call *call, struct http_app *app, struct http_req *req,
                    struct http_resp *resp);
void http_call_write(struct http_call *call);
/* 0 when queued, -1 when it could not be (then use http_call_write). */
int http_call_write_async(struct http_call *call, void (*resume)(void *arg), void *arg);
void http_call_finish(struct http_call *call);
void http_req_free(struct http_req *req);
void http_resp_free(struct http_resp *resp);

/* Sets resp to an AWS error from err: status, x-amzn-ErrorType and
 * {"__type","message"} (+ resourceId/resourceArn when set). */
void response_error(struct http_resp *resp, const struct fl_err *err);
/* Serialises resp's body; returns malloc'd bytes (caller frees) and length. */
char *response_body(struct http_resp *resp, size_t *len);

#endif
