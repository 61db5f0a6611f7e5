/*
 * dispatch.c - the choke point every REST request goes through, in this
 * order: SigV4 authentication (which also names the plane: iot,
 * iot-data or iot-jobs-data), query decoding, routing (404 / 405), the
 * read-only check, JSON body decoding, one handler call, error rendering and
 * one access-log line. Handlers see a fully decoded, authorised request.
 */
#include "dispatch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "keys.h"
#include "kick.h"
#include "routes.h"
#include "sigv4.h"

static enum http_plane plane_of(const char *service)
{
    if (strcmp(service, "iot") == 0 || strcmp(service, "execute-api") == 0)
        return PLANE_IOT;
    if (strcmp(service, "iotdata") == 0)
        return PLANE_DATA;
    if (strcmp(service, "iot-jobs-data") == 0)
        return PLANE_JOBS;
    return 0;
}

/* ---- access keys seen lately ------------------------------------------------
 *
 * A key lookup is a read transaction of its own, and after every group
 * commit it rereads its pages. A write does not need it: it verifies its
 * signature with the key it saw last and the writer checks, in the write's
 * own transaction, that the key is still there (http_call_* below). A key's
 * secret and read-only flag never change; revoking removes it. Reads and
 * errors always look the key up. */

#define KEY_CACHE_SLOTS 16 /* direct-mapped; a deployment uses few keys */

struct key_cache {
    pthread_mutex_t lock;
    struct key_pair slot[KEY_CACHE_SLOTS];
};

struct key_cache *key_cache_new(void)
{
    struct key_cache *k = calloc(1, sizeof(*k));
    if (k)
        pthread_mutex_init(&k->lock, NULL);
    return k;
}

void key_cache_free(struct key_cache *k)
{
    if (k == NULL)
        return;
    pthread_mutex_destroy(&k->lock);
    memset(k->slot, 0, sizeof(k->slot)); /* secrets */
    free(k);
}

static struct key_pair *key_slot(struct key_cache *k, const char *akid)
{
    unsigned h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)akid; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &k->slot[h % KEY_CACHE_SLOTS];
}

static int key_cache_get(struct key_cache *k, const char *akid, struct key_pair *out)
{
    pthread_mutex_lock(&k->lock);
    struct key_pair *s = key_slot(k, akid);
    int hit = s->access_key_id[0] && strcmp(s->access_key_id, akid) == 0;
    if (hit)
        *out = *s;
    pthread_mutex_unlock(&k->lock);
    return hit;
}

static void key_cache_put(struct key_cache *k, const struct key_pair *key)
{
    pthread_mutex_lock(&k->lock);
    *key_slot(k, key->access_key_id) = *key;
    pthread_mutex_unlock(&k->lock);
}

static void key_cache_drop(struct key_cache *k, const char *akid)
{
    pthread_mutex_lock(&k->lock);
    struct key_pair *s = key_slot(k, akid);
    if (strcmp(s->access_key_id, akid) == 0)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&k->lock);
}

static enum fl_code bad_key(struct http_req *req)
{
    return fl_err_set(&req->err, FL_UNRECOGNIZED_CLIENT,
                      "The security token included in the request is invalid.");
}

/* The authoritative check of a key taken from the cache, on core c. */
static enum fl_code key_recheck(struct http_app *app, struct fl_core *c, struct http_req *req,
                                const char *akid)
{
    struct key_pair key;
    struct fl_err err;
    enum fl_code rc = keys_lookup(c, akid, &key, &err);
    memset(key.secret, 0, sizeof(key.secret));
    if (rc == FL_NOT_FOUND) {
        key_cache_drop(app->keys, akid);
        return bad_key(req);
    }
    if (rc != FL_OK) {
        req->err = err;
        return rc;
    }
    return FL_OK;
}

