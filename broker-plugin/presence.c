/*
 * presence.c - who is online: MOSQ_EVT_DISCONNECT, AWS lifecycle events
 * ($aws/events/presence/connected|disconnected/<clientId>) and the
 * per-thing connectivity rows, queued in memory and written in one
 * transaction from TICK (connectivity_write_batch), never per event.
 *
 * 2.0.11 reports no disconnect reason (always -1) and fires DISCONNECT for
 * connections that never authenticated, for the old connection of a
 * takeover (after the new one's BASIC_AUTH) and again for an offline
 * persistent session when it is resumed (G4). So the reason comes from
 * the plugin's own bookkeeping: DUPLICATE_CLIENTID (set at the takeover),
 * SERVER_INITIATED_DISCONNECT (the plugin's kicks), else what the broker's
 * log line said (acl_cb.c), else CONNECTION_LOST.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectivity.h"
#include "fleet_plugin.h"

#define PRESENCE_PREFIX "$aws/events/presence/"
#define PRESENCE_QOS 1

static const char *const reason_names[FP_R_COUNT] = {
    [FP_R_NONE] = NULL,
    [FP_R_CLIENT_INITIATED] = "CLIENT_INITIATED_DISCONNECT",
    [FP_R_CONNECTION_LOST] = "CONNECTION_LOST",
    [FP_R_DUPLICATE_CLIENTID] = "DUPLICATE_CLIENTID",
    [FP_R_SERVER_INITIATED] = "SERVER_INITIATED_DISCONNECT",
    [FP_R_KEEP_ALIVE_TIMEOUT] = "MQTT_KEEP_ALIVE_TIMEOUT",
    [FP_R_AUTH_ERROR] = "AUTH_ERROR",
    [FP_R_CLIENT_ERROR] = "CLIENT_ERROR",
    [FP_R_FORBIDDEN_ACCESS] = "FORBIDDEN_ACCESS",
};

const char *presence_reason_name(enum fp_reason r)
{
    return (unsigned)r < FP_R_COUNT ? reason_names[r] : NULL;
}

/* Appends s as a JSON string body (no quotes) to buf at *n; 0 when full. */
static int json_esc(char *buf, size_t cap, size_t *n, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char tmp[8];
        const char *out = tmp;
        size_t l = 1;
        if (ch == '"' || ch == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)ch;
            l = 2;
        } else if (ch < 0x20) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", ch);
            l = 6;
        } else {
            tmp[0] = (char)ch;
        }
        if (*n + l >= cap)
            return 0;
        memcpy(buf + *n, out, l);
        *n += l;
    }
    return 1;
}

static int put(char *buf, size_t cap, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap - *n)
        return 0;
    *n += (size_t)w;
    return 1;
}

size_t presence_payload(char *buf, size_t cap, const struct fp_ctx *ctx, int connected, int64_t ts_ms,
                        enum fp_reason reason)
{
    size_t n = 0;
    int ok = put(buf, cap, &n, "{\"clientId\":\"") && json_esc(buf, cap, &n, ctx->client_id) &&
             put(buf, cap, &n,
                 "\",\"timestamp\":%lld,\"eventType\":\"%s\",\"sessionIdentifier\":\"%s\","
                 "\"principalIdentifier\":\"%s\",",
                 (long long)ts_ms, connected ? "connected" : "disconnected", ctx->session_id, ctx->cert_id);
    if (ok && connected)
        ok = put(buf, cap, &n, "\"ipAddress\":\"") && json_esc(buf, cap, &n, ctx->ip) &&
             put(buf, cap, &n, "\",");
    if (ok && !connected) {
        const char *r = presence_reason_name(reason ? reason : FP_R_CONNECTION_LOST);
        ok = put(buf, cap, &n, "\"clientInitiatedDisconnect\":%s,\"disconnectReason\":\"%s\",",
                 reason == FP_R_CLIENT_INITIATED ? "true" : "false", r);
    }
    if (ok)
        ok = put(buf, cap, &n, "\"versionNumber\":%llu}", (unsigned long long)ctx->gen);
    return ok ? n : 0;
}

