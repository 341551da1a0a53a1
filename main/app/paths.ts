/** Where the library lives by default: the platform's application-data folder. */
import { homedir, platform } from 'node:os'
import { join, resolve } from 'node:path'

export function defaultHome (env: NodeJS.ProcessEnv = process.env): string {
  if (env.FIELDSYNC_HOME !== undefined && env.FIELDSYNC_HOME !== '') return resolve(env.FIELDSYNC_HOME)
  switch (platform()) {
    case 'win32': return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'Fieldsync')
    case 'darwin': return join(homedir(), 'Library', 'Application Support', 'Fieldsync')
    default: return join(env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share'), 'fieldsync')
  }
}
