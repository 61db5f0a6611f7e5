/*
 * mqttgen.c - the MQTT load generator behind the broker rows of `make bench`.
 *
 * Drives a mosquitto broker on 127.0.0.1 over mTLS with libmosquitto, one
 * client certificate per device (DIR/ca.pem, DIR/PREFIX-i.crt and .key, as
 * bench/fleet_setup.py writes them). Modes:
 *   flow     P publishers -> S subscribers through broadcast/<publisher id>,
 *            a window of outstanding copies (so no broker queue grows without
 *            bound), delivered msg/s over a fixed window after warm-up, and
 *            the broker's CPU per delivered message (from /proc/PID/stat)
 *   connect  K workers, each cycling TLS handshake + CONNECT + CONNACK +
 *            DISCONNECT over its own devices: connects/s and latency
 *   hold     connects B devices, signals, waits, connects N more, signals,
 *            holds them (the caller samples the broker's RSS in between)
 *   check    is the broker enforcing the bench policy? (foreign subscribe,
 *            denied topic, client id that is not the certificate's thing)
 *   firstboot K workers, each repeating a device's first boot with fleet
 *            provisioning: new EC P-256 key + CSR, TLS connect with the claim
 *            certificate, subscribe, $aws/certificates/create-from-csr/json,
 *            $aws/provisioning-templates/<T>/provision/json, disconnect, TLS
 *            connect with the new certificate as the thing: first boots/s,
 *            latency and the time per stage
 * Prints one JSON line. Knows nothing of fleetd: the devices are files.
 * Only 127.0.0.1 is ever contacted, and every run is bounded in time.
 */
#include <errno.h>
#include <getopt.h>
#include <mosquitto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define HOST "127.0.0.1"
#define MAX_FLOW_CLIENTS 64
#define MAX_WORKERS 64
#define MAX_DEVICES 100000
#define MAX_PAYLOAD (64 * 1024)
#define ID_CAP 64
#define PATH_CAP 512
#define CONNECT_TIMEOUT_MS 10000
#define STALL_MS 200     /* a window blocked this long is presumed lost (QoS 0 drops) */
#define LAT_BUCKETS 4096 /* connect latency histogram: 0.1 ms buckets up to 409.6 ms */

enum mode { M_FLOW, M_CONNECT, M_HOLD, M_CHECK, M_FIRSTBOOT };

struct opts {
    enum mode mode;
    const char *mode_name;
    int port;
    char certs[PATH_CAP];
    char prefix[ID_CAP / 2];
    int first; /* index of the first device used */
    int protocol;
    int plain; /* plain TCP, no TLS: only for a bare broker's context row */
    /* flow */
    int pubs, subs, qos, size, window, inflight, threads;
    double duration, warmup;
    /* connect */
    int workers, devices;
    /* hold */
    int base, count;
    double hold;
    char ready_file[PATH_CAP];
    char go_file[PATH_CAP];
    /* firstboot */
    char claim[PATH_CAP]; /* fleetd claim create's directory */
    char tpl[ID_CAP];     /* provisioning template */
    char serial[ID_CAP];  /* serial number prefix: <serial><worker>-<n> */
    /* any */
    int broker_pid;
    char label[64];
};

struct device {
    char id[ID_CAP];
    SSL_CTX *ctx;
};

/* One libmosquitto client; its callbacks run on the thread that loops it. */
struct client {
    struct mosquitto *m;
    const struct device *dev;
    int connack; /* -1 until CONNACK */
    int suback;  /* -1 until SUBACK: the first granted QoS (128 = refused) */
    long long acked;
    long long received;
    long long bad_payload;
    int suback_refused;     /* any filter of the last SUBACK refused */
    struct flow *flow;      /* flow mode only */
    struct fb_inbox *inbox; /* firstboot only: the last message */
};

/* firstboot: the one answer a device waits for at a time */
struct fb_inbox {
    char topic[256];
    char *payload; /* malloc'd, NUL-terminated; NULL until a message came */
    int len;
};

struct flow {
    const struct opts *o;
    atomic_llong sent;      /* publishes handed to libmosquitto, all publishers */
    atomic_llong delivered; /* messages received, all subscribers */
    atomic_llong lost;      /* copies written off after a stall */
    atomic_llong stalls;
    atomic_int stop;
    atomic_int errors;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The broker's user+system CPU seconds, or -1 when unknown. */
static double proc_cpu_s(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command may hold spaces */
    if (p == NULL)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
     */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- devices --------------------------------------------------------------- */

/* A client TLS context for one device: verifies the broker against
 * DIR/ca.pem and its certificate against 127.0.0.1, presents the device's
 * certificate. Returns NULL (reason on stderr) on failure. */
static SSL_CTX *device_ctx(const struct opts *o, const char *id)
{
    char ca[PATH_CAP + 16], crt[PATH_CAP + ID_CAP + 8], key[PATH_CAP + ID_CAP + 8];
    snprintf(ca, sizeof ca, "%s/ca.pem", o->certs);
    snprintf(crt, sizeof crt, "%s/%s.crt", o->certs, id);
    snprintf(key, sizeof key, "%s/%s.key", o->certs, id);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1 ||
        X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), HOST) != 1) {
        unsigned long e = ERR_get_error();
        fprintf(stderr, "mqttgen: device %s (%s, %s): %s\n", id, crt, key, ERR_error_string(e, NULL));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Loads devices first..first+n-1. Returns a calloc'ed array or NULL. */
static struct device *load_devices(const struct opts *o, int first, int n)
{
    struct device *d = calloc((size_t)n, sizeof *d);
    if (d == NULL)
        return NULL;
    for (int i = 0; i < n; i++) {
        snprintf(d[i].id, sizeof d[i].id, "%s-%d", o->prefix, first + i);
        if (!o->plain && (d[i].ctx = device_ctx(o, d[i].id)) == NULL) {
            for (int j = 0; j < i; j++)
                SSL_CTX_free(d[j].ctx);
            free(d);
            return NULL;
        }
    }
    return d;
}

static void free_devices(struct device *d, int n)
{
    for (int i = 0; d && i < n; i++)
        SSL_CTX_free(d[i].ctx);
    free(d);
}

/* ---- clients --------------------------------------------------------------- */

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)m;
    ((struct client *)obj)->connack = rc;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
    (void)m;
    (void)mid;
    struct client *c = obj;
    c->suback_refused = n <= 0;
    for (int i = 0; i < n; i++)
        c->suback_refused |= granted[i] >= 128;
    c->suback = n > 0 ? granted[0] : 128;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
    (void)m;
    (void)mid;
    ((struct client *)obj)->acked++;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    (void)m;
    struct client *c = obj;
    c->received++;
    if (c->inbox && c->inbox->payload == NULL) {
        snprintf(c->inbox->topic, sizeof c->inbox->topic, "%s", msg->topic);
        c->inbox->payload = malloc((size_t)msg->payloadlen + 1);
        if (c->inbox->payload) {
            memcpy(c->inbox->payload, msg->payload, (size_t)msg->payloadlen);
            c->inbox->payload[msg->payloadlen] = '\0';
            c->inbox->len = msg->payloadlen;
        }
    }
    if (c->flow) {
        if (msg->payloadlen != c->flow->o->size)
            c->bad_payload++;
        atomic_fetch_add_explicit(&c->flow->delivered, 1, memory_order_relaxed);
    }
}

