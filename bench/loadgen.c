/*
 * loadgen.c - the HTTP/1.1 load generator behind `make bench`.
 *
 * Drives fleetd or moto_server with SigV4-signed AWS IoT registry requests
 * over N keep-alive connections spread across T threads. Each thread runs a
 * poll() loop over its own non-blocking connections, one request in flight
 * per connection; every request is built and signed when it is sent
 * (x-amz-date = now), so a run can last longer than the clock-skew window.
 * Prints one JSON line: {"scenario","ops","errors","seconds","ops_per_sec",...}.
 *
 * It knows the REST shape of the benchmarked operations and nothing of
 * fleetd's internals (only sigv4_sign() is shared). It refuses any target but
 * 127.0.0.1, and every run is bounded both in requests and in time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sigv4.h"

#define MAX_CONNS 256
#define MAX_THREADS 32
#define MAX_GROUPS 64
#define MAX_DURATION_S 3600.0
#define MAX_COUNT 10000000LL
#define NAME_CAP 129 /* AWS names are at most 128 characters */
#define PREFIX_CAP 64
#define RPATH_CAP 256        /* request: --path, query included */
#define RBODY_CAP (8 * 1024) /* request: --body-file */
#define EXPECT_CAP 256
#define TOKEN_CAP 2048
#define OUT_CAP 12288
#define IN_INIT (64 * 1024)
#define IN_CAP (8 * 1024 * 1024)
#define ERR_PRINT_MAX 5
#define CONNECT_FAIL_MAX 50
#define REQ_TIMEOUT_NS (30LL * 1000000000LL)
#define GRACE_NS (10LL * 1000000000LL)
#define POLL_MS 100

/* Latency histogram, log-linear in microseconds: exact below 128 us, then
 * 128 sub-buckets per octave (under 1% error) up to about 2^31 us. */
#define HIST_SUB 128
#define HIST_OCT 24
#define HIST_N (HIST_SUB * (HIST_OCT + 1))

enum scenario {
    SC_CREATE_THING,
    SC_SEED,
    SC_DESCRIBE_THING,
    SC_LIST_THINGS,
    SC_ADD_TO_GROUP,
    SC_LIST_IN_GROUP,
    SC_CREATE_GROUP,
    SC_REQUEST,
};

static const struct {
    const char *name;
    enum scenario sc;
    const char *what;
} SCENARIOS[] = {
    {"create-thing", SC_CREATE_THING, "CreateThing POST /things/PREFIX-<start+n>, unique names"},
    {"seed", SC_SEED, "create-thing for exactly --count things (PREFIX-<start>..), progress on stderr"},
    {"describe-thing", SC_DESCRIBE_THING, "DescribeThing GET /things/PREFIX-<random in 0..things-1>"},
    {"list-things", SC_LIST_THINGS, "ListThings GET /things?maxResults=M, each connection follows nextToken"},
    {"add-thing-to-group", SC_ADD_TO_GROUP, "AddThingToThingGroup PUT, things PREFIX-0..things-1 x --groups"},
    {"list-things-in-group", SC_LIST_IN_GROUP,
     "ListThingsInThingGroup GET /thing-groups/G/things?recursive=true&maxResults=M, follows nextToken"},
    {"create-group", SC_CREATE_GROUP,
     "CreateThingGroup POST /thing-groups/G for each of --groups (name@parent)"},
    {"request", SC_REQUEST,
     "any operation: --method M --path /p[?q] [--body-file F] [--expect S]; {n} in the path = start+n"},
};

struct opts {
    enum scenario sc;
    const char *sc_name;
    char host[16]; /* always "127.0.0.1" */
    int port;
    char key[128];
    char secret[128];
    char region[64];
    char service[32];
    int conns;
    int threads;
    double duration;
    double warmup;
    long long count;
    char prefix[PREFIX_CAP];
    long long things;
    long long start;
    char groups_buf[MAX_GROUPS * (2 * NAME_CAP + 1)];
    const char *groups[MAX_GROUPS];
    const char *parents[MAX_GROUPS]; /* NULL: top-level group */
    int ngroups;
    int spread;
    int attrs;
    int max_results;
    int nonempty;
    int progress;
    char label[64];
    /* request scenario */
    char method[8];
    char rpath[RPATH_CAP];
    char rbody[RBODY_CAP];
    size_t rbody_len;
    int has_rbody;
    char expect[EXPECT_CAP];
};

/* State shared by the workers; main owns it and outlives them. */
struct shared {
    const struct opts *o;
    atomic_llong next_ticket;
    atomic_llong done_ops;
    atomic_int err_printed;
    atomic_int finished;
    int64_t t0_ns;
    int64_t measure_ns; /* completions before this are warm-up */
    int64_t deadline_ns;
};

enum cstate { C_IDLE, C_CONNECTING, C_SENDING, C_READING, C_DONE };

struct conn {
    int fd;
    enum cstate st;
    int reused;        /* this socket already carried a response */
    int retried;       /* the current request was re-sent once */
    int connect_fails; /* consecutive */
    char out[OUT_CAP];
    size_t out_len, out_off;
    char *in;
    size_t in_len, in_cap;
    /* response parse state, valid once hdr_len > 0 */
    size_t hdr_len;
    long long clen; /* -1: unknown */
    int chunked;
    int close_after;
    int status;
    int64_t t_send_ns;
    char what[2 * NAME_CAP + 80]; /* "GET /things/x" for error messages */
    int group_ix;                 /* list-things-in-group: group being paged */
    int first_page;               /* the request in flight carries no nextToken */
    char token[TOKEN_CAP];
};

