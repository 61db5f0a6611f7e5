/*
 * certificates.c - device and CA certificates (see certificates.h): the AWS
 * rules (states and transitions, registration against a CA, deletion
 * guards, registration code), keyset-paginated listings and the response
 * objects. SQL lives in store_certs.c; X.509 parsing, signing and
 * signature checks in ca/ (ca.h). Must not know HTTP or MQTT.
 *
 * Decisions where AWS is silent or fleetd goes further:
 *  - a certificate that cannot be parsed, is expired, or does not verify
 *    against its CA is CertificateValidationException with the reason;
 *  - RegisterCertificate with a caCertificatePem that is not registered is
 *    CertificateValidationException (the operation has no
 *    ResourceNotFoundException); without caCertificatePem the registered
 *    CAs whose subject is the certificate's issuer are tried, and two that
 *    verify it are CertificateConflictException;
 *  - registering or updating a certificate to ACTIVE while its CA is
 *    INACTIVE is CertificateStateException;
 *  - DeleteCACertificate is CertificateStateException while certificates
 *    registered under the CA remain (the operation has no
 *    DeleteConflictException); the built-in root is never deleted;
 *  - removeAutoRegistration drops registrationConfig and sets
 *    autoRegistrationStatus DISABLE;
 *  - UpdateCertificate accepts ACTIVE, INACTIVE and REVOKED; the internal
 *    PENDING_* states and the deprecated REGISTER_INACTIVE are
 *    InvalidRequestException; REVOKED is final (CertificateStateException);
 *  - RegisterCertificate's deprecated setAsActive=true with a status other
 *    than ACTIVE is InvalidRequestException;
 *  - pageSize defaults to 25; markers are opaque page.h tokens.
 */
#include "certificates.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca.h"
#include "jitp.h"
#include "jx.h"
#include "outbox.h"
#include "page.h"
#include "store.h"
#include "store_policies.h"
#include "store_keys.h"
#include "store_certs.h"
#include "tags.h"

#define REGISTRATION_CODE_SETTING "iot.registration_code"

/* ---- helpers ---------------------------------------------------------------- */

static void cert_arn(const struct fl_core *c, char *out, size_t n, const char *id)
{
    core_arn(c, out, n, "cert", id);
}

static void ca_arn(const struct fl_core *c, char *out, size_t n, const char *id)
{
    core_arn(c, out, n, "cacert", id);
}

/* Re-codes the error a callee left in err as code, prefixing its message
 * (copied first: err->msg cannot be both source and destination). */
static enum fl_code recode(struct fl_err *err, enum fl_code code, const char *prefix)
{
    char why[sizeof(err->msg)];
    snprintf(why, sizeof(why), "%s", err ? err->msg : "");
    return fl_err_set(err, code, "%s%s", prefix, why);
}

static enum fl_code no_ca(struct fl_err *err)
{
    return fl_err_set(err, FL_INTERNAL, "no certificate authority configured");
}

enum fl_code certificates_check_id(const char *field, const char *in, char out[65], struct fl_err *err)
{
    if (in == NULL || *in == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: %s", field);
    size_t n = strlen(in);
    int ok = n == 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = isxdigit((unsigned char)in[i]) != 0;
    if (!ok)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value '%.80s' at '%s' failed to satisfy constraint: "
                          "Member must have length 64 and match pattern (0x)?[a-fA-F0-9]+",
                          in, field);
    for (size_t i = 0; i < 64; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[64] = '\0';
    return FL_OK;
}

static enum fl_code check_pem(const char *field, const char *pem, size_t max, struct fl_err *err)
{
    if (pem == NULL || *pem == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: %s", field);
    if (strlen(pem) > max)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value at '%s' failed to satisfy constraint: Member "
                          "must have length less than or equal to %zu",
                          field, max);
    return FL_OK;
}

/* Parses a certificate PEM; any failure is CertificateValidationException
 * carrying ca/'s reason. */
static enum fl_code parse_cert(const char *what, const char *pem, struct x509_info *info, struct fl_err *err)
{
    enum fl_code rc = x509_parse(pem, info, err);
    if (rc != FL_OK) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "The %s is invalid: ", what);
        return recode(err, FL_CERTIFICATE_VALIDATION, prefix);
    }
    return FL_OK;
}

static enum fl_code check_unexpired(struct fl_core *c, const char *what, const struct x509_info *info,
                                    struct fl_err *err)
{
    if (info->not_after_s * 1000 < core_now_ms(c))
        return fl_err_set(err, FL_CERTIFICATE_VALIDATION, "The %s has expired", what);
    return FL_OK;
}

/* The statuses a caller may give a device certificate: RegisterCertificate
 * "status" and UpdateCertificate "newStatus". */
static enum fl_code check_settable_status(const char *field, const char *s, struct fl_err *err)
{
    if (strcmp(s, "ACTIVE") == 0 || strcmp(s, "INACTIVE") == 0 || strcmp(s, "REVOKED") == 0)
        return FL_OK;
    if (strcmp(s, "PENDING_TRANSFER") == 0 || strcmp(s, "PENDING_ACTIVATION") == 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "%s %s is used internally and cannot be set", field, s);
    if (strcmp(s, "REGISTER_INACTIVE") == 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "%s REGISTER_INACTIVE is deprecated and cannot be set",
                          field);
    return fl_err_set(err, FL_INVALID_REQUEST,
                      "1 validation error detected: Value '%.64s' at '%s' failed to satisfy constraint: "
                      "Member must satisfy enum value set: [ACTIVE, INACTIVE, REVOKED]",
                      s, field);
}

/* The status of a registration: status, else setAsActive, else INACTIVE. */
static enum fl_code register_status(const char *status, int set_as_active, const char **out,
                                    struct fl_err *err)
{
    if (status) {
        enum fl_code rc = check_settable_status("status", status, err);
        if (rc)
            return rc;
        if (set_as_active == 1 && strcmp(status, "ACTIVE") != 0)
            return fl_err_set(err, FL_INVALID_REQUEST, "setAsActive=true contradicts status %s", status);
        *out = status;
    } else {
        *out = set_as_active == 1 ? "ACTIVE" : "INACTIVE";
    }
    return FL_OK;
}

