/*
 * cli_files.h - the file work of fleetd's commands (first start of serve,
 * `device create`, `claim create`): directories, files written whole with
 * their mode from the first byte, and where devices are told to connect.
 */
#ifndef FL_CLI_FILES_H
#define FL_CLI_FILES_H

#include <stddef.h>
#include <jansson.h>
#include <sys/types.h>

struct daemon_config;

/* mkdir -p with mode for the directories it creates. 0, or -1 (errno). */
int cli_mkdir_p(const char *path, mode_t mode);

/* Writes text to path atomically (path.tmp, then rename), the file
 * created with mode. 0, or -1 (nothing left behind). */
int cli_write_file(const char *path, const char *text, mode_t mode);

/* Writes a device identity from keys, the JSON of CreateKeysAndCertificate
 * or CreateProvisioningClaim: its private key to key_file (0600), its
 * certificate to cert_file and root, the root CA PEM, to ca_file (0644);
 * then scrubs the private key in keys (it exists nowhere else). 0, or -1
 * (errno; EINVAL when keys lacks the certificate or the key). */
int cli_write_identity(json_t *keys, const char *root, const char *key_file, const char *cert_file,
                       const char *ca_file);

/* The whole of a text file (at most 64 KiB) as a malloc'd string, or NULL. */
char *cli_read_text(const char *path);

/* The host and port devices reach the broker on: the running fleetd's
 * connection.json when it has them, else the configuration. */
void cli_mqtt_target(const struct daemon_config *cfg, char *host, size_t hn, int *port);

#endif
