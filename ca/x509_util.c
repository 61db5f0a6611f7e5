/*
 * x509_util.c - X.509 parsing and checks that need no CA key: strict PEM
 * reading (one block, no headers, no trailing bytes), certificate ids
 * (SHA-256 of the DER), names as RFC 2253 / UTF-8 attribute values, and
 * "was this certificate issued by that CA". Knows nothing of the CA key,
 * HTTP, MQTT or SQL.
 */
#include "ca_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* ---- small helpers ------------------------------------------------------ */

enum fl_code x509_ossl_fail(struct fl_err *err, enum fl_code code, const char *msg)
{
    unsigned long e = ERR_peek_last_error();
    char reason[256] = "";
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    if (reason[0])
        return fl_err_set(err, code, "%s: %s", msg, reason);
    return fl_err_set(err, code, "%s", msg);
}

char *x509_bio_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n < 0 || (n > 0 && data == NULL))
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

char *x509_to_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (b && PEM_write_bio_X509(b, x) == 1)
        s = x509_bio_string(b);
    BIO_free(b);
    return s;
}

char *x509_spki_pem(X509 *x)
{
    unsigned char *der = NULL;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    BIO *b = len > 0 ? BIO_new(BIO_s_mem()) : NULL;
    char *s = NULL;
    if (b && PEM_write_bio(b, "PUBLIC KEY", "", der, len) > 0)
        s = x509_bio_string(b);
    BIO_free(b);
    OPENSSL_free(der);
    return s;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void x509_der_id(const unsigned char *der, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        ERR_clear_error();
        out[0] = '\0';
        return;
    }
    hex(md, 32, out);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
 * days_from_civil), so no timegm()/TZ dependency. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int64_t x509_time_s(const ASN1_TIME *t, int *ok)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        ERR_clear_error();
        *ok = 0;
        return 0;
    }
    *ok = 1;
    int64_t days = days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
    return days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

const char *x509_key_unusable(const EVP_PKEY *pkey)
{
    const char *why = NULL;
    if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS")) {
        /* e = 1 makes s = m a signature of anything; an even n is no
         * product of two large primes */
        BIGNUM *n = NULL, *e = NULL;
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
            EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
            why = "its RSA parameters cannot be read";
        else if (BN_is_negative(e) || !BN_is_odd(e) || BN_is_one(e))
            why = "its RSA public exponent is 1 or even";
        else if (BN_is_negative(n) || !BN_is_odd(n))
            why = "its RSA modulus is even";
        BN_free(n);
        BN_free(e);
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)pkey, NULL);
        if (ctx == NULL || EVP_PKEY_public_check_quick(ctx) != 1)
            why = "its EC point is not a valid public key of its curve";
        EVP_PKEY_CTX_free(ctx);
    }
    ERR_clear_error();
    return why;
}

void x509_key_desc(const EVP_PKEY *pkey, char *out, size_t n)
{
    char group[64] = "";
    size_t glen = 0;
    if (pkey == NULL) {
        snprintf(out, n, "unknown");
    } else if (EVP_PKEY_is_a(pkey, "RSA")) {
        snprintf(out, n, "RSA %d", EVP_PKEY_get_bits(pkey));
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1)
            snprintf(group, sizeof(group), "explicit parameters");
        int nid = OBJ_txt2nid(group);
        const char *nist = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
        snprintf(out, n, "EC %s", nist ? nist : group);
    } else {
        const char *name = EVP_PKEY_get0_type_name(pkey);
        snprintf(out, n, "%s", name ? name : "unknown");
    }
    ERR_clear_error();
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* ---- PEM reading -------------------------------------------------------- */

static int all_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)p[i]))
            return 0;
    return 1;
}

