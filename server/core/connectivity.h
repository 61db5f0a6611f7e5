/*
 * connectivity.h - per-thing connectivity (connected, timestamp, disconnect
 * reason) kept by the broker plugin and read by GetThingConnectivityData and,
 * later, fleet indexing. The plugin batches updates in memory and writes
 * them with connectivity_write_batch() from its tick, in one transaction.
 * Knows nothing of MQTT.
 */
#ifndef FL_CONNECTIVITY_H
#define FL_CONNECTIVITY_H

#include <jansson.h>
#include <stdint.h>

#include "core.h"

struct connectivity_update {
    const char *thing_name; /* = client id */
    int connected;
    int64_t timestamp_ms;
    const char *disconnect_reason; /* NULL when connected */
    const char *session_id;
    const char *principal; /* certificate id */
};

/* One transaction for n updates; each bumps the thing's version. */
enum fl_code connectivity_write_batch(struct fl_core *c, const struct connectivity_update *u, int n,
                                      struct fl_err *err);
/* Marks every thing disconnected (broker start/stop), reason given. */
enum fl_code connectivity_all_offline(struct fl_core *c, int64_t now_ms, const char *reason,
                                      struct fl_err *err);
/* GetThingConnectivityData: *out = {"thingName","connected","timestamp","disconnectReason"?}
 * (timestamp as an epoch-seconds number, jx_time); FL_NOT_FOUND for an unknown thing. */
enum fl_code connectivity_get(struct fl_core *c, const char *thing_name, json_t **out, struct fl_err *err);

#endif
