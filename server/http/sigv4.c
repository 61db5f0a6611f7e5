/*
 * sigv4.c - AWS Signature Version 4: the Authorization header parser, the
 * server-side verifier and the client-side signer, sharing one
 * canonicalisation so that what the load generator signs is exactly what the
 * server checks.
 *
 * The canonical request is never materialised: it is streamed into SHA-256
 * through a small stack buffer (struct sink), so an 8 KB path or a long
 * header costs no allocation and cannot overflow anything. Besides the two
 * OpenSSL contexts of each call (struct crypto), the heap is used only for
 * rare inputs: a path with "//", "." or ".." segments, a query larger than
 * the stack scratch, or a secret longer than 250 bytes.
 *
 * Knows nothing of libmicrohttpd: headers come through req->header(). Never
 * puts the secret, a derived key or the computed signature in a message.
 */
#include "sigv4.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define AMZ_DATE_LEN 16 /* yyyymmddTHHMMSSZ */
#define SINK_CAP 4096
#define QUERY_SCRATCH 2048
#define KEY_STACK 256
#define MAX_PAIRS 64   /* query pairs the signer accepts; the verifier has HTTP_MAX_QUERY */
#define MAX_HEADERS 64 /* headers the signer accepts */
#define ECHO_MAX 64    /* bytes of client input quoted back in a message */

static const char MSG_MISSING[] = "Missing Authentication Token";
static const char MSG_MISMATCH[] =
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details.";
static const char MSG_NO_DATE[] =
    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.";
static const char MSG_HOST[] = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";
static const char MSG_PAYLOAD[] =
    "The provided 'x-amz-content-sha256' header does not match what was computed.";
static const char MSG_INTERNAL[] = "Internal error while computing the request signature";

static const char HEX_UP[] = "0123456789ABCDEF";
static const char HEX_LO[] = "0123456789abcdef";

/* ---- small helpers ------------------------------------------------------ */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static const char *skip_ws(const char *p)
{
    while (is_ws(*p))
        p++;
    return p;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Lowercase RFC 7230 token characters: what a canonical header name may hold. */
static int is_lower_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* Copies at most ECHO_MAX bytes of client input for quoting in a message,
 * with anything unprintable replaced, so messages and logs stay one line. */
static const char *echo(char out[ECHO_MAX + 4], const char *s, size_t n)
{
    size_t k = n < ECHO_MAX ? n : ECHO_MAX, o = 0;
    for (size_t i = 0; i < k; i++)
        out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (k < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* ---- OpenSSL objects, fetched once per call ----------------------------------
 *
 * HMAC() and EVP_Digest(EVP_sha256()) fetch their algorithm on every call,
 * which costs more than the hashing itself for inputs this small. One
 * verification makes five HMACs and two digests, so it fetches SHA-256 and
 * HMAC once and reuses one context of each (7.9 -> 4.5 us per verification).
 * Nothing is shared between calls, so there is no global state to lock. */

struct crypto {
    EVP_MD *md;
    EVP_MD_CTX *mdctx;
    EVP_MAC *mac;
    EVP_MAC_CTX *macctx;
};

static void crypto_close(struct crypto *c)
{
    EVP_MAC_CTX_free(c->macctx);
    EVP_MAC_free(c->mac);
    EVP_MD_CTX_free(c->mdctx);
    EVP_MD_free(c->md);
    memset(c, 0, sizeof(*c));
}

static int crypto_open(struct crypto *c)
{
    memset(c, 0, sizeof(*c));
    char digest[] = "SHA256";
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                            OSSL_PARAM_construct_end()};
    c->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->mdctx = EVP_MD_CTX_new();
    c->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    c->macctx = c->mac ? EVP_MAC_CTX_new(c->mac) : NULL;
    if (c->md == NULL || c->mdctx == NULL || c->macctx == NULL ||
        !EVP_MAC_CTX_set_params(c->macctx, params)) {
        crypto_close(c);
        return -1;
    }
    return 0;
}

static int sha256(struct crypto *c, const void *data, size_t n, unsigned char out[32])
{
    return EVP_DigestInit_ex(c->mdctx, c->md, NULL) && EVP_DigestUpdate(c->mdctx, data, n) &&
                   EVP_DigestFinal_ex(c->mdctx, out, NULL)
               ? 0
               : -1;
}

static int hmac(struct crypto *c, const void *key, size_t keylen, const void *data, size_t n,
                unsigned char out[32])
{
    size_t len = 0;
    return EVP_MAC_init(c->macctx, key, keylen, NULL) && EVP_MAC_update(c->macctx, data, n) &&
                   EVP_MAC_final(c->macctx, out, &len, 32) && len == 32
               ? 0
               : -1;
}

/* ---- SHA-256 sink: the canonical request is streamed, never built --------- */

struct sink {
    struct crypto *c;
    size_t len;
    int failed;
    unsigned char buf[SINK_CAP];
};

static void sink_flush(struct sink *s)
{
    if (!s->failed && !EVP_DigestUpdate(s->c->mdctx, s->buf, s->len))
        s->failed = 1;
    s->len = 0;
}

static void sink_put(struct sink *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n > 0) {
        if (s->len == SINK_CAP)
            sink_flush(s);
        size_t k = SINK_CAP - s->len;
        if (k > n)
            k = n;
        memcpy(s->buf + s->len, p, k);
        s->len += k;
        p += k;
        n -= k;
    }
}

static void sink_putc(struct sink *s, unsigned char c)
{
    if (s->len == SINK_CAP)
        sink_flush(s);
    s->buf[s->len++] = c;
}

static void sink_puts(struct sink *s, const char *str)
{
    sink_put(s, str, strlen(str));
}

/* RFC 3986 encoding of raw bytes; '/' kept when keep_slash. */
static void sink_put_encoded(struct sink *s, const char *data, size_t n, int keep_slash)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t run = 0; /* pending unreserved bytes, copied in one go */
    for (size_t i = 0; i < n; i++) {
        if (is_unreserved(p[i]) || (keep_slash && p[i] == '/')) {
            run++;
            continue;
        }
        sink_put(s, p + i - run, run);
        run = 0;
        sink_putc(s, '%');
        sink_putc(s, (unsigned char)HEX_UP[p[i] >> 4]);
        sink_putc(s, (unsigned char)HEX_UP[p[i] & 15]);
    }
    sink_put(s, p + n - run, run);
}

