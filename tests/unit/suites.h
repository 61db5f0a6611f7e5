/* suites.h - the Check suites, one per module (check_<module>.c). */
#ifndef FL_SUITES_H
#define FL_SUITES_H

#include <check.h>

Suite *core_suite(void);         /* check_core.c: store, page, validate, jx, keys, routes */
Suite *sigv4_suite(void);        /* check_sigv4.c */
Suite *things_suite(void);       /* check_things.c */
Suite *thing_types_suite(void);  /* check_thing_types.c */
Suite *thing_groups_suite(void); /* check_thing_groups.c */
Suite *tags_suite(void);         /* check_tags.c */

Suite *ca_suite(void);           /* check_ca.c */
Suite *certificates_suite(void); /* check_certificates.c */
Suite *principals_suite(void);   /* check_principals.c */
Suite *policies_suite(void);     /* check_policies.c */
Suite *policy_eval_suite(void);  /* check_policy_eval.c */
Suite *plugin_suite(void);       /* check_plugin.c: broker-plugin/ with a fake broker */
Suite *outbox_suite(void);       /* check_outbox.c: outbox, connectivity, outbox hooks, kick.c */
Suite *broker_suite(void);       /* check_broker.c: broker.c config/decisions, cli_device default policy */

Suite *template_engine_suite(void); /* check_template_engine.c */
Suite *provisioning_suite(void);    /* check_provisioning.c */
Suite *worker_suite(void);          /* check_worker.c: broker-plugin/worker.c (the plugin's worker threads) */
Suite *jitp_suite(void);            /* check_jitp.c: just-in-time registration/provisioning */
Suite *payload_suite(void);         /* check_payload.c: broker-plugin/payload.c (MQTT payload codec) */
Suite *webhook_suite(void);         /* check_webhook.c: server/net/webhook.c (outbound HTTP client) */
Suite *prehook_suite(void);         /* check_prehook.c: server/core/prehook.c (pre-provisioning hook) */

#endif
