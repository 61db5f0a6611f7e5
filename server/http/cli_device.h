/*
 * cli_device.h - `fleetd device create NAME --policy P|default --out DIR
 * [--force] [--json]`: where firmware developers start. Creates the thing
 * (when missing) and an ACTIVE certificate from the built-in CA, attaches
 * the certificate to the thing and policy P to the certificate, writes
 * DIR/NAME.cert.pem, DIR/NAME.private.key (0600) and DIR/root-CA.pem, and
 * prints the mosquitto_pub line that works with them.
 *
 * `--policy default` names fleetd's default device policy
 * "fleetd-device-default" (created on first use): connect as the thing's own
 * name, publish/receive/subscribe under things/<thing>/... and
 * $aws/things/<thing>/.... Any other P must exist.
 *
 * Runs beside a running `fleetd serve` (one SQLite file, WAL, two
 * processes): the broker reads the certificate from the database at connect,
 * so the device may connect at once. Knows the core API and files; nothing
 * of HTTP, MQTT or SQL.
 */
#ifndef FL_CLI_DEVICE_H
#define FL_CLI_DEVICE_H

#include "config.h"
#include "core.h"

#define CLI_DEVICE_DEFAULT_POLICY "fleetd-device-default"

/* Runs `device ARGS...` (argv[0] is the sub-command) on core c, whose c->ca
 * is the built-in CA; root_ca_path is its PEM file. cfg gives the data
 * directory (connection.json: the running broker's host and port) and the
 * defaults. Prints to stdout, errors to stderr. Returns the exit status:
 * 0, 1 (failed), 2 (usage). */
int cli_device(struct fl_core *c, const struct daemon_config *cfg, const char *root_ca_path, int argc,
               char **argv);

/* The default device policy document for region/account (written to buf).
 * Returns the length, or -1 when it does not fit. */
int cli_device_default_policy(const char *region, const char *account_id, char *buf, size_t n);

#endif
