/*
 * store_certs.h - the SQL of certificates, CA certificates, thing
 * principals (schema/004_certificates.sql), the registration code (a row
 * of settings) and the read-and-detach queries certificates make on
 * policy_targets (schema/005_policies.sql, owned by policies).
 *
 * Every function runs inside a transaction the calling core function
 * opened, except where it says "one statement". Lookups that find nothing
 * return FL_NOT_FOUND without touching err, so the caller words the
 * message; other failures come from store_fail(). Strings passed in are
 * borrowed. Knows nothing of JSON, HTTP, MQTT or X.509.
 */
#ifndef FL_STORE_CERTS_H
#define FL_STORE_CERTS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ---- certificates ----------------------------------------------------- */

/* One certificates row. pem is malloc'd (NULL when not loaded); release it
 * with store_cert_clear(). ca_id is "" when registered without a CA. */
struct store_cert {
    char id[65];
    char *pem;
    char status[24];
    char ca_id[65];
    char mode[16];
    char owned_by[16];
    int64_t created_at, updated_at;
    int64_t not_before, not_after; /* ms */
    char generation_id[37];
    int64_t customer_version;
};

void store_cert_clear(struct store_cert *cert);

/* Inserts cert (customer_version 1). FL_ALREADY_EXISTS when the id is
 * taken. */
enum fl_code store_certs_insert(struct store *st, const struct store_cert *cert, struct fl_err *err);
/* Loads the certificate id, with its PEM when with_pem. FL_NOT_FOUND when
 * absent. */
enum fl_code store_certs_get(struct store *st, const char *id, int with_pem, struct store_cert *out,
                             struct fl_err *err);
/* Sets status, updated_at and generation_id; customer_version + 1. */
enum fl_code store_certs_set_status(struct store *st, const char *id, const char *status, int64_t now_ms,
                                    const char *generation_id, struct fl_err *err);
enum fl_code store_certs_delete(struct store *st, const char *id, struct fl_err *err);

/* One statement: the certificate's status and its CA's ("" when it has no
 * CA). FL_NOT_FOUND when the certificate is absent. */
enum fl_code store_certs_status_pair(struct store *st, const char *id, char status[24], char ca_status[24],
                                     struct fl_err *err);

/* Calls fn for up to limit certificates (PEM not loaded) strictly after
 * (after_created, after_id) in (created_at, id) order, or strictly before
 * it in reverse order when !ascending; ca_id not NULL keeps that CA's
 * certificates. fn returns FL_OK to continue. *count = rows visited. */
typedef enum fl_code (*store_cert_fn)(void *ctx, const struct store_cert *cert);
enum fl_code store_certs_page(struct store *st, const char *ca_id, int ascending, int64_t after_created,
                              const char *after_id, int limit, store_cert_fn fn, void *ctx, int *count,
                              struct fl_err *err);

/* *exists = 1 when at least one certificate has CA ca_id (one index probe). */
enum fl_code store_certs_any_by_ca(struct store *st, const char *ca_id, int *exists, struct fl_err *err);

/* policy_targets rows whose target is arn: *attached = 1 when any exists. */
enum fl_code store_certs_policy_attached(struct store *st, const char *arn, int *attached,
                                         struct fl_err *err);

/* ---- CA certificates ---------------------------------------------------- */

/* One ca_certificates row. pem and registration_json are malloc'd (NULL
 * when not loaded / NULL in the row); release with store_ca_clear(). */
struct store_ca {
    char id[65];
    char *pem;
    char subject[512];
    char status[16];
    char auto_registration[16];
    char *registration_json;
    char template_name[129]; /* "" when none */
    char mode[16];
    int builtin;
    char owned_by[16];
    int64_t created_at, updated_at;
    int64_t not_before, not_after; /* ms */
    char generation_id[37];
    int64_t customer_version;
};

void store_ca_clear(struct store_ca *ca);

/* Inserts ca (customer_version 1). FL_ALREADY_EXISTS when the id is taken. */
enum fl_code store_certs_ca_insert(struct store *st, const struct store_ca *ca, struct fl_err *err);
/* Loads the CA certificate id with PEM and registration config.
 * FL_NOT_FOUND when absent. */
