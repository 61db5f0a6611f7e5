/*
 * sigv4.h - AWS Signature Version 4: parsing the Authorization header,
 * computing and verifying request signatures.
 *
 * The canonical URI is the received (already percent-encoded) path with each
 * segment percent-encoded once more, as every AWS SDK signs non-S3 requests;
 * the canonical query is sorted and RFC 3986 encoded; the payload hash is
 * x-amz-content-sha256 when present, otherwise SHA-256 of the body.
 * Knows nothing of libmicrohttpd: it reads the request through struct
 * http_req, so the fuzzers and the load generator use it too.
 */
#ifndef FL_SIGV4_H
#define FL_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define SIGV4_SKEW_MS (15 * 60 * 1000)

struct sigv4_auth {
    char access_key_id[128];
    char date[9];   /* yyyymmdd from the credential scope */
    char region[64];
    char service[64];
    char signed_headers[1024]; /* "content-type;host;x-amz-date", lowercase, sorted */
    char signature[65];        /* lowercase hex */
};

/* Parses an Authorization header value
 * "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 *  SignedHeaders=h1;h2, Signature=hex". Returns FL_OK, FL_MISSING_AUTH when
 * hdr is NULL or empty, FL_INVALID_SIGNATURE (message says what is wrong)
 * otherwise. Never reads past the NUL. */
enum fl_code sigv4_parse_authorization(const char *hdr, struct sigv4_auth *out, struct fl_err *err);

/* Verifies req's signature with secret: x-amz-date (or Date) must be within
 * SIGV4_SKEW_MS of now_ms and match the scope date, "host" must be signed,
 * and the signature must match (constant-time compare). Returns FL_OK or
 * FL_INVALID_SIGNATURE with AWS's message. The secret never reaches a log or
 * an error message. */
enum fl_code sigv4_verify(const struct http_req *req, const struct sigv4_auth *auth, const char *secret,
                          int64_t now_ms, struct fl_err *err);

/* Client side, for the load generator and tests: signs a request and writes
 * the Authorization header value into out. headers are the headers to sign
 * (names in any case; must include host and x-amz-date); raw_query is the
 * query string as it will be sent (may be "" or NULL). Returns 0, or -1 when
 * out is too small. */
int sigv4_sign(const char *method, const char *raw_path, const char *raw_query, const struct http_kv *headers,
               int nheaders, const void *body, size_t body_len, const char *access_key_id, const char *secret,
               const char *region, const char *service, char *out, size_t outlen);

#endif
