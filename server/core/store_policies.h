/*
 * store_policies.h - the SQL of IoT policies, their versions and their
 * attachments (schema/005_policies.sql), plus the read-only lookups the
 * policy engine makes on tables other modules own: certificates,
 * thing_principals, things, thing attributes and thing groups.
 *
 * Every function runs inside a transaction the calling core function opened
 * (store_begin / store_begin_read) and keeps nothing across calls. Lookups
 * that find nothing return FL_NOT_FOUND without touching err, so the caller
 * words the message; other failures come from store_fail(). Strings passed
 * in are borrowed; strings passed to callbacks are valid during the call
 * only. Knows nothing of JSON, HTTP or MQTT, nor of the rules (limits,
 * default versions) that policies.c enforces.
 */
#ifndef FL_STORE_POLICIES_H
#define FL_STORE_POLICIES_H

#include <stdint.h>

#include "store.h"

/* One policies row. */
struct store_policy {
    int64_t row_id;
    int64_t default_version;
    int64_t next_version; /* version id the next CreatePolicyVersion gets */
    int64_t created_at;
    int64_t updated_at;
    char name[129];
    char generation_id[65];
};

/* ---- policies ----------------------------------------------------------- */

/* Loads the policy called name. FL_NOT_FOUND when absent. */
enum fl_code store_policies_get(struct store *st, const char *name, struct store_policy *out,
                                struct fl_err *err);
/* FL_OK when a policy called name exists, FL_NOT_FOUND otherwise (the
 * signature of the taggable-resource probes in tags.c). */
enum fl_code store_policies_exists(struct store *st, const char *name, struct fl_err *err);
/* Inserts p (row_id ignored) with its version 1 document and sets
 * p->row_id. */
enum fl_code store_policies_insert(struct store *st, struct store_policy *p, const char *document,
                                   struct fl_err *err);
/* Writes default_version, next_version, generation_id and updated_at of
 * p->row_id. */
enum fl_code store_policies_update(struct store *st, const struct store_policy *p, struct fl_err *err);
/* Deletes the policy and its versions. The caller has checked it has no
 * targets. */
enum fl_code store_policies_delete(struct store *st, int64_t row_id, struct fl_err *err);

/* Calls fn for up to limit policies in creation order (row id ascending,
 * or descending when !ascending), strictly after the row id `after`
 * (0: from the start). fn returns FL_OK to go on. */
typedef enum fl_code (*store_policy_fn)(void *ctx, int64_t row_id, const char *name);
enum fl_code store_policies_page(struct store *st, int ascending, int64_t after, int limit,
                                 store_policy_fn fn, void *ctx, struct fl_err *err);

/* ---- versions ------------------------------------------------------------- */

enum fl_code store_policy_versions_insert(struct store *st, int64_t policy_row, int64_t version,
                                          const char *document, int64_t created_at, struct fl_err *err);
/* *document (malloc'd, caller frees) and *created_at of one version.
 * FL_NOT_FOUND when absent. */
enum fl_code store_policy_versions_get(struct store *st, int64_t policy_row, int64_t version, char **document,
                                       int64_t *created_at, struct fl_err *err);
enum fl_code store_policy_versions_count(struct store *st, int64_t policy_row, int *n, struct fl_err *err);
/* Calls fn for every version of the policy, newest first. */
typedef enum fl_code (*store_version_fn)(void *ctx, int64_t version, int64_t created_at);
enum fl_code store_policy_versions_each(struct store *st, int64_t policy_row, store_version_fn fn, void *ctx,
                                        struct fl_err *err);
/* FL_NOT_FOUND when the version does not exist. */
enum fl_code store_policy_versions_delete(struct store *st, int64_t policy_row, int64_t version,
                                          struct fl_err *err);

/* ---- attachments (targets are certificate or thing-group ARNs) -------------- */

/* Attaches; *added = 0 when it already was attached. */
enum fl_code store_policy_targets_add(struct store *st, int64_t policy_row, const char *target,
                                      int64_t now_ms, int *added, struct fl_err *err);
/* Detaches; *removed = 0 when it was not attached. */
enum fl_code store_policy_targets_remove(struct store *st, int64_t policy_row, const char *target,
                                         int *removed, struct fl_err *err);
/* *yes = 1 when the policy is attached to at least one target. */
enum fl_code store_policy_targets_any(struct store *st, int64_t policy_row, int *yes, struct fl_err *err);
/* *yes = 1 when the policy is attached to target. */
enum fl_code store_policy_targets_has(struct store *st, int64_t policy_row, const char *target, int *yes,
                                      struct fl_err *err);
/* *n = number of policies attached to target. */
enum fl_code store_policy_targets_count(struct store *st, const char *target, int *n, struct fl_err *err);
/* Calls fn for up to limit targets of the policy, > after, in order. */
typedef enum fl_code (*store_target_fn)(void *ctx, const char *target);
enum fl_code store_policy_targets_page(struct store *st, int64_t policy_row, const char *after, int limit,
                                       store_target_fn fn, void *ctx, struct fl_err *err);
/* Calls fn for every policy attached to target, in name order, with the
 * text of its default version. */
typedef enum fl_code (*store_attached_fn)(void *ctx, const char *name, const char *document);
enum fl_code store_policies_for_target(struct store *st, const char *target, store_attached_fn fn, void *ctx,
                                       struct fl_err *err);

/* ---- lookups on other modules' tables (read-only) --------------------------- */

/* FL_OK when a certificate with this id exists, FL_NOT_FOUND otherwise. */
enum fl_code store_policies_cert_exists(struct store *st, const char *cert_id, struct fl_err *err);
/* *pem (malloc'd, caller frees) of a certificate. FL_NOT_FOUND when absent. */
enum fl_code store_policies_cert_pem(struct store *st, const char *cert_id, char **pem, struct fl_err *err);
/* The materialised path ("/root/.../name/") of a thing group. FL_NOT_FOUND
 * when absent. */
enum fl_code store_policies_group_path(struct store *st, const char *name, char *path, size_t pathlen,
                                       struct fl_err *err);
/* The thing called name: *row_id and its thing type's name (type_name ""
 * when it has none). FL_NOT_FOUND when absent. */
enum fl_code store_policies_thing(struct store *st, const char *name, int64_t *row_id, char type_name[129],
                                  struct fl_err *err);
/* Calls fn(ctx, name, value) for every attribute of the thing. */
typedef enum fl_code (*store_attr_fn)(void *ctx, const char *name, const char *value);
enum fl_code store_policies_thing_attrs(struct store *st, int64_t thing_row, store_attr_fn fn, void *ctx,
                                        struct fl_err *err);
/* Calls fn for the name of every thing group the thing is in, directly or
 * through a descendant, root groups first (by path). */
typedef enum fl_code (*store_group_name_fn)(void *ctx, const char *name);
enum fl_code store_policies_thing_groups(struct store *st, int64_t thing_row, store_group_name_fn fn,
                                         void *ctx, struct fl_err *err);
/* The thing whose policy variables apply to a connection of principal
 * (a certificate ARN) with client id client_id (may be NULL): the thing
 * named client_id when it is attached to the principal, else the thing the
 * principal is exclusively attached to. name receives it; FL_NOT_FOUND
 * when there is none. */
enum fl_code store_policies_principal_thing(struct store *st, const char *principal, const char *client_id,
                                            char name[129], struct fl_err *err);

/* Removes every policy attachment of one target (a certificate or thing
 * group ARN): DeleteCertificate with forceDelete, DeleteThingGroup. */
enum fl_code store_policy_targets_detach_all(struct store *st, const char *target, struct fl_err *err);

#endif
