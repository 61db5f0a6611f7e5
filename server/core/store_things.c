/*
 * store_things.c - SQL for thing types, things and thing attributes (see
 * store_things.h). Every statement is a prepared-once, indexed lookup or
 * range scan; none reads the whole things table.
 */
#include "store_things.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* ---- thing types ---------------------------------------------------------- */

void store_thing_type_clear(struct store_thing_type *t)
{
    free(t->description);
    free(t->searchable_json);
    free(t->mqtt5_json);
    t->description = t->searchable_json = t->mqtt5_json = NULL;
}

#define TYPE_COLS                                                                                            \
    "id, name, type_id, description, searchable_json, mqtt5_json, deprecated, deprecated_at, created_at"

static enum fl_code read_type(sqlite3_stmt *s, struct store_thing_type *t, struct fl_err *err)
{
    memset(t, 0, sizeof(*t));
    t->row_id = sqlite3_column_int64(s, 0);
    store_col_copy(s, 1, t->name, sizeof(t->name));
    store_col_copy(s, 2, t->type_id, sizeof(t->type_id));
    t->description = store_col_dup(s, 3);
    t->searchable_json = store_col_dup(s, 4);
    t->mqtt5_json = store_col_dup(s, 5);
    t->deprecated = sqlite3_column_int(s, 6);
    t->deprecated_at = sqlite3_column_int64(s, 7);
    t->created_at = sqlite3_column_int64(s, 8);
    if ((t->description == NULL && sqlite3_column_type(s, 3) != SQLITE_NULL) ||
        (t->searchable_json == NULL && sqlite3_column_type(s, 4) != SQLITE_NULL) ||
        (t->mqtt5_json == NULL && sqlite3_column_type(s, 5) != SQLITE_NULL)) {
        store_thing_type_clear(t);
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    }
    return FL_OK;
}

static const char SQL_TYPE_INSERT[] =
    "INSERT INTO thing_types (name, type_id, description, searchable_json, mqtt5_json, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

enum fl_code store_thing_types_insert(struct store *st, struct store_thing_type *t, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TYPE_INSERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, t->name);
    store_bind_str(s, 2, t->type_id);
    store_bind_str(s, 3, t->description);
    store_bind_str(s, 4, t->searchable_json);
    store_bind_str(s, 5, t->mqtt5_json);
    sqlite3_bind_int64(s, 6, t->created_at);
    int rc = sqlite3_step(s);
    store_done(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, rc, err);
    t->row_id = sqlite3_last_insert_rowid(sqlite3_db_handle(s));
    return FL_OK;
}

static const char SQL_TYPE_GET[] = "SELECT " TYPE_COLS " FROM thing_types WHERE name = ?1";

enum fl_code store_thing_types_get(struct store *st, const char *name, struct store_thing_type *out,
                                   struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TYPE_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    int rc = sqlite3_step(s);
    enum fl_code e;
    if (rc == SQLITE_ROW)
        e = read_type(s, out, err);
    else if (rc == SQLITE_DONE)
        e = FL_NOT_FOUND;
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_TYPE_LOOKUP[] = "SELECT id, deprecated FROM thing_types WHERE name = ?1";

enum fl_code store_thing_types_lookup(struct store *st, const char *name, int64_t *row_id, int *deprecated,
                                      struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TYPE_LOOKUP, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW) {
        *row_id = sqlite3_column_int64(s, 0);
        if (deprecated)
            *deprecated = sqlite3_column_int(s, 1);
    } else if (rc == SQLITE_DONE) {
        e = FL_NOT_FOUND;
    } else {
        e = store_fail(st, rc, err);
    }
    store_done(s);
    return e;
}

static const char SQL_TYPE_SET_PROPS[] =
    "UPDATE thing_types SET description = ?2, searchable_json = ?3, mqtt5_json = ?4 WHERE id = ?1";

enum fl_code store_thing_types_set_props(struct store *st, int64_t row_id, const char *description,
                                         const char *searchable_json, const char *mqtt5_json,
                                         struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TYPE_SET_PROPS, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    store_bind_str(s, 2, description);
    store_bind_str(s, 3, searchable_json);
    store_bind_str(s, 4, mqtt5_json);
    return store_exec(st, s, err);
}

static const char SQL_TYPE_SET_DEPRECATED[] =
    "UPDATE thing_types SET deprecated = ?2, deprecated_at = ?3 WHERE id = ?1";

