/**
 * Migration 007: the SSH login of each device. On a Pantavisor device the
 * SSH login name is the container to enter (fallbear-cmd, pantavisor
 * debug.c), so Fieldsync remembers per device the container the technician
 * chose (`--ssh-user`, the app's SSH container field) once a login as it
 * worked, and the containers the device's running state gives the
 * management role (learnt after a login). A new table, IF NOT EXISTS:
 * applying it twice changes nothing.
 */
export const sql = `
CREATE TABLE IF NOT EXISTS device_ssh (
  device_id      TEXT PRIMARY KEY,          -- as in devices.device_id (also a device reached only by address)
  container      TEXT,                      -- the technician's choice of login name, once a login as it worked
  mgmt           TEXT,                      -- JSON array: containers with the management role in the state the device ran, best first
  mgmt_revision  TEXT,                      -- revision id of that state
  updated_at     INTEGER NOT NULL
) STRICT;
`
