/*
 * webhook.c - the outbound HTTP(S) POST client (webhook.h).
 *
 * One call = one connection: resolve (getaddrinfo on a helper thread so
 * that the deadline also bounds a slow resolver), connect each address in
 * turn, TLS handshake, write the request, read and parse the response, all
 * with non-blocking sockets and poll against one monotonic deadline. The
 * shared state (struct webhook: an SSL_CTX) is read-only after
 * webhook_new; everything else lives on the caller's stack or heap.
 */
#include "webhook.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RAW_MAX (WEBHOOK_MAX_HEADERS + WEBHOOK_MAX_RESPONSE + 16384) /* + chunk framing */

struct webhook {
    SSL_CTX *tls;
};

/* ---- URL -------------------------------------------------------------------- */

static int host_char(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '.' || ch == '_';
}

int webhook_parse_url(const char *url, struct webhook_url *u, const char **why)
{
    memset(u, 0, sizeof(*u));
    size_t n = url ? strlen(url) : 0;
    if (n == 0 || n > WEBHOOK_MAX_URL)
        return *why = "the URL is empty or longer than 2048 characters", -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return *why = "the URL contains spaces, control or non-ASCII characters", -1;
    }
    const char *p;
    if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        u->tls = 1;
        p = url + 8;
    } else {
        return *why = "the URL must start with http:// or https://", -1;
    }
    size_t alen = strcspn(p, "/?#");
    if (memchr(p, '@', alen) != NULL)
        return *why = "user information in the URL is not supported", -1;
    const char *hs = p, *he;
    const char *rest;
    if (*p == '[') {
        const char *close = memchr(p, ']', alen);
        if (close == NULL)
            return *why = "unterminated [IPv6] host in the URL", -1;
        hs = p + 1;
        he = close;
        for (const char *q = hs; q < he; q++)
            if (!(host_char((unsigned char)*q) || *q == ':') || *q == '_' || *q == '-')
                return *why = "invalid [IPv6] host in the URL", -1;
        rest = close + 1;
    } else {
        he = p;
        while (he < p + alen && *he != ':')
            he++;
        for (const char *q = hs; q < he; q++)
            if (!host_char((unsigned char)*q))
                return *why = "invalid host name in the URL", -1;
        rest = he;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof(u->host))
        return *why = "the URL has no host, or a host longer than 255 characters", -1;
    memcpy(u->host, hs, (size_t)(he - hs));
    if (rest < p + alen) {
        if (*rest != ':')
            return *why = "invalid host in the URL", -1;
        const char *ps = rest + 1;
        size_t plen = (size_t)(p + alen - ps);
        long port = 0;
        if (plen == 0 || plen > 5)
            return *why = "invalid port in the URL", -1;
        for (size_t i = 0; i < plen; i++) {
            if (ps[i] < '0' || ps[i] > '9')
                return *why = "invalid port in the URL", -1;
            port = port * 10 + (ps[i] - '0');
        }
        if (port < 1 || port > 65535)
            return *why = "invalid port in the URL", -1;
        snprintf(u->port, sizeof(u->port), "%ld", port);
    } else {
        snprintf(u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
    }
    const char *path = p + alen;
    size_t plen = strcspn(path, "#");
    if (plen == 0 || path[0] == '?')
        u->path[0] = '/';
    memcpy(u->path + strlen(u->path), path, plen);
    return 0;
}

/* ---- deadline --------------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (>= 0). */
static int left_ms(int64_t deadline)
{
    int64_t l = deadline - mono_ms();
    return l <= 0 ? 0 : (l > INT32_MAX ? INT32_MAX : (int)l);
}

/* Waits for ev on fd until deadline. 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        int ms = left_ms(deadline);
        if (ms == 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = ev};
        int r = poll(&pfd, 1, ms);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* ---- resolution ------------------------------------------------------------- */

/* A lookup on its own thread: whoever of the caller and the thread lets go
 * last frees it, so a caller that times out just leaves. */
struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs, done, rc;
    struct addrinfo *res;
    char host[256], port[6];
};