struct worker {
    int index;
    struct shared *sh;
    struct conn *conns;
    int nconns;
    uint64_t rng;
    time_t amz_sec;
    char amz_date[17];
    long long ops, errors, resent, warm_ops;
    long long items; /* things returned by the counted list pages */
    uint32_t hist[HIST_N];
    pthread_t tid;
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int hist_bucket(uint64_t us)
{
    if (us < HIST_SUB)
        return (int)us;
    int e = 63 - __builtin_clzll(us); /* >= 7 */
    int oct = e - 6;
    if (oct > HIST_OCT)
        return HIST_N - 1;
    return oct * HIST_SUB + (int)((us >> (e - 7)) & (HIST_SUB - 1));
}

static uint64_t hist_value(int b)
{
    if (b < HIST_SUB)
        return (uint64_t)b;
    int oct = b / HIST_SUB, sub = b % HIST_SUB;
    return (uint64_t)(HIST_SUB + sub) << (oct - 1);
}

/* Latency in ms at quantile q of the merged histogram, 0 when empty. */
static double hist_quantile(const uint64_t *h, uint64_t total, double q)
{
    if (total == 0)
        return 0.0;
    uint64_t want = (uint64_t)(q * (double)total);
    if (want >= total)
        want = total - 1;
    uint64_t seen = 0;
    for (int b = 0; b < HIST_N; b++) {
        seen += h[b];
        if (seen > want)
            return (double)hist_value(b) / 1000.0;
    }
    return (double)hist_value(HIST_N - 1) / 1000.0;
}

/* AWS name charset without ':' (so names need no percent-encoding). */
static int safe_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_'))
            return 0;
    }
    return 1;
}

/* RFC 3986 percent-encoding of s into out; returns -1 when out is too small. */
static int pct_encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (o + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* ---- request building ------------------------------------------------------ */

static const char *amz_date(struct worker *w)
{
    time_t t = time(NULL);
    if (t != w->amz_sec) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(w->amz_date, sizeof w->amz_date, "%Y%m%dT%H%M%SZ", &tm);
        w->amz_sec = t;
    }
    return w->amz_date;
}

/* Builds, signs and stores in c->out the request for ticket. Returns 0 or -1
 * (a name or token too long for the bounded buffers, or signing failed). */
static int build_request(struct worker *w, struct conn *c, long long ticket)
{
    const struct opts *o = w->sh->o;
    const char *method = "GET";
    char path[RPATH_CAP + 32], query[3 * TOKEN_CAP + 128], sbody[2 * NAME_CAP + 160];
    char enc[3 * TOKEN_CAP + 1];
    const char *body = sbody;
    int n = 0;
    int has_body = 0;
    query[0] = '\0';
    sbody[0] = '\0';

    switch (o->sc) {
    case SC_CREATE_THING:
    case SC_SEED:
        method = "POST";
        n = snprintf(path, sizeof path, "/things/%s-%lld", o->prefix, o->start + ticket);
        if (o->attrs)
            snprintf(sbody, sizeof sbody,
                     "{\"attributePayload\":{\"attributes\":{\"bench\":\"loadgen\",\"serial\":\"%lld\"}}}",
                     o->start + ticket);
        else
            snprintf(sbody, sizeof sbody, "{}");
        break;
    case SC_DESCRIBE_THING:
        n = snprintf(path, sizeof path, "/things/%s-%lld", o->prefix,
                     (long long)(rng_next(&w->rng) % (uint64_t)o->things));
        break;
    case SC_LIST_THINGS:
        snprintf(path, sizeof path, "/things");
        if (c->token[0] && pct_encode(c->token, enc, sizeof enc) < 0)
            return -1;
        /* query in canonical (sorted) order; the signer sorts anyway */
        n = c->token[0] ? snprintf(query, sizeof query, "maxResults=%d&nextToken=%s", o->max_results, enc)
                        : snprintf(query, sizeof query, "maxResults=%d", o->max_results);
        if (n < 0 || (size_t)n >= sizeof query)
            return -1;
        break;
    case SC_ADD_TO_GROUP: {
        method = "PUT";
        long long t = ticket % o->things;
        int g = o->spread ? (int)(ticket % o->ngroups) : (int)((ticket / o->things) % o->ngroups);
        snprintf(path, sizeof path, "/thing-groups/addThingToThingGroup");
        n = snprintf(sbody, sizeof sbody, "{\"thingGroupName\":\"%s\",\"thingName\":\"%s-%lld\"}",
                     o->groups[g], o->prefix, t);
        if (n < 0 || (size_t)n >= sizeof sbody)
            return -1;
        break;
    }
    case SC_LIST_IN_GROUP:
        if (!c->token[0])
            c->group_ix = o->ngroups == 1 ? 0 : (int)(rng_next(&w->rng) % (uint64_t)o->ngroups);
        n = snprintf(path, sizeof path, "/thing-groups/%s/things", o->groups[c->group_ix]);
        if (c->token[0] && pct_encode(c->token, enc, sizeof enc) < 0)
            return -1;
        n = c->token[0] ? snprintf(query, sizeof query, "maxResults=%d&nextToken=%s&recursive=true",
                                   o->max_results, enc)
                        : snprintf(query, sizeof query, "maxResults=%d&recursive=true", o->max_results);
        if (n < 0 || (size_t)n >= sizeof query)
            return -1;
        break;
    case SC_CREATE_GROUP: {
        int g = (int)(ticket % o->ngroups);
        method = "POST";
        n = snprintf(path, sizeof path, "/thing-groups/%s", o->groups[g]);
        if (o->parents[g])
            snprintf(sbody, sizeof sbody, "{\"parentGroupName\":\"%s\"}", o->parents[g]);
        else
            snprintf(sbody, sizeof sbody, "{}");
        break;
    }
    case SC_REQUEST: {
        method = o->method;
        /* {n} -> start+ticket; the query is whatever follows '?' */
        const char *tpl = o->rpath, *mark = strstr(tpl, "{n}");
        if (mark)
            n = snprintf(path, sizeof path, "%.*s%lld%s", (int)(mark - tpl), tpl, o->start + ticket,
                         mark + 3);
        else
            n = snprintf(path, sizeof path, "%s", tpl);
        if (n < 0 || (size_t)n >= sizeof path)
            return -1;
        char *q = strchr(path, '?');
        if (q) {
            *q++ = '\0';
            snprintf(query, sizeof query, "%s", q);
        }
        n = (int)strlen(path);
        body = o->rbody;
        has_body = o->has_rbody;
        break;
    }
    }
    if (n < 0 || (size_t)n >= sizeof path)
        return -1;

    char hostport[32], auth[1024];
    snprintf(hostport, sizeof hostport, "%s:%d", o->host, o->port);
    const char *date = amz_date(w);
    size_t blen = strlen(body);
    if (o->sc != SC_REQUEST)
        has_body = strcmp(method, "GET") != 0;
    struct http_kv hdrs[3] = {
        {(char *)"host", hostport},
        {(char *)"x-amz-date", (char *)date},
        {(char *)"content-type", (char *)"application/json"},
    };
    if (sigv4_sign(method, path, query, hdrs, has_body ? 3 : 2, body, blen, o->key, o->secret, o->region,
                   o->service, auth, sizeof auth) != 0)
        return -1;

    if (has_body)
        n = snprintf(c->out, sizeof c->out,
                     "%s %s%s%s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nContent-Type: application/json\r\n"
                     "Authorization: %s\r\nUser-Agent: fleetd-loadgen\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, query[0] ? "?" : "", query, hostport, date, auth, blen, body);
    else
        n = snprintf(c->out, sizeof c->out,
                     "%s %s%s%s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\n"
                     "Authorization: %s\r\nUser-Agent: fleetd-loadgen\r\n\r\n",
                     method, path, query[0] ? "?" : "", query, hostport, date, auth);
    if (n < 0 || (size_t)n >= sizeof c->out)
        return -1;
    c->out_len = (size_t)n;
    c->out_off = 0;
    snprintf(c->what, sizeof c->what, "%s %s", method, path);
    c->first_page = c->token[0] == '\0';
    return 0;
}

/* ---- response parsing --------------------------------------------------- */

static void reset_parse(struct conn *c)
{
    c->in_len = 0;
    c->hdr_len = 0;
    c->clen = -1;
    c->chunked = 0;
    c->close_after = 0;
    c->status = 0;
}

/* Walks a chunked body p[0..n). Returns 1 when complete (when decode is set,
 * the payload is compacted to p[0..*out_len)), 0 when more input is needed,
 * -1 when malformed. */
static int chunked_walk(char *p, size_t n, int decode, size_t *out_len)
{
    size_t pos = 0, w = 0;
    for (;;) {
        char *crlf = memmem(p + pos, n - pos, "\r\n", 2);
        if (crlf == NULL)
            return n - pos > 64 ? -1 : 0;
        size_t line = (size_t)(crlf - (p + pos));
        unsigned long long size = 0;
        size_t i = 0;
        for (; i < line && i < 16; i++) {
            char ch = p[pos + i];
            int v = (ch >= '0' && ch <= '9')   ? ch - '0'
                    : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
                    : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
                                               : -1;
            if (v < 0)
                break;
            size = size * 16 + (unsigned)v;
        }
        if (i == 0 || (i < line && p[pos + i] != ';' && p[pos + i] != ' ') || size > IN_CAP)
            return -1;
        pos += line + 2;
        if (size == 0) {
            for (;;) { /* trailers up to an empty line */
                char *e = memmem(p + pos, n - pos, "\r\n", 2);
                if (e == NULL)
                    return 0;
                size_t l = (size_t)(e - (p + pos));
                pos += l + 2;
                if (l == 0) {
                    *out_len = w;
                    return 1;
                }
            }
        }
        if (n - pos < size + 2)
            return 0;
        if (p[pos + size] != '\r' || p[pos + size + 1] != '\n')
            return -1;
        if (decode)
            memmove(p + w, p + pos, size);
        w += size;
        pos += size + 2;
    }
}

static int header_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return 0;
    const char *v = line + nl + 1, *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *val = v;
    *vlen = (size_t)(e - v);
    return 1;
}