/* Trimmed value with inner whitespace runs collapsed to one space. */
static void sink_put_trimmed(struct sink *s, const char *v)
{
    int pending = 0, started = 0;
    for (; *v; v++) {
        if (is_ws(*v)) {
            pending = started;
            continue;
        }
        if (pending)
            sink_putc(s, ' ');
        pending = 0;
        started = 1;
        sink_putc(s, (unsigned char)*v);
    }
}

static int sink_final(struct sink *s, unsigned char out[32])
{
    sink_flush(s);
    return !s->failed && EVP_DigestFinal_ex(s->c->mdctx, out, NULL) ? 0 : -1;
}

/* ---- time ----------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

static int64_t to_ms(int64_t y, int mo, int d, int h, int mi, int s)
{
    return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)s * 1000;
}

static int valid_fields(int64_t y, int mo, int d, int h, int mi, int s)
{
    return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) && h <= 23 && mi <= 59 &&
           s <= 59;
}

/* Formats ms since the epoch as yyyymmddTHHMMSSZ into out[32]. */
static void fmt_amz(int64_t ms, char out[32])
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 32, "%04lld%02d%02dT%02d%02d%02dZ", (long long)y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60));
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* x-amz-date: exactly yyyymmddTHHMMSSZ. Returns 0 and *ms, or -1. */
static int parse_amz(const char *s, int64_t *ms)
{
    if (strlen(s) != AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return -1;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !is_digit(s[i]))
            return -1;
    int64_t y = num(s, 4);
    int mo = num(s + 4, 2), d = num(s + 6, 2), h = num(s + 9, 2), mi = num(s + 11, 2), sec = num(s + 13, 2);
    if (!valid_fields(y, mo, d, h, mi, sec))
        return -1;
    *ms = to_ms(y, mo, d, h, mi, sec);
    return 0;
}

/* Date header, RFC 7231 IMF-fixdate "Sun, 30 Aug 2015 12:36:00 GMT"; the zone
 * may also be "UTC", "+0000" or "-0000" (Python's formatdate, which botocore
 * uses, writes "-0000"). Returns 0 and *ms, or -1. */
static int parse_http_date(const char *s, int64_t *ms)
{
    static const char days[] = "MonTueWedThuFriSatSun";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    size_t n = strlen(s);
    if (n < 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
        s[22] != ':' || s[25] != ' ')
        return -1;
    const char *zone = s + 26;
    if (strcmp(zone, "GMT") != 0 && strcmp(zone, "UTC") != 0 && strcmp(zone, "+0000") != 0 &&
        strcmp(zone, "-0000") != 0)
        return -1;
    int wd = -1, mo = -1;
    for (int i = 0; i < 7; i++)
        if (memcmp(s, days + 3 * i, 3) == 0)
            wd = i;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, months + 3 * i, 3) == 0)
            mo = i + 1;
    static const int digits[] = {5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24};
    for (size_t i = 0; i < sizeof(digits) / sizeof(digits[0]); i++)
        if (!is_digit(s[digits[i]]))
            return -1;
    if (wd < 0 || mo < 0)
        return -1;
    int64_t y = num(s + 12, 4);
    int d = num(s + 5, 2), h = num(s + 17, 2), mi = num(s + 20, 2), sec = num(s + 23, 2);
    if (!valid_fields(y, mo, d, h, mi, sec))
        return -1;
    *ms = to_ms(y, mo, d, h, mi, sec);
    return 0;
}

