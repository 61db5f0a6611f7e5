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

/* h_principals.c */
enum fl_code h_attach_thing_principal(struct http_req *req, struct http_resp *resp);
enum fl_code h_detach_thing_principal(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_thing_principals(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_thing_principals_v2(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_principal_things(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_principal_things_v2(struct http_req *req, struct http_resp *resp);

/* h_certificates.c */
enum fl_code h_create_keys_and_certificate(struct http_req *req, struct http_resp *resp);
enum fl_code h_create_certificate_from_csr(struct http_req *req, struct http_resp *resp);
enum fl_code h_register_certificate(struct http_req *req, struct http_resp *resp);
enum fl_code h_register_certificate_without_ca(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_certificates(struct http_req *req, struct http_resp *resp);
enum fl_code h_describe_certificate(struct http_req *req, struct http_resp *resp);
enum fl_code h_update_certificate(struct http_req *req, struct http_resp *resp);
enum fl_code h_delete_certificate(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_certificates_by_ca(struct http_req *req, struct http_resp *resp);
enum fl_code h_get_registration_code(struct http_req *req, struct http_resp *resp);
enum fl_code h_delete_registration_code(struct http_req *req, struct http_resp *resp);
enum fl_code h_register_ca_certificate(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_ca_certificates(struct http_req *req, struct http_resp *resp);
enum fl_code h_describe_ca_certificate(struct http_req *req, struct http_resp *resp);
enum fl_code h_update_ca_certificate(struct http_req *req, struct http_resp *resp);
enum fl_code h_delete_ca_certificate(struct http_req *req, struct http_resp *resp);

/* h_policies.c */
enum fl_code h_list_policies(struct http_req *req, struct http_resp *resp);
enum fl_code h_create_policy(struct http_req *req, struct http_resp *resp);
enum fl_code h_get_policy(struct http_req *req, struct http_resp *resp);
enum fl_code h_delete_policy(struct http_req *req, struct http_resp *resp);
enum fl_code h_create_policy_version(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_policy_versions(struct http_req *req, struct http_resp *resp);
enum fl_code h_get_policy_version(struct http_req *req, struct http_resp *resp);
enum fl_code h_delete_policy_version(struct http_req *req, struct http_resp *resp);
enum fl_code h_set_default_policy_version(struct http_req *req, struct http_resp *resp);
enum fl_code h_attach_policy(struct http_req *req, struct http_resp *resp);
enum fl_code h_detach_policy(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_attached_policies(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_targets_for_policy(struct http_req *req, struct http_resp *resp);
enum fl_code h_get_effective_policies(struct http_req *req, struct http_resp *resp);
enum fl_code h_test_authorization(struct http_req *req, struct http_resp *resp);

/* h_connectivity.c */
enum fl_code h_get_thing_connectivity_data(struct http_req *req, struct http_resp *resp);

/* h_data.c (iot-data plane) */
enum fl_code h_publish(struct http_req *req, struct http_resp *resp);

/* h_provisioning.c */
enum fl_code h_create_provisioning_template(struct http_req *req, struct http_resp *resp);
enum fl_code h_describe_provisioning_template(struct http_req *req, struct http_resp *resp);
enum fl_code h_update_provisioning_template(struct http_req *req, struct http_resp *resp);
enum fl_code h_delete_provisioning_template(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_provisioning_templates(struct http_req *req, struct http_resp *resp);
enum fl_code h_create_provisioning_template_version(struct http_req *req, struct http_resp *resp);
enum fl_code h_describe_provisioning_template_version(struct http_req *req, struct http_resp *resp);
enum fl_code h_list_provisioning_template_versions(struct http_req *req, struct http_resp *resp);
enum fl_code h_delete_provisioning_template_version(struct http_req *req, struct http_resp *resp);
enum fl_code h_register_thing(struct http_req *req, struct http_resp *resp);
enum fl_code h_create_provisioning_claim(struct http_req *req, struct http_resp *resp);

#endif
