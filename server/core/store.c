/*
 * store.c - SQLite connection, PRAGMAs, numbered migrations, transactions
 * and the per-connection prepared-statement cache.
 *
 * Two processes (fleetd and the broker plugin) share one database file, so
 * write transactions are BEGIN IMMEDIATE (no lock upgrades, no deadlock) under
 * a busy timeout, and within one process a mutex queues writers so that
 * SQLite's sleeping busy handler is the exception, not the rule.
 */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_sql.h"
#include "store_vfs.h"

#define STMT_CACHE 512 /* power of two; far more than the statements we have */
#define BUSY_TIMEOUT_MS 10000

struct stmt_slot {
    const char *sql;
    sqlite3_stmt *stmt;
};

struct store {
    sqlite3 *db;
    pthread_mutex_t *write_lock;
    int in_write;
    int in_tx;
    int batch;      /* a group-commit transaction is open (store_batch_begin) */
    int in_save;    /* open savepoints: an operation's inside the batch, or nested store_begin calls */
    int wal_frames; /* WAL size after this connection's last commit (store_wal_manual) */
    struct stmt_slot cache[STMT_CACHE];
};

enum fl_code store_fail(struct store *st, int rc, struct fl_err *err)
{
    int base = rc & 0xff;
    if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
        return fl_err_set(err, FL_UNAVAILABLE, "The database is busy; retry the request");
    return fl_err_set(err, FL_INTERNAL, "Internal store error: %s",
                      st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
}

static const char SQL_BEGIN_WRITE[] = "BEGIN IMMEDIATE";
static const char SQL_BEGIN_READ[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT op";
static const char SQL_RELEASE[] = "RELEASE op";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO op";

/* Runs a cached single statement that returns no rows. */
static int run(struct store *st, const char *sql)
{
    sqlite3_stmt *s = store_stmt(st, sql, NULL);
    if (s == NULL)
        return SQLITE_ERROR;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static enum fl_code exec(struct store *st, const char *sql, struct fl_err *err)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? FL_OK : store_fail(st, rc, err);
}

int store_schema_version(struct store *st)
{
    sqlite3_stmt *s = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static enum fl_code migrate(struct store *st, struct fl_err *err)
{
    enum fl_code rc = store_begin(st, err);
    if (rc)
        return rc;
    int have = store_schema_version(st);
    for (int i = 0; i < schema_migrations_count && rc == FL_OK; i++) {
        const struct schema_migration *m = &schema_migrations[i];
        if (m->version <= have)
            continue;
        char *msg = NULL;
        if (sqlite3_exec(st->db, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
            rc = fl_err_set(err, FL_INTERNAL, "migration %s failed: %s", m->name, msg ? msg : "?");
            sqlite3_free(msg);
            break;
        }
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", m->version);
        rc = exec(st, pragma, err);
    }
    return store_end(st, rc, err);
}

/* Process-wide SQLite settings, before its first use: no allocation
 * statistics (they put every sqlite3_malloc behind one global mutex; nothing
 * reads them; this fails harmlessly when SQLite is already initialised), and
 * the VFS that writes each WAL commit in one system call (store_vfs.c). */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)store_vfs_register();
}

enum fl_code store_open(struct store **out, const char *path, pthread_mutex_t *write_lock, struct fl_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_sqlite);
    struct store *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    st->write_lock = write_lock;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    /* fleetd's VFS when it could be registered, else the default */
    const char *vfs = sqlite3_vfs_find(STORE_VFS_NAME) ? STORE_VFS_NAME : NULL;
    int rc = sqlite3_open_v2(path, &st->db, flags, vfs);
    if (rc != SQLITE_OK) {
        fl_err_set(err, FL_INTERNAL, "cannot open database %s: %s", path,
                   st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        store_close(st);
        return FL_INTERNAL;
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(st->db, 1);
    enum fl_code e = exec(st, "PRAGMA journal_mode=WAL", err);
    if (!e)
        e = exec(st, "PRAGMA synchronous=NORMAL", err);
    if (!e)
        e = exec(st, "PRAGMA foreign_keys=ON", err);
    if (!e)
        e = exec(st, "PRAGMA temp_store=MEMORY", err);
    /* 16 MB page cache per connection (the default 2 MB thrashes at 1M things) */
    if (!e)
        e = exec(st, "PRAGMA cache_size=-16000", err);
    /* Checkpoint every ~40 MB of WAL instead of 4 MB: hot pages (index roots,
     * the rightmost leaves) are copied and synced once per checkpoint rather
     * than ten times, which cuts write cost per operation under load. */
    if (!e)
        e = exec(st, "PRAGMA wal_autocheckpoint=10000", err);
    if (!e)
        e = migrate(st, err);
    if (e) {
        store_close(st);
        return e;
    }
    *out = st;
    return FL_OK;
}

static int wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    ((struct store *)ctx)->wal_frames = frames;
    return SQLITE_OK;
}

void store_wal_manual(struct store *st)
{
    /* replaces the automatic checkpoint (which is itself a WAL hook) */
    sqlite3_wal_hook(st->db, wal_hook, st);
}

int store_wal_frames(const struct store *st)
{
    return st->wal_frames;
}

enum fl_code store_checkpoint(struct store *st, int restart, int *left, struct fl_err *err)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(
        st->db, NULL, restart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    *left = log > done ? log - done : 0;
    if (rc == SQLITE_OK)
        return FL_OK;
    return store_fail(st, rc, err);
}

void store_set_busy_timeout(struct store *st, int ms)
{
    sqlite3_busy_timeout(st->db, ms < 0 ? 0 : ms);
}

void store_close(struct store *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < STMT_CACHE; i++)
        if (st->cache[i].stmt)
            sqlite3_finalize(st->cache[i].stmt);
    sqlite3_close(st->db);
    free(st);
}

/* Inside a batch, an operation's transaction is a savepoint: its failure
 * undoes only its own changes, and the batch commits once for everyone. */
static enum fl_code savepoint_begin(struct store *st, struct fl_err *err)
{
    int rc = run(st, SQL_SAVEPOINT);
    if (rc != SQLITE_OK)
        return store_fail(st, rc, err);
    st->in_save++;
    return FL_OK;
}

static enum fl_code savepoint_end(struct store *st, enum fl_code rc, struct fl_err *err)
{
    if (rc != FL_OK)
        run(st, SQL_ROLLBACK_TO);
    int r = run(st, SQL_RELEASE);
    st->in_save--;
    if (r != SQLITE_OK && rc == FL_OK)
        rc = store_fail(st, r, err);
    return rc;
}

enum fl_code store_batch_begin(struct store *st, struct fl_err *err)
{
    int rc = run(st, SQL_BEGIN_WRITE);
    if (rc != SQLITE_OK)
        return store_fail(st, rc, err);
    st->batch = 1;
    return FL_OK;
}

enum fl_code store_batch_commit(struct store *st, struct fl_err *err)
{
    enum fl_code res = FL_OK;
    if (!st->batch)
        return FL_OK;
    int rc = run(st, SQL_COMMIT);
    if (rc != SQLITE_OK) {
        res = store_fail(st, rc, err);
        run(st, SQL_ROLLBACK);
    }
    st->batch = 0;
    return res;
}

enum fl_code store_begin(struct store *st, struct fl_err *err)
{
    /* Nested inside an open transaction (an operation composed of others,
     * e.g. the provisioning engine calling things_create): a savepoint, so
     * the inner operation fails alone and the outer one still commits or
     * rolls back everything. Savepoints of one name nest in SQLite. */
    if (st->batch || st->in_tx)
        return savepoint_begin(st, err);
    if (st->write_lock)
        pthread_mutex_lock(st->write_lock);
    st->in_write = 1;
    int rc = run(st, SQL_BEGIN_WRITE);
    if (rc != SQLITE_OK) {
        st->in_write = 0;
        if (st->write_lock)
            pthread_mutex_unlock(st->write_lock);
        return store_fail(st, rc, err);
    }
    st->in_tx = 1;
    return FL_OK;
}

enum fl_code store_begin_read(struct store *st, struct fl_err *err)
{
    if (st->batch || st->in_tx)
        return savepoint_begin(st, err);
    int rc = run(st, SQL_BEGIN_READ);
    if (rc != SQLITE_OK)
        return store_fail(st, rc, err);
    st->in_tx = 1;
    return FL_OK;
}

enum fl_code store_end(struct store *st, enum fl_code rc, struct fl_err *err)
{
    if (st->in_save)
        return savepoint_end(st, rc, err);
    if (st->in_tx) {
        if (rc == FL_OK) {
            int r = run(st, SQL_COMMIT);
            if (r != SQLITE_OK) {
                rc = store_fail(st, r, err);
                run(st, SQL_ROLLBACK);
            }
        } else {
            run(st, SQL_ROLLBACK);
        }
        st->in_tx = 0;
    }
    if (st->in_write) {
        st->in_write = 0;
        if (st->write_lock)
            pthread_mutex_unlock(st->write_lock);
    }
    return rc;
}

sqlite3_stmt *store_stmt(struct store *st, const char *sql, struct fl_err *err)
{
    uintptr_t h = (uintptr_t)sql;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 32) & (STMT_CACHE - 1);
    for (size_t n = 0; n < STMT_CACHE; n++, i = (i + 1) & (STMT_CACHE - 1)) {
        if (st->cache[i].sql == sql)
            return st->cache[i].stmt;
        if (st->cache[i].sql == NULL) {
            sqlite3_stmt *s = NULL;
            int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
            if (rc != SQLITE_OK) {
                fl_err_set(err, FL_INTERNAL, "prepare failed: %s", sqlite3_errmsg(st->db));
                return NULL;
            }
            st->cache[i].sql = sql;
            st->cache[i].stmt = s;
            return s;
        }
    }
    fl_err_set(err, FL_INTERNAL, "statement cache full");
    return NULL;
}

