/*
 * plugin.c - the entry points of mosquitto_fleet.so (plugin interface v5:
 * mosquitto_plugin_version/init/cleanup, the only exported symbols), its
 * options, its lifecycle and the registration of the callbacks. The
 * plugin's state lives in one struct fp_plugin handed to every callback as
 * userdata; nothing is static, so loading the plugin twice (as
 * per_listener_settings true would) cannot mix two states.
 *
 * Options (mosquitto.conf "plugin_opt_<key> <value>"; the broker refuses
 * keys shorter than 3 characters, G10):
 *   db_path            fleetd's database file (required)
 *   socket             path of fleetd's unix-socket listener: its clients are trusted
 *   broker_id          name of this broker's outbox cursor ("default")
 *   region, account_id must match fleetd's: they are part of every ARN
 *   busy_timeout_ms    SQLite busy timeout on the broker thread (5)
 *   session_ttl_s      how long an offline persistent session keeps its context (3600)
 *   drain_interval_ms  safety-net outbox drain interval (500)
 *   policy_cache       compiled policy sets kept for devices not connected (10000; 0: no cache)
 *   policy_cache_ttl_s ... for at most this long (3600)
 *   ca_dir             fleetd's DATA_DIR/ca: the CA that signs certificates made
 *                      over MQTT (fleet provisioning); absent: those requests fail
 *   workers            worker threads for slow requests (worker.h, 2)
 *   provisioning_token_ttl_s  lifetime of certificateOwnershipTokens and of
 *                      unclaimed certificates made over MQTT (3600, as AWS)
 *   hook_ca_file       PEM CA certificates trusted for https pre-provisioning
 *                      hooks besides the system trust store
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectivity.h"
#include "fleet_plugin.h"
#include "outbox.h"
#include "ca.h"
#include "policy_doc.h"
#include "provisioning.h"
#include "store.h"
#include "webhook.h"
#include "worker.h"

#define CLOSE_BUSY_MS 2000

FP_EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions);
FP_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                                    struct mosquitto_opt *options, int option_count);
FP_EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count);

/* ---- options -------------------------------------------------------------- */

