/*
 * ca.h - the built-in certificate authority and X.509 utilities (OpenSSL 3).
 *
 * The CA private key is loaded and used only inside ca/: callers get
 * operations (sign this CSR, make a key pair and certificate), never the key.
 * Everything crosses this boundary as PEM text. Knows nothing of HTTP, MQTT
 * or SQL.
 */
#ifndef FL_CA_H
#define FL_CA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct ca;

enum ca_key_type { CA_KEY_EC_P256 = 0, CA_KEY_RSA_2048 = 1 };

struct ca_options {
    enum ca_key_type root_key;   /* key type of a new root (default EC P-256) */
    enum ca_key_type device_key; /* CreateKeysAndCertificate (AWS: RSA 2048) */
    int root_days;               /* validity of a new root, default 3650 */
    int device_days;             /* validity of device certificates, default 365 */
    const char *common_name;     /* root subject CN, default "fleetd root CA" */
};

/* Opens the CA in dir (DATA_DIR/ca): loads ca.key (mode 0600) and ca.pem,
 * creating both when absent. now_s is the clock (seconds) for new certs.
 * Returns NULL with err set on failure. */
struct ca *ca_open(const char *dir, const struct ca_options *opt, int64_t now_s, struct fl_err *err);
void ca_close(struct ca *ca);

/* The root certificate, PEM (owned by ca). */
const char *ca_root_pem(const struct ca *ca);
/* Hex SHA-256 of the root's DER: its caCertificateId. */
const char *ca_root_id(const struct ca *ca);

/* Signs a PEM CSR: the subject comes from the CSR, the issuer is the root,
 * validity now..now+device_days. Refuses (FL_INVALID_REQUEST, saying why)
 * garbage, a bad CSR signature, RSA keys under 2048 bits, EC curves other
 * than P-256/P-384/P-521, and CSRs asking for CA:true.
 * *cert_pem is malloc'd (caller frees). */
enum fl_code ca_sign_csr(struct ca *ca, const char *csr_pem, int64_t now_s, char **cert_pem,
                         struct fl_err *err);

/* Makes a key pair (opt->device_key) and a certificate for it signed by the
 * root (subject CN "AWS IoT Certificate", as AWS does). All three outputs are
 * malloc'd PEM (caller frees). */
enum fl_code ca_create_keys_and_certificate(struct ca *ca, int64_t now_s, char **cert_pem, char **public_pem,
                                            char **private_pem, struct fl_err *err);

/* Issues a TLS server certificate for the broker with the given DNS/IP
 * SANs ("localhost", "127.0.0.1"); writes key (0600) and cert PEM files. */
enum fl_code ca_issue_server(struct ca *ca, const char *const *sans, int nsans, const char *key_path,
                             const char *cert_path, int64_t now_s, struct fl_err *err);

/* ---- X.509 utilities (no CA key involved) ------------------------------ */

struct x509_info {
    char id[65];            /* hex SHA-256 of the DER (AWS certificateId) */
    char subject[512];      /* RFC 2253 one-line */
    char issuer[512];
    char issuer_id_hint[65];/* empty; callers match issuers by verification */
    int64_t not_before_s, not_after_s;
    int is_ca;
    char serial_hex[80];
    char public_key_pem[1024];
};

/* Parses one PEM certificate. FL_INVALID_REQUEST for anything else. */
enum fl_code x509_parse(const char *pem, struct x509_info *out, struct fl_err *err);
/* FL_OK when cert_pem is signed by the key of ca_pem (and issuer matches). */
enum fl_code x509_verify_signed_by(const char *cert_pem, const char *ca_pem, struct fl_err *err);
/* Looks up one subject or issuer attribute (e.g. "CN", "O", "C",
 * "serialNumber") in a PEM certificate; writes "" when absent. */
enum fl_code x509_name_field(const char *pem, int issuer, const char *field, char *out, size_t outlen,
                             struct fl_err *err);
/* Hex SHA-256 of a DER buffer (certificate ids from a TLS handshake). */
void x509_der_id(const unsigned char *der, size_t len, char out[65]);

#endif