/* ---- canonical request ------------------------------------------------------ */

struct qpair {
    const char *n, *v; /* v NULL: no '=' */
    size_t nl, vl;
};

typedef const char *(*header_fn)(void *ctx, const char *name);

struct canon {
    const char *method;
    const char *path; /* raw, still percent-encoded */
    const struct qpair *q;
    int nq;
    const char *signed_headers; /* "a;b;c", validated */
    header_fn header;
    void *header_ctx;
    const char *payload_hash;
};

/* True when the path needs no RFC 3986 dot-segment or "//" removal, which is
 * every path an SDK sends: it is then encoded straight into the sink. */
static int path_is_normal(const char *p, size_t n)
{
    if (n == 0 || p[0] != '/')
        return 0;
    for (size_t i = 1; i <= n;) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t len = j - i;
        if ((len == 0 && j < n) || (len == 1 && p[i] == '.') || (len == 2 && p[i] == '.' && p[i + 1] == '.'))
            return 0;
        i = j + 1;
    }
    return 1;
}

/* Dot-segment and empty-segment removal as botocore and the JS SDK do it
 * before signing: "/a/./b/../c//d/" -> "/a/c/d/". out has room for n + 2. */
static size_t path_normalize(const char *p, size_t n, char *out)
{
    size_t o = 0, base, nseg = 0;
    if (n > 0 && p[0] == '/')
        out[o++] = '/';
    base = o;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0 || (len == 1 && p[i] == '.')) {
            /* skipped */
        } else if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (nseg > 0) {
                while (o > base && out[o - 1] != '/')
                    o--;
                if (o > base) /* drop the separator too, unless this was the first segment */
                    o--;
                nseg--;
            }
        } else {
            if (nseg > 0)
                out[o++] = '/';
            memcpy(out + o, p + i, len);
            o += len;
            nseg++;
        }
        i = j + 1;
    }
    if (n > 0 && p[n - 1] == '/' && nseg > 0)
        out[o++] = '/';
    return o;
}

static int canon_path(struct sink *s, const char *path)
{
    size_t n = strlen(path);
    if (n == 0) {
        sink_putc(s, '/');
        return 0;
    }
    if (path_is_normal(path, n)) {
        sink_put_encoded(s, path, n, 1);
        return 0;
    }
    char *tmp = malloc(n + 2);
    if (tmp == NULL)
        return -1;
    size_t k = path_normalize(path, n, tmp);
    sink_put_encoded(s, tmp, k, 1);
    free(tmp);
    return 0;
}

/* Percent-decodes s[0..n) (a malformed escape stays literal) and re-encodes
 * it with RFC 3986 into out, which has room for 3n. Returns the length. */
static size_t reencode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (unsigned char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (is_unreserved(c)) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = HEX_UP[c >> 4];
            out[o++] = HEX_UP[c & 15];
        }
    }
    return o;
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0)
        return c;
    return al < bl ? -1 : al > bl;
}

static int qpair_cmp(const struct qpair *a, const struct qpair *b)
{
    int c = bytes_cmp(a->n, a->nl, b->n, b->nl);
    return c != 0 ? c : bytes_cmp(a->v, a->vl, b->v, b->vl);
}

/* Decodes, re-encodes and sorts the query pairs: the received encoding
 * (lowercase hex, "%7E" for '~' ...) does not matter, only the bytes do. */
static int canon_query(struct sink *s, const struct qpair *q, int nq)
{
    if (nq <= 0)
        return 0;
    if (nq > MAX_PAIRS)
        return -1;
    size_t need = 0;
    for (int i = 0; i < nq; i++) {
        if (q[i].nl > SIZE_MAX / 8 || q[i].vl > SIZE_MAX / 8 || need > SIZE_MAX / 2)
            return -1;
        need += 3 * (q[i].nl + q[i].vl);
    }
    char stack[QUERY_SCRATCH];
    char *buf = need <= sizeof(stack) ? stack : malloc(need);
    if (buf == NULL)
        return -1;
    struct qpair e[MAX_PAIRS];
    size_t o = 0;
    for (int i = 0; i < nq; i++) {
        e[i].n = buf + o;
        e[i].nl = reencode(q[i].n, q[i].nl, buf + o);
        o += e[i].nl;
        e[i].v = buf + o;
        e[i].vl = q[i].v ? reencode(q[i].v, q[i].vl, buf + o) : 0;
        o += e[i].vl;
    }
    for (int i = 1; i < nq; i++) { /* insertion sort: at most a few dozen pairs */
        struct qpair t = e[i];
        int j = i;
        while (j > 0 && qpair_cmp(&e[j - 1], &t) > 0) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = t;
    }
    for (int i = 0; i < nq; i++) {
        if (i > 0)
            sink_putc(s, '&');
        sink_put(s, e[i].n, e[i].nl);
        sink_putc(s, '=');
        sink_put(s, e[i].v, e[i].vl);
    }
    if (buf != stack)
        free(buf);
    return 0;
}

