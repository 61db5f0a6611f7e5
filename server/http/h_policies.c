/*
 * h_policies.c - HTTP handlers of the policy operations: decode the
 * request, make one policies_* call, encode the answer. No rules live here
 * (see server/core/policies.c). The policy listings page with marker /
 * pageSize / nextMarker, as the service model has them.
 */
#include "handlers.h"

#include "jx.h"
#include "policies.h"

static enum fl_code page_size(struct http_req *req, int *out)
{
    int64_t v = 0;
    enum fl_code rc = req_query_int(req, "pageSize", 1, 250, POLICIES_PAGE_DEFAULT, &v);
    *out = (int)v;
    return rc;
}

static enum fl_code empty(enum fl_code rc, struct http_resp *resp)
{
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_list_policies(struct http_req *req, struct http_resp *resp)
{
    int size = 0, asc = 0;
    enum fl_code rc = page_size(req, &size);
    if (rc == FL_OK)
        rc = req_query_bool(req, "isAscendingOrder", 0, &asc);
    if (rc == FL_OK)
        rc = policies_list(req->core, asc, size, req_query(req, "marker"), &resp->json, &req->err);
    return rc;
}

enum fl_code h_create_policy(struct http_req *req, struct http_resp *resp)
{
    const char *doc = NULL;
    json_t *tags = NULL;
    enum fl_code rc = jx_str(req->json, "policyDocument", JX_REQUIRED, &doc, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "tags", JX_OPTIONAL, &tags, &req->err);
    if (rc == FL_OK)
        rc = policies_create(req->core, req_param(req, "policyName"), doc, tags, &resp->json, &req->err);
    return rc;
}

enum fl_code h_get_policy(struct http_req *req, struct http_resp *resp)
{
    return policies_get(req->core, req_param(req, "policyName"), &resp->json, &req->err);
}

enum fl_code h_delete_policy(struct http_req *req, struct http_resp *resp)
{
    return empty(policies_delete(req->core, req_param(req, "policyName"), &req->err), resp);
}

enum fl_code h_create_policy_version(struct http_req *req, struct http_resp *resp)
{
    const char *doc = NULL;
    int set_default = 0;
    enum fl_code rc = jx_str(req->json, "policyDocument", JX_REQUIRED, &doc, &req->err);
    if (rc == FL_OK)
        rc = req_query_bool(req, "setAsDefault", 0, &set_default);
    if (rc == FL_OK)
        rc = policies_create_version(req->core, req_param(req, "policyName"), doc, set_default, &resp->json,
                                     &req->err);
    return rc;
}

enum fl_code h_list_policy_versions(struct http_req *req, struct http_resp *resp)
{
    return policies_list_versions(req->core, req_param(req, "policyName"), &resp->json, &req->err);
}

enum fl_code h_get_policy_version(struct http_req *req, struct http_resp *resp)
{
    return policies_get_version(req->core, req_param(req, "policyName"), req_param(req, "policyVersionId"),
                                &resp->json, &req->err);
}

enum fl_code h_delete_policy_version(struct http_req *req, struct http_resp *resp)
{
    return empty(policies_delete_version(req->core, req_param(req, "policyName"),
                                         req_param(req, "policyVersionId"), &req->err),
                 resp);
}

enum fl_code h_set_default_policy_version(struct http_req *req, struct http_resp *resp)
{
    return empty(policies_set_default_version(req->core, req_param(req, "policyName"),
                                              req_param(req, "policyVersionId"), &req->err),
                 resp);
}

enum fl_code h_attach_policy(struct http_req *req, struct http_resp *resp)
{
    const char *target = NULL;
    enum fl_code rc = jx_str(req->json, "target", JX_REQUIRED, &target, &req->err);
    if (rc == FL_OK)
        rc = policies_attach(req->core, req_param(req, "policyName"), target, &req->err);
    return empty(rc, resp);
}

enum fl_code h_detach_policy(struct http_req *req, struct http_resp *resp)
{
    const char *target = NULL;
    enum fl_code rc = jx_str(req->json, "target", JX_REQUIRED, &target, &req->err);
    if (rc == FL_OK)
        rc = policies_detach(req->core, req_param(req, "policyName"), target, &req->err);
    return empty(rc, resp);
}

enum fl_code h_list_attached_policies(struct http_req *req, struct http_resp *resp)
{
    int size = 0, recursive = 0;
    enum fl_code rc = page_size(req, &size);
    if (rc == FL_OK)
        rc = req_query_bool(req, "recursive", 0, &recursive);
    if (rc == FL_OK)
        rc = policies_list_attached(req->core, req_param(req, "target"), recursive, size,
                                    req_query(req, "marker"), &resp->json, &req->err);
    return rc;
}

enum fl_code h_list_targets_for_policy(struct http_req *req, struct http_resp *resp)
{
    int size = 0;
    enum fl_code rc = page_size(req, &size);
    if (rc == FL_OK)
        rc = policies_list_targets(req->core, req_param(req, "policyName"), size, req_query(req, "marker"),
                                   &resp->json, &req->err);
    return rc;
}

enum fl_code h_get_effective_policies(struct http_req *req, struct http_resp *resp)
{
    const char *principal = NULL, *pool = NULL;
    enum fl_code rc = jx_str(req->json, "principal", JX_OPTIONAL, &principal, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "cognitoIdentityPoolId", JX_OPTIONAL, &pool, &req->err);
    if (rc == FL_OK)
        rc = policies_effective(req->core, principal, pool, req_query(req, "thingName"), &resp->json,
                                &req->err);
    return rc;
}

enum fl_code h_test_authorization(struct http_req *req, struct http_resp *resp)
{
    struct policies_test_in in = {.client_id = req_query(req, "clientId")};
    enum fl_code rc = jx_str(req->json, "principal", JX_OPTIONAL, &in.principal, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "cognitoIdentityPoolId", JX_OPTIONAL, &in.cognito_pool, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "authInfos", JX_REQUIRED, &in.auth_infos, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "policyNamesToAdd", JX_OPTIONAL, &in.to_add, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "policyNamesToSkip", JX_OPTIONAL, &in.to_skip, &req->err);
    if (rc == FL_OK)
        rc = policies_test_authorization(req->core, &in, &resp->json, &req->err);
    return rc;
}