/* One round of c's network loop, waiting at most timeout_ms. poll(), not
 * mosquitto_loop(): that one uses select() and refuses descriptors past
 * FD_SETSIZE, which hold mode's thousand connections reach. */
static int client_step(struct client *c, int timeout_ms)
{
    struct pollfd p = {mosquitto_socket(c->m), POLLIN, 0};
    if (p.fd < 0)
        return MOSQ_ERR_NO_CONN;
    if (mosquitto_want_write(c->m))
        p.events |= POLLOUT;
    if (poll(&p, 1, timeout_ms) < 0)
        return errno == EINTR ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ERRNO;
    int rc = MOSQ_ERR_SUCCESS;
    if (p.revents & (POLLIN | POLLERR | POLLHUP))
        rc = mosquitto_loop_read(c->m, 1);
    if (rc == MOSQ_ERR_SUCCESS && (p.revents & POLLOUT))
        rc = mosquitto_loop_write(c->m, 1);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_loop_misc(c->m);
    return rc;
}

/* Loops c until *flag >= 0 (CONNACK, SUBACK) or timeout. Returns 0, or -1
 * (reason on stderr unless quiet). */
static int wait_for(struct client *c, const int *flag, const char *what, int quiet)
{
    int64_t end = now_ns() + (int64_t)CONNECT_TIMEOUT_MS * 1000000LL;
    while (*flag < 0) {
        int rc = client_step(c, 50);
        if (rc != MOSQ_ERR_SUCCESS) {
            if (!quiet)
                fprintf(stderr, "mqttgen: %s: waiting for %s: %s\n", c->dev->id, what,
                        mosquitto_strerror(rc));
            return -1;
        }
        if (now_ns() > end) {
            if (!quiet)
                fprintf(stderr, "mqttgen: %s: no %s within %d ms\n", c->dev->id, what, CONNECT_TIMEOUT_MS);
            return -1;
        }
    }
    return 0;
}

/* Creates c->m for dev with client id client_id (NULL: the device id) and
 * connects it: TCP, TLS handshake, CONNECT, CONNACK. Returns 0 when the
 * broker accepted, 1 when it refused (c->connack says why), -1 on failure. */
static int client_connect(const struct opts *o, struct client *c, const struct device *dev,
                          const char *client_id, int keepalive, int quiet)
{
    memset(c, 0, sizeof *c);
    c->dev = dev;
    c->connack = -1;
    c->suback = -1;
    c->m = mosquitto_new(client_id ? client_id : dev->id, true, c);
    if (c->m == NULL)
        return -1;
    mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, o->protocol);
    mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
    if (dev->ctx) {
        mosquitto_int_option(c->m, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
        mosquitto_void_option(c->m, MOSQ_OPT_SSL_CTX, dev->ctx);
    }
    mosquitto_connect_callback_set(c->m, on_connect);
    mosquitto_subscribe_callback_set(c->m, on_subscribe);
    mosquitto_publish_callback_set(c->m, on_publish);
    mosquitto_message_callback_set(c->m, on_message);
    int rc = mosquitto_connect(c->m, HOST, o->port, keepalive);
    if (rc != MOSQ_ERR_SUCCESS) {
        if (!quiet)
            fprintf(stderr, "mqttgen: %s: connect: %s\n", dev->id,
                    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        return -1;
    }
    if (wait_for(c, &c->connack, "CONNACK", quiet) != 0)
        return quiet ? 1 : -1; /* a refusing broker may just close the connection */
    if (c->connack != 0) {
        if (!quiet)
            fprintf(stderr, "mqttgen: %s: CONNACK %d (%s)\n", dev->id, c->connack,
                    mosquitto_connack_string(c->connack));
        return 1;
    }
    return 0;
}

/* Subscribes and waits for the SUBACK. Returns the granted QoS (128 =
 * refused) or -1. */
static int client_subscribe(struct client *c, const char *filter, int qos)
{
    c->suback = -1;
    int rc = mosquitto_subscribe(c->m, NULL, filter, qos);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "mqttgen: %s: subscribe %s: %s\n", c->dev->id, filter, mosquitto_strerror(rc));
        return -1;
    }
    return wait_for(c, &c->suback, "SUBACK", 0) == 0 ? c->suback : -1;
}

static void client_close(struct client *c)
{
    if (c->m == NULL)
        return;
    mosquitto_disconnect(c->m);
    client_step(c, 0);
    mosquitto_destroy(c->m);
    c->m = NULL;
}

/* ---- flow ------------------------------------------------------------------ */

/* One event-loop thread: its clients' sockets in one poll(), libmosquitto
 * driven with loop_read/loop_write/loop_misc. Publishing writes at once (no
 * libmosquitto thread), so a publish is one SSL_write. Few threads keep the
 * generator's scheduling out of the way of the single-threaded broker. */
struct flow_thread {
    struct flow *f;
    struct client **cs;
    int n;
    char **topics; /* per client; NULL for subscribers */
    long long *sent;
    pthread_t tid;
};

static void flow_fail(struct flow *f, const struct client *c, const char *what, int rc)
{
    if (atomic_fetch_add(&f->errors, 1) < 5)
        fprintf(stderr, "mqttgen: %s: %s: %s\n", c->dev->id, what,
                rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
}

static void *flow_main(void *arg)
{
    struct flow_thread *t = arg;
    struct flow *f = t->f;
    const struct opts *o = f->o;
    const long long window = (long long)o->window * o->subs; /* copies in flight, all subscribers */
    struct pollfd pfd[MAX_FLOW_CLIENTS];
    char *payload = malloc((size_t)o->size + 1);
    int64_t blocked_since = 0, last_misc = now_ns();
    long long blocked_at = 0; /* f->delivered when the window was first seen full */
    if (payload == NULL) {
        atomic_fetch_add(&f->errors, 1);
        return NULL;
    }
    memset(payload, 'x', (size_t)o->size + 1);
    while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
        int can_pub = 0, blocked = 0;
        for (int i = 0; i < t->n; i++) {
            struct client *c = t->cs[i];
            if (t->topics[i] == NULL)
                continue;
            for (int burst = 0; burst < 16; burst++) {
                if (o->qos > 0 && t->sent[i] - c->acked >= o->inflight)
                    break; /* PUBACKs will reopen it */
                long long out = atomic_load_explicit(&f->sent, memory_order_relaxed) * o->subs -
                                atomic_load_explicit(&f->delivered, memory_order_relaxed) -
                                atomic_load_explicit(&f->lost, memory_order_relaxed);
                if (out >= window) {
                    blocked = 1;
                    break;
                }
                int rc = mosquitto_publish(c->m, NULL, t->topics[i], o->size, payload, o->qos, false);
                if (rc != MOSQ_ERR_SUCCESS) {
                    flow_fail(f, c, "publish", rc);
                    goto done;
                }
                t->sent[i]++;
                atomic_fetch_add_explicit(&f->sent, 1, memory_order_relaxed);
                if (burst == 15)
                    can_pub = 1;
            }
        }
        int64_t now = now_ns();
        long long dnow = atomic_load_explicit(&f->delivered, memory_order_relaxed);
        if (blocked && !can_pub) {
            /* a stall is a full window with no delivery at all for STALL_MS */
            if (blocked_since == 0 || dnow != blocked_at) {
                blocked_since = now;
                blocked_at = dnow;
            } else if (now - blocked_since > (int64_t)STALL_MS * 1000000LL) {
                /* the broker dropped copies (queue limits): write them off */
                long long out =
                    atomic_load(&f->sent) * o->subs - atomic_load(&f->delivered) - atomic_load(&f->lost);
                atomic_fetch_add(&f->lost, out);
                atomic_fetch_add(&f->stalls, 1);
                blocked_since = 0;
            }
        } else {
            blocked_since = 0;
        }
        for (int i = 0; i < t->n; i++) {
            pfd[i].fd = mosquitto_socket(t->cs[i]->m);
            pfd[i].events = POLLIN | (mosquitto_want_write(t->cs[i]->m) ? POLLOUT : 0);
            pfd[i].revents = 0;
        }
        if (poll(pfd, (nfds_t)t->n, can_pub ? 0 : 1) < 0 && errno != EINTR) {
            atomic_fetch_add(&f->errors, 1);
            break;
        }
        for (int i = 0; i < t->n; i++) {
            struct client *c = t->cs[i];
            int rc = MOSQ_ERR_SUCCESS;
            if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
                rc = mosquitto_loop_read(c->m, 1);
            if (rc == MOSQ_ERR_SUCCESS && (pfd[i].revents & POLLOUT))
                rc = mosquitto_loop_write(c->m, 1);
            if (rc != MOSQ_ERR_SUCCESS) {
                flow_fail(f, c, "connection", rc);
                goto done;
            }
        }
        if (now - last_misc > 100000000LL) { /* keepalive */
            last_misc = now;
            for (int i = 0; i < t->n; i++)
                mosquitto_loop_misc(t->cs[i]->m);
        }
    }
done:
    free(payload);
    return NULL;
}

