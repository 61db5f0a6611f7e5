/*
 * store_things.h - the SQL of thing types, things and thing attributes.
 *
 * Every function runs inside a transaction the calling core function opened
 * (store_begin / store_begin_read) and owns nothing across calls. Lookups
 * that find nothing return FL_NOT_FOUND without touching err, so the caller
 * words the message; other failures come from store_fail(). Strings passed
 * in are borrowed. Knows nothing of JSON, HTTP or MQTT.
 */
#ifndef FL_STORE_THINGS_H
#define FL_STORE_THINGS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ---- thing types ------------------------------------------------------- */

/* One thing_types row. The text members are malloc'd copies (NULL when the
 * column is NULL); release them with store_thing_type_clear(). */
struct store_thing_type {
    int64_t row_id;
    char name[129];
    char type_id[37];
    char *description;
    char *searchable_json;
    char *mqtt5_json;
    int deprecated;
    int64_t deprecated_at; /* 0 when not deprecated */
    int64_t created_at;
};

void store_thing_type_clear(struct store_thing_type *t);

/* Inserts t (row_id, deprecated and deprecated_at ignored); sets t->row_id. */
enum fl_code store_thing_types_insert(struct store *st, struct store_thing_type *t, struct fl_err *err);
/* Loads the type called name into *out. FL_NOT_FOUND when absent. */
enum fl_code store_thing_types_get(struct store *st, const char *name, struct store_thing_type *out,
                                   struct fl_err *err);
/* Row id and deprecation of the type called name. FL_NOT_FOUND when absent. */
enum fl_code store_thing_types_lookup(struct store *st, const char *name, int64_t *row_id, int *deprecated,
                                      struct fl_err *err);
/* Replaces the three property columns of row_id (NULL stores NULL). */
enum fl_code store_thing_types_set_props(struct store *st, int64_t row_id, const char *description,
                                         const char *searchable_json, const char *mqtt5_json,
                                         struct fl_err *err);
/* Sets (deprecated=1, deprecated_at=at) or clears (deprecated=0) deprecation. */
enum fl_code store_thing_types_set_deprecated(struct store *st, int64_t row_id, int deprecated, int64_t at,
                                              struct fl_err *err);
enum fl_code store_thing_types_delete(struct store *st, int64_t row_id, struct fl_err *err);
/* *used = 1 when at least one thing has type row_id (one index probe). */
enum fl_code store_thing_types_in_use(struct store *st, int64_t row_id, int *used, struct fl_err *err);

/* Calls fn for up to limit types with name > after (after "" = from the
 * start), in name order; when only is not NULL, just the type called only.
 * fn returns FL_OK to continue; any other code stops and is returned.
 * *count receives the number of rows visited. The row passed to fn is
 * cleared after fn returns. */
typedef enum fl_code (*store_thing_type_fn)(void *ctx, const struct store_thing_type *t);
enum fl_code store_thing_types_page(struct store *st, const char *only, const char *after, int limit,
                                    store_thing_type_fn fn, void *ctx, int *count, struct fl_err *err);

/* ---- things ------------------------------------------------------------ */

/* A things row with its type's name ("" when untyped). */
struct store_thing {
    int64_t row_id;
    char name[129];
    char thing_id[37];
    int64_t type_row; /* 0 when untyped */
    char type_name[129];
    int64_t version;
    const char *attrs_json; /* ListThings scans only: the attributes object (valid during the callback) */
    const char *attr_value; /* list by attribute only: the matched value (valid during the callback) */
};

/* Inserts a thing with version 1 and the attributes attrs_json (a JSON
 * object of non-empty strings with sorted keys; NULL: none); sets
 * t->row_id. The caller indexes each attribute (store_things_attr_index). */
enum fl_code store_things_insert(struct store *st, struct store_thing *t, const char *attrs_json,
                                 int64_t now_ms, struct fl_err *err);
/* Loads the thing called name, and when attrs_json is not NULL a malloc'd
 * copy of its attributes object (caller frees): one statement, hence one
 * consistent snapshot without a transaction. FL_NOT_FOUND when absent. */
enum fl_code store_things_get(struct store *st, const char *name, struct store_thing *out, char **attrs_json,
                              struct fl_err *err);
/* Row id of the thing called name. FL_NOT_FOUND when absent. */
enum fl_code store_things_id(struct store *st, const char *name, int64_t *row_id, struct fl_err *err);
/* Sets type_row (0 = untyped), version = version + 1 and updated_at. */
enum fl_code store_things_touch(struct store *st, int64_t row_id, int64_t type_row, int64_t now_ms,
                                struct fl_err *err);
/* Deletes the thing and its attribute index rows; group memberships cascade. */
enum fl_code store_things_delete(struct store *st, int64_t row_id, struct fl_err *err);
/* Sets *n to the number of principals (certificates) attached to a thing. */
enum fl_code store_things_principal_count(struct store *st, int64_t row_id, int *n, struct fl_err *err);

/* Attributes of one thing, in name order. fn returns FL_OK to continue. */
typedef enum fl_code (*store_attr_fn)(void *ctx, const char *name, const char *value);
enum fl_code store_things_attrs(struct store *st, int64_t row_id, store_attr_fn fn, void *ctx,
                                struct fl_err *err);
/* Replaces the attributes object (as for store_things_insert); the caller
 * keeps the index in step (store_things_attr_index / _unindex). */
enum fl_code store_things_attrs_set(struct store *st, int64_t row_id, const char *attrs_json,
                                    struct fl_err *err);
/* Adds / removes the index row of one attribute value of a thing. */
enum fl_code store_things_attr_index(struct store *st, int64_t row_id, const char *thing_name,
                                     const char *name, const char *value, struct fl_err *err);
enum fl_code store_things_attr_unindex(struct store *st, const char *thing_name, const char *name,
                                       const char *value, struct fl_err *err);
/* Value of attribute name of the thing called thing_name, copied into
 * value (n bytes). FL_NOT_FOUND when the thing or attribute is absent. */
enum fl_code store_things_attr_get(struct store *st, const char *thing_name, const char *name, char *value,
                                   size_t n, struct fl_err *err);

/* ListThings scans. Each calls fn once per thing, in page order, for at
 * most limit things, and sets *count to the number visited. type_row 0
 * means "any type"; fn returns FL_OK to continue. */
typedef enum fl_code (*store_thing_fn)(void *ctx, const struct store_thing *t);
/* All things (type_row 0) or things of one type, name > after, by name. */
enum fl_code store_things_page(struct store *st, int64_t type_row, const char *after, int limit,
                               store_thing_fn fn, void *ctx, int *count, struct fl_err *err);
/* Things whose attribute attr equals value exactly, name > after, by name. */
enum fl_code store_things_page_attr_eq(struct store *st, const char *attr, const char *value,
                                       int64_t type_row, const char *after, int limit, store_thing_fn fn,
                                       void *ctx, int *count, struct fl_err *err);
/* Things whose attribute attr lies in [lo, hi), ordered by (value, name),
 * strictly after (after_value, after_name); pass (lo, "") for page one. */
enum fl_code store_things_page_attr_range(struct store *st, const char *attr, const char *hi,
                                          int64_t type_row, const char *after_value, const char *after_name,
                                          int limit, store_thing_fn fn, void *ctx, int *count,
                                          struct fl_err *err);

#endif
