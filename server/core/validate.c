/*
 * validate.c - input checks with the service model's patterns and lengths.
 */
#include "validate.h"

#include <string.h>

static int in_set(unsigned char ch, const char *extra)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch != '\0' && strchr(extra, ch) != NULL;
}

static enum fl_code check(const char *field, const char *v, size_t min, size_t max, const char *extra,
                          const char *pattern, struct fl_err *err)
{
    if (v == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: %s", field);
    size_t n = strlen(v);
    if (n < min || n > max)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value at '%s' failed to satisfy constraint: "
                          "Member must have length between %zu and %zu",
                          field, min, max);
    for (size_t i = 0; i < n; i++)
        if (!in_set((unsigned char)v[i], extra))
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "1 validation error detected: Value at '%s' failed to satisfy constraint: "
                              "Member must satisfy regular expression pattern: %s",
                              field, pattern);
    return FL_OK;
}

enum fl_code validate_name(const char *field, const char *value, struct fl_err *err)
{
    return check(field, value, 1, 128, ":_-", "[a-zA-Z0-9:_-]+", err);
}

enum fl_code validate_attr_name(const char *field, const char *value, struct fl_err *err)
{
    return check(field, value, 1, 128, "_.,@/:#-", "[a-zA-Z0-9_.,@/:#-]+", err);
}

enum fl_code validate_attr_value(const char *field, const char *value, struct fl_err *err)
{
    return check(field, value, 0, 800, "_.,@/:#=[]-", "[a-zA-Z0-9_.,@/:#=\\[\\]-]*", err);
}

/* Returns the length of the UTF-8 sequence at p, or 0 when it is invalid. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || n > left || (n == 2 && p[0] < 0xc2))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

enum fl_code validate_text(const char *field, const char *value, size_t min, size_t max, int graph_only,
                           struct fl_err *err)
{
    if (value == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: %s", field);
    size_t n = strlen(value);
    if (n < min || n > max)
        return fl_err_set(err, FL_INVALID_REQUEST,
                          "1 validation error detected: Value at '%s' failed to satisfy constraint: "
                          "Member must have length between %zu and %zu",
                          field, min, max);
    const unsigned char *p = (const unsigned char *)value;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(p + i, n - i);
        if (k == 0)
            return fl_err_set(err, FL_INVALID_REQUEST, "Value at '%s' is not valid UTF-8", field);
        if (graph_only && k == 1 && (p[i] < 0x20 || p[i] == 0x7f))
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "1 validation error detected: Value at '%s' failed to satisfy constraint: "
                              "Member must satisfy regular expression pattern: [\\p{Graph}\\x20]*",
                              field);
        i += k;
    }
    return FL_OK;
}

enum fl_code validate_tag(const char *key, const char *value, struct fl_err *err)
{
    enum fl_code rc = validate_text("tags.member.Key", key, 1, 128, 1, err);
    if (rc == FL_OK && value != NULL)
        rc = validate_text("tags.member.Value", value, 0, 256, 1, err);
    return rc;
}
