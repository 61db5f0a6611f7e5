/*
 * fuzz_template.c - the provisioning template parser, validator and
 * evaluator (server/core/template_engine.c).
 *
 * Input: BODY [NUL PARAMETERS], PARAMETERS a JSON object. The body is
 * parsed and validated; a body that validates is evaluated with the
 * parameters, and again with none. Invariants: a valid body re-serialized
 * still validates; an evaluation that succeeds yields a plan whose strings
 * are set as its flags say; the engine never crashes, leaks or runs away
 * (its step and depth budgets bound every input).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_plan(const struct tpl_plan *pl)
{
    if (pl->device_config == NULL || !json_is_object(pl->device_config))
        abort();
    if (pl->has_thing && pl->thing_name == NULL)
        abort();
    if (pl->has_cert && !pl->cert_id && !pl->cert_pem && !pl->cert_csr)
        abort();
    if (pl->has_policy && !pl->policy_name && !pl->policy_doc)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TPL_BODY_MAX + 4096)
        return 0;
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t blen = strlen(buf);
    json_t *params = blen < size ? json_loads(buf + blen + 1, 0, NULL) : NULL;
    struct fl_err err;
    json_t *body = NULL;
    if (tpl_parse(buf, &body, &err) == FL_OK) {
        char *again = json_dumps(body, JSON_COMPACT);
        if (again && strlen(again) <= TPL_BODY_MAX && tpl_parse(again, NULL, &err) != FL_OK)
            abort();
        free(again);
        struct tpl_plan pl;
        if (tpl_evaluate(body, params, &pl, &err) == FL_OK)
            check_plan(&pl);
        else if (err.code == FL_OK)
            abort();
        tpl_plan_free(&pl);
        if (tpl_evaluate(body, NULL, &pl, &err) == FL_OK)
            check_plan(&pl);
        tpl_plan_free(&pl);
        json_decref(body);
    } else if (err.code == FL_OK) {
        abort();
    }
    json_decref(params);
    free(buf);
    return 0;
}
