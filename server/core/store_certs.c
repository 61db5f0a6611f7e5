/*
 * store_certs.c - SQL for certificates, CA certificates, thing principals
 * and the registration code (see store_certs.h). Every statement is a
 * prepared-once primary-key lookup or an indexed range scan; listings page
 * with row values on (created_at, id), which SQLite and PostgreSQL both
 * answer from the index.
 */
#include "store_certs.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* store_col_dup, with *oom = 1 when the column was not NULL but the copy
 * failed. */
static char *dup_col(sqlite3_stmt *s, int col, int *oom)
{
    char *p = store_col_dup(s, col);
    if (p == NULL && sqlite3_column_type(s, col) != SQLITE_NULL)
        *oom = 1;
    return p;
}

/* Steps a one-row probe: *found = 1 on a row. */
static enum fl_code probe(struct store *st, sqlite3_stmt *s, int *found, struct fl_err *err)
{
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW)
        *found = 1;
    else if (rc == SQLITE_DONE)
        *found = 0;
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

/* ---- certificates --------------------------------------------------------- */

void store_cert_clear(struct store_cert *cert)
{
    free(cert->pem);
    cert->pem = NULL;
}

/* Column order shared by every certificate SELECT; pem is last so the
 * listings can leave it out. */
#define CERT_COLS                                                                                            \
    "id, status, ca_id, certificate_mode, owned_by, created_at, updated_at, not_before, not_after, "         \
    "generation_id, customer_version"

static enum fl_code read_cert(sqlite3_stmt *s, int with_pem, struct store_cert *c, struct fl_err *err)
{
    memset(c, 0, sizeof(*c));
    store_col_copy(s, 0, c->id, sizeof(c->id));
    store_col_copy(s, 1, c->status, sizeof(c->status));
    store_col_copy(s, 2, c->ca_id, sizeof(c->ca_id));
    store_col_copy(s, 3, c->mode, sizeof(c->mode));
    store_col_copy(s, 4, c->owned_by, sizeof(c->owned_by));
    c->created_at = sqlite3_column_int64(s, 5);
    c->updated_at = sqlite3_column_int64(s, 6);
    c->not_before = sqlite3_column_int64(s, 7);
    c->not_after = sqlite3_column_int64(s, 8);
    store_col_copy(s, 9, c->generation_id, sizeof(c->generation_id));
    c->customer_version = sqlite3_column_int64(s, 10);
    if (with_pem) {
        int oom = 0;
        c->pem = dup_col(s, 11, &oom);
        if (oom)
            return fl_err_set(err, FL_INTERNAL, "out of memory");
    }
    return FL_OK;
}

static const char SQL_CERT_INSERT[] =
    "INSERT INTO certificates (id, pem, status, ca_id, certificate_mode, owned_by, created_at, updated_at, "
    "not_before, not_after, generation_id, customer_version) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1)";

enum fl_code store_certs_insert(struct store *st, const struct store_cert *cert, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CERT_INSERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, cert->id);
    store_bind_str(s, 2, cert->pem);
    store_bind_str(s, 3, cert->status);
    store_bind_opt(s, 4, cert->ca_id);
    store_bind_str(s, 5, cert->mode);
    store_bind_str(s, 6, cert->owned_by);
    sqlite3_bind_int64(s, 7, cert->created_at);
    sqlite3_bind_int64(s, 8, cert->updated_at);
    sqlite3_bind_int64(s, 9, cert->not_before);
    sqlite3_bind_int64(s, 10, cert->not_after);
    store_bind_str(s, 11, cert->generation_id);
    return store_insert(st, s, err);
}

static const char SQL_CERT_GET[] = "SELECT " CERT_COLS ", pem FROM certificates WHERE id = ?1";
static const char SQL_CERT_GET_NOPEM[] = "SELECT " CERT_COLS " FROM certificates WHERE id = ?1";

