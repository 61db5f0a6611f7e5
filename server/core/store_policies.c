/*
 * store_policies.c - SQL for policies, policy versions and policy
 * attachments, and the read-only lookups of the policy engine (see
 * store_policies.h).
 *
 * Every statement is an index probe or an index range: policies by name or
 * row id, versions by (policy, version), targets by (policy, target) or by
 * target, principals by principal, group ancestry through the membership
 * closure of one thing. Nothing here scans a whole table.
 */
#include "store_policies.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* Probe: FL_OK when the bound statement yields a row. Resets s. */
static enum fl_code probe(struct store *st, sqlite3_stmt *s, struct fl_err *err)
{
    enum fl_code e = store_step_row(st, s, err);
    store_done(s);
    return e;
}

/* Runs a bound statement whose column 0 is text, feeding fn; resets s. */
static enum fl_code scan_text(struct store *st, sqlite3_stmt *s, enum fl_code (*fn)(void *, const char *),
                              void *ctx, struct fl_err *err)
{
    enum fl_code e = FL_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((e = fn(ctx, (const char *)sqlite3_column_text(s, 0))) != FL_OK)
            break;
    }
    if (e == FL_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

/* Same, columns 0 and 1 both text. */
static enum fl_code scan_text_pair(struct store *st, sqlite3_stmt *s,
                                   enum fl_code (*fn)(void *, const char *, const char *), void *ctx,
                                   struct fl_err *err)
{
    enum fl_code e = FL_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((e = fn(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1))) !=
            FL_OK)
            break;
    }
    if (e == FL_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

#define STMT(var, sql)                                                                                       \
    sqlite3_stmt *var = store_stmt(st, sql, err);                                                            \
    if (var == NULL)                                                                                         \
    return FL_INTERNAL

/* ---- policies ------------------------------------------------------------- */

static const char SQL_GET[] = "SELECT id, default_version, next_version, created_at, updated_at, name, "
                              "generation_id FROM policies WHERE name = ?1";

enum fl_code store_policies_get(struct store *st, const char *name, struct store_policy *out,
                                struct fl_err *err)
{
    STMT(s, SQL_GET);
    store_bind_str(s, 1, name);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK) {
        out->row_id = sqlite3_column_int64(s, 0);
        out->default_version = sqlite3_column_int64(s, 1);
        out->next_version = sqlite3_column_int64(s, 2);
        out->created_at = sqlite3_column_int64(s, 3);
        out->updated_at = sqlite3_column_int64(s, 4);
        store_col_copy(s, 5, out->name, sizeof(out->name));
        store_col_copy(s, 6, out->generation_id, sizeof(out->generation_id));
    }
    store_done(s);
    return e;
}

static const char SQL_EXISTS[] = "SELECT 1 FROM policies WHERE name = ?1";

enum fl_code store_policies_exists(struct store *st, const char *name, struct fl_err *err)
{
    STMT(s, SQL_EXISTS);
    store_bind_str(s, 1, name);
    return probe(st, s, err);
}

static const char SQL_INSERT[] = "INSERT INTO policies (name, default_version, next_version, generation_id, "
                                 "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

enum fl_code store_policies_insert(struct store *st, struct store_policy *p, const char *document,
                                   struct fl_err *err)
{
    STMT(s, SQL_INSERT);
    store_bind_str(s, 1, p->name);
    sqlite3_bind_int64(s, 2, p->default_version);
    sqlite3_bind_int64(s, 3, p->next_version);
    store_bind_str(s, 4, p->generation_id);
    sqlite3_bind_int64(s, 5, p->created_at);
    sqlite3_bind_int64(s, 6, p->updated_at);
    enum fl_code e = store_exec(st, s, err);
    if (e)
        return e;
    /* the row id of the insert: read back by the unique name (portable,
     * unlike last_insert_rowid) */
    struct store_policy back;
    if ((e = store_policies_get(st, p->name, &back, err)))
        return e == FL_NOT_FOUND ? fl_err_set(err, FL_INTERNAL, "policy vanished after insert") : e;
    p->row_id = back.row_id;
    return store_policy_versions_insert(st, p->row_id, p->default_version, document, p->created_at, err);
}

static const char SQL_UPDATE[] = "UPDATE policies SET default_version = ?2, next_version = ?3, "
                                 "generation_id = ?4, updated_at = ?5 WHERE id = ?1";