static void lookup_unref(struct lookup *l)
{
    pthread_mutex_lock(&l->mu);
    int last = --l->refs == 0;
    pthread_mutex_unlock(&l->mu);
    if (!last)
        return;
    if (l->res)
        freeaddrinfo(l->res);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static void *lookup_run(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(l->host, l->port, &hints, &res);
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->res = res;
    l->done = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    lookup_unref(l);
    return NULL;
}

static enum fl_code resolve(const struct webhook_url *u, int64_t deadline, struct addrinfo **out,
                            struct fl_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    if (getaddrinfo(u->host, u->port, &hints, out) == 0)
        return FL_OK; /* an address literal: nothing to wait for */
    struct lookup *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return fl_err_set(err, FL_UNAVAILABLE, "out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    l->refs = 2;
    snprintf(l->host, sizeof(l->host), "%s", u->host);
    snprintf(l->port, sizeof(l->port), "%s", u->port);
    pthread_attr_t ta;
    pthread_attr_init(&ta);
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int trc = pthread_create(&t, &ta, lookup_run, l);
    pthread_attr_destroy(&ta);
    if (trc != 0) {
        l->refs = 1;
        lookup_unref(l);
        return fl_err_set(err, FL_UNAVAILABLE, "cannot start a resolver thread");
    }
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    pthread_mutex_lock(&l->mu);
    while (!l->done && pthread_cond_timedwait(&l->cv, &l->mu, &ts) == 0)
        ;
    int done = l->done, rc = l->rc;
    struct addrinfo *res = NULL;
    if (done) {
        res = l->res;
        l->res = NULL;
    }
    pthread_mutex_unlock(&l->mu);
    lookup_unref(l);
    if (!done)
        return fl_err_set(err, FL_UNAVAILABLE, "timed out resolving %s", u->host);
    if (rc != 0) {
        if (res)
            freeaddrinfo(res);
        return fl_err_set(err, FL_UNAVAILABLE, "cannot resolve %s: %s", u->host, gai_strerror(rc));
    }
    *out = res;
    return FL_OK;
}

/* ---- connection ------------------------------------------------------------- */

struct conn {
    int fd;
    SSL *ssl;
    int64_t deadline;
};

/* Connects to the first address that answers. */
static enum fl_code dial(struct conn *c, const struct webhook_url *u, struct addrinfo *ai, struct fl_err *err)
{
    char last[160] = "no address";
    for (; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            snprintf(last, sizeof(last), "socket: %s", strerror(errno));
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            int w = wait_fd(fd, POLLOUT, c->deadline);
            if (w <= 0) {
                close(fd);
                if (w == 0)
                    return fl_err_set(err, FL_UNAVAILABLE, "timed out connecting to %s:%s", u->host, u->port);
                snprintf(last, sizeof(last), "poll: %s", strerror(errno));
                continue;
            }
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            rc = soerr ? -1 : 0;
            errno = soerr;
        }
        if (rc != 0) {
            snprintf(last, sizeof(last), "%s", strerror(errno));
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        return FL_OK;
    }
    return fl_err_set(err, FL_UNAVAILABLE, "cannot connect to %s:%s: %s", u->host, u->port, last);
}

/* The first OpenSSL error queued, for messages (and clears the queue). */
static const char *tls_reason(char *buf, size_t n)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, n, "connection closed");
    else
        ERR_error_string_n(e, buf, n);
    ERR_clear_error();
    return buf;
}

static enum fl_code tls_start(struct webhook *w, struct conn *c, const struct webhook_url *u,
                              struct fl_err *err)
{
    ERR_clear_error();
    c->ssl = SSL_new(w->tls);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
        return fl_err_set(err, FL_UNAVAILABLE, "TLS setup failed");
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, u->host, ip) == 1 || inet_pton(AF_INET6, u->host, ip) == 1;
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u->host) != 1)
            return fl_err_set(err, FL_UNAVAILABLE, "TLS setup failed");
    } else if (SSL_set_tlsext_host_name(c->ssl, u->host) != 1 || SSL_set1_host(c->ssl, u->host) != 1) {
        return fl_err_set(err, FL_UNAVAILABLE, "TLS setup failed");
    }
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return FL_OK;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int ready = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, c->deadline);
            if (ready == 0)
                return fl_err_set(err, FL_UNAVAILABLE, "timed out in the TLS handshake with %s", u->host);
            if (ready < 0)
                return fl_err_set(err, FL_UNAVAILABLE, "TLS handshake with %s: %s", u->host, strerror(errno));
            continue;
        }
        long vr = SSL_get_verify_result(c->ssl);
        char why[256];
        if (vr != X509_V_OK) {
            ERR_clear_error();
            return fl_err_set(err, FL_UNAVAILABLE, "TLS: the certificate of %s is not trusted: %s", u->host,
                              X509_verify_cert_error_string(vr));
        }
        return fl_err_set(err, FL_UNAVAILABLE, "TLS handshake with %s failed: %s", u->host,
                          tls_reason(why, sizeof(why)));
    }
}

