/*
 * ca.c - the built-in certificate authority: creates or loads the root
 * (DATA_DIR/ca/ca.key + ca.pem), signs device CSRs, makes device key pairs
 * and broker server certificates. The only code that holds the CA private
 * key; nothing of it leaves this file but signatures. Knows nothing of
 * HTTP, MQTT or SQL.
 *
 * After ca_open the struct ca is never written again, so concurrent
 * signing needs no lock: OpenSSL 3 signs with a shared provider key from
 * many threads, and the root's name is encoded once at open so that
 * copying it into new certificates only reads it.
 */
#include "ca_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define CA_PATH_MAX 1024
#define DAYS_MAX 36500
#define KEY_FILE_MAX (64 * 1024)

struct ca {
    char dir[CA_PATH_MAX];
    char key_path[CA_PATH_MAX + 16];
    char pem_path[CA_PATH_MAX + 16];
    EVP_PKEY *key; /* the CA private key: never leaves this file */
    X509 *root;
    char *root_pem;
    char root_id[65];
    ASN1_OCTET_STRING *skid; /* keyIdentifier put in every issued AKI */
    enum ca_key_type key_type;
    char key_desc[32];
    enum ca_key_type device_key;
    int root_days, device_days, server_days;
    char cn[65];
    int created;
};

enum cert_kind { KIND_ROOT, KIND_CLIENT, KIND_SERVER };

/* ---- files -------------------------------------------------------------- */

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[CA_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, mode) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(tmp, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* Writes text to path through a temp file created with mode (O_EXCL, so the
 * bytes are never readable beyond mode, even briefly), then either renames
 * it over path or, with no_replace, links it to path. Returns 0, 1 when
 * no_replace and path exists, -1 on error (errno set). */
static int write_file(const char *path, const char *text, mode_t mode, int no_replace)
{
    char tmp[CA_PATH_MAX + 64];
    unsigned char r[6];
    if (RAND_bytes(r, sizeof(r)) != 1) {
        ERR_clear_error();
        errno = EIO;
        return -1;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%02x%02x%02x%02x%02x%02x", path, (long)getpid(), r[0], r[1], r[2],
             r[3], r[4], r[5]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t n = strlen(text), off = 0;
    int ok = 1;
    while (ok && off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok)
            off += (size_t)w;
    }
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        unlink(tmp);
        errno = saved ? saved : EIO;
        return -1;
    }
    int rc = 0;
    if (no_replace) {
        if (link(tmp, path) != 0)
            rc = errno == EEXIST ? 1 : -1;
        saved = errno;
        unlink(tmp);
        errno = saved;
    } else if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        rc = -1;
    }
    return rc;
}

/* Reads a whole (small) file; private = 1 refuses a file that group or
 * others may read. Returns a malloc'd string or NULL with err set. */
