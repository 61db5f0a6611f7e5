/*
 * check_worker.c - the broker plugin's worker threads (broker-plugin/
 * worker.c) without a broker: jobs run on other threads, each with its own
 * core on the plugin's database, and come back through worker_collect; the
 * queue's bound; stopping answers finished jobs and cancels queued ones.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "fleet_plugin.h"
#include "suites.h"
#include "testutil.h"
#include "things.h"
#include "topics.h"
#include "worker.h"

#include <mosquitto.h>
#include <mosquitto_broker.h>

static struct fp_plugin *p;
static struct fl_core *core;
static char dir[64];

struct tjob {
    struct fp_job job;
    int id;
    int ran, done, cancelled;
    int started; /* set first thing by t_run (atomic) */
    struct fl_core *wc;
    pthread_t thread;
    int gate; /* wait until *gate_open */
    enum fl_code rc;
};

static volatile int gate_open;
static int ndone, ncancelled;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void t_run(struct fp_job *j, struct fl_core *wc)
{
    struct tjob *t = (struct tjob *)j;
    __atomic_store_n(&t->started, 1, __ATOMIC_RELEASE);
    while (t->gate && !__atomic_load_n(&gate_open, __ATOMIC_ACQUIRE))
        sleep_ms(1);
    t->wc = wc;
    t->thread = pthread_self();
    t->ran = 1;
}

static void t_done(struct fp_plugin *pl, struct fp_job *j, int cancelled)
{
    ck_assert_ptr_eq(pl, p);
    struct tjob *t = (struct tjob *)j;
    t->done++;
    t->cancelled = cancelled;
    ndone++;
    ncancelled += cancelled;
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/fleetd-check-worker-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    core = calloc(1, sizeof(*core));
    struct fl_config cfg;
    core_config_defaults(&cfg);
    char db[128];
    snprintf(db, sizeof(db), "%s/fleetd.db", dir);
    struct fl_err err;
    ck_assert_int_eq(core_open(core, &cfg, db, NULL, &err), FL_OK);
    core->log.min = FL_LOG_ERROR;
    p = calloc(1, sizeof(*p));
    struct fp_options o;
    memset(&o, 0, sizeof(o));
    snprintf(o.db_path, sizeof(o.db_path), "%s", db);
    snprintf(o.broker_id, sizeof(o.broker_id), "default");
    o.session_ttl_s = 60;
    o.drain_ms = 500;
    ck_assert_int_eq(plugin_open(p, &o, core, 0, &err), FL_OK);
    gate_open = 0;
    ndone = ncancelled = 0;
}

static void teardown(void)
{
    plugin_close(p); /* stops the workers */
    free(p);
    core_close(core);
    free(core);
    tu_rmtree(dir);
}

static void wait_idle(void)
{
    for (int i = 0; i < 5000 && worker_pending(p); i++)
        sleep_ms(1);
    ck_assert_int_eq(worker_pending(p), 0);
}

START_TEST(test_runs_and_collects)
{
    ck_assert_int_eq(worker_start(p, 0), -1);
    ck_assert_int_eq(worker_start(p, 17), -1);
    struct tjob none = {.job = {.run = t_run, .done = t_done}};
    ck_assert_int_eq(worker_submit(p, &none.job), -1); /* not started */
    ck_assert_int_eq(worker_start(p, 3), 0);
    ck_assert_int_eq(worker_start(p, 3), -1); /* already */
    enum { N = 200 };
    struct tjob *t = calloc(N, sizeof(*t));
    for (int i = 0; i < N; i++) {
        t[i].job.run = t_run;
        t[i].job.done = t_done;
        t[i].id = i;
        ck_assert_int_eq(worker_submit(p, &t[i].job), 0);
    }
    wait_idle();
    /* done runs on the collecting (broker) thread only */
    ck_assert_int_eq(ndone, 0);
    ck_assert_uint_eq(worker_collect(p), N);
    ck_assert_uint_eq(worker_collect(p), 0);
    ck_assert_int_eq(ndone, N);
    int distinct = 0;
    struct fl_core *seen[3] = {NULL, NULL, NULL};
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(t[i].ran, 1);
        ck_assert_int_eq(t[i].done, 1);
        ck_assert_int_eq(t[i].cancelled, 0);
        ck_assert(!pthread_equal(t[i].thread, pthread_self()));
        ck_assert_ptr_ne(t[i].wc, core);
        ck_assert_ptr_ne(t[i].wc->st, core->st);
        int known = 0;
        for (int k = 0; k < distinct; k++)
            known |= seen[k] == t[i].wc;
        if (!known && distinct < 3)
            seen[distinct++] = t[i].wc;
    }
    ck_assert_int_ge(distinct, 1);
    free(t);
    worker_stop(p);
    ck_assert_ptr_null(p->workers);
    ck_assert_int_eq(worker_submit(p, &none.job), -1);
}
END_TEST

