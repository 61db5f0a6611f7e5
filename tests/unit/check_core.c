/*
 * check_core.c - unit tests for the shared pieces: error table, store
 * migrations, pagination tokens, validators, typed JSON access, access keys,
 * the route matcher and percent-decoding, and the config parser.
 */
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "jx.h"
#include "keys.h"
#include "page.h"
#include "routes.h"
#include "store.h"
#include "suites.h"
#include "testutil.h"
#include "validate.h"

START_TEST(test_err_table)
{
    ck_assert_str_eq(fl_err_type(FL_NOT_FOUND), "ResourceNotFoundException");
    ck_assert_int_eq(fl_err_status(FL_NOT_FOUND), 404);
    ck_assert_int_eq(fl_err_status(FL_ALREADY_EXISTS), 409);
    ck_assert_int_eq(fl_err_status(FL_CERTIFICATE_STATE), 406);
    ck_assert_int_eq(fl_err_status(FL_LIMIT_EXCEEDED), 410);
    ck_assert_int_eq(fl_err_status(FL_INVALID_SIGNATURE), 403);
    for (int i = 1; i < FL_CODE_MAX; i++) {
        ck_assert_msg(fl_err_type((enum fl_code)i)[0] != '\0', "code %d has no type", i);
        ck_assert_int_ge(fl_err_status((enum fl_code)i), 400);
    }
    ck_assert_str_eq(fl_err_type((enum fl_code)999), "InternalFailureException");
    struct fl_err e;
    ck_assert_int_eq(fl_err_set(&e, FL_NOT_FOUND, "Thing %s", "x"), FL_NOT_FOUND);
    ck_assert_str_eq(e.msg, "Thing x");
}
END_TEST

START_TEST(test_migrations_rerun)
{
    struct fl_core *c = tu_core();
    int v = store_schema_version(c->st);
    ck_assert_int_ge(v, 3);
    tu_core_free(c);
    /* a file database opened twice applies nothing the second time */
    char path[] = "/tmp/fleetd-check-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    struct fl_config cfg;
    struct fl_err err;
    core_config_defaults(&cfg);
    struct fl_core a, b;
    ck_assert_int_eq(core_open(&a, &cfg, path, NULL, &err), FL_OK);
    core_close(&a);
    ck_assert_int_eq(core_open(&b, &cfg, path, NULL, &err), FL_OK);
    ck_assert_int_eq(store_schema_version(b.st), v);
    core_close(&b);
    unlink(path);
    char wal[64];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
}
END_TEST

