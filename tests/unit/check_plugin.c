/*
 * check_plugin.c - unit tests of the broker plugin (broker-plugin/) without
 * a broker: the topic table, client-id rules, options, the ACL mapping,
 * and the callbacks driven through a fake broker (the mosquitto_* functions
 * the plugin calls are defined here, link-time stubs in mosquitto's own
 * test style) over an in-memory database with a real built-in CA:
 * authentication, takeover, reload, internal clients, outbox rows
 * (publish, cert_status, authz), presence events, connectivity, durable
 * sessions, the broker log lines, and the memory and ACL cost per client.
 */
#include <ftw.h>
#include <malloc.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca.h"
#include "certificates.h"
#include "connectivity.h"
#include "fleet_plugin.h"
#include "outbox.h"
#include "policies.h"
#include "principals.h"
#include "store.h"
#include "suites.h"
#include "testutil.h"
#include "thing_groups.h"
#include "things.h"
#include "topics.h"

#define A "arn:aws:iot:us-east-1:123456789012:"
#define T "${iot:Connection.Thing.ThingName}"
#define NOW_S 1764142417
#define SOCK "/run/fleet/broker.sock"

/* ---- the fake broker ------------------------------------------------------ */

struct mosquitto {
    char id[160];
    char addr[64];
    char username[80];
    X509 *cert;
    int clean;
    int connected;
};

#define MAX_CLIENTS 64
#define MAX_PUBS 64

struct pub {
    char client[160];
    char topic[256];
    char payload[1024];
    int qos, retain;
};

static struct {
    struct fp_plugin *p;
    struct mosquitto *clients[MAX_CLIENTS];
    int nclients;
    struct pub pubs[MAX_PUBS];
    int npubs;
    int total_pubs;
    int kicks;
    int registered;
} fb;

const char *mosquitto_client_id(const struct mosquitto *client)
{
    return client->id[0] ? client->id : NULL;
}

const char *mosquitto_client_address(const struct mosquitto *client)
{
    return client->addr;
}

bool mosquitto_client_clean_session(const struct mosquitto *client)
{
    return client->clean;
}

void *mosquitto_client_certificate(const struct mosquitto *client)
{
    if (client->cert == NULL || !client->connected)
        return NULL;
    X509_up_ref(client->cert);
    return client->cert;
}

int mosquitto_set_username(struct mosquitto *client, const char *username)
{
    snprintf(client->username, sizeof(client->username), "%s", username ? username : "");
    return MOSQ_ERR_SUCCESS;
}

static void fb_disconnect(struct mosquitto *m)
{
    struct mosquitto_evt_disconnect ev = {.client = m, .reason = -1};
    m->connected = 0;
    presence_cb_disconnect(MOSQ_EVT_DISCONNECT, &ev, fb.p);
}

int mosquitto_kick_client_by_clientid(const char *clientid, bool with_will)
{
    (void)with_will;
    fb.kicks++;
    for (int i = 0; i < fb.nclients; i++)
        if (fb.clients[i]->connected && strcmp(fb.clients[i]->id, clientid) == 0) {
            fb_disconnect(fb.clients[i]);
            return MOSQ_ERR_SUCCESS;
        }
    return MOSQ_ERR_NOT_FOUND;
}

int mosquitto_broker_publish_copy(const char *clientid, const char *topic, int payloadlen,
                                  const void *payload, int qos, bool retain, mosquitto_property *properties)
{
    (void)properties;
    fb.total_pubs++;
    if (fb.npubs < MAX_PUBS) {
        struct pub *p = &fb.pubs[fb.npubs++];
        snprintf(p->client, sizeof(p->client), "%s", clientid ? clientid : "");
        snprintf(p->topic, sizeof(p->topic), "%s", topic);
        snprintf(p->payload, sizeof(p->payload), "%.*s", payloadlen, payload ? (const char *)payload : "");
        p->qos = qos;
        p->retain = retain;
    }
    return MOSQ_ERR_SUCCESS;
}

/* the broker's allocator (message_cb.c swaps a request's topic) */
char *mosquitto_strdup(const char *s)
{
    return strdup(s);
}

void mosquitto_free(void *mem)
{
    free(mem);
}

void mosquitto_log_printf(int level, const char *fmt, ...)
{
    (void)level, (void)fmt;
}