static int token_in(const char *v, size_t vlen, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= vlen; i++)
        if (strncasecmp(v + i, tok, tl) == 0)
            return 1;
    return 0;
}

/* Parses the status line and headers once they are all in. Returns 1 when
 * parsed, 0 when more input is needed, -1 when malformed. */
static int parse_head(struct conn *c)
{
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (end == NULL)
        return c->in_len > 64 * 1024 ? -1 : 0;
    c->hdr_len = (size_t)(end - c->in) + 4;
    if (c->hdr_len < 14 || memcmp(c->in, "HTTP/1.", 7) != 0 || c->in[8] != ' ')
        return -1;
    int http10 = c->in[7] == '0';
    c->status = 0;
    for (int i = 9; i < 12; i++) {
        if (c->in[i] < '0' || c->in[i] > '9')
            return -1;
        c->status = c->status * 10 + (c->in[i] - '0');
    }
    int keep_alive = !http10;
    const char *p = (const char *)memmem(c->in, c->hdr_len, "\r\n", 2) + 2;
    while (p < end) {
        const char *e = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        size_t len = (size_t)(e - p);
        const char *v;
        size_t vl;
        if (header_is(p, len, "content-length", &v, &vl)) {
            long long cl = 0;
            if (vl == 0 || vl > 10)
                return -1;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return -1;
                cl = cl * 10 + (v[i] - '0');
            }
            c->clen = cl;
        } else if (header_is(p, len, "transfer-encoding", &v, &vl)) {
            c->chunked = token_in(v, vl, "chunked");
        } else if (header_is(p, len, "connection", &v, &vl)) {
            if (token_in(v, vl, "close"))
                keep_alive = 0;
            else if (token_in(v, vl, "keep-alive"))
                keep_alive = 1;
        }
        p = e + 2;
    }
    c->close_after = !keep_alive;
    if (c->clen > IN_CAP)
        return -1;
    return 1;
}

