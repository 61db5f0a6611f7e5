/*
 * tags.h - resource tags (TagResource, UntagResource, ListTagsForResource),
 * keyed by resource ARN. Other modules call the *_tx functions from inside
 * their own transaction when a resource is created with tags or deleted.
 * Taggable here: thing groups ("thinggroup"), thing types ("thingtype"),
 * policies ("policy"), CA certificates ("cacert") and provisioning
 * templates ("provisioningtemplate");
 * tags.c holds that table. Knows nothing of HTTP or MQTT.
 */
#ifndef FL_TAGS_H
#define FL_TAGS_H

#include <jansson.h>

#include "core.h"

/* Inside an open write transaction: validates tags (a JSON array of
 * {"Key": string, "Value"?: string}; NULL = nothing to do) and upserts them
 * on arn. tags is borrowed. At most 50 tags per resource: a list longer
 * than 50, a malformed or duplicate key, or a key starting with "aws:" is
 * FL_INVALID_REQUEST (nothing written); a list that would take the resource
 * past 50 together with its existing tags is FL_LIMIT_EXCEEDED (the caller's
 * transaction must then roll back). */
enum fl_code tags_put_tx(struct fl_core *c, const char *arn, json_t *tags, struct fl_err *err);
/* Inside an open write transaction: removes every tag of arn. */
enum fl_code tags_delete_all_tx(struct fl_core *c, const char *arn, struct fl_err *err);

/* TagResource: arn must name an existing taggable resource of this
 * deployment. Own transaction. Returns FL_OK, FL_INVALID_REQUEST (missing
 * or malformed ARN, a kind that cannot be tagged, bad tags),
 * FL_NOT_FOUND, FL_LIMIT_EXCEEDED, or a store error. */
enum fl_code tags_tag_resource(struct fl_core *c, const char *arn, json_t *tags, struct fl_err *err);
/* UntagResource: keys is a JSON array of strings (borrowed); absent keys
 * are ignored. Own transaction. Same codes as tags_tag_resource. */
enum fl_code tags_untag_resource(struct fl_core *c, const char *arn, json_t *keys, struct fl_err *err);
/* ListTagsForResource: *out = {"tags":[{"Key","Value"}...], "nextToken"?}
 * (new reference), in key order. next_token NULL or "" for the first page;
 * max_results outside 1..250 means 250. Returns FL_OK, FL_INVALID_REQUEST,
 * FL_NOT_FOUND, or a store error. */
enum fl_code tags_list(struct fl_core *c, const char *arn, const char *next_token, int max_results,
                       json_t **out, struct fl_err *err);

#endif