/* A job that writes through its worker's core: the broker thread's core
 * sees it (one database), and the worker core shares the plugin's CA. */
struct wjob {
    struct fp_job job;
    struct ca *ca_seen;
    enum fl_code rc;
    char msg[256];
};

static void w_run(struct fp_job *j, struct fl_core *wc)
{
    struct wjob *w = (struct wjob *)j;
    struct fl_err err;
    fl_err_clear(&err);
    struct things_create_in in = {.name = "from-a-worker"};
    struct things_ref ref;
    w->ca_seen = wc->ca;
    w->rc = things_create(wc, &in, &ref, &err);
    snprintf(w->msg, sizeof(w->msg), "%.200s", err.msg);
}

static void w_done(struct fp_plugin *pl, struct fp_job *j, int cancelled)
{
    (void)pl, (void)j, (void)cancelled;
    ndone++;
}

START_TEST(test_worker_core_shares_database)
{
    p->ca = (struct ca *)(uintptr_t)0x1; /* only compared, never used */
    ck_assert_int_eq(worker_start(p, 2), 0);
    p->ca = NULL;
    struct wjob w = {.job = {.run = w_run, .done = w_done}};
    ck_assert_int_eq(worker_submit(p, &w.job), 0);
    wait_idle();
    ck_assert_uint_eq(worker_collect(p), 1);
    ck_assert_msg(w.rc == FL_OK, "%s", w.msg);
    ck_assert_ptr_eq(w.ca_seen, (struct ca *)(uintptr_t)0x1);
    json_t *o = NULL;
    struct fl_err err;
    ck_assert_int_eq(things_describe(core, "from-a-worker", &o, &err), FL_OK);
    json_decref(o);
}
END_TEST

static void *open_gate_later(void *arg)
{
    (void)arg;
    sleep_ms(300); /* long after worker_stop has asked the threads to stop */
    __atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
    return NULL;
}

START_TEST(test_queue_bound_and_stop)
{
    ck_assert_int_eq(worker_start(p, 1), 0);
    /* the one worker is held by a gated job; the queue fills up */
    struct tjob gate = {.job = {.run = t_run, .done = t_done}, .gate = 1};
    ck_assert_int_eq(worker_submit(p, &gate.job), 0);
    /* picked up by the worker (waiting on a flag: a loaded machine may
     * take longer than any fixed sleep) */
    for (int i = 0; i < 10000 && !__atomic_load_n(&gate.started, __ATOMIC_ACQUIRE); i++)
        sleep_ms(1);
    ck_assert(__atomic_load_n(&gate.started, __ATOMIC_ACQUIRE));
    struct tjob *t = calloc(FP_WORKER_QUEUE + 1, sizeof(*t));
    for (int i = 0; i < FP_WORKER_QUEUE; i++) {
        t[i].job.run = t_run;
        t[i].job.done = t_done;
        ck_assert_int_eq(worker_submit(p, &t[i].job), 0);
    }
    t[FP_WORKER_QUEUE].job.run = t_run;
    t[FP_WORKER_QUEUE].job.done = t_done;
    ck_assert_int_eq(worker_submit(p, &t[FP_WORKER_QUEUE].job), -1); /* full: the caller answers "busy" */
    ck_assert_uint_eq(worker_pending(p), FP_WORKER_QUEUE + 1);
    /* stop while the gated job runs: it finishes and is answered; what is
     * still queued is cancelled, in order, never run */
    pthread_t opener;
    ck_assert_int_eq(pthread_create(&opener, NULL, open_gate_later, NULL), 0);
    worker_stop(p);
    pthread_join(opener, NULL);
    ck_assert_int_eq(gate.ran, 1);
    ck_assert_int_eq(gate.done, 1);
    ck_assert_int_eq(gate.cancelled, 0);
    for (int i = 0; i < FP_WORKER_QUEUE; i++) {
        ck_assert_int_eq(t[i].ran, 0);
        ck_assert_int_eq(t[i].done, 1);
        ck_assert_int_eq(t[i].cancelled, 1);
    }
    ck_assert_int_eq(t[FP_WORKER_QUEUE].done, 0);
    ck_assert_int_eq(ncancelled, FP_WORKER_QUEUE);
    ck_assert_ptr_null(p->workers);
    free(t);
}
END_TEST

