/*
 * kick.c - fleetd's persistent MQTT 3.1.1 client on the broker's unix
 * socket (see kick.h): a background thread that wakes the broker plugin
 * after outbox writes and collects old outbox rows. Hand-written packets
 * (CONNECT, PUBLISH QoS 0, PINGREQ, DISCONNECT): four fixed shapes do not
 * need a client library. The broker trusts this connection because it
 * arrives on the unix socket; nothing here authenticates.
 *
 * Never on a request's path: kick_send() sets a flag under a mutex. Kicks
 * that arrive while one is being written coalesce into one more, so the
 * last commit is always followed by a kick that is written after it.
 */
#include "kick.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "mqtt_wire.h"
#include "outbox.h"

#define KICK_KEEPALIVE_S 60
#define KICK_IO_TIMEOUT_MS 2000 /* connect, CONNACK, a blocked write */
#define KICK_RETRY_MS 1000      /* reconnect pace while the broker is away */
#define KICK_WAKE_MS 1000       /* housekeeping period of the thread */
#define KICK_GC_EVERY_MS 60000
#define KICK_GC_AGE_MS (3600 * 1000)
#define KICK_READ_MS 50 /* while connected, read what the broker sent this often */
#define KICK_LOG_TOPIC "$SYS/broker/log/N"

struct kick {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char client_id[48];
    struct core_pool *pool;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int pending; /* a kick was asked for and not yet attempted */
    int stop;
    int64_t gc_every_ms, gc_age_ms;
    int gc_changed; /* kick_set_gc: reschedule now */
    struct kick_stats stats;
    /* owned by the thread */
    int fd;
    int owed;            /* a kick could not be written: retry */
    int64_t last_tx_ms;  /* monotonic: last packet written */
    int64_t next_try_ms; /* monotonic: no connect attempt before */
    int64_t last_gc_ms;  /* monotonic */
    int reported_down;   /* the broker's absence was logged */
};

/* ---- connection (kick thread only) -------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One log line in the format of core.c's default sink (the kick thread
 * owns no core). */
static void say(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *level, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "fleetd %s: broker kick: %s\n", level, line);
}

static void drop(struct kick *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    pthread_mutex_lock(&k->lock);
    k->stats.connected = 0;
    pthread_mutex_unlock(&k->lock);
}

static void count_failure(struct kick *k)
{
    pthread_mutex_lock(&k->lock);
    k->stats.failures++;
    pthread_mutex_unlock(&k->lock);
}

/* Waits for events on the socket until deadline (monotonic ms). */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* Writes all n bytes within KICK_IO_TIMEOUT_MS. 0 on success. */
static int write_all(struct kick *k, const uint8_t *buf, size_t n)
{
    int64_t deadline = mono_ms() + KICK_IO_TIMEOUT_MS;
    while (n > 0) {
        ssize_t w = send(k->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(k->fd, POLLOUT, deadline) <= 0)
                return -1;
        } else if (!(w < 0 && errno == EINTR)) {
            return -1;
        }
    }
    k->last_tx_ms = mono_ms();
    return 0;
}

/* Reads and discards whatever the broker sent: PINGRESP, SUBACK and the
 * broker's log lines (the plugin reads those as they pass its ACL check).
 * Returns -1 when the broker closed the connection. */
