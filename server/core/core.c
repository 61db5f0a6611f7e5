/*
 * core.c - the libfleet context: opening a core over the store, the default
 * clock, random source and log sink, ARN helpers, and the pool of cores a
 * multi-threaded process draws from, with its writer thread (group commit)
 * and checkpointer thread.
 */
#include "core.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static int64_t system_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void system_fill(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n <= 0)
            abort(); /* no entropy means no safe ids or keys */
        p += n;
        len -= (size_t)n;
    }
}

static void stderr_log(void *ctx, enum fl_log_level lvl, const char *line)
{
    (void)ctx;
    static const char *names[] = {"debug", "info", "warn", "error"};
    fprintf(stderr, "fleetd %s: %s\n", names[lvl], line);
}

void core_config_defaults(struct fl_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->region, sizeof(cfg->region), "us-east-1");
    snprintf(cfg->account_id, sizeof(cfg->account_id), "123456789012");
    snprintf(cfg->endpoint_host, sizeof(cfg->endpoint_host), "localhost");
    cfg->mqtt_port = 8883;
}

enum fl_code core_open(struct fl_core *c, const struct fl_config *cfg, const char *db_path,
                       pthread_mutex_t *write_lock, struct fl_err *err)
{
    memset(c, 0, sizeof(*c));
    c->cfg = *cfg;
    c->clock.now_ms = system_now_ms;
    c->rng.fill = system_fill;
    c->log.write = stderr_log;
    c->log.min = FL_LOG_INFO;
    return store_open(&c->st, db_path, write_lock, err);
}

void core_close(struct fl_core *c)
{
    store_close(c->st);
    c->st = NULL;
}

int64_t core_now_ms(struct fl_core *c)
{
    return c->clock.now_ms(c->clock.ctx);
}

void core_random(struct fl_core *c, void *buf, size_t len)
{
    c->rng.fill(c->rng.ctx, buf, len);
}

