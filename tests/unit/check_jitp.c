/*
 * check_jitp.c - just-in-time registration and provisioning (jitp.c): the
 * parameters taken from the subject, the PENDING_ACTIVATION registration,
 * the template applied in the registration's transaction (and undone alone
 * when it fails), unknown CAs, disabled auto-registration, the
 * registrationConfig checks and the delete-template conflict.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "certificates.h"
#include "jitp.h"
#include "policies.h"
#include "principals.h"
#include "provisioning.h"
#include "suites.h"
#include "testutil.h"
#include "things.h"

#define NOW_S TU_NOW_S

static struct fl_core *c;
static struct fl_err err;

static void setup(void)
{
    c = tu_core();
    fl_err_clear(&err);
}

static void teardown(void)
{
    tu_core_free(c);
}

/* ---- certificates made here --------------------------------------------------- */

/* RegisterCACertificate (DEFAULT mode) with registrationConfig cfg (JSON
 * text or NULL). */
static enum fl_code fca_register(struct tu_ca *f, int active, int auto_reg, const char *cfg)
{
    char code[65];
    ck_assert_int_eq(certificates_registration_code(c, code, &err), FL_OK);
    char vsub[100];
    snprintf(vsub, sizeof(vsub), "CN=%s", code);
    char *verif = tu_ca_issue(f, vsub);
    json_t *rc_json = cfg ? json_loads(cfg, 0, NULL) : NULL;
    struct certificates_ca_register_in in = {.ca_pem = f->pem,
                                             .verification_pem = verif,
                                             .set_active = active,
                                             .allow_auto_registration = auto_reg,
                                             .registration_config = rc_json};
    struct certificates_ref ref;
    enum fl_code rc = certificates_ca_register(c, &in, &ref, &err);
    if (rc == FL_OK)
        snprintf(f->id, sizeof(f->id), "%s", ref.id);
    free(verif);
    json_decref(rc_json);
    return rc;
}

static char *status_of(const char *id)
{
    json_t *d = NULL;
    ck_assert_msg(certificates_describe(c, id, &d, &err) == FL_OK, "%s", err.msg);
    char *s =
        strdup(json_string_value(json_object_get(json_object_get(d, "certificateDescription"), "status")));
    json_decref(d);
    return s;
}

static void assert_status(const char *id, const char *want)
{
    char *s = status_of(id);
    ck_assert_str_eq(s, want);
    free(s);
}

