/*
 * store_keys.h - SQL for access keys and settings (schema/001_core.sql).
 */
#ifndef FL_STORE_KEYS_H
#define FL_STORE_KEYS_H

#include <jansson.h>
#include <stdint.h>

#include "keys.h"
#include "store.h"

enum fl_code store_keys_insert(struct store *st, const struct key_pair *k, int bootstrap, int64_t now_ms,
                               struct fl_err *err);
/* FL_NOT_FOUND when unknown or revoked. */
enum fl_code store_keys_get(struct store *st, const char *akid, struct key_pair *out, struct fl_err *err);
enum fl_code store_keys_bootstrap(struct store *st, struct key_pair *out, struct fl_err *err);
enum fl_code store_keys_list(struct store *st, json_t *arr, struct fl_err *err);
/* FL_NOT_FOUND when no usable key has that id. */
enum fl_code store_keys_revoke(struct store *st, const char *akid, int64_t now_ms, struct fl_err *err);

/* The settings table (name -> value). get: FL_NOT_FOUND when unset;
 * add: keeps an existing value (first writer wins); delete: no-op when unset. */
enum fl_code store_settings_get(struct store *st, const char *name, char *value, size_t n,
                                struct fl_err *err);
enum fl_code store_settings_add(struct store *st, const char *name, const char *value, struct fl_err *err);
enum fl_code store_settings_delete(struct store *st, const char *name, struct fl_err *err);

#endif
