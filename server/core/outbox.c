/*
 * outbox.c - the outbox: rows that must reach devices through the broker,
 * appended inside the transaction of the change that causes them, read by
 * the broker plugin after its cursor, and collected once every cursor has
 * passed them. Also the iot-data Publish rules (topic and payload limits).
 * Knows nothing of HTTP or of the broker's library: topics and payloads are
 * plain strings and bytes.
 */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_outbox.h"

static int known_kind(const char *kind)
{
    return kind && (strcmp(kind, OUTBOX_PUBLISH) == 0 || strcmp(kind, OUTBOX_CERT_STATUS) == 0 ||
                    strcmp(kind, OUTBOX_AUTHZ) == 0);
}

enum fl_code outbox_append_tx(struct fl_core *c, const char *kind, const char *target, const char *client_id,
                              const void *payload, size_t payload_len, int qos, int retain,
                              struct fl_err *err)
{
    if (!known_kind(kind))
        return fl_err_set(err, FL_INTERNAL, "outbox: unknown row kind '%.32s'", kind ? kind : "(null)");
    if (strcmp(kind, OUTBOX_PUBLISH) == 0 && (target == NULL || *target == '\0'))
        return fl_err_set(err, FL_INTERNAL, "outbox: a publish row needs a topic");
    if (qos < 0 || qos > 1)
        return fl_err_set(err, FL_INTERNAL, "outbox: qos %d is not 0 or 1", qos);
    enum fl_code rc = store_outbox_insert(c->st, kind, target, client_id, payload, payload_len, qos, retain,
                                          core_now_ms(c), NULL, err);
    if (rc == FL_OK)
        c->outbox_pending = 1;
    return rc;
}

/* Length of the UTF-8 sequence at s (at most n bytes) when it is a valid,
 * shortest-form scalar value that MQTT allows in a topic (no NUL, no C0 or
 * C1 controls, no DEL, no surrogates); 0 otherwise. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80) {
        return c >= 0x20 && c != 0x7f ? 1 : 0;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return len;
}

enum fl_code outbox_check_topic(const char *topic, struct fl_err *err)
{
    if (topic == NULL || *topic == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST, "The topic must not be empty");
    size_t n = strlen(topic);
    if (n > OUTBOX_MAX_TOPIC)
        return fl_err_set(err, FL_INVALID_REQUEST, "The topic is %zu bytes long; the limit is %d bytes", n,
                          OUTBOX_MAX_TOPIC);
    int slashes = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_char((const unsigned char *)topic + i, n - i);
        if (l == 0)
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "The topic is not valid UTF-8 or contains a control character (byte %zu)", i);
        if (topic[i] == '+' || topic[i] == '#')
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "The topic %.300s contains the wildcard '%c': a publish names one topic", topic,
                              topic[i]);
        slashes += topic[i] == '/';
        i += l;
    }
    if (slashes > OUTBOX_MAX_SLASHES)
        return fl_err_set(err, FL_INVALID_REQUEST, "The topic %.300s has %d forward slashes; the limit is %d",
                          topic, slashes, OUTBOX_MAX_SLASHES);
    if (topic[0] == '$')
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "The topic %.300s is reserved: topics that begin with '$' cannot be published to "
                          "through this API",
                          topic);
    return FL_OK;
}

enum fl_code outbox_publish(struct fl_core *c, const char *topic, const void *payload, size_t len, int qos,
                            int retain, struct fl_err *err)
{
    enum fl_code rc = outbox_check_topic(topic, err);
    if (rc)
        return rc;
    if (qos < 0 || qos > 1)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value '%d' at 'qos' failed to satisfy constraint: "
                          "Member must have value less than or equal to 1",
                          qos);
    if (len > OUTBOX_MAX_PAYLOAD)
        return fl_err_set(err, FL_ENTITY_TOO_LARGE, "The payload is %zu bytes; the limit is %d bytes", len,
                          OUTBOX_MAX_PAYLOAD);
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = outbox_append_tx(c, OUTBOX_PUBLISH, topic, NULL, payload, len, qos, retain, err);
    return store_end(c->st, rc, err);
}

/* The current row, copied out of the statement so that the caller's
 * callback may run other statements (even transactions) on this core. */
struct row_copy {
    struct outbox_row row;
    char *buf;
    size_t cap;
    struct fl_err *err;
};

static enum fl_code copy_row(void *ctx, const struct store_outbox_row *r)
{
    struct row_copy *cp = ctx;
    size_t lk = strlen(r->kind) + 1, lt = r->target ? strlen(r->target) + 1 : 0,
           lc = r->client_id ? strlen(r->client_id) + 1 : 0;
    size_t need = r->payload_len + lk + lt + lc + 1;
    if (need > cp->cap) {
        char *nb = realloc(cp->buf, need);
        if (nb == NULL)
            return fl_err_set(cp->err, FL_INTERNAL, "out of memory");
        cp->buf = nb;
        cp->cap = need;
    }
    char *p = cp->buf;
    /* the payload first: it keeps the alignment malloc gave the buffer */
    if (r->payload_len)
        memcpy(p, r->payload, r->payload_len);
    cp->row.payload = r->payload_len ? p : NULL;
    p += r->payload_len;
    memcpy(p, r->kind, lk);
    cp->row.kind = p;
    p += lk;
    cp->row.target = NULL;
    if (r->target) {
        memcpy(p, r->target, lt);
        cp->row.target = p;
        p += lt;
    }
    cp->row.client_id = NULL;
    if (r->client_id) {
        memcpy(p, r->client_id, lc);
        cp->row.client_id = p;
    }
    cp->row.id = r->id;
    cp->row.payload_len = r->payload_len;
    cp->row.qos = r->qos;
    cp->row.retain = r->retain;
    cp->row.created_at = r->created_at;
    return FL_OK;
}

enum fl_code outbox_read(struct fl_core *c, int64_t after_id, int limit, outbox_fn fn, void *ctx,
                         int64_t *last_id, struct fl_err *err)
{
    struct row_copy cp = {.err = err};
    enum fl_code rc = FL_OK;
    int64_t id = after_id;
    for (int n = 0; limit <= 0 || n < limit; n++) {
        rc = store_outbox_next(c->st, id, copy_row, &cp, err);
        if (rc == FL_NOT_FOUND) {
            rc = FL_OK;
            break;
        }
        if (rc || (rc = fn(ctx, &cp.row)))
            break;
        id = cp.row.id;
        *last_id = id;
    }
    free(cp.buf);
    return rc;
}

enum fl_code outbox_cursor_get(struct fl_core *c, const char *broker_id, int start_at_end, int64_t *last_id,
                               struct fl_err *err)
{
    if (broker_id == NULL || *broker_id == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST, "outbox: empty broker id");
    enum fl_code rc = store_outbox_cursor_get(c->st, broker_id, last_id, err);
    if (rc != FL_NOT_FOUND)
        return rc;
    *last_id = 0;
    return start_at_end ? store_outbox_max_id(c->st, last_id, err) : FL_OK;
}

enum fl_code outbox_cursor_set(struct fl_core *c, const char *broker_id, int64_t last_id, struct fl_err *err)
{
    if (broker_id == NULL || *broker_id == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST, "outbox: empty broker id");
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    rc = store_outbox_cursor_set(c->st, broker_id, last_id, core_now_ms(c), err);
    return store_end(c->st, rc, err);
}

enum fl_code outbox_gc(struct fl_core *c, int64_t before_ms, struct fl_err *err)
{
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    rc = store_outbox_gc(c->st, before_ms, NULL, err);
    return store_end(c->st, rc, err);
}
