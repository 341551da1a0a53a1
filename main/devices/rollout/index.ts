/** Rollouts: one revision onto many devices (runner.ts: the waves; device-part.ts: one device's part; types.ts: the contract), persisted (store.ts), planned (plan.ts), reported (report.ts). */
export { Rollout, planKey, type RolloutRequest, type RolloutEvent, type RolloutResult, type RolloutReportRow } from './runner.js'
export { RolloutStore, busyElsewhere, type RolloutDeviceRow, type RolloutDeviceState, type RolloutState, type UnfinishedRolloutRecord } from './store.js'
export { planDevice, stateIdOf, type DevicePlan, type RolloutTarget } from './plan.js'
export { writeReport, reportFormat, toCsv, toHtml, REPORT_FORMATS } from './report.js'