int mosquitto_callback_register(mosquitto_plugin_id_t *identifier, int event,
                                MOSQ_FUNC_generic_callback cb_func, const void *event_data, void *userdata)
{
    (void)identifier, (void)event, (void)cb_func, (void)event_data, (void)userdata;
    fb.registered++;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_callback_unregister(mosquitto_plugin_id_t *identifier, int event,
                                  MOSQ_FUNC_generic_callback cb_func, const void *event_data)
{
    (void)identifier, (void)event, (void)cb_func, (void)event_data;
    fb.registered--;
    return MOSQ_ERR_SUCCESS;
}

/* ---- fixture -------------------------------------------------------------- */

static struct fl_core *c;
static struct fl_err err;
static struct fp_plugin plug;
static char dir[64];
static int64_t mono;

static int64_t test_mono(void *ctx)
{
    (void)ctx;
    return mono;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Opens the plugin with the test options plus (key, value) pairs. */
static void open_plugin_with(const char *k1, const char *v1, const char *k2, const char *v2)
{
    struct fp_options o;
    char msg[256];
    struct mosquitto_opt opts[] = {
        {"db_path", ":memory:"}, {"socket", SOCK}, {(char *)k1, (char *)v1}, {(char *)k2, (char *)v2}};
    int n = k2 ? 4 : k1 ? 3 : 2;
    ck_assert_int_eq(plugin_parse_options(&o, opts, n, msg, sizeof(msg)), 0);
    ck_assert_int_eq(plugin_open(&plug, &o, c, 0, &err), FL_OK);
    plug.mono_ms = test_mono;
    fb.p = &plug;
}

static void open_plugin(void)
{
    open_plugin_with(NULL, NULL, NULL, NULL);
}

static void setup(void)
{
    memset(&fb, 0, sizeof(fb));
    mono = 1000000;
    c = tu_core();
    fl_err_clear(&err);
    snprintf(dir, sizeof(dir), "/tmp/fleetd-check-plugin-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cadir[128];
    snprintf(cadir, sizeof(cadir), "%s/ca", dir);
    struct ca_options o = {
        .root_key = CA_KEY_EC_P256, .device_key = CA_KEY_EC_P256, .common_name = "Test Root"};
    c->ca = ca_open(cadir, &o, NOW_S, &err);
    ck_assert_msg(c->ca != NULL, "ca_open: %s", err.msg);
    open_plugin();
}

static void teardown(void)
{
    plugin_close(&plug);
    for (int i = 0; i < fb.nclients; i++) {
        X509_free(fb.clients[i]->cert);
        free(fb.clients[i]);
    }
    ca_close(c->ca);
    tu_core_free(c);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A realistic device policy: 6 statements, thing-name variables, an
 * explicit Deny. */
static const char DEV_POLICY[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":["
    "{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"" A "client/" T "\"},"
    "{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"Resource\":[\"" A "topic/things/" T "/*\",\"" A
    "topic/shared/*\"]},"
    "{\"Effect\":\"Allow\",\"Action\":\"iot:Subscribe\",\"Resource\":[\"" A "topicfilter/things/" T
    "/*\",\"" A "topicfilter/$aws/events/*\",\"" A "topicfilter/$SYS/*\"]},"
    "{\"Effect\":\"Allow\",\"Action\":\"iot:Receive\",\"Resource\":[\"" A "topic/things/" T "/*\",\"" A
    "topic/$aws/events/*\"]},"
    "{\"Effect\":\"Allow\",\"Action\":\"iot:RetainPublish\",\"Resource\":\"" A "topic/things/" T
    "/retained\"},"
    "{\"Effect\":\"Deny\",\"Action\":\"iot:Publish\",\"Resource\":\"" A "topic/things/" T "/denied\"}]}";

static void mk_policy(const char *name, const char *doc)
{
    json_t *out = NULL;
    ck_assert_msg(policies_create(c, name, doc, NULL, &out, &err) == FL_OK, "policy: %s", err.msg);
    json_decref(out);
}

/* A thing with an ACTIVE certificate (policy attached when not NULL); the
 * certificate is parsed into *x and its id copied to id. */
static void mk_device(const char *thing, const char *policy, X509 **x, char id[65])
{
    struct things_create_in in = {.name = thing};
    struct things_ref ref;
    ck_assert_msg(things_create(c, &in, &ref, &err) == FL_OK, "thing: %s", err.msg);
    json_t *out = NULL;
    ck_assert_msg(certificates_create_keys(c, 1, &out, &err) == FL_OK, "cert: %s", err.msg);
    const char *arn = json_string_value(json_object_get(out, "certificateArn"));
    snprintf(id, 65, "%s", json_string_value(json_object_get(out, "certificateId")));
    const char *pem = json_string_value(json_object_get(out, "certificatePem"));
    BIO *b = BIO_new_mem_buf(pem, -1);
    *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(*x);
    ck_assert_msg(principals_attach(c, thing, arn, NULL, &err) == FL_OK, "attach: %s", err.msg);
    if (policy)
        ck_assert_msg(policies_attach(c, policy, arn, &err) == FL_OK, "policy attach: %s", err.msg);
    json_decref(out);
}

static struct mosquitto *fb_client(const char *id, X509 *x, const char *addr)
{
    ck_assert_int_lt(fb.nclients, MAX_CLIENTS);
    struct mosquitto *m = calloc(1, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->addr, sizeof(m->addr), "%s", addr ? addr : "10.0.0.7");
    if (x)
        X509_up_ref(x);
    m->cert = x;
    m->clean = 1;
    m->connected = 1;
    fb.clients[fb.nclients++] = m;
    return m;
}

static int fb_auth(struct mosquitto *m)
{
    struct mosquitto_evt_basic_auth ev = {.client = m, .username = "sdk-metrics"};
    return auth_cb_basic(MOSQ_EVT_BASIC_AUTH, &ev, &plug);
}

static int acl(struct mosquitto *m, int access, const char *topic, int retain)
{
    struct mosquitto_evt_acl_check ev = {.client = m, .topic = topic, .access = access, .retain = retain};
    return acl_cb_check(MOSQ_EVT_ACL_CHECK, &ev, &plug);
}

/* Index of the last publish to topic, or -1. */
static int find_pub(const char *topic)
{
    for (int i = fb.npubs - 1; i >= 0; i--)
        if (strcmp(fb.pubs[i].topic, topic) == 0)
            return i;
    return -1;
}

static void tick(void)
{
    mono += 1000;
    tick_cb_run(&plug, 1);
}

/* ---- pure parts ------------------------------------------------------------ */

START_TEST(topic_table)
{
    const struct topic_entry *e;
    ck_assert_ptr_null(topics_match("a/b", 3));
    ck_assert_ptr_null(topics_match("", 0));
#define M(t) topics_match(t, strlen(t))
    ck_assert_str_eq(M("$CONTROL/fleet/v1")->name, "control-kick");
    ck_assert_str_eq(M("$CONTROL/dynamic-security/v1")->name, "control");
    ck_assert_str_eq(M("$SYS/broker/uptime")->name, "sys");
    ck_assert_str_eq(M("$SYS/#")->name, "sys");
    ck_assert_str_eq(M("$aws/events/presence/connected/dev1")->name, "aws-events");
    ck_assert_str_eq(M("$aws/events/#")->name, "aws-events");
    ck_assert_str_eq(M("$aws/things/dev1/shadow/update")->name, "aws-reserved");
    ck_assert_str_eq(M("$share/g/things/#")->name, "shared-subscription");
    ck_assert_str_eq(M("$foo/bar")->name, "reserved");
    ck_assert_str_eq(M("$")->name, "reserved");
#undef M
    e = topics_match("$aws/events/x", 13);
    ck_assert_int_eq(e->publish, TR_DENY);
    ck_assert_int_eq(e->subscribe, TR_POLICY);
    ck_assert_int_eq(e->receive, TR_POLICY);
    /* the matcher: '+' is one level, '#' the rest */
    ck_assert(topics_pattern_match("$aws/things/+/shadow/#", "$aws/things/d1/shadow/get", 25));
    ck_assert(topics_pattern_match("$aws/things/+/shadow/#", "$aws/things//shadow/", 20));
    ck_assert(!topics_pattern_match("$aws/things/+/shadow/#", "$aws/things/a/b/shadow/get", 26));
    ck_assert(!topics_pattern_match("$aws/things/+/jobs", "$aws/things/d1/jobs/get", 23));
    ck_assert(topics_pattern_match("$aws/things/+/jobs", "$aws/things/d1/jobs", 19));
    /* the last entry catches every '$' topic */
    ck_assert_str_eq(topics_table[topics_table_len - 1].pattern, "$#");
}
END_TEST

START_TEST(client_ids)
{
    char id[200];
    ck_assert(clients_id_ok("dev1"));
    ck_assert(clients_id_ok("auto-3F2A"));
    ck_assert(clients_id_ok("a b:c*?"));
    ck_assert(!clients_id_ok(""));
    ck_assert(!clients_id_ok(NULL));
    ck_assert(!clients_id_ok("a+b"));
    ck_assert(!clients_id_ok("a#"));
    ck_assert(!clients_id_ok("a/b"));
    memset(id, 'x', 128);
    id[128] = '\0';
    ck_assert(clients_id_ok(id));
    id[128] = 'x';
    id[129] = '\0';
    ck_assert(!clients_id_ok(id));
}
END_TEST

START_TEST(options)
{
    struct fp_options o;
    char msg[256];
    struct mosquitto_opt none[] = {{"socket", "/s"}};
    ck_assert_int_eq(plugin_parse_options(&o, none, 1, msg, sizeof(msg)), -1);
    ck_assert_ptr_nonnull(strstr(msg, "db_path"));
    struct mosquitto_opt all[] = {{"db_path", "/var/fleetd.db"},
                                  {"socket", "/s"},
                                  {"broker_id", "b1"},
                                  {"region", "eu-west-1"},
                                  {"account_id", "000000000001"},
                                  {"busy_timeout_ms", "0"},
                                  {"session_ttl_s", "60"},
                                  {"drain_interval_ms", "250"}};
    ck_assert_int_eq(plugin_parse_options(&o, all, 8, msg, sizeof(msg)), 0);
    ck_assert_str_eq(o.db_path, "/var/fleetd.db");
    ck_assert_str_eq(o.broker_id, "b1");
    ck_assert_str_eq(o.region, "eu-west-1");
    ck_assert_str_eq(o.account_id, "000000000001");
    ck_assert_int_eq(o.busy_ms, 0);
    ck_assert_int_eq(o.session_ttl_s, 60);
    ck_assert_int_eq(o.drain_ms, 250);
    struct mosquitto_opt min[] = {{"db_path", "x.db"}};
    ck_assert_int_eq(plugin_parse_options(&o, min, 1, msg, sizeof(msg)), 0);
    ck_assert_str_eq(o.broker_id, "default");
    ck_assert_str_eq(o.region, "us-east-1");
    ck_assert_int_eq(o.busy_ms, FP_BUSY_MS);
    ck_assert_int_eq(o.drain_ms, FP_DRAIN_MS);
    struct mosquitto_opt typo[] = {{"db_path", "x.db"}, {"dbpath", "y.db"}};
    ck_assert_int_eq(plugin_parse_options(&o, typo, 2, msg, sizeof(msg)), -1);
    ck_assert_ptr_nonnull(strstr(msg, "dbpath"));
    struct mosquitto_opt acct[] = {{"db_path", "x.db"}, {"account_id", "12345"}};
    ck_assert_int_eq(plugin_parse_options(&o, acct, 2, msg, sizeof(msg)), -1);
    struct mosquitto_opt num[] = {{"db_path", "x.db"}, {"busy_timeout_ms", "5ms"}};
    ck_assert_int_eq(plugin_parse_options(&o, num, 2, msg, sizeof(msg)), -1);
    struct mosquitto_opt region[] = {{"db_path", "x.db"}, {"region", "US East"}};
    ck_assert_int_eq(plugin_parse_options(&o, region, 2, msg, sizeof(msg)), -1);
}
END_TEST

START_TEST(log_lines)
{
    X509 *x;
    char id[65];
    mk_policy("dev", DEV_POLICY);
    mk_device("dev1", "dev", &x, id);
    struct mosquitto *m = fb_client("dev1", x, NULL);
    ck_assert_int_eq(fb_auth(m), MOSQ_ERR_SUCCESS);
    struct fp_ctx *ctx = clients_live(&plug.clients, "dev1");
    ck_assert_ptr_nonnull(ctx);
#define L(s) acl_cb_log_line(&plug, s, strlen(s))
    ck_assert_int_eq(L("1795685530: Client dev1 disconnected.\n"), FP_R_CLIENT_INITIATED);
    ck_assert_int_eq(ctx->hint, FP_R_CLIENT_INITIATED);
    ck_assert_int_eq(L("Client dev1 closed its connection."), FP_R_CONNECTION_LOST);
    ck_assert_int_eq(ctx->hint, FP_R_CONNECTION_LOST);
    ck_assert_int_eq(L("1795685530: Client dev1 has exceeded timeout, disconnecting."),
                     FP_R_KEEP_ALIVE_TIMEOUT);
    ck_assert_int_eq(ctx->hint, FP_R_KEEP_ALIVE_TIMEOUT);
    ck_assert_int_eq(L("1: Socket error on client dev1, disconnecting."), FP_R_CONNECTION_LOST);
    /* fleetd's broker config: log_timestamp_format %Y-%m-%dT%H:%M:%S */
    ck_assert_int_eq(L("2026-11-26T09:36:00: Client dev1 disconnected."), FP_R_CLIENT_INITIATED);
    ck_assert_int_eq(L("2026-11-26T09:36:00: Client dev1: x disconnected."), FP_R_CLIENT_INITIATED);
    ck_assert_ptr_null(clients_live(&plug.clients, "dev1: x"));
    ck_assert_int_eq(L("1: Client dev1 disconnected due to protocol error."), FP_R_CLIENT_ERROR);
    ck_assert_int_eq(L("1: Client dev1 disconnected: Connection reset by peer."), FP_R_CONNECTION_LOST);
    ck_assert_int_eq(L("1: Bad socket read/write on client dev1: Unknown error."), FP_R_CONNECTION_LOST);
    ck_assert_int_eq(L("1: Client dev1 been disconnected by administrative action."), FP_R_SERVER_INITIATED);
    ck_assert_int_eq(L("1: Client <unknown> disconnected, not authorised."), FP_R_AUTH_ERROR);
    ck_assert_int_eq(L("1: New client connected from 1.2.3.4:5 as dev1 (p2, c1, k60)."), FP_R_NONE);
    ck_assert_int_eq(L("1: Client dev1 already connected, closing old connection."), FP_R_NONE);
    ck_assert_int_eq(L("Client  disconnected."), FP_R_NONE);
    /* a client id that contains the marker still parses (last occurrence) */
    ck_assert_int_eq(L("Client a disconnected. b disconnected."), FP_R_CLIENT_INITIATED);
#undef L
    /* the hint is what DISCONNECT reports when the plugin decided nothing */
    ck_assert_int_eq(acl_cb_log_line(&plug, "Client dev1 disconnected.", 25), FP_R_CLIENT_INITIATED);
    fb_disconnect(m);
    int i = find_pub("$aws/events/presence/disconnected/dev1");
    ck_assert_int_ge(i, 0);
    ck_assert_ptr_nonnull(strstr(fb.pubs[i].payload, "\"disconnectReason\":\"CLIENT_INITIATED_DISCONNECT\""));
    ck_assert_ptr_nonnull(strstr(fb.pubs[i].payload, "\"clientInitiatedDisconnect\":true"));
    X509_free(x);
}
END_TEST

/* ---- authentication ----------------------------------------------------- */

START_TEST(auth_basic)
{
    X509 *x1, *x3, *xn;
    char id1[65], id3[65], idn[65];
    mk_policy("dev", DEV_POLICY);
    mk_device("dev1", "dev", &x1, id1);
    mk_device("dev3", "dev", &x3, id3);
    mk_device("nopolicy", NULL, &xn, idn);
    ck_assert_int_eq(certificates_update(c, id3, "INACTIVE", &err), FL_OK);

    struct mosquitto *m = fb_client("dev1", x1, NULL);
    ck_assert_int_eq(fb_auth(m), MOSQ_ERR_SUCCESS);
    /* the username the client sent is replaced by the certificate id */
    ck_assert_str_eq(m->username, id1);
    const struct fp_ctx *ctx = clients_live(&plug.clients, "dev1");
    ck_assert_ptr_nonnull(ctx);
    ck_assert_str_eq(ctx->cert_id, id1);
    ck_assert_str_eq(ctx->ip, "10.0.0.7");
    ck_assert_int_eq(plug.clients.live, 1);
    /* the connected presence event, AWS's fields */
    int i = find_pub("$aws/events/presence/connected/dev1");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(fb.pubs[i].client, "");
    ck_assert_int_eq(fb.pubs[i].qos, 1);
    json_error_t je;
    json_t *j = json_loads(fb.pubs[i].payload, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "clientId")), "dev1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "eventType")), "connected");
    ck_assert_str_eq(json_string_value(json_object_get(j, "principalIdentifier")), id1);
    ck_assert_str_eq(json_string_value(json_object_get(j, "ipAddress")), "10.0.0.7");
    ck_assert_int_eq(strlen(json_string_value(json_object_get(j, "sessionIdentifier"))), 36);
    ck_assert(json_integer_value(json_object_get(j, "timestamp")) == 1764142417000);
    ck_assert(json_is_integer(json_object_get(j, "versionNumber")));
    json_decref(j);

    /* a certificate the registry does not know (created, then deleted) */
    json_t *out = NULL;
    ck_assert_int_eq(certificates_create_keys(c, 0, &out, &err), FL_OK);
    BIO *b = BIO_new_mem_buf(json_string_value(json_object_get(out, "certificatePem")), -1);
    X509 *xg = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_int_eq(
        certificates_delete(c, json_string_value(json_object_get(out, "certificateId")), 0, &err), FL_OK);
    json_decref(out);

    /* refused: INACTIVE, wrong client id for the policy, no certificate,
     * no policy, wildcard characters, unknown certificate */
    ck_assert_int_eq(fb_auth(fb_client("dev3", x3, NULL)), MOSQ_ERR_AUTH);
    ck_assert_int_eq(fb_auth(fb_client("dev2", x1, NULL)), MOSQ_ERR_AUTH);
    ck_assert_int_eq(fb_auth(fb_client("anon", NULL, NULL)), MOSQ_ERR_AUTH);
    ck_assert_int_eq(fb_auth(fb_client("nopolicy", xn, NULL)), MOSQ_ERR_AUTH);
    ck_assert_int_eq(fb_auth(fb_client("dev1/x", x1, NULL)), MOSQ_ERR_AUTH);
    ck_assert_int_eq(fb_auth(fb_client("dev1", xg, NULL)), MOSQ_ERR_AUTH);
    ck_assert_int_eq(plug.clients.live, 1);
    ck_assert_int_eq(plug.clients.count, 1);
    ck_assert_int_eq((int)plug.stats.auth_denied, 6);
    /* the refused reconnect with dev1's id did not disturb dev1 */
    ck_assert_ptr_eq(clients_live(&plug.clients, "dev1")->conn, m);
    X509_free(x1);
    X509_free(x3);
    X509_free(xn);
    X509_free(xg);
}
END_TEST

START_TEST(acl_mapping)
{
    X509 *x1, *x2;
    char id1[65], id2[65];
    mk_policy("dev", DEV_POLICY);
    mk_device("dev1", "dev", &x1, id1);
    mk_device("dev2", "dev", &x2, id2);
    struct mosquitto *m1 = fb_client("dev1", x1, NULL), *m2 = fb_client("dev2", x2, NULL);
    ck_assert_int_eq(fb_auth(m1), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(fb_auth(m2), MOSQ_ERR_SUCCESS);
    enum { OK = MOSQ_ERR_SUCCESS, NO = MOSQ_ERR_ACL_DENIED };
    /* Publish <-> topic/, with the thing name substituted */
    ck_assert_int_eq(acl(m1, MOSQ_ACL_WRITE, "things/dev1/telemetry", 0), OK);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_WRITE, "things/dev2/telemetry", 0), NO);
    ck_assert_int_eq(acl(m2, MOSQ_ACL_WRITE, "things/dev2/telemetry", 0), OK);
    /* explicit Deny wins over the Allow on things/dev1/ */
    ck_assert_int_eq(acl(m1, MOSQ_ACL_WRITE, "things/dev1/denied", 0), NO);
    /* retained publishes also need iot:RetainPublish */
    ck_assert_int_eq(acl(m1, MOSQ_ACL_WRITE, "things/dev1/telemetry", 1), NO);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_WRITE, "things/dev1/retained", 1), OK);
    /* Receive <-> topic/ per delivery */
    ck_assert_int_eq(acl(m1, MOSQ_ACL_READ, "things/dev1/cmd", 0), OK);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_READ, "things/dev2/cmd", 0), NO);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_READ, "shared/x", 0), NO); /* may publish there, not receive */
    ck_assert_int_eq(acl(m1, MOSQ_ACL_WRITE, "shared/x", 0), OK);
    /* Subscribe <-> topicfilter/, the filter as sent */
    ck_assert_int_eq(acl(m1, MOSQ_ACL_SUBSCRIBE, "things/dev1/#", 0), OK);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_SUBSCRIBE, "things/dev1/+/x", 0), OK);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_SUBSCRIBE, "things/#", 0), NO);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_SUBSCRIBE, "things/+/cmd", 0), NO);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_UNSUBSCRIBE, "anything/at/all", 0), OK);
    /* reserved topics: the table first, then the policy */
    ck_assert_int_eq(acl(m1, MOSQ_ACL_SUBSCRIBE, "$aws/events/#", 0), OK);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_READ, "$aws/events/presence/connected/dev2", 0), OK);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_WRITE, "$aws/events/presence/connected/dev2", 0), NO);
    ck_assert_int_eq(acl(m1, MOSQ_ACL_SUBSCRIBE, "$SYS/#", 0), NO); /* the policy allows it; the table not */
    ck_assert_int_eq(acl(m1, MOSQ_ACL_WRITE, "$CONTROL/fleet/v1", 0), NO);
    /* unknown client, a client without id */
    struct mosquitto *stranger = fb_client("stranger", NULL, NULL);
    ck_assert_int_eq(acl(stranger, MOSQ_ACL_READ, "things/dev1/cmd", 0), NO);
    struct mosquitto *noid = fb_client("", NULL, NULL);
    ck_assert_int_eq(acl(noid, MOSQ_ACL_WRITE, "things/dev1/cmd", 0), NO);
    /* a context is found by client id AND connection: dev2's connection
     * cannot use dev1's rights by sending dev1's id later */
    struct fp_ctx *ctx1 = clients_live(&plug.clients, "dev1");
    ck_assert_ptr_eq(clients_find(&plug.clients, m1, "dev1"), ctx1);
    ck_assert_ptr_null(clients_find(&plug.clients, m2, "dev1"));
    ck_assert(plug.stats.acl_denied > 0);
    X509_free(x1);
    X509_free(x2);
}
END_TEST

