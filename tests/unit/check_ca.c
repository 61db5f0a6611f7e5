/*
 * check_ca.c - unit tests of the built-in CA (ca/ca.c, ca/csr.c) and the
 * X.509 utilities (ca/x509_util.c). CSRs are made here with OpenSSL; each
 * test works in its own mkdtemp directory, removed afterwards.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "suites.h"
#include "testutil.h"

#define NOW 1764142417 /* 2025-11-26, as tu_core's clock */

static char dir[64];
static char cadir[128];
static struct fl_err err;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/fleetd-check-ca-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cadir, sizeof(cadir), "%s/data/ca", dir);
    fl_err_clear(&err);
}

static void teardown(void)
{
    tu_rmtree(dir);
}

/* ---- helpers ------------------------------------------------------------- */

static struct ca *open_ca(enum ca_key_type root, enum ca_key_type device)
{
    struct ca_options o = {.root_key = root, .device_key = device};
    struct ca *ca = ca_open(cadir, &o, NOW, &err);
    ck_assert_msg(ca != NULL, "ca_open: %s", err.msg);
    return ca;
}

static EVP_PKEY *rsa_key(int bits)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    ck_assert_ptr_nonnull(k);
    return k;
}

static EVP_PKEY *ec_key(const char *curve)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    ck_assert_ptr_nonnull(k);
    return k;
}

/* An RSA key pair with public exponent 1 (d = 1): its "signature" of a
 * message is the padded message itself, which anybody can compute. */
static EVP_PKEY *rsa_e1_key(void)
{
    EVP_PKEY *real = rsa_key(2048), *k = NULL;
    BIGNUM *n = NULL, *one = BN_new();
    ck_assert(EVP_PKEY_get_bn_param(real, OSSL_PKEY_PARAM_RSA_N, &n) && BN_one(one));
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    ck_assert(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n) &&
              OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, one) &&
              OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_D, one));
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(b);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    ck_assert(EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) == 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_free(one);
    BN_free(n);
    EVP_PKEY_free(real);
    return k;
}

/* A CSR for key with subject "CN=cn,O=Acme,C=DE" (+ OU twice), optionally
 * asking for basicConstraints CA:TRUE. Returns malloc'd PEM. */
static char *make_csr(EVP_PKEY *key, const char *cn, int want_ca)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *nm = X509_NAME_new();
    ck_assert(X509_NAME_add_entry_by_txt(nm, "C", MBSTRING_UTF8, (const unsigned char *)"DE", -1, -1, 0));
    ck_assert(X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, (const unsigned char *)"Acme", -1, -1, 0));
    ck_assert(
        X509_NAME_add_entry_by_txt(nm, "OU", MBSTRING_UTF8, (const unsigned char *)"Sensors", -1, -1, 0));
    ck_assert(
        X509_NAME_add_entry_by_txt(nm, "OU", MBSTRING_UTF8, (const unsigned char *)"Line 2", -1, -1, 0));
    ck_assert(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0));
    ck_assert(X509_REQ_set_subject_name(r, nm));
    ck_assert(X509_REQ_set_pubkey(r, key));
    if (want_ca) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
        ck_assert_ptr_nonnull(e);
        sk_X509_EXTENSION_push(exts, e);
        ck_assert(X509_REQ_add_extensions(r, exts));
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    ck_assert(X509_REQ_sign(r, key, EVP_sha256()) > 0);
    char *s = tu_req_pem(r);
    X509_NAME_free(nm);
    X509_REQ_free(r);
    return s;
}

static X509 *load_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(x);
    return x;
}

/* hex SHA-256 of the certificate's DER, computed independently. */
static void der_sha256(const char *pem, char out[65])
{
    X509 *x = load_cert(pem);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    unsigned char md[32];
    unsigned int mdlen = 0;
    ck_assert(EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL));
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    OPENSSL_free(der);
    X509_free(x);
}

/* Also checks that the x509_info the CA hands back with the certificate is
 * what parsing the PEM gives: the store keeps the former. */
static char *sign_ok(struct ca *ca, const char *csr)
{
    char *cert = NULL;
    struct x509_info given, parsed;
    enum fl_code rc = ca_sign_csr(ca, csr, NOW, &cert, &given, &err);
    ck_assert_msg(rc == FL_OK, "ca_sign_csr: %s", err.msg);
    ck_assert_ptr_nonnull(cert);
    ck_assert_int_eq(x509_parse(cert, &parsed, &err), FL_OK);
    ck_assert_str_eq(given.id, parsed.id);
    ck_assert_str_eq(given.public_key_pem, parsed.public_key_pem);
    ck_assert_str_eq(given.key_desc, parsed.key_desc);
    ck_assert(memcmp(&given, &parsed, sizeof(given)) == 0);
    return cert;
}

