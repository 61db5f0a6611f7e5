/*
 * store_provisioning.c - SQL for provisioning templates, versions, the
 * token secret and consumed token nonces (see store_provisioning.h). Every
 * statement is a primary-key or index probe or range.
 */
#include "store_provisioning.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TPL_COLS                                                                                             \
    "id, name, description, enabled, role_arn, hook_target, hook_version, type, default_version, "           \
    "next_version, created_at, updated_at"

static void read_tpl(sqlite3_stmt *s, struct store_tpl *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, 0);
    store_col_copy(s, 1, r->name, sizeof r->name);
    store_col_copy(s, 2, r->description, sizeof r->description);
    r->enabled = sqlite3_column_int(s, 3);
    store_col_copy(s, 4, r->role_arn, sizeof r->role_arn);
    store_col_copy(s, 5, r->hook_target, sizeof r->hook_target);
    store_col_copy(s, 6, r->hook_version, sizeof r->hook_version);
    store_col_copy(s, 7, r->type, sizeof r->type);
    r->default_version = sqlite3_column_int64(s, 8);
    r->next_version = sqlite3_column_int64(s, 9);
    r->created_at = sqlite3_column_int64(s, 10);
    r->updated_at = sqlite3_column_int64(s, 11);
}

static const char SQL_TPL_GET[] = "SELECT " TPL_COLS " FROM provisioning_templates WHERE name = ?1";

enum fl_code store_prov_tpl_get(struct store *st, const char *name, struct store_tpl *row, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TPL_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_opt(s, 1, name);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW)
        read_tpl(s, row);
    else if (rc == SQLITE_DONE)
        e = FL_NOT_FOUND;
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_TPL_INSERT[] =
    "INSERT INTO provisioning_templates (name, description, enabled, role_arn, hook_target, hook_version, "
    "type, default_version, next_version, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

enum fl_code store_prov_tpl_insert(struct store *st, struct store_tpl *r, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TPL_INSERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_opt(s, 1, r->name);
    store_bind_opt(s, 2, r->description);
    sqlite3_bind_int(s, 3, r->enabled);
    store_bind_opt(s, 4, r->role_arn);
    store_bind_opt(s, 5, r->hook_target);
    store_bind_opt(s, 6, r->hook_version);
    store_bind_opt(s, 7, r->type);
    sqlite3_bind_int64(s, 8, r->default_version);
    sqlite3_bind_int64(s, 9, r->next_version);
    sqlite3_bind_int64(s, 10, r->created_at);
    sqlite3_bind_int64(s, 11, r->updated_at);
    enum fl_code e = store_insert(st, s, err);
    if (e == FL_OK)
        r->id = sqlite3_last_insert_rowid(sqlite3_db_handle(s));
    return e;
}

static const char SQL_TPL_UPDATE[] =
    "UPDATE provisioning_templates SET description = ?2, enabled = ?3, role_arn = ?4, hook_target = ?5, "
    "hook_version = ?6, default_version = ?7, next_version = ?8, updated_at = ?9 WHERE id = ?1";

enum fl_code store_prov_tpl_update(struct store *st, const struct store_tpl *r, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TPL_UPDATE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, r->id);
    store_bind_opt(s, 2, r->description);
    sqlite3_bind_int(s, 3, r->enabled);
    store_bind_opt(s, 4, r->role_arn);
    store_bind_opt(s, 5, r->hook_target);
    store_bind_opt(s, 6, r->hook_version);
    sqlite3_bind_int64(s, 7, r->default_version);
    sqlite3_bind_int64(s, 8, r->next_version);
    sqlite3_bind_int64(s, 9, r->updated_at);
    return store_exec(st, s, err);
}

static const char SQL_TPL_DELETE[] = "DELETE FROM provisioning_templates WHERE id = ?1";

enum fl_code store_prov_tpl_delete(struct store *st, int64_t id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TPL_DELETE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, id);
    return store_exec(st, s, err);
}

static const char SQL_TPL_PAGE[] =
    "SELECT " TPL_COLS " FROM provisioning_templates WHERE id > ?1 ORDER BY id LIMIT ?2";

enum fl_code store_prov_tpl_page(struct store *st, int64_t after, int limit, store_tpl_fn fn, void *ctx,
                                 struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TPL_PAGE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int(s, 2, limit);
    enum fl_code e = FL_OK;
    struct store_tpl *row = malloc(sizeof *row);
    if (row == NULL)
        e = fl_err_set(err, FL_INTERNAL, "out of memory");
    int rc;
    while (e == FL_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_tpl(s, row);
        e = fn(ctx, row);
    }
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    free(row);
    store_done(s);
    return e;
}

static const char SQL_VER_INSERT[] = "INSERT INTO provisioning_template_versions (template_id, version, "
                                     "body, created_at) VALUES (?1, ?2, ?3, ?4)";

