/**
 * The data that crosses the UI <-> main boundary (plain JSON: no classes, no
 * Dates, no Maps). Times are epoch milliseconds; sizes are bytes.
 */
export * from './types/system.js'
export * from './types/library.js'
export * from './types/transfers.js'
export * from './types/peers.js'
export * from './types/devices.js'
export * from './types/usb.js'
export * from './types/compose.js'
