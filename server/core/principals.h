/*
 * principals.h - principals attached to things: AttachThingPrincipal,
 * DetachThingPrincipal, ListThingPrincipals(V2), ListPrincipalThings(V2),
 * and the lookups the broker plugin and the policy engine make ("which
 * things is this certificate attached to?", "is it attached to this one?").
 *
 * A principal is a certificate ARN of this deployment (Cognito identities
 * and IAM principals do not exist on premises). A principal attached as
 * EXCLUSIVE_THING is attached to that thing only. Knows nothing of HTTP,
 * MQTT or SQL.
 */
#ifndef FL_PRINCIPALS_H
#define FL_PRINCIPALS_H

#include <jansson.h>
#include <stdint.h>

#include "core.h"

#define PRINCIPALS_EXCLUSIVE "EXCLUSIVE_THING"
#define PRINCIPALS_NON_EXCLUSIVE "NON_EXCLUSIVE_THING"

/* AttachThingPrincipal. type is EXCLUSIVE_THING, NON_EXCLUSIVE_THING or
 * NULL (= NON_EXCLUSIVE_THING). Attaching again succeeds and sets the
 * type. Refused (FL_INVALID_REQUEST) when the certificate is attached
 * exclusively to another thing, or when EXCLUSIVE_THING is asked while it
 * is attached to another thing. Returns FL_OK, FL_INVALID_REQUEST (bad
 * name, principal or type), FL_NOT_FOUND (thing or certificate), or a
 * store error. */
enum fl_code principals_attach(struct fl_core *c, const char *thing_name, const char *principal,
                               const char *type, struct fl_err *err);

/* DetachThingPrincipal. Detaching a principal that is not attached
 * succeeds. Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND (thing or
 * certificate), or a store error. */
enum fl_code principals_detach(struct fl_core *c, const char *thing_name, const char *principal,
                               struct fl_err *err);

/* ListThingPrincipals (v2 = 0): *out = {principals:[arn...], nextToken?};
 * ListThingPrincipalsV2 (v2 = 1): *out = {thingPrincipalObjects:
 * [{principal, thingPrincipalType}], nextToken?}, optionally only those of
 * type type_filter. Ordered by certificate id. max_results 1..250,
 * next_token NULL for the first page. Returns FL_OK, FL_INVALID_REQUEST,
 * FL_NOT_FOUND (thing), or a store error. */
enum fl_code principals_list_for_thing(struct fl_core *c, const char *thing_name, int v2,
                                       const char *type_filter, int max_results, const char *next_token,
                                       json_t **out, struct fl_err *err);

/* ListPrincipalThings (v2 = 0): *out = {things:[name...], nextToken?};
 * ListPrincipalThingsV2 (v2 = 1): *out = {principalThingObjects:
 * [{thingName, thingPrincipalType}], nextToken?}, optionally filtered by
 * type. Ordered as the things were created, stable across pages.
 * Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND (certificate), or a
 * store error. */
enum fl_code principals_list_things(struct fl_core *c, const char *principal, int v2, const char *type_filter,
                                    int max_results, const char *next_token, json_t **out,
                                    struct fl_err *err);

/* ---- lookups for the broker plugin and the policy engine ----------------- */

/* Called once per attached thing; return FL_OK to go on, anything else
 * stops the walk and is returned. thing_name is valid during the call. */
typedef enum fl_code (*principals_thing_fn)(void *ctx, const char *thing_name, int exclusive);

/* The things certificate certificate_id (64 hex) is attached to, in thing
 * creation order. The _tx form runs inside the caller's transaction; the
 * other opens a read transaction of its own. An unknown certificate has no
 * things (FL_OK, fn never called). Returns FL_OK, FL_INVALID_REQUEST
 * (malformed id), fn's code, or a store error. */
enum fl_code principals_things_for_certificate(struct fl_core *c, const char *certificate_id,
                                               principals_thing_fn fn, void *ctx, struct fl_err *err);
enum fl_code principals_things_for_certificate_tx(struct fl_core *c, const char *certificate_id,
                                                  principals_thing_fn fn, void *ctx, struct fl_err *err);

/* *attached = 1 when certificate certificate_id is attached to the thing
 * called thing_name (the policy variable iot:Connection.Thing.IsAttached),
 * else 0 (also for an unknown thing or certificate). The _tx form runs
 * inside the caller's transaction. Returns FL_OK, FL_INVALID_REQUEST, or a
 * store error. */
enum fl_code principals_is_attached(struct fl_core *c, const char *certificate_id, const char *thing_name,
                                    int *attached, struct fl_err *err);
enum fl_code principals_is_attached_tx(struct fl_core *c, const char *certificate_id, const char *thing_name,
                                       int *attached, struct fl_err *err);

/* Inside a write transaction: appends an authz outbox row for every
 * certificate attached to the thing (row id thing_row), so the broker
 * recompiles their clients' policies: the thing's attributes, type or group
 * memberships changed. Returns FL_OK or a store error. */
enum fl_code principals_notify_authz_tx(struct fl_core *c, int64_t thing_row, struct fl_err *err);

#endif
