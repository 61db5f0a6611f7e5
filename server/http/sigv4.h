/*
 * sigv4.h - AWS Signature Version 4: parsing the Authorization header,
 * computing and verifying request signatures.
 *
 * The canonical URI is the received (already percent-encoded) path, with
 * "//", "." and ".." segments removed as botocore and the JS SDK do, and each
 * segment percent-encoded once more, as every AWS SDK signs non-S3 requests;
 * the canonical query is decoded, RFC 3986 re-encoded and sorted; the payload
 * hash is x-amz-content-sha256 when present, otherwise SHA-256 of the body.
 * Knows nothing of libmicrohttpd: it reads the request through struct
 * http_req, so the fuzzers and the load generator use it too. Thread-safe:
 * no state survives a call.
 */
#ifndef FL_SIGV4_H
#define FL_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define SIGV4_SKEW_MS (15 * 60 * 1000)

struct sigv4_auth {
    char access_key_id[128];
    char date[9]; /* yyyymmdd from the credential scope */
    char region[64];
    char service[64];
    char signed_headers[1024]; /* "content-type;host;x-amz-date", lowercase, sorted */
    char signature[65];        /* lowercase hex */
};

/* Parses an Authorization header value
 * "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 *  SignedHeaders=h1;h2, Signature=hex". Parameters may come in any order,
 * with any spaces or tabs around the commas; each must appear once.
 * SignedHeaders must be lowercase, sorted and unique; region and service
 * [a-z0-9-]; the signature 64 hex digits (stored lowercase). A field that
 * does not fit its buffer is refused, never truncated. Returns FL_OK,
 * FL_MISSING_AUTH when hdr is NULL or blank, FL_INVALID_SIGNATURE (message
 * says what is wrong, quoting at most 64 bytes of the input) otherwise; out
 * is zeroed unless FL_OK. Never reads past the NUL. */
enum fl_code sigv4_parse_authorization(const char *hdr, struct sigv4_auth *out, struct fl_err *err);

/* Verifies req's signature with secret: "host" must be signed,
 * x-amz-date (or, without it, Date in RFC 7231 form) must be within
 * SIGV4_SKEW_MS of now_ms and match the scope date, an x-amz-content-sha256
 * other than UNSIGNED-PAYLOAD must be the body's hash, every signed header
 * must be present, and the signature must match (constant-time compare).
 * Does not check the region or service: the caller decides which scopes it
 * serves. Returns FL_OK, FL_INVALID_SIGNATURE with AWS's message, or
 * FL_INTERNAL on allocation/OpenSSL failure. The secret, derived keys and
 * computed signature never reach a log or an error message. */
enum fl_code sigv4_verify(const struct http_req *req, const struct sigv4_auth *auth, const char *secret,
                          int64_t now_ms, struct fl_err *err);

/* Client side, for the load generator and tests: signs a request and writes
 * the Authorization header value into out, in botocore's format. headers are
 * all the headers to sign (1..64, names in any case, each name once; must
 * include host, and x-amz-date or a Date header); raw_query is the query
 * string as it will be sent, without '?' (may be "" or NULL); body may be
 * NULL when body_len is 0. The payload hash is the x-amz-content-sha256
 * header if given, else SHA-256 of the body. Returns 0, or -1 (out set to ""
 * when outlen > 0) when out is too small or an input is invalid. */
int sigv4_sign(const char *method, const char *raw_path, const char *raw_query, const struct http_kv *headers,
               int nheaders, const void *body, size_t body_len, const char *access_key_id, const char *secret,
               const char *region, const char *service, char *out, size_t outlen);

#endif
