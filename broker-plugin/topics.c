/*
 * topics.c - the topic table and its matcher (see topics.h).
 *
 * Today the table holds only what the plugin itself owns: the internal
 * kick topic, the broker's own $SYS and $CONTROL trees, presence events and
 * shared subscriptions. The $aws request topics of later issues
 * (`$aws/things/+/shadow/...`, `$aws/things/+/jobs/...`,
 * `$aws/certificates/...`, `$aws/provisioning-templates/...`) slot in
 * above the `$aws/#` catch-all, each with its handler.
 */
#include "topics.h"

#include <string.h>

#define P TR_POLICY
#define D TR_DENY

const struct topic_entry topics_table[] = {
    /* fleetd's kick channel: internal clients only (they bypass this table). */
    {"$CONTROL/fleet/v1", "control-kick", D, D, D, NULL},
    /* the broker's own control topics (dynamic security and the like) */
    {"$CONTROL/#", "control", D, D, D, NULL},
    /* broker statistics and log lines: not part of AWS IoT */
    {"$SYS/#", "sys", D, D, D, NULL},
    /* lifecycle events: published by the plugin (presence.c), never by devices */
    {"$aws/events/#", "aws-events", D, P, P, NULL},
    /* MQTT 5 shared subscriptions: AWS checks iot:Subscribe on
     * topicfilter/$share/<group>/<filter>; the broker lets nothing but
     * (un)subscribe through for these. */
    {"$share/#", "shared-subscription", D, P, D, NULL},
    /* fleet provisioning (provision_cb.c): requests in json or cbor are
     * answered by the plugin on <request>/accepted|rejected, which devices
     * may subscribe to and receive (policy permitting) but never publish. */
    {"$aws/certificates/create/json", "prov-create", P, P, P, provision_cb_create},
    {"$aws/certificates/create/cbor", "prov-create", P, P, P, provision_cb_create},
    {"$aws/certificates/create/+/accepted", "prov-create-accepted", D, P, P, NULL},
    {"$aws/certificates/create/+/rejected", "prov-create-rejected", D, P, P, NULL},
    {"$aws/certificates/create-from-csr/json", "prov-csr", P, P, P, provision_cb_create_csr},
    {"$aws/certificates/create-from-csr/cbor", "prov-csr", P, P, P, provision_cb_create_csr},
    {"$aws/certificates/create-from-csr/+/accepted", "prov-csr-accepted", D, P, P, NULL},
    {"$aws/certificates/create-from-csr/+/rejected", "prov-csr-rejected", D, P, P, NULL},
    {"$aws/provisioning-templates/+/provision/json", "prov-register", P, P, P, provision_cb_register},
    {"$aws/provisioning-templates/+/provision/cbor", "prov-register", P, P, P, provision_cb_register},
    {"$aws/provisioning-templates/+/provision/+/accepted", "prov-register-accepted", D, P, P, NULL},
    {"$aws/provisioning-templates/+/provision/+/rejected", "prov-register-rejected", D, P, P, NULL},
    /* where consumed requests go (message_cb.c): nobody may subscribe or receive */
    {"$fleet/sink", "sink", D, D, D, NULL},
    /* reserved AWS topics without a service behind them yet: devices may
     * listen (policy permitting) but not publish. */
    {"$aws/#", "aws-reserved", D, P, P, NULL},
    /* any other '$' topic is reserved and unsupported, as on AWS */
    {"$#", "reserved", D, D, D, NULL},
};

const size_t topics_table_len = sizeof(topics_table) / sizeof(topics_table[0]);

int topics_pattern_match(const char *pattern, const char *topic, size_t len)
{
    size_t i = 0;
    for (const char *p = pattern; *p; p++) {
        if (*p == '#')
            return 1; /* the rest, whatever it is (possibly nothing) */
        if (*p == '+') {
            while (i < len && topic[i] != '/')
                i++;
            continue;
        }
        if (i >= len || topic[i] != *p)
            return 0;
        i++;
    }
    return i == len;
}

const struct topic_entry *topics_match(const char *topic, size_t len)
{
    if (len == 0 || topic[0] != '$')
        return NULL;
    for (size_t i = 0; i < topics_table_len; i++)
        if (topics_pattern_match(topics_table[i].pattern, topic, len))
            return &topics_table[i];
    return &topics_table[topics_table_len - 1];
}
