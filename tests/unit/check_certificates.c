/* check_certificates.c - unit tests for certificates (stub: being written) */
#include "suites.h"

START_TEST(test_placeholder)
{
    ck_assert_int_eq(1, 1);
}
END_TEST

Suite *certificates_suite(void)
{
    Suite *s = suite_create("certificates");
    TCase *tc = tcase_create("placeholder");
    tcase_add_test(tc, test_placeholder);
    suite_add_tcase(s, tc);
    return s;
}
