/*
 * cli_claim.c - `fleetd claim create`: a long-lived claim certificate with
 * the template's claim policy, and the files a factory flashes. See
 * cli_claim.h.
 *
 * The certificate and its policy attachment are one core call
 * (provisioning_create_claim_for, one transaction). When writing the files
 * fails afterwards, the certificate is detached, set INACTIVE and deleted,
 * and the files written so far are removed: a failed run leaves no usable
 * claim behind.
 */
#include "cli_claim.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "certificates.h"
#include "cli_files.h"
#include "policies.h"
#include "provisioning.h"

#define CLAIM_CERT "claim.cert.pem"
#define CLAIM_KEY "claim.private.key"
#define CLAIM_CA "root-CA.crt"
#define CLAIM_JSON "claim.json"

static int usage(void)
{
    fprintf(stderr,
            "usage: fleetd claim create --template NAME --out DIR [--days N] [--force] [--json]\n"
            "                           [--data-dir DATA_DIR]\n"
            "  writes DIR/" CLAIM_CERT ", DIR/" CLAIM_KEY " (0600), DIR/" CLAIM_CA " and DIR/" CLAIM_JSON
            ":\n"
            "  a claim certificate for fleet provisioning with template NAME (policy fleetd-claim-NAME:\n"
            "  connect, and the $aws/certificates/create*/ and $aws/provisioning-templates/NAME/provision/\n"
            "  topics only), to flash onto every device.\n"
            "  --days N   validity in days (default %d; never past the root CA's expiry)\n"
            "  --force    replace the files in DIR if they exist\n"
            "  --json     print the result as one JSON object\n",
            CLI_CLAIM_DEFAULT_DAYS);
    return 2;
}

int cli_claim_preparse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data-dir") != 0)
            continue;
        if (i + 1 >= argc || argv[i + 1][0] == '\0')
            return usage();
        if (setenv("FLEETD_DATA_DIR", argv[i + 1], 1) != 0) {
            fprintf(stderr, "fleetd: claim: cannot use --data-dir %s\n", argv[i + 1]);
            return 2;
        }
        i++;
    }
    return 0;
}

static void iso_time(int64_t s, char out[32])
{
    time_t t = (time_t)s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)s);
}

struct claim {
    const char *tpl;
    char policy[PROVISIONING_CLAIM_POLICY_MAX];
    char cert_id[65];
    char cert_arn[320];
    char dir[PATH_MAX];
    char cert_file[PATH_MAX], key_file[PATH_MAX], ca_file[PATH_MAX], json_file[PATH_MAX];
    char host[256];
    int port;
    int64_t not_after_s;
    int capped;   /* the validity was cut to the root CA's expiry */
    int disabled; /* the template is not enabled (yet) */
};

/* Undoes a claim whose files could not be written. */
static void rollback(struct fl_core *c, const struct claim *r)
{
    struct fl_err err;
    policies_detach(c, r->policy, r->cert_arn, &err);
    certificates_update(c, r->cert_id, "INACTIVE", &err);
    certificates_delete(c, r->cert_id, 1, &err);
    unlink(r->cert_file);
    unlink(r->key_file);
    unlink(r->ca_file);
    unlink(r->json_file);
}

/* The template must exist and be a fleet-provisioning one. */
static int check_template(struct fl_core *c, struct claim *r)
{
    struct fl_err err;
    json_t *t = NULL;
    enum fl_code rc = provisioning_describe(c, r->tpl, &t, &err);
    if (rc == FL_NOT_FOUND) {
        fprintf(stderr,
                "fleetd: claim create: provisioning template '%s' does not exist (create it first: aws iot "
                "create-provisioning-template --template-name %s ...)\n",
                r->tpl, r->tpl);
        return 1;
    }
    if (rc != FL_OK) {
        fprintf(stderr, "fleetd: claim create: template '%s': %s\n", r->tpl, err.msg);
        return 1;
    }
    const char *type = json_string_value(json_object_get(t, "type"));
    int ok = type == NULL || strcmp(type, PROVISIONING_FLEET) == 0;
    r->disabled = !json_is_true(json_object_get(t, "enabled"));
    if (!ok)
        fprintf(stderr,
                "fleetd: claim create: template '%s' is of type %s; claim certificates are for %s templates "
                "(a JITP template provisions devices whose certificates come from a registered CA)\n",
                r->tpl, type, PROVISIONING_FLEET);
    json_decref(t);
    return ok ? 0 : 1;
}

