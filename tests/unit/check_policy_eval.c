/*
 * check_policy_eval.c - the policy evaluator (server/core/policy_doc.c and
 * policy_eval.c) as a table: each row compiles one to three documents with
 * one of four connection contexts and checks the decision (and which policy
 * decided) for one action on one resource, or that compilation refuses a
 * bad document. Then the broker path (policy_eval_name) is checked against
 * every row, and the odd corners get tests of their own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy_doc.h"
#include "policy_eval.h"
#include "suites.h"

#define P "arn:aws:iot:us-east-1:123456789012:"
#define CERTID "a0c01f5835079de0a7514643d68ef8414ab739a1e94ee4162977b02b12842847"

/* DOC(stmt[, stmt[, stmt]]): a 2012-10-17 document with up to three statements */
#define DOC_PICK(_1, _2, _3, N, ...) N
#define DOC(...) DOC_PICK(__VA_ARGS__, DOC3, DOC2, DOC1, _)(__VA_ARGS__)
#define DOC_HEAD "{\"Version\":\"2012-10-17\",\"Statement\":["
#define DOC1(a) DOC_HEAD a "]}"
#define DOC2(a, b) DOC_HEAD a "," b "]}"
#define DOC3(a, b, c) DOC_HEAD a "," b "," c "]}"
#define ST(eff, a, r) "{\"Effect\":\"" eff "\",\"Action\":" a ",\"Resource\":" r "}"
#define STC(eff, a, r, c) "{\"Effect\":\"" eff "\",\"Action\":" a ",\"Resource\":" r ",\"Condition\":" c "}"
#define ALLOW(a, r) ST("Allow", a, r)
#define DENY(a, r) ST("Deny", a, r)
#define ALLOWC(a, r, c) STC("Allow", a, r, c)
#define DENYC(a, r, c) STC("Deny", a, r, c)
#define Q(s) "\"" s "\""
#define PUB Q("iot:Publish")
#define SUB Q("iot:Subscribe")
#define CON Q("iot:Connect")
#define ANY Q("*")
/* a condition-only Connect statement */
#define CONNC(c) DOC(ALLOWC(CON, ANY, c))

/* The connection contexts. */
enum ctx {
    VN, /* client "c1", nothing else known */
    VT, /* client "dev-1" = attached thing "dev-1" of type sensor, certificate fields, source ip */
    VS, /* client "x*" (wildcard characters in a variable value) */
    VX, /* client "dev-2", no attached thing */
};

enum { A = POLICY_ALLOWED, I = POLICY_IMPLICIT_DENY, E = POLICY_EXPLICIT_DENY, BAD = -1 };
#define ANYPOL -2

struct row {
    enum ctx ctx;
    const char *doc[3];
    enum policy_action action;
    const char *resource;
    int expect;
    int policy; /* index of the deciding policy, -1 for none, ANYPOL: unchecked */
};

#define R1(ctx, d, act, res, exp)                                                                            \
    {                                                                                                        \
        ctx, {d, NULL, NULL}, act, res, exp, ANYPOL                                                          \
    }
#define R1P(ctx, d, act, res, exp, pol)                                                                      \
    {                                                                                                        \
        ctx, {d, NULL, NULL}, act, res, exp, pol                                                             \
    }
#define R2P(ctx, d1, d2, act, res, exp, pol)                                                                 \
    {                                                                                                        \
        ctx, {d1, d2, NULL}, act, res, exp, pol                                                              \
    }
#define R3P(ctx, d1, d2, d3, act, res, exp, pol)                                                             \
    {                                                                                                        \
        ctx, {d1, d2, d3}, act, res, exp, pol                                                                \
    }
#define BADDOC(d)                                                                                            \
    {                                                                                                        \
        VN, {d, NULL, NULL}, POLICY_CONNECT, P "client/c1", BAD, ANYPOL                                      \
    }

