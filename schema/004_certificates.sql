-- 004_certificates: device certificates, CA certificates, and principals
-- (certificates attached to things). Timestamps are ms since the epoch;
-- certificate ids are the hex SHA-256 of the DER, as AWS computes them.

CREATE TABLE ca_certificates (
    id                 TEXT PRIMARY KEY,         -- hex SHA-256 of the DER
    pem                TEXT NOT NULL,
    subject            TEXT NOT NULL,            -- RFC 2253: matched against device certs' issuer
    status             TEXT NOT NULL,            -- ACTIVE | INACTIVE
    auto_registration  TEXT NOT NULL DEFAULT 'DISABLE', -- ENABLE | DISABLE
    registration_json  TEXT,                     -- registrationConfig, kept for provisioning
    template_name      TEXT,                     -- registrationConfig.templateName (ListCACertificates filter)
    certificate_mode   TEXT NOT NULL DEFAULT 'DEFAULT', -- DEFAULT | SNI_ONLY
    builtin            INTEGER NOT NULL DEFAULT 0,      -- fleetd's own root
    owned_by           TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    not_before         INTEGER NOT NULL,
    not_after          INTEGER NOT NULL,
    generation_id      TEXT NOT NULL,
    customer_version   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX ca_certificates_by_created ON ca_certificates(created_at, id);
CREATE INDEX ca_certificates_by_subject ON ca_certificates(subject);
CREATE INDEX ca_certificates_by_template ON ca_certificates(template_name, created_at, id);

-- A CA certificate cannot be deleted while certificates reference it
-- (DeleteCACertificate checks certificates_by_ca first), so ca_id needs no
-- ON DELETE action.
CREATE TABLE certificates (
    id                 TEXT PRIMARY KEY,         -- hex SHA-256 of the DER
    pem                TEXT NOT NULL,
    status             TEXT NOT NULL,            -- ACTIVE | INACTIVE | REVOKED | PENDING_TRANSFER |
                                                 -- REGISTER_INACTIVE | PENDING_ACTIVATION
    ca_id              TEXT REFERENCES ca_certificates(id),  -- NULL: registered without CA
    certificate_mode   TEXT NOT NULL DEFAULT 'DEFAULT',      -- DEFAULT | SNI_ONLY
    owned_by           TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    not_before         INTEGER NOT NULL,
    not_after          INTEGER NOT NULL,
    generation_id      TEXT NOT NULL,
    customer_version   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX certificates_by_created ON certificates(created_at, id);
CREATE INDEX certificates_by_ca ON certificates(ca_id, created_at, id);

-- A principal is a certificate here (Cognito identities do not apply on
-- premises). principal is the certificate's ARN as attached (the policy
-- engine looks attachments up by ARN, as policy_targets stores them);
-- certificate_id is what certificates.c and principals.c key on.
-- DeleteCertificate refuses while a thing is attached: no ON DELETE action.
CREATE TABLE thing_principals (
    thing_id       INTEGER NOT NULL REFERENCES things(id) ON DELETE CASCADE,
    principal      TEXT NOT NULL,                -- certificate ARN
    certificate_id TEXT NOT NULL REFERENCES certificates(id),
    principal_type TEXT NOT NULL DEFAULT 'NON_EXCLUSIVE_THING', -- | EXCLUSIVE_THING
    attached_at    INTEGER NOT NULL,
    PRIMARY KEY (thing_id, certificate_id)
) WITHOUT ROWID;
CREATE INDEX thing_principals_by_principal ON thing_principals(principal, thing_id);
CREATE INDEX thing_principals_by_certificate ON thing_principals(certificate_id, thing_id);