static int run_flow(const struct opts *o)
{
    int n = o->pubs + o->subs, rc = 1, nt = o->threads < n ? o->threads : n;
    struct device *devs = load_devices(o, o->first, n);
    struct client *cs = calloc((size_t)n, sizeof *cs);
    struct client *ptrs[MAX_FLOW_CLIENTS];
    char *topics[MAX_FLOW_CLIENTS] = {0};
    char topic_buf[MAX_FLOW_CLIENTS][ID_CAP + 16];
    long long sent[MAX_FLOW_CLIENTS] = {0};
    struct flow_thread ts[MAX_FLOW_CLIENTS];
    int started = 0;
    int64_t ta = 0, tb = 0;
    long long d0 = 0, d1 = 0, s0 = 0, s1 = 0;
    double b0 = -1, b1 = -1, c0 = 0, c1 = 0;
    struct flow f;
    memset(&f, 0, sizeof f);
    f.o = o;
    if (devs == NULL || cs == NULL)
        goto out;
    /* subscribers first (devices pubs..pubs+subs-1), so nothing published is missed */
    for (int i = 0; i < n; i++) {
        int sub = i < o->subs;
        int di = sub ? o->pubs + i : i - o->subs;
        if (client_connect(o, &cs[i], &devs[di], NULL, 60, 0) != 0)
            goto out;
        cs[i].flow = &f;
        if (sub) {
            int g = client_subscribe(&cs[i], "broadcast/+", o->qos);
            if (g < 0 || g >= 128) {
                fprintf(stderr, "mqttgen: %s: subscription to broadcast/+ refused (%d)\n", devs[di].id, g);
                goto out;
            }
        } else {
            snprintf(topic_buf[i], sizeof topic_buf[i], "broadcast/%s", devs[di].id);
            topics[i] = topic_buf[i];
        }
    }
    /* client i -> thread i % nt; each thread sees a contiguous slice of ptrs */
    int k = 0;
    for (int th = 0; th < nt; th++) {
        ts[th] = (struct flow_thread){&f, &ptrs[k], 0, &topics[k], &sent[k], 0};
        for (int i = th; i < n; i += nt) {
            ptrs[k] = &cs[i];
            topics[k] = i >= o->subs ? topic_buf[i] : NULL;
            ts[th].n++;
            k++;
        }
    }
    for (; started < nt; started++)
        if (pthread_create(&ts[started].tid, NULL, flow_main, &ts[started]) != 0)
            break;
    if (started < nt) {
        fprintf(stderr, "mqttgen: cannot start threads\n");
        atomic_store(&f.stop, 1);
        goto join;
    }
    sleep_ns((int64_t)(o->warmup * 1e9));
    ta = now_ns();
    d0 = atomic_load(&f.delivered);
    s0 = atomic_load(&f.sent);
    b0 = proc_cpu_s(o->broker_pid);
    c0 = self_cpu_s();
    sleep_ns((int64_t)(o->duration * 1e9));
    tb = now_ns();
    d1 = atomic_load(&f.delivered);
    s1 = atomic_load(&f.sent);
    b1 = proc_cpu_s(o->broker_pid);
    c1 = self_cpu_s();
    atomic_store(&f.stop, 1);
join:
    for (int i = 0; i < started; i++)
        pthread_join(ts[i].tid, NULL);
    if (started == nt) {
        double secs = (double)(tb - ta) / 1e9;
        long long del = d1 - d0, bad = 0;
        for (int i = 0; i < n; i++)
            bad += cs[i].bad_payload;
        double bcpu = (b0 >= 0 && b1 >= 0) ? b1 - b0 : -1;
        int errors = atomic_load(&f.errors) + (bad > 0) + (del == 0);
        if (del == 0)
            fprintf(stderr, "mqttgen: flow: nothing was delivered in the measured window\n");
        printf("{\"mode\":\"flow\",\"label\":\"%s\",\"pubs\":%d,\"subs\":%d,\"qos\":%d,\"size\":%d,"
               "\"window\":%d,"
               "\"threads\":%d,\"delivered\":%lld,\"published\":%lld,\"seconds\":%.6f,\"msgs_per_sec\":%.1f,"
               "\"broker_cpu_s\":%.3f,\"broker_us_per_msg\":%.3f,\"client_cpu_s\":%.3f,\"stalls\":%lld,"
               "\"lost\":%lld,\"bad_payload\":%lld,\"errors\":%d}\n",
               o->label, o->pubs, o->subs, o->qos, o->size, o->window, nt, del, s1 - s0, secs,
               secs > 0 ? (double)del / secs : 0.0, bcpu,
               (bcpu >= 0 && del > 0) ? bcpu * 1e6 / (double)del : -1.0, c1 - c0,
               (long long)atomic_load(&f.stalls), (long long)atomic_load(&f.lost), bad, errors);
        rc = errors ? 1 : 0;
    }
out:
    /* publishers first: a subscriber leaving with copies still on their way
     * makes the broker log drops */
    for (int i = n - 1; cs && i >= 0; i--)
        client_close(&cs[i]);
    free(cs);
    free_devices(devs, n);
    return rc;
}

/* ---- timed runs (connect, firstboot) ------------------------------------------ */

/* What run_timed needs of a worker: the first member of each timed mode's
 * worker, so that run_timed can walk an array of them by its element size. */
struct timed {
    pthread_t tid;
    int index;
    long long ops;             /* completed inside the measured window */
    uint32_t lat[LAT_BUCKETS]; /* their latencies; the bucket width is the mode's */
};

/* One op completed inside the measured window, b buckets long. */
static void timed_count(struct timed *t, int64_t b)
{
    t->ops++;
    t->lat[b < LAT_BUCKETS ? b : LAT_BUCKETS - 1]++;
}

/* All workers' counts over the measured window. */
struct timed_sum {
    uint64_t ops;
    uint64_t lat[LAT_BUCKETS];
    double broker_cpu_s; /* -1 when the broker's CPU could not be read */
    double client_cpu_s;
};