static void set_exists(struct fl_core *c, struct fl_err *err, const char *id, int is_ca)
{
    char arn[320];
    if (is_ca)
        ca_arn(c, arn, sizeof(arn), id);
    else
        cert_arn(c, arn, sizeof(arn), id);
    fl_err_set(err, FL_ALREADY_EXISTS, "The %s is already registered",
               is_ca ? "CA certificate" : "certificate");
    if (err) {
        snprintf(err->resource_id, sizeof(err->resource_id), "%s", id);
        snprintf(err->resource_arn, sizeof(err->resource_arn), "%s", arn);
    }
}

static void fill_ref(const struct fl_core *c, const char *id, int is_ca, struct certificates_ref *out)
{
    snprintf(out->id, sizeof(out->id), "%s", id);
    if (is_ca)
        ca_arn(c, out->arn, sizeof(out->arn), id);
    else
        cert_arn(c, out->arn, sizeof(out->arn), id);
}

/* A certificates row for a parsed certificate. pem stays borrowed. */
static void cert_row(struct fl_core *c, const struct x509_info *info, const char *pem, const char *status,
                     const char *ca_id, const char *mode, struct store_cert *row)
{
    memset(row, 0, sizeof(*row));
    snprintf(row->id, sizeof(row->id), "%s", info->id);
    row->pem = (char *)pem;
    snprintf(row->status, sizeof(row->status), "%s", status);
    snprintf(row->ca_id, sizeof(row->ca_id), "%s", ca_id ? ca_id : "");
    snprintf(row->mode, sizeof(row->mode), "%s", mode);
    snprintf(row->owned_by, sizeof(row->owned_by), "%s", c->cfg.account_id);
    row->created_at = row->updated_at = core_now_ms(c);
    row->not_before = info->not_before_s * 1000;
    row->not_after = info->not_after_s * 1000;
    core_uuid(c, row->generation_id);
}

/* A ca_certificates row for a parsed CA certificate. pem stays borrowed. */
static void ca_row(struct fl_core *c, const struct x509_info *info, const char *pem, const char *status,
                   const char *auto_reg, const char *mode, int builtin, struct store_ca *row)
{
    memset(row, 0, sizeof(*row));
    snprintf(row->id, sizeof(row->id), "%s", info->id);
    row->pem = (char *)pem;
    snprintf(row->subject, sizeof(row->subject), "%s", info->subject);
    snprintf(row->status, sizeof(row->status), "%s", status);
    snprintf(row->auto_registration, sizeof(row->auto_registration), "%s", auto_reg);
    snprintf(row->mode, sizeof(row->mode), "%s", mode);
    row->builtin = builtin;
    snprintf(row->owned_by, sizeof(row->owned_by), "%s", c->cfg.account_id);
    row->created_at = row->updated_at = core_now_ms(c);
    row->not_before = info->not_before_s * 1000;
    row->not_after = info->not_after_s * 1000;
    core_uuid(c, row->generation_id);
    row->customer_version = 1;
}

static json_t *validity_json(int64_t not_before, int64_t not_after)
{
    json_t *v = json_object();
    json_object_set_new(v, "notBefore", jx_time(not_before));
    json_object_set_new(v, "notAfter", jx_time(not_after));
    return v;
}

/* ---- the built-in CA ----------------------------------------------------------- */

/* Inside a write transaction: makes sure the root of c->ca is registered
 * (unit tests and tools may skip certificates_register_builtin_ca) and
 * copies its id and status out. */
static enum fl_code builtin_tx(struct fl_core *c, char id[65], char status[16], struct fl_err *err)
{
    struct store_ca row;
    snprintf(id, 65, "%s", ca_root_id(c->ca));
    enum fl_code rc = store_certs_ca_status(c->st, id, status, err);
    if (rc != FL_NOT_FOUND)
        return rc;
    struct x509_info info;
    const char *pem = ca_root_pem(c->ca);
    if ((rc = x509_parse(pem, &info, err)))
        return recode(err, FL_INTERNAL, "the built-in CA certificate cannot be parsed: ");
    ca_row(c, &info, pem, "ACTIVE", "DISABLE", "DEFAULT", 1, &row);
    snprintf(status, 16, "ACTIVE");
    return store_certs_ca_insert(c->st, &row, err);
}

enum fl_code certificates_register_builtin_ca(struct fl_core *c, const char *pem, struct fl_err *err)
{
    struct x509_info info;
    enum fl_code rc = check_pem("certificatePem", pem, CERTIFICATES_PEM_MAX, err);
    if (rc == FL_OK)
        rc = x509_parse(pem, &info, err);
    if (rc)
        return rc == FL_INVALID_REQUEST ? rc : recode(err, FL_INVALID_REQUEST, "");
    if ((rc = store_begin(c->st, err)))
        return rc;
    struct store_ca row;
    rc = store_certs_ca_get(c->st, info.id, &row, err);
    if (rc == FL_OK) {
        if (!row.builtin) {
            row.builtin = 1;
            rc = store_certs_ca_update(c->st, &row, err);
        }
        store_ca_clear(&row);
    } else if (rc == FL_NOT_FOUND) {
        ca_row(c, &info, pem, "ACTIVE", "DISABLE", "DEFAULT", 1, &row);
        rc = store_certs_ca_insert(c->st, &row, err);
    }
    return store_end(c->st, rc, err);
}

/* ---- issuing from the built-in CA --------------------------------------------- */

/* Stores a certificate fleetd just issued, under the built-in root, with
 * is->status; is->in_tx runs inside the same transaction. info comes from
 * the CA with the PEM (parsing the PEM again is most of the cost of storing
 * it). */
static enum fl_code store_issued(struct fl_core *c, const char *pem, const struct x509_info *info,
                                 const struct certificates_issue *is, struct certificates_ref *ref,
                                 struct fl_err *err)
{
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    char root[65], root_status[16];
    rc = builtin_tx(c, root, root_status, err);
    if (rc == FL_OK && strcmp(is->status, "ACTIVE") == 0 && strcmp(root_status, "ACTIVE") != 0)
        rc = fl_err_set(err, FL_INVALID_REQUEST,
                        "The built-in CA certificate %s is INACTIVE: its certificates cannot be set active",
                        root);
    if (rc == FL_OK) {
        struct store_cert row;
        cert_row(c, info, pem, is->status, root, "DEFAULT", &row);
        rc = store_certs_insert(c->st, &row, err);
        if (rc == FL_ALREADY_EXISTS) /* a fresh serial makes this impossible */
            rc = fl_err_set(err, FL_INTERNAL, "issued certificate %s already exists", info->id);
    }
    if (rc == FL_OK && is->in_tx)
        rc = is->in_tx(c, info->id, is->ctx, err);
    rc = store_end(c->st, rc, err);
    if (rc == FL_OK)
        fill_ref(c, info->id, 0, ref);
    return rc;
}

