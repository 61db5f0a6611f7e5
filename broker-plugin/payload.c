/*
 * payload.c - the MQTT payload codec (payload.h): JSON through jansson,
 * CBOR through libcbor's streaming decoder and its item encoders.
 *
 * CBOR is decoded with cbor_stream_decode and an explicit stack of open
 * containers (never libcbor's item tree, whose load and free recurse), so
 * nesting, item count and size are bounded by the limits in payload.h
 * whatever the input. Knows nothing of the broker, topics or SQL.
 */
#include "payload.h"

#include <cbor.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ENCODE_MAX_DEPTH 1024 /* encode refuses deeper values rather than recurse without bound */

int payload_fmt_from_name(const char *s, size_t n, enum payload_fmt *out)
{
    if (s == NULL || n != 4)
        return -1;
    if (memcmp(s, "json", 4) == 0)
        *out = PAYLOAD_JSON;
    else if (memcmp(s, "cbor", 4) == 0)
        *out = PAYLOAD_CBOR;
    else
        return -1;
    return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

/* Checks the container nesting and value count of v (depth = the
 * nesting of v itself), stopping as soon as a limit is passed, so the
 * recursion is bounded by PAYLOAD_MAX_DEPTH + 1. Returns 0 or -1. */
static int json_within_limits(const json_t *v, int depth, size_t *items)
{
    if (++*items > PAYLOAD_MAX_ITEMS)
        return -1;
    if ((json_is_object(v) || json_is_array(v)) && depth > PAYLOAD_MAX_DEPTH)
        return -1; /* depth counts containers, as in the CBOR decoder */
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach ((json_t *)v, k, e) {
            if (json_within_limits(e, depth + 1, items) != 0)
                return -1;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach (v, i, e) {
            if (json_within_limits(e, depth + 1, items) != 0)
                return -1;
        }
    }
    return 0;
}

static enum fl_code decode_json(const char *buf, size_t len, json_t **out, struct fl_err *err)
{
    json_error_t je;
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "payload is not valid JSON: %s (at byte %d)", je.text,
                          je.position);
    if (!json_is_object(v)) {
        json_decref(v);
        return fl_err_set(err, FL_INVALID_REQUEST, "payload must be a JSON object");
    }
    size_t items = 0;
    if (json_within_limits(v, 1, &items) != 0) {
        json_decref(v);
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "payload nests deeper than %d levels or holds more than %d values",
                          PAYLOAD_MAX_DEPTH, PAYLOAD_MAX_ITEMS);
    }
    *out = v;
    return FL_OK;
}

/* ---- CBOR decode ------------------------------------------------------------- */

struct cframe {
    json_t *c;     /* the open array or object (owned) */
    uint64_t left; /* items still expected (a map counts keys and values); unused when indef */
    bool indef;    /* ends with a break */
    json_t *key;   /* objects: the key read, waiting for its value (owned) */
};

struct cdec {
    struct cframe st[PAYLOAD_MAX_DEPTH];
    int depth;    /* open containers */
    json_t *root; /* the complete top-level value */
    size_t items;
    bool fail;
    const char *why;
    /* an indefinite-length text string being assembled from its chunks */
    bool in_str;
    char *sbuf;
    size_t slen;
};

static void cfail(struct cdec *d, const char *why)
{
    if (!d->fail) {
        d->fail = true;
        d->why = why;
    }
}

/* Common entry of every callback: false when decoding already failed or
 * the item is not allowed here. */
static bool cstart(struct cdec *d, bool is_chunk)
{
    if (d->fail)
        return false;
    if (d->in_str && !is_chunk) {
        cfail(d, "an indefinite-length text string holds a non-text chunk");
        return false;
    }
    if (d->root != NULL) {
        cfail(d, "more than one top-level item");
        return false;
    }
    if (++d->items > PAYLOAD_MAX_ITEMS) {
        cfail(d, "too many items");
        return false;
    }
    return true;
}

/* A complete value v (owned) goes into the innermost open container, or
 * becomes the root; containers that this completes are closed in turn. */
