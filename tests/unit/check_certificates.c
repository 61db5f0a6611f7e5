/*
 * check_certificates.c - unit tests for certificates.c: certificates from
 * the built-in CA, registration with and without a CA, describe, update
 * transitions, delete guards, listings and paging, the registration code,
 * CA certificate registration and lifecycle, certificates_is_usable.
 *
 * Each test gets an in-memory core and, where it needs one, a built-in CA
 * opened in its own mkdtemp directory. Foreign CAs, CSRs and device
 * certificates are made here with OpenSSL, independently of ca/.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "certificates.h"
#include "page.h"
#include "principals.h"
#include "provisioning.h"
#include "store.h"
#include "store_policies.h"
#include "suites.h"
#include "testutil.h"
#include "things.h"

#define NOW_S TU_NOW_S

static struct fl_core *c;
static struct fl_err err;
static char dir[64];

static void setup(void)
{
    c = tu_core();
    fl_err_clear(&err);
    snprintf(dir, sizeof(dir), "/tmp/fleetd-check-certs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    if (c->ca)
        ca_close(c->ca);
    tu_core_free(c);
    tu_rmtree(dir);
}

/* Gives c a built-in CA (EC device keys: fast). */
static void with_ca(void)
{
    tu_with_ca(c, dir);
}

/* ---- OpenSSL helpers -------------------------------------------------------- */

static X509 *load_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(x);
    return x;
}

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

/* ---- core helpers ------------------------------------------------------------- */

static const char *sget(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_t *describe(const char *id)
{
    json_t *out = NULL;
    ck_assert_msg(certificates_describe(c, id, &out, &err) == FL_OK, "%s", err.msg);
    return out;
}

static const char *desc_field(json_t *d, const char *k)
{
    return sget(json_object_get(d, "certificateDescription"), k);
}

static char *status_of(const char *id)
{
    json_t *d = describe(id);
    char *s = strdup(desc_field(d, "status"));
    json_decref(d);
    return s;
}

static void assert_status(const char *id, const char *want)
{
    char *s = status_of(id);
    ck_assert_str_eq(s, want);
    free(s);
}

/* CreateKeysAndCertificate; copies the id out. */
static void mk_cert(int active, char id[65])
{
    json_t *out = NULL;
    ck_assert_msg(certificates_create_keys(c, active, &out, &err) == FL_OK, "%s", err.msg);
    snprintf(id, 65, "%s", sget(out, "certificateId"));
    json_decref(out);
}

static enum fl_code reg_code(char code[65])
{
    return certificates_registration_code(c, code, &err);
}

/* Registers f (DEFAULT mode, verification certificate over the code). */
static enum fl_code fca_register(struct tu_ca *f, int active, struct certificates_ref *ref)
{
    char code[65];
    ck_assert_int_eq(reg_code(code), FL_OK);
    char *verif = tu_ca_issue(f, code);
    struct certificates_ca_register_in in = {
        .ca_pem = f->pem, .verification_pem = verif, .set_active = active};
    struct certificates_ref tmp;
    enum fl_code rc = certificates_ca_register(c, &in, ref ? ref : &tmp, &err);
    free(verif);
    return rc;
}

static enum fl_code reg_with(const char *pem, const char *ca_pem, const char *status, char id[65])
{
    struct certificates_register_in in = {
        .pem = pem, .ca_pem = ca_pem, .status = status, .set_as_active = -1};
    struct certificates_ref ref;
    enum fl_code rc = certificates_register(c, &in, &ref, &err);
    if (rc == FL_OK && id)
        snprintf(id, 65, "%s", ref.id);
    return rc;
}

static void set_ca_status(const char *id, const char *status)
{
    struct certificates_ca_update_in in = {.id = id, .new_status = status};
    ck_assert_msg(certificates_ca_update(c, &in, &err) == FL_OK, "%s", err.msg);
}

static int usable(const char *id)
{
    int u = -1;
    ck_assert_msg(certificates_is_usable(c, id, &u, &err) == FL_OK, "%s", err.msg);
    return u;
}

/* ---- CreateKeysAndCertificate --------------------------------------------------- */

START_TEST(test_create_keys)
{
    with_ca();
    json_t *out = NULL;
    ck_assert_int_eq(certificates_create_keys(c, 1, &out, &err), FL_OK);
    const char *id = sget(out, "certificateId"), *pem = sget(out, "certificatePem");
    ck_assert_int_eq(strlen(id), 64);
    char want[65], arn[320];
    der_sha256(pem, want);
    ck_assert_str_eq(id, want);
    snprintf(arn, sizeof(arn), "arn:aws:iot:us-east-1:123456789012:cert/%s", id);
    ck_assert_str_eq(sget(out, "certificateArn"), arn);
    json_t *kp = json_object_get(out, "keyPair");
    ck_assert_ptr_nonnull(strstr(sget(kp, "PublicKey"), "BEGIN PUBLIC KEY"));
    ck_assert_ptr_nonnull(strstr(sget(kp, "PrivateKey"), "PRIVATE KEY"));

    /* The certificate is signed by the root and holds the returned key. */
    X509 *x = load_cert(pem), *root = load_cert(ca_root_pem(c->ca));
    ck_assert_int_eq(X509_verify(x, X509_get0_pubkey(root)), 1);
    BIO *b = BIO_new_mem_buf(sget(kp, "PrivateKey"), -1);
    EVP_PKEY *priv = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(priv);
    ck_assert_int_eq(X509_check_private_key(x, priv), 1);
    EVP_PKEY_free(priv);
    BIO_free(b);
    X509_free(x);
    X509_free(root);

    json_t *d = describe(id);
    json_t *cd = json_object_get(d, "certificateDescription");
    ck_assert_str_eq(sget(cd, "status"), "ACTIVE");
    ck_assert_str_eq(sget(cd, "caCertificateId"), ca_root_id(c->ca));
    ck_assert_str_eq(sget(cd, "certificatePem"), pem);
    ck_assert_str_eq(sget(cd, "ownedBy"), "123456789012");
    ck_assert_str_eq(sget(cd, "certificateMode"), "DEFAULT");
    ck_assert_int_eq(json_integer_value(json_object_get(cd, "customerVersion")), 1);
    ck_assert_int_eq(strlen(sget(cd, "generationId")), 36);
    ck_assert(json_number_value(json_object_get(cd, "creationDate")) == NOW_S);
    json_t *v = json_object_get(cd, "validity");
    ck_assert(json_number_value(json_object_get(v, "notAfter")) >
              json_number_value(json_object_get(v, "notBefore")));
    json_decref(d);
    json_decref(out);

    /* The built-in root was registered on the way. */
    ck_assert_int_eq(certificates_ca_describe(c, ca_root_id(c->ca), &d, &err), FL_OK);
    cd = json_object_get(d, "certificateDescription");
    ck_assert_str_eq(sget(cd, "status"), "ACTIVE");
    ck_assert_str_eq(sget(cd, "autoRegistrationStatus"), "DISABLE");
    json_decref(d);

    char id2[65];
    mk_cert(0, id2);
    assert_status(id2, "INACTIVE");
}
END_TEST

START_TEST(test_create_without_ca)
{
    json_t *out = NULL;
    ck_assert_int_eq(certificates_create_keys(c, 1, &out, &err), FL_INTERNAL);
    ck_assert_str_eq(err.msg, "no certificate authority configured");
    EVP_PKEY *k = tu_ec_key();
    char *csr = tu_csr_pem(k, "dev");
    ck_assert_int_eq(certificates_create_from_csr(c, csr, 1, &out, &err), FL_INTERNAL);
    ck_assert_str_eq(err.msg, "no certificate authority configured");
    free(csr);
    EVP_PKEY_free(k);
}
END_TEST

/* ---- CreateCertificateFromCsr -------------------------------------------------- */

START_TEST(test_create_from_csr)
{
    with_ca();
    EVP_PKEY *ks[2] = {tu_ec_key(), EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)};
    for (int i = 0; i < 2; i++) {
        char *csr = tu_csr_pem(ks[i], i ? "rsa-device" : "ec-device");
        json_t *out = NULL;
        ck_assert_msg(certificates_create_from_csr(c, csr, i, &out, &err) == FL_OK, "%s", err.msg);
        const char *pem = sget(out, "certificatePem");
        char want[65], cn[64];
        der_sha256(pem, want);
        ck_assert_str_eq(sget(out, "certificateId"), want);
        ck_assert_ptr_null(json_object_get(out, "keyPair"));
        ck_assert_int_eq(x509_name_field(pem, 0, "CN", cn, sizeof(cn), &err), FL_OK);
        ck_assert_str_eq(cn, i ? "rsa-device" : "ec-device");
        X509 *x = load_cert(pem);
        ck_assert_int_eq(X509_check_private_key(x, ks[i]), 1);
        X509_free(x);
        assert_status(want, i ? "ACTIVE" : "INACTIVE");
        json_decref(out);
        free(csr);
        EVP_PKEY_free(ks[i]);
    }
}
END_TEST

