/*
 * fuzz_payload.c - the MQTT payload codec (broker-plugin/payload.c).
 *
 * Input: any bytes, decoded once as JSON and once as CBOR. Invariants: the
 * decoder never crashes, leaks or recurses without bound; a refusal says
 * FL_INVALID_REQUEST with a message; an accepted payload is an object, and
 * decode(encode(v)) equals v in the same format, and in the other format
 * whenever the encoding fits the decoder's size limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const json_t *v, enum payload_fmt fmt)
{
    char *buf;
    size_t len;
    if (payload_encode(fmt, v, &buf, &len) != 0)
        abort();
    json_t *again = NULL;
    struct fl_err err;
    if (len <= PAYLOAD_MAX_BYTES) {
        if (payload_decode(fmt, buf, len, &again, &err) != FL_OK || !json_equal(v, again))
            abort();
    }
    json_decref(again);
    free(buf);
}

static void one(enum payload_fmt fmt, const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    struct fl_err err;
    fl_err_clear(&err);
    if (payload_decode(fmt, data, size, &v, &err) != FL_OK) {
        if (v != NULL || err.code != FL_INVALID_REQUEST || err.msg[0] == '\0')
            abort();
        return;
    }
    if (!json_is_object(v))
        abort();
    round_trip(v, PAYLOAD_JSON);
    round_trip(v, PAYLOAD_CBOR);
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(PAYLOAD_JSON, data, size);
    one(PAYLOAD_CBOR, data, size);
    return 0;
}
