/*
 * h_certificates.c - HTTP handlers of the certificate and CA certificate
 * operations: decode the request, make one certificates_* call, encode the
 * answer. No rules live here (see server/core/certificates.c).
 *
 * Wire names from the service model: the list order flag travels as
 * ?isAscendingOrder=, pages as ?pageSize=&marker= (not maxResults/nextToken).
 */
#include "handlers.h"

#include "certificates.h"
#include "jx.h"

static void ref_json(struct http_resp *resp, const struct certificates_ref *ref)
{
    resp->json = json_object();
    json_object_set_new(resp->json, "certificateArn", json_string(ref->arn));
    json_object_set_new(resp->json, "certificateId", json_string(ref->id));
}

/* pageSize, marker and isAscendingOrder of the four listings. */
static enum fl_code list_params(struct http_req *req, struct certificates_list_in *in)
{
    int64_t size = 0;
    enum fl_code rc = req_query_int(req, "pageSize", 1, 250, CERTIFICATES_PAGE_DEFAULT, &size);
    if (rc == FL_OK)
        rc = req_query_bool(req, "isAscendingOrder", 0, &in->ascending);
    in->page_size = (int)size;
    in->marker = req_query(req, "marker");
    return rc;
}

enum fl_code h_create_keys_and_certificate(struct http_req *req, struct http_resp *resp)
{
    int active = 0;
    enum fl_code rc = req_query_bool(req, "setAsActive", 0, &active);
    if (rc == FL_OK)
        rc = certificates_create_keys(req->core, active, &resp->json, &req->err);
    return rc;
}

enum fl_code h_create_certificate_from_csr(struct http_req *req, struct http_resp *resp)
{
    int active = 0;
    const char *csr = NULL;
    enum fl_code rc = req_query_bool(req, "setAsActive", 0, &active);
    if (rc == FL_OK)
        rc = jx_str(req->json, "certificateSigningRequest", JX_REQUIRED, &csr, &req->err);
    if (rc == FL_OK)
        rc = certificates_create_from_csr(req->core, csr, active, &resp->json, &req->err);
    return rc;
}

enum fl_code h_register_certificate(struct http_req *req, struct http_resp *resp)
{
    struct certificates_register_in in = {.set_as_active = -1};
    enum fl_code rc = jx_str(req->json, "certificatePem", JX_REQUIRED, &in.pem, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "caCertificatePem", JX_OPTIONAL, &in.ca_pem, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "status", JX_OPTIONAL, &in.status, &req->err);
    if (rc == FL_OK && req_query(req, "setAsActive"))
        rc = req_query_bool(req, "setAsActive", 0, &in.set_as_active);
    struct certificates_ref ref = {{0}};
    if (rc == FL_OK)
        rc = certificates_register(req->core, &in, &ref, &req->err);
    if (rc == FL_OK)
        ref_json(resp, &ref);
    return rc;
}

enum fl_code h_register_certificate_without_ca(struct http_req *req, struct http_resp *resp)
{
    const char *pem = NULL, *status = NULL;
    enum fl_code rc = jx_str(req->json, "certificatePem", JX_REQUIRED, &pem, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "status", JX_OPTIONAL, &status, &req->err);
    struct certificates_ref ref = {{0}};
    if (rc == FL_OK)
        rc = certificates_register_without_ca(req->core, pem, status, &ref, &req->err);
    if (rc == FL_OK)
        ref_json(resp, &ref);
    return rc;
}

enum fl_code h_list_certificates(struct http_req *req, struct http_resp *resp)
{
    struct certificates_list_in in = {0};
    enum fl_code rc = list_params(req, &in);
    if (rc == FL_OK)
        rc = certificates_list(req->core, &in, &resp->json, &req->err);
    return rc;
}

enum fl_code h_describe_certificate(struct http_req *req, struct http_resp *resp)
{
    return certificates_describe(req->core, req_param(req, "certificateId"), &resp->json, &req->err);
}

