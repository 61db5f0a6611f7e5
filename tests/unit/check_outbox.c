/*
 * check_outbox.c - unit tests for outbox.c (append, read, cursors, GC, the
 * iot-data Publish rules), connectivity.c (batches, all-offline, get), the
 * outbox hooks in the registry modules, and server/http/kick.c (the MQTT
 * packet encoders, and the kick thread against a fake broker on a unix
 * socket).
 */
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "certificates.h"
#include "connectivity.h"
#include "kick.h"
#include "mqtt_wire.h"
#include "outbox.h"
#include "policies.h"
#include "principals.h"
#include "store.h"
#include "suites.h"
#include "testutil.h"
#include "thing_groups.h"
#include "things.h"

static struct fl_core *c;
static struct fl_err err;

static void setup(void)
{
    c = tu_core();
    fl_err_clear(&err);
}

static void teardown(void)
{
    tu_core_free(c);
}

/* ---- helpers -------------------------------------------------------------------- */

#define MAX_ROWS 64

struct seen {
    int n;
    int64_t id[MAX_ROWS];
    char kind[MAX_ROWS][16];
    char target[MAX_ROWS][300]; /* "(null)" for NULL */
    char client[MAX_ROWS][64];
    char payload[MAX_ROWS][64];
    size_t payload_len[MAX_ROWS];
    int qos[MAX_ROWS], retain[MAX_ROWS];
    int stop_at; /* return an error at this row index (-1: never) */
};

static enum fl_code collect(void *ctx, const struct outbox_row *r)
{
    struct seen *s = ctx;
    if (s->n == s->stop_at)
        return FL_UNAVAILABLE;
    ck_assert_int_lt(s->n, MAX_ROWS);
    int i = s->n++;
    s->id[i] = r->id;
    snprintf(s->kind[i], sizeof(s->kind[i]), "%s", r->kind);
    snprintf(s->target[i], sizeof(s->target[i]), "%s", r->target ? r->target : "(null)");
    snprintf(s->client[i], sizeof(s->client[i]), "%s", r->client_id ? r->client_id : "(null)");
    s->payload_len[i] = r->payload_len;
    if (r->payload_len)
        memcpy(s->payload[i], r->payload, r->payload_len < 64 ? r->payload_len : 64);
    else
        ck_assert_ptr_null(r->payload);
    s->qos[i] = r->qos;
    s->retain[i] = r->retain;
    return FL_OK;
}

/* Every row after *from; advances *from. */
static void read_all(int64_t *from, struct seen *s)
{
    memset(s, 0, sizeof(*s));
    s->stop_at = -1;
    int64_t last = *from;
    ck_assert_msg(outbox_read(c, *from, 0, collect, s, &last, &err) == FL_OK, "%s", err.msg);
    *from = last;
}

static void append(const char *kind, const char *target, const char *client, const char *payload, int qos,
                   int retain)
{
    ck_assert_int_eq(store_begin(c->st, &err), FL_OK);
    enum fl_code rc =
        outbox_append_tx(c, kind, target, client, payload, payload ? strlen(payload) : 0, qos, retain, &err);
    ck_assert_msg(store_end(c->st, rc, &err) == FL_OK, "%s", err.msg);
}

static int64_t max_id(void)
{
    int64_t id = -1;
    ck_assert_int_eq(outbox_cursor_get(c, "probe-max", 1, &id, &err), FL_OK);
    return id;
}

/* ---- append / read ----------------------------------------------------------------- */

START_TEST(test_append_read)
{
    c->outbox_pending = 0;
    append(OUTBOX_PUBLISH, "a/b", NULL, "hello", 1, 1);
    ck_assert_int_eq(c->outbox_pending, 1);
    append(OUTBOX_CERT_STATUS, "abc", NULL, NULL, 0, 0);
    append(OUTBOX_AUTHZ, NULL, NULL, NULL, 0, 0);
    append(OUTBOX_PUBLISH, "x", "dev1", "p", 0, 0);

    struct seen s;
    int64_t from = 0;
    read_all(&from, &s);
    ck_assert_int_eq(s.n, 4);
    ck_assert_int_eq(from, s.id[3]);
    ck_assert_str_eq(s.kind[0], "publish");
    ck_assert_str_eq(s.target[0], "a/b");
    ck_assert_str_eq(s.client[0], "(null)");
    ck_assert_int_eq(s.payload_len[0], 5);
    ck_assert_int_eq(memcmp(s.payload[0], "hello", 5), 0);
    ck_assert_int_eq(s.qos[0], 1);
    ck_assert_int_eq(s.retain[0], 1);
    ck_assert_str_eq(s.kind[1], "cert_status");
    ck_assert_str_eq(s.target[1], "abc");
    ck_assert_int_eq(s.payload_len[1], 0);
    ck_assert_str_eq(s.kind[2], "authz");
    ck_assert_str_eq(s.target[2], "(null)");
    ck_assert_str_eq(s.client[3], "dev1");
    ck_assert(s.id[0] < s.id[1] && s.id[1] < s.id[2] && s.id[2] < s.id[3]);

    /* nothing new: last id unchanged */
    int64_t before = from;
    read_all(&from, &s);
    ck_assert_int_eq(s.n, 0);
    ck_assert_int_eq(from, before);

    /* limit and resume */
    memset(&s, 0, sizeof(s));
    s.stop_at = -1;
    int64_t last = 0;
    ck_assert_int_eq(outbox_read(c, 0, 2, collect, &s, &last, &err), FL_OK);
    ck_assert_int_eq(s.n, 2);
    ck_assert_int_eq(last, s.id[1]);
    int64_t second = s.id[1];
    memset(&s, 0, sizeof(s));
    s.stop_at = -1;
    ck_assert_int_eq(outbox_read(c, second, 10, collect, &s, &last, &err), FL_OK);
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.target[1], "x");

    /* a callback error stops the scan; last id = the last row accepted */
    memset(&s, 0, sizeof(s));
    s.stop_at = 1;
    last = -7;
    ck_assert_int_eq(outbox_read(c, 0, 0, collect, &s, &last, &err), FL_UNAVAILABLE);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(last, s.id[0]);
    memset(&s, 0, sizeof(s));
    s.stop_at = 0;
    last = -7;
    ck_assert_int_eq(outbox_read(c, 0, 0, collect, &s, &last, &err), FL_UNAVAILABLE);
    ck_assert_int_eq(last, -7);
}
END_TEST

