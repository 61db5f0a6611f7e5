/*
 * store_outbox.c - SQL for the outbox and outbox_cursors tables.
 */
#include "store_outbox.h"

#include <sqlite3.h>

static const char SQL_INSERT[] =
    "INSERT INTO outbox(kind, target, client_id, payload, qos, retain, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_NEXT[] = "SELECT id, kind, target, client_id, payload, qos, retain, created_at "
                               "FROM outbox WHERE id > ? ORDER BY id LIMIT 1";
static const char SQL_MAX_ID[] = "SELECT COALESCE(MAX(id), 0) FROM outbox";
/* The id bound keeps rows a lagging broker has not read yet; a table with
 * no cursor at all has nobody to wait for. */
static const char SQL_GC[] =
    "DELETE FROM outbox WHERE created_at < ? "
    "AND id <= (SELECT COALESCE(MIN(last_id), 9223372036854775807) FROM outbox_cursors)";
static const char SQL_CURSOR_GET[] = "SELECT last_id FROM outbox_cursors WHERE broker_id = ?";
static const char SQL_CURSOR_SET[] =
    "INSERT INTO outbox_cursors(broker_id, last_id, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT(broker_id) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at";

enum fl_code store_outbox_insert(struct store *st, const char *kind, const char *target,
                                 const char *client_id, const void *payload, size_t payload_len, int qos,
                                 int retain, int64_t now_ms, int64_t *id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_INSERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    store_bind_str(s, 2, target);
    store_bind_str(s, 3, client_id);
    if (payload && payload_len > 0)
        sqlite3_bind_blob64(s, 4, payload, (sqlite3_uint64)payload_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_int(s, 5, qos);
    sqlite3_bind_int(s, 6, retain ? 1 : 0);
    sqlite3_bind_int64(s, 7, now_ms);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE && id)
        *id = sqlite3_last_insert_rowid(sqlite3_db_handle(s));
    store_done(s);
    return rc == SQLITE_DONE ? FL_OK : store_fail(st, rc, err);
}

enum fl_code store_outbox_next(struct store *st, int64_t after_id, store_outbox_fn fn, void *ctx,
                               struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_NEXT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, after_id);
    int rc = sqlite3_step(s);
    enum fl_code res;
    if (rc == SQLITE_ROW) {
        struct store_outbox_row r = {
            .id = sqlite3_column_int64(s, 0),
            .kind = (const char *)sqlite3_column_text(s, 1),
            .target = (const char *)sqlite3_column_text(s, 2),
            .client_id = (const char *)sqlite3_column_text(s, 3),
            .payload = sqlite3_column_blob(s, 4),
            .qos = sqlite3_column_int(s, 5),
            .retain = sqlite3_column_int(s, 6),
            .created_at = sqlite3_column_int64(s, 7),
        };
        r.payload_len = (size_t)sqlite3_column_bytes(s, 4);
        if (r.kind == NULL)
            r.kind = "";
        res = fn(ctx, &r);
    } else if (rc == SQLITE_DONE) {
        res = FL_NOT_FOUND;
    } else {
        res = store_fail(st, rc, err);
    }
    store_done(s);
    return res;
}

static enum fl_code one_int64(struct store *st, const char *sql, const char *bind, int64_t *out,
                              struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, sql, err);
    if (s == NULL)
        return FL_INTERNAL;
    if (bind)
        sqlite3_bind_text(s, 1, bind, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    enum fl_code res = FL_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else if (rc == SQLITE_DONE)
        res = FL_NOT_FOUND;
    else
        res = store_fail(st, rc, err);
    store_done(s);
    return res;
}

enum fl_code store_outbox_max_id(struct store *st, int64_t *id, struct fl_err *err)
{
    *id = 0;
    enum fl_code rc = one_int64(st, SQL_MAX_ID, NULL, id, err);
    return rc == FL_NOT_FOUND ? FL_OK : rc;
}

enum fl_code store_outbox_gc(struct store *st, int64_t before_ms, int *deleted, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_GC, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, before_ms);
    int rc = sqlite3_step(s);
    store_done(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, rc, err);
    if (deleted)
        *deleted = store_changes(st);
    return FL_OK;
}

enum fl_code store_outbox_cursor_get(struct store *st, const char *broker_id, int64_t *last_id,
                                     struct fl_err *err)
{
    return one_int64(st, SQL_CURSOR_GET, broker_id, last_id, err);
}

enum fl_code store_outbox_cursor_set(struct store *st, const char *broker_id, int64_t last_id, int64_t now_ms,
                                     struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CURSOR_SET, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, broker_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, last_id);
    sqlite3_bind_int64(s, 3, now_ms);
    int rc = sqlite3_step(s);
    store_done(s);
    return rc == SQLITE_DONE ? FL_OK : store_fail(st, rc, err);
}
