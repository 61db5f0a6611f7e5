/*
 * main.c - the fleetd command: `serve` (the default) runs the REST API and
 * supervises the MQTT broker (broker.h) until SIGINT/SIGTERM; `keys create
 * [--read-only] | list | revoke AKID` manage the access keys in the data
 * directory's database; `device create` makes a device's thing, certificate
 * and files (cli_device.h); `claim create` a fleet-provisioning claim
 * certificate and its files (cli_claim.h).
 *
 * First start creates the data directory (0700), the database (0600) and an
 * admin access key, and writes DATA_DIR/credentials (AWS shared-credentials
 * format, profile "fleetd") and DATA_DIR/connection.json for CI pipelines.
 * It also creates the built-in CA in DATA_DIR/ca (ca/ca.h: root ca.key +
 * ca.pem, and server.key + server.pem for the broker's TLS listener) and
 * registers the root as an ACTIVE CA certificate; the CA key itself stays
 * inside ca/.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "webhook.h"
#include "broker.h"
#include "certificates.h"
#include "cli_claim.h"
#include "cli_device.h"
#include "cli_files.h"
#include "config.h"
#include "connectivity.h"
#include "core.h"
#include "dispatch.h"
#include "http_server.h"
#include "keys.h"
#include "kick.h"

#define FLEETD_VERSION "0.1.0"

static int usage(FILE *f)
{
    fprintf(f, "usage: fleetd [serve]\n"
               "       fleetd keys create [--read-only]\n"
               "       fleetd keys list\n"
               "       fleetd keys revoke ACCESS_KEY_ID\n"
               "       fleetd device create NAME --policy POLICY|default --out DIR [--force]\n"
               "       fleetd claim create --template NAME --out DIR [--days N] [--force] [--data-dir D]\n"
               "       fleetd version\n"
               "Settings: FLEETD_DATA_DIR (./var), FLEETD_HTTP_PORT (8080), FLEETD_HTTP_BIND (127.0.0.1),\n"
               "FLEETD_MQTT_PORT (8883), FLEETD_BROKER (auto|on|off), FLEETD_REGION, FLEETD_ACCOUNT_ID,\n"
               "FLEETD_CONFIG; see docs/configuration.md.\n");
    return f == stderr ? 2 : 0;
}

static int open_db(const struct daemon_config *cfg, char *db_path, size_t n)
{
    if (cli_mkdir_p(cfg->data_dir, 0700) != 0) {
        fprintf(stderr, "fleetd: cannot create data directory %s: %s\n", cfg->data_dir, strerror(errno));
        return -1;
    }
    snprintf(db_path, n, "%s/fleetd.db", cfg->data_dir);
    return 0;
}

static int cmd_keys(const struct daemon_config *cfg, int argc, char **argv)
{
    char db[600];
    struct fl_core c;
    struct fl_err err;
    if (argc < 1)
        return usage(stderr);
    if (open_db(cfg, db, sizeof(db)) || core_open(&c, &cfg->core, db, NULL, &err)) {
        fprintf(stderr, "fleetd: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (strcmp(argv[0], "create") == 0) {
        int ro = argc > 1 && strcmp(argv[1], "--read-only") == 0;
        struct key_pair k;
        if (argc > 1 && !ro) {
            rc = usage(stderr);
        } else if (keys_create(&c, ro, 0, &k, &err)) {
            fprintf(stderr, "fleetd: %s\n", err.msg);
            rc = 1;
        } else {
            printf("{\"accessKeyId\": \"%s\", \"secretAccessKey\": \"%s\", \"readOnly\": %s}\n",
                   k.access_key_id, k.secret, ro ? "true" : "false");
        }
    } else if (strcmp(argv[0], "list") == 0) {
        json_t *arr = NULL;
        if (keys_list(&c, &arr, &err)) {
            fprintf(stderr, "fleetd: %s\n", err.msg);
            rc = 1;
        } else {
            json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
            putchar('\n');
            json_decref(arr);
        }
    } else if (strcmp(argv[0], "revoke") == 0 && argc == 2) {
        if (keys_revoke(&c, argv[1], &err)) {
            fprintf(stderr, "fleetd: %s\n", err.msg);
            rc = 1;
        } else {
            printf("revoked %s\n", argv[1]);
        }
    } else {
        rc = usage(stderr);
    }
    core_close(&c);
    return rc;
}

/* Reads a small text file (a PEM); NULL when missing or unreadable. */
static char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    int ok = buf && !ferror(f) && feof(f);
    fclose(f);
    if (!ok) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

#define SERVER_SANS_MAX 32
#define SERVER_RENEW_S (30 * 86400)

