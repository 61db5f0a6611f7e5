/*
 * prehook.h - the pre-provisioning hook of a fleet-provisioning template:
 * before a template is applied for a device, fleetd POSTs AWS's hook
 * payload to the hook's target and lets the answer allow or refuse the
 * provisioning and override parameters. On AWS the target is a Lambda
 * function; fleetd calls an http:// or https:// URL given as the hook's
 * targetArn (docs/provisioning.md). The call goes through the core's
 * injected HTTP client (c->http, core.h): this file knows nothing of
 * sockets, TLS, MQTT or SQL, and it never runs inside a transaction (the
 * call may take PREHOOK_TIMEOUT_MS).
 */
#ifndef FL_PREHOOK_H
#define FL_PREHOOK_H

#include <jansson.h>

#include "core.h"

#define PREHOOK_TIMEOUT_MS 5000 /* AWS: the hook must answer within 5 seconds */

/* What the hook is told (AWS's payload). Everything borrowed. */
struct prehook_in {
    const char *claim_certificate_id; /* the certificate the device connected with */
    const char *certificate_id;       /* the device's new certificate */
    const char *certificate_pem;      /* ... its PEM */
    const char *template_arn;
    const char *client_id;
    json_t *parameters; /* object of strings; on FL_OK parameterOverrides are merged into it */
};

/* Checks a preProvisioningHook object ({targetArn, payloadVersion?}) when
 * a template is created or updated: FL_OK, or FL_INVALID_REQUEST naming
 * the field (targetArn not an http(s) URL, payloadVersion not
 * "2020-04-01"). */
enum fl_code prehook_validate(const json_t *hook, struct fl_err *err);

/* Calls hook (the template's preProvisioningHook object) with in's
 * payload through c->http, waiting at most PREHOOK_TIMEOUT_MS. Returns
 * FL_OK when the answer is 2xx JSON with "allowProvisioning": true (its
 * "parameterOverrides", an object of strings, merged into in->parameters);
 * FL_ACCESS_DENIED when the hook refuses, fails, times out or answers
 * something else (err says which, for the device's errorMessage). */
enum fl_code prehook_run(struct fl_core *c, const json_t *hook, const struct prehook_in *in,
                         struct fl_err *err);

#endif
