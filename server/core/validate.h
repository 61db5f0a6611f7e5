/*
 * validate.h - names, attribute and tag checks with the limits of the AWS IoT
 * service model, shared by every core module (so both adapters refuse the
 * same input with the same message). Knows nothing of HTTP or MQTT.
 */
#ifndef FL_VALIDATE_H
#define FL_VALIDATE_H

#include <stddef.h>

#include "err.h"

/* Thing, thing type and thing group names: 1..128 of [a-zA-Z0-9:_-]. */
enum fl_code validate_name(const char *field, const char *value, struct fl_err *err);
/* Attribute names: 1..128 of [a-zA-Z0-9_.,@/:#-]. */
enum fl_code validate_attr_name(const char *field, const char *value, struct fl_err *err);
/* Attribute values: 0..800 of [a-zA-Z0-9_.,@/:#=\[\]-] (an empty value in an
 * update means "remove"). */
enum fl_code validate_attr_value(const char *field, const char *value, struct fl_err *err);
/* Free text such as descriptions: length min..max bytes, valid UTF-8, and
 * matching [\p{Graph}\x20]* when graph_only (control characters refused). */
enum fl_code validate_text(const char *field, const char *value, size_t min, size_t max, int graph_only,
                           struct fl_err *err);
/* Tag keys 1..128, values 0..256 (service model). */
enum fl_code validate_tag(const char *key, const char *value, struct fl_err *err);

#endif
