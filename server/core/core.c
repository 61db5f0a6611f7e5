/*
 * core.c - the libfleet context: opening a core over the store, the default
 * clock, random source and log sink, ARN helpers, and the pool of cores a
 * multi-threaded process draws from.
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

#define BATCH_MAX 64      /* operations per group commit */
#define BATCH_RESULTS 256 /* ring of recent batch outcomes */

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
    /* Group commit over the writer (see core_pool_release_writer). */
    pthread_mutex_t wlock;
    pthread_cond_t wfree;      /* the writer became free */
    pthread_cond_t wcommitted; /* a batch committed */
    int wbusy;                 /* a thread holds the writer */
    int wwaiting;              /* threads waiting for the writer */
    int batch_open;
    int batch_ops;
    uint64_t batch_id;     /* id of the open (or next) batch */
    uint64_t committed_id; /* last batch committed, or failed */
    enum fl_code results[BATCH_RESULTS];
};

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
    pthread_cond_init(&p->wfree, NULL);
    pthread_cond_init(&p->wcommitted, NULL);
    p->batch_id = 1;
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
    *out = p;
    return FL_OK;
}

struct fl_core *core_pool_acquire_writer(struct core_pool *p)
{
    pthread_mutex_lock(&p->wlock);
    p->wwaiting++;
    while (p->wbusy)
        pthread_cond_wait(&p->wfree, &p->wlock);
    p->wwaiting--;
    p->wbusy = 1;
    if (!p->batch_open) {
        /* when this fails the operation runs in its own transaction and
         * meets the same error there */
        struct fl_err ignored;
        p->batch_open = store_batch_begin(p->writer.st, &ignored) == FL_OK;
        p->batch_ops = 0;
    }
    pthread_mutex_unlock(&p->wlock);
    return &p->writer;
}

enum fl_code core_pool_release_writer(struct core_pool *p, struct fl_core *c, struct fl_err *err)
{
    (void)c;
    enum fl_code rc = FL_OK;
    pthread_mutex_lock(&p->wlock);
    p->wbusy = 0;
    if (!p->batch_open) {
        pthread_cond_signal(&p->wfree);
        pthread_mutex_unlock(&p->wlock);
        return FL_OK;
    }
    uint64_t mine = p->batch_id;
    p->batch_ops++;
    if (p->wwaiting > 0 && p->batch_ops < BATCH_MAX) {
        /* Someone is queued: let them add to this batch; the last one in
         * commits for all. */
        pthread_cond_signal(&p->wfree);
        while (p->committed_id < mine)
            pthread_cond_wait(&p->wcommitted, &p->wlock);
        rc = p->results[mine % BATCH_RESULTS];
    } else {
        rc = store_batch_commit(p->writer.st, err);
        p->results[mine % BATCH_RESULTS] = rc;
        p->committed_id = mine;
        p->batch_id++;
        p->batch_open = 0;
        pthread_cond_broadcast(&p->wcommitted);
        pthread_cond_signal(&p->wfree);
    }
    pthread_mutex_unlock(&p->wlock);
    if (rc != FL_OK && err != NULL && err->code != rc)
        fl_err_set(err, rc, "The change could not be committed; retry the request");
    return rc;
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
    if (p->has_writer)
        core_close(&p->writer);
    pthread_mutex_destroy(&p->wlock);
    pthread_cond_destroy(&p->wfree);
    pthread_cond_destroy(&p->wcommitted);
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
