/*
 * h_thing_types.c - HTTP handlers of the thing type operations: decode the
 * request, make one thing_types_* call, encode the answer. No rules live
 * here (see server/core/thing_types.c).
 */
#include "handlers.h"

#include "jx.h"
#include "thing_types.h"

enum fl_code h_create_thing_type(struct http_req *req, struct http_resp *resp)
{
    json_t *props = NULL, *tags = NULL;
    struct thing_types_ref out;
    enum fl_code rc = jx_obj(req->json, "thingTypeProperties", JX_OPTIONAL, &props, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "tags", JX_OPTIONAL, &tags, &req->err);
    if (rc == FL_OK)
        rc = thing_types_create(req->core, req_param(req, "thingTypeName"), props, tags, &out, &req->err);
    if (rc)
        return rc;
    resp->json = json_object();
    json_object_set_new(resp->json, "thingTypeName", json_string(out.name));
    json_object_set_new(resp->json, "thingTypeArn", json_string(out.arn));
    json_object_set_new(resp->json, "thingTypeId", json_string(out.type_id));
    return FL_OK;
}

enum fl_code h_describe_thing_type(struct http_req *req, struct http_resp *resp)
{
    return thing_types_describe(req->core, req_param(req, "thingTypeName"), &resp->json, &req->err);
}

enum fl_code h_update_thing_type(struct http_req *req, struct http_resp *resp)
{
    json_t *props = NULL;
    enum fl_code rc = jx_obj(req->json, "thingTypeProperties", JX_OPTIONAL, &props, &req->err);
    if (rc == FL_OK)
        rc = thing_types_update(req->core, req_param(req, "thingTypeName"), props, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_deprecate_thing_type(struct http_req *req, struct http_resp *resp)
{
    int undo = 0;
    enum fl_code rc = jx_bool(req->json, "undoDeprecate", JX_OPTIONAL, &undo, &req->err);
    if (rc == FL_OK)
        rc = thing_types_deprecate(req->core, req_param(req, "thingTypeName"), undo, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_delete_thing_type(struct http_req *req, struct http_resp *resp)
{
    enum fl_code rc = thing_types_delete(req->core, req_param(req, "thingTypeName"), &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_list_thing_types(struct http_req *req, struct http_resp *resp)
{
    int max = 0;
    enum fl_code rc = req_max_results(req, 50, &max);
    if (rc == FL_OK)
        rc = thing_types_list(req->core, req_query(req, "thingTypeName"), max, req_query(req, "nextToken"),
                              &resp->json, &req->err);
    return rc;
}