static enum fl_code check_issue(const struct certificates_issue *is, struct fl_err *err)
{
    static const char *const ok[] = {"ACTIVE", "INACTIVE", "PENDING_ACTIVATION"};
    for (size_t i = 0; is->status && i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(is->status, ok[i]) == 0)
            return FL_OK;
    return fl_err_set(err, FL_INTERNAL, "cannot issue a certificate with status %s",
                      is->status ? is->status : "(none)");
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

enum fl_code certificates_create_keys(struct fl_core *c, int set_active, json_t **out, struct fl_err *err)
{
    return certificates_create_keys_for(c, 0, set_active, out, err);
}

enum fl_code certificates_create_keys_for(struct fl_core *c, int64_t valid_s, int set_active, json_t **out,
                                          struct fl_err *err)
{
    struct certificates_issue is = {.status = set_active ? "ACTIVE" : "INACTIVE", .valid_s = valid_s};
    return certificates_create_keys_with(c, &is, out, err);
}

enum fl_code certificates_create_keys_with(struct fl_core *c, const struct certificates_issue *is,
                                           json_t **out, struct fl_err *err)
{
    if (c->ca == NULL)
        return no_ca(err);
    enum fl_code rc = check_issue(is, err);
    if (rc)
        return rc;
    char *cert = NULL, *pub = NULL, *priv = NULL;
    struct x509_info info;
    rc = ca_create_keys_and_certificate_for(c->ca, core_now_ms(c) / 1000, is->valid_s, &cert, &pub, &priv,
                                            &info, err);
    struct certificates_ref ref = {{0}};
    if (rc == FL_OK)
        rc = store_issued(c, cert, &info, is, &ref, err);
    if (rc == FL_OK) {
        json_t *o = json_object(), *kp = json_object();
        json_object_set_new(o, "certificateArn", json_string(ref.arn));
        json_object_set_new(o, "certificateId", json_string(ref.id));
        json_object_set_new(o, "certificatePem", json_string(cert));
        json_object_set_new(kp, "PublicKey", json_string(pub));
        json_object_set_new(kp, "PrivateKey", json_string(priv));
        json_object_set_new(o, "keyPair", kp);
        *out = o;
    }
    free(cert);
    free(pub);
    free_secret(priv);
    return rc;
}

enum fl_code certificates_create_from_csr(struct fl_core *c, const char *csr, int set_active, json_t **out,
                                          struct fl_err *err)
{
    struct certificates_issue is = {.status = set_active ? "ACTIVE" : "INACTIVE"};
    return certificates_create_from_csr_with(c, csr, &is, out, err);
}

enum fl_code certificates_create_from_csr_with(struct fl_core *c, const char *csr,
                                               const struct certificates_issue *is, json_t **out,
                                               struct fl_err *err)
{
    enum fl_code rc = check_pem("certificateSigningRequest", csr, CERTIFICATES_CSR_MAX, err);
    if (rc)
        return rc;
    if (c->ca == NULL)
        return no_ca(err);
    if ((rc = check_issue(is, err)))
        return rc;
    char *cert = NULL;
    struct x509_info info;
    rc = ca_sign_csr(c->ca, csr, core_now_ms(c) / 1000, &cert, &info, err);
    if (rc && rc != FL_INVALID_REQUEST && rc != FL_INTERNAL)
        rc = recode(err, FL_INVALID_REQUEST, "");
    struct certificates_ref ref = {{0}};
    if (rc == FL_OK)
        rc = store_issued(c, cert, &info, is, &ref, err);
    if (rc == FL_OK) {
        json_t *o = json_object();
        json_object_set_new(o, "certificateArn", json_string(ref.arn));
        json_object_set_new(o, "certificateId", json_string(ref.id));
        json_object_set_new(o, "certificatePem", json_string(cert));
        *out = o;
    }
    free(cert);
    return rc;
}

/* ---- RegisterCertificate(WithoutCA) ------------------------------------------- */

/* Finds the registered CA that signed a certificate by its issuer. */
struct ca_match {
    const char *pem; /* the certificate */
    int matches;
    char id[65];
    char status[16];
    char mode[16];
};

static enum fl_code ca_match_cb(void *ctx, const struct store_ca *ca)
{
    struct ca_match *m = ctx;
    struct fl_err ignore;
    if (ca->pem && x509_verify_signed_by(m->pem, ca->pem, &ignore) == FL_OK) {
        if (m->matches++ == 0) {
            snprintf(m->id, sizeof(m->id), "%s", ca->id);
            snprintf(m->status, sizeof(m->status), "%s", ca->status);
            snprintf(m->mode, sizeof(m->mode), "%s", ca->mode);
        }
    }
    return FL_OK;
}

static enum fl_code register_tx(struct fl_core *c, const struct certificates_register_in *in,
                                const struct x509_info *info, const struct x509_info *ca_info,
                                const char *status, struct fl_err *err)
{
    struct store_cert existing;
    enum fl_code rc = store_certs_get(c->st, info->id, 0, &existing, err);
    if (rc == FL_OK) {
        set_exists(c, err, info->id, 0);
        return FL_ALREADY_EXISTS;
    }
    if (rc != FL_NOT_FOUND)
        return rc;

    struct ca_match m = {.pem = in->pem};
    if (ca_info) {
        struct store_ca ca;
        rc = store_certs_ca_get(c->st, ca_info->id, &ca, err);
        if (rc == FL_NOT_FOUND)
            return fl_err_set(err, FL_CERTIFICATE_VALIDATION, "The CA certificate %s is not registered",
                              ca_info->id);
        if (rc)
            return rc;
        rc = ca_match_cb(&m, &ca);
        store_ca_clear(&ca);
        if (m.matches == 0)
            return fl_err_set(err, FL_CERTIFICATE_VALIDATION,
                              "The certificate is not signed by the given CA certificate");
    } else {
        /* More than the per-subject limit cannot exist; one more row shows
         * whether the limit was ever bypassed. */
        rc = store_certs_ca_by_subject(c->st, info->issuer, CERTIFICATES_CA_SAME_SUBJECT_MAX + 1, ca_match_cb,
                                       &m, err);
        if (rc)
            return rc;
        if (m.matches == 0)
            return fl_err_set(err, FL_CERTIFICATE_VALIDATION,
                              "The certificate is not signed by a registered CA certificate (issuer %s)",
                              info->issuer);
        if (m.matches > 1)
            return fl_err_set(err, FL_CERTIFICATE_CONFLICT,
                              "%d registered CA certificates with subject %s verify this certificate; give "
                              "caCertificatePem",
                              m.matches, info->issuer);
    }
    if (strcmp(status, "ACTIVE") == 0 && strcmp(m.status, "ACTIVE") != 0)
        return fl_err_set(err, FL_CERTIFICATE_STATE,
                          "The CA certificate %s is INACTIVE: a certificate it signed cannot be ACTIVE",
                          m.id);
    struct store_cert row;
    cert_row(c, info, in->pem, status, m.id, m.mode, &row);
    rc = store_certs_insert(c->st, &row, err);
    if (rc == FL_ALREADY_EXISTS)
        set_exists(c, err, info->id, 0);
    return rc;
}

enum fl_code certificates_register(struct fl_core *c, const struct certificates_register_in *in,
                                   struct certificates_ref *out, struct fl_err *err)
{
    const char *status = NULL;
    struct x509_info info, ca_info;
    enum fl_code rc = check_pem("certificatePem", in->pem, CERTIFICATES_PEM_MAX, err);
    if (rc == FL_OK && in->ca_pem)
        rc = check_pem("caCertificatePem", in->ca_pem, CERTIFICATES_PEM_MAX, err);
    if (rc == FL_OK)
        rc = register_status(in->status, in->set_as_active, &status, err);
    if (rc == FL_OK)
        rc = parse_cert("certificate", in->pem, &info, err);
    if (rc == FL_OK)
        rc = check_unexpired(c, "certificate", &info, err);
    if (rc == FL_OK && in->ca_pem)
        rc = parse_cert("CA certificate", in->ca_pem, &ca_info, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = register_tx(c, in, &info, in->ca_pem ? &ca_info : NULL, status, err);
    rc = store_end(c->st, rc, err);
    if (rc == FL_OK)
        fill_ref(c, info.id, 0, out);
    return rc;
}

enum fl_code certificates_register_without_ca(struct fl_core *c, const char *pem, const char *status,
                                              struct certificates_ref *out, struct fl_err *err)
{
    struct x509_info info;
    enum fl_code rc = check_pem("certificatePem", pem, CERTIFICATES_PEM_MAX, err);
    if (rc == FL_OK)
        rc = register_status(status, -1, &status, err);
    if (rc == FL_OK)
        rc = parse_cert("certificate", pem, &info, err);
    if (rc == FL_OK)
        rc = check_unexpired(c, "certificate", &info, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    struct store_cert row;
    cert_row(c, &info, pem, status, NULL, "SNI_ONLY", &row);
    rc = store_certs_insert(c->st, &row, err);
    if (rc == FL_ALREADY_EXISTS)
        set_exists(c, err, info.id, 0);
    rc = store_end(c->st, rc, err);
    if (rc == FL_OK)
        fill_ref(c, info.id, 0, out);
    return rc;
}

/* ---- Describe / Update / Delete ----------------------------------------------- */

static enum fl_code cert_not_found(struct fl_err *err, const char *id)
{
    return fl_err_set(err, FL_NOT_FOUND, "Certificate %s does not exist", id);
}

enum fl_code certificates_describe(struct fl_core *c, const char *id_in, json_t **out, struct fl_err *err)
{
    char id[65], arn[320];
    enum fl_code rc = certificates_check_id("certificateId", id_in, id, err);
    if (rc)
        return rc;
    struct store_cert row;
    rc = store_certs_get(c->st, id, 1, &row, err);
    if (rc == FL_NOT_FOUND)
        return cert_not_found(err, id);
    if (rc)
        return rc;
    cert_arn(c, arn, sizeof(arn), row.id);
    json_t *d = json_object();
    json_object_set_new(d, "certificateArn", json_string(arn));
    json_object_set_new(d, "certificateId", json_string(row.id));
    if (row.ca_id[0])
        json_object_set_new(d, "caCertificateId", json_string(row.ca_id));
    json_object_set_new(d, "status", json_string(row.status));
    json_object_set_new(d, "certificatePem", json_string(row.pem ? row.pem : ""));
    json_object_set_new(d, "ownedBy", json_string(row.owned_by));
    json_object_set_new(d, "creationDate", jx_time(row.created_at));
    json_object_set_new(d, "lastModifiedDate", jx_time(row.updated_at));
    json_object_set_new(d, "customerVersion", json_integer(row.customer_version));
    json_object_set_new(d, "generationId", json_string(row.generation_id));
    json_object_set_new(d, "validity", validity_json(row.not_before, row.not_after));
    json_object_set_new(d, "certificateMode", json_string(row.mode));
    store_cert_clear(&row);
    *out = json_object();
    json_object_set_new(*out, "certificateDescription", d);
    return FL_OK;
}

static enum fl_code update_tx(struct fl_core *c, const char *id, const char *status, struct fl_err *err)
{
    struct store_cert row;
    enum fl_code rc = store_certs_get(c->st, id, 0, &row, err);
    if (rc == FL_NOT_FOUND)
        return cert_not_found(err, id);
    if (rc)
        return rc;
    if (strcmp(row.status, status) == 0)
        return FL_OK; /* idempotent */
    if (strcmp(row.status, "REVOKED") == 0)
        return fl_err_set(err, FL_CERTIFICATE_STATE,
                          "Certificate %s is REVOKED: a revoked certificate's status cannot be changed", id);
    if (strcmp(row.status, "PENDING_TRANSFER") == 0)
        return fl_err_set(err, FL_CERTIFICATE_STATE, "Certificate %s has a transfer pending", id);
    if (strcmp(status, "ACTIVE") == 0 && row.ca_id[0]) {
        char ca_status[16];
        rc = store_certs_ca_status(c->st, row.ca_id, ca_status, err);
        if (rc == FL_NOT_FOUND) /* the foreign key makes this impossible */
            return fl_err_set(err, FL_INTERNAL, "CA certificate %s of certificate %s is missing", row.ca_id,
                              id);
        if (rc)
            return rc;
        if (strcmp(ca_status, "ACTIVE") != 0)
            return fl_err_set(err, FL_CERTIFICATE_STATE,
                              "The CA certificate %s is INACTIVE: certificate %s cannot be activated",
                              row.ca_id, id);
    }
    char gen[37];
    core_uuid(c, gen);
    rc = store_certs_set_status(c->st, id, status, core_now_ms(c), gen, err);
    /* the broker disconnects the certificate's clients unless it is ACTIVE */
    if (rc == FL_OK)
        rc = outbox_append_tx(c, OUTBOX_CERT_STATUS, id, NULL, NULL, 0, 0, 0, err);
    return rc;
}

enum fl_code certificates_update(struct fl_core *c, const char *id_in, const char *new_status,
                                 struct fl_err *err)
{
    char id[65];
    enum fl_code rc = certificates_check_id("certificateId", id_in, id, err);
    if (rc)
        return rc;
    if (new_status == NULL || *new_status == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: newStatus");
    if ((rc = check_settable_status("newStatus", new_status, err)))
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = update_tx(c, id, new_status, err);
    return store_end(c->st, rc, err);
}

static enum fl_code delete_tx(struct fl_core *c, const char *id, int force, struct fl_err *err)
{
    struct store_cert row;
    enum fl_code rc = store_certs_get(c->st, id, 0, &row, err);
    if (rc == FL_NOT_FOUND)
        return cert_not_found(err, id);
    if (rc)
        return rc;
    if (strcmp(row.status, "ACTIVE") == 0)
        return fl_err_set(err, FL_CERTIFICATE_STATE,
                          "Certificate %s must be deactivated (not ACTIVE) before deletion", id);
    if (strcmp(row.status, "PENDING_TRANSFER") == 0)
        return fl_err_set(err, FL_CERTIFICATE_STATE, "Certificate %s has a transfer pending", id);
    char thing[129], arn[320];
    int64_t thing_row = 0;
    rc = store_certs_principal_other(c->st, id, 0, &thing_row, thing, sizeof(thing), NULL, err);
    if (rc == FL_OK) {
        core_arn(c, arn, sizeof(arn), "thing", thing);
        return fl_err_set(err, FL_DELETE_CONFLICT,
                          "Things must be detached before deletion: certificate %s is attached to %s", id,
                          arn);
    }
    if (rc != FL_NOT_FOUND)
        return rc;
    int attached = 0;
    cert_arn(c, arn, sizeof(arn), id);
    if ((rc = store_certs_policy_attached(c->st, arn, &attached, err)))
        return rc;
    if (attached && !force)
        return fl_err_set(
            err, FL_DELETE_CONFLICT,
            "Certificate policies must be detached before deletion (arn: %s); or use forceDelete", arn);
    if (attached && (rc = store_policy_targets_detach_all(c->st, arn, err)))
        return rc;
    if ((rc = store_certs_delete(c->st, id, err)))
        return rc;
    return outbox_append_tx(c, OUTBOX_CERT_STATUS, id, NULL, NULL, 0, 0, 0, err);
}

enum fl_code certificates_delete(struct fl_core *c, const char *id_in, int force, struct fl_err *err)
{
    char id[65];
    enum fl_code rc = certificates_check_id("certificateId", id_in, id, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = delete_tx(c, id, force, err);
    return store_end(c->st, rc, err);
}

enum fl_code certificates_is_usable(struct fl_core *c, const char *certificate_id, int *usable,
                                    struct fl_err *err)
{
    char id[65], status[24], ca_status[24];
    *usable = 0;
    enum fl_code rc = certificates_check_id("certificateId", certificate_id, id, err);
    if (rc)
        return rc;
    rc = store_certs_status_pair(c->st, id, status, ca_status, err);
    if (rc == FL_NOT_FOUND)
        return cert_not_found(err, id);
    if (rc)
        return rc;
    *usable = strcmp(status, "ACTIVE") == 0 && (ca_status[0] == '\0' || strcmp(ca_status, "ACTIVE") == 0);
    return FL_OK;
}

enum fl_code certificates_exists_tx(struct fl_core *c, const char *id, struct fl_err *err)
{
    struct store_cert row;
    enum fl_code rc = store_certs_get(c->st, id, 0, &row, err);
    if (rc == FL_NOT_FOUND)
        return cert_not_found(err, id);
    return rc;
}

enum fl_code certificates_id_from_arn(const struct fl_core *c, const char *arn, char id[65],
                                      struct fl_err *err)
{
    const char *name = arn ? core_arn_name(c, arn, "cert") : NULL;
    struct fl_err ignore;
    if (name == NULL || certificates_check_id("principal", name, id, &ignore) != FL_OK)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Invalid principal %.200s: expected a certificate ARN (%s)", arn ? arn : "",
                          "arn:aws:iot:REGION:ACCOUNT:cert/ID");
    return FL_OK;
}

/* ---- listings ------------------------------------------------------------------ */

/* Marker = page token over "<created_at ms>:<id>" of the last row shown. */
static enum fl_code decode_marker(const char *marker, int ascending, int64_t *created, char id[65],
                                  struct fl_err *err)
{
    if (marker == NULL || *marker == '\0') {
        /* Before every row in the chosen direction: ids are hex, so "" sorts
         * first and "g" after all of them. */
        *created = ascending ? INT64_MIN : INT64_MAX;
        snprintf(id, 65, "%s", ascending ? "" : "g");
        return FL_OK;
    }
    char key[128];
    enum fl_code rc = page_token_decode(marker, key, sizeof(key), err);
    if (rc)
        return rc;
    char *colon = strchr(key, ':');
    char *end = NULL;
    long long v = colon ? strtoll(key, &end, 10) : 0;
    struct fl_err ignore;
    if (colon == NULL || end != colon || certificates_check_id("marker", colon + 1, id, &ignore) != FL_OK)
        return fl_err_set(err, FL_INVALID_REQUEST, "The marker is invalid");
    *created = v;
    return FL_OK;
}

static void set_marker(json_t *obj, int64_t created, const char *id)
{
    char key[128], tok[PAGE_TOKEN_MAX];
    snprintf(key, sizeof(key), "%" PRId64 ":%s", created, id);
    page_token_encode(key, tok);
    json_object_set_new(obj, "nextMarker", json_string(tok));
}

struct list_ctx {
    struct fl_core *c;
    json_t *items;
    int limit, n, more;
    int64_t last_created;
    char last_id[65];
};

/* Counts a row against the page; 0 when it is the look-ahead row. */
static int take(struct list_ctx *l, int64_t created, const char *id)
{
    if (l->n == l->limit) {
        l->more = 1;
        return 0;
    }
    l->n++;
    l->last_created = created;
    snprintf(l->last_id, sizeof(l->last_id), "%s", id);
    return 1;
}

static enum fl_code cert_item_cb(void *ctx, const struct store_cert *row)
{
    struct list_ctx *l = ctx;
    if (!take(l, row->created_at, row->id))
        return FL_OK;
    char arn[320];
    cert_arn(l->c, arn, sizeof(arn), row->id);
    json_t *o = json_object();
    json_object_set_new(o, "certificateArn", json_string(arn));
    json_object_set_new(o, "certificateId", json_string(row->id));
    json_object_set_new(o, "status", json_string(row->status));
    json_object_set_new(o, "certificateMode", json_string(row->mode));
    json_object_set_new(o, "creationDate", jx_time(row->created_at));
    json_array_append_new(l->items, o);
    return FL_OK;
}

static enum fl_code ca_item_cb(void *ctx, const struct store_ca *row)
{
    struct list_ctx *l = ctx;
    if (!take(l, row->created_at, row->id))
        return FL_OK;
    char arn[320];
    ca_arn(l->c, arn, sizeof(arn), row->id);
    json_t *o = json_object();
    json_object_set_new(o, "certificateArn", json_string(arn));
    json_object_set_new(o, "certificateId", json_string(row->id));
    json_object_set_new(o, "status", json_string(row->status));
    json_object_set_new(o, "creationDate", jx_time(row->created_at));
    json_array_append_new(l->items, o);
    return FL_OK;
}

/* Shared by both listings: checks the page size, decodes the marker, runs
 * one page (is_ca picks the table) and builds {certificates, nextMarker?}. */
static enum fl_code list_any(struct fl_core *c, const struct certificates_list_in *in, int is_ca,
                             const char *ca_id, const char *template_name, json_t **out, struct fl_err *err)
{
    if (in->page_size < 1 || in->page_size > 250)
        return fl_err_set(
            err, FL_INVALID_REQUEST,
            "1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: "
            "Member must have value between 1 and 250",
            in->page_size);
    int64_t after_created = 0;
    char after_id[65];
    enum fl_code rc = decode_marker(in->marker, in->ascending, &after_created, after_id, err);
    if (rc)
        return rc;
    struct list_ctx l = {.c = c, .items = json_array(), .limit = in->page_size};
    int count = 0;
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        if (is_ca)
            rc = store_certs_ca_page(c->st, template_name, in->ascending, after_created, after_id,
                                     in->page_size + 1, ca_item_cb, &l, &count, err);
        else
            rc = store_certs_page(c->st, ca_id, in->ascending, after_created, after_id, in->page_size + 1,
                                  cert_item_cb, &l, &count, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc) {
        json_decref(l.items);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "certificates", l.items);
    if (l.more)
        set_marker(*out, l.last_created, l.last_id);
    return FL_OK;
}

enum fl_code certificates_list(struct fl_core *c, const struct certificates_list_in *in, json_t **out,
                               struct fl_err *err)
{
    char ca_id[65];
    if (in->ca_id) {
        enum fl_code rc = certificates_check_id("caCertificateId", in->ca_id, ca_id, err);
        if (rc)
            return rc;
    }
    return list_any(c, in, 0, in->ca_id ? ca_id : NULL, NULL, out, err);
}

enum fl_code certificates_ca_list(struct fl_core *c, const struct certificates_list_in *in,
                                  const char *template_name, json_t **out, struct fl_err *err)
{
    if (template_name && (*template_name == '\0' || strlen(template_name) > 36))
        return fl_err_set(err, FL_INVALID_REQUEST, "Invalid templateName");
    return list_any(c, in, 1, NULL, template_name, out, err);
}

/* ---- registration code ------------------------------------------------------- */

enum fl_code certificates_registration_code(struct fl_core *c, char code[65], struct fl_err *err)
{
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    rc = store_settings_get(c->st, REGISTRATION_CODE_SETTING, code, 65, err);
    if (rc == FL_NOT_FOUND) {
        char fresh[65];
        core_random_hex(c, 32, fresh);
        rc = store_settings_add(c->st, REGISTRATION_CODE_SETTING, fresh, err);
        if (rc == FL_OK)
            rc = store_settings_get(c->st, REGISTRATION_CODE_SETTING, code, 65, err);
        if (rc == FL_NOT_FOUND)
            rc = fl_err_set(err, FL_INTERNAL, "the registration code was not stored");
    }
    return store_end(c->st, rc, err);
}

enum fl_code certificates_delete_registration_code(struct fl_core *c, struct fl_err *err)
{
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    rc = store_settings_delete(c->st, REGISTRATION_CODE_SETTING, err);
    return store_end(c->st, rc, err);
}

/* ---- CA certificates ----------------------------------------------------------- */

/* Validates a registrationConfig and returns its canonical JSON text
 * (malloc'd, keys sorted) and templateName. NULL config: *json = NULL. */
static enum fl_code reg_config(json_t *cfg, char **json, char template_name[129], struct fl_err *err)
{
    *json = NULL;
    template_name[0] = '\0';
    if (cfg == NULL || json_is_null(cfg))
        return FL_OK;
    if (!json_is_object(cfg))
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Invalid type for parameter registrationConfig: expected an object");
    const char *body = NULL, *role = NULL, *tmpl = NULL;
    enum fl_code rc;
    if ((rc = jx_str(cfg, "templateBody", JX_OPTIONAL, &body, err)) ||
        (rc = jx_str(cfg, "roleArn", JX_OPTIONAL, &role, err)) ||
        (rc = jx_str(cfg, "templateName", JX_OPTIONAL, &tmpl, err)))
        return rc;
    if (body && strlen(body) > 10240)
        return fl_err_set(err, FL_INVALID_REQUEST, "registrationConfig.templateBody is longer than 10240");
    if (role && (strlen(role) < 20 || strlen(role) > 2048))
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "registrationConfig.roleArn must be 20 to 2048 characters");
    if (tmpl) {
        size_t n = strlen(tmpl);
        int ok = n >= 1 && n <= 36;
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)tmpl[i]) || tmpl[i] == '_' || tmpl[i] == '-';
        if (!ok)
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "registrationConfig.templateName must be 1 to 36 of [0-9A-Za-z_-]");
        snprintf(template_name, 129, "%s", tmpl);
    }
    json_t *norm = json_object();
    if (body)
        json_object_set_new(norm, "templateBody", json_string(body));
    if (role)
        json_object_set_new(norm, "roleArn", json_string(role));
    if (tmpl)
        json_object_set_new(norm, "templateName", json_string(tmpl));
    *json = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(norm);
    if (*json == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    return FL_OK;
}

static enum fl_code ca_not_found(struct fl_err *err, const char *id)
{
    return fl_err_set(err, FL_NOT_FOUND, "CA certificate %s does not exist", id);
}

static enum fl_code ca_register_tx(struct fl_core *c, const struct certificates_ca_register_in *in,
                                   const struct x509_info *info, const char *mode, const char *cn,
                                   char *reg_json, const char *template_name, struct fl_err *err)
{
    enum fl_code rc = store_certs_ca_exists(c->st, info->id, err);
    if (rc == FL_OK) {
        set_exists(c, err, info->id, 1);
        return FL_ALREADY_EXISTS;
    }
    if (rc != FL_NOT_FOUND)
        return rc;
    if (strcmp(mode, "DEFAULT") == 0) {
        char code[65];
        rc = store_settings_get(c->st, REGISTRATION_CODE_SETTING, code, sizeof(code), err);
        if (rc == FL_NOT_FOUND)
            return fl_err_set(err, FL_REG_CODE_VALIDATION,
                              "There is no registration code: call GetRegistrationCode first");
        if (rc)
            return rc;
        if (strcasecmp(cn, code) != 0)
            return fl_err_set(err, FL_REG_CODE_VALIDATION,
                              "The verification certificate's common name is not the registration code");
    }
    int same = 0;
    if ((rc = store_certs_ca_count_subject(c->st, info->subject, &same, err)))
        return rc;
    if (same >= CERTIFICATES_CA_SAME_SUBJECT_MAX)
        return fl_err_set(err, FL_LIMIT_EXCEEDED, "At most %d CA certificates may have the subject %s",
                          CERTIFICATES_CA_SAME_SUBJECT_MAX, info->subject);
    if ((rc = jitp_check_config_tx(c, reg_json, err)))
        return rc;
    struct store_ca row;
    ca_row(c, info, in->ca_pem, in->set_active ? "ACTIVE" : "INACTIVE",
           in->allow_auto_registration ? "ENABLE" : "DISABLE", mode, 0, &row);
    row.registration_json = reg_json;
    snprintf(row.template_name, sizeof(row.template_name), "%s", template_name);
    rc = store_certs_ca_insert(c->st, &row, err);
    if (rc == FL_ALREADY_EXISTS) {
        set_exists(c, err, info->id, 1);
        return rc;
    }
    if (rc == FL_OK && in->tags) {
        char arn[320];
        ca_arn(c, arn, sizeof(arn), info->id);
        rc = tags_put_tx(c, arn, in->tags, err);
    }
    return rc;
}

enum fl_code certificates_ca_register(struct fl_core *c, const struct certificates_ca_register_in *in,
                                      struct certificates_ref *out, struct fl_err *err)
{
    const char *mode = in->mode ? in->mode : "DEFAULT";
    enum fl_code rc = check_pem("caCertificate", in->ca_pem, CERTIFICATES_PEM_MAX, err);
    if (rc)
        return rc;
    if (strcmp(mode, "DEFAULT") != 0 && strcmp(mode, "SNI_ONLY") != 0)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value '%.32s' at 'certificateMode' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [DEFAULT, SNI_ONLY]",
                          mode);
    int has_verif = in->verification_pem && *in->verification_pem;
    if (strcmp(mode, "DEFAULT") == 0 && !has_verif)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "verificationCertificate is required when certificateMode is DEFAULT");
    if (strcmp(mode, "SNI_ONLY") == 0 && has_verif)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "verificationCertificate must be empty when certificateMode is SNI_ONLY");
    if (has_verif &&
        (rc = check_pem("verificationCertificate", in->verification_pem, CERTIFICATES_PEM_MAX, err)))
        return rc;
    if (in->tags && !json_is_array(in->tags))
        return fl_err_set(err, FL_INVALID_REQUEST, "Invalid type for parameter tags: expected a list");

    struct x509_info info, vinfo;
    char cn[256] = "";
    if ((rc = parse_cert("CA certificate", in->ca_pem, &info, err)))
        return rc;
    if (!info.is_ca)
        return fl_err_set(err, FL_CERTIFICATE_VALIDATION,
                          "The CA certificate is not a CA: basicConstraints CA:TRUE is missing");
    if ((rc = check_unexpired(c, "CA certificate", &info, err)))
        return rc;
    if (has_verif) {
        if ((rc = parse_cert("verification certificate", in->verification_pem, &vinfo, err)))
            return rc;
        if ((rc = check_unexpired(c, "verification certificate", &vinfo, err)))
            return rc;
        if (x509_verify_signed_by(in->verification_pem, in->ca_pem, err) != FL_OK)
            return recode(err, FL_CERTIFICATE_VALIDATION,
                          "The verification certificate is not signed by the CA certificate: ");
        if ((rc = x509_name_field(in->verification_pem, 0, "CN", cn, sizeof(cn), err)))
            return recode(err, FL_CERTIFICATE_VALIDATION, "The verification certificate is invalid: ");
    }

    char *reg_json = NULL, template_name[129];
    if ((rc = reg_config(in->registration_config, &reg_json, template_name, err)))
        return rc;
    if ((rc = store_begin(c->st, err)) == FL_OK) {
        rc = ca_register_tx(c, in, &info, mode, cn, reg_json, template_name, err);
        rc = store_end(c->st, rc, err);
    }
    free(reg_json);
    if (rc == FL_OK)
        fill_ref(c, info.id, 1, out);
    return rc;
}

