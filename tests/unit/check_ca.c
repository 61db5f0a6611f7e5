/* check_ca.c - unit tests for ca (stub: being written) */
#include "suites.h"

START_TEST(test_placeholder)
{
    ck_assert_int_eq(1, 1);
}
END_TEST

Suite *ca_suite(void)
{
    Suite *s = suite_create("ca");
    TCase *tc = tcase_create("placeholder");
    tcase_add_test(tc, test_placeholder);
    suite_add_tcase(s, tc);
    return s;
}