void core_hex(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void core_random_hex(struct fl_core *c, size_t n, char *out)
{
    unsigned char raw[64];
    while (n > 0) {
        size_t k = n < sizeof(raw) ? n : sizeof(raw);
        core_random(c, raw, k);
        core_hex(raw, k, out);
        out += 2 * k;
        n -= k;
    }
}

void core_uuid(struct fl_core *c, char out[37])
{
    unsigned char b[16];
    core_random(c, b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void core_arn(const struct fl_core *c, char *out, size_t outlen, const char *kind, const char *name)
{
    snprintf(out, outlen, "arn:aws:iot:%s:%s:%s/%s", c->cfg.region, c->cfg.account_id, kind, name);
}

const char *core_arn_name(const struct fl_core *c, const char *arn, const char *kind)
{
    char prefix[128];
    int n = snprintf(prefix, sizeof(prefix), "arn:aws:iot:%s:%s:%s/", c->cfg.region, c->cfg.account_id, kind);
    if (n <= 0 || (size_t)n >= sizeof(prefix) || strncmp(arn, prefix, (size_t)n) != 0)
        return NULL;
    return arn[n] ? arn + n : NULL;
}

void core_log(struct fl_core *c, enum fl_log_level lvl, const char *fmt, ...)
{
    if (lvl < c->log.min || c->log.write == NULL)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->log.write(c->log.ctx, lvl, line);
}

/* ---- pool ---------------------------------------------------------------- */

#define BATCH_MAX 64 /* operations per group commit */
/* The WAL is copied into the database by a checkpointer thread once it holds
 * CKPT_FRAMES frames (4 KB each; SQLite's own default is 1000), while writes
 * go on. Measured with the bench's CreateThing: 16000 beats 8000 by ~9%. */
#define CKPT_FRAMES 16000
#define CKPT_PASSES 3 /* background passes before the final, short one */
#define CKPT_TAIL 500 /* frames left that make the final pass short enough */

/* One write operation queued for the writer thread: on the caller's stack
 * until done is set (core_pool_write), or malloc'd and freed by the writer
 * thread once done_fn returns (core_pool_write_async). */
struct write_job {
    core_write_fn fn;
    void *arg;
    struct fl_err *err;
    enum fl_code rc;
    core_write_done_fn done_fn; /* asynchronous: called, then the job freed */
    int done;
    pthread_cond_t cv; /* done was set (one per job: no thundering herd) */
    struct write_job *next;
};

struct core_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    pthread_mutex_t write_lock;
    int n;
    int nfree;
    struct fl_core *cores;
    struct fl_core **free_list;
    /* All write operations go through one connection: writes are serialised
     * by SQLite anyway, and a single writer keeps its page cache valid
     * (another connection's commit would invalidate it on every request). */
    struct fl_core writer;
    int has_writer;
    /* Group commit: callers queue operations and one writer thread runs
     * everything queued, each operation in its own savepoint, then commits
     * once for all of them (see core_pool_write). */
    pthread_mutex_t wlock;
    pthread_cond_t wwork; /* a job was queued, stop, or cpause ended */
    struct write_job *qhead, *qtail;
    int wstop;
    int has_thread;
    pthread_t wthread;
    /* Held by the writer thread while it runs a batch, and by callers of
     * core_pool_acquire_writer while they use the writer core directly. */
    pthread_mutex_t wexec;
    /* Checkpoints (see CKPT_FRAMES) on a connection of their own, so that the
     * writer never waits for the fsyncs of a checkpoint. Only the final pass
     * holds wexec: a WAL can start over only once every frame is copied, which
     * never happens while writes keep coming. */
    struct store *ckpt;
    pthread_t cthread;
    int has_cthread;
    pthread_cond_t cwork; /* a checkpoint is wanted, or stop */
    int cwanted;
    int cpause;  /* the final pass waits for wexec: no new batch meanwhile */
    int ckpt_at; /* WAL frames that call for the next checkpoint */
};

static void *checkpointer_main(void *arg)
{
    struct core_pool *p = arg;
    pthread_mutex_lock(&p->wlock);
    for (;;) {
        while (!p->cwanted && !p->wstop)
            pthread_cond_wait(&p->cwork, &p->wlock);
        if (p->wstop)
            break;
        pthread_mutex_unlock(&p->wlock);
        struct fl_err err;
        int left = 0;
        enum fl_code rc = FL_OK;
        for (int i = 0; i < CKPT_PASSES; i++)
            if ((rc = store_checkpoint(p->ckpt, 0, &left, &err)) != FL_OK || left <= CKPT_TAIL)
                break;
        if (rc == FL_OK) {
            /* the final pass, writes paused between two batches: it copies
             * what came meanwhile and waits for readers to leave the WAL,
             * so that the next batch starts it over. cpause makes the writer
             * wait (a busy writer would take wexec back at once). */
            pthread_mutex_lock(&p->wlock);
            p->cpause = 1;
            pthread_mutex_unlock(&p->wlock);
            pthread_mutex_lock(&p->wexec);
            rc = store_checkpoint(p->ckpt, 1, &left, &err);
            pthread_mutex_unlock(&p->wexec);
            pthread_mutex_lock(&p->wlock);
            p->cpause = 0;
            pthread_cond_broadcast(&p->wwork);
            pthread_mutex_unlock(&p->wlock);
        }
        if (rc != FL_OK && rc != FL_UNAVAILABLE)
            core_log(&p->writer, FL_LOG_WARN, "checkpoint failed: %s", err.msg);
        pthread_mutex_lock(&p->wlock);
        p->cwanted = 0;
    }
    pthread_mutex_unlock(&p->wlock);
    return NULL;
}

/* After a batch, on the writer thread, wlock held. */
static void maybe_checkpoint(struct core_pool *p)
{
    int frames = store_wal_frames(p->writer.st);
    if (frames < CKPT_FRAMES) {
        p->ckpt_at = CKPT_FRAMES; /* the WAL started over */
        return;
    }
    if (frames < p->ckpt_at)
        return;
    if (!p->cwanted) {
        /* when the WAL could not start over (a reader of another process
         * held on to it), wait for it to grow as much again */
        p->ckpt_at = frames + CKPT_FRAMES;
        p->cwanted = 1;
        pthread_cond_signal(&p->cwork);
    }
}

static void run_batch(struct core_pool *p, struct write_job *jobs)
{
    struct fl_err berr;
    /* when BEGIN fails each operation runs in its own transaction and meets
     * the same error there */
    int batch = store_batch_begin(p->writer.st, &berr) == FL_OK;
    for (struct write_job *j = jobs; j; j = j->next)
        j->rc = j->fn(&p->writer, j->arg);
    if (!batch)
        return;
    struct fl_err cerr;
    fl_err_clear(&cerr);
    enum fl_code crc = store_batch_commit(p->writer.st, &cerr);
    if (crc == FL_OK)
        return;
    for (struct write_job *j = jobs; j; j = j->next) {
        if (j->rc != FL_OK)
            continue;
        j->rc = crc;
        if (j->err)
            fl_err_set(j->err, crc, "The change could not be committed; retry the request");
    }
}

static void *writer_main(void *arg)
{
    struct core_pool *p = arg;
    pthread_mutex_lock(&p->wlock);
    for (;;) {
        while ((p->qhead == NULL && !p->wstop) || p->cpause)
            pthread_cond_wait(&p->wwork, &p->wlock);
        if (p->qhead == NULL)
            break;
        /* take up to BATCH_MAX queued jobs; later ones wait for the next batch */
        struct write_job *jobs = p->qhead, *last = jobs;
        for (int n = 1; n < BATCH_MAX && last->next; n++)
            last = last->next;
        p->qhead = last->next;
        if (p->qhead == NULL)
            p->qtail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&p->wlock);
        pthread_mutex_lock(&p->wexec);
        run_batch(p, jobs);
        pthread_mutex_unlock(&p->wexec);
        /* asynchronous callers are told first: they hand the answer back to
         * their (network) threads without holding wlock */
        struct write_job **pp = &jobs;
        while (*pp) {
            struct write_job *j = *pp;
            if (j->done_fn == NULL) {
                pp = &j->next;
                continue;
            }
            *pp = j->next;
            j->done_fn(j->arg, j->rc);
            free(j);
        }
        pthread_mutex_lock(&p->wlock);
        for (struct write_job *j = jobs, *next; j; j = next) {
            next = j->next; /* j belongs to its caller once done is set */
            j->done = 1;
            pthread_cond_signal(&j->cv);
        }
        maybe_checkpoint(p);
    }
    pthread_mutex_unlock(&p->wlock);
    return NULL;
}

enum fl_code core_pool_open(struct core_pool **out, int n, const struct fl_config *cfg, const char *db_path,
                            struct fl_err *err)
{
    struct core_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    pthread_mutex_init(&p->write_lock, NULL);
    pthread_mutex_init(&p->wlock, NULL);
    pthread_cond_init(&p->wwork, NULL);
    pthread_cond_init(&p->cwork, NULL);
    pthread_mutex_init(&p->wexec, NULL);
    p->cores = calloc((size_t)n, sizeof(*p->cores));
    p->free_list = calloc((size_t)n, sizeof(*p->free_list));
    if (p->cores == NULL || p->free_list == NULL) {
        core_pool_close(p);
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        enum fl_code rc = core_open(&p->cores[i], cfg, db_path, &p->write_lock, err);
        if (rc) {
            core_pool_close(p);
            return rc;
        }
        p->n++;
        p->free_list[p->nfree++] = &p->cores[i];
    }
    /* the writer takes no process write lock: it holds SQLite's write lock
     * across a batch, and other cores' rare writes wait in the busy handler */
    enum fl_code rc = core_open(&p->writer, cfg, db_path, NULL, err);
    if (rc) {
        core_pool_close(p);
        return rc;
    }
    p->has_writer = 1;
    p->ckpt_at = CKPT_FRAMES;
    store_wal_manual(p->writer.st);
    if ((rc = store_open(&p->ckpt, db_path, NULL, err)) != FL_OK) {
        core_pool_close(p);
        return rc;
    }
    /* the final pass waits for readers with the writes paused: give up soon
     * (and try again later) rather than stall them */
    store_set_busy_timeout(p->ckpt, 100);
    if (pthread_create(&p->cthread, NULL, checkpointer_main, p) != 0) {
        core_pool_close(p);
        return fl_err_set(err, FL_INTERNAL, "cannot start the checkpointer thread");
    }
    p->has_cthread = 1;
    if (pthread_create(&p->wthread, NULL, writer_main, p) != 0) {
        core_pool_close(p);
        return fl_err_set(err, FL_INTERNAL, "cannot start the writer thread");
    }
    p->has_thread = 1;
    *out = p;
    return FL_OK;
}

static void enqueue(struct core_pool *p, struct write_job *j)
{
    if (p->qtail)
        p->qtail->next = j;
    else
        p->qhead = j;
    p->qtail = j;
    pthread_cond_signal(&p->wwork);
}

enum fl_code core_pool_write_async(struct core_pool *p, core_write_fn fn, void *arg, struct fl_err *err,
                                   core_write_done_fn done)
{
    struct write_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    j->fn = fn;
    j->arg = arg;
    j->err = err;
    j->done_fn = done;
    pthread_mutex_lock(&p->wlock);
    enqueue(p, j);
    pthread_mutex_unlock(&p->wlock);
    return FL_OK;
}

enum fl_code core_pool_write(struct core_pool *p, core_write_fn fn, void *arg, struct fl_err *err)
{
    struct write_job j = {.fn = fn, .arg = arg, .err = err};
    pthread_cond_init(&j.cv, NULL);
    pthread_mutex_lock(&p->wlock);
    enqueue(p, &j);
    while (!j.done)
        pthread_cond_wait(&j.cv, &p->wlock);
    pthread_mutex_unlock(&p->wlock);
    pthread_cond_destroy(&j.cv);
    return j.rc;
}

struct fl_core *core_pool_acquire_writer(struct core_pool *p)
{
    pthread_mutex_lock(&p->wexec);
    return &p->writer;
}

enum fl_code core_pool_release_writer(struct core_pool *p, struct fl_core *c, struct fl_err *err)
{
    (void)c;
    (void)err;
    pthread_mutex_unlock(&p->wexec);
    return FL_OK;
}

struct fl_core *core_pool_acquire(struct core_pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->nfree == 0)
        pthread_cond_wait(&p->freed, &p->lock);
    struct fl_core *c = p->free_list[--p->nfree];
    pthread_mutex_unlock(&p->lock);
    return c;
}