enum fl_code store_certs_get(struct store *st, const char *id, int with_pem, struct store_cert *out,
                             struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, with_pem ? SQL_CERT_GET : SQL_CERT_GET_NOPEM, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, id);
    int rc = sqlite3_step(s);
    enum fl_code e;
    if (rc == SQLITE_ROW)
        e = read_cert(s, with_pem, out, err);
    else if (rc == SQLITE_DONE)
        e = FL_NOT_FOUND;
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_CERT_SET_STATUS[] =
    "UPDATE certificates SET status = ?2, updated_at = ?3, generation_id = ?4, "
    "customer_version = customer_version + 1 WHERE id = ?1";

enum fl_code store_certs_set_status(struct store *st, const char *id, const char *status, int64_t now_ms,
                                    const char *generation_id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CERT_SET_STATUS, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, id);
    store_bind_str(s, 2, status);
    sqlite3_bind_int64(s, 3, now_ms);
    store_bind_str(s, 4, generation_id);
    return store_exec(st, s, err);
}

static const char SQL_CERT_DELETE[] = "DELETE FROM certificates WHERE id = ?1";

enum fl_code store_certs_delete(struct store *st, const char *id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CERT_DELETE, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, id);
    return store_exec(st, s, err);
}

static const char SQL_CERT_STATUS_PAIR[] =
    "SELECT c.status, ca.status FROM certificates c LEFT JOIN ca_certificates ca ON ca.id = c.ca_id "
    "WHERE c.id = ?1";

enum fl_code store_certs_status_pair(struct store *st, const char *id, char status[24], char ca_status[24],
                                     struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CERT_STATUS_PAIR, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, id);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW) {
        store_col_copy(s, 0, status, 24);
        store_col_copy(s, 1, ca_status, 24);
    } else if (rc == SQLITE_DONE) {
        e = FL_NOT_FOUND;
    } else {
        e = store_fail(st, rc, err);
    }
    store_done(s);
    return e;
}

/* The four listing statements: all / by CA, ascending / descending. */
static const char SQL_CERT_PAGE_ASC[] = "SELECT " CERT_COLS " FROM certificates "
                                        "WHERE (created_at, id) > (?1, ?2) ORDER BY created_at, id LIMIT ?3";
static const char SQL_CERT_PAGE_DESC[] =
    "SELECT " CERT_COLS " FROM certificates "
    "WHERE (created_at, id) < (?1, ?2) ORDER BY created_at DESC, id DESC LIMIT ?3";
static const char SQL_CERT_PAGE_CA_ASC[] =
    "SELECT " CERT_COLS " FROM certificates "
    "WHERE ca_id = ?4 AND (created_at, id) > (?1, ?2) ORDER BY created_at, id LIMIT ?3";
static const char SQL_CERT_PAGE_CA_DESC[] =
    "SELECT " CERT_COLS " FROM certificates "
    "WHERE ca_id = ?4 AND (created_at, id) < (?1, ?2) ORDER BY created_at DESC, id DESC LIMIT ?3";

enum fl_code store_certs_page(struct store *st, const char *ca_id, int ascending, int64_t after_created,
                              const char *after_id, int limit, store_cert_fn fn, void *ctx, int *count,
                              struct fl_err *err)
{
    const char *sql = ca_id ? (ascending ? SQL_CERT_PAGE_CA_ASC : SQL_CERT_PAGE_CA_DESC)
                            : (ascending ? SQL_CERT_PAGE_ASC : SQL_CERT_PAGE_DESC);
    *count = 0;
    sqlite3_stmt *s = store_stmt(st, sql, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, after_created);
    store_bind_str(s, 2, after_id);
    sqlite3_bind_int(s, 3, limit);
    if (ca_id)
        store_bind_str(s, 4, ca_id);
    enum fl_code e = FL_OK;
    int rc;
    while (e == FL_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_cert cert;
        e = read_cert(s, 0, &cert, err);
        if (e == FL_OK)
            e = fn(ctx, &cert);
        (*count)++;
    }
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_CERT_ANY_BY_CA[] = "SELECT 1 FROM certificates WHERE ca_id = ?1 LIMIT 1";

enum fl_code store_certs_any_by_ca(struct store *st, const char *ca_id, int *exists, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CERT_ANY_BY_CA, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, ca_id);
    return probe(st, s, exists, err);
}

static const char SQL_POLICY_ATTACHED[] = "SELECT 1 FROM policy_targets WHERE target = ?1 LIMIT 1";

