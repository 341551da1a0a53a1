/** Open a URL in the default browser when there is one (xdg-open, open, start). */
import { spawn } from 'node:child_process'
import { platform } from 'node:os'

export function hasDesktop(env: NodeJS.ProcessEnv = process.env): boolean {
  const p = platform()
  if (p === 'darwin' || p === 'win32') return true
  return (env.DISPLAY ?? '') !== '' || (env.WAYLAND_DISPLAY ?? '') !== ''
}

/** Returns false (nothing started) when there is no desktop or the opener is missing. */
export async function openBrowser(url: string): Promise<boolean> {
  if (!hasDesktop()) return false
  const p = platform()
  const [cmd, args] = p === 'darwin' ? ['open', [url]] : p === 'win32' ? ['cmd', ['/c', 'start', '""', url.replace(/&/g, '^&')]] : ['xdg-open', [url]]
  return await new Promise<boolean>(resolve => {
    try {
      const child = spawn(cmd, args, { detached: true, stdio: 'ignore', windowsHide: true })
      child.once('error', () => {
        resolve(false)
      })
      child.once('spawn', () => {
        child.unref()
        resolve(true)
      })
    } catch {
      resolve(false)
    }
  })
}
