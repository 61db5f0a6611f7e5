/*
 * h_thing_groups.c - HTTP handlers of the static thing group operations:
 * decode the request, make one thing_groups_* call, encode the answer. No
 * rules live here (see server/core/thing_groups.c).
 */
#include "handlers.h"

#include "jx.h"
#include "thing_groups.h"

/* thingGroupProperties {thingGroupDescription, attributePayload {attributes,
 * merge}} of a request body. */
static enum fl_code group_props(struct http_req *req, int required, struct thing_group_props *p)
{
    json_t *props = NULL, *payload = NULL;
    enum fl_code rc = jx_obj(req->json, "thingGroupProperties", required, &props, &req->err);
    if (rc == FL_OK && props)
        rc = jx_str(props, "thingGroupDescription", JX_OPTIONAL, &p->description, &req->err);
    if (rc == FL_OK && props)
        rc = jx_obj(props, "attributePayload", JX_OPTIONAL, &payload, &req->err);
    if (rc == FL_OK && payload)
        rc = jx_obj(payload, "attributes", JX_OPTIONAL, &p->attributes, &req->err);
    if (rc == FL_OK && payload)
        rc = jx_bool(payload, "merge", JX_OPTIONAL, &p->merge, &req->err);
    return rc;
}

enum fl_code h_create_thing_group(struct http_req *req, struct http_resp *resp)
{
    struct thing_group_create_in in = {.name = req_param(req, "thingGroupName")};
    enum fl_code rc = jx_str(req->json, "parentGroupName", JX_OPTIONAL, &in.parent, &req->err);
    if (rc == FL_OK)
        rc = group_props(req, JX_OPTIONAL, &in.props);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "tags", JX_OPTIONAL, &in.tags, &req->err);
    if (rc == FL_OK)
        rc = thing_groups_create(req->core, &in, &resp->json, &req->err);
    return rc;
}

enum fl_code h_describe_thing_group(struct http_req *req, struct http_resp *resp)
{
    return thing_groups_describe(req->core, req_param(req, "thingGroupName"), &resp->json, &req->err);
}

enum fl_code h_update_thing_group(struct http_req *req, struct http_resp *resp)
{
    struct thing_group_update_in in = {.name = req_param(req, "thingGroupName")};
    enum fl_code rc = group_props(req, JX_REQUIRED, &in.props);
    if (rc == FL_OK && json_is_object(req->json) && json_object_get(req->json, "expectedVersion") &&
        !json_is_null(json_object_get(req->json, "expectedVersion"))) {
        in.has_expected_version = 1;
        rc = jx_int(req->json, "expectedVersion", JX_REQUIRED, &in.expected_version, &req->err);
    }
    int64_t version = 0;
    if (rc == FL_OK)
        rc = thing_groups_update(req->core, &in, &version, &req->err);
    if (rc == FL_OK) {
        resp->json = json_object();
        json_object_set_new(resp->json, "version", json_integer(version));
    }
    return rc;
}

enum fl_code h_delete_thing_group(struct http_req *req, struct http_resp *resp)
{
    int64_t expected = 0;
    int has_expected = req_query(req, "expectedVersion") != NULL;
    enum fl_code rc = req_query_int(req, "expectedVersion", INT64_MIN, INT64_MAX, 0, &expected);
    if (rc == FL_OK)
        rc = thing_groups_delete(req->core, req_param(req, "thingGroupName"), has_expected, expected,
                                 &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_list_thing_groups(struct http_req *req, struct http_resp *resp)
{
    struct thing_groups_filter f = {
        .parent = req_query(req, "parentGroup"),
        .name_prefix = req_query(req, "namePrefixFilter"),
        .recursive = -1,
    };
    int max = 0;
    enum fl_code rc = req_max_results(req, 50, &max);
    if (rc == FL_OK && req_query(req, "recursive"))
        rc = req_query_bool(req, "recursive", 0, &f.recursive);
    if (rc == FL_OK)
        rc = thing_groups_list(req->core, &f, max, req_query(req, "nextToken"), &resp->json, &req->err);
    return rc;
}

/* {thingGroupName|thingGroupArn, thingName|thingArn, overrideDynamicGroups?} */
static enum fl_code member_in(struct http_req *req, struct thing_group_member_in *in)
{
    enum fl_code rc = jx_str(req->json, "thingGroupName", JX_OPTIONAL, &in->group_name, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "thingGroupArn", JX_OPTIONAL, &in->group_arn, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "thingName", JX_OPTIONAL, &in->thing_name, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "thingArn", JX_OPTIONAL, &in->thing_arn, &req->err);
    if (rc == FL_OK)
        rc = jx_bool(req->json, "overrideDynamicGroups", JX_OPTIONAL, &in->override_dynamic, &req->err);
    return rc;
}

enum fl_code h_add_thing_to_thing_group(struct http_req *req, struct http_resp *resp)
{
    struct thing_group_member_in in = {0};
    enum fl_code rc = member_in(req, &in);
    if (rc == FL_OK)
        rc = thing_groups_add_thing(req->core, &in, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_remove_thing_from_thing_group(struct http_req *req, struct http_resp *resp)
{
    struct thing_group_member_in in = {0};
    enum fl_code rc = member_in(req, &in);
    if (rc == FL_OK)
        rc = thing_groups_remove_thing(req->core, &in, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_update_thing_groups_for_thing(struct http_req *req, struct http_resp *resp)
{
    const char *thing = NULL;
    json_t *to_add = NULL, *to_remove = NULL;
    int override_dynamic = 0; /* no dynamic groups yet: accepted, no effect */
    enum fl_code rc = jx_str(req->json, "thingName", JX_REQUIRED, &thing, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "thingGroupsToAdd", JX_OPTIONAL, &to_add, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "thingGroupsToRemove", JX_OPTIONAL, &to_remove, &req->err);
    if (rc == FL_OK)
        rc = jx_bool(req->json, "overrideDynamicGroups", JX_OPTIONAL, &override_dynamic, &req->err);
    if (rc == FL_OK)
        rc = thing_groups_update_for_thing(req->core, thing, to_add, to_remove, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_list_things_in_thing_group(struct http_req *req, struct http_resp *resp)
{
    int max = 0, recursive = 0;
    enum fl_code rc = req_max_results(req, 50, &max);
    if (rc == FL_OK)
        rc = req_query_bool(req, "recursive", 0, &recursive);
    if (rc == FL_OK)
        rc = thing_groups_list_things(req->core, req_param(req, "thingGroupName"), recursive, max,
                                      req_query(req, "nextToken"), &resp->json, &req->err);
    return rc;
}

enum fl_code h_list_thing_groups_for_thing(struct http_req *req, struct http_resp *resp)
{
    int max = 0;
    enum fl_code rc = req_max_results(req, 50, &max);
    if (rc == FL_OK)
        rc = thing_groups_list_for_thing(req->core, req_param(req, "thingName"), max,
                                         req_query(req, "nextToken"), &resp->json, &req->err);
    return rc;
}
