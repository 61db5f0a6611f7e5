/*
 * store_outbox.h - SQL for the outbox and outbox_cursors tables
 * (schema/006_broker.sql). outbox.c owns the rules and the transactions.
 */
#ifndef FL_STORE_OUTBOX_H
#define FL_STORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* One outbox row as the store hands it out: pointers are valid during the
 * callback only. */
struct store_outbox_row {
    int64_t id;
    const char *kind;
    const char *target;    /* NULL when the column is NULL */
    const char *client_id; /* NULL when the column is NULL */
    const void *payload;   /* NULL when empty */
    size_t payload_len;
    int qos;
    int retain;
    int64_t created_at;
};

/* Appends a row; *id (may be NULL) = its id. */
enum fl_code store_outbox_insert(struct store *st, const char *kind, const char *target,
                                 const char *client_id, const void *payload, size_t payload_len, int qos,
                                 int retain, int64_t now_ms, int64_t *id, struct fl_err *err);
/* Calls fn once with the first row whose id > after_id: FL_OK, or
 * FL_NOT_FOUND when there is none (fn not called), or fn's code. */
typedef enum fl_code (*store_outbox_fn)(void *ctx, const struct store_outbox_row *row);
enum fl_code store_outbox_next(struct store *st, int64_t after_id, store_outbox_fn fn, void *ctx,
                               struct fl_err *err);
/* *id = the largest id in the table, 0 when it is empty (then every
 * later row is new: AUTOINCREMENT never reuses ids). */
enum fl_code store_outbox_max_id(struct store *st, int64_t *id, struct fl_err *err);
/* Deletes rows with created_at < before_ms and id <= the smallest cursor
 * (any id when there is no cursor); *deleted (may be NULL) = how many. */
enum fl_code store_outbox_gc(struct store *st, int64_t before_ms, int *deleted, struct fl_err *err);

/* A broker's cursor: FL_OK and *last_id, or FL_NOT_FOUND. */
enum fl_code store_outbox_cursor_get(struct store *st, const char *broker_id, int64_t *last_id,
                                     struct fl_err *err);
/* Inserts or replaces a broker's cursor. */
enum fl_code store_outbox_cursor_set(struct store *st, const char *broker_id, int64_t last_id, int64_t now_ms,
                                     struct fl_err *err);

#endif
