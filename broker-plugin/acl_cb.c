/*
 * acl_cb.c - MOSQ_EVT_ACL_CHECK, on the per-message path: one check per
 * incoming PUBLISH (WRITE) and one per delivery to each subscriber (READ),
 * plus SUBSCRIBE/UNSUBSCRIBE. Decided from the client's cached context
 * alone: a hash lookup by client id, the topic table for '$' topics, and
 * the compiled policy set. No SQL, no allocation, no lock.
 *
 *   WRITE       iot:Publish on topic/<topic> (and iot:RetainPublish when retained)
 *   READ        iot:Receive on topic/<topic>
 *   SUBSCRIBE   iot:Subscribe on topicfilter/<filter as sent, wildcards included>
 *   UNSUBSCRIBE allowed
 *
 * Explicit Deny wins (policy_eval). A client without a context (a will
 * after its context was swept, an unknown client) is denied; so is a
 * context whose certificate was revoked (no policy set). Trusted internal
 * clients are allowed everything but the broker's log lines
 * ($SYS/broker/log/N): those teach the plugin why a client disconnects as
 * they pass here, and are then not delivered (fleetd has no use for them).
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <string.h>

#include "fleet_plugin.h"
#include "topics.h"

int acl_cb_decide(const struct fp_ctx *ctx, int access, const char *topic, bool retain)
{
    if (ctx == NULL)
        return MOSQ_ERR_ACL_DENIED;
    if (ctx->internal || access == MOSQ_ACL_UNSUBSCRIBE)
        return MOSQ_ERR_SUCCESS;
    if (ctx->set == NULL || topic == NULL)
        return MOSQ_ERR_ACL_DENIED;
    size_t len = strlen(topic);
    const struct topic_entry *e = topics_match(topic, len);
    enum policy_action a;
    unsigned rule;
    switch (access) {
    case MOSQ_ACL_WRITE:
        a = POLICY_PUBLISH;
        rule = e ? e->publish : TR_POLICY;
        break;
    case MOSQ_ACL_READ:
        a = POLICY_RECEIVE;
        rule = e ? e->receive : TR_POLICY;
        break;
    case MOSQ_ACL_SUBSCRIBE:
        a = POLICY_SUBSCRIBE;
        rule = e ? e->subscribe : TR_POLICY;
        break;
    default:
        return MOSQ_ERR_ACL_DENIED;
    }
    if (rule != TR_POLICY || policy_eval_name(ctx->set, a, topic, len, NULL) != POLICY_ALLOWED)
        return MOSQ_ERR_ACL_DENIED;
    if (access == MOSQ_ACL_WRITE && retain &&
        policy_eval_name(ctx->set, POLICY_RETAIN_PUBLISH, topic, len, NULL) != POLICY_ALLOWED)
        return MOSQ_ERR_ACL_DENIED;
    return MOSQ_ERR_SUCCESS;
}

/* The broker's connection_messages lines (2.0.11 do_disconnect and
 * friends). The client id is what lies between prefix and marker; the
 * last occurrence of the marker is taken, so ids containing it still
 * parse. at_end: the marker ends the line. */
static const struct {
    const char *prefix;
    const char *marker;
    int at_end;
    enum fp_reason reason;
} log_lines[] = {
    {"Client ", " disconnected due to ", 0, FP_R_CLIENT_ERROR},
    {"Client ", " disconnected, not authorised.", 1, FP_R_AUTH_ERROR},
    {"Client ", " been disconnected by administrative action.", 1, FP_R_SERVER_INITIATED},
    {"Client ", " has exceeded timeout, disconnecting.", 1, FP_R_KEEP_ALIVE_TIMEOUT},
    {"Client ", " closed its connection.", 1, FP_R_CONNECTION_LOST},
    {"Client ", " disconnected: ", 0, FP_R_CONNECTION_LOST},
    {"Client ", " disconnected.", 1, FP_R_CLIENT_INITIATED},
    {"Socket error on client ", ", disconnecting.", 1, FP_R_CONNECTION_LOST},
    {"Bad socket read/write on client ", ": ", 0, FP_R_CONNECTION_LOST},
};

static const char *last_occurrence(const char *s, size_t n, const char *m)
{
    size_t ml = strlen(m);
    if (ml > n)
        return NULL;
    for (size_t i = n - ml + 1; i-- > 0;)
        if (memcmp(s + i, m, ml) == 0)
            return s + i;
    return NULL;
}

enum fp_reason acl_cb_log_line(struct fp_plugin *p, const char *line, size_t len)
{
    char buf[FP_CLIENT_ID_MAX + 160];
    if (len >= sizeof(buf))
        return FP_R_NONE;
    memcpy(buf, line, len);
    buf[len] = '\0';
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    /* optional "<timestamp>: " (log_timestamp true) */
    char *s = buf;
    char *colon = strstr(buf, ": ");
    if (colon && colon > buf && strspn(buf, "0123456789-T:.+ ") >= (size_t)(colon - buf))
        s = colon + 2;
    size_t n = strlen(s);
    for (size_t i = 0; i < sizeof(log_lines) / sizeof(log_lines[0]); i++) {
        size_t pl = strlen(log_lines[i].prefix);
        if (n <= pl || strncmp(s, log_lines[i].prefix, pl) != 0)
            continue;
        const char *m = last_occurrence(s + pl, n - pl, log_lines[i].marker);
        if (m == NULL || m == s + pl)
            continue;
        if (log_lines[i].at_end && m + strlen(log_lines[i].marker) != s + n)
            continue;
        *(char *)m = '\0';
        struct fp_ctx *ctx = clients_live(&p->clients, s + pl);
        if (ctx)
            ctx->hint = (uint8_t)log_lines[i].reason;
        return log_lines[i].reason;
    }
    return FP_R_NONE;
}

#define LOG_TOPIC "$SYS/broker/log/"

int acl_cb_check(int event, void *event_data, void *userdata)
{
    (void)event;
    struct fp_plugin *p = userdata;
    struct mosquitto_evt_acl_check *ed = event_data;
    const struct fp_ctx *ctx = clients_find(&p->clients, ed->client, mosquitto_client_id(ed->client));
    p->stats.acl_checks++;
    if (ctx && ctx->internal && ed->access == MOSQ_ACL_READ && ed->topic && ed->topic[0] == '$' &&
        strncmp(ed->topic, LOG_TOPIC, sizeof(LOG_TOPIC) - 1) == 0) {
        if (ed->payload)
            acl_cb_log_line(p, ed->payload, ed->payloadlen);
        /* Read: fleetd subscribes only so that the broker publishes its
         * log, and discards what it gets. Not delivering it saves the
         * broker a message, a packet and a write per line (three per
         * device connection). */
        return MOSQ_ERR_ACL_DENIED;
    }
    int rc = acl_cb_decide(ctx, ed->access, ed->topic, ed->retain);
    if (rc)
        p->stats.acl_denied++;
    return rc;
}
