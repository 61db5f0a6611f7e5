/*
 * check_principals.c - unit tests for principals.c: AttachThingPrincipal,
 * DetachThingPrincipal, ListThingPrincipals(V2), ListPrincipalThings(V2),
 * the exclusive-thing rule, and the lookups for the broker plugin and the
 * policy engine. Certificates come from a built-in CA opened in a mkdtemp
 * directory.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca.h"
#include "certificates.h"
#include "page.h"
#include "principals.h"
#include "suites.h"
#include "testutil.h"
#include "things.h"

static struct fl_core *c;
static struct fl_err err;
static char dir[64];

static void setup(void)
{
    c = tu_core();
    fl_err_clear(&err);
    snprintf(dir, sizeof(dir), "/tmp/fleetd-check-princ-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tu_with_ca(c, dir);
}

static void teardown(void)
{
    ca_close(c->ca);
    tu_core_free(c);
    tu_rmtree(dir);
}

/* A new ACTIVE certificate: its id and ARN. */
struct cert {
    char id[65];
    char arn[320];
};

static void mk_cert(struct cert *out)
{
    json_t *o = NULL;
    ck_assert_msg(certificates_create_keys(c, 1, &o, &err) == FL_OK, "%s", err.msg);
    snprintf(out->id, sizeof(out->id), "%s", json_string_value(json_object_get(o, "certificateId")));
    snprintf(out->arn, sizeof(out->arn), "%s", json_string_value(json_object_get(o, "certificateArn")));
    json_decref(o);
}

static void mk_thing(const char *name)
{
    struct things_ref r;
    struct things_create_in in = {.name = name};
    ck_assert_msg(things_create(c, &in, &r, &err) == FL_OK, "%s", err.msg);
}

static enum fl_code attach(const char *thing, const char *arn, const char *type)
{
    return principals_attach(c, thing, arn, type, &err);
}

static json_t *list_for_thing(const char *thing, int v2, const char *type, int max, const char *token)
{
    json_t *out = NULL;
    ck_assert_msg(principals_list_for_thing(c, thing, v2, type, max, token, &out, &err) == FL_OK, "%s",
                  err.msg);
    return out;
}

static json_t *list_things(const char *principal, int v2, const char *type, int max, const char *token)
{
    json_t *out = NULL;
    ck_assert_msg(principals_list_things(c, principal, v2, type, max, token, &out, &err) == FL_OK, "%s",
                  err.msg);
    return out;
}

static const char *sget(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- attach / detach / list ---------------------------------------------------- */

START_TEST(test_attach_list_detach)
{
    struct cert a, b;
    mk_cert(&a);
    mk_cert(&b);
    mk_thing("t1");
    mk_thing("t2");
    ck_assert_int_eq(attach("t1", a.arn, NULL), FL_OK);
    ck_assert_int_eq(attach("t1", a.arn, NULL), FL_OK); /* again: fine */
    ck_assert_int_eq(attach("t1", b.arn, "NON_EXCLUSIVE_THING"), FL_OK);
    ck_assert_int_eq(attach("t2", a.arn, NULL), FL_OK);

    json_t *out = list_for_thing("t1", 0, NULL, 25, NULL);
    json_t *arr = json_object_get(out, "principals");
    ck_assert_int_eq(json_array_size(arr), 2);
    const char *first = strcmp(a.id, b.id) < 0 ? a.arn : b.arn; /* ordered by certificate id */
    ck_assert_str_eq(json_string_value(json_array_get(arr, 0)), first);
    ck_assert_ptr_null(json_object_get(out, "nextToken"));
    json_decref(out);

    out = list_for_thing("t1", 1, NULL, 25, NULL);
    arr = json_object_get(out, "thingPrincipalObjects");
    ck_assert_int_eq(json_array_size(arr), 2);
    ck_assert_str_eq(sget(json_array_get(arr, 0), "principal"), first);
    ck_assert_str_eq(sget(json_array_get(arr, 0), "thingPrincipalType"), "NON_EXCLUSIVE_THING");
    json_decref(out);

    out = list_things(a.arn, 0, NULL, 25, NULL);
    arr = json_object_get(out, "things");
    ck_assert_int_eq(json_array_size(arr), 2);
    ck_assert_str_eq(json_string_value(json_array_get(arr, 0)), "t1");
    ck_assert_str_eq(json_string_value(json_array_get(arr, 1)), "t2");
    json_decref(out);
    out = list_things(a.arn, 1, NULL, 25, NULL);
    arr = json_object_get(out, "principalThingObjects");
    ck_assert_str_eq(sget(json_array_get(arr, 1), "thingName"), "t2");
    ck_assert_str_eq(sget(json_array_get(arr, 1), "thingPrincipalType"), "NON_EXCLUSIVE_THING");
    json_decref(out);

    ck_assert_int_eq(principals_detach(c, "t1", a.arn, &err), FL_OK);
    ck_assert_int_eq(principals_detach(c, "t1", a.arn, &err), FL_OK); /* not attached: fine */
    out = list_things(a.arn, 0, NULL, 25, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(out, "things")), 1);
    json_decref(out);

    /* an upper-case id in the ARN names the same certificate */
    char up[320];
    snprintf(up, sizeof(up), "%s", b.arn);
    for (char *p = strstr(up, "cert/") + 5; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    ck_assert_int_eq(principals_detach(c, "t1", up, &err), FL_OK);
    out = list_for_thing("t1", 0, NULL, 25, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(out, "principals")), 0);
    json_decref(out);
}
END_TEST

