/*
 * fuzz_requests.c - every JSON request decoder, through the real dispatch
 * path with authentication off, against an in-memory database: input is
 * "METHOD PATH[?QUERY]\n<body>". One core lives for the whole run so state
 * builds up across inputs (things created by one input are updated by the
 * next). Finds crashes, leaks and sanitizer errors in decoders and core.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "dispatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *no_header(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return NULL;
}

static struct fl_core *fuzz_core(void)
{
    static struct fl_core *c; /* fuzz harness state, not product code */
    if (c == NULL) {
        struct fl_config cfg;
        struct fl_err err;
        core_config_defaults(&cfg);
        c = calloc(1, sizeof(*c));
        if (core_open(c, &cfg, ":memory:", NULL, &err) != FL_OK)
            abort();
        c->log.min = FL_LOG_ERROR + 1;
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char *nl = memchr(s, '\n', size);
    const char *body = "";
    size_t body_len = 0;
    if (nl) {
        *nl = '\0';
        body = nl + 1;
        body_len = size - (size_t)(nl + 1 - s);
    }
    char *sp = strchr(s, ' ');
    if (sp == NULL) {
        free(s);
        return 0;
    }
    *sp = '\0';
    struct http_req req = {0};
    struct http_resp resp = {0};
    req.method = s;
    req.path = sp + 1;
    char *q = strchr(sp + 1, '?');
    if (q) {
        *q++ = '\0';
        while (q && *q && req.nquery < HTTP_MAX_QUERY) {
            char *amp = strchr(q, '&');
            if (amp)
                *amp++ = '\0';
            char *eq = strchr(q, '=');
            if (eq)
                *eq++ = '\0';
            req.query_raw[req.nquery].name = q;
            req.query_raw[req.nquery].value = eq;
            req.nquery++;
            q = amp;
        }
    }
    req.header = no_header;
    req.body = body;
    req.body_len = body_len;
    req.core = fuzz_core();
    struct http_app app = {.auth_disabled = 1, .max_body = 1 << 20};
    http_dispatch(&app, &req, &resp);
    size_t len = 0;
    free(response_body(&resp, &len));
    http_req_free(&req);
    http_resp_free(&resp);
    free(s);
    return 0;
}
