/*
 * store_groups.c - SQL for thing groups, direct membership and the
 * membership closure (see schema/003_groups.sql for why both exist).
 *
 * Every statement is an index probe or an index range: groups by name,
 * path or parent, memberships by group or by thing. Nothing here scans all
 * things or all groups.
 */
#include "store_groups.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* Runs a bound statement whose column 0 is a name, feeding fn; resets s. */
static enum fl_code scan_names(struct store *st, sqlite3_stmt *s, store_name_fn fn, void *ctx,
                               struct fl_err *err)
{
    enum fl_code e = FL_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((e = fn(ctx, (const char *)sqlite3_column_text(s, 0))) != FL_OK)
            break;
    }
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

void store_group_clear(struct store_group *g)
{
    free(g->description);
    free(g->attributes_json);
    g->description = NULL;
    g->attributes_json = NULL;
}

/* ---- groups --------------------------------------------------------------- */

static const char SQL_GET[] = "SELECT id, parent_id, depth, version, created_at, name, group_id, path, "
                              "description, attributes_json FROM thing_groups WHERE name = ?1";

enum fl_code store_groups_get(struct store *st, const char *name, int with_props, struct store_group *out,
                              struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK) {
        out->row_id = sqlite3_column_int64(s, 0);
        out->parent_row = sqlite3_column_int64(s, 1); /* NULL reads as 0 */
        out->depth = sqlite3_column_int(s, 2);
        out->version = sqlite3_column_int64(s, 3);
        out->created_at = sqlite3_column_int64(s, 4);
        store_col_copy(s, 5, out->name, sizeof(out->name));
        store_col_copy(s, 6, out->group_id, sizeof(out->group_id));
        store_col_copy(s, 7, out->path, sizeof(out->path));
        out->description = NULL;
        out->attributes_json = NULL;
        if (with_props) {
            out->description = store_col_dup(s, 8);
            out->attributes_json = store_col_dup(s, 9);
            if ((sqlite3_column_type(s, 8) != SQLITE_NULL && out->description == NULL) ||
                out->attributes_json == NULL) {
                store_group_clear(out);
                e = fl_err_set(err, FL_INTERNAL, "out of memory");
            }
        }
    }
    store_done(s);
    return e;
}

static const char SQL_EXISTS[] = "SELECT 1 FROM thing_groups WHERE name = ?1";

enum fl_code store_groups_exists(struct store *st, const char *name, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_EXISTS, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    enum fl_code e = store_step_row(st, s, err);
    store_done(s);
    return e;
}

static const char SQL_INSERT[] =
    "INSERT INTO thing_groups (name, group_id, parent_id, path, depth, description, attributes_json, "
    "version, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8) RETURNING id";

enum fl_code store_groups_insert(struct store *st, struct store_group *g, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_INSERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, g->name);
    store_bind_str(s, 2, g->group_id);
    if (g->parent_row)
        sqlite3_bind_int64(s, 3, g->parent_row);
    else
        sqlite3_bind_null(s, 3);
    store_bind_str(s, 4, g->path);
    sqlite3_bind_int(s, 5, g->depth);
    store_bind_str(s, 6, g->description);
    store_bind_str(s, 7, g->attributes_json);
    sqlite3_bind_int64(s, 8, g->created_at);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK) {
        g->row_id = sqlite3_column_int64(s, 0);
        g->version = 1;
        /* RETURNING rows are produced before the insert completes: step to
         * the end so the statement is finished before the reset. */
        int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
            e = store_fail(st, rc, err);
    } else if (e == FL_NOT_FOUND) {
        e = fl_err_set(err, FL_INTERNAL, "insert returned no row");
    }
    store_done(s);
    return e;
}

static const char SQL_SET_PROPS[] = "UPDATE thing_groups SET description = ?2, attributes_json = ?3, "
                                    "version = version + 1 WHERE id = ?1 RETURNING version";

enum fl_code store_groups_set_props(struct store *st, int64_t row_id, const char *description,
                                    const char *attributes_json, int64_t *version, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_SET_PROPS, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    store_bind_str(s, 2, description);
    store_bind_str(s, 3, attributes_json);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK) {
        *version = sqlite3_column_int64(s, 0);
        int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
            e = store_fail(st, rc, err);
    }
    store_done(s);
    return e;
}

static const char SQL_HAS_CHILD[] = "SELECT 1 FROM thing_groups WHERE parent_id = ?1 LIMIT 1";

enum fl_code store_groups_has_children(struct store *st, int64_t row_id, int *yes, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_HAS_CHILD, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    enum fl_code e = store_step_row(st, s, err);
    store_done(s);
    if (e == FL_OK || e == FL_NOT_FOUND) {
        *yes = e == FL_OK;
        e = FL_OK;
    }
    return e;
}

