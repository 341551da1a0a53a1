/**
 * The renderer's one way to main: the contract's API object. In Electron it
 * is `window.fieldsync` (built by the preload); in browser mode the same
 * builder runs here over HTTP (POST /api/<channel>) and server-sent events
 * read with fetch, so the secret token travels in a header.
 */
import { buildApi, unwrapApi, type FieldsyncApi, type Listener, type RawApi } from '../shared/api/client.js'
import { TOKEN_HEADER, type ApiEvents, type Channel, type Envelope, type EventName } from '../shared/api/contract.js'
import { BadInputError, DisconnectedError, errorFromWire, ErrorCodes, ProtocolError, type ErrorCode, type WireError } from '../shared/errors.js'

declare global {
  interface Window {
    fieldsync?: RawApi
  }
}

/** refused: the core answered but refused this page's token (not a lost connection: retrying cannot help). */
export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'refused'

export interface Client {
  api: FieldsyncApi
  mode: 'electron' | 'browser'
  connection: () => ConnectionState
  onConnection: (fn: (s: ConnectionState) => void) => () => void
  /** Import a File the user picked or dropped: by path in Electron, by upload in browser mode. */
  importFile: (file: File, opts: { name?: string; onUpload?: (sent: number, total: number) => void }) => ReturnType<FieldsyncApi['library']['import']>
  /** A File the user picked, for a channel that takes `{path}` or `{upload}`: its path in Electron, an upload in browser mode. */
  fileRef: (file: File) => Promise<{ path: string } | { upload: string }>
}

const TOKEN_KEY = 'fieldsync.token'

const TOKEN_IN_URL = /(?:^#|&)token=([A-Za-z0-9_-]+)/

/** Take the token from the URL fragment (then hide it) or from this tab's session. */
export function takeToken(): string | null {
  const m = TOKEN_IN_URL.exec(location.hash)
  if (m !== null) {
    sessionStorage.setItem(TOKEN_KEY, m[1])
    history.replaceState(null, '', location.pathname + '#/library')
    return m[1]
  }
  return sessionStorage.getItem(TOKEN_KEY)
}

/**
 * A URL with a token pasted into a tab that is already open (after a restart
 * of `fieldsync ui` on the same port, only the fragment changes, so the page
 * does not load again): the new token wins over the one this tab kept, and
 * the page starts again with it.
 */
export function watchTokenInUrl(): void {
  window.addEventListener('hashchange', () => {
    const m = TOKEN_IN_URL.exec(location.hash)
    if (m === null) return
    sessionStorage.setItem(TOKEN_KEY, m[1])
    history.replaceState(null, '', location.pathname + '#/library')
    location.reload()
  })
}

function wire(code: ErrorCode, message: string): WireError {
  return { code, message }
}

class EventStream {
  private readonly listeners = new Map<EventName, Set<(p: unknown) => void>>()
  private readonly statusListeners = new Set<(s: ConnectionState) => void>()
  state: ConnectionState = 'connecting'
  private retry = 0

  constructor(private readonly token: string) {}

  subscribe<E extends EventName>(event: E, fn: Listener<E>): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(event, set)
    }
    const l = fn as (p: unknown) => void
    set.add(l)
    return () => {
      set.delete(l)
    }
  }

  onStatus(fn: (s: ConnectionState) => void): () => void {
    this.statusListeners.add(fn)
    return () => {
      this.statusListeners.delete(fn)
    }
  }

  private setState(s: ConnectionState): void {
    if (s === this.state) return
    this.state = s
    for (const fn of this.statusListeners) fn(s)
  }

  async run(): Promise<void> {
    for (;;) {
      try {
        const res = await fetch('/api/events', { headers: { [TOKEN_HEADER]: this.token }, cache: 'no-store' })
        if (res.status === 403) {
          this.setState('refused')
          return
        }
        if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`)
        this.retry = 0
        this.setState('connected')
        await this.read(res.body)
      } catch {
        /* fall through to retry */
      }
      this.setState('disconnected')
      this.retry = Math.min(this.retry + 1, 5)
      await new Promise(resolve => setTimeout(resolve, 500 * this.retry))
    }
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>).getReader()
    let buf = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buf += value
      let i: number
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i)
        buf = buf.slice(i + 2)
        let event = ''
        let data = ''
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7)
          else if (line.startsWith('data: ')) data += line.slice(6)
        }
        if (event === '' || data === '') continue
        const set = this.listeners.get(event as EventName)
        if (set === undefined) continue
        let payload: unknown
        try {
          payload = JSON.parse(data)
        } catch {
          continue
        }
        for (const fn of set) {
          try {
            fn(payload)
          } catch (err) {
            console.error(err)
          }
        }
      }
    }
  }
}

function browserClient(token: string): Client {
  const stream = new EventStream(token)
  void stream.run()
  const invoke = async (channel: Channel, req: unknown): Promise<Envelope<unknown>> => {
    let res: Response
    try {
      res = await fetch(`/api/${channel}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', [TOKEN_HEADER]: token },
        body: JSON.stringify(req ?? {}),
      })
    } catch {
      return {
        ok: false,
        error: wire(ErrorCodes.Disconnected, 'cannot reach the Fieldsync core: is `fieldsync ui` still running? Start it again and open the URL it prints.'),
      }
    }
    try {
      const body = (await res.json()) as Envelope<unknown>
      if (typeof body?.ok === 'boolean') return body
    } catch {
      /* not JSON */
    }
    return { ok: false, error: wire(ErrorCodes.Protocol, `${channel}: the core answered HTTP ${res.status} without a result`) }
  }
  const api = unwrapApi(buildApi(invoke, (e, fn) => stream.subscribe(e, fn)))
  return {
    api,
    mode: 'browser',
    connection: () => stream.state,
    onConnection: fn => stream.onStatus(fn),
    async importFile(file, opts) {
      const up = await upload(token, file, opts.onUpload)
      return await api.library.import({ upload: up, name: opts.name })
    },
    fileRef: async file => ({ upload: await upload(token, file) }),
  }
}