static enum fl_code authenticate(struct http_app *app, struct http_req *req, struct http_call *call)
{
    if (app->auth_disabled) {
        req->plane = PLANE_IOT;
        const char *svc = req->header ? req->header(req->header_ctx, "x-fleetd-plane") : NULL;
        if (svc && plane_of(svc))
            req->plane = plane_of(svc);
        return FL_OK;
    }
    struct sigv4_auth auth;
    const char *hdr = req->header(req->header_ctx, "authorization");
    enum fl_code rc = sigv4_parse_authorization(hdr, &auth, &req->err);
    if (rc)
        return rc;
    if (strcmp(auth.region, req->core->cfg.region) != 0)
        return fl_err_set(&req->err, FL_INVALID_SIGNATURE,
                          "Credential should be scoped to a valid region, not '%.64s'. ", auth.region);
    req->plane = plane_of(auth.service);
    if (req->plane == 0)
        return fl_err_set(&req->err, FL_INVALID_SIGNATURE,
                          "Credential should be scoped to correct service: 'iot'. ");
    struct key_pair key;
    /* GET is always a read: only other methods may take the key from the
     * cache (a read among them is checked once routed) */
    call->key_cached =
        app->keys && strcmp(req->method, "GET") != 0 && key_cache_get(app->keys, auth.access_key_id, &key);
    if (call->key_cached) {
        snprintf(call->key_id, sizeof(call->key_id), "%s", key.access_key_id);
    } else {
        if (keys_lookup(req->core, auth.access_key_id, &key, &req->err) != FL_OK)
            return bad_key(req);
        if (app->keys)
            key_cache_put(app->keys, &key);
    }
    rc = sigv4_verify(req, &auth, key.secret, core_now_ms(req->core), &req->err);
    memset(key.secret, 0, sizeof(key.secret));
    if (rc)
        return rc;
    /* SigV4 lets a client leave the body unsigned (an S3 feature). No AWS IoT
     * client does that, and over plain HTTP it would let a body be swapped
     * under a valid signature, so fleetd insists on a signed body. */
    const char *ph = req->header(req->header_ctx, "x-amz-content-sha256");
    if (ph && strcmp(ph, "UNSIGNED-PAYLOAD") == 0 && req->body_len > 0)
        return fl_err_set(&req->err, FL_INVALID_SIGNATURE,
                          "UNSIGNED-PAYLOAD is not accepted: sign the request body");
    snprintf(req->access_key_id, sizeof(req->access_key_id), "%s", key.access_key_id);
    req->read_only = key.read_only;
    return FL_OK;
}

static enum fl_code decode_query(struct http_req *req)
{
    for (int i = 0; i < req->nquery; i++) {
        const char *n = req->query_raw[i].name, *v = req->query_raw[i].value;
        req->query[i].name = http_pct_decode(n, strlen(n));
        req->query[i].value = v ? http_pct_decode(v, strlen(v)) : NULL;
        if (req->query[i].name == NULL || (v && req->query[i].value == NULL))
            return fl_err_set(&req->err, FL_INVALID_REQUEST, "Malformed percent-encoding in query parameter");
    }
    return FL_OK;
}

static enum fl_code decode_body(struct http_req *req)
{
    if (req->body_len == 0 || (req->route->flags & RF_RAW_BODY))
        return FL_OK;
    json_error_t jerr;
    req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (req->json == NULL)
        return fl_err_set(&req->err, FL_INVALID_REQUEST,
                          "Invalid JSON in request body: %s (line %d, column %d)", jerr.text, jerr.line,
                          jerr.column);
    if (!json_is_object(req->json))
        return fl_err_set(&req->err, FL_INVALID_REQUEST, "The request body must be a JSON object");
    return FL_OK;
}

static enum fl_code route(struct http_req *req, struct http_resp *resp)
{
    const struct route *rt = NULL;
    switch (routes_match(req->method, req->path, req->plane, &rt, req->params, resp->allow,
                         sizeof(resp->allow))) {
    case ROUTE_FOUND:
        req->route = rt;
        resp->allow[0] = '\0'; /* Allow belongs on 405 only */
        return FL_OK;
    case ROUTE_BAD_METHOD:
        return fl_err_set(&req->err, FL_METHOD_NOT_ALLOWED, "Method %s is not allowed on this resource",
                          req->method);
    case ROUTE_BAD_ENCODING:
        resp->allow[0] = '\0';
        return fl_err_set(&req->err, FL_INVALID_REQUEST, "Malformed percent-encoding in the request path");
    case ROUTE_NO_PATH:
    default:
        resp->allow[0] = '\0';
        return fl_err_set(&req->err, FL_UNKNOWN_OPERATION, "No operation matches %s %s", req->method,
                          strlen(req->path) > 200 ? "(long path)" : req->path);
    }
}

/* A write request's handler, run by the pool's writer thread. */
static enum fl_code call_write_run(struct fl_core *writer, void *arg)
{
    struct http_call *call = arg;
    call->req->core = writer;
    writer->outbox_pending = 0;
    if (call->key_cached && (call->rc = key_recheck(call->app, writer, call->req, call->key_id)) != FL_OK)
        return call->rc;
    call->rc = call->req->route->handler(call->req, call->resp);
    call->kick = call->rc == FL_OK && writer->outbox_pending;
    writer->outbox_pending = 0;
    return call->rc;
}

