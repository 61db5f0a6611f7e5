/*
 * broker.c - the broker as fleetd's child process: generated configuration,
 * start and readiness, restart with backoff, reload, stop, and the capath
 * export of registered CAs. See broker.h.
 *
 * The child is started with fork + execve (not posix_spawn) so that it can
 * ask the kernel for SIGTERM when fleetd dies (PR_SET_PDEATHSIG): a killed
 * fleetd never leaves a broker holding its port and database. It runs in
 * its own process group, so a terminal's Ctrl-C reaches fleetd only, and
 * fleetd stops the broker in order. Must not know MQTT packets, HTTP or SQL.
 */
#include "broker.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "certificates.h"

extern char **environ;

#define PLUGIN_FILE "mosquitto_fleet.so"
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define HEALTHY_AFTER_MS 60000 /* uptime after which a crash restarts fast again */
#define MAX_QUEUED 10000       /* per client; mosquitto's 1000 drops fan-out under load (G16) */
#define WRAPPER_ARGS 32

/* The broker's OpenSSL configuration when broker_tls_session_tickets is
 * off. OpenSSL applies a system_default section to every SSL_CTX the
 * process makes, which is the only way into mosquitto's: it has no option
 * for tickets. Each TLS 1.3 ticket makes OpenSSL 3.0 copy the session by
 * encoding and decoding it, peer certificate included: the default two
 * were ~23% of the broker's CPU per connect. AWS IoT resumes no TLS
 * session, so devices written for it lose nothing. */
#define BROKER_OPENSSL_CONF                                                                                  \
    "# Written by fleetd at each start (broker_tls_session_tickets = off,\n"                                 \
    "# docs/configuration.md): no TLS 1.3 session tickets, as on AWS IoT.\n"                                 \
    "openssl_conf = fleetd_openssl\n"                                                                        \
    "[fleetd_openssl]\n"                                                                                     \
    "ssl_conf = fleetd_ssl\n"                                                                                \
    "[fleetd_ssl]\n"                                                                                         \
    "system_default = fleetd_tls\n"                                                                          \
    "[fleetd_tls]\n"                                                                                         \
    "NumTickets = 0\n"

