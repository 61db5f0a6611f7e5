/* h_certificates.c - certificate and CA certificate handlers (stub: being written) */
#include "handlers.h"

enum fl_code h_create_keys_and_certificate(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_create_certificate_from_csr(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_register_certificate(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_register_certificate_without_ca(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_list_certificates(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_describe_certificate(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_update_certificate(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_delete_certificate(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_list_certificates_by_ca(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_get_registration_code(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_delete_registration_code(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_register_ca_certificate(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_list_ca_certificates(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_describe_ca_certificate(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_update_ca_certificate(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

enum fl_code h_delete_ca_certificate(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    return fl_err_set(&req->err, FL_INTERNAL, "not implemented");
}

