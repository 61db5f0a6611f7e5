/*
 * prehook.c - the pre-provisioning hook (see prehook.h): validates a
 * template's preProvisioningHook, and calls it through the core's injected
 * HTTP client with AWS's payload, turning its answer into allow/deny plus
 * parameter overrides. Every refusal or failure is FL_ACCESS_DENIED, as on
 * AWS ("ACCESS_DENIED" when the Lambda function fails, does not answer in
 * 5 s or does not allow); the device is told why in general terms, the
 * details (with the URL) go to the log. Knows nothing of sockets, TLS,
 * MQTT or SQL; never runs inside a transaction.
 */
#include "prehook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PREHOOK_URL_MAX 2048
#define PREHOOK_PAYLOAD_VERSION "2020-04-01" /* the only version AWS defines */

/* An http:// or https:// URL with a host, printable ASCII only, no user
 * information (server/net/webhook.c parses it fully when it calls). */
static int is_hook_url(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PREHOOK_URL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    const char *p;
    if (strncasecmp(s, "http://", 7) == 0)
        p = s + 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        p = s + 8;
    else
        return 0;
    size_t alen = strcspn(p, "/?#");
    return alen > 0 && p[0] != ':' && memchr(p, '@', alen) == NULL;
}

enum fl_code prehook_validate(const json_t *hook, struct fl_err *err)
{
    if (hook == NULL || json_is_null(hook))
        return FL_OK;
    if (!json_is_object(hook))
        return fl_err_set(err, FL_INVALID_REQUEST, "preProvisioningHook: must be an object");
    const json_t *t = json_object_get(hook, "targetArn");
    if (!json_is_string(t))
        return fl_err_set(err, FL_INVALID_REQUEST, "preProvisioningHook.targetArn: required string");
    if (!is_hook_url(json_string_value(t)))
        return fl_err_set(
            err, FL_INVALID_REQUEST,
            "preProvisioningHook.targetArn: fleetd calls pre-provisioning hooks over HTTP: it must "
            "be an http:// or https:// URL of at most %d characters (Lambda ARNs are not supported)",
            PREHOOK_URL_MAX);
    const json_t *v = json_object_get(hook, "payloadVersion");
    if (v != NULL && !json_is_null(v) &&
        (!json_is_string(v) || strcmp(json_string_value(v), PREHOOK_PAYLOAD_VERSION) != 0))
        return fl_err_set(err, FL_INVALID_REQUEST, "preProvisioningHook.payloadVersion: must be \"%s\"",
                          PREHOOK_PAYLOAD_VERSION);
    return FL_OK;
}

/* Logs the details (URL included) for the operator and refuses with msg,
 * which is what the device reads. */
static enum fl_code deny(struct fl_core *c, const char *url, const char *detail, const char *msg,
                         struct fl_err *err)
{
    core_log(c, FL_LOG_WARN, "pre-provisioning hook %s: %s", url, detail);
    return fl_err_set(err, FL_ACCESS_DENIED, "%s", msg);
}

/* AWS documents "allowProvisioning": true (and, in a note, "true"). */
static int allowed(const json_t *a)
{
    return json_is_true(a) || (json_is_string(a) && strcasecmp(json_string_value(a), "true") == 0);
}

enum fl_code prehook_run(struct fl_core *c, const json_t *hook, const struct prehook_in *in,
                         struct fl_err *err)
{
    const char *url = json_string_value(json_object_get(hook, "targetArn"));
    if (url == NULL)
        return fl_err_set(err, FL_ACCESS_DENIED, "the template's pre-provisioning hook has no target");
    if (c->http.post == NULL)
        return deny(c, url, "no HTTP client in this process",
                    "the pre-provisioning hook cannot be called (no HTTP client)", err);
    json_t *params = in->parameters && json_is_object(in->parameters) ? in->parameters : NULL;
    json_t *payload =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "claimCertificateId",
                  in->claim_certificate_id ? in->claim_certificate_id : "", "certificateId",
                  in->certificate_id ? in->certificate_id : "", "certificatePem",
                  in->certificate_pem ? in->certificate_pem : "", "templateArn",
                  in->template_arn ? in->template_arn : "", "clientId", in->client_id ? in->client_id : "",
                  "parameters", params ? json_incref(params) : json_object());
    char *body = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (body == NULL)
        return fl_err_set(err, FL_INTERNAL, "out of memory");

    struct fl_err herr;
    fl_err_clear(&herr);
    int status = 0;
    char *resp = NULL;
    size_t resp_len = 0;
    enum fl_code rc = c->http.post(c->http.ctx, url, body, strlen(body), PREHOOK_TIMEOUT_MS, &status, &resp,
                                   &resp_len, &herr);
    free(body);
    if (rc != FL_OK) {
        free(resp);
        return deny(c, url, herr.msg,
                    strstr(herr.msg, "timed out")
                        ? "the pre-provisioning hook did not answer within 5 seconds"
                        : "the pre-provisioning hook could not be reached",
                    err);
    }
    if (status < 200 || status > 299) {
        free(resp);
        char detail[64];
        snprintf(detail, sizeof(detail), "answered HTTP %d", status);
        return deny(c, url, detail, "the pre-provisioning hook failed", err);
    }
    json_error_t je;
    json_t *ans = resp ? json_loadb(resp, resp_len, 0, &je) : NULL;
    free(resp);
    if (!json_is_object(ans)) {
        json_decref(ans);
        return deny(c, url, "the answer is not a JSON object",
                    "the pre-provisioning hook answered something other than a JSON object", err);
    }
    if (!allowed(json_object_get(ans, "allowProvisioning"))) {
        json_decref(ans);
        return deny(c, url, "allowProvisioning is not true",
                    "the pre-provisioning hook refused the provisioning", err);
    }
    json_t *ov = json_object_get(ans, "parameterOverrides");
    if (ov != NULL && !json_is_null(ov)) {
        const char *k;
        json_t *v;
        if (!json_is_object(ov)) {
            json_decref(ans);
            return deny(c, url, "parameterOverrides is not an object",
                        "the pre-provisioning hook's parameterOverrides is not an object", err);
        }
        json_object_foreach (ov, k, v) {
            if (!json_is_string(v)) {
                json_decref(ans);
                return deny(c, url, "a parameterOverrides value is not a string",
                            "the pre-provisioning hook's parameterOverrides values must be strings", err);
            }
        }
        /* checked first, merged after: a bad answer changes nothing */
        if (params != NULL && json_object_update(params, ov) != 0) {
            json_decref(ans);
            return fl_err_set(err, FL_INTERNAL, "out of memory");
        }
    }
    json_decref(ans);
    return FL_OK;
}
