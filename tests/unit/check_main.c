/*
 * check_main.c - the Check runner: one suite per core module. Prints
 * Check's closing "N%: Checks: N, Failures: N, Errors: N" line.
 */
#include <check.h>
#include <stdlib.h>

#include "suites.h"

int main(void)
{
    SRunner *sr = srunner_create(core_suite());
    srunner_add_suite(sr, sigv4_suite());
    srunner_add_suite(sr, things_suite());
    srunner_add_suite(sr, thing_types_suite());
    srunner_add_suite(sr, thing_groups_suite());
    srunner_add_suite(sr, tags_suite());
    srunner_add_suite(sr, ca_suite());
    srunner_add_suite(sr, certificates_suite());
    srunner_add_suite(sr, principals_suite());
    srunner_add_suite(sr, policies_suite());
    srunner_add_suite(sr, policy_eval_suite());
    srunner_add_suite(sr, plugin_suite());
    srunner_add_suite(sr, outbox_suite());
    srunner_add_suite(sr, broker_suite());
    srunner_add_suite(sr, template_engine_suite());
    srunner_add_suite(sr, provisioning_suite());
    srunner_add_suite(sr, worker_suite());
    srunner_add_suite(sr, jitp_suite());
    srunner_add_suite(sr, payload_suite());
    srunner_add_suite(sr, webhook_suite());
    srunner_add_suite(sr, prehook_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
