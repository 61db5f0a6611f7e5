/*
 * testutil.h - helpers shared by the Check suites: a core over an
 * in-memory database with the migrations applied, a fixed clock and a
 * deterministic random source.
 */
#ifndef FL_TESTUTIL_H
#define FL_TESTUTIL_H

#include <check.h>

#include "core.h"

/* Opens a fresh core on ":memory:"; clock starts at 1764142417000 ms and
 * advances only through tu_advance(). Fails the test on error. */
struct fl_core *tu_core(void);
void tu_core_free(struct fl_core *c);
void tu_advance(struct fl_core *c, int64_t ms);

/* Removes a directory tree (a test's mkdtemp directory). */
void tu_rmtree(const char *dir);
/* Gives c a built-in CA in DIR/ca, EC P-256 root and device keys (fast),
 * with tu_core's clock. Fails the test on error; ca_close(c->ca) after. */
void tu_with_ca(struct fl_core *c, const char *dir);

#endif
