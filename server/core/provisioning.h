/*
 * provisioning.h - fleet provisioning: provisioning templates and their
 * versions (the REST CRUD), the template engine's entry points that apply a
 * template in one transaction (RegisterThing over REST, and the MQTT
 * RegisterThing of the fleet-provisioning flow), provisioning claims, and
 * certificate ownership tokens. Knows nothing of HTTP or MQTT: the broker
 * plugin maps the fl_codes to AWS's MQTT rejections.
 */
#ifndef FL_PROVISIONING_H
#define FL_PROVISIONING_H

#include <jansson.h>
#include <stdint.h>

#include "core.h"

#define PROVISIONING_MAX_VERSIONS 5     /* versions per template (AWS quota) */
#define PROVISIONING_PAGE_DEFAULT 25    /* maxResults when absent */
#define PROVISIONING_CLAIM_SECONDS 300  /* CreateProvisioningClaim certificates */
#define PROVISIONING_TOKEN_SECONDS 3600 /* certificateOwnershipToken lifetime */
#define PROVISIONING_TOKEN_MAX 256      /* token text with its NUL */
#define PROVISIONING_FLEET "FLEET_PROVISIONING"
#define PROVISIONING_JITP "JITP"
#define PROVISIONING_CERT_ID_PARAM "AWS::IoT::Certificate::Id"

/* CreateProvisioningTemplate input. Everything borrowed. */
struct provisioning_create_in {
    const char *name;        /* templateName, required */
    const char *description; /* or NULL */
    const char *body;        /* templateBody (JSON text), required */
    int enabled;             /* default false, as AWS */
    const char *role_arn;    /* provisioningRoleArn, required (kept, never assumed) */
    json_t *hook;            /* preProvisioningHook {targetArn, payloadVersion?} or NULL */
    json_t *tags;            /* TagList or NULL */
    const char *type;        /* FLEET_PROVISIONING (NULL) | JITP */
};

/* CreateProvisioningTemplate: validates the body (tpl_parse) and stores it
 * as version 1, the default. *out = {templateArn, templateName,
 * defaultVersionId} (new reference). Returns FL_OK, FL_INVALID_REQUEST
 * (naming the field or the body's place), FL_ALREADY_EXISTS, or a store
 * error. */
enum fl_code provisioning_create(struct fl_core *c, const struct provisioning_create_in *in, json_t **out,
                                 struct fl_err *err);

/* DescribeProvisioningTemplate: *out = {templateArn, templateName,
 * description, creationDate, lastModifiedDate, defaultVersionId,
 * templateBody, enabled, provisioningRoleArn, preProvisioningHook?, type}.
 * FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND or a store error. */
enum fl_code provisioning_describe(struct fl_core *c, const char *name, json_t **out, struct fl_err *err);

/* UpdateProvisioningTemplate input; NULL / -1 / 0 members keep things. */
struct provisioning_update_in {
    const char *name;
    const char *description;
    int enabled;             /* -1 keep, 0, 1 */
    int64_t default_version; /* 0 keep; must name an existing version */
    const char *role_arn;
    json_t *hook;    /* replaces the hook */
    int remove_hook; /* removePreProvisioningHook */
};

/* UpdateProvisioningTemplate. FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND
 * (template or version), or a store error. */
enum fl_code provisioning_update(struct fl_core *c, const struct provisioning_update_in *in,
                                 struct fl_err *err);

/* DeleteProvisioningTemplate, with its versions and tags. FL_OK,
 * FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code provisioning_delete(struct fl_core *c, const char *name, struct fl_err *err);

/* ListProvisioningTemplates in creation order: *out = {templates:
 * [{templateArn, templateName, description, creationDate, lastModifiedDate,
 * enabled, type}], nextToken?}. max_results 1..250. */
enum fl_code provisioning_list(struct fl_core *c, int max_results, const char *next_token, json_t **out,
                               struct fl_err *err);

/* CreateProvisioningTemplateVersion: *out = {templateArn, templateName,
 * versionId, isDefaultVersion}. FL_VERSIONS_LIMIT_EXCEEDED past
 * PROVISIONING_MAX_VERSIONS; FL_INVALID_REQUEST for a bad body. */
enum fl_code provisioning_create_version(struct fl_core *c, const char *name, const char *body,
                                         int set_default, json_t **out, struct fl_err *err);

