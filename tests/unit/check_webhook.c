/*
 * check_webhook.c - unit tests of the outbound HTTP client
 * (server/net/webhook.c) against a tiny HTTP(S) server thread on
 * 127.0.0.1: Content-Length and chunked answers, errors, the deadline,
 * refused connections, oversize answers, TLS trust and host name checks,
 * and URL parsing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "suites.h"
#include "webhook.h"

/* ---- the test server ---------------------------------------------------------- */

struct srv {
    int lfd, port;
    pthread_t t;
    const char *resp; /* written after the request was read; NULL: close at once */
    size_t resp_len;
    int delay_ms; /* before answering */
    int piece;    /* write the answer in pieces of this many bytes (0: at once) */
    SSL_CTX *tls; /* https when set */
    char req[16384];
    size_t req_len;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void *srv_run(void *arg)
{
    struct srv *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    SSL *ssl = NULL;
    if (s->tls) {
        ssl = SSL_new(s->tls);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) != 1)
            goto out;
    }
    /* the request: headers, then Content-Length bytes */
    for (;;) {
        int n = ssl ? SSL_read(ssl, s->req + s->req_len, (int)(sizeof(s->req) - 1 - s->req_len))
                    : (int)recv(fd, s->req + s->req_len, sizeof(s->req) - 1 - s->req_len, 0);
        if (n <= 0)
            goto out;
        s->req_len += (size_t)n;
        s->req[s->req_len] = '\0';
        char *eoh = strstr(s->req, "\r\n\r\n");
        char *cl = strstr(s->req, "Content-Length: ");
        if (eoh && cl && s->req_len >= (size_t)(eoh + 4 - s->req) + strtoul(cl + 16, NULL, 10))
            break;
    }
    if (s->delay_ms)
        sleep_ms(s->delay_ms);
    size_t off = 0;
    while (s->resp && off < s->resp_len) {
        size_t n = s->piece ? (s->resp_len - off < (size_t)s->piece ? s->resp_len - off : (size_t)s->piece)
                            : s->resp_len - off;
        int w = ssl ? SSL_write(ssl, s->resp + off, (int)n) : (int)send(fd, s->resp + off, n, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
        if (s->piece)
            sleep_ms(1);
    }
out:
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    close(fd);
    return NULL;
}

static void srv_start(struct srv *s)
{
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(s->lfd, 4), 0);
    socklen_t al = sizeof(a);
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    if (s->resp && s->resp_len == 0)
        s->resp_len = strlen(s->resp);
    ck_assert_int_eq(pthread_create(&s->t, NULL, srv_run, s), 0);
}

static void srv_stop(struct srv *s)
{
    shutdown(s->lfd, SHUT_RDWR); /* wakes an accept that never got a client */
    pthread_join(s->t, NULL);
    close(s->lfd);
}

/* ---- calls -------------------------------------------------------------------- */

static struct webhook *wh;
static struct fl_err err;
static int status;
static char *body;
static size_t blen;

static void setup(void)
{
    fl_err_clear(&err);
    wh = webhook_new(NULL, &err);
    ck_assert_ptr_nonnull(wh);
    body = NULL;
    status = 0;
}

static void teardown(void)
{
    free(body);
    webhook_free(wh);
}

static enum fl_code call(struct webhook *w, const char *url, int timeout_ms)
{
    free(body);
    body = NULL;
    fl_err_clear(&err);
    struct fl_http_post hp;
    webhook_http(w, &hp);
    const char *req = "{\"a\":1}";
    return hp.post(hp.ctx, url, req, strlen(req), timeout_ms, &status, &body, &blen, &err);
}

static enum fl_code call_srv(struct srv *s, const char *path, int timeout_ms)
{
    char url[128];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", s->tls ? "https" : "http", s->port, path);
    return call(wh, url, timeout_ms);
}

