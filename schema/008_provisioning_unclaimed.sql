-- 008_provisioning_unclaimed: certificates made over the fleet-provisioning
-- MQTT API ($aws/certificates/create[-from-csr]/...) that no device has
-- claimed yet. They are PENDING_ACTIVATION; provisioning with their
-- ownership token removes the row, and the plugin's sweep deletes the
-- certificates whose row expired (docs/provisioning.md). A row goes with
-- its certificate.
CREATE TABLE provisioning_unclaimed (
    certificate_id TEXT PRIMARY KEY REFERENCES certificates(id) ON DELETE CASCADE,
    expires_at     INTEGER NOT NULL              -- ms since the epoch
) WITHOUT ROWID;
CREATE INDEX provisioning_unclaimed_by_expiry ON provisioning_unclaimed(expires_at);
