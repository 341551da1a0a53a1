/**
 * Run one of the operating system's tools (sync, umount, udisksctl,
 * diskutil) with an AbortSignal, and say how it ended: never throws for the
 * tool's own failure, because the caller turns that into advice.
 */
import { spawn } from 'node:child_process'
import { AbortedError } from '../../shared/errors.js'

export interface ToolRun {
  /** The tool could not be started at all (not installed: ENOENT). */
  missing: boolean
  code: number | null
  /** stderr and stdout, trimmed, at most a few hundred characters. */
  output: string
}

const MAX_OUTPUT = 400

export function runTool(cmd: string, args: string[], opts: { signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {}): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted === true) {
      reject(new AbortedError(`${cmd}: cancelled`))
      return
    }
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal, env: opts.env })
    let output = ''
    const keep = (d: Buffer) => {
      if (output.length < MAX_OUTPUT) output += d.toString()
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.name === 'AbortError') reject(new AbortedError(`${cmd}: cancelled`, undefined, { cause: err }))
      else if (err.code === 'ENOENT') resolve({ missing: true, code: null, output: '' })
      else resolve({ missing: false, code: null, output: err.message })
    })
    child.on('close', code => {
      resolve({ missing: false, code, output: output.trim().slice(0, MAX_OUTPUT) })
    })
  })
}
