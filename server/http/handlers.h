/*
 * handlers.h - every HTTP handler named in routes.c. Handlers are h_<op>
 * and live in h_<resource>.c.
 */
#ifndef FL_HANDLERS_H
#define FL_HANDLERS_H

#include "http.h"

/* h_things.c */
enum fl_code h_create_thing(struct http_req *req, struct http_resp *resp);
enum fl_code h_describe_thing(struct http_req *req, struct http_resp *resp);
enum fl_code h_update_thing(struct http_req *req, struct http_resp *resp);
enum fl_code h_delete_thing(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_things(struct http_req *req, struct http_resp *resp);

/* h_thing_types.c */
enum fl_code h_create_thing_type(struct http_req *req, struct http_resp *resp);
enum fl_code h_describe_thing_type(struct http_req *req, struct http_resp *resp);
enum fl_code h_update_thing_type(struct http_req *req, struct http_resp *resp);
enum fl_code h_deprecate_thing_type(struct http_req *req, struct http_resp *resp);
enum fl_code h_delete_thing_type(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_thing_types(struct http_req *req, struct http_resp *resp);

/* h_thing_groups.c */
enum fl_code h_create_thing_group(struct http_req *req, struct http_resp *resp);
enum fl_code h_describe_thing_group(struct http_req *req, struct http_resp *resp);
enum fl_code h_update_thing_group(struct http_req *req, struct http_resp *resp);
enum fl_code h_delete_thing_group(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_thing_groups(struct http_req *req, struct http_resp *resp);
enum fl_code h_add_thing_to_thing_group(struct http_req *req, struct http_resp *resp);
enum fl_code h_remove_thing_from_thing_group(struct http_req *req, struct http_resp *resp);
enum fl_code h_update_thing_groups_for_thing(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_things_in_thing_group(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_thing_groups_for_thing(struct http_req *req, struct http_resp *resp);

/* h_tags.c */
enum fl_code h_tag_resource(struct http_req *req, struct http_resp *resp);
enum fl_code h_untag_resource(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_tags_for_resource(struct http_req *req, struct http_resp *resp);
enum fl_code h_describe_endpoint(struct http_req *req, struct http_resp *resp);

#endif
