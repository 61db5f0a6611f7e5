/*
 * jx.h - typed field access on jansson objects for request decoders.
 *
 * Both adapters decode JSON (HTTP bodies, MQTT payloads) with these, so a
 * wrong type or a missing required field always yields the same
 * InvalidRequestException naming the field. Knows nothing of HTTP or MQTT.
 */
#ifndef FL_JX_H
#define FL_JX_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"

#define JX_OPTIONAL 0
#define JX_REQUIRED 1

/* Each getter looks up field in obj (obj may be NULL: everything absent).
 * Absent and optional: returns FL_OK and leaves *out untouched.
 * Absent and required, or present with the wrong JSON type: returns
 * FL_INVALID_REQUEST with a message naming the field. JSON null counts as
 * absent. Strings are borrowed from obj. */
enum fl_code jx_str(json_t *obj, const char *field, int required, const char **out, struct fl_err *err);
enum fl_code jx_bool(json_t *obj, const char *field, int required, int *out, struct fl_err *err);
enum fl_code jx_int(json_t *obj, const char *field, int required, int64_t *out, struct fl_err *err);
enum fl_code jx_num(json_t *obj, const char *field, int required, double *out, struct fl_err *err);
enum fl_code jx_obj(json_t *obj, const char *field, int required, json_t **out, struct fl_err *err);
enum fl_code jx_arr(json_t *obj, const char *field, int required, json_t **out, struct fl_err *err);

/* A JSON number for an epoch-millisecond timestamp, in epoch seconds (AWS
 * rest-json timestamps). New reference. */
json_t *jx_time(int64_t ms);

/* Sets obj[field] = json_string(value) when value is not NULL. */
void jx_set_str(json_t *obj, const char *field, const char *value);

#endif
