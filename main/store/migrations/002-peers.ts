/** Migration 002: tables for peers (filled in by the peers work; empty is a valid no-op). */
export const sql = `
`
