/*
 * response.c - rendering of responses: AWS REST-JSON errors and compact JSON
 * bodies. The transport (http_server.c) is the only code that talks to
 * libmicrohttpd; this file decides what the bytes are.
 */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

void response_error(struct http_resp *resp, const struct fl_err *err)
{
    json_decref(resp->json);
    free(resp->raw);
    resp->raw = NULL;
    resp->json = json_object();
    enum fl_code code = err->code == FL_OK ? FL_INTERNAL : err->code;
    resp->status = fl_err_status(code);
    resp->error_type = fl_err_type(code);
    json_object_set_new(resp->json, "__type", json_string(resp->error_type));
    json_object_set_new(resp->json, "message", json_string(err->msg[0] ? err->msg : resp->error_type));
    if (err->resource_id[0])
        json_object_set_new(resp->json, "resourceId", json_string(err->resource_id));
    if (err->resource_arn[0])
        json_object_set_new(resp->json, "resourceArn", json_string(err->resource_arn));
}

char *response_body(struct http_resp *resp, size_t *len)
{
    if (resp->raw) {
        char *b = resp->raw;
        *len = resp->raw_len;
        resp->raw = NULL;
        return b;
    }
    char *s = resp->json ? json_dumps(resp->json, JSON_COMPACT | JSON_REAL_PRECISION(15)) : strdup("{}");
    *len = s ? strlen(s) : 0;
    return s;
}

void http_resp_free(struct http_resp *resp)
{
    json_decref(resp->json);
    resp->json = NULL;
    free(resp->raw);
    resp->raw = NULL;
}
