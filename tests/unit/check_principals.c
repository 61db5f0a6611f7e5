/* check_principals.c - unit tests for principals (stub: being written) */
#include "suites.h"

START_TEST(test_placeholder)
{
    ck_assert_int_eq(1, 1);
}
END_TEST

Suite *principals_suite(void)
{
    Suite *s = suite_create("principals");
    TCase *tc = tcase_create("placeholder");
    tcase_add_test(tc, test_placeholder);
    suite_add_tcase(s, tc);
    return s;
}