static const char POLICY_DOC[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                                 "\"Action\":\"iot:Connect\",\"Resource\":\"*\"}]}";

static void mk_policy(const char *name)
{
    json_t *o = NULL;
    ck_assert_msg(policies_create(c, name, POLICY_DOC, NULL, &o, &err) == FL_OK, "%s", err.msg);
    json_decref(o);
}

/* A JITP template: thing = CommonName, attribute country, policy by name. */
static const char JITP_BODY[] =
    "{\"Parameters\":{\"AWS::IoT::Certificate::CommonName\":{\"Type\":\"String\"},"
    "\"AWS::IoT::Certificate::Country\":{\"Type\":\"String\"},"
    "\"AWS::IoT::Certificate::Id\":{\"Type\":\"String\"}},"
    "\"Resources\":{\"thing\":{\"Type\":\"AWS::IoT::Thing\",\"Properties\":{"
    "\"ThingName\":{\"Ref\":\"AWS::IoT::Certificate::CommonName\"},"
    "\"AttributePayload\":{\"country\":{\"Ref\":\"AWS::IoT::Certificate::Country\"}}}},"
    "\"certificate\":{\"Type\":\"AWS::IoT::Certificate\",\"Properties\":{"
    "\"CertificateId\":{\"Ref\":\"AWS::IoT::Certificate::Id\"},\"Status\":\"ACTIVE\"}},"
    "\"policy\":{\"Type\":\"AWS::IoT::Policy\",\"Properties\":{\"PolicyName\":\"jitp-device\"}}}}";

/* registrationConfig JSON text carrying body inline. */
static char *cfg_with_body(const char *body)
{
    json_t *o =
        json_pack("{s:s, s:s}", "templateBody", body, "roleArn", "arn:aws:iam::123456789012:role/jitp");
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void mk_template(const char *name, const char *type)
{
    struct provisioning_create_in in = {
        .name = name, .body = JITP_BODY, .role_arn = "arn:aws:iam::123456789012:role/jitp", .type = type};
    json_t *o = NULL;
    ck_assert_msg(provisioning_create(c, &in, &o, &err) == FL_OK, "%s", err.msg);
    json_decref(o);
}

/* ---- tests ------------------------------------------------------------------------- */

START_TEST(params_from_subject)
{
    struct tu_ca f;
    tu_ca_make(&f, "CN=Params CA");
    char *dev =
        tu_ca_issue(&f, "C=DE/ST=Bavaria/O=Acme/OU=Sensors/dnQualifier=q1/serialNumber=SN-42/CN=dev-1");
    json_t *p = NULL;
    char id[65];
    memset(id, 'a', 64);
    id[64] = '\0';
    ck_assert_int_eq(jitp_params(dev, id, &p, &err), FL_OK);
    const char *want[][2] = {{"Country", "DE"},
                             {"StateName", "Bavaria"},
                             {"Organization", "Acme"},
                             {"OrganizationalUnit", "Sensors"},
                             {"DistinguishedNameQualifier", "q1"},
                             {"SerialNumber", "SN-42"},
                             {"CommonName", "dev-1"},
                             {"Id", id}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char k[80];
        snprintf(k, sizeof(k), "AWS::IoT::Certificate::%s", want[i][0]);
        ck_assert_msg(json_is_string(json_object_get(p, k)), "missing %s", k);
        ck_assert_str_eq(json_string_value(json_object_get(p, k)), want[i][1]);
    }
    ck_assert_int_eq(json_object_size(p), 8);
    json_decref(p);
    free(dev);

    /* absent attributes are absent parameters */
    dev = tu_ca_issue(&f, "CN=only-cn");
    ck_assert_int_eq(jitp_params(dev, id, &p, &err), FL_OK);
    ck_assert_int_eq(json_object_size(p), 2);
    ck_assert_ptr_null(json_object_get(p, "AWS::IoT::Certificate::Country"));
    json_decref(p);
    free(dev);
    tu_ca_free(&f);
}
END_TEST

START_TEST(jitr_registers_pending)
{
    struct tu_ca f;
    tu_ca_make(&f, "O=Foreign/CN=JITR CA");
    ck_assert_int_eq(fca_register(&f, 1, 1, NULL), FL_OK);
    char *dev = tu_ca_issue(&f, "CN=jitr-dev");
    char ca_id[65];
    ck_assert_msg(jitp_candidate(c, dev, ca_id, &err) == FL_OK, "%s", err.msg);
    ck_assert_str_eq(ca_id, f.id);

    struct jitp_result r;
    ck_assert_msg(jitp_register(c, dev, &r, &err) == FL_OK, "%s", err.msg);
    ck_assert_str_eq(r.ca_id, f.id);
    ck_assert_str_eq(r.status, "PENDING_ACTIVATION");
    ck_assert_int_eq(r.templated, 0);
    ck_assert_int_eq(r.provisioned, 0);
    ck_assert_int_eq(r.registered_ms, (int64_t)NOW_S * 1000);
    assert_status(r.certificate_id, "PENDING_ACTIVATION");
    json_t *d = NULL;
    ck_assert_int_eq(certificates_describe(c, r.certificate_id, &d, &err), FL_OK);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(d, "certificateDescription"), "caCertificateId")),
        f.id);
    json_decref(d);

    /* the broker refuses it until someone activates it */
    int usable = 1;
    ck_assert_int_eq(certificates_is_usable(c, r.certificate_id, &usable, &err), FL_OK);
    ck_assert_int_eq(usable, 0);
    ck_assert_int_eq(certificates_update(c, r.certificate_id, "ACTIVE", &err), FL_OK);
    ck_assert_int_eq(certificates_is_usable(c, r.certificate_id, &usable, &err), FL_OK);
    ck_assert_int_eq(usable, 1);

    /* once registered, never again */
    struct jitp_result again;
    ck_assert_int_eq(jitp_candidate(c, dev, ca_id, &err), FL_ALREADY_EXISTS);
    ck_assert_int_eq(jitp_register(c, dev, &again, &err), FL_ALREADY_EXISTS);

    /* the event AWS publishes */
    json_t *ev = jitp_event(c, &r, 1234);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "certificateId")), r.certificate_id);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "caCertificateId")), f.id);
    ck_assert_int_eq(json_integer_value(json_object_get(ev, "timestamp")), 1234);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "certificateStatus")), "PENDING_ACTIVATION");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "awsAccountId")), c->cfg.account_id);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "certificateRegistrationTimestamp")),
                     "1764142417000");
    json_decref(ev);
    free(dev);
    tu_ca_free(&f);
}
END_TEST