static char *read_file(const char *path, int private_file, struct fl_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        fl_err_set(err, FL_INVALID_REQUEST, "CA: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
        close(fd);
        fl_err_set(err, FL_INVALID_REQUEST, "CA: %s is not a regular file of at most %d bytes", path,
                   KEY_FILE_MAX);
        return NULL;
    }
    if (private_file && (st.st_mode & 077) != 0) {
        close(fd);
        fl_err_set(err, FL_INVALID_REQUEST,
                   "CA: %s is accessible to group or others (mode %03o); run chmod 600 on it", path,
                   (unsigned)(st.st_mode & 0777));
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t off = 0;
    while (buf && off < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    close(fd);
    if (buf == NULL || off != (size_t)st.st_size) {
        free(buf);
        fl_err_set(err, FL_INTERNAL, "CA: cannot read %s", path);
        return NULL;
    }
    buf[off] = '\0';
    return buf;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* ---- keys --------------------------------------------------------------- */

static EVP_PKEY *gen_key(enum ca_key_type t, struct fl_err *err)
{
    EVP_PKEY *k = t == CA_KEY_RSA_2048 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                                       : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (k == NULL)
        x509_ossl_fail(err, FL_INTERNAL, "CA: key generation failed");
    return k;
}

/* A passphrase callback that refuses: an encrypted key is an error, never a
 * terminal prompt. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* PEM of a private key: PKCS#8, or the traditional per-algorithm format
 * (PKCS#1 "RSA PRIVATE KEY", SEC 1 "EC PRIVATE KEY") that AWS returns. The
 * BIO is a secure-memory one so the buffer is wiped when freed. */
static char *key_to_pem(EVP_PKEY *k, int traditional)
{
    BIO *b = BIO_new(BIO_s_secmem());
    char *s = NULL;
    int ok = b && (traditional ? PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL)
                               : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) == 1;
    if (ok)
        s = x509_bio_string(b);
    BIO_free(b);
    return s;
}

/* ---- certificates ------------------------------------------------------- */

/* A random positive 128-bit serial (RFC 5280: at most 20 octets; unguessable
 * serials also defeat chosen-prefix collisions). */
static int set_serial(X509 *x)
{
    unsigned char b[16];
    BIGNUM *bn = NULL;
    int ok = 0;
    for (int tries = 0; tries < 4 && !ok; tries++) {
        if (RAND_bytes(b, sizeof(b)) != 1)
            break;
        BN_free(bn);
        bn = BN_bin2bn(b, sizeof(b), NULL);
        ok = bn != NULL && !BN_is_zero(bn);
    }
    ASN1_INTEGER *ai = ok ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    ok = ai != NULL && X509_set_serialNumber(x, ai) == 1;
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    OPENSSL_cleanse(b, sizeof(b));
    return ok;
}

static int add_conf_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

/* keyIdentifier = SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 (1)). */
static ASN1_OCTET_STRING *key_id(X509 *x)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    ASN1_OCTET_STRING *o = NULL;
    if (X509_pubkey_digest(x, EVP_sha1(), md, &n) != 1)
        return NULL;
    o = ASN1_OCTET_STRING_new();
    if (o && ASN1_OCTET_STRING_set(o, md, (int)n) != 1) {
        ASN1_OCTET_STRING_free(o);
        o = NULL;
    }
    return o;
}

static int add_key_ids(X509 *x, const ASN1_OCTET_STRING *issuer_skid)
{
    ASN1_OCTET_STRING *ski = key_id(x);
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    int ok = ski && akid && X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_DEFAULT) == 1;
    if (ok) {
        akid->keyid = ASN1_OCTET_STRING_dup(issuer_skid ? issuer_skid : ski);
        ok = akid->keyid != NULL &&
             X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT) == 1;
    }
    AUTHORITY_KEYID_free(akid);
    ASN1_OCTET_STRING_free(ski);
    return ok;
}

struct profile {
    enum cert_kind kind;
    const X509_NAME *subject;
    EVP_PKEY *subject_key; /* public part goes in the certificate */
    /* when set: subject_key's SubjectPublicKeyInfo as received (algorithm
     * and key bits), copied into the certificate as it is (see copy_spki) */
    const X509_ALGOR *spki_alg;
    const ASN1_BIT_STRING *spki_bits;
    const X509_NAME *issuer;
    EVP_PKEY *signing_key;
    const ASN1_OCTET_STRING *issuer_skid; /* NULL for the self-signed root */
    int64_t now_s;
    int days;
    int64_t valid_s;     /* when > 0: validity in seconds, instead of days */
    GENERAL_NAMES *sans; /* KIND_SERVER only */
};

/* Puts the algorithm and key bits of a SubjectPublicKeyInfo in x.
 * X509_set_pubkey would do the same from an EVP_PKEY, but in OpenSSL 3.0 it
 * encodes the key and decodes it again, building an encoder and a decoder
 * context: a third of the cost of signing a CSR. x's key is then left
 * undecoded (X509_get0_pubkey(x) is NULL): nothing here needs it, and the
 * caller holds the EVP_PKEY. */
