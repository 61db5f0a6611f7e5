/*
 * thing_types.h - thing types: CreateThingType, DescribeThingType,
 * UpdateThingType, DeprecateThingType (and undo), DeleteThingType,
 * ListThingTypes. thingTypeProperties and tags arrive as the borrowed
 * request JSON; read results are returned as the AWS response objects.
 * Knows nothing of HTTP, MQTT or SQL.
 */
#ifndef FL_THING_TYPES_H
#define FL_THING_TYPES_H

#include <jansson.h>

#include "core.h"

/* At most this many searchableAttributes per type (service quota). */
#define THING_TYPES_MAX_SEARCHABLE 3
/* DeleteThingType waits this long after DeprecateThingType (AWS rule). */
#define THING_TYPES_DELETE_DELAY_MS (5 * 60 * 1000)

/* What CreateThingType answers. */
struct thing_types_ref {
    char name[129];
    char arn[320];
    char type_id[37];
};

/* CreateThingType. props = thingTypeProperties (object or NULL), tags = the
 * TagList (array or NULL); both borrowed. An identical re-create (same
 * properties) returns the existing type; a different one fails with
 * FL_ALREADY_EXISTS (err->resource_id/resource_arn set). Tags are stored in
 * the same transaction. Returns FL_OK, FL_INVALID_REQUEST,
 * FL_ALREADY_EXISTS, or a store error. */
enum fl_code thing_types_create(struct fl_core *c, const char *name, json_t *props, json_t *tags,
                                struct thing_types_ref *out, struct fl_err *err);

/* DescribeThingType. *out = {thingTypeName, thingTypeId, thingTypeArn,
 * thingTypeProperties, thingTypeMetadata}: a new reference the caller owns.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code thing_types_describe(struct fl_core *c, const char *name, json_t **out, struct fl_err *err);

/* UpdateThingType. Each member of props that is present (description,
 * searchableAttributes, mqtt5Configuration) replaces the stored one; absent
 * members are kept. Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a
 * store error. */
enum fl_code thing_types_update(struct fl_core *c, const char *name, json_t *props, struct fl_err *err);

/* DeprecateThingType: undo=0 deprecates (keeping the first deprecation
 * time when already deprecated), undo=1 clears the deprecation.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code thing_types_deprecate(struct fl_core *c, const char *name, int undo, struct fl_err *err);

/* DeleteThingType: only a type deprecated at least
 * THING_TYPES_DELETE_DELAY_MS ago and used by no thing; its tags go too.
 * Returns FL_OK, FL_INVALID_REQUEST (not deprecated, too recent, in use),
 * FL_NOT_FOUND, or a store error. */
enum fl_code thing_types_delete(struct fl_core *c, const char *name, struct fl_err *err);

/* ListThingTypes, in name order. name_filter (NULL = all) is an exact
 * thingTypeName. *out = {"thingTypes":[...], "nextToken"?}: a new reference.
 * Returns FL_OK, FL_INVALID_REQUEST, or a store error. */
enum fl_code thing_types_list(struct fl_core *c, const char *name_filter, int max_results,
                              const char *next_token, json_t **out, struct fl_err *err);

#endif