START_TEST(internal_clients)
{
    X509 *x1;
    char id1[65];
    mk_policy("dev", DEV_POLICY);
    mk_device("dev1", "dev", &x1, id1);
    struct mosquitto *in = fb_client("fleetd-kick", NULL, SOCK);
    ck_assert_int_eq(fb_auth(in), MOSQ_ERR_SUCCESS);
    ck_assert_str_eq(in->username, "fleetd");
    ck_assert_int_eq(acl(in, MOSQ_ACL_WRITE, "$CONTROL/fleet/v1", 0), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(acl(in, MOSQ_ACL_SUBSCRIBE, "#", 0), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(acl(in, MOSQ_ACL_SUBSCRIBE, "$SYS/broker/log/#", 0), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(acl(in, MOSQ_ACL_READ, "things/dev9/x", 0), MOSQ_ERR_SUCCESS);
    /* the broker's log lines are read by the plugin, not delivered */
    ck_assert_int_eq(acl(in, MOSQ_ACL_READ, "$SYS/broker/log/N", 0), MOSQ_ERR_ACL_DENIED);
    /* no presence for internal clients */
    ck_assert_int_eq(fb.npubs, 0);
    /* the same socket path from another listener cannot be faked: a TCP
     * client's address is an IP; a device may not take an internal id */
    struct mosquitto *dev = fb_client("fleetd-kick", x1, NULL);
    ck_assert_int_eq(fb_auth(dev), MOSQ_ERR_AUTH);
    /* reload: idempotent */
    ck_assert_int_eq(fb_auth(in), MOSQ_ERR_SUCCESS);
    fb_disconnect(in);
    ck_assert_int_eq(fb.npubs, 0);
    X509_free(x1);
}
END_TEST

START_TEST(takeover_and_reload)
{
    X509 *x1;
    char id1[65];
    mk_policy("dev", DEV_POLICY);
    mk_device("dev1", "dev", &x1, id1);
    struct mosquitto *a = fb_client("dev1", x1, NULL);
    ck_assert_int_eq(fb_auth(a), MOSQ_ERR_SUCCESS);
    const struct fp_ctx *ca_ = clients_live(&plug.clients, "dev1");
    uint64_t gen_a = ca_->gen;
    /* reload (SIGHUP): BASIC_AUTH again, same connection: no new event */
    int before = fb.npubs;
    ck_assert_int_eq(fb_auth(a), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(fb.npubs, before);
    ck_assert_ptr_eq(clients_live(&plug.clients, "dev1"), ca_);
    ck_assert_int_eq(plug.stale_pending, 1); /* re-checked in the background */
    tick();
    ck_assert_int_eq(plug.stale_pending, 0);
    ck_assert_ptr_nonnull(clients_live(&plug.clients, "dev1")->set);

    /* takeover: the new connection authenticates, the old one reports
     * DUPLICATE_CLIENTID before the new one's connected event */
    struct mosquitto *b = fb_client("dev1", x1, NULL);
    ck_assert_int_eq(fb_auth(b), MOSQ_ERR_SUCCESS);
    int d = find_pub("$aws/events/presence/disconnected/dev1"),
        cn = find_pub("$aws/events/presence/connected/dev1");
    ck_assert_int_ge(d, 0);
    ck_assert_int_gt(cn, d);
    ck_assert_ptr_nonnull(strstr(fb.pubs[d].payload, "\"disconnectReason\":\"DUPLICATE_CLIENTID\""));
    const struct fp_ctx *cb = clients_live(&plug.clients, "dev1");
    ck_assert_ptr_eq(cb->conn, b);
    ck_assert_uint_gt(cb->gen, gen_a);
    ck_assert_int_eq(plug.clients.live, 1);
    /* the broker then closes the old one: nothing more is reported */
    before = fb.npubs;
    fb_disconnect(a);
    ck_assert_int_eq(fb.npubs, before);
    /* the old connection's will is still checked against its context ... */
    ck_assert_int_eq(acl(a, MOSQ_ACL_WRITE, "things/dev1/will", 0), MOSQ_ERR_SUCCESS);
    tick();
    tick();
    /* ... until the sweep; then it is denied */
    ck_assert_int_eq(acl(a, MOSQ_ACL_WRITE, "things/dev1/will", 0), MOSQ_ERR_ACL_DENIED);
    ck_assert_int_eq(acl(b, MOSQ_ACL_WRITE, "things/dev1/x", 0), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(plug.clients.count, 1);
    /* the connectivity row says connected (the takeover wrote no offline) */
    json_t *o = NULL;
    ck_assert_int_eq(connectivity_get(c, "dev1", &o, &err), FL_OK);
    ck_assert(json_is_true(json_object_get(o, "connected")));
    json_decref(o);
    /* a plain disconnect without a log line: CONNECTION_LOST */
    fb_disconnect(b);
    d = find_pub("$aws/events/presence/disconnected/dev1");
    ck_assert_ptr_nonnull(strstr(fb.pubs[d].payload, "\"disconnectReason\":\"CONNECTION_LOST\""));
    ck_assert_ptr_nonnull(strstr(fb.pubs[d].payload, "\"clientInitiatedDisconnect\":false"));
    ck_assert_int_eq(plug.clients.live, 0);
    tick();
    ck_assert_int_eq(connectivity_get(c, "dev1", &o, &err), FL_OK);
    ck_assert(json_is_false(json_object_get(o, "connected")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "disconnectReason")), "CONNECTION_LOST");
    json_decref(o);
    ck_assert_int_eq(plug.clients.count, 0);
    X509_free(x1);
}
END_TEST

START_TEST(durable_session)
{
    X509 *x1;
    char id1[65];
    mk_policy("dev", DEV_POLICY);
    mk_device("dev1", "dev", &x1, id1);
    struct mosquitto *a = fb_client("dev1", x1, NULL);
    a->clean = 0;
    ck_assert_int_eq(fb_auth(a), MOSQ_ERR_SUCCESS);
    fb_disconnect(a);
    tick();
    /* the broker keeps the offline session and checks queued messages
     * against it: the context stays for the session TTL */
    ck_assert_int_eq(acl(a, MOSQ_ACL_READ, "things/dev1/cmd", 0), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(acl(a, MOSQ_ACL_READ, "things/dev2/cmd", 0), MOSQ_ERR_ACL_DENIED);
    /* a reload re-authenticates the offline session (no certificate now) */
    ck_assert_int_eq(fb_auth(a), MOSQ_ERR_SUCCESS);
    tick();
    /* the DISCONNECT that fires again on resume changes nothing */
    int before = fb.npubs;
    fb_disconnect(a);
    ck_assert_int_eq(fb.npubs, before);
    /* resumed by a new connection: the offline context goes */
    struct mosquitto *b = fb_client("dev1", x1, NULL);
    ck_assert_int_eq(fb_auth(b), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(find_pub("$aws/events/presence/disconnected/dev1"), before - 1); /* no new one */
    tick();
    tick();
    ck_assert_int_eq(plug.clients.count, 1);
    ck_assert_int_eq(acl(a, MOSQ_ACL_READ, "things/dev1/cmd", 0), MOSQ_ERR_ACL_DENIED);
    ck_assert_int_eq(acl(b, MOSQ_ACL_READ, "things/dev1/cmd", 0), MOSQ_ERR_SUCCESS);
    X509_free(x1);
}
END_TEST

START_TEST(session_ttl)
{
    X509 *x1;
    char id1[65];
    mk_policy("dev", DEV_POLICY);
    mk_device("dev1", "dev", &x1, id1);
    struct mosquitto *a = fb_client("dev1", x1, NULL);
    a->clean = 0;
    ck_assert_int_eq(fb_auth(a), MOSQ_ERR_SUCCESS);
    fb_disconnect(a);
    mono += (int64_t)FP_SESSION_TTL_S * 1000 - 5000;
    tick_cb_run(&plug, 1);
    ck_assert_int_eq(plug.clients.count, 1);
    mono += 10000;
    tick_cb_run(&plug, 1);
    ck_assert_int_eq(plug.clients.count, 0);
    ck_assert_int_eq(acl(a, MOSQ_ACL_READ, "things/dev1/cmd", 0), MOSQ_ERR_ACL_DENIED);
    X509_free(x1);
}
END_TEST

/* ---- the outbox ------------------------------------------------------------- */

START_TEST(outbox_publish_rows)
{
    X509 *x1;
    char id1[65];
    mk_policy("dev", DEV_POLICY);
    mk_device("dev1", "dev", &x1, id1);
    struct mosquitto *m = fb_client("dev1", x1, NULL);
    ck_assert_int_eq(fb_auth(m), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(outbox_publish(c, "things/dev1/cmd", "reboot", 6, 1, 0, &err), FL_OK);
    /* to one client: delivered only when its Receive policy allows */
    ck_assert_int_eq(store_begin(c->st, &err), FL_OK);
    ck_assert_int_eq(outbox_append_tx(c, OUTBOX_PUBLISH, "things/dev1/direct", "dev1", "d", 1, 0, 0, &err),
                     FL_OK);
    ck_assert_int_eq(outbox_append_tx(c, OUTBOX_PUBLISH, "things/dev2/direct", "dev1", "x", 1, 0, 0, &err),
                     FL_OK);
    ck_assert_int_eq(outbox_append_tx(c, OUTBOX_PUBLISH, "things/dev1/direct", "nobody", "y", 1, 0, 0, &err),
                     FL_OK);
    ck_assert_int_eq(store_end(c->st, FL_OK, &err), FL_OK);
    /* the kick drains at once */
    struct mosquitto *in = fb_client("fleetd", NULL, SOCK);
    ck_assert_int_eq(fb_auth(in), MOSQ_ERR_SUCCESS);
    struct mosquitto_evt_control ev = {.client = in, .topic = OUTBOX_KICK_TOPIC};
    ck_assert_int_eq(control_cb_kick(MOSQ_EVT_CONTROL, &ev, &plug), MOSQ_ERR_SUCCESS);
    int i = find_pub("things/dev1/cmd");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(fb.pubs[i].payload, "reboot");
    ck_assert_str_eq(fb.pubs[i].client, "");
    ck_assert_int_eq(fb.pubs[i].qos, 1);
    i = find_pub("things/dev1/direct");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(fb.pubs[i].client, "dev1");
    ck_assert_str_eq(fb.pubs[i].payload, "d");
    ck_assert_int_eq(find_pub("things/dev2/direct"), -1);
    int64_t last = -1, saved = -1;
    ck_assert_int_eq(outbox_cursor_get(c, "never-used", 1, &last, &err), FL_OK); /* = the last row id */
    ck_assert_int_eq(plug.cursor, last);
    ck_assert_int_eq(outbox_cursor_get(c, "default", 0, &saved, &err), FL_OK);
    ck_assert_int_eq(saved, last);
    /* nothing twice */
    int n = fb.npubs;
    tick();
    ck_assert_int_eq(fb.npubs, n);
    /* a device's kick is ignored (and never disconnects it) */
    ck_assert_int_eq(outbox_publish(c, "things/dev1/late", "l", 1, 0, 0, &err), FL_OK);
    ev.client = m;
    ck_assert_int_eq(control_cb_kick(MOSQ_EVT_CONTROL, &ev, &plug), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(find_pub("things/dev1/late"), -1);
    /* the tick is the safety net */
    tick();
    ck_assert_int_ge(find_pub("things/dev1/late"), 0);
    X509_free(x1);
}
END_TEST

START_TEST(outbox_before_start)
{
    /* rows written while no broker ran are delivered on the first drain */
    plugin_close(&plug);
    ck_assert_int_eq(outbox_publish(c, "a/b", "1", 1, 0, 1, &err), FL_OK);
    ck_assert_int_eq(outbox_publish(c, "a/c", "2", 1, 0, 0, &err), FL_OK);
    open_plugin();
    tick();
    ck_assert_int_ge(find_pub("a/b"), 0);
    ck_assert_int_eq(fb.pubs[find_pub("a/b")].retain, 1);
    ck_assert_int_ge(find_pub("a/c"), 0);
    /* and a restart resumes after the saved cursor */
    plugin_close(&plug);
    fb.npubs = 0;
    ck_assert_int_eq(outbox_publish(c, "a/d", "3", 1, 0, 0, &err), FL_OK);
    open_plugin();
    tick();
    ck_assert_int_eq(fb.npubs, 1);
    ck_assert_str_eq(fb.pubs[0].topic, "a/d");
}
END_TEST

START_TEST(outbox_backlog)
{
    /* more rows than one drain handles: the following ticks go on at once,
     * without waiting for the drain interval */
    enum { ROWS = 3000 };
    ck_assert_int_eq(store_begin(c->st, &err), FL_OK);
    for (int i = 0; i < ROWS; i++)
        ck_assert_int_eq(outbox_append_tx(c, OUTBOX_PUBLISH, "a/b", NULL, "x", 1, 0, 0, &err), FL_OK);
    ck_assert_int_eq(store_end(c->st, FL_OK, &err), FL_OK);
    tick();
    ck_assert_int_lt(fb.total_pubs, ROWS);
    ck_assert_int_eq(plug.drain_more, 1);
    tick_cb_run(&plug, 0); /* same millisecond: only drain_more makes it drain */
    ck_assert_int_eq(fb.total_pubs, ROWS);
    ck_assert_int_eq(plug.drain_more, 0);
}
END_TEST

START_TEST(revocation_kicks)
{
    X509 *x1, *x2;
    char id1[65], id2[65];
    mk_policy("dev", DEV_POLICY);
    mk_device("dev1", "dev", &x1, id1);
    mk_device("dev2", "dev", &x2, id2);
    struct mosquitto *m1 = fb_client("dev1", x1, NULL), *m2 = fb_client("dev2", x2, NULL);
    ck_assert_int_eq(fb_auth(m1), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(fb_auth(m2), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(certificates_update(c, id1, "REVOKED", &err), FL_OK);
    struct mosquitto *in = fb_client("fleetd", NULL, SOCK);
    ck_assert_int_eq(fb_auth(in), MOSQ_ERR_SUCCESS);
    struct mosquitto_evt_control ev = {.client = in, .topic = OUTBOX_KICK_TOPIC};
    ck_assert_int_eq(control_cb_kick(MOSQ_EVT_CONTROL, &ev, &plug), MOSQ_ERR_SUCCESS);
    /* denied at once, kicked from the tick (never from the callback) */
    ck_assert_int_eq(acl(m1, MOSQ_ACL_WRITE, "things/dev1/x", 0), MOSQ_ERR_ACL_DENIED);
    ck_assert_int_eq(fb.kicks, 0);
    ck_assert_int_eq(m1->connected, 1);
    tick_cb_run(&plug, 0);
    ck_assert_int_eq(fb.kicks, 1);
    ck_assert_int_eq(m1->connected, 0);
    ck_assert_int_eq(m2->connected, 1);
    int d = find_pub("$aws/events/presence/disconnected/dev1");
    ck_assert_int_ge(d, 0);
    ck_assert_ptr_nonnull(strstr(fb.pubs[d].payload, "\"disconnectReason\":\"SERVER_INITIATED_DISCONNECT\""));
    ck_assert_int_eq(acl(m2, MOSQ_ACL_WRITE, "things/dev2/x", 0), MOSQ_ERR_SUCCESS);
    /* and cannot come back */
    ck_assert_int_eq(fb_auth(fb_client("dev1", x1, NULL)), MOSQ_ERR_AUTH);
    tick();
    json_t *o = NULL;
    ck_assert_int_eq(connectivity_get(c, "dev1", &o, &err), FL_OK);
    ck_assert_str_eq(json_string_value(json_object_get(o, "disconnectReason")),
                     "SERVER_INITIATED_DISCONNECT");
    json_decref(o);
    X509_free(x1);
    X509_free(x2);
}
END_TEST

START_TEST(authz_recompiles)
{
    X509 *x1;
    char id1[65], arn[320];
    mk_policy("dev", DEV_POLICY);
    mk_policy("extra", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
                       "\"iot:Publish\",\"Resource\":\"" A "topic/extra/" T "\"}]}");
    mk_device("dev1", "dev", &x1, id1);
    snprintf(arn, sizeof(arn), A "cert/%s", id1);
    struct mosquitto *m = fb_client("dev1", x1, NULL);
    ck_assert_int_eq(fb_auth(m), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "extra/dev1", 0), MOSQ_ERR_ACL_DENIED);
    ck_assert_int_eq(policies_attach(c, "extra", arn, &err), FL_OK);
    tick();
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "extra/dev1", 0), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(m->connected, 1);
    ck_assert_int_eq(policies_detach(c, "extra", arn, &err), FL_OK);
    tick();
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "extra/dev1", 0), MOSQ_ERR_ACL_DENIED);
    /* losing iot:Connect disconnects (decision: a client keeps only what
     * the registry grants now) */
    ck_assert_int_eq(policies_detach(c, "dev", arn, &err), FL_OK);
    tick();
    tick();
    ck_assert_int_eq(m->connected, 0);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "things/dev1/x", 0), MOSQ_ERR_ACL_DENIED);
    X509_free(x1);
}
END_TEST

/* ---- the policy cache --------------------------------------------------- */

#define EXTRA_POLICY                                                                                         \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\","           \
    "\"Resource\":\"" A "topic/extra/" T "\"}]}"

/* The client's connection ends and the next tick sweeps its context. */
static void gone(struct mosquitto *m)
{
    fb_disconnect(m);
    tick();
}

static struct mosquitto *connect_ok(const char *id, X509 *x, const char *addr)
{
    struct mosquitto *m = fb_client(id, x, addr);
    ck_assert_int_eq(fb_auth(m), MOSQ_ERR_SUCCESS);
    return m;
}

START_TEST(policy_cache_reuse)
{
    X509 *x1;
    char id1[65];
    mk_policy("dev", DEV_POLICY);
    mk_device("dev1", "dev", &x1, id1);
    tick(); /* the rows of the setup are handled */
    struct mosquitto *a = connect_ok("dev1", x1, NULL);
    ck_assert_uint_eq(plug.stats.pcache_misses, 1);
    struct fp_pol *pol = clients_live(&plug.clients, "dev1")->pol;
    ck_assert_ptr_nonnull(pol);
    ck_assert_ptr_eq(clients_live(&plug.clients, "dev1")->set, pol->set);
    ck_assert_int_eq(pol->by_ip, 0);
    /* a takeover shares the compiled set: two contexts and the cache */
    struct mosquitto *b = connect_ok("dev1", x1, NULL);
    ck_assert_uint_eq(plug.stats.pcache_hits, 1);
    ck_assert_ptr_eq(clients_live(&plug.clients, "dev1")->pol, pol);
    ck_assert_uint_eq(pol->refs, 3);
    fb_disconnect(a);
    gone(b);
    tick();
    /* only the cache holds it now: idle */
    ck_assert_uint_eq(plug.clients.count, 0);
    ck_assert_uint_eq(pol->refs, 1);
    ck_assert_uint_eq(plug.pcache.nidle, 1);
    /* a reconnect, from another address too, is answered from the cache */
    struct mosquitto *m = connect_ok("dev1", x1, "192.168.7.7");
    ck_assert_uint_eq(plug.stats.pcache_hits, 2);
    ck_assert_ptr_eq(clients_live(&plug.clients, "dev1")->pol, pol);
    ck_assert_uint_eq(plug.pcache.nidle, 0);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "things/dev1/x", 0), MOSQ_ERR_SUCCESS);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "things/dev1/denied", 0), MOSQ_ERR_ACL_DENIED);
    /* the cache never answers for another client id or certificate: the
     * thing's policy does not allow client id dev2 */
    ck_assert_int_eq(fb_auth(fb_client("dev2", x1, NULL)), MOSQ_ERR_AUTH);
    /* freed at the end with everything else (teardown, under ASan) */
    X509_free(x1);
}
END_TEST

