/** Migration 005: tables for usb (filled in by the usb work; empty is a valid no-op). */
export const sql = `
`
