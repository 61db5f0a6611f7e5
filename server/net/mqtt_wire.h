/*
 * mqtt_wire.h - the few MQTT 3.1.1 packets fleetd's internal clients write
 * on the broker's unix socket: fleetd's kick connection (server/http/kick.c)
 * and the plugin's worker wake-up (broker-plugin/worker.c). Four fixed
 * shapes do not need a client library. Pure: no I/O.
 */
#ifndef FL_MQTT_WIRE_H
#define FL_MQTT_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Each writes one complete packet into buf and returns its length, or 0
 * when cap is too small or a string is longer than 65535 bytes. */
size_t mqtt_wire_connect(uint8_t *buf, size_t cap, const char *client_id, const char *username,
                         uint16_t keepalive_s);
size_t mqtt_wire_publish(uint8_t *buf, size_t cap, const char *topic, const void *payload, size_t len,
                         int retain);
/* SUBSCRIBE to one filter at QoS 0. */
size_t mqtt_wire_subscribe(uint8_t *buf, size_t cap, uint16_t packet_id, const char *filter);
size_t mqtt_wire_pingreq(uint8_t *buf, size_t cap);
size_t mqtt_wire_disconnect(uint8_t *buf, size_t cap);
/* A CONNACK: its return code (0 = accepted), or -1 when buf (len bytes) is
 * not a well-formed CONNACK. */
int mqtt_wire_parse_connack(const uint8_t *buf, size_t len);

#endif
