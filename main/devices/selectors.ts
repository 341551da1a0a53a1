/**
 * Device selectors, the one syntax wherever the CLI takes devices: a
 * comma-separated list of
 *   - a device id, id prefix, alias, nick, address (host, host:port,
 *     [v6]:port) or unix:<pv-ctrl socket>: one device, by the addressing
 *     rule of address.ts;
 *   - `name:NAME`: every known device whose alias or nick is NAME;
 *   - `tag:TAG`: every known device tagged TAG;
 *   - `all`: every known device (discovered and added).
 * The devices come out once each, in the order the selectors name them
 * (devices of one `name:`, `tag:` or `all` ordered by id).
 */
import { NotFoundError, UsageError } from '../../shared/errors.js'
import { resolveDevice, type ResolvedDevice } from './address.js'
import type { DeviceRecord, DeviceStore } from './store.js'

export type Selector = { kind: 'all' } | { kind: 'name'; name: string } | { kind: 'tag'; tag: string } | { kind: 'ref'; ref: string }

const HELP = 'give device ids, addresses, name:NAME, tag:TAG or all, separated by commas'

export function parseSelectors(text: string): Selector[] {
  const items = text.split(',').map(s => s.trim())
  if (items.length === 0 || items.some(s => s === '')) throw new UsageError(`devices ${JSON.stringify(text)}: an empty selector; ${HELP}`)
  return items.map((s): Selector => {
    if (s === 'all') return { kind: 'all' }
    const m = /^(name|tag):(.*)$/.exec(s)
    if (m === null) return { kind: 'ref', ref: s }
    if (m[2] === '') throw new UsageError(`devices ${JSON.stringify(s)}: ${m[1]}: needs a value; ${HELP}`)
    return m[1] === 'name' ? { kind: 'name', name: m[2] } : { kind: 'tag', tag: m[2] }
  })
}

/** True when `text` is more than one plain device reference (a list, name:, tag: or all). */
export function isSelectorList(text: string): boolean {
  const s = parseSelectors(text)
  return s.length > 1 || s[0].kind !== 'ref'
}

function known(rec: DeviceRecord): ResolvedDevice {
  return { deviceId: rec.deviceId, record: rec, ref: { kind: 'known', ref: rec.deviceId } }
}

/** The devices `text` selects; a selector that selects nothing is NotFoundError naming it. */
export function selectDevices(store: DeviceStore, text: string): ResolvedDevice[] {
  const out = new Map<string, ResolvedDevice>()
  const byId = (a: DeviceRecord, b: DeviceRecord): number => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0)
  for (const sel of parseSelectors(text)) {
    let found: ResolvedDevice[]
    if (sel.kind === 'ref') found = [resolveDevice(store, sel.ref)]
    else {
      const all = store.list().sort(byId)
      const hits =
        sel.kind === 'all'
          ? all
          : sel.kind === 'name'
            ? all.filter(d => d.alias === sel.name || d.name === sel.name)
            : all.filter(d => d.tags.includes(sel.tag))
      if (hits.length === 0) {
        throw new NotFoundError(
          sel.kind === 'all'
            ? 'all: no devices known yet (fieldsync devices finds them; add one with --device ADDRESS)'
            : `${sel.kind}:${sel.kind === 'name' ? sel.name : sel.tag}: no known device ${sel.kind === 'name' ? 'has that alias or nick' : 'has that tag'} (fieldsync devices lists them)`,
        )
      }
      found = hits.map(known)
    }
    for (const r of found) if (!out.has(r.deviceId)) out.set(r.deviceId, r)
  }
  return [...out.values()]
}

/** Exactly one device: a selector that names several is a UsageError listing them. */
export function selectOne(store: DeviceStore, text: string): ResolvedDevice {
  const list = selectDevices(store, text)
  if (list.length !== 1) throw new UsageError(`${text}: ${list.length} devices (${list.map(d => d.deviceId).join(', ')}); name one`)
  return list[0]
}
