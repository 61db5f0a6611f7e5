/*
 * policies.h - AWS IoT policies: CreatePolicy, GetPolicy, DeletePolicy,
 * ListPolicies, the policy versions (Create/Get/List/Delete,
 * SetDefaultPolicyVersion), attachments (AttachPolicy, DetachPolicy,
 * ListAttachedPolicies, ListTargetsForPolicy), GetEffectivePolicies and
 * TestAuthorization, and the one call the broker plugin makes at connect:
 * policies_compile_for_principal().
 *
 * A principal's policies are the policies attached to its certificate plus
 * those attached to every static thing group its thing is in, and to all
 * their ancestors. Its thing is the thing named by the client id when that
 * thing is attached to the certificate, else the thing the certificate is
 * exclusively attached to (AWS: thing policy variables and thing-group
 * policies need client id == thing name under non-exclusive attachment).
 *
 * Rules enforced here (service model and developer guide): names 1..128 of
 * [\w+=,.@-]; documents validated by policy_doc.h (2048 characters without
 * whitespace); at most 5 versions; the default version cannot be deleted;
 * a policy with extra versions or any target cannot be deleted; targets are
 * certificate ARNs (at most 10 policies each) and static thing-group ARNs
 * (at most 2 each). Requests arrive decoded from JSON; read results are the
 * AWS response objects. Knows nothing of HTTP, MQTT or SQL.
 */
#ifndef FL_POLICIES_H
#define FL_POLICIES_H

#include <jansson.h>

#include "core.h"
#include "policy_eval.h"

#define POLICIES_MAX_VERSIONS 5
#define POLICIES_MAX_PER_CERT 10
#define POLICIES_MAX_PER_GROUP 2
#define POLICIES_PAGE_DEFAULT 250 /* pageSize when absent */

/* CreatePolicy. tags (a TagList array or NULL) are borrowed. *out =
 * {policyName, policyArn, policyDocument, policyVersionId: "1"} (new
 * reference). Returns FL_OK, FL_INVALID_REQUEST (name, tags),
 * FL_MALFORMED_POLICY, FL_ALREADY_EXISTS (resource_id/arn set), or a store
 * error. */
enum fl_code policies_create(struct fl_core *c, const char *name, const char *document, json_t *tags,
                             json_t **out, struct fl_err *err);

/* GetPolicy: *out = {policyName, policyArn, policyDocument (default
 * version), defaultVersionId, creationDate, lastModifiedDate, generationId}.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code policies_get(struct fl_core *c, const char *name, json_t **out, struct fl_err *err);

/* DeletePolicy (with its default version and tags). FL_DELETE_CONFLICT
 * while attached to a target or while it has versions besides the default.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, FL_DELETE_CONFLICT, or a
 * store error. */
enum fl_code policies_delete(struct fl_core *c, const char *name, struct fl_err *err);

/* ListPolicies in creation order, oldest first when ascending, newest
 * first otherwise. page_size 1..250; marker NULL for the first page.
 * *out = {policies: [{policyName, policyArn}], nextMarker?}. Returns FL_OK,
 * FL_INVALID_REQUEST (bad marker), or a store error. */
enum fl_code policies_list(struct fl_core *c, int ascending, int page_size, const char *marker, json_t **out,
                           struct fl_err *err);

/* CreatePolicyVersion. *out = {policyArn, policyDocument, policyVersionId,
 * isDefaultVersion}. Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND,
 * FL_MALFORMED_POLICY, FL_VERSIONS_LIMIT_EXCEEDED (already 5 versions), or
 * a store error. */
enum fl_code policies_create_version(struct fl_core *c, const char *name, const char *document,
                                     int set_default, json_t **out, struct fl_err *err);

/* GetPolicyVersion. version_id is the path text ("[0-9]+"). *out =
 * {policyArn, policyName, policyDocument, policyVersionId,
 * isDefaultVersion, creationDate, lastModifiedDate, generationId}.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code policies_get_version(struct fl_core *c, const char *name, const char *version_id, json_t **out,
                                  struct fl_err *err);

/* ListPolicyVersions, newest first: *out = {policyVersions: [{versionId,
 * isDefaultVersion, createDate}]}. Returns FL_OK, FL_INVALID_REQUEST,
 * FL_NOT_FOUND, or a store error. */
enum fl_code policies_list_versions(struct fl_core *c, const char *name, json_t **out, struct fl_err *err);

/* DeletePolicyVersion. FL_DELETE_CONFLICT for the default version.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, FL_DELETE_CONFLICT, or a
 * store error. */
enum fl_code policies_delete_version(struct fl_core *c, const char *name, const char *version_id,
                                     struct fl_err *err);

