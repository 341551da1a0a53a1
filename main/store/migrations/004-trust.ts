/** Migration 004: tables for trust (filled in by the trust work; empty is a valid no-op). */
export const sql = `
`
