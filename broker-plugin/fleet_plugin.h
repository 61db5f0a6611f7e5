/*
 * fleet_plugin.h - the one internal header of mosquitto_fleet.so: the
 * plugin state (struct fp_plugin, reached through the callbacks' userdata;
 * the plugin has no static state), the per-client context (struct fp_ctx)
 * and the functions the plugin's files share, one banner per file.
 *
 * Everything runs on the broker's only thread. The per-message path
 * (acl_cb.c) reads contexts and compiled policies and never allocates or
 * touches SQL; everything that does (connect, the outbox, connectivity
 * writes) happens in BASIC_AUTH, CONTROL and rate-limited TICK work.
 */
#ifndef FP_FLEET_PLUGIN_H
#define FP_FLEET_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "policy_eval.h"

#define FP_EXPORT __attribute__((visibility("default")))

#define FP_CLIENT_ID_MAX 128  /* AWS IoT: client ids are at most 128 bytes */
#define FP_DRAIN_MS 500       /* safety-net outbox drain from TICK */
#define FP_FLUSH_MS 250       /* connectivity batch flush from TICK */
#define FP_BUSY_MS 5          /* SQLite busy timeout on the broker thread */
#define FP_SESSION_TTL_S 3600 /* keep an offline persistent session's context (AWS default expiry) */
#define FP_WORK_BUDGET_MS 20  /* recompiles per TICK before yielding to clients */
#define FP_OUTBOX_BATCH 256   /* outbox rows per read */
#define FP_QUEUE_MAX 65536    /* pending connectivity updates kept while the database is busy */
#define FP_PCACHE_IDLE 10000  /* compiled policy sets kept for devices that are not connected */
#define FP_PCACHE_TTL_S 3600  /* ... for at most this long */
#define FP_PCACHE_SLOTS 1024  /* per-certificate invalidation counters (a power of two) */
#define FP_DOC_CACHE 256      /* distinct policy documents kept parsed */
#define FP_JITR_MAX 64        /* just-in-time registrations in flight (jitr.c) */

enum fp_state {
    FP_LIVE = 1, /* connected, the current connection of its client id */
    FP_GONE,     /* disconnected, or superseded by a newer connection with the same client id
                  * (a takeover); freed by the sweep, an offline persistent session after its TTL */
};

/* AWS disconnectReason values the broker can tell apart. */
enum fp_reason {
    FP_R_NONE = 0,
    FP_R_CLIENT_INITIATED,   /* CLIENT_INITIATED_DISCONNECT */
    FP_R_CONNECTION_LOST,    /* CONNECTION_LOST */
    FP_R_DUPLICATE_CLIENTID, /* DUPLICATE_CLIENTID */
    FP_R_SERVER_INITIATED,   /* SERVER_INITIATED_DISCONNECT */
    FP_R_KEEP_ALIVE_TIMEOUT, /* MQTT_KEEP_ALIVE_TIMEOUT */
    FP_R_AUTH_ERROR,         /* AUTH_ERROR */
    FP_R_CLIENT_ERROR,       /* CLIENT_ERROR */
    FP_R_FORBIDDEN_ACCESS,   /* FORBIDDEN_ACCESS */
    FP_R_COUNT
};

/* A compiled policy set and the key it was compiled for, shared by the
 * contexts that use it (refs) and the policy cache (pcache.c), which holds
 * one more reference while the entry is cached. Entries of connected
 * clients cost only this header (the set is the one the context needs
 * anyway); idle entries (only the cache holds them) are bounded in number
 * and age. */
struct fp_pol {
    struct fp_pol *next;          /* hash chain of the cache */
    struct fp_pol *older, *newer; /* the idle list, oldest first */
    struct policy_set *set;       /* owned; never NULL */
    uint64_t ggen;                /* the cache's global generation when compiled */
    uint32_t cgen;                /* the generation of its certificate's slot when compiled */
    uint32_t refs;                /* contexts using it, + 1 while cached */
    uint32_t hash;                /* of certificate id and client id */
    uint8_t cached;               /* in the cache's hash */
    uint8_t idle;                 /* on the idle list: cached, and no context uses it */
    uint8_t by_ip;                /* the set read aws:SourceIp: the address is part of the key */
    int64_t idle_since;           /* monotonic ms, while on the idle list */
    char cert_id[65];
    char key[]; /* client id, NUL, then (by_ip) the source address, NUL */
};

