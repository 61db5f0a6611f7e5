/* suites.h - the Check suites, one per module (check_<module>.c). */
#ifndef FL_SUITES_H
#define FL_SUITES_H

#include <check.h>

Suite *core_suite(void);        /* check_core.c: store, page, validate, jx, keys, routes */
Suite *sigv4_suite(void);       /* check_sigv4.c */
Suite *things_suite(void);      /* check_things.c */
Suite *thing_types_suite(void); /* check_thing_types.c */
Suite *thing_groups_suite(void); /* check_thing_groups.c */
Suite *tags_suite(void);        /* check_tags.c */

#endif
