/** The UI <-> main API: contract, types, validators and the client builder. */
export * from './contract.js'
export * from './client.js'
export type * from './types.js'
export * from './trust.js'
export type * from './fleet.js'
