-- 005_policies: IoT policies, their versions, and their attachments to
-- targets (certificate ARNs and static thing-group ARNs).
-- Timestamps are milliseconds since the epoch.

-- Row ids only grow (AUTOINCREMENT is not needed: a new row gets max+1),
-- so ListPolicies pages in creation order straight from the primary key.
-- Version ids come from next_version and are never reused, as in AWS.
CREATE TABLE policies (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    default_version INTEGER NOT NULL,
    next_version    INTEGER NOT NULL DEFAULT 2,
    generation_id   TEXT NOT NULL,              -- changes whenever the default version does
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- At most 5 versions per policy (policies.c); the document is kept exactly
-- as submitted (GetPolicy returns it verbatim).
CREATE TABLE policy_versions (
    policy_id  INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    document   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (policy_id, version)
) WITHOUT ROWID;

-- target is the full ARN of a certificate or a thing group, as AttachPolicy
-- names it. No cascade from policies: DeletePolicy is refused while a
-- policy is attached. Deleting a certificate or a thing group must check
-- policy_targets_by_target first.
CREATE TABLE policy_targets (
    policy_id   INTEGER NOT NULL REFERENCES policies(id),
    target      TEXT NOT NULL,
    attached_at INTEGER NOT NULL,
    PRIMARY KEY (policy_id, target)
) WITHOUT ROWID;
CREATE INDEX policy_targets_by_target ON policy_targets(target, policy_id);