static void cput(struct cdec *d, json_t *v)
{
    if (v == NULL) {
        cfail(d, "out of memory");
        return;
    }
    for (;;) {
        if (d->depth == 0) {
            d->root = v;
            return;
        }
        struct cframe *f = &d->st[d->depth - 1];
        if (json_is_array(f->c)) {
            if (json_array_append_new(f->c, v) != 0) {
                cfail(d, "out of memory");
                return;
            }
        } else if (f->key == NULL) {
            if (!json_is_string(v)) {
                json_decref(v);
                cfail(d, "a map key is not a text string");
                return;
            }
            f->key = v;
        } else {
            const char *k = json_string_value(f->key);
            if (json_object_get(f->c, k) != NULL) {
                json_decref(v);
                cfail(d, "duplicate map key");
                return;
            }
            int rc = json_object_set_new(f->c, k, v);
            json_decref(f->key);
            f->key = NULL;
            if (rc != 0) {
                cfail(d, "out of memory");
                return;
            }
        }
        if (f->indef || --f->left > 0)
            return;
        /* the container is complete: it is now a value of its parent */
        v = f->c;
        f->c = NULL;
        d->depth--;
    }
}

static void copen(struct cdec *d, json_t *c, uint64_t n, bool indef)
{
    if (c == NULL) {
        cfail(d, "out of memory");
        return;
    }
    /* an empty container counts as a level too (as in the JSON check) */
    if (d->depth >= PAYLOAD_MAX_DEPTH) {
        json_decref(c);
        cfail(d, "nested too deeply");
        return;
    }
    if (!indef && n == 0) {
        cput(d, c);
        return;
    }
    d->st[d->depth++] = (struct cframe){.c = c, .left = n, .indef = indef};
}

/* An unsigned (CBOR major type 0) or negative (type 1: -1 - v) integer. */
static void cint(void *ctx, uint64_t v, bool negative)
{
    struct cdec *d = ctx;
    if (!cstart(d, false))
        return;
    if (v > (uint64_t)INT64_MAX) {
        cfail(d, "an integer is out of range");
        return;
    }
    cput(d, json_integer(negative ? (json_int_t)(-1 - (int64_t)v) : (json_int_t)v));
}

/* libcbor has one callback per integer width: each widens to cint. */
#define CB_INT(name, type, negative)                                                                         \
    static void name(void *ctx, type v)                                                                      \
    {                                                                                                        \
        cint(ctx, v, negative);                                                                              \
    }
CB_INT(cb_uint8, uint8_t, false)
CB_INT(cb_uint16, uint16_t, false)
CB_INT(cb_uint32, uint32_t, false)
CB_INT(cb_uint64, uint64_t, false)
CB_INT(cb_negint8, uint8_t, true)
CB_INT(cb_negint16, uint16_t, true)
CB_INT(cb_negint32, uint32_t, true)
CB_INT(cb_negint64, uint64_t, true)
#undef CB_INT

static void cb_bytes(void *ctx, cbor_data data, size_t len)
{
    (void)data;
    (void)len;
    struct cdec *d = ctx;
    if (cstart(d, false))
        cfail(d, "byte strings are not supported (use text)");
}

static void cb_bytes_start(void *ctx)
{
    cb_bytes(ctx, NULL, 0);
}

/* Text must be UTF-8 without NUL (as JSON text decoded by jansson is). */
static json_t *text_value(struct cdec *d, const char *s, size_t len)
{
    if (memchr(s, '\0', len) != NULL) {
        cfail(d, "a text string contains NUL");
        return NULL;
    }
    json_t *v = json_stringn(s, len);
    if (v == NULL)
        cfail(d, "a text string is not valid UTF-8");
    return v;
}

static void cb_string(void *ctx, cbor_data data, size_t len)
{
    struct cdec *d = ctx;
    if (!cstart(d, true))
        return;
    if (d->in_str) {
        /* bounded: the chunks come from an input of at most PAYLOAD_MAX_BYTES */
        char *n = realloc(d->sbuf, d->slen + len + 1);
        if (n == NULL) {
            cfail(d, "out of memory");
            return;
        }
        memcpy(n + d->slen, data, len);
        d->sbuf = n;
        d->slen += len;
        return;
    }
    json_t *v = text_value(d, (const char *)data, len);
    if (v != NULL)
        cput(d, v);
}

