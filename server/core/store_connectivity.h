/*
 * store_connectivity.h - SQL for the connectivity table
 * (schema/006_broker.sql). connectivity.c owns the rules and transactions.
 */
#ifndef FL_STORE_CONNECTIVITY_H
#define FL_STORE_CONNECTIVITY_H

#include <stdint.h>

#include "store.h"

struct store_connectivity {
    int connected;
    int64_t timestamp_ms;
    char disconnect_reason[48]; /* "" when none */
    int64_t version;
};

/* Records one connect or disconnect of the thing called thing_name, bumping
 * its version. Nothing is written when no such thing exists (client ids that
 * are not thing names are not tracked), nor when the stored state is newer
 * than timestamp_ms. reason, session_id and principal may be NULL. */
enum fl_code store_connectivity_put(struct store *st, const char *thing_name, int connected,
                                    int64_t timestamp_ms, const char *reason, const char *session_id,
                                    const char *principal, struct fl_err *err);
/* Marks every connected thing disconnected at now_ms with reason. */
enum fl_code store_connectivity_all_offline(struct store *st, int64_t now_ms, const char *reason,
                                            struct fl_err *err);
/* The thing's state: FL_OK, or FL_NOT_FOUND when it has never connected. */
enum fl_code store_connectivity_get(struct store *st, const char *thing_name, struct store_connectivity *out,
                                    struct fl_err *err);

#endif