static int copy_spki(X509 *x, const X509_ALGOR *alg_in, const ASN1_BIT_STRING *bits)
{
    const ASN1_OBJECT *alg = NULL;
    int ptype = V_ASN1_UNDEF;
    const void *pval = NULL;
    X509_ALGOR_get0(&alg, &ptype, &pval, alg_in);
    int nbits = ASN1_STRING_length(bits);
    if (alg == NULL || nbits <= 0)
        return 0;
    void *param = NULL;
    if (ptype == V_ASN1_OBJECT)
        param = OBJ_dup(pval);
    else if (ptype == V_ASN1_SEQUENCE)
        param = ASN1_STRING_dup(pval);
    else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
        return 0;
    ASN1_OBJECT *a = OBJ_dup(alg);
    unsigned char *k = OPENSSL_memdup(ASN1_STRING_get0_data(bits), (size_t)nbits);
    int need_param = ptype == V_ASN1_OBJECT || ptype == V_ASN1_SEQUENCE;
    if (a == NULL || k == NULL || (need_param && param == NULL) ||
        X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), a, ptype, param, k, nbits) != 1) {
        ASN1_OBJECT_free(a);
        OPENSSL_free(k);
        if (ptype == V_ASN1_OBJECT)
            ASN1_OBJECT_free(param);
        else
            ASN1_STRING_free(param);
        return 0;
    }
    return 1;
}

static X509 *issue(const struct profile *p, struct fl_err *err)
{
    X509 *x = X509_new();
    int rsa = EVP_PKEY_is_a(p->subject_key, "RSA");
    const char *ku = p->kind == KIND_ROOT ? "critical,keyCertSign,cRLSign"
                     : rsa                ? "critical,digitalSignature,keyEncipherment"
                                          : "critical,digitalSignature";
    int ok =
        x != NULL && X509_set_version(x, X509_VERSION_3) == 1 && set_serial(x) &&
        X509_set_subject_name(x, p->subject) == 1 && X509_set_issuer_name(x, p->issuer) == 1 &&
        (p->spki_alg ? copy_spki(x, p->spki_alg, p->spki_bits) : X509_set_pubkey(x, p->subject_key) == 1) &&
        ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(p->now_s - CA_BACKDATE_S)) != NULL &&
        ASN1_TIME_set(X509_getm_notAfter(x),
                      (time_t)(p->now_s + (p->valid_s > 0 ? p->valid_s : (int64_t)p->days * 86400))) != NULL;
    ok = ok && add_conf_ext(x, NID_basic_constraints,
                            p->kind == KIND_ROOT ? "critical,CA:TRUE" : "critical,CA:FALSE");
    ok = ok && add_conf_ext(x, NID_key_usage, ku);
    if (ok && p->kind != KIND_ROOT)
        ok = add_conf_ext(x, NID_ext_key_usage, p->kind == KIND_SERVER ? "serverAuth" : "clientAuth");
    if (ok && p->sans)
        ok = X509_add1_ext_i2d(x, NID_subject_alt_name, p->sans, 0, X509V3_ADD_DEFAULT) == 1;
    ok = ok && add_key_ids(x, p->issuer_skid);
    ok = ok && X509_sign(x, p->signing_key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        x509_ossl_fail(err, FL_INTERNAL, "CA: cannot build the certificate");
        return NULL;
    }
    ERR_clear_error();
    return x;
}

static X509 *make_root(struct ca *ca, EVP_PKEY *key, int64_t now_s, struct fl_err *err)
{
    X509_NAME *nm = X509_NAME_new();
    if (nm == NULL ||
        X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)ca->cn, -1, -1, 0) != 1) {
        X509_NAME_free(nm);
        x509_ossl_fail(err, FL_INTERNAL, "CA: cannot build the root name");
        return NULL;
    }
    struct profile p = {.kind = KIND_ROOT,
                        .subject = nm,
                        .subject_key = key,
                        .issuer = nm,
                        .signing_key = key,
                        .now_s = now_s,
                        .days = ca->root_days};
    X509 *x = issue(&p, err);
    X509_NAME_free(nm);
    return x;
}

/* The profile of a leaf certificate signed by the root; callers add the
 * rest (sans, valid_s, spki_alg and spki_bits). */
static struct profile leaf(const struct ca *ca, enum cert_kind kind, const X509_NAME *subject, EVP_PKEY *pub,
                           int64_t now_s, int days)
{
    struct profile p = {.kind = kind,
                        .subject = subject,
                        .subject_key = pub,
                        .issuer = X509_get_subject_name(ca->root),
                        .signing_key = ca->key,
                        .issuer_skid = ca->skid,
                        .now_s = now_s,
                        .days = days};
    return p;
}

