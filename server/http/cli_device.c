/*
 * cli_device.c - `fleetd device create`: thing, certificate, attachments,
 * files, and the mosquitto_pub line that works. See cli_device.h.
 *
 * The steps are separate core calls (each its own transaction); when one
 * fails after the certificate was made, the certificate is detached, set
 * INACTIVE and deleted again, and the files written so far are removed, so
 * a failed run leaves no usable credentials behind.
 */
#include "cli_device.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certificates.h"
#include "cli_files.h"
#include "policies.h"
#include "policy_eval.h"
#include "principals.h"
#include "things.h"

int cli_device_default_policy(const char *region, const char *account_id, char *buf, size_t n)
{
    /* ${iot:Connection.Thing.ThingName} resolves when the client id is the
     * name of a thing the certificate is attached to: exactly what device
     * create sets up, and nothing else may connect with this policy. */
    char arn[96];
    snprintf(arn, sizeof(arn), "arn:aws:iot:%s:%s:", region, account_id);
    int len = snprintf(buf, n,
                       "{\"Version\":\"2012-10-17\",\"Statement\":["
                       "{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\","
                       "\"Resource\":\"%sclient/${iot:Connection.Thing.ThingName}\"},"
                       "{\"Effect\":\"Allow\",\"Action\":[\"iot:Publish\",\"iot:Receive\"],\"Resource\":["
                       "\"%stopic/things/${iot:Connection.Thing.ThingName}/*\","
                       "\"%stopic/$aws/things/${iot:Connection.Thing.ThingName}/*\"]},"
                       "{\"Effect\":\"Allow\",\"Action\":\"iot:Subscribe\",\"Resource\":["
                       "\"%stopicfilter/things/${iot:Connection.Thing.ThingName}/*\","
                       "\"%stopicfilter/$aws/things/${iot:Connection.Thing.ThingName}/*\"]}]}",
                       arn, arn, arn, arn, arn);
    return len < 0 || (size_t)len >= n ? -1 : len;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: fleetd device create NAME --policy POLICY|default --out DIR [--force] [--json]\n"
            "  --policy default  uses (and creates on first use) the policy " CLI_DEVICE_DEFAULT_POLICY ":\n"
            "                    connect as NAME, publish/subscribe/receive under things/NAME/ and\n"
            "                    $aws/things/NAME/\n"
            "  --force           replace DIR/NAME.cert.pem and DIR/NAME.private.key if they exist\n"
            "  --json            print the result as one JSON object\n");
    return 2;
}

/* Appends s to out, single-quoted for a POSIX shell when it needs it. */
static void shell_word(char *out, size_t n, const char *s)
{
    size_t o = strlen(out);
    int plain = *s != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:=@,+", *p) != NULL;
    if (o + 1 < n && o > 0)
        out[o++] = ' ';
    if (plain) {
        snprintf(out + o, n - o, "%s", s);
        return;
    }
    if (o + 1 < n)
        out[o++] = '\'';
    for (const char *p = s; *p && o + 5 < n; p++) {
        if (*p == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else {
            out[o++] = *p;
        }
    }
    if (o + 1 < n)
        out[o++] = '\'';
    out[o < n ? o : n - 1] = '\0';
}

struct result {
    char thing[129];
    int thing_created;
    char policy[129];
    int policy_created;
    char cert_id[65];
    char cert_arn[320];
    char cert_file[PATH_MAX], key_file[PATH_MAX], ca_file[PATH_MAX];
    char host[256];
    int port;
    char topic[300];
    int can_connect, can_publish, can_roundtrip;
};

/* Picks a topic the policies let the device publish on (and, for the round
 * trip, subscribe to and receive), by asking the evaluator the broker uses. */
static void pick_topics(struct fl_core *c, struct result *r)
{
    struct fl_err err;
    struct policy_set *set = NULL;
    const char *const topics[] = {"things/%s/telemetry", "%s/telemetry", "devices/%s/telemetry",
                                  "telemetry/%s",        "things/%s",    "%s"};
    snprintf(r->topic, sizeof(r->topic), "things/%s/telemetry", r->thing);
    if (policies_compile_for_principal(c, r->cert_id, r->thing, NULL, &set, &err) != FL_OK)
        return;
    r->can_connect =
        policy_eval_name(set, POLICY_CONNECT, r->thing, strlen(r->thing), NULL) == POLICY_ALLOWED;
    char t[300];
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        snprintf(t, sizeof(t), topics[i], r->thing);
        if (policy_eval_name(set, POLICY_PUBLISH, t, strlen(t), NULL) == POLICY_ALLOWED) {
            snprintf(r->topic, sizeof(r->topic), "%s", t);
            r->can_publish = 1;
            break;
        }
    }
    r->can_roundtrip =
        r->can_publish &&
        policy_eval_name(set, POLICY_SUBSCRIBE, r->topic, strlen(r->topic), NULL) == POLICY_ALLOWED &&
        policy_eval_name(set, POLICY_RECEIVE, r->topic, strlen(r->topic), NULL) == POLICY_ALLOWED;
    policy_set_free(set);
}