/* Hashes the canonical request. Returns 0, 1 when a signed header is absent
 * from the request, -1 on allocation or OpenSSL failure. */
static int canon_hash(struct crypto *cr, const struct canon *c, unsigned char out[32])
{
    struct sink s;
    s.c = cr;
    s.len = 0;
    s.failed = !EVP_DigestInit_ex(cr->mdctx, cr->md, NULL);
    int rc = 0;

    sink_puts(&s, c->method);
    sink_putc(&s, '\n');
    if (canon_path(&s, c->path) != 0)
        rc = -1;
    sink_putc(&s, '\n');
    if (rc == 0 && canon_query(&s, c->q, c->nq) != 0)
        rc = -1;
    sink_putc(&s, '\n');

    char name[sizeof(((struct sigv4_auth *)0)->signed_headers)];
    const char *p = c->signed_headers;
    while (rc == 0 && *p) {
        const char *e = strchr(p, ';');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n >= sizeof(name)) {
            rc = -1;
            break;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        const char *v = c->header ? c->header(c->header_ctx, name) : NULL;
        if (v == NULL) {
            rc = 1;
            break;
        }
        sink_put(&s, name, n);
        sink_putc(&s, ':');
        sink_put_trimmed(&s, v);
        sink_putc(&s, '\n');
        p = e ? e + 1 : p + n;
    }
    sink_putc(&s, '\n');
    sink_puts(&s, c->signed_headers);
    sink_putc(&s, '\n');
    sink_puts(&s, c->payload_hash);

    if (rc == 0 && sink_final(&s, out) != 0)
        rc = -1;
    return rc;
}

/* ---- signing key and signature ---------------------------------------------- */

/* sig_hex = hex(HMAC(kSigning, string-to-sign)). Returns 0 or -1. Wipes the
 * derived keys. */
static int signature_hex(struct crypto *c, const char *secret, const char *date8, const char *region,
                         const char *service, const char *amzdate, const unsigned char creq[32],
                         char sig_hex[65])
{
    size_t sl = strlen(secret);
    if (sl > SIZE_MAX - 5)
        return -1;
    unsigned char kstack[KEY_STACK], k1[32], k2[32], sig[32];
    unsigned char *key = sl + 4 <= sizeof(kstack) ? kstack : malloc(sl + 4);
    if (key == NULL)
        return -1;
    memcpy(key, "AWS4", 4);
    memcpy(key + 4, secret, sl);

    char creq_hex[65];
    core_hex(creq, 32, creq_hex);
    char sts[64 + AMZ_DATE_LEN + 8 + 2 * sizeof(((struct sigv4_auth *)0)->region) + 64];
    int n = snprintf(sts, sizeof(sts), ALGORITHM "\n%s\n%.8s/%s/%s/" TERMINATOR "\n%s", amzdate, date8,
                     region, service, creq_hex);
    int rc = n > 0 && (size_t)n < sizeof(sts) ? 0 : -1;
    if (rc == 0)
        rc = hmac(c, key, sl + 4, date8, 8, k1);
    if (rc == 0)
        rc = hmac(c, k1, 32, region, strlen(region), k2);
    if (rc == 0)
        rc = hmac(c, k2, 32, service, strlen(service), k1);
    if (rc == 0)
        rc = hmac(c, k1, 32, TERMINATOR, strlen(TERMINATOR), k2);
    if (rc == 0)
        rc = hmac(c, k2, 32, sts, (size_t)n, sig);
    if (rc == 0)
        core_hex(sig, 32, sig_hex);
    OPENSSL_cleanse(key, sl + 4);
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(sig, sizeof(sig));
    if (key != kstack)
        free(key);
    return rc;
}

static int body_hash_hex(struct crypto *c, const void *body, size_t len, char out[65])
{
    unsigned char md[32];
    if (body == NULL)
        len = 0;
    if (sha256(c, len ? body : "", len, md) != 0)
        return -1;
    core_hex(md, 32, out);
    return 0;
}

/* ---- Authorization header ------------------------------------------------------ */

struct span {
    const char *p;
    size_t n;
};