enum fl_code store_certs_policy_attached(struct store *st, const char *arn, int *attached, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_POLICY_ATTACHED, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, arn);
    return probe(st, s, attached, err);
}

/* ---- CA certificates --------------------------------------------------------- */

void store_ca_clear(struct store_ca *ca)
{
    free(ca->pem);
    free(ca->registration_json);
    ca->pem = ca->registration_json = NULL;
}

#define CA_COLS                                                                                              \
    "id, subject, status, auto_registration, template_name, certificate_mode, builtin, owned_by, "           \
    "created_at, updated_at, not_before, not_after, generation_id, customer_version"

static enum fl_code read_ca(sqlite3_stmt *s, int full, struct store_ca *ca, struct fl_err *err)
{
    memset(ca, 0, sizeof(*ca));
    store_col_copy(s, 0, ca->id, sizeof(ca->id));
    store_col_copy(s, 1, ca->subject, sizeof(ca->subject));
    store_col_copy(s, 2, ca->status, sizeof(ca->status));
    store_col_copy(s, 3, ca->auto_registration, sizeof(ca->auto_registration));
    store_col_copy(s, 4, ca->template_name, sizeof(ca->template_name));
    store_col_copy(s, 5, ca->mode, sizeof(ca->mode));
    ca->builtin = sqlite3_column_int(s, 6);
    store_col_copy(s, 7, ca->owned_by, sizeof(ca->owned_by));
    ca->created_at = sqlite3_column_int64(s, 8);
    ca->updated_at = sqlite3_column_int64(s, 9);
    ca->not_before = sqlite3_column_int64(s, 10);
    ca->not_after = sqlite3_column_int64(s, 11);
    store_col_copy(s, 12, ca->generation_id, sizeof(ca->generation_id));
    ca->customer_version = sqlite3_column_int64(s, 13);
    if (full) {
        int oom = 0;
        ca->pem = dup_col(s, 14, &oom);
        ca->registration_json = dup_col(s, 15, &oom);
        if (oom) {
            store_ca_clear(ca);
            return fl_err_set(err, FL_INTERNAL, "out of memory");
        }
    }
    return FL_OK;
}

static const char SQL_CA_INSERT[] =
    "INSERT INTO ca_certificates (id, pem, subject, status, auto_registration, registration_json, "
    "template_name, certificate_mode, builtin, owned_by, created_at, updated_at, not_before, not_after, "
    "generation_id, customer_version) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 1)";

enum fl_code store_certs_ca_insert(struct store *st, const struct store_ca *ca, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CA_INSERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, ca->id);
    store_bind_str(s, 2, ca->pem);
    store_bind_str(s, 3, ca->subject);
    store_bind_str(s, 4, ca->status);
    store_bind_str(s, 5, ca->auto_registration);
    store_bind_str(s, 6, ca->registration_json);
    store_bind_opt(s, 7, ca->template_name);
    store_bind_str(s, 8, ca->mode);
    sqlite3_bind_int(s, 9, ca->builtin ? 1 : 0);
    store_bind_str(s, 10, ca->owned_by);
    sqlite3_bind_int64(s, 11, ca->created_at);
    sqlite3_bind_int64(s, 12, ca->updated_at);
    sqlite3_bind_int64(s, 13, ca->not_before);
    sqlite3_bind_int64(s, 14, ca->not_after);
    store_bind_str(s, 15, ca->generation_id);
    return store_insert(st, s, err);
}

static const char SQL_CA_GET[] =
    "SELECT " CA_COLS ", pem, registration_json FROM ca_certificates WHERE id = ?1";

enum fl_code store_certs_ca_get(struct store *st, const char *id, struct store_ca *out, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CA_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, id);
    int rc = sqlite3_step(s);
    enum fl_code e;
    if (rc == SQLITE_ROW)
        e = read_ca(s, 1, out, err);
    else if (rc == SQLITE_DONE)
        e = FL_NOT_FOUND;
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_CA_UPDATE[] =
    "UPDATE ca_certificates SET status = ?2, auto_registration = ?3, registration_json = ?4, "
    "template_name = ?5, builtin = ?6, updated_at = ?7, generation_id = ?8, customer_version = ?9 "
    "WHERE id = ?1";

