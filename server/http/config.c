/*
 * config.c - settings from defaults, a "key = value" file ('#' comments)
 * and FLEETD_* environment variables, validated once at start.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum fl_code set_int(const char *key, const char *v, long min, long max, long *out, struct fl_err *err)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || x < min || x > max)
        return fl_err_set(err, FL_INVALID_REQUEST, "config: %s must be an integer in %ld..%ld, got '%.64s'",
                          key, min, max, v);
    *out = x;
    return FL_OK;
}

static enum fl_code set_str(const char *key, const char *v, char *dst, size_t n, struct fl_err *err)
{
    if (strlen(v) >= n)
        return fl_err_set(err, FL_INVALID_REQUEST, "config: %s is too long", key);
    memcpy(dst, v, strlen(v) + 1);
    return FL_OK;
}

/* Applies one setting; keys are the file's names (env: FLEETD_ + upper). */
static enum fl_code apply(struct daemon_config *cfg, const char *key, const char *v, struct fl_err *err)
{
    long x;
    enum fl_code rc;
    if (strcmp(key, "region") == 0) {
        for (const char *p = v; *p; p++)
            if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
                return fl_err_set(err, FL_INVALID_REQUEST, "config: region must look like us-east-1");
        if (*v == '\0')
            return fl_err_set(err, FL_INVALID_REQUEST, "config: region must not be empty");
        return set_str(key, v, cfg->core.region, sizeof(cfg->core.region), err);
    }
    if (strcmp(key, "account_id") == 0) {
        if (strlen(v) != 12 || strspn(v, "0123456789") != 12)
            return fl_err_set(err, FL_INVALID_REQUEST, "config: account_id must be 12 digits");
        return set_str(key, v, cfg->core.account_id, sizeof(cfg->core.account_id), err);
    }
    if (strcmp(key, "endpoint_host") == 0)
        return set_str(key, v, cfg->core.endpoint_host, sizeof(cfg->core.endpoint_host), err);
    if (strcmp(key, "data_dir") == 0)
        return set_str(key, v, cfg->data_dir, sizeof(cfg->data_dir), err);
    if (strcmp(key, "http_bind") == 0)
        return set_str(key, v, cfg->http_bind, sizeof(cfg->http_bind), err);
    if (strcmp(key, "http_port") == 0) {
        if ((rc = set_int(key, v, 0, 65535, &x, err)) == FL_OK)
            cfg->http_port = (int)x;
        return rc;
    }
    if (strcmp(key, "mqtt_port") == 0) {
        if ((rc = set_int(key, v, 0, 65535, &x, err)) == FL_OK)
            cfg->core.mqtt_port = (int)x;
        return rc;
    }
    if (strcmp(key, "http_threads") == 0) {
        if ((rc = set_int(key, v, 1, 64, &x, err)) == FL_OK)
            cfg->http_threads = (int)x;
        return rc;
    }
    if (strcmp(key, "max_body_bytes") == 0) {
        if ((rc = set_int(key, v, 1024, 64L * 1024 * 1024, &x, err)) == FL_OK)
            cfg->max_body = (size_t)x;
        return rc;
    }
    if (strcmp(key, "log_requests") == 0) {
        if ((rc = set_int(key, v, 0, 1, &x, err)) == FL_OK)
            cfg->log_requests = (int)x;
        return rc;
    }
    if (strcmp(key, "ca_key_type") == 0 || strcmp(key, "device_key_type") == 0) {
        enum ca_key_type t;
        if (strcmp(v, "ec") == 0)
            t = CA_KEY_EC_P256;
        else if (strcmp(v, "rsa") == 0)
            t = CA_KEY_RSA_2048;
        else
            return fl_err_set(err, FL_INVALID_REQUEST, "config: %s must be ec or rsa", key);
        if (strcmp(key, "ca_key_type") == 0)
            cfg->ca_key_type = t;
        else
            cfg->device_key_type = t;
        return FL_OK;
    }
    if (strcmp(key, "device_cert_days") == 0) {
        if ((rc = set_int(key, v, 1, 36500, &x, err)) == FL_OK)
            cfg->device_cert_days = (int)x;
        return rc;
    }
    if (strcmp(key, "server_sans") == 0) {
        /* names and addresses separated by commas; ca_issue_server judges
         * each entry, here only the shape of the list */
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr(".-_:*, ", *p))
                return fl_err_set(err, FL_INVALID_REQUEST,
                                  "config: server_sans is a comma list of host names and IP addresses");
        return set_str(key, v, cfg->server_sans, sizeof(cfg->server_sans), err);
    }
    if (strcmp(key, "broker") == 0) {
        if (strcmp(v, "auto") == 0)
            cfg->broker = BROKER_AUTO;
        else if (strcmp(v, "on") == 0)
            cfg->broker = BROKER_ON;
        else if (strcmp(v, "off") == 0)
            cfg->broker = BROKER_OFF;
        else
            return fl_err_set(err, FL_INVALID_REQUEST, "config: broker must be on, off or auto");
        return FL_OK;
    }
    if (strcmp(key, "broker_bin") == 0 || strcmp(key, "broker_plugin") == 0) {
        /* the generated mosquitto.conf names the plugin on one line */
        if (strpbrk(v, "\r\n") != NULL)
            return fl_err_set(err, FL_INVALID_REQUEST, "config: %s must be a path", key);
        if (strcmp(key, "broker_bin") == 0)
            return set_str(key, v, cfg->broker_bin, sizeof(cfg->broker_bin), err);
        return set_str(key, v, cfg->broker_plugin, sizeof(cfg->broker_plugin), err);
    }
    if (strcmp(key, "broker_wrapper") == 0)
        return set_str(key, v, cfg->broker_wrapper, sizeof(cfg->broker_wrapper), err);
    if (strcmp(key, "mqtt_bind") == 0) {
        unsigned char a[16];
        if (inet_pton(AF_INET, v, a) != 1 && inet_pton(AF_INET6, v, a) != 1)
            return fl_err_set(err, FL_INVALID_REQUEST, "config: mqtt_bind must be an IPv4 or IPv6 address");
        return set_str(key, v, cfg->mqtt_bind, sizeof(cfg->mqtt_bind), err);
    }
    if (strcmp(key, "broker_tls_session_tickets") == 0) {
        if (strcmp(v, "on") == 0)
            cfg->broker_tls_session_tickets = 1;
        else if (strcmp(v, "off") == 0)
            cfg->broker_tls_session_tickets = 0;
        else
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "config: broker_tls_session_tickets must be on or off");
        return FL_OK;
    }
    if (strcmp(key, "provisioning_token_ttl_s") == 0) {
        if ((rc = set_int(key, v, 1, 86400, &x, err)) == FL_OK)
            cfg->provisioning_token_ttl_s = (int)x;
        return rc;
    }
    if (strcmp(key, "hook_ca_file") == 0) {
        /* passed on to the broker plugin on one line of mosquitto.conf */
        if (strpbrk(v, " \t\r\n") != NULL)
            return fl_err_set(err, FL_INVALID_REQUEST, "config: hook_ca_file must be a path without spaces");
        return set_str(key, v, cfg->hook_ca_file, sizeof(cfg->hook_ca_file), err);
    }
    return fl_err_set(err, FL_INVALID_REQUEST, "config: unknown setting '%.64s'", key);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

