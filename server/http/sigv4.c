/* sigv4.c - AWS Signature V4 (stub: being written) */
#include "sigv4.h"

enum fl_code sigv4_parse_authorization(const char *hdr, struct sigv4_auth *out, struct fl_err *err)
{
    (void)hdr;
    (void)out;
    return fl_err_set(err, FL_MISSING_AUTH, "Missing Authentication Token");
}

enum fl_code sigv4_verify(const struct http_req *req, const struct sigv4_auth *auth, const char *secret,
                          int64_t now_ms, struct fl_err *err)
{
    (void)req;
    (void)auth;
    (void)secret;
    (void)now_ms;
    return fl_err_set(err, FL_INVALID_SIGNATURE, "not implemented");
}

int sigv4_sign(const char *method, const char *raw_path, const char *raw_query, const struct http_kv *headers,
               int nheaders, const void *body, size_t body_len, const char *access_key_id, const char *secret,
               const char *region, const char *service, char *out, size_t outlen)
{
    (void)method, (void)raw_path, (void)raw_query, (void)headers, (void)nheaders, (void)body, (void)body_len;
    (void)access_key_id, (void)secret, (void)region, (void)service, (void)out, (void)outlen;
    return -1;
}
