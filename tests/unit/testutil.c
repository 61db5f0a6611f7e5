/*
 * testutil.c - fixed clock, counter-based random source and in-memory cores
 * for the unit tests.
 */
#include "testutil.h"

#include "ca.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tu_state {
    int64_t now;
    uint64_t ctr;
};

static int64_t fixed_now(void *ctx)
{
    return ((struct tu_state *)ctx)->now;
}

static void counter_fill(void *ctx, void *buf, size_t len)
{
    struct tu_state *s = ctx;
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        s->ctr = s->ctr * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (unsigned char)(s->ctr >> 56);
    }
}

struct fl_core *tu_core(void)
{
    struct fl_core *c = calloc(1, sizeof(*c));
    struct tu_state *s = calloc(1, sizeof(*s));
    struct fl_config cfg;
    struct fl_err err;
    ck_assert_ptr_nonnull(c);
    core_config_defaults(&cfg);
    enum fl_code rc = core_open(c, &cfg, ":memory:", NULL, &err);
    ck_assert_msg(rc == FL_OK, "core_open: %s", err.msg);
    s->now = 1764142417000;
    s->ctr = 42;
    c->clock.now_ms = fixed_now;
    c->clock.ctx = s;
    c->rng.fill = counter_fill;
    c->rng.ctx = s;
    c->log.min = FL_LOG_ERROR;
    return c;
}

void tu_advance(struct fl_core *c, int64_t ms)
{
    ((struct tu_state *)c->clock.ctx)->now += ms;
}

void tu_core_free(struct fl_core *c)
{
    free(c->clock.ctx);
    core_close(c);
    free(c);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *dir)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_with_ca(struct fl_core *c, const char *dir)
{
    char cadir[256];
    struct fl_err err;
    snprintf(cadir, sizeof(cadir), "%s/ca", dir);
    struct ca_options o = {.root_key = CA_KEY_EC_P256, .device_key = CA_KEY_EC_P256};
    c->ca = ca_open(cadir, &o, core_now_ms(c) / 1000, &err);
    ck_assert_msg(c->ca != NULL, "ca_open: %s", err.msg);
}

EVP_PKEY *tu_ec_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(k);
    return k;
}

X509_NAME *tu_name(const char *attrs)
{
    X509_NAME *nm = X509_NAME_new();
    ck_assert_ptr_nonnull(nm);
    if (strchr(attrs, '=') == NULL) {
        ck_assert(
            X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, (const unsigned char *)"Test", -1, -1, 0));
        ck_assert(
            X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)attrs, -1, -1, 0));
        return nm;
    }
    char *copy = strdup(attrs), *save = NULL;
    for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        char *eq = strchr(part, '=');
        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        ck_assert(
            X509_NAME_add_entry_by_txt(nm, part, MBSTRING_UTF8, (const unsigned char *)eq + 1, -1, -1, 0));
    }
    free(copy);
    return nm;
}

char *tu_bio_str(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    ck_assert_int_ge(n, 0);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

char *tu_cert_pem(const char *subject, EVP_PKEY *key, const char *issuer, EVP_PKEY *issuer_key, int is_ca,
                  long from_s, long days)
{
    X509 *x = X509_new();
    ck_assert(X509_set_version(x, 2));
    unsigned char serial[8];
    ck_assert(RAND_bytes(serial, sizeof(serial)) == 1);
    serial[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    ck_assert(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL);
    BN_free(bn);
    X509_NAME *sn = tu_name(subject), *in = tu_name(issuer);
    ck_assert(X509_set_subject_name(x, sn));
    ck_assert(X509_set_issuer_name(x, in));
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(TU_NOW_S + from_s));
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(TU_NOW_S + from_s + days * 86400));
    ck_assert(X509_set_pubkey(x, key));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *e =
        X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    ck_assert_ptr_nonnull(e);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    ck_assert(X509_sign(x, issuer_key, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    ck_assert(PEM_write_bio_X509(b, x));
    char *s = tu_bio_str(b);
    BIO_free(b);
    X509_NAME_free(sn);
    X509_NAME_free(in);
    X509_free(x);
    return s;
}

char *tu_csr_pem(EVP_PKEY *key, const char *subject)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *nm = tu_name(subject);
    ck_assert(X509_REQ_set_subject_name(r, nm));
    ck_assert(X509_REQ_set_pubkey(r, key));
    ck_assert(X509_REQ_sign(r, key, EVP_sha256()) > 0);
    char *s = tu_req_pem(r);
    X509_NAME_free(nm);
    X509_REQ_free(r);
    return s;
}

char *tu_req_pem(X509_REQ *r)
{
    BIO *b = BIO_new(BIO_s_mem());
    ck_assert(PEM_write_bio_X509_REQ(b, r));
    char *s = tu_bio_str(b);
    BIO_free(b);
    return s;
}

void tu_ca_make(struct tu_ca *f, const char *subject)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->subject, sizeof(f->subject), "%s", subject);
    f->key = tu_ec_key();
    f->pem = tu_cert_pem(subject, f->key, subject, f->key, 1, -86400, 3650);
}

void tu_ca_free(struct tu_ca *f)
{
    EVP_PKEY_free(f->key);
    free(f->pem);
}

char *tu_ca_issue(struct tu_ca *f, const char *subject)
{
    EVP_PKEY *k = tu_ec_key();
    char *pem = tu_cert_pem(subject, k, f->subject, f->key, 0, -3600, 365);
    EVP_PKEY_free(k);
    return pem;
}