/* Every kind of change reaches a device that reconnects, whether the
 * plugin has handled the change's outbox row yet or not. */
START_TEST(policy_cache_invalidation)
{
    X509 *x1;
    char id1[65], arn[320];
    mk_policy("dev", DEV_POLICY);
    mk_policy("extra", EXTRA_POLICY);
    mk_device("dev1", "dev", &x1, id1);
    snprintf(arn, sizeof(arn), A "cert/%s", id1);
    tick();
    gone(connect_ok("dev1", x1, NULL));
    ck_assert_uint_eq(plug.pcache.nidle, 1);

    /* 1. a change whose row waits in the outbox: the cache is not used */
    ck_assert_int_eq(policies_attach(c, "extra", arn, &err), FL_OK);
    struct mosquitto *m = connect_ok("dev1", x1, NULL);
    ck_assert_uint_eq(plug.stats.pcache_unsettled, 1);
    ck_assert_uint_eq(plug.stats.pcache_hits, 0);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "extra/dev1", 0), MOSQ_ERR_SUCCESS);
    gone(m); /* the tick handles the row (and recompiles nothing: m is gone) */

    /* 2. the row handled: entries compiled before it are stale */
    uint64_t hits = plug.stats.pcache_hits;
    m = connect_ok("dev1", x1, NULL);
    ck_assert_uint_eq(plug.stats.pcache_hits, hits);
    ck_assert_uint_ge(plug.stats.pcache_stale, 1);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "extra/dev1", 0), MOSQ_ERR_SUCCESS);
    gone(m);
    m = connect_ok("dev1", x1, NULL); /* now it is a hit */
    ck_assert_uint_eq(plug.stats.pcache_hits, hits + 1);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "extra/dev1", 0), MOSQ_ERR_SUCCESS);

    /* 3. a change while connected: the context is recompiled, and the
     * recompiled set is what the next connection gets */
    ck_assert_int_eq(policies_detach(c, "extra", arn, &err), FL_OK);
    tick();
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "extra/dev1", 0), MOSQ_ERR_ACL_DENIED);
    gone(m);
    hits = plug.stats.pcache_hits;
    m = connect_ok("dev1", x1, NULL);
    ck_assert_uint_eq(plug.stats.pcache_hits, hits + 1);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "extra/dev1", 0), MOSQ_ERR_ACL_DENIED);
    gone(m);

    /* 4. a change for everyone (a group's policy): the idle entries go */
    struct thing_group_create_in gin = {.name = "fleet"};
    json_t *out = NULL;
    ck_assert_int_eq(thing_groups_create(c, &gin, &out, &err), FL_OK);
    json_decref(out);
    struct thing_group_member_in min = {.group_name = "fleet", .thing_name = "dev1"};
    ck_assert_int_eq(thing_groups_add_thing(c, &min, &err), FL_OK);
    ck_assert_int_eq(policies_attach(c, "extra", A "thinggroup/fleet", &err), FL_OK);
    tick();
    ck_assert_uint_eq(plug.pcache.nidle, 0);
    ck_assert_uint_eq(plug.pcache.count, 0);
    m = connect_ok("dev1", x1, NULL);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "extra/dev1", 0), MOSQ_ERR_SUCCESS);
    gone(m);

    /* 5. a new default version of a policy */
    ck_assert_int_eq(policies_create_version(c, "extra",
                                             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
                                             "\"Allow\",\"Action\":\"iot:Publish\",\"Resource\":\"" A
                                             "topic/v2/" T "\"}]}",
                                             1, &out, &err),
                     FL_OK);
    json_decref(out);
    m = connect_ok("dev1", x1, NULL); /* row not handled yet */
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "extra/dev1", 0), MOSQ_ERR_ACL_DENIED);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "v2/dev1", 0), MOSQ_ERR_SUCCESS);
    gone(m);
    m = connect_ok("dev1", x1, NULL); /* handled */
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "v2/dev1", 0), MOSQ_ERR_SUCCESS);
    gone(m);

    /* 6. the thing leaves the group */
    ck_assert_int_eq(thing_groups_remove_thing(c, &min, &err), FL_OK);
    m = connect_ok("dev1", x1, NULL);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "v2/dev1", 0), MOSQ_ERR_ACL_DENIED);
    gone(m);

    /* 7. the certificate's status is read on every connect, cache or not */
    ck_assert_int_eq(certificates_update(c, id1, "INACTIVE", &err), FL_OK);
    ck_assert_int_eq(fb_auth(fb_client("dev1", x1, NULL)), MOSQ_ERR_AUTH);
    tick();
    ck_assert_int_eq(fb_auth(fb_client("dev1", x1, NULL)), MOSQ_ERR_AUTH);
    ck_assert_int_eq(certificates_update(c, id1, "ACTIVE", &err), FL_OK);
    tick();
    gone(connect_ok("dev1", x1, NULL));

    /* 8. the thing detached from the certificate: the thing-name
     * variables no longer resolve, so iot:Connect is refused */
    ck_assert_int_eq(principals_detach(c, "dev1", arn, &err), FL_OK);
    ck_assert_int_eq(fb_auth(fb_client("dev1", x1, NULL)), MOSQ_ERR_AUTH);
    tick();
    ck_assert_int_eq(fb_auth(fb_client("dev1", x1, NULL)), MOSQ_ERR_AUTH);
    X509_free(x1);
}
END_TEST

