/*
 * http_server.c - libmicrohttpd glue, and the only file that includes
 * microhttpd.h: accumulates the body up to a cap (413 past it), turns the
 * connection into a struct http_req, hands it to dispatch (http_call_*) with
 * a core from the pool, and queues the rendered response in one buffer. A
 * write's connection is suspended while the pool's writer thread runs it.
 *
 * The URL is kept raw (a no-op unescape callback): SigV4 signs the encoded
 * path, and "%2F" inside a topic or name must not become a path separator.
 */
#include "http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

#define DRAIN_LIMIT_FACTOR 8 /* bodies up to 8x the cap are read and refused; larger ones cut off */

struct http_server {
    struct MHD_Daemon *d;
    struct http_app *app;
    struct key_cache *keys; /* ours, when the app brought none */
    /* connections suspended while their write waits for its group commit:
     * MHD must not be stopped before they are resumed */
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int suspended;
};

/* One request (MHD's per-request closure). A write is handed to the writer
 * thread and its connection suspended, so that this network thread goes on
 * with its other connections and the writer sees every connection's write
 * at once (group commit); the writer resumes the connection once committed. */
struct conn_state {
    char *buf;
    size_t len, cap, seen;
    int too_big;
    int writing; /* suspended: the write is queued or running */
    struct MHD_Connection *conn;
    struct http_server *srv;
    struct http_req req;
    struct http_resp resp;
    struct http_call call;
};

static size_t noop_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static const char *mhd_header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_HEADER_KIND, name);
}

struct query_acc {
    struct http_req *req;
    int overflow;
};

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct query_acc *q = cls;
    if (q->req->nquery == HTTP_MAX_QUERY) {
        q->overflow = 1;
        return MHD_NO;
    }
    q->req->query_raw[q->req->nquery].name = (char *)key;
    q->req->query_raw[q->req->nquery].value = (char *)value;
    q->req->nquery++;
    return MHD_YES;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct http_resp *resp)
{
    size_t len = 0;
    char *body = response_body(resp, &len);
    struct MHD_Response *r = body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE) : NULL;
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", resp->content_type ? resp->content_type : "application/json");
    if (resp->error_type)
        MHD_add_response_header(r, "x-amzn-ErrorType", resp->error_type);
    if (resp->allow[0])
        MHD_add_response_header(r, "Allow", resp->allow);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, enum fl_code code, const char *msg)
{
    struct http_resp resp = {0};
    struct fl_err err;
    fl_err_set(&err, code, "%s", msg);
    response_error(&resp, &err);
    enum MHD_Result r = send_resp(conn, &resp);
    http_resp_free(&resp);
    return r;
}

