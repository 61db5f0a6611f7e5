/*
 * things.h - the thing registry: CreateThing, DescribeThing, UpdateThing,
 * DeleteThing, ListThings, and the thing lookups other modules (groups,
 * certificates, jobs) make inside their own transactions.
 *
 * Requests arrive already decoded from JSON (attributes stay a borrowed
 * jansson object); read results are returned as the AWS response objects.
 * Knows nothing of HTTP, MQTT or SQL.
 */
#ifndef FL_THINGS_H
#define FL_THINGS_H

#include <jansson.h>
#include <stdint.h>

#include "core.h"

/* Attribute limits of the service (LIM19, service model doc strings). */
#define THINGS_MAX_ATTRS_UNTYPED 3
#define THINGS_MAX_ATTRS_TYPED 50

/* CreateThing input. Every pointer is borrowed for the duration of the call. */
struct things_create_in {
    const char *name;          /* required */
    const char *type_name;     /* NULL: no thing type */
    json_t *attributes;        /* attributePayload.attributes (object of strings) or NULL */
    const char *billing_group; /* billingGroupName or NULL */
};

/* What CreateThing answers. */
struct things_ref {
    char name[129];
    char arn[320];
    char thing_id[37];
};

/* UpdateThing input. */
struct things_update_in {
    const char *name;      /* required */
    const char *type_name; /* NULL: keep the type */
    int remove_type;       /* removeThingType */
    json_t *attributes;    /* NULL: keep the attributes */
    int merge;             /* attributePayload.merge */
    int has_expected_version;
    int64_t expected_version;
};

/* ListThings filters; NULL members are absent. */
struct things_filter {
    const char *attr_name;
    const char *attr_value;
    int use_prefix; /* usePrefixAttributeValue */
    const char *type_name;
};

/* CreateThing. Validates the names and attributes; the type must exist and
 * not be deprecated. An identical re-create (same type, same attributes)
 * returns the existing thing; a different one fails with FL_ALREADY_EXISTS
 * (err->resource_id/resource_arn set). Fills *out on success.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND (type or billing group),
 * FL_ALREADY_EXISTS, or a store error. */
enum fl_code things_create(struct fl_core *c, const struct things_create_in *in, struct things_ref *out,
                           struct fl_err *err);

/* DescribeThing. *out = {defaultClientId, thingName, thingId, thingArn,
 * thingTypeName?, attributes, version}: a new reference the caller owns.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code things_describe(struct fl_core *c, const char *name, json_t **out, struct fl_err *err);

/* UpdateThing. merge=1 merges attributes (an empty value removes one);
 * merge=0 replaces them all. The version goes up by one on every success.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND (thing or type),
 * FL_VERSION_CONFLICT, or a store error. */
enum fl_code things_update(struct fl_core *c, const struct things_update_in *in, struct fl_err *err);

/* DeleteThing. A thing that does not exist is not an error (the service
 * model documents DeleteThing as idempotent). Group memberships go with it.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_VERSION_CONFLICT, or a store error. */
enum fl_code things_delete(struct fl_core *c, const char *name, int has_expected_version,
                           int64_t expected_version, struct fl_err *err);

/* ListThings. max_results 1..250; next_token NULL for the first page.
 * *out = {"things":[...], "nextToken"?}: a new reference the caller owns.
 * Pages are ordered by thing name, except with usePrefixAttributeValue or
 * attributeName alone: then by (attribute value, thing name), the index
 * order, so no page sorts the matches. attributeName alone lists the things
 * that have the attribute; an unknown thingTypeName gives an empty list.
 * Returns FL_OK, FL_INVALID_REQUEST, or a store error. */
enum fl_code things_list(struct fl_core *c, const struct things_filter *f, int max_results,
                         const char *next_token, json_t **out, struct fl_err *err);

/* Inside a transaction the caller opened (read or write): the row id of the
 * thing called name. Returns FL_OK, FL_NOT_FOUND ("Thing <name> cannot be
 * found."), or a store error. */
enum fl_code things_id_by_name_tx(struct fl_core *c, const char *name, int64_t *row_id, struct fl_err *err);

#endif
