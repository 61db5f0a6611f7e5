/*
 * jx.c - typed field access on jansson objects (see jx.h).
 */
#include "jx.h"

static json_t *get(json_t *obj, const char *field)
{
    if (obj == NULL || !json_is_object(obj))
        return NULL;
    json_t *v = json_object_get(obj, field);
    return json_is_null(v) ? NULL : v;
}

static enum fl_code missing(const char *field, int required, struct fl_err *err)
{
    if (required)
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: %s", field);
    return FL_OK;
}

static enum fl_code wrong(const char *field, const char *want, struct fl_err *err)
{
    return fl_err_set(err, FL_INVALID_REQUEST, "Invalid type for parameter %s: expected %s", field, want);
}

enum fl_code jx_str(json_t *obj, const char *field, int required, const char **out, struct fl_err *err)
{
    json_t *v = get(obj, field);
    if (v == NULL)
        return missing(field, required, err);
    if (!json_is_string(v))
        return wrong(field, "a string", err);
    *out = json_string_value(v);
    return FL_OK;
}

enum fl_code jx_bool(json_t *obj, const char *field, int required, int *out, struct fl_err *err)
{
    json_t *v = get(obj, field);
    if (v == NULL)
        return missing(field, required, err);
    if (!json_is_boolean(v))
        return wrong(field, "a boolean", err);
    *out = json_is_true(v);
    return FL_OK;
}

enum fl_code jx_int(json_t *obj, const char *field, int required, int64_t *out, struct fl_err *err)
{
    json_t *v = get(obj, field);
    if (v == NULL)
        return missing(field, required, err);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return FL_OK;
    }
    /* boto3 sends integral doubles as 2.0 */
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == (double)(int64_t)d) {
            *out = (int64_t)d;
            return FL_OK;
        }
    }
    return wrong(field, "an integer", err);
}

enum fl_code jx_num(json_t *obj, const char *field, int required, double *out, struct fl_err *err)
{
    json_t *v = get(obj, field);
    if (v == NULL)
        return missing(field, required, err);
    if (!json_is_number(v))
        return wrong(field, "a number", err);
    *out = json_number_value(v);
    return FL_OK;
}

enum fl_code jx_obj(json_t *obj, const char *field, int required, json_t **out, struct fl_err *err)
{
    json_t *v = get(obj, field);
    if (v == NULL)
        return missing(field, required, err);
    if (!json_is_object(v))
        return wrong(field, "an object", err);
    *out = v;
    return FL_OK;
}

enum fl_code jx_arr(json_t *obj, const char *field, int required, json_t **out, struct fl_err *err)
{
    json_t *v = get(obj, field);
    if (v == NULL)
        return missing(field, required, err);
    if (!json_is_array(v))
        return wrong(field, "a list", err);
    *out = v;
    return FL_OK;
}

json_t *jx_time(int64_t ms)
{
    if (ms % 1000 == 0)
        return json_integer(ms / 1000);
    return json_real((double)ms / 1000.0);
}

void jx_set_str(json_t *obj, const char *field, const char *value)
{
    if (value != NULL)
        json_object_set_new(obj, field, json_string(value));
}
