/*
 * fuzz_routes.c - the route matcher with percent-decoding, and query
 * decoding: input is "METHOD PATH[?QUERY]"; every plane is tried. Checks that
 * matched parameters are NUL-free decoded strings and nothing leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char *sp = strchr(s, ' ');
    const char *method = "GET";
    char *path = s;
    if (sp) {
        *sp = '\0';
        method = s;
        path = sp + 1;
    }
    char *q = strchr(path, '?');
    if (q) {
        *q++ = '\0';
        char *dec = http_pct_decode(q, strlen(q));
        free(dec);
    }
    static const enum http_plane planes[] = {PLANE_IOT, PLANE_DATA, PLANE_JOBS};
    for (size_t i = 0; i < sizeof(planes) / sizeof(planes[0]); i++) {
        const struct route *rt = NULL;
        char *params[HTTP_MAX_PARAMS] = {0};
        char allow[64];
        enum route_result r = routes_match(method, path, planes[i], &rt, params, allow, sizeof(allow));
        if (r == ROUTE_FOUND) {
            if (rt == NULL)
                abort();
            for (int k = 0; k < HTTP_MAX_PARAMS; k++)
                if (params[k] && params[k][0] == '\0')
                    abort(); /* {param} never matches an empty segment */
        }
        routes_free_params(params);
    }
    free(s);
    return 0;
}