static void resumed(struct http_server *s)
{
    pthread_mutex_lock(&s->lock);
    if (--s->suspended == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

/* On the writer thread, once the write is committed. */
static void resume_conn(void *arg)
{
    struct conn_state *st = arg;
    struct MHD_Connection *conn = st->conn;
    struct http_server *s = st->srv;
    /* after this, st belongs to the connection's thread again */
    MHD_resume_connection(conn);
    resumed(s);
}

/* Answers a finished request and gives its core back. */
static enum MHD_Result finish(struct http_server *s, struct MHD_Connection *conn, struct conn_state *st)
{
    core_pool_release(s->app->pool, st->req.core);
    st->req.core = NULL;
    http_req_free(&st->req);
    enum MHD_Result r = send_resp(conn, &st->resp);
    http_resp_free(&st->resp);
    return r;
}

static enum MHD_Result ahc(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                           const char *version, const char *upload_data, size_t *upload_data_size,
                           void **req_cls)
{
    (void)version;
    struct http_server *s = cls;
    struct conn_state *st = *req_cls;
    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL)
            return MHD_NO;
        *req_cls = st;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "content-length");
        if (cl && strtoull(cl, NULL, 10) > s->app->max_body * DRAIN_LIMIT_FACTOR)
            return send_error(conn, FL_PAYLOAD_TOO_LARGE, "The request body is too large");
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        st->seen += n;
        if (st->too_big || st->len + n > s->app->max_body) {
            st->too_big = 1;
            if (st->seen > s->app->max_body * DRAIN_LIMIT_FACTOR)
                return send_error(conn, FL_PAYLOAD_TOO_LARGE, "The request body is too large");
            return MHD_YES;
        }
        if (st->len + n > st->cap) {
            size_t cap = st->cap ? st->cap : 4096;
            while (cap < st->len + n)
                cap *= 2;
            char *nb = realloc(st->buf, cap);
            if (nb == NULL)
                return MHD_NO;
            st->buf = nb;
            st->cap = cap;
        }
        memcpy(st->buf + st->len, upload_data, n);
        st->len += n;
        return MHD_YES;
    }
    if (st->too_big)
        return send_error(conn, FL_PAYLOAD_TOO_LARGE, "The request body is too large");

    if (st->writing) {
        /* resumed: the write is committed (or failed) */
        st->writing = 0;
        st->req.core = core_pool_acquire(s->app->pool);
        http_call_finish(&st->call);
        return finish(s, conn, st);
    }
    struct http_req *req = &st->req;
    struct query_acc qa = {req, 0};
    req->method = method;
    req->path = url;
    req->header = mhd_header;
    req->header_ctx = conn;
    req->body = st->buf ? st->buf : "";
    req->body_len = st->len;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &qa);
    if (qa.overflow)
        return send_error(conn, FL_INVALID_REQUEST, "Too many query parameters");
    req->core = core_pool_acquire(s->app->pool);
    if (http_call_start(&st->call, s->app, req, &st->resp)) {
        /* the handler runs on the writer thread; it may still read headers
         * (AttachThingPrincipal does): a suspended connection's headers are
         * not touched by its own thread until it is resumed */
        core_pool_release(s->app->pool, req->core);
        req->core = NULL;
        st->conn = conn;
        st->srv = s;
        st->writing = 1;
        pthread_mutex_lock(&s->lock);
        s->suspended++;
        pthread_mutex_unlock(&s->lock);
        MHD_suspend_connection(conn);
        if (http_call_write_async(&st->call, resume_conn, st) == 0)
            return MHD_YES;
        /* out of memory: write in this thread */
        MHD_resume_connection(conn);
        resumed(s);
        st->writing = 0;
        req->core = core_pool_acquire(s->app->pool);
        http_call_write(&st->call);
    }
    http_call_finish(&st->call);
    return finish(s, conn, st);
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct conn_state *st = *req_cls;
    if (st) {
        free(st->buf);
        free(st);
        *req_cls = NULL;
    }
}

struct http_server *http_server_start(struct http_app *app, const char *bind_addr, int port, int threads,
                                      struct fl_err *err)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
        fl_err_set(err, FL_INVALID_REQUEST, "invalid bind address %s (an IPv4 address is expected)",
                   bind_addr);
        return NULL;
    }
    struct http_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->app = app;
    if (app->keys == NULL && app->pool != NULL)
        app->keys = s->keys = key_cache_new();
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    /* poll, not epoll: suspending and resuming a connection (every write)
     * costs epoll two epoll_ctl calls and an extra recv, and each thread of
     * the pool watches few connections (API clients keep a handful) */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: its default (SO_REUSEADDR)
     * lets a restart bind at once; 1 would add SO_REUSEPORT, and a second
     * fleetd started by mistake would then share the port with the first,
     * the kernel splitting requests between two databases. */
    s->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, ahc, s, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_NOTIFY_COMPLETED,
                            completed, s, MHD_OPTION_UNESCAPE_CALLBACK, noop_unescape, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)(64 * 1024), MHD_OPTION_END);
    if (s->d == NULL) {
        fl_err_set(err, FL_INTERNAL, "cannot listen on %s:%d (port in use?)", bind_addr, port);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->idle);
        if (s->keys)
            app->keys = NULL;
        key_cache_free(s->keys);
        free(s);
        return NULL;
    }
    return s;
}

int http_server_port(struct http_server *s)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

void http_server_stop(struct http_server *s)
{
    if (s == NULL)
        return;
    /* MHD must not stop with suspended connections: let the queued writes
     * finish (new requests are still served meanwhile; give up after 10 s) */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&s->lock);
    while (s->suspended > 0 && pthread_cond_timedwait(&s->idle, &s->lock, &until) == 0)
        ;
    pthread_mutex_unlock(&s->lock);
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle);
    if (s->keys)
        s->app->keys = NULL;
    key_cache_free(s->keys);
    free(s);
}
