/*
 * prov_request.c - decoding of the fleet-provisioning MQTT requests (see
 * prov_request.h).
 */
#include "prov_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int prov_request_fmt(const char *topic, enum payload_fmt *fmt)
{
    const char *slash = strrchr(topic, '/');
    return slash ? payload_fmt_from_name(slash + 1, strlen(slash + 1), fmt) : -1;
}

static int fail(const char **code, const char *c, char *msg, size_t msglen, const char *m)
{
    *code = c;
    snprintf(msg, msglen, "%s", m);
    return -1;
}

int prov_request_decode(enum prov_kind kind, const char *topic, const void *payload, size_t len,
                        struct prov_request *out, const char **code, char *msg, size_t msglen)
{
    memset(out, 0, sizeof(*out));
    if (strlen(topic) > PROV_TOPIC_MAX || prov_request_fmt(topic, &out->fmt) != 0)
        return fail(code, "InvalidPayload", msg, msglen, "the topic names no payload format (json or cbor)");
    json_t *req = NULL;
    struct fl_err err;
    fl_err_clear(&err);
    if (payload_decode(out->fmt, payload, len, &req, &err) != FL_OK)
        return fail(code, "InvalidPayload", msg, msglen, err.msg);
    int rc = 0;
    if (kind == PK_CSR) {
        json_t *csr = json_object_get(req, "certificateSigningRequest");
        if (!json_is_string(csr) || json_string_length(csr) == 0)
            rc = fail(code, "InvalidPayload", msg, msglen,
                      "certificateSigningRequest is required and must be a string");
        else if ((out->csr = strdup(json_string_value(csr))) == NULL)
            rc = fail(code, "InvalidPayload", msg, msglen, "out of memory");
    } else if (kind == PK_REGISTER) {
        json_t *tok = json_object_get(req, "certificateOwnershipToken");
        json_t *params = json_object_get(req, "parameters");
        const char *name = strncmp(topic, PROV_TPL_PREFIX, strlen(PROV_TPL_PREFIX)) == 0
                               ? topic + strlen(PROV_TPL_PREFIX)
                               : NULL;
        const char *end = name ? strstr(name, PROV_TPL_SUFFIX) : NULL;
        if (tok != NULL && !json_is_string(tok))
            rc = fail(code, "InvalidPayload", msg, msglen, "certificateOwnershipToken must be a string");
        else if (tok == NULL || json_string_length(tok) == 0)
            rc = fail(code, "InvalidCertificateOwnershipToken", msg, msglen,
                      "Certificate ownership token cannot be empty.");
        else if (params != NULL && !json_is_object(params) && !json_is_null(params))
            rc = fail(code, "InvalidPayload", msg, msglen, "parameters must be an object of strings");
        else if (end == NULL || end == name)
            rc = fail(code, "InvalidPayload", msg, msglen, "no template name in the topic");
        else {
            memcpy(out->template_name, name, (size_t)(end - name));
            out->template_name[end - name] = '\0';
            out->params = json_is_object(params) ? json_incref(params) : NULL;
            if ((out->token = strdup(json_string_value(tok))) == NULL)
                rc = fail(code, "InvalidPayload", msg, msglen, "out of memory");
        }
    }
    json_decref(req);
    return rc;
}

void prov_request_free(struct prov_request *r)
{
    free(r->csr);
    if (r->token) /* it proves ownership of a certificate for an hour */
        explicit_bzero(r->token, strlen(r->token));
    free(r->token);
    json_decref(r->params);
    memset(r, 0, sizeof(*r));
}
