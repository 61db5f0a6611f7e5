/* h_things.c - things handlers (stub: being written) */
#include "handlers.h"

enum fl_code h_create_thing(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_describe_thing(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_update_thing(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_delete_thing(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_list_things(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

