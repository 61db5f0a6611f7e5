-- 007_provisioning: fleet-provisioning templates, their versions, and the
-- ownership tokens already used. Timestamps are milliseconds since the epoch.

-- Row ids only grow, so ListProvisioningTemplates pages in creation order
-- from the primary key. Version ids come from next_version, never reused.
CREATE TABLE provisioning_templates (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT,
    enabled         INTEGER NOT NULL DEFAULT 0,
    role_arn        TEXT NOT NULL,
    hook_target     TEXT,                      -- preProvisioningHook.targetArn
    hook_version    TEXT,                      -- preProvisioningHook.payloadVersion
    type            TEXT NOT NULL,             -- FLEET_PROVISIONING | JITP
    default_version INTEGER NOT NULL,
    next_version    INTEGER NOT NULL DEFAULT 2,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- At most 5 versions per template (provisioning.c); bodies kept verbatim.
CREATE TABLE provisioning_template_versions (
    template_id INTEGER NOT NULL REFERENCES provisioning_templates(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (template_id, version)
) WITHOUT ROWID;

-- certificateOwnershipToken nonces consumed: a token is accepted once.
-- Rows past expires_at are useless (the token's MAC carries the expiry)
-- and are removed as new tokens are issued.
CREATE TABLE provisioning_tokens_used (
    nonce      TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX provisioning_tokens_used_by_expiry ON provisioning_tokens_used(expires_at);