struct broker {
    struct broker_paths p;
    char bin[PATH_MAX];
    char wrapper[512];
    char bind[64];
    int port;
    pid_t pid;
    int64_t started_ms;
    int64_t restart_at_ms; /* 0: no restart pending */
    int backoff_ms;
    int stopped;            /* broker_stop was called: never restart */
    int died;               /* reaped an unexpected exit since broker_died() last asked */
    char preload[PATH_MAX]; /* LD_PRELOAD for the child ("" = none) */
    char *ca_ids;           /* the registered CA ids last exported, concatenated */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- deciding ------------------------------------------------------------ */

/* The directory of the running fleetd binary, from /proc/self/exe. */
static int exe_dir(char *out, size_t n)
{
    char buf[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (len <= 0)
        return -1;
    buf[len] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    if ((size_t)snprintf(out, n, "%s", buf[0] ? buf : "/") >= n)
        return -1;
    return 0;
}

int broker_wanted(const struct daemon_config *cfg, char *bin, size_t bin_n, char *plugin, size_t plugin_n,
                  char *why, size_t why_n)
{
    why[0] = '\0';
    snprintf(bin, bin_n, "%s", cfg->broker_bin);
    if (cfg->broker_plugin[0]) {
        snprintf(plugin, plugin_n, "%s", cfg->broker_plugin);
    } else {
        char dir[PATH_MAX];
        if (exe_dir(dir, sizeof(dir)) != 0)
            snprintf(dir, sizeof(dir), ".");
        snprintf(plugin, plugin_n, "%s/%s", dir, PLUGIN_FILE);
    }
    if (cfg->broker == BROKER_OFF) {
        snprintf(why, why_n, "broker = off");
        return 0;
    }
    const char *missing = NULL;
    if (access(bin, X_OK) != 0)
        missing = bin;
    else if (access(plugin, R_OK) != 0)
        missing = plugin;
    if (missing == NULL)
        return 1;
    snprintf(why, why_n, "%s %s", missing, errno == ENOENT ? "does not exist" : "is not usable");
    return cfg->broker == BROKER_ON ? -1 : 0;
}

/* ---- the configuration --------------------------------------------------- */

static int has_space(const char *s)
{
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '#')
            return 1;
    return 0;
}

int broker_render_conf(const struct broker_paths *p, const char *bind, int port, const char *region,
                       const char *account_id, char *buf, size_t n)
{
    const char *paths[] = {p->dir,     p->sock,   p->log,    p->capath, p->db,  p->certfile,
                           p->keyfile, p->cafile, p->plugin, p->user,   region, account_id};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        if (paths[i][0] == '\0' || has_space(paths[i]))
            return -1;
    if (has_space(p->ca_dir))
        return -1;
    /* fleet provisioning over MQTT: the plugin opens fleetd's CA to sign */
    char ca_line[1500] = "";
    if (p->ca_dir[0])
        snprintf(ca_line, sizeof(ca_line), "plugin_opt_ca_dir %s\n", p->ca_dir);
    /* https pre-provisioning hooks: CAs trusted besides the system store */
    if (has_space(p->hook_ca_file))
        return -1;
    if (p->hook_ca_file[0])
        snprintf(ca_line + strlen(ca_line), sizeof(ca_line) - strlen(ca_line), "plugin_opt_hook_ca_file %s\n",
                 p->hook_ca_file);
    if (p->token_ttl_s > 0)
        snprintf(ca_line + strlen(ca_line), sizeof(ca_line) - strlen(ca_line),
                 "plugin_opt_provisioning_token_ttl_s %d\n", p->token_ttl_s);
    int len =
        snprintf(buf, n,
                 "# Written by fleetd at each start: change fleetd's settings instead\n"
                 "# (docs/configuration.md), edits here are overwritten.\n"
                 "per_listener_settings false\n"
                 "allow_anonymous false\n"
                 "set_tcp_nodelay true\n"
                 "user %s\n"
                 "max_queued_messages %d\n"
                 "persistence true\n"
                 "persistence_location %s/\n"
                 "autosave_interval 300\n"
                 "log_dest file %s\n"
                 "# the plugin learns disconnect reasons from the notice lines fleetd's\n"
                 "# internal client receives on $SYS/broker/log/N\n"
                 "log_dest topic\n"
                 "log_type error\n"
                 "log_type warning\n"
                 "log_type notice\n"
                 "log_type information\n"
                 "log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S\n"
                 "connection_messages true\n"
                 "\n"
                 "# certificates, policies, presence and the outbox: the fleet plugin\n"
                 "plugin %s\n"
                 "plugin_opt_db_path %s\n"
                 "plugin_opt_socket %s\n"
                 "plugin_opt_broker_id %s\n"
                 "plugin_opt_region %s\n"
                 "plugin_opt_account_id %s\n"
                 "%s"
                 "\n"
                 "# devices: mutual TLS; the identity is the certificate, never the username\n"
                 "listener %d %s\n"
                 "certfile %s\n"
                 "keyfile %s\n"
                 "cafile %s\n"
                 "capath %s\n"
                 "require_certificate true\n"
                 "use_identity_as_username false\n"
                 "\n"
                 "# fleetd itself (outbox kicks): a trusted local client\n"
                 "listener 0 %s\n",
                 p->user, MAX_QUEUED, p->dir, p->log, p->plugin, p->db, p->sock, BROKER_ID, region,
                 account_id, ca_line, port, bind, p->certfile, p->keyfile, p->cafile, p->capath, p->sock);
    return len < 0 || (size_t)len >= n ? -1 : len;
}

/* Writes text to path through a temp file and rename, mode 0600. */
static int write_text(const char *path, const char *text, size_t len)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int broker_socket_path(const char *data_dir, char *out, size_t n)
{
    char abs[PATH_MAX];
    if (realpath(data_dir, abs) == NULL)
        snprintf(abs, sizeof(abs), "%s", data_dir);
    int len = snprintf(out, n, "%s/broker/broker.sock", abs);
    return len < 0 || (size_t)len >= n || (size_t)len >= 108 ? -1 : 0;
}

/* The address to connect to for a listener bound to bind. */
static const char *connect_addr(const char *bind, int *family)
{
    struct in6_addr a6;
    if (inet_pton(AF_INET6, bind, &a6) == 1) {
        *family = AF_INET6;
        return strcmp(bind, "::") == 0 ? "::1" : bind;
    }
    *family = AF_INET;
    return strcmp(bind, "0.0.0.0") == 0 ? "127.0.0.1" : bind;
}

/* Binds a TCP socket to bind_addr:port (SO_REUSEADDR, as mosquitto does)
 * and closes it. Returns the port bound (port 0: the one the kernel chose),
 * or -1. */
static int try_bind(const char *bind_addr, int port)
{
    int family;
    connect_addr(bind_addr, &family);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, bind_addr, &s6->sin6_addr);
        sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, bind_addr, &s4->sin_addr);
        sl = sizeof(*s4);
    }
    int got = -1;
    if (bind(fd, (struct sockaddr *)&ss, sl) == 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        got = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                 : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    close(fd);
    return got;
}