/* ---- open / close ------------------------------------------------------- */

enum { LOAD_OK = 0, LOAD_RETRY = -1 };

static int path_exists(const char *path, int *exists, struct fl_err *err)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        *exists = 1;
        return 0;
    }
    if (errno == ENOENT) {
        *exists = 0;
        return 0;
    }
    fl_err_set(err, FL_INTERNAL, "CA: cannot stat %s: %s", path, strerror(errno));
    return -1;
}

/* One attempt at loading (or creating) ca.key and ca.pem into ca. Returns
 * LOAD_OK, LOAD_RETRY (another process created a file meanwhile) or an
 * fl_code. */
static int load_or_create(struct ca *ca, const struct ca_options *o, enum ca_key_type root_key, int64_t now_s,
                          struct fl_err *err)
{
    int have_key = 0, have_pem = 0;
    if (path_exists(ca->key_path, &have_key, err) || path_exists(ca->pem_path, &have_pem, err))
        return err->code;
    if (!have_key && have_pem)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "CA: %s exists without its key %s: restore the key or move the certificate away",
                          ca->pem_path, ca->key_path);
    if (!have_key && o->no_create)
        return fl_err_set(err, FL_NOT_FOUND, "CA: no CA in %s (run fleet-ca init)", ca->dir);

    EVP_PKEY *key = NULL;
    X509 *root = NULL;
    int created = 0;
    if (!have_key) {
        if ((key = gen_key(root_key, err)) == NULL)
            return err->code;
        char *pem = key_to_pem(key, 0);
        int w = pem ? write_file(ca->key_path, pem, 0600, 1) : -1;
        free_secret(pem);
        if (w != 0) {
            EVP_PKEY_free(key);
            if (w == 1)
                return LOAD_RETRY;
            return fl_err_set(err, FL_INTERNAL, "CA: cannot write %s: %s", ca->key_path, strerror(errno));
        }
        created = 1;
    } else {
        char *text = read_file(ca->key_path, 1, err);
        if (text == NULL)
            return err->code;
        BIO *b = BIO_new_mem_buf(text, -1);
        key = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
        BIO_free(b);
        free_secret(text);
        if (key == NULL)
            return x509_ossl_fail(err, FL_INVALID_REQUEST,
                                  "CA: cannot load the private key (encrypted or damaged?)");
    }
    if (!have_pem) {
        char *pem = NULL;
        int w = -1;
        if ((root = make_root(ca, key, now_s, err)) == NULL) {
            EVP_PKEY_free(key);
            return err->code;
        }
        if ((pem = x509_to_pem(root)) != NULL)
            w = write_file(ca->pem_path, pem, 0644, 1);
        free(pem);
        X509_free(root);
        root = NULL;
        if (w != 0) {
            EVP_PKEY_free(key);
            if (w == 1)
                return LOAD_RETRY;
            return fl_err_set(err, FL_INTERNAL, "CA: cannot write %s: %s", ca->pem_path, strerror(errno));
        }
    }
    /* Always read ca.pem back: the id is the hash of exactly these bytes. */
    char *text = read_file(ca->pem_path, 0, err);
    unsigned char *der = NULL;
    long derlen = 0;
    if (text == NULL || (root = x509_load_pem(text, "CA certificate (ca.pem)", &der, &derlen, err)) == NULL) {
        free(text);
        EVP_PKEY_free(key);
        return err->code;
    }
    if (X509_check_private_key(root, key) != 1) {
        ERR_clear_error();
        free(text);
        OPENSSL_free(der);
        X509_free(root);
        EVP_PKEY_free(key);
        return fl_err_set(err, FL_INVALID_REQUEST, "CA: %s does not match the key in %s", ca->pem_path,
                          ca->key_path);
    }
    if (X509_check_ca(root) != 1) {
        free(text);
        OPENSSL_free(der);
        X509_free(root);
        EVP_PKEY_free(key);
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "CA: %s is not a CA certificate (basicConstraints CA:TRUE)", ca->pem_path);
    }
    x509_der_id(der, (size_t)derlen, ca->root_id);
    OPENSSL_free(der);
    ca->root_pem = text;
    ca->root = root;
    ca->key = key;
    ca->created = created;
    return LOAD_OK;
}