/* Thing attributes in policy variables: an update reaches the cache. */
START_TEST(policy_cache_attributes)
{
    X509 *x1;
    char id1[65];
    mk_policy("zone", "{\"Version\":\"2012-10-17\",\"Statement\":["
                      "{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"" A "client/" T "\"},"
                      "{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"Resource\":\"" A
                      "topic/zone/${iot:Connection.Thing.Attributes[zone]}\"}]}");
    mk_device("dev1", "zone", &x1, id1);
    json_t *attrs = json_pack("{s:s}", "zone", "north");
    struct things_update_in up = {.name = "dev1", .attributes = attrs, .merge = 1};
    ck_assert_int_eq(things_update(c, &up, &err), FL_OK);
    tick();
    struct mosquitto *m = connect_ok("dev1", x1, NULL);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "zone/north", 0), MOSQ_ERR_SUCCESS);
    gone(m);
    json_object_set_new(attrs, "zone", json_string("south"));
    ck_assert_int_eq(things_update(c, &up, &err), FL_OK);
    tick();
    m = connect_ok("dev1", x1, NULL);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "zone/north", 0), MOSQ_ERR_ACL_DENIED);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "zone/south", 0), MOSQ_ERR_SUCCESS);
    json_decref(attrs);
    X509_free(x1);
}
END_TEST

