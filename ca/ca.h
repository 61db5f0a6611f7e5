/*
 * ca.h - the built-in certificate authority and X.509 utilities (OpenSSL 3).
 *
 * The CA private key is loaded and used only inside ca/: callers get
 * operations (sign this CSR, make a key pair and certificate), never the key.
 * Everything crosses this boundary as PEM text. Knows nothing of HTTP, MQTT
 * or SQL.
 *
 * Thread safety: after ca_open returns, a struct ca is immutable; every
 * function below may be called from any number of threads at once on the
 * same ca (OpenSSL 3 signs with a shared provider key without locking).
 * ca_close must not race with them.
 *
 * Certificates issued here: X.509 v3, a random positive 128-bit serial
 * (RAND_bytes), SHA-256 signatures, subjectKeyIdentifier (SHA-1 of the
 * public key, RFC 5280 method 1) and authorityKeyIdentifier (the root's).
 */
#ifndef FL_CA_H
#define FL_CA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct ca;
struct x509_info; /* below, with x509_parse */

/* Every certificate the CA issues starts this long before the moment it is
 * made. A verifier that reads a coarser or slightly late clock (OpenSSL's
 * time(NULL) is the kernel's coarse clock, a jiffy behind the fine one the
 * core reads; another host's clock may be behind by seconds) would
 * otherwise see a certificate issued a moment ago as "not yet valid": a
 * device reconnecting at once with its new certificate failed the broker's
 * TLS verification about once in 300 first boots. notAfter is still counted
 * from the moment of issue. */
#define CA_BACKDATE_S 300

/* CA_KEY_DEFAULT (0) lets a zeroed struct ca_options mean "the defaults":
 * EC P-256 for a root, RSA 2048 for CreateKeysAndCertificate (as AWS). */
enum ca_key_type { CA_KEY_DEFAULT = 0, CA_KEY_EC_P256 = 1, CA_KEY_RSA_2048 = 2 };

/* Zero / NULL fields take the defaults shown. */
struct ca_options {
    enum ca_key_type root_key;   /* key type of a new root (default EC P-256) */
    enum ca_key_type device_key; /* CreateKeysAndCertificate (default RSA 2048, as AWS) */
    int root_days;               /* validity of a new root, default 3650 */
    int device_days;             /* validity of device certificates, default 365 */
    const char *common_name;     /* root subject CN, default "fleetd root CA" (copied) */
    int server_days;             /* validity of ca_issue_server certificates, default 825 */
    int no_create;               /* nonzero: ca_open fails with FL_NOT_FOUND when dir holds no CA */
};

/* Opens the CA in dir (DATA_DIR/ca): creates dir (and missing parents) with
 * mode 0700, loads ca.key (must be mode 0600 or stricter) and ca.pem,
 * creating both when absent (ca.key written 0600 from the first byte; a
 * concurrent creator in another process is detected and its CA loaded). A
 * ca.key whose ca.pem is missing gets a new self-signed root for the same
 * key; a ca.pem without its ca.key is an error. An existing root is loaded
 * whatever its key type (opt->root_key applies to new roots only). now_s is
 * the clock (seconds) for a new root. opt may be NULL (all defaults).
 * Returns the CA (free with ca_close), or NULL with err set: FL_NOT_FOUND
 * (no CA and opt->no_create), FL_INVALID_REQUEST (bad options, unreadable or
 * mismatched files), FL_INTERNAL (I/O or OpenSSL failure). */
struct ca *ca_open(const char *dir, const struct ca_options *opt, int64_t now_s, struct fl_err *err);
void ca_close(struct ca *ca);

/* The root certificate, PEM (owned by ca). */
const char *ca_root_pem(const struct ca *ca);
/* Hex SHA-256 of the root's DER: its caCertificateId (lowercase). */
const char *ca_root_id(const struct ca *ca);
/* The key type of the root as loaded; CA_KEY_DEFAULT when the root was
 * supplied by hand with another key (then see ca_key_desc). */