static void cb_string_start(void *ctx)
{
    struct cdec *d = ctx;
    if (!cstart(d, false))
        return;
    d->in_str = true;
    d->slen = 0;
}

static void cb_array_start(void *ctx, size_t n)
{
    struct cdec *d = ctx;
    if (cstart(d, false))
        copen(d, json_array(), n, false);
}

static void cb_indef_array_start(void *ctx)
{
    struct cdec *d = ctx;
    if (cstart(d, false))
        copen(d, json_array(), 0, true);
}

static void cb_map_start(void *ctx, size_t n)
{
    struct cdec *d = ctx;
    if (!cstart(d, false))
        return;
    if ((uint64_t)n > UINT64_MAX / 2) {
        cfail(d, "a map is too large");
        return;
    }
    copen(d, json_object(), (uint64_t)n * 2, false);
}

static void cb_indef_map_start(void *ctx)
{
    struct cdec *d = ctx;
    if (cstart(d, false))
        copen(d, json_object(), 0, true);
}

static void cb_indef_break(void *ctx)
{
    struct cdec *d = ctx;
    if (d->fail)
        return;
    if (d->in_str) {
        d->in_str = false;
        json_t *v = text_value(d, d->sbuf ? d->sbuf : "", d->slen);
        if (v != NULL)
            cput(d, v);
        return;
    }
    if (!cstart(d, false))
        return;
    struct cframe *f = d->depth > 0 ? &d->st[d->depth - 1] : NULL;
    if (f == NULL || !f->indef) {
        cfail(d, "a break outside an indefinite-length item");
        return;
    }
    if (f->key != NULL) {
        cfail(d, "a map key has no value");
        return;
    }
    json_t *v = f->c;
    f->c = NULL;
    d->depth--;
    cput(d, v);
}

/* Semantic tags are ignored: the tagged item is decoded as itself. */
static void cb_tag(void *ctx, uint64_t tag)
{
    (void)tag;
    cstart(ctx, false);
}

static void cb_real(struct cdec *d, double v)
{
    if (!cstart(d, false))
        return;
    if (!isfinite(v)) {
        cfail(d, "NaN and infinite numbers are not supported");
        return;
    }
    cput(d, json_real(v));
}

static void cb_float(void *ctx, float v)
{
    cb_real(ctx, v);
}
static void cb_double(void *ctx, double v)
{
    cb_real(ctx, v);
}

static void cb_null(void *ctx)
{
    struct cdec *d = ctx;
    if (cstart(d, false))
        cput(d, json_null());
}

static void cb_bool(void *ctx, bool v)
{
    struct cdec *d = ctx;
    if (cstart(d, false))
        cput(d, json_boolean(v));
}

static const struct cbor_callbacks CALLBACKS = {
    .uint8 = cb_uint8,
    .uint16 = cb_uint16,
    .uint32 = cb_uint32,
    .uint64 = cb_uint64,
    .negint8 = cb_negint8,
    .negint16 = cb_negint16,
    .negint32 = cb_negint32,
    .negint64 = cb_negint64,
    .byte_string_start = cb_bytes_start,
    .byte_string = cb_bytes,
    .string = cb_string,
    .string_start = cb_string_start,
    .indef_array_start = cb_indef_array_start,
    .array_start = cb_array_start,
    .indef_map_start = cb_indef_map_start,
    .map_start = cb_map_start,
    .tag = cb_tag,
    .float2 = cb_float,
    .float4 = cb_float,
    .float8 = cb_double,
    .undefined = cb_null,
    .null = cb_null,
    .boolean = cb_bool,
    .indef_break = cb_indef_break,
};

static enum fl_code decode_cbor(const unsigned char *buf, size_t len, json_t **out, struct fl_err *err)
{
    struct cdec d = {0};
    size_t off = 0;
    while (off < len && d.root == NULL && !d.fail) {
        struct cbor_decoder_result r = cbor_stream_decode(buf + off, len - off, &CALLBACKS, &d);
        if (r.status == CBOR_DECODER_NEDATA)
            cfail(&d, "truncated");
        else if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
            cfail(&d, "malformed item");
        else
            off += r.read;
    }
    if (!d.fail && d.root == NULL)
        cfail(&d, "truncated");
    if (!d.fail && off < len)
        cfail(&d, "trailing bytes after the payload");
    if (!d.fail && !json_is_object(d.root))
        cfail(&d, "payload must be a CBOR map");
    for (int i = 0; i < d.depth; i++) {
        json_decref(d.st[i].c);
        json_decref(d.st[i].key);
    }
    free(d.sbuf);
    if (d.fail) {
        json_decref(d.root);
        return fl_err_set(err, FL_INVALID_REQUEST, "payload is not valid CBOR: %s", d.why);
    }
    *out = d.root;
    return FL_OK;
}