enum fl_code store_policies_update(struct store *st, const struct store_policy *p, struct fl_err *err)
{
    STMT(s, SQL_UPDATE);
    sqlite3_bind_int64(s, 1, p->row_id);
    sqlite3_bind_int64(s, 2, p->default_version);
    sqlite3_bind_int64(s, 3, p->next_version);
    store_bind_str(s, 4, p->generation_id);
    sqlite3_bind_int64(s, 5, p->updated_at);
    return store_exec(st, s, err);
}

static const char SQL_DELETE_VERSIONS[] = "DELETE FROM policy_versions WHERE policy_id = ?1";
static const char SQL_DELETE[] = "DELETE FROM policies WHERE id = ?1";

enum fl_code store_policies_delete(struct store *st, int64_t row_id, struct fl_err *err)
{
    STMT(v, SQL_DELETE_VERSIONS);
    sqlite3_bind_int64(v, 1, row_id);
    enum fl_code e = store_exec(st, v, err);
    if (e)
        return e;
    STMT(s, SQL_DELETE);
    sqlite3_bind_int64(s, 1, row_id);
    return store_exec(st, s, err);
}

static const char SQL_PAGE_ASC[] = "SELECT id, name FROM policies WHERE id > ?1 ORDER BY id LIMIT ?2";
static const char SQL_PAGE_DESC[] = "SELECT id, name FROM policies WHERE id < ?1 ORDER BY id DESC LIMIT ?2";

enum fl_code store_policies_page(struct store *st, int ascending, int64_t after, int limit,
                                 store_policy_fn fn, void *ctx, struct fl_err *err)
{
    STMT(s, ascending ? SQL_PAGE_ASC : SQL_PAGE_DESC);
    sqlite3_bind_int64(s, 1, after ? after : (ascending ? 0 : INT64_MAX));
    sqlite3_bind_int(s, 2, limit);
    enum fl_code e = FL_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((e = fn(ctx, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1))) != FL_OK)
            break;
    }
    if (e == FL_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

/* ---- versions ---------------------------------------------------------------- */

static const char SQL_V_INSERT[] = "INSERT INTO policy_versions (policy_id, version, document, created_at) "
                                   "VALUES (?1, ?2, ?3, ?4)";

enum fl_code store_policy_versions_insert(struct store *st, int64_t policy_row, int64_t version,
                                          const char *document, int64_t created_at, struct fl_err *err)
{
    STMT(s, SQL_V_INSERT);
    sqlite3_bind_int64(s, 1, policy_row);
    sqlite3_bind_int64(s, 2, version);
    store_bind_str(s, 3, document);
    sqlite3_bind_int64(s, 4, created_at);
    return store_exec(st, s, err);
}

static const char SQL_V_GET[] = "SELECT document, created_at FROM policy_versions "
                                "WHERE policy_id = ?1 AND version = ?2";

enum fl_code store_policy_versions_get(struct store *st, int64_t policy_row, int64_t version, char **document,
                                       int64_t *created_at, struct fl_err *err)
{
    STMT(s, SQL_V_GET);
    sqlite3_bind_int64(s, 1, policy_row);
    sqlite3_bind_int64(s, 2, version);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK) {
        if (created_at)
            *created_at = sqlite3_column_int64(s, 1);
        if (document && (*document = store_col_dup(s, 0)) == NULL)
            e = fl_err_set(err, FL_INTERNAL, "out of memory");
    }
    store_done(s);
    return e;
}

static const char SQL_V_COUNT[] = "SELECT count(*) FROM policy_versions WHERE policy_id = ?1";

enum fl_code store_policy_versions_count(struct store *st, int64_t policy_row, int *n, struct fl_err *err)
{
    STMT(s, SQL_V_COUNT);
    sqlite3_bind_int64(s, 1, policy_row);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK)
        *n = sqlite3_column_int(s, 0);
    store_done(s);
    return e;
}

static const char SQL_V_EACH[] = "SELECT version, created_at FROM policy_versions WHERE policy_id = ?1 "
                                 "ORDER BY version DESC";