enum ca_key_type ca_root_key_type(const struct ca *ca);
/* "EC P-256", "RSA 2048", "EC P-384", "RSA 4096", ... (owned by ca). */
const char *ca_key_desc(const struct ca *ca);
/* Nonzero when this ca_open created the root (first start). */
int ca_was_created(const struct ca *ca);
/* The directory, ca.pem and ca.key paths as given to ca_open (owned by ca). */
const char *ca_dir(const struct ca *ca);
const char *ca_root_path(const struct ca *ca);

/* Signs a PEM CSR: the subject comes from the CSR, the issuer is the root,
 * validity now..now+device_days; extensions basicConstraints CA:FALSE,
 * keyUsage digitalSignature (+keyEncipherment for RSA), extendedKeyUsage
 * clientAuth, SKI/AKI. Extensions requested in the CSR are not copied.
 * Refuses (FL_INVALID_REQUEST, saying why) garbage ("The CSR is not valid
 * PEM"), more than one PEM block, a bad CSR signature, RSA keys under 2048
 * (or over 8192) bits, EC curves other than P-256/P-384/P-521, other key
 * types, and CSRs asking for CA:true. *cert_pem is malloc'd (caller frees);
 * FL_INTERNAL on OpenSSL failure. When info is not NULL it is filled as
 * x509_parse(*cert_pem) would fill it, without parsing the PEM again. */
enum fl_code ca_sign_csr(struct ca *ca, const char *csr_pem, int64_t now_s, char **cert_pem,
                         struct x509_info *info, struct fl_err *err);

/* Makes a key pair (opt->device_key) and a certificate for it signed by the
 * root (subject CN "AWS IoT Certificate", as AWS does). All three outputs are
 * malloc'd PEM (caller frees; the private key is best freed after zeroing):
 * the public key as SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----"), the
 * private key in the traditional format AWS returns ("-----BEGIN RSA PRIVATE
 * KEY-----", PKCS#1; "-----BEGIN EC PRIVATE KEY-----", SEC 1, for EC).
 * FL_INTERNAL on failure (outputs left NULL). */
enum fl_code ca_create_keys_and_certificate(struct ca *ca, int64_t now_s, char **cert_pem, char **public_pem,
                                            char **private_pem, struct fl_err *err);

/* As ca_create_keys_and_certificate, valid for valid_s seconds from now_s
 * (valid_s <= 0: the device default). Provisioning claims last 5 minutes.
 * info: as for ca_sign_csr. */
enum fl_code ca_create_keys_and_certificate_for(struct ca *ca, int64_t now_s, int64_t valid_s,
                                                char **cert_pem, char **public_pem, char **private_pem,
                                                struct x509_info *info, struct fl_err *err);

/* ---- small primitives (ca/crypto.c) -------------------------------------- */

/* HMAC-SHA256 of msg under key into out. Returns 0, or -1 on failure. */
int ca_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen, unsigned char out[32]);
/* Lowercase hex SHA-256 of buf into out (65 bytes with the NUL). */
void ca_sha256_hex(const void *buf, size_t len, char out[65]);

/* Issues a TLS server certificate for the broker (new EC P-256 key) with the
 * given SANs: an entry that parses as an IPv4/IPv6 address becomes IP:, any
 * other a DNS: name (letters, digits, '-', '_', '.'; a leading "*.").
 * Subject CN = the first SAN; extendedKeyUsage serverAuth; validity
 * now..now+server_days. Writes key_path (PKCS#8, mode 0600 from creation)
 * then cert_path (0644 less umask), each atomically (temp file + rename).
 * FL_INVALID_REQUEST for no or bad SANs, FL_INTERNAL on I/O failure. */
enum fl_code ca_issue_server(struct ca *ca, const char *const *sans, int nsans, const char *key_path,
                             const char *cert_path, int64_t now_s, struct fl_err *err);

/* ---- X.509 utilities (no CA key involved) ------------------------------ */

/* Largest PEM text the readers accept (certificates and CSRs). */
#define X509_PEM_MAX (64 * 1024)