void core_pool_release(struct core_pool *p, struct fl_core *c)
{
    if (c == &p->writer) {
        core_pool_release_writer(p, c, NULL);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->free_list[p->nfree++] = c;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

void core_pool_close(struct core_pool *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n; i++)
        core_close(&p->cores[i]);
    pthread_mutex_lock(&p->wlock);
    p->wstop = 1;
    pthread_cond_signal(&p->wwork);
    pthread_cond_signal(&p->cwork);
    pthread_mutex_unlock(&p->wlock);
    if (p->has_thread)
        pthread_join(p->wthread, NULL);
    if (p->has_cthread)
        pthread_join(p->cthread, NULL);
    store_close(p->ckpt);
    if (p->has_writer)
        core_close(&p->writer);
    pthread_mutex_destroy(&p->wlock);
    pthread_cond_destroy(&p->wwork);
    pthread_cond_destroy(&p->cwork);
    pthread_mutex_destroy(&p->wexec);
    free(p->cores);
    free(p->free_list);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->write_lock);
    free(p);
}

void core_pool_set_ca(struct core_pool *p, struct ca *ca)
{
    for (int i = 0; i < p->n; i++)
        p->cores[i].ca = ca;
    p->writer.ca = ca;
}

void core_pool_set_http(struct core_pool *p, const struct fl_http_post *hp)
{
    for (int i = 0; i < p->n; i++)
        p->cores[i].http = *hp;
    p->writer.http = *hp;
}
