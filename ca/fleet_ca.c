/*
 * fleet_ca.c - the fleet-ca command: create the root CA (init), issue a TLS
 * server certificate for the broker (issue-server) and describe the root
 * (show). A thin shell over ca.h; the CA key stays inside libfleetca.
 *
 * The directory defaults to $FLEETD_DATA_DIR/ca, else ./var/ca: the one
 * fleetd uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ca.h"

#define MAX_SANS 100

static int usage(FILE *f)
{
    fprintf(f, "usage: fleet-ca init [--dir DIR] [--rsa | --ec] [--days N] [--cn NAME]\n"
               "       fleet-ca issue-server --san NAME [--san NAME ...] --out-key FILE --out-cert FILE\n"
               "                             [--dir DIR] [--days N]\n"
               "       fleet-ca show [--dir DIR]\n"
               "DIR defaults to $FLEETD_DATA_DIR/ca, else ./var/ca. A --san that parses as an IPv4/IPv6\n"
               "address becomes an IP SAN, any other a DNS SAN.\n");
    return f == stderr ? 2 : 0;
}

static void default_dir(char *out, size_t n)
{
    const char *dd = getenv("FLEETD_DATA_DIR");
    snprintf(out, n, "%s/ca", dd && *dd ? dd : "./var");
}

static void fmt_time(int64_t s, char *out, size_t n)
{
    time_t t = (time_t)s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, n, "%lld", (long long)s);
}

static int parse_days(const char *v, int *out)
{
    char *end = NULL;
    long d = strtol(v, &end, 10);
    if (end == v || *end != '\0' || d < 1 || d > 36500) {
        fprintf(stderr, "fleet-ca: --days must be 1..36500\n");
        return -1;
    }
    *out = (int)d;
    return 0;
}

static int show(const struct ca *ca)
{
    struct x509_info info;
    struct fl_err err;
    char nb[32], na[32];
    if (x509_parse(ca_root_pem(ca), &info, &err)) {
        fprintf(stderr, "fleet-ca: %s\n", err.msg);
        return 1;
    }
    fmt_time(info.not_before_s, nb, sizeof(nb));
    fmt_time(info.not_after_s, na, sizeof(na));
    printf("directory:  %s\n"
           "root:       %s\n"
           "subject:    %s\n"
           "id:         %s\n"
           "serial:     %s\n"
           "key:        %s\n"
           "not before: %s\n"
           "not after:  %s\n",
           ca_dir(ca), ca_root_path(ca), info.subject, info.id, info.serial_hex, ca_key_desc(ca), nb, na);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0)
        return usage(stdout);
    char dir[1024];
    default_dir(dir, sizeof(dir));
    const char *sans[MAX_SANS];
    int nsans = 0, days = 0, key_flag = 0;
    const char *out_key = NULL, *out_cert = NULL, *cn = NULL;
    struct ca_options opt;
    memset(&opt, 0, sizeof(opt));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (strcmp(a, "--dir") == 0 && has_val) {
            snprintf(dir, sizeof(dir), "%s", argv[++i]);
        } else if (strcmp(a, "--rsa") == 0) {
            opt.root_key = CA_KEY_RSA_2048, key_flag = 1;
        } else if (strcmp(a, "--ec") == 0) {
            opt.root_key = CA_KEY_EC_P256, key_flag = 1;
        } else if (strcmp(a, "--days") == 0 && has_val) {
            if (parse_days(argv[++i], &days))
                return 2;
        } else if (strcmp(a, "--cn") == 0 && has_val) {
            cn = argv[++i];
        } else if (strcmp(a, "--san") == 0 && has_val) {
            if (nsans == MAX_SANS) {
                fprintf(stderr, "fleet-ca: at most %d --san\n", MAX_SANS);
                return 2;
            }
            sans[nsans++] = argv[++i];
        } else if (strcmp(a, "--out-key") == 0 && has_val) {
            out_key = argv[++i];
        } else if (strcmp(a, "--out-cert") == 0 && has_val) {
            out_cert = argv[++i];
        } else {
            fprintf(stderr, "fleet-ca: unexpected argument '%s'\n", a);
            return usage(stderr);
        }
    }
    int is_init = strcmp(cmd, "init") == 0, is_issue = strcmp(cmd, "issue-server") == 0,
        is_show = strcmp(cmd, "show") == 0;
    if (!is_init && !is_issue && !is_show)
        return usage(stderr);
    if ((!is_init && (key_flag || cn)) || (!is_issue && (nsans || out_key || out_cert)) ||
        (is_show && days)) {
        fprintf(stderr, "fleet-ca: option not valid for %s\n", cmd);
        return usage(stderr);
    }
    if (is_issue && (nsans == 0 || out_key == NULL || out_cert == NULL)) {
        fprintf(stderr, "fleet-ca: issue-server needs --san, --out-key and --out-cert\n");
        return 2;
    }
    if (is_init) {
        opt.root_days = days;
        opt.common_name = cn;
    } else {
        opt.server_days = days;
        opt.no_create = 1;
    }
    struct fl_err err;
    struct ca *ca = ca_open(dir, &opt, (int64_t)time(NULL), &err);
    if (ca == NULL) {
        fprintf(stderr, "fleet-ca: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (is_init) {
        if (!ca_was_created(ca) && key_flag && ca_root_key_type(ca) != opt.root_key) {
            fprintf(stderr,
                    "fleet-ca: a root CA already exists in %s with a %s key; remove the directory to make a "
                    "new one\n",
                    dir, ca_key_desc(ca));
            rc = 1;
        } else {
            printf("%s root CA in %s\n", ca_was_created(ca) ? "created" : "existing", dir);
            rc = show(ca);
        }
    } else if (is_show) {
        rc = show(ca);
    } else if (ca_issue_server(ca, sans, nsans, out_key, out_cert, (int64_t)time(NULL), &err)) {
        fprintf(stderr, "fleet-ca: %s\n", err.msg);
        rc = 1;
    } else {
        printf("wrote %s (key, mode 0600) and %s (certificate signed by %s)\n", out_key, out_cert,
               ca_root_path(ca));
    }
    ca_close(ca);
    return rc;
}