START_TEST(jitp_inline_body_applied)
{
    mk_policy("jitp-device");
    struct tu_ca f;
    tu_ca_make(&f, "O=Foreign/CN=JITP CA");
    char *cfg = cfg_with_body(JITP_BODY);
    ck_assert_msg(fca_register(&f, 1, 1, cfg) == FL_OK, "%s", err.msg);
    char *dev = tu_ca_issue(&f, "C=FR/CN=sensor-7");
    struct jitp_result r;
    ck_assert_msg(jitp_register(c, dev, &r, &err) == FL_OK, "%s", err.msg);
    ck_assert_int_eq(r.templated, 1);
    ck_assert_msg(r.provisioned == 1, "%s", r.why);
    ck_assert_str_eq(r.thing_name, "sensor-7");
    ck_assert_str_eq(r.status, "ACTIVE");
    assert_status(r.certificate_id, "ACTIVE");

    json_t *t = NULL;
    ck_assert_int_eq(things_describe(c, "sensor-7", &t, &err), FL_OK);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(t, "attributes"), "country")), "FR");
    json_decref(t);
    json_t *pr = NULL;
    ck_assert_int_eq(principals_list_for_thing(c, "sensor-7", 0, NULL, 25, NULL, &pr, &err), FL_OK);
    json_t *arr = json_object_get(pr, "principals");
    ck_assert_int_eq(json_array_size(arr), 1);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(arr, 0)), r.certificate_id));
    json_decref(pr);
    char arn[320];
    core_arn(c, arn, sizeof(arn), "cert", r.certificate_id);
    json_t *pol = NULL;
    ck_assert_int_eq(policies_list_attached(c, arn, 0, 25, NULL, &pol, &err), FL_OK);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(pol, "policies"), 0), "policyName")),
        "jitp-device");
    json_decref(pol);
    int usable = 0;
    ck_assert_int_eq(certificates_is_usable(c, r.certificate_id, &usable, &err), FL_OK);
    ck_assert_int_eq(usable, 1);
    free(cfg);
    free(dev);
    tu_ca_free(&f);
}
END_TEST

START_TEST(jitp_failure_keeps_pending_only)
{
    /* the policy the template names does not exist: the thing it made
     * before failing must be gone, the certificate stays PENDING */
    struct tu_ca f;
    tu_ca_make(&f, "CN=JITP CA 2");
    char *cfg = cfg_with_body(JITP_BODY);
    ck_assert_msg(fca_register(&f, 1, 1, cfg) == FL_OK, "%s", err.msg);
    char *dev = tu_ca_issue(&f, "C=FR/CN=sensor-8");
    struct jitp_result r;
    ck_assert_msg(jitp_register(c, dev, &r, &err) == FL_OK, "%s", err.msg);
    ck_assert_int_eq(r.templated, 1);
    ck_assert_int_eq(r.provisioned, 0);
    ck_assert_ptr_nonnull(strstr(r.why, "jitp-device"));
    ck_assert_str_eq(r.thing_name, "");
    ck_assert_str_eq(r.status, "PENDING_ACTIVATION");
    json_t *t = NULL;
    ck_assert_int_eq(things_describe(c, "sensor-8", &t, &err), FL_NOT_FOUND);
    assert_status(r.certificate_id, "PENDING_ACTIVATION");
    free(dev);

    /* a parameter the subject lacks (Country) fails the same way */
    mk_policy("jitp-device");
    dev = tu_ca_issue(&f, "CN=sensor-9");
    ck_assert_msg(jitp_register(c, dev, &r, &err) == FL_OK, "%s", err.msg);
    ck_assert_int_eq(r.provisioned, 0);
    ck_assert_ptr_nonnull(strstr(r.why, "Country"));
    ck_assert_int_eq(things_describe(c, "sensor-9", &t, &err), FL_NOT_FOUND);
    assert_status(r.certificate_id, "PENDING_ACTIVATION");
    free(dev);
    free(cfg);
    tu_ca_free(&f);
}
END_TEST

