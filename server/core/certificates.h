/*
 * certificates.h - device certificates and CA certificates with AWS IoT
 * semantics: CreateKeysAndCertificate, CreateCertificateFromCsr,
 * RegisterCertificate(WithoutCA), Describe/Update/Delete/ListCertificates,
 * ListCertificatesByCA; Get/DeleteRegistrationCode, RegisterCACertificate,
 * Describe/Update/Delete/ListCACertificates; and the "may this certificate
 * connect?" question the broker plugin asks (certificates_is_usable).
 *
 * Certificates issued by fleetd's built-in CA (c->ca, ca/ca.h) carry that
 * root as their CA, which is registered as an ordinary CA certificate with
 * builtin=1. Certificate text crosses this API as PEM; read results are the
 * AWS response objects. Knows nothing of HTTP, MQTT, SQL or OpenSSL (X.509
 * parsing and signatures are ca/'s).
 */
#ifndef FL_CERTIFICATES_H
#define FL_CERTIFICATES_H

#include <jansson.h>
#include <stdint.h>

#include "core.h"

#define CERTIFICATES_PEM_MAX 65536 /* CertificatePem max length (service model) */
#define CERTIFICATES_CSR_MAX 4096  /* CertificateSigningRequest max length */
#define CERTIFICATES_PAGE_DEFAULT 25
#define CERTIFICATES_CA_SAME_SUBJECT_MAX 10 /* CA certificates per subject (API reference) */

/* What the create and register operations answer. */
struct certificates_ref {
    char id[65];   /* certificateId */
    char arn[320]; /* certificateArn */
};

/* ---- the built-in CA --------------------------------------------------- */

/* Registers fleetd's own root (pem, from ca_root_pem()) as a CA
 * certificate: ACTIVE, autoRegistrationStatus DISABLE, builtin=1.
 * Idempotent: when the root is already registered only the builtin mark is
 * (re)set; an administrator's status change is kept. Own transaction.
 * Returns FL_OK, FL_INVALID_REQUEST (pem is not a certificate), or a store
 * error. */
enum fl_code certificates_register_builtin_ca(struct fl_core *c, const char *pem, struct fl_err *err);

/* ---- device certificates ------------------------------------------------ */

/* CreateKeysAndCertificate: a key pair and a certificate from the built-in
 * CA, ACTIVE when set_active else INACTIVE. *out = {certificateArn,
 * certificateId, certificatePem, keyPair{PublicKey, PrivateKey}} (new
 * reference; the private key exists nowhere else). Returns FL_OK,
 * FL_INVALID_REQUEST (set_active while the built-in CA is INACTIVE),
 * FL_INTERNAL (no CA configured, CA failure), or a store error. */
enum fl_code certificates_create_keys(struct fl_core *c, int set_active, json_t **out, struct fl_err *err);

/* As certificates_create_keys, the certificate valid for valid_s seconds
 * (<= 0: the CA's device default). Provisioning claims use 300 s. */
enum fl_code certificates_create_keys_for(struct fl_core *c, int64_t valid_s, int set_active, json_t **out,
                                          struct fl_err *err);

/* CreateCertificateFromCsr: csr (PEM, borrowed) signed by the built-in CA;
 * the subject comes from the CSR. *out = {certificateArn, certificateId,
 * certificatePem} (new reference). Returns FL_OK, FL_INVALID_REQUEST (a
 * missing, oversized, garbage or weak CSR: ca_sign_csr's reason),
 * FL_INTERNAL (no CA configured), or a store error. */
enum fl_code certificates_create_from_csr(struct fl_core *c, const char *csr, int set_active, json_t **out,
                                          struct fl_err *err);

/* How fleetd issues a certificate from its CA (the *_with variants). */
struct certificates_issue {
    const char *status; /* ACTIVE | INACTIVE | PENDING_ACTIVATION (fleet provisioning over MQTT) */
    int64_t valid_s;    /* create_keys: validity in seconds, <= 0: the CA's device default */
    /* Called, when not NULL, inside the transaction that stores the new
     * certificate (id: its certificateId); a failure undoes the certificate
     * too. ctx is passed through. */
    enum fl_code (*in_tx)(struct fl_core *c, const char *id, void *ctx, struct fl_err *err);
    void *ctx;
};

/* certificates_create_keys(_for) with the status and hook of is (the key
 * generation runs before any transaction). Same output and codes;
 * FL_INTERNAL for a status not listed above. */
enum fl_code certificates_create_keys_with(struct fl_core *c, const struct certificates_issue *is,
                                           json_t **out, struct fl_err *err);

/* certificates_create_from_csr with the status and hook of is
 * (is->valid_s is not used: the CA's device default). */
enum fl_code certificates_create_from_csr_with(struct fl_core *c, const char *csr,
                                               const struct certificates_issue *is, json_t **out,
                                               struct fl_err *err);

