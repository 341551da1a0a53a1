/** Migration 002: LAN peers — blocked peers and the progress of partial objects being pulled. */
export const sql = `
CREATE TABLE peer_blocks (
  peer_id    TEXT PRIMARY KEY,               -- libp2p peer id (base58)
  blocked_at INTEGER NOT NULL                -- ms since the epoch
) STRICT;

CREATE TABLE peer_partials (
  sha        TEXT PRIMARY KEY,               -- the object being pulled into <home>/partial/<sha>
  size       INTEGER NOT NULL,
  done       TEXT NOT NULL,                  -- JSON [[start, end], ...]: byte ranges written, sorted, merged
  updated_at INTEGER NOT NULL
) STRICT;
`