static const struct row rows[] = {
    /* ---- actions ---- */
    R1P(VN, DOC(ALLOW(CON, Q(P "client/c1"))), POLICY_CONNECT, P "client/c1", A, 0),
    R1P(VN, DOC(ALLOW(CON, Q(P "client/c1"))), POLICY_PUBLISH, P "client/c1", I, -1),
    R1(VN, DOC(ALLOW(Q("IOT:connect"), ANY)), POLICY_CONNECT, P "client/x", A),
    R1(VN, DOC(ALLOW(Q("iot:*"), ANY)), POLICY_RECEIVE, P "topic/a", A),
    R1(VN, DOC(ALLOW(ANY, ANY)), POLICY_SUBSCRIBE, P "topicfilter/a/#", A),
    R1(VN, DOC(ALLOW(Q("iot:Pub*"), ANY)), POLICY_PUBLISH, P "topic/a", A),
    R1(VN, DOC(ALLOW(Q("iot:Pub*"), ANY)), POLICY_SUBSCRIBE, P "topicfilter/a", I),
    R1(VN, DOC(ALLOW(Q("iot:*Publish"), ANY)), POLICY_RETAIN_PUBLISH, P "topic/a", A),
    R1(VN, DOC(ALLOW(Q("iot:*Publish"), ANY)), POLICY_PUBLISH, P "topic/a", A),
    R1(VN, DOC(ALLOW(Q("iot:?eceive"), ANY)), POLICY_RECEIVE, P "topic/a", A),
    R1(VN, DOC(ALLOW("[" PUB "," SUB "]", ANY)), POLICY_SUBSCRIBE, P "topicfilter/a", A),
    R1(VN, DOC(ALLOW("[" PUB "," SUB "]", ANY)), POLICY_CONNECT, P "client/c1", I),
    R1(VN, DOC("{\"Effect\":\"Allow\",\"NotAction\":\"iot:Publish\",\"Resource\":\"*\"}"), POLICY_SUBSCRIBE,
       P "topicfilter/a", A),
    R1(VN, DOC("{\"Effect\":\"Allow\",\"NotAction\":\"iot:Publish\",\"Resource\":\"*\"}"), POLICY_PUBLISH,
       P "topic/a", I),
    R1(VN, DOC(ALLOW(Q("greengrass:*"), ANY)), POLICY_PUBLISH, P "topic/a", I),
    R1(VN, DOC(ALLOW(Q("iot:publish"), Q(P "topic/a"))), POLICY_PUBLISH, P "topic/a", A),
    R1(VN, DOC(ALLOW(Q("iot:Pub"), ANY)), POLICY_PUBLISH, P "topic/a", I),
    R1(VN, DOC(ALLOW(Q("iot:GetThingShadow"), Q(P "thing/t1"))), POLICY_GET_THING_SHADOW, P "thing/t1", A),

    /* ---- resources and wildcards ---- */
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/a/b"))), POLICY_PUBLISH, P "topic/a/b", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/a/b"))), POLICY_PUBLISH, P "topic/a/c", I),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/a/*"))), POLICY_PUBLISH, P "topic/a/b/c", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/a/*"))), POLICY_PUBLISH, P "topic/a", I),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/a/*"))), POLICY_PUBLISH, P "topic/a/", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/a?c"))), POLICY_PUBLISH, P "topic/abc", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/a?c"))), POLICY_PUBLISH, P "topic/ac", I),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/a?c"))), POLICY_PUBLISH, P "topic/a\u00e9c", A),
    R1(VN, DOC(ALLOW(SUB, Q(P "topicfilter/a/+/c"))), POLICY_SUBSCRIBE, P "topicfilter/a/+/c", A),
    R1(VN, DOC(ALLOW(SUB, Q(P "topicfilter/a/+/c"))), POLICY_SUBSCRIBE, P "topicfilter/a/x/c", I),
    R1(VN, DOC(ALLOW(SUB, Q(P "topicfilter/a/#"))), POLICY_SUBSCRIBE, P "topicfilter/a/#", A),
    R1(VN, DOC(ALLOW(SUB, Q(P "topicfilter/a/#"))), POLICY_SUBSCRIBE, P "topicfilter/a/b", I),
    R1(VN, DOC(ALLOW(PUB, "[" Q(P "topic/x") "," Q(P "topic/y") "]")), POLICY_PUBLISH, P "topic/y", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "Topic/a"))), POLICY_PUBLISH, P "topic/a", I),
    R1(VN, DOC(ALLOW(PUB, Q("arn:aws:iot:*:*:topic/x"))), POLICY_PUBLISH, P "topic/x", A),
    R1(VN, DOC(ALLOW(PUB, Q("arn:aws:iot:eu-west-1:*:topic/x"))), POLICY_PUBLISH, P "topic/x", I),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/*/b/*/d"))), POLICY_PUBLISH, P "topic/a/b/c/b/x/d", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/*/b/*/d"))), POLICY_PUBLISH, P "topic/a/b/c/b/x/e", I),
    R1(VN, DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"NotResource\":\"" P "topic/secret/*\"}"),
       POLICY_PUBLISH, P "topic/open", A),
    R1(VN, DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"NotResource\":\"" P "topic/secret/*\"}"),
       POLICY_PUBLISH, P "topic/secret/x", I),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/**"))), POLICY_PUBLISH, P "topic/", A),
    R1(VN, DOC(ALLOW(PUB, ANY)), POLICY_PUBLISH, "anything at all", A),
    R1(VN, DOC(ALLOW(CON, Q(P "client/*"))), POLICY_CONNECT, P "client/", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/a\\\\b"))), POLICY_PUBLISH, P "topic/a\\b", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/a\\\\*"))), POLICY_PUBLISH, P "topic/a\\xyz", A),

    /* ---- policy variables ---- */
    R1(VN, DOC(ALLOW(CON, Q(P "client/${iot:ClientId}"))), POLICY_CONNECT, P "client/c1", A),
    R1(VN, DOC(ALLOW(CON, Q(P "client/${iot:ClientId}"))), POLICY_CONNECT, P "client/c2", I),
    R1(VS, DOC(ALLOW(PUB, Q(P "topic/${iot:ClientId}/data"))), POLICY_PUBLISH, P "topic/xyz/data", I),
    R1(VS, DOC(ALLOW(PUB, Q(P "topic/${iot:ClientId}/data"))), POLICY_PUBLISH, P "topic/x*/data", A),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:Connection.Thing.ThingName}/*"))), POLICY_PUBLISH,
       P "topic/dev-1/t", A),
    R1(VX, DOC(ALLOW(PUB, Q(P "topic/${iot:Connection.Thing.ThingName}/*"))), POLICY_PUBLISH,
       P "topic/dev-2/t", I),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/type/${iot:Connection.Thing.ThingTypeName}"))), POLICY_PUBLISH,
       P "topic/type/sensor", A),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:Connection.Thing.Attributes[color]}/x"))), POLICY_PUBLISH,
       P "topic/red/x", A),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:Connection.Thing.Attributes[missing]}/x"))), POLICY_PUBLISH,
       P "topic//x", I),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:Connection.Thing.Attributes[Color]}/x"))), POLICY_PUBLISH,
       P "topic/red/x", I),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:Certificate.Subject.CommonName}"))), POLICY_PUBLISH,
       P "topic/dev-1.example", A),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:Certificate.Issuer.CommonName}"))), POLICY_PUBLISH,
       P "topic/Fleet Root", A),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:Certificate.Subject.Organization}/*"))), POLICY_PUBLISH,
       P "topic/Acme/1", A),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:Certificate.Subject.Title}"))), POLICY_PUBLISH, P "topic/", I),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/${iot:Certificate.Subject.CommonName}"))), POLICY_PUBLISH, P "topic/",
       I),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/${iot:Nope}"))), POLICY_PUBLISH, P "topic/", I),
    R1(VN, "{\"Version\":\"2008-10-17\",\"Statement\":" ALLOW(PUB, Q(P "topic/${iot:ClientId}")) "}",
       POLICY_PUBLISH, P "topic/${iot:ClientId}", A),
    R1(VN, "{\"Statement\":" ALLOW(PUB, Q(P "topic/${iot:ClientId}")) "}", POLICY_PUBLISH,
       P "topic/${iot:ClientId}", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/${*}"))), POLICY_PUBLISH, P "topic/*", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/${*}"))), POLICY_PUBLISH, P "topic/x", I),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/$(?)"))), POLICY_PUBLISH, P "topic/?", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/$(?)"))), POLICY_PUBLISH, P "topic/a", I),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/${$}x"))), POLICY_PUBLISH, P "topic/$x", A),
    R1(VN, DOC(ALLOW(PUB, Q(P "topic/${iot:ClientId"))), POLICY_PUBLISH, P "topic/${iot:ClientId", A),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${IOT:clientid}"))), POLICY_PUBLISH, P "topic/dev-1", A),
    R1P(VT, DOC(ALLOW(PUB, ANY), DENY(PUB, Q(P "topic/${iot:Connection.Thing.Attributes[nope]}"))),
        POLICY_PUBLISH, P "topic/x", A, 0),
    R1(VX,
       DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"NotResource\":\"" P
           "topic/${iot:Connection.Thing.ThingName}\"}"),
       POLICY_PUBLISH, P "topic/x", I),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:CertificateId}"))), POLICY_PUBLISH, P "topic/" CERTID, A),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:Connection.Thing.IsAttached}"))), POLICY_PUBLISH, P "topic/true",
       A),
    R1(VX, DOC(ALLOW(PUB, Q(P "topic/${iot:Connection.Thing.IsAttached}"))), POLICY_PUBLISH, P "topic/false",
       A),
    R1(VT, DOC(ALLOW(PUB, Q(P "topic/${iot:ClientId}/${iot:Connection.Thing.ThingTypeName}/*"))),
       POLICY_PUBLISH, P "topic/dev-1/sensor/temp", A),

    /* ---- explicit deny wins ---- */
    R1P(VN, DOC(ALLOW(PUB, ANY), DENY(PUB, Q(P "topic/secret"))), POLICY_PUBLISH, P "topic/secret", E, 0),
    R1P(VN, DOC(ALLOW(PUB, ANY), DENY(PUB, Q(P "topic/secret"))), POLICY_PUBLISH, P "topic/open", A, 0),
    R2P(VN, DOC(ALLOW(PUB, ANY)), DOC(DENY(PUB, Q(P "topic/*"))), POLICY_PUBLISH, P "topic/x", E, 1),
    R2P(VN, DOC(DENY(PUB, Q(P "topic/*"))), DOC(ALLOW(PUB, ANY)), POLICY_PUBLISH, P "topic/x", E, 0),
    R1P(VN, DOC(DENY(PUB, ANY)), POLICY_PUBLISH, P "topic/x", E, 0),
    R2P(VN, DOC(ALLOW(ANY, ANY)), DOC(DENY(Q("iot:*"), ANY)), POLICY_CONNECT, P "client/c1", E, 1),
    R2P(VN, DOC(ALLOW(ANY, ANY)), DOC(DENY(SUB, ANY)), POLICY_PUBLISH, P "topic/x", A, 0),
    R1(VN,
       DOC(ALLOW(PUB, ANY),
           "{\"Effect\":\"Deny\",\"Action\":\"iot:Publish\",\"NotResource\":\"" P "topic/dev/*\"}"),
       POLICY_PUBLISH, P "topic/other", E),
    R1(VN,
       DOC(ALLOW(PUB, ANY),
           "{\"Effect\":\"Deny\",\"Action\":\"iot:Publish\",\"NotResource\":\"" P "topic/dev/*\"}"),
       POLICY_PUBLISH, P "topic/dev/1", A),
    R1(VT, DOC(ALLOW(PUB, ANY), DENYC(PUB, ANY, "{\"StringEquals\":{\"iot:ClientId\":\"other\"}}")),
       POLICY_PUBLISH, P "topic/x", A),
    R1(VT, DOC(ALLOW(PUB, ANY), DENYC(PUB, ANY, "{\"StringLike\":{\"iot:ClientId\":\"dev-*\"}}")),
       POLICY_PUBLISH, P "topic/x", E),

    /* ---- inheritance: root, middle and leaf group policies compiled together ---- */
    R3P(VT, DOC(ALLOW(PUB, Q(P "topic/fleet/*"))), DOC(ALLOW(SUB, Q(P "topicfilter/fleet/*"))),
        DOC(DENY(PUB, Q(P "topic/fleet/secret"))), POLICY_PUBLISH, P "topic/fleet/a", A, 0),
    R3P(VT, DOC(ALLOW(PUB, Q(P "topic/fleet/*"))), DOC(ALLOW(SUB, Q(P "topicfilter/fleet/*"))),
        DOC(DENY(PUB, Q(P "topic/fleet/secret"))), POLICY_PUBLISH, P "topic/fleet/secret", E, 2),
    R3P(VT, DOC(ALLOW(PUB, Q(P "topic/fleet/*"))), DOC(ALLOW(SUB, Q(P "topicfilter/fleet/*"))),
        DOC(DENY(PUB, Q(P "topic/fleet/secret"))), POLICY_SUBSCRIBE, P "topicfilter/fleet/#", A, 1),
    R3P(VT, DOC(ALLOW(PUB, Q(P "topic/fleet/*"))), DOC(ALLOW(SUB, Q(P "topicfilter/fleet/*"))),
        DOC(DENY(PUB, Q(P "topic/fleet/secret"))), POLICY_RECEIVE, P "topic/fleet/a", I, -1),

    /* ---- conditions ---- */
    R1(VT, CONNC("{\"StringEquals\":{\"iot:ClientId\":\"dev-1\"}}"), POLICY_CONNECT, P "client/dev-1", A),
    R1(VT, CONNC("{\"StringEquals\":{\"iot:ClientId\":\"dev-2\"}}"), POLICY_CONNECT, P "client/dev-1", I),
    R1(VT, CONNC("{\"StringEquals\":{\"iot:ClientId\":[\"x\",\"dev-1\"]}}"), POLICY_CONNECT, P "client/dev-1",
       A),
    R1(VT, CONNC("{\"StringNotEquals\":{\"iot:ClientId\":\"dev-2\"}}"), POLICY_CONNECT, P "client/dev-1", A),
    R1(VT, CONNC("{\"StringNotEquals\":{\"iot:ClientId\":[\"x\",\"dev-1\"]}}"), POLICY_CONNECT,
       P "client/dev-1", I),
    R1(VT, CONNC("{\"StringEqualsIgnoreCase\":{\"iot:ClientId\":\"DEV-1\"}}"), POLICY_CONNECT,
       P "client/dev-1", A),
    R1(VT, CONNC("{\"StringNotEqualsIgnoreCase\":{\"iot:ClientId\":\"DEV-1\"}}"), POLICY_CONNECT,
       P "client/dev-1", I),
    R1(VT, CONNC("{\"StringLike\":{\"iot:ClientId\":\"dev-*\"}}"), POLICY_CONNECT, P "client/dev-1", A),
    R1(VT, CONNC("{\"StringLike\":{\"iot:ClientId\":\"dev?\"}}"), POLICY_CONNECT, P "client/dev-1", I),
    R1(VT, CONNC("{\"StringNotLike\":{\"iot:ClientId\":\"prod-*\"}}"), POLICY_CONNECT, P "client/dev-1", A),
    R1(VT, CONNC("{\"Bool\":{\"iot:Connection.Thing.IsAttached\":\"true\"}}"), POLICY_CONNECT,
       P "client/dev-1", A),
    R1(VX, CONNC("{\"Bool\":{\"iot:Connection.Thing.IsAttached\":\"true\"}}"), POLICY_CONNECT,
       P "client/dev-2", I),
    R1(VT, CONNC("{\"Bool\":{\"iot:Connection.Thing.IsAttached\":true}}"), POLICY_CONNECT, P "client/dev-1",
       A),
    R1(VX, CONNC("{\"Bool\":{\"iot:Connection.Thing.IsAttached\":[\"false\"]}}"), POLICY_CONNECT,
       P "client/dev-2", A),
    R1(VT, CONNC("{\"ArnEquals\":{\"iot:Connection.Thing.Attributes[arn]\":\"" P "thing/dev-1\"}}"),
       POLICY_CONNECT, P "client/dev-1", A),
    R1(VT,
       CONNC(
           "{\"ArnLike\":{\"iot:Connection.Thing.Attributes[arn]\":\"arn:aws:iot:*:123456789012:thing/*\"}}"),
       POLICY_CONNECT, P "client/dev-1", A),
    R1(VT,
       CONNC("{\"ArnLike\":{\"iot:Connection.Thing.Attributes[arn]\":\"arn:aws:iot:us-*:*:thing/dev-?\"}}"),
       POLICY_CONNECT, P "client/dev-1", A),
    R1(VT, CONNC("{\"ArnLike\":{\"iot:Connection.Thing.Attributes[arn]\":\"arn:aws:iot:*:thing/*:*:*\"}}"),
       POLICY_CONNECT, P "client/dev-1", I),
    R1(VT, CONNC("{\"ArnNotEquals\":{\"iot:Connection.Thing.Attributes[arn]\":\"" P "thing/other\"}}"),
       POLICY_CONNECT, P "client/dev-1", A),
    R1(VT, CONNC("{\"ArnNotLike\":{\"iot:Connection.Thing.Attributes[arn]\":\"arn:aws:iot:*:*:thing/*\"}}"),
       POLICY_CONNECT, P "client/dev-1", I),
    R1(VX, CONNC("{\"Null\":{\"iot:Connection.Thing.ThingName\":\"true\"}}"), POLICY_CONNECT,
       P "client/dev-2", A),
    R1(VT, CONNC("{\"Null\":{\"iot:Connection.Thing.ThingName\":\"true\"}}"), POLICY_CONNECT,
       P "client/dev-1", I),
    R1(VT, CONNC("{\"Null\":{\"iot:Connection.Thing.ThingName\":\"false\"}}"), POLICY_CONNECT,
       P "client/dev-1", A),
    R1(VX, CONNC("{\"StringEquals\":{\"iot:Connection.Thing.ThingName\":\"dev-2\"}}"), POLICY_CONNECT,
       P "client/dev-2", I),
    R1(VX, CONNC("{\"StringNotEquals\":{\"iot:Connection.Thing.ThingName\":\"dev-2\"}}"), POLICY_CONNECT,
       P "client/dev-2", A),
    R1(VX, CONNC("{\"StringEqualsIfExists\":{\"iot:Connection.Thing.ThingName\":\"x\"}}"), POLICY_CONNECT,
       P "client/dev-2", A),
    R1(VT, CONNC("{\"StringEqualsIfExists\":{\"iot:Connection.Thing.ThingName\":\"x\"}}"), POLICY_CONNECT,
       P "client/dev-1", I),
    R1(VX, CONNC("{\"ForAllValues:StringEquals\":{\"iot:Connection.Thing.ThingName\":\"x\"}}"),
       POLICY_CONNECT, P "client/dev-2", A),
    R1(VX, CONNC("{\"ForAnyValue:StringNotEquals\":{\"iot:Connection.Thing.ThingName\":\"x\"}}"),
       POLICY_CONNECT, P "client/dev-2", I),
    R1(VT, CONNC("{\"ForAnyValue:StringEquals\":{\"iot:Connection.Thing.ThingName\":[\"a\",\"dev-1\"]}}"),
       POLICY_CONNECT, P "client/dev-1", A),
    R1(VT, CONNC("{\"NumericLessThan\":{\"iot:Connection.Thing.Attributes[floor]\":\"5\"}}"), POLICY_CONNECT,
       P "client/dev-1", A),
    R1(VT, CONNC("{\"NumericGreaterThan\":{\"iot:Connection.Thing.Attributes[floor]\":\"5\"}}"),
       POLICY_CONNECT, P "client/dev-1", I),
    R1(VT, CONNC("{\"NumericEquals\":{\"iot:Connection.Thing.Attributes[floor]\":3.0}}"), POLICY_CONNECT,
       P "client/dev-1", A),
    R1(VT, CONNC("{\"NumericGreaterThanEquals\":{\"iot:Connection.Thing.Attributes[floor]\":\"abc\"}}"),
       POLICY_CONNECT, P "client/dev-1", I),
    R1(VT, CONNC("{\"IpAddress\":{\"aws:SourceIp\":\"10.1.0.0/16\"}}"), POLICY_CONNECT, P "client/dev-1", A),
    R1(VT, CONNC("{\"IpAddress\":{\"aws:SourceIp\":[\"192.168.0.0/24\",\"10.2.0.0/16\"]}}"), POLICY_CONNECT,
       P "client/dev-1", I),
    R1(VT, CONNC("{\"NotIpAddress\":{\"aws:SourceIp\":\"192.168.0.0/16\"}}"), POLICY_CONNECT,
       P "client/dev-1", A),
    R1(VT, CONNC("{\"IpAddress\":{\"aws:SourceIp\":\"10.1.2.3\"}}"), POLICY_CONNECT, P "client/dev-1", A),
    R1(VN, CONNC("{\"IpAddress\":{\"aws:SourceIp\":\"0.0.0.0/0\"}}"), POLICY_CONNECT, P "client/c1", I),
    R1(VT, CONNC("{\"StringEquals\":{\"iot:Connection.Thing.ThingName\":\"${iot:ClientId}\"}}"),
       POLICY_CONNECT, P "client/dev-1", A),
    R1(VX, CONNC("{\"StringNotEquals\":{\"iot:ClientId\":\"${iot:Connection.Thing.ThingName}\"}}"),
       POLICY_CONNECT, P "client/dev-2", I),
    R1(VT,
       CONNC("{\"StringEquals\":{\"iot:ClientId\":\"dev-1\",\"iot:Connection.Thing.ThingTypeName\":"
             "\"sensor\"}}"),
       POLICY_CONNECT, P "client/dev-1", A),
    R1(VT,
       CONNC("{\"StringEquals\":{\"iot:ClientId\":\"dev-1\",\"iot:Connection.Thing.ThingTypeName\":\"other\"}"
             "}"),
       POLICY_CONNECT, P "client/dev-1", I),
    R1(VT,
       CONNC("{\"StringEquals\":{\"iot:ClientId\":\"dev-1\"},\"Bool\":{\"iot:Connection.Thing.IsAttached\":"
             "\"false\"}}"),
       POLICY_CONNECT, P "client/dev-1", I),
    R1(VT, CONNC("{\"StringEquals\":{\"iot:Certificate.Subject.Organization\":\"Acme\"}}"), POLICY_CONNECT,
       P "client/dev-1", A),
    R1(VT, CONNC("{\"StringLike\":{\"iot:ClientId\":\"${iot:Connection.Thing.ThingName}*\"}}"),
       POLICY_CONNECT, P "client/dev-1", A),
    R1(VS, CONNC("{\"StringLike\":{\"iot:ClientId\":\"${iot:ClientId}\"}}"), POLICY_CONNECT, P "client/x*",
       A),
    R1(VT, CONNC("{\"DateLessThan\":{\"aws:CurrentTime\":\"2030-01-01T00:00:00Z\"}}"), POLICY_CONNECT,
       P "client/dev-1", I),
    R1(VT, CONNC("{\"BinaryEquals\":{\"iot:ClientId\":\"dev-1\"}}"), POLICY_CONNECT, P "client/dev-1", A),
    R1(VT, CONNC("{\"StringEquals\":{\"IOT:CLIENTID\":\"dev-1\"}}"), POLICY_CONNECT, P "client/dev-1", A),

    /* ---- documents that do not compile ---- */
    BADDOC("not json"),
    BADDOC("[]"),
    BADDOC("{\"Version\":\"2012-10-17\"}"),
    BADDOC("{\"Version\":\"2012-10-17\",\"Statement\":[]}"),
    BADDOC(DOC(ST("allow", CON, ANY))),
    BADDOC("{\"Version\":\"2012-10-17\",\"Foo\":1,\"Statement\":" ALLOW(CON, ANY) "}"),
    BADDOC(DOC("{\"Effect\":\"Allow\",\"Actions\":\"iot:Connect\",\"Resource\":\"*\"}")),
    BADDOC(DOC("{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"iot:Connect\",\"Resource\":\"*\"}")),
    BADDOC(DOC(ALLOW(Q("s3:GetObject"), ANY))),
    BADDOC(DOC(ALLOW(Q("Publish"), ANY))),
    BADDOC(DOC(ALLOW(Q("iot:Pub-lish"), ANY))),
    BADDOC(DOC(ALLOW(CON, Q("")))),
    BADDOC(DOC(ALLOW(PUB, Q("topic/a")))),
    BADDOC(DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"NotAction\":\"iot:Publish\",\"Resource\":"
               "\"*\"}")),
    BADDOC(DOC("{\"Effect\":\"Allow\",\"Resource\":\"*\"}")),
    BADDOC(DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\"}")),
    BADDOC(CONNC("{\"StringEqual\":{\"iot:ClientId\":\"x\"}}")),
    BADDOC(CONNC("[\"StringEquals\"]")),
    BADDOC(CONNC("{\"StringEquals\":{\"iot:ClientId\":{\"a\":\"b\"}}}")),
    BADDOC("{\"Version\":\"2020-01-01\",\"Statement\":" ALLOW(CON, ANY) "}"),
    BADDOC("{\"Version\":\"2012-10-17\",\"Version\":\"2012-10-17\",\"Statement\":" ALLOW(CON, ANY) "}"),
    BADDOC("{\"Version\":\"2012-10-17\",\"Statement\":\"Allow everything\"}"),
    BADDOC(DOC("{\"Action\":\"iot:Connect\",\"Resource\":\"*\"}")),
    BADDOC(CONNC("{\"NullIfExists\":{\"iot:ClientId\":\"true\"}}")),
    BADDOC(DOC(ALLOW(CON, "[]"))),
    BADDOC(DOC(ALLOW("5", ANY))),
    BADDOC(DOC(ALLOW(CON, ANY)) " trailing"),
    BADDOC(DOC("[" ALLOW(CON, ANY) "]")),
    BADDOC(CONNC("{\"StringEquals\":{\"iot:ClientId\":[]}}")),
    BADDOC(""),
};