/* A free TCP port on bind_addr, or -1. */
static int pick_port(const char *bind_addr)
{
    return try_bind(bind_addr, 0);
}

int broker_pick_port(const char *bind)
{
    return pick_port(bind);
}

struct broker *broker_new(const struct daemon_config *cfg, const char *bin, const char *plugin,
                          const char *root_ca, struct fl_err *err)
{
    char abs[PATH_MAX], root_abs[PATH_MAX], plugin_abs[PATH_MAX];
    if (realpath(cfg->data_dir, abs) == NULL) {
        fl_err_set(err, FL_INTERNAL, "broker: data directory %s: %s", cfg->data_dir, strerror(errno));
        return NULL;
    }
    if (realpath(root_ca, root_abs) == NULL || realpath(plugin, plugin_abs) == NULL) {
        fl_err_set(err, FL_INVALID_REQUEST, "broker: %s: %s", realpath(root_ca, root_abs) ? plugin : root_ca,
                   strerror(errno));
        return NULL;
    }
    struct broker *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        fl_err_set(err, FL_INTERNAL, "broker: out of memory");
        return NULL;
    }
    struct broker_paths *p = &b->p;
    int bad = 0;
    bad |= (size_t)snprintf(p->dir, sizeof(p->dir), "%s/broker", abs) >= sizeof(p->dir);
    bad |= broker_socket_path(abs, p->sock, sizeof(p->sock)) != 0;
    bad |= (size_t)snprintf(p->conf, sizeof(p->conf), "%s/mosquitto.conf", p->dir) >= sizeof(p->conf);
    bad |= (size_t)snprintf(p->log, sizeof(p->log), "%s/mosquitto.log", p->dir) >= sizeof(p->log);
    bad |= (size_t)snprintf(p->pidfile, sizeof(p->pidfile), "%s/broker.pid", p->dir) >= sizeof(p->pidfile);
    bad |= (size_t)snprintf(p->capath, sizeof(p->capath), "%s/cas", p->dir) >= sizeof(p->capath);
    bad |= (size_t)snprintf(p->db, sizeof(p->db), "%s/fleetd.db", abs) >= sizeof(p->db);
    bad |= (size_t)snprintf(p->certfile, sizeof(p->certfile), "%s/ca/server.pem", abs) >= sizeof(p->certfile);
    bad |= (size_t)snprintf(p->keyfile, sizeof(p->keyfile), "%s/ca/server.key", abs) >= sizeof(p->keyfile);
    bad |= (size_t)snprintf(p->ca_dir, sizeof(p->ca_dir), "%s/ca", abs) >= sizeof(p->ca_dir);
    bad |= (size_t)snprintf(p->cafile, sizeof(p->cafile), "%s", root_abs) >= sizeof(p->cafile);
    bad |= (size_t)snprintf(p->plugin, sizeof(p->plugin), "%s", plugin_abs) >= sizeof(p->plugin);
    p->token_ttl_s = cfg->provisioning_token_ttl_s;
    if (!cfg->broker_tls_session_tickets)
        bad |= (size_t)snprintf(p->openssl_conf, sizeof(p->openssl_conf), "%s/openssl.cnf", p->dir) >=
               sizeof(p->openssl_conf);
    if (cfg->hook_ca_file[0]) {
        char hook_abs[PATH_MAX];
        if (realpath(cfg->hook_ca_file, hook_abs) == NULL) {
            fl_err_set(err, FL_INVALID_REQUEST, "broker: hook_ca_file %s: %s", cfg->hook_ca_file,
                       strerror(errno));
            free(b);
            return NULL;
        }
        bad |= (size_t)snprintf(p->hook_ca_file, sizeof(p->hook_ca_file), "%s", hook_abs) >=
               sizeof(p->hook_ca_file);
    }
    if (bad) {
        fl_err_set(err, FL_INVALID_REQUEST,
                   "broker: the data directory path %s is too long (the broker's unix socket must fit in 107 "
                   "bytes)",
                   abs);
        free(b);
        return NULL;
    }
    struct passwd *pw = getpwuid(geteuid());
    snprintf(p->user, sizeof(p->user), "%s", pw && pw->pw_name ? pw->pw_name : "root");
    snprintf(b->bin, sizeof(b->bin), "%s", bin);
    snprintf(b->wrapper, sizeof(b->wrapper), "%s", cfg->broker_wrapper);
    snprintf(b->bind, sizeof(b->bind), "%s", cfg->mqtt_bind);
    b->backoff_ms = BACKOFF_MIN_MS;
    b->port = cfg->core.mqtt_port;
    if (b->port == 0 && (b->port = pick_port(b->bind)) <= 0) {
        fl_err_set(err, FL_INTERNAL, "broker: cannot find a free port on %s", b->bind);
        free(b);
        return NULL;
    }
    if ((mkdir(p->dir, 0700) != 0 && errno != EEXIST) || (mkdir(p->capath, 0700) != 0 && errno != EEXIST)) {
        fl_err_set(err, FL_INTERNAL, "broker: cannot create %s: %s", p->capath, strerror(errno));
        free(b);
        return NULL;
    }
    char text[8192];
    int len =
        broker_render_conf(p, b->bind, b->port, cfg->core.region, cfg->core.account_id, text, sizeof(text));
    if (len < 0) {
        fl_err_set(
            err, FL_INVALID_REQUEST,
            "broker: a path of the broker's configuration contains whitespace or '#' (data directory %s, "
            "plugin %s): mosquitto cannot read it",
            abs, p->plugin);
        free(b);
        return NULL;
    }
    if (write_text(p->conf, text, (size_t)len) != 0) {
        fl_err_set(err, FL_INTERNAL, "broker: cannot write %s: %s", p->conf, strerror(errno));
        free(b);
        return NULL;
    }
    if (p->openssl_conf[0] &&
        write_text(p->openssl_conf, BROKER_OPENSSL_CONF, strlen(BROKER_OPENSSL_CONF)) != 0) {
        fl_err_set(err, FL_INTERNAL, "broker: cannot write %s: %s", p->openssl_conf, strerror(errno));
        free(b);
        return NULL;
    }
    if (p->openssl_conf[0] && getenv("OPENSSL_CONF") != NULL)
        fprintf(stderr,
                "fleetd: OPENSSL_CONF is set: the broker reads it instead of %s, and sends TLS session "
                "tickets unless that file says NumTickets = 0\n",
                p->openssl_conf);
