/*
 * store_provisioning.h - SQL for provisioning templates, their versions,
 * the ownership-token secret (a row of settings) and consumed token nonces.
 * Callers (provisioning.c) own the transactions. Knows nothing of template
 * bodies: a body is stored and returned as text.
 */
#ifndef FL_STORE_PROVISIONING_H
#define FL_STORE_PROVISIONING_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

/* One provisioning_templates row. Strings are NUL-terminated; "" = absent. */
struct store_tpl {
    int64_t id;
    char name[40];
    char description[2048]; /* 500 characters of UTF-8 */
    int enabled;
    char role_arn[2056];
    char hook_target[2056];
    char hook_version[40];
    char type[24];
    int64_t default_version, next_version;
    int64_t created_at, updated_at;
};

/* By name; FL_NOT_FOUND when absent. */
enum fl_code store_prov_tpl_get(struct store *st, const char *name, struct store_tpl *row,
                                struct fl_err *err);
/* Inserts row (row->id is set). FL_ALREADY_EXISTS when the name is taken. */
enum fl_code store_prov_tpl_insert(struct store *st, struct store_tpl *row, struct fl_err *err);
/* Rewrites every mutable column of row->id. */
enum fl_code store_prov_tpl_update(struct store *st, const struct store_tpl *row, struct fl_err *err);
/* Deletes a template and (cascade) its versions. */
enum fl_code store_prov_tpl_delete(struct store *st, int64_t id, struct fl_err *err);
/* Calls fn for up to limit templates with id > after, in id order. fn
 * returning non-zero stops the scan (that code is returned). */
typedef enum fl_code (*store_tpl_fn)(void *ctx, const struct store_tpl *row);
enum fl_code store_prov_tpl_page(struct store *st, int64_t after, int limit, store_tpl_fn fn, void *ctx,
                                 struct fl_err *err);

/* Versions. *body is malloc'd (caller frees). */
enum fl_code store_prov_ver_insert(struct store *st, int64_t tid, int64_t version, const char *body,
                                   int64_t created_at, struct fl_err *err);
enum fl_code store_prov_ver_get(struct store *st, int64_t tid, int64_t version, char **body,
                                int64_t *created_at, struct fl_err *err);
enum fl_code store_prov_ver_delete(struct store *st, int64_t tid, int64_t version, struct fl_err *err);
enum fl_code store_prov_ver_count(struct store *st, int64_t tid, int *n, struct fl_err *err);
typedef enum fl_code (*store_ver_fn)(void *ctx, int64_t version, int64_t created_at);
enum fl_code store_prov_ver_page(struct store *st, int64_t tid, int64_t after, int limit, store_ver_fn fn,
                                 void *ctx, struct fl_err *err);

/* Records a token nonce as used: FL_ALREADY_EXISTS when it already was. */
enum fl_code store_prov_token_use(struct store *st, const char *nonce, int64_t expires_at,
                                  struct fl_err *err);
/* Forgets nonces that expired before now (their tokens fail on expiry). */
enum fl_code store_prov_token_purge(struct store *st, int64_t now, struct fl_err *err);

/* FL_OK when a provisioning template of that name exists, else FL_NOT_FOUND
 * (the tags table's existence check). */
enum fl_code store_prov_tpl_exists(struct store *st, const char *name, struct fl_err *err);

/* ---- unclaimed MQTT certificates (schema/008_provisioning_unclaimed.sql) */

/* Records certificate_id as made over MQTT and unclaimed until expires_at. */
enum fl_code store_prov_unclaimed_add(struct store *st, const char *certificate_id, int64_t expires_at,
                                      struct fl_err *err);
/* Forgets certificate_id (absent is fine): it was provisioned. */
enum fl_code store_prov_unclaimed_delete(struct store *st, const char *certificate_id, struct fl_err *err);
/* Up to max ids (65 bytes each, into ids) whose row expired before now,
 * oldest first; *n = how many. One index range. */
enum fl_code store_prov_unclaimed_expired(struct store *st, int64_t now, int max, char (*ids)[65], int *n,
                                          struct fl_err *err);

#endif
