/**
 * A package onto what a device runs, as Pantavisor's pvtx does on the
 * device (`pvtx begin current`, `pvtx add`, `pvtx commit`): the device's
 * running state is read over the connection in use (pv-ctrl GET
 * /steps/current, or pvr-sdk's json-get-url), the package is composed onto
 * it with the engine `fieldsync pvtx` uses (shared/state/compose), and the
 * result, a whole state, is what the device gets.
 *
 * Which revisions are packages: one without `bsp/run.json`. A device given
 * such a state as its whole state cannot boot it (pantavisor storage.c finds
 * no boot assets to link; the update ends in ERROR "Internal error",
 * update.c), so a package is never sent as a whole state.
 */
import { ErrorCodes, FieldsyncError, NotAvailableError, UsageError } from '../../shared/errors.js'
import type { InstallComposition } from '../../shared/api/types.js'
import { assertValidState, compose, parseState, revisionId, type ParsedState } from '../../shared/state/index.js'
import { compositionVerdict, type CompositionJudge, type CompositionVerdict, type TrustSource } from '../trust/index.js'
import type { DeviceDriver } from './drivers/types.js'

const DEVICE_ANSWERS: ReadonlySet<string> = new Set([
  ErrorCodes.DeviceRefused,
  ErrorCodes.DeviceUnreachable,
  ErrorCodes.DeviceBusy,
  ErrorCodes.Timeout,
  ErrorCodes.HostKeyMismatch,
])

/** How a revision goes onto a device: composed onto what it runs, or as its whole state. */
export type InstallAs = 'package' | 'state'

/** The key a whole state has and a package lacks. */
export const BSP_KEY = 'bsp/run.json'

export function isPackage(state: ParsedState): boolean {
  return !Object.hasOwn(state.json, BSP_KEY)
}

/**
 * How `state` (revision `name`) is installed: a package is composed unless
 * `replaceState` asks for the whole state (refused without a BSP); a whole
 * revision replaces the device's state unless `compose` asks otherwise.
 */
export function installAs(state: ParsedState, name: string, opts: { replaceState?: boolean; compose?: boolean }): InstallAs {
  if (opts.replaceState === true && opts.compose === true) throw new UsageError('--replace-state and --compose contradict each other: choose one')
  if (opts.replaceState === true) {
    if (isPackage(state)) {
      throw new UsageError(
        `${name} has no BSP (${BSP_KEY}): it is a package, and as the whole state of a device it would not boot (the update ends ERROR "Internal error"); install it without --replace-state to compose it onto what the device runs`,
        { revision: name },
      )
    }
    return 'state'
  }
  return opts.compose === true || isPackage(state) ? 'package' : 'state'
}

export interface OntoDevice {
  /** The composed state: what the device gets as its new step. */
  raw: Uint8Array
  state: ParsedState
  composition: InstallComposition
}

/**
 * Read what the device runs and compose `pkg` onto it. Nothing is sent: a
 * device whose state cannot be read refuses the package here.
 */
export async function composeOntoDevice(
  d: DeviceDriver,
  pkg: { raw: Uint8Array; name: string },
  judge: { trust?: TrustSource; judge?: CompositionJudge },
  signal: AbortSignal,
): Promise<OntoDevice> {
  if (d.stepState === undefined) {
    throw new NotAvailableError(
      `${d.target}: ${pkg.name} is a package, installed by composing it onto the state the device runs, and a ${d.via} connection cannot read that state; nothing was sent`,
      { via: d.via },
    )
  }
  let currentRaw: Uint8Array
  try {
    currentRaw = await d.stepState('current', signal)
  } catch (err) {
    if (signal.aborted) throw err
    // The device's own refusal or silence says more than "could not read": it is the answer.
    if (err instanceof FieldsyncError && DEVICE_ANSWERS.has(err.code)) throw err
    const msg = (err as Error)?.message ?? String(err)
    const code = err instanceof FieldsyncError ? err.code : undefined
    throw new NotAvailableError(
      `${d.target}: ${pkg.name} is a package, installed by composing it onto the state the device runs, and reading that state failed: ${msg}; nothing was sent`,
      { via: d.via, cause: code ?? null },
      { cause: err },
    )
  }
  const where = { target: d.target, via: d.via }
  if (judge.judge === undefined) return composeOnto(currentRaw, pkg, judge.trust, where)
  // The verdict where it runs off this thread (the app's signature worker).
  const r = composeOnto(currentRaw, pkg, undefined, where)
  return withVerdict(r, await judge.judge(r.raw, [currentRaw, pkg.raw]))
}

/** A composition with the signature verdict on its result. */
export function withVerdict(o: OntoDevice, verdict: CompositionVerdict | null): OntoDevice {
  const signature = verdict === null ? null : { pass: verdict.pass, summary: verdict.summary, device: verdict.device, broken: verdict.broken }
  return { ...o, composition: { ...o.composition, signature } }
}

/**
 * Compose `pkg` onto `currentRaw`, the state a device runs (read now over a
 * connection, or carried by a USB inventory): the same engine as pvtx and
 * `fieldsync compose`. `target` names the device in messages.
 */
export function composeOnto(
  currentRaw: Uint8Array,
  pkg: { raw: Uint8Array; name: string },
  trust: TrustSource | undefined,
  where: { target: string; via: string },
): OntoDevice {
  let current: ParsedState
  try {
    current = parseState(currentRaw, `${where.target}: the state it runs`)
  } catch (err) {
    throw new NotAvailableError(
      `${where.target}: the state the device runs is not a state JSON Fieldsync can read (${(err as Error).message}); ${pkg.name} was not composed and nothing was sent`,
      { via: where.via },
      { cause: err },
    )
  }
  const onto = 'the revision the device runs'
  const r = compose(current, [{ add: pkg.raw, label: pkg.name }], { baseLabel: onto })
  assertValidState(r.state, `${pkg.name} composed onto ${onto}`)
  const verdict = trust === undefined ? null : compositionVerdict(r.raw, [currentRaw, pkg.raw], trust)
  return withVerdict(
    {
      raw: r.raw,
      state: r.state,
      composition: {
        onto: revisionId(current),
        result: revisionId(r.state),
        changed: r.changed,
        parts: { added: r.parts.added, replaced: r.parts.replaced, removed: r.parts.removed, unchanged: r.parts.unchanged },
        signature: null,
        warnings: r.warnings,
      },
    },
    verdict,
  )
}
