-- Worker nodes and their one-time enrollment tokens.

CREATE TABLE nodes (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    hostname          TEXT NOT NULL DEFAULT '',
    labels            TEXT NOT NULL DEFAULT '[]',
    version           TEXT NOT NULL DEFAULT '',
    credential_hash   TEXT NOT NULL UNIQUE,
    draining          BOOLEAN NOT NULL DEFAULT FALSE,
    metrics           TEXT,
    last_heartbeat_at BIGINT,
    connected_at      BIGINT,
    created_at        BIGINT NOT NULL
);

CREATE TABLE node_enroll_tokens (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    labels     TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL,
    spent_at   BIGINT,
    node_id    TEXT,
    created_at BIGINT NOT NULL
);
