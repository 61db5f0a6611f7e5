/*
 * tags.h - resource tags (TagResource, UntagResource, ListTagsForResource),
 * keyed by resource ARN. Other modules call the *_tx functions from inside
 * their own transaction when a resource is created with tags or deleted.
 * Knows nothing of HTTP or MQTT.
 */
#ifndef FL_TAGS_H
#define FL_TAGS_H

#include <jansson.h>

#include "core.h"

/* Inside an open write transaction: validates tags (a JSON array of
 * {"Key": string, "Value": string}) and upserts them on arn. At most 50 tags
 * per resource (LimitExceeded past that... InvalidRequest per AWS). */
enum fl_code tags_put_tx(struct fl_core *c, const char *arn, json_t *tags, struct fl_err *err);
/* Inside an open write transaction: removes every tag of arn. */
enum fl_code tags_delete_all_tx(struct fl_core *c, const char *arn, struct fl_err *err);

/* TagResource: arn must name an existing taggable resource. Own transaction. */
enum fl_code tags_tag_resource(struct fl_core *c, const char *arn, json_t *tags, struct fl_err *err);
/* UntagResource: keys is a JSON array of strings. Own transaction. */
enum fl_code tags_untag_resource(struct fl_core *c, const char *arn, json_t *keys, struct fl_err *err);
/* ListTagsForResource: *out = {"tags":[{"Key","Value"}...], "nextToken"?}
 * (new reference). */
enum fl_code tags_list(struct fl_core *c, const char *arn, const char *next_token, int max_results,
                       json_t **out, struct fl_err *err);

#endif
