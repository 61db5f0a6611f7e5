/* check_policy_eval.c - unit tests for policy_eval (stub: being written) */
#include "suites.h"

START_TEST(test_placeholder)
{
    ck_assert_int_eq(1, 1);
}
END_TEST

Suite *policy_eval_suite(void)
{
    Suite *s = suite_create("policy_eval");
    TCase *tc = tcase_create("placeholder");
    tcase_add_test(tc, test_placeholder);
    suite_add_tcase(s, tc);
    return s;
}