/* A set that read aws:SourceIp is cached per address; others are not. */
START_TEST(policy_cache_source_ip)
{
    X509 *x1;
    char id1[65];
    mk_policy("dev", DEV_POLICY);
    mk_policy("lan", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
                     "\"iot:Publish\",\"Resource\":\"" A "topic/lan/*\",\"Condition\":{\"IpAddress\":"
                     "{\"aws:SourceIp\":\"10.0.0.0/8\"}}}]}");
    mk_device("dev1", "dev", &x1, id1);
    char arn[320];
    snprintf(arn, sizeof(arn), A "cert/%s", id1);
    ck_assert_int_eq(policies_attach(c, "lan", arn, &err), FL_OK);
    tick();
    struct mosquitto *m = connect_ok("dev1", x1, "10.1.2.3");
    ck_assert_int_eq(clients_live(&plug.clients, "dev1")->pol->by_ip, 1);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "lan/x", 0), MOSQ_ERR_SUCCESS);
    gone(m);
    m = connect_ok("dev1", x1, "192.168.1.5");
    ck_assert_uint_eq(plug.stats.pcache_hits, 0);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "lan/x", 0), MOSQ_ERR_ACL_DENIED);
    gone(m);
    /* both addresses stay cached */
    ck_assert_uint_eq(plug.pcache.nidle, 2);
    m = connect_ok("dev1", x1, "10.1.2.3");
    ck_assert_uint_eq(plug.stats.pcache_hits, 1);
    ck_assert_int_eq(acl(m, MOSQ_ACL_WRITE, "lan/x", 0), MOSQ_ERR_SUCCESS);
    X509_free(x1);
}
END_TEST

