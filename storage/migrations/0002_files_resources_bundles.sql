-- Uploaded files, resources with revisions, bundles with revisions.

CREATE TABLE files (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    filename   TEXT NOT NULL,
    mime_type  TEXT NOT NULL,
    size       BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    blob_key   TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX files_org_created ON files (org_id, status, created_at, id);

CREATE TABLE resources (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    slug        TEXT NOT NULL,
    name        TEXT,
    description TEXT,
    created_at  BIGINT NOT NULL
);

CREATE UNIQUE INDEX resources_org_slug ON resources (org_id, slug);

CREATE TABLE resource_revisions (
    id          TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    file_id     TEXT NOT NULL REFERENCES files(id),
    label       TEXT,
    created_at  BIGINT NOT NULL
);

CREATE INDEX resource_revisions_resource ON resource_revisions (resource_id, created_at, id);
CREATE INDEX resource_revisions_file ON resource_revisions (file_id);

CREATE TABLE bundles (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    slug        TEXT NOT NULL,
    name        TEXT,
    description TEXT,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);

CREATE UNIQUE INDEX bundles_org_slug_live ON bundles (org_id, slug) WHERE deleted_at IS NULL;

CREATE TABLE bundle_revisions (
    id         TEXT PRIMARY KEY,
    bundle_id  TEXT NOT NULL REFERENCES bundles(id),
    file_id    TEXT NOT NULL REFERENCES files(id),
    version    TEXT NOT NULL,
    manifest   TEXT NOT NULL,
    blob_key   TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX bundle_revisions_version ON bundle_revisions (bundle_id, version);
CREATE INDEX bundle_revisions_file ON bundle_revisions (file_id);