/* The closure rows of the group's members at its ancestors point back to it
 * through group_id, which has no index of its own: reach them through the
 * members (thing_id, group_id). The group's own closure rows and its direct
 * memberships go with the row through ON DELETE CASCADE. */
static const char SQL_DEL_CLOSURE[] = "DELETE FROM thing_group_closure WHERE group_id = ?1 AND thing_id IN "
                                      "(SELECT thing_id FROM thing_group_members WHERE group_id = ?1)";
static const char SQL_DELETE[] = "DELETE FROM thing_groups WHERE id = ?1";

enum fl_code store_groups_delete(struct store *st, int64_t row_id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_DEL_CLOSURE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    enum fl_code e = store_exec(st, s, err);
    if (e)
        return e;
    if ((s = store_stmt(st, SQL_DELETE, err)) == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, row_id);
    return store_exec(st, s, err);
}

/* One statement per scope so that each keeps its own index plan. */
static const char SQL_PAGE_ALL[] = "SELECT name FROM thing_groups "
                                   "WHERE name >= ?1 AND name < ?2 AND name <> ?3 ORDER BY name LIMIT ?4";
static const char SQL_PAGE_ROOTS[] = "SELECT name FROM thing_groups WHERE parent_id IS NULL "
                                     "AND name >= ?1 AND name < ?2 AND name <> ?3 ORDER BY name LIMIT ?4";
static const char SQL_PAGE_CHILDREN[] = "SELECT name FROM thing_groups WHERE parent_id = ?5 "
                                        "AND name >= ?1 AND name < ?2 AND name <> ?3 ORDER BY name LIMIT ?4";
/* The subtree comes from the path index and is sorted by name: "name || ''"
 * keeps the planner (which has no statistics) from walking every group in
 * name order instead and filtering on path. */
static const char SQL_PAGE_SUBTREE[] =
    "SELECT name FROM thing_groups WHERE path > ?5 AND path < ?6 "
    "AND name || '' >= ?1 AND name || '' < ?2 AND name <> ?3 ORDER BY name LIMIT ?4";

enum fl_code store_groups_page(struct store *st, enum store_groups_scope scope, int64_t parent_row,
                               const char *parent_path, const char *lo, const char *hi, const char *skip,
                               int limit, store_name_fn fn, void *ctx, struct fl_err *err)
{
    const char *sql = scope == STORE_GROUPS_ROOTS      ? SQL_PAGE_ROOTS
                      : scope == STORE_GROUPS_CHILDREN ? SQL_PAGE_CHILDREN
                      : scope == STORE_GROUPS_SUBTREE  ? SQL_PAGE_SUBTREE
                                                       : SQL_PAGE_ALL;
    sqlite3_stmt *s = store_stmt(st, sql, err);
    if (s == NULL)
        return FL_INTERNAL;
    char path_end[STORE_GROUP_PATH_MAX];
    store_bind_str(s, 1, lo);
    store_bind_str(s, 2, hi);
    store_bind_str(s, 3, skip);
    sqlite3_bind_int(s, 4, limit);
    if (scope == STORE_GROUPS_CHILDREN) {
        sqlite3_bind_int64(s, 5, parent_row);
    } else if (scope == STORE_GROUPS_SUBTREE) {
        /* "/a/b/" -> "/a/b0": the first string after every "/a/b/..." */
        size_t n = strlen(parent_path);
        if (n == 0 || n >= sizeof(path_end)) {
            store_done(s);
            return fl_err_set(err, FL_INTERNAL, "bad group path");
        }
        memcpy(path_end, parent_path, n + 1);
        path_end[n - 1] = '0';
        store_bind_str(s, 5, parent_path);
        store_bind_str(s, 6, path_end);
    }
    return scan_names(st, s, fn, ctx, err);
}

/* ---- membership ----------------------------------------------------------- */

static const char SQL_THING_ROW[] = "SELECT id FROM things WHERE name = ?1";

enum fl_code store_groups_thing_row(struct store *st, const char *name, int64_t *row_id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_THING_ROW, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, name);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK)
        *row_id = sqlite3_column_int64(s, 0);
    store_done(s);
    return e;
}

static const char SQL_MEMBERSHIPS[] = "SELECT g.id, g.path FROM thing_group_members m "
                                      "JOIN thing_groups g ON g.id = m.group_id WHERE m.thing_id = ?1";

enum fl_code store_groups_memberships(struct store *st, int64_t thing_row, store_membership_fn fn, void *ctx,
                                      struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_MEMBERSHIPS, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, thing_row);
    enum fl_code e = FL_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((e = fn(ctx, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1))) != FL_OK)
            break;
    }
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_MEMBER_INSERT[] =
    "INSERT INTO thing_group_members (group_id, thing_name, thing_id, added_at) VALUES (?1, ?2, ?3, ?4)";
/* ?4..?10 are the path prefixes of the group, "/a/", "/a/b/", ...; unused
 * ones are NULL, which = never matches. Each is a probe of the path index
 * (one SELECT per prefix: "path IN (?4, ...)" would build a temporary index
 * of the list on every call). */