struct fp_pcache {
    struct fp_pol **buckets;
    uint32_t mask;                  /* buckets - 1 (a power of two) */
    uint32_t count;                 /* cached entries */
    struct fp_pol *oldest, *newest; /* idle list */
    uint32_t nidle;
    uint32_t max_idle;              /* 0: nothing is cached */
    int64_t ttl_ms;                 /* idle entries older than this are dropped */
    uint64_t ggen;                  /* bumped by a change that may concern every client */
    uint32_t cgen[FP_PCACHE_SLOTS]; /* bumped by a change for a certificate of that slot */
};

/* One client connection (or offline persistent session) the plugin
 * authenticated. Keyed by client id in struct fp_clients; the connection
 * pointer tells a context from the one it superseded (mosquitto reuses
 * struct mosquitto addresses at once, so never key by pointer alone). */
struct fp_ctx {
    struct fp_ctx *next;    /* hash chain, newest first */
    struct fp_ctx *gnext;   /* sweep list (FP_GONE only) */
    const void *conn;       /* the struct mosquitto * of this connection */
    struct policy_set *set; /* compiled policies (pol->set, read per message); NULL = deny everything */
    struct fp_pol *pol;     /* the reference that keeps set alive; NULL with set */
    uint64_t gen;           /* unique and increasing: presence versionNumber, deferred work */
    int64_t connected_ms;   /* wall clock */
    int64_t expire_ms;      /* FP_GONE: free after this (monotonic clock) */
    uint32_t hash;
    uint8_t state;    /* enum fp_state */
    uint8_t internal; /* fleetd over the unix socket: trusted */
    uint8_t durable;  /* clean session false: the broker keeps the session after disconnect */
    uint8_t kick;     /* disconnect it from the next TICK */
    uint8_t stale;    /* re-check certificate and recompile policies from TICK */
    uint8_t reason;   /* enum fp_reason decided by the plugin (kick, auth), or NONE */
    uint8_t hint;     /* enum fp_reason learnt from the broker's log line, or NONE */
    char cert_id[65]; /* certificateId (hex SHA-256 of the DER); "" for internal clients */
    char session_id[37];
    char ip[48];
    char client_id[]; /* NUL-terminated */
};

struct fp_clients {
    struct fp_ctx **buckets;
    uint32_t mask;       /* buckets - 1 (a power of two) */
    uint32_t count;      /* contexts in the table (every state) */
    uint32_t live;       /* FP_LIVE device contexts */
    struct fp_ctx *gone; /* FP_GONE contexts, for the sweep */
};

/* A connectivity change waiting for the batched write. */
struct fp_conn_update {
    char thing[FP_CLIENT_ID_MAX + 1];
    char session[37];
    char principal[65];
    int64_t ts_ms;
    uint8_t connected;
    uint8_t reason; /* enum fp_reason */
};

struct fp_options {
    char db_path[1024];  /* plugin_opt_db_path (required) */
    char socket[512];    /* plugin_opt_socket: the unix-socket listener of fleetd; "" = none */
    char broker_id[64];  /* plugin_opt_broker_id: outbox cursor name */
    char region[32];     /* plugin_opt_region */
    char account_id[16]; /* plugin_opt_account_id */
    int busy_ms;         /* plugin_opt_busy_timeout_ms */
    int session_ttl_s;   /* plugin_opt_session_ttl_s */
    int drain_ms;        /* plugin_opt_drain_interval_ms */
    int pcache_idle;     /* plugin_opt_policy_cache: idle compiled sets kept (0: no cache) */
    int pcache_ttl_s;    /* plugin_opt_policy_cache_ttl_s */
    char ca_dir[1024];   /* plugin_opt_ca_dir: fleetd's DATA_DIR/ca, the CA that signs; "" = none */
    int workers;         /* plugin_opt_workers: worker threads (worker.h) */
    int token_ttl_s;     /* plugin_opt_provisioning_token_ttl_s: ownership token lifetime */
    /* plugin_opt_hook_ca_file: CAs trusted for https hooks besides the system store ("" = none) */
    char hook_ca_file[1024];
};

struct fp_stats {
    uint64_t auth_ok, auth_denied, acl_checks, acl_denied, kicks, rows, recompiles, flushes;
    uint64_t pcache_hits, pcache_misses, pcache_stale, pcache_evicted, pcache_unsettled;
};

