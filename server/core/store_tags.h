/*
 * store_tags.h - the SQL of resource tags (table tags, keyed by ARN), and
 * the existence probes TagResource needs for taggable resources that have
 * no store module of their own here.
 *
 * Every function runs inside a transaction the calling core function
 * opened. Lookups that find nothing return FL_NOT_FOUND without touching
 * err. Strings passed in are borrowed. Knows nothing of JSON, HTTP or MQTT.
 */
#ifndef FL_STORE_TAGS_H
#define FL_STORE_TAGS_H

#include "store.h"

/* Inserts or overwrites the tag key of arn. */
enum fl_code store_tags_put(struct store *st, const char *arn, const char *key, const char *value,
                            struct fl_err *err);
/* Removes the tag key of arn; absent keys are not an error. */
enum fl_code store_tags_delete(struct store *st, const char *arn, const char *key, struct fl_err *err);
/* Removes every tag of arn. */
enum fl_code store_tags_delete_all(struct store *st, const char *arn, struct fl_err *err);
/* *n = number of tags on arn. */
enum fl_code store_tags_count(struct store *st, const char *arn, int *n, struct fl_err *err);

/* Calls fn for up to limit tags of arn with key > after, in key order. fn
 * returns FL_OK to go on; any other code stops and is returned. */
typedef enum fl_code (*store_tag_fn)(void *ctx, const char *key, const char *value);
enum fl_code store_tags_page(struct store *st, const char *arn, const char *after, int limit, store_tag_fn fn,
                             void *ctx, struct fl_err *err);

/* FL_OK when a thing type called name exists, FL_NOT_FOUND otherwise. */
enum fl_code store_tags_thing_type_exists(struct store *st, const char *name, struct fl_err *err);

#endif