/* Returns 1 with *body and *blen set when the response is complete, 0 when more
 * input is needed, -1 when malformed. eof: the peer closed. */
static int parse_response(struct conn *c, int eof, const char **body, size_t *blen)
{
    if (c->hdr_len == 0) {
        int r = parse_head(c);
        if (r <= 0)
            return r;
    }
    char *b = c->in + c->hdr_len;
    size_t have = c->in_len - c->hdr_len;
    if (c->status == 204 || c->status == 304 || (c->status >= 100 && c->status < 200)) {
        *body = b;
        *blen = 0;
        return c->status >= 200 ? 1 : -1; /* no Expect: sent, so no 1xx */
    }
    if (c->chunked) {
        size_t dlen = 0;
        int r = chunked_walk(b, have, 0, &dlen);
        if (r == 1)
            chunked_walk(b, have, 1, &dlen);
        if (r == 1) {
            *body = b;
            *blen = dlen;
        }
        return r;
    }
    if (c->clen >= 0) {
        if (have < (size_t)c->clen)
            return 0;
        *body = b;
        *blen = (size_t)c->clen;
        return 1;
    }
    /* no length: the body ends when the server closes */
    c->close_after = 1;
    if (!eof)
        return 0;
    *body = b;
    *blen = have;
    return 1;
}

/* ---- connections ---------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->reused = 0;
}

/* Starts a non-blocking connect. Returns 0 (state CONNECTING or SENDING) or
 * -1 on immediate failure. */
static int conn_open(struct worker *w, struct conn *c)
{
    const struct opts *o = w->sh->o;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->reused = 0;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        c->st = C_SENDING;
        return 0;
    }
    if (errno == EINPROGRESS) {
        c->st = C_CONNECTING;
        return 0;
    }
    conn_close(c);
    return -1;
}

static void report_error(struct worker *w, struct conn *c, const char *why, const char *body, size_t blen)
{
    w->errors++;
    if (atomic_fetch_add(&w->sh->err_printed, 1) >= ERR_PRINT_MAX)
        return;
    if (blen > 300)
        blen = 300;
    fprintf(stderr, "loadgen: %s: %s: %s%s%.*s\n", w->sh->o->sc_name, c->what, why, blen ? ": " : "",
            (int)blen, body ? body : "");
}

static void try_send(struct worker *w, struct conn *c);

/* The request in flight on c failed at the transport level. A reused
 * keep-alive socket that the server closed before answering gets the request
 * once more on a fresh socket; anything else is an error. */
static void request_failed(struct worker *w, struct conn *c, const char *why)
{
    int resend = c->reused && c->in_len == 0 && !c->retried;
    conn_close(c);
    reset_parse(c);
    if (resend) {
        c->retried = 1;
        w->resent++;
        c->out_off = 0;
        if (conn_open(w, c) == 0) {
            if (c->st == C_SENDING)
                try_send(w, c);
            return;
        }
    }
    report_error(w, c, why, NULL, 0);
    c->token[0] = '\0';
    c->st = ++c->connect_fails > CONNECT_FAIL_MAX ? C_DONE : C_IDLE;
}

static void try_send(struct worker *w, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->st = C_SENDING;
            return;
        } else {
            request_failed(w, c, "send failed");
            return;
        }
    }
    c->st = C_READING;
}

/* Records a complete response and leaves c IDLE (or closed when the server
 * asked for it). */
static void finish_response(struct worker *w, struct conn *c, const char *body, size_t blen)
{
    const struct opts *o = w->sh->o;
    int64_t t = now_ns();
    int ok = c->status >= 200 && c->status < 300;
    const char *why = NULL;
    char whybuf[32];
    size_t nitems = 0;

    if (ok && (o->sc == SC_LIST_THINGS || o->sc == SC_LIST_IN_GROUP)) {
        json_error_t jerr;
        json_t *root = json_loadb(body, blen, 0, &jerr);
        json_t *tok = root ? json_object_get(root, "nextToken") : NULL;
        json_t *things = root ? json_object_get(root, "things") : NULL;
        nitems = json_array_size(things);
        if (!json_is_array(things)) {
            ok = 0;
            why = "2xx without a \"things\" array";
        } else if (o->nonempty && c->first_page && nitems == 0) {
            ok = 0;
            why = "first page is empty (--nonempty)";
        } else if (json_is_string(tok) && json_string_length(tok) > 0) {
            if (copy_str(c->token, sizeof c->token, json_string_value(tok)) < 0) {
                ok = 0;
                why = "nextToken too long";
            }
        } else {
            c->token[0] = '\0'; /* last page: start over */
        }
        json_decref(root);
    }
    if (ok && o->expect[0] && memmem(body, blen, o->expect, strlen(o->expect)) == NULL) {
        ok = 0;
        why = "2xx without the --expect string";
    }
    if (!ok) {
        if (why == NULL) {
            snprintf(whybuf, sizeof whybuf, "HTTP %d", c->status);
            why = whybuf;
        }
        report_error(w, c, why, body, blen);
        c->token[0] = '\0';
    } else if (t >= w->sh->measure_ns) {
        w->ops++;
        w->items += (long long)nitems;
        w->hist[hist_bucket((uint64_t)(t - c->t_send_ns) / 1000)]++;
    } else {
        w->warm_ops++;
    }
    atomic_fetch_add_explicit(&w->sh->done_ops, 1, memory_order_relaxed);
    c->connect_fails = 0;
    c->retried = 0;
    if (c->close_after)
        conn_close(c);
    else
        c->reused = 1;
    reset_parse(c);
    c->st = C_IDLE;
}

