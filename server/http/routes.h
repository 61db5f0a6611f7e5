/*
 * routes.h - the one route table of fleetd and its matcher.
 */
#ifndef FL_ROUTES_H
#define FL_ROUTES_H

#include "http.h"

enum route_flags {
    RF_READ = 1,     /* a Describe/List/Get/Search operation: read-only keys may call it */
    RF_RAW_BODY = 2, /* the body is the payload itself (iot-data Publish): not parsed as JSON */
};

struct route {
    const char *method;
    const char *pattern; /* "/things/{thingName}"; literal segments beat {param} */
    unsigned planes;     /* enum http_plane bits */
    const char *op;      /* AWS operation name, for logs and docs */
    http_handler handler;
    unsigned flags;
};

enum route_result { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_BAD_METHOD, ROUTE_BAD_ENCODING };

/* Matches method + raw path for the given plane. On ROUTE_FOUND sets *out
 * and req->params (decoded, malloc'd; freed by routes_free_params). On
 * ROUTE_BAD_METHOD writes the allowed methods into allow ("GET, POST").
 * ROUTE_BAD_ENCODING: a segment has a malformed percent-escape. */
enum route_result routes_match(const char *method, const char *path, enum http_plane plane,
                               const struct route **out, char *params[HTTP_MAX_PARAMS], char *allow,
                               size_t allowlen);
void routes_free_params(char *params[HTTP_MAX_PARAMS]);

/* The table itself, for docs and tests. */
extern const struct route routes_table[];
extern const int routes_count;

#endif
