/**
 * A package composed on the laptop for one device's stick: `usb export
 * --for-device` with an inventory that carries the device's running state
 * composes each package (a revision without a BSP) onto that state with the
 * engine `fieldsync compose` and `fieldsync install` use (devices/onto.ts,
 * shared/state/compose), and the stick carries the composed whole state,
 * with `<name>.onto` naming the state it was composed onto. install.sh
 * installs it with pvcontrol only while the device still runs that state.
 */
import { revisionId, type ParsedState } from '../../shared/state/index.js'
import { composeOnto, isPackage } from '../devices/onto.js'
import type { Library, RevisionInfo } from '../store/library.js'
import type { Inventory } from './inventory.js'
import type { StickOnto } from './manifest.js'

export interface ComposedForDevice {
  /** The composed state, as a revision (it is not added to the library). */
  info: RevisionInfo
  raw: Uint8Array
  state: ParsedState
  onto: StickOnto
}

/**
 * `info` composed onto the state `inv` carries, or null when there is
 * nothing to compose (a whole revision, or an inventory without a state).
 */
export function composeForDevice(lib: Library, info: RevisionInfo, inv: Inventory | undefined): ComposedForDevice | null {
  const cur = inv?.current
  if (cur === undefined || !isPackage(lib.state(info.id))) return null
  const target = `the device of ${inv?.file ?? 'the inventory'}`
  // No verdict here: the stick carries the composed state, and the export checks the policy on it (applyPolicy).
  const r = composeOnto(cur.raw, { raw: lib.state(info.id).raw, name: info.name }, undefined, { target, via: 'usb' })
  const id = revisionId(r.state)
  return {
    info: { ...info, id, source: `${info.name} composed onto ${cur.revision === '' ? "the device's state" : cur.revision}` },
    raw: r.raw,
    state: r.state,
    onto: { revision: cur.revision, stateSha256: cur.sha256, stateId: r.composition.onto, packageId: info.id },
  }
}