/* The broker's TLS SANs: server_sans, else localhost, 127.0.0.1 and the
 * endpoint host. Entries point into buf. Returns the count. */
static int server_sans(const struct daemon_config *cfg, char *buf, size_t n, const char **sans)
{
    int k = 0;
    if (cfg->server_sans[0] == '\0') {
        snprintf(buf, n, "%s", cfg->core.endpoint_host);
        sans[k++] = "localhost";
        sans[k++] = "127.0.0.1";
        if (buf[0] && strcmp(buf, "localhost") != 0 && strcmp(buf, "127.0.0.1") != 0)
            sans[k++] = buf;
        return k;
    }
    snprintf(buf, n, "%s", cfg->server_sans);
    for (char *tok = strtok(buf, ","); tok && k < SERVER_SANS_MAX; tok = strtok(NULL, ",")) {
        while (*tok == ' ')
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && e[-1] == ' ')
            *--e = '\0';
        if (*tok)
            sans[k++] = tok;
    }
    return k;
}

/* Issues DATA_DIR/ca/server.{key,pem} when missing, not signed by the
 * current root, expiring within 30 days or not for the configured SANs. */
static int ensure_server_cert(struct ca *ca, const struct daemon_config *cfg)
{
    char key[1100], pem[1100], buf[1024];
    const char *sans[SERVER_SANS_MAX];
    struct fl_err err;
    struct x509_info info;
    snprintf(key, sizeof(key), "%s/server.key", ca_dir(ca));
    snprintf(pem, sizeof(pem), "%s/server.pem", ca_dir(ca));
    int n = server_sans(cfg, buf, sizeof(buf), sans);
    char *text = access(key, R_OK) == 0 ? read_small_file(pem) : NULL;
    int fresh = text && x509_verify_signed_by(text, ca_root_pem(ca), &err) == FL_OK &&
                x509_parse(text, &info, &err) == FL_OK &&
                info.not_after_s > (int64_t)time(NULL) + SERVER_RENEW_S && x509_sans_equal(text, sans, n);
    free(text);
    if (fresh)
        return 0;
    if (ca_issue_server(ca, sans, n, key, pem, (int64_t)time(NULL), &err)) {
        fprintf(stderr, "fleetd: server certificate: %s\n", err.msg);
        return -1;
    }
    fprintf(stderr, "fleetd: issued the broker TLS certificate %s for", pem);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %s", sans[i]);
    fputc('\n', stderr);
    return 0;
}

/* Opens (first start: creates) the built-in CA in DATA_DIR/ca; NULL after
 * saying why on stderr. */
static struct ca *open_ca(const struct daemon_config *cfg)
{
    char dir[600];
    struct fl_err err;
    snprintf(dir, sizeof(dir), "%s/ca", cfg->data_dir);
    struct ca_options o = {.root_key = cfg->ca_key_type,
                           .device_key = cfg->device_key_type,
                           .device_days = cfg->device_cert_days};
    struct ca *ca = ca_open(dir, &o, (int64_t)time(NULL), &err);
    if (ca == NULL)
        fprintf(stderr, "fleetd: %s\n", err.msg);
    return ca;
}

/* Opens (first start: creates) the built-in CA in DATA_DIR/ca, makes sure
 * the broker's server certificate exists, gives the CA to every core of the
 * pool and registers the root as an ACTIVE built-in CA certificate. */
static struct ca *start_ca(const struct daemon_config *cfg, struct core_pool *pool)
{
    struct fl_err err;
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/ca", cfg->data_dir);
    struct ca *ca = open_ca(cfg);
    if (ca == NULL)
        return NULL;
    if (!ca_was_created(ca) && ca_root_key_type(ca) != cfg->ca_key_type)
        fprintf(stderr, "fleetd: note: the root CA in %s uses %s (ca_key_type applies to new roots only)\n",
                dir, ca_key_desc(ca));
    if (ensure_server_cert(ca, cfg) != 0) {
        ca_close(ca);
        return NULL;
    }
    core_pool_set_ca(pool, ca);
    struct fl_core *c = core_pool_acquire(pool);
    enum fl_code rc = certificates_register_builtin_ca(c, ca_root_pem(ca), &err);
    core_pool_release(pool, c);
    if (rc) {
        fprintf(stderr, "fleetd: cannot register the built-in CA: %s\n", err.msg);
        core_pool_set_ca(pool, NULL);
        ca_close(ca);
        return NULL;
    }
    return ca;
}

/* Makes the bootstrap key on first start and (re)writes the credentials and
 * connection files, which always describe the running endpoint. */