/* plugin_close stops the workers: finished jobs are answered first */
START_TEST(test_close_collects)
{
    ck_assert_int_eq(worker_start(p, 2), 0);
    struct tjob a = {.job = {.run = t_run, .done = t_done}};
    ck_assert_int_eq(worker_submit(p, &a.job), 0);
    wait_idle();
    plugin_close(p);
    ck_assert_int_eq(a.done, 1);
    ck_assert_int_eq(a.cancelled, 0);
    ck_assert_ptr_null(p->workers);
}
END_TEST

/* The fleet-provisioning topics (topics.c): requests publishable per policy
 * and handled by the plugin; answers never publishable. */
START_TEST(test_provisioning_topics)
{
    static const struct {
        const char *topic;
        int publish, has_handler;
    } cases[] = {
        {"$aws/certificates/create/json", TR_POLICY, 1},
        {"$aws/certificates/create/cbor", TR_POLICY, 1},
        {"$aws/certificates/create/xml", TR_DENY, 0},
        {"$aws/certificates/create/json/accepted", TR_DENY, 0},
        {"$aws/certificates/create/cbor/rejected", TR_DENY, 0},
        {"$aws/certificates/create-from-csr/json", TR_POLICY, 1},
        {"$aws/certificates/create-from-csr/json/accepted", TR_DENY, 0},
        {"$aws/provisioning-templates/T1/provision/json", TR_POLICY, 1},
        {"$aws/provisioning-templates/T1/provision/cbor", TR_POLICY, 1},
        {"$aws/provisioning-templates/T1/provision/json/accepted", TR_DENY, 0},
        {"$aws/provisioning-templates/T1/provision/json/rejected", TR_DENY, 0},
        {"$aws/provisioning-templates/T1/x/provision/json", TR_DENY, 0},
        {FP_SINK_TOPIC, TR_DENY, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct topic_entry *e = topics_match(cases[i].topic, strlen(cases[i].topic));
        ck_assert_ptr_nonnull(e);
        ck_assert_msg(e->publish == cases[i].publish, "%s: publish %d", cases[i].topic, e->publish);
        ck_assert_msg((e->handler != NULL) == cases[i].has_handler, "%s: handler", cases[i].topic);
        if (strstr(cases[i].topic, "/accepted") || strstr(cases[i].topic, "/rejected"))
            ck_assert_msg(e->subscribe == TR_POLICY && e->receive == TR_POLICY, "%s", cases[i].topic);
    }
    const struct topic_entry *sink = topics_match(FP_SINK_TOPIC, strlen(FP_SINK_TOPIC));
    ck_assert(sink->subscribe == TR_DENY && sink->receive == TR_DENY);
}
END_TEST

/* A consumed request goes to the sink, not retained. */
START_TEST(test_consume)
{
    struct mosquitto_evt_message ev;
    memset(&ev, 0, sizeof(ev));
    ev.topic = strdup("$aws/certificates/create/json");
    ev.retain = true;
    ck_assert_int_eq(message_cb_consume(&ev), MOSQ_ERR_SUCCESS);
    ck_assert_str_eq(ev.topic, FP_SINK_TOPIC);
    ck_assert(!ev.retain);
    free(ev.topic);
}
END_TEST

Suite *worker_suite(void)
{
    Suite *s = suite_create("worker");
    TCase *tc = tcase_create("worker");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_runs_and_collects);
    tcase_add_test(tc, test_worker_core_shares_database);
    tcase_add_test(tc, test_queue_bound_and_stop);
    tcase_add_test(tc, test_close_collects);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("topics");
    tcase_add_test(tt, test_provisioning_topics);
    tcase_add_test(tt, test_consume);
    suite_add_tcase(s, tt);
    return s;
}