enum fl_code config_parse(struct daemon_config *cfg, const char *text, size_t len, struct fl_err *err)
{
    int lineno = 0;
    size_t i = 0;
    char line[1024];
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        lineno++;
        size_t n = j - i;
        if (n >= sizeof(line))
            return fl_err_set(err, FL_INVALID_REQUEST, "config line %d is too long", lineno);
        memcpy(line, text + i, n);
        line[n] = '\0';
        i = j + 1;
        if (memchr(line, '\0', n) != NULL)
            return fl_err_set(err, FL_INVALID_REQUEST, "config line %d contains a NUL byte", lineno);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL)
            return fl_err_set(err, FL_INVALID_REQUEST, "config line %d: expected key = value", lineno);
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        enum fl_code rc = apply(cfg, k, v, err);
        if (rc)
            return rc;
    }
    return FL_OK;
}

static enum fl_code load_file(struct daemon_config *cfg, const char *path, int must_exist, struct fl_err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (!must_exist)
            return FL_OK;
        return fl_err_set(err, FL_INVALID_REQUEST, "cannot read config file %s", path);
    }
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    int big = !feof(f);
    fclose(f);
    if (big)
        return fl_err_set(err, FL_INVALID_REQUEST, "config file %s is larger than 64 KiB", path);
    return config_parse(cfg, buf, n, err);
}

