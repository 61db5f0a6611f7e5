/*
 * store_connectivity.c - SQL for the connectivity table.
 */
#include "store_connectivity.h"

#include <sqlite3.h>
#include <stdio.h>

/* INSERT ... SELECT ... WHERE EXISTS: only things are tracked. The WHERE of
 * the upsert keeps a late, older event from overwriting a newer one. */
static const char SQL_PUT[] =
    "INSERT INTO connectivity(thing_name, connected, timestamp_ms, disconnect_reason, session_id, principal, "
    "version) SELECT ?1, ?2, ?3, ?4, ?5, ?6, 1 WHERE EXISTS (SELECT 1 FROM things WHERE name = ?1) "
    "ON CONFLICT(thing_name) DO UPDATE SET connected = excluded.connected, timestamp_ms = "
    "excluded.timestamp_ms, "
    "disconnect_reason = excluded.disconnect_reason, session_id = excluded.session_id, "
    "principal = excluded.principal, version = connectivity.version + 1 "
    "WHERE excluded.timestamp_ms >= connectivity.timestamp_ms";
static const char SQL_ALL_OFFLINE[] = "UPDATE connectivity SET connected = 0, timestamp_ms = ?, "
                                      "disconnect_reason = ?, version = version + 1 WHERE connected = 1";
static const char SQL_GET[] =
    "SELECT connected, timestamp_ms, disconnect_reason, version FROM connectivity WHERE thing_name = ?";

enum fl_code store_connectivity_put(struct store *st, const char *thing_name, int connected,
                                    int64_t timestamp_ms, const char *reason, const char *session_id,
                                    const char *principal, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PUT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, thing_name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, connected ? 1 : 0);
    sqlite3_bind_int64(s, 3, timestamp_ms);
    store_bind_str(s, 4, reason);
    store_bind_str(s, 5, session_id);
    store_bind_str(s, 6, principal);
    int rc = sqlite3_step(s);
    store_done(s);
    return rc == SQLITE_DONE ? FL_OK : store_fail(st, rc, err);
}

enum fl_code store_connectivity_all_offline(struct store *st, int64_t now_ms, const char *reason,
                                            struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_ALL_OFFLINE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, now_ms);
    store_bind_str(s, 2, reason);
    int rc = sqlite3_step(s);
    store_done(s);
    return rc == SQLITE_DONE ? FL_OK : store_fail(st, rc, err);
}

enum fl_code store_connectivity_get(struct store *st, const char *thing_name, struct store_connectivity *out,
                                    struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, thing_name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    enum fl_code res = FL_OK;
    if (rc == SQLITE_ROW) {
        out->connected = sqlite3_column_int(s, 0);
        out->timestamp_ms = sqlite3_column_int64(s, 1);
        const unsigned char *r = sqlite3_column_text(s, 2);
        snprintf(out->disconnect_reason, sizeof(out->disconnect_reason), "%s", r ? (const char *)r : "");
        out->version = sqlite3_column_int64(s, 3);
    } else if (rc == SQLITE_DONE) {
        res = FL_NOT_FOUND;
    } else {
        res = store_fail(st, rc, err);
    }
    store_done(s);
    return res;
}
