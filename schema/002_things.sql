-- 002_things: thing types, things and their attributes.
-- Timestamps are milliseconds since the epoch.

CREATE TABLE thing_types (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    type_id         TEXT NOT NULL,
    description     TEXT,
    searchable_json TEXT,                  -- JSON array of attribute names
    deprecated      INTEGER NOT NULL DEFAULT 0,
    deprecated_at   INTEGER,
    created_at      INTEGER NOT NULL
);

CREATE TABLE things (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    thing_id    TEXT NOT NULL UNIQUE,
    type_id     INTEGER REFERENCES thing_types(id),
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX things_by_type ON things(type_id, name);

CREATE TABLE thing_attributes (
    thing_id INTEGER NOT NULL REFERENCES things(id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (thing_id, name)
) WITHOUT ROWID;
CREATE INDEX thing_attributes_by_value ON thing_attributes(name, value, thing_id);
