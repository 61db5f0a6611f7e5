/*
 * csr.c - reading a PKCS#10 certificate signing request and deciding
 * whether the CA may sign it (key type and size, self-signature, no CA
 * request). Produces the messages CreateCertificateFromCsr returns. Knows
 * nothing of the CA key.
 *
 * The request is decoded with templates of its own, not d2i_X509_REQ: in
 * OpenSSL 3.0 decoding a SubjectPublicKeyInfo (the X509_PUBKEY inside an
 * X509_REQ) builds a decoder context, which costs more than everything
 * else a CSR needs put together, and contends for the library's locks
 * with the broker's TLS handshakes (every fleet-provisioning first boot
 * signs a CSR). Here the key info stays as received (algorithm and bits),
 * the key is built from its parameters (EVP_PKEY_fromdata), and the
 * signature is checked over the request info exactly as it was encoded.
 */
#include "ca_internal.h"

#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509v3.h>

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

/* OpenSSL's template macros, which clang-format would mangle */
/* clang-format off */

/* SubjectPublicKeyInfo, undecoded */
typedef struct {
    X509_ALGOR *algor;
    ASN1_BIT_STRING *key;
} CSR_SPKI;

ASN1_SEQUENCE(CSR_SPKI) = {
    ASN1_SIMPLE(CSR_SPKI, algor, X509_ALGOR),
    ASN1_SIMPLE(CSR_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CSR_SPKI)

/* CertificationRequestInfo; enc keeps the encoding as received, which is
 * what the signature covers */
typedef struct {
    ASN1_ENCODING enc;
    ASN1_INTEGER *version;
    X509_NAME *subject;
    CSR_SPKI *spki;
    STACK_OF(X509_ATTRIBUTE) *attributes;
} CSR_INFO;

/* attributes: [0] is not optional in PKCS#10, but some tools omit it
 * (OpenSSL's X509_REQ_INFO accepts that too) */
ASN1_SEQUENCE_enc(CSR_INFO, enc, NULL) = {
    ASN1_SIMPLE(CSR_INFO, version, ASN1_INTEGER),
    ASN1_SIMPLE(CSR_INFO, subject, X509_NAME),
    ASN1_SIMPLE(CSR_INFO, spki, CSR_SPKI),
    ASN1_IMP_SET_OF_OPT(CSR_INFO, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END_ref(CSR_INFO, CSR_INFO)

typedef struct {
    CSR_INFO *info;
    X509_ALGOR *sig_alg;
    ASN1_BIT_STRING *signature;
} CSR_REQ;

ASN1_SEQUENCE(CSR_REQ) = {
    ASN1_SIMPLE(CSR_REQ, info, CSR_INFO),
    ASN1_SIMPLE(CSR_REQ, sig_alg, X509_ALGOR),
    ASN1_SIMPLE(CSR_REQ, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CSR_REQ)

/* RSAPublicKey (PKCS#1) */
typedef struct {
    ASN1_INTEGER *n;
    ASN1_INTEGER *e;
} CSR_RSA;

ASN1_SEQUENCE(CSR_RSA) = {
    ASN1_SIMPLE(CSR_RSA, n, ASN1_INTEGER),
    ASN1_SIMPLE(CSR_RSA, e, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(CSR_RSA)

/* (the macros end without a semicolon, so formatting resumes after the
 * next function) */
static enum fl_code unreadable(struct fl_err *err)
{
    return fl_err_set(err, FL_INVALID_REQUEST, "The CSR public key cannot be read");
}
/* clang-format on */

/* A key from its provider's import parameters; NULL on failure. */
static EVP_PKEY *key_fromdata(const char *type, const OSSL_PARAM *params)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) <= 0)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

static enum fl_code ec_key(int ptype, const void *pval, const ASN1_BIT_STRING *bits, EVP_PKEY **out,
                           struct fl_err *err)
{
    if (ptype != V_ASN1_OBJECT)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "EC keys must use P-256, P-384 or P-521 (this one uses %s)", "explicit parameters");
    int curve = OBJ_obj2nid(pval);
    if (curve == NID_undef)
        return unreadable(err);
    if (curve != NID_X9_62_prime256v1 && curve != NID_secp384r1 && curve != NID_secp521r1)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "EC keys must use P-256, P-384 or P-521 (this one uses %s)", OBJ_nid2sn(curve));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)OBJ_nid2sn(curve), 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)ASN1_STRING_get0_data(bits),
                                          (size_t)ASN1_STRING_length(bits)),
        OSSL_PARAM_construct_end(),
    };
    /* the import checks the point is on the curve (the point at infinity
     * too is on it: read_key's x509_key_unusable) */
    return (*out = key_fromdata("EC", params)) ? FL_OK : unreadable(err);
}

