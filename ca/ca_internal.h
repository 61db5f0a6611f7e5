/*
 * ca_internal.h - helpers shared by the files of ca/ only (OpenSSL types
 * appear here and nowhere in ca.h). Not for use outside ca/.
 */
#ifndef FL_CA_INTERNAL_H
#define FL_CA_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca.h"

/* Decodes the single PEM block of text whose label is one of labels
 * (NULL-terminated list). Whitespace may surround the block; anything else
 * (text before or after it, a second block, PEM headers such as
 * Proc-Type) is refused. what names the object in messages ("CSR",
 * "certificate"). *der is OPENSSL_malloc'd (OPENSSL_free). FL_INVALID_REQUEST
 * with "The <what> is not valid PEM..." on failure. */
enum fl_code x509_pem_decode(const char *text, const char *const *labels, const char *what,
                             unsigned char **der, long *derlen, struct fl_err *err);

/* x509_pem_decode + d2i_X509 consuming every byte. Optionally returns the
 * DER too (*der OPENSSL_free'd by the caller) for the id. */
X509 *x509_load_pem(const char *pem, const char *what, unsigned char **der, long *derlen, struct fl_err *err);

/* x509_parse's answer for a certificate in memory: der/len its DER (NULL:
 * encoded here), pk its public key (NULL: X509_get0_pubkey(x), checked by
 * x509_key_unusable; given by the CA for a certificate it has just built,
 * whose key is not decoded and was checked already). */
enum fl_code x509_info_of(X509 *x, const unsigned char *der, long len, const EVP_PKEY *pk,
                          struct x509_info *out, struct fl_err *err);

/* The PEM of x as a malloc'd string; NULL on failure. */
char *x509_to_pem(X509 *x);
/* x's SubjectPublicKeyInfo, exactly as the certificate carries it, as a
 * "PUBLIC KEY" PEM (malloc'd; NULL on failure). Not PEM_write_bio_PUBKEY:
 * in OpenSSL 3.0 that builds an encoder context per call for bytes the
 * certificate already holds. */
char *x509_spki_pem(X509 *x);
/* A memory BIO's contents as a malloc'd NUL-terminated string. */
char *x509_bio_string(BIO *b);

/* Seconds since the epoch of an ASN.1 time; 0 on failure (*ok = 0). */
int64_t x509_time_s(const ASN1_TIME *t, int *ok);

/* NULL when pkey may be trusted to authenticate whoever holds its private
 * key; otherwise why not ("...", to follow "cannot be used: "). OpenSSL 3.0
 * imports keys under which anybody can make a signature verify: the EC
 * point at infinity, RSA with public exponent 1. Whatever fleetd signs or
 * stores is checked here. */
const char *x509_key_unusable(const EVP_PKEY *pkey);

/* "RSA 2048", "EC P-256", "ED25519" ...; "unknown" when unreadable. */
void x509_key_desc(const EVP_PKEY *pkey, char *out, size_t n);

/* Sets err to code with "msg: <OpenSSL reason>" and clears the thread's
 * OpenSSL error queue. Returns code. */
enum fl_code x509_ossl_fail(struct fl_err *err, enum fl_code code, const char *msg);

/* csr.c: a PEM CSR, decoded and accepted by the signing policy (key RSA
 * 2048..8192 bits or EC P-256/P-384/P-521, self-signature verifies, no
 * basicConstraints CA:TRUE requested). csr_load returns it (csr_free) or
 * NULL with FL_INVALID_REQUEST saying why. */
struct csr {
    X509_NAME *subject;              /* the request's, owned by req */
    EVP_PKEY *pub;                   /* its public key */
    const X509_ALGOR *key_alg;       /* its SubjectPublicKeyInfo as received: */
    const ASN1_BIT_STRING *key_bits; /* algorithm and key bits (owned by req) */
    ASN1_VALUE *req;                 /* the decoded request */
};
struct csr *csr_load(const char *pem, struct fl_err *err);
void csr_free(struct csr *c);

#endif