static int write_client_files(struct fl_core *c, const struct daemon_config *cfg, const char *root_ca_path,
                              int port, int mqtt_port, int *created)
{
    struct key_pair k;
    struct fl_err err;
    *created = 0;
    if (keys_bootstrap(c, &k, &err) == FL_NOT_FOUND) {
        if (keys_create(c, 0, 1, &k, &err)) {
            fprintf(stderr, "fleetd: %s\n", err.msg);
            return -1;
        }
        *created = 1;
    }
    char path[600], abs_dir[512], buf[4096];
    if (realpath(cfg->data_dir, abs_dir) == NULL)
        snprintf(abs_dir, sizeof(abs_dir), "%s", cfg->data_dir);
    snprintf(path, sizeof(path), "%s/credentials", abs_dir);
    snprintf(buf, sizeof(buf), "[fleetd]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n",
             k.access_key_id, k.secret, cfg->core.region);
    if (cli_write_file(path, buf, 0600) != 0)
        return -1;
    json_t *j = json_pack("{s:s+, s:s, s:s, s:s, s:s, s:s}", "apiEndpoint", "http://", cfg->http_bind,
                          "region", cfg->core.region, "accountId", cfg->core.account_id, "accessKeyId",
                          k.access_key_id, "secretAccessKey", k.secret, "credentialsFile", path);
    char ep[128], root_abs[PATH_MAX];
    snprintf(ep, sizeof(ep), "http://%s:%d", cfg->http_bind, port);
    json_object_set_new(j, "apiEndpoint", json_string(ep));
    if (realpath(root_ca_path, root_abs) == NULL)
        snprintf(root_abs, sizeof(root_abs), "%s", root_ca_path);
    json_object_set_new(j, "rootCaPath", json_string(root_abs));
    if (mqtt_port > 0) { /* only when the broker runs (or is being restarted) */
        json_object_set_new(j, "mqttHost", json_string(cfg->core.endpoint_host));
        json_object_set_new(j, "mqttPort", json_integer(mqtt_port));
    }
    char *s = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    char cpath[600];
    snprintf(cpath, sizeof(cpath), "%s/connection.json", abs_dir);
    int rc = s ? cli_write_file(cpath, s, 0600) : -1;
    free(s);
    memset(k.secret, 0, sizeof(k.secret));
    return rc;
}

#define BROKER_START_MS 15000
#define BROKER_START_WRAPPED_MS 120000 /* valgrind is slow to start */
#define BROKER_STOP_MS 5000
#define BROKER_STOP_WRAPPED_MS 60000 /* valgrind's leak check at exit */
#define CA_SYNC_MS 1000

/* Starts the broker when it is wanted. *out = NULL when it is off. Returns 0,
 * or -1 when fleetd must not go on (broker = on and it cannot start, or a
 * stop signal arrived meanwhile). */
static int start_broker(const struct daemon_config *cfg, const char *bin, const char *plugin, struct ca *ca,
                        struct core_pool *pool, const sigset_t *stop_sigs, struct broker **out)
{
    struct fl_err err;
    *out = NULL;
    struct broker *b = broker_new(cfg, bin, plugin, ca_root_path(ca), &err);
    if (b == NULL) {
        fprintf(stderr, "fleetd: %s\n", err.msg);
        return cfg->broker == BROKER_ON ? -1 : 0;
    }
    struct fl_core *c = core_pool_acquire(pool);
    if (broker_sync_cas(b, c, &err) != FL_OK)
        fprintf(stderr, "fleetd: cannot export the registered CAs for the broker: %s\n", err.msg);
    core_pool_release(pool, c);
    int timeout = cfg->broker_wrapper[0] ? BROKER_START_WRAPPED_MS : BROKER_START_MS;
    if (broker_start(b, timeout, stop_sigs, &err) != FL_OK) {
        int interrupted = strcmp(err.msg, "interrupted") == 0;
        if (!interrupted)
            fprintf(stderr, "fleetd: %s\n", err.msg);
        if (interrupted || cfg->broker == BROKER_ON) {
            broker_free(b);
            return -1;
        }
        fprintf(stderr, "fleetd: serving REST without MQTT for now; the broker is retried with backoff\n");
    }
    *out = b;
    return 0;
}