struct ca *ca_open(const char *dir, const struct ca_options *opt, int64_t now_s, struct fl_err *err)
{
    struct fl_err local;
    struct ca_options o;
    if (err == NULL)
        err = &local;
    memset(&o, 0, sizeof(o));
    if (opt)
        o = *opt;
    if (dir == NULL || *dir == '\0' || strlen(dir) >= CA_PATH_MAX) {
        fl_err_set(err, FL_INVALID_REQUEST, "CA: the directory name is empty or too long");
        return NULL;
    }
    if ((int)o.root_key < 0 || o.root_key > CA_KEY_RSA_2048 || (int)o.device_key < 0 ||
        o.device_key > CA_KEY_RSA_2048) {
        fl_err_set(err, FL_INVALID_REQUEST, "CA: unknown key type");
        return NULL;
    }
    if (o.root_days < 0 || o.root_days > DAYS_MAX || o.device_days < 0 || o.device_days > DAYS_MAX ||
        o.server_days < 0 || o.server_days > DAYS_MAX) {
        fl_err_set(err, FL_INVALID_REQUEST, "CA: validity periods must be 1..%d days", DAYS_MAX);
        return NULL;
    }
    const char *cn = o.common_name && *o.common_name ? o.common_name : "fleetd root CA";
    if (strlen(cn) > 64) {
        fl_err_set(err, FL_INVALID_REQUEST, "CA: the root common name is longer than 64 characters");
        return NULL;
    }
    struct ca *ca = calloc(1, sizeof(*ca));
    if (ca == NULL) {
        fl_err_set(err, FL_INTERNAL, "CA: out of memory");
        return NULL;
    }
    snprintf(ca->dir, sizeof(ca->dir), "%s", dir);
    snprintf(ca->key_path, sizeof(ca->key_path), "%s/ca.key", dir);
    snprintf(ca->pem_path, sizeof(ca->pem_path), "%s/ca.pem", dir);
    snprintf(ca->cn, sizeof(ca->cn), "%s", cn);
    ca->device_key = o.device_key == CA_KEY_DEFAULT ? CA_KEY_RSA_2048 : o.device_key;
    ca->root_days = o.root_days ? o.root_days : 3650;
    ca->device_days = o.device_days ? o.device_days : 365;
    ca->server_days = o.server_days ? o.server_days : 825;
    enum ca_key_type root_key = o.root_key == CA_KEY_DEFAULT ? CA_KEY_EC_P256 : o.root_key;

    if (mkdir_p(dir, 0700) != 0) {
        fl_err_set(err, FL_INTERNAL, "CA: cannot create directory %s: %s", dir, strerror(errno));
        free(ca);
        return NULL;
    }
    int rc = LOAD_RETRY;
    for (int attempt = 0; attempt < 5 && rc == LOAD_RETRY; attempt++)
        rc = load_or_create(ca, &o, root_key, now_s, err);
    if (rc == LOAD_RETRY)
        fl_err_set(err, FL_INTERNAL, "CA: %s keeps changing under us (another process creating a CA?)", dir);
    if (rc != LOAD_OK) {
        ca_close(ca);
        return NULL;
    }
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(ca->root);
    ca->skid = skid ? ASN1_OCTET_STRING_dup(skid) : key_id(ca->root);
    x509_key_desc(ca->key, ca->key_desc, sizeof(ca->key_desc));
    ca->key_type = strcmp(ca->key_desc, "EC P-256") == 0   ? CA_KEY_EC_P256
                   : strcmp(ca->key_desc, "RSA 2048") == 0 ? CA_KEY_RSA_2048
                                                           : CA_KEY_DEFAULT;
    /* Settle the cached encoding of the root's name now, so that concurrent
     * X509_set_issuer_name() calls only read it. */
    int nlen = i2d_X509_NAME(X509_get_subject_name(ca->root), NULL);
    if (ca->skid == NULL || nlen <= 0) {
        x509_ossl_fail(err, FL_INTERNAL, "CA: cannot prepare the root");
        ca_close(ca);
        return NULL;
    }
    ERR_clear_error();
    return ca;
}

