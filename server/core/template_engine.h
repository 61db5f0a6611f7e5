/*
 * template_engine.h - fleet-provisioning template bodies: parse and validate
 * (at CreateProvisioningTemplate, naming the place of any fault), and
 * evaluate with parameters into a plan of what to create or change.
 *
 * Pure: no store, no clock, no I/O. provisioning.c applies a plan inside one
 * transaction. Supported: Parameters (Type, Default), Mappings, Resources of
 * type AWS::IoT::Thing (ThingName, ThingTypeName, ThingGroups,
 * AttributePayload, OverrideSettings), AWS::IoT::Certificate (CertificateId,
 * CertificatePem, CertificateSigningRequest, Status), AWS::IoT::Policy
 * (PolicyName, PolicyDocument), DeviceConfiguration, and the intrinsics Ref,
 * Fn::Join, Fn::Select, Fn::Split, Fn::Sub, Fn::FindInMap.
 */
#ifndef FL_TEMPLATE_ENGINE_H
#define FL_TEMPLATE_ENGINE_H

#include <jansson.h>

#include "err.h"

#define TPL_BODY_MAX 10240 /* templateBody max length (service model) */
#define TPL_DEPTH_MAX 32   /* nesting of JSON values and function calls */

/* OverrideSettings for a thing that already exists. Absent = DO_NOTHING. */
enum tpl_override { TPL_OV_DO_NOTHING = 0, TPL_OV_REPLACE, TPL_OV_FAIL, TPL_OV_MERGE };

/* What a template asks for, once evaluated. Strings point into values
 * owned by the plan (hold); NULL = not given. */
struct tpl_plan {
    json_t *hold; /* owns everything below */
    int has_thing;
    const char *thing_name;
    const char *thing_type;
    json_t *attributes; /* object of strings, or NULL */
    json_t *groups;     /* array of strings, or NULL */
    enum tpl_override ov_attributes, ov_type, ov_groups;
    int has_cert;
    const char *cert_id;
    const char *cert_pem;
    const char *cert_csr;
    const char *cert_status;
    int has_policy;
    const char *policy_name;
    const char *policy_doc; /* inline PolicyDocument, as text */
    json_t *device_config;  /* object (maybe empty), never NULL after success */
};

/* Parses body (text, at most TPL_BODY_MAX bytes) and validates it. *out =
 * the parsed body (new reference) when out is not NULL. Returns FL_OK or
 * FL_INVALID_REQUEST with a message naming the place, e.g.
 * "Resources.thing.Properties.ThingName: unknown function Fn::Foo". */
enum fl_code tpl_parse(const char *body, json_t **out, struct fl_err *err);

/* Validates an already parsed body (as tpl_parse). */
enum fl_code tpl_validate(json_t *body, struct fl_err *err);

/* Evaluates a validated body with params (an object of parameter name ->
 * string, or NULL; borrowed) into *plan (zeroed first; release with
 * tpl_plan_free even on failure). Returns FL_OK or FL_INVALID_REQUEST (a
 * parameter without Default not given, a value of the wrong type, an index
 * out of range, ...), message naming the place. */
enum fl_code tpl_evaluate(json_t *body, json_t *params, struct tpl_plan *plan, struct fl_err *err);

void tpl_plan_free(struct tpl_plan *plan);

#endif