#define NROWS ((int)(sizeof(rows) / sizeof(rows[0])))

/* ---- contexts --------------------------------------------------------------- */

static int test_cert_field(void *ctx, const char *name, char *buf, size_t n)
{
    static const char *const fields[][2] = {
        {"Subject.CommonName", "dev-1.example"},
        {"Subject.Organization", "Acme"},
        {"Issuer.CommonName", "Fleet Root"},
    };
    (void)ctx;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strcasecmp(name, fields[i][0]) == 0) {
            snprintf(buf, n, "%s", fields[i][1]);
            return 1;
        }
    return 0;
}

static const struct policy_attr thing_attrs[] = {
    {"color", "red"},
    {"floor", "3"},
    {"arn", P "thing/dev-1"},
};

static void make_vars(enum ctx which, struct policy_vars *v)
{
    memset(v, 0, sizeof(*v));
    v->region = "us-east-1";
    v->account = "123456789012";
    switch (which) {
    case VN:
        v->client_id = "c1";
        break;
    case VT:
        v->client_id = "dev-1";
        v->thing_name = "dev-1";
        v->thing_type_name = "sensor";
        v->attrs = thing_attrs;
        v->nattrs = sizeof(thing_attrs) / sizeof(thing_attrs[0]);
        v->is_attached = 1;
        v->certificate_id = CERTID;
        v->source_ip = "10.1.2.3";
        v->cert_field = test_cert_field;
        break;
    case VS:
        v->client_id = "x*";
        break;
    case VX:
        v->client_id = "dev-2";
        break;
    }
}