struct fp_plugin {
    void *id; /* mosquitto_plugin_id_t * */
    struct fl_core *core;
    int own_core; /* core opened by plugin_open, closed by plugin_close */
    struct fp_options opt;
    struct fp_clients clients;
    struct fp_pcache pcache;
    struct evp_md_st *sha256;      /* EVP_MD fetched once (certificate ids) */
    struct policy_doc_cache *docs; /* parsed policy documents (policy_doc.h), for every compile */
    /* monotonic milliseconds, for rate limits and TTLs (tests replace it) */
    int64_t (*mono_ms)(void *ctx);
    void *mono_ctx;
    uint64_t gen;
    int64_t cursor;     /* last outbox id handled */
    int cursor_loaded;  /* cursor read from the database */
    int64_t drained_to; /* last id handled in the current drain (saved as the cursor) */
    int64_t last_drain; /* monotonic ms */
    int64_t last_flush;
    int64_t last_sweep;
    uint32_t kicks_pending;
    uint32_t stale_pending;
    uint32_t stale_bucket; /* where the budgeted recompile scan resumes */
    int64_t saved_cursor;  /* cursor value last written to the database */
    int drain_more;        /* the last drain stopped at its bound: drain again next tick */
    /* certificates named by the cert_status / authz rows of one outbox read
     * (recompiled after the read, outside its transaction) */
    char targets[FP_OUTBOX_BATCH][65];
    size_t ntargets;
    int target_all;
    struct fp_conn_update *q;
    size_t qn, qcap;
    struct fp_stats stats;
    /* fleet provisioning over MQTT (provision_cb.c) */
    struct fp_workers *workers; /* worker.c; NULL when not started */
    struct ca *ca;              /* the CA that signs device certificates, or NULL */
    int own_ca;                 /* opened by plugin_init, closed by plugin_close */
    struct fl_http_post http;   /* outbound calls of the worker cores (pre-provisioning hooks) */
    int64_t last_prov_sweep;    /* monotonic ms of the last unclaimed-certificate sweep */
    int prov_sweeping;          /* a sweep job is queued or running */
    /* just-in-time registrations queued or running on a worker (jitr.c):
     * at most one per certificate id, at most FP_JITR_MAX at once */
    char jitr_pending[FP_JITR_MAX][65];
    uint32_t jitr_npending;
};

/* ==== plugin.c: entry points, options, lifecycle ========================== */

/* Fills o with defaults, then applies the key/value options (keys without
 * the "plugin_opt_" prefix). Unknown keys are an error (a typo must not
 * silently open the wrong database). Returns 0, or -1 with msg filled. */
struct mosquitto_opt;
int plugin_parse_options(struct fp_options *o, const struct mosquitto_opt *opts, int n, char *msg,
                         size_t msglen);

/* Sets up p over core (borrowed when own is 0, else closed by
 * plugin_close), marks every thing offline, loads the outbox cursor.
 * Returns FL_OK or an error (err filled). */
enum fl_code plugin_open(struct fp_plugin *p, const struct fp_options *o, struct fl_core *core, int own,
                         struct fl_err *err);
/* Flushes what is queued, marks every thing offline, frees every context
 * and closes an owned core. p can be opened again. */
void plugin_close(struct fp_plugin *p);
int64_t plugin_mono_ms(struct fp_plugin *p);

/* ==== clients.c: the context table ======================================== */

/* 1 when id may be a device's client id: 1..128 bytes, none of '+', '#',
 * '/' (they would act as wildcards or levels once substituted into topic
 * filters, G14). */
int clients_id_ok(const char *id);

/* The context of connection conn with client id id (newest first; FP_GONE
 * ones included), or NULL. No allocation. */
struct fp_ctx *clients_find(const struct fp_clients *t, const void *conn, const char *id);
/* The newest context with client id id that is FP_LIVE, or NULL. */
struct fp_ctx *clients_live(const struct fp_clients *t, const char *id);
/* The newest context with client id id in any state, or NULL. */
struct fp_ctx *clients_newest(const struct fp_clients *t, const char *id);

/* Allocates a context for id (gen from p, state FP_LIVE, no set) and
 * inserts it at the head of its chain. NULL when out of memory. */
struct fp_ctx *clients_add(struct fp_plugin *p, const void *conn, const char *id);
/* Moves ctx to FP_GONE and onto the sweep list, to be freed once
 * expire_ms (monotonic) has passed. */
void clients_retire(struct fp_plugin *p, struct fp_ctx *ctx, int64_t expire_ms);
/* Frees FP_GONE contexts whose time has come (all of them when force).
 * Returns how many were freed. */
size_t clients_sweep(struct fp_plugin *p, int force);
/* Frees every context and the table. */
void clients_free_all(struct fp_plugin *p);

