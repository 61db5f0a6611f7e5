/*
 * http_server.h - the libmicrohttpd transport of fleetd.
 */
#ifndef FL_HTTP_SERVER_H
#define FL_HTTP_SERVER_H

#include "dispatch.h"

struct http_server;

/* Starts listening on bind_addr:port (port 0 = ephemeral) with a pool of
 * threads; each request is handed to dispatch (http_call_*) with a core drawn
 * from app->pool, and a write's connection waits, suspended, for the pool's
 * writer thread to commit it. Gives app a key cache (dispatch.h) when it has
 * none; http_server_stop takes it back. Returns NULL with err set on failure. */
struct http_server *http_server_start(struct http_app *app, const char *bind_addr, int port, int threads,
                                      struct fl_err *err);
/* The port actually bound. */
int http_server_port(struct http_server *s);
void http_server_stop(struct http_server *s);

#endif
