/*
 * cli_files.c - the file work of fleetd's commands (see cli_files.h).
 */
#include "cli_files.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

int cli_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, mode) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, mode) != 0 && errno != EEXIST ? -1 : 0;
}

int cli_write_file(const char *path, const char *text, mode_t mode)
{
    char tmp[PATH_MAX + 8];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t len = strlen(text), off = 0;
    int ok = fchmod(fd, mode) == 0; /* an existing .tmp keeps its old mode otherwise */
    while (ok && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok)
            off += (size_t)w;
    }
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int cli_write_identity(json_t *keys, const char *root, const char *key_file, const char *cert_file,
                       const char *ca_file)
{
    const char *cert = json_string_value(json_object_get(keys, "certificatePem"));
    const char *key = json_string_value(json_object_get(json_object_get(keys, "keyPair"), "PrivateKey"));
    int rc = -1;
    if (cert == NULL || key == NULL)
        errno = EINVAL;
    else if (cli_write_file(key_file, key, 0600) == 0 && cli_write_file(cert_file, cert, 0644) == 0 &&
             cli_write_file(ca_file, root, 0644) == 0)
        rc = 0;
    if (key) {
        int e = errno;
        explicit_bzero((char *)key, strlen(key));
        errno = e;
    }
    return rc;
}

char *cli_read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

void cli_mqtt_target(const struct daemon_config *cfg, char *host, size_t hn, int *port)
{
    snprintf(host, hn, "%s", cfg->core.endpoint_host);
    *port = cfg->core.mqtt_port ? cfg->core.mqtt_port : 8883;
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/connection.json", cfg->data_dir) >= sizeof(path))
        return;
    json_t *j = json_load_file(path, 0, NULL);
    if (j == NULL)
        return;
    const char *h = json_string_value(json_object_get(j, "mqttHost"));
    json_int_t p = json_integer_value(json_object_get(j, "mqttPort"));
    if (h && *h && p > 0 && p < 65536) {
        snprintf(host, hn, "%s", h);
        *port = (int)p;
    }
    json_decref(j);
}