struct x509_info {
    char id[65]; /* hex SHA-256 of the DER (AWS certificateId) */
    /* RFC 2253 one-line, UTF-8 (escaped ASCII when a value is not valid
     * UTF-8); x509_parse refuses longer names rather than cut them */
    char subject[512];
    char issuer[512];
    char issuer_id_hint[65]; /* empty; callers match issuers by verification */
    int64_t not_before_s, not_after_s;
    int is_ca;           /* OpenSSL's X509_check_ca: basicConstraints CA:TRUE (or a v1 self-signed root) */
    int self_signed;     /* issuer == subject and the signature verifies with its own key */
    char serial_hex[80]; /* upper-case hex as `openssl x509 -serial` prints it */
    char public_key_pem[3200]; /* SubjectPublicKeyInfo PEM (fits RSA 16384) */
    char key_desc[32];         /* "RSA 2048", "EC P-256", "ED25519", ... */
};

/* Parses exactly one PEM certificate (whitespace around it allowed; PEM
 * headers, a second PEM block, trailing text or trailing DER bytes are not).
 * FL_INVALID_REQUEST, saying why, for anything else, for certificates
 * OpenSSL finds malformed (invalid extensions, unreadable public key) and
 * for names or serials too long for struct x509_info. */
enum fl_code x509_parse(const char *pem, struct x509_info *out, struct fl_err *err);
/* FL_OK when cert_pem was issued by ca_pem: issuer name == CA subject (and
 * AKI/keyUsage consistent, X509_check_issued) and the signature verifies
 * with the CA's public key. FL_INVALID_REQUEST, saying why, otherwise
 * (including when either PEM does not parse). Validity dates are not
 * checked. */
enum fl_code x509_verify_signed_by(const char *cert_pem, const char *ca_pem, struct fl_err *err);
/* Looks up one subject (issuer = 0) or issuer (issuer = 1) attribute of a
 * PEM certificate and writes its value as UTF-8; writes "" when absent.
 * field is an OpenSSL short or long name or OID ("CN", "commonName", "O",
 * "OU", "C", "ST", "L", "serialNumber", "dnQualifier", "2.5.4.3") or an AWS
 * policy-variable name ("CommonName", "Organization", "OrganizationalUnit",
 * "Country", "State", "Locality", "SerialNumber",
 * "DistinguishedNameQualifier", "Title", "Surname", "GivenName",
 * "Initials", "Pseudonym", "GenerationQualifier"). FL_INVALID_REQUEST for a
 * bad PEM, an unknown field, a value holding a NUL byte or not fitting in
 * outlen (never truncated: policy variables must not be cut short). */
enum fl_code x509_name_field(const char *pem, int issuer, const char *field, char *out, size_t outlen,
                             struct fl_err *err);
/* As x509_name_field for the index-th (0-based) occurrence of a
 * multi-valued attribute (two OU=...): "" when there are fewer. */
enum fl_code x509_name_field_at(const char *pem, int issuer, const char *field, int index, char *out,
                                size_t outlen, struct fl_err *err);
/* 1 when the subjectAltName of a PEM certificate holds exactly the names
 * of sans (as ca_issue_server would write them: IP addresses compared as
 * addresses, DNS names case-insensitively; order and duplicates ignored),
 * 0 otherwise or when the PEM does not parse. */
int x509_sans_equal(const char *pem, const char *const *sans, int nsans);
/* Hex SHA-256 of a DER buffer (certificate ids from a TLS handshake). */
void x509_der_id(const unsigned char *der, size_t len, char out[65]);
/* The PEM text of a DER certificate (the leaf of a TLS handshake), or NULL
 * when der is not one certificate. malloc'd; the caller frees. */
char *x509_der_to_pem(const unsigned char *der, size_t len);
/* OpenSSL's hashed-directory name stem for a PEM certificate's subject
 * (X509_NAME_hash_ex, SHA-1 of the canonical name: what `openssl rehash`
 * names <hash>.N and what a capath lookup asks for). FL_OK and *hash, or
 * FL_INVALID_REQUEST when pem does not parse. */
enum fl_code x509_subject_hash(const char *pem, unsigned long *hash, struct fl_err *err);

#endif