START_TEST(test_create_from_bad_csr)
{
    with_ca();
    json_t *out = NULL;
    ck_assert_int_eq(certificates_create_from_csr(c, "garbage", 1, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_create_from_csr(c, NULL, 1, &out, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "certificateSigningRequest"));
    char *big = malloc(5000);
    memset(big, 'A', 4999);
    big[4999] = '\0';
    ck_assert_int_eq(certificates_create_from_csr(c, big, 1, &out, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "4096"));
    free(big);
    EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char *csr = tu_csr_pem(weak, "weak");
    ck_assert_int_eq(certificates_create_from_csr(c, csr, 1, &out, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "2048"));
    free(csr);
    EVP_PKEY_free(weak);
    /* nothing was stored */
    struct certificates_list_in in = {.page_size = 10};
    ck_assert_int_eq(certificates_list(c, &in, &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "certificates")), 0);
    json_decref(out);
}
END_TEST

/* ---- the built-in CA registration ----------------------------------------------- */

START_TEST(test_register_builtin_ca)
{
    with_ca();
    const char *root = ca_root_id(c->ca);
    ck_assert_int_eq(certificates_register_builtin_ca(c, ca_root_pem(c->ca), &err), FL_OK);
    ck_assert_int_eq(certificates_register_builtin_ca(c, ca_root_pem(c->ca), &err), FL_OK);
    json_t *out = NULL;
    struct certificates_list_in in = {.page_size = 10};
    ck_assert_int_eq(certificates_ca_list(c, &in, NULL, &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "certificates")), 1);
    json_decref(out);
    /* An administrator's deactivation survives a restart. */
    set_ca_status(root, "INACTIVE");
    ck_assert_int_eq(certificates_register_builtin_ca(c, ca_root_pem(c->ca), &err), FL_OK);
    ck_assert_int_eq(certificates_ca_describe(c, root, &out, &err), FL_OK);
    ck_assert_str_eq(sget(json_object_get(out, "certificateDescription"), "status"), "INACTIVE");
    json_decref(out);
    ck_assert_int_eq(certificates_register_builtin_ca(c, "nope", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_register_builtin_ca(c, NULL, &err), FL_INVALID_REQUEST);
    /* never deleted */
    ck_assert_int_eq(certificates_ca_delete(c, root, &err), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_builtin_ca_inactive)
{
    with_ca();
    char a[65];
    mk_cert(1, a);
    ck_assert_int_eq(usable(a), 1);
    set_ca_status(ca_root_id(c->ca), "INACTIVE");
    /* the certificate keeps its status but is no longer usable */
    assert_status(a, "ACTIVE");
    ck_assert_int_eq(usable(a), 0);
    json_t *out = NULL;
    ck_assert_int_eq(certificates_create_keys(c, 1, &out, &err), FL_INVALID_REQUEST);
    char b[65];
    mk_cert(0, b);
    ck_assert_int_eq(certificates_update(c, b, "ACTIVE", &err), FL_CERTIFICATE_STATE);
    ck_assert_int_eq(certificates_update(c, b, "REVOKED", &err), FL_OK);
    set_ca_status(ca_root_id(c->ca), "ACTIVE");
    ck_assert_int_eq(usable(a), 1);
}
END_TEST

/* ---- Describe ------------------------------------------------------------------------ */

START_TEST(test_describe_errors)
{
    with_ca();
    json_t *out = NULL;
    char id[65], up[65];
    ck_assert_int_eq(certificates_describe(c, "abc", &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_describe(c, NULL, &out, &err), FL_INVALID_REQUEST);
    char zz[65];
    memset(zz, 'z', 64);
    zz[64] = '\0';
    ck_assert_int_eq(certificates_describe(c, zz, &out, &err), FL_INVALID_REQUEST);
    memset(zz, '0', 64);
    ck_assert_int_eq(certificates_describe(c, zz, &out, &err), FL_NOT_FOUND);
    mk_cert(1, id);
    for (int i = 0; i < 65; i++)
        up[i] = (char)((id[i] >= 'a' && id[i] <= 'f') ? id[i] - 32 : id[i]);
    out = describe(up);
    ck_assert_str_eq(desc_field(out, "certificateId"), id);
    json_decref(out);
}
END_TEST

/* ---- UpdateCertificate ---------------------------------------------------------------- */

START_TEST(test_update_transitions)
{
    with_ca();
    char id[65];
    mk_cert(1, id);
    json_t *d = describe(id);
    char gen[37];
    snprintf(gen, sizeof(gen), "%s", desc_field(d, "generationId"));
    json_decref(d);

    tu_advance(c, 5000);
    ck_assert_int_eq(certificates_update(c, id, "INACTIVE", &err), FL_OK);
    d = describe(id);
    json_t *cd = json_object_get(d, "certificateDescription");
    ck_assert_str_eq(sget(cd, "status"), "INACTIVE");
    ck_assert_int_eq(json_integer_value(json_object_get(cd, "customerVersion")), 2);
    ck_assert_str_ne(sget(cd, "generationId"), gen);
    ck_assert(json_number_value(json_object_get(cd, "lastModifiedDate")) == NOW_S + 5);
    ck_assert(json_number_value(json_object_get(cd, "creationDate")) == NOW_S);
    json_decref(d);

    /* idempotent: no new version */
    ck_assert_int_eq(certificates_update(c, id, "INACTIVE", &err), FL_OK);
    d = describe(id);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(d, "certificateDescription"), "customerVersion")),
        2);
    json_decref(d);

    ck_assert_int_eq(certificates_update(c, id, "ACTIVE", &err), FL_OK);
    ck_assert_int_eq(certificates_update(c, id, "REVOKED", &err), FL_OK);
    assert_status(id, "REVOKED");
    ck_assert_int_eq(usable(id), 0);
    /* REVOKED is final */
    ck_assert_int_eq(certificates_update(c, id, "ACTIVE", &err), FL_CERTIFICATE_STATE);
    ck_assert_int_eq(certificates_update(c, id, "INACTIVE", &err), FL_CERTIFICATE_STATE);
    ck_assert_int_eq(certificates_update(c, id, "REVOKED", &err), FL_OK);

    char other[65];
    mk_cert(0, other);
    ck_assert_int_eq(certificates_update(c, other, "PENDING_TRANSFER", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_update(c, other, "PENDING_ACTIVATION", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_update(c, other, "REGISTER_INACTIVE", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_update(c, other, "active", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_update(c, other, NULL, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_update(c, other, "", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_update(c, "xyz", "ACTIVE", &err), FL_INVALID_REQUEST);
    char zero[65];
    memset(zero, '0', 64);
    zero[64] = '\0';
    ck_assert_int_eq(certificates_update(c, zero, "ACTIVE", &err), FL_NOT_FOUND);
    assert_status(other, "INACTIVE");
}
END_TEST

/* ---- DeleteCertificate --------------------------------------------------------------------- */

/* Attaches a policy to target through the policy store (the policies
 * module owns that table). */
static void attach_policy(const char *policy, const char *target)
{
    struct store_policy p = {.default_version = 1, .next_version = 2, .created_at = 1, .updated_at = 1};
    snprintf(p.name, sizeof(p.name), "%s", policy);
    snprintf(p.generation_id, sizeof(p.generation_id), "g");
    int added = 0;
    ck_assert_int_eq(store_begin(c->st, &err), FL_OK);
    ck_assert_int_eq(store_policies_insert(c->st, &p, "{\"Version\":\"2012-10-17\",\"Statement\":[]}", &err),
                     FL_OK);
    ck_assert_int_eq(store_policy_targets_add(c->st, p.row_id, target, 1, &added, &err), FL_OK);
    ck_assert_int_eq(store_end(c->st, FL_OK, &err), FL_OK);
}

static int policy_targets(const char *target)
{
    int n = -1;
    ck_assert_int_eq(store_begin_read(c->st, &err), FL_OK);
    ck_assert_int_eq(store_policy_targets_count(c->st, target, &n, &err), FL_OK);
    ck_assert_int_eq(store_end(c->st, FL_OK, &err), FL_OK);
    return n;
}

START_TEST(test_delete_rules)
{
    with_ca();
    char id[65], arn[320];
    mk_cert(1, id);
    snprintf(arn, sizeof(arn), "arn:aws:iot:us-east-1:123456789012:cert/%s", id);
    ck_assert_int_eq(certificates_delete(c, id, 0, &err), FL_CERTIFICATE_STATE);
    ck_assert_int_eq(certificates_delete(c, id, 1, &err), FL_CERTIFICATE_STATE);
    ck_assert_int_eq(certificates_update(c, id, "INACTIVE", &err), FL_OK);

    /* attached to a thing: refused, forceDelete or not */
    struct things_ref tr;
    struct things_create_in ti = {.name = "dev-1"};
    ck_assert_int_eq(things_create(c, &ti, &tr, &err), FL_OK);
    ck_assert_int_eq(principals_attach(c, "dev-1", arn, NULL, &err), FL_OK);
    ck_assert_int_eq(certificates_delete(c, id, 0, &err), FL_DELETE_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "thing/dev-1"));
    ck_assert_int_eq(certificates_delete(c, id, 1, &err), FL_DELETE_CONFLICT);
    ck_assert_int_eq(principals_detach(c, "dev-1", arn, &err), FL_OK);

    /* attached to a policy: refused unless forceDelete, which detaches */
    attach_policy("p1", arn);
    ck_assert_int_eq(certificates_delete(c, id, 0, &err), FL_DELETE_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "policies"));
    ck_assert_int_eq(policy_targets(arn), 1);
    ck_assert_int_eq(certificates_delete(c, id, 1, &err), FL_OK);
    ck_assert_int_eq(policy_targets(arn), 0);
    json_t *out = NULL;
    ck_assert_int_eq(certificates_describe(c, id, &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(certificates_delete(c, id, 0, &err), FL_NOT_FOUND);
    ck_assert_int_eq(certificates_delete(c, "nothex", 0, &err), FL_INVALID_REQUEST);

    /* REVOKED certificates are deletable */
    mk_cert(1, id);
    ck_assert_int_eq(certificates_update(c, id, "REVOKED", &err), FL_OK);
    ck_assert_int_eq(certificates_delete(c, id, 0, &err), FL_OK);
}
END_TEST

/* ---- listings --------------------------------------------------------------------------------- */

/* Collects every id over all pages; returns the number of pages. */
static int all_pages(const char *ca_id, int page, int asc, char ids[][65], int max, int *n)
{
    char marker[PAGE_TOKEN_MAX] = "";
    int pages = 0;
    *n = 0;
    for (;;) {
        struct certificates_list_in in = {
            .ca_id = ca_id, .page_size = page, .marker = marker, .ascending = asc};
        json_t *out = NULL;
        ck_assert_msg(certificates_list(c, &in, &out, &err) == FL_OK, "%s", err.msg);
        json_t *arr = json_object_get(out, "certificates");
        ck_assert_int_le(json_array_size(arr), (size_t)page);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *it = json_array_get(arr, i);
            ck_assert_int_lt(*n, max);
            snprintf(ids[(*n)++], 65, "%s", sget(it, "certificateId"));
            ck_assert_ptr_nonnull(sget(it, "certificateArn"));
            ck_assert_ptr_nonnull(sget(it, "status"));
            ck_assert_str_eq(sget(it, "certificateMode"), "DEFAULT");
            ck_assert_ptr_nonnull(json_object_get(it, "creationDate"));
        }
        pages++;
        const char *next = sget(out, "nextMarker");
        if (next == NULL) {
            json_decref(out);
            return pages;
        }
        snprintf(marker, sizeof(marker), "%s", next);
        json_decref(out);
        ck_assert_int_lt(pages, 100);
    }
}

START_TEST(test_list_order_and_paging)
{
    with_ca();
    char made[7][65];
    for (int i = 0; i < 7; i++) {
        mk_cert(i % 2, made[i]);
        if (i != 3) /* two share a creation time: ties go by id */
            tu_advance(c, 1000);
    }
    char got[10][65];
    int n = 0;
    /* default: newest first */
    ck_assert_int_eq(all_pages(NULL, 250, 0, got, 10, &n), 1);
    ck_assert_int_eq(n, 7);
    ck_assert_str_eq(got[0], made[6]);
    ck_assert_str_eq(got[6], made[0]);
    char asc[10][65];
    ck_assert_int_eq(all_pages(NULL, 3, 1, asc, 10, &n), 3);
    ck_assert_int_eq(n, 7);
    for (int i = 0; i < 7; i++)
        ck_assert_str_eq(asc[i], got[6 - i]);
    ck_assert_str_eq(asc[0], made[0]);
    char desc[10][65];
    ck_assert_int_eq(all_pages(NULL, 2, 0, desc, 10, &n), 4);
    for (int i = 0; i < 7; i++)
        ck_assert_str_eq(desc[i], got[i]);
    /* an exact multiple: no empty trailing page */
    ck_assert_int_eq(all_pages(NULL, 7, 0, desc, 10, &n), 1);

    /* a row added between pages does not shift the next page */
    struct certificates_list_in in = {.page_size = 3, .ascending = 1};
    json_t *p1 = NULL, *p2 = NULL;
    ck_assert_int_eq(certificates_list(c, &in, &p1, &err), FL_OK);
    char extra[65];
    mk_cert(0, extra);
    in.marker = sget(p1, "nextMarker");
    ck_assert_int_eq(certificates_list(c, &in, &p2, &err), FL_OK);
    ck_assert_str_eq(sget(json_array_get(json_object_get(p2, "certificates"), 0), "certificateId"), asc[3]);
    json_decref(p1);
    json_decref(p2);

    /* bad parameters */
    json_t *out = NULL;
    in.marker = "not-a-marker";
    ck_assert_int_eq(certificates_list(c, &in, &out, &err), FL_INVALID_REQUEST);
    in.marker = NULL;
    in.page_size = 0;
    ck_assert_int_eq(certificates_list(c, &in, &out, &err), FL_INVALID_REQUEST);
    in.page_size = 251;
    ck_assert_int_eq(certificates_list(c, &in, &out, &err), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_list_by_ca)
{
    with_ca();
    struct tu_ca f;
    tu_ca_make(&f, "Foreign CA");
    ck_assert_int_eq(fca_register(&f, 1, NULL), FL_OK);
    char mine[2][65], theirs[3][65];
    for (int i = 0; i < 2; i++)
        mk_cert(1, mine[i]);
    char fid[65];
    der_sha256(f.pem, fid);
    for (int i = 0; i < 3; i++) {
        char *pem = tu_ca_issue(&f, "dev");
        ck_assert_msg(reg_with(pem, NULL, "ACTIVE", theirs[i]) == FL_OK, "%s", err.msg);
        free(pem);
        tu_advance(c, 10);
    }
    char got[10][65];
    int n = 0;
    all_pages(fid, 2, 1, got, 10, &n);
    ck_assert_int_eq(n, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(got[i], theirs[i]);
    all_pages(ca_root_id(c->ca), 250, 0, got, 10, &n);
    ck_assert_int_eq(n, 2);
    char zero[65];
    memset(zero, '0', 64);
    zero[64] = '\0';
    all_pages(zero, 250, 0, got, 10, &n);
    ck_assert_int_eq(n, 0);
    struct certificates_list_in in = {.ca_id = "bogus", .page_size = 5};
    json_t *out = NULL;
    ck_assert_int_eq(certificates_list(c, &in, &out, &err), FL_INVALID_REQUEST);
    tu_ca_free(&f);
}
END_TEST

/* ---- registration code ------------------------------------------------------------------------- */

START_TEST(test_registration_code)
{
    char a[65], b[65], d[65];
    ck_assert_int_eq(reg_code(a), FL_OK);
    ck_assert_int_eq(strlen(a), 64);
    ck_assert_int_eq(strspn(a, "0123456789abcdef"), 64);
    ck_assert_int_eq(reg_code(b), FL_OK);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(certificates_delete_registration_code(c, &err), FL_OK);
    ck_assert_int_eq(certificates_delete_registration_code(c, &err), FL_OK);
    ck_assert_int_eq(reg_code(d), FL_OK);
    ck_assert_str_ne(a, d);
}
END_TEST

/* A JITP provisioning template called name: registrationConfig.templateName
 * must name one. */
static void mk_jitp_template(const char *name)
{
    struct provisioning_create_in in = {
        .name = name,
        .body = "{\"Parameters\":{\"AWS::IoT::Certificate::Id\":{\"Type\":\"String\"}},\"Resources\":"
                "{\"certificate\":{\"Type\":\"AWS::IoT::Certificate\",\"Properties\":{\"CertificateId\":"
                "{\"Ref\":\"AWS::IoT::Certificate::Id\"},\"Status\":\"ACTIVE\"}}}}",
        .role_arn = "arn:aws:iam::123456789012:role/prov",
        .type = "JITP"};
    json_t *o = NULL;
    ck_assert_msg(provisioning_create(c, &in, &o, &err) == FL_OK, "%s", err.msg);
    json_decref(o);
}

/* ---- RegisterCACertificate ------------------------------------------------------------------------- */

START_TEST(test_register_ca)
{
    struct tu_ca f;
    tu_ca_make(&f, "Acme Root");
    mk_jitp_template("jitp-1");
    char code[65];
    ck_assert_int_eq(reg_code(code), FL_OK);
    char *verif = tu_ca_issue(&f, code);
    json_t *cfg =
        json_pack("{s:s, s:s}", "templateName", "jitp-1", "roleArn", "arn:aws:iam::123456789012:role/prov");
    json_t *tags = json_pack("[{s:s, s:s}]", "Key", "env", "Value", "test");
    struct certificates_ca_register_in in = {.ca_pem = f.pem,
                                             .verification_pem = verif,
                                             .set_active = 1,
                                             .allow_auto_registration = 1,
                                             .registration_config = cfg,
                                             .tags = tags};
    struct certificates_ref ref;
    ck_assert_msg(certificates_ca_register(c, &in, &ref, &err) == FL_OK, "%s", err.msg);
    char want[65], arn[320];
    der_sha256(f.pem, want);
    ck_assert_str_eq(ref.id, want);
    snprintf(arn, sizeof(arn), "arn:aws:iot:us-east-1:123456789012:cacert/%s", want);
    ck_assert_str_eq(ref.arn, arn);

    json_t *out = NULL;
    ck_assert_int_eq(certificates_ca_describe(c, want, &out, &err), FL_OK);
    json_t *cd = json_object_get(out, "certificateDescription");
    ck_assert_str_eq(sget(cd, "certificateArn"), arn);
    ck_assert_str_eq(sget(cd, "status"), "ACTIVE");
    ck_assert_str_eq(sget(cd, "autoRegistrationStatus"), "ENABLE");
    ck_assert_str_eq(sget(cd, "certificateMode"), "DEFAULT");
    ck_assert_str_eq(sget(cd, "certificatePem"), f.pem);
    ck_assert_str_eq(sget(cd, "ownedBy"), "123456789012");
    ck_assert_int_eq(json_integer_value(json_object_get(cd, "customerVersion")), 1);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(cd, "validity"), "notAfter"));
    ck_assert(json_equal(json_object_get(out, "registrationConfig"), cfg));
    json_decref(out);

    /* duplicate */
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_ALREADY_EXISTS);
    ck_assert_str_eq(err.resource_id, want);
    ck_assert_str_eq(err.resource_arn, arn);

    json_decref(cfg);
    json_decref(tags);
    free(verif);
    tu_ca_free(&f);
}
END_TEST

START_TEST(test_register_ca_errors)
{
    struct tu_ca f, g;
    tu_ca_make(&f, "Acme Root");
    tu_ca_make(&g, "Other Root");
    char code[65];
    struct certificates_ref ref;

    /* no registration code yet */
    ck_assert_int_eq(fca_register(&f, 1, &ref) == FL_OK, 1); /* fca_register fetches one */
    ck_assert_int_eq(certificates_delete_registration_code(c, &err), FL_OK);
    char *v_nocode = tu_ca_issue(&g, "0000000000000000000000000000000000000000000000000000000000000000");
    struct certificates_ca_register_in in = {.ca_pem = g.pem, .verification_pem = v_nocode};
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_REG_CODE_VALIDATION);
    free(v_nocode);

    ck_assert_int_eq(reg_code(code), FL_OK);
    /* wrong CN */
    char *v_wrong = tu_ca_issue(&g, "not-the-code");
    in.verification_pem = v_wrong;
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_REG_CODE_VALIDATION);
    /* verification not signed by the CA */
    char *v_other = tu_ca_issue(&f, code);
    in.verification_pem = v_other;
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_CERTIFICATE_VALIDATION);
    /* missing verification in DEFAULT mode; given in SNI_ONLY mode */
    in.verification_pem = NULL;
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_INVALID_REQUEST);
    in.mode = "SNI_ONLY";
    in.verification_pem = v_wrong;
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_INVALID_REQUEST);
    in.mode = "BOGUS";
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_INVALID_REQUEST);
    in.mode = NULL;
    /* not a CA, garbage, expired */
    char *leaf = tu_ca_issue(&g, "leaf");
    char *v_leaf = tu_ca_issue(&g, code);
    in.ca_pem = leaf;
    in.verification_pem = v_leaf;
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_CERTIFICATE_VALIDATION);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a CA"));
    in.ca_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_CERTIFICATE_VALIDATION);
    EVP_PKEY *k = tu_ec_key();
    char *old = tu_cert_pem("Old Root", k, "Old Root", k, 1, -800 * 86400L, 365);
    in.ca_pem = old;
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_CERTIFICATE_VALIDATION);
    ck_assert_ptr_nonnull(strstr(err.msg, "expired"));
    in.ca_pem = NULL;
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_INVALID_REQUEST);
    /* bad registrationConfig */
    char *v_ok = tu_ca_issue(&g, code);
    in.ca_pem = g.pem;
    in.verification_pem = v_ok;
    in.registration_config = json_pack("{s:s}", "templateName", "bad name!");
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_INVALID_REQUEST);
    json_decref(in.registration_config);
    in.registration_config = json_pack("{s:i}", "templateBody", 3);
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_INVALID_REQUEST);
    json_decref(in.registration_config);
    in.registration_config = NULL;
    /* bad tags roll the registration back */
    in.tags = json_pack("[{s:s}]", "Key", "aws:reserved");
    ck_assert_int_eq(certificates_ca_register(c, &in, &ref, &err), FL_INVALID_REQUEST);
    json_decref(in.tags);
    in.tags = NULL;
    char gid[65];
    der_sha256(g.pem, gid);
    json_t *out = NULL;
    ck_assert_int_eq(certificates_ca_describe(c, gid, &out, &err), FL_NOT_FOUND);
    /* and finally it works, INACTIVE by default */
    ck_assert_msg(certificates_ca_register(c, &in, &ref, &err) == FL_OK, "%s", err.msg);
    ck_assert_int_eq(certificates_ca_describe(c, gid, &out, &err), FL_OK);
    ck_assert_str_eq(sget(json_object_get(out, "certificateDescription"), "status"), "INACTIVE");
    ck_assert_str_eq(sget(json_object_get(out, "certificateDescription"), "autoRegistrationStatus"),
                     "DISABLE");
    ck_assert_ptr_null(json_object_get(out, "registrationConfig"));
    json_decref(out);

    free(v_wrong);
    free(v_other);
    free(leaf);
    free(v_leaf);
    free(old);
    free(v_ok);
    EVP_PKEY_free(k);
    tu_ca_free(&f);
    tu_ca_free(&g);
}
END_TEST