enum fl_code store_policy_versions_each(struct store *st, int64_t policy_row, store_version_fn fn, void *ctx,
                                        struct fl_err *err)
{
    STMT(s, SQL_V_EACH);
    sqlite3_bind_int64(s, 1, policy_row);
    enum fl_code e = FL_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((e = fn(ctx, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1))) != FL_OK)
            break;
    }
    if (e == FL_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_V_DELETE[] = "DELETE FROM policy_versions WHERE policy_id = ?1 AND version = ?2";

enum fl_code store_policy_versions_delete(struct store *st, int64_t policy_row, int64_t version,
                                          struct fl_err *err)
{
    STMT(s, SQL_V_DELETE);
    sqlite3_bind_int64(s, 1, policy_row);
    sqlite3_bind_int64(s, 2, version);
    enum fl_code e = store_exec(st, s, err);
    if (e == FL_OK && store_changes(st) == 0)
        e = FL_NOT_FOUND;
    return e;
}

/* ---- attachments --------------------------------------------------------------- */

static const char SQL_T_ADD[] =
    "INSERT INTO policy_targets (policy_id, target, attached_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (policy_id, target) DO NOTHING";

enum fl_code store_policy_targets_add(struct store *st, int64_t policy_row, const char *target,
                                      int64_t now_ms, int *added, struct fl_err *err)
{
    STMT(s, SQL_T_ADD);
    sqlite3_bind_int64(s, 1, policy_row);
    store_bind_str(s, 2, target);
    sqlite3_bind_int64(s, 3, now_ms);
    enum fl_code e = store_exec(st, s, err);
    if (e == FL_OK)
        *added = store_changes(st) > 0;
    return e;
}

static const char SQL_T_REMOVE[] = "DELETE FROM policy_targets WHERE policy_id = ?1 AND target = ?2";

enum fl_code store_policy_targets_remove(struct store *st, int64_t policy_row, const char *target,
                                         int *removed, struct fl_err *err)
{
    STMT(s, SQL_T_REMOVE);
    sqlite3_bind_int64(s, 1, policy_row);
    store_bind_str(s, 2, target);
    enum fl_code e = store_exec(st, s, err);
    if (e == FL_OK)
        *removed = store_changes(st) > 0;
    return e;
}

static const char SQL_T_ANY[] = "SELECT 1 FROM policy_targets WHERE policy_id = ?1 LIMIT 1";

enum fl_code store_policy_targets_any(struct store *st, int64_t policy_row, int *yes, struct fl_err *err)
{
    STMT(s, SQL_T_ANY);
    sqlite3_bind_int64(s, 1, policy_row);
    enum fl_code e = probe(st, s, err);
    *yes = e == FL_OK;
    return e == FL_NOT_FOUND ? FL_OK : e;
}

static const char SQL_T_HAS[] = "SELECT 1 FROM policy_targets WHERE policy_id = ?1 AND target = ?2";

enum fl_code store_policy_targets_has(struct store *st, int64_t policy_row, const char *target, int *yes,
                                      struct fl_err *err)
{
    STMT(s, SQL_T_HAS);
    sqlite3_bind_int64(s, 1, policy_row);
    store_bind_str(s, 2, target);
    enum fl_code e = probe(st, s, err);
    *yes = e == FL_OK;
    return e == FL_NOT_FOUND ? FL_OK : e;
}

static const char SQL_T_COUNT[] = "SELECT count(*) FROM policy_targets WHERE target = ?1";

enum fl_code store_policy_targets_count(struct store *st, const char *target, int *n, struct fl_err *err)
{
    STMT(s, SQL_T_COUNT);
    store_bind_str(s, 1, target);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK)
        *n = sqlite3_column_int(s, 0);
    store_done(s);
    return e;
}

static const char SQL_T_PAGE[] = "SELECT target FROM policy_targets WHERE policy_id = ?1 AND target > ?2 "
                                 "ORDER BY target LIMIT ?3";

enum fl_code store_policy_targets_page(struct store *st, int64_t policy_row, const char *after, int limit,
                                       store_target_fn fn, void *ctx, struct fl_err *err)
{
    STMT(s, SQL_T_PAGE);
    sqlite3_bind_int64(s, 1, policy_row);
    store_bind_str(s, 2, after ? after : "");
    sqlite3_bind_int(s, 3, limit);
    return scan_text(st, s, fn, ctx, err);
}

static const char SQL_FOR_TARGET[] =
    "SELECT p.name, v.document FROM policy_targets t "
    "JOIN policies p ON p.id = t.policy_id "
    "JOIN policy_versions v ON v.policy_id = p.id AND v.version = p.default_version "
    "WHERE t.target = ?1 ORDER BY p.name";

enum fl_code store_policies_for_target(struct store *st, const char *target, store_attached_fn fn, void *ctx,
                                       struct fl_err *err)
{
    STMT(s, SQL_FOR_TARGET);
    store_bind_str(s, 1, target);
    return scan_text_pair(st, s, fn, ctx, err);
}

/* ---- lookups on other modules' tables ---------------------------------------------- */

static const char SQL_CERT_EXISTS[] = "SELECT 1 FROM certificates WHERE id = ?1";