/* Writes all of buf. */
static enum fl_code send_all(struct conn *c, const char *buf, size_t n, struct fl_err *err)
{
    while (n > 0) {
        size_t done = 0;
        short ev = POLLOUT;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_write_ex(c->ssl, buf, n, &done);
            if (r != 1) {
                int e = SSL_get_error(c->ssl, 0);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    char why[256];
                    return fl_err_set(err, FL_UNAVAILABLE, "TLS write failed: %s",
                                      tls_reason(why, sizeof(why)));
                }
                ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                done = 0;
            }
        } else {
            ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
            if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return fl_err_set(err, FL_UNAVAILABLE, "write failed: %s", strerror(errno));
            done = r > 0 ? (size_t)r : 0;
        }
        buf += done;
        n -= done;
        if (n > 0 && done == 0) {
            int ready = wait_fd(c->fd, ev, c->deadline);
            if (ready == 0)
                return fl_err_set(err, FL_UNAVAILABLE, "timed out sending the request");
            if (ready < 0)
                return fl_err_set(err, FL_UNAVAILABLE, "write failed: %s", strerror(errno));
        }
    }
    return FL_OK;
}

/* Reads what is available (waiting until something is). Returns bytes
 * read, 0 at the end of the stream, -1 with err filled. */
static ssize_t recv_some(struct conn *c, char *buf, size_t n, struct fl_err *err)
{
    for (;;) {
        short ev = POLLIN;
        if (c->ssl) {
            size_t got = 0;
            ERR_clear_error();
            if (SSL_read_ex(c->ssl, buf, n, &got) == 1)
                return (ssize_t)got;
            int e = SSL_get_error(c->ssl, 0);
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                return 0; /* closed without close_notify: the framing tells truncation */
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                char why[256];
                fl_err_set(err, FL_UNAVAILABLE, "TLS read failed: %s", tls_reason(why, sizeof(why)));
                return -1;
            }
            ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        } else {
            ssize_t r = recv(c->fd, buf, n, 0);
            if (r >= 0)
                return r;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fl_err_set(err, FL_UNAVAILABLE, "read failed: %s", strerror(errno));
                return -1;
            }
        }
        int ready = wait_fd(c->fd, ev, c->deadline);
        if (ready == 0) {
            fl_err_set(err, FL_UNAVAILABLE, "timed out waiting for the response");
            return -1;
        }
        if (ready < 0) {
            fl_err_set(err, FL_UNAVAILABLE, "read failed: %s", strerror(errno));
            return -1;
        }
    }
}

/* ---- response --------------------------------------------------------------- */

enum framing { F_LENGTH, F_CHUNKED, F_CLOSE };
enum chunk_state { C_SIZE, C_DATA, C_DATA_CRLF, C_TRAILER, C_DONE };

struct resp {
    char *raw; /* everything read */
    size_t rlen;
    size_t hlen; /* header block length incl. the blank line; 0 until complete */
    int status;
    enum framing fr;
    size_t clen; /* F_LENGTH */
    /* F_CHUNKED: decoding position in raw, and the decoded body */
    enum chunk_state cs;
    size_t cpos, cleft;
    char *body;
    size_t blen;
};