static struct policy_set *compile_row(const struct row *r, struct fl_err *err, enum fl_code *rc)
{
    struct policy_src src[3];
    static const char *const names[3] = {"p-root", "p-mid", "p-leaf"};
    size_t n = 0;
    for (; n < 3 && r->doc[n]; n++) {
        src[n].name = names[n];
        src[n].document = r->doc[n];
    }
    struct policy_vars v;
    make_vars(r->ctx, &v);
    struct policy_set *set = NULL;
    fl_err_clear(err);
    *rc = policy_doc_compile(src, n, &v, &set, err);
    return set;
}

/* ---- the table ------------------------------------------------------------------ */

START_TEST(test_table)
{
    const struct row *r = &rows[_i];
    struct fl_err err;
    enum fl_code rc;
    struct policy_set *set = compile_row(r, &err, &rc);
    if (r->expect == BAD) {
        ck_assert_msg(rc == FL_MALFORMED_POLICY, "row %d: expected MalformedPolicy, got %d (%s)", _i, rc,
                      err.msg);
        ck_assert_ptr_null(set);
        ck_assert_msg(strlen(err.msg) > 10, "row %d: no reason given", _i);
        ck_assert_msg(strstr(err.msg, "Policy p-root") == err.msg, "row %d: policy not named: %s", _i,
                      err.msg);
        /* validation alone agrees */
        fl_err_clear(&err);
        ck_assert_int_eq(policy_doc_validate(r->doc[0], &err), FL_MALFORMED_POLICY);
        return;
    }
    ck_assert_msg(rc == FL_OK, "row %d: compile failed: %s", _i, err.msg);
    for (int i = 0; i < 3 && r->doc[i]; i++)
        ck_assert_msg(policy_doc_validate(r->doc[i], &err) == FL_OK, "row %d doc %d: %s", _i, i, err.msg);
    int pol = -5;
    enum policy_decision d = policy_eval(set, r->action, r->resource, &pol);
    ck_assert_msg((int)d == r->expect, "row %d: decision %d, expected %d (%s on %s)", _i, d, r->expect,
                  policy_action_name(r->action), r->resource);
    if (r->policy != ANYPOL)
        ck_assert_msg(pol == r->policy, "row %d: decided by policy %d, expected %d", _i, pol, r->policy);
    if (d == POLICY_IMPLICIT_DENY)
        ck_assert_int_eq(pol, -1);
    else
        ck_assert_msg(pol >= 0 && (uint32_t)pol < set->npolicies, "row %d: policy index %d", _i, pol);

    /* marks agree with the decision */
    uint8_t marks[3] = {0, 0, 0};
    ck_assert_int_eq(policy_eval_marks(set, r->action, r->resource, marks), d);
    if (d == POLICY_EXPLICIT_DENY)
        ck_assert(marks[pol] & POLICY_MARK_DENY);
    if (d == POLICY_ALLOWED)
        ck_assert(marks[pol] & POLICY_MARK_ALLOW);
    if (d == POLICY_IMPLICIT_DENY)
        ck_assert(marks[0] == 0 && marks[1] == 0 && marks[2] == 0);
    policy_set_free(set);
}
END_TEST

