/** Migration 1: the revision library. */
export const sql = `
CREATE TABLE revisions (
  id          TEXT PRIMARY KEY,              -- sha256 of the canonical state JSON (Pantahub's state-sha)
  state       BLOB NOT NULL,                 -- the original bytes, exactly as imported
  spec        TEXT NOT NULL,
  source      TEXT NOT NULL,                 -- where it came from (file, checkout, peer, stick)
  imported_at INTEGER NOT NULL,              -- ms since the epoch
  complete    INTEGER NOT NULL               -- 1 when every object is in the store
) STRICT;

CREATE TABLE revision_names (
  name        TEXT PRIMARY KEY,
  revision_id TEXT NOT NULL REFERENCES revisions(id) ON DELETE CASCADE,
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX revision_names_rev ON revision_names(revision_id);

CREATE TABLE objects (
  sha     TEXT PRIMARY KEY,
  size    INTEGER,                           -- NULL while unknown (never seen the bytes)
  present INTEGER NOT NULL DEFAULT 0         -- 1 when <home>/objects/<sha> holds the verified bytes
) STRICT;

CREATE TABLE revision_objects (
  revision_id TEXT NOT NULL REFERENCES revisions(id) ON DELETE CASCADE,
  key         TEXT NOT NULL,
  sha         TEXT NOT NULL REFERENCES objects(sha),
  PRIMARY KEY (revision_id, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX revision_objects_sha ON revision_objects(sha);
`
