/*
 * thing_groups.h - static thing groups: CreateThingGroup, DescribeThingGroup,
 * UpdateThingGroup, DeleteThingGroup, ListThingGroups, and membership:
 * AddThingToThingGroup, RemoveThingFromThingGroup, UpdateThingGroupsForThing,
 * ListThingsInThingGroup, ListThingGroupsForThing.
 *
 * Rules enforced here (AWS developer guide, "Static thing groups"): one
 * parent fixed at creation, no rename, hierarchy depth at most 7, no delete
 * while child groups exist, at most 10 groups per thing, and a thing is in
 * at most one group of any hierarchy (tree under one root group).
 * Requests arrive decoded from JSON (attribute maps and name lists stay
 * borrowed jansson values); read results are the AWS response objects.
 * Knows nothing of HTTP, MQTT or SQL.
 */
#ifndef FL_THING_GROUPS_H
#define FL_THING_GROUPS_H

#include <jansson.h>
#include <stdint.h>

#include "core.h"

#define THING_GROUPS_MAX_DEPTH 7      /* levels, root included */
#define THING_GROUPS_MAX_PER_THING 10 /* direct memberships of one thing */
#define THING_GROUPS_MAX_ATTRS 50     /* attributes of one group */

/* thingGroupProperties. Every pointer is borrowed for the call. */
struct thing_group_props {
    const char *description; /* thingGroupDescription; NULL: absent */
    json_t *attributes;      /* attributePayload.attributes (object of strings); NULL: absent */
    int merge;               /* attributePayload.merge; UpdateThingGroup only */
};

/* CreateThingGroup input. */
struct thing_group_create_in {
    const char *name;   /* required */
    const char *parent; /* parentGroupName; NULL for a root group */
    struct thing_group_props props;
    json_t *tags; /* TagList or NULL */
};

/* UpdateThingGroup input. */
struct thing_group_update_in {
    const char *name; /* required */
    struct thing_group_props props;
    int has_expected_version;
    int64_t expected_version;
};

/* ListThingGroups filters. recursive is -1 when absent: then a listing
 * under parentGroup returns direct children and one without returns every
 * group (the developer guide's examples); recursive=1 under a parent walks
 * the whole subtree, recursive=0 without a parent returns root groups. */
struct thing_groups_filter {
    const char *parent;      /* parentGroup or NULL */
    const char *name_prefix; /* namePrefixFilter or NULL */
    int recursive;           /* -1, 0 or 1 */
};

/* Which thing and which group a membership call names: a name or an ARN
 * for each (both may be given; they must then agree). */
struct thing_group_member_in {
    const char *group_name;
    const char *group_arn;
    const char *thing_name;
    const char *thing_arn;
    int override_dynamic; /* overrideDynamicGroups: no dynamic groups yet, accepted */
};

/* CreateThingGroup. Validates names, properties and tags; the parent must
 * exist (FL_INVALID_REQUEST otherwise: the operation's model has no
 * ResourceNotFoundException) and the new group may not be deeper than 7.
 * An identical re-create (same parent, description and attributes; tags
 * are not compared and not applied) returns the existing group; a
 * different one fails with FL_ALREADY_EXISTS (err->resource_id and
 * resource_arn set). *out = {thingGroupName,
 * thingGroupArn, thingGroupId} (new reference). Returns FL_OK,
 * FL_INVALID_REQUEST, FL_ALREADY_EXISTS, or a store error. */
enum fl_code thing_groups_create(struct fl_core *c, const struct thing_group_create_in *in, json_t **out,
                                 struct fl_err *err);

/* DescribeThingGroup. *out = {thingGroupName, thingGroupId, thingGroupArn,
 * version, thingGroupProperties{thingGroupDescription?, attributePayload
 * {attributes}}, thingGroupMetadata{parentGroupName?, rootToParentThingGroups
 * [{groupName, groupArn}] (root first, itself excluded), creationDate}}
 * (new reference). Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a
 * store error. */
enum fl_code thing_groups_describe(struct fl_core *c, const char *name, json_t **out, struct fl_err *err);

/* UpdateThingGroup. A present description replaces the old one; present
 * attributes are merged (merge=1: an empty value removes that attribute)
 * or replace all of them (merge=0: empty values are dropped). The version
 * goes up by one; *version receives it. Returns FL_OK, FL_INVALID_REQUEST,
 * FL_NOT_FOUND, FL_VERSION_CONFLICT, or a store error. */
enum fl_code thing_groups_update(struct fl_core *c, const struct thing_group_update_in *in, int64_t *version,
                                 struct fl_err *err);

/* DeleteThingGroup. Refused (FL_INVALID_REQUEST) while the group has child
 * groups; member things just leave it; its tags go with it. A group that
 * does not exist is not an error (the model lists no ResourceNotFound).
 * Returns FL_OK, FL_INVALID_REQUEST, FL_VERSION_CONFLICT, or a store
 * error. */
enum fl_code thing_groups_delete(struct fl_core *c, const char *name, int has_expected_version,
                                 int64_t expected_version, struct fl_err *err);

/* ListThingGroups, in name order. max_results 1..250; next_token NULL for
 * the first page. *out = {"thingGroups":[{groupName, groupArn}],
 * "nextToken"?} (new reference). Returns FL_OK, FL_INVALID_REQUEST,
 * FL_NOT_FOUND (parentGroup), or a store error. */
enum fl_code thing_groups_list(struct fl_core *c, const struct thing_groups_filter *f, int max_results,
                               const char *next_token, json_t **out, struct fl_err *err);

/* AddThingToThingGroup. Adding a thing to a group it is already in
 * succeeds and changes nothing. Refused with FL_INVALID_REQUEST when the
 * thing is already in another group of the same hierarchy, or already in
 * 10 groups. Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND (thing or
 * group), or a store error. */
enum fl_code thing_groups_add_thing(struct fl_core *c, const struct thing_group_member_in *in,
                                    struct fl_err *err);

/* RemoveThingFromThingGroup. Removing a thing that is not in the group
 * succeeds. Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND (thing or
 * group), or a store error. */
enum fl_code thing_groups_remove_thing(struct fl_core *c, const struct thing_group_member_in *in,
                                       struct fl_err *err);

/* UpdateThingGroupsForThing: to_remove then to_add (JSON arrays of group
 * names, either may be NULL), all in one transaction: any failure leaves
 * every membership as it was. Removing first lets a thing move between
 * groups of one hierarchy in one call. Same codes as add/remove. */
enum fl_code thing_groups_update_for_thing(struct fl_core *c, const char *thing_name, json_t *to_add,
                                           json_t *to_remove, struct fl_err *err);

/* ListThingsInThingGroup, in thing-name order: direct members, or with
 * recursive the members of the group and of all groups below it.
 * *out = {"things":[name...], "nextToken"?} (new reference). Returns FL_OK,
 * FL_INVALID_REQUEST, FL_NOT_FOUND, or a store error. */
enum fl_code thing_groups_list_things(struct fl_core *c, const char *group, int recursive, int max_results,
                                      const char *next_token, json_t **out, struct fl_err *err);

/* ListThingGroupsForThing, in name order: the groups the thing was added
 * to and all their ancestors ("including any parent groups", developer
 * guide). *out = {"thingGroups":[{groupName, groupArn}], "nextToken"?}
 * (new reference). Returns FL_OK, FL_INVALID_REQUEST, FL_NOT_FOUND, or a
 * store error. */
enum fl_code thing_groups_list_for_thing(struct fl_core *c, const char *thing_name, int max_results,
                                         const char *next_token, json_t **out, struct fl_err *err);

#endif