/* The broker path: the same decision from (action, name) without an ARN. */
START_TEST(test_table_by_name)
{
    const struct row *r = &rows[_i];
    const char *kind = policy_action_resource_kind(r->action);
    size_t pl = strlen(P);
    if (r->expect == BAD || kind == NULL || strncmp(r->resource, P, pl) != 0)
        return;
    size_t kl = strlen(kind);
    const char *rest = r->resource + pl;
    if (strncmp(rest, kind, kl) != 0 || rest[kl] != '/')
        return;
    const char *name = rest + kl + 1;
    struct fl_err err;
    enum fl_code rc;
    struct policy_set *set = compile_row(r, &err, &rc);
    ck_assert_int_eq(rc, FL_OK);
    int p1 = -5, p2 = -5;
    enum policy_decision d1 = policy_eval(set, r->action, r->resource, &p1);
    /* name is not NUL-terminated in the broker: pass a copy with junk after */
    char buf[512];
    size_t nl = strlen(name);
    ck_assert_uint_lt(nl + 4, sizeof(buf));
    memcpy(buf, name, nl);
    memcpy(buf + nl, "/zz", 4);
    enum policy_decision d2 = policy_eval_name(set, r->action, buf, nl, &p2);
    ck_assert_msg(d1 == d2 && p1 == p2, "row %d: by ARN %d/%d, by name %d/%d", _i, d1, p1, d2, p2);
    policy_set_free(set);
}
END_TEST