static void try_recv(struct worker *w, struct conn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            size_t ncap = c->in_cap * 2;
            char *nb = ncap <= IN_CAP ? realloc(c->in, ncap) : NULL;
            if (nb == NULL) {
                request_failed(w, c, "response larger than the buffer cap");
                return;
            }
            c->in = nb;
            c->in_cap = ncap;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
        int eof = n == 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            request_failed(w, c, "recv failed");
            return;
        }
        c->in_len += (size_t)n;
        const char *body = NULL;
        size_t blen = 0;
        int r = parse_response(c, eof, &body, &blen);
        if (r == 1) {
            finish_response(w, c, body, blen);
            return;
        }
        if (r < 0) {
            c->retried = 1; /* bytes arrived: never re-send */
            request_failed(w, c, "malformed HTTP response");
            return;
        }
        if (eof) {
            request_failed(w, c, "connection closed mid-response");
            return;
        }
    }
}

/* Claims the next ticket and sends its request on c, or retires c when the
 * run is over. */
static void start_request(struct worker *w, struct conn *c, int64_t t)
{
    const struct opts *o = w->sh->o;
    if (t >= w->sh->deadline_ns) {
        c->st = C_DONE;
        return;
    }
    long long ticket = atomic_fetch_add(&w->sh->next_ticket, 1);
    if (ticket >= o->count) {
        c->st = C_DONE;
        return;
    }
    if (build_request(w, c, ticket) != 0) {
        snprintf(c->what, sizeof c->what, "%s ticket %lld", o->sc_name, ticket);
        report_error(w, c, "cannot build/sign the request", NULL, 0);
        c->st = C_DONE;
        return;
    }
    reset_parse(c);
    c->retried = 0;
    c->t_send_ns = t;
    if (c->fd < 0 && conn_open(w, c) != 0) {
        report_error(w, c, "connect failed", NULL, 0);
        c->st = ++c->connect_fails > CONNECT_FAIL_MAX ? C_DONE : C_IDLE;
        return;
    }
    if (c->fd >= 0 && c->st != C_CONNECTING)
        try_send(w, c);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pollfd pfd[MAX_CONNS];
    int map[MAX_CONNS];
    int64_t hard_end = w->sh->deadline_ns + GRACE_NS;

    for (;;) {
        int64_t t = now_ns();
        int np = 0;
        for (int i = 0; i < w->nconns; i++) {
            struct conn *c = &w->conns[i];
            if (c->st == C_IDLE)
                start_request(w, c, t);
            if (c->st != C_IDLE && c->st != C_DONE && (t > hard_end || t - c->t_send_ns > REQ_TIMEOUT_NS)) {
                c->retried = 1;
                request_failed(w, c, "timed out");
                if (t > hard_end)
                    c->st = C_DONE;
            }
            if (c->st == C_CONNECTING || c->st == C_SENDING || c->st == C_READING) {
                pfd[np].fd = c->fd;
                pfd[np].events = c->st == C_READING ? POLLIN : POLLOUT;
                pfd[np].revents = 0;
                map[np++] = i;
            }
        }
        if (np == 0) {
            int idle = 0;
            for (int i = 0; i < w->nconns; i++)
                idle += w->conns[i].st == C_IDLE;
            if (idle == 0)
                break;
            continue;
        }
        if (poll(pfd, (nfds_t)np, POLL_MS) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < np; k++) {
            struct conn *c = &w->conns[map[k]];
            if (pfd[k].revents == 0)
                continue;
            if (c->st == C_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err != 0) {
                    c->retried = 1;
                    request_failed(w, c, "connect failed");
                    continue;
                }
                try_send(w, c);
            } else if (c->st == C_SENDING) {
                try_send(w, c);
            } else if (c->st == C_READING) {
                try_recv(w, c);
            }
        }
    }
    for (int i = 0; i < w->nconns; i++)
        conn_close(&w->conns[i]);
    atomic_fetch_add(&w->sh->finished, 1);
    return NULL;
}

/* ---- options ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: loadgen SCENARIO (--conn DATADIR/connection.json | --target 127.0.0.1:PORT\n"
               "                         [--key AKID --secret SECRET --region R]) [options]\n"
               "scenarios:\n");
    for (size_t i = 0; i < sizeof SCENARIOS / sizeof SCENARIOS[0]; i++)
        fprintf(f, "  %-22s %s\n", SCENARIOS[i].name, SCENARIOS[i].what);
    fprintf(f,
            "options:\n"
            "  --connections N   keep-alive connections (8, max %d)\n"
            "  --threads T       threads (2, max %d)\n"
            "  --duration S      seconds to run, after warm-up (5; max %.0f)\n"
            "  --warmup S        seconds of requests not counted (0)\n"
            "  --count N         at most N requests (default and max %lld; seed: exactly N things)\n"
            "  --prefix P        thing-name prefix (bench)\n"
            "  --things K        existing things PREFIX-0..K-1 (describe, add-thing-to-group)\n"
            "  --start N         first index for create-thing/seed (0)\n"
            "  --groups a,b@a    group names; name@parent sets the parent (create-group)\n"
            "  --spread          add-thing-to-group: thing i -> group i %% ngroups\n"
            "  --attrs           create-thing/seed: send two attributes\n"
            "  --max-results M   page size for list scenarios (50)\n"
            "  --nonempty        list scenarios: an empty first page is an error\n"
            "  --service S       SigV4 service name (iot)\n"
            "  --label L         label echoed in the result line\n"
            "  --progress        progress on stderr every 10 s\n"
            "  --method M        request: GET, POST, PUT, DELETE or PATCH\n"
            "  --path /p[?k=v]   request: path and query, unreserved characters only; {n} = start+n\n"
            "  --body-file F     request: body, sent as is with Content-Type application/json\n"
            "  --expect S        every 2xx body must contain S, else the op is an error\n",
            MAX_CONNS, MAX_THREADS, MAX_DURATION_S, MAX_COUNT);
}

static int set_target(struct opts *o, const char *hostport)
{
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL)
        return -1;
    size_t hl = (size_t)(colon - hostport);
    if (!((hl == 9 && strncmp(hostport, "127.0.0.1", 9) == 0) ||
          (hl == 9 && strncmp(hostport, "localhost", 9) == 0)))
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535)
        return -1;
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->port = (int)p;
    return 0;
}

static int load_conn_json(struct opts *o, const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", path, jerr.text);
        return -1;
    }
    const char *ep = json_string_value(json_object_get(root, "apiEndpoint"));
    const char *k = json_string_value(json_object_get(root, "accessKeyId"));
    const char *s = json_string_value(json_object_get(root, "secretAccessKey"));
    const char *r = json_string_value(json_object_get(root, "region"));
    int rc = -1;
    if (ep == NULL || k == NULL || s == NULL || strncmp(ep, "http://", 7) != 0)
        fprintf(stderr, "loadgen: %s: needs apiEndpoint (http://), accessKeyId, secretAccessKey\n", path);
    else if (set_target(o, ep + 7) != 0)
        fprintf(stderr, "loadgen: %s: apiEndpoint must be http://127.0.0.1:PORT\n", path);
    else if (copy_str(o->key, sizeof o->key, k) || copy_str(o->secret, sizeof o->secret, s) ||
             (r && copy_str(o->region, sizeof o->region, r)))
        fprintf(stderr, "loadgen: %s: field too long\n", path);
    else
        rc = 0;
    json_decref(root);
    return rc;
}

/* request --path: "/" then unreserved characters, '/', and a query of
 * k=v pairs joined by '&' (nothing that would need percent-encoding, so the
 * path as sent is its own canonical form); "{n}" may appear once. */
