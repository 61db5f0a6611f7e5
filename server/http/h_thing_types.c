/* h_thing_types.c - thing type handlers (stub: being written) */
#include "handlers.h"

enum fl_code h_create_thing_type(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_describe_thing_type(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_update_thing_type(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_deprecate_thing_type(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_delete_thing_type(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_list_thing_types(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