enum fl_code certificates_ca_describe(struct fl_core *c, const char *id_in, json_t **out, struct fl_err *err)
{
    char id[65], arn[320];
    enum fl_code rc = certificates_check_id("caCertificateId", id_in, id, err);
    if (rc)
        return rc;
    struct store_ca row;
    rc = store_certs_ca_get(c->st, id, &row, err);
    if (rc == FL_NOT_FOUND)
        return ca_not_found(err, id);
    if (rc)
        return rc;
    ca_arn(c, arn, sizeof(arn), row.id);
    json_t *d = json_object();
    json_object_set_new(d, "certificateArn", json_string(arn));
    json_object_set_new(d, "certificateId", json_string(row.id));
    json_object_set_new(d, "status", json_string(row.status));
    json_object_set_new(d, "certificatePem", json_string(row.pem ? row.pem : ""));
    json_object_set_new(d, "ownedBy", json_string(row.owned_by));
    json_object_set_new(d, "creationDate", jx_time(row.created_at));
    json_object_set_new(d, "autoRegistrationStatus", json_string(row.auto_registration));
    json_object_set_new(d, "lastModifiedDate", jx_time(row.updated_at));
    json_object_set_new(d, "customerVersion", json_integer(row.customer_version));
    json_object_set_new(d, "generationId", json_string(row.generation_id));
    json_object_set_new(d, "validity", validity_json(row.not_before, row.not_after));
    json_object_set_new(d, "certificateMode", json_string(row.mode));
    *out = json_object();
    json_object_set_new(*out, "certificateDescription", d);
    if (row.registration_json) {
        json_t *cfg = json_loads(row.registration_json, 0, NULL);
        if (cfg)
            json_object_set_new(*out, "registrationConfig", cfg);
    }
    store_ca_clear(&row);
    return FL_OK;
}

