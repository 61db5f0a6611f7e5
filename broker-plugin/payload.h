/*
 * payload.h - the MQTT payload codec of the fleet-provisioning API: the
 * "json" and "cbor" payload formats of $aws/certificates/create/{fmt} and
 * $aws/provisioning-templates/<name>/provision/{fmt} ↔ jansson values.
 *
 * Pure: no broker API, no SQL, no allocation beyond the result; callable
 * from any thread. CBOR goes through Debian's libcbor. Mapping (also in
 * docs/provisioning.md): CBOR maps with text-string keys ↔ JSON objects,
 * arrays ↔ arrays, text strings ↔ strings, unsigned/negative integers ↔
 * integers (within int64), half/single/double floats ↔ reals, true/false
 * ↔ booleans, null (and undefined) ↔ null; semantic tags are ignored
 * (their content is decoded). Byte strings, non-text map keys, integers
 * outside int64, NaN/Infinity and indefinite-length items beyond the
 * limits are refused with FL_INVALID_REQUEST: AWS's provisioning payloads
 * hold only text, and refusing keeps decode→encode→decode an identity.
 */
#ifndef FP_PAYLOAD_H
#define FP_PAYLOAD_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"

#define PAYLOAD_MAX_DEPTH 32     /* nesting of arrays/objects a request may have */
#define PAYLOAD_MAX_BYTES 131072 /* largest payload decoded (AWS IoT: 128 KiB messages) */
#define PAYLOAD_MAX_ITEMS 65536  /* values in one payload (bounds work on tiny hostile inputs) */

enum payload_fmt { PAYLOAD_JSON, PAYLOAD_CBOR };

/* decode buf (len bytes) into *out (new ref). A request payload must be an object; an empty payload decodes
 * as {}. FL_OK or FL_INVALID_REQUEST with a clear message (depth/size limits: bounded recursion, no crash on
 * any input) */
enum fl_code payload_decode(enum payload_fmt fmt, const void *buf, size_t len, json_t **out,
                            struct fl_err *err);

/* encode obj into a malloc'd buffer; returns 0 or -1 (out of memory) */
int payload_encode(enum payload_fmt fmt, const json_t *obj, char **buf, size_t *len);

/* The topic suffix "json" or "cbor" (s, n bytes, not NUL-terminated) →
 * *out. Returns 0, or -1 for anything else. */
int payload_fmt_from_name(const char *s, size_t n, enum payload_fmt *out);

#endif
