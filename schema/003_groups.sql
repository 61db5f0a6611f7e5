-- 003_groups: static thing groups, membership, and resource tags.
-- Timestamps are milliseconds since the epoch.

-- path is the materialised ancestry "/root/child/name/". Names and parents
-- are immutable in AWS IoT, so path never changes and a subtree is the range
-- [path, path with its final '/' replaced by '0') ('0' follows '/' in ASCII),
-- which both SQLite and PostgreSQL (C collation) scan through the index.
CREATE TABLE thing_groups (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    group_id        TEXT NOT NULL,
    parent_id       INTEGER REFERENCES thing_groups(id),
    path            TEXT NOT NULL UNIQUE,
    depth           INTEGER NOT NULL,          -- 1 for a root group, at most 7
    description     TEXT,                      -- NULL when never given
    attributes_json TEXT NOT NULL DEFAULT '{}', -- attributePayload.attributes, canonical JSON
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL
);
CREATE INDEX thing_groups_by_parent ON thing_groups(parent_id, name);

-- Direct membership: the thing was added to this very group. thing_name is a
-- copy of things.name (immutable: things cannot be renamed) so that a group's
-- members come out of the primary key already sorted for keyset pagination.
CREATE TABLE thing_group_members (
    group_id   INTEGER NOT NULL REFERENCES thing_groups(id) ON DELETE CASCADE,
    thing_name TEXT NOT NULL,
    thing_id   INTEGER NOT NULL REFERENCES things(id) ON DELETE CASCADE,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (group_id, thing_name)
) WITHOUT ROWID;
CREATE INDEX thing_group_members_by_thing ON thing_group_members(thing_id, group_id);

-- Closure of the membership over the hierarchy: one row per (group the thing
-- is in, or any ancestor of it; thing). A recursive ListThingsInThingGroup is
-- then a keyset range of the primary key, whatever the size of the subtree,
-- and "is thing T under group G" is one lookup. A thing is in at most one
-- group per hierarchy, so (ancestor_id, thing_name) is unique; at most 7 rows
-- per membership (depth limit). group_id is the direct group the row derives
-- from; it deliberately has no foreign key (a cascade would need an index on
-- it): store_groups_delete() removes those rows explicitly.
CREATE TABLE thing_group_closure (
    ancestor_id INTEGER NOT NULL REFERENCES thing_groups(id) ON DELETE CASCADE,
    thing_name  TEXT NOT NULL,
    thing_id    INTEGER NOT NULL REFERENCES things(id) ON DELETE CASCADE,
    group_id    INTEGER NOT NULL,
    PRIMARY KEY (ancestor_id, thing_name)
) WITHOUT ROWID;
CREATE INDEX thing_group_closure_by_thing ON thing_group_closure(thing_id, group_id);

-- Tags on any taggable resource, keyed by ARN.
CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
) WITHOUT ROWID;
