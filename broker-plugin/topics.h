/*
 * topics.h - THE topic table of the broker plugin: which reserved ("$")
 * topics a device may publish to, subscribe to and receive, and (in later
 * issues) which plugin handler answers a request topic. The mirror of
 * server/http/routes.c for MQTT.
 *
 * Only topics that start with '$' are looked up: every other topic is an
 * ordinary application topic, decided by the device's policy alone, so the
 * table costs nothing on the common path. Entries are tried in order and
 * the first match wins, so specific entries come before catch-alls. The
 * table never applies to trusted internal clients (fleetd over the unix
 * socket). Pure: knows nothing of the broker API, SQL or JSON.
 */
#ifndef FP_TOPICS_H
#define FP_TOPICS_H

#include <stddef.h>

/* What a device may do with a topic of an entry, per kind of access. */
enum topic_rule {
    TR_DENY = 0, /* never, whatever the policy says */
    TR_POLICY,   /* when the device's policy allows it (iot:Publish, iot:Subscribe, iot:Receive) */
};

struct fp_plugin;
struct fp_ctx;
struct mosquitto_evt_message;

/* A request handler (MESSAGE event) for an $aws API topic; the $aws request
 * topics of later issues set it. Returns a MOSQ_ERR_* code. */
typedef int (*topic_handler_fn)(struct fp_plugin *p, struct fp_ctx *ctx, struct mosquitto_evt_message *ev);

struct topic_entry {
    const char *pattern;      /* '+' = one level, trailing '#' = any rest (also none) */
    const char *name;         /* for logs and tests */
    unsigned char publish;    /* enum topic_rule, WRITE (a device's PUBLISH) */
    unsigned char subscribe;  /* enum topic_rule, SUBSCRIBE (the filter as sent) */
    unsigned char receive;    /* enum topic_rule, READ (delivery to the device) */
    topic_handler_fn handler; /* NULL: routed by the broker as usual */
};

/* The handlers of the fleet-provisioning request topics (provision_cb.c):
 * decode and check the request, queue the work for a worker thread,
 * consume the request. */
int provision_cb_create(struct fp_plugin *p, struct fp_ctx *ctx, struct mosquitto_evt_message *ev);
int provision_cb_create_csr(struct fp_plugin *p, struct fp_ctx *ctx, struct mosquitto_evt_message *ev);
int provision_cb_register(struct fp_plugin *p, struct fp_ctx *ctx, struct mosquitto_evt_message *ev);

extern const struct topic_entry topics_table[];
extern const size_t topics_table_len;

/* The entry for topic (a topic name, or a topic filter taken literally:
 * a filter's own '+' and '#' are plain characters here), len bytes.
 * Returns NULL for a topic that does not start with '$' (an application
 * topic, policy only). Every '$' topic matches some entry (the table ends
 * with a catch-all that denies). No allocation. */
const struct topic_entry *topics_match(const char *topic, size_t len);

/* 1 when topic (len bytes) matches pattern (see struct topic_entry). */
int topics_pattern_match(const char *pattern, const char *topic, size_t len);

#endif
