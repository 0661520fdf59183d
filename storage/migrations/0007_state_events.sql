-- The moves of stateful nouns that are not part of an instance's history
-- (agent sessions, commands), each with its reason.

CREATE TABLE state_events (
    id          TEXT PRIMARY KEY,
    noun        TEXT NOT NULL,
    subject_id  TEXT NOT NULL,
    instance_id TEXT NOT NULL DEFAULT '',
    from_state  TEXT NOT NULL DEFAULT '',
    to_state    TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

CREATE INDEX state_events_subject ON state_events (subject_id, created_at, id);