/* ---- corners ------------------------------------------------------------------------ */

START_TEST(test_glob_basics)
{
    ck_assert(policy_glob_match("", 0, "", 0));
    ck_assert(!policy_glob_match("", 0, "a", 1));
    ck_assert(policy_glob_match("*", 1, "", 0));
    ck_assert(policy_glob_match("a*", 2, "a", 1));
    ck_assert(!policy_glob_match("?", 1, "", 0));
    ck_assert(policy_glob_match("?", 1, "\xe2\x82\xac", 3)); /* one UTF-8 character */
    ck_assert(!policy_glob_match("??", 2, "\xe2\x82\xac", 3));
    ck_assert(policy_glob_match("\\*", 2, "*", 1));
    ck_assert(!policy_glob_match("\\*", 2, "x", 1));
    ck_assert(policy_glob_match("\\?x", 3, "?x", 2));
    ck_assert(policy_glob_match("a\\\\b", 4, "a\\b", 3));
    ck_assert(policy_glob_match("*a*b*c*", 7, "xxaxxbxxcxx", 11));
    ck_assert(!policy_glob_match("*a*b*c*", 7, "xxaxxcxxbxx", 11));
}
END_TEST

/* A pattern built to make naive recursive matchers explode: many stars
 * against a long subject that almost matches. Iterative backtracking keeps
 * it quadratic at worst. */
START_TEST(test_glob_pathological)
{
    char pat[200], subj[20001];
    size_t pn = 0;
    for (int i = 0; i < 60; i++) {
        pat[pn++] = 'a';
        pat[pn++] = '*';
    }
    pat[pn++] = 'b';
    memset(subj, 'a', 20000);
    subj[20000] = '\0';
    ck_assert(!policy_glob_match(pat, pn, subj, 20000));
    subj[19999] = 'b';
    ck_assert(policy_glob_match(pat, pn, subj, 20000));
}
END_TEST

START_TEST(test_size_limit)
{
    /* 2048 characters excluding whitespace is the limit; whitespace is free */
    char doc[8192];
    const char *head =
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\","
        "\"Resource\":\"" P "topic/";
    const char *tail = "\"}}";
    size_t hl = strlen(head), tl = strlen(tail);
    size_t fill = 2048 - hl - tl;
    memcpy(doc, head, hl);
    memset(doc + hl, 'x', fill);
    memcpy(doc + hl + fill, tail, tl + 1);
    struct fl_err err;
    ck_assert_int_eq(policy_doc_validate(doc, &err), FL_OK);
    /* one more character is too many */
    memmove(doc + hl + 1, doc + hl, strlen(doc + hl) + 1);
    ck_assert_int_eq(policy_doc_validate(doc, &err), FL_MALFORMED_POLICY);
    ck_assert_ptr_nonnull(strstr(err.msg, "2048"));
    /* the same document padded with whitespace is fine */
    memmove(doc + hl, doc + hl + 1, strlen(doc + hl + 1) + 1);
    char padded[8192 + 3000];
    snprintf(padded, sizeof(padded), "%s%*s", doc, 3000, "");
    ck_assert_int_eq(policy_doc_validate(padded, &err), FL_OK);
    ck_assert_int_eq(policy_doc_validate(NULL, &err), FL_MALFORMED_POLICY);
}
END_TEST

START_TEST(test_missing_keys)
{
    const char *doc = DOC(ALLOWC(PUB, ANY, "{\"StringEquals\":{\"iot:Connection.Thing.ThingName\":\"x\"}}"),
                          ALLOWC(CON, ANY, "{\"Null\":{\"iot:Connection.Thing.ThingTypeName\":\"true\"}}"),
                          ALLOWC(SUB, ANY, "{\"StringEqualsIfExists\":{\"aws:SourceIp\":\"x\"}}"));
    struct policy_src src = {"p", doc};
    struct policy_vars v;
    make_vars(VX, &v);
    struct policy_set *set = NULL;
    struct fl_err err;
    ck_assert_int_eq(policy_doc_compile(&src, 1, &v, &set, &err), FL_OK);
    /* ThingName is reported for Publish; Null and IfExists report nothing */
    ck_assert_uint_eq(set->nmissing, 1);
    ck_assert_str_eq(set->str + set->missing[0].key_off, "iot:Connection.Thing.ThingName");
    ck_assert_uint_eq(set->missing[0].actions, 1u << POLICY_PUBLISH);
    ck_assert_int_eq(policy_eval(set, POLICY_CONNECT, P "client/dev-2", NULL), POLICY_ALLOWED);
    ck_assert_int_eq(policy_eval(set, POLICY_SUBSCRIBE, P "topicfilter/x", NULL), POLICY_ALLOWED);
    ck_assert_int_eq(policy_eval(set, POLICY_PUBLISH, P "topic/x", NULL), POLICY_IMPLICIT_DENY);
    ck_assert_str_eq(policy_set_policy_name(set, 0), "p");
    ck_assert_ptr_null(policy_set_policy_name(set, 1));
    policy_set_free(set);
}
END_TEST