/* The policies of certificate cert_id for client id and source address ip
 * (NULL or "": unknown): from the policy cache when use_cache and a valid
 * entry exists (pcache_get), else compiled (policies_compile_for_principal)
 * and cached; either way iot:Connect is checked for the client id:
 * FL_ACCESS_DENIED when not allowed (refusals are not cached). *out
 * receives one reference (pcache_unref, or hand it to clients_set_pol).
 * Returns FL_OK, FL_ACCESS_DENIED, FL_NOT_FOUND (certificate gone),
 * FL_MALFORMED_POLICY, FL_INTERNAL (out of memory) or a store error
 * (FL_UNAVAILABLE = busy, retry). The certificate's status is not checked
 * here. */
enum fl_code clients_compile(struct fp_plugin *p, const char *cert_id, const char *id, const char *ip,
                             int use_cache, struct fp_pol **out, struct fl_err *err);
/* Makes pol (its reference is taken over; NULL = deny everything) the
 * policies of ctx, releasing the previous ones. */
void clients_set_pol(struct fp_plugin *p, struct fp_ctx *ctx, struct fp_pol *pol);

/* Marks every context whose certificate is cert_id (NULL: every context)
 * for a re-check by clients_refresh_stale. Returns how many. */
size_t clients_mark_stale(struct fp_plugin *p, const char *cert_id);
/* Same for the certificates targets[0..n) (sorted here), or every context
 * when all. */
size_t clients_mark_stale_set(struct fp_plugin *p, char (*targets)[65], size_t n, int all);

/* Calls fn for every context, in bucket order; fn must not add or free
 * contexts (retiring is fine). Stops when fn returns non-zero and returns
 * that value. */
typedef int (*clients_fn)(struct fp_plugin *p, struct fp_ctx *ctx, void *arg);
int clients_each(struct fp_plugin *p, clients_fn fn, void *arg);

/* Bytes held for ctx: the context and its compiled policy set. */
size_t clients_ctx_bytes(const struct fp_ctx *ctx);

/* Re-checks and recompiles stale contexts (certificate usable, policies,
 * iot:Connect) until budget_ms (monotonic) is spent; unusable
 * certificates and failed compiles deny everything and are kicked.
 * Returns FL_OK, or FL_UNAVAILABLE when the store was busy (retry). */
enum fl_code clients_refresh_stale(struct fp_plugin *p, int64_t budget_ms);

/* ==== pcache.c: compiled policies by (certificate, client id[, address]) == */

/* Validity: an entry is used only while no authz or cert_status outbox row
 * that may concern it has been handled since it was compiled (a row for a
 * certificate bumps that certificate's slot counter, a row for everyone
 * the global one: pcache_invalidate), and only when no outbox row is
 * waiting to be handled (control_cb_settled): a change is committed
 * together with its row, so a settled outbox means the registry holds no
 * change the entry has not seen. A hit is thus as fresh as a compile. */

/* Sets up an empty cache keeping at most max_idle idle entries for at most
 * ttl_s seconds (max_idle 0: nothing is cached, entries only carry their
 * references). */
void pcache_init(struct fp_pcache *pc, int max_idle, int ttl_s);
/* The valid cached entry for the key, with one more reference for the
 * caller, or NULL. Entries found invalid are dropped. No SQL. */
struct fp_pol *pcache_get(struct fp_plugin *p, const char *cert_id, const char *id, const char *ip);
/* Wraps set (taken over) in an entry for the key, caches it (replacing
 * entries for the same key) and returns it with one reference for the
 * caller; NULL when out of memory (set is then freed). */
struct fp_pol *pcache_put(struct fp_plugin *p, const char *cert_id, const char *id, const char *ip,
                          struct policy_set *set);
/* Releases one reference (NULL is fine). */
void pcache_unref(struct fp_plugin *p, struct fp_pol *pol);
/* A change for certificate cert_id (NULL: for every client) was handled:
 * entries compiled before it are no longer used. */
void pcache_invalidate(struct fp_plugin *p, const char *cert_id);
/* Drops idle entries older than the TTL (from TICK). Returns how many. */
size_t pcache_expire(struct fp_plugin *p);
/* Drops the cache's references (entries still used by contexts live on
 * until those release them) and its table. */
void pcache_free_all(struct fp_plugin *p);

/* ==== auth_cb.c: MOSQ_EVT_BASIC_AUTH ====================================== */

int auth_cb_basic(int event, void *event_data, void *userdata);
/* Counts and logs a refused connection ("refused client ID from ADDR:
 * why[: detail]", detail may be NULL); returns MOSQ_ERR_AUTH. jitr.c's
 * refusals go through it too. */
int auth_cb_refuse(struct fp_plugin *p, const char *id, const char *addr, const char *why,
                   const char *detail);

/* ==== acl_cb.c: MOSQ_EVT_ACL_CHECK ======================================== */