/* Undoes a half-made device: the certificate must not stay usable. */
static void rollback(struct fl_core *c, const struct result *r, int attached_thing, int attached_policy)
{
    struct fl_err err;
    if (attached_policy)
        policies_detach(c, r->policy, r->cert_arn, &err);
    if (attached_thing)
        principals_detach(c, r->thing, r->cert_arn, &err);
    certificates_update(c, r->cert_id, "INACTIVE", &err);
    certificates_delete(c, r->cert_id, 1, &err);
    unlink(r->cert_file);
    unlink(r->key_file);
}

/* The mosquitto_pub line, and a mosquitto_rr line: one connection that
 * subscribes to the topic, publishes on it and prints what comes back (a
 * second client with the same id would take the first one's place). */
static void print_lines(const struct result *r, char *pub, size_t pn, char *rr, size_t rn)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", r->port);
    pub[0] = rr[0] = '\0';
    const char *common[] = {"-h",     r->host,      "-p",    port,        "--cafile", r->ca_file,
                            "--cert", r->cert_file, "--key", r->key_file, "-i",       r->thing};
    shell_word(pub, pn, "mosquitto_pub");
    shell_word(rr, rn, "mosquitto_rr");
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
        shell_word(pub, pn, common[i]);
        shell_word(rr, rn, common[i]);
    }
    const char *msg = "{\"hello\":\"world\"}";
    const char *tail_pub[] = {"-t", r->topic, "-m", msg};
    const char *tail_rr[] = {"-t", r->topic, "-e", r->topic, "-m", msg, "-W", "5"};
    for (size_t i = 0; i < sizeof(tail_pub) / sizeof(tail_pub[0]); i++)
        shell_word(pub, pn, tail_pub[i]);
    for (size_t i = 0; i < sizeof(tail_rr) / sizeof(tail_rr[0]); i++)
        shell_word(rr, rn, tail_rr[i]);
}