static int span_eq(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int all_of(struct span s, int (*pred)(char))
{
    for (size_t i = 0; i < s.n; i++)
        if (!pred(s.p[i]))
            return 0;
    return 1;
}

static int is_akid_char(char c)
{
    return c > 0x20 && c < 0x7f && c != '/' && c != ',' && c != '=' && c != ';';
}

static int is_scope_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static int is_hex_char(char c)
{
    return hexval(c) >= 0;
}

static enum fl_code parse_credential(struct span v, struct sigv4_auth *out, struct fl_err *err)
{
    char e[ECHO_MAX + 4];
    struct span part[5];
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= v.n; i++) {
        if (i == v.n || v.p[i] == '/') {
            if (k == 5) {
                k = 6;
                break;
            }
            part[k].p = v.p + start;
            part[k].n = i - start;
            k++;
            start = i + 1;
        }
    }
    if (k != 5)
        return fl_err_set(err, FL_INVALID_SIGNATURE,
                          "Credential must have exactly 5 slash-delimited elements, e.g. "
                          "keyid/date/region/service/term, got '%s'",
                          echo(e, v.p, v.n));
    if (part[0].n == 0 || part[0].n >= sizeof(out->access_key_id) || !all_of(part[0], is_akid_char))
        return fl_err_set(err, FL_INVALID_SIGNATURE, "The access key ID in the Credential is malformed: '%s'",
                          echo(e, part[0].p, part[0].n));
    if (part[1].n != 8 || !all_of(part[1], is_digit))
        return fl_err_set(err, FL_INVALID_SIGNATURE, "Credential date must be in yyyymmdd format, got '%s'",
                          echo(e, part[1].p, part[1].n));
    if (part[2].n == 0 || part[2].n >= sizeof(out->region) || !all_of(part[2], is_scope_char))
        return fl_err_set(err, FL_INVALID_SIGNATURE,
                          "Credential should be scoped to a valid region, not '%s'.",
                          echo(e, part[2].p, part[2].n));
    if (part[3].n == 0 || part[3].n >= sizeof(out->service) || !all_of(part[3], is_scope_char))
        return fl_err_set(err, FL_INVALID_SIGNATURE,
                          "Credential should be scoped to a valid service, not '%s'.",
                          echo(e, part[3].p, part[3].n));
    if (!span_eq(part[4], TERMINATOR))
        return fl_err_set(err, FL_INVALID_SIGNATURE,
                          "Credential should be scoped with a valid terminator: '" TERMINATOR "', not '%s'.",
                          echo(e, part[4].p, part[4].n));
    memcpy(out->access_key_id, part[0].p, part[0].n);
    memcpy(out->date, part[1].p, 8);
    memcpy(out->region, part[2].p, part[2].n);
    memcpy(out->service, part[3].p, part[3].n);
    return FL_OK;
}

static enum fl_code parse_signed_headers(struct span v, struct sigv4_auth *out, struct fl_err *err)
{
    char e[ECHO_MAX + 4];
    if (v.n >= sizeof(out->signed_headers))
        return fl_err_set(err, FL_INVALID_SIGNATURE, "SignedHeaders is too long (at most %zu characters)",
                          sizeof(out->signed_headers) - 1);
    struct span prev = {NULL, 0};
    size_t start = 0;
    for (size_t i = 0; i <= v.n; i++) {
        if (i < v.n && v.p[i] != ';')
            continue;
        struct span name = {v.p + start, i - start};
        if (name.n == 0 || !all_of(name, is_lower_tchar) ||
            (prev.p && bytes_cmp(prev.p, prev.n, name.p, name.n) >= 0))
            return fl_err_set(err, FL_INVALID_SIGNATURE,
                              "SignedHeaders must be lowercase header names, sorted, without duplicates and "
                              "separated by ';', got '%s'",
                              echo(e, v.p, v.n));
        prev = name;
        start = i + 1;
    }
    memcpy(out->signed_headers, v.p, v.n);
    out->signed_headers[v.n] = '\0';
    return FL_OK;
}

enum fl_code sigv4_parse_authorization(const char *hdr, struct sigv4_auth *out, struct fl_err *err)
{
    char e[ECHO_MAX + 4];
    memset(out, 0, sizeof(*out));
    if (hdr == NULL)
        return fl_err_set(err, FL_MISSING_AUTH, "%s", MSG_MISSING);
    const char *p = skip_ws(hdr);
    if (*p == '\0')
        return fl_err_set(err, FL_MISSING_AUTH, "%s", MSG_MISSING);

    const char *q = p;
    while (*q && !is_ws(*q))
        q++;
    if ((size_t)(q - p) != strlen(ALGORITHM) || memcmp(p, ALGORITHM, strlen(ALGORITHM)) != 0)
        return fl_err_set(err, FL_INVALID_SIGNATURE,
                          "Unsupported Authorization algorithm '%s': only " ALGORITHM " is supported.",
                          echo(e, p, (size_t)(q - p)));
    p = skip_ws(q);

