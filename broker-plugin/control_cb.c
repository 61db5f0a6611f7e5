/*
 * control_cb.c - the outbox, fleetd's way to reach devices: MOSQ_EVT_CONTROL
 * on OUTBOX_KICK_TOPIC ("$CONTROL/fleet/v1", published by fleetd over the
 * unix socket after it commits outbox rows) drains it at once; TICK drains
 * it too, as a safety net (tick_cb.c).
 *
 * Rows after the plugin's cursor are handled in id order:
 *   publish      mosquitto_broker_publish_copy(client_id or NULL, topic, ...).
 *                A publish to one client skips the broker's READ check (G7),
 *                so the plugin checks that client's iot:Receive itself.
 *   cert_status  contexts of that certificate (target NULL: every context)
 *   authz        are re-checked (certificate usable?) and recompiled; see
 *                clients.c. Both kinds get the same treatment: a status
 *                check is one indexed read next to the compile. Both
 *                also invalidate the policy cache's entries of that
 *                certificate (of everyone for NULL), see pcache.c.
 * The row callback does no SQL (it runs inside outbox_read's transaction):
 * certificates named by a read's rows are collected and their contexts
 * re-checked once the read is over. Kicks are only marked here: TICK
 * performs them, never a callback of the client concerned (G17).
 * Delivery is at least once: the cursor is saved after the rows are handled.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <string.h>

#include "fleet_plugin.h"
#include "outbox.h"
#include "worker.h"

static int may_receive(const struct fp_ctx *ctx, const char *topic)
{
    if (ctx->internal)
        return 1;
    return ctx->set &&
           policy_eval_name(ctx->set, POLICY_RECEIVE, topic, strlen(topic), NULL) == POLICY_ALLOWED;
}

static void row_publish(struct fp_plugin *p, const struct outbox_row *row)
{
    if (row->target == NULL || row->payload_len > (size_t)INT32_MAX || row->qos < 0 || row->qos > 2)
        return;
    if (row->client_id) {
        const struct fp_ctx *ctx = clients_newest(&p->clients, row->client_id);
        if (ctx == NULL || !may_receive(ctx, row->target)) {
            core_log(p->core, FL_LOG_DEBUG, "outbox %lld: %s may not receive %s; skipped", (long long)row->id,
                     row->client_id, row->target);
            return;
        }
    }
    int rc = mosquitto_broker_publish_copy(row->client_id, row->target, (int)row->payload_len, row->payload,
                                           row->qos, row->retain != 0, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        core_log(p->core, FL_LOG_WARN, "outbox %lld: publish to %s failed (%d); skipped", (long long)row->id,
                 row->target, rc);
}

static void add_target(struct fp_plugin *p, const char *cert_id)
{
    if (cert_id == NULL) {
        p->target_all = 1;
        return;
    }
    if (p->target_all || strlen(cert_id) != 64)
        return;
    for (size_t i = 0; i < p->ntargets; i++)
        if (strcmp(p->targets[i], cert_id) == 0)
            return;
    if (p->ntargets < FP_OUTBOX_BATCH)
        memcpy(p->targets[p->ntargets++], cert_id, 65);
    else
        p->target_all = 1;
}

static enum fl_code on_row(void *arg, const struct outbox_row *row)
{
    struct fp_plugin *p = arg;
    const char *kind = row->kind ? row->kind : "";
    if (strcmp(kind, OUTBOX_PUBLISH) == 0)
        row_publish(p, row);
    else if (strcmp(kind, OUTBOX_AUTHZ) == 0 || strcmp(kind, OUTBOX_CERT_STATUS) == 0) {
        /* NULL: every client (a CA changed, a group policy ...) */
        pcache_invalidate(p, row->target);
        add_target(p, row->target);
    } else
        core_log(p->core, FL_LOG_WARN, "outbox %lld: unknown kind %s; skipped", (long long)row->id, kind);
    p->cursor = row->id;
    p->stats.rows++;
    return FL_OK;
}

enum fl_code control_cb_drain(struct fp_plugin *p)
{
    struct fl_err err;
    fl_err_clear(&err);
    enum fl_code rc = FL_OK;
    if (!p->cursor_loaded) {
        /* first start of this broker id: from the beginning, so rows written
         * while no broker ran are delivered */
        rc = outbox_cursor_get(p->core, p->opt.broker_id, 0, &p->cursor, &err);
        if (rc) {
            core_log(p->core, FL_LOG_WARN, "outbox cursor: %s", err.msg);
            return rc;
        }
        p->saved_cursor = p->cursor;
        p->cursor_loaded = 1;
    }
    /* a bounded amount per call: the rest waits for the next tick, which
     * comes at once (drain_more) */
    p->drain_more = 0;
    for (int round = 0; round < 8; round++) {
        int64_t before = p->cursor, last = p->cursor;
        uint64_t rows = p->stats.rows;
        p->ntargets = 0;
        p->target_all = 0;
        rc = outbox_read(p->core, p->cursor, FP_OUTBOX_BATCH, on_row, p, &last, &err);
        if (p->ntargets || p->target_all)
            clients_mark_stale_set(p, p->targets, p->ntargets, p->target_all);
        if (rc) {
            if (rc != FL_UNAVAILABLE)
                core_log(p->core, FL_LOG_WARN, "outbox read: %s", err.msg);
            break;
        }
        if (p->cursor == before || p->stats.rows - rows < FP_OUTBOX_BATCH)
            break;
        p->drain_more = round == 7;
    }
    if (p->cursor != p->saved_cursor) {
        fl_err_clear(&err);
        enum fl_code r2 = outbox_cursor_set(p->core, p->opt.broker_id, p->cursor, &err);
        if (r2 == FL_OK)
            p->saved_cursor = p->cursor;
        else if (r2 != FL_UNAVAILABLE)
            core_log(p->core, FL_LOG_WARN, "outbox cursor save: %s", err.msg);
        if (rc == FL_OK)
            rc = r2;
    }
    return rc;
}

static enum fl_code peek_row(void *arg, const struct outbox_row *row)
{
    (void)row;
    *(int *)arg = 1;
    return FL_OK;
}

int control_cb_settled(struct fp_plugin *p)
{
    if (!p->cursor_loaded)
        return 0;
    struct fl_err err;
    fl_err_clear(&err);
    int pending = 0;
    int64_t last = p->cursor;
    if (outbox_read(p->core, p->cursor, 1, peek_row, &pending, &last, &err) != FL_OK)
        return 0;
    return !pending;
}

int control_cb_kick(int event, void *event_data, void *userdata)
{
    (void)event;
    struct fp_plugin *p = userdata;
    struct mosquitto_evt_control *ed = event_data;
    const struct fp_ctx *ctx = clients_find(&p->clients, ed->client, mosquitto_client_id(ed->client));
    /* devices cannot publish here (the topic table denies it); be sure anyway.
     * A non-zero return would disconnect the publisher (G15). */
    if (ctx == NULL || !ctx->internal)
        return MOSQ_ERR_SUCCESS;
    worker_collect(p); /* answers of finished worker jobs go out with this loop iteration too */
    control_cb_drain(p);
    p->last_drain = plugin_mono_ms(p);
    clients_refresh_stale(p, FP_WORK_BUDGET_MS);
    return MOSQ_ERR_SUCCESS;
}
