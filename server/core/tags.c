/*
 * tags.c - TagResource, UntagResource, ListTagsForResource, and the tag
 * helpers other modules call inside their own transactions.
 *
 * Tags are keyed by the resource's ARN. Which ARNs are taggable, and how to
 * tell whether the resource exists, is the table below: a module that makes
 * a new kind taggable adds a row (and calls tags_put_tx / tags_delete_all_tx
 * on create / delete). Knows nothing of HTTP, MQTT or SQL.
 */
#include "tags.h"

#include <stdio.h>
#include <string.h>

#include "jx.h"
#include "page.h"
#include "store.h"
#include "store_certs.h"
#include "store_groups.h"
#include "store_policies.h"
#include "store_provisioning.h"
#include "store_tags.h"
#include "validate.h"

#define TAGS_MAX 50

struct taggable {
    const char *kind;  /* ARN resource type, "arn:...:KIND/NAME" */
    const char *label; /* for messages */
    enum fl_code (*exists)(struct store *st, const char *name, struct fl_err *err);
};

static const struct taggable taggables[] = {
    {"thinggroup", "Thing group", store_groups_exists},
    {"thingtype", "Thing type", store_tags_thing_type_exists},
    {"cacert", "CA certificate", store_certs_ca_exists},
    {"policy", "Policy", store_policies_exists},
    {"provisioningtemplate", "Provisioning template", store_prov_tpl_exists},
};

/* Checks that arn names an existing taggable resource of this deployment.
 * Returns FL_OK, FL_INVALID_REQUEST (not an ARN, or a kind that cannot be
 * tagged), FL_NOT_FOUND, or a store error. */
static enum fl_code resolve(struct fl_core *c, const char *arn, struct fl_err *err)
{
    if (arn == NULL || *arn == '\0')
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: resourceArn");
    if (strlen(arn) > 2048)
        return fl_err_set(err, FL_INVALID_REQUEST, "resourceArn is too long");
    for (size_t i = 0; i < sizeof(taggables) / sizeof(taggables[0]); i++) {
        const char *name = core_arn_name(c, arn, taggables[i].kind);
        if (name == NULL)
            continue;
        enum fl_code rc = taggables[i].exists(c->st, name, err);
        if (rc == FL_NOT_FOUND)
            return fl_err_set(err, FL_NOT_FOUND, "%s %s does not exist", taggables[i].label, name);
        return rc;
    }
    char own[128];
    snprintf(own, sizeof(own), "arn:aws:iot:%s:%s:", c->cfg.region, c->cfg.account_id);
    if (strncmp(arn, own, strlen(own)) == 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "Resource %s cannot be tagged", arn);
    /* arn:partition:service:region:account:resource */
    int colons = 0;
    for (const char *p = arn; *p; p++)
        colons += *p == ':';
    if (strncmp(arn, "arn:", 4) == 0 && colons >= 5)
        return fl_err_set(err, FL_NOT_FOUND, "Resource %s does not exist in this account and region", arn);
    return fl_err_set(err, FL_INVALID_REQUEST, "Invalid resourceArn: %s", arn);
}

/* The TagKey pattern ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$ for ASCII; other
 * (valid UTF-8) characters are letters, numbers or separators often enough
 * that refusing them would be the worse mistake. */
static enum fl_code check_key(const char *key, struct fl_err *err)
{
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (*p >= 0x80 || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
            continue;
        if (strchr(" _.:/=+-@", *p) == NULL)
            return fl_err_set(
                err, FL_INVALID_REQUEST,
                "1 validation error detected: Value '%s' at 'tags.member.Key' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$",
                key);
    }
    if (strncmp(key, "aws:", 4) == 0)
        return fl_err_set(err, FL_INVALID_REQUEST, "Tag keys starting with 'aws:' are reserved for AWS use");
    return FL_OK;
}