    static const char *const names[3] = {"Credential", "SignedHeaders", "Signature"};
    struct span val[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    while (*p) {
        const char *name = p;
        while (*p && *p != '=' && *p != ',' && !is_ws(*p))
            p++;
        if (*p != '=')
            return fl_err_set(err, FL_INVALID_SIGNATURE,
                              "Invalid key=value pair (missing equal-sign) in Authorization header: '%s'",
                              echo(e, name, (size_t)(p - name)));
        struct span n = {name, (size_t)(p - name)};
        const char *v = ++p;
        while (*p && *p != ',' && !is_ws(*p))
            p++;
        int slot = -1;
        for (int i = 0; i < 3; i++)
            if (span_eq(n, names[i]))
                slot = i;
        if (slot < 0)
            return fl_err_set(err, FL_INVALID_SIGNATURE,
                              "Authorization header has an unknown parameter '%s'.", echo(e, n.p, n.n));
        if (val[slot].p != NULL)
            return fl_err_set(err, FL_INVALID_SIGNATURE,
                              "Authorization header has more than one '%s' parameter.", names[slot]);
        val[slot].p = v;
        val[slot].n = (size_t)(p - v);
        p = skip_ws(p);
        if (*p == ',') {
            p = skip_ws(p + 1);
            if (*p == '\0')
                return fl_err_set(err, FL_INVALID_SIGNATURE, "Authorization header ends with a comma.");
        } else if (*p != '\0') {
            return fl_err_set(err, FL_INVALID_SIGNATURE,
                              "Authorization header parameters must be separated by commas, near '%s'",
                              echo(e, p, strlen(p)));
        }
    }
    if (val[0].n == 0 || val[1].n == 0 || val[2].n == 0) /* AWS lists every missing one, in this order */
        return fl_err_set(err, FL_INVALID_SIGNATURE, "%s%s%s",
                          val[0].n ? "" : "Authorization header requires 'Credential' parameter. ",
                          val[2].n ? "" : "Authorization header requires 'Signature' parameter. ",
                          val[1].n ? "" : "Authorization header requires 'SignedHeaders' parameter. ");

    enum fl_code rc = parse_credential(val[0], out, err);
    if (rc == FL_OK)
        rc = parse_signed_headers(val[1], out, err);
    if (rc == FL_OK && (val[2].n != 64 || !all_of(val[2], is_hex_char)))
        rc = fl_err_set(err, FL_INVALID_SIGNATURE, "Signature must be 64 hexadecimal characters.");
    if (rc != FL_OK) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    for (int i = 0; i < 64; i++)
        out->signature[i] = HEX_LO[hexval(val[2].p[i])];
    return FL_OK;
}

/* ---- verification ---------------------------------------------------------------- */

static const char *req_header(const struct http_req *req, const char *name)
{
    return req->header ? req->header(req->header_ctx, name) : NULL;
}

static int has_name(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ';');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && memcmp(p, name, n) == 0)
            return 1;
        p = e ? e + 1 : p + k;
    }
    return 0;
}

/* An auth that did not come from sigv4_parse_authorization must not make us
 * read past a field. */