/** Stream a File to the core (XHR, for upload progress). */
function upload(token: string, file: File, onProgress?: (sent: number, total: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `/api/upload?name=${encodeURIComponent(file.name)}`)
    xhr.setRequestHeader(TOKEN_HEADER, token)
    xhr.setRequestHeader('Content-Type', 'application/octet-stream')
    xhr.upload.onprogress = e => {
      onProgress?.(e.loaded, e.total)
    }
    xhr.onerror = () => {
      reject(new DisconnectedError(`upload of ${file.name}: the connection to the core broke`))
    }
    xhr.onload = () => {
      let env: Envelope<{ upload: string }> | undefined
      try {
        env = JSON.parse(xhr.responseText) as Envelope<{ upload: string }>
      } catch {
        /* below */
      }
      if (env?.ok === true) resolve(env.value.upload)
      else reject(env?.ok === false ? errorFromWire(env.error) : new ProtocolError(`upload of ${file.name}: HTTP ${xhr.status}`))
    }
    xhr.send(file)
  })
}

function electronClient(raw: RawApi): Client {
  const api = unwrapApi(raw)
  return {
    api,
    mode: 'electron',
    connection: () => 'connected',
    onConnection: () => () => {},
    async importFile(file, opts) {
      const path = api.host?.pathForFile(file) ?? ''
      if (path === '') throw new BadInputError(`${file.name}: this file has no path on disk; save it to a folder first`)
      return await api.library.import({ path, name: opts.name })
    },
    async fileRef(file) {
      const path = api.host?.pathForFile(file) ?? ''
      if (path === '') throw new BadInputError(`${file.name}: this file has no path on disk; save it to a folder first`)
      return { path }
    },
  }
}

/** The client for this page, or null when browser mode has no token (opened without the printed URL). */
export function createClient(): Client | null {
  if (window.fieldsync !== undefined) return electronClient(window.fieldsync)
  watchTokenInUrl()
  const token = takeToken()
  return token === null ? null : browserClient(token)
}

export type { ApiEvents }
