/**
 * better-sqlite3, loaded with require(): imported from an ES module, Node
 * would first scan its CommonJS source for export names, on every start of
 * every command (`npm run bench -- startup`).
 */
import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'

export const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3
export type Database = BetterSqlite3.Database

/**
 * How long a statement waits for another process that holds a SQLite lock
 * (the index, leases.db) before it fails with E_BUSY. Writers hold it for a
 * transaction's length, milliseconds as a rule; a loaded two-core machine
 * with several Fieldsync processes starting at once has been seen past 5 s.
 */
export const BUSY_WAIT_MS = 15_000
