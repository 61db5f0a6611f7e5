/*
 * fuzz_mqtt_requests.c - the fleet-provisioning MQTT request decoders
 * (broker-plugin/prov_request.c) as the plugin calls them: a topic and a
 * payload from a device.
 *
 * Input: byte 0 picks the request kind (create, create-from-csr,
 * provision); the bytes up to the first '\n' after it are the topic (NUL
 * bytes cut it short, as the broker's C string would), the rest is the
 * payload. Invariants: no crash, leak or unbounded recursion; a refusal
 * has an AWS errorCode and a message; an accepted register request has a
 * non-empty template name and token, and parameters that are an object
 * when present; an accepted CSR request has a non-empty CSR.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prov_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum prov_kind kind = (enum prov_kind)(data[0] % 3);
    data++, size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tlen = nl ? (size_t)(nl - data) : size;
    char *topic = malloc(tlen + 1);
    if (topic == NULL)
        return 0;
    memcpy(topic, data, tlen);
    topic[tlen] = '\0';
    const uint8_t *payload = nl ? nl + 1 : data + size;
    size_t plen = nl ? size - tlen - 1 : 0;

    struct prov_request r;
    const char *code = NULL;
    char msg[256];
    if (prov_request_decode(kind, topic, payload, plen, &r, &code, msg, sizeof(msg)) != 0) {
        if (code == NULL || code[0] == '\0' || msg[0] == '\0')
            abort();
    } else {
        if (kind == PK_REGISTER && (r.template_name[0] == '\0' || r.token == NULL || r.token[0] == '\0' ||
                                    (r.params != NULL && !json_is_object(r.params))))
            abort();
        if (kind == PK_CSR && (r.csr == NULL || r.csr[0] == '\0'))
            abort();
    }
    prov_request_free(&r);
    free(topic);
    return 0;
}
