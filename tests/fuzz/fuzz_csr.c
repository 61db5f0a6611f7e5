/*
 * fuzz_csr.c - the CSR/PEM reader: each input is signed as a CSR by a CA
 * opened once in a temp directory (removed at exit), then read as a
 * certificate (x509_parse, x509_name_field, x509_verify_signed_by against
 * the root); what the CA signed must also be a CSR OpenSSL's X509_REQ reader
 * accepts, with the same key. The raw bytes are also wrapped as PEM (base64 of the input
 * under both labels) so that mutations reach the DER parsers and the key
 * policy directly. Looks for crashes and leaks only.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ca *the_ca;
static char the_dir[64];

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    ca_close(the_ca);
    the_ca = NULL;
    if (the_dir[0])
        nftw(the_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static struct ca *get_ca(void)
{
    if (the_ca)
        return the_ca;
    struct fl_err err;
    snprintf(the_dir, sizeof(the_dir), "/tmp/fleetd-fuzz-csr-XXXXXX");
    if (mkdtemp(the_dir) == NULL) {
        perror("fuzz_csr: mkdtemp");
        abort();
    }
    char cadir[128];
    snprintf(cadir, sizeof(cadir), "%s/ca", the_dir);
    the_ca = ca_open(cadir, NULL, 1764142417, &err);
    if (the_ca == NULL) {
        fprintf(stderr, "fuzz_csr: ca_open: %s\n", err.msg);
        abort();
    }
    atexit(cleanup);
    return the_ca;
}

/* The CA reads CSRs with its own templates (ca/csr.c); whatever it signed,
 * OpenSSL's own reader must accept too (the same DER, the PEM framing being
 * ours): a request whose self-signature verifies, with the key the
 * certificate was given. */
static void openssl_agrees(const char *csr, const char *cert)
{
    static const char *const labels[] = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", NULL};
    struct fl_err err;
    unsigned char *der = NULL;
    long len = 0;
    X509_REQ *r = NULL;
    if (x509_pem_decode(csr, labels, "CSR", &der, &len, &err) == FL_OK) {
        const unsigned char *q = der;
        r = d2i_X509_REQ(NULL, &q, len);
    }
    BIO *c = BIO_new_mem_buf(cert, -1);
    X509 *x = c ? PEM_read_bio_X509(c, NULL, NULL, NULL) : NULL;
    EVP_PKEY *rk = r ? X509_REQ_get0_pubkey(r) : NULL;
    if (rk == NULL || x == NULL || X509_REQ_verify(r, rk) != 1 || EVP_PKEY_eq(rk, X509_get0_pubkey(x)) != 1) {
        fprintf(stderr,
                "fuzz_csr: signed a CSR that OpenSSL's X509_REQ reader refuses or reads another key from\n");
        abort();
    }
    X509_free(x);
    X509_REQ_free(r);
    BIO_free(c);
    OPENSSL_free(der);
    ERR_clear_error();
}

/* Runs one PEM text through every reader. */
static void run_text(struct ca *ca, const char *text)
{
    struct fl_err err;
    char *cert = NULL;
    struct x509_info given;
    if (ca_sign_csr(ca, text, 1764142417, &cert, &given, &err) == FL_OK) {
        /* whatever got signed must read back as a certificate of ours, and
         * read back as what the CA said it issued */
        struct x509_info info;
        if (x509_parse(cert, &info, &err) != FL_OK ||
            x509_verify_signed_by(cert, ca_root_pem(ca), &err) != FL_OK) {
            fprintf(stderr, "fuzz_csr: issued certificate does not read back: %s\n", err.msg);
            abort();
        }
        if (memcmp(&info, &given, sizeof(info)) != 0) {
            fprintf(stderr, "fuzz_csr: the CA's x509_info differs from the parsed certificate's\n");
            abort();
        }
        openssl_agrees(text, cert);
        free(cert);
    }
    struct x509_info info;
    x509_parse(text, &info, &err);
    char v[256];
    x509_name_field(text, 0, "CN", v, sizeof(v), &err);
    x509_name_field_at(text, 1, "OU", 1, v, sizeof(v), &err);
    x509_verify_signed_by(text, ca_root_pem(ca), &err);
}

/* base64 of data as a PEM block with label; malloc'd. */
static char *wrap(const uint8_t *data, size_t size, const char *label)
{
    size_t b64 = 4 * ((size + 2) / 3);
    char *out = malloc(b64 + b64 / 64 + 2 * strlen(label) + 64);
    if (out == NULL)
        return NULL;
    size_t o = (size_t)sprintf(out, "-----BEGIN %s-----\n", label);
    for (size_t i = 0; i < size; i += 48) {
        size_t n = size - i < 48 ? size - i : 48;
        o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, data + i, (int)n);
        out[o++] = '\n';
    }
    sprintf(out + o, "-----END %s-----\n", label);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ca *ca = get_ca();
    if (size > 70000)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    run_text(ca, text);
    free(text);
    if (size > 0 && data[0] == 0x30) { /* looks like DER: a SEQUENCE */
        static const char *const labels[] = {"CERTIFICATE REQUEST", "CERTIFICATE"};
        for (int i = 0; i < 2; i++) {
            char *pem = wrap(data, size, labels[i]);
            if (pem)
                run_text(ca, pem);
            free(pem);
        }
    }
    return 0;
}
