/*
 * core.h - struct fl_core, the context every libfleet call receives.
 *
 * A core is one database connection plus the configuration, clock, random
 * source and log sink. It holds all state; libfleet has no mutable globals.
 * A core is used by one thread at a time: the daemon keeps a pool of cores
 * (core_pool_*), the broker plugin and the unit tests keep one each.
 * Knows nothing of HTTP or MQTT.
 */
#ifndef FL_CORE_H
#define FL_CORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct store;
struct ca;

/* Settings that shape what libfleet answers (ARNs, endpoints, limits). */
struct fl_config {
    char region[32];         /* "us-east-1" */
    char account_id[16];     /* 12 digits */
    char endpoint_host[256]; /* host devices and SDKs are told to use */
    int mqtt_port;           /* reserved for the broker (DescribeEndpoint) */
};

struct fl_clock {
    int64_t (*now_ms)(void *ctx); /* wall clock, milliseconds since epoch */
    void *ctx;
};

struct fl_rng {
    void (*fill)(void *ctx, void *buf, size_t len); /* unpredictable bytes */
    void *ctx;
};

enum fl_log_level { FL_LOG_DEBUG, FL_LOG_INFO, FL_LOG_WARN, FL_LOG_ERROR };

struct fl_log {
    void (*write)(void *ctx, enum fl_log_level lvl, const char *line);
    void *ctx;
    enum fl_log_level min;
};

/* An outbound HTTP(S) POST of a JSON body, injected by the process
 * (server/net/webhook.c in fleetd and the plugin; fakes in tests) so that
 * libfleet can call pre-provisioning hooks without knowing sockets or TLS.
 * post() sends body (len bytes, Content-Type application/json) to url and
 * waits at most timeout_ms in total; on FL_OK *status is the HTTP status
 * and *resp a malloc'd NUL-terminated body (*resp_len bytes) the caller
 * frees. FL_UNAVAILABLE on timeout or a network/TLS failure (err says
 * which), FL_INVALID_REQUEST for a URL it cannot call. post NULL: no
 * client (hooks fail). Must be callable from any thread. */
struct fl_http_post {
    enum fl_code (*post)(void *ctx, const char *url, const char *body, size_t len, int timeout_ms,
                         int *status, char **resp, size_t *resp_len, struct fl_err *err);
    void *ctx;
};

struct fl_core {
    struct fl_config cfg;
    struct store *st;
    struct fl_clock clock;
    struct fl_rng rng;
    struct fl_log log;
    struct ca *ca;            /* the built-in CA (ca/ca.h), shared, thread-safe; NULL when none */
    struct fl_http_post http; /* outbound calls (pre-provisioning hooks); zeroed by core_open */
    /* Set by outbox_append_tx: this core's transaction wrote an outbox row,
     * so once it commits the caller should wake the broker plugin (fleetd:
     * dispatch.c reads and clears it on the writer core). */
    int outbox_pending;
};

/* Opens the database at db_path (":memory:" for tests), applies the schema
 * migrations, and fills c with defaults: system clock, OpenSSL-free
 * /dev/urandom rng, stderr log. write_lock, when not NULL, serialises the
 * write transactions of every core sharing it (one process, many threads).
 * Returns FL_OK or an error with err filled. */
enum fl_code core_open(struct fl_core *c, const struct fl_config *cfg, const char *db_path,
                       pthread_mutex_t *write_lock, struct fl_err *err);
void core_close(struct fl_core *c);

/* Defaults for a config: us-east-1, 123456789012, localhost, 8883. */
void core_config_defaults(struct fl_config *cfg);

int64_t core_now_ms(struct fl_core *c);
void core_random(struct fl_core *c, void *buf, size_t len);
/* Writes the n bytes of in as 2n lowercase hex digits and a NUL into out. */
void core_hex(const void *in, size_t n, char *out);
/* Writes n random bytes (core_random) as 2n hex digits and a NUL into out. */
void core_random_hex(struct fl_core *c, size_t n, char *out);
/* Writes a random RFC 4122 v4 UUID (36 chars + NUL) into out. */
void core_uuid(struct fl_core *c, char out[37]);
/* Writes "arn:aws:iot:REGION:ACCOUNT:KIND/NAME" into out. */
void core_arn(const struct fl_core *c, char *out, size_t outlen, const char *kind, const char *name);
/* Parses an ARN of this deployment: returns the NAME part of
 * "arn:aws:iot:REGION:ACCOUNT:KIND/NAME" when KIND matches, else NULL. */
const char *core_arn_name(const struct fl_core *c, const char *arn, const char *kind);

void core_log(struct fl_core *c, enum fl_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A fixed set of cores over one database, for a multi-threaded process. */
struct core_pool;
enum fl_code core_pool_open(struct core_pool **out, int n, const struct fl_config *cfg, const char *db_path,
                            struct fl_err *err);
/* Blocks until a core is free. Never returns NULL. */
struct fl_core *core_pool_acquire(struct core_pool *p);
/* A write operation: runs on the pool's writer thread with the writer core;
 * its store_begin/store_end pair is a savepoint of the shared transaction. */
typedef enum fl_code (*core_write_fn)(struct fl_core *writer, void *arg);
/* Runs fn(writer, arg) on the pool's single writer thread and returns once
 * it is committed: fn's code, or the commit's error (then the operation did
 * not happen and err says so). Group commit: every operation queued while a
 * batch runs goes into the next batch, each in its own savepoint, and the
 * batch commits once for all of them. fn must not call core_pool_write. */
enum fl_code core_pool_write(struct core_pool *p, core_write_fn fn, void *arg, struct fl_err *err);
/* The same without waiting: queues the operation and returns FL_OK (or
 * FL_INTERNAL when out of memory: then nothing was queued). Once committed,
 * done(arg, code) is called on the writer thread, with fn's code or the
 * commit's error (err filled as above); err and arg must live until then. done
 * must be quick and must not call core_pool_write*. */
typedef void (*core_write_done_fn)(void *arg, enum fl_code rc);
enum fl_code core_pool_write_async(struct core_pool *p, core_write_fn fn, void *arg, struct fl_err *err,
                                   core_write_done_fn done);
/* The writer core for direct use (background jobs): blocks until no batch
 * runs; the caller's store_begin/store_end are then a transaction of their
 * own, committed by store_end. core_pool_release_writer returns FL_OK. */
struct fl_core *core_pool_acquire_writer(struct core_pool *p);
enum fl_code core_pool_release_writer(struct core_pool *p, struct fl_core *c, struct fl_err *err);
void core_pool_release(struct core_pool *p, struct fl_core *c);
void core_pool_close(struct core_pool *p);
/* Gives every core of the pool the (shared, thread-safe) CA. */
void core_pool_set_ca(struct core_pool *p, struct ca *ca);
/* Gives every core of the pool the outbound HTTP client (copied; hp->ctx
 * is shared and must be thread-safe and outlive the pool's use of it). */
void core_pool_set_http(struct core_pool *p, const struct fl_http_post *hp);

#endif