START_TEST(test_empty_and_null_sets)
{
    struct policy_set *set = NULL;
    struct fl_err err;
    struct policy_vars v;
    make_vars(VN, &v);
    ck_assert_int_eq(policy_doc_compile(NULL, 0, &v, &set, &err), FL_OK);
    ck_assert_uint_eq(set->npolicies, 0);
    ck_assert_int_eq(policy_eval(set, POLICY_CONNECT, P "client/c1", NULL), POLICY_IMPLICIT_DENY);
    ck_assert_int_eq(policy_eval_name(set, POLICY_PUBLISH, "a", 1, NULL), POLICY_IMPLICIT_DENY);
    policy_set_free(set);
    int pol = 7;
    ck_assert_int_eq(policy_eval(NULL, POLICY_CONNECT, "x", &pol), POLICY_IMPLICIT_DENY);
    ck_assert_int_eq(pol, -1);
    ck_assert_int_eq(policy_eval_name(NULL, POLICY_CONNECT, "x", 1, &pol), POLICY_IMPLICIT_DENY);
    ck_assert_int_eq(policy_eval(NULL, POLICY_ACTION_COUNT, "x", NULL), POLICY_IMPLICIT_DENY);
    policy_set_free(NULL);
}
END_TEST

START_TEST(test_deny_statements_first)
{
    const char *d1 = DOC(ALLOW(PUB, ANY), ALLOW(SUB, ANY), DENY(PUB, Q(P "topic/x")));
    const char *d2 = DOC(DENY(CON, Q(P "client/bad")), ALLOW(CON, ANY));
    struct policy_src src[2] = {{"one", d1}, {"two", d2}};
    struct policy_vars v;
    make_vars(VN, &v);
    struct policy_set *set = NULL;
    struct fl_err err;
    ck_assert_int_eq(policy_doc_compile(src, 2, &v, &set, &err), FL_OK);
    ck_assert_uint_eq(set->nstmts, 5);
    ck_assert_uint_eq(set->ndeny, 2);
    for (uint32_t i = 0; i < set->nstmts; i++)
        ck_assert_int_eq(set->stmts[i].deny, i < set->ndeny);
    ck_assert_int_eq(policy_eval_name(set, POLICY_CONNECT, "bad", 3, NULL), POLICY_EXPLICIT_DENY);
    ck_assert_int_eq(policy_eval_name(set, POLICY_CONNECT, "good", 4, NULL), POLICY_ALLOWED);
    ck_assert_int_eq(policy_eval_name(set, POLICY_LIST_RETAINED_MESSAGES, NULL, 0, NULL),
                     POLICY_IMPLICIT_DENY);
    ck_assert_str_eq(policy_action_name(POLICY_UPDATE_THING_SHADOW), "iot:UpdateThingShadow");
    ck_assert_ptr_null(policy_action_name(POLICY_ACTION_COUNT));
    policy_set_free(set);
}
END_TEST

/* What a set depends on beyond the principal: aws:SourceIp, read by a
 * variable or a condition (a policy cache keys on it). */
START_TEST(test_deps_source_ip)
{
    static const struct {
        const char *doc;
        uint32_t deps;
    } cases[] = {
        {DOC(ALLOW(PUB, Q(P "topic/a/${aws:SourceIp}"))), POLICY_DEP_SOURCE_IP},
        {DOC(ALLOWC(PUB, ANY, "{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}")), POLICY_DEP_SOURCE_IP},
        {DOC(ALLOW(PUB, Q(P "topic/a/${iot:ClientId}"))), 0},
        /* 2008-10-17: variables are text */
        {"{\"Version\":\"2008-10-17\",\"Statement\":[" ALLOW(PUB, Q(P "topic/${aws:SourceIp}")) "]}", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct policy_src src = {"p", cases[i].doc};
        struct policy_vars v;
        make_vars(VT, &v);
        struct policy_set *set = NULL;
        struct fl_err err;
        ck_assert_msg(policy_doc_compile(&src, 1, &v, &set, &err) == FL_OK, "case %zu: %s", i, err.msg);
        ck_assert_msg(set->deps == cases[i].deps, "case %zu: deps %u", i, set->deps);
        policy_set_free(set);
    }
}
END_TEST

static size_t rnd(uint64_t *r, size_t n)
{
    *r = *r * 6364136223846793005ull + 1442695040888963407ull;
    return (size_t)((*r >> 33) % n);
}

/* The broker's precompiled patterns (the ARN head skipped, literal prefix
 * rejected first) decide as the whole-ARN match does, on random patterns
 * and names over an alphabet rich in wildcards, escapes, UTF-8 and kinds
 * that almost match. */
START_TEST(test_by_name_random)
{
    static const char *const heads[] = {
        P "topic/",      P "topicfilter/", P "client/",
        P "thing/",      P "topic",        P "topi?/",
        P "top*",        P "topic${*}",    "arn:aws:iot:*:*:topic/",
        "arn:*",         P "rolealias/",   "arn:aws:iot:us-east-1:123456789012:topic/",
        P "topicfilter",
    };
    static const char *const bits[] = {"a", "b", "/", "*", "?", "${*}", "${?}", "\u00e9", "ab/", "#", "+"};
    static const char *const nbits[] = {"a", "b", "/", "*", "?", "\xc3\xa9", "ab/", "#", "+", "$"};
    static const enum policy_action acts[] = {POLICY_PUBLISH, POLICY_SUBSCRIBE, POLICY_CONNECT,
                                              POLICY_GET_THING_SHADOW, POLICY_RECEIVE};
    uint64_t r = 12345;
#define RND(n) rnd(&r, n)
    int checked = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char res[3][160];
        for (int k = 0; k < 3; k++) {
            size_t n =
                (size_t)snprintf(res[k], sizeof(res[k]), "%s", heads[RND(sizeof(heads) / sizeof(heads[0]))]);
            size_t parts = RND(5);
            for (size_t j = 0; j < parts; j++)
                n += (size_t)snprintf(res[k] + n, sizeof(res[k]) - n, "%s",
                                      bits[RND(sizeof(bits) / sizeof(bits[0]))]);
        }
        char doc[1024];
        int deny = RND(3) == 0, notres = RND(4) == 0;
        size_t conn = RND(3);
        snprintf(doc, sizeof(doc),
                 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"%s\",\"Action\":\"iot:*\","
                 "\"%s\":[\"%s\",\"%s\",\"%s\"]},{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\","
                 "\"Resource\":\"%s\"}]}",
                 deny ? "Deny" : "Allow", notres ? "NotResource" : "Resource", res[0], res[1], res[2],
                 res[conn]);
        struct policy_src src = {"p", doc};
        struct policy_vars v;
        make_vars(VN, &v);
        struct policy_set *set = NULL;
        struct fl_err err;
        ck_assert_msg(policy_doc_compile(&src, 1, &v, &set, &err) == FL_OK, "%s: %s", doc, err.msg);
        for (int t = 0; t < 8; t++) {
            char name[64], arn[256];
            size_t n = 0, parts = RND(6);
            name[0] = '\0';
            for (size_t j = 0; j < parts; j++)
                n += (size_t)snprintf(name + n, sizeof(name) - n, "%s",
                                      nbits[RND(sizeof(nbits) / sizeof(nbits[0]))]);
            enum policy_action a = acts[RND(sizeof(acts) / sizeof(acts[0]))];
            snprintf(arn, sizeof(arn), P "%s/%s", policy_action_resource_kind(a), name);
            int p1 = -5, p2 = -5;
            enum policy_decision d1 = policy_eval(set, a, arn, &p1);
            enum policy_decision d2 = policy_eval_name(set, a, name, n, &p2);
            ck_assert_msg(d1 == d2 && p1 == p2, "%s on %s: by ARN %d, by name %d (doc %s)",
                          policy_action_name(a), arn, d1, d2, doc);
            checked += d1 != POLICY_IMPLICIT_DENY;
        }
        policy_set_free(set);
    }
#undef RND
    ck_assert_int_gt(checked, 1000); /* the patterns did match things */
}
END_TEST

