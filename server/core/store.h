/*
 * store.h - the SQLite store: connection, migrations, transactions and the
 * prepared-statement cache. All SQL text lives in store.c and store_*.c;
 * no other file includes sqlite3.h.
 *
 * Statements are prepared once per connection (store_stmt() caches them by
 * the address of their static SQL string) and reused: bind, step, then
 * store_done(). Core functions own the transaction boundary:
 *   if (store_begin(st, err)) return err->code;
 *   ... store_* calls ...
 *   return store_end(st, rc, err);   commits on FL_OK, rolls back otherwise
 */
#ifndef FL_STORE_H
#define FL_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct store;
typedef struct sqlite3_stmt sqlite3_stmt;

/* Opens path, sets WAL, foreign keys and busy timeout, applies pending
 * migrations from schema/ (embedded at build time) in one transaction. */
enum fl_code store_open(struct store **out, const char *path, pthread_mutex_t *write_lock,
                        struct fl_err *err);
void store_close(struct store *st);

/* Write transaction (BEGIN IMMEDIATE, after taking the process write lock). */
enum fl_code store_begin(struct store *st, struct fl_err *err);
/* Read transaction: a consistent snapshot across several statements. */
enum fl_code store_begin_read(struct store *st, struct fl_err *err);
/* Commits when rc == FL_OK (and returns the commit's result), otherwise rolls
 * back and returns rc unchanged. Releases the write lock either way. */
enum fl_code store_end(struct store *st, enum fl_code rc, struct fl_err *err);

/* Group commit. store_batch_begin opens one write transaction; until
 * store_batch_commit, every store_begin/store_begin_read on this store opens a
 * savepoint instead and store_end releases it (or rolls back to it), so each
 * operation still succeeds or fails alone while the batch pays for one
 * commit. Nothing is durable or visible to other connections before the
 * batch commits: callers must not answer before store_batch_commit returns.
 * Only for a connection no other thread uses meanwhile (the pool's writer). */
enum fl_code store_batch_begin(struct store *st, struct fl_err *err);
enum fl_code store_batch_commit(struct store *st, struct fl_err *err);

/* Returns the cached statement for sql (a string literal or other static
 * storage: its address is the cache key), preparing it on first use.
 * NULL on a prepare error, with err set to FL_INTERNAL. */
sqlite3_stmt *store_stmt(struct store *st, const char *sql, struct fl_err *err);
/* Resets a statement and clears its bindings after use. */
void store_done(sqlite3_stmt *stmt);

/* Small helpers every store_*.c file uses. */
/* Binds v as text (SQLITE_STATIC: v must outlive the step), NULL as SQL NULL. */
void store_bind_str(sqlite3_stmt *s, int i, const char *v);
/* Copies column i into out as text, truncated to outlen-1 bytes; "" for NULL. */
void store_col_copy(sqlite3_stmt *s, int i, char *out, size_t outlen);
/* A malloc'd copy of column i (caller frees); NULL for SQL NULL or no memory. */
char *store_col_dup(sqlite3_stmt *s, int i);
/* Steps a bound one-row-or-none statement: FL_OK on a row (read it, then
 * store_done), FL_NOT_FOUND on none. Does not reset. */
enum fl_code store_step_row(struct store *st, sqlite3_stmt *s, struct fl_err *err);
/* Binds v as text, or SQL NULL when v is NULL or "" (optional text columns). */
void store_bind_opt(sqlite3_stmt *s, int i, const char *v);
/* Steps a bound statement that yields no rows, then resets it. */
enum fl_code store_exec(struct store *st, sqlite3_stmt *s, struct fl_err *err);
/* store_exec for an INSERT: a PRIMARY KEY or UNIQUE violation is
 * FL_ALREADY_EXISTS ("already exists"; callers name the resource). */
enum fl_code store_insert(struct store *st, sqlite3_stmt *s, struct fl_err *err);

/* Maps a failed sqlite3 result code to an fl_code and message: BUSY/LOCKED
 * become FL_UNAVAILABLE (retryable), the rest FL_INTERNAL. */
enum fl_code store_fail(struct store *st, int sqlite_rc, struct fl_err *err);

/* Sets how long a statement on this connection waits for another
 * connection's lock before failing with FL_UNAVAILABLE (ms; 0 = fail at
 * once). store_open sets a long default; a caller whose thread must never
 * stall (an event loop serving many clients) sets a few ms and retries. */
void store_set_busy_timeout(struct store *st, int ms);

/* Checkpoints are the caller's business on this connection from now on
 * (no automatic checkpoint at commit): store_wal_frames then tells the WAL's
 * size in frames after this connection's last commit. */
void store_wal_manual(struct store *st);
int store_wal_frames(const struct store *st);
/* A checkpoint. Passive (restart 0): copies what it can of the WAL into the
 * database without waiting for (or blocking) writers and readers. Restart:
 * waits (busy timeout) for any writer, copies everything, then waits until
 * no reader uses the WAL, so that the next write starts the WAL over; call
 * it when this process's writes are paused. *left = frames of the WAL not
 * copied yet. FL_UNAVAILABLE when another checkpoint is running, or on a
 * timeout. */
enum fl_code store_checkpoint(struct store *st, int restart, int *left, struct fl_err *err);

/* Rows changed by the last statement on this connection. */
int store_changes(struct store *st);

/* Schema version after migrations (PRAGMA user_version). */
int store_schema_version(struct store *st);

#endif
