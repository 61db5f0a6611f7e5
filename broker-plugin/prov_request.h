/*
 * prov_request.h - decoding of the fleet-provisioning MQTT requests
 * (provision_cb.c): the payload (json or cbor, payload.h) and the topic's
 * template name, checked into a struct the worker job carries. Pure: no
 * broker API, no SQL, no allocation it does not hand over; fuzzed by
 * tests/fuzz/fuzz_mqtt_requests.c.
 */
#ifndef FP_PROV_REQUEST_H
#define FP_PROV_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "payload.h"

#define PROV_TOPIC_MAX 256 /* AWS IoT: topics are at most 256 bytes */
#define PROV_TPL_PREFIX "$aws/provisioning-templates/"
#define PROV_TPL_SUFFIX "/provision/"

enum prov_kind {
    PK_CREATE,   /* $aws/certificates/create/<fmt> */
    PK_CSR,      /* $aws/certificates/create-from-csr/<fmt> */
    PK_REGISTER, /* $aws/provisioning-templates/<name>/provision/<fmt> */
    PK_SWEEP,    /* not a request: the periodic sweep of unclaimed certificates */
};

struct prov_request {
    enum payload_fmt fmt;
    char *csr;      /* PK_CSR: malloc'd */
    char *token;    /* PK_REGISTER: malloc'd */
    json_t *params; /* PK_REGISTER: an object, or NULL */
    char template_name[PROV_TOPIC_MAX];
};

/* The payload format named by topic's last level. 0, or -1 when it is
 * neither json nor cbor. */
int prov_request_fmt(const char *topic, enum payload_fmt *fmt);

/* Decodes the request of kind (PK_CREATE .. PK_REGISTER) published on
 * topic (NUL-terminated) with payload (len bytes) into *out (zeroed first;
 * prov_request_free after, whatever the result). Returns 0, or -1 with
 * *code (AWS errorCode: InvalidPayload, InvalidCertificateOwnershipToken)
 * and msg (the errorMessage) set. */
int prov_request_decode(enum prov_kind kind, const char *topic, const void *payload, size_t len,
                        struct prov_request *out, const char **code, char *msg, size_t msglen);

void prov_request_free(struct prov_request *r);

#endif
