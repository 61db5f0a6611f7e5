/*
 * routes.c - THE route table of fleetd, (method, path pattern, plane) ->
 * handler, and its matcher. Paths and methods come from botocore's service
 * models (../shared/reference/iot-operations.tsv). A literal segment beats a
 * {param} ("/thing-groups/addThingToThingGroup" vs "/thing-groups/{name}");
 * a path that matches with another method is 405, no match at all is 404.
 * Paths shared by two planes are told apart by the SigV4 service.
 */
#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"

#define IOT PLANE_IOT

const struct route routes_table[] = {
    /* things */
    {"GET", "/things", IOT, "ListThings", h_list_things, RF_READ},
    {"POST", "/things/{thingName}", IOT, "CreateThing", h_create_thing, 0},
    {"GET", "/things/{thingName}", IOT, "DescribeThing", h_describe_thing, RF_READ},
    {"PATCH", "/things/{thingName}", IOT, "UpdateThing", h_update_thing, 0},
    {"DELETE", "/things/{thingName}", IOT, "DeleteThing", h_delete_thing, 0},
    {"GET", "/things/{thingName}/thing-groups", IOT, "ListThingGroupsForThing", h_list_thing_groups_for_thing,
     RF_READ},
    /* thing types */
    {"GET", "/thing-types", IOT, "ListThingTypes", h_list_thing_types, RF_READ},
    {"POST", "/thing-types/{thingTypeName}", IOT, "CreateThingType", h_create_thing_type, 0},
    {"GET", "/thing-types/{thingTypeName}", IOT, "DescribeThingType", h_describe_thing_type, RF_READ},
    {"PATCH", "/thing-types/{thingTypeName}", IOT, "UpdateThingType", h_update_thing_type, 0},
    {"DELETE", "/thing-types/{thingTypeName}", IOT, "DeleteThingType", h_delete_thing_type, 0},
    {"POST", "/thing-types/{thingTypeName}/deprecate", IOT, "DeprecateThingType", h_deprecate_thing_type, 0},
    /* static thing groups */
    {"GET", "/thing-groups", IOT, "ListThingGroups", h_list_thing_groups, RF_READ},
    {"PUT", "/thing-groups/addThingToThingGroup", IOT, "AddThingToThingGroup", h_add_thing_to_thing_group, 0},
    {"PUT", "/thing-groups/removeThingFromThingGroup", IOT, "RemoveThingFromThingGroup",
     h_remove_thing_from_thing_group, 0},
    {"PUT", "/thing-groups/updateThingGroupsForThing", IOT, "UpdateThingGroupsForThing",
     h_update_thing_groups_for_thing, 0},
    {"POST", "/thing-groups/{thingGroupName}", IOT, "CreateThingGroup", h_create_thing_group, 0},
    {"GET", "/thing-groups/{thingGroupName}", IOT, "DescribeThingGroup", h_describe_thing_group, RF_READ},
    {"PATCH", "/thing-groups/{thingGroupName}", IOT, "UpdateThingGroup", h_update_thing_group, 0},
    {"DELETE", "/thing-groups/{thingGroupName}", IOT, "DeleteThingGroup", h_delete_thing_group, 0},
    {"GET", "/thing-groups/{thingGroupName}/things", IOT, "ListThingsInThingGroup",
     h_list_things_in_thing_group, RF_READ},
    /* principals (certificates attached to things) */
    {"PUT", "/things/{thingName}/principals", IOT, "AttachThingPrincipal", h_attach_thing_principal, 0},
    {"DELETE", "/things/{thingName}/principals", IOT, "DetachThingPrincipal", h_detach_thing_principal, 0},
    {"GET", "/things/{thingName}/principals", IOT, "ListThingPrincipals", h_list_thing_principals, RF_READ},
    {"GET", "/things/{thingName}/principals-v2", IOT, "ListThingPrincipalsV2", h_list_thing_principals_v2,
     RF_READ},
    {"GET", "/principals/things", IOT, "ListPrincipalThings", h_list_principal_things, RF_READ},
    {"GET", "/principals/things-v2", IOT, "ListPrincipalThingsV2", h_list_principal_things_v2, RF_READ},
    /* provisioning templates, RegisterThing, claims */
    {"GET", "/provisioning-templates", IOT, "ListProvisioningTemplates", h_list_provisioning_templates,
     RF_READ},
    {"POST", "/provisioning-templates", IOT, "CreateProvisioningTemplate", h_create_provisioning_template, 0},
    {"GET", "/provisioning-templates/{templateName}", IOT, "DescribeProvisioningTemplate",
     h_describe_provisioning_template, RF_READ},
    {"PATCH", "/provisioning-templates/{templateName}", IOT, "UpdateProvisioningTemplate",
     h_update_provisioning_template, 0},
    {"DELETE", "/provisioning-templates/{templateName}", IOT, "DeleteProvisioningTemplate",
     h_delete_provisioning_template, 0},
    {"POST", "/provisioning-templates/{templateName}/versions", IOT, "CreateProvisioningTemplateVersion",
     h_create_provisioning_template_version, 0},
    {"GET", "/provisioning-templates/{templateName}/versions", IOT, "ListProvisioningTemplateVersions",
     h_list_provisioning_template_versions, RF_READ},
    {"GET", "/provisioning-templates/{templateName}/versions/{versionId}", IOT,
     "DescribeProvisioningTemplateVersion", h_describe_provisioning_template_version, RF_READ},
    {"DELETE", "/provisioning-templates/{templateName}/versions/{versionId}", IOT,
     "DeleteProvisioningTemplateVersion", h_delete_provisioning_template_version, 0},
    {"POST", "/provisioning-templates/{templateName}/provisioning-claim", IOT, "CreateProvisioningClaim",
     h_create_provisioning_claim, 0},
    {"POST", "/things", IOT, "RegisterThing", h_register_thing, 0},
    /* certificates */
    {"POST", "/keys-and-certificate", IOT, "CreateKeysAndCertificate", h_create_keys_and_certificate, 0},
    {"POST", "/certificates", IOT, "CreateCertificateFromCsr", h_create_certificate_from_csr, 0},
    {"POST", "/certificate/register", IOT, "RegisterCertificate", h_register_certificate, 0},
    {"POST", "/certificate/register-no-ca", IOT, "RegisterCertificateWithoutCA",
     h_register_certificate_without_ca, 0},
    {"GET", "/certificates", IOT, "ListCertificates", h_list_certificates, RF_READ},
    {"GET", "/certificates/{certificateId}", IOT, "DescribeCertificate", h_describe_certificate, RF_READ},
    {"PUT", "/certificates/{certificateId}", IOT, "UpdateCertificate", h_update_certificate, 0},
    {"DELETE", "/certificates/{certificateId}", IOT, "DeleteCertificate", h_delete_certificate, 0},
    {"GET", "/certificates-by-ca/{caCertificateId}", IOT, "ListCertificatesByCA", h_list_certificates_by_ca,
     RF_READ},
    /* CA certificates */
    {"GET", "/registrationcode", IOT, "GetRegistrationCode", h_get_registration_code, RF_READ},
    {"DELETE", "/registrationcode", IOT, "DeleteRegistrationCode", h_delete_registration_code, 0},
    {"POST", "/cacertificate", IOT, "RegisterCACertificate", h_register_ca_certificate, 0},
    {"GET", "/cacertificates", IOT, "ListCACertificates", h_list_ca_certificates, RF_READ},
    {"GET", "/cacertificate/{caCertificateId}", IOT, "DescribeCACertificate", h_describe_ca_certificate,
     RF_READ},
    {"PUT", "/cacertificate/{caCertificateId}", IOT, "UpdateCACertificate", h_update_ca_certificate, 0},
    {"DELETE", "/cacertificate/{caCertificateId}", IOT, "DeleteCACertificate", h_delete_ca_certificate, 0},
    /* policies */
    {"GET", "/policies", IOT, "ListPolicies", h_list_policies, RF_READ},
    {"POST", "/policies/{policyName}", IOT, "CreatePolicy", h_create_policy, 0},
    {"GET", "/policies/{policyName}", IOT, "GetPolicy", h_get_policy, RF_READ},
    {"DELETE", "/policies/{policyName}", IOT, "DeletePolicy", h_delete_policy, 0},
    {"POST", "/policies/{policyName}/version", IOT, "CreatePolicyVersion", h_create_policy_version, 0},
    {"GET", "/policies/{policyName}/version", IOT, "ListPolicyVersions", h_list_policy_versions, RF_READ},
    {"GET", "/policies/{policyName}/version/{policyVersionId}", IOT, "GetPolicyVersion", h_get_policy_version,
     RF_READ},
    {"DELETE", "/policies/{policyName}/version/{policyVersionId}", IOT, "DeletePolicyVersion",
     h_delete_policy_version, 0},
    {"PATCH", "/policies/{policyName}/version/{policyVersionId}", IOT, "SetDefaultPolicyVersion",
     h_set_default_policy_version, 0},
    {"PUT", "/target-policies/{policyName}", IOT, "AttachPolicy", h_attach_policy, 0},
    {"POST", "/target-policies/{policyName}", IOT, "DetachPolicy", h_detach_policy, 0},
    {"POST", "/attached-policies/{target}", IOT, "ListAttachedPolicies", h_list_attached_policies, RF_READ},
    {"POST", "/policy-targets/{policyName}", IOT, "ListTargetsForPolicy", h_list_targets_for_policy, RF_READ},
    {"POST", "/effective-policies", IOT, "GetEffectivePolicies", h_get_effective_policies, RF_READ},
    {"POST", "/test-authorization", IOT, "TestAuthorization", h_test_authorization, 0},
    /* tags, endpoint */
    {"POST", "/tags", IOT, "TagResource", h_tag_resource, 0},
    {"POST", "/untag", IOT, "UntagResource", h_untag_resource, 0},
    {"GET", "/tags", IOT, "ListTagsForResource", h_list_tags_for_resource, RF_READ},
    {"GET", "/endpoint", IOT, "DescribeEndpoint", h_describe_endpoint, RF_READ},
    /* connectivity (kept by the broker plugin) */
    {"POST", "/things/{thingName}/connectivity-data", IOT, "GetThingConnectivityData",
     h_get_thing_connectivity_data, RF_READ},
    /* iot-data: the topic is one percent-encoded segment ('/' as %2F) */
    {"POST", "/topics/{topic}", PLANE_DATA, "Publish", h_publish, RF_RAW_BODY},
};