START_TEST(test_append_rejects)
{
    ck_assert_int_eq(store_begin(c->st, &err), FL_OK);
    ck_assert_int_eq(outbox_append_tx(c, "bogus", "t", NULL, NULL, 0, 0, 0, &err), FL_INTERNAL);
    ck_assert_int_eq(outbox_append_tx(c, OUTBOX_PUBLISH, NULL, NULL, NULL, 0, 0, 0, &err), FL_INTERNAL);
    ck_assert_int_eq(outbox_append_tx(c, OUTBOX_PUBLISH, "t", NULL, NULL, 0, 2, 0, &err), FL_INTERNAL);
    store_end(c->st, FL_INTERNAL, &err);
    ck_assert_int_eq(max_id(), 0);
}
END_TEST

/* The callback may use the core, transactions included: outbox_read holds
 * no statement while it runs. */
struct reentrant {
    int n;
};

static enum fl_code reenter(void *ctx, const struct outbox_row *r)
{
    struct reentrant *re = ctx;
    re->n++;
    struct fl_err e;
    ck_assert_int_eq(outbox_cursor_set(c, "b1", r->id, &e), FL_OK);
    if (re->n == 1) /* a row appended meanwhile is seen by the same scan */
        append(OUTBOX_AUTHZ, "late", NULL, NULL, 0, 0);
    return FL_OK;
}

START_TEST(test_read_reentrant)
{
    append(OUTBOX_AUTHZ, "a", NULL, NULL, 0, 0);
    append(OUTBOX_AUTHZ, "b", NULL, NULL, 0, 0);
    struct reentrant re = {0};
    int64_t last = 0;
    ck_assert_int_eq(outbox_read(c, 0, 0, reenter, &re, &last, &err), FL_OK);
    ck_assert_int_eq(re.n, 3);
    int64_t cur = 0;
    ck_assert_int_eq(outbox_cursor_get(c, "b1", 0, &cur, &err), FL_OK);
    ck_assert_int_eq(cur, last);
}
END_TEST

START_TEST(test_payload_binary)
{
    static const unsigned char bin[] = {0, 1, 2, 0, 255, 0};
    ck_assert_int_eq(outbox_publish(c, "bin/x", bin, sizeof(bin), 0, 0, &err), FL_OK);
    struct seen s;
    int64_t from = 0;
    read_all(&from, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.payload_len[0], sizeof(bin));
    ck_assert_int_eq(memcmp(s.payload[0], bin, sizeof(bin)), 0);
    /* an empty payload (retain + empty clears a retained message) */
    ck_assert_int_eq(outbox_publish(c, "bin/x", NULL, 0, 0, 1, &err), FL_OK);
    read_all(&from, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.payload_len[0], 0);
    ck_assert_int_eq(s.retain[0], 1);
    /* a large payload round-trips */
    size_t big = OUTBOX_MAX_PAYLOAD;
    unsigned char *p = malloc(big);
    for (size_t i = 0; i < big; i++)
        p[i] = (unsigned char)(i * 7);
    ck_assert_int_eq(outbox_publish(c, "big", p, big, 1, 0, &err), FL_OK);
    free(p);
    read_all(&from, &s);
    ck_assert_int_eq(s.payload_len[0], big);
}
END_TEST

