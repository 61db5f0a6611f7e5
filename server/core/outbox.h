/*
 * outbox.h - changes that must reach devices through the broker.
 *
 * fleetd appends rows inside the transaction of the change itself (the *_tx
 * functions), then kicks the broker plugin over the broker's unix socket; the
 * plugin reads rows after its cursor, acts on them and advances the cursor.
 * Nothing is lost while the broker is down: rows wait. Knows nothing of HTTP
 * or MQTT libraries (topics and payloads are plain strings and bytes).
 */
#ifndef FL_OUTBOX_H
#define FL_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* Row kinds. */
#define OUTBOX_PUBLISH "publish"         /* target = topic; client_id optional; payload, qos, retain */
#define OUTBOX_CERT_STATUS "cert_status" /* target = certificate id: re-check it, disconnect if unusable */
#define OUTBOX_AUTHZ "authz"             /* target = certificate id, or NULL for every client: recompile */

/* The topic fleetd publishes (QoS 0, empty payload) to wake the plugin; the
 * plugin registers MOSQ_EVT_CONTROL for exactly this topic. */
#define OUTBOX_KICK_TOPIC "$CONTROL/fleet/v1"

struct outbox_row {
    int64_t id;
    const char *kind;
    const char *target;    /* may be NULL */
    const char *client_id; /* may be NULL */
    const void *payload;
    size_t payload_len;
    int qos;
    int retain;
    int64_t created_at;
};

/* Inside an open write transaction: appends a row. */
enum fl_code outbox_append_tx(struct fl_core *c, const char *kind, const char *target, const char *client_id,
                              const void *payload, size_t payload_len, int qos, int retain, struct fl_err *err);

/* Own transaction: appends a publish row (iot-data Publish). */
enum fl_code outbox_publish(struct fl_core *c, const char *topic, const void *payload, size_t len, int qos,
                            int retain, struct fl_err *err);

/* Calls fn for each row with id > after_id, in id order, at most limit rows;
 * the row's strings are valid only during the call. *last_id = last id seen
 * (unchanged when none). A non-OK return from fn stops the scan. */
typedef enum fl_code (*outbox_fn)(void *ctx, const struct outbox_row *row);
enum fl_code outbox_read(struct fl_core *c, int64_t after_id, int limit, outbox_fn fn, void *ctx,
                         int64_t *last_id, struct fl_err *err);

/* The broker's cursor: *last_id = saved value, or the current max id when
 * the broker has none yet and start_at_end, else 0. */
enum fl_code outbox_cursor_get(struct fl_core *c, const char *broker_id, int start_at_end, int64_t *last_id,
                               struct fl_err *err);
enum fl_code outbox_cursor_set(struct fl_core *c, const char *broker_id, int64_t last_id, struct fl_err *err);

/* Deletes rows older than before_ms that every broker cursor has passed. */
enum fl_code outbox_gc(struct fl_core *c, int64_t before_ms, struct fl_err *err);

#endif
