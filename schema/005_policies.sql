-- 005_policies: IoT policies, their versions, and their attachments to
-- targets (certificate ARNs and static thing-group ARNs).

CREATE TABLE policies (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    default_version INTEGER NOT NULL,
    next_version    INTEGER NOT NULL DEFAULT 2,
    generation_id   TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE policy_versions (
    policy_id  INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    document   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (policy_id, version)
) WITHOUT ROWID;

CREATE TABLE policy_targets (
    policy_id   INTEGER NOT NULL REFERENCES policies(id),
    target      TEXT NOT NULL,                   -- certificate or thinggroup ARN
    attached_at INTEGER NOT NULL,
    PRIMARY KEY (policy_id, target)
) WITHOUT ROWID;
CREATE INDEX policy_targets_by_target ON policy_targets(target, policy_id);
