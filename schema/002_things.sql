-- 002_things: thing types, things and their attributes.
-- Timestamps are milliseconds since the epoch.

CREATE TABLE thing_types (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    type_id         TEXT NOT NULL,
    description     TEXT,                  -- thingTypeDescription
    searchable_json TEXT,                  -- JSON array of attribute names
    mqtt5_json      TEXT,                  -- mqtt5Configuration, compact JSON with sorted keys
    deprecated      INTEGER NOT NULL DEFAULT 0,
    deprecated_at   INTEGER,
    created_at      INTEGER NOT NULL
);

-- A type in use cannot be deleted (DeleteThingType checks things_by_type
-- first), so type_id needs no ON DELETE action.
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

-- thing_name repeats things.name (immutable in AWS IoT) so that ListThings
-- filtered by attribute pages in (value, thing name) order straight from
-- thing_attributes_by_value, without sorting the matches.
CREATE TABLE thing_attributes (
    thing_id   INTEGER NOT NULL REFERENCES things(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    thing_name TEXT NOT NULL,
    PRIMARY KEY (thing_id, name)
) WITHOUT ROWID;
CREATE INDEX thing_attributes_by_value ON thing_attributes(name, value, thing_name);