/* RegisterCertificate input. Strings borrowed. */
struct certificates_register_in {
    const char *pem;    /* certificatePem, required */
    const char *ca_pem; /* caCertificatePem or NULL: the CA is then found by issuer */
    const char *status; /* ACTIVE | INACTIVE | REVOKED, or NULL */
    int set_as_active;  /* deprecated setAsActive query flag: -1 absent, 0, 1 */
};

/* RegisterCertificate: the certificate must verify against a registered CA
 * (caCertificatePem names it; without it, the registered CAs whose subject
 * is the certificate's issuer are tried). Status: `status`, else ACTIVE
 * with setAsActive=true, else INACTIVE. The certificate takes its CA's
 * certificateMode. Returns FL_OK, FL_INVALID_REQUEST (bad status, status
 * contradicting setAsActive), FL_CERTIFICATE_VALIDATION (not a
 * certificate, expired, CA not registered, signature does not verify),
 * FL_CERTIFICATE_CONFLICT (two registered CAs with the issuer's subject and
 * key verify it), FL_CERTIFICATE_STATE (ACTIVE requested while its CA is
 * INACTIVE), FL_ALREADY_EXISTS (err->resource_id/resource_arn set), or a
 * store error. */
enum fl_code certificates_register(struct fl_core *c, const struct certificates_register_in *in,
                                   struct certificates_ref *out, struct fl_err *err);

/* RegisterCertificateWithoutCA: any well-formed, unexpired certificate;
 * certificateMode SNI_ONLY, no caCertificateId; status as above (default
 * INACTIVE). Returns FL_OK, FL_INVALID_REQUEST, FL_CERTIFICATE_VALIDATION,
 * FL_ALREADY_EXISTS, or a store error. */
enum fl_code certificates_register_without_ca(struct fl_core *c, const char *pem, const char *status,
                                              struct certificates_ref *out, struct fl_err *err);

/* DescribeCertificate. *out = {certificateDescription{certificateArn,
 * certificateId, caCertificateId?, status, certificatePem, ownedBy,
 * creationDate, lastModifiedDate, customerVersion, generationId,
 * validity{notBefore, notAfter}, certificateMode}} (new reference).
 * Returns FL_OK, FL_INVALID_REQUEST (malformed id), FL_NOT_FOUND, or a
 * store error. */
enum fl_code certificates_describe(struct fl_core *c, const char *id, json_t **out, struct fl_err *err);

/* ListCertificates / ListCertificatesByCA. */
struct certificates_list_in {
    const char *ca_id;  /* ListCertificatesByCA: the CA's id; NULL lists all */
    int page_size;      /* 1..250 */
    const char *marker; /* NULL or "" for the first page */
    int ascending;      /* 0: newest first (AWS default) */
};

/* Pages in creationDate order (ties by id), keyset-paginated so rows added
 * meanwhile never shift a page. *out = {certificates:[{certificateArn,
 * certificateId, status, certificateMode, creationDate}], nextMarker?}
 * (new reference). An unknown ca_id lists nothing. Returns FL_OK,
 * FL_INVALID_REQUEST (page size, marker, malformed ca_id), or a store
 * error. */
enum fl_code certificates_list(struct fl_core *c, const struct certificates_list_in *in, json_t **out,
                               struct fl_err *err);

/* UpdateCertificate: new_status ACTIVE, INACTIVE or REVOKED (the states a
 * caller may set; PENDING_TRANSFER, PENDING_ACTIVATION and the deprecated
 * REGISTER_INACTIVE are FL_INVALID_REQUEST). Idempotent. REVOKED is final;
 * ACTIVE is refused while the certificate's CA is INACTIVE. Each change
 * bumps customerVersion and generationId. Returns FL_OK,
 * FL_INVALID_REQUEST, FL_NOT_FOUND, FL_CERTIFICATE_STATE, or a store
 * error. */
enum fl_code certificates_update(struct fl_core *c, const char *id, const char *new_status,
                                 struct fl_err *err);

/* DeleteCertificate: refused while ACTIVE (FL_CERTIFICATE_STATE) or while
 * attached to a thing (FL_DELETE_CONFLICT, forceDelete or not); attached
 * policies refuse it too (FL_DELETE_CONFLICT) unless force, which detaches
 * them. Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND,
 * FL_CERTIFICATE_STATE, FL_DELETE_CONFLICT, or a store error. */
enum fl_code certificates_delete(struct fl_core *c, const char *id, int force, struct fl_err *err);

/* For the broker plugin and the policy engine: *usable = 1 when the
 * certificate is ACTIVE and either has no CA or its CA is ACTIVE, else 0.
 * Own read (one statement). Returns FL_OK, FL_NOT_FOUND (unknown id; then
 * *usable = 0), FL_INVALID_REQUEST (malformed id), or a store error. */
enum fl_code certificates_is_usable(struct fl_core *c, const char *certificate_id, int *usable,
                                    struct fl_err *err);

