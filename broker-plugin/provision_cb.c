/*
 * provision_cb.c - the fleet-provisioning MQTT API (AWS "Device
 * provisioning MQTT API"), payload format json or cbor (payload.h):
 *
 *   $aws/certificates/create/<fmt>                   CreateKeysAndCertificate
 *   $aws/certificates/create-from-csr/<fmt>          CreateCertificateFromCsr
 *   $aws/provisioning-templates/<name>/provision/<fmt> RegisterThing
 *
 * answered on <request topic>/accepted or /rejected, in the request's
 * format, to the requester's connection only (a client-id publish), and
 * only when its policy allows iot:Receive on that topic (a client-id
 * publish skips the broker's READ check, G7).
 *
 * The broker thread only decodes and checks the request, consumes it
 * (message_cb_consume) and queues a job; the work (RSA key generation, CSR
 * signing, the pre-provisioning hook, the template's write transaction)
 * runs on a worker thread (worker.c) through libfleet (provisioning.h),
 * and the answer is published from TICK/CONTROL when the job is collected.
 * A request while the queue is full is rejected at once (429 Throttled).
 *
 * AWS documents the shape of a rejection ({statusCode, errorCode,
 * errorMessage}) but not the list of codes; the mapping below is fleetd's
 * (docs/provisioning.md), with AWS's observed
 * InvalidCertificateOwnershipToken for token failures.
 *
 * The same file submits the periodic sweep of unclaimed certificates.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_plugin.h"
#include "payload.h"
#include "prov_request.h"
#include "provisioning.h"
#include "topics.h"
#include "worker.h"

#define TOPIC_MAX PROV_TOPIC_MAX

struct prov_job {
    struct fp_job job; /* first: the worker hands it back */
    enum prov_kind kind;
    struct prov_request req; /* the decoded request (format, CSR, token, parameters, template) */
    int qos;
    uint64_t gen; /* the requester's connection */
    int64_t ttl_s;
    char claim_cert[65];
    char topic[TOPIC_MAX + 1]; /* the request's */
    char client_id[FP_CLIENT_ID_MAX + 1];
    /* the result, filled by run */
    enum fl_code rc;
    enum provisioning_stage stage;
    json_t *resp;
    int deleted;
    struct fl_err err;
};

static void job_free(struct prov_job *j)
{
    prov_request_free(&j->req);
    json_decref(j->resp);
    free(j);
}

/* ---- answers (broker thread) ------------------------------------------------ */

/* Publishes body on topic + suffix to client_id's connection gen (0: any)
 * when its policy lets it receive there. */
