/*
 * h_things.c - HTTP handlers of CreateThing, DescribeThing, UpdateThing,
 * DeleteThing and ListThings: decode the request, make one things_* call,
 * encode the answer. No rules live here (see server/core/things.c).
 */
#include "handlers.h"

#include "jx.h"
#include "things.h"

/* attributePayload {attributes, merge} of a request body. */
static enum fl_code attr_payload(struct http_req *req, json_t **attrs, int *merge)
{
    json_t *payload = NULL;
    enum fl_code rc = jx_obj(req->json, "attributePayload", JX_OPTIONAL, &payload, &req->err);
    if (rc == FL_OK && payload)
        rc = jx_obj(payload, "attributes", JX_OPTIONAL, attrs, &req->err);
    if (rc == FL_OK && payload)
        rc = jx_bool(payload, "merge", JX_OPTIONAL, merge, &req->err);
    return rc;
}

enum fl_code h_create_thing(struct http_req *req, struct http_resp *resp)
{
    struct things_create_in in = {.name = req_param(req, "thingName")};
    int merge = 0; /* only meaningful in updates */
    enum fl_code rc = jx_str(req->json, "thingTypeName", JX_OPTIONAL, &in.type_name, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "billingGroupName", JX_OPTIONAL, &in.billing_group, &req->err);
    if (rc == FL_OK)
        rc = attr_payload(req, &in.attributes, &merge);
    struct things_ref out;
    if (rc == FL_OK)
        rc = things_create(req->core, &in, &out, &req->err);
    if (rc)
        return rc;
    resp->json = json_object();
    json_object_set_new(resp->json, "thingName", json_string(out.name));
    json_object_set_new(resp->json, "thingArn", json_string(out.arn));
    json_object_set_new(resp->json, "thingId", json_string(out.thing_id));
    return FL_OK;
}

enum fl_code h_describe_thing(struct http_req *req, struct http_resp *resp)
{
    return things_describe(req->core, req_param(req, "thingName"), &resp->json, &req->err);
}

enum fl_code h_update_thing(struct http_req *req, struct http_resp *resp)
{
    struct things_update_in in = {.name = req_param(req, "thingName")};
    enum fl_code rc = jx_str(req->json, "thingTypeName", JX_OPTIONAL, &in.type_name, &req->err);
    if (rc == FL_OK)
        rc = jx_bool(req->json, "removeThingType", JX_OPTIONAL, &in.remove_type, &req->err);
    if (rc == FL_OK && json_object_get(req->json, "expectedVersion") &&
        !json_is_null(json_object_get(req->json, "expectedVersion"))) {
        in.has_expected_version = 1;
        rc = jx_int(req->json, "expectedVersion", JX_REQUIRED, &in.expected_version, &req->err);
    }
    if (rc == FL_OK)
        rc = attr_payload(req, &in.attributes, &in.merge);
    if (rc == FL_OK)
        rc = things_update(req->core, &in, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_delete_thing(struct http_req *req, struct http_resp *resp)
{
    int64_t expected = 0;
    int has_expected = req_query(req, "expectedVersion") != NULL;
    enum fl_code rc = req_query_int(req, "expectedVersion", INT64_MIN, INT64_MAX, 0, &expected);
    if (rc == FL_OK)
        rc = things_delete(req->core, req_param(req, "thingName"), has_expected, expected, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_list_things(struct http_req *req, struct http_resp *resp)
{
    struct things_filter f = {
        .attr_name = req_query(req, "attributeName"),
        .attr_value = req_query(req, "attributeValue"),
        .type_name = req_query(req, "thingTypeName"),
    };
    int max = 0;
    enum fl_code rc = req_max_results(req, 50, &max);
    if (rc == FL_OK)
        rc = req_query_bool(req, "usePrefixAttributeValue", 0, &f.use_prefix);
    if (rc == FL_OK)
        rc = things_list(req->core, &f, max, req_query(req, "nextToken"), &resp->json, &req->err);
    return rc;
}