static const char *find_crlf(const char *s, const char *end)
{
    for (const char *p = s; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

/* A header "Name: value" line (no CRLF): 1 when its name is name (any
 * case), with its trimmed value in v and vl. */
static int header_is(const char *line, size_t n, const char *name, const char **v, size_t *vl)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return 0;
    const char *s = line + nl + 1, *e = line + n;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *v = s;
    *vl = (size_t)(e - s);
    return 1;
}

/* Parses the header block once it is complete: 1 done, 0 need more, -1
 * error (err filled). Interim 1xx responses are skipped. */
static int parse_head(struct resp *r, struct fl_err *err)
{
    for (;;) {
        const char *s = r->raw, *end = r->raw + r->rlen;
        const char *eoh = NULL;
        for (const char *p = s; p + 3 < end; p++)
            if (p[0] == '\r' && p[1] == '\n' && p[2] == '\r' && p[3] == '\n') {
                eoh = p + 4;
                break;
            }
        if (eoh == NULL) {
            if (r->rlen > WEBHOOK_MAX_HEADERS)
                return fl_err_set(err, FL_UNAVAILABLE, "response headers larger than %d bytes",
                                  WEBHOOK_MAX_HEADERS),
                       -1;
            return 0;
        }
        const char *le = find_crlf(s, eoh);
        int major, minor, status;
        char sp;
        if (le - s < 12 || sscanf(s, "HTTP/%d.%d %3d%c", &major, &minor, &status, &sp) != 4 || major != 1 ||
            status < 100 || status > 599 || (sp != ' ' && sp != '\r'))
            return fl_err_set(err, FL_UNAVAILABLE, "not an HTTP/1.x response"), -1;
        size_t hlen = (size_t)(eoh - s);
        if (status < 200 && status != 101) {
            /* interim response: drop it, parse what follows */
            memmove(r->raw, eoh, r->rlen - hlen);
            r->rlen -= hlen;
            continue;
        }
        if (status == 101)
            return fl_err_set(err, FL_UNAVAILABLE, "the server switched protocols"), -1;
        r->status = status;
        r->hlen = hlen;
        r->fr = F_CLOSE;
        int have_len = 0;
        for (const char *l = le + 2; l < eoh - 2;) {
            const char *e = find_crlf(l, eoh);
            const char *v;
            size_t vl;
            if (header_is(l, (size_t)(e - l), "Transfer-Encoding", &v, &vl)) {
                if (vl < 7 || strncasecmp(v + vl - 7, "chunked", 7) != 0)
                    return fl_err_set(err, FL_UNAVAILABLE, "unsupported Transfer-Encoding"), -1;
                r->fr = F_CHUNKED;
            } else if (header_is(l, (size_t)(e - l), "Content-Length", &v, &vl)) {
                size_t n = 0;
                if (vl == 0 || vl > 12)
                    return fl_err_set(err, FL_UNAVAILABLE, "invalid Content-Length"), -1;
                for (size_t i = 0; i < vl; i++) {
                    if (v[i] < '0' || v[i] > '9')
                        return fl_err_set(err, FL_UNAVAILABLE, "invalid Content-Length"), -1;
                    n = n * 10 + (size_t)(v[i] - '0');
                }
                if (have_len && n != r->clen)
                    return fl_err_set(err, FL_UNAVAILABLE, "conflicting Content-Length headers"), -1;
                have_len = 1;
                r->clen = n;
            }
            l = e + 2;
        }
        if (r->fr != F_CHUNKED && have_len)
            r->fr = F_LENGTH;
        if (status == 204 || status == 304) {
            r->fr = F_LENGTH;
            r->clen = 0;
        }
        if (r->fr == F_LENGTH && r->clen > WEBHOOK_MAX_RESPONSE)
            return fl_err_set(err, FL_UNAVAILABLE, "response body larger than %d bytes",
                              WEBHOOK_MAX_RESPONSE),
                   -1;
        r->cpos = hlen;
        return 1;
    }
}

/* Decodes the chunks read so far. 1 complete, 0 need more, -1 error. */
static int parse_chunks(struct resp *r, struct fl_err *err)
{
    const char *end = r->raw + r->rlen;
    for (;;) {
        const char *p = r->raw + r->cpos;
        switch (r->cs) {
        case C_SIZE: {
            const char *e = find_crlf(p, end);
            if (e == NULL)
                return (end - p > 1024) ? (fl_err_set(err, FL_UNAVAILABLE, "malformed chunk size"), -1) : 0;
            size_t n = 0;
            const char *q = p;
            for (; q < e; q++) {
                int d = (*q >= '0' && *q <= '9')   ? *q - '0'
                        : (*q >= 'a' && *q <= 'f') ? *q - 'a' + 10
                        : (*q >= 'A' && *q <= 'F') ? *q - 'A' + 10
                                                   : -1;
                if (d < 0)
                    break;
                if (n > WEBHOOK_MAX_RESPONSE)
                    return fl_err_set(err, FL_UNAVAILABLE, "response body larger than %d bytes",
                                      WEBHOOK_MAX_RESPONSE),
                           -1;
                n = n * 16 + (size_t)d;
            }
            if (q == p || (q < e && *q != ';' && *q != ' ' && *q != '\t'))
                return fl_err_set(err, FL_UNAVAILABLE, "malformed chunk size"), -1;
            if (r->blen + n > WEBHOOK_MAX_RESPONSE)
                return fl_err_set(err, FL_UNAVAILABLE, "response body larger than %d bytes",
                                  WEBHOOK_MAX_RESPONSE),
                       -1;
            r->cpos = (size_t)(e + 2 - r->raw);
            r->cleft = n;
            r->cs = n == 0 ? C_TRAILER : C_DATA;
            break;
        }
        case C_DATA: {
            size_t avail = (size_t)(end - p);
            size_t take = avail < r->cleft ? avail : r->cleft;
            if (take == 0)
                return 0;
            memcpy(r->body + r->blen, p, take);
            r->blen += take;
            r->cpos += take;
            r->cleft -= take;
            if (r->cleft == 0)
                r->cs = C_DATA_CRLF;
            break;
        }
        case C_DATA_CRLF:
            if (end - p < 2)
                return 0;
            if (p[0] != '\r' || p[1] != '\n')
                return fl_err_set(err, FL_UNAVAILABLE, "malformed chunk"), -1;
            r->cpos += 2;
            r->cs = C_SIZE;
            break;
        case C_TRAILER: {
            const char *e = find_crlf(p, end);
            if (e == NULL)
                return 0;
            r->cpos = (size_t)(e + 2 - r->raw);
            if (e == p)
                r->cs = C_DONE;
            break;
        }
        case C_DONE:
            return 1;
        }
    }
}

static enum fl_code read_response(struct conn *c, struct resp *r, struct fl_err *err)
{
    r->raw = malloc(RAW_MAX + 1);
    r->body = malloc(WEBHOOK_MAX_RESPONSE + 1);
    if (r->raw == NULL || r->body == NULL)
        return fl_err_set(err, FL_UNAVAILABLE, "out of memory");
    for (;;) {
        if (r->rlen == RAW_MAX)
            return fl_err_set(err, FL_UNAVAILABLE, "response larger than %d bytes", RAW_MAX);
        ssize_t got = recv_some(c, r->raw + r->rlen, RAW_MAX - r->rlen, err);
        if (got < 0)
            return err->code;
        int eof = got == 0;
        r->rlen += (size_t)got;
        if (r->hlen == 0) {
            int h = parse_head(r, err);
            if (h < 0)
                return err->code;
            if (h == 0) {
                if (eof)
                    return fl_err_set(err, FL_UNAVAILABLE,
                                      r->rlen ? "the connection closed inside the response headers"
                                              : "the server closed the connection without a response");
                continue;
            }
        }
        size_t have = r->rlen - r->hlen;
        if (r->fr == F_LENGTH) {
            if (have >= r->clen) {
                memcpy(r->body, r->raw + r->hlen, r->clen);
                r->blen = r->clen;
                return FL_OK;
            }
        } else if (r->fr == F_CHUNKED) {
            int k = parse_chunks(r, err);
            if (k < 0)
                return err->code;
            if (k > 0)
                return FL_OK;
        } else {
            if (have > WEBHOOK_MAX_RESPONSE)
                return fl_err_set(err, FL_UNAVAILABLE, "response body larger than %d bytes",
                                  WEBHOOK_MAX_RESPONSE);
            if (eof) {
                memcpy(r->body, r->raw + r->hlen, have);
                r->blen = have;
                return FL_OK;
            }
        }
        if (eof)
            return fl_err_set(err, FL_UNAVAILABLE, "the connection closed before the response was complete");
    }
}

/* ---- the call --------------------------------------------------------------- */

static enum fl_code post(struct webhook *w, const struct webhook_url *u, const char *body, size_t len,
                         int64_t deadline, int *status, char **resp, size_t *resp_len, struct fl_err *err)
{
    struct addrinfo *ai = NULL;
    struct conn c = {.fd = -1, .deadline = deadline};
    struct resp r = {0};
    char *req = NULL;
    enum fl_code rc = resolve(u, deadline, &ai, err);
    if (rc == FL_OK)
        rc = dial(&c, u, ai, err);
    if (ai)
        freeaddrinfo(ai);
    if (rc == FL_OK && u->tls)
        rc = tls_start(w, &c, u, err);
    if (rc == FL_OK) {
        int v6 = strchr(u->host, ':') != NULL;
        int dflt = strcmp(u->port, u->tls ? "443" : "80") == 0;
        size_t cap = strlen(u->path) + strlen(u->host) + 256;
        req = malloc(cap);
        if (req == NULL) {
            rc = fl_err_set(err, FL_UNAVAILABLE, "out of memory");
        } else {
            int n = snprintf(req, cap,
                             "POST %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\nAccept: application/json\r\nUser-Agent: fleetd\r\n"
                             "Connection: close\r\n\r\n",
                             u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", dflt ? "" : ":",
                             dflt ? "" : u->port, len);
            rc = send_all(&c, req, (size_t)n, err);
            if (rc == FL_OK && len > 0)
                rc = send_all(&c, body, len, err);
        }
    }
    if (rc == FL_OK)
        rc = read_response(&c, &r, err);
    if (rc == FL_OK) {
        r.body[r.blen] = '\0';
        *status = r.status;
        *resp = r.body;
        *resp_len = r.blen;
        r.body = NULL;
    }
    if (c.ssl) {
        SSL_free(c.ssl); /* no close_notify: Connection: close, and it could block */
    }
    if (c.fd >= 0)
        close(c.fd);
    free(req);
    free(r.raw);
    free(r.body);
    return rc;
}

enum fl_code webhook_post(void *ctx, const char *url, const char *body, size_t len, int timeout_ms,
                          int *status, char **resp, size_t *resp_len, struct fl_err *err)
{
    struct webhook *w = ctx;
    *status = 0;
    *resp = NULL;
    *resp_len = 0;
    struct webhook_url *u = malloc(sizeof(*u));
    if (u == NULL)
        return fl_err_set(err, FL_UNAVAILABLE, "out of memory");
    const char *why;
    if (webhook_parse_url(url, u, &why) != 0) {
        free(u);
        return fl_err_set(err, FL_INVALID_REQUEST, "cannot call %.300s: %s", url ? url : "(null)", why);
    }
    if (u->tls && (w == NULL || w->tls == NULL)) {
        free(u);
        return fl_err_set(err, FL_UNAVAILABLE, "https is not available (no TLS context)");
    }
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    /* OpenSSL writes with write(2): keep a peer's reset from raising
     * SIGPIPE in this thread (the process may not ignore it), and swallow
     * one raised meanwhile before unblocking. */
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    enum fl_code rc = post(w, u, body, len, deadline, status, resp, resp_len, err);
    if (!sigismember(&old, SIGPIPE)) {
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&pipe_set, NULL, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    free(u);
    return rc;
}

void webhook_http(struct webhook *w, struct fl_http_post *hp)
{
    hp->post = webhook_post;
    hp->ctx = w;
}

struct webhook *webhook_new(const char *ca_file, struct fl_err *err)
{
    struct webhook *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        fl_err_set(err, FL_INTERNAL, "out of memory");
        return NULL;
    }
    w->tls = SSL_CTX_new(TLS_client_method());
    if (w->tls == NULL) {
        fl_err_set(err, FL_INTERNAL, "cannot create a TLS context");
        free(w);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(w->tls, TLS1_2_VERSION);
    SSL_CTX_set_verify(w->tls, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_options(w->tls, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(w->tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_set_default_verify_paths(w->tls) != 1)
        ERR_clear_error(); /* no system store: only ca_file (if any) is trusted */
    if (ca_file != NULL && ca_file[0] != '\0' && SSL_CTX_load_verify_locations(w->tls, ca_file, NULL) != 1) {
        char why[256];
        fl_err_set(err, FL_INVALID_REQUEST, "cannot load the CA file %.300s: %s", ca_file,
                   tls_reason(why, sizeof(why)));
        webhook_free(w);
        return NULL;
    }
    return w;
}

void webhook_free(struct webhook *w)
{
    if (w == NULL)
        return;
    SSL_CTX_free(w->tls);
    free(w);
}