#if defined(__SANITIZE_ADDRESS__)
    /* An ASan fleetd sits beside an ASan plugin, which mosquitto can load
     * only with the ASan runtime first in line: hand the child ours. */
    const char *pre = getenv("LD_PRELOAD");
    if (pre == NULL || *pre == '\0') {
        FILE *m = fopen("/proc/self/maps", "r");
        char line[PATH_MAX + 128];
        while (m && fgets(line, sizeof(line), m)) {
            char *path = strchr(line, '/');
            if (path && strstr(path, "/libasan.so")) {
                path[strcspn(path, "\n")] = '\0';
                snprintf(b->preload, sizeof(b->preload), "%s", path);
                break;
            }
        }
        if (m)
            fclose(m);
    }
#endif
    return b;
}

/* ---- the child ------------------------------------------------------------ */

/* Last lines of the broker's log (for messages about a broker that died),
 * joined with " | ". */
static void log_tail(const struct broker *b, char *out, size_t n, int lines)
{
    out[0] = '\0';
    FILE *f = fopen(b->p.log, "r");
    if (f == NULL)
        return;
    char buf[4096];
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
    long from = size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    char *start = buf + len;
    int k = 0;
    while (start > buf && k < lines) {
        start--;
        if (*start == '\n' && ++k == lines) {
            start++;
            break;
        }
    }
    size_t o = 0;
    for (char *s = start; *s && o + 4 < n; s++) {
        if (*s == '\n') {
            o += (size_t)snprintf(out + o, n - o, " | ");
        } else {
            out[o++] = *s;
        }
    }
    out[o < n ? o : n - 1] = '\0';
}