static void sign_refused(struct ca *ca, const char *csr, const char *why)
{
    char *cert = (char *)1;
    fl_err_clear(&err);
    ck_assert_int_eq(ca_sign_csr(ca, csr, NOW, &cert, NULL, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_null(cert);
    ck_assert_int_eq(err.code, FL_INVALID_REQUEST);
    ck_assert_msg(strstr(err.msg, why) != NULL, "expected '%s' in '%s'", why, err.msg);
}

static mode_t file_mode(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_mode & 0777;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int has_ext_text(X509 *x, int nid, const char *want)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    if (i < 0)
        return 0;
    BIO *b = BIO_new(BIO_s_mem());
    X509V3_EXT_print(b, X509_get_ext(x, i), 0, 0);
    char *s = tu_bio_str(b);
    int ok = strstr(s, want) != NULL;
    free(s);
    BIO_free(b);
    return ok;
}

/* ---- root ---------------------------------------------------------------- */

START_TEST(test_root_create_and_reload)
{
    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    ck_assert_int_eq(ca_was_created(ca), 1);
    ck_assert_str_eq(ca_key_desc(ca), "EC P-256");
    ck_assert_int_eq(ca_root_key_type(ca), CA_KEY_EC_P256);
    char id[65], keyp[256], pemp[256];
    snprintf(id, sizeof(id), "%s", ca_root_id(ca));
    char *pem = strdup(ca_root_pem(ca));
    char want[65];
    der_sha256(pem, want);
    ck_assert_str_eq(id, want);
    ck_assert_uint_eq(strlen(id), 64);
    ca_close(ca);

    snprintf(keyp, sizeof(keyp), "%s/ca.key", cadir);
    snprintf(pemp, sizeof(pemp), "%s/ca.pem", cadir);
    ck_assert_uint_eq(file_mode(keyp), 0600);
    ck_assert_uint_eq(file_mode(cadir) & 077, 0);
    char *ftext = read_text(pemp);
    ck_assert_str_eq(ftext, pem);
    free(ftext);

    ca = open_ca(CA_KEY_RSA_2048, CA_KEY_DEFAULT); /* root_key applies to new roots only */
    ck_assert_int_eq(ca_was_created(ca), 0);
    ck_assert_str_eq(ca_root_id(ca), id);
    ck_assert_str_eq(ca_root_pem(ca), pem);
    ck_assert_str_eq(ca_key_desc(ca), "EC P-256");
    ck_assert_str_eq(ca_root_path(ca), pemp);

    struct x509_info info;
    ck_assert_int_eq(x509_parse(ca_root_pem(ca), &info, &err), FL_OK);
    ck_assert_str_eq(info.subject, "CN=fleetd root CA");
    ck_assert_str_eq(info.issuer, "CN=fleetd root CA");
    ck_assert_int_eq(info.is_ca, 1);
    ck_assert_int_eq(info.self_signed, 1);
    ck_assert_int_eq(info.not_before_s, NOW - CA_BACKDATE_S);
    ck_assert_int_eq(info.not_after_s, NOW + 3650LL * 86400);
    ck_assert_str_eq(info.id, id);
    ck_assert_str_eq(info.key_desc, "EC P-256");

    X509 *x = load_cert(pem);
    ck_assert(has_ext_text(x, NID_basic_constraints, "CA:TRUE"));
    ck_assert(X509_get_ext(x, X509_get_ext_by_NID(x, NID_basic_constraints, -1)) != NULL);
    ck_assert_int_eq(
        X509_EXTENSION_get_critical(X509_get_ext(x, X509_get_ext_by_NID(x, NID_basic_constraints, -1))), 1);
    ck_assert(has_ext_text(x, NID_key_usage, "Certificate Sign, CRL Sign"));
    ck_assert_int_ge(X509_get_ext_by_NID(x, NID_subject_key_identifier, -1), 0);
    X509_free(x);
    free(pem);
    ca_close(ca);
}
END_TEST

START_TEST(test_root_rsa)
{
    struct ca_options o = {.root_key = CA_KEY_RSA_2048, .common_name = "Acme Fleet Root", .root_days = 30};
    struct ca *ca = ca_open(cadir, &o, NOW, &err);
    ck_assert_msg(ca != NULL, "%s", err.msg);
    ck_assert_str_eq(ca_key_desc(ca), "RSA 2048");
    ck_assert_int_eq(ca_root_key_type(ca), CA_KEY_RSA_2048);
    struct x509_info info;
    ck_assert_int_eq(x509_parse(ca_root_pem(ca), &info, &err), FL_OK);
    ck_assert_str_eq(info.subject, "CN=Acme Fleet Root");
    ck_assert_str_eq(info.key_desc, "RSA 2048");
    ck_assert_int_eq(info.not_after_s - info.not_before_s, 30 * 86400 + CA_BACKDATE_S);
    X509 *x = load_cert(ca_root_pem(ca));
    ck_assert_int_eq(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
    X509_free(x);
    /* devices signed by an RSA root verify too */
    EVP_PKEY *k = ec_key("P-256");
    char *csr = make_csr(k, "dev", 0);
    char *cert = sign_ok(ca, csr);
    ck_assert_int_eq(x509_verify_signed_by(cert, ca_root_pem(ca), &err), FL_OK);
    free(cert);
    free(csr);
    EVP_PKEY_free(k);
    ca_close(ca);
}
END_TEST

START_TEST(test_root_files_guarded)
{
    char keyp[256], pemp[256];
    snprintf(keyp, sizeof(keyp), "%s/ca.key", cadir);
    snprintf(pemp, sizeof(pemp), "%s/ca.pem", cadir);
    struct ca_options none = {.no_create = 1};
    ck_assert_ptr_null(ca_open(cadir, &none, NOW, &err));
    ck_assert_int_eq(err.code, FL_NOT_FOUND);

    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    char id[65];
    snprintf(id, sizeof(id), "%s", ca_root_id(ca));
    ca_close(ca);

    /* a key readable by others is refused */
    ck_assert_int_eq(chmod(keyp, 0644), 0);
    ck_assert_ptr_null(ca_open(cadir, NULL, NOW, &err));
    ck_assert_int_eq(err.code, FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "chmod 600"));
    ck_assert_int_eq(chmod(keyp, 0600), 0);

    /* ca.pem lost: a new root for the same key */
    ck_assert_int_eq(unlink(pemp), 0);
    ca = ca_open(cadir, &none, NOW + 10, &err);
    ck_assert_msg(ca != NULL, "%s", err.msg);
    ck_assert_str_ne(ca_root_id(ca), id);
    ck_assert_int_eq(ca_was_created(ca), 0);
    ca_close(ca);

    /* ca.key lost: refused, never replaced */
    char *pem = read_text(pemp);
    ck_assert_int_eq(unlink(keyp), 0);
    ck_assert_ptr_null(ca_open(cadir, NULL, NOW, &err));
    ck_assert_int_eq(err.code, FL_INVALID_REQUEST);
    ck_assert_int_ne(access(keyp, F_OK), 0);

    /* a key that does not match ca.pem */
    struct ca_options o2 = {0};
    char other[160];
    snprintf(other, sizeof(other), "%s/other", dir);
    struct ca *ca2 = ca_open(other, &o2, NOW, &err);
    ck_assert_ptr_nonnull(ca2);
    ca_close(ca2);
    char okey[256], cmd[600];
    snprintf(okey, sizeof(okey), "%s/ca.key", other);
    snprintf(cmd, sizeof(cmd), "cp -p %s %s", okey, keyp);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_ptr_null(ca_open(cadir, NULL, NOW, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "does not match"));
    free(pem);

    /* bad options */
    struct ca_options bad = {.device_days = 99999};
    ck_assert_ptr_null(ca_open(other, &bad, NOW, &err));
    ck_assert_int_eq(err.code, FL_INVALID_REQUEST);
}
END_TEST

/* ---- CSR signing ----------------------------------------------------------- */

START_TEST(test_sign_rsa_2048)
{
    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    EVP_PKEY *k = rsa_key(2048);
    char *csr = make_csr(k, "thing-0001", 0);
    char *cert = sign_ok(ca, csr);

    X509 *x = load_cert(cert), *root = load_cert(ca_root_pem(ca));
    ck_assert_int_eq(X509_verify(x, X509_get0_pubkey(root)), 1);
    ck_assert_int_eq(X509_check_issued(root, x), X509_V_OK);
    ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
    ck_assert_int_eq(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
    ck_assert(has_ext_text(x, NID_basic_constraints, "CA:FALSE"));
    ck_assert(has_ext_text(x, NID_key_usage, "Digital Signature, Key Encipherment"));
    ck_assert(has_ext_text(x, NID_ext_key_usage, "TLS Web Client Authentication"));
    ck_assert_int_ge(X509_get_ext_by_NID(x, NID_subject_key_identifier, -1), 0);
    ck_assert_int_eq(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x), X509_get0_subject_key_id(root)), 0);
    /* a positive 128-bit serial */
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
    ck_assert(!BN_is_negative(bn));
    ck_assert_int_le(BN_num_bits(bn), 128);
    ck_assert_int_gt(BN_num_bits(bn), 64); /* 2^-64 chance of a false alarm */
    BN_free(bn);
    X509_free(root);
    X509_free(x);

    ck_assert_int_eq(x509_verify_signed_by(cert, ca_root_pem(ca), &err), FL_OK);
    struct x509_info info;
    ck_assert_int_eq(x509_parse(cert, &info, &err), FL_OK);
    ck_assert_str_eq(info.subject, "CN=thing-0001,OU=Line 2,OU=Sensors,O=Acme,C=DE");
    ck_assert_str_eq(info.issuer, "CN=fleetd root CA");
    ck_assert_int_eq(info.not_before_s, NOW - CA_BACKDATE_S);
    ck_assert_int_eq(info.not_after_s, NOW + 365LL * 86400);
    ck_assert_int_eq(info.is_ca, 0);
    ck_assert_int_eq(info.self_signed, 0);
    ck_assert_str_eq(info.key_desc, "RSA 2048");
    ck_assert_ptr_nonnull(strstr(info.public_key_pem, "-----BEGIN PUBLIC KEY-----"));
    char want[65];
    der_sha256(cert, want);
    ck_assert_str_eq(info.id, want);

    /* two signatures of one CSR: different serials, different ids */
    char *cert2 = sign_ok(ca, csr);
    struct x509_info info2;
    ck_assert_int_eq(x509_parse(cert2, &info2, &err), FL_OK);
    ck_assert_str_ne(info.serial_hex, info2.serial_hex);
    ck_assert_str_ne(info.id, info2.id);
    free(cert2);
    free(cert);
    free(csr);
    EVP_PKEY_free(k);
    ca_close(ca);
}
END_TEST

START_TEST(test_sign_ec_curves)
{
    struct ca_options o = {.device_days = 10};
    struct ca *ca = ca_open(cadir, &o, NOW, &err);
    ck_assert_ptr_nonnull(ca);
    static const char *ok_curves[] = {"P-256", "P-384", "P-521"};
    for (int i = 0; i < 3; i++) {
        EVP_PKEY *k = ec_key(ok_curves[i]);
        char *csr = make_csr(k, "ec-device", 0);
        char *cert = sign_ok(ca, csr);
        X509 *x = load_cert(cert);
        ck_assert(has_ext_text(x, NID_key_usage, "Digital Signature"));
        ck_assert(!has_ext_text(x, NID_key_usage, "Key Encipherment"));
        ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
        X509_free(x);
        struct x509_info info;
        ck_assert_int_eq(x509_parse(cert, &info, &err), FL_OK);
        ck_assert_int_eq(info.not_after_s - info.not_before_s, 10 * 86400 + CA_BACKDATE_S);
        char desc[32];
        snprintf(desc, sizeof(desc), "EC %s", ok_curves[i]);
        ck_assert_str_eq(info.key_desc, desc);
        ck_assert_int_eq(x509_verify_signed_by(cert, ca_root_pem(ca), &err), FL_OK);
        free(cert);
        free(csr);
        EVP_PKEY_free(k);
    }
    EVP_PKEY *k = ec_key("secp256k1");
    char *csr = make_csr(k, "k1", 0);
    sign_refused(ca, csr, "EC keys must use P-256, P-384 or P-521");
    free(csr);
    EVP_PKEY_free(k);
    /* a compressed point is a P-256 key like any other; it is copied into
     * the certificate as received */
    k = ec_key("P-256");
    ck_assert(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"));
    csr = make_csr(k, "compressed", 0);
    char *cert = sign_ok(ca, csr);
    X509 *x = load_cert(cert);
    ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
    X509_free(x);
    free(cert);
    free(csr);
    /* the curve spelled out instead of named (RFC 5480: MUST NOT) */
    ck_assert(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_ENCODING, "explicit"));
    csr = make_csr(k, "explicit", 0);
    sign_refused(ca, csr, "(this one uses explicit parameters)");
    free(csr);
    EVP_PKEY_free(k);
    ca_close(ca);
}
END_TEST

/* The point at infinity of P-256 as a public key: OpenSSL 3.0 imports it. */
static EVP_PKEY *ec_infinity_key(void)
{
    unsigned char zero = 0; /* the encoding of the point at infinity */
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, &zero, 1),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    ck_assert(EVP_PKEY_fromdata_init(ctx) == 1 &&
              EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) == 1);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