enum fl_code store_certs_ca_update(struct store *st, const struct store_ca *ca, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CA_UPDATE, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, ca->id);
    store_bind_str(s, 2, ca->status);
    store_bind_str(s, 3, ca->auto_registration);
    store_bind_str(s, 4, ca->registration_json);
    store_bind_opt(s, 5, ca->template_name);
    sqlite3_bind_int(s, 6, ca->builtin ? 1 : 0);
    sqlite3_bind_int64(s, 7, ca->updated_at);
    store_bind_str(s, 8, ca->generation_id);
    sqlite3_bind_int64(s, 9, ca->customer_version);
    return store_exec(st, s, err);
}

static const char SQL_CA_DELETE[] = "DELETE FROM ca_certificates WHERE id = ?1";

enum fl_code store_certs_ca_delete(struct store *st, const char *id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CA_DELETE, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, id);
    return store_exec(st, s, err);
}

static const char SQL_CA_STATUS[] = "SELECT status FROM ca_certificates WHERE id = ?1";

enum fl_code store_certs_ca_status(struct store *st, const char *id, char status[16], struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CA_STATUS, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, id);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW)
        store_col_copy(s, 0, status, 16);
    else if (rc == SQLITE_DONE)
        e = FL_NOT_FOUND;
    else
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_CA_EXISTS[] = "SELECT 1 FROM ca_certificates WHERE id = ?1";

enum fl_code store_certs_ca_exists(struct store *st, const char *id, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CA_EXISTS, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, id);
    int found = 0;
    enum fl_code e = probe(st, s, &found, err);
    return e ? e : found ? FL_OK : FL_NOT_FOUND;
}

static const char SQL_CA_COUNT_SUBJECT[] = "SELECT count(*) FROM ca_certificates WHERE subject = ?1";

enum fl_code store_certs_ca_count_subject(struct store *st, const char *subject, int *n, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CA_COUNT_SUBJECT, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, subject);
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    store_done(s);
    return rc == SQLITE_ROW ? FL_OK : store_fail(st, rc, err);
}

/* Runs a CA listing statement already bound, calling fn per row. */
static enum fl_code ca_scan(struct store *st, sqlite3_stmt *s, int full, store_ca_fn fn, void *ctx,
                            int *count, struct fl_err *err)
{
    enum fl_code e = FL_OK;
    int rc;
    if (count)
        *count = 0;
    while (e == FL_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_ca ca;
        e = read_ca(s, full, &ca, err);
        if (e == FL_OK)
            e = fn(ctx, &ca);
        store_ca_clear(&ca);
        if (count)
            (*count)++;
    }
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

static const char SQL_CA_BY_SUBJECT[] = "SELECT " CA_COLS ", pem, registration_json FROM ca_certificates "
                                        "WHERE subject = ?1 ORDER BY created_at, id LIMIT ?2";

enum fl_code store_certs_ca_by_subject(struct store *st, const char *subject, int limit, store_ca_fn fn,
                                       void *ctx, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_CA_BY_SUBJECT, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, subject);
    sqlite3_bind_int(s, 2, limit);
    return ca_scan(st, s, 1, fn, ctx, NULL, err);
}

static const char SQL_CA_PAGE_ASC[] = "SELECT " CA_COLS " FROM ca_certificates "
                                      "WHERE (created_at, id) > (?1, ?2) ORDER BY created_at, id LIMIT ?3";
static const char SQL_CA_PAGE_DESC[] =
    "SELECT " CA_COLS " FROM ca_certificates "
    "WHERE (created_at, id) < (?1, ?2) ORDER BY created_at DESC, id DESC LIMIT ?3";
static const char SQL_CA_PAGE_T_ASC[] =
    "SELECT " CA_COLS " FROM ca_certificates "
    "WHERE template_name = ?4 AND (created_at, id) > (?1, ?2) ORDER BY created_at, id LIMIT ?3";
static const char SQL_CA_PAGE_T_DESC[] =
    "SELECT " CA_COLS " FROM ca_certificates "
    "WHERE template_name = ?4 AND (created_at, id) < (?1, ?2) ORDER BY created_at DESC, id DESC LIMIT ?3";

