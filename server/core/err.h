/*
 * err.h - the one error shape of fleetd.
 *
 * Core functions return an enum fl_code and fill a struct fl_err. The only
 * table from code to AWS error type and HTTP status lives in err.c; the HTTP
 * adapter renders it as {"__type","message"} + x-amzn-ErrorType, the MQTT
 * adapter as .../rejected payloads. Knows nothing of HTTP libraries or SQL.
 */
#ifndef FL_ERR_H
#define FL_ERR_H

#include <stddef.h>

enum fl_code {
    FL_OK = 0,
    FL_INVALID_REQUEST,          /* InvalidRequestException 400 */
    FL_NOT_FOUND,                /* ResourceNotFoundException 404 */
    FL_ALREADY_EXISTS,           /* ResourceAlreadyExistsException 409 */
    FL_VERSION_CONFLICT,         /* VersionConflictException 409 */
    FL_CONFLICT,                 /* ConflictException 409 */
    FL_DELETE_CONFLICT,          /* DeleteConflictException 409 */
    FL_INVALID_STATE_TRANSITION, /* InvalidStateTransitionException 409 */
    FL_CERTIFICATE_STATE,        /* CertificateStateException 406 */
    FL_LIMIT_EXCEEDED,           /* LimitExceededException 410 */
    FL_VERSIONS_LIMIT_EXCEEDED,  /* VersionsLimitExceededException 409 */
    FL_MALFORMED_POLICY,         /* MalformedPolicyException 400 */
    FL_INVALID_QUERY,            /* InvalidQueryException 400 */
    FL_INDEX_NOT_READY,          /* IndexNotReadyException 400 */
    FL_TERMINAL_STATE,           /* TerminalStateException 410 */
    FL_THROTTLING,               /* ThrottlingException 400 (429 on data planes) */
    FL_UNAUTHORIZED,             /* UnauthorizedException 401 */
    FL_ACCESS_DENIED,            /* AccessDeniedException 403 */
    FL_MISSING_AUTH,             /* MissingAuthenticationTokenException 403 */
    FL_INVALID_SIGNATURE,        /* InvalidSignatureException 403 */
    FL_UNRECOGNIZED_CLIENT,      /* UnrecognizedClientException 403 */
    FL_UNKNOWN_OPERATION,        /* UnknownOperationException 404 (no such path) */
    FL_METHOD_NOT_ALLOWED,       /* MethodNotAllowedException 405 */
    FL_PAYLOAD_TOO_LARGE,        /* PayloadTooLargeException 413 */
    FL_INTERNAL,                 /* InternalFailureException 500 */
    FL_UNAVAILABLE,              /* ServiceUnavailableException 503 */
    FL_CERTIFICATE_VALIDATION,   /* CertificateValidationException 400 */
    FL_CERTIFICATE_CONFLICT,     /* CertificateConflictException 409 */
    FL_REG_CODE_VALIDATION,      /* RegistrationCodeValidationException 400 */
    FL_ENTITY_TOO_LARGE,         /* RequestEntityTooLargeException 413 (iot-data payloads) */
    FL_CODE_MAX
};

struct fl_err {
    enum fl_code code;
    char msg[512];
    char resource_id[160];  /* ResourceAlreadyExists: resourceId */
    char resource_arn[320]; /* ResourceAlreadyExists: resourceArn */
};

/* Sets code and printf-style message; returns code so callers can
 * `return fl_err_set(err, FL_NOT_FOUND, "...")`. err may be NULL. */
enum fl_code fl_err_set(struct fl_err *err, enum fl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err to FL_OK with empty strings. */
void fl_err_clear(struct fl_err *err);

/* AWS error type name ("ResourceNotFoundException") for a code. */
const char *fl_err_type(enum fl_code code);

/* HTTP status for a code on the iot control plane. */
int fl_err_status(enum fl_code code);

/* Error code as the jobs MQTT API spells it ("ResourceNotFound"). */
const char *fl_err_mqtt_code(enum fl_code code);

#endif
