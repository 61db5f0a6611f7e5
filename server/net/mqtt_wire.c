/*
 * mqtt_wire.c - hand-written MQTT 3.1.1 packets for fleetd's internal
 * clients of the broker's unix socket (see mqtt_wire.h).
 */
#include "mqtt_wire.h"

#include <string.h>

/* MQTT's variable-length "remaining length" (at most 4 bytes). */
static size_t put_varint(uint8_t *p, size_t n)
{
    size_t i = 0;
    do {
        uint8_t b = (uint8_t)(n % 128);
        n /= 128;
        p[i++] = (uint8_t)(b | (n ? 0x80 : 0));
    } while (n && i < 4);
    return i;
}

static size_t varint_len(size_t n)
{
    return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t n)
{
    *p++ = (uint8_t)(n >> 8);
    *p++ = (uint8_t)(n & 0xff);
    memcpy(p, s, n);
    return p + n;
}

size_t mqtt_wire_connect(uint8_t *buf, size_t cap, const char *client_id, const char *username,
                         uint16_t keepalive_s)
{
    size_t idn = strlen(client_id), un = username ? strlen(username) : 0;
    if (idn > 65535 || un > 65535)
        return 0;
    size_t rem = 10 + 2 + idn + (username ? 2 + un : 0);
    size_t total = 1 + varint_len(rem) + rem;
    if (rem > 268435455 || total > cap)
        return 0;
    uint8_t *p = buf;
    *p++ = 0x10;
    p += put_varint(p, rem);
    p = put_str(p, "MQTT", 4);
    *p++ = 4;                                       /* protocol level: 3.1.1 */
    *p++ = (uint8_t)(0x02 | (username ? 0x80 : 0)); /* clean session, username */
    *p++ = (uint8_t)(keepalive_s >> 8);
    *p++ = (uint8_t)(keepalive_s & 0xff);
    p = put_str(p, client_id, idn);
    if (username)
        p = put_str(p, username, un);
    return (size_t)(p - buf);
}

size_t mqtt_wire_publish(uint8_t *buf, size_t cap, const char *topic, const void *payload, size_t len,
                         int retain)
{
    size_t tn = strlen(topic);
    if (tn > 65535 || len > 268435455 - 2 - tn)
        return 0;
    size_t rem = 2 + tn + len;
    size_t total = 1 + varint_len(rem) + rem;
    if (total > cap)
        return 0;
    uint8_t *p = buf;
    *p++ = (uint8_t)(0x30 | (retain ? 1 : 0)); /* PUBLISH, QoS 0, no DUP */
    p += put_varint(p, rem);
    p = put_str(p, topic, tn);
    if (len)
        memcpy(p, payload, len);
    return (size_t)(p - buf) + len;
}

size_t mqtt_wire_subscribe(uint8_t *buf, size_t cap, uint16_t packet_id, const char *filter)
{
    size_t fn = strlen(filter);
    size_t rem = 2 + 2 + fn + 1;
    if (fn > 65535 || 1 + varint_len(rem) + rem > cap)
        return 0;
    uint8_t *p = buf;
    *p++ = 0x82; /* SUBSCRIBE, reserved flags 0010 */
    p += put_varint(p, rem);
    *p++ = (uint8_t)(packet_id >> 8);
    *p++ = (uint8_t)(packet_id & 0xff);
    p = put_str(p, filter, fn);
    *p++ = 0; /* QoS 0 */
    return (size_t)(p - buf);
}

size_t mqtt_wire_pingreq(uint8_t *buf, size_t cap)
{
    if (cap < 2)
        return 0;
    buf[0] = 0xc0;
    buf[1] = 0;
    return 2;
}

size_t mqtt_wire_disconnect(uint8_t *buf, size_t cap)
{
    if (cap < 2)
        return 0;
    buf[0] = 0xe0;
    buf[1] = 0;
    return 2;
}

int mqtt_wire_parse_connack(const uint8_t *buf, size_t len)
{
    if (len != 4 || buf[0] != 0x20 || buf[1] != 2 || (buf[2] & 0xfe) != 0)
        return -1;
    return buf[3];
}
