/*
 * err.c - the only table from fleetd error code to AWS error type, HTTP
 * status and MQTT error code. Statuses come from botocore's iot model.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *type;
    int status;
    const char *mqtt;
} table[FL_CODE_MAX] = {
    [FL_OK] = {"", 200, ""},
    [FL_INVALID_REQUEST] = {"InvalidRequestException", 400, "InvalidRequest"},
    [FL_NOT_FOUND] = {"ResourceNotFoundException", 404, "ResourceNotFound"},
    [FL_ALREADY_EXISTS] = {"ResourceAlreadyExistsException", 409, "ResourceAlreadyExists"},
    [FL_VERSION_CONFLICT] = {"VersionConflictException", 409, "VersionMismatch"},
    [FL_CONFLICT] = {"ConflictException", 409, "Conflict"},
    [FL_DELETE_CONFLICT] = {"DeleteConflictException", 409, "DeleteConflict"},
    [FL_INVALID_STATE_TRANSITION] = {"InvalidStateTransitionException", 409, "InvalidStateTransition"},
    [FL_CERTIFICATE_STATE] = {"CertificateStateException", 406, "CertificateState"},
    [FL_LIMIT_EXCEEDED] = {"LimitExceededException", 410, "LimitExceeded"},
    [FL_VERSIONS_LIMIT_EXCEEDED] = {"VersionsLimitExceededException", 409, "VersionsLimitExceeded"},
    [FL_MALFORMED_POLICY] = {"MalformedPolicyException", 400, "MalformedPolicy"},
    [FL_INVALID_QUERY] = {"InvalidQueryException", 400, "InvalidQuery"},
    [FL_INDEX_NOT_READY] = {"IndexNotReadyException", 400, "IndexNotReady"},
    [FL_TERMINAL_STATE] = {"TerminalStateException", 410, "TerminalStateReached"},
    [FL_THROTTLING] = {"ThrottlingException", 400, "Throttled"},
    [FL_UNAUTHORIZED] = {"UnauthorizedException", 401, "Unauthorized"},
    [FL_ACCESS_DENIED] = {"AccessDeniedException", 403, "AccessDenied"},
    [FL_MISSING_AUTH] = {"MissingAuthenticationTokenException", 403, "Unauthorized"},
    [FL_INVALID_SIGNATURE] = {"InvalidSignatureException", 403, "Unauthorized"},
    [FL_UNRECOGNIZED_CLIENT] = {"UnrecognizedClientException", 403, "Unauthorized"},
    [FL_UNKNOWN_OPERATION] = {"UnknownOperationException", 404, "InvalidTopic"},
    [FL_METHOD_NOT_ALLOWED] = {"MethodNotAllowedException", 405, "InvalidRequest"},
    [FL_PAYLOAD_TOO_LARGE] = {"PayloadTooLargeException", 413, "InvalidRequest"},
    [FL_INTERNAL] = {"InternalFailureException", 500, "InternalError"},
    [FL_UNAVAILABLE] = {"ServiceUnavailableException", 503, "ServiceUnavailable"},
    [FL_CERTIFICATE_VALIDATION] = {"CertificateValidationException", 400, "CertificateValidation"},
    [FL_CERTIFICATE_CONFLICT] = {"CertificateConflictException", 409, "CertificateConflict"},
    [FL_REG_CODE_VALIDATION] = {"RegistrationCodeValidationException", 400, "RegistrationCodeValidation"},
    [FL_ENTITY_TOO_LARGE] = {"RequestEntityTooLargeException", 413, "InvalidRequest"},
};

enum fl_code fl_err_set(struct fl_err *err, enum fl_code code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->resource_id[0] = '\0';
    err->resource_arn[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void fl_err_clear(struct fl_err *err)
{
    memset(err, 0, sizeof(*err));
}

const char *fl_err_type(enum fl_code code)
{
    if ((int)code < 0 || code >= FL_CODE_MAX)
        code = FL_INTERNAL;
    return table[code].type;
}

int fl_err_status(enum fl_code code)
{
    if ((int)code < 0 || code >= FL_CODE_MAX)
        code = FL_INTERNAL;
    return table[code].status;
}

const char *fl_err_mqtt_code(enum fl_code code)
{
    if ((int)code < 0 || code >= FL_CODE_MAX)
        code = FL_INTERNAL;
    return table[code].mqtt;
}
