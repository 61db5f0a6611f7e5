/*
 * check_broker.c - the broker supervision's pure parts (server/http/broker.c):
 * the generated mosquitto.conf, deciding whether the broker runs, the
 * broker settings of config.c, and `fleetd device create`'s default policy
 * (cli_device.c) judged by the real evaluator. Starting and restarting
 * mosquitto is tested end to end by tests/mqtt/.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "cli_device.h"
#include "config.h"
#include "policy_doc.h"
#include "policy_eval.h"
#include "suites.h"

static void fill_paths(struct broker_paths *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "/data/broker");
    snprintf(p->conf, sizeof(p->conf), "/data/broker/mosquitto.conf");
    snprintf(p->sock, sizeof(p->sock), "/data/broker/broker.sock");
    snprintf(p->log, sizeof(p->log), "/data/broker/mosquitto.log");
    snprintf(p->pidfile, sizeof(p->pidfile), "/data/broker/broker.pid");
    snprintf(p->capath, sizeof(p->capath), "/data/broker/cas");
    snprintf(p->db, sizeof(p->db), "/data/fleetd.db");
    snprintf(p->certfile, sizeof(p->certfile), "/data/ca/server.pem");
    snprintf(p->keyfile, sizeof(p->keyfile), "/data/ca/server.key");
    snprintf(p->cafile, sizeof(p->cafile), "/data/ca/ca.pem");
    snprintf(p->ca_dir, sizeof(p->ca_dir), "/data/ca");
    snprintf(p->plugin, sizeof(p->plugin), "/opt/fleetd/mosquitto_fleet.so");
    snprintf(p->user, sizeof(p->user), "fleet");
}

/* 1 when text has exactly this line */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

