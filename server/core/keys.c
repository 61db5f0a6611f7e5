/*
 * keys.c - access keys for SigV4: generation (AKIA + 16 base32 characters,
 * a 40-character secret, both from the core's random source), lookup,
 * listing and revocation.
 */
#include "keys.h"

#include <string.h>

#include "store.h"
#include "store_keys.h"

static void random_chars(struct fl_core *c, char *out, size_t n, const char *alphabet)
{
    size_t alen = strlen(alphabet);
    unsigned char buf[64];
    core_random(c, buf, n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[buf[i] % alen]; /* 256 % 32 == 0 and 256 % 64 == 0: no bias */
    out[n] = '\0';
}

enum fl_code keys_create(struct fl_core *c, int read_only, int bootstrap, struct key_pair *out,
                         struct fl_err *err)
{
    memcpy(out->access_key_id, "AKIA", 4);
    random_chars(c, out->access_key_id + 4, KEYS_ID_LEN - 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    random_chars(c, out->secret, KEYS_SECRET_LEN,
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    out->read_only = read_only ? 1 : 0;
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    rc = store_keys_insert(c->st, out, bootstrap, core_now_ms(c), err);
    return store_end(c->st, rc, err);
}

enum fl_code keys_lookup(struct fl_core *c, const char *access_key_id, struct key_pair *out,
                         struct fl_err *err)
{
    if (strlen(access_key_id) > KEYS_ID_LEN)
        return fl_err_set(err, FL_NOT_FOUND, "The security token included in the request is invalid.");
    return store_keys_get(c->st, access_key_id, out, err);
}

enum fl_code keys_bootstrap(struct fl_core *c, struct key_pair *out, struct fl_err *err)
{
    return store_keys_bootstrap(c->st, out, err);
}

enum fl_code keys_list(struct fl_core *c, json_t **out, struct fl_err *err)
{
    json_t *arr = json_array();
    enum fl_code rc = store_keys_list(c->st, arr, err);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return FL_OK;
}

enum fl_code keys_revoke(struct fl_core *c, const char *access_key_id, struct fl_err *err)
{
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    rc = store_keys_revoke(c->st, access_key_id, core_now_ms(c), err);
    return store_end(c->st, rc, err);
}