/* DescribeProvisioningTemplateVersion (version_id: the path text). *out =
 * {versionId, creationDate, templateBody, isDefaultVersion}. */
enum fl_code provisioning_describe_version(struct fl_core *c, const char *name, const char *version_id,
                                           json_t **out, struct fl_err *err);

/* ListProvisioningTemplateVersions, oldest first: *out = {versions:
 * [{versionId, creationDate, isDefaultVersion}], nextToken?}. */
enum fl_code provisioning_list_versions(struct fl_core *c, const char *name, int max_results,
                                        const char *next_token, json_t **out, struct fl_err *err);

/* DeleteProvisioningTemplateVersion: FL_DELETE_CONFLICT for the default. */
enum fl_code provisioning_delete_version(struct fl_core *c, const char *name, const char *version_id,
                                         struct fl_err *err);

/* RegisterThing (REST): applies body (validated as at creation) with
 * params (object of strings, borrowed, or NULL) in one transaction. *out =
 * {certificatePem?, resourceArns{certificate?, thing?, policy?}}. Returns
 * FL_OK, FL_INVALID_REQUEST (body, parameters), FL_NOT_FOUND (certificate,
 * policy, thing type or group named by the template), FL_CONFLICT (an
 * OverrideSettings FAIL that differs), or another code of the operation
 * that failed; on failure nothing was changed. */
enum fl_code provisioning_register_thing(struct fl_core *c, const char *body, json_t *params, json_t **out,
                                         struct fl_err *err);

/* The MQTT RegisterThing: template_name must exist, be enabled and of type
 * FLEET_PROVISIONING; its default version is applied with parameters
 * (borrowed, may be NULL) plus AWS::IoT::Certificate::Id = certificate_id,
 * in one transaction. *out = {"deviceConfiguration":{...}, "thingName":"..."}
 * (thingName omitted when the template makes no thing). Returns FL_OK,
 * FL_NOT_FOUND (template), FL_INVALID_REQUEST (disabled or JITP template,
 * missing parameter, bad value), or as provisioning_register_thing. */
enum fl_code provisioning_provision(struct fl_core *c, const char *template_name, json_t *parameters,
                                    const char *certificate_id, json_t **out, struct fl_err *err);

/* Inside a write transaction the caller opened (JITP, jitp.c): evaluates
 * body (template text, validated as at creation) with params (object of
 * strings, borrowed) and applies it; tpl_name names inline policies.
 * thing_name (129 bytes, or NULL) receives the thing made or updated ("" when
 * none). Returns as provisioning_register_thing; on failure the caller rolls
 * back (store_end with the code). */
enum fl_code provisioning_apply_tx(struct fl_core *c, const char *tpl_name, const char *body, json_t *params,
                                   char thing_name[129], struct fl_err *err);

/* CreateProvisioningClaim: a key pair and an ACTIVE certificate valid for
 * PROVISIONING_CLAIM_SECONDS, with the template's claim policy
 * ("fleetd-claim-<template>", made on first use) attached: connect, and
 * publish/subscribe/receive on $aws/certificates/create/#,
 * $aws/certificates/create-from-csr/# and
 * $aws/provisioning-templates/<template>/provision/# only (# = any suffix). *out =
 * {certificateId, certificatePem, keyPair{PublicKey, PrivateKey},
 * expiration}. FL_OK, FL_NOT_FOUND, FL_INVALID_REQUEST, FL_INTERNAL (no CA). */
enum fl_code provisioning_create_claim(struct fl_core *c, const char *template_name, json_t **out,
                                       struct fl_err *err);

/* As provisioning_create_claim, the certificate valid for valid_s seconds
 * (> 0) instead: `fleetd claim create` makes the long-lived claim a factory
 * flashes. Same policy, same output; FL_INVALID_REQUEST for valid_s <= 0. */
enum fl_code provisioning_create_claim_for(struct fl_core *c, const char *template_name, int64_t valid_s,
                                           json_t **out, struct fl_err *err);

#define PROVISIONING_CLAIM_POLICY_MAX 64
/* The name of the claim policy of a template: "fleetd-claim-<template>". */
void provisioning_claim_policy_name(const char *template_name, char out[PROVISIONING_CLAIM_POLICY_MAX]);

/* The policy document of the claim policy of a template (malloc'd). */
char *provisioning_claim_policy(const struct fl_core *c, const char *template_name);