enum fl_code store_policies_cert_exists(struct store *st, const char *cert_id, struct fl_err *err)
{
    STMT(s, SQL_CERT_EXISTS);
    store_bind_str(s, 1, cert_id);
    return probe(st, s, err);
}

static const char SQL_CERT_PEM[] = "SELECT pem FROM certificates WHERE id = ?1";

enum fl_code store_policies_cert_pem(struct store *st, const char *cert_id, char **pem, struct fl_err *err)
{
    STMT(s, SQL_CERT_PEM);
    store_bind_str(s, 1, cert_id);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK && (*pem = store_col_dup(s, 0)) == NULL)
        e = fl_err_set(err, FL_INTERNAL, "out of memory");
    store_done(s);
    return e;
}

static const char SQL_GROUP_PATH[] = "SELECT path FROM thing_groups WHERE name = ?1";

enum fl_code store_policies_group_path(struct store *st, const char *name, char *path, size_t pathlen,
                                       struct fl_err *err)
{
    STMT(s, SQL_GROUP_PATH);
    store_bind_str(s, 1, name);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK)
        store_col_copy(s, 0, path, pathlen);
    store_done(s);
    return e;
}

static const char SQL_THING[] =
    "SELECT t.id, tt.name FROM things t LEFT JOIN thing_types tt ON tt.id = t.type_id "
    "WHERE t.name = ?1";

enum fl_code store_policies_thing(struct store *st, const char *name, int64_t *row_id, char type_name[129],
                                  struct fl_err *err)
{
    STMT(s, SQL_THING);
    store_bind_str(s, 1, name);
    enum fl_code e = store_step_row(st, s, err);
    if (e == FL_OK) {
        *row_id = sqlite3_column_int64(s, 0);
        store_col_copy(s, 1, type_name, 129);
    }
    store_done(s);
    return e;
}

static const char SQL_THING_ATTRS[] =
    "SELECT j.key, j.value FROM things t, json_each(t.attributes) j WHERE t.id = ?1";

enum fl_code store_policies_thing_attrs(struct store *st, int64_t thing_row, store_attr_fn fn, void *ctx,
                                        struct fl_err *err)
{
    STMT(s, SQL_THING_ATTRS);
    sqlite3_bind_int64(s, 1, thing_row);
    return scan_text_pair(st, s, fn, ctx, err);
}

static const char SQL_THING_GROUPS[] = "SELECT g.name FROM thing_group_closure c "
                                       "JOIN thing_groups g ON g.id = c.ancestor_id "
                                       "WHERE c.thing_id = ?1 ORDER BY g.path";

enum fl_code store_policies_thing_groups(struct store *st, int64_t thing_row, store_group_name_fn fn,
                                         void *ctx, struct fl_err *err)
{
    STMT(s, SQL_THING_GROUPS);
    sqlite3_bind_int64(s, 1, thing_row);
    return scan_text(st, s, fn, ctx, err);
}

static const char SQL_PRINCIPAL_NAMED[] = "SELECT t.name FROM things t "
                                          "JOIN thing_principals p ON p.thing_id = t.id AND p.principal = ?2 "
                                          "WHERE t.name = ?1";
static const char SQL_PRINCIPAL_EXCLUSIVE[] =
    "SELECT t.name FROM thing_principals p "
    "JOIN things t ON t.id = p.thing_id "
    "WHERE p.principal = ?1 AND p.principal_type = 'EXCLUSIVE_THING' "
    "ORDER BY t.name LIMIT 1";

enum fl_code store_policies_principal_thing(struct store *st, const char *principal, const char *client_id,
                                            char name[129], struct fl_err *err)
{
    enum fl_code e;
    if (client_id && *client_id) {
        STMT(s, SQL_PRINCIPAL_NAMED);
        store_bind_str(s, 1, client_id);
        store_bind_str(s, 2, principal);
        e = store_step_row(st, s, err);
        if (e == FL_OK)
            store_col_copy(s, 0, name, 129);
        store_done(s);
        if (e != FL_NOT_FOUND)
            return e;
    }
    STMT(x, SQL_PRINCIPAL_EXCLUSIVE);
    store_bind_str(x, 1, principal);
    e = store_step_row(st, x, err);
    if (e == FL_OK)
        store_col_copy(x, 0, name, 129);
    store_done(x);
    return e;
}

static const char SQL_T_DETACH_ALL[] = "DELETE FROM policy_targets WHERE target = ?1";

enum fl_code store_policy_targets_detach_all(struct store *st, const char *target, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_T_DETACH_ALL, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, target);
    return store_exec(st, s, err);
}