START_TEST(test_render_conf)
{
    struct broker_paths p;
    fill_paths(&p);
    char buf[8192];
    int n = broker_render_conf(&p, "127.0.0.1", 18883, "eu-west-1", "000000000042", buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq((int)strlen(buf), n);
    static const char *const must[] = {
        "per_listener_settings false",
        "allow_anonymous false",
        "set_tcp_nodelay true",
        "user fleet",
        "persistence_location /data/broker/",
        "log_dest file /data/broker/mosquitto.log",
        "log_dest topic",
        "plugin /opt/fleetd/mosquitto_fleet.so",
        "plugin_opt_db_path /data/fleetd.db",
        "plugin_opt_socket /data/broker/broker.sock",
        "plugin_opt_broker_id default",
        "plugin_opt_region eu-west-1",
        "plugin_opt_account_id 000000000042",
        "plugin_opt_ca_dir /data/ca",
        "listener 18883 127.0.0.1",
        "certfile /data/ca/server.pem",
        "keyfile /data/ca/server.key",
        "cafile /data/ca/ca.pem",
        "capath /data/broker/cas",
        "require_certificate true",
        "use_identity_as_username false",
        "listener 0 /data/broker/broker.sock",
    };
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        ck_assert_msg(has_line(buf, must[i]), "missing line: %s", must[i]);
    /* the TLS listener comes before the unix socket: the socket's existence
     * tells fleetd that the TLS port was bound */
    ck_assert(strstr(buf, "listener 18883") < strstr(buf, "listener 0 "));
    /* every option key of the plugin is 3+ characters (mosquitto refuses shorter) */
    for (const char *q = buf; (q = strstr(q, "plugin_opt_")) != NULL; q++)
        ck_assert_int_ge((int)strcspn(q + 11, " "), 3);
    ck_assert(!strstr(buf, "plugin_opt_provisioning_token_ttl_s")); /* 0: the plugin's default */
    p.token_ttl_s = 3;
    ck_assert_int_gt(
        broker_render_conf(&p, "127.0.0.1", 18883, "eu-west-1", "000000000042", buf, sizeof(buf)), 0);
    ck_assert(has_line(buf, "plugin_opt_provisioning_token_ttl_s 3"));
    /* too small a buffer */
    ck_assert_int_eq(broker_render_conf(&p, "127.0.0.1", 18883, "eu-west-1", "000000000042", buf, 100), -1);
}
END_TEST

START_TEST(test_render_conf_refuses_whitespace)
{
    struct broker_paths p;
    char buf[8192];
    fill_paths(&p);
    snprintf(p.db, sizeof(p.db), "/my data/fleetd.db");
    ck_assert_int_eq(broker_render_conf(&p, "127.0.0.1", 1, "us-east-1", "123456789012", buf, sizeof(buf)),
                     -1);
    fill_paths(&p);
    snprintf(p.plugin, sizeof(p.plugin), "/x/plugin#1.so");
    ck_assert_int_eq(broker_render_conf(&p, "127.0.0.1", 1, "us-east-1", "123456789012", buf, sizeof(buf)),
                     -1);
    fill_paths(&p);
    snprintf(p.sock, sizeof(p.sock), "/x/b.sock\nlistener 1883");
    ck_assert_int_eq(broker_render_conf(&p, "127.0.0.1", 1, "us-east-1", "123456789012", buf, sizeof(buf)),
                     -1);
}
END_TEST

START_TEST(test_socket_path)
{
    char out[200];
    ck_assert_int_eq(broker_socket_path("/nonexistent-dir/d", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "/nonexistent-dir/d/broker/broker.sock");
    char longdir[150];
    memset(longdir, 'a', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    ck_assert_int_eq(broker_socket_path(longdir, out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_wanted)
{
    struct daemon_config cfg;
    struct fl_err err;
    char bin[PATH_MAX], plugin[PATH_MAX], why[PATH_MAX + 64];
    ck_assert_int_eq(config_parse(&cfg, "", 0, &err), FL_OK);
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.broker_bin, sizeof(cfg.broker_bin), "/bin/sh");
    /* default plugin: beside the running binary */
    cfg.broker = BROKER_OFF;
    ck_assert_int_eq(broker_wanted(&cfg, bin, sizeof(bin), plugin, sizeof(plugin), why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "off"));
    const char *tail = "/mosquitto_fleet.so";
    ck_assert_str_eq(plugin + strlen(plugin) - strlen(tail), tail);
    ck_assert_str_eq(bin, "/bin/sh");
    /* missing plugin: auto says off, on says error */
    snprintf(cfg.broker_plugin, sizeof(cfg.broker_plugin), "/nonexistent/p.so");
    cfg.broker = BROKER_AUTO;
    ck_assert_int_eq(broker_wanted(&cfg, bin, sizeof(bin), plugin, sizeof(plugin), why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "/nonexistent/p.so"));
    cfg.broker = BROKER_ON;
    ck_assert_int_eq(broker_wanted(&cfg, bin, sizeof(bin), plugin, sizeof(plugin), why, sizeof(why)), -1);
    /* both present */
    char tmp[] = "/tmp/check_broker_XXXXXX";
    int fd = mkstemp(tmp);
    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(cfg.broker_plugin, sizeof(cfg.broker_plugin), "%s", tmp);
    ck_assert_int_eq(broker_wanted(&cfg, bin, sizeof(bin), plugin, sizeof(plugin), why, sizeof(why)), 1);
    cfg.broker = BROKER_AUTO;
    ck_assert_int_eq(broker_wanted(&cfg, bin, sizeof(bin), plugin, sizeof(plugin), why, sizeof(why)), 1);
    snprintf(cfg.broker_bin, sizeof(cfg.broker_bin), "/nonexistent/mosquitto");
    ck_assert_int_eq(broker_wanted(&cfg, bin, sizeof(bin), plugin, sizeof(plugin), why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "/nonexistent/mosquitto"));
    unlink(tmp);
}
END_TEST

START_TEST(test_config_settings)
{
    struct daemon_config cfg;
    struct fl_err err;
    memset(&cfg, 0, sizeof(cfg));
    const char *ok = "broker = on\nbroker_bin = /usr/local/sbin/mosquitto\nbroker_plugin = /opt/p.so\n"
                     "broker_wrapper = valgrind --leak-check=full\nmqtt_bind = ::1\nmqtt_port = 0\n"
                     "provisioning_token_ttl_s = 3\nbroker_tls_session_tickets = on\n";
    ck_assert_int_eq(config_parse(&cfg, ok, strlen(ok), &err), FL_OK);
    ck_assert_int_eq(cfg.broker_tls_session_tickets, 1);
    ck_assert_int_eq(config_parse(&cfg, "broker_tls_session_tickets = off", 32, &err), FL_OK);
    ck_assert_int_eq(cfg.broker_tls_session_tickets, 0);
    ck_assert_int_eq(cfg.broker, BROKER_ON);
    ck_assert_str_eq(cfg.broker_bin, "/usr/local/sbin/mosquitto");
    ck_assert_str_eq(cfg.broker_plugin, "/opt/p.so");
    ck_assert_str_eq(cfg.broker_wrapper, "valgrind --leak-check=full");
    ck_assert_str_eq(cfg.mqtt_bind, "::1");
    ck_assert_int_eq(cfg.core.mqtt_port, 0);
    ck_assert_int_eq(cfg.provisioning_token_ttl_s, 3);
    ck_assert_int_eq(config_parse(&cfg, "broker = off", 12, &err), FL_OK);
    ck_assert_int_eq(cfg.broker, BROKER_OFF);
    ck_assert_int_eq(config_parse(&cfg, "broker = auto", 13, &err), FL_OK);
    ck_assert_int_eq(cfg.broker, BROKER_AUTO);
    static const char *const bad[] = {"broker = yes",
                                      "mqtt_bind = localhost",
                                      "mqtt_bind = 1.2.3",
                                      "mqtt_port = 65536",
                                      "mqtt_port = -1",
                                      "provisioning_token_ttl_s = 0",
                                      "provisioning_token_ttl_s = 86401",
                                      "broker_tls_session_tickets = yes"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(config_parse(&cfg, bad[i], strlen(bad[i]), &err), FL_INVALID_REQUEST);
        char key[32];
        snprintf(key, sizeof(key), "%.*s", (int)strcspn(bad[i], " "), bad[i]);
        ck_assert_msg(strstr(err.msg, key) != NULL, "message %s does not name %s", err.msg, key);
    }
}
END_TEST

/* The default device policy: a device connects as its thing and uses its
 * own topics only. */
START_TEST(test_default_device_policy)
{
    char doc[2048];
    struct fl_err err;
    int n = cli_device_default_policy("us-east-1", "123456789012", doc, sizeof(doc));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(policy_doc_validate(doc, &err), FL_OK);
    struct policy_src src = {.name = CLI_DEVICE_DEFAULT_POLICY, .document = doc};
    struct policy_vars vars = {.region = "us-east-1",
                               .account = "123456789012",
                               .client_id = "sensor-1",
                               .thing_name = "sensor-1",
                               .is_attached = 1};
    struct policy_set *set = NULL;
    ck_assert_int_eq(policy_doc_compile(&src, 1, &vars, &set, &err), FL_OK);
#define EV(a, s) policy_eval_name(set, a, s, strlen(s), NULL)
    ck_assert_int_eq(EV(POLICY_CONNECT, "sensor-1"), POLICY_ALLOWED);
    ck_assert_int_eq(EV(POLICY_CONNECT, "sensor-2"), POLICY_IMPLICIT_DENY);
    ck_assert_int_eq(EV(POLICY_PUBLISH, "things/sensor-1/telemetry"), POLICY_ALLOWED);
    ck_assert_int_eq(EV(POLICY_RECEIVE, "things/sensor-1/cmd"), POLICY_ALLOWED);
    ck_assert_int_eq(EV(POLICY_PUBLISH, "$aws/things/sensor-1/shadow/update"), POLICY_ALLOWED);
    ck_assert_int_eq(EV(POLICY_SUBSCRIBE, "things/sensor-1/#"), POLICY_ALLOWED);
    ck_assert_int_eq(EV(POLICY_SUBSCRIBE, "$aws/things/sensor-1/jobs/get/+"), POLICY_ALLOWED);
    ck_assert_int_eq(EV(POLICY_PUBLISH, "things/sensor-2/telemetry"), POLICY_IMPLICIT_DENY);
    ck_assert_int_eq(EV(POLICY_RECEIVE, "things/sensor-2/cmd"), POLICY_IMPLICIT_DENY);
    ck_assert_int_eq(EV(POLICY_SUBSCRIBE, "things/#"), POLICY_IMPLICIT_DENY);
    ck_assert_int_eq(EV(POLICY_SUBSCRIBE, "#"), POLICY_IMPLICIT_DENY);
#undef EV
    policy_set_free(set);
    /* without a thing (client id not an attached thing), nothing at all */
    vars.thing_name = NULL;
    vars.is_attached = 0;
    ck_assert_int_eq(policy_doc_compile(&src, 1, &vars, &set, &err), FL_OK);
    ck_assert_int_eq(policy_eval_name(set, POLICY_CONNECT, "sensor-1", 8, NULL), POLICY_IMPLICIT_DENY);
    policy_set_free(set);
    ck_assert_int_eq(cli_device_default_policy("us-east-1", "123456789012", doc, 100), -1);
}
END_TEST

Suite *broker_suite(void)
{
    Suite *s = suite_create("broker");
    TCase *tc = tcase_create("broker");
    tcase_add_test(tc, test_render_conf);
    tcase_add_test(tc, test_render_conf_refuses_whitespace);
    tcase_add_test(tc, test_socket_path);
    tcase_add_test(tc, test_wanted);
    tcase_add_test(tc, test_config_settings);
    tcase_add_test(tc, test_default_device_policy);
    suite_add_tcase(s, tc);
    return s;
}
