/**
 * What an export knows of the stick while it goes on (the revisions listed,
 * the small files vouched for), the manifest entry of a revision, and the
 * per-part sha256 of a tarball made again in memory.
 */
import { createHash, type Hash } from 'node:crypto'
import type { PlannedRevision, UsbPlan } from './export.js'
import { objectsFile, ontoFile, tarballFile } from './layout.js'
import type { StickFile, StickMode, StickRevision } from './manifest.js'

/** `<name>.objects`: every object the state names, one `<sha256> <size>` per line (install.sh checks both on the device). */
export function objectsList(r: PlannedRevision): string {
  return r.objects.map(o => `${o.sha256} ${o.size}\n`).join('')
}

function stickEntry(r: PlannedRevision, mode: StickMode, parts: StickFile[]): StickRevision {
  return {
    name: r.name,
    id: r.info.id,
    libraryNames: r.info.names,
    spec: r.info.spec,
    mode,
    tarball: tarballFile(r.name),
    parts,
    bytes: r.tgzBytes,
    sha256: parts.length === 1 ? parts[0].sha256 : null,
    objectsFile: objectsFile(r.name),
    objects: r.objects,
    included: r.plan.objects.length,
    includedBytes: r.plan.objects.reduce((a, o) => a + o.size, 0),
    ...(r.onto === undefined ? {} : { onto: r.onto }),
  }
}

/**
 * `<name>.onto`, for install.sh: the device state a composed package was
 * built on, as `key value` lines (state_sha256 is what it compares).
 */
export function ontoText(r: PlannedRevision): string | null {
  const o = r.onto
  if (o === undefined) return null
  return `state_sha256 ${o.stateSha256}\nrevision ${o.revision === '' ? '-' : o.revision}\nstate_id ${o.stateId}\npackage_id ${o.packageId}\n`
}

/** The small files of a revision beside its tarball: `<name>.objects`, `<name>.json`, and `<name>.onto` for a composed package. */
export function smallFiles(r: PlannedRevision): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = [
    [objectsFile(r.name), Buffer.from(objectsList(r))],
    [`${r.name}.json`, r.plan.json],
  ]
  const onto = ontoText(r)
  if (onto !== null) out.push([ontoFile(r.name), Buffer.from(onto)])
  return out
}

/**
 * What the stick holds while an export goes on: the revisions it had and
 * keeps (those this export does not replace), then this export's revisions
 * in the order asked, each once it is in place.
 */
export class StickState {
  readonly files = new Map<string, StickFile>()
  /** The revisions the stick had that are not among this export's: listed as they are. */
  readonly others: StickRevision[]
  private readonly done = new Map<string, StickRevision>()

  constructor(
    readonly dir: string,
    private readonly plan: UsbPlan,
  ) {
    const existing = plan.existing
    this.others = (existing?.revisions ?? []).filter(o => !plan.revisions.some(n => n.info.id === o.id || n.name === o.name))
    // The small files of every revision listed before; writeMeta lists those of the revisions still listed.
    const keep = new Set((existing?.revisions ?? []).flatMap(o => [o.objectsFile, `${o.name}.json`, ...(o.onto === undefined ? [] : [ontoFile(o.name)])]))
    for (const f of existing?.files ?? []) if (keep.has(f.path)) this.files.set(f.path, f)
  }

  /** A revision already on the stick with the bytes this export would write (parts hashed to `hashes`). */
  keep(r: PlannedRevision, hashes: string[]): void {
    this.done.set(
      r.info.id,
      stickEntry(
        r,
        this.plan.mode,
        r.parts.map((p, i) => ({ ...p, sha256: hashes[i] })),
      ),
    )
    for (const [path, content] of smallFiles(r)) {
      this.files.set(path, { path, bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') })
    }
  }

  add(r: PlannedRevision, parts: StickFile[]): StickRevision {
    const e = stickEntry(r, this.plan.mode, parts)
    this.done.set(r.info.id, e)
    return e
  }

  entry(r: PlannedRevision): StickRevision {
    return this.done.get(r.info.id) as StickRevision
  }

  /** Whether `r` is on the stick, complete and listed (kept or committed by this export). */
  has(r: PlannedRevision): boolean {
    return this.done.has(r.info.id)
  }

  /** The stick's earlier entries that `e` replaces (same revision or same name). */
  replaced(e: StickRevision): StickRevision[] {
    return (this.plan.existing?.revisions ?? []).filter(o => o.id === e.id || o.name === e.name)
  }

  /**
   * The manifest's revisions: those kept from before, then this export's in
   * place so far; a revision being replaced stays listed until its new files
   * are in place (its old files are still there).
   */
  revisions(): StickRevision[] {
    const pending = (this.plan.existing?.revisions ?? []).filter(
      o => !this.others.includes(o) && !this.plan.revisions.some(n => this.done.has(n.info.id) && (n.info.id === o.id || n.name === o.name)),
    )
    return [...this.others, ...pending, ...this.plan.revisions.filter(n => this.done.has(n.info.id)).map(n => this.done.get(n.info.id) as StickRevision)]
  }
}

/** Hashes a byte stream in parts of `splitSize` bytes, as PartedFileWriter splits a file. */
export class PartHasher {
  private readonly done: string[] = []
  private hash: Hash = createHash('sha256')
  private inPart = 0

  constructor(private readonly splitSize: number) {}

  write(b: Uint8Array): void {
    let off = 0
    while (off < b.length) {
      const n = Math.min(b.length - off, this.splitSize - this.inPart)
      this.hash.update(b.subarray(off, off + n))
      this.inPart += n
      off += n
      if (this.inPart === this.splitSize) this.next()
    }
  }

  private next(): void {
    this.done.push(this.hash.digest('hex'))
    this.hash = createHash('sha256')
    this.inPart = 0
  }

  finish(): string[] {
    if (this.inPart > 0 || this.done.length === 0) this.next()
    return this.done
  }
}