enum fl_code x509_pem_decode(const char *text, const char *const *labels, const char *what,
                             unsigned char **der, long *derlen, struct fl_err *err)
{
    *der = NULL;
    *derlen = 0;
    if (text == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "The %s is not valid PEM: it is empty", what);
    size_t n = strnlen(text, X509_PEM_MAX + 1);
    if (n > X509_PEM_MAX)
        return fl_err_set(err, FL_INVALID_REQUEST, "The %s is not valid PEM: larger than %d bytes", what,
                          X509_PEM_MAX);
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (strncmp(p, "-----BEGIN ", 11) != 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "The %s is not valid PEM: it must start with -----BEGIN",
                          what);
    BIO *b = BIO_new_mem_buf(p, (int)(n - (size_t)(p - text)));
    if (b == NULL)
        return x509_ossl_fail(err, FL_INTERNAL, "CA: out of memory");
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    enum fl_code rc = FL_OK;
    if (PEM_read_bio(b, &name, &header, &data, &len) != 1) {
        ERR_clear_error();
        rc = fl_err_set(err, FL_INVALID_REQUEST, "The %s is not valid PEM", what);
        goto out;
    }
    int label_ok = 0;
    for (int i = 0; labels[i]; i++)
        label_ok |= strcmp(name, labels[i]) == 0;
    if (!label_ok) {
        rc = fl_err_set(err, FL_INVALID_REQUEST,
                        "The %s is not valid PEM: expected -----BEGIN %s-----, got %.40s", what, labels[0],
                        name);
        goto out;
    }
    if (header[0] != '\0') {
        rc = fl_err_set(err, FL_INVALID_REQUEST,
                        "The %s is not valid PEM: PEM headers (encryption) not allowed", what);
        goto out;
    }
    if (len <= 0) {
        rc = fl_err_set(err, FL_INVALID_REQUEST, "The %s is not valid PEM: it has no content", what);
        goto out;
    }
    char *rest = NULL;
    long restlen = BIO_get_mem_data(b, &rest);
    if (restlen > 0 && !all_space(rest, (size_t)restlen)) {
        rc = fl_err_set(err, FL_INVALID_REQUEST,
                        "The %s PEM must contain exactly one %s and nothing after it", what, what);
        goto out;
    }
    *der = data;
    *derlen = len;
    data = NULL;
out:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(b);
    return rc;
}

X509 *x509_load_pem(const char *pem, const char *what, unsigned char **der_out, long *derlen_out,
                    struct fl_err *err)
{
    static const char *const labels[] = {"CERTIFICATE", "X509 CERTIFICATE", NULL};
    unsigned char *der = NULL;
    long len = 0;
    if (x509_pem_decode(pem, labels, what, &der, &len, err))
        return NULL;
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, len);
    if (x == NULL || q != der + len) {
        ERR_clear_error();
        X509_free(x);
        OPENSSL_free(der);
        fl_err_set(err, FL_INVALID_REQUEST,
                   "The %s is not valid PEM: the content is not one X.509 certificate", what);
        return NULL;
    }
    if (der_out) {
        *der_out = der;
        *derlen_out = len;
    } else {
        OPENSSL_free(der);
    }
    return x;
}

/* ---- names -------------------------------------------------------------- */

/* RFC 2253 text of nm into out: UTF-8 when every value is valid UTF-8, the
 * escaped-ASCII form otherwise (so that JSON encoders never choke). */
static enum fl_code name_text(const X509_NAME *nm, char *out, size_t n, const char *what, struct fl_err *err)
{
    static const unsigned long flags[] = {XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB, XN_FLAG_RFC2253};
    for (int i = 0; i < 2; i++) {
        BIO *b = BIO_new(BIO_s_mem());
        if (b == NULL)
            return x509_ossl_fail(err, FL_INTERNAL, "CA: out of memory");
        char *data = NULL;
        if (X509_NAME_print_ex(b, nm, 0, flags[i]) < 0) {
            BIO_free(b);
            return x509_ossl_fail(err, FL_INVALID_REQUEST, "The certificate name cannot be printed");
        }
        long len = BIO_get_mem_data(b, &data);
        if (len < 0 || (i == 0 && !utf8_valid((const unsigned char *)data, (size_t)len))) {
            BIO_free(b);
            continue;
        }
        if ((size_t)len >= n || memchr(data, '\0', (size_t)len) != NULL) {
            BIO_free(b);
            return fl_err_set(err, FL_INVALID_REQUEST, "The certificate %s is too long (over %zu characters)",
                              what, n - 1);
        }
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
        BIO_free(b);
        return FL_OK;
    }
    return fl_err_set(err, FL_INVALID_REQUEST, "The certificate %s cannot be printed", what);
}

