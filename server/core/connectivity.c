/*
 * connectivity.c - per-thing connectivity: the broker plugin's batched
 * writes, the all-offline mark at broker start and stop, and
 * GetThingConnectivityData. Only things are tracked: a client id that names
 * no thing leaves no row. Knows nothing of MQTT.
 */
#include "connectivity.h"

#include "jx.h"
#include "store.h"
#include "store_connectivity.h"
#include "things.h"
#include "validate.h"

enum fl_code connectivity_write_batch(struct fl_core *c, const struct connectivity_update *u, int n,
                                      struct fl_err *err)
{
    if (n <= 0)
        return FL_OK;
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    for (int i = 0; i < n && rc == FL_OK; i++) {
        if (u[i].thing_name == NULL || u[i].thing_name[0] == '\0')
            continue;
        rc = store_connectivity_put(c->st, u[i].thing_name, u[i].connected, u[i].timestamp_ms,
                                    u[i].connected ? NULL : u[i].disconnect_reason, u[i].session_id,
                                    u[i].principal, err);
    }
    return store_end(c->st, rc, err);
}

enum fl_code connectivity_all_offline(struct fl_core *c, int64_t now_ms, const char *reason,
                                      struct fl_err *err)
{
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    rc = store_connectivity_all_offline(c->st, now_ms, reason, err);
    return store_end(c->st, rc, err);
}

enum fl_code connectivity_get(struct fl_core *c, const char *thing_name, json_t **out, struct fl_err *err)
{
    enum fl_code rc = validate_name("thingName", thing_name, err);
    if (rc)
        return rc;
    if ((rc = store_begin_read(c->st, err)))
        return rc;
    int64_t row = 0;
    struct store_connectivity s = {0};
    rc = things_id_by_name_tx(c, thing_name, &row, err);
    int seen = 0;
    if (rc == FL_OK) {
        rc = store_connectivity_get(c->st, thing_name, &s, err);
        seen = rc == FL_OK;
        if (rc == FL_NOT_FOUND)
            rc = FL_OK;
    }
    rc = store_end(c->st, rc, err);
    if (rc)
        return rc;
    /* a thing that never connected is simply not connected: no timestamp,
     * no reason */
    *out = json_object();
    json_object_set_new(*out, "thingName", json_string(thing_name));
    json_object_set_new(*out, "connected", json_boolean(seen && s.connected));
    if (seen)
        json_object_set_new(*out, "timestamp", jx_time(s.timestamp_ms));
    if (seen && !s.connected && s.disconnect_reason[0])
        json_object_set_new(*out, "disconnectReason", json_string(s.disconnect_reason));
    return FL_OK;
}