/* Sets *measure_ns and *end_ns from --warmup and --duration (the workers read
 * them), starts one thread main_fn(worker) per worker (o->workers of them,
 * size bytes apart at ws, each beginning with its struct timed), sleeps
 * through the window reading the broker's and this process's CPU at its ends,
 * joins the threads and sums their counts into *sum. Returns how many threads
 * started: o->workers, or fewer when pthread_create failed. */
static int run_timed(const struct opts *o, void *ws, size_t size, void *(*main_fn)(void *),
                     int64_t *measure_ns, int64_t *end_ns, struct timed_sum *sum)
{
    int started = 0;
    *measure_ns = now_ns() + (int64_t)(o->warmup * 1e9);
    *end_ns = *measure_ns + (int64_t)(o->duration * 1e9);
    for (; started < o->workers; started++) {
        struct timed *t = (struct timed *)((char *)ws + (size_t)started * size);
        t->index = started;
        if (pthread_create(&t->tid, NULL, main_fn, t) != 0)
            break;
    }
    sleep_ns(*measure_ns - now_ns());
    double b0 = proc_cpu_s(o->broker_pid), c0 = self_cpu_s();
    sleep_ns(*end_ns - now_ns());
    double b1 = proc_cpu_s(o->broker_pid), c1 = self_cpu_s();
    memset(sum, 0, sizeof *sum);
    sum->broker_cpu_s = (b0 >= 0 && b1 >= 0) ? b1 - b0 : -1;
    sum->client_cpu_s = c1 - c0;
    for (int i = 0; i < started; i++) {
        struct timed *t = (struct timed *)((char *)ws + (size_t)i * size);
        pthread_join(t->tid, NULL);
        sum->ops += (uint64_t)t->ops;
        for (int b = 0; b < LAT_BUCKETS; b++)
            sum->lat[b] += t->lat[b];
    }
    return started;
}

/* ---- connect rate ------------------------------------------------------------ */

struct conn_shared {
    const struct opts *o;
    const struct device *devs;
    int64_t measure_ns, end_ns;
    atomic_int errors;
};

struct conn_worker {
    struct timed t; /* first: run_timed's part */
    struct conn_shared *sh;
    long long warm_ops;
};

static void *connect_main(void *arg)
{
    struct conn_worker *w = arg;
    const struct opts *o = w->sh->o;
    int nmine = (o->devices - w->t.index + o->workers - 1) / o->workers, k = 0;
    while (nmine > 0) {
        int64_t t = now_ns();
        if (t >= w->sh->end_ns)
            break;
        const struct device *dev = &w->sh->devs[w->t.index + o->workers * (k++ % nmine)];
        struct client c;
        int rc = client_connect(o, &c, dev, NULL, 60, 0);
        int64_t t2 = now_ns();
        client_close(&c);
        if (rc != 0) {
            if (atomic_fetch_add(&w->sh->errors, 1) > 50)
                break;
            continue;
        }
        if (t >= w->sh->measure_ns && t2 <= w->sh->end_ns) {
            timed_count(&w->t, (t2 - t) / 100000); /* 0.1 ms buckets */
        } else {
            w->warm_ops++;
        }
    }
    return NULL;
}

static double lat_quantile(const uint64_t *h, uint64_t total, double q)
{
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)total), seen = 0;
    for (int b = 0; b < LAT_BUCKETS; b++) {
        seen += h[b];
        if (seen > want)
            return (b + 0.5) / 10.0;
    }
    return LAT_BUCKETS / 10.0;
}

static int run_connect(const struct opts *o)
{
    struct device *devs = load_devices(o, o->first, o->devices);
    struct conn_worker *ws = calloc((size_t)o->workers, sizeof *ws);
    struct conn_shared sh;
    struct timed_sum sum;
    int rc = 1;
    if (devs == NULL || ws == NULL)
        goto out;
    memset(&sh, 0, sizeof sh);
    sh.o = o;
    sh.devs = devs;
    for (int i = 0; i < o->workers; i++)
        ws[i].sh = &sh;
    if (run_timed(o, ws, sizeof *ws, connect_main, &sh.measure_ns, &sh.end_ns, &sum) == o->workers) {
        uint64_t ops = sum.ops;
        double bcpu = sum.broker_cpu_s;
        int errors = atomic_load(&sh.errors) + (ops == 0);
        printf("{\"mode\":\"connect\",\"label\":\"%s\",\"workers\":%d,\"devices\":%d,\"connects\":%llu,"
               "\"seconds\":%.6f,\"connects_per_sec\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"broker_cpu_s\":%"
               ".3f,"
               "\"broker_us_per_connect\":%.1f,\"client_cpu_s\":%.3f,\"errors\":%d}\n",
               o->label, o->workers, o->devices, (unsigned long long)ops, o->duration,
               (double)ops / o->duration, lat_quantile(sum.lat, ops, 0.5), lat_quantile(sum.lat, ops, 0.99),
               bcpu, (bcpu >= 0 && ops > 0) ? bcpu * 1e6 / (double)ops : -1.0, sum.client_cpu_s, errors);
        rc = errors ? 1 : 0;
    }
out:
    free(ws);
    free_devices(devs, o->devices);
    return rc;
}

/* ---- hold (memory per connected device) ----------------------------------------- */

static volatile sig_atomic_t g_quit;

static void on_signal(int sig)
{
    (void)sig;
    g_quit = 1;
}

struct hold_job {
    const struct opts *o;
    const struct device *devs;
    struct client *cs;
    int from, to, step;
    atomic_int *errors;
    pthread_t tid;
};

/* Connects devices from, from+step, ... < to; each subscribes to its own
 * things/<id>/# and gets one QoS 1 message of its own back through it, so
 * connect, subscribe, publish and receive have all been through the broker. */
static void *hold_main(void *arg)
{
    struct hold_job *j = arg;
    for (int i = j->from; i < j->to && !g_quit; i += j->step) {
        struct client *c = &j->cs[i];
        char filter[ID_CAP + 16], topic[ID_CAP + 16];
        snprintf(filter, sizeof filter, "things/%s/#", j->devs[i].id);
        snprintf(topic, sizeof topic, "things/%s/hello", j->devs[i].id);
        int ok = client_connect(j->o, c, &j->devs[i], NULL, 900, 0) == 0;
        int g = ok ? client_subscribe(c, filter, 1) : -1;
        ok = ok && g >= 0 && g < 128;
        if (ok && mosquitto_publish(c->m, NULL, topic, 5, "hello", 1, false) == MOSQ_ERR_SUCCESS) {
            int64_t end = now_ns() + (int64_t)CONNECT_TIMEOUT_MS * 1000000LL;
            while ((c->received == 0 || c->acked == 0) && now_ns() < end)
                if (client_step(c, 50) != MOSQ_ERR_SUCCESS)
                    break;
            ok = c->received > 0 && c->acked > 0;
        } else {
            ok = 0;
        }
        if (!ok) {
            fprintf(stderr, "mqttgen: hold: device %s did not connect/subscribe/round-trip\n", j->devs[i].id);
            atomic_fetch_add(j->errors, 1);
        }
    }
    return NULL;
}