static void answer(struct fp_plugin *p, const char *client_id, uint64_t gen, const char *topic,
                   const char *suffix, enum payload_fmt fmt, int qos, const json_t *body, int secret)
{
    char t[TOPIC_MAX + 16];
    if ((size_t)snprintf(t, sizeof(t), "%s%s", topic, suffix) >= sizeof(t))
        return;
    const struct fp_ctx *ctx = clients_live(&p->clients, client_id);
    if (ctx == NULL || (gen && ctx->gen != gen)) {
        core_log(p->core, FL_LOG_DEBUG, "%s: client %s went away; answer dropped", t, client_id);
        return;
    }
    if (acl_cb_decide(ctx, MOSQ_ACL_READ, t, false) != MOSQ_ERR_SUCCESS) {
        core_log(p->core, FL_LOG_INFO, "%s: client %s may not receive it (iot:Receive); answer dropped", t,
                 client_id);
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    if (payload_encode(fmt, body, &buf, &len) != 0 || len > (size_t)INT32_MAX) {
        free(buf);
        core_log(p->core, FL_LOG_WARN, "%s: cannot encode the answer", t);
        return;
    }
    int rc = mosquitto_broker_publish_copy(client_id, t, (int)len, buf, qos, false, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        core_log(p->core, FL_LOG_WARN, "%s: publish to %s failed (%d)", t, client_id, rc);
    if (secret)
        explicit_bzero(buf, len);
    free(buf);
}

static void reject(struct fp_plugin *p, const char *client_id, uint64_t gen, const char *topic,
                   enum payload_fmt fmt, int qos, int status, const char *code, const char *msg)
{
    json_t *o = json_pack("{s:i, s:s, s:s}", "statusCode", status, "errorCode", code, "errorMessage", msg);
    if (o)
        answer(p, client_id, gen, topic, "/rejected", fmt, qos, o, 0);
    json_decref(o);
}

/* statusCode and errorCode of a failed job (docs/provisioning.md). */
static void reject_code(const struct prov_job *j, int *status, const char **code)
{
    enum fl_code rc = j->rc;
    switch (rc) {
    case FL_INTERNAL:
        *status = 500, *code = "InternalError";
        return;
    case FL_UNAVAILABLE:
        *status = 503, *code = "ServiceUnavailable";
        return;
    case FL_THROTTLING:
        *status = 429, *code = "Throttled";
        return;
    default:
        break;
    }
    if (j->kind == PK_CSR && rc == FL_INVALID_REQUEST) {
        *status = 400, *code = "InvalidCSR";
        return;
    }
    if (j->kind == PK_REGISTER) {
        switch (j->stage) {
        case PROVISIONING_STAGE_TOKEN:
            if (rc == FL_INVALID_REQUEST) {
                *status = 400, *code = "InvalidCertificateOwnershipToken";
                return;
            }
            break;
        case PROVISIONING_STAGE_TEMPLATE:
            if (rc == FL_NOT_FOUND) {
                *status = 404, *code = "ResourceNotFound";
                return;
            }
            *status = 400, *code = "InvalidRequest"; /* disabled, or a JITP template */
            return;
        case PROVISIONING_STAGE_HOOK:
            *status = 403, *code = "AccessDenied";
            return;
        case PROVISIONING_STAGE_APPLY:
            if (rc == FL_INVALID_REQUEST)
                *status = 400, *code = "InvalidParameters";
            else
                *status = 400, *code = "ResourceRegistrationFailure";
            return;
        case PROVISIONING_STAGE_REQUEST:
            break;
        }
    }
    *status = fl_err_status(rc);
    *code = fl_err_mqtt_code(rc);
}

static void job_done(struct fp_plugin *p, struct fp_job *fj, int cancelled)
{
    struct prov_job *j = (struct prov_job *)fj;
    if (j->kind == PK_SWEEP) {
        p->prov_sweeping = 0;
        if (!cancelled && j->rc)
            core_log(p->core, FL_LOG_WARN, "sweep of unclaimed certificates: %s", j->err.msg);
        else if (!cancelled && j->deleted)
            core_log(p->core, FL_LOG_INFO, "deleted %d unclaimed certificate(s) made over MQTT", j->deleted);
        if (!cancelled && j->deleted >= PROVISIONING_SWEEP_MAX)
            p->last_prov_sweep -= FP_PROV_SWEEP_MS; /* more are waiting: again at the next tick */
    } else if (cancelled) {
        /* the broker is stopping: nobody is there to answer */
    } else if (j->rc == FL_OK) {
        answer(p, j->client_id, j->gen, j->topic, "/accepted", j->req.fmt, j->qos, j->resp,
               j->kind == PK_CREATE);
    } else {
        int status;
        const char *code;
        reject_code(j, &status, &code);
        reject(p, j->client_id, j->gen, j->topic, j->req.fmt, j->qos, status, code, j->err.msg);
    }
    job_free(j);
}

/* ---- work (a worker thread) ------------------------------------------------- */

static void job_run(struct fp_job *fj, struct fl_core *wc)
{
    struct prov_job *j = (struct prov_job *)fj;
    fl_err_clear(&j->err);
    switch (j->kind) {
    case PK_CREATE:
        j->rc = provisioning_device_certificate(wc, NULL, j->ttl_s, &j->resp, &j->err);
        break;
    case PK_CSR:
        j->rc = provisioning_device_certificate(wc, j->req.csr, j->ttl_s, &j->resp, &j->err);
        break;
    case PK_REGISTER: {
        struct provisioning_device_in in = {
            .template_name = j->req.template_name,
            .token = j->req.token,
            .parameters = j->req.params,
            .claim_certificate_id = j->claim_cert[0] ? j->claim_cert : NULL,
            .client_id = j->client_id,
        };
        j->rc = provisioning_device_register(wc, &in, &j->resp, &j->stage, &j->err);
        break;
    }
    case PK_SWEEP:
        j->rc = provisioning_sweep(wc, PROVISIONING_SWEEP_MAX, &j->deleted, &j->err);
        break;
    }
}

/* ---- requests (broker thread, MESSAGE) --------------------------------------- */

/* Decodes and checks a request, and starts its job. On success the job is
 * queued; on failure the requester was answered. Consumes the request
 * either way. */
static int request(struct fp_plugin *p, struct fp_ctx *ctx, struct mosquitto_evt_message *ev,
                   enum prov_kind kind)
{
    /* iot:Publish on the request topic was checked by the broker (ACL
     * WRITE) before it raised MESSAGE (message_cb.c) */
    if (ctx == NULL)
        return MOSQ_ERR_ACL_DENIED;
    enum payload_fmt fmt;
    size_t tlen = strlen(ev->topic);
    if (prov_request_fmt(ev->topic, &fmt) != 0 || tlen > TOPIC_MAX)
        return message_cb_consume(ev); /* the topic table routes only json and cbor here */
    struct prov_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return MOSQ_ERR_NOMEM;
    j->job.run = job_run;
    j->job.done = job_done;
    j->kind = kind;
    j->qos = ev->qos; /* answers go out at the request's QoS */
    j->gen = ctx->gen;
    j->ttl_s = p->opt.token_ttl_s;
    memcpy(j->topic, ev->topic, tlen + 1);
    snprintf(j->client_id, sizeof(j->client_id), "%s", ctx->client_id);
    memcpy(j->claim_cert, ctx->cert_id, sizeof(j->claim_cert));

    const char *code = NULL;
    char msg[256];
    int bad = prov_request_decode(kind, ev->topic, ev->payload, (size_t)ev->payloadlen, &j->req, &code, msg,
                                  sizeof(msg)) != 0;
    if (bad) {
        reject(p, j->client_id, j->gen, j->topic, fmt, j->qos, 400, code, msg);
    } else if (worker_submit(p, &j->job) != 0) {
        reject(p, j->client_id, j->gen, j->topic, fmt, j->qos, 429, "Throttled",
               "Too many provisioning requests are waiting; retry later");
        bad = 1;
    }
    if (bad)
        job_free(j);
    return message_cb_consume(ev);
}

int provision_cb_create(struct fp_plugin *p, struct fp_ctx *ctx, struct mosquitto_evt_message *ev)
{
    return request(p, ctx, ev, PK_CREATE);
}

int provision_cb_create_csr(struct fp_plugin *p, struct fp_ctx *ctx, struct mosquitto_evt_message *ev)
{
    return request(p, ctx, ev, PK_CSR);
}

int provision_cb_register(struct fp_plugin *p, struct fp_ctx *ctx, struct mosquitto_evt_message *ev)
{
    return request(p, ctx, ev, PK_REGISTER);
}

/* ---- the sweep (TICK) --------------------------------------------------------- */

void provision_cb_tick(struct fp_plugin *p, int64_t now)
{
    if (p->workers == NULL || p->prov_sweeping || now - p->last_prov_sweep < FP_PROV_SWEEP_MS)
        return;
    p->last_prov_sweep = now;
    struct prov_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return;
    j->job.run = job_run;
    j->job.done = job_done;
    j->kind = PK_SWEEP;
    if (worker_submit(p, &j->job) != 0) {
        free(j);
        return;
    }
    p->prov_sweeping = 1;
}
