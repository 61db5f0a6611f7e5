/*
 * worker.c - the plugin's worker threads (see worker.h): a FIFO of jobs
 * under one mutex and condition variable, N threads each with its own
 * libfleet core, and a done list the broker thread empties from TICK and
 * CONTROL (worker_collect).
 *
 * A worker core opens the plugin's database with a generous busy timeout
 * (FP_WORKER_BUSY_MS: it blocks nobody but its own job, unlike the broker
 * thread's 5 ms), shares the plugin's CA (immutable, thread-safe) and HTTP
 * client (thread-safe by contract, core.h), and logs to stderr: the
 * broker's log functions are not thread-safe, and a worker never calls a
 * mosquitto_* function.
 *
 * worker_collect is on the broker thread's hot loop (every TICK, tens of
 * thousands per second under load): it reads an atomic count of finished
 * jobs and takes the lock only when there is something to collect.
 *
 * Waking the broker: an idle broker sleeps up to 100 ms in epoll_wait
 * between TICKs, and the plugin API gives a thread no way to wake it, so
 * an answer would wait for the next TICK (two such waits made a lone
 * device's first boot ~200 ms). Bytes on a client connection do wake it:
 * the workers keep one internal MQTT connection on fleetd's unix-socket
 * listener (trusted, like fleetd's own kick connection) and write a
 * PINGREQ when the first result of a batch is ready; the loop wakes and
 * its TICK collects. Without the socket (plugin_opt_socket unset, unit
 * tests) results simply wait for TICK.
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fleet_plugin.h"
#include "mqtt_wire.h"
#include "store.h"

#define FP_WORKERS_MAX 16
#define FP_WORKER_BUSY_MS 5000 /* SQLite busy timeout of a worker core */
#define FP_WAKE_RETRY_MS 1000  /* reconnect pace of the wake connection */

/* The wake connection (see the top of the file). */
struct fp_wake {
    pthread_mutex_t mu;
    int fd;                                                 /* -1: not connected */
    int64_t retry_after;                                    /* monotonic ms */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* "" = no socket: never wake */
    char client_id[64];
};

struct fp_worker {
    pthread_t thread;
    struct fl_core core;
    struct fp_workers *w;
    int started;
    int core_open;
};

struct fp_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fp_job *head, *tail;           /* queued, FIFO */
    struct fp_job *done_head, *done_tail; /* finished, FIFO */
    size_t queued;
    size_t running;
    size_t ndone; /* read without the lock (atomic) by worker_collect */
    int stop;
    int n;
    struct fp_wake wake;
    struct fp_worker t[FP_WORKERS_MAX];
};

static int64_t mono_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake_close(struct fp_wake *k)
{
    if (k->fd >= 0) {
        uint8_t pkt[2];
        (void)!send(k->fd, pkt, mqtt_wire_disconnect(pkt, sizeof(pkt)), MSG_NOSIGNAL | MSG_DONTWAIT);
        close(k->fd);
        k->fd = -1;
    }
}

/* Connects and writes CONNECT (keepalive 0: the broker never times this
 * connection out). The CONNACK is not awaited: later packets may follow
 * a CONNECT at once, and wake_broker reads and drops what comes back. */
static void wake_connect(struct fp_wake *k)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, k->path, sizeof(a.sun_path));
    uint8_t pkt[128];
    size_t n = mqtt_wire_connect(pkt, sizeof(pkt), k->client_id, "fleetd", 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || n == 0 ||
        send(fd, pkt, n, MSG_NOSIGNAL) != (ssize_t)n) {
        close(fd);
        k->retry_after = mono_now_ms() + FP_WAKE_RETRY_MS;
        return;
    }
    k->fd = fd;
}

/* One PINGREQ on the wake connection (connecting first when needed). Any
 * failure only costs the wait for the next TICK. */