static int cmd_serve(const struct daemon_config *given)
{
    char db[600];
    struct fl_err err;
    struct core_pool *pool = NULL;
    struct daemon_config run = *given;
    const struct daemon_config *cfg = &run;
    if (open_db(cfg, db, sizeof(db)))
        return 1;
    umask(077);
    /* Signals are taken synchronously by this thread; the server threads
     * inherit the blocked mask. SIGCHLD: the broker exited; SIGHUP is
     * forwarded to it. */
    sigset_t set, stop_sigs;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGTERM);
    set = stop_sigs;
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char bin[PATH_MAX], plugin[PATH_MAX], why[PATH_MAX + 64];
    int want = broker_wanted(cfg, bin, sizeof(bin), plugin, sizeof(plugin), why, sizeof(why));
    if (want < 0) {
        fprintf(stderr, "fleetd: broker = on, but %s\n", why);
        return 1;
    }
    if (want && run.core.mqtt_port == 0 && (run.core.mqtt_port = broker_pick_port(run.mqtt_bind)) <= 0) {
        fprintf(stderr, "fleetd: cannot find a free port for the broker on %s\n", run.mqtt_bind);
        return 1;
    }
    if (core_pool_open(&pool, cfg->http_threads, &cfg->core, db, &err)) {
        fprintf(stderr, "fleetd: %s\n", err.msg);
        return 1;
    }
    struct ca *ca = start_ca(cfg, pool);
    if (ca == NULL) {
        core_pool_close(pool);
        return 1;
    }
    struct broker *broker = NULL;
    if (want && start_broker(cfg, bin, plugin, ca, pool, &stop_sigs, &broker) != 0) {
        core_pool_close(pool);
        ca_close(ca);
        return 1;
    }

    /* dispatch kicks the plugin after outbox writes commit; the kick thread
     * also collects old outbox rows (with no broker: only that) */
    struct kick *kick = kick_create(broker ? broker_paths(broker)->sock : NULL, pool);
    /* the outbound HTTP client of pre-provisioning hooks, shared by the pool */
    struct webhook *hooks = webhook_new(cfg->hook_ca_file[0] ? cfg->hook_ca_file : NULL, &err);
    if (hooks == NULL)
        fprintf(stderr, "fleetd: %s: pre-provisioning hooks will fail\n", err.msg);
    struct fl_http_post hp = {0};
    if (hooks)
        webhook_http(hooks, &hp);
    core_pool_set_http(pool, &hp);
    struct http_app app = {
        .pool = pool, .max_body = cfg->max_body, .log_requests = cfg->log_requests, .kick = kick};
    struct http_server *srv =
        http_server_start(&app, cfg->http_bind, cfg->http_port, cfg->http_threads, &err);
    if (srv == NULL) {
        fprintf(stderr, "fleetd: %s\n", err.msg);
        kick_destroy(kick);
        broker_free(broker);
        core_pool_close(pool);
        webhook_free(hooks);
        ca_close(ca);
        return 1;
    }
    int port = http_server_port(srv), created = 0;
    struct fl_core *c = core_pool_acquire(pool);
    int frc = write_client_files(c, cfg, ca_root_path(ca), port, broker ? broker_port(broker) : 0, &created);
    core_pool_release(pool, c);
    if (frc != 0) {
        fprintf(stderr, "fleetd: cannot write client files in %s\n", cfg->data_dir);
        http_server_stop(srv);
        kick_destroy(kick);
        broker_free(broker);
        core_pool_close(pool);
        webhook_free(hooks);
        ca_close(ca);
        return 1;
    }
    fprintf(stderr,
            "fleetd %s listening on http://%s:%d (region %s, account %s)\n"
            "  %s: %s/credentials (profile fleetd); details: %s/connection.json\n"
            "  root CA (%s%s): %s; broker TLS: %s/server.pem\n"
            "  try:  AWS_SHARED_CREDENTIALS_FILE=%s/credentials AWS_PROFILE=fleetd "
            "aws iot list-things --endpoint-url http://%s:%d --region %s\n",
            FLEETD_VERSION, cfg->http_bind, port, cfg->core.region, cfg->core.account_id,
            created ? "created admin access key" : "admin access key", cfg->data_dir, cfg->data_dir,
            ca_was_created(ca) ? "created, " : "", ca_key_desc(ca), ca_root_path(ca), ca_dir(ca),
            cfg->data_dir, cfg->http_bind, port, cfg->core.region);
    if (broker)
        fprintf(stderr,
                "  MQTT: mqtts://%s:%d, mosquitto %s with %s (log %s)\n"
                "  a device:  fleetd device create my-device --policy default --out ./devices\n",
                cfg->core.endpoint_host, broker_port(broker),
                broker_pid(broker) > 0 ? "running" : "restarting", plugin, broker_paths(broker)->log);
    else
        fprintf(stderr, "  MQTT: off (%s)\n", why[0] ? why : "the broker could not be prepared");

    int sig = 0, next = broker ? broker_poll(broker) : -1;
    struct timespec last_sync;
    clock_gettime(CLOCK_MONOTONIC, &last_sync);
    for (;;) {
        int wait_ms = next;
        if (broker && (wait_ms < 0 || wait_ms > CA_SYNC_MS))
            wait_ms = CA_SYNC_MS;
        siginfo_t info;
        if (wait_ms < 0) {
            sig = sigwaitinfo(&set, &info);
        } else {
            struct timespec ts = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L};
            sig = sigtimedwait(&set, &info, &ts);
        }
        if (sig == SIGINT || sig == SIGTERM)
            break;
        if (sig == SIGHUP) {
            if (broker) {
                fprintf(stderr, "fleetd: SIGHUP: the broker reloads its configuration\n");
                broker_reload(broker);
            } else {
                fprintf(stderr, "fleetd: SIGHUP ignored (no broker)\n");
            }
        }
        if (broker == NULL)
            continue;
        next = broker_poll(broker);
        if (broker_died(broker)) {
            /* its devices lost their connections, and a killed broker said
             * nothing: GetThingConnectivityData must not wait for the restart */
            c = core_pool_acquire_writer(pool);
            enum fl_code wrc = connectivity_all_offline(c, core_now_ms(c), "CONNECTION_LOST", &err);
            enum fl_code crc = core_pool_release_writer(pool, c, &err);
            if (wrc != FL_OK || crc != FL_OK)
                fprintf(stderr, "fleetd: cannot mark the devices offline: %s\n", err.msg);
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - last_sync.tv_sec) * 1000 + (now.tv_nsec - last_sync.tv_nsec) / 1000000 >=
            CA_SYNC_MS) {
            last_sync = now;
            c = core_pool_acquire(pool);
            if (broker_sync_cas(broker, c, &err) != FL_OK)
                fprintf(stderr, "fleetd: cannot export the registered CAs for the broker: %s\n", err.msg);
            core_pool_release(pool, c);
        }
    }
    fprintf(stderr, "fleetd: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    http_server_stop(srv);
    kick_destroy(kick);
    if (broker) {
        int st = broker_stop(broker, cfg->broker_wrapper[0] ? BROKER_STOP_WRAPPED_MS : BROKER_STOP_MS);
        if (st > 0)
            fprintf(stderr, "fleetd: the broker exited with status %d\n", st);
        broker_free(broker);
    }
    core_pool_close(pool);
    webhook_free(hooks);
    ca_close(ca);
    return 0;
}

