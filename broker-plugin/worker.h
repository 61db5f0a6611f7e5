/*
 * worker.h - the plugin's worker threads: work that must not run on the
 * broker's only thread (RSA key generation, template application that
 * writes to the database and may wait for a busy lock, pre-provisioning
 * hooks that may take seconds, JITP registration) runs here, each thread
 * with its own libfleet core (its own database connection, the plugin's
 * CA and HTTP client). Results come back to the broker thread, which is
 * the only one that may call broker APIs: worker_collect() runs from TICK
 * (and from CONTROL) and calls each finished job's done().
 *
 * A worker never calls a mosquitto_* function and never touches struct
 * fp_plugin beyond the queue it is given. Knows nothing of topics or
 * payload formats.
 */
#ifndef FP_WORKER_H
#define FP_WORKER_H

#include <stddef.h>

struct fl_core;
struct fp_plugin;
struct fp_workers;

#define FP_WORKERS_DEFAULT 2 /* plugin_opt_workers */
#define FP_WORKER_QUEUE 4096 /* jobs waiting at most; worker_submit refuses beyond */

/* One unit of work. The submitter allocates the job (usually embedded at
 * the head of a larger struct) and fills run and done. */
struct fp_job {
    struct fp_job *next; /* the queue's, do not touch */
    /* On a worker thread, with that worker's core. */
    void (*run)(struct fp_job *j, struct fl_core *wc);
    /* On the broker thread, after run: publish the result, then free the
     * job. Also called (with p->... still valid) for jobs that never ran
     * when the plugin stops, with cancelled = 1. */
    void (*done)(struct fp_plugin *p, struct fp_job *j, int cancelled);
};

/* Starts n threads (1..16), each opening its own core on the plugin's
 * database and configuration. Returns 0, or -1 (nothing started). */
int worker_start(struct fp_plugin *p, int n);
/* Stops the threads after the job each is running; jobs still queued are
 * handed to done with cancelled = 1; finished ones get their normal done. */
void worker_stop(struct fp_plugin *p);
/* Queues j (broker thread). Returns 0, or -1 when the queue is full or the
 * workers are not running (the caller answers "busy" itself and frees j). */
int worker_submit(struct fp_plugin *p, struct fp_job *j);
/* Runs done for every finished job (broker thread). Returns how many. */
size_t worker_collect(struct fp_plugin *p);
/* Jobs queued or running, for tests and stats. */
size_t worker_pending(const struct fp_plugin *p);

#endif