START_TEST(ok_json)
{
    struct srv s = {.resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n"
                            "{\"allowProvisioning\":true}"};
    srv_start(&s);
    ck_assert_msg(call_srv(&s, "/hook?x=1", 2000) == FL_OK, "%s", err.msg);
    srv_stop(&s);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(blen, 26);
    ck_assert_str_eq(body, "{\"allowProvisioning\":true}");
    /* what the server saw */
    ck_assert_msg(strncmp(s.req, "POST /hook?x=1 HTTP/1.1\r\n", 25) == 0, "%s", s.req);
    char host[64];
    snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", s.port);
    ck_assert_ptr_nonnull(strstr(s.req, host));
    ck_assert_ptr_nonnull(strstr(s.req, "\r\nContent-Type: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(s.req, "\r\nContent-Length: 7\r\n"));
    ck_assert_str_eq(strstr(s.req, "\r\n\r\n") + 4, "{\"a\":1}");
}
END_TEST

START_TEST(server_error)
{
    struct srv s = {.resp = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!"};
    srv_start(&s);
    ck_assert_int_eq(call_srv(&s, "/", 2000), FL_OK);
    srv_stop(&s);
    ck_assert_int_eq(status, 500);
    ck_assert_str_eq(body, "oops!");
}
END_TEST

START_TEST(chunked_trickled)
{
    struct srv s = {.resp = "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5;ext=1\r\n{\"all\r\n"
                            "15\r\nowProvisioning\":false\r\n"
                            "1\r\n}\r\n"
                            "0\r\nX-Trailer: 1\r\n\r\n",
                    .piece = 3};
    srv_start(&s);
    ck_assert_msg(call_srv(&s, "/", 3000) == FL_OK, "%s", err.msg);
    srv_stop(&s);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(body, "{\"allowProvisioning\":false}");
}
END_TEST

START_TEST(until_close)
{
    struct srv s = {.resp = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{}"};
    srv_start(&s);
    ck_assert_msg(call_srv(&s, "", 2000) == FL_OK, "%s", err.msg);
    srv_stop(&s);
    ck_assert_str_eq(body, "{}");
    ck_assert_msg(strncmp(s.req, "POST / HTTP/1.1\r\n", 17) == 0, "%s", s.req);
}
END_TEST

START_TEST(slow_times_out)
{
    struct srv s = {.resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", .delay_ms = 1500};
    srv_start(&s);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(call_srv(&s, "/", 300), FL_UNAVAILABLE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_msg(ms >= 250 && ms < 1000, "took %ld ms", ms);
    ck_assert_ptr_nonnull(strstr(err.msg, "timed out"));
    ck_assert_ptr_null(body);
    srv_stop(&s);
}
END_TEST

START_TEST(refused)
{
    struct srv s = {0};
    srv_start(&s); /* a port that was free a moment ago */
    int port = s.port;
    srv_stop(&s);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    ck_assert_int_eq(call(wh, url, 2000), FL_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "cannot connect") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(closed_without_answer)
{
    struct srv s = {.resp = NULL};
    srv_start(&s);
    ck_assert_int_eq(call_srv(&s, "/", 2000), FL_UNAVAILABLE);
    srv_stop(&s);
    ck_assert_msg(strstr(err.msg, "without a response") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(oversize)
{
    static char big[WEBHOOK_MAX_RESPONSE + 200];
    int h =
        snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", WEBHOOK_MAX_RESPONSE + 1);
    memset(big + h, 'x', WEBHOOK_MAX_RESPONSE + 1);
    struct srv s = {.resp = big, .resp_len = (size_t)h + WEBHOOK_MAX_RESPONSE + 1};
    srv_start(&s);
    ck_assert_int_eq(call_srv(&s, "/", 2000), FL_UNAVAILABLE);
    srv_stop(&s);
    ck_assert_msg(strstr(err.msg, "larger than") != NULL, "%s", err.msg);
    /* without a length: the cap applies while reading */
    h = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n\r\n");
    memset(big + h, 'x', WEBHOOK_MAX_RESPONSE + 1);
    struct srv s2 = {.resp = big, .resp_len = (size_t)h + WEBHOOK_MAX_RESPONSE + 1};
    srv_start(&s2);
    ck_assert_int_eq(call_srv(&s2, "/", 2000), FL_UNAVAILABLE);
    srv_stop(&s2);
    ck_assert_msg(strstr(err.msg, "larger than") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(garbage)
{
    struct srv s = {.resp = "SSH-2.0-OpenSSH\r\n\r\n"};
    srv_start(&s);
    ck_assert_int_eq(call_srv(&s, "/", 2000), FL_UNAVAILABLE);
    srv_stop(&s);
    ck_assert_msg(strstr(err.msg, "not an HTTP") != NULL, "%s", err.msg);
    struct srv s2 = {.resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"};
    srv_start(&s2);
    ck_assert_int_eq(call_srv(&s2, "/", 2000), FL_UNAVAILABLE);
    srv_stop(&s2);
    ck_assert_msg(strstr(err.msg, "chunk") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(bad_urls)
{
    static const char *const bad[] = {"",
                                      "ftp://x/",
                                      "arn:aws:lambda:us-east-1:123456789012:function:f",
                                      "http://",
                                      "http:///x",
                                      "http://user:pw@host/",
                                      "http://host:0/",
                                      "http://host:65536/",
                                      "http://host:8x/",
                                      "http://ho st/",
                                      "http://host/a b",
                                      "http://[::1/",
                                      "http://h\xc3\xa9/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(call(wh, bad[i], 1000) == FL_INVALID_REQUEST, "%s: %s", bad[i], err.msg);
        ck_assert_ptr_null(body);
    }
    struct webhook_url u;
    const char *why;
    ck_assert_int_eq(webhook_parse_url("HTTPS://[::1]:8443?q=1#frag", &u, &why), 0);
    ck_assert_int_eq(u.tls, 1);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_str_eq(u.port, "8443");
    ck_assert_str_eq(u.path, "/?q=1");
    ck_assert_int_eq(webhook_parse_url("http://hooks.example.com", &u, &why), 0);
    ck_assert_str_eq(u.port, "80");
    ck_assert_str_eq(u.path, "/");
    /* a name that does not resolve ("cannot resolve", or "timed out resolving" without DNS) */
    ck_assert_int_eq(call(wh, "http://no-such-host.invalid/", 3000), FL_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "resolv") != NULL, "%s", err.msg);
}
END_TEST

/* ---- TLS ---------------------------------------------------------------------- */

/* A self-signed EC certificate for DNS:localhost and IP:127.0.0.1, as a
 * server context; its PEM written to pem_path (to be trusted or not). */
static SSL_CTX *tls_server(const char *pem_path, const char *san)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"hook test", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, k);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
    FILE *f = fopen(pem_path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx, x);
    SSL_CTX_use_PrivateKey(ctx, k);
    X509_free(x);
    EVP_PKEY_free(k);
    return ctx;
}

START_TEST(https_trust)
{
    char dir[] = "/tmp/h2-webhook-XXXXXX", pem[64], other[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(pem, sizeof(pem), "%s/ca.pem", dir);
    snprintf(other, sizeof(other), "%s/other.pem", dir);
    SSL_CTX *sctx = tls_server(pem, "DNS:localhost,IP:127.0.0.1");
    SSL_CTX_free(tls_server(other, "DNS:localhost"));
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

    /* not trusted by the system store */
    struct srv s = {.resp = ok, .tls = sctx};
    srv_start(&s);
    ck_assert_int_eq(call_srv(&s, "/", 3000), FL_UNAVAILABLE);
    srv_stop(&s);
    ck_assert_msg(strstr(err.msg, "not trusted") != NULL, "%s", err.msg);

    /* trusted through the extra CA file: by IP and by name (SNI + host check) */
    struct webhook *trusting = webhook_new(pem, &err);
    ck_assert_msg(trusting != NULL, "%s", err.msg);
    struct srv s2 = {.resp = ok, .tls = sctx};
    srv_start(&s2);
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/h", s2.port);
    ck_assert_msg(call(trusting, url, 3000) == FL_OK, "%s", err.msg);
    srv_stop(&s2);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(body, "{}");
    struct srv s3 = {.resp = ok, .tls = sctx};
    srv_start(&s3);
    snprintf(url, sizeof(url), "https://localhost:%d/h", s3.port);
    ck_assert_msg(call(trusting, url, 3000) == FL_OK, "%s", err.msg);
    srv_stop(&s3);
    webhook_free(trusting);

    /* a trusted certificate that does not name the host */
    SSL_CTX *named = tls_server(other, "DNS:localhost");
    trusting = webhook_new(other, &err);
    ck_assert_ptr_nonnull(trusting);
    struct srv s4 = {.resp = ok, .tls = named};
    srv_start(&s4);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/h", s4.port);
    ck_assert_int_eq(call(trusting, url, 3000), FL_UNAVAILABLE);
    srv_stop(&s4);
    ck_assert_msg(strstr(err.msg, "not trusted") != NULL, "%s", err.msg);
    webhook_free(trusting);
    SSL_CTX_free(named);

    /* an https URL to a plain HTTP server fails cleanly */
    struct srv s5 = {.resp = ok};
    srv_start(&s5);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/", s5.port);
    ck_assert_int_eq(call(wh, url, 3000), FL_UNAVAILABLE);
    srv_stop(&s5);

    ck_assert_ptr_null(webhook_new("/nonexistent/ca.pem", &err));
    ck_assert_int_eq(err.code, FL_INVALID_REQUEST);
    SSL_CTX_free(sctx);
    unlink(pem);
    unlink(other);
    rmdir(dir);
}
END_TEST

struct conc {
    struct srv s;
    enum fl_code rc;
    int status;
    char *body;
};

static void *conc_run(void *arg)
{
    struct conc *c = arg;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", c->s.port);
    size_t n;
    struct fl_err e;
    c->rc = webhook_post(wh, url, "{}", 2, 3000, &c->status, &c->body, &n, &e);
    return NULL;
}

START_TEST(concurrent_calls)
{
    /* several threads share one client */
    enum { N = 6 };
    static struct conc c[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        c[i].s.resp = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
        c[i].s.delay_ms = 50;
        srv_start(&c[i].s);
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, conc_run, &c[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        srv_stop(&c[i].s);
        ck_assert_int_eq(c[i].rc, FL_OK);
        ck_assert_int_eq(c[i].status, 201);
        ck_assert_str_eq(c[i].body, "{}");
        free(c[i].body);
    }
}
END_TEST

Suite *webhook_suite(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ok_json);
    tcase_add_test(tc, server_error);
    tcase_add_test(tc, chunked_trickled);
    tcase_add_test(tc, until_close);
    tcase_add_test(tc, slow_times_out);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, closed_without_answer);
    tcase_add_test(tc, oversize);
    tcase_add_test(tc, garbage);
    tcase_add_test(tc, bad_urls);
    tcase_add_test(tc, https_trust);
    tcase_add_test(tc, concurrent_calls);
    suite_add_tcase(s, tc);
    return s;
}
