/** Migration 003: devices seen (discovery or by address) and every install onto one. */
export const sql = `
CREATE TABLE IF NOT EXISTS devices (
  device_id   TEXT PRIMARY KEY,              -- the device's Pantahub id (mDNS TXT device-id), or host:port when unknown
  name        TEXT,                          -- its nick (mDNS instance name)
  addrs       TEXT NOT NULL DEFAULT '[]',    -- JSON array of addresses last seen
  port        INTEGER,                       -- SSH port it advertises
  claimed     INTEGER,                       -- 1 claimed, 0 unclaimed (a challenge is advertised), NULL unknown
  pvr_sdk     INTEGER NOT NULL DEFAULT 0,    -- 1 when its pvr-sdk HTTP endpoint answered
  revision    TEXT,
  status      TEXT,
  source      TEXT NOT NULL,                 -- mdns | manual
  last_seen   INTEGER NOT NULL               -- ms since the epoch
) STRICT;

CREATE TABLE IF NOT EXISTS device_installs (
  id            INTEGER PRIMARY KEY,
  device_id     TEXT NOT NULL,               -- as in devices.device_id (no foreign key: history outlives the device row)
  address       TEXT NOT NULL,               -- where it was reached (host:port)
  via           TEXT NOT NULL,               -- pvr-sdk | ssh
  revision_id   TEXT NOT NULL,
  revision_name TEXT,
  step          TEXT,                        -- locals/<name>
  status        TEXT NOT NULL,               -- STARTED, then the device's final status, or FAILED / TIMEOUT
  status_msg    TEXT,
  error_code    TEXT,
  bytes_sent    INTEGER NOT NULL DEFAULT 0,
  objects_sent  INTEGER NOT NULL DEFAULT 0,
  started_at    INTEGER NOT NULL,
  ended_at      INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS device_installs_device ON device_installs(device_id, started_at);
`
