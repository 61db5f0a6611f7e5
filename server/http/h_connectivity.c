/*
 * h_connectivity.c - HTTP handler of GetThingConnectivityData: one
 * connectivity_get call (server/core/connectivity.c). The state itself is
 * written by the broker plugin.
 */
#include "handlers.h"

#include "connectivity.h"

enum fl_code h_get_thing_connectivity_data(struct http_req *req, struct http_resp *resp)
{
    return connectivity_get(req->core, req_param(req, "thingName"), &resp->json, &req->err);
}