enum fl_code store_certs_ca_page(struct store *st, const char *template_name, int ascending,
                                 int64_t after_created, const char *after_id, int limit, store_ca_fn fn,
                                 void *ctx, int *count, struct fl_err *err)
{
    const char *sql = template_name ? (ascending ? SQL_CA_PAGE_T_ASC : SQL_CA_PAGE_T_DESC)
                                    : (ascending ? SQL_CA_PAGE_ASC : SQL_CA_PAGE_DESC);
    sqlite3_stmt *s = store_stmt(st, sql, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, after_created);
    store_bind_str(s, 2, after_id);
    sqlite3_bind_int(s, 3, limit);
    if (template_name)
        store_bind_str(s, 4, template_name);
    return ca_scan(st, s, 0, fn, ctx, count, err);
}

/* ---- settings -------------------------------------------------------------- */

/* ---- thing principals ---------------------------------------------------------- */

#define EXCL "'EXCLUSIVE_THING'"

static const char SQL_PRINCIPAL_GET[] = "SELECT principal_type = " EXCL " FROM thing_principals "
                                        "WHERE thing_id = ?1 AND certificate_id = ?2";

enum fl_code store_certs_principal_get(struct store *st, int64_t thing_row, const char *certificate_id,
                                       int *exclusive, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PRINCIPAL_GET, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, thing_row);
    store_bind_str(s, 2, certificate_id);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW) {
        if (exclusive)
            *exclusive = sqlite3_column_int(s, 0);
    } else if (rc == SQLITE_DONE) {
        e = FL_NOT_FOUND;
    } else {
        e = store_fail(st, rc, err);
    }
    store_done(s);
    return e;
}

static const char SQL_PRINCIPAL_PUT[] =
    "INSERT INTO thing_principals (thing_id, certificate_id, principal_type, attached_at, principal) "
    "VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (thing_id, certificate_id) DO UPDATE SET principal_type = excluded.principal_type, "
    "principal = excluded.principal";

enum fl_code store_certs_principal_put(struct store *st, int64_t thing_row, const char *certificate_id,
                                       const char *arn, int exclusive, int64_t now_ms, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PRINCIPAL_PUT, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, thing_row);
    store_bind_str(s, 2, certificate_id);
    store_bind_str(s, 3, exclusive ? "EXCLUSIVE_THING" : "NON_EXCLUSIVE_THING");
    sqlite3_bind_int64(s, 4, now_ms);
    store_bind_str(s, 5, arn);
    return store_exec(st, s, err);
}

static const char SQL_PRINCIPAL_DELETE[] =
    "DELETE FROM thing_principals WHERE thing_id = ?1 AND certificate_id = ?2";

enum fl_code store_certs_principal_delete(struct store *st, int64_t thing_row, const char *certificate_id,
                                          struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PRINCIPAL_DELETE, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, thing_row);
    store_bind_str(s, 2, certificate_id);
    return store_exec(st, s, err);
}

/* A certificate has few attachments, so ordering them to put an exclusive
 * one first reads only that certificate's index range. */
static const char SQL_PRINCIPAL_OTHER[] =
    "SELECT tp.thing_id, t.name, tp.principal_type = " EXCL " AS x "
    "FROM thing_principals tp JOIN things t ON t.id = tp.thing_id "
    "WHERE tp.certificate_id = ?1 AND tp.thing_id <> ?2 ORDER BY x DESC, tp.thing_id LIMIT 1";

enum fl_code store_certs_principal_other(struct store *st, const char *certificate_id, int64_t thing_row,
                                         int64_t *other_row, char *other_name, size_t n, int *exclusive,
                                         struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PRINCIPAL_OTHER, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, certificate_id);
    sqlite3_bind_int64(s, 2, thing_row);
    int rc = sqlite3_step(s);
    enum fl_code e = FL_OK;
    if (rc == SQLITE_ROW) {
        if (other_row)
            *other_row = sqlite3_column_int64(s, 0);
        if (other_name)
            store_col_copy(s, 1, other_name, n);
        if (exclusive)
            *exclusive = sqlite3_column_int(s, 2);
    } else if (rc == SQLITE_DONE) {
        e = FL_NOT_FOUND;
    } else {
        e = store_fail(st, rc, err);
    }
    store_done(s);
    return e;
}

