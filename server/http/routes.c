/*
 * routes.c - THE route table of fleetd, (method, path pattern, plane) ->
 * handler, and its matcher. Paths and methods come from botocore's service
 * models (../shared/reference/iot-operations.tsv). A literal segment beats a
 * {param} ("/thing-groups/addThingToThingGroup" vs "/thing-groups/{name}");
 * a path that matches with another method is 405, no match at all is 404.
 * Paths shared by two planes are told apart by the SigV4 service.
 */
#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"

#define IOT PLANE_IOT

const struct route routes_table[] = {
    /* things */
    {"GET", "/things", IOT, "ListThings", h_list_things, RF_READ},
    {"POST", "/things/{thingName}", IOT, "CreateThing", h_create_thing, 0},
    {"GET", "/things/{thingName}", IOT, "DescribeThing", h_describe_thing, RF_READ},
    {"PATCH", "/things/{thingName}", IOT, "UpdateThing", h_update_thing, 0},
    {"DELETE", "/things/{thingName}", IOT, "DeleteThing", h_delete_thing, 0},
    {"GET", "/things/{thingName}/thing-groups", IOT, "ListThingGroupsForThing", h_list_thing_groups_for_thing,
     RF_READ},
    /* thing types */
    {"GET", "/thing-types", IOT, "ListThingTypes", h_list_thing_types, RF_READ},
    {"POST", "/thing-types/{thingTypeName}", IOT, "CreateThingType", h_create_thing_type, 0},
    {"GET", "/thing-types/{thingTypeName}", IOT, "DescribeThingType", h_describe_thing_type, RF_READ},
    {"PATCH", "/thing-types/{thingTypeName}", IOT, "UpdateThingType", h_update_thing_type, 0},
    {"DELETE", "/thing-types/{thingTypeName}", IOT, "DeleteThingType", h_delete_thing_type, 0},
    {"POST", "/thing-types/{thingTypeName}/deprecate", IOT, "DeprecateThingType", h_deprecate_thing_type, 0},
    /* static thing groups */
    {"GET", "/thing-groups", IOT, "ListThingGroups", h_list_thing_groups, RF_READ},
    {"PUT", "/thing-groups/addThingToThingGroup", IOT, "AddThingToThingGroup", h_add_thing_to_thing_group, 0},
    {"PUT", "/thing-groups/removeThingFromThingGroup", IOT, "RemoveThingFromThingGroup",
     h_remove_thing_from_thing_group, 0},
    {"PUT", "/thing-groups/updateThingGroupsForThing", IOT, "UpdateThingGroupsForThing",
     h_update_thing_groups_for_thing, 0},
    {"POST", "/thing-groups/{thingGroupName}", IOT, "CreateThingGroup", h_create_thing_group, 0},
    {"GET", "/thing-groups/{thingGroupName}", IOT, "DescribeThingGroup", h_describe_thing_group, RF_READ},
    {"PATCH", "/thing-groups/{thingGroupName}", IOT, "UpdateThingGroup", h_update_thing_group, 0},
    {"DELETE", "/thing-groups/{thingGroupName}", IOT, "DeleteThingGroup", h_delete_thing_group, 0},
    {"GET", "/thing-groups/{thingGroupName}/things", IOT, "ListThingsInThingGroup", h_list_things_in_thing_group,
     RF_READ},
    /* tags, endpoint */
    {"POST", "/tags", IOT, "TagResource", h_tag_resource, 0},
    {"POST", "/untag", IOT, "UntagResource", h_untag_resource, 0},
    {"GET", "/tags", IOT, "ListTagsForResource", h_list_tags_for_resource, RF_READ},
    {"GET", "/endpoint", IOT, "DescribeEndpoint", h_describe_endpoint, RF_READ},
};

const int routes_count = (int)(sizeof(routes_table) / sizeof(routes_table[0]));

#define MAX_SEGS 16

/* Splits a pattern or raw path after the leading '/' into segments. Returns
 * the count, or -1 when there are too many or the path is not absolute. */
static int split(const char *p, const char *seg[MAX_SEGS], size_t len[MAX_SEGS])
{
    if (p[0] != '/')
        return -1;
    int n = 0;
    p++;
    if (*p == '\0')
        return 0;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (n == MAX_SEGS)
            return -1;
        seg[n] = p;
        len[n++] = l;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return n;
}

void routes_free_params(char *params[HTTP_MAX_PARAMS])
{
    for (int i = 0; i < HTTP_MAX_PARAMS; i++) {
        free(params[i]);
        params[i] = NULL;
    }
}

enum route_result routes_match(const char *method, const char *path, enum http_plane plane,
                               const struct route **out, char *params[HTTP_MAX_PARAMS], char *allow,
                               size_t allowlen)
{
    const char *pseg[MAX_SEGS];
    size_t plen[MAX_SEGS];
    char *dec[MAX_SEGS] = {0};
    enum route_result res = ROUTE_NO_PATH;
    int n = split(path, pseg, plen);
    if (n < 0)
        return ROUTE_NO_PATH;
    for (int i = 0; i < n; i++) {
        dec[i] = http_pct_decode(pseg[i], plen[i]);
        if (dec[i] == NULL) {
            res = ROUTE_BAD_ENCODING;
            goto done;
        }
    }
    const struct route *best = NULL;
    unsigned best_score = 0;
    if (allow && allowlen)
        allow[0] = '\0';
    for (int r = 0; r < routes_count; r++) {
        const struct route *rt = &routes_table[r];
        if (!(rt->planes & plane))
            continue;
        const char *tseg[MAX_SEGS];
        size_t tlen[MAX_SEGS];
        int tn = split(rt->pattern, tseg, tlen);
        if (tn != n)
            continue;
        unsigned score = 0;
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            if (tseg[i][0] == '{') {
                ok = dec[i][0] != '\0';
            } else {
                ok = strlen(dec[i]) == tlen[i] && memcmp(dec[i], tseg[i], tlen[i]) == 0;
                score |= 1u << (MAX_SEGS - 1 - i);
            }
        }
        if (!ok)
            continue;
        if (strcmp(rt->method, method) != 0) {
            if (allow && allowlen && !strstr(allow, rt->method)) {
                size_t l = strlen(allow);
                snprintf(allow + l, allowlen - l, "%s%s", l ? ", " : "", rt->method);
            }
            if (res == ROUTE_NO_PATH)
                res = ROUTE_BAD_METHOD;
            continue;
        }
        if (best == NULL || score > best_score) {
            best = rt;
            best_score = score;
        }
    }
    if (best) {
        const char *tseg[MAX_SEGS];
        size_t tlen[MAX_SEGS];
        split(best->pattern, tseg, tlen);
        int k = 0;
        for (int i = 0; i < n; i++)
            if (tseg[i][0] == '{' && k < HTTP_MAX_PARAMS) {
                params[k++] = dec[i];
                dec[i] = NULL;
            }
        *out = best;
        res = ROUTE_FOUND;
    }
done:
    for (int i = 0; i < n; i++)
        free(dec[i]);
    return res;
}