/* At most policy_cache idle entries, for at most policy_cache_ttl_s;
 * policy_cache 0 caches nothing. */
START_TEST(policy_cache_bounds)
{
    plugin_close(&plug);
    open_plugin_with("policy_cache", "2", "policy_cache_ttl_s", "60");
    mk_policy("dev", DEV_POLICY);
    X509 *x[4];
    char id[65], name[16];
    struct mosquitto *m[4];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "dev%d", i);
        mk_device(name, "dev", &x[i], id);
    }
    tick();
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "dev%d", i);
        m[i] = connect_ok(name, x[i], NULL);
    }
    ck_assert_uint_eq(plug.pcache.count, 4); /* in use: not bounded */
    ck_assert_uint_eq(plug.pcache.nidle, 0);
    for (int i = 0; i < 4; i++)
        gone(m[i]);
    ck_assert_uint_eq(plug.pcache.nidle, 2);
    ck_assert_uint_eq(plug.pcache.count, 2);
    ck_assert_uint_eq(plug.stats.pcache_evicted, 2);
    /* the least recently used went */
    gone(connect_ok("dev3", x[3], NULL));
    ck_assert_uint_eq(plug.stats.pcache_hits, 1);
    gone(connect_ok("dev0", x[0], NULL));
    ck_assert_uint_eq(plug.stats.pcache_hits, 1);
    ck_assert_uint_eq(plug.pcache.nidle, 2); /* dev3's and dev0's */
    /* the TTL: dev3's entry went idle one tick (1 s) before dev0's */
    mono += 58000;
    tick();
    ck_assert_uint_eq(plug.pcache.nidle, 1);
    mono += 1000;
    tick();
    ck_assert_uint_eq(plug.pcache.nidle, 0);
    ck_assert_uint_eq(plug.pcache.count, 0);

    /* no cache */
    plugin_close(&plug);
    open_plugin_with("policy_cache", "0", NULL, NULL);
    gone(connect_ok("dev1", x[1], NULL));
    struct mosquitto *b = connect_ok("dev1", x[1], NULL);
    ck_assert_uint_eq(plug.stats.pcache_hits, 0);
    ck_assert_uint_eq(plug.pcache.count, 0);
    ck_assert_int_eq(acl(b, MOSQ_ACL_WRITE, "things/dev1/x", 0), MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 4; i++)
        X509_free(x[i]);
}
END_TEST

