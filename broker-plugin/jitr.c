/*
 * jitr.c - just-in-time registration and provisioning at connect time (see
 * fleet_plugin.h, jitr_unknown). BASIC_AUTH met a certificate the registry
 * does not know; TLS already verified that it chains to a CA of the broker's
 * capath. On the broker thread: a read-only check that a registered CA
 * named by its issuer is ACTIVE and allows auto-registration, the
 * per-certificate dedupe, and the job submission. On a worker: the
 * registration and the CA's template in one transaction (jitp_register).
 * Back on the broker thread (worker_collect from TICK): the registered
 * event. The connection that triggered it is always refused, as AWS does;
 * the device's next connect finds its certificate registered.
 *
 * Knows topics and the broker API; the registry rules are jitp.c's.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "fleet_plugin.h"
#include "jitp.h"
#include "worker.h"

#define JITR_TOPIC "$aws/events/certificates/registered/"
#define JITR_QOS 1

struct jitr_job {
    struct fp_job job; /* first: the worker hands back this pointer */
    char cert_id[65];
    char client_id[FP_CLIENT_ID_MAX + 1];
    enum fl_code rc;
    struct fl_err err;
    struct jitp_result res;
    char pem[]; /* the device certificate */
};

static int pending_find(const struct fp_plugin *p, const char *cert_id)
{
    for (uint32_t i = 0; i < p->jitr_npending; i++)
        if (memcmp(p->jitr_pending[i], cert_id, 64) == 0)
            return (int)i;
    return -1;
}

static void pending_drop(struct fp_plugin *p, const char *cert_id)
{
    int i = pending_find(p, cert_id);
    if (i < 0)
        return;
    p->jitr_npending--;
    if ((uint32_t)i != p->jitr_npending)
        memcpy(p->jitr_pending[i], p->jitr_pending[p->jitr_npending], 65);
}

static void jitr_run(struct fp_job *j, struct fl_core *wc)
{
    struct jitr_job *jj = (struct jitr_job *)j;
    fl_err_clear(&jj->err);
    jj->rc = jitp_register(wc, jj->pem, &jj->res, &jj->err);
}

static void publish_registered(struct fp_plugin *p, const struct jitr_job *jj)
{
    char topic[sizeof(JITR_TOPIC) + 64];
    snprintf(topic, sizeof(topic), JITR_TOPIC "%s", jj->res.ca_id);
    json_t *ev = jitp_event(p->core, &jj->res, core_now_ms(p->core));
    char *payload = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (payload == NULL)
        return;
    int rc = mosquitto_broker_publish_copy(NULL, topic, (int)strlen(payload), payload, JITR_QOS, false, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        core_log(p->core, FL_LOG_WARN, "registered event for certificate %s not published (%d)", jj->cert_id,
                 rc);
    free(payload);
}

static void jitr_done(struct fp_plugin *p, struct fp_job *j, int cancelled)
{
    struct jitr_job *jj = (struct jitr_job *)j;
    pending_drop(p, jj->cert_id);
    if (cancelled) {
        free(jj);
        return;
    }
    if (jj->rc == FL_OK) {
        if (jj->res.templated && !jj->res.provisioned)
            core_log(p->core, FL_LOG_WARN,
                     "certificate %s of client %s registered just in time under CA %s, PENDING_ACTIVATION: "
                     "its provisioning template failed: %s",
                     jj->cert_id, jj->client_id, jj->res.ca_id, jj->res.why);
        else
            core_log(p->core, FL_LOG_INFO,
                     "certificate %s of client %s registered just in time under CA %s: %s%s%s", jj->cert_id,
                     jj->client_id, jj->res.ca_id, jj->res.status, jj->res.thing_name[0] ? ", thing " : "",
                     jj->res.thing_name);
        publish_registered(p, jj);
    } else if (jj->rc != FL_ALREADY_EXISTS) {
        core_log(p->core, FL_LOG_INFO, "certificate %s of client %s not registered just in time: %s",
                 jj->cert_id, jj->client_id, jj->err.msg);
    }
    free(jj);
}

/* The client's leaf certificate as PEM (malloc'd), or NULL. */
static char *client_pem(struct mosquitto *client)
{
    X509 *x = mosquitto_client_certificate(client);
    if (x == NULL)
        return NULL;
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    X509_free(x);
    char *pem = n > 0 ? x509_der_to_pem(der, (size_t)n) : NULL;
    OPENSSL_free(der);
    return pem;
}

int jitr_unknown(struct fp_plugin *p, struct mosquitto *client, const char *cert_id, const char *id,
                 const char *addr)
{
    if (pending_find(p, cert_id) >= 0)
        return auth_cb_refuse(p, id, addr, "unknown certificate",
                              "its just-in-time registration is in progress");
    char *pem = client_pem(client);
    if (pem == NULL)
        return auth_cb_refuse(p, id, addr, "unknown certificate", "unreadable");
    char ca_id[65];
    struct fl_err err;
    fl_err_clear(&err);
    enum fl_code rc = jitp_candidate(p->core, pem, ca_id, &err);
    if (rc != FL_OK) {
        free(pem);
        return auth_cb_refuse(p, id, addr, "unknown certificate", err.msg);
    }
    if (p->jitr_npending >= FP_JITR_MAX) {
        free(pem);
        return auth_cb_refuse(p, id, addr, "unknown certificate",
                              "too many just-in-time registrations in progress");
    }
    size_t n = strlen(pem);
    struct jitr_job *jj = calloc(1, sizeof(*jj) + n + 1);
    if (jj == NULL) {
        free(pem);
        return MOSQ_ERR_NOMEM;
    }
    memcpy(jj->pem, pem, n + 1);
    free(pem);
    memcpy(jj->cert_id, cert_id, 65);
    snprintf(jj->client_id, sizeof(jj->client_id), "%s", id);
    jj->job.run = jitr_run;
    jj->job.done = jitr_done;
    if (worker_submit(p, &jj->job) != 0) {
        free(jj);
        return auth_cb_refuse(p, id, addr, "unknown certificate",
                              "just-in-time registration unavailable (workers busy)");
    }
    memcpy(p->jitr_pending[p->jitr_npending++], cert_id, 65);
    return auth_cb_refuse(p, id, addr, "unknown certificate",
                          "registering it just in time under its CA: connect again");
}