enum fl_code store_certs_ca_get(struct store *st, const char *id, struct store_ca *out, struct fl_err *err);
/* Writes the mutable columns of ca (status, auto_registration,
 * registration_json, template_name, builtin, updated_at, generation_id,
 * customer_version) to the row ca->id. */
enum fl_code store_certs_ca_update(struct store *st, const struct store_ca *ca, struct fl_err *err);
enum fl_code store_certs_ca_delete(struct store *st, const char *id, struct fl_err *err);
/* The status of CA certificate id into status (16 bytes). FL_NOT_FOUND
 * when absent. */
enum fl_code store_certs_ca_status(struct store *st, const char *id, char status[16], struct fl_err *err);
/* FL_OK when CA certificate id exists, FL_NOT_FOUND when not (the
 * signature of tags.c's taggable table). */
enum fl_code store_certs_ca_exists(struct store *st, const char *id, struct fl_err *err);
/* Number of CA certificates whose subject is subject. */
enum fl_code store_certs_ca_count_subject(struct store *st, const char *subject, int *n, struct fl_err *err);
/* Calls fn (with PEM loaded) for every CA certificate whose subject is
 * subject, at most limit of them. */
typedef enum fl_code (*store_ca_fn)(void *ctx, const struct store_ca *ca);
enum fl_code store_certs_ca_by_subject(struct store *st, const char *subject, int limit, store_ca_fn fn,
                                       void *ctx, struct fl_err *err);
/* CA certificates page (PEM and registration config not loaded), same
 * order and keyset rules as store_certs_page; template not NULL keeps
 * those whose template_name is template. */
enum fl_code store_certs_ca_page(struct store *st, const char *template_name, int ascending,
                                 int64_t after_created, const char *after_id, int limit, store_ca_fn fn,
                                 void *ctx, int *count, struct fl_err *err);

/* ---- settings: the registration code ----------------------------------- */

/* ---- thing principals ---------------------------------------------------- */

/* One attachment, as the listings see it. */
struct store_principal {
    int64_t thing_row;
    const char *thing_name;     /* valid during the callback */
    const char *certificate_id; /* valid during the callback */
    int exclusive;
};

/* The attachment (thing_row, certificate_id): FL_OK and *exclusive, or
 * FL_NOT_FOUND. exclusive may be NULL. */
enum fl_code store_certs_principal_get(struct store *st, int64_t thing_row, const char *certificate_id,
                                       int *exclusive, struct fl_err *err);
/* Inserts or updates the attachment's type; arn is the certificate's ARN,
 * kept for lookups by ARN. */
enum fl_code store_certs_principal_put(struct store *st, int64_t thing_row, const char *certificate_id,
                                       const char *arn, int exclusive, int64_t now_ms, struct fl_err *err);
/* Removes the attachment (absent is fine). */
enum fl_code store_certs_principal_delete(struct store *st, int64_t thing_row, const char *certificate_id,
                                          struct fl_err *err);
/* The first attachment of certificate_id to a thing other than thing_row
 * (0: any thing), preferring an exclusive one: FL_OK with *other_row,
 * other_name (n bytes) and *exclusive, or FL_NOT_FOUND. */
enum fl_code store_certs_principal_other(struct store *st, const char *certificate_id, int64_t thing_row,
                                         int64_t *other_row, char *other_name, size_t n, int *exclusive,
                                         struct fl_err *err);
/* Attachments of one thing with certificate_id > after_id, by certificate
 * id; exclusive_filter -1 = any type, 0/1 = that type only. */
typedef enum fl_code (*store_principal_fn)(void *ctx, const struct store_principal *p);
enum fl_code store_certs_principal_page_thing(struct store *st, int64_t thing_row, int exclusive_filter,
                                              const char *after_id, int limit, store_principal_fn fn,
                                              void *ctx, int *count, struct fl_err *err);
/* Attachments of one certificate with thing row > after_row, by thing row. */
enum fl_code store_certs_principal_page_cert(struct store *st, const char *certificate_id,
                                             int exclusive_filter, int64_t after_row, int limit,
                                             store_principal_fn fn, void *ctx, int *count,
                                             struct fl_err *err);
/* *attached = 1 when certificate_id is attached to the thing called
 * thing_name. One statement. */
enum fl_code store_certs_principal_by_name(struct store *st, const char *certificate_id,
                                           const char *thing_name, int *attached, struct fl_err *err);

#endif
