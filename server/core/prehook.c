/*
 * prehook.c - the pre-provisioning hook (see prehook.h). Placeholder until
 * the hook lands: templates with a hook are accepted, provisioning through
 * them is refused.
 */
#include "prehook.h"

enum fl_code prehook_validate(const json_t *hook, struct fl_err *err)
{
    (void)hook;
    (void)err;
    return FL_OK;
}

enum fl_code prehook_run(struct fl_core *c, const json_t *hook, const struct prehook_in *in, struct fl_err *err)
{
    (void)c;
    (void)hook;
    (void)in;
    return fl_err_set(err, FL_ACCESS_DENIED, "pre-provisioning hooks are not available yet");
}
