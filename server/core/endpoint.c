/*
 * endpoint.c - DescribeEndpoint. AWS gives each endpoint type its own host
 * (xxx-ats.iot..., xxx.credentials.iot..., xxx.jobs.iot...); fleetd's broker
 * and API answer all of them on the one configured host, so every valid
 * type maps to it and clients configured from DescribeEndpoint just work.
 */
#include "endpoint.h"

#include <string.h>

static const char *const types[] = {"iot:Data-ATS", "iot:Data", "iot:CredentialProvider", "iot:Jobs"};

enum fl_code endpoint_describe(struct fl_core *c, const char *endpoint_type, const char **address,
                               struct fl_err *err)
{
    int known = endpoint_type == NULL || *endpoint_type == '\0';
    for (size_t i = 0; !known && i < sizeof(types) / sizeof(types[0]); i++)
        known = strcmp(endpoint_type, types[i]) == 0;
    if (!known)
        return fl_err_set(err, FL_INVALID_REQUEST, "Endpoint type %.128s not recognized.", endpoint_type);
    *address = c->cfg.endpoint_host;
    return FL_OK;
}