/* certificateOwnershipToken for certificate_id (64 hex): HMAC-SHA256 under a
 * random server secret (settings row, made on first use), bound to the
 * certificate, valid PROVISIONING_TOKEN_SECONDS by the core clock. out
 * holds PROVISIONING_TOKEN_MAX. FL_OK, FL_INVALID_REQUEST (bad id), or a
 * store error. */
enum fl_code provisioning_token_issue(struct fl_core *c, const char *certificate_id,
                                      char out[PROVISIONING_TOKEN_MAX], struct fl_err *err);

/* Checks and consumes a token: certificate_id_out receives the certificate
 * it was issued for. FL_OK, or FL_INVALID_REQUEST when the token is
 * malformed, forged, expired or already used (the message says which). */
enum fl_code provisioning_token_check(struct fl_core *c, const char *token, char certificate_id_out[65],
                                      struct fl_err *err);

/* ---- the fleet-provisioning MQTT API (the broker plugin's workers) ------ */

#define PROVISIONING_SWEEP_MAX 100 /* certificates one provisioning_sweep deletes at most */

/* CreateKeysAndCertificate ($aws/certificates/create/...; csr NULL: a new
 * RSA key pair, slow) or CreateCertificateFromCsr (.../create-from-csr/...):
 * a PENDING_ACTIVATION certificate from the built-in CA, recorded as
 * unclaimed for ttl_s seconds (<= 0: PROVISIONING_TOKEN_SECONDS) in the
 * same transaction, and its ownership token, valid as long. *out =
 * {certificateId, certificatePem, privateKey (keys only),
 * certificateOwnershipToken} (new reference). Key generation and signing
 * run outside any transaction. Returns FL_OK, FL_INVALID_REQUEST (the
 * CSR: ca_sign_csr's reason), FL_INTERNAL (no CA), or a store error. */
enum fl_code provisioning_device_certificate(struct fl_core *c, const char *csr, int64_t ttl_s, json_t **out,
                                             struct fl_err *err);

/* Where provisioning_device_register failed, for the MQTT error codes. */
enum provisioning_stage {
    PROVISIONING_STAGE_REQUEST = 0, /* the request itself (template name, parameters' shape) */
    PROVISIONING_STAGE_TOKEN,       /* the ownership token: missing, malformed, forged, expired, used */
    PROVISIONING_STAGE_TEMPLATE,    /* unknown (FL_NOT_FOUND), disabled or JITP (FL_INVALID_REQUEST) */
    PROVISIONING_STAGE_HOOK,        /* the pre-provisioning hook refused or failed (prehook_run) */
    PROVISIONING_STAGE_APPLY,       /* applying the template (as provisioning_provision) */
};

/* RegisterThing over MQTT. Everything borrowed. */
struct provisioning_device_in {
    const char *template_name;
    const char *token;                /* certificateOwnershipToken */
    json_t *parameters;               /* object of strings, or NULL */
    const char *claim_certificate_id; /* the requester's certificate (hook payload), or NULL */
    const char *client_id;            /* the requester's client id (hook payload), or NULL */
};

/* RegisterThing ($aws/provisioning-templates/<name>/provision/...): checks
 * the token (read only) and the template, calls the template's
 * pre-provisioning hook outside any transaction (its parameterOverrides
 * apply), then in ONE write transaction checks again and consumes the
 * token, applies the template's default version (as provisioning_provision,
 * AWS::IoT::Certificate::Id = the token's certificate) and marks the
 * certificate claimed. A failure leaves nothing behind: the token can be
 * tried again; a success makes it used. *out = {deviceConfiguration,
 * thingName?} (new reference, NULL on failure); *stage says where a
 * failure happened. Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND,
 * FL_ACCESS_DENIED (hook), FL_CONFLICT, or another code of the step that
 * failed. */
enum fl_code provisioning_device_register(struct fl_core *c, const struct provisioning_device_in *in,
                                          json_t **out, enum provisioning_stage *stage, struct fl_err *err);

/* Deletes up to max (1..PROVISIONING_SWEEP_MAX) certificates made by
 * provisioning_device_certificate whose unclaimed time is over and that are
 * still PENDING_ACTIVATION (with their policy attachments); one attached to
 * a thing meanwhile is kept. One transaction; *deleted = how many. Returns
 * FL_OK or a store error (then nothing was deleted). */
enum fl_code provisioning_sweep(struct fl_core *c, int max, int *deleted, struct fl_err *err);

#endif
