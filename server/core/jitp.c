/*
 * jitp.c - just-in-time registration and provisioning (see jitp.h): the
 * CA lookup by issuer, the PENDING_ACTIVATION registration, the template
 * of the CA's registrationConfig applied in the same transaction, the
 * registered-event payload, and the registrationConfig checks of the CA
 * and template operations. SQL lives in store_certs.c and
 * store_provisioning.c; X.509 in ca/; templates in template_engine.c and
 * provisioning.c. Must not know MQTT or HTTP.
 *
 * Decisions where AWS is silent or fleetd differs:
 *  - a template that fails (a subject attribute it needs is missing, a
 *    thing conflict, a missing policy) leaves the certificate registered
 *    PENDING_ACTIVATION, as AWS does: the registration and the template
 *    share one transaction, the template's part is a savepoint;
 *  - registrationConfig.templateName wins over templateBody when both are
 *    given; a named template is applied whatever its `enabled` flag (that
 *    flag gates fleet provisioning over MQTT);
 *  - the registered event reports the certificate's status once the
 *    transaction committed (ACTIVE when the template activated it).
 */
#include "jitp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "certificates.h"
#include "provisioning.h"
#include "store.h"
#include "store_certs.h"
#include "store_provisioning.h"
#include "template_engine.h"

/* The subject attributes AWS hands a JITP template, by parameter suffix. */
static const char *const subject_params[] = {
    "Country",   "Organization", "OrganizationalUnit", "DistinguishedNameQualifier",
    "StateName", "CommonName",   "SerialNumber",
};

enum fl_code jitp_params(const char *cert_pem, const char *certificate_id, json_t **out, struct fl_err *err)
{
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof(subject_params) / sizeof(subject_params[0]); i++) {
        char v[1024], name[64];
        enum fl_code rc = x509_name_field(cert_pem, 0, subject_params[i], v, sizeof(v), err);
        if (rc) {
            json_decref(o);
            return rc;
        }
        if (v[0] == '\0')
            continue;
        snprintf(name, sizeof(name), JITP_PARAM_PREFIX "%s", subject_params[i]);
        json_object_set_new(o, name, json_string(v));
    }
    json_object_set_new(o, PROVISIONING_CERT_ID_PARAM, json_string(certificate_id));
    *out = o;
    return FL_OK;
}

/* ---- finding the CA --------------------------------------------------------- */

/* The registered CAs with the certificate's issuer as subject; the first
 * one that verifies it (verify = 1) or merely exists (verify = 0), an
 * ACTIVE one with auto-registration ENABLE preferred. */
struct ca_pick {
    const char *pem;
    int verify;
    int found; /* 0 none, 1 some, 2 an eligible one */
    struct store_ca ca;
};

static int eligible(const struct store_ca *ca)
{
    return strcmp(ca->status, "ACTIVE") == 0 && strcmp(ca->auto_registration, "ENABLE") == 0;
}

static enum fl_code pick_cb(void *ctx, const struct store_ca *ca)
{
    struct ca_pick *k = ctx;
    struct fl_err ignore;
    if (k->found == 2)
        return FL_OK;
    if (k->verify && (ca->pem == NULL || x509_verify_signed_by(k->pem, ca->pem, &ignore) != FL_OK))
        return FL_OK;
    int good = eligible(ca);
    if (k->found == 0 || good) {
        store_ca_clear(&k->ca);
        k->ca = *ca;
        /* the row's strings belong to the scan: keep copies */
        k->ca.pem = ca->pem ? strdup(ca->pem) : NULL;
        k->ca.registration_json = ca->registration_json ? strdup(ca->registration_json) : NULL;
        k->found = good ? 2 : 1;
    }
    return FL_OK;
}

/* Inside a transaction: the CA for issuer as pick_cb chooses; FL_OK with
 * k->ca filled (release with store_ca_clear) or the refusal. */
static enum fl_code find_ca(struct fl_core *c, const struct x509_info *info, struct ca_pick *k,
                            struct fl_err *err)
{
    enum fl_code rc =
        store_certs_ca_by_subject(c->st, info->issuer, CERTIFICATES_CA_SAME_SUBJECT_MAX + 1, pick_cb, k, err);
    if (rc)
        return rc;
    if (k->found == 0)
        return fl_err_set(err, FL_NOT_FOUND, "No registered CA certificate %s the certificate (issuer %s)",
                          k->verify ? "signed" : "is the issuer of", info->issuer);
    if (strcmp(k->ca.status, "ACTIVE") != 0)
        return fl_err_set(err, FL_CERTIFICATE_STATE, "The CA certificate %s is INACTIVE", k->ca.id);
    if (strcmp(k->ca.auto_registration, "ENABLE") != 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "The CA certificate %s does not allow auto-registration",
                          k->ca.id);
    return FL_OK;
}