enum fl_code store_prov_ver_insert(struct store *st, int64_t tid, int64_t version, const char *body,
                                   int64_t created_at, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_VER_INSERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, tid);
    sqlite3_bind_int64(s, 2, version);
    sqlite3_bind_text(s, 3, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, created_at);
    return store_insert(st, s, err);
}

static const char SQL_VER_GET[] =
    "SELECT body, created_at FROM provisioning_template_versions WHERE template_id = ?1 AND version = ?2";

enum fl_code store_prov_ver_get(struct store *st, int64_t tid, int64_t version, char **body,
                                int64_t *created_at, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_VER_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, tid);
    sqlite3_bind_int64(s, 2, version);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW) {
        const char *b = (const char *)sqlite3_column_text(s, 0);
        if (body) {
            *body = strdup(b ? b : "");
            if (*body == NULL)
                e = fl_err_set(err, FL_INTERNAL, "out of memory");
        }
        if (created_at)
            *created_at = sqlite3_column_int64(s, 1);
    } else if (rc == SQLITE_DONE) {
        e = FL_NOT_FOUND;
    } else {
        e = store_fail(st, rc, err);
    }
    store_done(s);
    return e;
}

static const char SQL_VER_DELETE[] =
    "DELETE FROM provisioning_template_versions WHERE template_id = ?1 AND version = ?2";

enum fl_code store_prov_ver_delete(struct store *st, int64_t tid, int64_t version, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_VER_DELETE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, tid);
    sqlite3_bind_int64(s, 2, version);
    return store_exec(st, s, err);
}

static const char SQL_VER_COUNT[] =
    "SELECT count(*) FROM provisioning_template_versions WHERE template_id = ?1";

enum fl_code store_prov_ver_count(struct store *st, int64_t tid, int *n, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_VER_COUNT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, tid);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int(s, 0);
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_VER_PAGE[] = "SELECT version, created_at FROM provisioning_template_versions "
                                   "WHERE template_id = ?1 AND version > ?2 ORDER BY version LIMIT ?3";

enum fl_code store_prov_ver_page(struct store *st, int64_t tid, int64_t after, int limit, store_ver_fn fn,
                                 void *ctx, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_VER_PAGE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, tid);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int(s, 3, limit);
    enum fl_code e = FL_OK;
    int rc;
    while (e == FL_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        e = fn(ctx, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1));
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_TOKEN_USE[] =
    "INSERT INTO provisioning_tokens_used (nonce, expires_at) VALUES (?1, ?2)";

enum fl_code store_prov_token_use(struct store *st, const char *nonce, int64_t expires_at, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TOKEN_USE, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_opt(s, 1, nonce);
    sqlite3_bind_int64(s, 2, expires_at);
    return store_insert(st, s, err);
}

static const char SQL_TOKEN_PURGE[] = "DELETE FROM provisioning_tokens_used WHERE expires_at < ?1";

enum fl_code store_prov_token_purge(struct store *st, int64_t now, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TOKEN_PURGE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, now);
    return store_exec(st, s, err);
}

static const char SQL_TPL_EXISTS[] = "SELECT 1 FROM provisioning_templates WHERE name = ?";

enum fl_code store_prov_tpl_exists(struct store *st, const char *name, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TPL_EXISTS, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    store_done(s);
    if (rc == SQLITE_ROW)
        return FL_OK;
    return rc == SQLITE_DONE ? FL_NOT_FOUND : store_fail(st, rc, err);
}

/* ---- unclaimed MQTT certificates ---------------------------------------------- */

static const char SQL_UNCLAIMED_ADD[] =
    "INSERT INTO provisioning_unclaimed (certificate_id, expires_at) VALUES (?1, ?2)";

enum fl_code store_prov_unclaimed_add(struct store *st, const char *certificate_id, int64_t expires_at,
                                      struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_UNCLAIMED_ADD, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, certificate_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, expires_at);
    return store_insert(st, s, err);
}

static const char SQL_UNCLAIMED_DELETE[] = "DELETE FROM provisioning_unclaimed WHERE certificate_id = ?1";

enum fl_code store_prov_unclaimed_delete(struct store *st, const char *certificate_id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_UNCLAIMED_DELETE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, certificate_id, -1, SQLITE_STATIC);
    return store_exec(st, s, err);
}

static const char SQL_UNCLAIMED_EXPIRED[] = "SELECT certificate_id FROM provisioning_unclaimed "
                                            "WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2";

enum fl_code store_prov_unclaimed_expired(struct store *st, int64_t now, int max, char (*ids)[65], int *n,
                                          struct fl_err *err)
{
    *n = 0;
    sqlite3_stmt *s = store_stmt(st, SQL_UNCLAIMED_EXPIRED, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int(s, 2, max);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        snprintf(ids[*n], 65, "%s", t ? (const char *)t : "");
        (*n)++;
    }
    store_done(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? FL_OK : store_fail(st, rc, err);
}
