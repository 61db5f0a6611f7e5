/*
 * message_cb.c - MOSQ_EVT_MESSAGE: the requests of the $aws APIs the plugin
 * serves. The broker raises it for every client PUBLISH after the WRITE ACL
 * check allowed it (acl_cb.c: iot:Publish, and the topic table's publish
 * rule), so a handler only sees requests its device may make. Topics that
 * do not start with '$' cost one compare; '$' topics are looked up in the
 * topic table (topics.c) and go to the entry's handler, if any.
 *
 * A handled request is consumed, not routed: the broker would otherwise
 * deliver it to every matching subscription, the requester's own wildcard
 * ones included. Returning MOSQ_ERR_ACL_DENIED would drop it too, but MQTT 5
 * publishers then get PUBACK 0x87 (Not authorized) and the AWS SDKs fail
 * the request; so the topic is rewritten to FP_SINK_TOPIC instead, which
 * nothing may subscribe to or receive (the topic table denies it to
 * devices; fleetd's internal client never subscribes there): PUBACK 0x10
 * (No matching subscribers, a success) on MQTT 5, a plain PUBACK on 3.1.1.
 *
 * Pinned to mosquitto 2.0.11 (Debian bookworm): a plugin that replaces
 * ev->topic must free the old one (2.0.16 and later free it themselves).
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <string.h>

#include "fleet_plugin.h"
#include "topics.h"

int message_cb_consume(void *event_data)
{
    struct mosquitto_evt_message *ev = event_data;
    char *sink = mosquitto_strdup(FP_SINK_TOPIC);
    if (sink == NULL)
        return MOSQ_ERR_NOMEM;
    mosquitto_free(ev->topic);
    ev->topic = sink;
    ev->retain = false; /* never keep a request as the sink's retained message */
    return MOSQ_ERR_SUCCESS;
}

int message_cb(int event, void *event_data, void *userdata)
{
    (void)event;
    struct mosquitto_evt_message *ev = event_data;
    if (ev->topic == NULL || ev->topic[0] != '$')
        return MOSQ_ERR_SUCCESS;
    const struct topic_entry *e = topics_match(ev->topic, strlen(ev->topic));
    if (e == NULL || e->handler == NULL)
        return MOSQ_ERR_SUCCESS;
    struct fp_plugin *p = userdata;
    struct fp_ctx *ctx = clients_find(&p->clients, ev->client, mosquitto_client_id(ev->client));
    return e->handler(p, ctx, ev);
}
