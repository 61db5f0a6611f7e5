/*
 * kick.h - fleetd's one MQTT 3.1.1 connection to the broker's unix-socket
 * listener, used to wake the broker plugin after an outbox write commits
 * (server/core/outbox.h: an empty QoS 0 PUBLISH on OUTBOX_KICK_TOPIC), and
 * the outbox garbage collector.
 *
 * A request never waits on the broker: kick_send() only flags a background
 * thread, which connects lazily, coalesces kicks, retries every second
 * while the broker is unreachable, keeps the connection alive (PINGREQ) and,
 * every minute, deletes outbox rows older than an hour that every broker
 * cursor has passed. When the broker is down the rows simply wait; the
 * plugin drains them when it starts and on its tick.
 */
#ifndef FL_KICK_H
#define FL_KICK_H

#include <stddef.h>
#include <stdint.h>

struct core_pool;
struct kick;

/* Starts the kick thread for the broker socket at socket_path (nothing
 * connects before the first kick; NULL = no broker: kicks are counted and
 * dropped, the GC still runs). pool, when not NULL, is used for the outbox
 * GC through its writer core. Returns NULL when the path is empty or too
 * long for a unix socket, or the thread cannot start. */
struct kick *kick_create(const char *socket_path, struct core_pool *pool);
/* Stops the thread (sends DISCONNECT when connected). NULL is fine. Call
 * before closing the pool. */
void kick_destroy(struct kick *k);

/* Asks for a kick; returns at once. Call after the transaction that wrote
 * outbox rows has committed. k may be NULL (no broker). */
void kick_send(struct kick *k);

/* Outbox GC tuning (tests): run every every_ms (default 60 s, at least
 * 10 ms), deleting rows older than age_ms (default 1 hour) that every
 * broker cursor has passed. */
void kick_set_gc(struct kick *k, int64_t every_ms, int64_t age_ms);

struct kick_stats {
    uint64_t requested; /* kick_send calls */
    uint64_t sent;      /* kick PUBLISH packets written */
    uint64_t connects;  /* successful CONNECT/CONNACK exchanges */
    uint64_t failures;  /* connection attempts or writes that failed */
    uint64_t gc_runs;
    int connected;
};
void kick_get_stats(struct kick *k, struct kick_stats *out);

#endif
