-- 004_certificates: device certificates, CA certificates, and principals
-- (certificates attached to things).

CREATE TABLE ca_certificates (
    id                 TEXT PRIMARY KEY,         -- hex SHA-256 of the DER
    pem                TEXT NOT NULL,
    status             TEXT NOT NULL,            -- ACTIVE | INACTIVE
    auto_registration  TEXT NOT NULL DEFAULT 'DISABLE', -- ENABLE | DISABLE
    registration_json  TEXT,                     -- registrationConfig, kept for provisioning
    certificate_mode   TEXT NOT NULL DEFAULT 'DEFAULT', -- DEFAULT | SNI_ONLY
    builtin            INTEGER NOT NULL DEFAULT 0,      -- fleetd's own root
    owned_by           TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    not_before         INTEGER,
    not_after          INTEGER,
    generation_id      TEXT NOT NULL,
    customer_version   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX ca_certificates_by_created ON ca_certificates(created_at, id);

CREATE TABLE certificates (
    id                 TEXT PRIMARY KEY,         -- hex SHA-256 of the DER
    pem                TEXT NOT NULL,
    status             TEXT NOT NULL,            -- ACTIVE | INACTIVE | REVOKED | PENDING_TRANSFER |
                                                 -- REGISTER_INACTIVE | PENDING_ACTIVATION
    ca_id              TEXT REFERENCES ca_certificates(id),  -- NULL: registered without CA
    certificate_mode   TEXT NOT NULL DEFAULT 'DEFAULT',
    owned_by           TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    not_before         INTEGER,
    not_after          INTEGER,
    generation_id      TEXT NOT NULL,
    customer_version   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX certificates_by_created ON certificates(created_at, id);
CREATE INDEX certificates_by_ca ON certificates(ca_id, created_at, id);

-- A principal is a certificate ARN here (Cognito ids do not apply on premises).
CREATE TABLE thing_principals (
    thing_id       INTEGER NOT NULL REFERENCES things(id) ON DELETE CASCADE,
    principal      TEXT NOT NULL,                -- certificate ARN
    certificate_id TEXT REFERENCES certificates(id),
    principal_type TEXT NOT NULL DEFAULT 'NON_EXCLUSIVE_THING', -- | EXCLUSIVE_THING
    attached_at    INTEGER NOT NULL,
    PRIMARY KEY (thing_id, principal)
) WITHOUT ROWID;
CREATE INDEX thing_principals_by_principal ON thing_principals(principal, thing_id);