START_TEST(test_attach_errors)
{
    struct cert a;
    mk_cert(&a);
    mk_thing("t1");
    char zero[320];
    snprintf(zero, sizeof(zero), "arn:aws:iot:us-east-1:123456789012:cert/%064d", 0);
    ck_assert_int_eq(attach("nope", a.arn, NULL), FL_NOT_FOUND);
    ck_assert_int_eq(attach("t1", zero, NULL), FL_NOT_FOUND);
    ck_assert_int_eq(attach("t1", "arn:aws:iot:eu-west-1:999999999999:cert/abc", NULL), FL_NOT_FOUND);
    ck_assert_int_eq(attach("t1", "us-east-1:1234-cognito-id", NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(attach("t1", "arn:aws:iot:us-east-1:123456789012:thing/t1", NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(attach("t1", NULL, NULL), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "x-amzn-principal"));
    ck_assert_int_eq(attach("t1", "", NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(attach("t1", a.arn, "SOMETIMES"), FL_INVALID_REQUEST);
    ck_assert_int_eq(attach("bad name!", a.arn, NULL), FL_INVALID_REQUEST);
    ck_assert_int_eq(principals_detach(c, "nope", a.arn, &err), FL_NOT_FOUND);
    ck_assert_int_eq(principals_detach(c, "t1", zero, &err), FL_NOT_FOUND);
    ck_assert_int_eq(principals_detach(c, "t1", "junk", &err), FL_INVALID_REQUEST);

    json_t *out = NULL;
    ck_assert_int_eq(principals_list_for_thing(c, "nope", 0, NULL, 25, NULL, &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(principals_list_for_thing(c, "t1", 0, NULL, 0, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(principals_list_for_thing(c, "t1", 0, NULL, 25, "garbage", &out, &err),
                     FL_INVALID_REQUEST);
    ck_assert_int_eq(principals_list_for_thing(c, "t1", 1, "BAD", 25, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(principals_list_things(c, zero, 0, NULL, 25, NULL, &out, &err), FL_NOT_FOUND);
    ck_assert_int_eq(principals_list_things(c, NULL, 0, NULL, 25, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(principals_list_things(c, a.arn, 0, NULL, 251, NULL, &out, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(principals_list_things(c, a.arn, 0, NULL, 25, "garbage", &out, &err),
                     FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_exclusive)
{
    struct cert a, b;
    mk_cert(&a);
    mk_cert(&b);
    mk_thing("t1");
    mk_thing("t2");
    ck_assert_int_eq(attach("t1", a.arn, "EXCLUSIVE_THING"), FL_OK);
    /* exclusively attached: no other thing */
    ck_assert_int_eq(attach("t2", a.arn, NULL), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "t1"));
    ck_assert_int_eq(attach("t2", a.arn, "EXCLUSIVE_THING"), FL_INVALID_REQUEST);
    /* the same thing again is fine; it may even become non-exclusive */
    ck_assert_int_eq(attach("t1", a.arn, "EXCLUSIVE_THING"), FL_OK);
    json_t *out = list_for_thing("t1", 1, "EXCLUSIVE_THING", 25, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(out, "thingPrincipalObjects")), 1);
    json_decref(out);
    ck_assert_int_eq(attach("t1", a.arn, "NON_EXCLUSIVE_THING"), FL_OK);
    ck_assert_int_eq(attach("t2", a.arn, NULL), FL_OK);

    /* attached elsewhere already: cannot become exclusive here */
    ck_assert_int_eq(attach("t1", b.arn, NULL), FL_OK);
    ck_assert_int_eq(attach("t2", b.arn, "EXCLUSIVE_THING"), FL_INVALID_REQUEST);
    ck_assert_int_eq(attach("t1", b.arn, "EXCLUSIVE_THING"), FL_OK);
    /* type filters */
    out = list_for_thing("t1", 1, "EXCLUSIVE_THING", 25, NULL);
    json_t *arr = json_object_get(out, "thingPrincipalObjects");
    ck_assert_int_eq(json_array_size(arr), 1);
    ck_assert_str_eq(sget(json_array_get(arr, 0), "principal"), b.arn);
    ck_assert_str_eq(sget(json_array_get(arr, 0), "thingPrincipalType"), "EXCLUSIVE_THING");
    json_decref(out);
    out = list_for_thing("t1", 1, "NON_EXCLUSIVE_THING", 25, NULL);
    arr = json_object_get(out, "thingPrincipalObjects");
    ck_assert_int_eq(json_array_size(arr), 1);
    ck_assert_str_eq(sget(json_array_get(arr, 0), "principal"), a.arn);
    json_decref(out);
    out = list_things(b.arn, 1, "EXCLUSIVE_THING", 25, NULL);
    arr = json_object_get(out, "principalThingObjects");
    ck_assert_int_eq(json_array_size(arr), 1);
    ck_assert_str_eq(sget(json_array_get(arr, 0), "thingName"), "t1");
    json_decref(out);
    out = list_things(b.arn, 1, "NON_EXCLUSIVE_THING", 25, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(out, "principalThingObjects")), 0);
    json_decref(out);
}
END_TEST

START_TEST(test_paging)
{
    struct cert certs[5];
    mk_thing("hub");
    for (int i = 0; i < 5; i++) {
        mk_cert(&certs[i]);
        ck_assert_int_eq(attach("hub", certs[i].arn, NULL), FL_OK);
    }
    char token[PAGE_TOKEN_MAX] = "";
    int n = 0, pages = 0;
    char prev[320] = "";
    do {
        json_t *out = list_for_thing("hub", 0, NULL, 2, token[0] ? token : NULL);
        json_t *arr = json_object_get(out, "principals");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            const char *arn = json_string_value(json_array_get(arr, i));
            ck_assert_int_lt(strcmp(prev, arn), 0);
            snprintf(prev, sizeof(prev), "%s", arn);
            n++;
        }
        pages++;
        const char *next = sget(out, "nextToken");
        snprintf(token, sizeof(token), "%s", next ? next : "");
        json_decref(out);
    } while (token[0]);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(pages, 3);

    /* one certificate on seven things */
    char names[7][16];
    for (int i = 0; i < 7; i++) {
        snprintf(names[i], sizeof(names[i]), "dev-%c", 'g' - i); /* created in reverse name order */
        mk_thing(names[i]);
        ck_assert_int_eq(attach(names[i], certs[0].arn, NULL), FL_OK);
    }
    token[0] = '\0';
    n = 0;
    pages = 0;
    do {
        json_t *out = list_things(certs[0].arn, 0, NULL, 3, token[0] ? token : NULL);
        json_t *arr = json_object_get(out, "things");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            const char *name = json_string_value(json_array_get(arr, i));
            if (n == 0)
                ck_assert_str_eq(name, "hub");
            else
                ck_assert_str_eq(name, names[n - 1]); /* creation order */
            n++;
        }
        pages++;
        const char *next = sget(out, "nextToken");
        snprintf(token, sizeof(token), "%s", next ? next : "");
        json_decref(out);
    } while (token[0]);
    ck_assert_int_eq(n, 8);
    ck_assert_int_eq(pages, 3);
}
END_TEST

/* ---- lookups ----------------------------------------------------------------------- */

struct seen {
    int n;
    int exclusive;
    char last[129];
};

static enum fl_code seen_cb(void *ctx, const char *thing_name, int exclusive)
{
    struct seen *s = ctx;
    s->n++;
    s->exclusive += exclusive;
    snprintf(s->last, sizeof(s->last), "%s", thing_name);
    return FL_OK;
}

static enum fl_code stop_cb(void *ctx, const char *thing_name, int exclusive)
{
    (void)thing_name, (void)exclusive;
    ++*(int *)ctx;
    return FL_CONFLICT;
}

START_TEST(test_lookups)
{
    struct cert a, b;
    mk_cert(&a);
    mk_cert(&b);
    /* more things than one batch of the walk */
    for (int i = 0; i < 230; i++) {
        char name[32];
        snprintf(name, sizeof(name), "fleet-%03d", i);
        mk_thing(name);
        ck_assert_int_eq(attach(name, a.arn, NULL), FL_OK);
    }
    mk_thing("solo");
    ck_assert_int_eq(attach("solo", b.arn, "EXCLUSIVE_THING"), FL_OK);

    struct seen s = {0};
    ck_assert_int_eq(principals_things_for_certificate(c, a.id, seen_cb, &s, &err), FL_OK);
    ck_assert_int_eq(s.n, 230);
    ck_assert_int_eq(s.exclusive, 0);
    ck_assert_str_eq(s.last, "fleet-229");
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(principals_things_for_certificate(c, b.id, seen_cb, &s, &err), FL_OK);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.exclusive, 1);
    ck_assert_str_eq(s.last, "solo");
    int calls = 0;
    ck_assert_int_eq(principals_things_for_certificate(c, a.id, stop_cb, &calls, &err), FL_CONFLICT);
    ck_assert_int_eq(calls, 1);
    char zero[65];
    memset(zero, '0', 64);
    zero[64] = '\0';
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(principals_things_for_certificate(c, zero, seen_cb, &s, &err), FL_OK);
    ck_assert_int_eq(s.n, 0);
    ck_assert_int_eq(principals_things_for_certificate(c, "bad", seen_cb, &s, &err), FL_INVALID_REQUEST);

    int att = -1;
    ck_assert_int_eq(principals_is_attached(c, b.id, "solo", &att, &err), FL_OK);
    ck_assert_int_eq(att, 1);
    ck_assert_int_eq(principals_is_attached(c, a.id, "solo", &att, &err), FL_OK);
    ck_assert_int_eq(att, 0);
    ck_assert_int_eq(principals_is_attached(c, a.id, "no-such-thing", &att, &err), FL_OK);
    ck_assert_int_eq(att, 0);
    ck_assert_int_eq(principals_is_attached(c, "bad", "solo", &att, &err), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_delete_guards)
{
    struct cert a;
    mk_cert(&a);
    mk_thing("t1");
    ck_assert_int_eq(attach("t1", a.arn, NULL), FL_OK);
    ck_assert_int_eq(certificates_update(c, a.id, "INACTIVE", &err), FL_OK);
    ck_assert_int_eq(certificates_delete(c, a.id, 1, &err), FL_DELETE_CONFLICT);
    /* DeleteThing refuses while a principal is attached (things.c) */
    ck_assert_int_ne(things_delete(c, "t1", 0, 0, &err), FL_OK);
    ck_assert_int_eq(principals_detach(c, "t1", a.arn, &err), FL_OK);
    ck_assert_int_eq(things_delete(c, "t1", 0, 0, &err), FL_OK);
    ck_assert_int_eq(certificates_delete(c, a.id, 0, &err), FL_OK);
}
END_TEST

Suite *principals_suite(void)
{
    Suite *s = suite_create("principals");
    TCase *tc = tcase_create("principals");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_attach_list_detach);
    tcase_add_test(tc, test_attach_errors);
    tcase_add_test(tc, test_exclusive);
    tcase_add_test(tc, test_paging);
    tcase_add_test(tc, test_lookups);
    tcase_add_test(tc, test_delete_guards);
    suite_add_tcase(s, tc);
    return s;
}
