/*
 * store_keys.c - SQL for the access_keys table.
 */
#include "store_keys.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "jx.h"

static const char SQL_INSERT[] =
    "INSERT INTO access_keys(access_key_id, secret, read_only, bootstrap, created_at) "
    "VALUES (?, ?, ?, ?, ?)";
static const char SQL_GET[] =
    "SELECT secret, read_only FROM access_keys WHERE access_key_id = ? AND revoked_at IS NULL";
static const char SQL_BOOTSTRAP[] = "SELECT access_key_id, secret, read_only FROM access_keys "
                                    "WHERE bootstrap = 1 AND revoked_at IS NULL ORDER BY created_at LIMIT 1";
static const char SQL_LIST[] = "SELECT access_key_id, read_only, created_at, revoked_at FROM access_keys "
                               "ORDER BY created_at, access_key_id";
static const char SQL_REVOKE[] =
    "UPDATE access_keys SET revoked_at = ? WHERE access_key_id = ? AND revoked_at IS NULL";

enum fl_code store_keys_insert(struct store *st, const struct key_pair *k, int bootstrap, int64_t now_ms,
                               struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_INSERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, k->access_key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, k->secret, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, k->read_only);
    sqlite3_bind_int(s, 4, bootstrap);
    sqlite3_bind_int64(s, 5, now_ms);
    int rc = sqlite3_step(s);
    store_done(s);
    return rc == SQLITE_DONE ? FL_OK : store_fail(st, rc, err);
}

enum fl_code store_keys_get(struct store *st, const char *akid, struct key_pair *out, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, akid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    enum fl_code res = FL_OK;
    if (rc == SQLITE_ROW) {
        snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", akid);
        store_col_copy(s, 0, out->secret, sizeof(out->secret));
        out->read_only = sqlite3_column_int(s, 1);
    } else if (rc == SQLITE_DONE) {
        res = fl_err_set(err, FL_NOT_FOUND, "The security token included in the request is invalid.");
    } else {
        res = store_fail(st, rc, err);
    }
    store_done(s);
    return res;
}

enum fl_code store_keys_bootstrap(struct store *st, struct key_pair *out, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_BOOTSTRAP, err);
    if (s == NULL)
        return FL_INTERNAL;
    int rc = sqlite3_step(s);
    enum fl_code res = FL_OK;
    if (rc == SQLITE_ROW) {
        store_col_copy(s, 0, out->access_key_id, sizeof(out->access_key_id));
        store_col_copy(s, 1, out->secret, sizeof(out->secret));
        out->read_only = sqlite3_column_int(s, 2);
    } else if (rc == SQLITE_DONE) {
        res = fl_err_set(err, FL_NOT_FOUND, "no bootstrap access key");
    } else {
        res = store_fail(st, rc, err);
    }
    store_done(s);
    return res;
}

enum fl_code store_keys_list(struct store *st, json_t *arr, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_LIST, err);
    if (s == NULL)
        return FL_INTERNAL;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "accessKeyId", json_string((const char *)sqlite3_column_text(s, 0)));
        json_object_set_new(o, "readOnly", json_boolean(sqlite3_column_int(s, 1)));
        json_object_set_new(o, "createdAt", jx_time(sqlite3_column_int64(s, 2)));
        json_object_set_new(o, "revoked", json_boolean(sqlite3_column_type(s, 3) != SQLITE_NULL));
        json_array_append_new(arr, o);
    }
    store_done(s);
    return rc == SQLITE_DONE ? FL_OK : store_fail(st, rc, err);
}

enum fl_code store_keys_revoke(struct store *st, const char *akid, int64_t now_ms, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_REVOKE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_text(s, 2, akid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    store_done(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, rc, err);
    if (store_changes(st) == 0)
        return fl_err_set(err, FL_NOT_FOUND, "No usable access key %s", akid);
    return FL_OK;
}

/* ---- settings ---------------------------------------------------------------- */

static const char SQL_SETTING_GET[] = "SELECT value FROM settings WHERE name = ?1";
static const char SQL_SETTING_ADD[] =
    "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING";
static const char SQL_SETTING_DELETE[] = "DELETE FROM settings WHERE name = ?1";

enum fl_code store_settings_get(struct store *st, const char *name, char *value, size_t n, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_SETTING_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK)
        store_col_copy(s, 0, value, n);
    store_done(s);
    return e;
}

enum fl_code store_settings_add(struct store *st, const char *name, const char *value, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_SETTING_ADD, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    store_bind_str(s, 2, value);
    return store_exec(st, s, err);
}

enum fl_code store_settings_delete(struct store *st, const char *name, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_SETTING_DELETE, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    return store_exec(st, s, err);
}