/* SetDefaultPolicyVersion (a new generationId). Returns FL_OK,
 * FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code policies_set_default_version(struct fl_core *c, const char *name, const char *version_id,
                                          struct fl_err *err);

/* AttachPolicy to a certificate ARN or a static thing-group ARN of this
 * deployment. Attaching again is a no-op. Returns FL_OK,
 * FL_INVALID_REQUEST (malformed or unsupported target), FL_NOT_FOUND
 * (policy, certificate or group), FL_LIMIT_EXCEEDED (10 per certificate, 2
 * per group), or a store error. */
enum fl_code policies_attach(struct fl_core *c, const char *name, const char *target, struct fl_err *err);

/* DetachPolicy. Detaching what is not attached is a no-op. Returns FL_OK,
 * FL_INVALID_REQUEST, FL_NOT_FOUND (policy), or a store error. */
enum fl_code policies_detach(struct fl_core *c, const char *name, const char *target, struct fl_err *err);

/* ListAttachedPolicies of a certificate or thing-group ARN, in name order;
 * recursive adds the policies of the group's ancestors. *out = {policies:
 * [{policyName, policyArn}], nextMarker?}. Returns FL_OK,
 * FL_INVALID_REQUEST, FL_NOT_FOUND (target), or a store error. */
enum fl_code policies_list_attached(struct fl_core *c, const char *target, int recursive, int page_size,
                                    const char *marker, json_t **out, struct fl_err *err);

/* ListTargetsForPolicy, in ARN order: *out = {targets: [arn], nextMarker?}.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code policies_list_targets(struct fl_core *c, const char *name, int page_size, const char *marker,
                                   json_t **out, struct fl_err *err);

/* GetEffectivePolicies: the policies of principal (a certificate ARN) and,
 * with thing_name, of every group the thing is in and their ancestors
 * (each policy once). At least one of the two is required; Cognito is not
 * supported. *out = {effectivePolicies: [{policyName, policyArn,
 * policyDocument}]}. Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a
 * store error. */
enum fl_code policies_effective(struct fl_core *c, const char *principal, const char *cognito_pool,
                                const char *thing_name, json_t **out, struct fl_err *err);

/* TestAuthorization input; JSON members are borrowed. */
struct policies_test_in {
    const char *principal;    /* certificate ARN; required */
    const char *cognito_pool; /* cognitoIdentityPoolId: not supported */
    const char *client_id;    /* ?clientId= */
    json_t *auth_infos;       /* [{actionType, resources: [arn...]}], 1..10 */
    json_t *to_add;           /* policyNamesToAdd or NULL */
    json_t *to_skip;          /* policyNamesToSkip or NULL */
};

/* TestAuthorization with the real evaluator, variables resolved as for a
 * connection of the principal with the client id. Each authInfo is
 * ALLOWED when every resource is allowed, EXPLICIT_DENY when one is
 * denied, IMPLICIT_DENY otherwise. *out = {authResults: [{authInfo,
 * allowed{policies}, denied{implicitDeny{policies}, explicitDeny
 * {policies}}, authDecision, missingContextValues}]}. Returns FL_OK,
 * FL_INVALID_REQUEST, FL_NOT_FOUND (certificate or a policy to add),
 * FL_MALFORMED_POLICY (a stored document no longer compiles), or a store
 * error. */
enum fl_code policies_test_authorization(struct fl_core *c, const struct policies_test_in *in, json_t **out,
                                         struct fl_err *err);

/* For the broker, once per connection: compiles the effective policies of
 * the certificate cert_id (hex SHA-256) for a client with client_id
 * (NULL: unknown) from source_ip (NULL: unknown), with every policy
 * variable and condition resolved. *out is released with
 * policy_set_free(); evaluate with policy_eval_name(). One read
 * transaction. Returns FL_OK, FL_NOT_FOUND (no such certificate),
 * FL_MALFORMED_POLICY, or a store error. Certificate status is not checked
 * here. */
enum fl_code policies_compile_for_principal(struct fl_core *c, const char *cert_id, const char *client_id,
                                            const char *source_ip, struct policy_set **out,
                                            struct fl_err *err);
/* The same, parsing documents through docs (policy_doc.h; NULL: none), the
 * broker's way: it compiles for every connecting device. */
struct policy_doc_cache;
enum fl_code policies_compile_for_principal_with(struct fl_core *c, struct policy_doc_cache *docs,
                                                 const char *cert_id, const char *client_id,
                                                 const char *source_ip, struct policy_set **out,
                                                 struct fl_err *err);

/* Inside a transaction the caller opened: *n = number of policies attached
 * to target_arn (DeleteCertificate and DeleteThingGroup refuse while > 0). */
enum fl_code policies_attached_count_tx(struct fl_core *c, const char *target_arn, int *n,
                                        struct fl_err *err);

#endif