START_TEST(test_register_ca_sni_only_and_limit)
{
    struct tu_ca f;
    tu_ca_make(&f, "SNI Root");
    struct certificates_ca_register_in in = {.ca_pem = f.pem, .mode = "SNI_ONLY", .set_active = 1};
    struct certificates_ref ref;
    ck_assert_msg(certificates_ca_register(c, &in, &ref, &err) == FL_OK, "%s", err.msg);
    json_t *out = NULL;
    ck_assert_int_eq(certificates_ca_describe(c, ref.id, &out, &err), FL_OK);
    ck_assert_str_eq(sget(json_object_get(out, "certificateDescription"), "certificateMode"), "SNI_ONLY");
    json_decref(out);
    /* its certificates are SNI_ONLY too */
    char *dev = tu_ca_issue(&f, "dev");
    char id[65];
    ck_assert_int_eq(reg_with(dev, f.pem, "ACTIVE", id), FL_OK);
    out = describe(id);
    ck_assert_str_eq(desc_field(out, "certificateMode"), "SNI_ONLY");
    ck_assert_str_eq(desc_field(out, "caCertificateId"), ref.id);
    json_decref(out);
    free(dev);
    tu_ca_free(&f);

    /* ten CAs with one subject, then LimitExceeded */
    for (int i = 0; i < 11; i++) {
        tu_ca_make(&f, "Same Subject");
        in.ca_pem = f.pem;
        enum fl_code rc = certificates_ca_register(c, &in, &ref, &err);
        ck_assert_msg(rc == (i < 10 ? FL_OK : FL_LIMIT_EXCEEDED), "CA %d: %d %s", i, rc, err.msg);
        tu_ca_free(&f);
    }
}
END_TEST

