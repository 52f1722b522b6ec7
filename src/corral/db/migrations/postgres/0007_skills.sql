-- Skills (corral.skills): a skill row per custom skill, a version row per upload. A version's files are one zip
-- archive, a blob (corral.blobs) named by `blob_ref` (sha256:…); a blob is live while a version row names it.
-- `name` is the skill's immutable slug (the archive's top-level directory), unique in its workspace;
-- `latest_version_id` always names a version of the skill (a skill holds at least one).
CREATE TABLE skills (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    latest_version_id TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX skills_by_name ON skills (workspace_id, name);
CREATE INDEX skills_by_workspace ON skills (workspace_id, created_at, id);
CREATE TABLE skill_versions (
    id TEXT COLLATE "C" PRIMARY KEY,
    skill_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    blob_ref TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX skill_versions_by_skill ON skill_versions (skill_id, created_at, id);
CREATE INDEX skill_versions_by_blob ON skill_versions (blob_ref)
