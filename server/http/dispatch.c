/*
 * dispatch.c - the choke point every REST request goes through, in this
 * order: SigV4 authentication (which also names the plane: iot,
 * iot-data or iot-jobs-data), query decoding, routing (404 / 405), the
 * read-only check, JSON body decoding, one handler call, error rendering and
 * one access-log line. Handlers see a fully decoded, authorised request.
 */
#include "dispatch.h"

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

static enum fl_code authenticate(struct http_app *app, struct http_req *req)
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
    if (keys_lookup(req->core, auth.access_key_id, &key, &req->err) != FL_OK)
        return fl_err_set(&req->err, FL_UNRECOGNIZED_CLIENT,
                          "The security token included in the request is invalid.");
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

void http_dispatch(struct http_app *app, struct http_req *req, struct http_resp *resp)
{
    int64_t t0 = core_now_ms(req->core);
    resp->status = 200;
    enum fl_code rc = authenticate(app, req);
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
    if (rc == FL_OK && app->pool != NULL && !(req->route->flags & RF_READ)) {
        /* Everything before this ran in parallel; writes queue for the one
         * writer and are committed in groups. Answer only once committed. */
        struct fl_core *reader = req->core;
        req->core = core_pool_acquire_writer(app->pool);
        req->core->outbox_pending = 0;
        rc = req->route->handler(req, resp);
        /* The flag is read while this thread still holds the writer (the
         * next holder clears it); the kick goes out only once the batch
         * holding this operation has committed, or the plugin could read
         * the outbox before the row is visible. */
        int kick = rc == FL_OK && req->core->outbox_pending;
        req->core->outbox_pending = 0;
        struct fl_err cerr;
        fl_err_clear(&cerr);
        enum fl_code crc = core_pool_release_writer(app->pool, req->core, &cerr);
        req->core = reader;
        if (crc != FL_OK && rc == FL_OK) {
            req->err = cerr;
            rc = crc;
        }
        if (kick && crc == FL_OK)
            kick_send(app->kick);
    } else if (rc == FL_OK) {
        req->core->outbox_pending = 0;
        rc = req->route->handler(req, resp);
        if (rc == FL_OK && req->core->outbox_pending)
            kick_send(app->kick);
        req->core->outbox_pending = 0;
    }
    if (rc != FL_OK) {
        if (req->err.code == FL_OK)
            fl_err_set(&req->err, rc, "%s", fl_err_type(rc));
        req->err.code = rc;
        response_error(resp, &req->err);
    } else if (resp->json == NULL && resp->raw == NULL) {
        resp->json = json_object();
    }
    if (app->log_requests || resp->status >= 500)
        core_log(req->core, resp->status >= 500 ? FL_LOG_ERROR : FL_LOG_INFO, "%s %s %d %s %lldms key=%s%s%s",
                 req->method, strlen(req->path) > 200 ? "(long path)" : req->path, resp->status,
                 req->route ? req->route->op : "-", (long long)(core_now_ms(req->core) - t0),
                 req->access_key_id[0] ? req->access_key_id : "-", rc ? " " : "", rc ? req->err.msg : "");
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
