/*
 * testutil.c - fixed clock, counter-based random source and in-memory cores
 * for the unit tests.
 */
#include "testutil.h"

#include "ca.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tu_state {
    int64_t now;
    uint64_t ctr;
};

static int64_t fixed_now(void *ctx)
{
    return ((struct tu_state *)ctx)->now;
}

static void counter_fill(void *ctx, void *buf, size_t len)
{
    struct tu_state *s = ctx;
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        s->ctr = s->ctr * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (unsigned char)(s->ctr >> 56);
    }
}

struct fl_core *tu_core(void)
{
    struct fl_core *c = calloc(1, sizeof(*c));
    struct tu_state *s = calloc(1, sizeof(*s));
    struct fl_config cfg;
    struct fl_err err;
    ck_assert_ptr_nonnull(c);
    core_config_defaults(&cfg);
    enum fl_code rc = core_open(c, &cfg, ":memory:", NULL, &err);
    ck_assert_msg(rc == FL_OK, "core_open: %s", err.msg);
    s->now = 1764142417000;
    s->ctr = 42;
    c->clock.now_ms = fixed_now;
    c->clock.ctx = s;
    c->rng.fill = counter_fill;
    c->rng.ctx = s;
    c->log.min = FL_LOG_ERROR;
    return c;
}

void tu_advance(struct fl_core *c, int64_t ms)
{
    ((struct tu_state *)c->clock.ctx)->now += ms;
}

void tu_core_free(struct fl_core *c)
{
    free(c->clock.ctx);
    core_close(c);
    free(c);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *dir)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_with_ca(struct fl_core *c, const char *dir)
{
    char cadir[256];
    struct fl_err err;
    snprintf(cadir, sizeof(cadir), "%s/ca", dir);
    struct ca_options o = {.root_key = CA_KEY_EC_P256, .device_key = CA_KEY_EC_P256};
    c->ca = ca_open(cadir, &o, core_now_ms(c) / 1000, &err);
    ck_assert_msg(c->ca != NULL, "ca_open: %s", err.msg);
}
