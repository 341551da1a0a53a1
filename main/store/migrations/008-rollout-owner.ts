/**
 * Migration 008: which process runs a rollout. A rollout running in one
 * process (the CLI, the app) must not be resumed by another at the same
 * time, which would drive the same devices twice: the process that runs it
 * records its pid and start (main/store/process-identity.ts), and another
 * process resumes it only once that process is gone. Two nullable columns.
 */
export const sql = `
ALTER TABLE rollouts ADD COLUMN owner_pid INTEGER;
ALTER TABLE rollouts ADD COLUMN owner_start TEXT;
`