void ca_close(struct ca *ca)
{
    if (ca == NULL)
        return;
    EVP_PKEY_free(ca->key);
    X509_free(ca->root);
    ASN1_OCTET_STRING_free(ca->skid);
    free(ca->root_pem);
    OPENSSL_cleanse(ca, sizeof(*ca));
    free(ca);
}

const char *ca_root_pem(const struct ca *ca)
{
    return ca->root_pem;
}

const char *ca_root_id(const struct ca *ca)
{
    return ca->root_id;
}

enum ca_key_type ca_root_key_type(const struct ca *ca)
{
    return ca->key_type;
}

const char *ca_key_desc(const struct ca *ca)
{
    return ca->key_desc;
}

int ca_was_created(const struct ca *ca)
{
    return ca->created;
}

const char *ca_dir(const struct ca *ca)
{
    return ca->dir;
}

const char *ca_root_path(const struct ca *ca)
{
    return ca->pem_path;
}

/* ---- operations --------------------------------------------------------- */

enum fl_code ca_sign_csr(struct ca *ca, const char *csr_pem, int64_t now_s, char **cert_pem,
                         struct x509_info *info, struct fl_err *err)
{
    struct fl_err local;
    if (err == NULL)
        err = &local;
    if (cert_pem)
        *cert_pem = NULL;
    if (ca == NULL || cert_pem == NULL)
        return fl_err_set(err, FL_INTERNAL, "CA: not configured");
    struct csr *req = csr_load(csr_pem, err);
    if (req == NULL)
        return err->code;
    struct profile p = leaf(ca, KIND_CLIENT, req->subject, req->pub, now_s, ca->device_days);
    p.spki_alg = req->key_alg;
    p.spki_bits = req->key_bits;
    X509 *x = issue(&p, err);
    enum fl_code rc = x ? FL_OK : err->code;
    if (rc == FL_OK && info)
        rc = x509_info_of(x, NULL, 0, req->pub, info, err);
    if (rc == FL_OK && (*cert_pem = x509_to_pem(x)) == NULL)
        rc = x509_ossl_fail(err, FL_INTERNAL, "CA: cannot encode the certificate");
    csr_free(req);
    X509_free(x);
    return rc;
}

enum fl_code ca_create_keys_and_certificate(struct ca *ca, int64_t now_s, char **cert_pem, char **public_pem,
                                            char **private_pem, struct fl_err *err)
{
    return ca_create_keys_and_certificate_for(ca, now_s, 0, cert_pem, public_pem, private_pem, NULL, err);
}

enum fl_code ca_create_keys_and_certificate_for(struct ca *ca, int64_t now_s, int64_t valid_s,
                                                char **cert_pem, char **public_pem, char **private_pem,
                                                struct x509_info *info, struct fl_err *err)
{
    struct fl_err local;
    if (err == NULL)
        err = &local;
    if (cert_pem == NULL || public_pem == NULL || private_pem == NULL)
        return fl_err_set(err, FL_INTERNAL, "CA: no output");
    *cert_pem = *public_pem = *private_pem = NULL;
    if (ca == NULL)
        return fl_err_set(err, FL_INTERNAL, "CA: not configured");
    EVP_PKEY *k = gen_key(ca->device_key, err);
    if (k == NULL)
        return err->code;
    X509_NAME *nm = X509_NAME_new();
    X509 *x = NULL;
    if (nm && X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8,
                                         (const unsigned char *)"AWS IoT Certificate", -1, -1, 0) == 1) {
        struct profile p = leaf(ca, KIND_CLIENT, nm, k, now_s, ca->device_days);
        p.valid_s = valid_s;
        x = issue(&p, err);
    } else {
        x509_ossl_fail(err, FL_INTERNAL, "CA: cannot build the subject");
    }
    X509_NAME_free(nm);
    enum fl_code rc = x ? FL_OK : err->code;
    if (rc == FL_OK && info)
        rc = x509_info_of(x, NULL, 0, k, info, err);
    if (rc == FL_OK) {
        *cert_pem = x509_to_pem(x);
        *public_pem = x509_spki_pem(x);
        *private_pem = key_to_pem(k, 1);
        if (*cert_pem == NULL || *public_pem == NULL || *private_pem == NULL) {
            free(*cert_pem);
            free(*public_pem);
            free_secret(*private_pem);
            *cert_pem = *public_pem = *private_pem = NULL;
            rc = x509_ossl_fail(err, FL_INTERNAL, "CA: cannot encode the key pair");
        }
    }
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