START_TEST(test_publish_rules)
{
    char topic[400];
    ck_assert_int_eq(outbox_publish(c, "", "x", 1, 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_publish(c, NULL, "x", 1, 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_publish(c, "a/+/b", "x", 1, 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "wildcard"));
    ck_assert_int_eq(outbox_publish(c, "a/#", "x", 1, 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_publish(c, "$aws/things/t/shadow/update", "x", 1, 0, 0, &err),
                     FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "reserved"));
    ck_assert_int_eq(outbox_publish(c, "$CONTROL/fleet/v1", "x", 1, 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_publish(c, "$SYS/x", "x", 1, 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_publish(c, "a/b/c/d/e/f/g/h", "x", 1, 0, 0, &err), FL_OK); /* 7 slashes */
    ck_assert_int_eq(outbox_publish(c, "a/b/c/d/e/f/g/h/i", "x", 1, 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "slashes"));
    memset(topic, 'a', 256);
    topic[256] = '\0';
    ck_assert_int_eq(outbox_publish(c, topic, "x", 1, 0, 0, &err), FL_OK);
    topic[256] = 'a';
    topic[257] = '\0';
    ck_assert_int_eq(outbox_publish(c, topic, "x", 1, 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_publish(c, "bad\xff", "x", 1, 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_publish(c, "bad\xc0\x80", "x", 1, 0, 0, &err),
                     FL_INVALID_REQUEST); /* overlong NUL */
    ck_assert_int_eq(outbox_publish(c, "bad\xed\xa0\x80", "x", 1, 0, 0, &err),
                     FL_INVALID_REQUEST); /* surrogate */
    ck_assert_int_eq(outbox_publish(c, "ctl\x01", "x", 1, 0, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_publish(c, "ctl\xc2\x85", "x", 1, 0, 0, &err), FL_INVALID_REQUEST); /* C1 */
    ck_assert_int_eq(outbox_publish(c, "caf\xc3\xa9/\xf0\x9f\x98\x80", "x", 1, 0, 0, &err), FL_OK);
    ck_assert_int_eq(outbox_publish(c, "sp ace/ok", "x", 1, 0, 0, &err), FL_OK);
    ck_assert_int_eq(outbox_publish(c, "q", "x", 1, 2, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_publish(c, "q", "x", 1, -1, 0, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_publish(c, "big", "x", OUTBOX_MAX_PAYLOAD + 1, 0, 0, &err), FL_ENTITY_TOO_LARGE);
    ck_assert_str_eq(fl_err_type(FL_ENTITY_TOO_LARGE), "RequestEntityTooLargeException");
    ck_assert_int_eq(fl_err_status(FL_ENTITY_TOO_LARGE), 413);
    struct seen s;
    int64_t from = 0;
    read_all(&from, &s);
    ck_assert_int_eq(s.n, 4);
}
END_TEST

/* ---- cursors and GC -------------------------------------------------------------------- */

START_TEST(test_cursors)
{
    int64_t id = -1;
    ck_assert_int_eq(outbox_cursor_get(c, "b1", 0, &id, &err), FL_OK);
    ck_assert_int_eq(id, 0);
    ck_assert_int_eq(outbox_cursor_get(c, "b1", 1, &id, &err), FL_OK);
    ck_assert_int_eq(id, 0);
    append(OUTBOX_AUTHZ, "a", NULL, NULL, 0, 0);
    append(OUTBOX_AUTHZ, "b", NULL, NULL, 0, 0);
    ck_assert_int_eq(outbox_cursor_get(c, "b1", 0, &id, &err), FL_OK);
    ck_assert_int_eq(id, 0);
    ck_assert_int_eq(outbox_cursor_get(c, "b1", 1, &id, &err), FL_OK);
    ck_assert_int_eq(id, 2);
    ck_assert_int_eq(outbox_cursor_set(c, "b1", 1, &err), FL_OK);
    ck_assert_int_eq(outbox_cursor_get(c, "b1", 1, &id, &err), FL_OK);
    ck_assert_int_eq(id, 1);
    ck_assert_int_eq(outbox_cursor_set(c, "b1", 2, &err), FL_OK);
    ck_assert_int_eq(outbox_cursor_get(c, "b1", 0, &id, &err), FL_OK);
    ck_assert_int_eq(id, 2);
    ck_assert_int_eq(outbox_cursor_get(c, "b2", 0, &id, &err), FL_OK);
    ck_assert_int_eq(id, 0);
    ck_assert_int_eq(outbox_cursor_get(c, "", 0, &id, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(outbox_cursor_set(c, NULL, 1, &err), FL_INVALID_REQUEST);
}
END_TEST

static int count_rows(void)
{
    struct seen s;
    int64_t from = 0;
    read_all(&from, &s);
    return s.n;
}

START_TEST(test_gc)
{
    append(OUTBOX_AUTHZ, "old1", NULL, NULL, 0, 0); /* id 1 */
    append(OUTBOX_AUTHZ, "old2", NULL, NULL, 0, 0); /* id 2 */
    tu_advance(c, 3600 * 1000);
    append(OUTBOX_AUTHZ, "new", NULL, NULL, 0, 0); /* id 3 */
    int64_t cutoff = core_now_ms(c) - 1000;

    /* a cursor holds back rows it has not passed */
    ck_assert_int_eq(outbox_cursor_set(c, "b1", 1, &err), FL_OK);
    ck_assert_int_eq(outbox_cursor_set(c, "b2", 3, &err), FL_OK);
    ck_assert_int_eq(outbox_gc(c, cutoff, &err), FL_OK);
    ck_assert_int_eq(count_rows(), 2);
    /* every cursor past both old rows: they go; the new one stays */
    ck_assert_int_eq(outbox_cursor_set(c, "b1", 3, &err), FL_OK);
    ck_assert_int_eq(outbox_gc(c, cutoff, &err), FL_OK);
    ck_assert_int_eq(count_rows(), 1);
    /* ids are never reused after a GC */
    append(OUTBOX_AUTHZ, "newer", NULL, NULL, 0, 0);
    ck_assert_int_eq(max_id(), 4);
}
END_TEST

START_TEST(test_gc_without_cursor)
{
    append(OUTBOX_AUTHZ, "old", NULL, NULL, 0, 0);
    tu_advance(c, 10);
    append(OUTBOX_AUTHZ, "new", NULL, NULL, 0, 0);
    ck_assert_int_eq(outbox_gc(c, core_now_ms(c), &err), FL_OK);
    ck_assert_int_eq(count_rows(), 1);
}
END_TEST

/* ---- connectivity ------------------------------------------------------------------------ */

static void mk_thing(const char *name)
{
    struct things_ref r;
    struct things_create_in in = {.name = name};
    ck_assert_msg(things_create(c, &in, &r, &err) == FL_OK, "%s", err.msg);
}

static json_t *conn_get(const char *name)
{
    json_t *o = NULL;
    ck_assert_msg(connectivity_get(c, name, &o, &err) == FL_OK, "%s", err.msg);
    return o;
}

START_TEST(test_connectivity)
{
    mk_thing("dev1");
    mk_thing("dev2");
    json_t *o = NULL;
    ck_assert_int_eq(connectivity_get(c, "nope", &o, &err), FL_NOT_FOUND);
    ck_assert_int_eq(connectivity_get(c, "bad name!", &o, &err), FL_INVALID_REQUEST);

    o = conn_get("dev1");
    ck_assert_str_eq(json_string_value(json_object_get(o, "thingName")), "dev1");
    ck_assert(json_is_false(json_object_get(o, "connected")));
    ck_assert_ptr_null(json_object_get(o, "timestamp"));
    ck_assert_ptr_null(json_object_get(o, "disconnectReason"));
    json_decref(o);

    struct connectivity_update u[] = {
        {.thing_name = "dev1",
         .connected = 1,
         .timestamp_ms = 1764142418500,
         .session_id = "s1",
         .principal = "c1"},
        {.thing_name = "ghost", .connected = 1, .timestamp_ms = 1764142418500}, /* not a thing: ignored */
        {.thing_name = "dev2", .connected = 1, .timestamp_ms = 1764142418000},
        {.thing_name = "dev2",
         .connected = 0,
         .timestamp_ms = 1764142419000,
         .disconnect_reason = "CLIENT_INITIATED_DISCONNECT"},
        {.thing_name = NULL, .connected = 1}, /* skipped */
    };
    ck_assert_int_eq(connectivity_write_batch(c, u, 5, &err), FL_OK);
    o = conn_get("dev1");
    ck_assert(json_is_true(json_object_get(o, "connected")));
    ck_assert(json_number_value(json_object_get(o, "timestamp")) > 1764142418.4 &&
              json_number_value(json_object_get(o, "timestamp")) < 1764142418.6);
    ck_assert_ptr_null(json_object_get(o, "disconnectReason"));
    json_decref(o);
    o = conn_get("dev2");
    ck_assert(json_is_false(json_object_get(o, "connected")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "disconnectReason")),
                     "CLIENT_INITIATED_DISCONNECT");
    json_decref(o);

    /* an older event does not overwrite a newer one */
    struct connectivity_update late = {.thing_name = "dev2", .connected = 1, .timestamp_ms = 1764142418800};
    ck_assert_int_eq(connectivity_write_batch(c, &late, 1, &err), FL_OK);
    o = conn_get("dev2");
    ck_assert(json_is_false(json_object_get(o, "connected")));
    json_decref(o);
    /* reconnect */
    struct connectivity_update again = {.thing_name = "dev2", .connected = 1, .timestamp_ms = 1764142420000};
    ck_assert_int_eq(connectivity_write_batch(c, &again, 1, &err), FL_OK);
    o = conn_get("dev2");
    ck_assert(json_is_true(json_object_get(o, "connected")));
    ck_assert_ptr_null(json_object_get(o, "disconnectReason"));
    json_decref(o);

    /* broker start/stop: everyone offline */
    ck_assert_int_eq(connectivity_all_offline(c, 1764142421000, "SERVER_INITIATED_DISCONNECT", &err), FL_OK);
    for (int i = 0; i < 2; i++) {
        o = conn_get(i ? "dev2" : "dev1");
        ck_assert(json_is_false(json_object_get(o, "connected")));
        ck_assert_str_eq(json_string_value(json_object_get(o, "disconnectReason")),
                         "SERVER_INITIATED_DISCONNECT");
        ck_assert(json_number_value(json_object_get(o, "timestamp")) > 1764142420.9);
        json_decref(o);
    }
    ck_assert_int_eq(connectivity_write_batch(c, u, 0, &err), FL_OK);
}
END_TEST

/* ---- hooks in the registry modules ------------------------------------------------------------ */

static char dir[64];

static void setup_ca(void)
{
    setup();
    snprintf(dir, sizeof(dir), "/tmp/fleetd-check-outbox-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tu_with_ca(c, dir);
    ck_assert_msg(certificates_register_builtin_ca(c, ca_root_pem(c->ca), &err) == FL_OK, "%s", err.msg);
}

static void teardown_ca(void)
{
    ca_close(c->ca);
    teardown();
    tu_rmtree(dir);
}

struct cert {
    char id[65];
    char arn[320];
};

static void mk_cert(struct cert *out)
{
    json_t *o = NULL;
    ck_assert_msg(certificates_create_keys(c, 1, &o, &err) == FL_OK, "%s", err.msg);
    snprintf(out->id, sizeof(out->id), "%s", json_string_value(json_object_get(o, "certificateId")));
    snprintf(out->arn, sizeof(out->arn), "%s", json_string_value(json_object_get(o, "certificateArn")));
    json_decref(o);
}

/* The rows written since *from, as "kind:target" lines. */
static void rows_since(int64_t *from, char *out, size_t n)
{
    struct seen s;
    read_all(from, &s);
    out[0] = '\0';
    for (int i = 0; i < s.n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s%s:%s", i ? "\n" : "", s.kind[i], s.target[i]);
    }
}

#define EXPECT_ROWS(from, want)                                                                              \
    do {                                                                                                     \
        char got_[4096];                                                                                     \
        rows_since(from, got_, sizeof(got_));                                                                \
        ck_assert_str_eq(got_, want);                                                                        \
    } while (0)

static const char DOC[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                          "\"Action\":\"iot:Connect\",\"Resource\":\"*\"}]}";

START_TEST(test_hooks_certificates)
{
    struct cert a;
    mk_cert(&a);
    int64_t from = max_id();
    char want[600];

    ck_assert_int_eq(certificates_update(c, a.id, "INACTIVE", &err), FL_OK);
    snprintf(want, sizeof(want), "cert_status:%s", a.id);
    EXPECT_ROWS(&from, want);
    ck_assert_int_eq(certificates_update(c, a.id, "INACTIVE", &err), FL_OK); /* no change, no row */
    EXPECT_ROWS(&from, "");
    ck_assert_int_eq(certificates_update(c, a.id, "ACTIVE", &err), FL_OK);
    EXPECT_ROWS(&from, want);
    ck_assert_int_eq(certificates_update(c, a.id, "REVOKED", &err), FL_OK);
    EXPECT_ROWS(&from, want);
    ck_assert_int_eq(certificates_delete(c, a.id, 0, &err), FL_OK);
    EXPECT_ROWS(&from, want);
    /* a failed change writes nothing */
    ck_assert_int_eq(certificates_update(c, a.id, "ACTIVE", &err), FL_NOT_FOUND);
    EXPECT_ROWS(&from, "");

    /* a CA status change: every client is re-checked */
    json_t *list = NULL;
    struct certificates_list_in in = {.page_size = 10};
    ck_assert_int_eq(certificates_ca_list(c, &in, NULL, &list, &err), FL_OK);
    const char *ca_id = json_string_value(
        json_object_get(json_array_get(json_object_get(list, "certificates"), 0), "certificateId"));
    ck_assert_ptr_nonnull(ca_id);
    struct certificates_ca_update_in up = {.id = ca_id, .new_status = "INACTIVE"};
    ck_assert_msg(certificates_ca_update(c, &up, &err) == FL_OK, "%s", err.msg);
    EXPECT_ROWS(&from, "cert_status:(null)");
    up.new_status = NULL;
    up.new_auto_status = "ENABLE"; /* not a status change */
    ck_assert_msg(certificates_ca_update(c, &up, &err) == FL_OK, "%s", err.msg);
    EXPECT_ROWS(&from, "");
    json_decref(list);
}
END_TEST

START_TEST(test_hooks_policies)
{
    struct cert a, b;
    mk_cert(&a);
    mk_cert(&b);
    json_t *o = NULL;
    ck_assert_int_eq(policies_create(c, "p1", DOC, NULL, &o, &err), FL_OK);
    json_decref(o);
    json_t *g = NULL;
    struct thing_group_create_in gin = {.name = "g1"};
    ck_assert_int_eq(thing_groups_create(c, &gin, &g, &err), FL_OK);
    const char *garn = json_string_value(json_object_get(g, "thingGroupArn"));
    int64_t from = max_id();
    char want[600];

    ck_assert_int_eq(policies_attach(c, "p1", a.arn, &err), FL_OK);
    snprintf(want, sizeof(want), "authz:%s", a.id);
    EXPECT_ROWS(&from, want);
    ck_assert_int_eq(policies_attach(c, "p1", a.arn, &err), FL_OK); /* already attached */
    EXPECT_ROWS(&from, "");
    ck_assert_int_eq(policies_attach(c, "p1", b.arn, &err), FL_OK);
    snprintf(want, sizeof(want), "authz:%s", b.id);
    EXPECT_ROWS(&from, want);

    /* a new default version reaches both certificates */
    ck_assert_int_eq(policies_create_version(c, "p1", DOC, 0, &o, &err), FL_OK);
    json_decref(o);
    EXPECT_ROWS(&from, "");
    ck_assert_int_eq(policies_create_version(c, "p1", DOC, 1, &o, &err), FL_OK);
    json_decref(o);
    char both[600];
    const char *lo = strcmp(a.id, b.id) < 0 ? a.id : b.id, *hi = lo == a.id ? b.id : a.id;
    snprintf(both, sizeof(both), "authz:%s\nauthz:%s", lo, hi); /* targets in ARN order */
    EXPECT_ROWS(&from, both);
    ck_assert_int_eq(policies_set_default_version(c, "p1", "1", &err), FL_OK);
    EXPECT_ROWS(&from, both);
    ck_assert_int_eq(policies_set_default_version(c, "p1", "1", &err), FL_OK); /* unchanged */
    EXPECT_ROWS(&from, "");

    /* a thing group target: everyone */
    ck_assert_int_eq(policies_attach(c, "p1", garn, &err), FL_OK);
    EXPECT_ROWS(&from, "authz:(null)");
    ck_assert_int_eq(policies_set_default_version(c, "p1", "2", &err), FL_OK);
    EXPECT_ROWS(&from, "authz:(null)");
    ck_assert_int_eq(policies_detach(c, "p1", garn, &err), FL_OK);
    EXPECT_ROWS(&from, "authz:(null)");
    ck_assert_int_eq(policies_detach(c, "p1", garn, &err), FL_OK); /* not attached */
    EXPECT_ROWS(&from, "");
    ck_assert_int_eq(policies_detach(c, "p1", a.arn, &err), FL_OK);
    snprintf(want, sizeof(want), "authz:%s", a.id);
    EXPECT_ROWS(&from, want);
    json_decref(g);
}
END_TEST

START_TEST(test_hooks_things)
{
    struct cert a, b;
    mk_cert(&a);
    mk_cert(&b);
    mk_thing("t1");
    mk_thing("t2");
    json_t *g = NULL;
    struct thing_group_create_in gin = {.name = "g1"};
    ck_assert_int_eq(thing_groups_create(c, &gin, &g, &err), FL_OK);
    json_decref(g);
    int64_t from = max_id();
    char want[600], both[600];
    const char *lo = strcmp(a.id, b.id) < 0 ? a.id : b.id, *hi = lo == a.id ? b.id : a.id;
    snprintf(both, sizeof(both), "authz:%s\nauthz:%s", lo, hi);

    ck_assert_int_eq(principals_attach(c, "t1", a.arn, NULL, &err), FL_OK);
    snprintf(want, sizeof(want), "authz:%s", a.id);
    EXPECT_ROWS(&from, want);
    ck_assert_int_eq(principals_attach(c, "t1", b.arn, NULL, &err), FL_OK);
    snprintf(want, sizeof(want), "authz:%s", b.id);
    EXPECT_ROWS(&from, want);

    /* attributes feed policy variables */
    struct things_update_in up = {.name = "t1", .attributes = json_pack("{s:s}", "k", "v"), .merge = 1};
    ck_assert_int_eq(things_update(c, &up, &err), FL_OK);
    json_decref(up.attributes);
    EXPECT_ROWS(&from, both);
    struct things_update_in noop = {.name = "t1"};
    ck_assert_int_eq(things_update(c, &noop, &err), FL_OK);
    EXPECT_ROWS(&from, "");
    /* a thing without certificates: nothing to tell */
    struct things_update_in up2 = {.name = "t2", .attributes = json_pack("{s:s}", "k", "v"), .merge = 1};
    ck_assert_int_eq(things_update(c, &up2, &err), FL_OK);
    json_decref(up2.attributes);
    EXPECT_ROWS(&from, "");

    /* group membership: inherited policies */
    struct thing_group_member_in m = {.group_name = "g1", .thing_name = "t1"};
    ck_assert_int_eq(thing_groups_add_thing(c, &m, &err), FL_OK);
    EXPECT_ROWS(&from, both);
    ck_assert_int_eq(thing_groups_remove_thing(c, &m, &err), FL_OK);
    EXPECT_ROWS(&from, both);
    ck_assert_int_eq(thing_groups_remove_thing(c, &m, &err), FL_OK); /* not a member */
    EXPECT_ROWS(&from, "");
    json_t *add = json_pack("[s]", "g1");
    ck_assert_int_eq(thing_groups_update_for_thing(c, "t1", add, NULL, &err), FL_OK);
    json_decref(add);
    EXPECT_ROWS(&from, both);
    ck_assert_int_eq(thing_groups_delete(c, "g1", 0, 0, &err), FL_OK);
    EXPECT_ROWS(&from, "authz:(null)");

    /* an empty group's deletion changes nobody */
    ck_assert_int_eq(thing_groups_create(c, &gin, &g, &err), FL_OK);
    json_decref(g);
    EXPECT_ROWS(&from, "");
    ck_assert_int_eq(thing_groups_delete(c, "g1", 0, 0, &err), FL_OK);
    EXPECT_ROWS(&from, "");

    ck_assert_int_eq(principals_detach(c, "t1", a.arn, &err), FL_OK);
    snprintf(want, sizeof(want), "authz:%s", a.id);
    EXPECT_ROWS(&from, want);
}
END_TEST

/* ---- kick: packets ------------------------------------------------------------------------------ */

START_TEST(test_kick_encode)
{
    uint8_t b[512];
    size_t n = mqtt_wire_connect(b, sizeof(b), "fk", "u", 60);
    static const uint8_t want_connect[] = {0x10, 17, 0, 4, 'M', 'Q', 'T', 'T', 4,  0x82,
                                           0,    60, 0, 2, 'f', 'k', 0,   1,   'u'};
    ck_assert_int_eq(n, sizeof(want_connect));
    ck_assert_int_eq(memcmp(b, want_connect, n), 0);
    n = mqtt_wire_connect(b, sizeof(b), "fk", NULL, 0x1234);
    ck_assert_int_eq(n, 16);
    ck_assert_int_eq(b[1], 14);
    ck_assert_int_eq(b[9], 0x02);
    ck_assert_int_eq(b[10], 0x12);
    ck_assert_int_eq(b[11], 0x34);
    ck_assert_int_eq(mqtt_wire_connect(b, 10, "fk", NULL, 1), 0);

    n = mqtt_wire_publish(b, sizeof(b), OUTBOX_KICK_TOPIC, NULL, 0, 0);
    static const uint8_t want_pub[] = {0x30, 19,  0,   17,  '$', 'C', 'O', 'N', 'T', 'R', 'O',
                                       'L',  '/', 'f', 'l', 'e', 'e', 't', '/', 'v', '1'};
    ck_assert_int_eq(n, sizeof(want_pub));
    ck_assert_int_eq(memcmp(b, want_pub, n), 0);
    /* a remaining length over 127 takes two bytes; retain sets bit 0 */
    char payload[200];
    memset(payload, 'x', sizeof(payload));
    n = mqtt_wire_publish(b, sizeof(b), "t", payload, sizeof(payload), 1);
    ck_assert_int_eq(n, 1 + 2 + 2 + 1 + 200);
    ck_assert_int_eq(b[0], 0x31);
    ck_assert_int_eq(b[1], (203 % 128) | 0x80);
    ck_assert_int_eq(b[2], 203 / 128);
    ck_assert_int_eq(b[3], 0);
    ck_assert_int_eq(b[4], 1);
    ck_assert_int_eq(b[5], 't');
    ck_assert_int_eq(b[6], 'x');
    ck_assert_int_eq(mqtt_wire_publish(b, 100, "t", payload, sizeof(payload), 0), 0);
    /* 16384 needs three bytes */
    static uint8_t big[20000];
    static char bigp[16381];
    n = mqtt_wire_publish(big, sizeof(big), "t", bigp, sizeof(bigp) - 1, 0); /* remaining 16383 */
    ck_assert_int_eq(n, 1 + 2 + 16383);
    ck_assert_int_eq(big[1], 0xff);
    ck_assert_int_eq(big[2], 0x7f);
    n = mqtt_wire_publish(big, sizeof(big), "t", bigp, sizeof(bigp), 0); /* remaining 16384 */
    ck_assert_int_eq(n, 1 + 3 + 16384);
    ck_assert_int_eq(big[1], 0x80);
    ck_assert_int_eq(big[2], 0x80);
    ck_assert_int_eq(big[3], 0x01);

    ck_assert_int_eq(mqtt_wire_pingreq(b, sizeof(b)), 2);
    ck_assert_int_eq(b[0], 0xc0);
    ck_assert_int_eq(b[1], 0);
    ck_assert_int_eq(mqtt_wire_disconnect(b, sizeof(b)), 2);
    ck_assert_int_eq(b[0], 0xe0);
    ck_assert_int_eq(mqtt_wire_pingreq(b, 1), 0);

    static const uint8_t ok[] = {0x20, 2, 0, 0}, refused[] = {0x20, 2, 0, 5}, bad[] = {0x30, 2, 0, 0};
    ck_assert_int_eq(mqtt_wire_parse_connack(ok, 4), 0);
    ck_assert_int_eq(mqtt_wire_parse_connack(refused, 4), 5);
    ck_assert_int_eq(mqtt_wire_parse_connack(bad, 4), -1);
    ck_assert_int_eq(mqtt_wire_parse_connack(ok, 3), -1);
}
END_TEST

/* ---- kick: the thread against a fake broker --------------------------------------------------------- */

static int listen_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    unlink(path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    return fd;
}

static int accept_within(int lfd, int ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, ms), 1);
    int fd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(fd, 0);
    return fd;
}

static void read_exact(int fd, uint8_t *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ck_assert_int_eq(poll(&p, 1, 3000), 1);
        ssize_t r = read(fd, b + got, n - got);
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
    }
}

/* Reads one packet: returns its first byte, the body in body/len. */
static int read_packet(int fd, uint8_t *body, size_t cap, size_t *len)
{
    uint8_t h;
    read_exact(fd, &h, 1);
    size_t rem = 0, mult = 1;
    for (int i = 0; i < 4; i++) {
        uint8_t d;
        read_exact(fd, &d, 1);
        rem += (d & 0x7f) * mult;
        mult *= 128;
        if (!(d & 0x80))
            break;
    }
    ck_assert_uint_le(rem, cap);
    read_exact(fd, body, rem);
    *len = rem;
    return h;
}

/* Accepts the kick client's connection: CONNECT in, CONNACK out, then the
 * SUBSCRIBE to the broker's log topic. */
static int fake_broker_accept(int lfd)
{
    int fd = accept_within(lfd, 4000);
    uint8_t body[256];
    size_t len = 0;
    ck_assert_int_eq(read_packet(fd, body, sizeof(body), &len), 0x10);
    ck_assert_int_eq(memcmp(body, "\0\4MQTT\4", 7), 0);
    static const uint8_t ack[] = {0x20, 2, 0, 0};
    ck_assert_int_eq(write(fd, ack, 4), 4);
    ck_assert_int_eq(read_packet(fd, body, sizeof(body), &len), 0x82);
    ck_assert_int_eq(memcmp(body + 4, "$SYS/broker/log/N", 17), 0);
    return fd;
}

static void expect_kick(int fd)
{
    uint8_t body[256];
    size_t len = 0;
    ck_assert_int_eq(read_packet(fd, body, sizeof(body), &len), 0x30);
    ck_assert_int_eq(len, 2 + strlen(OUTBOX_KICK_TOPIC));
    ck_assert_int_eq(memcmp(body + 2, OUTBOX_KICK_TOPIC, strlen(OUTBOX_KICK_TOPIC)), 0);
}

static void wait_stats(struct kick *k, uint64_t sent, struct kick_stats *st)
{
    for (int i = 0; i < 400; i++) {
        kick_get_stats(k, st);
        if (st->sent >= sent)
            return;
        usleep(10000);
    }
}

START_TEST(test_kick_thread)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/fleetd-kick-%d.sock", (int)getpid());
    int lfd = listen_unix(path);
    struct kick *k = kick_create(path, NULL);
    ck_assert_ptr_nonnull(k);
    struct kick_stats st;
    /* connects at once, without waiting for a kick */
    kick_send(k);
    int fd = fake_broker_accept(lfd);
    expect_kick(fd);
    wait_stats(k, 1, &st);
    ck_assert_int_eq(st.sent, 1);
    ck_assert_int_eq(st.connects, 1);
    ck_assert_int_eq(st.connected, 1);

    /* the connection is kept */
    kick_send(k);
    expect_kick(fd);

    /* the broker went away and came back: the next kick reconnects */
    close(fd);
    usleep(20000);
    kick_send(k);
    fd = fake_broker_accept(lfd);
    expect_kick(fd);
    wait_stats(k, 3, &st);
    ck_assert_int_eq(st.connects, 2);

    /* shutdown says DISCONNECT */
    kick_destroy(k);
    uint8_t body[8];
    size_t len = 0;
    ck_assert_int_eq(read_packet(fd, body, sizeof(body), &len), 0xe0);
    close(fd);
    close(lfd);
    unlink(path);
}
END_TEST

START_TEST(test_kick_broker_down)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/fleetd-kick-down-%d.sock", (int)getpid());
    unlink(path);
    struct kick *k = kick_create(path, NULL);
    ck_assert_ptr_nonnull(k);
    kick_send(k); /* never blocks, never fails */
    struct kick_stats st = {0};
    for (int i = 0; i < 200 && st.failures == 0; i++) {
        usleep(10000);
        kick_get_stats(k, &st);
    }
    ck_assert_int_ge(st.failures, 1);
    ck_assert_int_eq(st.sent, 0);
    /* the owed kick goes out once the broker is there */
    int lfd = listen_unix(path);
    int fd = fake_broker_accept(lfd);
    expect_kick(fd);
    wait_stats(k, 1, &st);
    ck_assert_int_eq(st.sent, 1);
    kick_destroy(k);
    close(fd);
    close(lfd);
    unlink(path);

    /* a refused CONNACK is a failure too */
    lfd = listen_unix(path);
    k = kick_create(path, NULL);
    kick_send(k);
    fd = accept_within(lfd, 4000);
    uint8_t body[256];
    size_t len = 0;
    ck_assert_int_eq(read_packet(fd, body, sizeof(body), &len), 0x10);
    static const uint8_t no[] = {0x20, 2, 0, 5};
    ck_assert_int_eq(write(fd, no, 4), 4);
    for (int i = 0; i < 200; i++) {
        kick_get_stats(k, &st);
        if (st.failures)
            break;
        usleep(10000);
    }
    ck_assert_int_ge(st.failures, 1);
    ck_assert_int_eq(st.connected, 0);
    kick_destroy(k);
    close(fd);
    close(lfd);
    unlink(path);

    /* no broker at all, and bad paths */
    k = kick_create(NULL, NULL);
    ck_assert_ptr_nonnull(k);
    kick_send(k);
    kick_destroy(k);
    kick_send(NULL);
    kick_destroy(NULL);
    ck_assert_ptr_null(kick_create("", NULL));
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    ck_assert_ptr_null(kick_create(longp, NULL));
}
END_TEST

/* The GC runs on the kick thread through the pool's writer, on a deadline
 * that a steady stream of kicks does not starve. */
static int pool_rows(struct core_pool *pool)
{
    struct fl_core *pc = core_pool_acquire(pool);
    struct seen s;
    memset(&s, 0, sizeof(s));
    s.stop_at = -1;
    int64_t last = 0;
    struct fl_err e;
    ck_assert_int_eq(outbox_read(pc, 0, 0, collect, &s, &last, &e), FL_OK);
    core_pool_release(pool, pc);
    return s.n;
}

START_TEST(test_kick_gc)
{
    char dbdir[64], db[128];
    snprintf(dbdir, sizeof(dbdir), "/tmp/fleetd-check-kickgc-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dbdir));
    snprintf(db, sizeof(db), "%s/fleetd.db", dbdir);
    struct fl_config cfg;
    core_config_defaults(&cfg);
    struct core_pool *pool = NULL;
    struct fl_err e;
    ck_assert_int_eq(core_pool_open(&pool, 2, &cfg, db, &e), FL_OK);
    struct fl_core *w = core_pool_acquire_writer(pool);
    ck_assert_int_eq(store_begin(w->st, &e), FL_OK);
    enum fl_code rc = outbox_append_tx(w, OUTBOX_AUTHZ, "a", NULL, NULL, 0, 0, 0, &e);
    if (rc == FL_OK)
        rc = outbox_append_tx(w, OUTBOX_AUTHZ, "b", NULL, NULL, 0, 0, 0, &e);
    ck_assert_int_eq(store_end(w->st, rc, &e), FL_OK);
    ck_assert_int_eq(core_pool_release_writer(pool, w, &e), FL_OK);
    ck_assert_int_eq(pool_rows(pool), 2);

    struct kick *k = kick_create(NULL, pool);
    struct kick_stats st;
    kick_set_gc(k, 20, 3600 * 1000); /* rows are young: kept */
    for (int i = 0; i < 100; i++) {
        kick_get_stats(k, &st);
        if (st.gc_runs >= 2)
            break;
        usleep(10000);
    }
    ck_assert_uint_ge(st.gc_runs, 2);
    ck_assert_int_eq(pool_rows(pool), 2);

    usleep(2000);
    kick_set_gc(k, 20, 0);
    uint64_t runs = st.gc_runs;
    for (int i = 0; i < 300; i++) { /* kicks every 2 ms do not starve the GC */
        kick_send(k);
        kick_get_stats(k, &st);
        if (st.gc_runs >= runs + 2)
            break;
        usleep(2000);
    }
    ck_assert_uint_ge(st.gc_runs, runs + 2);
    ck_assert_int_eq(pool_rows(pool), 0);
    kick_destroy(k);
    core_pool_close(pool);
    tu_rmtree(dbdir);
}
END_TEST

Suite *outbox_suite(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("outbox");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_append_read);
    tcase_add_test(tc, test_append_rejects);
    tcase_add_test(tc, test_read_reentrant);
    tcase_add_test(tc, test_payload_binary);
    tcase_add_test(tc, test_publish_rules);
    tcase_add_test(tc, test_cursors);
    tcase_add_test(tc, test_gc);
    tcase_add_test(tc, test_gc_without_cursor);
    tcase_add_test(tc, test_connectivity);
    suite_add_tcase(s, tc);

    TCase *hooks = tcase_create("hooks");
    tcase_add_checked_fixture(hooks, setup_ca, teardown_ca);
    tcase_set_timeout(hooks, 30);
    tcase_add_test(hooks, test_hooks_certificates);
    tcase_add_test(hooks, test_hooks_policies);
    tcase_add_test(hooks, test_hooks_things);
    suite_add_tcase(s, hooks);

    TCase *kick = tcase_create("kick");
    tcase_set_timeout(kick, 20);
    tcase_add_test(kick, test_kick_encode);
    tcase_add_test(kick, test_kick_thread);
    tcase_add_test(kick, test_kick_broker_down);
    tcase_add_test(kick, test_kick_gc);
    suite_add_tcase(s, kick);
    return s;
}
