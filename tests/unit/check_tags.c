/* check_tags.c - unit tests for tags (stub: being written) */
#include "suites.h"

START_TEST(test_placeholder)
{
    ck_assert_int_eq(1, 1);
}
END_TEST

Suite *tags_suite(void)
{
    Suite *s = suite_create("tags");
    TCase *tc = tcase_create("placeholder");
    tcase_add_test(tc, test_placeholder);
    suite_add_tcase(s, tc);
    return s;
}