void store_done(sqlite3_stmt *stmt)
{
    if (stmt) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    }
}

int store_changes(struct store *st)
{
    return sqlite3_changes(st->db);
}

/* ---- helpers for the store files ------------------------------------------- */

void store_bind_str(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

void store_col_copy(sqlite3_stmt *s, int i, char *out, size_t outlen)
{
    const unsigned char *v = sqlite3_column_text(s, i);
    size_t n = v ? (size_t)sqlite3_column_bytes(s, i) : 0;
    if (n >= outlen)
        n = outlen - 1;
    if (n)
        memcpy(out, v, n);
    out[n] = '\0';
}

char *store_col_dup(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    const unsigned char *v = sqlite3_column_text(s, i);
    size_t n = (size_t)sqlite3_column_bytes(s, i);
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    if (n)
        memcpy(p, v, n);
    p[n] = '\0';
    return p;
}

enum fl_code store_step_row(struct store *st, sqlite3_stmt *s, struct fl_err *err)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return FL_OK;
    if (rc == SQLITE_DONE)
        return FL_NOT_FOUND;
    return store_fail(st, rc, err);
}

enum fl_code store_exec(struct store *st, sqlite3_stmt *s, struct fl_err *err)
{
    int rc = sqlite3_step(s);
    store_done(s);
    return rc == SQLITE_DONE ? FL_OK : store_fail(st, rc, err);
}

void store_bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    store_bind_str(s, i, v && *v ? v : NULL);
}

enum fl_code store_insert(struct store *st, sqlite3_stmt *s, struct fl_err *err)
{
    int rc = sqlite3_step(s);
    /* a TEXT primary key of a rowid table is a unique index underneath */
    int ext = (rc & 0xff) == SQLITE_CONSTRAINT ? sqlite3_extended_errcode(sqlite3_db_handle(s)) : 0;
    store_done(s);
    if (rc == SQLITE_DONE)
        return FL_OK;
    if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
        return fl_err_set(err, FL_ALREADY_EXISTS, "already exists");
    return store_fail(st, rc, err);
}