static enum fl_code ca_update_tx(struct fl_core *c, const char *id,
                                 const struct certificates_ca_update_in *in, char *reg_json,
                                 const char *template_name, struct fl_err *err)
{
    struct store_ca row;
    enum fl_code rc = store_certs_ca_get(c->st, id, &row, err);
    if (rc == FL_NOT_FOUND)
        return ca_not_found(err, id);
    if (rc)
        return rc;
    int changed = 0, status_changed = 0;
    if (in->new_status && strcmp(row.status, in->new_status) != 0) {
        snprintf(row.status, sizeof(row.status), "%s", in->new_status);
        changed = status_changed = 1;
    }
    if (in->new_auto_status && strcmp(row.auto_registration, in->new_auto_status) != 0) {
        snprintf(row.auto_registration, sizeof(row.auto_registration), "%s", in->new_auto_status);
        changed = 1;
    }
    if (in->remove_auto_registration) {
        changed |= row.registration_json != NULL || strcmp(row.auto_registration, "DISABLE") != 0;
        free(row.registration_json);
        row.registration_json = NULL;
        row.template_name[0] = '\0';
        snprintf(row.auto_registration, sizeof(row.auto_registration), "DISABLE");
    } else if (reg_json && (rc = jitp_check_config_tx(c, reg_json, err)) == FL_OK) {
        changed |= row.registration_json == NULL || strcmp(row.registration_json, reg_json) != 0;
        free(row.registration_json);
        row.registration_json = strdup(reg_json);
        snprintf(row.template_name, sizeof(row.template_name), "%s", template_name);
        if (row.registration_json == NULL)
            rc = fl_err_set(err, FL_INTERNAL, "out of memory");
    }
    if (rc == FL_OK && changed) {
        row.updated_at = core_now_ms(c);
        row.customer_version++;
        core_uuid(c, row.generation_id);
        rc = store_certs_ca_update(c->st, &row, err);
    }
    /* every connected client may hang off this CA: the broker re-checks all */
    if (rc == FL_OK && status_changed)
        rc = outbox_append_tx(c, OUTBOX_CERT_STATUS, NULL, NULL, NULL, 0, 0, 0, err);
    store_ca_clear(&row);
    return rc;
}

