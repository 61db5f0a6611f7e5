-- 001_core: deployment settings and the access keys that sign REST requests.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- SigV4 needs the secret itself (HMAC), so it is stored; the database file
-- is created mode 0600 in a 0700 data directory.
CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    secret        TEXT NOT NULL,
    read_only     INTEGER NOT NULL DEFAULT 0,
    bootstrap     INTEGER NOT NULL DEFAULT 0,  -- the admin key made on first start
    created_at    INTEGER NOT NULL,            -- ms since epoch
    revoked_at    INTEGER                      -- NULL while usable
);
