/**
 * Telling a live process from a dead one whose pid was reused: a pid plus
 * the process's start. On Linux the start is the boot id and the start time
 * in clock ticks since boot (/proc/<pid>/stat field 22), which no later
 * process with the same pid shares. Elsewhere only whether the pid exists
 * can be told (a reused pid then reads as alive: the install stays STARTED
 * rather than being marked interrupted wrongly).
 */
import { readFileSync } from 'node:fs'

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

let bootId: string | undefined

/** `<boot id>:<start ticks>` of `pid`, or null where /proc cannot tell (not Linux, or no such process). */
export function processIdentity(pid: number): string | null {
  const stat = readProc(`/proc/${pid}/stat`)
  if (stat === null) return null
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields follow the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const start = fields[19] // field 22 overall: fields[0] is field 3
  if (start === undefined || !/^\d+$/.test(start)) return null
  // The boot does not change while this process runs: read once (leases ask for every row they sweep).
  bootId ??= readProc('/proc/sys/kernel/random/boot_id')?.trim() ?? 'boot'
  return `${bootId}:${start}`
}

/**
 * Whether the process that recorded (`pid`, `identity`) still runs. No pid
 * recorded (a row from before pids were kept): not alive.
 */
export function processAlive(pid: number | null, identity: string | null): boolean {
  if (pid === null || !Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (err) {
    // EPERM: it exists, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // Recorded where /proc tells a start (Linux): the same pid with another start is a later process.
  return identity === null || processIdentity(pid) === identity
}