static int drain(struct kick *k)
{
    uint8_t buf[256];
    for (;;) {
        ssize_t r = recv(k->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0)
            continue;
        if (r == 0)
            return -1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

static void connect_failed(struct kick *k, const char *why)
{
    drop(k);
    count_failure(k);
    k->next_try_ms = mono_ms() + KICK_RETRY_MS;
    if (!k->reported_down) {
        say("warn", "cannot reach the broker at %s (%s); outbox rows wait until it is back", k->path, why);
        k->reported_down = 1;
    }
}

/* Connects and completes CONNECT/CONNACK. 0 on success. */
static int open_conn(struct kick *k)
{
    if (mono_ms() < k->next_try_ms)
        return -1;
    k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (k->fd < 0) {
        connect_failed(k, strerror(errno));
        return -1;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, k->path, strlen(k->path) + 1);
    int64_t deadline = mono_ms() + KICK_IO_TIMEOUT_MS;
    if (connect(k->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            connect_failed(k, strerror(errno));
            return -1;
        }
        int err = 0;
        socklen_t el = sizeof(err);
        if (wait_fd(k->fd, POLLOUT, deadline) <= 0 ||
            getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            connect_failed(k, err ? strerror(err) : "connect timed out");
            return -1;
        }
    }
    uint8_t pkt[128];
    size_t n = mqtt_wire_connect(pkt, sizeof(pkt), k->client_id, "fleetd", KICK_KEEPALIVE_S);
    if (write_all(k, pkt, n) != 0) {
        connect_failed(k, "CONNECT not written");
        return -1;
    }
    uint8_t ack[4];
    size_t got = 0;
    while (got < sizeof(ack)) {
        if (wait_fd(k->fd, POLLIN, deadline) <= 0) {
            connect_failed(k, "no CONNACK");
            return -1;
        }
        ssize_t r = recv(k->fd, ack + got, sizeof(ack) - got, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            connect_failed(k, "closed before CONNACK");
            return -1;
        }
        if (r > 0)
            got += (size_t)r;
    }
    int code = mqtt_wire_parse_connack(ack, sizeof(ack));
    if (code != 0) {
        char why[48];
        if (code < 0)
            snprintf(why, sizeof(why), "malformed CONNACK");
        else
            snprintf(why, sizeof(why), "CONNACK refused, code %d", code);
        connect_failed(k, why);
        return -1;
    }
    /* The broker publishes its log on $SYS/broker/log/N only to subscribers;
     * the plugin learns disconnect reasons from those lines as they are
     * delivered to us. */
    n = mqtt_wire_subscribe(pkt, sizeof(pkt), 1, KICK_LOG_TOPIC);
    if (write_all(k, pkt, n) != 0) {
        connect_failed(k, "SUBSCRIBE not written");
        return -1;
    }
    if (k->reported_down)
        say("info", "connected to the broker at %s", k->path);
    k->reported_down = 0;
    pthread_mutex_lock(&k->lock);
    k->stats.connects++;
    k->stats.connected = 1;
    pthread_mutex_unlock(&k->lock);
    return 0;
}

/* Writes one kick, reconnecting once if the connection turned out dead. */
static void deliver(struct kick *k)
{
    if (k->path[0] == '\0')
        return; /* no broker: the GC alone */
    static const char topic[] = OUTBOX_KICK_TOPIC;
    uint8_t pkt[sizeof(topic) + 8];
    size_t n = mqtt_wire_publish(pkt, sizeof(pkt), topic, NULL, 0, 0);
    k->owed = 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (k->fd < 0 && open_conn(k) != 0)
            return;
        if (drain(k) == 0 && write_all(k, pkt, n) == 0) {
            k->owed = 0;
            pthread_mutex_lock(&k->lock);
            k->stats.sent++;
            pthread_mutex_unlock(&k->lock);
            return;
        }
        drop(k);
        count_failure(k);
    }
}

static void keepalive(struct kick *k)
{
    if (k->fd < 0)
        return;
    if (drain(k) != 0) {
        drop(k);
        return;
    }
    if (mono_ms() - k->last_tx_ms >= KICK_KEEPALIVE_S * 1000 / 2) {
        uint8_t pkt[2];
        if (write_all(k, pkt, mqtt_wire_pingreq(pkt, sizeof(pkt))) != 0)
            drop(k);
    }
}

static void gc(struct kick *k, int64_t age_ms)
{
    struct fl_err err, cerr;
    fl_err_clear(&err);
    fl_err_clear(&cerr);
    struct fl_core *c = core_pool_acquire_writer(k->pool);
    enum fl_code rc = outbox_gc(c, core_now_ms(c) - age_ms, &err);
    enum fl_code crc = core_pool_release_writer(k->pool, c, &cerr);
    if (rc != FL_OK || crc != FL_OK)
        say("warn", "outbox gc failed: %s", rc ? err.msg : cerr.msg);
    pthread_mutex_lock(&k->lock);
    k->stats.gc_runs++;
    pthread_mutex_unlock(&k->lock);
}

static void *run(void *arg)
{
    struct kick *k = arg;
    int64_t next_house = mono_ms() + KICK_WAKE_MS;
    pthread_mutex_lock(&k->lock);
    while (!k->stop) {
        if (!k->pending && !k->gc_changed) {
            int64_t wake = next_house;
            if (k->fd >= 0 && wake > mono_ms() + KICK_READ_MS)
                wake = mono_ms() + KICK_READ_MS;
            struct timespec until = {.tv_sec = (time_t)(wake / 1000),
                                     .tv_nsec = (long)(wake % 1000) * 1000000L};
            pthread_cond_timedwait(&k->cond, &k->lock, &until);
            if (k->stop)
                break;
        }
        int kick = k->pending;
        k->pending = 0;
        int64_t gc_every = k->gc_every_ms, gc_age = k->gc_age_ms;
        if (k->gc_changed)
            next_house = 0;
        k->gc_changed = 0;
        pthread_mutex_unlock(&k->lock);
        if (k->fd >= 0 && drain(k) != 0)
            drop(k);
        /* stay connected even without kicks: the broker's log lines (and so
         * the disconnect reasons) reach the plugin only while we subscribe */
        if (k->fd < 0 && k->path[0] != '\0' && !kick && !k->owed)
            (void)open_conn(k);
        if (kick || k->owed)
            deliver(k); /* an owed kick retries at most every KICK_RETRY_MS */
        /* housekeeping on a deadline, so that a steady stream of kicks
         * cannot starve the keepalive or the GC */
        int64_t now = mono_ms();
        if (now >= next_house) {
            next_house = now + (gc_every < KICK_WAKE_MS ? gc_every : KICK_WAKE_MS);
            keepalive(k);
            if (k->pool && now - k->last_gc_ms >= gc_every) {
                k->last_gc_ms = now;
                gc(k, gc_age);
            }
        }
        pthread_mutex_lock(&k->lock);
    }
    pthread_mutex_unlock(&k->lock);
    if (k->fd >= 0) {
        uint8_t pkt[2];
        (void)write_all(k, pkt, mqtt_wire_disconnect(pkt, sizeof(pkt)));
        drop(k);
    }
    return NULL;
}

/* ---- API -------------------------------------------------------------------- */

struct kick *kick_create(const char *socket_path, struct core_pool *pool)
{
    struct kick *k = calloc(1, sizeof(*k));
    if (k == NULL || (socket_path && (socket_path[0] == '\0' || strlen(socket_path) >= sizeof(k->path)))) {
        free(k);
        return NULL;
    }
    if (socket_path)
        memcpy(k->path, socket_path, strlen(socket_path) + 1);
    snprintf(k->client_id, sizeof(k->client_id), "fleetd-kick-%ld", (long)getpid());
    k->pool = pool;
    k->fd = -1;
    k->gc_every_ms = KICK_GC_EVERY_MS;
    k->gc_age_ms = KICK_GC_AGE_MS;
    k->last_gc_ms = mono_ms();
    pthread_mutex_init(&k->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&k->thread, NULL, run, k) != 0) {
        pthread_cond_destroy(&k->cond);
        pthread_mutex_destroy(&k->lock);
        free(k);
        return NULL;
    }
    return k;
}

void kick_destroy(struct kick *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&k->lock);
    k->stop = 1;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->lock);
    pthread_join(k->thread, NULL);
    pthread_cond_destroy(&k->cond);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

void kick_send(struct kick *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&k->lock);
    k->stats.requested++;
    if (!k->pending) {
        k->pending = 1;
        pthread_cond_signal(&k->cond);
    }
    pthread_mutex_unlock(&k->lock);
}

void kick_set_gc(struct kick *k, int64_t every_ms, int64_t age_ms)
{
    pthread_mutex_lock(&k->lock);
    k->gc_every_ms = every_ms > 10 ? every_ms : 10;
    k->gc_age_ms = age_ms > 0 ? age_ms : 0;
    k->gc_changed = 1;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->lock);
}

void kick_get_stats(struct kick *k, struct kick_stats *out)
{
    pthread_mutex_lock(&k->lock);
    *out = k->stats;
    pthread_mutex_unlock(&k->lock);
}
