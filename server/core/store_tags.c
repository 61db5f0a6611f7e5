/*
 * store_tags.c - SQL for resource tags. Every statement is a probe or a
 * range of the (resource_arn, key) primary key.
 */
#include "store_tags.h"

#include <sqlite3.h>

static const char SQL_PUT[] = "INSERT INTO tags (resource_arn, key, value) VALUES (?1, ?2, ?3) "
                              "ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value";

enum fl_code store_tags_put(struct store *st, const char *arn, const char *key, const char *value,
                            struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PUT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, value ? value : "", -1, SQLITE_STATIC);
    return store_exec(st, s, err);
}

static const char SQL_DELETE[] = "DELETE FROM tags WHERE resource_arn = ?1 AND key = ?2";

enum fl_code store_tags_delete(struct store *st, const char *arn, const char *key, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_DELETE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    return store_exec(st, s, err);
}

static const char SQL_DELETE_ALL[] = "DELETE FROM tags WHERE resource_arn = ?1";

enum fl_code store_tags_delete_all(struct store *st, const char *arn, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_DELETE_ALL, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    return store_exec(st, s, err);
}

static const char SQL_COUNT[] = "SELECT COUNT(*) FROM tags WHERE resource_arn = ?1";

enum fl_code store_tags_count(struct store *st, const char *arn, int *n, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_COUNT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int(s, 0);
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_PAGE[] =
    "SELECT key, value FROM tags WHERE resource_arn = ?1 AND key > ?2 ORDER BY key LIMIT ?3";

enum fl_code store_tags_page(struct store *st, const char *arn, const char *after, int limit, store_tag_fn fn,
                             void *ctx, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PAGE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, after ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, limit);
    enum fl_code e = FL_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        e = fn(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1));
        if (e != FL_OK)
            break;
    }
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_TYPE_EXISTS[] = "SELECT 1 FROM thing_types WHERE name = ?1";

enum fl_code store_tags_thing_type_exists(struct store *st, const char *name, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TYPE_EXISTS, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    enum fl_code e = rc == SQLITE_ROW ? FL_OK : rc == SQLITE_DONE ? FL_NOT_FOUND : store_fail(st, rc, err);
    store_done(s);
    return e;
}