enum fl_code payload_decode(enum payload_fmt fmt, const void *buf, size_t len, json_t **out,
                            struct fl_err *err)
{
    *out = NULL;
    if (len == 0) {
        *out = json_object();
        return *out ? FL_OK : fl_err_set(err, FL_INTERNAL, "out of memory");
    }
    if (buf == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "payload is missing");
    if (len > PAYLOAD_MAX_BYTES)
        return fl_err_set(err, FL_INVALID_REQUEST, "payload is larger than %d bytes", PAYLOAD_MAX_BYTES);
    if (fmt == PAYLOAD_CBOR)
        return decode_cbor(buf, len, out, err);
    return decode_json(buf, len, out, err);
}

/* ---- CBOR encode ------------------------------------------------------------- */

struct cenc {
    unsigned char *p;
    size_t len, cap;
};

/* Room for n more bytes. Returns 0 or -1. */
static int creserve(struct cenc *e, size_t n)
{
    if (e->cap - e->len >= n)
        return 0;
    size_t cap = e->cap ? e->cap : 256;
    while (cap - e->len < n) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    unsigned char *p = realloc(e->p, cap);
    if (p == NULL)
        return -1;
    e->p = p;
    e->cap = cap;
    return 0;
}

#define CBOR_HEAD_MAX 9 /* the longest item head: 1 byte + 8-byte argument */

static int cput_text(struct cenc *e, const char *s, size_t n)
{
    if (n > SIZE_MAX - CBOR_HEAD_MAX || creserve(e, CBOR_HEAD_MAX + n) != 0)
        return -1;
    e->len += cbor_encode_string_start(n, e->p + e->len, e->cap - e->len);
    memcpy(e->p + e->len, s, n);
    e->len += n;
    return 0;
}

static int cenc_value(struct cenc *e, const json_t *v, int depth)
{
    if (depth > ENCODE_MAX_DEPTH || creserve(e, CBOR_HEAD_MAX) != 0)
        return -1;
    unsigned char *at = e->p + e->len;
    size_t room = e->cap - e->len;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        e->len += cbor_encode_map_start(json_object_size(v), at, room);
        const char *k;
        json_t *x;
        json_object_foreach ((json_t *)v, k, x) {
            if (cput_text(e, k, strlen(k)) != 0 || cenc_value(e, x, depth + 1) != 0)
                return -1;
        }
        return 0;
    }
    case JSON_ARRAY: {
        e->len += cbor_encode_array_start(json_array_size(v), at, room);
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x) {
            if (cenc_value(e, x, depth + 1) != 0)
                return -1;
        }
        return 0;
    }
    case JSON_STRING:
        return cput_text(e, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        json_int_t n = json_integer_value(v);
        e->len += n >= 0 ? cbor_encode_uint((uint64_t)n, at, room)
                         : cbor_encode_negint((uint64_t)(-1 - n), at, room);
        return 0;
    }
    case JSON_REAL:
        e->len += cbor_encode_double(json_real_value(v), at, room);
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        e->len += cbor_encode_bool(json_is_true(v), at, room);
        return 0;
    case JSON_NULL:
        e->len += cbor_encode_null(at, room);
        return 0;
    }
    return -1;
}

int payload_encode(enum payload_fmt fmt, const json_t *obj, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (obj == NULL)
        return -1;
    if (fmt == PAYLOAD_JSON) {
        char *s = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s == NULL)
            return -1;
        *buf = s;
        *len = strlen(s);
        return 0;
    }
    struct cenc e = {0};
    if (cenc_value(&e, obj, 0) != 0) {
        free(e.p);
        return -1;
    }
    *buf = (char *)e.p;
    *len = e.len;
    return 0;
}
