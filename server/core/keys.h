/*
 * keys.h - access keys that sign REST requests (SigV4): create, list,
 * revoke, and the lookup the HTTP adapter makes on every request.
 * Knows nothing of HTTP.
 */
#ifndef FL_KEYS_H
#define FL_KEYS_H

#include <jansson.h>

#include "core.h"

#define KEYS_ID_LEN 20 /* "AKIA" + 16 */
#define KEYS_SECRET_LEN 40

struct key_pair {
    char access_key_id[KEYS_ID_LEN + 1];
    char secret[KEYS_SECRET_LEN + 1];
    int read_only;
};

/* Creates a key; bootstrap marks the admin key made on first start. */
enum fl_code keys_create(struct fl_core *c, int read_only, int bootstrap, struct key_pair *out,
                         struct fl_err *err);
/* Looks up a usable (not revoked) key. FL_NOT_FOUND when unknown or revoked. */
enum fl_code keys_lookup(struct fl_core *c, const char *access_key_id, struct key_pair *out,
                         struct fl_err *err);
/* The bootstrap key, if any usable one exists (FL_NOT_FOUND otherwise). */
enum fl_code keys_bootstrap(struct fl_core *c, struct key_pair *out, struct fl_err *err);
/* *out = [{"accessKeyId","readOnly","createdAt","revoked"}...] without secrets. */
enum fl_code keys_list(struct fl_core *c, json_t **out, struct fl_err *err);
enum fl_code keys_revoke(struct fl_core *c, const char *access_key_id, struct fl_err *err);

#endif
