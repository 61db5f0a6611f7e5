/*
 * fuzz_policy.c - the policy document parser, validator and compiler
 * (policy_doc.c) and the evaluator (policy_eval.c).
 *
 * Input: DOCUMENT [NUL CLIENT_ID [NUL REQUESTS]], where REQUESTS are lines
 * "<action byte><resource>" (the action is the byte modulo the action
 * count). The document is validated, then compiled twice (a rich
 * connection context, and one whose client id and thing come from the
 * input, so that substituted values carry wildcard and escape characters),
 * and every request is evaluated three ways; the broker path
 * (policy_eval_name) must agree with the ARN path, and validation must
 * agree with compilation. A disagreement aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy_doc.h"
#include "policy_eval.h"

#define PREFIX "arn:aws:iot:us-east-1:123456789012:"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cert_field(void *ctx, const char *name, char *buf, size_t n)
{
    const char *cn = ctx;
    if (strcasecmp(name, "Subject.CommonName") == 0 || strcasecmp(name, "Issuer.CommonName") == 0) {
        snprintf(buf, n, "%s", cn);
        return 1;
    }
    return 0;
}

static void check_requests(const struct policy_set *set, const char *req)
{
    uint8_t marks[64];
    while (req && *req) {
        const char *nl = strchr(req, '\n');
        size_t len = nl ? (size_t)(nl - req) : strlen(req);
        char line[4096];
        if (len >= sizeof(line))
            len = sizeof(line) - 1;
        memcpy(line, req, len);
        line[len] = '\0';
        req = nl ? nl + 1 : NULL;
        if (len == 0)
            continue;
        enum policy_action a = (enum policy_action)((unsigned char)line[0] % POLICY_ACTION_COUNT);
        const char *res = line + 1;
        int p1 = -3, p2 = -3;
        enum policy_decision d1 = policy_eval(set, a, res, &p1);
        if (d1 != POLICY_IMPLICIT_DENY && (p1 < 0 || (uint32_t)p1 >= set->npolicies))
            abort();
        if (set->npolicies <= sizeof(marks)) {
            memset(marks, 0, sizeof(marks));
            if (policy_eval_marks(set, a, res, marks) != d1)
                abort();
        }
        const char *kind = policy_action_resource_kind(a);
        size_t pl = strlen(PREFIX), kl = kind ? strlen(kind) : 0;
        if (kind && strncmp(res, PREFIX, pl) == 0 && strncmp(res + pl, kind, kl) == 0 &&
            res[pl + kl] == '/') {
            const char *name = res + pl + kl + 1;
            enum policy_decision d2 = policy_eval_name(set, a, name, strlen(name), &p2);
            if (d2 != d1 || p2 != p1)
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *buf = malloc(size + 2);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    buf[size + 1] = '\0';
    const char *doc = buf;
    size_t dl = strlen(doc);
    const char *client = dl < size ? buf + dl + 1 : NULL;
    const char *req = NULL;
    if (client) {
        size_t cl = strlen(client);
        if ((size_t)(client - buf) + cl < size)
            req = client + cl + 1;
    }

    struct fl_err err;
    enum fl_code valid = policy_doc_validate(doc, &err);

    static const struct policy_attr attrs[] = {{"color", "red"}, {"floor", "3"}, {"a*b", "c?d"}};
    struct policy_vars rich = {
        .region = "us-east-1",
        .account = "123456789012",
        .client_id = "dev-1",
        .thing_name = "dev-1",
        .thing_type_name = "sensor",
        .attrs = attrs,
        .nattrs = 3,
        .is_attached = 1,
        .certificate_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        .source_ip = "10.1.2.3",
        .cert_field = cert_field,
        .cert_ctx = (void *)"dev-1.example",
    };
    struct policy_src src[2] = {{"p1", doc}, {"p2", doc}};
    struct policy_set *set = NULL;
    enum fl_code rc = policy_doc_compile(src, 2, &rich, &set, &err);
    /* every document that validates compiles; a compiled one that is too
     * large is the only other way for the two to differ */
    if (valid == FL_OK && rc != FL_OK)
        abort();
    if (rc == FL_OK) {
        check_requests(set, req);
        policy_set_free(set);
    }

    if (client) {
        struct policy_vars odd = {
            .region = "us-east-1",
            .account = "123456789012",
            .client_id = client,
            .thing_name = client,
            .is_attached = 0,
            .source_ip = client,
            .cert_field = cert_field,
            .cert_ctx = (void *)client,
        };
        set = NULL;
        if (policy_doc_compile(src, 1, &odd, &set, &err) == FL_OK) {
            check_requests(set, req);
            policy_set_free(set);
        }
    }
    free(buf);
    return 0;
}