static void write_pidfile(const struct broker *b)
{
    char text[32];
    int len = snprintf(text, sizeof(text), "%ld\n", (long)b->pid);
    if (write_text(b->p.pidfile, text, (size_t)len) != 0)
        fprintf(stderr, "fleetd: cannot write %s: %s\n", b->p.pidfile, strerror(errno));
}

/* Forks and execs [wrapper...] bin -c conf. Everything the child needs is
 * built before fork: after it, only async-signal-safe calls. */
static int spawn(struct broker *b)
{
    char wrap[sizeof(b->wrapper)];
    char *argv[WRAPPER_ARGS + 4];
    int argc = 0;
    snprintf(wrap, sizeof(wrap), "%s", b->wrapper);
    char *save = NULL;
    for (char *t = strtok_r(wrap, " \t", &save); t && argc < WRAPPER_ARGS; t = strtok_r(NULL, " \t", &save))
        argv[argc++] = t;
    argv[argc++] = b->bin;
    argv[argc++] = "-c";
    argv[argc++] = b->p.conf;
    argv[argc] = NULL;
    /* the program: the binary, or the wrapper's first word looked up in PATH */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", argv[0]);
    if (strchr(argv[0], '/') == NULL) {
        const char *env_path = getenv("PATH");
        char dirs[4096];
        snprintf(dirs, sizeof(dirs), "%s", env_path && *env_path ? env_path : "/usr/bin:/bin");
        char *dsave = NULL;
        for (char *d = strtok_r(dirs, ":", &dsave); d; d = strtok_r(NULL, ":", &dsave)) {
            char cand[PATH_MAX];
            if ((size_t)snprintf(cand, sizeof(cand), "%s/%s", d, argv[0]) < sizeof(cand) &&
                access(cand, X_OK) == 0) {
                snprintf(path, sizeof(path), "%s", cand);
                break;
            }
        }
    }

    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 3, sizeof(char *));
    char preload[PATH_MAX + 16];
    char ossl[sizeof(b->p.openssl_conf) + 16];
    if (envp == NULL)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        envp[k++] = environ[i];
    if (b->preload[0]) {
        snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", b->preload);
        envp[k++] = preload;
    }
    /* an OPENSSL_CONF of the operator's wins (warned at start) */
    if (b->p.openssl_conf[0] && getenv("OPENSSL_CONF") == NULL) {
        snprintf(ossl, sizeof(ossl), "OPENSSL_CONF=%s", b->p.openssl_conf);
        envp[k++] = ossl;
    }
    envp[k] = NULL;

    unlink(b->p.sock); /* its existence is half of the readiness test */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        free(envp);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &sa, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) {
            dup2(null, 0);
            if (null > 2)
                close(null);
        }
        /* nothing of fleetd's (listening socket, database) leaks into the broker */
        if (close_range(3, ~0U, 0) != 0)
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
        execve(path, argv, envp);
        _exit(127);
    }
    free(envp);
    b->pid = pid;
    b->started_ms = mono_ms();
    b->restart_at_ms = 0;
    return 0;
}