/* AWS policy-variable attribute names -> OpenSSL short names. */
static const struct {
    const char *aws, *ossl;
} aws_names[] = {
    {"CommonName", "CN"},
    {"Country", "C"},
    {"Organization", "O"},
    {"OrganizationalUnit", "OU"},
    {"DistinguishedNameQualifier", "dnQualifier"},
    {"State", "ST"},
    {"StateName", "ST"},
    {"Locality", "L"},
    {"SerialNumber", "serialNumber"},
    {"Title", "title"},
    {"Surname", "SN"},
    {"GivenName", "GN"},
    {"Initials", "initials"},
    {"Pseudonym", "pseudonym"},
    {"GenerationQualifier", "generationQualifier"},
};

static int field_nid(const char *field)
{
    if (field == NULL || *field == '\0' || strlen(field) > 64)
        return NID_undef;
    for (size_t i = 0; i < sizeof(aws_names) / sizeof(aws_names[0]); i++)
        if (strcmp(field, aws_names[i].aws) == 0)
            return OBJ_sn2nid(aws_names[i].ossl);
    int nid = OBJ_txt2nid(field);
    ERR_clear_error();
    return nid;
}

enum fl_code x509_name_field_at(const char *pem, int issuer, const char *field, int index, char *out,
                                size_t outlen, struct fl_err *err)
{
    if (out == NULL || outlen == 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "x509_name_field: no output buffer");
    out[0] = '\0';
    int nid = field_nid(field);
    if (nid == NID_undef)
        return fl_err_set(err, FL_INVALID_REQUEST, "Unknown certificate name attribute '%.64s'",
                          field ? field : "");
    X509 *x = x509_load_pem(pem, "certificate", NULL, NULL, err);
    if (x == NULL)
        return err ? err->code : FL_INVALID_REQUEST;
    const X509_NAME *nm = issuer ? X509_get_issuer_name(x) : X509_get_subject_name(x);
    int pos = -1;
    for (int i = 0; i <= index && index >= 0; i++) {
        pos = X509_NAME_get_index_by_NID(nm, nid, pos);
        if (pos < 0)
            break;
    }
    enum fl_code rc = FL_OK;
    if (index >= 0 && pos >= 0) {
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, pos));
        unsigned char *utf = NULL;
        int len = ASN1_STRING_to_UTF8(&utf, v);
        if (len < 0)
            rc = x509_ossl_fail(err, FL_INVALID_REQUEST,
                                "The certificate name attribute cannot be read as text");
        else if (memchr(utf, '\0', (size_t)len) != NULL)
            rc = fl_err_set(err, FL_INVALID_REQUEST,
                            "The certificate name attribute %.64s contains a NUL byte", field);
        else if (!utf8_valid(utf, (size_t)len))
            rc = fl_err_set(err, FL_INVALID_REQUEST,
                            "The certificate name attribute %.64s is not valid UTF-8", field);
        else if ((size_t)len >= outlen)
            rc = fl_err_set(err, FL_INVALID_REQUEST, "The certificate name attribute %.64s is too long",
                            field);
        else {
            memcpy(out, utf, (size_t)len);
            out[len] = '\0';
        }
        OPENSSL_free(utf);
    }
    X509_free(x);
    return rc;
}