static int create(struct fl_core *c, const struct daemon_config *cfg, const char *root_ca_path,
                  const char *name, const char *policy, const char *out_dir, int force, int as_json)
{
    struct fl_err err;
    struct result r;
    memset(&r, 0, sizeof(r));
    if (strlen(name) >= sizeof(r.thing) || strchr(name, '/')) {
        fprintf(stderr, "fleetd: device create: invalid thing name '%s'\n", name);
        return 1;
    }
    snprintf(r.thing, sizeof(r.thing), "%s", name);

    /* 1. the policy (before anything is created: a typo costs nothing) */
    int def = strcmp(policy, "default") == 0;
    snprintf(r.policy, sizeof(r.policy), "%s", def ? CLI_DEVICE_DEFAULT_POLICY : policy);
    json_t *pol = NULL;
    enum fl_code rc = policies_get(c, r.policy, &pol, &err);
    json_decref(pol);
    if (rc == FL_NOT_FOUND && def) {
        char doc[2048];
        cli_device_default_policy(c->cfg.region, c->cfg.account_id, doc, sizeof(doc));
        rc = policies_create(c, r.policy, doc, NULL, &pol, &err);
        json_decref(pol);
        if (rc == FL_ALREADY_EXISTS) /* made meanwhile by someone else */
            rc = FL_OK;
        else if (rc == FL_OK)
            r.policy_created = 1;
    } else if (rc == FL_NOT_FOUND) {
        fprintf(
            stderr,
            "fleetd: device create: policy %s does not exist (create it with `aws iot create-policy`, or use "
            "--policy default)\n",
            r.policy);
        return 1;
    }
    if (rc != FL_OK) {
        fprintf(stderr, "fleetd: device create: policy %s: %s\n", r.policy, err.msg);
        return 1;
    }

    /* 2. the output files must be new (or --force) */
    if (cli_mkdir_p(out_dir, 0755) != 0) {
        fprintf(stderr, "fleetd: device create: cannot create %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    char abs[PATH_MAX];
    if (realpath(out_dir, abs) == NULL) {
        fprintf(stderr, "fleetd: device create: %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    if ((size_t)snprintf(r.cert_file, sizeof(r.cert_file), "%s/%s.cert.pem", abs, name) >=
            sizeof(r.cert_file) ||
        (size_t)snprintf(r.key_file, sizeof(r.key_file), "%s/%s.private.key", abs, name) >=
            sizeof(r.key_file) ||
        (size_t)snprintf(r.ca_file, sizeof(r.ca_file), "%s/root-CA.pem", abs) >= sizeof(r.ca_file)) {
        fprintf(stderr, "fleetd: device create: the path %s is too long\n", abs);
        return 1;
    }
    if (!force && (access(r.cert_file, F_OK) == 0 || access(r.key_file, F_OK) == 0)) {
        fprintf(stderr, "fleetd: device create: %s already exists (--force replaces it)\n",
                access(r.cert_file, F_OK) == 0 ? r.cert_file : r.key_file);
        return 1;
    }
    char *root = cli_read_text(root_ca_path);
    if (root == NULL) {
        fprintf(stderr, "fleetd: device create: cannot read the root CA %s\n", root_ca_path);
        return 1;
    }

    /* 3. the thing */
    json_t *thing = NULL;
    rc = things_describe(c, name, &thing, &err);
    json_decref(thing);
    if (rc == FL_NOT_FOUND) {
        struct things_create_in in = {.name = name};
        struct things_ref ref;
        rc = things_create(c, &in, &ref, &err);
        r.thing_created = rc == FL_OK;
        if (rc == FL_ALREADY_EXISTS)
            rc = FL_OK;
    }
    if (rc != FL_OK) {
        fprintf(stderr, "fleetd: device create: thing %s: %s\n", name, err.msg);
        free(root);
        return 1;
    }

    /* 4. certificate, files, attachments */
    json_t *keys = NULL;
    if (certificates_create_keys(c, 1, &keys, &err) != FL_OK) {
        fprintf(stderr, "fleetd: device create: certificate: %s\n", err.msg);
        free(root);
        return 1;
    }
    snprintf(r.cert_id, sizeof(r.cert_id), "%s", json_string_value(json_object_get(keys, "certificateId")));
    snprintf(r.cert_arn, sizeof(r.cert_arn), "%s",
             json_string_value(json_object_get(keys, "certificateArn")));
    int ok = cli_write_identity(keys, root, r.key_file, r.cert_file, r.ca_file) == 0;
    if (!ok)
        fprintf(stderr, "fleetd: device create: cannot write the files in %s: %s\n", abs, strerror(errno));
    json_decref(keys);
    free(root);
    int attached_thing = 0, attached_policy = 0;
    if (ok && principals_attach(c, name, r.cert_arn, NULL, &err) != FL_OK) {
        fprintf(stderr, "fleetd: device create: attaching the certificate to %s: %s\n", name, err.msg);
        ok = 0;
    }
    attached_thing = ok;
    if (ok && policies_attach(c, r.policy, r.cert_arn, &err) != FL_OK) {
        fprintf(stderr, "fleetd: device create: attaching policy %s: %s\n", r.policy, err.msg);
        ok = 0;
    }
    attached_policy = ok;
    if (!ok) {
        rollback(c, &r, attached_thing, attached_policy);
        return 1;
    }

    /* 5. what to type next */
    cli_mqtt_target(cfg, r.host, sizeof(r.host), &r.port);
    pick_topics(c, &r);
    char pub[4 * PATH_MAX], rr[4 * PATH_MAX];
    print_lines(&r, pub, sizeof(pub), rr, sizeof(rr));
    if (as_json) {
        json_t *o = json_pack(
            "{s:s, s:b, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:i, s:s, s:b, s:b, s:s, s:s}", "thingName",
            r.thing, "thingCreated", r.thing_created, "certificateId", r.cert_id, "certificateArn",
            r.cert_arn, "policyName", r.policy, "policyCreated", r.policy_created, "certificateFile",
            r.cert_file, "privateKeyFile", r.key_file, "rootCaFile", r.ca_file, "mqttHost", r.host,
            "mqttPort", r.port, "topic", r.topic, "publishAllowed", r.can_publish, "roundTripAllowed",
            r.can_roundtrip, "mosquittoPub", pub, "mosquittoRr", rr);
        json_object_set_new(o, "connectAllowed", json_boolean(r.can_connect));
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
        return 0;
    }
    printf("device %s:\n"
           "  thing        %s (%s)\n"
           "  certificate  %s (ACTIVE, attached to the thing)\n"
           "  policy       %s (%s, attached to the certificate)\n"
           "  files        %s\n"
           "               %s (private key, 0600)\n"
           "               %s (the root CA the broker's certificate chains to)\n",
           r.thing, r.thing, r.thing_created ? "created" : "existed", r.cert_id, r.policy,
           r.policy_created ? "created" : "existed", r.cert_file, r.key_file, r.ca_file);
    if (!r.can_connect)
        printf(
            "note: policy %s does not allow iot:Connect with client id %s; the lines below will be refused\n",
            r.policy, r.thing);
    else if (!r.can_publish)
        printf("note: policy %s allows publishing on none of the usual topics; %s below will be refused\n",
               r.policy, r.topic);
    printf("publish:\n  %s\n", pub);
    if (r.can_roundtrip)
        printf(
            "round trip (subscribe, publish, print what arrives; one connection, as one client id allows):\n"
            "  %s\n",
            rr);
    return 0;
}

int cli_device(struct fl_core *c, const struct daemon_config *cfg, const char *root_ca_path, int argc,
               char **argv)
{
    if (argc < 2 || strcmp(argv[0], "create") != 0)
        return usage();
    const char *name = NULL, *policy = NULL, *out = NULL;
    int force = 0, as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) {
            policy = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (argv[i][0] != '-' && name == NULL) {
            name = argv[i];
        } else {
            return usage();
        }
    }
    if (name == NULL || policy == NULL || out == NULL)
        return usage();
    return create(c, cfg, root_ca_path, name, policy, out, force, as_json);
}