static enum fl_code rsa_key(int ptype, const ASN1_BIT_STRING *bits, EVP_PKEY **out, struct fl_err *err)
{
    if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
        return unreadable(err);
    const unsigned char *p = ASN1_STRING_get0_data(bits);
    long len = ASN1_STRING_length(bits);
    const unsigned char *q = p;
    CSR_RSA *k = (CSR_RSA *)ASN1_item_d2i(NULL, &q, len, ASN1_ITEM_rptr(CSR_RSA));
    BIGNUM *n = k && q == p + len ? ASN1_INTEGER_to_BN(k->n, NULL) : NULL;
    BIGNUM *e = n ? ASN1_INTEGER_to_BN(k->e, NULL) : NULL;
    ASN1_item_free((ASN1_VALUE *)k, ASN1_ITEM_rptr(CSR_RSA));
    enum fl_code rc = FL_OK;
    /* a negative n or e fails the import, e = 0 x509_key_unusable */
    if (e == NULL)
        rc = unreadable(err);
    int bits_n = n ? BN_num_bits(n) : 0;
    if (rc == FL_OK && bits_n < RSA_MIN_BITS)
        rc = fl_err_set(err, FL_INVALID_REQUEST, "RSA keys must be at least %d bits (this one has %d)",
                        RSA_MIN_BITS, bits_n);
    if (rc == FL_OK && bits_n > RSA_MAX_BITS)
        rc = fl_err_set(err, FL_INVALID_REQUEST, "RSA keys must be at most %d bits (this one has %d)",
                        RSA_MAX_BITS, bits_n);
    if (rc == FL_OK) {
        OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        if (b && OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n) &&
            OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e))
            params = OSSL_PARAM_BLD_to_param(b);
        *out = params ? key_fromdata("RSA", params) : NULL;
        if (*out == NULL)
            rc = unreadable(err);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(b);
    }
    BN_free(n);
    BN_free(e);
    return rc;
}

/* The request's public key, if the signing policy accepts it: RSA
 * 2048..8192 bits or EC on a named curve P-256, P-384 or P-521. */
static enum fl_code read_key(const CSR_SPKI *spki, EVP_PKEY **out, struct fl_err *err)
{
    *out = NULL;
    const ASN1_OBJECT *oid = NULL;
    int ptype = V_ASN1_UNDEF;
    const void *pval = NULL;
    X509_ALGOR_get0(&oid, &ptype, &pval, spki->algor);
    /* a key is a whole number of bytes */
    if (ASN1_STRING_length(spki->key) <= 0 ||
        (spki->key->flags & ASN1_STRING_FLAG_BITS_LEFT && spki->key->flags & 7))
        return unreadable(err);
    int nid = OBJ_obj2nid(oid);
    enum fl_code rc;
    if (nid == NID_X9_62_id_ecPublicKey)
        rc = ec_key(ptype, pval, spki->key, out, err);
    else if (nid == NID_rsaEncryption)
        rc = rsa_key(ptype, spki->key, out, err);
    else
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "Unsupported CSR key type %s: use RSA (2048 bits or more) or EC",
                          nid != NID_undef ? OBJ_nid2sn(nid) : "(unknown)");
    const char *why = rc == FL_OK ? x509_key_unusable(*out) : NULL;
    if (why) {
        EVP_PKEY_free(*out);
        *out = NULL;
        rc = fl_err_set(err, FL_INVALID_REQUEST, "The CSR public key cannot be used: %s", why);
    }
    return rc;
}

