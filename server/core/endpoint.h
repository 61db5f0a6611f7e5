/*
 * endpoint.h - DescribeEndpoint: which host devices and SDKs are told to use
 * for each AWS IoT endpoint type. Knows nothing of HTTP or MQTT.
 */
#ifndef FL_ENDPOINT_H
#define FL_ENDPOINT_H

#include "core.h"

/* endpoint_type: "iot:Data-ATS" (also when NULL or ""), "iot:Data"
 * (legacy), "iot:CredentialProvider" or "iot:Jobs". fleetd serves all of
 * them on one host, c->cfg.endpoint_host, so *address points into c->cfg
 * (valid while c is). Returns FL_OK, or FL_INVALID_REQUEST for any other
 * type. */
enum fl_code endpoint_describe(struct fl_core *c, const char *endpoint_type, const char **address,
                               struct fl_err *err);

#endif