START_TEST(test_page_tokens)
{
    char tok[PAGE_TOKEN_MAX], key[256];
    struct fl_err err;
    const char *keys[] = {"a", "thing-0001", "x:y_z-", "", "ab", "abc", "abcd"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        page_token_encode(keys[i], tok);
        ck_assert_int_eq(page_token_decode(tok, key, sizeof(key), &err), FL_OK);
        ck_assert_str_eq(key, keys[i]);
    }
    ck_assert_int_eq(page_token_decode("garbage!", key, sizeof(key), &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(page_token_decode("", key, sizeof(key), &err), FL_INVALID_REQUEST);
    page_token_encode("thing-1", tok);
    tok[3] = tok[3] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(page_token_decode(tok, key, sizeof(key), &err), FL_INVALID_REQUEST);
    /* a key longer than the caller's buffer is refused, not truncated */
    page_token_encode("0123456789", tok);
    ck_assert_int_eq(page_token_decode(tok, key, 5, &err), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_validate)
{
    struct fl_err err;
    ck_assert_int_eq(validate_name("thingName", "a:b_c-9", &err), FL_OK);
    ck_assert_int_eq(validate_name("thingName", "", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(validate_name("thingName", "has space", &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "thingName"));
    char longname[130];
    memset(longname, 'a', 129);
    longname[129] = '\0';
    ck_assert_int_eq(validate_name("thingName", longname, &err), FL_INVALID_REQUEST);
    longname[128] = '\0';
    ck_assert_int_eq(validate_name("thingName", longname, &err), FL_OK);
    ck_assert_int_eq(validate_attr_name("a", "x.y,@/:#-_", &err), FL_OK);
    ck_assert_int_eq(validate_attr_value("v", "", &err), FL_OK);
    ck_assert_int_eq(validate_attr_value("v", "a=[b]", &err), FL_OK);
    ck_assert_int_eq(validate_attr_value("v", "a b", &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(validate_text("d", "caf\xc3\xa9 ok", 0, 10, 1, &err), FL_OK);
    ck_assert_int_eq(validate_text("d", "bad\xc3", 0, 10, 1, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(validate_text("d", "tab\there", 0, 20, 1, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(validate_tag("k", "v", &err), FL_OK);
    ck_assert_int_eq(validate_tag("", "v", &err), FL_INVALID_REQUEST);
}
END_TEST

START_TEST(test_jx)
{
    struct fl_err err;
    json_t *o = json_loads("{\"s\":\"x\",\"n\":2.0,\"f\":2.5,\"b\":true,\"z\":null,\"a\":[]}", 0, NULL);
    const char *s = NULL;
    int64_t i = 0;
    int b = 0;
    json_t *a = NULL;
    ck_assert_int_eq(jx_str(o, "s", JX_REQUIRED, &s, &err), FL_OK);
    ck_assert_str_eq(s, "x");
    ck_assert_int_eq(jx_int(o, "n", JX_REQUIRED, &i, &err), FL_OK);
    ck_assert_int_eq(i, 2);
    ck_assert_int_eq(jx_int(o, "f", JX_REQUIRED, &i, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(jx_str(o, "n", JX_REQUIRED, &s, &err), FL_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(err.msg, "n"));
    ck_assert_int_eq(jx_bool(o, "b", JX_REQUIRED, &b, &err), FL_OK);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(jx_str(o, "z", JX_OPTIONAL, &s, &err), FL_OK);
    ck_assert_int_eq(jx_str(o, "z", JX_REQUIRED, &s, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(jx_arr(o, "a", JX_REQUIRED, &a, &err), FL_OK);
    ck_assert_int_eq(jx_obj(NULL, "a", JX_OPTIONAL, &a, &err), FL_OK);
    json_t *t = jx_time(1764142417123);
    ck_assert(json_is_real(t));
    json_decref(t);
    t = jx_time(1764142417000);
    ck_assert(json_is_integer(t));
    ck_assert_int_eq(json_integer_value(t), 1764142417);
    json_decref(t);
    json_decref(o);
}
END_TEST

START_TEST(test_keys)
{
    struct fl_core *c = tu_core();
    struct fl_err err;
    struct key_pair k, got, boot;
    ck_assert_int_eq(keys_bootstrap(c, &boot, &err), FL_NOT_FOUND);
    ck_assert_int_eq(keys_create(c, 0, 1, &k, &err), FL_OK);
    ck_assert_int_eq(strlen(k.access_key_id), 20);
    ck_assert_int_eq(strncmp(k.access_key_id, "AKIA", 4), 0);
    ck_assert_int_eq(strlen(k.secret), 40);
    ck_assert_int_eq(keys_lookup(c, k.access_key_id, &got, &err), FL_OK);
    ck_assert_str_eq(got.secret, k.secret);
    ck_assert_int_eq(got.read_only, 0);
    ck_assert_int_eq(keys_bootstrap(c, &boot, &err), FL_OK);
    ck_assert_str_eq(boot.access_key_id, k.access_key_id);
    struct key_pair ro;
    ck_assert_int_eq(keys_create(c, 1, 0, &ro, &err), FL_OK);
    ck_assert_int_eq(keys_lookup(c, ro.access_key_id, &got, &err), FL_OK);
    ck_assert_int_eq(got.read_only, 1);
    json_t *list = NULL;
    ck_assert_int_eq(keys_list(c, &list, &err), FL_OK);
    ck_assert_int_eq(json_array_size(list), 2);
    char *dump = json_dumps(list, 0);
    ck_assert_ptr_null(strstr(dump, k.secret));
    free(dump);
    json_decref(list);
    ck_assert_int_eq(keys_revoke(c, ro.access_key_id, &err), FL_OK);
    ck_assert_int_eq(keys_lookup(c, ro.access_key_id, &got, &err), FL_NOT_FOUND);
    ck_assert_int_eq(keys_revoke(c, ro.access_key_id, &err), FL_NOT_FOUND);
    ck_assert_int_eq(keys_lookup(c, "AKIANOPE", &got, &err), FL_NOT_FOUND);
    tu_core_free(c);
}
END_TEST

static enum route_result match(const char *m, const char *p, const struct route **rt, char *params[])
{
    char allow[64];
    return routes_match(m, p, PLANE_IOT, rt, params, allow, sizeof(allow));
}

START_TEST(test_routes)
{
    const struct route *rt = NULL;
    char *params[HTTP_MAX_PARAMS] = {0};
    ck_assert_int_eq(match("PUT", "/thing-groups/addThingToThingGroup", &rt, params), ROUTE_FOUND);
    ck_assert_str_eq(rt->op, "AddThingToThingGroup");
    routes_free_params(params);
    ck_assert_int_eq(match("GET", "/thing-groups/addThingToThingGroup", &rt, params), ROUTE_FOUND);
    ck_assert_str_eq(rt->op, "DescribeThingGroup");
    ck_assert_str_eq(params[0], "addThingToThingGroup");
    routes_free_params(params);
    ck_assert_int_eq(match("POST", "/things/a%3Ab", &rt, params), ROUTE_FOUND);
    ck_assert_str_eq(rt->op, "CreateThing");
    ck_assert_str_eq(params[0], "a:b");
    routes_free_params(params);
    ck_assert_int_eq(match("GET", "/nope", &rt, params), ROUTE_NO_PATH);
    ck_assert_int_eq(match("GET", "/things/", &rt, params), ROUTE_NO_PATH);
    ck_assert_int_eq(match("GET", "/things/%ZZ", &rt, params), ROUTE_BAD_ENCODING);
    ck_assert_int_eq(match("GET", "/things/a%00", &rt, params), ROUTE_BAD_ENCODING);
    char allow[64];
    ck_assert_int_eq(routes_match("PUT", "/things/x", PLANE_IOT, &rt, params, allow, sizeof(allow)),
                     ROUTE_BAD_METHOD);
    ck_assert_ptr_nonnull(strstr(allow, "GET"));
    ck_assert_ptr_nonnull(strstr(allow, "PATCH"));
    ck_assert_int_eq(routes_match("GET", "/things", PLANE_DATA, &rt, params, allow, sizeof(allow)),
                     ROUTE_NO_PATH);
    /* every pattern in the table is well formed and reachable by itself */
    for (int i = 0; i < routes_count; i++) {
        ck_assert_msg(routes_table[i].pattern[0] == '/', "route %d", i);
        ck_assert_ptr_nonnull(routes_table[i].handler);
    }
}
END_TEST

static int key_count(struct fl_core *c)
{
    json_t *list = NULL;
    struct fl_err err;
    ck_assert_int_eq(keys_list(c, &list, &err), FL_OK);
    int n = (int)json_array_size(list);
    json_decref(list);
    return n;
}

/* Group commit at the store level: operations in a batch are savepoints, a
 * failed one undoes only itself, nothing is visible before the commit. */
START_TEST(test_store_batch)
{
    char path[] = "/tmp/fleetd-batch-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct fl_config cfg;
    struct fl_err err;
    core_config_defaults(&cfg);
    struct fl_core w, r;
    ck_assert_int_eq(core_open(&w, &cfg, path, NULL, &err), FL_OK);
    ck_assert_int_eq(core_open(&r, &cfg, path, NULL, &err), FL_OK);
    struct key_pair k;
    ck_assert_int_eq(store_batch_begin(w.st, &err), FL_OK);
    ck_assert_int_eq(keys_create(&w, 0, 0, &k, &err), FL_OK);
    ck_assert_int_eq(store_begin(w.st, &err), FL_OK);
    ck_assert_int_eq(store_end(w.st, FL_INVALID_REQUEST, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(keys_create(&w, 1, 0, &k, &err), FL_OK);
    ck_assert_int_eq(key_count(&w), 2);
    ck_assert_int_eq(key_count(&r), 0); /* not committed yet */
    ck_assert_int_eq(store_batch_commit(w.st, &err), FL_OK);
    ck_assert_int_eq(key_count(&r), 2);
    core_close(&w);
    core_close(&r);
    char aux[64];
    unlink(path);
    snprintf(aux, sizeof(aux), "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", path);
    unlink(aux);
}
END_TEST

struct writer_arg {
    struct core_pool *pool;
    int n;
    int failures;
};

static void *writer_thread(void *arg)
{
    struct writer_arg *a = arg;
    for (int i = 0; i < a->n; i++) {
        struct fl_err err;
        struct key_pair k;
        struct fl_core *c = core_pool_acquire_writer(a->pool);
        enum fl_code rc = keys_create(c, 0, 0, &k, &err);
        if (core_pool_release_writer(a->pool, c, &err) != FL_OK || rc != FL_OK)
            a->failures++;
    }
    return NULL;
}

/* The pool's writer, from several threads: every acknowledged write is there. */
START_TEST(test_pool_group_commit)
{
    char dir[] = "/tmp/fleetd-pool-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/db", dir);
    struct fl_config cfg;
    struct fl_err err;
    core_config_defaults(&cfg);
    struct core_pool *pool = NULL;
    ck_assert_int_eq(core_pool_open(&pool, 2, &cfg, path, &err), FL_OK);
    pthread_t t[4];
    struct writer_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct writer_arg){pool, 50, 0};
        pthread_create(&t[i], NULL, writer_thread, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(a[i].failures, 0);
    }
    struct fl_core *c = core_pool_acquire(pool);
    ck_assert_int_eq(key_count(c), 200);
    core_pool_release(pool, c);
    core_pool_close(pool);
    char aux[160];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(aux, sizeof(aux), "%s%s", path, sfx[i]);
        unlink(aux);
    }
    rmdir(dir);
}
END_TEST

/* core_pool_write_async: every operation is done once (after its commit),
 * with several in flight; and the checkpointer thread makes the WAL start over
 * while writes go on (the checkpoint sequence number in the WAL header counts
 * the restarts). */
struct async_arg {
    pthread_mutex_t *lock;
    pthread_cond_t *cv;
    int *done;
    int *failures;
};

static enum fl_code async_key(struct fl_core *w, void *arg)
{
    (void)arg;
    struct key_pair k;
    struct fl_err err;
    return keys_create(w, 0, 0, &k, &err);
}

static void async_done(void *arg, enum fl_code rc)
{
    struct async_arg *a = arg;
    pthread_mutex_lock(a->lock);
    if (rc != FL_OK)
        (*a->failures)++;
    (*a->done)++;
    pthread_cond_signal(a->cv);
    pthread_mutex_unlock(a->lock);
}

/* The checkpoint sequence number of a WAL file (header bytes 12..15). */
static unsigned wal_ckpt_seq(const char *wal)
{
    unsigned char h[16] = {0};
    FILE *f = fopen(wal, "rb");
    if (f) {
        if (fread(h, 1, sizeof(h), f) != sizeof(h))
            memset(h, 0, sizeof(h));
        fclose(f);
    }
    return (unsigned)h[12] << 24 | (unsigned)h[13] << 16 | (unsigned)h[14] << 8 | h[15];
}

START_TEST(test_pool_write_async)
{
    char dir[] = "/tmp/fleetd-async-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128], wal[160];
    snprintf(path, sizeof(path), "%s/db", dir);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    struct fl_config cfg;
    struct fl_err err;
    core_config_defaults(&cfg);
    struct core_pool *pool = NULL;
    ck_assert_int_eq(core_pool_open(&pool, 1, &cfg, path, &err), FL_OK);
    ck_assert_int_eq(core_pool_write(pool, async_key, NULL, &err), FL_OK);
    unsigned seq0 = wal_ckpt_seq(wal);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    int done = 0, failures = 0;
    struct async_arg a = {&lock, &cv, &done, &failures};
    /* mostly one operation per commit: some 30000 WAL frames in all, more
     * than a checkpoint's worth */
    enum { N = 12000, WINDOW = 2 };
    struct fl_err errs[WINDOW];
    for (int i = 0; i < N; i++) {
        pthread_mutex_lock(&lock);
        while (i - done >= WINDOW)
            pthread_cond_wait(&cv, &lock);
        pthread_mutex_unlock(&lock);
        ck_assert_int_eq(core_pool_write_async(pool, async_key, &a, &errs[i % WINDOW], async_done), FL_OK);
    }
    pthread_mutex_lock(&lock);
    while (done < N)
        pthread_cond_wait(&cv, &lock);
    pthread_mutex_unlock(&lock);
    ck_assert_int_eq(failures, 0);
    /* a checkpoint's fsyncs may take a while on a busy disk: keep writing a
     * little until the WAL has started over (at most 20 s) */
    for (int i = 0; i < 1000 && wal_ckpt_seq(wal) == seq0; i++) {
        ck_assert_int_eq(core_pool_write(pool, async_key, NULL, &err), FL_OK);
        usleep(20000);
    }
    ck_assert_msg(wal_ckpt_seq(wal) != seq0, "the WAL never started over");
    struct fl_core *c = core_pool_acquire(pool);
    ck_assert_int_ge(key_count(c), N + 1);
    core_pool_release(pool, c);
    core_pool_close(pool);
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(wal, sizeof(wal), "%s%s", path, sfx[i]);
        unlink(wal);
    }
    rmdir(dir);
}
END_TEST

/* docs/api.md lists every route as "| Op | `METHOD /path` | read |". */
START_TEST(test_routes_documented)
{
    FILE *f = fopen("docs/api.md", "r");
    ck_assert_msg(f != NULL, "docs/api.md must exist (run from the repository root)");
    static char doc[65536];
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = '\0';
    for (int i = 0; i < routes_count; i++) {
        char row[256];
        snprintf(row, sizeof(row), "| %s | `%s %s` | %s |", routes_table[i].op, routes_table[i].method,
                 routes_table[i].pattern, (routes_table[i].flags & RF_READ) ? "yes" : "");
        ck_assert_msg(strstr(doc, row) != NULL, "docs/api.md lacks: %s", row);
    }
}
END_TEST

START_TEST(test_pct_decode)
{
    char *s = http_pct_decode("a%2Fb%24", 8);
    ck_assert_str_eq(s, "a/b$");
    free(s);
    ck_assert_ptr_null(http_pct_decode("%2", 2));
    ck_assert_ptr_null(http_pct_decode("%G0", 3));
    s = http_pct_decode("", 0);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

START_TEST(test_config_parse)
{
    struct daemon_config cfg;
    struct fl_err err;
    memset(&cfg, 0, sizeof(cfg));
    const char *ok =
        "# comment\nregion = eu-west-1\naccount_id=000011112222\n\nhttp_port = 9000 # trailing\n";
    ck_assert_int_eq(config_parse(&cfg, ok, strlen(ok), &err), FL_OK);
    ck_assert_str_eq(cfg.core.region, "eu-west-1");
    ck_assert_str_eq(cfg.core.account_id, "000011112222");
    ck_assert_int_eq(cfg.http_port, 9000);
    const char *bad[] = {"account_id = 12", "http_port = 70000", "nonsense", "unknown_key = 1",
                         "region = US_EAST"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(config_parse(&cfg, bad[i], strlen(bad[i]), &err), FL_INVALID_REQUEST);
}
END_TEST

Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_err_table);
    tcase_add_test(tc, test_migrations_rerun);
    tcase_add_test(tc, test_page_tokens);
    tcase_add_test(tc, test_validate);
    tcase_add_test(tc, test_jx);
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_routes);
    tcase_add_test(tc, test_pct_decode);
    tcase_add_test(tc, test_routes_documented);
    tcase_add_test(tc, test_store_batch);
    tcase_add_test(tc, test_pool_group_commit);
    tcase_add_test(tc, test_pool_write_async);
    tcase_set_timeout(tc, 60); /* test_pool_write_async waits for a checkpoint's fsyncs */
    tcase_add_test(tc, test_config_parse);
    suite_add_tcase(s, tc);
    return s;
}