enum fl_code store_thing_types_set_deprecated(struct store *st, int64_t row_id, int deprecated, int64_t at,
                                              struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TYPE_SET_DEPRECATED, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    sqlite3_bind_int(s, 2, deprecated ? 1 : 0);
    if (deprecated)
        sqlite3_bind_int64(s, 3, at);
    else
        sqlite3_bind_null(s, 3);
    return store_exec(st, s, err);
}

static const char SQL_TYPE_DELETE[] = "DELETE FROM thing_types WHERE id = ?1";

enum fl_code store_thing_types_delete(struct store *st, int64_t row_id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TYPE_DELETE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    return store_exec(st, s, err);
}

static const char SQL_TYPE_IN_USE[] = "SELECT 1 FROM things WHERE type_id = ?1 LIMIT 1";

enum fl_code store_thing_types_in_use(struct store *st, int64_t row_id, int *used, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_TYPE_IN_USE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW)
        *used = 1;
    else if (rc == SQLITE_DONE)
        *used = 0;
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_TYPE_PAGE[] =
    "SELECT " TYPE_COLS " FROM thing_types WHERE name > ?1 ORDER BY name LIMIT ?2";

enum fl_code store_thing_types_page(struct store *st, const char *only, const char *after, int limit,
                                    store_thing_type_fn fn, void *ctx, int *count, struct fl_err *err)
{
    *count = 0;
    sqlite3_stmt *s;
    if (only) {
        /* The name filter is an exact match: the page is that type or nothing. */
        if (strcmp(only, after) <= 0)
            return FL_OK;
        s = store_stmt(st, SQL_TYPE_GET, err);
        if (s == NULL)
            return FL_INTERNAL;
        store_bind_str(s, 1, only);
    } else {
        s = store_stmt(st, SQL_TYPE_PAGE, err);
        if (s == NULL)
            return FL_INTERNAL;
        store_bind_str(s, 1, after);
        sqlite3_bind_int(s, 2, limit);
    }
    enum fl_code e = FL_OK;
    int rc;
    while (e == FL_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_thing_type t;
        e = read_type(s, &t, err);
        if (e == FL_OK) {
            (*count)++;
            e = fn(ctx, &t);
            store_thing_type_clear(&t);
        }
    }
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

/* ---- things -------------------------------------------------------------- */

static const char SQL_THING_INSERT[] =
    "INSERT INTO things (name, thing_id, type_id, attributes, version, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?5, 1, ?4, ?4)";

enum fl_code store_things_insert(struct store *st, struct store_thing *t, const char *attrs_json,
                                 int64_t now_ms, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_THING_INSERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, t->name);
    store_bind_str(s, 2, t->thing_id);
    if (t->type_row)
        sqlite3_bind_int64(s, 3, t->type_row);
    else
        sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, now_ms);
    store_bind_str(s, 5, attrs_json ? attrs_json : "{}");
    int rc = sqlite3_step(s);
    store_done(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, rc, err);
    t->row_id = sqlite3_last_insert_rowid(sqlite3_db_handle(s));
    t->version = 1;
    return FL_OK;
}

/* Columns 0..6 of every thing query below, in this order. */
#define THING_COLS "t.id, t.name, t.thing_id, t.type_id, tt.name, t.version, t.attributes"

static void read_thing(sqlite3_stmt *s, struct store_thing *t)
{
    t->row_id = sqlite3_column_int64(s, 0);
    store_col_copy(s, 1, t->name, sizeof(t->name));
    store_col_copy(s, 2, t->thing_id, sizeof(t->thing_id));
    t->type_row = sqlite3_column_int64(s, 3);
    store_col_copy(s, 4, t->type_name, sizeof(t->type_name));
    t->version = sqlite3_column_int64(s, 5);
    t->attrs_json = NULL;
    t->attr_value = NULL;
}

static const char SQL_THING_GET[] = "SELECT " THING_COLS " FROM things t "
                                    "LEFT JOIN thing_types tt ON tt.id = t.type_id WHERE t.name = ?1";

enum fl_code store_things_get(struct store *st, const char *name, struct store_thing *out, char **attrs_json,
                              struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_THING_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW) {
        read_thing(s, out);
        if (attrs_json && (*attrs_json = store_col_dup(s, 6)) == NULL)
            e = fl_err_set(err, FL_INTERNAL, "out of memory");
    } else if (rc == SQLITE_DONE) {
        e = FL_NOT_FOUND;
    } else {
        e = store_fail(st, rc, err);
    }
    store_done(s);
    return e;
}