enum fl_code tags_put_tx(struct fl_core *c, const char *arn, json_t *tags, struct fl_err *err)
{
    if (tags == NULL)
        return FL_OK;
    if (!json_is_array(tags))
        return fl_err_set(err, FL_INVALID_REQUEST, "Invalid type for parameter tags: expected a list");
    size_t n = json_array_size(tags);
    if (n > TAGS_MAX)
        return fl_err_set(err, FL_INVALID_REQUEST, "Too many tags: at most %d tags per resource", TAGS_MAX);
    const char *keys[TAGS_MAX];
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(tags, i);
        const char *key = NULL, *value = NULL;
        enum fl_code rc;
        if (!json_is_object(t))
            return fl_err_set(err, FL_INVALID_REQUEST, "Invalid type for parameter tags[%zu]: expected a Tag",
                              i);
        if ((rc = jx_str(t, "Key", JX_REQUIRED, &key, err)) ||
            (rc = jx_str(t, "Value", JX_OPTIONAL, &value, err)) || (rc = validate_tag(key, value, err)) ||
            (rc = check_key(key, err)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(keys[j], key) == 0)
                return fl_err_set(err, FL_INVALID_REQUEST, "Duplicate tag key: %s", key);
        keys[i] = key;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(tags, i);
        const char *value = NULL;
        jx_str(t, "Value", JX_OPTIONAL, &value, err);
        enum fl_code rc = store_tags_put(c->st, arn, keys[i], value ? value : "", err);
        if (rc)
            return rc;
    }
    int total = 0;
    enum fl_code rc = store_tags_count(c->st, arn, &total, err);
    if (rc == FL_OK && total > TAGS_MAX)
        return fl_err_set(err, FL_LIMIT_EXCEEDED,
                          "Tags limit exceeded: %s would have %d tags, at most %d allowed", arn, total,
                          TAGS_MAX);
    return rc;
}

enum fl_code tags_delete_all_tx(struct fl_core *c, const char *arn, struct fl_err *err)
{
    return store_tags_delete_all(c->st, arn, err);
}

enum fl_code tags_tag_resource(struct fl_core *c, const char *arn, json_t *tags, struct fl_err *err)
{
    if (tags == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: tags");
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    rc = resolve(c, arn, err);
    if (rc == FL_OK)
        rc = tags_put_tx(c, arn, tags, err);
    return store_end(c->st, rc, err);
}

enum fl_code tags_untag_resource(struct fl_core *c, const char *arn, json_t *keys, struct fl_err *err)
{
    if (keys == NULL)
        return fl_err_set(err, FL_INVALID_REQUEST, "Missing required parameter: tagKeys");
    if (!json_is_array(keys))
        return fl_err_set(err, FL_INVALID_REQUEST, "Invalid type for parameter tagKeys: expected a list");
    size_t n = json_array_size(keys);
    for (size_t i = 0; i < n; i++) {
        const char *k = json_string_value(json_array_get(keys, i));
        if (k == NULL)
            return fl_err_set(err, FL_INVALID_REQUEST,
                              "Invalid type for parameter tagKeys[%zu]: expected a string", i);
        enum fl_code rc = validate_text("tagKeys.member", k, 1, 128, 1, err);
        if (rc)
            return rc;
    }
    enum fl_code rc = store_begin(c->st, err);
    if (rc)
        return rc;
    rc = resolve(c, arn, err);
    for (size_t i = 0; i < n && rc == FL_OK; i++)
        rc = store_tags_delete(c->st, arn, json_string_value(json_array_get(keys, i)), err);
    return store_end(c->st, rc, err);
}

struct tag_page {
    json_t *arr;
    int limit;
    int n;
    char last[129];
    int more;
};

static enum fl_code add_tag(void *ctx, const char *key, const char *value)
{
    struct tag_page *p = ctx;
    if (p->n == p->limit) {
        p->more = 1;
        return FL_OK;
    }
    json_t *t = json_object();
    json_object_set_new(t, "Key", json_string(key));
    json_object_set_new(t, "Value", json_string(value));
    json_array_append_new(p->arr, t);
    snprintf(p->last, sizeof(p->last), "%s", key);
    p->n++;
    return FL_OK;
}

enum fl_code tags_list(struct fl_core *c, const char *arn, const char *next_token, int max_results,
                       json_t **out, struct fl_err *err)
{
    char after[129] = "";
    enum fl_code rc;
    if (max_results <= 0 || max_results > 250)
        max_results = 250;
    if (next_token && *next_token && (rc = page_token_decode(next_token, after, sizeof(after), err)))
        return rc;
    struct tag_page p = {.arr = json_array(), .limit = max_results};
    if ((rc = store_begin_read(c->st, err)) == FL_OK) {
        rc = resolve(c, arn, err);
        if (rc == FL_OK)
            rc = store_tags_page(c->st, arn, after, max_results + 1, add_tag, &p, err);
        rc = store_end(c->st, rc, err);
    }
    if (rc) {
        json_decref(p.arr);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "tags", p.arr);
    if (p.more) {
        char tok[PAGE_TOKEN_MAX];
        page_token_encode(p.last, tok);
        json_object_set_new(*out, "nextToken", json_string(tok));
    }
    return FL_OK;
}