enum fl_code config_load(struct daemon_config *cfg, struct fl_err *err)
{
    static const char *const env_keys[] = {"region",
                                           "account_id",
                                           "endpoint_host",
                                           "http_bind",
                                           "http_port",
                                           "mqtt_port",
                                           "http_threads",
                                           "max_body_bytes",
                                           "log_requests",
                                           "ca_key_type",
                                           "device_key_type",
                                           "device_cert_days",
                                           "server_sans",
                                           "broker",
                                           "broker_bin",
                                           "broker_plugin",
                                           "broker_wrapper",
                                           "mqtt_bind",
                                           "broker_tls_session_tickets",
                                           "hook_ca_file",
                                           "provisioning_token_ttl_s",
                                           NULL};
    memset(cfg, 0, sizeof(*cfg));
    core_config_defaults(&cfg->core);
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./var");
    snprintf(cfg->http_bind, sizeof(cfg->http_bind), "127.0.0.1");
    cfg->http_port = 8080;
    cfg->http_threads = 4;
    cfg->max_body = 1024 * 1024;
    cfg->ca_key_type = CA_KEY_EC_P256;
    cfg->provisioning_token_ttl_s = 3600;
    cfg->device_key_type = CA_KEY_RSA_2048;
    cfg->device_cert_days = 365;
    cfg->broker = BROKER_AUTO;
    snprintf(cfg->broker_bin, sizeof(cfg->broker_bin), "/usr/sbin/mosquitto");
    snprintf(cfg->mqtt_bind, sizeof(cfg->mqtt_bind), "127.0.0.1");
    const char *dd = getenv("FLEETD_DATA_DIR");
    if (dd && *dd && set_str("FLEETD_DATA_DIR", dd, cfg->data_dir, sizeof(cfg->data_dir), err))
        return err->code;
    const char *cf = getenv("FLEETD_CONFIG");
    enum fl_code rc;
    if (cf && *cf) {
        snprintf(cfg->config_file, sizeof(cfg->config_file), "%s", cf);
        rc = load_file(cfg, cf, 1, err);
    } else {
        snprintf(cfg->config_file, sizeof(cfg->config_file), "%s/fleetd.conf", cfg->data_dir);
        rc = load_file(cfg, cfg->config_file, 0, err);
    }
    if (rc)
        return rc;
    if (dd && *dd) /* the environment beats a data_dir line in the file */
        snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", dd);
    for (int i = 0; env_keys[i]; i++) {
        char name[64] = "FLEETD_";
        size_t o = strlen(name);
        for (const char *p = env_keys[i]; *p && o < sizeof(name) - 1; p++)
            name[o++] = (char)toupper((unsigned char)*p);
        name[o] = '\0';
        const char *v = getenv(name);
        if (v && *v && (rc = apply(cfg, env_keys[i], v, err)) != FL_OK)
            return rc;
    }
    return FL_OK;
}
