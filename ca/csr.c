/*
 * csr.c - reading a PKCS#10 certificate signing request and deciding
 * whether the CA may sign it (key type and size, self-signature, no CA
 * request). Produces the messages CreateCertificateFromCsr returns. Knows
 * nothing of the CA key.
 */
#include "ca_internal.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

static enum fl_code check_key(EVP_PKEY *pk, struct fl_err *err)
{
    if (pk == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "The CSR public key cannot be read");
    if (EVP_PKEY_is_a(pk, "RSA")) {
        int bits = EVP_PKEY_get_bits(pk);
        if (bits < RSA_MIN_BITS)
            return fl_err_set(err, FL_INVALID_REQUEST, "RSA keys must be at least %d bits (this one has %d)",
                              RSA_MIN_BITS, bits);
        if (bits > RSA_MAX_BITS)
            return fl_err_set(err, FL_INVALID_REQUEST, "RSA keys must be at most %d bits (this one has %d)",
                              RSA_MAX_BITS, bits);
        return FL_OK;
    }
    if (EVP_PKEY_is_a(pk, "EC")) {
        char group[64] = "";
        size_t glen = 0;
        int nid = NID_undef;
        if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) == 1)
            nid = OBJ_txt2nid(group);
        ERR_clear_error();
        if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 && nid != NID_secp521r1)
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "EC keys must use P-256, P-384 or P-521 (this one uses %s)",
                              group[0] ? group : "explicit parameters");
        return FL_OK;
    }
    const char *type = EVP_PKEY_get0_type_name(pk);
    return fl_err_set(err, FL_INVALID_REQUEST,
                      "Unsupported CSR key type %s: use RSA (2048 bits or more) or EC",
                      type ? type : "(unknown)");
}

/* Nonzero when the CSR's extension request holds basicConstraints CA:TRUE;
 * -1 when the extension request cannot be decoded. */
static int requests_ca(X509_REQ *req)
{
    int attr = X509_REQ_get_attr_by_NID(req, NID_ext_req, -1);
    if (attr < 0)
        attr = X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1);
    if (attr < 0)
        return 0;
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    if (exts == NULL) {
        ERR_clear_error();
        return -1;
    }
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
    ERR_clear_error();
    return ca;
}

X509_REQ *csr_load(const char *pem, struct fl_err *err)
{
    static const char *const labels[] = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", NULL};
    unsigned char *der = NULL;
    long len = 0;
    if (x509_pem_decode(pem, labels, "CSR", &der, &len, err))
        return NULL;
    const unsigned char *q = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &q, len);
    int whole = q == der + len;
    OPENSSL_free(der);
    if (req == NULL || !whole) {
        ERR_clear_error();
        X509_REQ_free(req);
        fl_err_set(err, FL_INVALID_REQUEST, "The CSR is not valid PEM: the content is not a PKCS#10 request");
        return NULL;
    }
    EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
    if (check_key(pk, err))
        goto fail;
    if (X509_REQ_verify(req, pk) != 1) {
        fl_err_set(err, FL_INVALID_REQUEST, "CSR signature does not verify");
        goto fail;
    }
    int ca = requests_ca(req);
    if (ca > 0) {
        fl_err_set(err, FL_INVALID_REQUEST, "The CSR requests a CA certificate");
        goto fail;
    }
    if (ca < 0) {
        fl_err_set(err, FL_INVALID_REQUEST, "The CSR extension request cannot be decoded");
        goto fail;
    }
    ERR_clear_error();
    return req;
fail:
    ERR_clear_error();
    X509_REQ_free(req);
    return NULL;
}