enum fl_code x509_name_field(const char *pem, int issuer, const char *field, char *out, size_t outlen,
                             struct fl_err *err)
{
    return x509_name_field_at(pem, issuer, field, 0, out, outlen, err);
}

/* ---- certificates ------------------------------------------------------- */

enum fl_code x509_info_of(X509 *x, const unsigned char *der, long len, const EVP_PKEY *pk,
                          struct x509_info *out, struct fl_err *err)
{
    enum fl_code rc = FL_OK;
    unsigned char *own = NULL;
    BIGNUM *bn = NULL;
    char *sh = NULL, *kp = NULL;
    int ok1 = 0, ok2 = 0;

    memset(out, 0, sizeof(*out));
    if (der == NULL) {
        int n = i2d_X509(x, &own);
        if (n <= 0) {
            rc = x509_ossl_fail(err, FL_INTERNAL, "The certificate cannot be encoded");
            goto out;
        }
        der = own;
        len = n;
    }
    if (X509_get_extension_flags(x) & EXFLAG_INVALID) {
        rc = fl_err_set(err, FL_INVALID_REQUEST, "The certificate has invalid or duplicate extensions");
        goto out;
    }
    if (pk == NULL) {
        /* a key the CA hands over is its own or one csr_load checked */
        const char *why = NULL;
        if ((pk = X509_get0_pubkey(x)) == NULL) {
            rc = fl_err_set(err, FL_INVALID_REQUEST, "The certificate public key cannot be read");
            goto out;
        }
        if ((why = x509_key_unusable(pk)) != NULL) {
            rc = fl_err_set(err, FL_INVALID_REQUEST, "The certificate public key cannot be used: %s", why);
            goto out;
        }
    }
    x509_der_id(der, (size_t)len, out->id);
    if ((rc = name_text(X509_get_subject_name(x), out->subject, sizeof(out->subject), "subject", err)) ||
        (rc = name_text(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer), "issuer", err)))
        goto out;
    out->not_before_s = x509_time_s(X509_get0_notBefore(x), &ok1);
    out->not_after_s = x509_time_s(X509_get0_notAfter(x), &ok2);
    if (!ok1 || !ok2) {
        rc = fl_err_set(err, FL_INVALID_REQUEST, "The certificate validity dates cannot be read");
        goto out;
    }
    out->is_ca = X509_check_ca(x) != 0;
    out->self_signed = X509_self_signed(x, 1) == 1;
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    sh = bn ? BN_bn2hex(bn) : NULL;
    if (sh == NULL || strlen(sh) >= sizeof(out->serial_hex)) {
        rc = fl_err_set(err, FL_INVALID_REQUEST, "The certificate serial number is unreadable or too long");
        goto out;
    }
    memcpy(out->serial_hex, sh, strlen(sh) + 1);
    kp = x509_spki_pem(x);
    if (kp == NULL || strlen(kp) >= sizeof(out->public_key_pem)) {
        rc = fl_err_set(err, FL_INVALID_REQUEST,
                        "The certificate public key cannot be encoded or is too large");
        goto out;
    }
    memcpy(out->public_key_pem, kp, strlen(kp) + 1);
    x509_key_desc(pk, out->key_desc, sizeof(out->key_desc));
out:
    if (rc)
        memset(out, 0, sizeof(*out));
    ERR_clear_error();
    free(kp);
    OPENSSL_free(sh);
    BN_free(bn);
    OPENSSL_free(own);
    return rc;
}

enum fl_code x509_parse(const char *pem, struct x509_info *out, struct fl_err *err)
{
    unsigned char *der = NULL;
    long len = 0;
    memset(out, 0, sizeof(*out));
    X509 *x = x509_load_pem(pem, "certificate", &der, &len, err);
    if (x == NULL)
        return err ? err->code : FL_INVALID_REQUEST;
    enum fl_code rc = x509_info_of(x, der, len, NULL, out, err);
    OPENSSL_free(der);
    X509_free(x);
    return rc;
}

