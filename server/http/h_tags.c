/* h_tags.c - tags and endpoint handlers (stub: being written) */
#include "handlers.h"

enum fl_code h_tag_resource(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_untag_resource(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_list_tags_for_resource(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_describe_endpoint(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

