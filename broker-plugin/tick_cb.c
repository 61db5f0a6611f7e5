/*
 * tick_cb.c - MOSQ_EVT_TICK: the plugin's deferred work. TICK fires once
 * per broker loop iteration (10 Hz idle, tens of thousands per second
 * under load; its timestamps are not filled in, G8), so every task here
 * is rate-limited on the monotonic clock and the idle cost is a clock read
 * and a few compares:
 *   - sweep contexts that went away (after their wills were checked) and
 *     cached policies idle for longer than their TTL;
 *   - drain the outbox every drain interval (the safety net for lost kicks);
 *   - re-check stale contexts within a time budget;
 *   - kick clients marked for disconnection: here, never from a callback
 *     of the client itself, because a kick re-enters the plugin (G17);
 *   - write queued connectivity updates in one transaction;
 *   - answer finished worker jobs (worker_collect) and submit the sweep
 *     of unclaimed provisioning certificates (provision_cb_tick).
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "fleet_plugin.h"
#include "worker.h"

#define SWEEP_MS 100

static int kick_one(struct fp_plugin *p, struct fp_ctx *ctx, void *arg)
{
    (void)arg;
    if (!ctx->kick)
        return 0;
    ctx->kick = 0;
    if (p->kicks_pending)
        p->kicks_pending--;
    if (ctx->state != FP_LIVE)
        return 0;
    ctx->reason = FP_R_SERVER_INITIATED;
    p->stats.kicks++;
    core_log(p->core, FL_LOG_INFO, "disconnecting client %s (certificate %s)", ctx->client_id, ctx->cert_id);
    /* fires DISCONNECT for it synchronously (presence.c retires it) */
    mosquitto_kick_client_by_clientid(ctx->client_id, false);
    return p->kicks_pending == 0;
}

void tick_cb_run(struct fp_plugin *p, int force)
{
    int64_t now = plugin_mono_ms(p);
    /* one atomic load when no worker job finished */
    worker_collect(p);
    provision_cb_tick(p, now);
    if ((p->clients.gone || p->pcache.oldest) && (force || now - p->last_sweep >= SWEEP_MS)) {
        clients_sweep(p, 0);
        pcache_expire(p);
        p->last_sweep = now;
    }
    if (force || p->drain_more || now - p->last_drain >= p->opt.drain_ms || now < p->last_drain) {
        control_cb_drain(p);
        p->last_drain = now;
    }
    if (p->stale_pending)
        clients_refresh_stale(p, FP_WORK_BUDGET_MS);
    if (p->kicks_pending) {
        clients_each(p, kick_one, NULL);
        p->kicks_pending = 0;
    }
    if (p->qn && (force || now - p->last_flush >= FP_FLUSH_MS || now < p->last_flush)) {
        presence_flush(p);
        p->last_flush = now;
    }
}

int tick_cb(int event, void *event_data, void *userdata)
{
    (void)event, (void)event_data;
    tick_cb_run(userdata, 0);
    return MOSQ_ERR_SUCCESS;
}