/* ---- RegisterCertificate ------------------------------------------------------------------------------- */

START_TEST(test_register_certificate)
{
    struct tu_ca f;
    tu_ca_make(&f, "Device CA");
    struct certificates_ref caref;
    ck_assert_int_eq(fca_register(&f, 1, &caref), FL_OK);
    const char *statuses[] = {"ACTIVE", "INACTIVE", "REVOKED", NULL};
    for (int i = 0; i < 4; i++) {
        char *pem = tu_ca_issue(&f, "dev");
        char id[65], want[65];
        /* with and without caCertificatePem */
        ck_assert_msg(reg_with(pem, i % 2 ? f.pem : NULL, statuses[i], id) == FL_OK, "%s", err.msg);
        der_sha256(pem, want);
        ck_assert_str_eq(id, want);
        json_t *d = describe(id);
        ck_assert_str_eq(desc_field(d, "status"), statuses[i] ? statuses[i] : "INACTIVE");
        ck_assert_str_eq(desc_field(d, "caCertificateId"), caref.id);
        ck_assert_str_eq(desc_field(d, "certificatePem"), pem);
        json_decref(d);
        /* duplicate */
        ck_assert_int_eq(reg_with(pem, NULL, NULL, NULL), FL_ALREADY_EXISTS);
        ck_assert_str_eq(err.resource_id, want);
        free(pem);
    }
    /* setAsActive (deprecated) */
    char *pem = tu_ca_issue(&f, "dev");
    struct certificates_register_in in = {.pem = pem, .set_as_active = 1};
    struct certificates_ref ref;
    ck_assert_int_eq(certificates_register(c, &in, &ref, &err), FL_OK);
    assert_status(ref.id, "ACTIVE");
    free(pem);
    pem = tu_ca_issue(&f, "dev");
    in.pem = pem;
    in.status = "INACTIVE";
    ck_assert_int_eq(certificates_register(c, &in, &ref, &err), FL_INVALID_REQUEST);
    in.status = "PENDING_ACTIVATION";
    in.set_as_active = -1;
    ck_assert_int_eq(certificates_register(c, &in, &ref, &err), FL_INVALID_REQUEST);
    in.status = "bogus";
    ck_assert_int_eq(certificates_register(c, &in, &ref, &err), FL_INVALID_REQUEST);
    free(pem);
    tu_ca_free(&f);
}
END_TEST