enum fl_code h_update_certificate(struct http_req *req, struct http_resp *resp)
{
    enum fl_code rc = certificates_update(req->core, req_param(req, "certificateId"),
                                          req_query(req, "newStatus"), &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_delete_certificate(struct http_req *req, struct http_resp *resp)
{
    int force = 0;
    enum fl_code rc = req_query_bool(req, "forceDelete", 0, &force);
    if (rc == FL_OK)
        rc = certificates_delete(req->core, req_param(req, "certificateId"), force, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_list_certificates_by_ca(struct http_req *req, struct http_resp *resp)
{
    struct certificates_list_in in = {.ca_id = req_param(req, "caCertificateId")};
    enum fl_code rc = list_params(req, &in);
    if (rc == FL_OK)
        rc = certificates_list(req->core, &in, &resp->json, &req->err);
    return rc;
}

enum fl_code h_get_registration_code(struct http_req *req, struct http_resp *resp)
{
    char code[65];
    enum fl_code rc = certificates_registration_code(req->core, code, &req->err);
    if (rc == FL_OK) {
        resp->json = json_object();
        json_object_set_new(resp->json, "registrationCode", json_string(code));
    }
    return rc;
}

enum fl_code h_delete_registration_code(struct http_req *req, struct http_resp *resp)
{
    enum fl_code rc = certificates_delete_registration_code(req->core, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_register_ca_certificate(struct http_req *req, struct http_resp *resp)
{
    struct certificates_ca_register_in in = {0};
    enum fl_code rc = req_query_bool(req, "setAsActive", 0, &in.set_active);
    if (rc == FL_OK)
        rc = req_query_bool(req, "allowAutoRegistration", 0, &in.allow_auto_registration);
    if (rc == FL_OK)
        rc = jx_str(req->json, "caCertificate", JX_REQUIRED, &in.ca_pem, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "verificationCertificate", JX_OPTIONAL, &in.verification_pem, &req->err);
    if (rc == FL_OK)
        rc = jx_obj(req->json, "registrationConfig", JX_OPTIONAL, &in.registration_config, &req->err);
    if (rc == FL_OK)
        rc = jx_arr(req->json, "tags", JX_OPTIONAL, &in.tags, &req->err);
    if (rc == FL_OK)
        rc = jx_str(req->json, "certificateMode", JX_OPTIONAL, &in.mode, &req->err);
    struct certificates_ref ref = {{0}};
    if (rc == FL_OK)
        rc = certificates_ca_register(req->core, &in, &ref, &req->err);
    if (rc == FL_OK)
        ref_json(resp, &ref);
    return rc;
}

enum fl_code h_list_ca_certificates(struct http_req *req, struct http_resp *resp)
{
    struct certificates_list_in in = {0};
    enum fl_code rc = list_params(req, &in);
    if (rc == FL_OK)
        rc = certificates_ca_list(req->core, &in, req_query(req, "templateName"), &resp->json, &req->err);
    return rc;
}

enum fl_code h_describe_ca_certificate(struct http_req *req, struct http_resp *resp)
{
    return certificates_ca_describe(req->core, req_param(req, "caCertificateId"), &resp->json, &req->err);
}

enum fl_code h_update_ca_certificate(struct http_req *req, struct http_resp *resp)
{
    struct certificates_ca_update_in in = {
        .id = req_param(req, "caCertificateId"),
        .new_status = req_query(req, "newStatus"),
        .new_auto_status = req_query(req, "newAutoRegistrationStatus"),
    };
    enum fl_code rc =
        jx_obj(req->json, "registrationConfig", JX_OPTIONAL, &in.registration_config, &req->err);
    if (rc == FL_OK)
        rc = jx_bool(req->json, "removeAutoRegistration", JX_OPTIONAL, &in.remove_auto_registration,
                     &req->err);
    if (rc == FL_OK)
        rc = certificates_ca_update(req->core, &in, &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}

enum fl_code h_delete_ca_certificate(struct http_req *req, struct http_resp *resp)
{
    enum fl_code rc = certificates_ca_delete(req->core, req_param(req, "caCertificateId"), &req->err);
    if (rc == FL_OK)
        resp->json = json_object();
    return rc;
}
