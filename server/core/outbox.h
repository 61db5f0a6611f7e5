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

/* Row kinds.
 *
 * publish      target = topic; client_id = deliver to this client only, or
 *              NULL for normal routing (subscribers' Receive policy
 *              applies); payload, qos, retain.
 * cert_status  target = certificate id: re-check that certificate (and its
 *              CA) and disconnect its clients when it is no longer usable.
 *              target NULL = re-check every connected client's certificate
 *              (written when a CA certificate changes status).
 * authz        target = certificate id: recompile the policies of the
 *              clients connected with it. target NULL = recompile every
 *              connected client (written when the change may reach many
 *              certificates: a policy attached to a thing group, a policy
 *              with many targets, a deleted thing group).
 */
#define OUTBOX_PUBLISH "publish"
#define OUTBOX_CERT_STATUS "cert_status"
#define OUTBOX_AUTHZ "authz"

/* The topic fleetd publishes (QoS 0, empty payload) to wake the plugin; the
 * plugin registers MOSQ_EVT_CONTROL for exactly this topic. */
#define OUTBOX_KICK_TOPIC "$CONTROL/fleet/v1"

/* iot-data Publish limits (AWS IoT Core message broker quotas). */
#define OUTBOX_MAX_PAYLOAD (128 * 1024) /* bytes */
#define OUTBOX_MAX_TOPIC 256            /* bytes of UTF-8 */
#define OUTBOX_MAX_SLASHES 7            /* forward slashes in a topic */

struct outbox_row {
    int64_t id;
    const char *kind;
    const char *target;    /* may be NULL */
    const char *client_id; /* may be NULL */
    const void *payload;   /* NULL when empty */
    size_t payload_len;
    int qos;
    int retain;
    int64_t created_at;
};

/* Inside an open write transaction: appends a row (strings and payload are
 * copied) and sets c->outbox_pending, so that the caller kicks the plugin
 * once the transaction commits. Returns FL_OK, FL_INTERNAL for an unknown
 * kind, a publish row without topic or qos not 0/1 (programming errors), or
 * a store error. */
enum fl_code outbox_append_tx(struct fl_core *c, const char *kind, const char *target, const char *client_id,
                              const void *payload, size_t payload_len, int qos, int retain,
                              struct fl_err *err);

/* Own transaction: appends a publish row (iot-data Publish) after checking
 * the topic (outbox_check_topic), qos 0|1 and payload size. Returns FL_OK,
 * FL_INVALID_REQUEST, FL_ENTITY_TOO_LARGE (payload > OUTBOX_MAX_PAYLOAD), or
 * a store error. */
enum fl_code outbox_publish(struct fl_core *c, const char *topic, const void *payload, size_t len, int qos,
                            int retain, struct fl_err *err);

/* A topic a client may publish to through the REST data plane: non-empty,
 * valid UTF-8 without control characters, at most OUTBOX_MAX_TOPIC bytes and
 * OUTBOX_MAX_SLASHES slashes, no '+' or '#', and not reserved: every topic
 * that begins with '$' is refused ($aws/ request topics need the services
 * behind them; $SYS and $CONTROL belong to the broker). FL_OK or
 * FL_INVALID_REQUEST. */
enum fl_code outbox_check_topic(const char *topic, struct fl_err *err);

/* Calls fn for each row with id > after_id, in id order, at most limit rows
 * (limit <= 0: no limit). No statement is open while fn runs, so fn may use
 * the same core (transactions included); the row's strings and payload are
 * valid only during the call. *last_id = id of the last row fn returned
 * FL_OK for (unchanged when none). A non-OK return from fn stops the scan
 * and is returned; otherwise FL_OK or a store error. */
typedef enum fl_code (*outbox_fn)(void *ctx, const struct outbox_row *row);
enum fl_code outbox_read(struct fl_core *c, int64_t after_id, int limit, outbox_fn fn, void *ctx,
                         int64_t *last_id, struct fl_err *err);

/* The broker's cursor: *last_id = saved value, or the current max id when
 * the broker has none yet and start_at_end, else 0. Reads only (nothing is
 * saved until outbox_cursor_set). FL_OK, FL_INVALID_REQUEST (empty id), or a
 * store error. */
enum fl_code outbox_cursor_get(struct fl_core *c, const char *broker_id, int start_at_end, int64_t *last_id,
                               struct fl_err *err);
/* Own transaction: saves the broker's cursor (insert or replace). */
enum fl_code outbox_cursor_set(struct fl_core *c, const char *broker_id, int64_t last_id, struct fl_err *err);

/* Own transaction: deletes rows older than before_ms that every broker
 * cursor has passed. With no cursor at all (no broker has ever run) rows
 * older than before_ms go too: a broker that starts later begins at the end
 * (outbox_cursor_get with start_at_end). A cursor that is never advanced
 * again (a broker id no longer used) holds rows back: delete its row from
 * outbox_cursors. fleetd runs this every minute with now - 1 hour. */
enum fl_code outbox_gc(struct fl_core *c, int64_t before_ms, struct fl_err *err);

#endif