/* `fleetd device create ...` and `fleetd claim create ...` (run = cli_device
 * or cli_claim): one core with the CA, as serve has. */
static int cmd_device(const struct daemon_config *cfg, int argc, char **argv,
                      int (*run)(struct fl_core *, const struct daemon_config *, const char *, int, char **))
{
    char db[600];
    struct fl_core c;
    struct fl_err err;
    if (open_db(cfg, db, sizeof(db)))
        return 1;
    umask(077);
    if (core_open(&c, &cfg->core, db, NULL, &err)) {
        fprintf(stderr, "fleetd: %s\n", err.msg);
        return 1;
    }
    struct ca *ca = open_ca(cfg);
    if (ca == NULL) {
        core_close(&c);
        return 1;
    }
    c.ca = ca;
    int rc;
    if (certificates_register_builtin_ca(&c, ca_root_pem(ca), &err)) {
        fprintf(stderr, "fleetd: cannot register the built-in CA: %s\n", err.msg);
        rc = 1;
    } else {
        rc = run(&c, cfg, ca_root_path(ca), argc, argv);
    }
    c.ca = NULL;
    core_close(&c);
    ca_close(ca);
    return rc;
}

int main(int argc, char **argv)
{
    struct daemon_config cfg;
    struct fl_err err;
    if (argc > 1 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0))
        return usage(stdout);
    if (argc > 1 && strcmp(argv[1], "version") == 0) {
        printf("fleetd %s\n", FLEETD_VERSION);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "claim") == 0 && cli_claim_preparse(argc - 2, argv + 2))
        return 2;
    if (config_load(&cfg, &err)) {
        fprintf(stderr, "fleetd: %s\n", err.msg);
        return 2;
    }
    if (argc == 1 || strcmp(argv[1], "serve") == 0)
        return cmd_serve(&cfg);
    if (strcmp(argv[1], "keys") == 0)
        return cmd_keys(&cfg, argc - 2, argv + 2);
    if (strcmp(argv[1], "device") == 0)
        return cmd_device(&cfg, argc - 2, argv + 2, cli_device);
    if (strcmp(argv[1], "claim") == 0)
        return cmd_device(&cfg, argc - 2, argv + 2, cli_claim);
    return usage(stderr);
}