/* DNS name for a SAN: labels of letters, digits, '-' and '_' (docker
 * service names), dot-separated, an optional leading "*." wildcard. */
static int dns_name_ok(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253)
        return 0;
    if (strncmp(s, "*.", 2) == 0)
        s += 2;
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if (*s == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                   *s == '-' || *s == '_') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return label > 0;
}

static GENERAL_NAMES *make_sans(const char *const *sans, int nsans, struct fl_err *err)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    if (gens == NULL) {
        x509_ossl_fail(err, FL_INTERNAL, "CA: out of memory");
        return NULL;
    }
    for (int i = 0; i < nsans; i++) {
        const char *s = sans[i];
        GENERAL_NAME *g = NULL;
        ASN1_OCTET_STRING *ip = s ? a2i_IPADDRESS(s) : NULL;
        ERR_clear_error();
        if (ip) {
            g = GENERAL_NAME_new();
            if (g)
                GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
            else
                ASN1_OCTET_STRING_free(ip);
        } else if (s && dns_name_ok(s)) {
            ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
            if (ia5 && ASN1_STRING_set(ia5, s, (int)strlen(s)) == 1 && (g = GENERAL_NAME_new()) != NULL)
                GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
            else
                ASN1_IA5STRING_free(ia5);
        } else {
            GENERAL_NAMES_free(gens);
            fl_err_set(err, FL_INVALID_REQUEST, "CA: '%.80s' is neither an IP address nor a DNS name",
                       s ? s : "(null)");
            return NULL;
        }
        if (g == NULL || sk_GENERAL_NAME_push(gens, g) <= 0) {
            GENERAL_NAME_free(g);
            GENERAL_NAMES_free(gens);
            x509_ossl_fail(err, FL_INTERNAL, "CA: out of memory");
            return NULL;
        }
    }
    return gens;
}

enum fl_code ca_issue_server(struct ca *ca, const char *const *sans, int nsans, const char *key_path,
                             const char *cert_path, int64_t now_s, struct fl_err *err)
{
    struct fl_err local;
    if (err == NULL)
        err = &local;
    if (ca == NULL || key_path == NULL || cert_path == NULL)
        return fl_err_set(err, FL_INTERNAL, "CA: not configured");
    if (sans == NULL || nsans <= 0 || nsans > 100)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "CA: a server certificate needs 1..100 subject alternative names");
    GENERAL_NAMES *gens = make_sans(sans, nsans, err);
    if (gens == NULL)
        return err->code;
    EVP_PKEY *k = gen_key(CA_KEY_EC_P256, err);
    X509_NAME *nm = X509_NAME_new();
    X509 *x = NULL;
    const char *cn = strlen(sans[0]) <= 64 ? sans[0] : "fleetd server";
    if (k && nm &&
        X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1) {
        struct profile p = leaf(ca, KIND_SERVER, nm, k, now_s, ca->server_days);
        p.sans = gens;
        x = issue(&p, err);
    } else if (k) {
        x509_ossl_fail(err, FL_INTERNAL, "CA: cannot build the subject");
    }
    enum fl_code rc = x ? FL_OK : err->code;
    char *kp = x ? key_to_pem(k, 0) : NULL;
    char *cp = x ? x509_to_pem(x) : NULL;
    if (x && (kp == NULL || cp == NULL))
        rc = x509_ossl_fail(err, FL_INTERNAL, "CA: cannot encode the server key pair");
    else if (x && write_file(key_path, kp, 0600, 0) != 0)
        rc = fl_err_set(err, FL_INTERNAL, "CA: cannot write %s: %s", key_path, strerror(errno));
    else if (x && write_file(cert_path, cp, 0644, 0) != 0)
        rc = fl_err_set(err, FL_INTERNAL, "CA: cannot write %s: %s", cert_path, strerror(errno));
    free_secret(kp);
    free(cp);
    X509_free(x);
    X509_NAME_free(nm);
    EVP_PKEY_free(k);
    GENERAL_NAMES_free(gens);
    return rc;
}