/* Nonzero when the CSR's extension request holds basicConstraints CA:TRUE;
 * -1 when the extension request cannot be decoded. (X509_REQ_get_extensions
 * on the attributes.) */
static int requests_ca(const STACK_OF(X509_ATTRIBUTE) * attrs)
{
    int i = X509at_get_attr_by_NID(attrs, NID_ext_req, -1);
    if (i < 0)
        i = X509at_get_attr_by_NID(attrs, NID_ms_ext_req, -1);
    if (i < 0)
        return 0;
    ASN1_TYPE *t = X509_ATTRIBUTE_get0_type(X509at_get_attr(attrs, i), 0);
    if (t == NULL) /* an empty request */
        return 0;
    if (t->type != V_ASN1_SEQUENCE)
        return -1;
    const unsigned char *p = t->value.sequence->data;
    STACK_OF(X509_EXTENSION) *exts = (STACK_OF(X509_EXTENSION) *)ASN1_item_d2i(
        NULL, &p, t->value.sequence->length, ASN1_ITEM_rptr(X509_EXTENSIONS));
    if (exts == NULL)
        return -1;
    int ca = 0;
    int crit = 0;
    /* idx NULL: crit == -2 reports a duplicated extension */
    BASIC_CONSTRAINTS *bc = X509V3_get_d2i(exts, NID_basic_constraints, &crit, NULL);
    if (bc != NULL)
        ca = bc->ca != 0;
    else if (crit == -2) /* more than one basicConstraints: treat as suspect */
        ca = -1;
    BASIC_CONSTRAINTS_free(bc);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ca;
}

void csr_free(struct csr *c)
{
    if (c == NULL)
        return;
    EVP_PKEY_free(c->pub);
    ASN1_item_free(c->req, ASN1_ITEM_rptr(CSR_REQ));
    free(c);
}

struct csr *csr_load(const char *pem, struct fl_err *err)
{
    static const char *const labels[] = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", NULL};
    unsigned char *der = NULL;
    long len = 0;
    if (x509_pem_decode(pem, labels, "CSR", &der, &len, err))
        return NULL;
    const unsigned char *q = der;
    CSR_REQ *req = (CSR_REQ *)ASN1_item_d2i(NULL, &q, len, ASN1_ITEM_rptr(CSR_REQ));
    int whole = q == der + len;
    OPENSSL_free(der);
    struct csr *c = req ? calloc(1, sizeof(*c)) : NULL;
    if (c == NULL || !whole) {
        ERR_clear_error();
        ASN1_item_free((ASN1_VALUE *)req, ASN1_ITEM_rptr(CSR_REQ));
        free(c);
        fl_err_set(err, FL_INVALID_REQUEST, "The CSR is not valid PEM: the content is not a PKCS#10 request");
        return NULL;
    }
    c->req = (ASN1_VALUE *)req;
    c->subject = req->info->subject;
    c->key_alg = req->info->spki->algor;
    c->key_bits = req->info->spki->key;
    if (read_key(req->info->spki, &c->pub, err))
        goto fail;
    if (ASN1_item_verify_ex(ASN1_ITEM_rptr(CSR_INFO), req->sig_alg, req->signature, req->info, NULL, c->pub,
                            NULL, NULL) != 1) {
        fl_err_set(err, FL_INVALID_REQUEST, "CSR signature does not verify");
        goto fail;
    }
    int ca = requests_ca(req->info->attributes);
    if (ca > 0) {
        fl_err_set(err, FL_INVALID_REQUEST, "The CSR requests a CA certificate");
        goto fail;
    }
    if (ca < 0) {
        fl_err_set(err, FL_INVALID_REQUEST, "The CSR extension request cannot be decoded");
        goto fail;
    }
    ERR_clear_error();
    return c;
fail:
    ERR_clear_error();
    csr_free(c);
    return NULL;
}