enum fl_code certificates_ca_update(struct fl_core *c, const struct certificates_ca_update_in *in,
                                    struct fl_err *err)
{
    char id[65];
    enum fl_code rc = certificates_check_id("caCertificateId", in->id, id, err);
    if (rc)
        return rc;
    if (in->new_status && strcmp(in->new_status, "ACTIVE") != 0 && strcmp(in->new_status, "INACTIVE") != 0)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value '%.32s' at 'newStatus' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [ACTIVE, INACTIVE]",
                          in->new_status);
    if (in->new_auto_status && strcmp(in->new_auto_status, "ENABLE") != 0 &&
        strcmp(in->new_auto_status, "DISABLE") != 0)
        return fl_err_set(
            err, FL_INVALID_REQUEST,
            "1 validation error detected: Value '%.32s' at 'newAutoRegistrationStatus' failed to "
            "satisfy constraint: Member must satisfy enum value set: [ENABLE, DISABLE]",
            in->new_auto_status);
    if (in->remove_auto_registration && in->registration_config && !json_is_null(in->registration_config))
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "registrationConfig and removeAutoRegistration cannot be given together");
    if (in->remove_auto_registration && in->new_auto_status && strcmp(in->new_auto_status, "ENABLE") == 0)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "newAutoRegistrationStatus ENABLE contradicts removeAutoRegistration");
    char *reg_json = NULL, template_name[129];
    if ((rc = reg_config(in->registration_config, &reg_json, template_name, err)))
        return rc;
    if ((rc = store_begin(c->st, err)) == FL_OK) {
        rc = ca_update_tx(c, id, in, reg_json, template_name, err);
        rc = store_end(c->st, rc, err);
    }
    free(reg_json);
    return rc;
}