/* Whether general name g equals the SAN text s (IP or DNS, as make_sans). */
static int san_is(const GENERAL_NAME *g, const char *s)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);
    int type = 0, same = 0;
    const ASN1_STRING *v = GENERAL_NAME_get0_value(g, &type);
    ERR_clear_error();
    if (ip)
        same = type == GEN_IPADD && ASN1_STRING_cmp(ip, v) == 0;
    else if (type == GEN_DNS)
        same = (size_t)ASN1_STRING_length(v) == strlen(s) &&
               strncasecmp((const char *)ASN1_STRING_get0_data(v), s, strlen(s)) == 0;
    ASN1_OCTET_STRING_free(ip);
    return same;
}

int x509_sans_equal(const char *pem, const char *const *sans, int nsans)
{
    struct fl_err err;
    X509 *x = x509_load_pem(pem, "certificate", NULL, NULL, &err);
    if (x == NULL)
        return 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int equal = gens != NULL;
    /* every SAN of the certificate is wanted, and every wanted name is there */
    for (int i = 0; equal && i < sk_GENERAL_NAME_num(gens); i++) {
        int found = 0;
        for (int j = 0; j < nsans && !found; j++)
            found = san_is(sk_GENERAL_NAME_value(gens, i), sans[j]);
        equal = found;
    }
    for (int j = 0; equal && j < nsans; j++) {
        int found = 0;
        for (int i = 0; i < sk_GENERAL_NAME_num(gens) && !found; i++)
            found = san_is(sk_GENERAL_NAME_value(gens, i), sans[j]);
        equal = found;
    }
    GENERAL_NAMES_free(gens);
    X509_free(x);
    ERR_clear_error();
    return equal;
}

enum fl_code x509_verify_signed_by(const char *cert_pem, const char *ca_pem, struct fl_err *err)
{
    X509 *cert = x509_load_pem(cert_pem, "certificate", NULL, NULL, err);
    if (cert == NULL)
        return err ? err->code : FL_INVALID_REQUEST;
    X509 *ca = x509_load_pem(ca_pem, "CA certificate", NULL, NULL, err);
    if (ca == NULL) {
        X509_free(cert);
        return err ? err->code : FL_INVALID_REQUEST;
    }
    enum fl_code rc = FL_OK;
    EVP_PKEY *pk = X509_get0_pubkey(ca);
    int why = X509_check_issued(ca, cert);
    if (pk == NULL)
        rc = fl_err_set(err, FL_INVALID_REQUEST, "The CA certificate public key cannot be read");
    else if (why != X509_V_OK)
        rc = fl_err_set(err, FL_INVALID_REQUEST, "The certificate was not issued by this CA: %s",
                        X509_verify_cert_error_string(why));
    else if (X509_verify(cert, pk) != 1)
        rc = fl_err_set(err, FL_INVALID_REQUEST,
                        "The certificate signature does not verify with the CA's key");
    ERR_clear_error();
    X509_free(ca);
    X509_free(cert);
    return rc;
}

enum fl_code x509_subject_hash(const char *pem, unsigned long *hash, struct fl_err *err)
{
    *hash = 0;
    X509 *x = x509_load_pem(pem, "certificate", NULL, NULL, err);
    if (x == NULL)
        return err ? err->code : FL_INVALID_REQUEST;
    int ok = 0;
    unsigned long h = X509_NAME_hash_ex(X509_get_subject_name(x), NULL, NULL, &ok);
    X509_free(x);
    if (!ok)
        return x509_ossl_fail(err, FL_INVALID_REQUEST, "The certificate subject cannot be hashed");
    *hash = h;
    return FL_OK;
}

char *x509_der_to_pem(const unsigned char *der, size_t len)
{
    if (der == NULL || len == 0 || len > X509_PEM_MAX)
        return NULL;
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    char *pem = x && p == der + len ? x509_to_pem(x) : NULL;
    X509_free(x);
    ERR_clear_error();
    return pem;
}
