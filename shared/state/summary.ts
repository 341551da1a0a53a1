/** What a revision is made of: BSP, containers, objects and their sizes. */
import { sortKeys } from './canonical.js'
import { objectRefs, type ObjectRef } from './objects.js'
import { isPlainObject, stateJson, type StateInput } from './types.js'

export interface ObjectInfo {
  key: string
  sha: string
  size: number | null
}

export interface ContainerSummary {
  name: string
  objects: ObjectInfo[]
  /** sum of the known sizes of the container's unique objects */
  bytes: number
  group?: string
  status_goal?: string
  rootVolume?: string
}

export interface BspSummary {
  objects: ObjectInfo[]
  bytes: number
  linux?: string
  fit?: string
  initrd?: string
  rpiab?: string
  firmware?: string
  modules?: string
}

export interface StateSummary {
  spec: string
  bsp: BspSummary | null
  containers: ContainerSummary[]
  /** objects outside bsp/ and the containers (e.g. _config/ objects) */
  other: ObjectInfo[]
  /** all object refs */
  objects: ObjectInfo[]
  /** _sigs/*.json keys */
  signatures: string[]
  /** sum of the known sizes of the unique shas */
  bytes: number
  /** unique shas whose size is unknown */
  unknownSizes: number
}

type SizeOf = (sha: string) => number | null | undefined

function knownBytes(objects: ObjectInfo[]): number {
  const seen = new Set<string>()
  let total = 0
  for (const o of objects) {
    if (seen.has(o.sha)) continue
    seen.add(o.sha)
    if (o.size !== null) total += o.size
  }
  return total
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k]
  return typeof v === 'string' ? v : undefined
}

/** Container directories: top-level dirs with an inline `<dir>/run.json` object (bsp excluded). */
export function containerNames(state: StateInput): string[] {
  const json = stateJson(state)
  const names: string[] = []
  for (const k of Object.keys(json)) {
    const m = /^([^/]+)\/run\.json$/.exec(k)
    if (m !== null && m[1] !== 'bsp' && isPlainObject(json[k])) names.push(m[1])
  }
  return sortKeys(names)
}

export function summarizeState(state: StateInput, sizeOf: SizeOf): StateSummary {
  const json = stateJson(state)
  const cache = new Map<string, number | null>()
  const size = (sha: string): number | null => {
    let s = cache.get(sha)
    if (s === undefined) {
      const v = sizeOf(sha)
      s = typeof v === 'number' && Number.isFinite(v) ? v : null
      cache.set(sha, s)
    }
    return s
  }
  const info = (r: ObjectRef): ObjectInfo => ({ key: r.key, sha: r.sha, size: size(r.sha) })
  const objects = objectRefs(json).map(info)
  const names = containerNames(json)
  const containerSet = new Set(names)

  const hasBsp = Object.keys(json).some(k => k.startsWith('bsp/'))
  let bsp: BspSummary | null = null
  if (hasBsp) {
    const bo = objects.filter(o => o.key.startsWith('bsp/'))
    bsp = { objects: bo, bytes: knownBytes(bo) }
    const run = json['bsp/run.json']
    if (isPlainObject(run)) {
      for (const f of ['linux', 'fit', 'initrd', 'rpiab', 'firmware', 'modules'] as const) {
        const v = str(run, f)
        if (v !== undefined) bsp[f] = v
      }
    }
  }

  const byDir = new Map<string, ObjectInfo[]>()
  for (const o of objects) {
    const slash = o.key.indexOf('/')
    if (slash === -1) continue
    const dir = o.key.slice(0, slash)
    const list = byDir.get(dir)
    if (list === undefined) byDir.set(dir, [o])
    else list.push(o)
  }
  const containers: ContainerSummary[] = names.map(name => {
    const co = byDir.get(name) ?? []
    const run = json[`${name}/run.json`] as Record<string, unknown>
    const c: ContainerSummary = { name, objects: co, bytes: knownBytes(co) }
    const group = str(run, 'group') ?? str(run, 'runlevel')
    if (group !== undefined) c.group = group
    const goal = str(run, 'status_goal')
    if (goal !== undefined) c.status_goal = goal
    const root = str(run, 'root-volume')
    if (root !== undefined) c.rootVolume = root
    return c
  })

  const inContainer = (key: string): boolean => key.includes('/') && containerSet.has(key.slice(0, key.indexOf('/')))
  const other = objects.filter(o => !o.key.startsWith('bsp/') && !inContainer(o.key))
  const signatures = sortKeys(Object.keys(json).filter(k => k.startsWith('_sigs/') && k.endsWith('.json')))
  const spec = typeof json['#spec'] === 'string' ? json['#spec'] : ''
  const unknown = new Set(objects.filter(o => o.size === null).map(o => o.sha))
  return { spec, bsp, containers, other, objects, signatures, bytes: knownBytes(objects), unknownSizes: unknown.size }
}
