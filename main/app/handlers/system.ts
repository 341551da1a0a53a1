/** app.info, fs.list (the folder browser both modes use), transfers.*. */
import { readFileSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { homedir, platform, userInfo } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { DirEntry } from '../../../shared/api/types.js'
import { BadInputError } from '../../../shared/errors.js'
import type { HandlerDeps, HandlerMap } from './context.js'

type SystemHandlers = Pick<HandlerMap, 'app.info' | 'fs.list' | 'transfers.list' | 'transfers.cancel' | 'transfers.clear'>
// transfers.retry runs a request again: ApiCore (index.ts) answers it, as the dispatcher.

const MAX_ENTRIES = 2000

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory()
  } catch {
    return false
  }
}

export async function defaultFolder(): Promise<string> {
  const dl = join(homedir(), 'Downloads')
  return (await isDir(dl)) ? dl : homedir()
}

/** Places worth a quick pick: home, Downloads, and mounted removable drives. */
async function places(): Promise<Array<{ label: string; path: string }>> {
  const out: Array<{ label: string; path: string }> = [{ label: 'Home', path: homedir() }]
  const dl = join(homedir(), 'Downloads')
  if (await isDir(dl)) out.push({ label: 'Downloads', path: dl })
  let user = ''
  try {
    user = userInfo().username
  } catch {
    /* no user name */
  }
  const roots = platform() === 'darwin' ? ['/Volumes'] : [`/media/${user}`, `/run/media/${user}`, '/media', '/mnt']
  const seen = new Set<string>()
  for (const root of roots) {
    let names: string[]
    try {
      names = await readdir(root)
    } catch {
      continue
    }
    for (const n of names.sort()) {
      const p = join(root, n)
      if (seen.has(p) || n === user || !(await isDir(p))) continue
      seen.add(p)
      out.push({ label: `Drive: ${n}`, path: p })
    }
  }
  return out
}

export function systemHandlers(deps: HandlerDeps): SystemHandlers {
  const v = version()
  return {
    async 'app.info'() {
      return { version: v, mode: deps.mode, home: deps.app.home, platform: platform(), defaultFolder: await defaultFolder(), capabilities: deps.capabilities() }
    },

    async 'fs.list'({ path, files }) {
      const dir = resolve(path ?? (await defaultFolder()))
      let names
      try {
        names = await readdir(dir, { withFileTypes: true })
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        throw new BadInputError(
          `${dir}: ${code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`,
        )
      }
      const entries: DirEntry[] = []
      for (const e of names) {
        if (e.name.startsWith('.')) continue
        if (e.isDirectory()) entries.push({ name: e.name, kind: 'dir', size: null })
        else if (files === true && e.isFile()) {
          let size: number | null = null
          try {
            size = (await stat(join(dir, e.name))).size
          } catch {
            /* vanished */
          }
          entries.push({ name: e.name, kind: 'file', size })
        }
        if (entries.length >= MAX_ENTRIES) break
      }
      entries.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'dir' ? -1 : 1))
      const parent = dirname(dir)
      return { path: dir, parent: parent === dir ? null : parent, entries, places: await places() }
    },

    async 'transfers.list'() {
      return deps.transfers.list()
    },
    async 'transfers.cancel'({ id }) {
      return { cancelled: deps.transfers.cancel(id) }
    },
    async 'transfers.clear'() {
      return { cleared: deps.transfers.clear() }
    },
  }
}
