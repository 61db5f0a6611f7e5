/*
 * h_provisioning.c - HTTP handlers of the provisioning template operations,
 * RegisterThing and CreateProvisioningClaim: decode the request, make one
 * provisioning_* call, encode the answer. No rules live here (see
 * server/core/provisioning.c).
 */
#include "handlers.h"

#include "jx.h"
#include "provisioning.h"

static enum fl_code empty(struct http_resp *resp, enum fl_code rc)
{
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_create_provisioning_template(struct http_req *req, struct http_resp *resp)
{
    struct provisioning_create_in in = {0};
    enum fl_code rc = jx_str(req->json, "templateName", JX_REQUIRED, &in.name, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "description", JX_OPTIONAL, &in.description, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "templateBody", JX_REQUIRED, &in.body, &req->err);
    if (rc == FL_OK)
        rc = jx_bool(req->json, "enabled", JX_OPTIONAL, &in.enabled, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "provisioningRoleArn", JX_REQUIRED, &in.role_arn, &req->err);
    if (rc == FL_OK)
        rc = jx_obj(req->json, "preProvisioningHook", JX_OPTIONAL, &in.hook, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "tags", JX_OPTIONAL, &in.tags, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "type", JX_OPTIONAL, &in.type, &req->err);
    if (rc == FL_OK)
        rc = provisioning_create(req->core, &in, &resp->json, &req->err);
    return rc;
}

enum fl_code h_describe_provisioning_template(struct http_req *req, struct http_resp *resp)
{
    return provisioning_describe(req->core, req_param(req, "templateName"), &resp->json, &req->err);
}

enum fl_code h_update_provisioning_template(struct http_req *req, struct http_resp *resp)
{
    struct provisioning_update_in in = {.name = req_param(req, "templateName"), .enabled = -1};
    int64_t dv = 0;
    enum fl_code rc = jx_str(req->json, "description", JX_OPTIONAL, &in.description, &req->err);
    if (rc == FL_OK)
        rc = jx_bool(req->json, "enabled", JX_OPTIONAL, &in.enabled, &req->err);
    if (rc == FL_OK)
        rc = jx_int(req->json, "defaultVersionId", JX_OPTIONAL, &dv, &req->err);
    if (rc == FL_OK && json_object_get(req->json, "defaultVersionId") && dv <= 0)
        rc = fl_err_set(&req->err, FL_INVALID_REQUEST, "defaultVersionId: must be a positive integer");
    in.default_version = dv;
    if (rc == FL_OK)
        rc = jx_str(req->json, "provisioningRoleArn", JX_OPTIONAL, &in.role_arn, &req->err);
    if (rc == FL_OK)
        rc = jx_obj(req->json, "preProvisioningHook", JX_OPTIONAL, &in.hook, &req->err);
    if (rc == FL_OK)
        rc = jx_bool(req->json, "removePreProvisioningHook", JX_OPTIONAL, &in.remove_hook, &req->err);
    if (rc == FL_OK)
        rc = provisioning_update(req->core, &in, &req->err);
    return empty(resp, rc);
}

enum fl_code h_delete_provisioning_template(struct http_req *req, struct http_resp *resp)
{
    return empty(resp, provisioning_delete(req->core, req_param(req, "templateName"), &req->err));
}

enum fl_code h_list_provisioning_templates(struct http_req *req, struct http_resp *resp)
{
    int n = 0;
    enum fl_code rc = req_max_results(req, PROVISIONING_PAGE_DEFAULT, &n);
    if (rc == FL_OK)
        rc = provisioning_list(req->core, n, req_query(req, "nextToken"), &resp->json, &req->err);
    return rc;
}

enum fl_code h_create_provisioning_template_version(struct http_req *req, struct http_resp *resp)
{
    const char *body = NULL;
    int set_default = 0;
    enum fl_code rc = jx_str(req->json, "templateBody", JX_REQUIRED, &body, &req->err);
    if (rc == FL_OK)
        rc = req_query_bool(req, "setAsDefault", 0, &set_default);
    if (rc == FL_OK)
        rc = provisioning_create_version(req->core, req_param(req, "templateName"), body, set_default,
                                         &resp->json, &req->err);
    return rc;
}

enum fl_code h_describe_provisioning_template_version(struct http_req *req, struct http_resp *resp)
{
    return provisioning_describe_version(req->core, req_param(req, "templateName"),
                                         req_param(req, "versionId"), &resp->json, &req->err);
}

enum fl_code h_list_provisioning_template_versions(struct http_req *req, struct http_resp *resp)
{
    int n = 0;
    enum fl_code rc = req_max_results(req, PROVISIONING_PAGE_DEFAULT, &n);
    if (rc == FL_OK)
        rc = provisioning_list_versions(req->core, req_param(req, "templateName"), n,
                                        req_query(req, "nextToken"), &resp->json, &req->err);
    return rc;
}

enum fl_code h_delete_provisioning_template_version(struct http_req *req, struct http_resp *resp)
{
    return empty(resp, provisioning_delete_version(req->core, req_param(req, "templateName"),
                                                   req_param(req, "versionId"), &req->err));
}

enum fl_code h_register_thing(struct http_req *req, struct http_resp *resp)
{
    const char *body = NULL;
    json_t *params = NULL;
    enum fl_code rc = jx_str(req->json, "templateBody", JX_REQUIRED, &body, &req->err);
    if (rc == FL_OK)
        rc = jx_obj(req->json, "parameters", JX_OPTIONAL, &params, &req->err);
    if (rc == FL_OK)
        rc = provisioning_register_thing(req->core, body, params, &resp->json, &req->err);
    return rc;
}

enum fl_code h_create_provisioning_claim(struct http_req *req, struct http_resp *resp)
{
    return provisioning_create_claim(req->core, req_param(req, "templateName"), &resp->json, &req->err);
}