static int set_str(char *dst, size_t cap, const char *key, const char *v, char *msg, size_t msglen)
{
    if (strlen(v) >= cap) {
        snprintf(msg, msglen, "plugin_opt_%s is too long (at most %zu bytes)", key, cap - 1);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int set_int(int *dst, int lo, int hi, const char *key, const char *v, char *msg, size_t msglen)
{
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < lo || n > hi) {
        snprintf(msg, msglen, "plugin_opt_%s must be an integer in %d..%d, not '%s'", key, lo, hi, v);
        return -1;
    }
    *dst = (int)n;
    return 0;
}

int plugin_parse_options(struct fp_options *o, const struct mosquitto_opt *opts, int n, char *msg,
                         size_t msglen)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->broker_id, sizeof(o->broker_id), "default");
    snprintf(o->region, sizeof(o->region), "us-east-1");
    snprintf(o->account_id, sizeof(o->account_id), "123456789012");
    o->busy_ms = FP_BUSY_MS;
    o->session_ttl_s = FP_SESSION_TTL_S;
    o->drain_ms = FP_DRAIN_MS;
    o->pcache_idle = FP_PCACHE_IDLE;
    o->pcache_ttl_s = FP_PCACHE_TTL_S;
    o->workers = FP_WORKERS_DEFAULT;
    o->token_ttl_s = PROVISIONING_TOKEN_SECONDS;
    for (int i = 0; i < n; i++) {
        const char *k = opts[i].key ? opts[i].key : "", *v = opts[i].value ? opts[i].value : "";
        int r;
        if (strcmp(k, "db_path") == 0)
            r = set_str(o->db_path, sizeof(o->db_path), k, v, msg, msglen);
        else if (strcmp(k, "socket") == 0)
            r = set_str(o->socket, sizeof(o->socket), k, v, msg, msglen);
        else if (strcmp(k, "broker_id") == 0)
            r = set_str(o->broker_id, sizeof(o->broker_id), k, v, msg, msglen);
        else if (strcmp(k, "region") == 0)
            r = set_str(o->region, sizeof(o->region), k, v, msg, msglen);
        else if (strcmp(k, "account_id") == 0)
            r = set_str(o->account_id, sizeof(o->account_id), k, v, msg, msglen);
        else if (strcmp(k, "busy_timeout_ms") == 0)
            r = set_int(&o->busy_ms, 0, 1000, k, v, msg, msglen);
        else if (strcmp(k, "session_ttl_s") == 0)
            r = set_int(&o->session_ttl_s, 0, 7 * 24 * 3600, k, v, msg, msglen);
        else if (strcmp(k, "drain_interval_ms") == 0)
            r = set_int(&o->drain_ms, 10, 60000, k, v, msg, msglen);
        else if (strcmp(k, "policy_cache") == 0)
            r = set_int(&o->pcache_idle, 0, 10000000, k, v, msg, msglen);
        else if (strcmp(k, "policy_cache_ttl_s") == 0)
            r = set_int(&o->pcache_ttl_s, 1, 7 * 24 * 3600, k, v, msg, msglen);
        else if (strcmp(k, "ca_dir") == 0)
            r = set_str(o->ca_dir, sizeof(o->ca_dir), k, v, msg, msglen);
        else if (strcmp(k, "workers") == 0)
            r = set_int(&o->workers, 1, 16, k, v, msg, msglen);
        else if (strcmp(k, "provisioning_token_ttl_s") == 0)
            r = set_int(&o->token_ttl_s, 1, 24 * 3600, k, v, msg, msglen);
        else if (strcmp(k, "hook_ca_file") == 0)
            r = set_str(o->hook_ca_file, sizeof(o->hook_ca_file), k, v, msg, msglen);
        else {
            /* a typo must not leave a default in place silently */
            snprintf(msg, msglen, "unknown option plugin_opt_%s", k);
            r = -1;
        }
        if (r)
            return -1;
    }
    if (o->db_path[0] == '\0') {
        snprintf(msg, msglen, "plugin_opt_db_path is required (fleetd's database file)");
        return -1;
    }
    if (o->broker_id[0] == '\0') {
        snprintf(msg, msglen, "plugin_opt_broker_id must not be empty");
        return -1;
    }
    if (strlen(o->account_id) != 12 || strspn(o->account_id, "0123456789") != 12) {
        snprintf(msg, msglen, "plugin_opt_account_id must be 12 digits");
        return -1;
    }
    if (o->region[0] == '\0' ||
        strspn(o->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(o->region)) {
        snprintf(msg, msglen, "plugin_opt_region must look like us-east-1");
        return -1;
    }
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

static int64_t mono_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    /* TICK reads it once per broker loop iteration, i.e. per few messages
     * under load: the coarse clock (a few ms resolution, enough for rate
     * limits of 100 ms and more and a 20 ms budget) is several times cheaper */
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t plugin_mono_ms(struct fp_plugin *p)
{
    return p->mono_ms(p->mono_ctx);
}

enum fl_code plugin_open(struct fp_plugin *p, const struct fp_options *o, struct fl_core *core, int own,
                         struct fl_err *err)
{
    memset(p, 0, sizeof(*p));
    p->opt = *o;
    p->core = core;
    p->own_core = own;
    p->mono_ms = mono_now;
    pcache_init(&p->pcache, o->pcache_idle, o->pcache_ttl_s);
    p->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL); /* NULL: auth_cb.c falls back to EVP_sha256() */
    p->docs = policy_doc_cache_new(FP_DOC_CACHE);   /* NULL: documents are parsed per compile */
    /* versionNumber of presence events: increasing per client id across
     * broker restarts, as long as fewer than 1000 clients connect per ms */
    p->gen = (uint64_t)core_now_ms(core) * 1000u;
    int64_t now = plugin_mono_ms(p);
    p->last_drain = p->last_flush = p->last_sweep = p->last_prov_sweep = now;
    /* Whatever a previous broker run left connected is not (a crash emits
     * no DISCONNECT events). Not fatal: the broker must come up. */
    if (connectivity_all_offline(core, core_now_ms(core), "CONNECTION_LOST", err))
        core_log(core, FL_LOG_WARN, "marking things offline at start: %s", err->msg);
    fl_err_clear(err);
    /* the first drain (kick or tick) delivers what waited while no broker
     * ran; a failure here is retried by that drain */
    if (outbox_cursor_get(core, o->broker_id, 0, &p->cursor, err) == FL_OK) {
        p->saved_cursor = p->cursor;
        p->cursor_loaded = 1;
    }
    fl_err_clear(err);
    return FL_OK;
}