static void publish_event(struct fp_plugin *p, const struct fp_ctx *ctx, int connected, int64_t ts,
                          enum fp_reason reason)
{
    char topic[sizeof(PRESENCE_PREFIX) + 16 + FP_CLIENT_ID_MAX];
    char payload[1024];
    snprintf(topic, sizeof(topic), PRESENCE_PREFIX "%s/%s", connected ? "connected" : "disconnected",
             ctx->client_id);
    size_t n = presence_payload(payload, sizeof(payload), ctx, connected, ts, reason);
    if (n == 0)
        return;
    int rc = mosquitto_broker_publish_copy(NULL, topic, (int)n, payload, PRESENCE_QOS, false, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        core_log(p->core, FL_LOG_WARN, "presence event for %s not published (%d)", ctx->client_id, rc);
}

static void queue_update(struct fp_plugin *p, const struct fp_ctx *ctx, int connected, int64_t ts,
                         enum fp_reason reason)
{
    if (p->qn == p->qcap) {
        if (p->qcap >= FP_QUEUE_MAX) {
            /* the database has refused writes for a long time: keep the
             * newest state per thing rather than grow without bound */
            core_log(p->core, FL_LOG_WARN, "connectivity queue full; dropping the oldest update");
            memmove(p->q, p->q + 1, (p->qn - 1) * sizeof(*p->q));
            p->qn--;
        } else {
            size_t cap = p->qcap ? p->qcap * 2 : 64;
            struct fp_conn_update *q = realloc(p->q, cap * sizeof(*q));
            if (q == NULL) {
                core_log(p->core, FL_LOG_ERROR, "out of memory queueing connectivity of %s", ctx->client_id);
                return;
            }
            p->q = q;
            p->qcap = cap;
        }
    }
    struct fp_conn_update *u = &p->q[p->qn++];
    snprintf(u->thing, sizeof(u->thing), "%s", ctx->client_id);
    memcpy(u->session, ctx->session_id, sizeof(u->session));
    memcpy(u->principal, ctx->cert_id, sizeof(u->principal));
    u->ts_ms = ts;
    u->connected = (uint8_t)connected;
    u->reason = (uint8_t)reason;
}

void presence_connected(struct fp_plugin *p, const struct fp_ctx *ctx)
{
    publish_event(p, ctx, 1, ctx->connected_ms, FP_R_NONE);
    queue_update(p, ctx, 1, ctx->connected_ms, FP_R_NONE);
}

void presence_disconnected(struct fp_plugin *p, const struct fp_ctx *ctx, enum fp_reason reason, int queue)
{
    int64_t now = core_now_ms(p->core);
    publish_event(p, ctx, 0, now, reason);
    if (queue)
        queue_update(p, ctx, 0, now, reason);
}

enum fl_code presence_flush(struct fp_plugin *p)
{
    if (p->qn == 0)
        return FL_OK;
    struct connectivity_update *u = malloc(p->qn * sizeof(*u));
    if (u == NULL)
        return FL_INTERNAL;
    for (size_t i = 0; i < p->qn; i++) {
        const struct fp_conn_update *q = &p->q[i];
        u[i] = (struct connectivity_update){
            .thing_name = q->thing,
            .connected = q->connected,
            .timestamp_ms = q->ts_ms,
            .disconnect_reason = q->connected ? NULL : presence_reason_name(q->reason),
            .session_id = q->session,
            .principal = q->principal,
        };
    }
    struct fl_err err;
    fl_err_clear(&err);
    enum fl_code rc = connectivity_write_batch(p->core, u, (int)p->qn, &err);
    free(u);
    if (rc == FL_OK) {
        p->qn = 0;
        p->stats.flushes++;
    } else if (rc != FL_UNAVAILABLE) {
        /* not a busy database: retrying the same batch would fail forever */
        core_log(p->core, FL_LOG_ERROR, "connectivity write failed, %zu updates dropped: %s", p->qn, err.msg);
        p->qn = 0;
    }
    return rc;
}

int presence_cb_disconnect(int event, void *event_data, void *userdata)
{
    (void)event;
    struct fp_plugin *p = userdata;
    struct mosquitto_evt_disconnect *ed = event_data;
    const char *id = mosquitto_client_id(ed->client);
    struct fp_ctx *ctx = clients_find(&p->clients, ed->client, id);
    /* unauthenticated, already gone (a takeover, a resumed offline
     * session), or unknown: nothing to report */
    if (ctx == NULL || ctx->state != FP_LIVE)
        return MOSQ_ERR_SUCCESS;
    int64_t now = plugin_mono_ms(p);
    if (!ctx->internal) {
        enum fp_reason r = ctx->reason ? ctx->reason : ctx->hint ? ctx->hint : FP_R_CONNECTION_LOST;
        presence_disconnected(p, ctx, r, 1);
    }
    /* The will's ACL check comes after this event, and an offline
     * persistent session keeps receiving (READ checks on this very
     * connection): the context stays until the sweep. */
    clients_retire(p, ctx, ctx->durable && !ctx->internal ? now + (int64_t)p->opt.session_ttl_s * 1000 : now);
    return MOSQ_ERR_SUCCESS;
}