/* A CSR whose key is the point at infinity of P-256, self-signed with a
 * forged signature (s = 1, r = x(e·G)): under that key it verifies,
 * so the key itself must be refused. */
static char *infinity_csr(void)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *nm = tu_name("nobody");
    ck_assert(X509_REQ_set_subject_name(r, nm));
    EVP_PKEY *inf = ec_infinity_key();
    ck_assert(X509_REQ_set_pubkey(r, inf));
    EVP_PKEY_free(inf);
    X509_ALGOR *alg = X509_ALGOR_new();
    ck_assert(X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL));
    ck_assert(X509_REQ_set1_signature_algo(r, alg));
    unsigned char *tbs = NULL;
    int tbs_len = i2d_re_X509_REQ_tbs(r, &tbs);
    ck_assert_int_gt(tbs_len, 0);
    unsigned char h[32];
    ck_assert(EVP_Digest(tbs, (size_t)tbs_len, h, NULL, EVP_sha256(), NULL));
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *bc = BN_CTX_new();
    BIGNUM *e = BN_bin2bn(h, 32, NULL), *n = BN_new(), *x = BN_new();
    ck_assert(EC_GROUP_get_order(g, n, bc) && BN_mod(e, e, n, bc));
    EC_POINT *R = EC_POINT_new(g);
    ck_assert(EC_POINT_mul(g, R, e, NULL, NULL, bc) && EC_POINT_get_affine_coordinates(g, R, x, NULL, bc));
    ck_assert(BN_mod(x, x, n, bc));
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *one = BN_new();
    ck_assert(BN_one(one) && ECDSA_SIG_set0(sig, x, one));
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    ck_assert_int_gt(der_len, 0);
    ASN1_BIT_STRING *bits = ASN1_BIT_STRING_new();
    ck_assert(ASN1_BIT_STRING_set(bits, der, der_len));
    X509_REQ_set0_signature(r, bits);
    /* OpenSSL itself takes the key and the forgery */
    EVP_PKEY *k = X509_REQ_get0_pubkey(r);
    if (k != NULL)
        ck_assert_int_eq(X509_REQ_verify(r, k), 1);
    char *pem = tu_req_pem(r);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    EC_POINT_free(R);
    BN_free(e);
    BN_free(n);
    BN_CTX_free(bc);
    EC_GROUP_free(g);
    OPENSSL_free(tbs);
    X509_ALGOR_free(alg);
    X509_NAME_free(nm);
    X509_REQ_free(r);
    ERR_clear_error();
    return pem;
}

