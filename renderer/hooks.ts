/** Hooks over the client: data that reloads itself when events say it changed. */
import { createContext } from 'preact'
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks'
import type { FieldsyncApi } from '../shared/api/client.js'
import type { ApiEvents, EventName } from '../shared/api/contract.js'
import type { TransferInfo } from '../shared/api/types.js'
import type { Client } from './api.js'
import { BugError } from '../shared/errors.js'

export const ClientContext = createContext<Client | null>(null)

export function useClient(): Client {
  const c = useContext(ClientContext)
  if (c === null) throw new BugError('no client')
  return c
}

export function useApi(): FieldsyncApi {
  return useClient().api
}

export function useEvent<E extends EventName>(event: E, fn: (p: ApiEvents[E]) => void): void {
  const api = useApi()
  const ref = useRef(fn)
  ref.current = fn
  useEffect(
    () =>
      api.on(event, p => {
        ref.current(p)
      }),
    [api, event],
  )
}

export interface Resource<T> {
  data: T | undefined
  error: unknown
  loading: boolean
  reload: () => void
}

/**
 * Load with `load`, and again (debounced) when one of `refreshOn` fires or
 * the connection comes back. `filter` can ignore events that do not matter.
 */
export function useResource<T>(
  load: (api: FieldsyncApi) => Promise<T>,
  deps: unknown[],
  refreshOn: EventName[] = [],
  filter?: (event: EventName, payload: unknown) => boolean,
): Resource<T> {
  const client = useClient()
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true })
  const seq = useRef(0)
  const loadRef = useRef(load)
  loadRef.current = load
  const filterRef = useRef(filter)
  filterRef.current = filter

  const reload = useCallback(() => {
    const n = ++seq.current
    setState(s => ({ ...s, loading: true }))
    loadRef.current(client.api).then(
      data => {
        if (n === seq.current) setState({ data, error: undefined, loading: false })
      },
      error => {
        if (n === seq.current) setState(s => ({ data: s.data, error, loading: false }))
      },
    )
  }, [client])

  useEffect(() => {
    setState({ data: undefined, error: undefined, loading: true })
    reload()
    let timer: number | undefined
    const soon = () => {
      if (timer !== undefined) return
      timer = window.setTimeout(() => {
        timer = undefined
        reload()
      }, 250)
    }
    const offs = refreshOn.map(e =>
      client.api.on(e, p => {
        if (filterRef.current === undefined || filterRef.current(e, p)) soon()
      }),
    )
    let was = client.connection()
    offs.push(
      client.onConnection(s => {
        if (s === 'connected' && was !== 'connected') soon()
        was = s
      }),
    )
    return () => {
      for (const off of offs) off()
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [client, reload, ...deps])

  return { ...state, reload }
}

/** Every transfer, live from 'transfer' events. */
export function useTransfers(): TransferInfo[] {
  const client = useClient()
  const [map, setMap] = useState<Map<string, TransferInfo>>(new Map())
  useEffect(() => {
    let alive = true
    const apply = (list: TransferInfo[]) => {
      setMap(prev => {
        const next = new Map(prev)
        for (const t of list) next.set(t.id, t)
        return next
      })
    }
    const fetchAll = () => {
      client.api.transfers.list().then(
        list => {
          if (!alive) return
          setMap(new Map(list.map(t => [t.id, t])))
        },
        () => {},
      )
    }
    fetchAll()
    const off = client.api.on('transfer', t => {
      apply([t])
    })
    const offConn = client.onConnection(s => {
      if (s === 'connected') fetchAll()
    })
    return () => {
      alive = false
      off()
      offConn()
    }
  }, [client])
  return [...map.values()].sort((a, b) => b.startedAt - a.startedAt)
}

/** Re-render every `ms` (for "3 s ago" and ETAs). */
export function useTick(ms: number): number {
  const [n, setN] = useState(0)
  useEffect(() => {
    const t = setInterval(() => {
      setN(x => x + 1)
    }, ms)
    return () => {
      clearInterval(t)
    }
  }, [ms])
  return n
}

/** The current hash route, as path segments after "#/". */
export function useRoute(): string[] {
  const parse = () =>
    location.hash
      .replace(/^#\/?/, '')
      .split('/')
      .filter(s => s !== '')
      .map(decodeURIComponent)
  const [route, setRoute] = useState(parse)
  useEffect(() => {
    const on = () => {
      setRoute(parse())
    }
    window.addEventListener('hashchange', on)
    return () => {
      window.removeEventListener('hashchange', on)
    }
  }, [])
  return route
}

export function go(...segments: string[]): void {
  location.hash = '#/' + segments.map(encodeURIComponent).join('/')
}