/* Reaps the child if it exited; returns 1 with *status filled then. */
static int reap(struct broker *b, int *status)
{
    if (b->pid <= 0)
        return 0;
    pid_t r = waitpid(b->pid, status, WNOHANG);
    if (r == b->pid || (r < 0 && errno == ECHILD)) {
        if (r < 0)
            *status = 0;
        b->pid = 0;
        unlink(b->p.pidfile);
        return 1;
    }
    return 0;
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

static void describe_exit(int status, char *out, size_t n)
{
    if (WIFSIGNALED(status))
        snprintf(out, n, "was killed by signal %d", WTERMSIG(status));
    else
        snprintf(out, n, "exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* 1 when a TCP socket listens on the broker's port (from /proc/net/tcp*):
 * it then accepts connections. Connecting to find out would leave a
 * "connection failed" line in the broker's log at every start. */
static int port_listening(const struct broker *b)
{
    static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    int found = 0;
    for (size_t i = 0; i < 2 && !found; i++) {
        FILE *f = fopen(files[i], "r");
        char line[512];
        while (f && !found && fgets(line, sizeof(line), f)) {
            char local[128];
            unsigned st;
            if (sscanf(line, " %*[0-9]: %127s %*s %x", local, &st) != 2)
                continue;
            char *colon = strrchr(local, ':');
            found = colon && st == 0x0A && strtol(colon + 1, NULL, 16) == b->port;
        }
        if (f)
            fclose(f);
    }
    return found;
}

static void schedule_restart(struct broker *b)
{
    int64_t now = mono_ms();
    if (b->started_ms && now - b->started_ms >= HEALTHY_AFTER_MS)
        b->backoff_ms = BACKOFF_MIN_MS;
    b->restart_at_ms = now + b->backoff_ms;
    b->backoff_ms = b->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->backoff_ms * 2;
}

enum fl_code broker_start(struct broker *b, int timeout_ms, const sigset_t *abort_on, struct fl_err *err)
{
    b->stopped = 0;
    /* A broker that cannot bind would only exit again (and, started with
     * a sanitizer runtime, report the leaks of mosquitto's error path). */
    if (try_bind(b->bind, b->port) != b->port) {
        schedule_restart(b);
        return fl_err_set(err, FL_UNAVAILABLE, "the MQTT port %s:%d is in use", b->bind, b->port);
    }
    if (spawn(b) != 0)
        return fl_err_set(err, FL_UNAVAILABLE, "cannot start %s: %s", b->bin, strerror(errno));
    int64_t deadline = mono_ms() + timeout_ms;
    struct stat st;
    for (;;) {
        int status;
        if (reap(b, &status)) {
            char how[64], tail[600];
            describe_exit(status, how, sizeof(how));
            log_tail(b, tail, sizeof(tail), 3);
            fl_err_set(err, FL_UNAVAILABLE, "the broker %s at start%s%s (see %s)", how, tail[0] ? ": " : "",
                       tail, b->p.log);
            schedule_restart(b);
            return FL_UNAVAILABLE;
        }
        /* The unix socket is the config's last listener: once it exists the
         * TLS listener was bound by this broker (mosquitto exits when a
         * listener fails), not by someone else on the same port. */
        if (stat(b->p.sock, &st) == 0 && S_ISSOCK(st.st_mode) && port_listening(b))
            break;
        if (abort_on) {
            sigset_t pend;
            sigpending(&pend);
            for (int s = 1; s < NSIG; s++)
                if (sigismember(abort_on, s) == 1 && sigismember(&pend, s) == 1) {
                    broker_stop(b, 2000);
                    return fl_err_set(err, FL_UNAVAILABLE, "interrupted");
                }
        }
        if (mono_ms() >= deadline) {
            broker_stop(b, 2000);
            b->stopped = 0;
            schedule_restart(b);
            return fl_err_set(err, FL_UNAVAILABLE,
                              "the broker did not accept connections on %s:%d within %d ms", b->bind, b->port,
                              timeout_ms);
        }
        sleep_ms(20);
    }
    write_pidfile(b);
    return FL_OK;
}

int broker_poll(struct broker *b)
{
    int status;
    if (reap(b, &status) && !b->stopped) {
        char how[64], tail[600] = "";
        describe_exit(status, how, sizeof(how));
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0) /* a signal: the log says nothing */
            log_tail(b, tail, sizeof(tail), 3);
        schedule_restart(b);
        b->died = 1;
        fprintf(stderr, "fleetd: the broker %s%s%s; restarting it in %d ms\n", how, tail[0] ? ": " : "", tail,
                (int)(b->restart_at_ms - mono_ms()));
    }
    if (b->pid > 0 || b->stopped || b->restart_at_ms == 0)
        return -1;
    int64_t now = mono_ms();
    if (now < b->restart_at_ms)
        return (int)(b->restart_at_ms - now);
    if (try_bind(b->bind, b->port) != b->port) {
        schedule_restart(b);
        fprintf(stderr, "fleetd: the MQTT port %s:%d is in use; the broker is retried in %d ms\n", b->bind,
                b->port, (int)(b->restart_at_ms - now));
        return (int)(b->restart_at_ms - now);
    }
    if (spawn(b) != 0) {
        fprintf(stderr, "fleetd: cannot start the broker %s: %s\n", b->bin, strerror(errno));
        schedule_restart(b);
        return (int)(b->restart_at_ms - now);
    }
    write_pidfile(b);
    fprintf(stderr, "fleetd: broker restarted (pid %ld)\n", (long)b->pid);
    return -1;
}

void broker_reload(struct broker *b)
{
    if (b->pid > 0)
        kill(b->pid, SIGHUP);
}

int broker_stop(struct broker *b, int grace_ms)
{
    b->stopped = 1;
    b->restart_at_ms = 0;
    if (b->pid <= 0)
        return -1;
    pid_t pid = b->pid;
    int status = 0;
    kill(pid, SIGTERM);
    int64_t deadline = mono_ms() + grace_ms;
    while (!reap(b, &status)) {
        if (mono_ms() >= deadline) {
            fprintf(stderr, "fleetd: the broker (pid %ld) did not stop within %d ms: SIGKILL\n", (long)pid,
                    grace_ms);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            b->pid = 0;
            unlink(b->p.pidfile);
            break;
        }
        sleep_ms(10);
    }
    return exit_code(status);
}

void broker_free(struct broker *b)
{
    if (b == NULL)
        return;
    if (b->pid > 0)
        broker_stop(b, 5000);
    free(b->ca_ids);
    free(b);
}

int broker_died(struct broker *b)
{
    int d = b->died;
    b->died = 0;
    return d;
}

int broker_port(const struct broker *b)
{
    return b->port;
}

pid_t broker_pid(const struct broker *b)
{
    return b->pid;
}

const struct broker_paths *broker_paths(const struct broker *b)
{
    return &b->p;
}

/* ---- registered CAs -> capath ----------------------------------------------- */

struct ca_file {
    char name[32]; /* <subject hash>.<n> */
    char *pem;
};

/* OpenSSL's hashed-directory name stem for a PEM's subject (ca/ computes
 * it: X.509 stays there), or 0. */
static unsigned long subject_hash(const char *pem)
{
    unsigned long h = 0;
    struct fl_err ignore;
    return x509_subject_hash(pem, &h, &ignore) == FL_OK ? h : 0;
}

static int same_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = strlen(text);
    char *buf = malloc(n + 2);
    size_t got = buf ? fread(buf, 1, n + 1, f) : 0;
    fclose(f);
    int same = buf && got == n && memcmp(buf, text, n) == 0;
    free(buf);
    return same;
}

static int is_hash_name(const char *s)
{
    size_t i = 0;
    for (; i < 8; i++)
        if (!strchr("0123456789abcdef", s[i]) || s[i] == '\0')
            return 0;
    if (s[i++] != '.')
        return 0;
    if (s[i] == '\0')
        return 0;
    for (; s[i]; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

enum fl_code broker_sync_cas(struct broker *b, struct fl_core *c, struct fl_err *err)
{
    /* 1. the registered ids, in creation order */
    size_t cap = 1024, len = 0;
    char *ids = malloc(cap);
    if (ids == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    ids[0] = '\0';
    char marker[512] = "";
    enum fl_code rc = FL_OK;
    for (;;) {
        json_t *page = NULL;
        struct certificates_list_in in = {
            .page_size = 250, .marker = marker[0] ? marker : NULL, .ascending = 1};
        if ((rc = certificates_ca_list(c, &in, NULL, &page, err)) != FL_OK)
            break;
        size_t i;
        json_t *it;
        json_array_foreach (json_object_get(page, "certificates"), i, it) {
            const char *id = json_string_value(json_object_get(it, "certificateId"));
            if (id == NULL || strlen(id) != 64)
                continue;
            if (len + 66 > cap) {
                char *bigger = realloc(ids, cap * 2);
                if (bigger == NULL) {
                    json_decref(page);
                    free(ids);
                    return fl_err_set(err, FL_INTERNAL, "out of memory");
                }
                ids = bigger;
                cap *= 2;
            }
            memcpy(ids + len, id, 64);
            len += 64;
            ids[len++] = ',';
            ids[len] = '\0';
        }
        const char *next = json_string_value(json_object_get(page, "nextMarker"));
        int more = next && *next && strlen(next) < sizeof(marker);
        if (more)
            snprintf(marker, sizeof(marker), "%s", next);
        json_decref(page);
        if (!more)
            break;
    }
    if (rc != FL_OK || (b->ca_ids && strcmp(b->ca_ids, ids) == 0)) {
        free(ids);
        return rc;
    }

    /* 2. the set changed: write every CA under its hash name */
    size_t n = len / 65;
    struct ca_file *files = calloc(n ? n : 1, sizeof(*files));
    if (files == NULL) {
        free(ids);
        return fl_err_set(err, FL_INTERNAL, "out of memory");
    }
    size_t nf = 0;
    for (size_t i = 0; i < n && rc == FL_OK; i++) {
        char id[65];
        memcpy(id, ids + i * 65, 64);
        id[64] = '\0';
        json_t *d = NULL;
        enum fl_code r = certificates_ca_describe(c, id, &d, err);
        if (r == FL_NOT_FOUND) /* deleted meanwhile */
            continue;
        if (r != FL_OK) {
            rc = r;
            break;
        }
        const char *pem = json_string_value(
            json_object_get(json_object_get(d, "certificateDescription"), "certificatePem"));
        unsigned long h = pem ? subject_hash(pem) : 0;
        if (h != 0) {
            int k = 0;
            char stem[24];
            snprintf(stem, sizeof(stem), "%08lx.", h & 0xffffffffUL);
            for (size_t j = 0; j < nf; j++)
                if (strncmp(files[j].name, stem, 9) == 0)
                    k++;
            snprintf(files[nf].name, sizeof(files[nf].name), "%08lx.%d", h & 0xffffffffUL, k % 1000);
            files[nf].pem = strdup(pem);
            if (files[nf].pem)
                nf++;
        }
        json_decref(d);
    }
    if (rc == FL_OK) {
        for (size_t i = 0; i < nf; i++) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", b->p.capath, files[i].name);
            if (!same_file(path, files[i].pem) && write_text(path, files[i].pem, strlen(files[i].pem)) != 0)
                fprintf(stderr, "fleetd: cannot write %s: %s\n", path, strerror(errno));
        }
        DIR *dir = opendir(b->p.capath);
        struct dirent *e;
        while (dir && (e = readdir(dir)) != NULL) {
            if (!is_hash_name(e->d_name))
                continue;
            int keep = 0;
            for (size_t i = 0; i < nf && !keep; i++)
                keep = strcmp(files[i].name, e->d_name) == 0;
            if (!keep) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s", b->p.capath, e->d_name);
                unlink(path);
            }
        }
        if (dir)
            closedir(dir);
        free(b->ca_ids);
        b->ca_ids = ids;
        ids = NULL;
    }
    for (size_t i = 0; i < nf; i++)
        free(files[i].pem);
    free(files);
    free(ids);
    return rc;
}