void plugin_close(struct fp_plugin *p)
{
    if (p->core == NULL)
        return;
    /* first: finished jobs are answered, queued ones dropped, while
     * everything they use is still there */
    worker_stop(p);
    struct fl_err err;
    fl_err_clear(&err);
    const struct fp_stats *s = &p->stats;
    core_log(
        p->core, FL_LOG_INFO,
        "stopping: %llu connects accepted, %llu refused; policy cache %llu hits, %llu misses (%llu stale, "
        "%llu with outbox rows waiting), %llu evicted; %llu parsed policy documents reused",
        (unsigned long long)s->auth_ok, (unsigned long long)s->auth_denied,
        (unsigned long long)s->pcache_hits, (unsigned long long)s->pcache_misses,
        (unsigned long long)s->pcache_stale, (unsigned long long)s->pcache_unsettled,
        (unsigned long long)s->pcache_evicted, (unsigned long long)policy_doc_cache_hits(p->docs));
    /* shutting down: waiting for fleetd's lock stalls no client now */
    store_set_busy_timeout(p->core->st, CLOSE_BUSY_MS);
    /* a broker shutdown emits no DISCONNECT events (G2) */
    presence_flush(p);
    if (connectivity_all_offline(p->core, core_now_ms(p->core), "SERVER_INITIATED_DISCONNECT", &err))
        core_log(p->core, FL_LOG_WARN, "marking things offline: %s", err.msg);
    if (p->cursor_loaded && p->cursor != p->saved_cursor &&
        outbox_cursor_set(p->core, p->opt.broker_id, p->cursor, &err) == FL_OK)
        p->saved_cursor = p->cursor;
    clients_free_all(p);
    pcache_free_all(p);
    EVP_MD_free(p->sha256);
    p->sha256 = NULL;
    policy_doc_cache_free(p->docs);
    p->docs = NULL;
    free(p->q);
    p->q = NULL;
    p->qn = p->qcap = 0;
    if (p->own_ca) {
        ca_close(p->ca);
        p->core->ca = NULL;
    }
    p->ca = NULL;
    p->own_ca = 0;
    if (p->own_core) {
        core_close(p->core);
        free(p->core);
    }
    p->core = NULL;
}

/* ---- mosquitto entry points ---------------------------------------------- */

static void log_sink(void *ctx, enum fl_log_level lvl, const char *line)
{
    (void)ctx;
    static const int levels[] = {MOSQ_LOG_DEBUG, MOSQ_LOG_INFO, MOSQ_LOG_WARNING, MOSQ_LOG_ERR};
    mosquitto_log_printf(levels[lvl], "fleet: %s", line);
}