static int safe_path(const char *s)
{
    if (s[0] != '/' || strlen(s) >= RPATH_CAP)
        return 0;
    const char *mark = strstr(s, "{n}");
    if (mark && strstr(mark + 3, "{n}"))
        return 0;
    int in_query = 0;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (mark && p >= mark && p < mark + 3)
            continue;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || ch == '.' || ch == '~' || (!in_query && ch == '/') ||
                 (in_query && (ch == '=' || ch == '&'));
        if (ch == '?' && !in_query) {
            in_query = 1;
            continue;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

/* request --body-file: the whole file is the body, sent as is. */
static int read_body(struct opts *o, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = fread(o->rbody, 1, sizeof o->rbody, f);
    int big = n == sizeof o->rbody, rerr = ferror(f);
    fclose(f);
    if (big || rerr || memchr(o->rbody, '\0', n) != NULL) {
        fprintf(stderr, "loadgen: %s: unreadable, too large (max %d bytes) or binary\n", path, RBODY_CAP - 1);
        return -1;
    }
    o->rbody[n] = '\0';
    o->rbody_len = n;
    o->has_rbody = 1;
    return 0;
}

static int parse_groups(struct opts *o, const char *arg)
{
    if (copy_str(o->groups_buf, sizeof o->groups_buf, arg) < 0)
        return -1;
    o->ngroups = 0;
    for (char *save = NULL, *g = strtok_r(o->groups_buf, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
        if (o->ngroups == MAX_GROUPS)
            return -1;
        char *at = strchr(g, '@');
        if (at)
            *at++ = '\0';
        if (!safe_name(g, NAME_CAP - 1) || (at && !safe_name(at, NAME_CAP - 1)))
            return -1;
        o->groups[o->ngroups] = g;
        o->parents[o->ngroups++] = at;
    }
    return o->ngroups > 0 ? 0 : -1;
}

static int parse_ll(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
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

/* Fills o from argv. Returns 0, 1 after --help, -1 on a bad option. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    enum {
        O_CONN = 256,
        O_TARGET,
        O_KEY,
        O_SECRET,
        O_REGION,
        O_SERVICE,
        O_CONNS,
        O_THREADS,
        O_DURATION,
        O_WARMUP,
        O_COUNT,
        O_PREFIX,
        O_THINGS,
        O_START,
        O_GROUPS,
        O_SPREAD,
        O_ATTRS,
        O_MAXRES,
        O_LABEL,
        O_PROGRESS,
        O_NONEMPTY,
        O_METHOD,
        O_PATH,
        O_BODY_FILE,
        O_EXPECT,
        O_HELP
    };
    static const struct option lo[] = {
        {"conn", required_argument, NULL, O_CONN},
        {"target", required_argument, NULL, O_TARGET},
        {"key", required_argument, NULL, O_KEY},
        {"secret", required_argument, NULL, O_SECRET},
        {"region", required_argument, NULL, O_REGION},
        {"service", required_argument, NULL, O_SERVICE},
        {"connections", required_argument, NULL, O_CONNS},
        {"threads", required_argument, NULL, O_THREADS},
        {"duration", required_argument, NULL, O_DURATION},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"count", required_argument, NULL, O_COUNT},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"things", required_argument, NULL, O_THINGS},
        {"start", required_argument, NULL, O_START},
        {"groups", required_argument, NULL, O_GROUPS},
        {"spread", no_argument, NULL, O_SPREAD},
        {"attrs", no_argument, NULL, O_ATTRS},
        {"max-results", required_argument, NULL, O_MAXRES},
        {"label", required_argument, NULL, O_LABEL},
        {"progress", no_argument, NULL, O_PROGRESS},
        {"nonempty", no_argument, NULL, O_NONEMPTY},
        {"method", required_argument, NULL, O_METHOD},
        {"path", required_argument, NULL, O_PATH},
        {"body-file", required_argument, NULL, O_BODY_FILE},
        {"expect", required_argument, NULL, O_EXPECT},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    long long v;
    int have_count = 0, have_duration = 0;

    memset(o, 0, sizeof *o);
    snprintf(o->region, sizeof o->region, "us-east-1");
    snprintf(o->service, sizeof o->service, "iot");
    snprintf(o->prefix, sizeof o->prefix, "bench");
    snprintf(o->key, sizeof o->key, "testing");
    snprintf(o->secret, sizeof o->secret, "testing");
    o->conns = 8;
    o->threads = 2;
    o->duration = 5;
    o->count = MAX_COUNT;
    o->max_results = 50;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            usage(stdout);
            return 1;
        }
        usage(stderr);
        return -1;
    }
    o->sc_name = argv[1];
    size_t si = 0;
    for (; si < sizeof SCENARIOS / sizeof SCENARIOS[0]; si++)
        if (strcmp(SCENARIOS[si].name, argv[1]) == 0)
            break;
    if (si == sizeof SCENARIOS / sizeof SCENARIOS[0]) {
        fprintf(stderr, "loadgen: unknown scenario '%s'\n", argv[1]);
        usage(stderr);
        return -1;
    }
    o->sc = SCENARIOS[si].sc;

    optind = 2;
    int ch, bad = 0;
    while (!bad && (ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case O_CONN:
            bad = load_conn_json(o, optarg) != 0;
            break;
        case O_TARGET:
            if ((bad = set_target(o, optarg) != 0))
                fprintf(stderr, "loadgen: --target must be 127.0.0.1:PORT (loopback only)\n");
            break;
        case O_KEY:
            bad = copy_str(o->key, sizeof o->key, optarg) != 0;
            break;
        case O_SECRET:
            bad = copy_str(o->secret, sizeof o->secret, optarg) != 0;
            break;
        case O_REGION:
            bad = copy_str(o->region, sizeof o->region, optarg) != 0;
            break;
        case O_SERVICE:
            bad = copy_str(o->service, sizeof o->service, optarg) != 0;
            break;
        case O_CONNS:
            bad = parse_ll(optarg, 1, MAX_CONNS, &v) != 0;
            o->conns = (int)v;
            break;
        case O_THREADS:
            bad = parse_ll(optarg, 1, MAX_THREADS, &v) != 0;
            o->threads = (int)v;
            break;
        case O_DURATION:
            bad = parse_dbl(optarg, 0.1, MAX_DURATION_S, &o->duration) != 0;
            have_duration = 1;
            break;
        case O_WARMUP:
            bad = parse_dbl(optarg, 0, 60, &o->warmup) != 0;
            break;
        case O_COUNT:
            bad = parse_ll(optarg, 1, MAX_COUNT, &o->count) != 0;
            have_count = 1;
            break;
        case O_PREFIX:
            bad = !safe_name(optarg, PREFIX_CAP - 1) || copy_str(o->prefix, sizeof o->prefix, optarg) != 0;
            break;
        case O_THINGS:
            bad = parse_ll(optarg, 1, MAX_COUNT, &o->things) != 0;
            break;
        case O_START:
            bad = parse_ll(optarg, 0, MAX_COUNT, &o->start) != 0;
            break;
        case O_GROUPS:
            bad = parse_groups(o, optarg) != 0;
            break;
        case O_SPREAD:
            o->spread = 1;
            break;
        case O_ATTRS:
            o->attrs = 1;
            break;
        case O_MAXRES:
            bad = parse_ll(optarg, 1, 250, &v) != 0;
            o->max_results = (int)v;
            break;
        case O_LABEL:
            bad = copy_str(o->label, sizeof o->label, optarg) != 0;
            break;
        case O_PROGRESS:
            o->progress = 1;
            break;
        case O_NONEMPTY:
            o->nonempty = 1;
            break;
        case O_METHOD:
            bad = !(strcmp(optarg, "GET") == 0 || strcmp(optarg, "POST") == 0 || strcmp(optarg, "PUT") == 0 ||
                    strcmp(optarg, "DELETE") == 0 || strcmp(optarg, "PATCH") == 0) ||
                  copy_str(o->method, sizeof o->method, optarg) != 0;
            break;
        case O_PATH:
            bad = !safe_path(optarg) || copy_str(o->rpath, sizeof o->rpath, optarg) != 0;
            break;
        case O_BODY_FILE:
            bad = read_body(o, optarg) != 0;
            break;
        case O_EXPECT:
            bad = optarg[0] == '\0' || copy_str(o->expect, sizeof o->expect, optarg) != 0;
            break;
        case O_HELP:
            usage(stdout);
            return 1;
        default:
            bad = 1;
        }
        if (bad && ch != '?' && ch != O_TARGET && ch != O_CONN)
            fprintf(stderr, "loadgen: bad value for --%s\n", lo[ch - O_CONN].name);
    }
    if (bad)
        return -1;
    if (optind != argc) {
        fprintf(stderr, "loadgen: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->port == 0) {
        fprintf(stderr, "loadgen: give --conn or --target\n");
        return -1;
    }
    if ((o->sc == SC_DESCRIBE_THING || o->sc == SC_ADD_TO_GROUP) && o->things == 0) {
        fprintf(stderr, "loadgen: %s needs --things K\n", o->sc_name);
        return -1;
    }
    if ((o->sc == SC_ADD_TO_GROUP || o->sc == SC_LIST_IN_GROUP || o->sc == SC_CREATE_GROUP) &&
        o->ngroups == 0) {
        fprintf(stderr, "loadgen: %s needs --groups\n", o->sc_name);
        return -1;
    }
    if (o->sc == SC_REQUEST && (o->method[0] == '\0' || o->rpath[0] == '\0')) {
        fprintf(stderr, "loadgen: request needs --method and --path\n");
        return -1;
    }
    if (o->sc == SC_REQUEST && o->has_rbody && strcmp(o->method, "GET") == 0) {
        fprintf(stderr, "loadgen: request: GET takes no --body-file\n");
        return -1;
    }
    if (o->sc == SC_SEED && !have_count) {
        fprintf(stderr, "loadgen: seed needs --count N\n");
        return -1;
    }
    if (o->sc == SC_CREATE_GROUP) {
        /* parents must exist before their children: one request at a time, in order */
        o->conns = 1;
        if (!have_count)
            o->count = o->ngroups;
    }
    /* a run given a count and no duration is bounded by its count */
    if ((have_count || o->sc == SC_CREATE_GROUP) && !have_duration)
        o->duration = MAX_DURATION_S;
    if (o->conns < o->threads)
        o->threads = o->conns;
    return 0;
}

/* ---- main ------------------------------------------------------------------------- */

static void print_result(const struct opts *o, const struct worker *ws, double seconds)
{
    uint64_t *h = calloc(HIST_N, sizeof *h);
    long long ops = 0, errors = 0, resent = 0, items = 0;
    for (int i = 0; i < o->threads; i++) {
        ops += ws[i].ops;
        items += ws[i].items;
        errors += ws[i].errors;
        resent += ws[i].resent;
        for (int b = 0; h && b < HIST_N; b++)
            h[b] += ws[i].hist[b];
    }
    json_t *r = json_object();
    json_object_set_new(r, "scenario", json_string(o->sc_name));
    if (o->label[0])
        json_object_set_new(r, "label", json_string(o->label));
    json_object_set_new(r, "ops", json_integer(ops));
    json_object_set_new(r, "errors", json_integer(errors));
    json_object_set_new(r, "seconds", json_real(seconds));
    json_object_set_new(r, "ops_per_sec", json_real(seconds > 0 ? (double)ops / seconds : 0.0));
    json_object_set_new(r, "p50_ms", json_real(h ? hist_quantile(h, (uint64_t)ops, 0.50) : 0));
    json_object_set_new(r, "p99_ms", json_real(h ? hist_quantile(h, (uint64_t)ops, 0.99) : 0));
    if (o->sc == SC_LIST_THINGS || o->sc == SC_LIST_IN_GROUP) {
        json_object_set_new(r, "items", json_integer(items));
        json_object_set_new(r, "items_per_op", json_real(ops ? (double)items / (double)ops : 0.0));
    }
    json_object_set_new(r, "connections", json_integer(o->conns));
    json_object_set_new(r, "threads", json_integer(o->threads));
    json_object_set_new(r, "port", json_integer(o->port));
    json_object_set_new(r, "resent", json_integer(resent));
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) /* the client's share of the CPUs */
        json_object_set_new(r, "client_cpu_s",
                            json_real((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6));
    char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(7));
    if (s)
        printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(r);
    free(h);
}

int main(int argc, char **argv)
{
    struct opts *o = calloc(1, sizeof *o);
    if (o == NULL)
        return 2;
    int pr = parse_opts(argc, argv, o);
    if (pr != 0) {
        free(o);
        return pr > 0 ? 0 : 2;
    }

    /* Fail fast, before any load, when signing does not work. */
    {
        char auth[1024];
        struct http_kv h[2] = {{(char *)"host", (char *)"127.0.0.1:1"},
                               {(char *)"x-amz-date", (char *)"20250101T000000Z"}};
        if (sigv4_sign("GET", "/things", "", h, 2, "", 0, o->key, o->secret, o->region, o->service, auth,
                       sizeof auth) != 0) {
            fprintf(stderr, "loadgen: sigv4_sign() failed; cannot sign requests\n");
            free(o);
            return 2;
        }
    }

    struct shared sh;
    memset(&sh, 0, sizeof sh);
    sh.o = o;
    atomic_init(&sh.next_ticket, 0);
    atomic_init(&sh.done_ops, 0);
    atomic_init(&sh.err_printed, 0);
    atomic_init(&sh.finished, 0);

    struct worker *ws = calloc((size_t)o->threads, sizeof *ws);
    struct conn *cs = calloc((size_t)o->conns, sizeof *cs);
    int rc = 0;
    if (ws == NULL || cs == NULL) {
        rc = 2;
        goto out;
    }
    for (int i = 0; i < o->conns; i++) {
        cs[i].fd = -1;
        cs[i].st = C_IDLE;
        cs[i].in_cap = IN_INIT;
        cs[i].in = malloc(IN_INIT);
        if (cs[i].in == NULL) {
            rc = 2;
            goto out;
        }
    }
    /* connections are contiguous per worker: the first (conns % threads)
     * workers take one extra */
    int base = o->conns / o->threads, extra = o->conns % o->threads, next = 0;
    sh.t0_ns = now_ns();
    sh.measure_ns = sh.t0_ns + (int64_t)(o->warmup * 1e9);
    sh.deadline_ns = sh.measure_ns + (int64_t)(o->duration * 1e9);
    for (int i = 0; i < o->threads; i++) {
        ws[i].index = i;
        ws[i].sh = &sh;
        ws[i].conns = &cs[next];
        ws[i].nconns = base + (i < extra);
        next += ws[i].nconns;
        ws[i].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1) ^ (uint64_t)sh.t0_ns;
        if (ws[i].rng == 0)
            ws[i].rng = 1;
    }
    int started = 0;
    for (; started < o->threads; started++)
        if (pthread_create(&ws[started].tid, NULL, worker_main, &ws[started]) != 0)
            break;
    if (started < o->threads) {
        fprintf(stderr, "loadgen: cannot start threads\n");
        atomic_store(&sh.next_ticket, o->count); /* the started ones stop at once */
        rc = 2;
    }
    int64_t last = now_ns();
    while (atomic_load(&sh.finished) < started) {
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
        int64_t t = now_ns();
        if (o->progress && t - last >= 10LL * 1000000000LL) {
            last = t;
            long long d = atomic_load(&sh.done_ops);
            double el = (double)(t - sh.t0_ns) / 1e9;
            fprintf(stderr, "loadgen: %s: %lld requests done in %.0f s (%.0f/s)\n", o->sc_name, d, el,
                    (double)d / el);
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(ws[i].tid, NULL);
    int64_t t_end = now_ns();
    if (rc == 0) {
        double secs = (double)(t_end - (o->warmup > 0 ? sh.measure_ns : sh.t0_ns)) / 1e9;
        print_result(o, ws, secs);
        for (int i = 0; i < o->threads; i++)
            if (ws[i].errors)
                rc = 1;
    }
out:
    for (int i = 0; cs && i < o->conns; i++)
        free(cs[i].in);
    free(cs);
    free(ws);
    free(o);
    return rc;
}
