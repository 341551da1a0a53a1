/**
 * The shell commands the SSH driver runs inside the management container:
 * the requests `pvcontrol` makes, as `curl --unix-socket` calls (pvcontrol's
 * own flags: `-s -w "\n%{http_code}"`, `--connect-timeout 5`; object PUTs
 * with `-T -` and an explicit Content-Length, never chunked). The socket is
 * the one given, else the first of pvcontrol's paths that exists.
 */

/** pvcontrol's socket paths, in its order. */
export const PVCTRL_SOCKETS = ['/run/pantavisor/pv/pv-ctrl', '/pv/pv-ctrl', '/pantavisor/pv-ctrl']

/** Single-quote for a POSIX shell. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

export interface CurlRequest {
  method: 'GET' | 'PUT' | 'POST'
  path: string
  /** Bytes sent on stdin with this Content-Length (PUT bodies). */
  uploadLength?: number
  /** A small JSON/text body sent on stdin with --data-binary. */
  data?: boolean
  contentType?: string
  maxTimeS?: number
}

/**
 * Shell that sets S to the first of `paths` that is a socket, or exits 90
 * saying where it looked. (A chain `[ -S a ] && S=a || [ -S b ] && S=b`
 * would go on past a hit and end on the last path.)
 */
export function findSocketScript(paths: readonly string[]): string {
  return (
    `S=''; for p in ${paths.map(shq).join(' ')}; do if [ -S "$p" ]; then S=$p; break; fi; done; ` +
    `[ -n "$S" ] || { echo 'pv-ctrl socket not found (tried ${paths.join(', ')}): is this a management container?' >&2; exit 90; }`
  )
}

function socketExpr(socket: string | null): string {
  return socket !== null ? `S=${shq(socket)}` : findSocketScript(PVCTRL_SOCKETS)
}

/** Exit codes of the wrapper beyond curl's own. */
export const NO_SOCKET_EXIT = 90
export const NO_CURL_EXIT = 91

export function curlCommand(r: CurlRequest, socket: string | null): string {
  const args = ['-s', '-S', '-w', shq('\\n%{http_code}'), '--connect-timeout', '5', '--max-time', String(r.maxTimeS ?? 240), '-X', r.method]
  if (r.uploadLength !== undefined) {
    args.push(
      '-H',
      shq(`Content-Length: ${r.uploadLength}`),
      '-H',
      shq(`Content-Type: ${r.contentType ?? 'application/octet-stream'}`),
      '-H',
      shq('Transfer-Encoding: identity'),
      '-H',
      shq('Expect:'),
      '-T',
      '-',
    )
  } else if (r.data === true) {
    args.push('-H', shq(`Content-Type: ${r.contentType ?? 'application/json'}`), '--data-binary', '@-')
  }
  args.push('--unix-socket', '"$S"', shq(`http://localhost${r.path}`))
  return `${socketExpr(socket)}; command -v curl >/dev/null 2>&1 || { echo 'curl not found in the management container' >&2; exit ${NO_CURL_EXIT}; }; exec curl ${args.join(' ')}`
}

/** Split curl's output (body, then "\n<code>") into status and body. */
export function splitAnswer(out: Buffer): { status: number; body: string } {
  const s = out.toString('utf8')
  const i = s.lastIndexOf('\n')
  const code = Number(s.slice(i + 1).trim())
  return { status: Number.isInteger(code) ? code : 0, body: i < 0 ? '' : s.slice(0, i) }
}
