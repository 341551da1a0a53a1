/** Where the library lives by default: the platform's application-data folder. */
import { homedir, platform } from 'node:os'
import { join, resolve } from 'node:path'

export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FIELDSYNC_HOME !== undefined && env.FIELDSYNC_HOME !== '') return resolve(env.FIELDSYNC_HOME)
  switch (platform()) {
    case 'win32':
      return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'Fieldsync')
    case 'darwin':
      return join(homedir(), 'Library', 'Application Support', 'Fieldsync')
    default:
      return join(env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share'), 'fieldsync')
  }
}

/**
 * The settings the environment gives the services, read once, here, by the
 * composition root (App); services receive them as options and never read
 * process.env themselves.
 */
export interface EnvSettings {
  /** Direct I/O for large writes where the file system takes it; FIELDSYNC_DIRECT_IO=0 turns it off. */
  directIo: boolean
  /** The gzip expansion limit of imports, FIELDSYNC_MAX_EXPANSION (default 100; 0: no limit). */
  maxExpansion: number
  /** Where a pvr checkout's objects may be besides its own: PVR_OBJECTS_DIR, then ~/.pvr/objects. */
  pvrObjectDirs: string[]
}

export function readEnvSettings(env: NodeJS.ProcessEnv = process.env): EnvSettings {
  const x = env.FIELDSYNC_MAX_EXPANSION
  const n = Number(x ?? '')
  return {
    directIo: env.FIELDSYNC_DIRECT_IO !== '0',
    maxExpansion: x !== undefined && x !== '' && Number.isFinite(n) && n >= 0 ? n : 100,
    pvrObjectDirs: [...(env.PVR_OBJECTS_DIR !== undefined && env.PVR_OBJECTS_DIR !== '' ? [env.PVR_OBJECTS_DIR] : []), join(homedir(), '.pvr', 'objects')],
  }
}