START_TEST(test_sign_refusals)
{
    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    EVP_PKEY *weak = rsa_key(1024);
    char *csr = make_csr(weak, "weak", 0);
    sign_refused(ca, csr, "RSA keys must be at least 2048 bits");
    free(csr);
    EVP_PKEY_free(weak);

    EVP_PKEY *k = ec_key("P-256");
    csr = make_csr(k, "wants-ca", 1);
    sign_refused(ca, csr, "The CSR requests a CA certificate");
    free(csr);

    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ck_assert_ptr_nonnull(ed);
    X509_REQ *r = X509_REQ_new();
    X509_REQ_set_pubkey(r, ed);
    ck_assert(X509_REQ_sign(r, ed, NULL) > 0);
    csr = tu_req_pem(r);
    sign_refused(ca, csr, "Unsupported CSR key type");
    EVP_PKEY *e1 = rsa_e1_key();
    char *e1_csr = make_csr(e1, "e1", 0); /* self-signed with d = 1: it verifies */
    sign_refused(ca, e1_csr, "The CSR public key cannot be used: its RSA public exponent is 1 or even");
    free(e1_csr);
    EVP_PKEY_free(e1);
    char *inf = infinity_csr();
    sign_refused(ca, inf, "The CSR public key cannot be used: its EC point is not a valid public key");
    free(inf);
    free(csr);
    X509_REQ_free(r);
    EVP_PKEY_free(ed);

    /* garbage of many shapes */
    sign_refused(ca, NULL, "The CSR is not valid PEM");
    sign_refused(ca, "", "The CSR is not valid PEM");
    sign_refused(ca, "hello world", "The CSR is not valid PEM");
    sign_refused(ca, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                 "The CSR is not valid PEM");
    sign_refused(ca, "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n",
                 "The CSR is not valid PEM");
    sign_refused(ca, ca_root_pem(ca), "The CSR is not valid PEM"); /* a certificate, not a CSR */

    char *good = make_csr(k, "device-0001", 0);
    size_t n = strlen(good);
    char *buf = malloc(2 * n + 64);
    /* truncated */
    memcpy(buf, good, n / 2);
    buf[n / 2] = '\0';
    sign_refused(ca, buf, "The CSR is not valid PEM");
    /* two CSRs */
    snprintf(buf, 2 * n + 64, "%s%s", good, good);
    sign_refused(ca, buf, "exactly one");
    /* trailing text */
    snprintf(buf, 2 * n + 64, "%sjunk\n", good);
    sign_refused(ca, buf, "exactly one");
    /* PEM headers */
    snprintf(buf, 2 * n + 64, "-----BEGIN CERTIFICATE REQUEST-----\nProc-Type: 4,ENCRYPTED\n%s",
             good + strlen("-----BEGIN CERTIFICATE REQUEST-----\n"));
    sign_refused(ca, buf, "not valid PEM");
    /* surrounding whitespace is fine */
    snprintf(buf, 2 * n + 64, "\n  %s\n\n", good);
    char *cert = sign_ok(ca, buf);
    free(cert);

    /* tampered: one byte of the subject changed after signing */
    BIO *gb = BIO_new_mem_buf(good, -1);
    X509_REQ *req = PEM_read_bio_X509_REQ(gb, NULL, NULL, NULL);
    BIO_free(gb);
    unsigned char *der = NULL;
    int dlen = i2d_X509_REQ(req, &der);
    unsigned char *hit = memmem(der, (size_t)dlen, "device-0001", 11);
    ck_assert_ptr_nonnull(hit);
    hit[10] = '2';
    BIO *tb = BIO_new(BIO_s_mem());
    PEM_write_bio(tb, "CERTIFICATE REQUEST", "", der, dlen);
    char *tampered = tu_bio_str(tb);
    sign_refused(ca, tampered, "CSR signature does not verify");
    free(tampered);
    BIO_free(tb);
    OPENSSL_free(der);
    X509_REQ_free(req);

    /* trailing bytes inside the DER */
    free(buf);
    free(good);
    EVP_PKEY_free(k);
    ca_close(ca);
}
END_TEST