static int connect_range(const struct opts *o, const struct device *devs, struct client *cs, int from, int to,
                         atomic_int *errors)
{
    struct hold_job jobs[MAX_WORKERS];
    int started = 0;
    for (; started < o->workers; started++) {
        jobs[started] = (struct hold_job){o, devs, cs, from + started, to, o->workers, errors, 0};
        if (pthread_create(&jobs[started].tid, NULL, hold_main, &jobs[started]) != 0)
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(jobs[i].tid, NULL);
    return started == o->workers ? 0 : -1;
}

static int write_file(const char *path, const char *text)
{
    char tmp[PATH_CAP + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static int run_hold(const struct opts *o)
{
    int total = o->base + o->count, rc = 1;
    atomic_int errors;
    atomic_init(&errors, 0);
    struct device *devs = load_devices(o, o->first, total);
    struct client *cs = calloc((size_t)total, sizeof *cs);
    int64_t hold_end = now_ns() + (int64_t)(o->hold * 1e9);
    if (devs == NULL || cs == NULL)
        goto out;
    int64_t t0 = now_ns();
    if (connect_range(o, devs, cs, 0, o->base, &errors) != 0 || atomic_load(&errors) != 0)
        goto out;
    char msg[64];
    snprintf(msg, sizeof msg, "base %d\n", o->base);
    if (o->ready_file[0] && write_file(o->ready_file, msg) != 0)
        goto out;
    while (o->go_file[0] && access(o->go_file, F_OK) != 0 && !g_quit && now_ns() < hold_end)
        sleep_ns(20000000);
    if (g_quit || now_ns() >= hold_end)
        goto out;
    int64_t t1 = now_ns();
    if (connect_range(o, devs, cs, o->base, total, &errors) != 0 || atomic_load(&errors) != 0)
        goto out;
    int64_t t2 = now_ns();
    printf("{\"mode\":\"hold\",\"label\":\"%s\",\"base\":%d,\"count\":%d,\"base_seconds\":%.3f,"
           "\"count_seconds\":%.3f,\"errors\":0}\n",
           o->label, o->base, o->count, (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9);
    fflush(stdout);
    snprintf(msg, sizeof msg, "all %d\n", total);
    if (o->ready_file[0] && write_file(o->ready_file, msg) != 0)
        goto out;
    rc = 0;
    while (!g_quit && now_ns() < hold_end)
        sleep_ns(20000000);
out:
    if (rc != 0)
        fprintf(stderr, "mqttgen: hold: %d devices failed or interrupted\n", atomic_load(&errors));
    /* the connections just drop: the broker cleans up on EOF */
    for (int i = 0; cs && i < total; i++)
        if (cs[i].m)
            mosquitto_destroy(cs[i].m);
    free(cs);
    free_devices(devs, total);
    return rc;
}

/* ---- check ------------------------------------------------------------------ */

static int run_check(const struct opts *o)
{
    struct device *devs = load_devices(o, o->first, 2);
    if (devs == NULL)
        return 1;
    struct client c;
    char filter[ID_CAP + 16];
    int rc = 1, own = -1, foreign = -1, secret = -1, wrong_id = -1;
    if (client_connect(o, &c, &devs[0], NULL, 60, 0) == 0) {
        snprintf(filter, sizeof filter, "things/%s/#", devs[0].id);
        own = client_subscribe(&c, filter, 1);
        snprintf(filter, sizeof filter, "things/%s/#", devs[1].id);
        foreign = client_subscribe(&c, filter, 1);
        snprintf(filter, sizeof filter, "things/%s/secret", devs[0].id);
        secret = client_subscribe(&c, filter, 1);
        rc = 0;
    }
    client_close(&c);
    /* devs[0]'s certificate with devs[1]'s client id */
    int r = client_connect(o, &c, &devs[0], devs[1].id, 60, 1);
    wrong_id = r == 0 ? 0 : 1;
    client_close(&c);
    printf(
        "{\"mode\":\"check\",\"label\":\"%s\",\"own_subscribe_granted\":%d,\"foreign_subscribe_refused\":%d,"
        "\"secret_subscribe_refused\":%d,\"wrong_client_id_refused\":%d,\"errors\":%d}\n",
        o->label, own >= 0 && own < 128, foreign >= 128, secret >= 128, wrong_id, rc);
    free_devices(devs, 2);
    return rc;
}

/* ---- firstboot (fleet provisioning) ---------------------------------------------- */

#define FB_STAGES 6
#define FB_WAIT_MS 15000 /* an answer from the provisioning API */
static const char *const FB_STAGE_NAMES[FB_STAGES] = {"key_csr",         "claim_connect", "subscribe",
                                                      "create_from_csr", "provision",     "device_connect"};

struct fb_shared {
    const struct opts *o;
    SSL_CTX *claim_ctx;
    X509_STORE *roots; /* the root CA: every new device's context shares it */
    int64_t measure_ns, end_ns;
    atomic_int errors;
    atomic_llong total; /* completed first boots, warm-up and tail included */
};

struct fb_worker {
    struct timed t; /* first: run_timed's part; lat in 1 ms buckets */
    struct fb_shared *sh;
    SSL_CTX *dev_ctx; /* reused for each new device: SSL_CTX_new is costly in OpenSSL 3 */
    long long seq;
    double stage_s[FB_STAGES];
};

/* Appends s to out[*len..cap) as the body of a JSON string. 0, or -1 when full. */
static int json_escape(char *out, size_t cap, size_t *len, const char *s)
{
    size_t n = *len;
    for (; *s; s++) {
        const char *e = NULL;
        char u[8];
        if (*s == '"')
            e = "\\\"";
        else if (*s == '\\')
            e = "\\\\";
        else if (*s == '\n')
            e = "\\n";
        else if (*s == '\r')
            e = "\\r";
        else if ((unsigned char)*s < 0x20) {
            snprintf(u, sizeof u, "\\u%04x", (unsigned)*s);
            e = u;
        }
        size_t k = e ? strlen(e) : 1;
        if (n + k + 1 > cap)
            return -1;
        if (e)
            memcpy(out + n, e, k);
        else
            out[n] = *s;
        n += k;
    }
    out[n] = '\0';
    *len = n;
    return 0;
}

/* The string value of "key" in json (the flat answers of the provisioning
 * API), unescaped into out. 0, or -1 when absent, not a string or too long. */
static int json_get_str(const char *json, const char *key, char *out, size_t cap)
{
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    for (const char *p = strstr(json, pat); p; p = strstr(p + 1, pat)) {
        const char *q = p + strlen(pat);
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
            q++;
        if (*q++ != ':')
            continue;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
            q++;
        if (*q++ != '"')
            return -1;
        size_t n = 0;
        for (; *q && *q != '"'; q++) {
            char ch = *q;
            if (ch == '\\') {
                q++;
                switch (*q) {
                case 'n':
                    ch = '\n';
                    break;
                case 'r':
                    ch = '\r';
                    break;
                case 't':
                    ch = '\t';
                    break;
                case '"':
                case '\\':
                case '/':
                    ch = *q;
                    break;
                default:
                    return -1; /* \u and friends: not in these answers */
                }
            }
            if (n + 1 >= cap)
                return -1;
            out[n++] = ch;
        }
        if (*q != '"')
            return -1;
        out[n] = '\0';
        return 0;
    }
    return -1;
}

/* A PKCS#10 request for k with subject CN=cn, PEM (malloc'd), or NULL. */
/* Puts P-256 key k's public half in req. X509_REQ_set_pubkey would too,
 * but OpenSSL 3.0 builds an encoder and a decoder context for it, which a
 * device's TLS stack does not pay and which this client, sharing the CPUs
 * with the broker, would take from the broker. 1, or 0. */
static int fb_req_pubkey(X509_REQ *req, EVP_PKEY *k)
{
    unsigned char pt[65];
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &n) != 1)
        return 0;
    unsigned char *bits = OPENSSL_memdup(pt, n);
    if (bits == NULL ||
        X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(req), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                               V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1), bits, (int)n) != 1) {
        OPENSSL_free(bits);
        return 0;
    }
    return 1;
}

