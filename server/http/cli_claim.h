/*
 * cli_claim.h - `fleetd claim create --template NAME --out DIR [--days N]
 * [--force] [--json] [--data-dir D]`: the claim certificate a factory
 * flashes onto every device for fleet provisioning. Makes an ACTIVE
 * certificate from the built-in CA with the template's claim policy
 * attached (the one CreateProvisioningClaim uses: provisioning_create_claim_for,
 * policy "fleetd-claim-<template>"), valid for N days (default
 * CLI_CLAIM_DEFAULT_DAYS, never past the root CA's own expiry), and writes
 *   DIR/claim.cert.pem, DIR/claim.private.key (0600), DIR/root-CA.crt,
 *   DIR/claim.json  {endpoint, port, templateName, file names, certificateId,
 *                    notAfter}
 * The template must exist and be of type FLEET_PROVISIONING.
 *
 * Runs beside a running `fleetd serve` the way `fleetd device create` does
 * (one SQLite file, WAL, two processes; the broker reads the certificate at
 * connect). Knows the core API and files; nothing of HTTP, MQTT or SQL.
 */
#ifndef FL_CLI_CLAIM_H
#define FL_CLI_CLAIM_H

#include "config.h"
#include "core.h"

#define CLI_CLAIM_DEFAULT_DAYS 3650 /* ten years: the default root CA's lifetime */
#define CLI_CLAIM_MAX_DAYS 36500

/* Before config_load: `claim ... --data-dir D` sets FLEETD_DATA_DIR=D (so the
 * config file of D is read as for serve). argv[0] is the sub-command.
 * Returns 0, or 2 (usage: --data-dir without a value). */
int cli_claim_preparse(int argc, char **argv);

/* Runs `claim ARGS...` (argv[0] is the sub-command) on core c, whose c->ca is
 * the built-in CA; root_ca_path is its PEM file. cfg gives the data
 * directory (connection.json: the running broker's host and port) and the
 * endpoint. Prints to stdout, errors to stderr. Returns the exit status: 0,
 * 1 (failed: unknown template, files exist, ...), 2 (usage). */
int cli_claim(struct fl_core *c, const struct daemon_config *cfg, const char *root_ca_path, int argc,
              char **argv);

#endif