int http_call_start(struct http_call *call, struct http_app *app, struct http_req *req,
                    struct http_resp *resp)
{
    memset(call, 0, sizeof(*call));
    call->app = app;
    call->req = req;
    call->resp = resp;
    call->t0 = core_now_ms(req->core);
    fl_err_clear(&call->cerr);
    resp->status = 200;
    enum fl_code rc = authenticate(app, req, call);
    if (rc == FL_OK)
        rc = decode_query(req);
    if (rc == FL_OK)
        rc = route(req, resp);
    if (rc == FL_OK && req->read_only && !(req->route->flags & RF_READ))
        rc = fl_err_set(&req->err, FL_ACCESS_DENIED,
                        "User: %s is not authorized to perform: iot:%s (the access key is read-only)",
                        req->access_key_id, req->route->op);
    if (rc == FL_OK)
        rc = decode_body(req);
    /* a key from the cache is checked here unless the writer will: a
     * revoked key's request is refused as such, whatever else is wrong */
    if (call->key_cached && (rc != FL_OK || app->pool == NULL || (req->route->flags & RF_READ))) {
        call->key_cached = 0;
        enum fl_code krc = key_recheck(app, req->core, req, call->key_id);
        if (krc != FL_OK) {
            resp->allow[0] = '\0';
            rc = krc;
        }
    }
    call->rc = rc;
    if (rc != FL_OK)
        return 0;
    /* Everything before this ran in parallel; writes queue for the one
     * writer thread and are committed in groups (http_call_write*). */
    if (app->pool != NULL && !(req->route->flags & RF_READ))
        return 1;
    req->core->outbox_pending = 0;
    call->rc = req->route->handler(req, resp);
    call->kick = call->rc == FL_OK && req->core->outbox_pending;
    req->core->outbox_pending = 0;
    return 0;
}

void http_call_write(struct http_call *call)
{
    struct fl_core *reader = call->req->core;
    call->crc = core_pool_write(call->app->pool, call_write_run, call, &call->cerr);
    call->req->core = reader;
}

static void call_written(void *arg, enum fl_code crc)
{
    struct http_call *call = arg;
    call->crc = crc;
    call->req->core = NULL;
    /* the last touch of call: resume may hand it back to its thread */
    call->resume(call->resume_arg);
}

int http_call_write_async(struct http_call *call, void (*resume)(void *arg), void *arg)
{
    call->resume = resume;
    call->resume_arg = arg;
    return core_pool_write_async(call->app->pool, call_write_run, call, &call->cerr, call_written) == FL_OK
               ? 0
               : -1;
}

void http_call_finish(struct http_call *call)
{
    struct http_req *req = call->req;
    struct http_resp *resp = call->resp;
    enum fl_code rc = call->rc;
    if (call->crc != FL_OK && rc == FL_OK) {
        req->err = call->cerr;
        rc = call->crc;
    }
    /* the kick goes out only once the operation has committed, or the plugin
     * could read the outbox before the row is visible */
    if (rc == FL_OK && call->kick)
        kick_send(call->app->kick);
    if (rc != FL_OK) {
        if (req->err.code == FL_OK)
            fl_err_set(&req->err, rc, "%s", fl_err_type(rc));
        req->err.code = rc;
        response_error(resp, &req->err);
    } else if (resp->json == NULL && resp->raw == NULL) {
        resp->json = json_object();
    }
    if (call->app->log_requests || resp->status >= 500)
        core_log(req->core, resp->status >= 500 ? FL_LOG_ERROR : FL_LOG_INFO, "%s %s %d %s %lldms key=%s%s%s",
                 req->method, strlen(req->path) > 200 ? "(long path)" : req->path, resp->status,
                 req->route ? req->route->op : "-", (long long)(core_now_ms(req->core) - call->t0),
                 req->access_key_id[0] ? req->access_key_id : "-", rc ? " " : "", rc ? req->err.msg : "");
}

void http_dispatch(struct http_app *app, struct http_req *req, struct http_resp *resp)
{
    struct http_call call;
    if (http_call_start(&call, app, req, resp))
        http_call_write(&call);
    http_call_finish(&call);
}

void http_req_free(struct http_req *req)
{
    routes_free_params(req->params);
    for (int i = 0; i < req->nquery; i++) {
        free(req->query[i].name);
        free(req->query[i].value);
        req->query[i].name = req->query[i].value = NULL;
    }
    json_decref(req->json);
    req->json = NULL;
}
