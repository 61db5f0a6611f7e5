/* h_thing_groups.c - thing group handlers (stub: being written) */
#include "handlers.h"

enum fl_code h_create_thing_group(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_describe_thing_group(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_update_thing_group(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_delete_thing_group(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_list_thing_groups(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_add_thing_to_thing_group(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_remove_thing_from_thing_group(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_update_thing_groups_for_thing(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_list_things_in_thing_group(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_list_thing_groups_for_thing(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