START_TEST(unknown_ca_and_disabled)
{
    struct tu_ca f, g, h;
    tu_ca_make(&f, "CN=Unregistered CA");
    tu_ca_make(&g, "CN=No Auto CA");
    tu_ca_make(&h, "CN=Inactive CA");
    ck_assert_int_eq(fca_register(&g, 1, 0, NULL), FL_OK);
    ck_assert_int_eq(fca_register(&h, 0, 1, NULL), FL_OK);
    struct jitp_result r;
    char ca_id[65];

    char *dev = tu_ca_issue(&f, "CN=orphan");
    ck_assert_int_eq(jitp_candidate(c, dev, ca_id, &err), FL_NOT_FOUND);
    ck_assert_int_eq(jitp_register(c, dev, &r, &err), FL_NOT_FOUND);
    free(dev);

    dev = tu_ca_issue(&g, "CN=no-auto");
    ck_assert_int_eq(jitp_candidate(c, dev, ca_id, &err), FL_INVALID_REQUEST);
    ck_assert_int_eq(jitp_register(c, dev, &r, &err), FL_INVALID_REQUEST);
    json_t *list = NULL;
    struct certificates_list_in li = {.ca_id = g.id, .page_size = 10};
    ck_assert_int_eq(certificates_list(c, &li, &list, &err), FL_OK);
    ck_assert_int_eq(json_array_size(json_object_get(list, "certificates")), 0);
    json_decref(list);
    free(dev);

    dev = tu_ca_issue(&h, "CN=inactive");
    ck_assert_int_eq(jitp_candidate(c, dev, ca_id, &err), FL_CERTIFICATE_STATE);
    ck_assert_int_eq(jitp_register(c, dev, &r, &err), FL_CERTIFICATE_STATE);
    free(dev);

    /* a look-alike CA: same subject as g's, another key, never registered */
    struct tu_ca fake;
    tu_ca_make(&fake, "CN=No Auto CA");
    struct certificates_ca_update_in up = {.id = g.id, .new_auto_status = "ENABLE"};
    ck_assert_int_eq(certificates_ca_update(c, &up, &err), FL_OK);
    dev = tu_ca_issue(&fake, "CN=forged");
    ck_assert_int_eq(jitp_register(c, dev, &r, &err), FL_NOT_FOUND);
    free(dev);

    /* garbage and expired certificates */
    ck_assert_int_eq(jitp_register(c, "not a pem", &r, &err), FL_CERTIFICATE_VALIDATION);
    EVP_PKEY *k = tu_ec_key();
    char *old = tu_cert_pem("CN=old", k, g.subject, g.key, 0, -400 * 86400L, 30);
    ck_assert_int_eq(jitp_register(c, old, &r, &err), FL_CERTIFICATE_VALIDATION);
    free(old);
    EVP_PKEY_free(k);
    tu_ca_free(&fake);
    tu_ca_free(&f);
    tu_ca_free(&g);
    tu_ca_free(&h);
}
END_TEST