static int auth_is_sane(const struct sigv4_auth *a)
{
    if (!memchr(a->access_key_id, 0, sizeof(a->access_key_id)) || !memchr(a->region, 0, sizeof(a->region)) ||
        !memchr(a->service, 0, sizeof(a->service)) ||
        !memchr(a->signed_headers, 0, sizeof(a->signed_headers)) ||
        strnlen(a->signature, sizeof(a->signature)) != 64 || strnlen(a->date, sizeof(a->date)) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        if (!is_digit(a->date[i]))
            return 0;
    return a->region[0] && a->service[0] && a->signed_headers[0];
}

/* The part of sigv4_verify that needs OpenSSL: payload hash, canonical
 * request, signature, comparison. */
static enum fl_code verify_signature(struct crypto *cr, const struct http_req *req,
                                     const struct sigv4_auth *auth, const char *secret, const char *amzdate,
                                     struct fl_err *err)
{
    /* A signed x-amz-content-sha256 only protects the body if it is the body's
     * hash: check it (UNSIGNED-PAYLOAD is the client's explicit opt-out). */
    char body_hex[65];
    const char *ph = req_header(req, "x-amz-content-sha256");
    if (ph == NULL || strcmp(ph, UNSIGNED_PAYLOAD) != 0) {
        if (body_hash_hex(cr, req->body, req->body_len, body_hex) != 0)
            return fl_err_set(err, FL_INTERNAL, "%s", MSG_INTERNAL);
        if (ph != NULL && strcasecmp(ph, body_hex) != 0)
            return fl_err_set(err, FL_INVALID_SIGNATURE, "%s", MSG_PAYLOAD);
    }

    struct qpair q[HTTP_MAX_QUERY];
    int nq = req->nquery < 0 ? 0 : req->nquery > HTTP_MAX_QUERY ? HTTP_MAX_QUERY : req->nquery;
    for (int i = 0; i < nq; i++) {
        const struct http_kv *kv = &req->query_raw[i];
        q[i].n = kv->name ? kv->name : "";
        q[i].nl = strlen(q[i].n);
        q[i].v = kv->value;
        q[i].vl = kv->value ? strlen(kv->value) : 0;
    }
    struct canon c = {
        .method = req->method,
        .path = req->path,
        .q = q,
        .nq = nq,
        .signed_headers = auth->signed_headers,
        .header = req->header,
        .header_ctx = req->header_ctx,
        .payload_hash = ph ? ph : body_hex,
    };
    unsigned char creq[32];
    int rc = canon_hash(cr, &c, creq);
    if (rc == 1)
        return fl_err_set(err, FL_INVALID_SIGNATURE, "%s", MSG_MISMATCH);
    if (rc != 0)
        return fl_err_set(err, FL_INTERNAL, "%s", MSG_INTERNAL);
    char sig[65];
    if (signature_hex(cr, secret, auth->date, auth->region, auth->service, amzdate, creq, sig) != 0)
        return fl_err_set(err, FL_INTERNAL, "%s", MSG_INTERNAL);
    int same = CRYPTO_memcmp(sig, auth->signature, 64) == 0;
    OPENSSL_cleanse(sig, sizeof(sig));
    if (!same)
        return fl_err_set(err, FL_INVALID_SIGNATURE, "%s", MSG_MISMATCH);
    return FL_OK;
}

enum fl_code sigv4_verify(const struct http_req *req, const struct sigv4_auth *auth, const char *secret,
                          int64_t now_ms, struct fl_err *err)
{
    char e[ECHO_MAX + 4];
    if (req == NULL || auth == NULL || secret == NULL || req->method == NULL || req->path == NULL)
        return fl_err_set(err, FL_INTERNAL, "%s", MSG_INTERNAL);
    if (!auth_is_sane(auth))
        return fl_err_set(err, FL_INVALID_SIGNATURE, "The Authorization header is malformed.");
    if (!has_name(auth->signed_headers, "host"))
        return fl_err_set(err, FL_INVALID_SIGNATURE, "%s", MSG_HOST);

    /* The request time: X-Amz-Date wins over Date, as at AWS. */
    char amzdate[32];
    int64_t t;
    const char *xd = req_header(req, "x-amz-date");
    const char *hd = xd ? NULL : req_header(req, "date");
    if (xd != NULL) {
        if (parse_amz(xd, &t) != 0)
            return fl_err_set(err, FL_INVALID_SIGNATURE,
                              "Date must be in ISO-8601 'basic format'. Got '%s'. See "
                              "http://en.wikipedia.org/wiki/ISO_8601",
                              echo(e, xd, strlen(xd)));
        memcpy(amzdate, xd, AMZ_DATE_LEN + 1);
    } else if (hd != NULL) {
        if (parse_http_date(hd, &t) != 0)
            return fl_err_set(
                err, FL_INVALID_SIGNATURE,
                "Date must be in RFC 7231 format, e.g. 'Sun, 30 Aug 2015 12:36:00 GMT'. Got '%s'.",
                echo(e, hd, strlen(hd)));
        fmt_amz(t, amzdate);
    } else {
        return fl_err_set(err, FL_INVALID_SIGNATURE, "%s", MSG_NO_DATE);
    }
    if (memcmp(auth->date, amzdate, 8) != 0)
        return fl_err_set(
            err, FL_INVALID_SIGNATURE,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
            "HTTP: '%s' != '%.8s', from '%s'.",
            auth->date, amzdate, amzdate);
    char then[32], now[32];
    if (t < now_ms - SIGV4_SKEW_MS) {
        fmt_amz(now_ms - SIGV4_SKEW_MS, then);
        fmt_amz(now_ms, now);
        return fl_err_set(err, FL_INVALID_SIGNATURE,
                          "Signature expired: %s is now earlier than %s (%s - %d min.)", amzdate, then, now,
                          SIGV4_SKEW_MS / 60000);
    }
    if (t > now_ms + SIGV4_SKEW_MS) {
        fmt_amz(now_ms + SIGV4_SKEW_MS, then);
        fmt_amz(now_ms, now);
        return fl_err_set(err, FL_INVALID_SIGNATURE,
                          "Signature not yet current: %s is still later than %s (%s + %d min.)", amzdate,
                          then, now, SIGV4_SKEW_MS / 60000);
    }

    struct crypto cr;
    if (crypto_open(&cr) != 0)
        return fl_err_set(err, FL_INTERNAL, "%s", MSG_INTERNAL);
    enum fl_code rc = verify_signature(&cr, req, auth, secret, amzdate, err);
    crypto_close(&cr);
    return rc;
}

/* ---- client side ------------------------------------------------------------------- */

struct sign_headers {
    const char *name[MAX_HEADERS]; /* lowercase, sorted */
    const char *value[MAX_HEADERS];
    int n;
};

static const char *sign_header_get(void *ctx, const char *name)
{
    const struct sign_headers *h = ctx;
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->name[i], name) == 0)
            return h->value[i];
    return NULL;
}