int acl_cb_check(int event, void *event_data, void *userdata);
/* The decision for ctx (NULL = unknown client): MOSQ_ERR_SUCCESS or
 * MOSQ_ERR_ACL_DENIED. access is MOSQ_ACL_*. No allocation, no SQL. */
int acl_cb_decide(const struct fp_ctx *ctx, int access, const char *topic, bool retain);
/* Learns a disconnect reason from a broker log line ("Client X
 * disconnected." ...) delivered to an internal subscriber of
 * $SYS/broker/log/#. Returns the reason found, or FP_R_NONE. */
enum fp_reason acl_cb_log_line(struct fp_plugin *p, const char *line, size_t len);

/* ==== control_cb.c: MOSQ_EVT_CONTROL and the outbox ======================= */

int control_cb_kick(int event, void *event_data, void *userdata);
/* 1 when every outbox row committed so far has been handled (the cursor is
 * loaded and no row follows it), 0 otherwise or when the store is busy.
 * One indexed read. */
int control_cb_settled(struct fp_plugin *p);
/* Handles outbox rows after the cursor (publish, cert_status, authz), then
 * saves the cursor. Kicks are only marked here (TICK performs them).
 * Returns FL_OK, or a store error (the rest is retried later). */
enum fl_code control_cb_drain(struct fp_plugin *p);

/* ==== tick_cb.c: MOSQ_EVT_TICK ============================================= */

int tick_cb(int event, void *event_data, void *userdata);
/* The TICK work, callable from tests: drain when due (or when forced),
 * recompile stale contexts, kick, flush connectivity, sweep. */
void tick_cb_run(struct fp_plugin *p, int force);

/* ==== presence.c: connectivity and presence events ======================== */

int presence_cb_disconnect(int event, void *event_data, void *userdata);
/* AWS name of a reason ("CONNECTION_LOST" ...); NULL for FP_R_NONE. */
const char *presence_reason_name(enum fp_reason r);
/* Publishes $aws/events/presence/connected/<id> and queues the
 * connectivity update. */
void presence_connected(struct fp_plugin *p, const struct fp_ctx *ctx);
/* Publishes .../disconnected/<id> with reason; queues the connectivity
 * update unless queue_update is 0 (a takeover: the thing stays connected). */
void presence_disconnected(struct fp_plugin *p, const struct fp_ctx *ctx, enum fp_reason reason,
                           int queue_update);
/* Builds a presence payload into buf; returns its length, or 0 when it
 * does not fit. */
size_t presence_payload(char *buf, size_t cap, const struct fp_ctx *ctx, int connected, int64_t ts_ms,
                        enum fp_reason reason);
/* Writes queued connectivity updates in one transaction. Returns FL_OK or
 * the store error (then the queue is kept for the next try). */
enum fl_code presence_flush(struct fp_plugin *p);

/* ==== jitr.c: just-in-time registration and provisioning ================= */

/* BASIC_AUTH of a certificate the registry does not know (cert_id): when
 * its issuer is a registered ACTIVE CA with auto-registration ENABLE
 * (jitp_candidate, reads only), a worker job registers it (and applies the
 * CA's JITP template: jitp_register), and TICK publishes
 * $aws/events/certificates/registered/<caCertificateId> once it is done.
 * One job per certificate id at a time. Always refuses the connection
 * (MOSQ_ERR_AUTH), as AWS refuses the first one. */
struct mosquitto;
int jitr_unknown(struct fp_plugin *p, struct mosquitto *client, const char *cert_id, const char *id,
                 const char *addr);

/* ==== message_cb.c: MOSQ_EVT_MESSAGE ====================================== */

/* Devices' PUBLISHes, after the WRITE ACL check allowed them: '$' topics
 * whose topic-table entry has a handler go to it; everything else is
 * routed as usual (one compare). */
int message_cb(int event, void *event_data, void *userdata);
/* Consumes a request the plugin answers: the broker routes it to
 * FP_SINK_TOPIC, which no client may subscribe to or receive, so nobody
 * (not the requester's own wildcard subscription either) sees it, and the
 * publisher gets a success PUBACK (0x10 on MQTT 5). Returns
 * MOSQ_ERR_SUCCESS, or MOSQ_ERR_NOMEM. */
int message_cb_consume(void *event_data);
#define FP_SINK_TOPIC "$fleet/sink"

/* ==== provision_cb.c: the fleet-provisioning MQTT API ===================== */

/* Every FP_PROV_SWEEP_MS, submits a worker job deleting certificates made
 * over MQTT and never provisioned (provisioning_sweep). From TICK. */
void provision_cb_tick(struct fp_plugin *p, int64_t now);
#define FP_PROV_SWEEP_MS 60000

#endif