/* Inside a transaction the caller opened: FL_OK when a certificate with this
 * id exists, FL_NOT_FOUND ("Certificate <id> does not exist") otherwise. */
enum fl_code certificates_exists_tx(struct fl_core *c, const char *id, struct fl_err *err);

/* Checks a certificateId (exactly 64 hex digits, as the service model
 * says) and copies it to out in lower case, the form ids are stored in.
 * field names the parameter in the message. Returns FL_OK or
 * FL_INVALID_REQUEST. */
enum fl_code certificates_check_id(const char *field, const char *in, char out[65], struct fl_err *err);

/* Parses a certificate ARN of this deployment ("arn:aws:iot:REGION:ACCOUNT:
 * cert/<64 hex>") into id (lower-case hex). Returns FL_OK, or
 * FL_INVALID_REQUEST when arn is not such an ARN. */
enum fl_code certificates_id_from_arn(const struct fl_core *c, const char *arn, char id[65],
                                      struct fl_err *err);

/* ---- CA certificates ----------------------------------------------------- */

/* GetRegistrationCode: the 64-hex code a verification certificate's CN
 * must carry; made on first call and stable until deleted. Own
 * transaction. Returns FL_OK or a store error. */
enum fl_code certificates_registration_code(struct fl_core *c, char code[65], struct fl_err *err);

/* DeleteRegistrationCode: the next GetRegistrationCode makes a new one.
 * Deleting when there is none succeeds. Returns FL_OK or a store error. */
enum fl_code certificates_delete_registration_code(struct fl_core *c, struct fl_err *err);

/* RegisterCACertificate input. Pointers borrowed. */
struct certificates_ca_register_in {
    const char *ca_pem;           /* caCertificate, required */
    const char *verification_pem; /* verificationCertificate (DEFAULT mode: required) */
    int set_active;               /* setAsActive */
    int allow_auto_registration;  /* allowAutoRegistration */
    json_t *registration_config;  /* {templateBody?, roleArn?, templateName?} or NULL */
    json_t *tags;                 /* TagList or NULL */
    const char *mode;             /* certificateMode: DEFAULT (NULL) | SNI_ONLY */
};

/* RegisterCACertificate: caCertificate must be a CA (basicConstraints
 * CA:TRUE) and unexpired; in DEFAULT mode the verification certificate
 * must be signed by it and have CN = the registration code; SNI_ONLY takes
 * no verification certificate. At most 10 CAs per subject. Returns FL_OK,
 * FL_INVALID_REQUEST (missing or extra verification certificate, bad mode,
 * registrationConfig, tags), FL_CERTIFICATE_VALIDATION,
 * FL_REG_CODE_VALIDATION, FL_ALREADY_EXISTS, FL_LIMIT_EXCEEDED, or
 * a store error. */
enum fl_code certificates_ca_register(struct fl_core *c, const struct certificates_ca_register_in *in,
                                      struct certificates_ref *out, struct fl_err *err);

/* DescribeCACertificate. *out = {certificateDescription{certificateArn,
 * certificateId, status, certificatePem, ownedBy, creationDate,
 * autoRegistrationStatus, lastModifiedDate, customerVersion, generationId,
 * validity, certificateMode}, registrationConfig?} (new reference).
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code certificates_ca_describe(struct fl_core *c, const char *id, json_t **out, struct fl_err *err);

/* UpdateCACertificate input. NULL / 0 members leave things as they are. */
struct certificates_ca_update_in {
    const char *id;
    const char *new_status;       /* ACTIVE | INACTIVE */
    const char *new_auto_status;  /* ENABLE | DISABLE */
    json_t *registration_config;  /* replaces the stored one */
    int remove_auto_registration; /* drops registrationConfig and disables auto-registration */
};

/* UpdateCACertificate. Any change bumps customerVersion and generationId.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code certificates_ca_update(struct fl_core *c, const struct certificates_ca_update_in *in,
                                    struct fl_err *err);

/* DeleteCACertificate: refused (FL_CERTIFICATE_STATE) while ACTIVE or while
 * device certificates registered under it remain; the built-in root is
 * never deleted (FL_INVALID_REQUEST). Its tags go with it. Returns FL_OK,
 * FL_INVALID_REQUEST, FL_NOT_FOUND, FL_CERTIFICATE_STATE, or a store
 * error. */
enum fl_code certificates_ca_delete(struct fl_core *c, const char *id, struct fl_err *err);

/* ListCACertificates, in creationDate order like certificates_list (ca_id
 * is ignored); template_name, when not NULL, keeps the CAs whose
 * registrationConfig names that template. *out = {certificates:
 * [{certificateArn, certificateId, status, creationDate}], nextMarker?}
 * (new reference). Returns FL_OK, FL_INVALID_REQUEST, or a store error. */
enum fl_code certificates_ca_list(struct fl_core *c, const struct certificates_list_in *in,
                                  const char *template_name, json_t **out, struct fl_err *err);

#endif