static enum fl_code ca_delete_tx(struct fl_core *c, const char *id, struct fl_err *err)
{
    struct store_ca row;
    enum fl_code rc = store_certs_ca_get(c->st, id, &row, err);
    if (rc == FL_NOT_FOUND)
        return ca_not_found(err, id);
    if (rc)
        return rc;
    int builtin = row.builtin, active = strcmp(row.status, "ACTIVE") == 0;
    store_ca_clear(&row);
    if (builtin)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "CA certificate %s is fleetd's built-in CA and cannot be deleted", id);
    if (active)
        return fl_err_set(err, FL_CERTIFICATE_STATE,
                          "CA certificate %s must be deactivated (not ACTIVE) before deletion", id);
    int used = 0;
    if ((rc = store_certs_any_by_ca(c->st, id, &used, err)))
        return rc;
    if (used)
        return fl_err_set(err, FL_CERTIFICATE_STATE,
                          "CA certificate %s still has registered certificates: delete them first", id);
    char arn[320];
    ca_arn(c, arn, sizeof(arn), id);
    if ((rc = store_certs_ca_delete(c->st, id, err)))
        return rc;
    return tags_delete_all_tx(c, arn, err);
}

enum fl_code certificates_ca_delete(struct fl_core *c, const char *id_in, struct fl_err *err)
{
    char id[65];
    enum fl_code rc = certificates_check_id("caCertificateId", id_in, id, err);
    if (rc)
        return rc;
    if ((rc = store_begin(c->st, err)))
        return rc;
    rc = ca_delete_tx(c, id, err);
    return store_end(c->st, rc, err);
}
