/*
 * h_principals.c - HTTP handlers of AttachThingPrincipal,
 * DetachThingPrincipal, ListThingPrincipals(V2) and ListPrincipalThings(V2):
 * decode, one principals_* call, encode. The principal travels in the
 * x-amzn-principal header (service model). No rules live here (see
 * server/core/principals.c).
 */
#include "handlers.h"

#include "principals.h"

static const char *principal_header(const struct http_req *req)
{
    return req->header ? req->header(req->header_ctx, "x-amzn-principal") : NULL;
}

enum fl_code h_attach_thing_principal(struct http_req *req, struct http_resp *resp)
{
    enum fl_code rc = principals_attach(req->core, req_param(req, "thingName"), principal_header(req),
                                        req_query(req, "thingPrincipalType"), &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_detach_thing_principal(struct http_req *req, struct http_resp *resp)
{
    enum fl_code rc =
        principals_detach(req->core, req_param(req, "thingName"), principal_header(req), &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

static enum fl_code list_for_thing(struct http_req *req, struct http_resp *resp, int v2)
{
    int max = 0;
    enum fl_code rc = req_max_results(req, 25, &max);
    if (rc == FL_OK)
        rc = principals_list_for_thing(req->core, req_param(req, "thingName"), v2,
                                       v2 ? req_query(req, "thingPrincipalType") : NULL, max,
                                       req_query(req, "nextToken"), &resp->json, &req->err);
    return rc;
}

static enum fl_code list_things(struct http_req *req, struct http_resp *resp, int v2)
{
    int max = 0;
    enum fl_code rc = req_max_results(req, 25, &max);
    if (rc == FL_OK)
        rc = principals_list_things(req->core, principal_header(req), v2,
                                    v2 ? req_query(req, "thingPrincipalType") : NULL, max,
                                    req_query(req, "nextToken"), &resp->json, &req->err);
    return rc;
}

enum fl_code h_list_thing_principals(struct http_req *req, struct http_resp *resp)
{
    return list_for_thing(req, resp, 0);
}

enum fl_code h_list_thing_principals_v2(struct http_req *req, struct http_resp *resp)
{
    return list_for_thing(req, resp, 1);
}

enum fl_code h_list_principal_things(struct http_req *req, struct http_resp *resp)
{
    return list_things(req, resp, 0);
}

enum fl_code h_list_principal_things_v2(struct http_req *req, struct http_resp *resp)
{
    return list_things(req, resp, 1);
}