static void wake_broker(struct fp_wake *k)
{
    if (k->path[0] == '\0')
        return;
    pthread_mutex_lock(&k->mu);
    if (k->fd < 0 && mono_now_ms() >= k->retry_after)
        wake_connect(k);
    if (k->fd >= 0) {
        uint8_t buf[256];
        ssize_t r;
        while ((r = recv(k->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
            ; /* CONNACK, PINGRESPs */
        uint8_t ping[2];
        size_t n = mqtt_wire_pingreq(ping, sizeof(ping));
        if ((r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) ||
            send(k->fd, ping, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n) {
            close(k->fd); /* the broker closed it or is gone: reconnect next time */
            k->fd = -1;
            k->retry_after = mono_now_ms() + FP_WAKE_RETRY_MS;
        }
    }
    pthread_mutex_unlock(&k->mu);
}

static struct fp_job *pop(struct fp_job **head, struct fp_job **tail)
{
    struct fp_job *j = *head;
    if (j) {
        *head = j->next;
        if (*head == NULL)
            *tail = NULL;
        j->next = NULL;
    }
    return j;
}

static void push(struct fp_job **head, struct fp_job **tail, struct fp_job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void *worker_main(void *arg)
{
    struct fp_worker *me = arg;
    struct fp_workers *w = me->w;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->head == NULL)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop)
            break;
        struct fp_job *j = pop(&w->head, &w->tail);
        w->queued--;
        w->running++;
        pthread_mutex_unlock(&w->mu);
        j->run(j, &me->core);
        pthread_mutex_lock(&w->mu);
        w->running--;
        push(&w->done_head, &w->done_tail, j);
        if (__atomic_fetch_add(&w->ndone, 1, __ATOMIC_RELEASE) == 0) {
            /* the first result since the broker last collected */
            pthread_mutex_unlock(&w->mu);
            wake_broker(&w->wake);
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void close_cores(struct fp_workers *w)
{
    for (int i = 0; i < FP_WORKERS_MAX; i++)
        if (w->t[i].core_open) {
            core_close(&w->t[i].core);
            w->t[i].core_open = 0;
        }
}

static void join_all(struct fp_workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < FP_WORKERS_MAX; i++)
        if (w->t[i].started) {
            pthread_join(w->t[i].thread, NULL);
            w->t[i].started = 0;
        }
}

static void free_workers(struct fp_workers *w)
{
    close_cores(w);
    wake_close(&w->wake);
    pthread_mutex_destroy(&w->wake.mu);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int worker_start(struct fp_plugin *p, int n)
{
    if (p->workers || p->core == NULL || n < 1 || n > FP_WORKERS_MAX)
        return -1;
    struct fp_workers *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_mutex_init(&w->wake.mu, NULL);
    w->wake.fd = -1;
    if (strlen(p->opt.socket) < sizeof(w->wake.path))
        memcpy(w->wake.path, p->opt.socket, strlen(p->opt.socket) + 1);
    snprintf(w->wake.client_id, sizeof(w->wake.client_id), "fleet-plugin-wake-%ld", (long)getpid());
    w->n = n;
    for (int i = 0; i < n; i++) {
        struct fp_worker *t = &w->t[i];
        struct fl_err err;
        fl_err_clear(&err);
        t->w = w;
        if (core_open(&t->core, &p->core->cfg, p->opt.db_path, NULL, &err) != FL_OK) {
            core_log(p->core, FL_LOG_ERROR, "worker %d: cannot open %s: %s", i, p->opt.db_path, err.msg);
            join_all(w);
            free_workers(w);
            return -1;
        }
        t->core_open = 1;
        /* off the broker thread: waiting for fleetd's write lock stalls
         * only this job */
        store_set_busy_timeout(t->core.st, FP_WORKER_BUSY_MS);
        t->core.ca = p->ca;
        t->core.http = p->http;
        t->core.clock = p->core->clock; /* tests run the plugin on a fixed clock */
        t->core.log.min = p->core->log.min;
        if (pthread_create(&t->thread, NULL, worker_main, t) != 0) {
            core_log(p->core, FL_LOG_ERROR, "worker %d: cannot start a thread", i);
            join_all(w);
            free_workers(w);
            return -1;
        }
        t->started = 1;
    }
    p->workers = w;
    return 0;
}

size_t worker_collect(struct fp_plugin *p)
{
    struct fp_workers *w = p->workers;
    if (w == NULL || __atomic_load_n(&w->ndone, __ATOMIC_ACQUIRE) == 0)
        return 0;
    pthread_mutex_lock(&w->mu);
    struct fp_job *list = w->done_head;
    w->done_head = w->done_tail = NULL;
    __atomic_store_n(&w->ndone, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&w->mu);
    size_t k = 0;
    while (list) {
        struct fp_job *j = list;
        list = j->next;
        j->next = NULL;
        j->done(p, j, 0);
        k++;
    }
    return k;
}

void worker_stop(struct fp_plugin *p)
{
    struct fp_workers *w = p->workers;
    if (w == NULL)
        return;
    join_all(w);
    /* the threads are gone: no lock needed any more */
    worker_collect(p);
    struct fp_job *j;
    while ((j = pop(&w->head, &w->tail)) != NULL) {
        w->queued--;
        j->done(p, j, 1);
    }
    p->workers = NULL;
    free_workers(w);
}

int worker_submit(struct fp_plugin *p, struct fp_job *j)
{
    struct fp_workers *w = p->workers;
    if (w == NULL || j == NULL || j->run == NULL || j->done == NULL)
        return -1;
    pthread_mutex_lock(&w->mu);
    if (w->stop || w->queued >= FP_WORKER_QUEUE) {
        pthread_mutex_unlock(&w->mu);
        return -1;
    }
    push(&w->head, &w->tail, j);
    w->queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

size_t worker_pending(const struct fp_plugin *p)
{
    struct fp_workers *w = p->workers;
    if (w == NULL)
        return 0;
    pthread_mutex_lock(&w->mu);
    size_t n = w->queued + w->running;
    pthread_mutex_unlock(&w->mu);
    return n;
}
