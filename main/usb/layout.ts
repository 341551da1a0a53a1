/**
 * What a Fieldsync stick holds, by name. Everything sits in the folder given
 * on the command line (the stick's root or a folder on it):
 *
 *   <name>.pvrexport.tgz            one pvr export tarball per revision
 *   <name>.pvrexport.tgz.part000..  the same, split, when over the split size
 *   <name>.objects                  every object the state names (sha256 per line)
 *   <name>.json                     the state installed
 *   <name>.onto                     a package composed on the laptop: the device state it was composed onto
 *   install.sh, README.txt          for the device / the technician
 *   SHA256SUMS                      `sha256sum -c` list of every file above
 *   fieldsync-manifest.json         revisions, files, sizes, sha256 (written last)
 *   fieldsync-inventory.json        a laptop's objects (`fieldsync usb inventory`)
 *   device-inventory.json           a device's objects and what it runs (`install.sh --inventory`)
 *   receipts/<device>-<step>-<time>.json  what install.sh did on each device (`fieldsync usb receipts`)
 */
export const MANIFEST_FILE = 'fieldsync-manifest.json'
export const SUMS_FILE = 'SHA256SUMS'
export const README_FILE = 'README.txt'
export const SCRIPT_FILE = 'install.sh'
export const PEER_INVENTORY_FILE = 'fieldsync-inventory.json'
export const DEVICE_INVENTORY_FILE = 'device-inventory.json'
export const TARBALL_SUFFIX = '.pvrexport.tgz'
export const OBJECTS_SUFFIX = '.objects'
export const MANIFEST_FORMAT = 'fieldsync-usb@1'
export const INVENTORY_FORMAT = 'fieldsync-inventory@1'
export const RECEIPTS_DIR = 'receipts'
export const RECEIPT_FORMAT = 'fieldsync-receipt@1'
export const DEVICE_INVENTORY_FORMAT = 'fieldsync-device-inventory@1'
export const ONTO_SUFFIX = '.onto'

/** FAT32 caps a file at 4 GiB - 1 byte: parts stay just under. */
export const DEFAULT_SPLIT_SIZE = 4095 * 1024 * 1024
export const MAX_SPLIT_SIZE = 0xffffffff

/** A device-local revision name is at most 64 characters, without '/' (state rule 7, docs/architecture.md). */
export const LOCAL_NAME_MAX = 64

/**
 * A name that is safe as a FAT file name, a shell word and a `locals/<name>`:
 * letters, digits, '.', '_' and '-', starting with a letter or digit.
 */
export const STICK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export function stickName(libraryName: string): string {
  let n = libraryName.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[^A-Za-z0-9]+/, '')
  if (n === '') n = 'revision'
  return n.slice(0, LOCAL_NAME_MAX)
}

/** Names for a set of revisions, unique on the stick (an id suffix settles clashes). */
export function stickNames(revs: ReadonlyArray<{ id: string; name: string }>, taken: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = []
  const used = new Set(taken)
  for (const r of revs) {
    let n = stickName(r.name)
    if (used.has(n)) {
      const suffix = `-${r.id.slice(0, 8)}`
      n = n.slice(0, LOCAL_NAME_MAX - suffix.length) + suffix
    }
    let i = 2
    while (used.has(n)) {
      n = `${n.slice(0, LOCAL_NAME_MAX - 3)}-${i++}`
    }
    used.add(n)
    out.push(n)
  }
  return out
}

export function tarballFile(name: string): string {
  return name + TARBALL_SUFFIX
}

export function partFile(name: string, index: number, count: number): string {
  const width = Math.max(3, String(count - 1).length)
  return `${tarballFile(name)}.part${String(index).padStart(width, '0')}`
}

export function partFiles(name: string, count: number): string[] {
  if (count <= 1) return [tarballFile(name)]
  return Array.from({ length: count }, (_, i) => partFile(name, i, count))
}

export function objectsFile(name: string): string {
  return name + OBJECTS_SUFFIX
}

export function ontoFile(name: string): string {
  return name + ONTO_SUFFIX
}

/** A plain file name in the stick's folder: no separators, no '..', no control characters. */
export function isSafeFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && !/[/\\]/.test(name) && ![...name].some(ch => ch.charCodeAt(0) < 0x20) && name !== '.' && name !== '..'
}
