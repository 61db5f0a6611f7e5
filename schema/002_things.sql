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
-- first), so type_id needs no ON DELETE action. thing_id (a random UUID made
-- by things.c) has no index: nothing looks a thing up by it, and a unique
-- index would cost every CreateThing a random leaf page.
CREATE TABLE things (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    thing_id    TEXT NOT NULL,
    type_id     INTEGER REFERENCES thing_types(id),
    attributes  TEXT NOT NULL DEFAULT '{}', -- JSON object, name -> non-empty value, keys sorted
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- Partial: most things have no type, and those need no entry (every query
-- of this index has "type_id = ?", which implies type_id IS NOT NULL).
CREATE INDEX things_by_type ON things(type_id, name) WHERE type_id IS NOT NULL;

-- The search index of attribute values, one row per (attribute, thing): the
-- attributes themselves are things.attributes, which DescribeThing and
-- ListThings read with the row. ListThings filtered by attribute pages in
-- (value, thing name) order straight from the primary key; thing_name repeats
-- things.name (immutable in AWS IoT) for that. No foreign key: a cascade would
-- need one more index (on thing_id); store_things.c deletes a thing's rows
-- with the thing.
CREATE TABLE thing_attributes (
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    thing_name TEXT NOT NULL,
    thing_id   INTEGER NOT NULL,
    PRIMARY KEY (name, value, thing_name)
) WITHOUT ROWID;
