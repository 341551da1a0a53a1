/**
 * Migration 006: a site's fleet. The technician's names for devices (an
 * alias, unique, and tags), kept apart from what discovery writes into
 * `devices` so that a fresh probe never overwrites them; and rollouts: one
 * revision onto many devices, each device's part persisted as it goes so
 * that a rollout killed with -9 resumes where it stood. Only new tables,
 * all IF NOT EXISTS: applying it twice, or onto a library whose devices
 * tables DeviceStore created itself, changes nothing.
 */
export const sql = `
CREATE TABLE IF NOT EXISTS device_aliases (
  device_id  TEXT PRIMARY KEY,
  alias      TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE IF NOT EXISTS device_tags (
  device_id  TEXT NOT NULL,
  tag        TEXT NOT NULL,
  PRIMARY KEY (device_id, tag)
) STRICT;
CREATE INDEX IF NOT EXISTS device_tags_tag ON device_tags(tag);

CREATE TABLE IF NOT EXISTS rollouts (
  id             INTEGER PRIMARY KEY,
  plan_key       TEXT NOT NULL,              -- sha256 of revision, devices, canaries and --commit: the same command again resumes
  revision_id    TEXT NOT NULL,
  revision_name  TEXT,
  state          TEXT NOT NULL,              -- running | stopped | finished
  options        TEXT NOT NULL,              -- JSON: parallel, maxFailures, commit
  created_at     INTEGER NOT NULL,
  ended_at       INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS rollouts_key ON rollouts(plan_key, state);

CREATE TABLE IF NOT EXISTS rollout_devices (
  rollout_id      INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
  device_id       TEXT NOT NULL,
  position        INTEGER NOT NULL,
  canary          INTEGER NOT NULL,
  state           TEXT NOT NULL,             -- pending | running | succeeded | failed | skipped | not-started
  outcome         TEXT,                      -- DONE, UPDATED, ERROR, WONTGO, FAILED, TIMEOUT, REFUSED, ALREADY_RUNS, NOT_STARTED
  message         TEXT,
  error_code      TEXT,
  install_id      INTEGER,                   -- device_installs.id of this device's install in this rollout
  revision_before TEXT,
  revision_after  TEXT,
  bytes_sent      INTEGER NOT NULL DEFAULT 0,
  started_at      INTEGER,
  ended_at        INTEGER,
  PRIMARY KEY (rollout_id, device_id)
) STRICT;
`
