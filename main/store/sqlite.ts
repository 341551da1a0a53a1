/**
 * better-sqlite3, loaded with require(): imported from an ES module, Node
 * would first scan its CommonJS source for export names, on every start of
 * every command (`npm run bench -- startup`).
 */
import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'

export const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3
export type Database = BetterSqlite3.Database