START_TEST(registration_config_checks)
{
    mk_policy("jitp-device");
    mk_template("jitp-tpl", PROVISIONING_JITP);
    mk_template("fleet-tpl", PROVISIONING_FLEET);
    struct tu_ca f;
    tu_ca_make(&f, "CN=Named CA");
    ck_assert_int_eq(fca_register(&f, 1, 1, "{\"templateName\":\"nope\"}"), FL_NOT_FOUND);
    ck_assert_int_eq(fca_register(&f, 1, 1, "{\"templateName\":\"fleet-tpl\"}"), FL_INVALID_REQUEST);
    ck_assert_int_eq(fca_register(&f, 1, 1, "{\"templateBody\":\"{\\\"Resources\\\":5}\"}"),
                     FL_INVALID_REQUEST);
    ck_assert_msg(fca_register(&f, 1, 1,
                               "{\"templateName\":\"jitp-tpl\",\"roleArn\":"
                               "\"arn:aws:iam::123456789012:role/jitp\"}") == FL_OK,
                  "%s", err.msg);
    json_t *d = NULL;
    ck_assert_int_eq(certificates_ca_describe(c, f.id, &d, &err), FL_OK);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(d, "registrationConfig"), "templateName")),
        "jitp-tpl");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "certificateDescription"),
                                                       "autoRegistrationStatus")),
                     "ENABLE");
    json_decref(d);

    /* the named template is applied */
    char *dev = tu_ca_issue(&f, "C=IT/CN=named-1");
    struct jitp_result r;
    ck_assert_msg(jitp_register(c, dev, &r, &err) == FL_OK, "%s", err.msg);
    ck_assert_msg(r.provisioned == 1, "%s", r.why);
    ck_assert_str_eq(r.thing_name, "named-1");
    free(dev);

    /* in use: DeleteProvisioningTemplate is a conflict */
    ck_assert_int_eq(provisioning_delete(c, "jitp-tpl", &err), FL_DELETE_CONFLICT);
    ck_assert_int_eq(provisioning_delete(c, "fleet-tpl", &err), FL_OK);
    /* UpdateCACertificate checks the same way */
    json_t *bad = json_pack("{s:s}", "templateName", "nope");
    struct certificates_ca_update_in up = {.id = f.id, .registration_config = bad};
    ck_assert_int_eq(certificates_ca_update(c, &up, &err), FL_NOT_FOUND);
    json_decref(bad);
    struct certificates_ca_update_in rm = {.id = f.id, .remove_auto_registration = 1};
    ck_assert_int_eq(certificates_ca_update(c, &rm, &err), FL_OK);
    ck_assert_int_eq(provisioning_delete(c, "jitp-tpl", &err), FL_OK);
    tu_ca_free(&f);
}
END_TEST

START_TEST(capath_helpers)
{
    /* the capath file names are OpenSSL's subject hashes; the TLS leaf
     * comes as DER */
    struct tu_ca f;
    tu_ca_make(&f, "O=Hash/CN=Hash CA");
    unsigned long h = 0;
    ck_assert_int_eq(x509_subject_hash(f.pem, &h, &err), FL_OK);
    BIO *b = BIO_new_mem_buf(f.pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_uint_eq(h, X509_subject_name_hash(x));
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    char *pem = x509_der_to_pem(der, (size_t)n);
    ck_assert_ptr_nonnull(pem);
    ck_assert_str_eq(pem, f.pem);
    free(pem);
    ck_assert_ptr_null(x509_der_to_pem(der, (size_t)n - 1));
    OPENSSL_free(der);
    X509_free(x);
    ck_assert_int_eq(x509_subject_hash("junk", &h, &err), FL_INVALID_REQUEST);
    tu_ca_free(&f);
}
END_TEST

Suite *jitp_suite(void)
{
    Suite *s = suite_create("jitp");
    TCase *t = tcase_create("jitp");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, params_from_subject);
    tcase_add_test(t, jitr_registers_pending);
    tcase_add_test(t, jitp_inline_body_applied);
    tcase_add_test(t, jitp_failure_keeps_pending_only);
    tcase_add_test(t, unknown_ca_and_disabled);
    tcase_add_test(t, registration_config_checks);
    tcase_add_test(t, capath_helpers);
    suite_add_tcase(s, t);
    return s;
}