static char *fb_csr(EVP_PKEY *k, const char *cn)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *nm = X509_NAME_new();
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    if (req && nm && b && X509_REQ_set_version(req, 0) == 1 &&
        X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1 &&
        X509_REQ_set_subject_name(req, nm) == 1 && fb_req_pubkey(req, k) &&
        X509_REQ_sign(req, k, EVP_sha256()) > 0 && PEM_write_bio_X509_REQ(b, req) == 1) {
        char *data;
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && (pem = malloc((size_t)n + 1)) != NULL) {
            memcpy(pem, data, (size_t)n);
            pem[n] = '\0';
        }
    }
    BIO_free(b);
    X509_NAME_free(nm);
    X509_REQ_free(req);
    return pem;
}

static SSL_CTX *fb_ctx_base(struct fb_shared *sh)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    X509_STORE_up_ref(sh->roots);
    SSL_CTX_set_cert_store(ctx, sh->roots);
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), HOST) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Puts the new device's certificate (PEM text) and key k into the worker's
 * device context (the previous device's connection is gone). 0, or -1. */
static int fb_device_ctx(struct fb_worker *w, const char *cert_pem, EVP_PKEY *k)
{
    if (w->dev_ctx == NULL && (w->dev_ctx = fb_ctx_base(w->sh)) == NULL)
        return -1;
    BIO *b = BIO_new_mem_buf(cert_pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    int ok = x && SSL_CTX_use_certificate(w->dev_ctx, x) == 1 && SSL_CTX_use_PrivateKey(w->dev_ctx, k) == 1 &&
             SSL_CTX_check_private_key(w->dev_ctx) == 1;
    X509_free(x);
    BIO_free(b);
    return ok ? 0 : -1;
}

/* Loops c until a message is in its inbox. 0, or -1 (reason on stderr). */
static int fb_wait_msg(struct client *c, const char *what)
{
    int64_t end = now_ns() + (int64_t)FB_WAIT_MS * 1000000LL;
    while (c->inbox->payload == NULL) {
        int rc = client_step(c, 50);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "mqttgen: %s: waiting for %s: %s\n", c->dev->id, what, mosquitto_strerror(rc));
            return -1;
        }
        if (now_ns() > end) {
            fprintf(stderr, "mqttgen: %s: no %s within %d ms\n", c->dev->id, what, FB_WAIT_MS);
            return -1;
        }
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Publishes text on topic (QoS 1) and waits for the answer in c's inbox,
 * which must come on an /accepted topic. 0, or -1 (reason on stderr). */
static int fb_request(struct client *c, const char *topic, const char *text, const char *what)
{
    free(c->inbox->payload);
    c->inbox->payload = NULL;
    int rc = mosquitto_publish(c->m, NULL, topic, (int)strlen(text), text, 1, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "mqttgen: %s: publish %s: %s\n", c->dev->id, topic, mosquitto_strerror(rc));
        return -1;
    }
    if (fb_wait_msg(c, what) != 0)
        return -1;
    if (!ends_with(c->inbox->topic, "/accepted")) {
        fprintf(stderr, "mqttgen: %s: %s: %s %.300s\n", c->dev->id, what, c->inbox->topic, c->inbox->payload);
        return -1;
    }
    return 0;
}

/* One first boot. st[] receives the seconds of each stage. 0, or -1. */
static int fb_boot(struct fb_worker *w, double st[FB_STAGES])
{
    struct fb_shared *sh = w->sh;
    const struct opts *o = sh->o;
    char serial[ID_CAP], thing[ID_CAP], cert_id[80], token[1024];
    char t_csr[] = "$aws/certificates/create-from-csr/json";
    char t_prov[ID_CAP + 64], f[4][ID_CAP + 80];
    snprintf(serial, sizeof serial, "%.24s%d-%lld", o->serial, w->t.index % 1000, w->seq++ % 100000000);
    snprintf(t_prov, sizeof t_prov, "$aws/provisioning-templates/%s/provision/json", o->tpl);
    snprintf(f[0], sizeof f[0], "%s/accepted", t_csr);
    snprintf(f[1], sizeof f[1], "%s/rejected", t_csr);
    snprintf(f[2], sizeof f[2], "%s/accepted", t_prov);
    snprintf(f[3], sizeof f[3], "%s/rejected", t_prov);
    char *subs[4] = {f[0], f[1], f[2], f[3]};
    struct fb_inbox in = {{0}, NULL, 0};
    struct client c, d;
    struct device claim, dev;
    char *csr = NULL, *body = NULL, *cert = NULL;
    int rc = -1;
    memset(&c, 0, sizeof c);
    memset(&d, 0, sizeof d);
    memset(&dev, 0, sizeof dev);
    claim.ctx = sh->claim_ctx;
    snprintf(claim.id, sizeof claim.id, "claim-%.50s", serial);

    int64_t t0 = now_ns();
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (k == NULL || (csr = fb_csr(k, serial)) == NULL) {
        fprintf(stderr, "mqttgen: firstboot: cannot make a key and CSR\n");
        goto out;
    }
    int64_t t1 = now_ns();
    if (client_connect(o, &c, &claim, NULL, 60, 0) != 0)
        goto out;
    c.inbox = &in;
    int64_t t2 = now_ns();
    c.suback = -1;
    if (mosquitto_subscribe_multiple(c.m, NULL, 4, subs, 1, 0, NULL) != MOSQ_ERR_SUCCESS ||
        wait_for(&c, &c.suback, "SUBACK", 0) != 0)
        goto out;
    if (c.suback_refused) {
        fprintf(stderr, "mqttgen: %s: the claim may not subscribe to the provisioning topics\n", claim.id);
        goto out;
    }
    int64_t t3 = now_ns();
    size_t cap = strlen(csr) * 2 + 64, len = 0;
    if ((body = malloc(cap)) == NULL)
        goto out;
    len = (size_t)snprintf(body, cap, "{\"certificateSigningRequest\":\"");
    if (json_escape(body, cap - 3, &len, csr) != 0)
        goto out;
    memcpy(body + len, "\"}", 3);
    if (fb_request(&c, t_csr, body, "create-from-csr answer") != 0)
        goto out;
    if ((cert = malloc((size_t)in.len + 1)) == NULL ||
        json_get_str(in.payload, "certificatePem", cert, (size_t)in.len + 1) != 0 ||
        json_get_str(in.payload, "certificateId", cert_id, sizeof cert_id) != 0 ||
        json_get_str(in.payload, "certificateOwnershipToken", token, sizeof token) != 0) {
        fprintf(stderr, "mqttgen: %s: create-from-csr accepted without certificatePem/Id/token: %.300s\n",
                claim.id, in.payload);
        goto out;
    }
    int64_t t4 = now_ns();
    free(body);
    cap = strlen(token) + strlen(serial) + 160;
    if ((body = malloc(cap)) == NULL)
        goto out;
    snprintf(body, cap,
             "{\"certificateOwnershipToken\":\"%s\",\"parameters\":{\"SerialNumber\":\"%s\","
             "\"HardwareRevision\":\"bench\"}}",
             token, serial);
    if (fb_request(&c, t_prov, body, "provision answer") != 0)
        goto out;
    if (json_get_str(in.payload, "thingName", thing, sizeof thing) != 0) {
        fprintf(stderr, "mqttgen: %s: provision accepted without a thingName: %.300s\n", claim.id,
                in.payload);
        goto out;
    }
    int64_t t5 = now_ns();
    client_close(&c);
    /* the device from now on: its own certificate, client id = its thing */
    if (fb_device_ctx(w, cert, k) != 0) {
        fprintf(stderr, "mqttgen: %s: the new certificate is unusable\n", claim.id);
        goto out;
    }
    dev.ctx = w->dev_ctx;
    snprintf(dev.id, sizeof dev.id, "%s", thing);
    if (client_connect(o, &d, &dev, NULL, 60, 0) != 0)
        goto out;
    int64_t t6 = now_ns();
    const int64_t ts[FB_STAGES + 1] = {t0, t1, t2, t3, t4, t5, t6};
    for (int i = 0; i < FB_STAGES; i++)
        st[i] = (double)(ts[i + 1] - ts[i]) / 1e9;
    rc = 0;
out:
    client_close(&c);
    client_close(&d);
    free(in.payload);
    free(csr);
    free(body);
    free(cert);
    EVP_PKEY_free(k);
    return rc;
}

static void *fb_main(void *arg)
{
    struct fb_worker *w = arg;
    struct fb_shared *sh = w->sh;
    while (now_ns() < sh->end_ns) {
        double st[FB_STAGES];
        int rc = fb_boot(w, st);
        int64_t t2 = now_ns();
        if (rc != 0) {
            if (atomic_fetch_add(&sh->errors, 1) > 20)
                break;
            continue;
        }
        atomic_fetch_add(&sh->total, 1);
        /* counted when it completes inside the window: boots last long
         * enough that "started and ended inside" would undercount */
        if (t2 >= sh->measure_ns && t2 < sh->end_ns) {
            double total = 0;
            for (int i = 0; i < FB_STAGES; i++) {
                w->stage_s[i] += st[i];
                total += st[i];
            }
            timed_count(&w->t, (int64_t)(total * 1000)); /* 1 ms buckets */
        }
    }
    SSL_CTX_free(w->dev_ctx);
    w->dev_ctx = NULL;
    return NULL;
}

static SSL_CTX *fb_claim_ctx(struct fb_shared *sh, const char *dir)
{
    char crt[PATH_CAP + 32], key[PATH_CAP + 32];
    snprintf(crt, sizeof crt, "%s/claim.cert.pem", dir);
    snprintf(key, sizeof key, "%s/claim.private.key", dir);
    SSL_CTX *ctx = fb_ctx_base(sh);
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        fprintf(stderr, "mqttgen: claim %s, %s: %s\n", crt, key, ERR_error_string(ERR_get_error(), NULL));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int run_firstboot(const struct opts *o)
{
    struct fb_shared sh;
    struct fb_worker *ws = calloc((size_t)o->workers, sizeof *ws);
    struct timed_sum sum;
    char ca[PATH_CAP + 32];
    int rc = 1;
    memset(&sh, 0, sizeof sh);
    sh.o = o;
    snprintf(ca, sizeof ca, "%s/root-CA.crt", o->claim);
    if (ws == NULL || (sh.roots = X509_STORE_new()) == NULL ||
        X509_STORE_load_locations(sh.roots, ca, NULL) != 1) {
        fprintf(stderr, "mqttgen: firstboot: cannot load the root CA %s\n", ca);
        goto out;
    }
    if ((sh.claim_ctx = fb_claim_ctx(&sh, o->claim)) == NULL)
        goto out;
    for (int i = 0; i < o->workers; i++)
        ws[i].sh = &sh;
    if (run_timed(o, ws, sizeof *ws, fb_main, &sh.measure_ns, &sh.end_ns, &sum) == o->workers) {
        uint64_t ops = sum.ops;
        double bcpu = sum.broker_cpu_s, stage[FB_STAGES] = {0};
        for (int i = 0; i < o->workers; i++)
            for (int s = 0; s < FB_STAGES; s++)
                stage[s] += ws[i].stage_s[s];
        int errors = atomic_load(&sh.errors) + (ops == 0);
        printf("{\"mode\":\"firstboot\",\"label\":\"%s\",\"workers\":%d,\"template\":\"%s\",\"boots\":%llu,"
               "\"seconds\":%.6f,\"boots_per_sec\":%.1f,\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"stage_ms\":{",
               o->label, o->workers, o->tpl, (unsigned long long)ops, o->duration, (double)ops / o->duration,
               lat_quantile(sum.lat, ops, 0.5) * 10, lat_quantile(sum.lat, ops, 0.99) * 10);
        for (int s = 0; s < FB_STAGES; s++)
            printf("%s\"%s\":%.2f", s ? "," : "", FB_STAGE_NAMES[s],
                   ops ? stage[s] * 1000 / (double)ops : 0.0);
        printf("},\"completed_total\":%lld,\"broker_cpu_s\":%.3f,\"broker_us_per_boot\":%.1f,"
               "\"client_cpu_s\":%.3f,\"errors\":%d}\n",
               (long long)atomic_load(&sh.total), bcpu,
               (bcpu >= 0 && ops > 0) ? bcpu * 1e6 / (double)ops : -1.0, sum.client_cpu_s, errors);
        rc = errors ? 1 : 0;
    }
out:
    SSL_CTX_free(sh.claim_ctx);
    X509_STORE_free(sh.roots);
    free(ws);
    return rc;
}

/* ---- options ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mqttgen flow|connect|hold|check --port P --certs DIR [options]\n"
            "       mqttgen firstboot --port P --claim DIR --template T [options]\n"
            "  devices: DIR/ca.pem, DIR/PREFIX-i.crt and .key (bench/fleet_setup.py devices)\n"
            "common:  --prefix d  --first I (first device index, 0)  --protocol 311|5  --broker-pid PID\n"
            "         --plain (plain TCP, no certificates: a bare broker's plain listener)\n"
            "         --label L  --duration S (5)  --warmup S (1)\n"
            "flow:    --pubs P (4) --subs S (1) --qos 0|1 --size B (100) --window N (500 copies per\n"
            "         subscriber) --inflight N (QoS 1 per publisher, 20) --threads T (event loops, 1);\n"
            "         devices 0..P-1 publish to broadcast/<id>, devices P..P+S-1 subscribe to broadcast/+\n"
            "connect: --workers K (4) --devices N (K..N devices, each worker cycles over its own)\n"
            "hold:    --base B (20) --count N (1000) --workers K --ready-file F --go-file G --hold S (600)\n"
            "         connects B, writes 'base B' to F, waits for G to exist, connects N more, writes\n"
            "         'all B+N' to F, holds until SIGTERM or S seconds\n"
            "check:   devices 0 and 1: own/foreign/denied subscriptions, a client id not its thing\n"
            "firstboot: --workers K (4) --claim DIR (claim.cert.pem, claim.private.key, root-CA.crt as\n"
            "         `fleetd claim create` writes them) --template T --serial-prefix S (fb-): each\n"
            "         worker repeats new EC P-256 key + CSR, TLS connect with the claim (client id\n"
            "         claim-<serial>), create-from-csr, provision with SerialNumber <S><worker>-<n>,\n"
            "         disconnect, TLS connect with the new certificate as the thing it was given\n");
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_dbl(const char *s, double min, double max, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

static int copy_opt(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n == 0 || n >= cap)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"port", required_argument, NULL, 'p'},
        {"certs", required_argument, NULL, 'c'},
        {"prefix", required_argument, NULL, 'x'},
        {"first", required_argument, NULL, 'F'},
        {"protocol", required_argument, NULL, 'V'},
        {"pubs", required_argument, NULL, 'P'},
        {"subs", required_argument, NULL, 'S'},
        {"qos", required_argument, NULL, 'q'},
        {"size", required_argument, NULL, 's'},
        {"window", required_argument, NULL, 'w'},
        {"inflight", required_argument, NULL, 'i'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'W'},
        {"workers", required_argument, NULL, 'k'},
        {"devices", required_argument, NULL, 'n'},
        {"base", required_argument, NULL, 'b'},
        {"count", required_argument, NULL, 'N'},
        {"hold", required_argument, NULL, 'H'},
        {"ready-file", required_argument, NULL, 'r'},
        {"go-file", required_argument, NULL, 'g'},
        {"broker-pid", required_argument, NULL, 'B'},
        {"label", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 'T'},
        {"plain", no_argument, NULL, 'Z'},
        {"claim", required_argument, NULL, 'C'},
        {"template", required_argument, NULL, 't'},
        {"serial-prefix", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    snprintf(o->prefix, sizeof o->prefix, "d");
    snprintf(o->serial, sizeof o->serial, "fb-");
    o->protocol = MQTT_PROTOCOL_V311;
    o->pubs = 4;
    o->subs = 1;
    o->size = 100;
    o->window = 500;
    o->inflight = 20;
    o->threads = 1;
    o->duration = 5;
    o->warmup = 1;
    o->workers = 4;
    o->base = 20;
    o->count = 1000;
    o->hold = 600;
    if (argc < 2 || argv[1][0] == '-') {
        int help = argc >= 2 && strcmp(argv[1], "--help") == 0;
        usage(help ? stdout : stderr);
        return help ? 1 : -1;
    }
    o->mode_name = argv[1];
    if (strcmp(argv[1], "flow") == 0)
        o->mode = M_FLOW;
    else if (strcmp(argv[1], "connect") == 0)
        o->mode = M_CONNECT;
    else if (strcmp(argv[1], "hold") == 0)
        o->mode = M_HOLD;
    else if (strcmp(argv[1], "check") == 0)
        o->mode = M_CHECK;
    else if (strcmp(argv[1], "firstboot") == 0)
        o->mode = M_FIRSTBOOT;
    else {
        fprintf(stderr, "mqttgen: unknown mode '%s'\n", argv[1]);
        usage(stderr);
        return -1;
    }
    optind = 2;
    int ch, bad = 0, v = 0;
    while (!bad && (ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'p':
            bad = parse_int(optarg, 1, 65535, &o->port);
            break;
        case 'c':
            bad = copy_opt(o->certs, sizeof o->certs, optarg);
            break;
        case 'x':
            bad = copy_opt(o->prefix, sizeof o->prefix, optarg) || strpbrk(optarg, "/+#") != NULL;
            break;
        case 'F':
            bad = parse_int(optarg, 0, MAX_DEVICES, &o->first);
            break;
        case 'V':
            bad = parse_int(optarg, 311, 500, &v) || (v != 311 && v != 5 && v != 500);
            o->protocol = v == 311 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5;
            break;
        case 'P':
            bad = parse_int(optarg, 1, MAX_FLOW_CLIENTS / 2, &o->pubs);
            break;
        case 'S':
            bad = parse_int(optarg, 1, MAX_FLOW_CLIENTS / 2, &o->subs);
            break;
        case 'q':
            bad = parse_int(optarg, 0, 1, &o->qos);
            break;
        case 's':
            bad = parse_int(optarg, 0, MAX_PAYLOAD, &o->size);
            break;
        case 'w':
            bad = parse_int(optarg, 1, 100000, &o->window);
            break;
        case 'i':
            bad = parse_int(optarg, 1, 65535, &o->inflight);
            break;
        case 'd':
            bad = parse_dbl(optarg, 0.1, 3600, &o->duration);
            break;
        case 'W':
            bad = parse_dbl(optarg, 0, 600, &o->warmup);
            break;
        case 'k':
            bad = parse_int(optarg, 1, MAX_WORKERS, &o->workers);
            break;
        case 'n':
            bad = parse_int(optarg, 1, MAX_DEVICES, &o->devices);
            break;
        case 'b':
            bad = parse_int(optarg, 0, MAX_DEVICES, &o->base);
            break;
        case 'N':
            bad = parse_int(optarg, 1, MAX_DEVICES, &o->count);
            break;
        case 'H':
            bad = parse_dbl(optarg, 1, 3600, &o->hold);
            break;
        case 'r':
            bad = copy_opt(o->ready_file, sizeof o->ready_file, optarg);
            break;
        case 'g':
            bad = copy_opt(o->go_file, sizeof o->go_file, optarg);
            break;
        case 'B':
            bad = parse_int(optarg, 1, 1 << 30, &o->broker_pid);
            break;
        case 'l':
            bad = copy_opt(o->label, sizeof o->label, optarg) || strpbrk(optarg, "\"\\") != NULL;
            break;
        case 'Z':
            o->plain = 1;
            break;
        case 'T':
            bad = parse_int(optarg, 1, MAX_FLOW_CLIENTS, &o->threads);
            break;
        case 'C':
            bad = copy_opt(o->claim, sizeof o->claim, optarg);
            break;
        case 't':
            bad = copy_opt(o->tpl, sizeof o->tpl, optarg) || strpbrk(optarg, "/+#\"\\") != NULL;
            break;
        case 'R':
            bad = copy_opt(o->serial, sizeof o->serial, optarg) || strlen(optarg) > 24 ||
                  strpbrk(optarg, "/+#\"\\") != NULL;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            bad = 1;
        }
        if (bad && ch != '?')
            fprintf(stderr, "mqttgen: bad value for --%s\n", argv[optind - 1] + 2);
    }
    if (bad)
        return -1;
    if (optind != argc) {
        fprintf(stderr, "mqttgen: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->mode == M_FIRSTBOOT) {
        if (o->port == 0 || o->claim[0] == '\0' || o->tpl[0] == '\0') {
            fprintf(stderr, "mqttgen: firstboot needs --port, --claim and --template\n");
            return -1;
        }
        return 0;
    }
    if (o->port == 0 || (o->certs[0] == '\0' && !o->plain)) {
        fprintf(stderr, "mqttgen: give --port and --certs (or --plain)\n");
        return -1;
    }
    if (o->mode == M_CONNECT && o->devices == 0)
        o->devices = o->workers;
    if (o->mode == M_CONNECT && o->devices < o->workers) {
        fprintf(stderr, "mqttgen: connect needs --devices >= --workers (one client id in use at a time)\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    int pr = parse_opts(argc, argv, &o);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    /* one socket per device in hold mode */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    mosquitto_lib_init();
    int rc;
    switch (o.mode) {
    case M_FLOW:
        rc = run_flow(&o);
        break;
    case M_CONNECT:
        rc = run_connect(&o);
        break;
    case M_HOLD:
        rc = run_hold(&o);
        break;
    case M_FIRSTBOOT:
        rc = run_firstboot(&o);
        break;
    default:
        rc = run_check(&o);
        break;
    }
    fflush(stdout);
    mosquitto_lib_cleanup();
    return rc;
}