static const char SQL_CLOSURE_INSERT[] =
    "INSERT INTO thing_group_closure (ancestor_id, thing_name, thing_id, group_id) "
    "SELECT id, ?1, ?2, ?3 FROM thing_groups WHERE path = ?4 "
    "UNION ALL SELECT id, ?1, ?2, ?3 FROM thing_groups WHERE path = ?5 "
    "UNION ALL SELECT id, ?1, ?2, ?3 FROM thing_groups WHERE path = ?6 "
    "UNION ALL SELECT id, ?1, ?2, ?3 FROM thing_groups WHERE path = ?7 "
    "UNION ALL SELECT id, ?1, ?2, ?3 FROM thing_groups WHERE path = ?8 "
    "UNION ALL SELECT id, ?1, ?2, ?3 FROM thing_groups WHERE path = ?9 "
    "UNION ALL SELECT id, ?1, ?2, ?3 FROM thing_groups WHERE path = ?10";

enum fl_code store_groups_member_add(struct store *st, int64_t group_row, const char *group_path,
                                     int64_t thing_row, const char *thing_name, int64_t now_ms,
                                     struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_MEMBER_INSERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, group_row);
    store_bind_str(s, 2, thing_name);
    sqlite3_bind_int64(s, 3, thing_row);
    sqlite3_bind_int64(s, 4, now_ms);
    enum fl_code e = store_exec(st, s, err);
    if (e)
        return e;

    if ((s = store_stmt(st, SQL_CLOSURE_INSERT, err)) == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, thing_name);
    sqlite3_bind_int64(s, 2, thing_row);
    sqlite3_bind_int64(s, 3, group_row);
    /* Prefixes are bound with their length: they live in group_path. */
    int k = 0;
    size_t n = strlen(group_path);
    for (size_t i = 1; i < n && k < STORE_GROUP_MAX_DEPTH; i++)
        if (group_path[i] == '/')
            sqlite3_bind_text(s, 4 + k++, group_path, (int)(i + 1), SQLITE_STATIC);
    for (; k < STORE_GROUP_MAX_DEPTH; k++)
        sqlite3_bind_null(s, 4 + k);
    return store_exec(st, s, err);
}

static const char SQL_MEMBER_DELETE[] =
    "DELETE FROM thing_group_members WHERE group_id = ?1 AND thing_name = ?2";
static const char SQL_CLOSURE_DELETE[] =
    "DELETE FROM thing_group_closure WHERE thing_id = ?1 AND group_id = ?2";

enum fl_code store_groups_member_remove(struct store *st, int64_t group_row, int64_t thing_row,
                                        const char *thing_name, int *removed, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_MEMBER_DELETE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, group_row);
    store_bind_str(s, 2, thing_name);
    enum fl_code e = store_exec(st, s, err);
    if (e)
        return e;
    *removed = store_changes(st) > 0;
    if (!*removed)
        return FL_OK;
    if ((s = store_stmt(st, SQL_CLOSURE_DELETE, err)) == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, thing_row);
    sqlite3_bind_int64(s, 2, group_row);
    return store_exec(st, s, err);
}

static const char SQL_THINGS_DIRECT[] =
    "SELECT thing_name FROM thing_group_members "
    "WHERE group_id = ?1 AND thing_name > ?2 ORDER BY thing_name LIMIT ?3";
/* (ancestor_id, thing_name) is unique, so no DISTINCT is needed. */
static const char SQL_THINGS_SUBTREE[] =
    "SELECT thing_name FROM thing_group_closure "
    "WHERE ancestor_id = ?1 AND thing_name > ?2 ORDER BY thing_name LIMIT ?3";

enum fl_code store_groups_things_page(struct store *st, int64_t group_row, int recursive, const char *after,
                                      int limit, store_name_fn fn, void *ctx, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, recursive ? SQL_THINGS_SUBTREE : SQL_THINGS_DIRECT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, group_row);
    store_bind_str(s, 2, after);
    sqlite3_bind_int(s, 3, limit);
    return scan_names(st, s, fn, ctx, err);
}

/* At most 10 groups x 7 levels of closure rows per thing: sorted in memory. */
static const char SQL_GROUPS_FOR_THING[] =
    "SELECT DISTINCT g.name FROM thing_group_closure c JOIN thing_groups g ON g.id = c.ancestor_id "
    "WHERE c.thing_id = ?1 AND g.name > ?2 ORDER BY g.name LIMIT ?3";

enum fl_code store_groups_for_thing_page(struct store *st, int64_t thing_row, const char *after, int limit,
                                         store_name_fn fn, void *ctx, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_GROUPS_FOR_THING, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, thing_row);
    store_bind_str(s, 2, after);
    sqlite3_bind_int(s, 3, limit);
    return scan_names(st, s, fn, ctx, err);
}
