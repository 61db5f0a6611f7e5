/*
 * store_groups.h - the SQL of static thing groups and their membership
 * (tables thing_groups, thing_group_members, thing_group_closure).
 *
 * Every function runs inside a transaction the calling core function opened
 * (store_begin / store_begin_read) and keeps nothing across calls. Lookups
 * that find nothing return FL_NOT_FOUND without touching err, so the caller
 * words the message; other failures come from store_fail(). Strings passed
 * in are borrowed. Knows nothing of JSON, HTTP or MQTT, nor of the rules
 * (depth, hierarchy, limits) that thing_groups.c enforces.
 */
#ifndef FL_STORE_GROUPS_H
#define FL_STORE_GROUPS_H

#include <stdint.h>

#include "store.h"

/* "/" + 7 levels of (128-byte name + "/") + NUL fits. */
#define STORE_GROUP_PATH_MAX 1024
/* Ancestors of a group, itself included: the hierarchy depth limit. */
#define STORE_GROUP_MAX_DEPTH 7

/* One thing_groups row. description and attributes_json are malloc'd copies
 * (description NULL when the column is NULL), loaded only when asked for;
 * release them with store_group_clear(). */
struct store_group {
    int64_t row_id;
    int64_t parent_row; /* 0 for a root group */
    int depth;          /* 1 for a root group */
    int64_t version;
    int64_t created_at;
    char name[129];
    char group_id[37];
    char path[STORE_GROUP_PATH_MAX]; /* "/root/.../name/" */
    char *description;
    char *attributes_json;
};

void store_group_clear(struct store_group *g);

/* Loads the group called name. with_props also loads description and
 * attributes_json. FL_NOT_FOUND when absent. */
enum fl_code store_groups_get(struct store *st, const char *name, int with_props, struct store_group *out,
                              struct fl_err *err);
/* FL_OK when a group called name exists, FL_NOT_FOUND otherwise. */
enum fl_code store_groups_exists(struct store *st, const char *name, struct fl_err *err);
/* Inserts g (version 1; row_id ignored) and sets g->row_id and g->version.
 * g->parent_row 0 stores a root. attributes_json must not be NULL. */
enum fl_code store_groups_insert(struct store *st, struct store_group *g, struct fl_err *err);
/* Replaces description (NULL stores NULL) and attributes_json of row_id and
 * increments its version; *version receives the new one. */
enum fl_code store_groups_set_props(struct store *st, int64_t row_id, const char *description,
                                    const char *attributes_json, int64_t *version, struct fl_err *err);
/* *yes = 1 when row_id has at least one child group (one index probe). */
enum fl_code store_groups_has_children(struct store *st, int64_t row_id, int *yes, struct fl_err *err);
/* Deletes the group row_id with every membership in it (and their closure
 * rows at its ancestors). The caller has checked it has no children. */
enum fl_code store_groups_delete(struct store *st, int64_t row_id, struct fl_err *err);

/* Which groups store_groups_page walks. */
enum store_groups_scope {
    STORE_GROUPS_ALL,      /* every group */
    STORE_GROUPS_ROOTS,    /* groups without a parent */
    STORE_GROUPS_CHILDREN, /* direct children of parent_row */
    STORE_GROUPS_SUBTREE,  /* every descendant of the group whose path is parent_path */
};

/* Called once per row of a page, in order. Returns FL_OK to go on; any
 * other code stops the walk and is returned. name is valid during the call. */
typedef enum fl_code (*store_name_fn)(void *ctx, const char *name);

/* Calls fn for up to limit group names in [lo, hi) other than skip, in name
 * order (skip is the exclusive resume key of keyset pagination; "" skips
 * nothing since names are never empty). parent_row is used by CHILDREN,
 * parent_path by SUBTREE. */
enum fl_code store_groups_page(struct store *st, enum store_groups_scope scope, int64_t parent_row,
                               const char *parent_path, const char *lo, const char *hi, const char *skip,
                               int limit, store_name_fn fn, void *ctx, struct fl_err *err);

/* ---- membership ------------------------------------------------------- */

/* Row id of the thing called name (things.name). FL_NOT_FOUND when absent. */
enum fl_code store_groups_thing_row(struct store *st, const char *name, int64_t *row_id, struct fl_err *err);

/* Calls fn for each group the thing is directly a member of (at most a few
 * rows: index on thing). path is valid during the call. */
typedef enum fl_code (*store_membership_fn)(void *ctx, int64_t group_row, const char *path);
enum fl_code store_groups_memberships(struct store *st, int64_t thing_row, store_membership_fn fn, void *ctx,
                                      struct fl_err *err);

/* Makes the thing a direct member of the group (row group_row, path
 * group_path) and adds the closure rows for the group and each ancestor
 * (found through the prefixes of group_path). The caller has checked the
 * membership does not exist yet. */
enum fl_code store_groups_member_add(struct store *st, int64_t group_row, const char *group_path,
                                     int64_t thing_row, const char *thing_name, int64_t now_ms,
                                     struct fl_err *err);
/* Ends a direct membership and its closure rows. *removed = 0 when the thing
 * was not a member (not an error). */
enum fl_code store_groups_member_remove(struct store *st, int64_t group_row, int64_t thing_row,
                                        const char *thing_name, int *removed, struct fl_err *err);

/* Calls fn for up to limit names of things in the group with name > after,
 * in name order: direct members, or (recursive) members of the group and
 * of every group below it, each thing once. */
enum fl_code store_groups_things_page(struct store *st, int64_t group_row, int recursive, const char *after,
                                      int limit, store_name_fn fn, void *ctx, struct fl_err *err);

/* Calls fn for up to limit names, in name order and > after, of the groups
 * the thing is in: its direct groups and all their ancestors. */
enum fl_code store_groups_for_thing_page(struct store *st, int64_t thing_row, const char *after, int limit,
                                         store_name_fn fn, void *ctx, struct fl_err *err);

#endif