START_TEST(test_register_certificate_errors)
{
    struct tu_ca f, g;
    tu_ca_make(&f, "Known CA");
    tu_ca_make(&g, "Unknown CA");
    ck_assert_int_eq(fca_register(&f, 1, NULL), FL_OK);
    char *dev_g = tu_ca_issue(&g, "dev");
    char *dev_f = tu_ca_issue(&f, "dev");
    /* CA not registered */
    ck_assert_int_eq(reg_with(dev_g, NULL, "ACTIVE", NULL), FL_CERTIFICATE_VALIDATION);
    ck_assert_int_eq(reg_with(dev_g, g.pem, "ACTIVE", NULL), FL_CERTIFICATE_VALIDATION);
    ck_assert_ptr_nonnull(strstr(err.msg, "not registered"));
    /* not signed by the given CA */
    ck_assert_int_eq(reg_with(dev_g, f.pem, "ACTIVE", NULL), FL_CERTIFICATE_VALIDATION);
    /* garbage, empty, expired */
    ck_assert_int_eq(reg_with("junk", NULL, NULL, NULL), FL_CERTIFICATE_VALIDATION);
    ck_assert_int_eq(reg_with(NULL, NULL, NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(reg_with(dev_f, "junk", NULL, NULL), FL_CERTIFICATE_VALIDATION);
    EVP_PKEY *k = tu_ec_key();
    char *expired = tu_cert_pem("old", k, f.subject, f.key, 0, -400 * 86400L, 30);
    ck_assert_int_eq(reg_with(expired, NULL, NULL, NULL), FL_CERTIFICATE_VALIDATION);
    ck_assert_ptr_nonnull(strstr(err.msg, "expired"));

    /* a CA that is INACTIVE takes certificates, but not ACTIVE ones */
    char fid[65], id[65];
    der_sha256(f.pem, fid);
    set_ca_status(fid, "INACTIVE");
    ck_assert_int_eq(reg_with(dev_f, NULL, "ACTIVE", NULL), FL_CERTIFICATE_STATE);
    ck_assert_int_eq(reg_with(dev_f, NULL, "INACTIVE", id), FL_OK);
    ck_assert_int_eq(certificates_update(c, id, "ACTIVE", &err), FL_CERTIFICATE_STATE);
    set_ca_status(fid, "ACTIVE");
    ck_assert_int_eq(certificates_update(c, id, "ACTIVE", &err), FL_OK);
    ck_assert_int_eq(usable(id), 1);
    set_ca_status(fid, "INACTIVE");
    ck_assert_int_eq(usable(id), 0);
    assert_status(id, "ACTIVE");

    free(expired);
    EVP_PKEY_free(k);
    free(dev_g);
    free(dev_f);
    tu_ca_free(&f);
    tu_ca_free(&g);
}
END_TEST

START_TEST(test_register_certificate_conflict)
{
    /* Two CA certificates, same subject, same key: both verify the device
     * certificate, so without caCertificatePem it is ambiguous. */
    struct tu_ca f;
    tu_ca_make(&f, "Twin CA");
    char *twin = tu_cert_pem(f.subject, f.key, f.subject, f.key, 1, -3600, 3650);
    ck_assert_int_eq(fca_register(&f, 1, NULL), FL_OK);
    char code[65];
    ck_assert_int_eq(reg_code(code), FL_OK);
    char *verif = tu_ca_issue(&f, code);
    struct certificates_ca_register_in in = {.ca_pem = twin, .verification_pem = verif, .set_active = 1};
    struct certificates_ref ref;
    ck_assert_msg(certificates_ca_register(c, &in, &ref, &err) == FL_OK, "%s", err.msg);
    char *dev = tu_ca_issue(&f, "dev");
    char id[65];
    ck_assert_int_eq(reg_with(dev, NULL, "ACTIVE", NULL), FL_CERTIFICATE_CONFLICT);
    ck_assert_int_eq(reg_with(dev, twin, "ACTIVE", id), FL_OK);
    json_t *d = describe(id);
    ck_assert_str_eq(desc_field(d, "caCertificateId"), ref.id);
    json_decref(d);
    free(dev);
    free(verif);
    free(twin);
    tu_ca_free(&f);
}
END_TEST

START_TEST(test_register_without_ca)
{
    struct tu_ca g;
    tu_ca_make(&g, "Nobody");
    char *dev = tu_ca_issue(&g, "dev");
    struct certificates_ref ref;
    ck_assert_int_eq(certificates_register_without_ca(c, dev, "ACTIVE", &ref, &err), FL_OK);
    json_t *d = describe(ref.id);
    ck_assert_str_eq(desc_field(d, "certificateMode"), "SNI_ONLY");
    ck_assert_ptr_null(json_object_get(json_object_get(d, "certificateDescription"), "caCertificateId"));
    json_decref(d);
    ck_assert_int_eq(usable(ref.id), 1);
    ck_assert_int_eq(certificates_register_without_ca(c, dev, NULL, &ref, &err), FL_ALREADY_EXISTS);
    ck_assert_int_eq(certificates_register_without_ca(c, "junk", NULL, &ref, &err),
                     FL_CERTIFICATE_VALIDATION);
    ck_assert_int_eq(certificates_register_without_ca(c, NULL, NULL, &ref, &err), FL_INVALID_REQUEST);
    char *dev2 = tu_ca_issue(&g, "dev2");
    ck_assert_int_eq(certificates_register_without_ca(c, dev2, "SOMETHING", &ref, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_register_without_ca(c, dev2, NULL, &ref, &err), FL_OK);
    assert_status(ref.id, "INACTIVE");
    ck_assert_int_eq(usable(ref.id), 0);
    char zero[65];
    memset(zero, '0', 64);
    zero[64] = '\0';
    int u = 7;
    ck_assert_int_eq(certificates_is_usable(c, zero, &u, &err), FL_NOT_FOUND);
    ck_assert_int_eq(u, 0);
    ck_assert_int_eq(certificates_is_usable(c, "x", &u, &err), FL_INVALID_REQUEST);
    free(dev);
    free(dev2);
    tu_ca_free(&g);
}
END_TEST

/* ---- UpdateCACertificate / DeleteCACertificate / ListCACertificates ------------------------ */

START_TEST(test_update_ca)
{
    struct tu_ca f;
    tu_ca_make(&f, "Upd CA");
    struct certificates_ref ref;
    ck_assert_int_eq(fca_register(&f, 0, &ref), FL_OK);
    mk_jitp_template("tmpl");
    tu_advance(c, 2000);
    json_t *cfg = json_pack("{s:s}", "templateName", "tmpl");
    struct certificates_ca_update_in in = {
        .id = ref.id, .new_status = "ACTIVE", .new_auto_status = "ENABLE", .registration_config = cfg};
    ck_assert_int_eq(certificates_ca_update(c, &in, &err), FL_OK);
    json_t *out = NULL;
    ck_assert_int_eq(certificates_ca_describe(c, ref.id, &out, &err), FL_OK);
    json_t *cd = json_object_get(out, "certificateDescription");
    ck_assert_str_eq(sget(cd, "status"), "ACTIVE");
    ck_assert_str_eq(sget(cd, "autoRegistrationStatus"), "ENABLE");
    ck_assert_int_eq(json_integer_value(json_object_get(cd, "customerVersion")), 2);
    ck_assert(json_number_value(json_object_get(cd, "lastModifiedDate")) == NOW_S + 2);
    ck_assert(json_equal(json_object_get(out, "registrationConfig"), cfg));
    json_decref(out);

    /* the template filter of ListCACertificates */
    struct certificates_list_in li = {.page_size = 10};
    ck_assert_int_eq(certificates_ca_list(c, &li, "tmpl", &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "certificates")), 1);
    json_decref(out);
    ck_assert_int_eq(certificates_ca_list(c, &li, "other", &out, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "certificates")), 0);
    json_decref(out);

    /* nothing to change: no new version */
    struct certificates_ca_update_in same = {.id = ref.id, .new_status = "ACTIVE"};
    ck_assert_int_eq(certificates_ca_update(c, &same, &err), FL_OK);
    /* removeAutoRegistration */
    struct certificates_ca_update_in rm = {.id = ref.id, .remove_auto_registration = 1};
    ck_assert_int_eq(certificates_ca_update(c, &rm, &err), FL_OK);
    ck_assert_int_eq(certificates_ca_describe(c, ref.id, &out, &err), FL_OK);
    cd = json_object_get(out, "certificateDescription");
    ck_assert_str_eq(sget(cd, "autoRegistrationStatus"), "DISABLE");
    ck_assert_int_eq(json_integer_value(json_object_get(cd, "customerVersion")), 3);
    ck_assert_ptr_null(json_object_get(out, "registrationConfig"));
    json_decref(out);

    /* errors */
    struct certificates_ca_update_in bad = {.id = ref.id, .new_status = "REVOKED"};
    ck_assert_int_eq(certificates_ca_update(c, &bad, &err), FL_INVALID_REQUEST);
    bad.new_status = NULL;
    bad.new_auto_status = "MAYBE";
    ck_assert_int_eq(certificates_ca_update(c, &bad, &err), FL_INVALID_REQUEST);
    bad.new_auto_status = NULL;
    bad.remove_auto_registration = 1;
    bad.registration_config = cfg;
    ck_assert_int_eq(certificates_ca_update(c, &bad, &err), FL_INVALID_REQUEST);
    bad.registration_config = NULL;
    bad.new_auto_status = "ENABLE";
    ck_assert_int_eq(certificates_ca_update(c, &bad, &err), FL_INVALID_REQUEST);
    char zero[65];
    memset(zero, '0', 64);
    zero[64] = '\0';
    struct certificates_ca_update_in missing = {.id = zero, .new_status = "ACTIVE"};
    ck_assert_int_eq(certificates_ca_update(c, &missing, &err), FL_NOT_FOUND);
    missing.id = "short";
    ck_assert_int_eq(certificates_ca_update(c, &missing, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_ca_describe(c, zero, &out, &err), FL_NOT_FOUND);
    json_decref(cfg);
    tu_ca_free(&f);
}
END_TEST

START_TEST(test_delete_ca)
{
    struct tu_ca f;
    tu_ca_make(&f, "Del CA");
    struct certificates_ref ref;
    ck_assert_int_eq(fca_register(&f, 1, &ref), FL_OK);
    char *dev = tu_ca_issue(&f, "dev");
    char id[65];
    ck_assert_int_eq(reg_with(dev, NULL, "INACTIVE", id), FL_OK);
    ck_assert_int_eq(certificates_ca_delete(c, ref.id, &err), FL_CERTIFICATE_STATE);
    set_ca_status(ref.id, "INACTIVE");
    ck_assert_int_eq(certificates_ca_delete(c, ref.id, &err), FL_CERTIFICATE_STATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "registered certificates"));
    ck_assert_int_eq(certificates_delete(c, id, 0, &err), FL_OK);
    ck_assert_int_eq(certificates_ca_delete(c, ref.id, &err), FL_OK);
    json_t *out = NULL;
    ck_assert_int_eq(certificates_ca_describe(c, ref.id, &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(certificates_ca_delete(c, ref.id, &err), FL_NOT_FOUND);
    ck_assert_int_eq(certificates_ca_delete(c, "00", &err), FL_INVALID_REQUEST);
    /* and it can be registered again */
    ck_assert_int_eq(fca_register(&f, 1, &ref), FL_OK);
    free(dev);
    tu_ca_free(&f);
}
END_TEST

START_TEST(test_list_ca)
{
    char ids[5][65];
    for (int i = 0; i < 5; i++) {
        struct tu_ca f;
        char cn[32];
        snprintf(cn, sizeof(cn), "CA %d", i);
        tu_ca_make(&f, cn);
        struct certificates_ref ref;
        ck_assert_int_eq(fca_register(&f, i % 2, &ref), FL_OK);
        snprintf(ids[i], 65, "%s", ref.id);
        tu_ca_free(&f);
        tu_advance(c, 1000);
    }
    for (int asc = 0; asc < 2; asc++) {
        struct certificates_list_in in = {.page_size = 2, .ascending = asc};
        char marker[PAGE_TOKEN_MAX] = "";
        int n = 0, pages = 0;
        for (;;) {
            json_t *out = NULL;
            in.marker = marker;
            ck_assert_int_eq(certificates_ca_list(c, &in, NULL, &out, &err), FL_OK);
            json_t *arr = json_object_get(out, "certificates");
            for (size_t i = 0; i < json_array_size(arr); i++) {
                json_t *it = json_array_get(arr, i);
                ck_assert_str_eq(sget(it, "certificateId"), ids[asc ? n : 4 - n]);
                ck_assert_ptr_nonnull(strstr(sget(it, "certificateArn"), ":cacert/"));
                ck_assert_str_eq(sget(it, "status"), (asc ? n : 4 - n) % 2 ? "ACTIVE" : "INACTIVE");
                ck_assert_ptr_null(json_object_get(it, "certificateMode"));
                n++;
            }
            pages++;
            const char *next = sget(out, "nextMarker");
            if (!next) {
                json_decref(out);
                break;
            }
            snprintf(marker, sizeof(marker), "%s", next);
            json_decref(out);
        }
        ck_assert_int_eq(n, 5);
        ck_assert_int_eq(pages, 3);
    }
}
END_TEST

START_TEST(test_arn_parsing)
{
    char id[65];
    char arn[320];
    snprintf(arn, sizeof(arn), "arn:aws:iot:us-east-1:123456789012:cert/%064d", 7);
    ck_assert_int_eq(certificates_id_from_arn(c, arn, id, &err), FL_OK);
    ck_assert_int_eq(strlen(id), 64);
    ck_assert_int_eq(certificates_id_from_arn(c, "arn:aws:iot:eu-west-1:123456789012:cert/00", id, &err),
                     FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_id_from_arn(c, "arn:aws:iot:us-east-1:123456789012:thing/x", id, &err),
                     FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_id_from_arn(c, NULL, id, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(certificates_check_id(
                         "x", "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789", id, &err),
                     FL_OK);
    ck_assert_str_eq(id, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
}
END_TEST

Suite *certificates_suite(void)
{
    Suite *s = suite_create("certificates");
    TCase *tc = tcase_create("device");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_create_keys);
    tcase_add_test(tc, test_create_without_ca);
    tcase_add_test(tc, test_create_from_csr);
    tcase_add_test(tc, test_create_from_bad_csr);
    tcase_add_test(tc, test_register_builtin_ca);
    tcase_add_test(tc, test_builtin_ca_inactive);
    tcase_add_test(tc, test_describe_errors);
    tcase_add_test(tc, test_update_transitions);
    tcase_add_test(tc, test_delete_rules);
    tcase_add_test(tc, test_list_order_and_paging);
    tcase_add_test(tc, test_list_by_ca);
    tcase_add_test(tc, test_arn_parsing);
    suite_add_tcase(s, tc);

    tc = tcase_create("register");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_register_certificate);
    tcase_add_test(tc, test_register_certificate_errors);
    tcase_add_test(tc, test_register_certificate_conflict);
    tcase_add_test(tc, test_register_without_ca);
    suite_add_tcase(s, tc);

    tc = tcase_create("ca");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_registration_code);
    tcase_add_test(tc, test_register_ca);
    tcase_add_test(tc, test_register_ca_errors);
    tcase_add_test(tc, test_register_ca_sni_only_and_limit);
    tcase_add_test(tc, test_update_ca);
    tcase_add_test(tc, test_delete_ca);
    tcase_add_test(tc, test_list_ca);
    suite_add_tcase(s, tc);
    return s;
}
