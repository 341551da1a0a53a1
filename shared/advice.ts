/**
 * What to do about an error, in the terms of the screen that shows it
 * (issue #17, item 8): the CLI names commands and flags, the app names its
 * buttons and dialogs. An error's message says what happened, to what (the
 * user's file, the stick, the library); the one thing to do is chosen here,
 * from the error's `details.advice` when the code that threw knew the
 * situation, else from its code. One table for both front ends.
 */
import { ErrorCodes, type ErrorCode } from './errors.js'

interface Advice {
  app: string
  cli: string
}

/** Situations an error names in `details.advice`. */
export const ADVICE = {
  truncated: {
    app: 'The file was cut short (an interrupted copy or download): copy it again from where it came from, then import that copy.',
    cli: 'the file was cut short (an interrupted copy or download): copy it again from where it came from',
  },
  damaged: {
    app: 'The file is damaged: copy it again from where it came from, then import that copy.',
    cli: 'the file is damaged: copy it again from where it came from',
  },
  'stick-full': {
    app: 'Use a bigger stick, or write only what the device or laptop lacks: in the USB export, choose its inventory.',
    cli: 'use a bigger stick, or send only what the target lacks: fieldsync usb export --for-device <inventory> (or --for-peer)',
  },
  'library-full': {
    app: "Free space on the library's disk (remove revisions you no longer need from the Library), or move the library to a bigger disk.",
    cli: "free space on the library's disk (fieldsync rm <rev>, then fieldsync gc), or use another --home",
  },
} as const satisfies Record<string, Advice>

export type AdviceKey = keyof typeof ADVICE

/** What to do, by error code, when the error names no situation (the app's words). */
const BY_CODE: Partial<Record<ErrorCode, string>> = {
  [ErrorCodes.NotAvailable]: 'This part of Fieldsync is not in this build yet.',
  [ErrorCodes.Disconnected]: 'Check that Fieldsync (the app or `fieldsync ui`) is still running, then reload this page.',
  [ErrorCodes.Forbidden]: 'Open the full URL that `fieldsync ui` printed in this run; it carries the access token.',
  [ErrorCodes.IncompleteRevision]: 'Pull the missing objects from a peer, or import the revision again from a complete export.',
  [ErrorCodes.BadArchive]: 'Choose a pvr export tarball (.tgz or .tar), a pvr checkout folder, or a state JSON.',
  [ErrorCodes.InvalidState]: 'The state JSON breaks a Pantavisor rule: fix it with pvr and export again.',
  [ErrorCodes.ObjectHashMismatch]: 'A file is corrupt: get a fresh copy of it.',
  [ErrorCodes.NoSpace]: 'Free some space on that drive, or choose another one.',
  [ErrorCodes.ReadOnly]: 'The drive is read-only: unlock the stick or choose another folder.',
  [ErrorCodes.Busy]: 'Another Fieldsync process is working on this library (a gc or verify --repair in a terminal): try again when it has finished.',
  [ErrorCodes.UnknownRevision]: 'It may have been removed meanwhile: go back to the library.',
  [ErrorCodes.Aborted]: 'It was cancelled; start it again when ready.',
  [ErrorCodes.UploadCutShort]: 'The file did not arrive whole (the page was closed or reloaded, or the network broke): upload it again.',
  [ErrorCodes.DeviceUnreachable]: 'Check that the device is powered and on this network, and its address.',
  [ErrorCodes.DeviceBusy]: 'The device is running an update or a command: try again when it has finished.',
  [ErrorCodes.HostKeyMismatch]:
    'The device is not the one first seen at this address, or it was re-flashed: if it was, remove its line from known_devices in the library folder.',
  [ErrorCodes.PeerUnavailable]: 'The colleague left or cannot be reached: pull from another peer.',
  [ErrorCodes.PeerVersion]: 'The colleague runs another version of Fieldsync: update the older of the two laptops.',
  [ErrorCodes.SignatureInvalid]: 'Get a correctly signed revision, or change the policy if you trust it.',
  [ErrorCodes.PolicyRefused]: 'Get a correctly signed revision, or change the policy if you trust it.',
  [ErrorCodes.Internal]: 'This is a bug. Run with DEBUG=fieldsync* for details and report it.',
}

function isAdviceKey(v: unknown): v is AdviceKey {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(ADVICE, v)
}

/** The one thing to do about an error, for the app (falls back on its code) or the CLI (only a named situation). */
export function adviceFor(err: { code?: unknown; details?: unknown }, ui: 'app' | 'cli'): string | null {
  const key = (err.details as { advice?: unknown } | undefined)?.advice
  if (isAdviceKey(key)) return ADVICE[key][ui]
  if (ui === 'cli') return null
  return typeof err.code === 'string' ? (BY_CODE[err.code as ErrorCode] ?? null) : null
}