int sigv4_sign(const char *method, const char *raw_path, const char *raw_query, const struct http_kv *headers,
               int nheaders, const void *body, size_t body_len, const char *access_key_id, const char *secret,
               const char *region, const char *service, char *out, size_t outlen)
{
    if (method == NULL || raw_path == NULL || access_key_id == NULL || secret == NULL || region == NULL ||
        service == NULL || out == NULL || outlen == 0 || nheaders < 1 || nheaders > MAX_HEADERS ||
        headers == NULL)
        return -1;
    out[0] = '\0';
    if (strlen(region) >= sizeof(((struct sigv4_auth *)0)->region) ||
        strlen(service) >= sizeof(((struct sigv4_auth *)0)->service))
        return -1;

    /* Lowercased names, packed; they must fit the SignedHeaders value anyway. */
    char names[sizeof(((struct sigv4_auth *)0)->signed_headers) + MAX_HEADERS];
    struct sign_headers h = {.n = 0};
    size_t o = 0;
    for (int i = 0; i < nheaders; i++) {
        const char *nm = headers[i].name;
        if (nm == NULL || headers[i].value == NULL || nm[0] == '\0')
            return -1;
        size_t n = strlen(nm);
        if (o + n + 1 > sizeof(names))
            return -1;
        char *dst = names + o;
        for (size_t k = 0; k < n; k++) {
            char ch = nm[k] >= 'A' && nm[k] <= 'Z' ? (char)(nm[k] - 'A' + 'a') : nm[k];
            if (!is_lower_tchar(ch))
                return -1;
            dst[k] = ch;
        }
        dst[n] = '\0';
        o += n + 1;
        int j = h.n++;
        while (j > 0 && strcmp(h.name[j - 1], dst) > 0) {
            h.name[j] = h.name[j - 1];
            h.value[j] = h.value[j - 1];
            j--;
        }
        if (j > 0 && strcmp(h.name[j - 1], dst) == 0)
            return -1; /* one value per name: the server sees only one */
        h.name[j] = dst;
        h.value[j] = headers[i].value;
    }
    char signed_headers[sizeof(((struct sigv4_auth *)0)->signed_headers)];
    size_t sl = 0;
    for (int i = 0; i < h.n; i++) {
        size_t n = strlen(h.name[i]);
        if (sl + n + 1 > sizeof(signed_headers))
            return -1;
        if (i > 0)
            signed_headers[sl++] = ';';
        memcpy(signed_headers + sl, h.name[i], n);
        sl += n;
    }
    signed_headers[sl] = '\0';
    if (!has_name(signed_headers, "host"))
        return -1;

    char amzdate[32];
    int64_t t;
    const char *xd = sign_header_get(&h, "x-amz-date"), *hd = sign_header_get(&h, "date");
    if (xd != NULL) {
        if (parse_amz(xd, &t) != 0)
            return -1;
        memcpy(amzdate, xd, AMZ_DATE_LEN + 1);
    } else if (hd != NULL && parse_http_date(hd, &t) == 0) {
        fmt_amz(t, amzdate);
    } else {
        return -1;
    }

    char body_hex[65];
    const char *ph = sign_header_get(&h, "x-amz-content-sha256");

    struct qpair q[MAX_PAIRS];
    int nq = 0;
    for (const char *p = raw_query ? raw_query : ""; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > 0) {
            if (nq == MAX_PAIRS)
                return -1;
            const char *eq = memchr(p, '=', n);
            q[nq].n = p;
            q[nq].nl = eq ? (size_t)(eq - p) : n;
            q[nq].v = eq ? eq + 1 : NULL;
            q[nq].vl = eq ? n - (size_t)(eq - p) - 1 : 0;
            nq++;
        }
        p += n + (amp != NULL);
    }

    struct canon c = {
        .method = method,
        .path = raw_path,
        .q = q,
        .nq = nq,
        .signed_headers = signed_headers,
        .header = sign_header_get,
        .header_ctx = &h,
        .payload_hash = ph ? ph : body_hex,
    };
    unsigned char creq[32];
    char sig[65];
    struct crypto cr;
    if (crypto_open(&cr) != 0)
        return -1;
    int rc = ph == NULL ? body_hash_hex(&cr, body, body_len, body_hex) : 0;
    if (rc == 0)
        rc = canon_hash(&cr, &c, creq);
    if (rc == 0)
        rc = signature_hex(&cr, secret, amzdate, region, service, amzdate, creq, sig);
    crypto_close(&cr);
    if (rc != 0)
        return -1;
    int n = snprintf(out, outlen,
                     ALGORITHM " Credential=%s/%.8s/%s/%s/" TERMINATOR ", SignedHeaders=%s, Signature=%s",
                     access_key_id, amzdate, region, service, signed_headers, sig);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}