static const char SQL_THING_ID[] = "SELECT id FROM things WHERE name = ?1";

enum fl_code store_things_id(struct store *st, const char *name, int64_t *row_id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_THING_ID, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW)
        *row_id = sqlite3_column_int64(s, 0);
    else if (rc == SQLITE_DONE)
        e = FL_NOT_FOUND;
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_THING_TOUCH[] =
    "UPDATE things SET type_id = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1";

enum fl_code store_things_touch(struct store *st, int64_t row_id, int64_t type_row, int64_t now_ms,
                                struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_THING_TOUCH, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    if (type_row)
        sqlite3_bind_int64(s, 2, type_row);
    else
        sqlite3_bind_null(s, 2);
    sqlite3_bind_int64(s, 3, now_ms);
    return store_exec(st, s, err);
}

/* The thing's rows in the attribute index go first: they are found through
 * its attributes column (thing_attributes has no index on thing_id). */
static const char SQL_THING_ATTRS_UNINDEX[] =
    "DELETE FROM thing_attributes WHERE (name, value, thing_name) IN "
    "(SELECT j.key, j.value, t.name FROM things t, json_each(t.attributes) j WHERE t.id = ?1)";
static const char SQL_THING_DELETE[] = "DELETE FROM things WHERE id = ?1";

