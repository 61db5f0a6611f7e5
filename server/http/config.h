/*
 * config.h - fleetd's settings: defaults, then the config file, then
 * environment variables (highest). See docs/configuration.md.
 */
#ifndef FL_CONFIG_H
#define FL_CONFIG_H

#include <stddef.h>

#include "ca.h"
#include "core.h"

/* broker = auto runs the broker when its binary and the plugin exist (and
 * keeps serving REST when it cannot start); on makes a failure to start
 * fatal; off never starts it. */
enum broker_mode { BROKER_AUTO = 0, BROKER_ON, BROKER_OFF };

struct daemon_config {
    struct fl_config core; /* region, account id, endpoint host, mqtt port */
    char data_dir[512];    /* FLEETD_DATA_DIR, default ./var */
    char config_file[600]; /* FLEETD_CONFIG, default DATA_DIR/fleetd.conf when it exists */
    char http_bind[64];    /* FLEETD_HTTP_BIND, default 127.0.0.1 */
    int http_port;         /* FLEETD_HTTP_PORT, default 8080; 0 = ephemeral */
    int http_threads;      /* FLEETD_HTTP_THREADS, default 4 */
    size_t max_body;       /* FLEETD_MAX_BODY_BYTES, default 1 MiB */
    int log_requests;      /* FLEETD_LOG_REQUESTS, default 0 */
    /* the built-in CA (DATA_DIR/ca) */
    enum ca_key_type ca_key_type; /* FLEETD_CA_KEY_TYPE ec|rsa, default ec: key of a new root */
    enum ca_key_type
        device_key_type;    /* FLEETD_DEVICE_KEY_TYPE rsa|ec, default rsa (CreateKeysAndCertificate) */
    int device_cert_days;   /* FLEETD_DEVICE_CERT_DAYS, default 365 */
    char server_sans[1024]; /* FLEETD_SERVER_SANS, comma list; "" = localhost,127.0.0.1[,endpoint_host] */
    /* the MQTT broker fleetd supervises (broker.h); the port is core.mqtt_port */
    enum broker_mode broker;  /* FLEETD_BROKER on|off|auto, default auto */
    char broker_bin[512];     /* FLEETD_BROKER_BIN, default /usr/sbin/mosquitto */
    char broker_plugin[512];  /* FLEETD_BROKER_PLUGIN, "" = mosquitto_fleet.so beside the fleetd binary */
    char broker_wrapper[512]; /* FLEETD_BROKER_WRAPPER, command prefix (e.g. valgrind ...), default "" */
    char mqtt_bind[64];       /* FLEETD_MQTT_BIND, IP address of the TLS listener, default 127.0.0.1 */
    /* FLEETD_BROKER_TLS_SESSION_TICKETS on|off, default off: off, the broker
     * sends no TLS 1.3 session tickets (AWS IoT resumes no TLS session, and
     * making two tickets was a fifth of the broker's CPU per connect) */
    int broker_tls_session_tickets;
    /* pre-provisioning hooks (server/net/webhook.h) */
    /* FLEETD_HOOK_CA_FILE: PEM CAs trusted for https hooks besides the system store */
    char hook_ca_file[512];
    /* FLEETD_PROVISIONING_TOKEN_TTL_S: certificateOwnershipToken lifetime, 1..86400, default 3600 (AWS) */
    int provisioning_token_ttl_s;
};

/* Loads defaults, the config file and the environment into cfg. Returns
 * FL_OK, or FL_INVALID_REQUEST with a message naming the bad setting. */
enum fl_code config_load(struct daemon_config *cfg, struct fl_err *err);

/* Parses one "key = value" config text (the file's contents) into cfg;
 * exposed for the fuzzer and the unit tests. */
enum fl_code config_parse(struct daemon_config *cfg, const char *text, size_t len, struct fl_err *err);

#endif
