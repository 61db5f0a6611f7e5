-- 003_groups: static thing groups, membership, and resource tags.

-- path is the materialised ancestry "/root/child/name/": names and parents
-- are immutable in AWS IoT, so a subtree is the range [path, path || x'ff').
CREATE TABLE thing_groups (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    group_id        TEXT NOT NULL,
    parent_id       INTEGER REFERENCES thing_groups(id),
    path            TEXT NOT NULL UNIQUE,
    depth           INTEGER NOT NULL,          -- 1 for a root group
    description     TEXT,
    attributes_json TEXT,                      -- attributePayload.attributes
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL
);
CREATE INDEX thing_groups_by_parent ON thing_groups(parent_id, name);

CREATE TABLE thing_group_members (
    group_id INTEGER NOT NULL REFERENCES thing_groups(id) ON DELETE CASCADE,
    thing_id INTEGER NOT NULL REFERENCES things(id) ON DELETE CASCADE,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, thing_id)
) WITHOUT ROWID;
CREATE INDEX thing_group_members_by_thing ON thing_group_members(thing_id, group_id);

-- Tags on any taggable resource, keyed by ARN.
CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
) WITHOUT ROWID;
