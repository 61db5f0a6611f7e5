/*
 * jitp.h - just-in-time registration (JITR) and provisioning (JITP): a
 * device whose certificate is unknown to the registry but was issued by a
 * registered, ACTIVE CA with autoRegistrationStatus ENABLE has that
 * certificate registered (PENDING_ACTIVATION, under that CA) when it first
 * connects; when the CA's registrationConfig names a JITP template
 * (templateName) or carries one (templateBody), the template is applied in
 * the same transaction with the parameters AWS derives from the
 * certificate's subject. Also the checks the CA and template operations
 * make on registrationConfig.
 *
 * Knows nothing of MQTT or HTTP: the broker plugin calls jitp_candidate on
 * its thread (reads only), jitp_register on a worker thread (writes), and
 * publishes jitp_event's payload on $aws/events/certificates/registered/<caId>.
 */
#ifndef FL_JITP_H
#define FL_JITP_H

#include <jansson.h>
#include <stdint.h>

#include "core.h"

#define JITP_PARAM_PREFIX "AWS::IoT::Certificate::"

/* What jitp_register did. */
struct jitp_result {
    char certificate_id[65];
    char ca_id[65];
    char status[24];       /* the certificate's status once committed */
    int templated;         /* the CA has a registrationConfig template (JITP) */
    int provisioned;       /* ... and it was applied */
    char thing_name[129];  /* the thing the template made or updated, "" none */
    int64_t registered_ms; /* the certificate's creationDate */
    char why[512];         /* templated && !provisioned: why the template failed */
};

/* Cheap pre-check for the broker thread (one parse, one indexed read, no
 * signature check, no write): FL_OK when cert_pem (PEM, borrowed) is not
 * registered and a registered CA whose subject is its issuer is ACTIVE with
 * auto-registration ENABLE (ca_id receives it). FL_ALREADY_EXISTS (the
 * certificate is registered), FL_NOT_FOUND (no CA with that subject),
 * FL_CERTIFICATE_STATE (no such CA is ACTIVE), FL_INVALID_REQUEST
 * (auto-registration disabled, or not a certificate), or a store error. */
enum fl_code jitp_candidate(struct fl_core *c, const char *cert_pem, char ca_id[65], struct fl_err *err);

/* JITR/JITP for cert_pem (PEM, borrowed) in one write transaction: finds
 * the registered CA that signed it (subject = issuer, signature verifies),
 * requires it ACTIVE with auto-registration ENABLE, registers the
 * certificate PENDING_ACTIVATION under it, then applies the CA's template
 * (registrationConfig.templateName: the default version of that JITP
 * template; else registrationConfig.templateBody) with the parameters
 * AWS::IoT::Certificate::{Country, Organization, OrganizationalUnit,
 * DistinguishedNameQualifier, StateName, CommonName, SerialNumber} taken
 * from the subject (only those present) and AWS::IoT::Certificate::Id. The
 * template runs in a savepoint: when it fails its changes are undone, the
 * registration is kept (PENDING_ACTIVATION, as AWS leaves it) and out->why
 * says why. Returns FL_OK (out filled), FL_CERTIFICATE_VALIDATION (not a
 * certificate, expired or not yet valid), FL_ALREADY_EXISTS (already
 * registered), FL_NOT_FOUND (no registered CA signed it),
 * FL_CERTIFICATE_STATE (its CA is INACTIVE), FL_INVALID_REQUEST
 * (auto-registration disabled), or a store error (nothing written). */
enum fl_code jitp_register(struct fl_core *c, const char *cert_pem, struct jitp_result *out,
                           struct fl_err *err);

/* The parameters of the JITP template for cert_pem: *out = object of the
 * AWS::IoT::Certificate::* names present in the subject, plus Id =
 * certificate_id (new reference). FL_OK or FL_INVALID_REQUEST (bad PEM,
 * unreadable attribute). */
enum fl_code jitp_params(const char *cert_pem, const char *certificate_id, json_t **out, struct fl_err *err);

/* The $aws/events/certificates/registered/<caCertificateId> payload for r:
 * {certificateId, caCertificateId, timestamp (ms), certificateStatus,
 * awsAccountId, certificateRegistrationTimestamp (ms as a string)}, the
 * shape AWS publishes. Returns a new reference. */
json_t *jitp_event(const struct fl_core *c, const struct jitp_result *r, int64_t now_ms);

/* Inside the caller's write transaction: checks a registrationConfig
 * (canonical JSON text from certificates.c, or NULL): templateBody must be
 * a valid template (InvalidRequestException naming the place);
 * templateName must name an existing provisioning template
 * (FL_NOT_FOUND) of type JITP (FL_INVALID_REQUEST). */
enum fl_code jitp_check_config_tx(struct fl_core *c, const char *registration_json, struct fl_err *err);

/* Inside the caller's write transaction: FL_DELETE_CONFLICT when a CA
 * certificate's registrationConfig names template_name (one indexed
 * probe), else FL_OK. For DeleteProvisioningTemplate. */
enum fl_code jitp_template_unused_tx(struct fl_core *c, const char *template_name, struct fl_err *err);

#endif