/* The validity in seconds: days, cut to the root CA's expiry (a certificate
 * that outlives its issuer cannot be verified). 0 when nothing is left. */
static int64_t validity(struct fl_core *c, const char *root_pem, int days, int *capped)
{
    struct fl_err err;
    struct x509_info root;
    int64_t now = core_now_ms(c) / 1000, want = (int64_t)days * 86400;
    *capped = 0;
    if (x509_parse(root_pem, &root, &err) != FL_OK)
        return want;
    int64_t left = root.not_after_s - now;
    if (left < want) {
        *capped = 1;
        want = left;
    }
    return want > 0 ? want : 0;
}

static json_t *claim_json(const struct claim *r)
{
    char na[32];
    iso_time(r->not_after_s, na);
    /* file names relative to claim.json: the directory is copied as a whole */
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "endpoint", r->host, "port", r->port,
                     "templateName", r->tpl, "certificateFile", CLAIM_CERT, "privateKeyFile", CLAIM_KEY,
                     "rootCaFile", CLAIM_CA, "certificateId", r->cert_id, "policyName", r->policy, "notAfter",
                     na);
}

static int create(struct fl_core *c, const struct daemon_config *cfg, const char *root_ca_path,
                  const char *tpl, const char *out_dir, int days, int force, int as_json)
{
    struct fl_err err;
    struct claim r;
    memset(&r, 0, sizeof(r));
    r.tpl = tpl;
    provisioning_claim_policy_name(tpl, r.policy);

    /* 1. the template (before anything is made: a typo costs nothing) */
    if (check_template(c, &r))
        return 1;

    /* 2. the files must be new (or --force) */
    if (cli_mkdir_p(out_dir, 0755) != 0 || realpath(out_dir, r.dir) == NULL) {
        fprintf(stderr, "fleetd: claim create: cannot create %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    char *files[] = {r.cert_file, r.key_file, r.ca_file, r.json_file};
    const char *names[] = {CLAIM_CERT, CLAIM_KEY, CLAIM_CA, CLAIM_JSON};
    for (int i = 0; i < 4; i++) {
        if ((size_t)snprintf(files[i], PATH_MAX, "%s/%s", r.dir, names[i]) >= PATH_MAX) {
            fprintf(stderr, "fleetd: claim create: the path %s is too long\n", r.dir);
            return 1;
        }
        if (!force && access(files[i], F_OK) == 0) {
            fprintf(stderr, "fleetd: claim create: %s already exists (--force replaces it)\n", files[i]);
            return 1;
        }
    }
    char *root = cli_read_text(root_ca_path);
    if (root == NULL) {
        fprintf(stderr, "fleetd: claim create: cannot read the root CA %s\n", root_ca_path);
        return 1;
    }
    int64_t valid_s = validity(c, root, days, &r.capped);
    if (valid_s < 86400) {
        fprintf(stderr,
                "fleetd: claim create: the root CA %s expires within a day; a claim certificate from it "
                "would be useless\n",
                root_ca_path);
        free(root);
        return 1;
    }

    /* 3. certificate + claim policy, one transaction */
    json_t *o = NULL;
    enum fl_code rc = provisioning_create_claim_for(c, tpl, valid_s, &o, &err);
    if (rc != FL_OK) {
        fprintf(stderr, "fleetd: claim create: %s\n", err.msg);
        free(root);
        return 1;
    }
    const char *cert = json_string_value(json_object_get(o, "certificatePem"));
    snprintf(r.cert_id, sizeof(r.cert_id), "%s", json_string_value(json_object_get(o, "certificateId")));
    core_arn(c, r.cert_arn, sizeof(r.cert_arn), "cert", r.cert_id);
    struct x509_info info;
    r.not_after_s =
        cert && x509_parse(cert, &info, &err) == FL_OK ? info.not_after_s : core_now_ms(c) / 1000 + valid_s;
    cli_mqtt_target(cfg, r.host, sizeof(r.host), &r.port);

    /* 4. the files */
    json_t *meta = claim_json(&r);
    char *meta_text = meta ? json_dumps(meta, JSON_INDENT(2)) : NULL;
    int ok = cli_write_identity(o, root, r.key_file, r.cert_file, r.ca_file) == 0 && meta_text != NULL &&
             cli_write_file(r.json_file, meta_text, 0644) == 0;
    if (!ok)
        fprintf(stderr, "fleetd: claim create: cannot write the files in %s: %s\n", r.dir,
                meta_text ? strerror(errno) : "out of memory");
    json_decref(o);
    free(meta_text);
    free(root);
    if (!ok) {
        json_decref(meta);
        rollback(c, &r);
        return 1;
    }

    /* 5. the report */
    char na[32];
    iso_time(r.not_after_s, na);
    if (as_json) {
        json_object_set_new(meta, "certificateArn", json_string(r.cert_arn));
        json_object_set_new(meta, "directory", json_string(r.dir));
        json_object_set_new(meta, "templateEnabled", json_boolean(!r.disabled));
        json_object_set_new(meta, "cappedToRootCa", json_boolean(r.capped));
        json_dumpf(meta, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(meta);
        return 0;
    }
    json_decref(meta);
    printf("claim certificate for provisioning template %s:\n"
           "  certificate  %s (ACTIVE until %s)\n"
           "  policy       %s (attached: connect, and only the fleet-provisioning topics of %s)\n"
           "  files        %s\n"
           "               %s (private key, 0600)\n"
           "               %s (the root CA the broker's certificate chains to)\n"
           "               %s (endpoint %s:%d, template %s)\n",
           tpl, r.cert_id, na, r.policy, tpl, r.cert_file, r.key_file, r.ca_file, r.json_file, r.host, r.port,
           tpl);
    /* the default usually ends a few seconds early against a fresh root: not worth a note */
    if (r.capped && (int64_t)days * 86400 - valid_s > 30 * 86400)
        printf("note: cut to the root CA's expiry (%s); asked for %d days\n", na, days);
    if (r.disabled)
        printf("note: template %s is disabled: devices are refused until you enable it\n"
               "      (aws iot update-provisioning-template --template-name %s --enabled)\n",
               tpl, tpl);
    printf("flash the four files onto every device; at first boot it connects with them and provisions\n"
           "itself (AWS IoT Device SDK v2 fleet-provisioning flow; see docs/provisioning.md).\n"
           "revoke this claim: aws iot update-certificate --certificate-id %s --new-status REVOKED\n",
           r.cert_id);
    return 0;
}

int cli_claim(struct fl_core *c, const struct daemon_config *cfg, const char *root_ca_path, int argc,
              char **argv)
{
    if (argc < 1 || strcmp(argv[0], "create") != 0)
        return usage();
    const char *tpl = NULL, *out = NULL;
    int force = 0, as_json = 0, days = CLI_CLAIM_DEFAULT_DAYS;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--template") == 0 && i + 1 < argc) {
            tpl = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
            i++; /* applied by cli_claim_preparse before the configuration was read */
        } else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || v < 1 || v > CLI_CLAIM_MAX_DAYS) {
                fprintf(stderr, "fleetd: claim create: --days must be 1..%d\n", CLI_CLAIM_MAX_DAYS);
                return 2;
            }
            days = (int)v;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else {
            return usage();
        }
    }
    if (tpl == NULL || out == NULL || *tpl == '\0' || *out == '\0')
        return usage();
    return create(c, cfg, root_ca_path, tpl, out, days, force, as_json);
}
