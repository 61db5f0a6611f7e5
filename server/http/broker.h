/*
 * broker.h - fleetd supervises the MQTT broker: the Debian mosquitto with
 * our plugin (mosquitto_fleet.so) runs as fleetd's child.
 *
 * At start fleetd writes DATA_DIR/broker/mosquitto.conf (a TLS listener for
 * devices, a unix-socket listener for fleetd itself, the plugin and its
 * options), starts `mosquitto -c` on it, and waits until the TLS port
 * accepts connections. It restarts a broker that dies (with backoff: rows
 * written to the outbox meanwhile are delivered when it is back), forwards
 * SIGHUP to it (reload), and stops it with SIGTERM (SIGKILL after a grace
 * period) when fleetd stops. The broker's pid is in DATA_DIR/broker/broker.pid
 * while it runs. Registered CA certificates are exported to a capath
 * directory (DATA_DIR/broker/cas) so that devices of foreign CAs pass the
 * TLS handshake; whether such a CA may be used is the plugin's decision.
 *
 * Knows mosquitto's configuration language and process handling; knows
 * nothing of MQTT packets, HTTP or SQL. Single-threaded: every call comes
 * from fleetd's main thread.
 */
#ifndef FL_BROKER_H
#define FL_BROKER_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "core.h"

#define BROKER_ID "default" /* the plugin's outbox cursor name (plugin_opt_broker_id) */

struct broker;

/* Everything the generated mosquitto.conf names (absolute paths). Exposed
 * for broker_render_conf() and its unit test. */
struct broker_paths {
    char dir[600];                                 /* DATA_DIR/broker */
    char conf[700];                                /* DATA_DIR/broker/mosquitto.conf */
    char sock[108];                                /* DATA_DIR/broker/broker.sock (sun_path limit) */
    char log[700];                                 /* DATA_DIR/broker/mosquitto.log */
    char pidfile[700];                             /* DATA_DIR/broker/broker.pid */
    char capath[700];                              /* DATA_DIR/broker/cas */
    char db[700];                                  /* DATA_DIR/fleetd.db */
    char certfile[700], keyfile[700], cafile[700]; /* DATA_DIR/ca/server.pem, server.key, the root */
    char ca_dir[700]; /* DATA_DIR/ca: the plugin signs certificates made over MQTT ("" = none) */
    /* hook_ca_file, absolute: CAs the plugin trusts for https hooks ("" = none) */
    char hook_ca_file[700];
    int token_ttl_s; /* plugin_opt_provisioning_token_ttl_s (0: the plugin's default) */
    /* DATA_DIR/broker/openssl.cnf, the broker's OPENSSL_CONF: no TLS session
     * tickets ("" = tickets on: no file, OpenSSL's defaults) */
    char openssl_conf[700];
    char plugin[700];
    char user[64]; /* the user fleetd runs as: mosquitto keeps it (no drop to "mosquitto") */
};

/* Decides whether the broker runs. Writes the resolved mosquitto binary and
 * plugin paths (broker_plugin "" = mosquitto_fleet.so beside the running
 * fleetd binary). Returns 1 (run it), 0 (off: broker = off, or auto and a
 * file is missing; why says which) or -1 (broker = on and a file is
 * missing: why says which). */
int broker_wanted(const struct daemon_config *cfg, char *bin, size_t bin_n, char *plugin, size_t plugin_n,
                  char *why, size_t why_n);

/* Writes the mosquitto.conf text for paths p, listener bind:port and the
 * plugin's region/account into buf. Returns the length, or -1 when it does
 * not fit or a path holds whitespace (mosquitto's parser splits there). */
int broker_render_conf(const struct broker_paths *p, const char *bind, int port, const char *region,
                       const char *account_id, char *buf, size_t n);

/* A free TCP port on the IP address bind (bound with port 0, then closed),
 * or -1. For mqtt_port 0: fleetd picks the port before it opens the core. */
int broker_pick_port(const char *bind);

/* Prepares the broker of cfg: resolves the paths (data_dir must exist;
 * DATA_DIR/broker is created 0700), picks the port (mqtt_port 0: a free
 * port, found by binding port 0), writes mosquitto.conf. bin and plugin
 * come from broker_wanted(); root_ca is the CA file devices chain to. Does
 * not start anything. Returns NULL with err filled (FL_INVALID_REQUEST for
 * an unusable path or setting, FL_INTERNAL for I/O). */
struct broker *broker_new(const struct daemon_config *cfg, const char *bin, const char *plugin,
                          const char *root_ca, struct fl_err *err);

/* Starts mosquitto and waits (at most timeout_ms) until the TLS port accepts
 * connections on behalf of this broker. Returns FL_OK, or FL_UNAVAILABLE
 * with err saying why (it exited: the last lines of its log are in the
 * message; timeout; or one of the signals in abort_on became pending - then
 * err->msg is "interrupted"). On failure the child is stopped. */
enum fl_code broker_start(struct broker *b, int timeout_ms, const sigset_t *abort_on, struct fl_err *err);

/* Call after SIGCHLD and whenever the timeout broker_poll last returned has
 * passed: reaps an exited broker (logs it, schedules a restart with backoff
 * 1 s, 2 s, ... 30 s; back to 1 s after a minute of uptime) and starts it
 * again when the restart is due. Returns the milliseconds until it wants to
 * be called again, or -1 when only a SIGCHLD can change anything. */
int broker_poll(struct broker *b);

/* Exports the registered CA certificates (the PEMs, by certificate id) to
 * the capath directory under OpenSSL's subject-hash names and removes the
 * files of CAs no longer registered. c is a core of fleetd's pool, used for
 * reads only. Cheap when nothing changed (one list read). Returns FL_OK or
 * the core's error. */
enum fl_code broker_sync_cas(struct broker *b, struct fl_core *c, struct fl_err *err);

/* 1 once after broker_poll reaped an unexpected exit (the caller then marks
 * every device offline: a dead broker ran no cleanup), else 0. */
int broker_died(struct broker *b);

/* Forwards SIGHUP (mosquitto reloads its configuration). */
void broker_reload(struct broker *b);

/* Stops the broker: SIGTERM, then SIGKILL after grace_ms. Returns its exit
 * status as the shell reports it (0 clean, 128+N for a signal), or -1 when
 * it was not running. The broker stays stopped (no restart). */
int broker_stop(struct broker *b, int grace_ms);

/* Frees b (stops the broker first if it still runs). NULL is fine. */
void broker_free(struct broker *b);

/* Accessors. broker_pid is 0 while it does not run. */
int broker_port(const struct broker *b);
pid_t broker_pid(const struct broker *b);
const struct broker_paths *broker_paths(const struct broker *b);

/* DATA_DIR/broker/broker.sock for a data directory (made absolute), the
 * unix socket over which fleetd talks to the broker as a trusted client.
 * Returns 0, or -1 when the path is too long for a unix socket. */
int broker_socket_path(const char *data_dir, char *out, size_t n);

#endif