static enum fl_code parse_device(struct fl_core *c, const char *pem, struct x509_info *info,
                                 struct fl_err *err)
{
    if (pem == NULL || *pem == '\0' || x509_parse(pem, info, err) != FL_OK)
        return fl_err_set(err, FL_CERTIFICATE_VALIDATION, "The certificate is invalid: %s",
                          pem && *pem ? err->msg : "empty");
    int64_t now_s = core_now_ms(c) / 1000;
    if (info->not_after_s < now_s)
        return fl_err_set(err, FL_CERTIFICATE_VALIDATION, "The certificate has expired");
    if (info->not_before_s > now_s)
        return fl_err_set(err, FL_CERTIFICATE_VALIDATION, "The certificate is not yet valid");
    return FL_OK;
}

enum fl_code jitp_candidate(struct fl_core *c, const char *cert_pem, char ca_id[65], struct fl_err *err)
{
    ca_id[0] = '\0';
    struct x509_info *info = malloc(sizeof(*info));
    if (info == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    enum fl_code rc = x509_parse(cert_pem, info, err);
    if (rc) {
        free(info);
        return FL_INVALID_REQUEST;
    }
    struct ca_pick k = {.pem = cert_pem, .verify = 0};
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        struct store_cert row;
        rc = store_certs_get(c->st, info->id, 0, &row, err);
        if (rc == FL_OK)
            rc = fl_err_set(err, FL_ALREADY_EXISTS, "The certificate %s is registered", info->id);
        else if (rc == FL_NOT_FOUND)
            rc = find_ca(c, info, &k, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc == FL_OK)
        snprintf(ca_id, 65, "%s", k.ca.id);
    store_ca_clear(&k.ca);
    free(info);
    return rc;
}

/* ---- the registration --------------------------------------------------------- */

/* The template body of a CA's registrationConfig (malloc'd into *body, NULL
 * when it has none) and the name it is applied under. */
static enum fl_code config_body(struct fl_core *c, const char *reg_json, char **body, char name[40],
                                struct fl_err *err)
{
    *body = NULL;
    snprintf(name, 40, "jitp");
    json_t *cfg = reg_json ? json_loads(reg_json, 0, NULL) : NULL;
    const char *tname = json_string_value(json_object_get(cfg, "templateName"));
    const char *tbody = json_string_value(json_object_get(cfg, "templateBody"));
    enum fl_code rc = FL_OK;
    if (tname && *tname) {
        struct store_tpl *row = malloc(sizeof(*row));
        rc = row ? store_prov_tpl_get(c->st, tname, row, err) : fl_err_set(err, FL_INTERNAL, "out of memory");
        if (rc == FL_NOT_FOUND)
            rc = fl_err_set(err, FL_NOT_FOUND, "The provisioning template %s does not exist", tname);
        if (rc == FL_OK && strcmp(row->type, PROVISIONING_JITP) != 0)
            rc = fl_err_set(err, FL_INVALID_REQUEST, "The provisioning template %s is not a JITP template",
                            tname);
        if (rc == FL_OK) {
            rc = store_prov_ver_get(c->st, row->id, row->default_version, body, NULL, err);
            snprintf(name, 40, "%s", tname);
        }
        free(row);
    } else if (tbody && *tbody) {
        *body = strdup(tbody);
        if (*body == NULL)
            rc = fl_err_set(err, FL_INTERNAL, "out of memory");
    }
    json_decref(cfg);
    return rc;
}

/* Inside the registration's transaction: the template in a savepoint. A
 * failure is reported in out->why and undone; only a store failure of the
 * savepoint itself is returned. */
static enum fl_code apply_template(struct fl_core *c, const char *pem, const struct store_ca *ca,
                                   struct jitp_result *out, struct fl_err *err)
{
    struct fl_err terr;
    fl_err_clear(&terr);
    char *body = NULL, name[40];
    json_t *params = NULL;
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    enum fl_code trc = config_body(c, ca->registration_json, &body, name, &terr);
    out->templated = trc != FL_OK || body != NULL;
    if (trc == FL_OK && body)
        trc = jitp_params(pem, out->certificate_id, &params, &terr);
    if (trc == FL_OK && body)
        trc = provisioning_apply_tx(c, name, body, params, out->thing_name, &terr);
    rc = store_end(c->st, trc, err);
    if (trc == FL_UNAVAILABLE || trc == FL_INTERNAL) {
        /* the database, not the template: undo the registration too, so
         * that the device's next attempt starts over */
        rc = fl_err_set(err, trc, "%s", terr.msg);
    } else if (trc != FL_OK) {
        snprintf(out->why, sizeof(out->why), "%s", terr.msg);
        out->thing_name[0] = '\0';
        /* store_end rolled the savepoint back; a failure to do so is fatal */
        if (rc == trc)
            rc = FL_OK;
    } else if (rc == FL_OK) {
        out->provisioned = out->templated;
    }
    free(body);
    json_decref(params);
    return rc;
}

static enum fl_code register_tx(struct fl_core *c, const char *pem, const struct x509_info *info,
                                struct jitp_result *out, struct fl_err *err)
{
    struct store_cert row;
    enum fl_code rc = store_certs_get(c->st, info->id, 0, &row, err);
    if (rc == FL_OK)
        return fl_err_set(err, FL_ALREADY_EXISTS, "The certificate %s is already registered", info->id);
    if (rc != FL_NOT_FOUND)
        return rc;
    struct ca_pick k = {.pem = pem, .verify = 1};
    rc = find_ca(c, info, &k, err);
    if (rc == FL_OK) {
        memset(&row, 0, sizeof(row));
        snprintf(row.id, sizeof(row.id), "%s", info->id);
        row.pem = (char *)pem;
        snprintf(row.status, sizeof(row.status), "PENDING_ACTIVATION");
        snprintf(row.ca_id, sizeof(row.ca_id), "%s", k.ca.id);
        snprintf(row.mode, sizeof(row.mode), "%s", k.ca.mode);
        snprintf(row.owned_by, sizeof(row.owned_by), "%s", c->cfg.account_id);
        row.created_at = row.updated_at = core_now_ms(c);
        row.not_before = info->not_before_s * 1000;
        row.not_after = info->not_after_s * 1000;
        core_uuid(c, row.generation_id);
        rc = store_certs_insert(c->st, &row, err);
        snprintf(out->certificate_id, sizeof(out->certificate_id), "%s", info->id);
        snprintf(out->ca_id, sizeof(out->ca_id), "%s", k.ca.id);
        out->registered_ms = row.created_at;
    }
    if (rc == FL_OK)
        rc = apply_template(c, pem, &k.ca, out, err);
    if (rc == FL_OK) {
        char ca_status[24];
        rc = store_certs_status_pair(c->st, info->id, out->status, ca_status, err);
    }
    store_ca_clear(&k.ca);
    return rc;
}

enum fl_code jitp_register(struct fl_core *c, const char *cert_pem, struct jitp_result *out,
                           struct fl_err *err)
{
    memset(out, 0, sizeof(*out));
    struct x509_info *info = malloc(sizeof(*info));
    if (info == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    enum fl_code rc = parse_device(c, cert_pem, info, err);
    if (rc == FL_OK && (rc = store_begin(c->st, err)) == FL_OK) {
        rc = register_tx(c, cert_pem, info, out, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc)
        memset(out, 0, sizeof(*out));
    free(info);
    return rc;
}

json_t *jitp_event(const struct fl_core *c, const struct jitp_result *r, int64_t now_ms)
{
    char reg[24];
    snprintf(reg, sizeof(reg), "%lld", (long long)r->registered_ms);
    json_t *o = json_object();
    json_object_set_new(o, "certificateId", json_string(r->certificate_id));
    json_object_set_new(o, "caCertificateId", json_string(r->ca_id));
    json_object_set_new(o, "timestamp", json_integer(now_ms));
    json_object_set_new(o, "certificateStatus", json_string(r->status));
    json_object_set_new(o, "awsAccountId", json_string(c->cfg.account_id));
    json_object_set_new(o, "certificateRegistrationTimestamp", json_string(reg));
    return o;
}

/* ---- registrationConfig checks --------------------------------------------------- */

enum fl_code jitp_check_config_tx(struct fl_core *c, const char *registration_json, struct fl_err *err)
{
    if (registration_json == NULL)
        return FL_OK;
    json_t *cfg = json_loads(registration_json, 0, NULL);
    const char *tname = json_string_value(json_object_get(cfg, "templateName"));
    const char *tbody = json_string_value(json_object_get(cfg, "templateBody"));
    enum fl_code rc = FL_OK;
    if (tbody && (rc = tpl_parse(tbody, NULL, err)) != FL_OK) {
        char why[sizeof(err->msg)];
        snprintf(why, sizeof(why), "%s", err->msg);
        rc = fl_err_set(err, FL_INVALID_REQUEST, "Invalid registration template: %s", why);
    }
    if (rc == FL_OK && tname) {
        struct store_tpl *row = malloc(sizeof(*row));
        rc = row ? store_prov_tpl_get(c->st, tname, row, err) : fl_err_set(err, FL_INTERNAL, "out of memory");
        if (rc == FL_NOT_FOUND)
            rc = fl_err_set(err, FL_NOT_FOUND, "The provisioning template %s does not exist", tname);
        else if (rc == FL_OK && strcmp(row->type, PROVISIONING_JITP) != 0)
            rc = fl_err_set(
                err, FL_INVALID_REQUEST,
                "The provisioning template %s is of type %s: registrationConfig needs a JITP template", tname,
                row->type);
        free(row);
    }
    json_decref(cfg);
    return rc;
}

struct in_use {
    char ca_id[65];
};

static enum fl_code in_use_cb(void *ctx, const struct store_ca *ca)
{
    struct in_use *u = ctx;
    snprintf(u->ca_id, sizeof(u->ca_id), "%s", ca->id);
    return FL_OK;
}

enum fl_code jitp_template_unused_tx(struct fl_core *c, const char *template_name, struct fl_err *err)
{
    struct in_use u = {{0}};
    int count = 0;
    enum fl_code rc =
        store_certs_ca_page(c->st, template_name, 1, INT64_MIN, "", 1, in_use_cb, &u, &count, err);
    if (rc)
        return rc;
    if (u.ca_id[0])
        return fl_err_set(
            err, FL_DELETE_CONFLICT,
            "The provisioning template %s is used by the registrationConfig of CA certificate %s",
            template_name, u.ca_id);
    return FL_OK;
}