enum fl_code store_things_delete(struct store *st, int64_t row_id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_THING_ATTRS_UNINDEX, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    enum fl_code e = store_exec(st, s, err);
    if (e)
        return e;
    if ((s = store_stmt(st, SQL_THING_DELETE, err)) == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    return store_exec(st, s, err);
}

/* ---- attributes ------------------------------------------------------------ */

static const char SQL_ATTRS[] =
    "SELECT j.key, j.value FROM things t, json_each(t.attributes) j WHERE t.id = ?1 ORDER BY j.key";

enum fl_code store_things_attrs(struct store *st, int64_t row_id, store_attr_fn fn, void *ctx,
                                struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_ATTRS, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    enum fl_code e = FL_OK;
    int rc;
    while (e == FL_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        e = fn(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1));
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_ATTRS_SET[] = "UPDATE things SET attributes = ?2 WHERE id = ?1";

enum fl_code store_things_attrs_set(struct store *st, int64_t row_id, const char *attrs_json,
                                    struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_ATTRS_SET, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    store_bind_str(s, 2, attrs_json);
    return store_exec(st, s, err);
}

static const char SQL_ATTR_INDEX[] =
    "INSERT INTO thing_attributes (name, value, thing_name, thing_id) VALUES (?1, ?2, ?3, ?4)";

enum fl_code store_things_attr_index(struct store *st, int64_t row_id, const char *thing_name,
                                     const char *name, const char *value, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_ATTR_INDEX, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    store_bind_str(s, 2, value);
    store_bind_str(s, 3, thing_name);
    sqlite3_bind_int64(s, 4, row_id);
    return store_exec(st, s, err);
}

static const char SQL_ATTR_UNINDEX[] =
    "DELETE FROM thing_attributes WHERE name = ?1 AND value = ?2 AND thing_name = ?3";

enum fl_code store_things_attr_unindex(struct store *st, const char *thing_name, const char *name,
                                       const char *value, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_ATTR_UNINDEX, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    store_bind_str(s, 2, value);
    store_bind_str(s, 3, thing_name);
    return store_exec(st, s, err);
}

static const char SQL_ATTR_GET[] = "SELECT j.value FROM things t, json_each(t.attributes) j "
                                   "WHERE t.name = ?1 AND j.key = ?2";

enum fl_code store_things_attr_get(struct store *st, const char *thing_name, const char *name, char *value,
                                   size_t n, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_ATTR_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, thing_name);
    store_bind_str(s, 2, name);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW)
        store_col_copy(s, 0, value, n);
    else if (rc == SQLITE_DONE)
        e = FL_NOT_FOUND;
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

/* ---- ListThings scans ------------------------------------------------------ */

/* Steps a page statement, handing each row to fn. with_value: column 7 is
 * the matched attribute value. */
static enum fl_code scan(struct store *st, sqlite3_stmt *s, int with_value, store_thing_fn fn, void *ctx,
                         int *count, struct fl_err *err)
{
    enum fl_code e = FL_OK;
    int rc;
    *count = 0;
    while (e == FL_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_thing t;
        read_thing(s, &t);
        t.attrs_json = (const char *)sqlite3_column_text(s, 6);
        if (with_value)
            t.attr_value = (const char *)sqlite3_column_text(s, 7);
        (*count)++;
        e = fn(ctx, &t);
    }
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_PAGE_ALL[] = "SELECT " THING_COLS " FROM things t "
                                   "LEFT JOIN thing_types tt ON tt.id = t.type_id "
                                   "WHERE t.name > ?1 ORDER BY t.name LIMIT ?2";
static const char SQL_PAGE_TYPE[] = "SELECT " THING_COLS " FROM things t "
                                    "LEFT JOIN thing_types tt ON tt.id = t.type_id "
                                    "WHERE t.type_id = ?1 AND t.name > ?2 ORDER BY t.name LIMIT ?3";

enum fl_code store_things_page(struct store *st, int64_t type_row, const char *after, int limit,
                               store_thing_fn fn, void *ctx, int *count, struct fl_err *err)
{
    sqlite3_stmt *s;
    if (type_row) {
        if ((s = store_stmt(st, SQL_PAGE_TYPE, err)) == NULL)
            return FL_INTERNAL;
        sqlite3_bind_int64(s, 1, type_row);
        store_bind_str(s, 2, after);
        sqlite3_bind_int(s, 3, limit);
    } else {
        if ((s = store_stmt(st, SQL_PAGE_ALL, err)) == NULL)
            return FL_INTERNAL;
        store_bind_str(s, 1, after);
        sqlite3_bind_int(s, 2, limit);
    }
    return scan(st, s, 0, fn, ctx, count, err);
}

/* The type filter, when combined with an attribute filter, is applied to
 * the rows the attribute index yields: those are already narrowed. */
static const char SQL_PAGE_ATTR_EQ[] =
    "SELECT " THING_COLS ", a.value FROM thing_attributes a "
    "JOIN things t ON t.id = a.thing_id LEFT JOIN thing_types tt ON tt.id = t.type_id "
    "WHERE a.name = ?1 AND a.value = ?2 AND a.thing_name > ?3 AND (?4 = 0 OR t.type_id = ?4) "
    "ORDER BY a.thing_name LIMIT ?5";

enum fl_code store_things_page_attr_eq(struct store *st, const char *attr, const char *value,
                                       int64_t type_row, const char *after, int limit, store_thing_fn fn,
                                       void *ctx, int *count, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PAGE_ATTR_EQ, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, attr);
    store_bind_str(s, 2, value);
    store_bind_str(s, 3, after);
    sqlite3_bind_int64(s, 4, type_row);
    sqlite3_bind_int(s, 5, limit);
    return scan(st, s, 1, fn, ctx, count, err);
}

static const char SQL_PAGE_ATTR_RANGE[] =
    "SELECT " THING_COLS ", a.value FROM thing_attributes a "
    "JOIN things t ON t.id = a.thing_id LEFT JOIN thing_types tt ON tt.id = t.type_id "
    "WHERE a.name = ?1 AND (a.value, a.thing_name) > (?2, ?3) AND a.value < ?4 "
    "AND (?5 = 0 OR t.type_id = ?5) "
    "ORDER BY a.value, a.thing_name LIMIT ?6";

enum fl_code store_things_page_attr_range(struct store *st, const char *attr, const char *hi,
                                          int64_t type_row, const char *after_value, const char *after_name,
                                          int limit, store_thing_fn fn, void *ctx, int *count,
                                          struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PAGE_ATTR_RANGE, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, attr);
    store_bind_str(s, 2, after_value);
    store_bind_str(s, 3, after_name);
    store_bind_str(s, 4, hi);
    sqlite3_bind_int64(s, 5, type_row);
    sqlite3_bind_int(s, 6, limit);
    return scan(st, s, 1, fn, ctx, count, err);
}

static const char SQL_PRINCIPAL_COUNT[] = "SELECT count(*) FROM thing_principals WHERE thing_id = ?";

enum fl_code store_things_principal_count(struct store *st, int64_t row_id, int *n, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PRINCIPAL_COUNT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    store_done(s);
    return rc == SQLITE_ROW ? FL_OK : store_fail(st, rc, err);
}