/* Compiling through a cache of parsed documents gives the same sets;
 * documents are kept by their text, least recently used first out; what is
 * not JSON is reported every time and never kept. */
START_TEST(test_doc_cache)
{
    const char *d1 = DOC(ALLOW(PUB, Q(P "topic/a/${iot:ClientId}")), DENY(PUB, Q(P "topic/a/x")));
    const char *d2 = DOC(ALLOW(SUB, Q(P "topicfilter/${iot:ClientId}/*")));
    const char *d3 = DOC(ALLOW(CON, ANY));
    struct policy_doc_cache *dc = policy_doc_cache_new(2);
    ck_assert_ptr_nonnull(dc);
    struct fl_err err;
    for (int round = 0; round < 3; round++) {
        static const char *const clients[] = {"c1", "y", "c1"};
        struct policy_vars v;
        make_vars(VN, &v);
        v.client_id = clients[round];
        struct policy_src src[2] = {{"one", d1}, {"two", d2}};
        struct policy_set *a = NULL, *b = NULL;
        ck_assert_int_eq(policy_doc_compile(src, 2, &v, &a, &err), FL_OK);
        ck_assert_int_eq(policy_doc_compile_with(dc, src, 2, &v, &b, &err), FL_OK);
        ck_assert_uint_eq(a->nstmts, b->nstmts);
        ck_assert_uint_eq(a->npats, b->npats);
        char t[32];
        snprintf(t, sizeof(t), "a/%s", clients[round]);
        ck_assert_int_eq(policy_eval_name(b, POLICY_PUBLISH, t, strlen(t), NULL), POLICY_ALLOWED);
        ck_assert_int_eq(policy_eval_name(b, POLICY_PUBLISH, "a/x", 3, NULL),
                         policy_eval_name(a, POLICY_PUBLISH, "a/x", 3, NULL));
        snprintf(t, sizeof(t), "%s/q", clients[round]);
        ck_assert_int_eq(policy_eval_name(b, POLICY_SUBSCRIBE, t, strlen(t), NULL), POLICY_ALLOWED);
        policy_set_free(a);
        policy_set_free(b);
    }
    ck_assert_uint_eq(policy_doc_cache_size(dc), 2);
    ck_assert_uint_eq(policy_doc_cache_hits(dc), 4);
    /* a third document pushes out the least recently used (d1: d2 was
     * parsed after it in the last round) */
    struct policy_vars v;
    make_vars(VN, &v);
    struct policy_src s3 = {"three", d3}, s1 = {"one", d1}, s2 = {"two", d2};
    struct policy_set *set = NULL;
    ck_assert_int_eq(policy_doc_compile_with(dc, &s3, 1, &v, &set, &err), FL_OK);
    policy_set_free(set);
    ck_assert_uint_eq(policy_doc_cache_size(dc), 2);
    ck_assert_int_eq(policy_doc_compile_with(dc, &s2, 1, &v, &set, &err), FL_OK);
    policy_set_free(set);
    ck_assert_uint_eq(policy_doc_cache_hits(dc), 5);
    ck_assert_int_eq(policy_doc_compile_with(dc, &s1, 1, &v, &set, &err), FL_OK);
    policy_set_free(set);
    ck_assert_uint_eq(policy_doc_cache_hits(dc), 5);
    /* not JSON: an error each time, nothing kept */
    struct policy_src bad = {"bad", "{\"Version\":"};
    for (int i = 0; i < 2; i++) {
        fl_err_clear(&err);
        ck_assert_int_eq(policy_doc_compile_with(dc, &bad, 1, &v, &set, &err), FL_MALFORMED_POLICY);
        ck_assert_ptr_nonnull(strstr(err.msg, "not valid JSON"));
    }
    /* valid JSON, invalid policy: kept parsed, refused every time */
    struct policy_src inval = {"inval", DOC(ST("Permit", CON, ANY))};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(policy_doc_compile_with(dc, &inval, 1, &v, &set, &err), FL_MALFORMED_POLICY);
    ck_assert_uint_eq(policy_doc_cache_size(dc), 2);
    policy_doc_cache_free(dc);
    policy_doc_cache_free(NULL);
}
END_TEST

START_TEST(test_messages_name_problem)
{
    static const struct {
        const char *doc;
        const char *needle;
    } cases[] = {
        {"nope", "not valid JSON"},
        {"{\"Version\":\"2012-10-17\"}", "no Statement"},
        {DOC(ST("Permit", CON, ANY)), "Effect"},
        {"{\"Statement\":" ALLOW(CON, ANY) ",\"Extra\":1}", "Extra"},
        {DOC(ALLOW(Q("s3:GetObject"), ANY)), "s3:GetObject"},
        {DOC(ALLOW(CON, ANY), ALLOW(CON, Q("topic/a"))), "Statement 2"},
        {CONNC("{\"StringEqual\":{\"a\":\"b\"}}"), "StringEqual"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fl_err err;
        fl_err_clear(&err);
        ck_assert_int_eq(policy_doc_validate(cases[i].doc, &err), FL_MALFORMED_POLICY);
        ck_assert_msg(strstr(err.msg, cases[i].needle), "case %zu: '%s' lacks '%s'", i, err.msg,
                      cases[i].needle);
    }
}
END_TEST

Suite *policy_eval_suite(void)
{
    Suite *s = suite_create("policy_eval");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_table, 0, NROWS);
    tcase_add_loop_test(tc, test_table_by_name, 0, NROWS);
    suite_add_tcase(s, tc);
    TCase *tc2 = tcase_create("corners");
    tcase_add_test(tc2, test_glob_basics);
    tcase_add_test(tc2, test_glob_pathological);
    tcase_add_test(tc2, test_size_limit);
    tcase_add_test(tc2, test_missing_keys);
    tcase_add_test(tc2, test_empty_and_null_sets);
    tcase_add_test(tc2, test_deny_statements_first);
    tcase_add_test(tc2, test_messages_name_problem);
    tcase_add_test(tc2, test_deps_source_ip);
    tcase_add_test(tc2, test_doc_cache);
    tcase_add_test(tc2, test_by_name_random);
    suite_add_tcase(s, tc2);
    return s;
}
