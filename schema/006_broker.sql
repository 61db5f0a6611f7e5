-- 006_broker: what connects fleetd and the broker plugin.

-- The outbox: changes a device must hear about, written by fleetd in the
-- same transaction as the change, drained by the plugin (on a kick over the
-- broker's unix socket, and on its tick as a safety net). Each broker keeps
-- its own cursor, so rows written while a broker is down reach it later.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,    -- see server/core/outbox.h
    target     TEXT,             -- topic, certificate id, thing name, or NULL = everyone
    client_id  TEXT,             -- publish: deliver to this client only (NULL: normal routing)
    payload    BLOB,
    qos        INTEGER NOT NULL DEFAULT 0,
    retain     INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_by_created ON outbox(created_at);

CREATE TABLE outbox_cursors (
    broker_id  TEXT PRIMARY KEY,
    last_id    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Connectivity per thing (client id = thing name), kept by the plugin.
CREATE TABLE connectivity (
    thing_name        TEXT PRIMARY KEY,
    connected         INTEGER NOT NULL,
    timestamp_ms      INTEGER NOT NULL,   -- of the last connect or disconnect
    disconnect_reason TEXT,
    session_id        TEXT,
    principal         TEXT,               -- certificate id
    version           INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX connectivity_by_state ON connectivity(connected, thing_name);
