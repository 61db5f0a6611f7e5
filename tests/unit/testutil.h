/*
 * testutil.h - helpers shared by the Check suites: a core over an
 * in-memory database with the migrations applied, a fixed clock and a
 * deterministic random source.
 */
#ifndef FL_TESTUTIL_H
#define FL_TESTUTIL_H

#include <check.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core.h"

#define TU_NOW_S 1764142417 /* tu_core's clock at start, seconds */

/* Opens a fresh core on ":memory:"; clock starts at 1764142417000 ms and
 * advances only through tu_advance(). Fails the test on error. */
struct fl_core *tu_core(void);
void tu_core_free(struct fl_core *c);
void tu_advance(struct fl_core *c, int64_t ms);

/* Removes a directory tree (a test's mkdtemp directory). */
void tu_rmtree(const char *dir);
/* Gives c a built-in CA in DIR/ca, EC P-256 root and device keys (fast),
 * with tu_core's clock. Fails the test on error; ca_close(c->ca) after. */
void tu_with_ca(struct fl_core *c, const char *dir);

/* ---- X.509 made in tests (every failure fails the test) ---- */

/* A fresh EC P-256 key (fast). EVP_PKEY_free after. */
EVP_PKEY *tu_ec_key(void);
/* A name from "C=DE/O=Acme/CN=x" (no escaping), or from a bare common
 * name x as "O=Test/CN=x". X509_NAME_free after. */
X509_NAME *tu_name(const char *attrs);
/* The contents of a memory BIO as a malloc'd string. */
char *tu_bio_str(BIO *b);
/* A certificate (PEM, malloc'd) for subject / key, issued by issuer /
 * issuer_key (pass the subject's own for a self-signed one), a CA when
 * is_ca, valid from TU_NOW_S + from_s for days; random serial. */
char *tu_cert_pem(const char *subject, EVP_PKEY *key, const char *issuer, EVP_PKEY *issuer_key, int is_ca,
                  long from_s, long days);
/* A CSR (PEM, malloc'd) for subject, signed with key. */
char *tu_csr_pem(EVP_PKEY *key, const char *subject);
/* The PEM of a request built by hand (malloc'd). */
char *tu_req_pem(X509_REQ *r);

/* A foreign CA: key and self-signed CA certificate (valid from a day ago
 * for ten years); id is for the test to fill once it registers it. */
struct tu_ca {
    EVP_PKEY *key;
    char *pem;
    char subject[128];
    char id[65];
};
void tu_ca_make(struct tu_ca *f, const char *subject);
void tu_ca_free(struct tu_ca *f);
/* A device certificate (PEM, malloc'd) for subject issued by f, with a
 * fresh key, valid from an hour ago for a year. */
char *tu_ca_issue(struct tu_ca *f, const char *subject);

#endif
