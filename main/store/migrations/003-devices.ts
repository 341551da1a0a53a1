/** Migration 003: tables for devices (filled in by the devices work; empty is a valid no-op). */
export const sql = `
`
