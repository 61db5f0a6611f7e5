/*
 * h_data.c - HTTP handlers of the iot-data plane (SigV4 service "iotdata"):
 * Publish. The body is the MQTT payload as is (route flag RF_RAW_BODY), the
 * topic one percent-encoded path segment. The message becomes an outbox row
 * (server/core/outbox.c) in the writer's group commit; dispatch kicks the
 * broker once it is committed, so a Publish answered 200 is durable and
 * reaches the broker even if the broker is down right now.
 *
 * Ignored: contentType, responseTopic, messageExpiry and the x-amz-mqtt5-*
 * headers (MQTT 5 properties the outbox does not carry yet).
 */
#include "handlers.h"

#include "outbox.h"

enum fl_code h_publish(struct http_req *req, struct http_resp *resp)
{
    int64_t qos = 0;
    int retain = 0;
    enum fl_code rc = req_query_int(req, "qos", 0, 1, 0, &qos);
    if (rc == FL_OK)
        rc = req_query_bool(req, "retain", 0, &retain);
    if (rc == FL_OK)
        rc = outbox_publish(req->core, req_param(req, "topic"), req->body, req->body_len, (int)qos, retain,
                            &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}