/* Runs a principal listing statement already bound (columns: thing_id,
 * thing name, certificate_id, exclusive), calling fn per row. */
static enum fl_code principal_scan(struct store *st, sqlite3_stmt *s, store_principal_fn fn, void *ctx,
                                   int *count, struct fl_err *err)
{
    enum fl_code e = FL_OK;
    int rc;
    *count = 0;
    while (e == FL_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_principal p = {
            .thing_row = sqlite3_column_int64(s, 0),
            .thing_name = (const char *)sqlite3_column_text(s, 1),
            .certificate_id = (const char *)sqlite3_column_text(s, 2),
            .exclusive = sqlite3_column_int(s, 3),
        };
        if (p.thing_name == NULL || p.certificate_id == NULL)
            e = fl_err_set(err, FL_INTERNAL, "out of memory");
        else
            e = fn(ctx, &p);
        (*count)++;
    }
    if (e == FL_OK && rc != SQLITE_DONE)
        e = store_fail(st, rc, err);
    store_done(s);
    return e;
}

/* ?3: -1 any type, 0 non-exclusive only, 1 exclusive only. */
static const char SQL_PRINCIPAL_PAGE_THING[] =
    "SELECT tp.thing_id, t.name, tp.certificate_id, tp.principal_type = " EXCL " "
    "FROM thing_principals tp JOIN things t ON t.id = tp.thing_id "
    "WHERE tp.thing_id = ?1 AND tp.certificate_id > ?2 "
    "AND (?3 < 0 OR (tp.principal_type = " EXCL ") = (?3 = 1)) "
    "ORDER BY tp.certificate_id LIMIT ?4";

enum fl_code store_certs_principal_page_thing(struct store *st, int64_t thing_row, int exclusive_filter,
                                              const char *after_id, int limit, store_principal_fn fn,
                                              void *ctx, int *count, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PRINCIPAL_PAGE_THING, err);
    if (s == NULL)
        return FL_INTERNAL;
    sqlite3_bind_int64(s, 1, thing_row);
    store_bind_str(s, 2, after_id);
    sqlite3_bind_int(s, 3, exclusive_filter);
    sqlite3_bind_int(s, 4, limit);
    return principal_scan(st, s, fn, ctx, count, err);
}

static const char SQL_PRINCIPAL_PAGE_CERT[] =
    "SELECT tp.thing_id, t.name, tp.certificate_id, tp.principal_type = " EXCL " "
    "FROM thing_principals tp JOIN things t ON t.id = tp.thing_id "
    "WHERE tp.certificate_id = ?1 AND tp.thing_id > ?2 "
    "AND (?3 < 0 OR (tp.principal_type = " EXCL ") = (?3 = 1)) "
    "ORDER BY tp.thing_id LIMIT ?4";

enum fl_code store_certs_principal_page_cert(struct store *st, const char *certificate_id,
                                             int exclusive_filter, int64_t after_row, int limit,
                                             store_principal_fn fn, void *ctx, int *count, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PRINCIPAL_PAGE_CERT, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, certificate_id);
    sqlite3_bind_int64(s, 2, after_row);
    sqlite3_bind_int(s, 3, exclusive_filter);
    sqlite3_bind_int(s, 4, limit);
    return principal_scan(st, s, fn, ctx, count, err);
}

static const char SQL_PRINCIPAL_BY_NAME[] =
    "SELECT 1 FROM things t JOIN thing_principals tp ON tp.thing_id = t.id "
    "WHERE t.name = ?2 AND tp.certificate_id = ?1";

enum fl_code store_certs_principal_by_name(struct store *st, const char *certificate_id,
                                           const char *thing_name, int *attached, struct fl_err *err)
{
    sqlite3_stmt *s = store_stmt(st, SQL_PRINCIPAL_BY_NAME, err);
    if (s == NULL)
        return FL_INTERNAL;
    store_bind_str(s, 1, certificate_id);
    store_bind_str(s, 2, thing_name);
    return probe(st, s, attached, err);
}