const int routes_count = (int)(sizeof(routes_table) / sizeof(routes_table[0]));

#define MAX_SEGS 16

/* Splits a pattern or raw path after the leading '/' into segments. Returns
 * the count, or -1 when there are too many or the path is not absolute. */
static int split(const char *p, const char *seg[MAX_SEGS], size_t len[MAX_SEGS])
{
    if (p[0] != '/')
        return -1;
    int n = 0;
    p++;
    if (*p == '\0')
        return 0;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (n == MAX_SEGS)
            return -1;
        seg[n] = p;
        len[n++] = l;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return n;
}

void routes_free_params(char *params[HTTP_MAX_PARAMS])
{
    for (int i = 0; i < HTTP_MAX_PARAMS; i++) {
        free(params[i]);
        params[i] = NULL;
    }
}

enum route_result routes_match(const char *method, const char *path, enum http_plane plane,
                               const struct route **out, char *params[HTTP_MAX_PARAMS], char *allow,
                               size_t allowlen)
{
    const char *pseg[MAX_SEGS];
    size_t plen[MAX_SEGS];
    char *dec[MAX_SEGS] = {0};
    enum route_result res = ROUTE_NO_PATH;
    int n = split(path, pseg, plen);
    if (n < 0)
        return ROUTE_NO_PATH;
    for (int i = 0; i < n; i++) {
        dec[i] = http_pct_decode(pseg[i], plen[i]);
        if (dec[i] == NULL) {
            res = ROUTE_BAD_ENCODING;
            goto done;
        }
    }
    const struct route *best = NULL;
    unsigned best_score = 0;
    if (allow && allowlen)
        allow[0] = '\0';
    for (int r = 0; r < routes_count; r++) {
        const struct route *rt = &routes_table[r];
        if (!(rt->planes & plane))
            continue;
        const char *tseg[MAX_SEGS];
        size_t tlen[MAX_SEGS];
        int tn = split(rt->pattern, tseg, tlen);
        if (tn != n)
            continue;
        unsigned score = 0;
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            if (tseg[i][0] == '{') {
                ok = dec[i][0] != '\0';
            } else {
                ok = strlen(dec[i]) == tlen[i] && memcmp(dec[i], tseg[i], tlen[i]) == 0;
                score |= 1u << (MAX_SEGS - 1 - i);
            }
        }
        if (!ok)
            continue;
        if (strcmp(rt->method, method) != 0) {
            if (allow && allowlen && !strstr(allow, rt->method)) {
                size_t l = strlen(allow);
                snprintf(allow + l, allowlen - l, "%s%s", l ? ", " : "", rt->method);
            }
            if (res == ROUTE_NO_PATH)
                res = ROUTE_BAD_METHOD;
            continue;
        }
        if (best == NULL || score > best_score) {
            best = rt;
            best_score = score;
        }
    }
    if (best) {
        const char *tseg[MAX_SEGS];
        size_t tlen[MAX_SEGS];
        split(best->pattern, tseg, tlen);
        int k = 0;
        for (int i = 0; i < n; i++)
            if (tseg[i][0] == '{' && k < HTTP_MAX_PARAMS) {
                params[k++] = dec[i];
                dec[i] = NULL;
            }
        *out = best;
        res = ROUTE_FOUND;
    }
done:
    for (int i = 0; i < n; i++)
        free(dec[i]);
    return res;
}
