/*
 * h_tags.c - HTTP handlers of TagResource, UntagResource,
 * ListTagsForResource and DescribeEndpoint: decode, one core call, encode.
 * No rules live here (see server/core/tags.c and endpoint.c).
 */
#include "handlers.h"

#include "endpoint.h"
#include "jx.h"
#include "tags.h"

enum fl_code h_tag_resource(struct http_req *req, struct http_resp *resp)
{
    const char *arn = NULL;
    json_t *tags = NULL;
    enum fl_code rc = jx_str(req->json, "resourceArn", JX_REQUIRED, &arn, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "tags", JX_REQUIRED, &tags, &req->err);
    if (rc == FL_OK)
        rc = tags_tag_resource(req->core, arn, tags, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_untag_resource(struct http_req *req, struct http_resp *resp)
{
    const char *arn = NULL;
    json_t *keys = NULL;
    enum fl_code rc = jx_str(req->json, "resourceArn", JX_REQUIRED, &arn, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "tagKeys", JX_REQUIRED, &keys, &req->err);
    if (rc == FL_OK)
        rc = tags_untag_resource(req->core, arn, keys, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_list_tags_for_resource(struct http_req *req, struct http_resp *resp)
{
    /* The model has no maxResults here; a resource has at most 50 tags. */
    return tags_list(req->core, req_query(req, "resourceArn"), req_query(req, "nextToken"), 250, &resp->json,
                     &req->err);
}

enum fl_code h_describe_endpoint(struct http_req *req, struct http_resp *resp)
{
    const char *address = NULL;
    enum fl_code rc = endpoint_describe(req->core, req_query(req, "endpointType"), &address, &req->err);
    if (rc == FL_OK) {
        resp->json = json_object();
        json_object_set_new(resp->json, "endpointAddress", json_string(address));
    }
    return rc;
}
