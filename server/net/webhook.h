/*
 * webhook.h - fleetd's outbound HTTP client: one JSON POST to an http:// or
 * https:// URL under one overall deadline, the implementation of struct
 * fl_http_post (core.h) that fleetd and the broker plugin inject into their
 * cores for pre-provisioning hooks.
 *
 * TLS is OpenSSL 3: the server certificate is verified against the system
 * trust store (plus an optional extra CA file), with SNI and a host name
 * (or IP address) check. Names are resolved with getaddrinfo; the deadline
 * covers resolution, connect, TLS handshake, writing and reading
 * (non-blocking sockets + poll). Responses: Content-Length, chunked, or
 * until close; bodies above WEBHOOK_MAX_RESPONSE are refused. No
 * redirects, no proxies, no keep-alive (one connection per call). A client
 * is immutable once created and may be used from any number of threads.
 * Knows nothing of libfleet beyond core.h's contract, MQTT or SQL.
 */
#ifndef FL_WEBHOOK_H
#define FL_WEBHOOK_H

#include <stddef.h>

#include "core.h"

#define WEBHOOK_MAX_RESPONSE 65536 /* response body bytes accepted */
#define WEBHOOK_MAX_HEADERS 16384  /* status line + headers bytes accepted */
#define WEBHOOK_MAX_URL 2048

struct webhook;

/* Creates a client. ca_file: NULL, or a PEM file of CA certificates
 * trusted for https in addition to the system store. Returns NULL with err
 * filled (FL_INVALID_REQUEST: the CA file cannot be loaded; FL_INTERNAL). */
struct webhook *webhook_new(const char *ca_file, struct fl_err *err);
/* Frees w (NULL is fine). No call may be running. */
void webhook_free(struct webhook *w);

/* Fills hp so that hp->post(hp->ctx, ...) calls webhook_post with w. */
void webhook_http(struct webhook *w, struct fl_http_post *hp);

/* The struct fl_http_post contract (core.h), ctx = a struct webhook *:
 * POSTs body (len bytes, application/json) to url within timeout_ms. FL_OK:
 * *status and *resp (malloc'd, NUL-terminated, *resp_len bytes; the
 * caller frees). FL_INVALID_REQUEST: url unusable (scheme, syntax,
 * length). FL_UNAVAILABLE: resolution, connection, TLS or protocol
 * failure, timeout, or a response too large (err says which). Blocks the
 * calling thread; SIGPIPE is never raised. */
enum fl_code webhook_post(void *ctx, const char *url, const char *body, size_t len, int timeout_ms,
                          int *status, char **resp, size_t *resp_len, struct fl_err *err);

/* Parses an http(s) URL as webhook_post does. Returns 0 and fills the
 * parts (host without brackets; path includes the query; "/" when empty),
 * or -1 with why set to a static message. For validators and tests. */
struct webhook_url {
    int tls;
    char host[256];
    char port[6];
    char path[WEBHOOK_MAX_URL + 1];
};
int webhook_parse_url(const char *url, struct webhook_url *u, const char **why);

#endif