START_TEST(test_sign_utf8_subject)
{
    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    EVP_PKEY *k = ec_key("P-256");
    char *csr = make_csr(k, "Gerät Ümlaut, \"x\"", 0);
    char *cert = sign_ok(ca, csr);
    struct x509_info info;
    ck_assert_int_eq(x509_parse(cert, &info, &err), FL_OK);
    ck_assert_ptr_nonnull(strstr(info.subject, "CN=Gerät Ümlaut\\, \\\"x\\\""));
    char cn[128];
    ck_assert_int_eq(x509_name_field(cert, 0, "CN", cn, sizeof(cn), &err), FL_OK);
    ck_assert_str_eq(cn, "Gerät Ümlaut, \"x\"");
    free(cert);
    free(csr);
    EVP_PKEY_free(k);
    ca_close(ca);
}
END_TEST

/* ---- CreateKeysAndCertificate -------------------------------------------- */

static void check_key_pair(struct ca *ca, const char *priv_label, const char *desc)
{
    char *cert = NULL, *pub = NULL, *priv = NULL;
    ck_assert_int_eq(ca_create_keys_and_certificate(ca, NOW, &cert, &pub, &priv, &err), FL_OK);
    ck_assert_ptr_nonnull(strstr(pub, "-----BEGIN PUBLIC KEY-----"));
    ck_assert_msg(strncmp(priv, priv_label, strlen(priv_label)) == 0, "got %.40s", priv);
    BIO *b = BIO_new_mem_buf(priv, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(k);
    b = BIO_new_mem_buf(pub, -1);
    EVP_PKEY *pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    X509 *x = load_cert(cert);
    ck_assert_int_eq(X509_check_private_key(x, k), 1);
    ck_assert_int_eq(EVP_PKEY_eq(pk, k), 1);
    X509_free(x);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(k);
    struct x509_info info;
    ck_assert_int_eq(x509_parse(cert, &info, &err), FL_OK);
    ck_assert_str_eq(info.subject, "CN=AWS IoT Certificate");
    ck_assert_str_eq(info.key_desc, desc);
    ck_assert_int_eq(x509_verify_signed_by(cert, ca_root_pem(ca), &err), FL_OK);
    char cn[64];
    ck_assert_int_eq(x509_name_field(cert, 0, "CommonName", cn, sizeof(cn), &err), FL_OK);
    ck_assert_str_eq(cn, "AWS IoT Certificate");
    free(cert);
    free(pub);
    free(priv);
}

START_TEST(test_create_keys_rsa_default)
{
    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    check_key_pair(ca, "-----BEGIN RSA PRIVATE KEY-----", "RSA 2048");
    ca_close(ca);
}
END_TEST

START_TEST(test_create_keys_ec)
{
    struct ca *ca = open_ca(CA_KEY_RSA_2048, CA_KEY_EC_P256);
    check_key_pair(ca, "-----BEGIN EC PRIVATE KEY-----", "EC P-256");
    ca_close(ca);
}
END_TEST

/* ---- server certificate ----------------------------------------------------- */

START_TEST(test_issue_server)
{
    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    char kp[256], cp[256];
    snprintf(kp, sizeof(kp), "%s/server.key", cadir);
    snprintf(cp, sizeof(cp), "%s/server.pem", cadir);
    const char *sans[] = {"localhost", "127.0.0.1", "::1", "broker.example.com", "*.fleet.local"};
    ck_assert_msg(ca_issue_server(ca, sans, 5, kp, cp, NOW, &err) == FL_OK, "%s", err.msg);
    ck_assert_uint_eq(file_mode(kp), 0600);
    char *cert = read_text(cp), *key = read_text(kp);
    X509 *x = load_cert(cert);
    BIO *b = BIO_new_mem_buf(key, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_int_eq(X509_check_private_key(x, k), 1);
    ck_assert_int_eq(EVP_PKEY_is_a(k, "EC"), 1);
    ck_assert(has_ext_text(x, NID_ext_key_usage, "TLS Web Server Authentication"));
    ck_assert(has_ext_text(x, NID_basic_constraints, "CA:FALSE"));
    ck_assert(has_ext_text(x, NID_subject_alt_name,
                           "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, "
                           "DNS:broker.example.com, DNS:*.fleet.local"));
    ck_assert_int_eq(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    ck_assert_int_eq(X509_check_ip_asc(x, "::1", 0), 1);
    ck_assert_int_eq(X509_check_host(x, "a.fleet.local", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_host(x, "evil.example", 0, 0, NULL), 0);
    char cn[64];
    ck_assert_int_eq(x509_name_field(cert, 0, "CN", cn, sizeof(cn), &err), FL_OK);
    ck_assert_str_eq(cn, "localhost");
    ck_assert_int_eq(x509_verify_signed_by(cert, ca_root_pem(ca), &err), FL_OK);
    struct x509_info info;
    ck_assert_int_eq(x509_parse(cert, &info, &err), FL_OK);
    ck_assert_int_eq(info.not_after_s - info.not_before_s, 825LL * 86400 + CA_BACKDATE_S);
    /* the SAN set, whatever the order, case or spelling of addresses */
    const char *same[] = {"*.fleet.local", "0:0::1",    "BROKER.example.com",
                          "127.0.0.1",     "localhost", "localhost"};
    ck_assert_int_eq(x509_sans_equal(cert, same, 6), 1);
    ck_assert_int_eq(x509_sans_equal(cert, sans, 4), 0);
    const char *more[] = {"localhost", "127.0.0.1", "::1", "broker.example.com", "*.fleet.local", "10.0.0.1"};
    ck_assert_int_eq(x509_sans_equal(cert, more, 6), 0);
    ck_assert_int_eq(x509_sans_equal(ca_root_pem(ca), sans, 1), 0);
    ck_assert_int_eq(x509_sans_equal("junk", sans, 1), 0);
    EVP_PKEY_free(k);
    X509_free(x);
    free(cert);
    free(key);

    /* bad SANs leave the files alone */
    const char *bad[] = {"localhost", "not a name"};
    ck_assert_int_eq(ca_issue_server(ca, bad, 2, kp, cp, NOW, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a name"));
    const char *bad2[] = {"a..b"};
    ck_assert_int_eq(ca_issue_server(ca, bad2, 1, kp, cp, NOW, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(ca_issue_server(ca, sans, 0, kp, cp, NOW, &err), FL_INVALID_REQUEST);
    ca_close(ca);
}
END_TEST

/* ---- X.509 utilities --------------------------------------------------------- */

START_TEST(test_x509_parse_refusals)
{
    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    struct x509_info info;
    const char *root = ca_root_pem(ca);
    ck_assert_int_eq(x509_parse(NULL, &info, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(x509_parse("", &info, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(x509_parse("garbage", &info, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "not valid PEM"));
    EVP_PKEY *k = ec_key("P-256");
    char *csr = make_csr(k, "x", 0);
    ck_assert_int_eq(x509_parse(csr, &info, &err), FL_INVALID_REQUEST);
    size_t n = strlen(root);
    char *two = malloc(2 * n + 16);
    snprintf(two, 2 * n + 16, "%s%s", root, root);
    ck_assert_int_eq(x509_parse(two, &info, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "exactly one"));
    memcpy(two, root, n - 30);
    two[n - 30] = '\0';
    ck_assert_int_eq(x509_parse(two, &info, &err), FL_INVALID_REQUEST);
    /* the root relabelled as a certificate with extra DER bytes */
    X509 *x = load_cert(root);
    unsigned char *der = NULL;
    int dlen = i2d_X509(x, &der);
    unsigned char *padded = OPENSSL_malloc((size_t)dlen + 2);
    memcpy(padded, der, (size_t)dlen);
    padded[dlen] = 0x05, padded[dlen + 1] = 0x00;
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio(b, "CERTIFICATE", "", padded, dlen + 2);
    char *pad = tu_bio_str(b);
    ck_assert_int_eq(x509_parse(pad, &info, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(x509_verify_signed_by(pad, root, &err), FL_INVALID_REQUEST);
    /* "TRUSTED CERTIFICATE" is not a plain certificate */
    ck_assert_int_eq(
        x509_parse("-----BEGIN TRUSTED CERTIFICATE-----\nMA==\n-----END TRUSTED CERTIFICATE-----\n", &info,
                   &err),
        FL_INVALID_REQUEST);
    /* certificates for keys under which anybody can sign (a CA of such a
     * key would let anybody forge its signatures), each signed properly by
     * another key: the point at infinity, RSA with public exponent 1 */
    EVP_PKEY *inf = ec_infinity_key(), *e1 = rsa_e1_key();
    char *inf_pem = tu_cert_pem("infinity", inf, "issuer", k, 0, 0, 1);
    ck_assert_int_eq(x509_parse(inf_pem, &info, &err), FL_INVALID_REQUEST);
    ck_assert_msg(strstr(err.msg, "cannot be used: its EC point") != NULL, "%s", err.msg);
    char *e1_pem = tu_cert_pem("e1", e1, "issuer", k, 0, 0, 1);
    ck_assert_int_eq(x509_parse(e1_pem, &info, &err), FL_INVALID_REQUEST);
    ck_assert_msg(strstr(err.msg, "cannot be used: its RSA public exponent is 1") != NULL, "%s", err.msg);
    free(e1_pem);
    free(inf_pem);
    EVP_PKEY_free(e1);
    EVP_PKEY_free(inf);
    free(pad);
    BIO_free(b);
    OPENSSL_free(padded);
    OPENSSL_free(der);
    X509_free(x);
    free(two);
    free(csr);
    EVP_PKEY_free(k);
    ca_close(ca);
}
END_TEST

START_TEST(test_x509_verify_signed_by)
{
    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    char other_dir[160];
    snprintf(other_dir, sizeof(other_dir), "%s/other", dir);
    struct ca *other = ca_open(other_dir, NULL, NOW, &err);
    ck_assert_ptr_nonnull(other);
    EVP_PKEY *k = ec_key("P-256");
    char *csr = make_csr(k, "x", 0);
    char *cert = sign_ok(ca, csr);
    ck_assert_int_eq(x509_verify_signed_by(cert, ca_root_pem(ca), &err), FL_OK);
    /* same CA name, other key: name matches, AKI/signature do not */
    ck_assert_int_eq(x509_verify_signed_by(cert, ca_root_pem(other), &err), FL_INVALID_REQUEST);
    /* a leaf is no CA for itself or the root */
    ck_assert_int_eq(x509_verify_signed_by(ca_root_pem(ca), cert, &err), FL_INVALID_REQUEST);
    /* roots are self-signed */
    ck_assert_int_eq(x509_verify_signed_by(ca_root_pem(ca), ca_root_pem(ca), &err), FL_OK);
    ck_assert_int_eq(x509_verify_signed_by(cert, "junk", &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "CA certificate"));
    free(cert);
    free(csr);
    EVP_PKEY_free(k);
    ca_close(other);
    ca_close(ca);
}
END_TEST

START_TEST(test_x509_name_field)
{
    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    EVP_PKEY *k = ec_key("P-256");
    char *csr = make_csr(k, "sensor-7", 0);
    char *cert = sign_ok(ca, csr);
    char v[64];
    static const struct {
        const char *field, *want;
    } cases[] = {
        {"CN", "sensor-7"},
        {"commonName", "sensor-7"},
        {"CommonName", "sensor-7"},
        {"2.5.4.3", "sensor-7"},
        {"O", "Acme"},
        {"Organization", "Acme"},
        {"C", "DE"},
        {"Country", "DE"},
        {"OU", "Sensors"},
        {"OrganizationalUnit", "Sensors"},
        {"ST", ""},
        {"L", ""},
        {"serialNumber", ""},
        {"SerialNumber", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(x509_name_field(cert, 0, cases[i].field, v, sizeof(v), &err) == FL_OK, "%s: %s",
                      cases[i].field, err.msg);
        ck_assert_msg(strcmp(v, cases[i].want) == 0, "%s: got '%s'", cases[i].field, v);
    }
    ck_assert_int_eq(x509_name_field_at(cert, 0, "OU", 1, v, sizeof(v), &err), FL_OK);
    ck_assert_str_eq(v, "Line 2");
    ck_assert_int_eq(x509_name_field_at(cert, 0, "OU", 2, v, sizeof(v), &err), FL_OK);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(x509_name_field(cert, 1, "CN", v, sizeof(v), &err), FL_OK);
    ck_assert_str_eq(v, "fleetd root CA");
    ck_assert_int_eq(x509_name_field(cert, 1, "O", v, sizeof(v), &err), FL_OK);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(x509_name_field(cert, 0, "NoSuchField", v, sizeof(v), &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(x509_name_field(cert, 0, "", v, sizeof(v), &err), FL_INVALID_REQUEST);
    /* never truncated */
    ck_assert_int_eq(x509_name_field(cert, 0, "CN", v, 5, &err), FL_INVALID_REQUEST);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(x509_name_field(cert, 0, "CN", v, 9, &err), FL_OK);
    ck_assert_int_eq(x509_name_field(csr, 0, "CN", v, sizeof(v), &err), FL_INVALID_REQUEST);
    free(cert);
    free(csr);
    EVP_PKEY_free(k);
    ca_close(ca);
}
END_TEST

START_TEST(test_x509_der_id)
{
    char out[65];
    x509_der_id((const unsigned char *)"abc", 3, out);
    ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    x509_der_id((const unsigned char *)"", 0, out);
    ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

/* ---- threads ------------------------------------------------------------------ */

struct worker {
    struct ca *ca;
    const char *csr;
    int ok;
};

static void *sign_many(void *arg)
{
    struct worker *w = arg;
    struct fl_err e;
    for (int i = 0; i < 25; i++) {
        char *cert = NULL;
        if (ca_sign_csr(w->ca, w->csr, NOW, &cert, NULL, &e) == FL_OK &&
            x509_verify_signed_by(cert, ca_root_pem(w->ca), &e) == FL_OK)
            w->ok++;
        free(cert);
    }
    return NULL;
}

START_TEST(test_concurrent_signing)
{
    struct ca *ca = open_ca(CA_KEY_DEFAULT, CA_KEY_DEFAULT);
    EVP_PKEY *k = ec_key("P-256");
    char *csr = make_csr(k, "t", 0);
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.ca = ca, .csr = csr};
        ck_assert_int_eq(pthread_create(&th[i], NULL, sign_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(w[i].ok, 25);
    }
    free(csr);
    EVP_PKEY_free(k);
    ca_close(ca);
}
END_TEST

Suite *ca_suite(void)
{
    Suite *s = suite_create("ca");
    TCase *tc = tcase_create("root");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_root_create_and_reload);
    tcase_add_test(tc, test_root_rsa);
    tcase_add_test(tc, test_root_files_guarded);
    suite_add_tcase(s, tc);

    tc = tcase_create("sign");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sign_rsa_2048);
    tcase_add_test(tc, test_sign_ec_curves);
    tcase_add_test(tc, test_sign_refusals);
    tcase_add_test(tc, test_sign_utf8_subject);
    tcase_add_test(tc, test_create_keys_rsa_default);
    tcase_add_test(tc, test_create_keys_ec);
    tcase_add_test(tc, test_issue_server);
    tcase_add_test(tc, test_concurrent_signing);
    suite_add_tcase(s, tc);

    tc = tcase_create("x509");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_x509_parse_refusals);
    tcase_add_test(tc, test_x509_verify_signed_by);
    tcase_add_test(tc, test_x509_name_field);
    tcase_add_test(tc, test_x509_der_id);
    suite_add_tcase(s, tc);
    return s;
}