static const struct {
    int event;
    MOSQ_FUNC_generic_callback cb;
    const char *data;
} callbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, auth_cb_basic, NULL},
    {MOSQ_EVT_ACL_CHECK, acl_cb_check, NULL},
    {MOSQ_EVT_CONTROL, control_cb_kick, OUTBOX_KICK_TOPIC},
    {MOSQ_EVT_TICK, tick_cb, NULL},
    {MOSQ_EVT_DISCONNECT, presence_cb_disconnect, NULL},
    {MOSQ_EVT_MESSAGE, message_cb, NULL},
};
#define NCALLBACKS (sizeof(callbacks) / sizeof(callbacks[0]))

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++)
        if (supported_versions[i] == 5)
            return 5;
    return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options,
                          int option_count)
{
    char msg[256];
    struct fp_options o;
    if (plugin_parse_options(&o, options, option_count, msg, sizeof(msg))) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fleet: %s", msg);
        return MOSQ_ERR_INVAL;
    }
    struct fp_plugin *p = calloc(1, sizeof(*p));
    struct fl_core *core = calloc(1, sizeof(*core));
    if (p == NULL || core == NULL) {
        free(p);
        free(core);
        return MOSQ_ERR_NOMEM;
    }
    struct fl_config cfg;
    core_config_defaults(&cfg);
    snprintf(cfg.region, sizeof(cfg.region), "%s", o.region);
    snprintf(cfg.account_id, sizeof(cfg.account_id), "%s", o.account_id);
    struct fl_err err;
    fl_err_clear(&err);
    /* opened here, after the broker dropped privileges (G11): the WAL files
     * it creates belong to the broker's user */
    enum fl_code rc = core_open(core, &cfg, o.db_path, NULL, &err);
    if (rc) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fleet: %s", err.msg);
        free(p);
        free(core);
        return MOSQ_ERR_UNKNOWN;
    }
    core->log.write = log_sink;
    core->log.min = FL_LOG_INFO;
    rc = plugin_open(p, &o, core, 1, &err);
    if (rc) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fleet: %s", err.msg);
        core_close(core);
        free(core);
        free(p);
        return MOSQ_ERR_UNKNOWN;
    }
    /* from now on the broker serves clients on its one thread: never wait
     * long for fleetd's locks (retry on the next tick instead) */
    store_set_busy_timeout(core->st, o.busy_ms);
    p->id = identifier;
    /* fleet provisioning over MQTT: the CA signs, worker threads do the work.
     * Neither is fatal: the broker must come up; requests then fail. */
    if (o.ca_dir[0]) {
        struct ca_options co = {.no_create = 1}; /* fleetd creates the CA, never the plugin */
        p->ca = ca_open(o.ca_dir, &co, core_now_ms(core) / 1000, &err);
        if (p->ca == NULL)
            mosquitto_log_printf(MOSQ_LOG_WARNING,
                                 "fleet: no CA in %s (%s): certificates cannot be made over MQTT", o.ca_dir,
                                 err.msg);
        p->own_ca = p->ca != NULL;
        core->ca = p->ca;
    }
    /* the outbound HTTP client of pre-provisioning hooks (worker cores copy
     * p->http); freed by mosquitto_plugin_cleanup */
    struct webhook *wh = webhook_new(o.hook_ca_file[0] ? o.hook_ca_file : NULL, &err);
    if (wh == NULL)
        mosquitto_log_printf(MOSQ_LOG_WARNING, "fleet: %s: pre-provisioning hooks will fail", err.msg);
    else
        webhook_http(wh, &p->http);
    core->http = p->http;
    if (worker_start(p, o.workers) != 0)
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "fleet: cannot start %d worker threads: provisioning requests fail", o.workers);
    for (size_t i = 0; i < NCALLBACKS; i++) {
        int r = mosquitto_callback_register(identifier, callbacks[i].event, callbacks[i].cb,
                                            callbacks[i].data, p);
        if (r != MOSQ_ERR_SUCCESS) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "fleet: cannot register callback for event %d (%d)",
                                 callbacks[i].event, r);
            for (size_t j = 0; j < i; j++)
                mosquitto_callback_unregister(identifier, callbacks[j].event, callbacks[j].cb,
                                              callbacks[j].data);
            plugin_close(p);
            webhook_free(wh);
            free(p);
            return r;
        }
    }
    *userdata = p;
    mosquitto_log_printf(MOSQ_LOG_INFO, "fleet: plugin ready (database %s, broker id %s, trusted socket %s)",
                         o.db_path, o.broker_id, o.socket[0] ? o.socket : "none");
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
    (void)options, (void)option_count;
    struct fp_plugin *p = userdata;
    if (p == NULL)
        return MOSQ_ERR_SUCCESS;
    for (size_t i = 0; i < NCALLBACKS; i++)
        mosquitto_callback_unregister(p->id, callbacks[i].event, callbacks[i].cb, callbacks[i].data);
    plugin_close(p);
    if (p->http.post == webhook_post)
        webhook_free(p->http.ctx); /* after plugin_close: no worker is calling it */
    free(p);
    return MOSQ_ERR_SUCCESS;
}