START_TEST(presence_payload_escapes)
{
    struct fp_ctx *ctx = calloc(1, sizeof(*ctx) + 32);
    snprintf(ctx->client_id, 32, "a\"b\\c\x01");
    snprintf(ctx->cert_id, 65, "%064d", 0);
    snprintf(ctx->session_id, 37, "00000000-0000-4000-8000-000000000000");
    snprintf(ctx->ip, sizeof(ctx->ip), "::1");
    ctx->gen = 7;
    char buf[1024];
    size_t n = presence_payload(buf, sizeof(buf), ctx, 0, 5, FP_R_KEEP_ALIVE_TIMEOUT);
    ck_assert_uint_gt(n, 0);
    json_error_t je;
    json_t *j = json_loadb(buf, n, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", buf, je.text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "clientId")), "a\"b\\c\x01");
    ck_assert_str_eq(json_string_value(json_object_get(j, "disconnectReason")), "MQTT_KEEP_ALIVE_TIMEOUT");
    ck_assert(json_is_false(json_object_get(j, "clientInitiatedDisconnect")));
    ck_assert_ptr_null(json_object_get(j, "ipAddress"));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "versionNumber")), 7);
    json_decref(j);
    ck_assert_uint_eq(presence_payload(buf, 40, ctx, 1, 5, FP_R_NONE), 0);
    ck_assert_ptr_null(presence_reason_name(FP_R_NONE));
    ck_assert_str_eq(presence_reason_name(FP_R_DUPLICATE_CLIENTID), "DUPLICATE_CLIENTID");
    free(ctx);
}
END_TEST

/* ---- cost ----------------------------------------------------------------- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Memory per connected device (context + compiled policy set, the
 * realistic 6-statement policy with variables) and the cost of an ACL
 * check; prints both. The goal is < 4 KB per device. */
START_TEST(cost_per_client)
{
    X509 *x;
    char id[65];
    mk_policy("dev", DEV_POLICY);
    enum { N = 6 };
    struct mosquitto *m[N];
    size_t bytes = 0, set_bytes = 0;
    double auth_ns = 0;
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "device-%04d", i);
        mk_device(name, "dev", &x, id);
        m[i] = fb_client(name, x, NULL);
        double a0 = now_ns();
        ck_assert_int_eq(fb_auth(m[i]), MOSQ_ERR_SUCCESS);
        auth_ns += now_ns() - a0;
        const struct fp_ctx *cx = clients_live(&plug.clients, name);
        bytes += clients_ctx_bytes(cx);
        set_bytes += clients_ctx_bytes(cx) - malloc_usable_size((void *)cx);
        X509_free(x);
    }
    /* plus the hash bucket pointer per context (load factor <= 1) */
    size_t per = bytes / N + sizeof(void *);
    ck_assert_uint_lt(per, 4096);
    char topic[64], deny_topic[64];
    snprintf(topic, sizeof(topic), "things/device-0003/telemetry");
    snprintf(deny_topic, sizeof(deny_topic), "things/device-0004/telemetry");
    int iters = 200000;
    double t0 = now_ns();
    int ok = 0;
    for (int i = 0; i < iters; i++) {
        ok += acl(m[3], MOSQ_ACL_WRITE, topic, 0) == MOSQ_ERR_SUCCESS;
        ok += acl(m[3], MOSQ_ACL_READ, deny_topic, 0) == MOSQ_ERR_ACL_DENIED;
    }
    double per_check = (now_ns() - t0) / (2.0 * iters);
    ck_assert_int_eq(ok, 2 * iters);
    /* a reconnect: the certificate's status is read, the policies come
     * from the cache */
    tick();
    uint64_t hits = plug.stats.pcache_hits;
    enum { R = 200 };
    double r0 = now_ns();
    for (int i = 0; i < R; i++) {
        fb_disconnect(m[1]);
        m[1]->connected = 1; /* the broker reuses the address at once */
        ck_assert_int_eq(fb_auth(m[1]), MOSQ_ERR_SUCCESS);
    }
    double reauth_us = (now_ns() - r0) / R / 1000;
    ck_assert_uint_eq(plug.stats.pcache_hits, hits + R);
    fprintf(stderr,
            "plugin: %zu bytes per connected device (context %zu + compiled policy %zu + bucket); "
            "ACL check %.0f ns; BASIC_AUTH %.0f us compiling, %.0f us from the policy cache\n",
            per, (bytes - set_bytes) / N, set_bytes / N, per_check, auth_ns / N / 1000, reauth_us);
}
END_TEST

Suite *plugin_suite(void)
{
    Suite *s = suite_create("plugin");
    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, topic_table);
    tcase_add_test(pure, client_ids);
    tcase_add_test(pure, options);
    tcase_add_test(pure, presence_payload_escapes);
    suite_add_tcase(s, pure);
    TCase *t = tcase_create("callbacks");
    tcase_set_timeout(t, 60);
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, log_lines);
    tcase_add_test(t, auth_basic);
    tcase_add_test(t, acl_mapping);
    tcase_add_test(t, internal_clients);
    tcase_add_test(t, takeover_and_reload);
    tcase_add_test(t, durable_session);
    tcase_add_test(t, session_ttl);
    tcase_add_test(t, outbox_publish_rows);
    tcase_add_test(t, outbox_before_start);
    tcase_add_test(t, outbox_backlog);
    tcase_add_test(t, revocation_kicks);
    tcase_add_test(t, authz_recompiles);
    tcase_add_test(t, policy_cache_reuse);
    tcase_add_test(t, policy_cache_invalidation);
    tcase_add_test(t, policy_cache_attributes);
    tcase_add_test(t, policy_cache_source_ip);
    tcase_add_test(t, policy_cache_bounds);
    tcase_add_test(t, cost_per_client);
    suite_add_tcase(s, t);
    return s;
}
