/*
 * auth_cb.c - MOSQ_EVT_BASIC_AUTH, the broker's only connect hook (there
 * is no CONNECT event in 2.0.11, and BASIC_AUTH does not run at all with
 * use_identity_as_username true, so the listener must keep it false).
 *
 * - A client on fleetd's unix-socket listener (its address is the socket
 *   path) is trusted.
 * - Any other client is its TLS client certificate: certificateId = SHA-256
 *   of the DER; the certificate must be usable (ACTIVE, CA ACTIVE), the
 *   client id acceptable, and the principal's compiled policies must allow
 *   iot:Connect on client/<clientId>. The MQTT username the client sent is
 *   no identity (AWS SDKs put metrics there): the plugin overwrites it with
 *   the certificate id, which also keeps the client connected across a
 *   broker reload (SIGHUP with allow_anonymous false drops clients without
 *   a username, G3).
 * - A reload runs BASIC_AUTH again for every client, offline persistent
 *   sessions included: that is answered from the context (idempotent, no
 *   presence event, no SQL) and the context is queued for a background
 *   re-check.
 * - A new connection with the client id of a connected one supersedes it:
 *   the broker closes the old one right after this callback returns, and
 *   its context reports DUPLICATE_CLIENTID.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "certificates.h"
#include "fleet_plugin.h"

#define INTERNAL_USERNAME "fleetd"
#define TAKEOVER_GRACE_MS 1000

/* hex SHA-256 of the certificate's DER: AWS's certificateId */
static int cert_id_of(struct fp_plugin *p, X509 *x, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    /* the fetched digest spares OpenSSL 3 a lookup by name per connect */
    if (X509_digest(x, p->sha256 ? p->sha256 : EVP_sha256(), md, &n) != 1 || n != 32)
        return -1;
    core_hex(md, n, out);
    return 0;
}

int auth_cb_refuse(struct fp_plugin *p, const char *id, const char *addr, const char *why, const char *detail)
{
    p->stats.auth_denied++;
    core_log(p->core, FL_LOG_INFO, "refused client %s from %s: %s%s%s", id ? id : "(none)", addr ? addr : "?",
             why, detail ? ": " : "", detail ? detail : "");
    return MOSQ_ERR_AUTH;
}

/* The previous connection with this id (if any) is going away. */
static void supersede(struct fp_plugin *p, struct fp_ctx *ctx)
{
    for (struct fp_ctx *old = ctx->next; old; old = old->next) {
        if (old->hash != ctx->hash || strcmp(old->client_id, ctx->client_id) != 0)
            continue;
        if (old->state == FP_LIVE) {
            if (!old->internal)
                presence_disconnected(p, old, FP_R_DUPLICATE_CLIENTID, 0);
            old->reason = FP_R_DUPLICATE_CLIENTID;
        }
        /* the broker moves a persistent session to the new connection */
        old->durable = 0;
        clients_retire(p, old, plugin_mono_ms(p) + TAKEOVER_GRACE_MS);
    }
}

static int auth_internal(struct fp_plugin *p, struct mosquitto *client, const char *id)
{
    struct fp_ctx *ctx = clients_find(&p->clients, client, id);
    if (ctx && ctx->internal && ctx->state == FP_LIVE)
        return MOSQ_ERR_SUCCESS; /* reload */
    ctx = clients_add(p, client, id);
    if (ctx == NULL)
        return MOSQ_ERR_NOMEM;
    ctx->internal = 1;
    ctx->connected_ms = core_now_ms(p->core);
    supersede(p, ctx);
    mosquitto_set_username(client, INTERNAL_USERNAME);
    return MOSQ_ERR_SUCCESS;
}

/* BASIC_AUTH again for a client the plugin knows (broker reload). */
static int reauth(struct fp_plugin *p, struct fp_ctx *ctx)
{
    if (ctx->set == NULL) {
        ctx->reason = ctx->reason ? ctx->reason : FP_R_AUTH_ERROR;
        return MOSQ_ERR_AUTH;
    }
    if (!ctx->stale) {
        ctx->stale = 1;
        p->stale_pending++;
    }
    return MOSQ_ERR_SUCCESS;
}

int auth_cb_basic(int event, void *event_data, void *userdata)
{
    (void)event;
    struct fp_plugin *p = userdata;
    struct mosquitto_evt_basic_auth *ed = event_data;
    struct mosquitto *client = ed->client;
    const char *id = mosquitto_client_id(client);
    const char *addr = mosquitto_client_address(client);
    if (id == NULL)
        return auth_cb_refuse(p, id, addr, "no client id", NULL);
    if (p->opt.socket[0] && addr && strcmp(addr, p->opt.socket) == 0)
        return auth_internal(p, client, id);

    X509 *x = mosquitto_client_certificate(client);
    struct fp_ctx *ctx = clients_find(&p->clients, client, id);
    /* A reload re-authenticates connected clients and offline sessions
     * (which have no TLS session, hence no certificate). The same
     * connection pointer with a certificate and an FP_GONE context is a
     * new connection that reuses the address of an old one. (Every
     * listener but fleetd's requires a certificate, so a new connection
     * never comes without one.) */
    if (ctx && !ctx->internal && (ctx->state == FP_LIVE || (x == NULL && ctx->durable))) {
        X509_free(x);
        return reauth(p, ctx);
    }
    if (x == NULL)
        return auth_cb_refuse(p, id, addr, "no client certificate", NULL);
    char cert_id[65];
    int bad = cert_id_of(p, x, cert_id);
    X509_free(x);
    if (bad)
        return auth_cb_refuse(p, id, addr, "cannot digest the client certificate", NULL);
    if (!clients_id_ok(id))
        return auth_cb_refuse(p, id, addr, "client id must be 1-128 bytes without '+', '#' or '/'", NULL);
    struct fp_ctx *cur = clients_live(&p->clients, id);
    if (cur && cur->internal)
        return auth_cb_refuse(p, id, addr, "client id in use by an internal client", NULL);

    struct fl_err err;
    fl_err_clear(&err);
    int usable = 0;
    enum fl_code rc = certificates_is_usable(p->core, cert_id, &usable, &err);
    if (rc == FL_OK && !usable)
        return auth_cb_refuse(p, id, addr, "certificate is not ACTIVE or its CA is not ACTIVE", NULL);
    if (rc == FL_NOT_FOUND) /* just-in-time registration, when its CA allows it */
        return jitr_unknown(p, client, cert_id, id, addr);
    if (rc)
        return auth_cb_refuse(p, id, addr, err.msg, NULL);
    struct fp_pol *pol = NULL;
    rc = clients_compile(p, cert_id, id, addr, 1, &pol, &err);
    if (rc)
        return auth_cb_refuse(p, id, addr, err.msg, NULL);

    ctx = clients_add(p, client, id);
    if (ctx == NULL) {
        pcache_unref(p, pol);
        return MOSQ_ERR_NOMEM;
    }
    clients_set_pol(p, ctx, pol);
    memcpy(ctx->cert_id, cert_id, sizeof(ctx->cert_id));
    snprintf(ctx->ip, sizeof(ctx->ip), "%s", addr ? addr : "");
    ctx->durable = !mosquitto_client_clean_session(client);
    ctx->connected_ms = core_now_ms(p->core);
    core_uuid(p->core, ctx->session_id);
    supersede(p, ctx);
    p->clients.live++;
    mosquitto_set_username(client, ctx->cert_id);
    presence_connected(p, ctx);
    p->stats.auth_ok++;
    return MOSQ_ERR_SUCCESS;
}
