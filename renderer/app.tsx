/** The shell: navigation, connection state, theme, toasts, and the screen for the current route. */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { AppInfo } from '../shared/api/types.js'
import { ErrorCodes, isCode } from '../shared/errors.js'
import type { ConnectionState } from './api.js'
import { InfoContext } from './app-context.js'
import { CommandContext, createCommandBus } from './commands.js'
import { useClient, useEvent, useRoute, useTransfers } from './hooks.js'
import { KeyboardLayer } from './keyboard.js'
import { DevicesScreen } from './screens/devices.js'
import { DevicePage } from './screens/device-page.js'
import { RolloutScreen } from './screens/rollout.js'
import { InstallWizard } from './screens/install.js'
import { LibraryScreen } from './screens/library.js'
import { PeersScreen } from './screens/peers.js'
import { RevisionScreen } from './screens/revision.js'
import { TransfersScreen } from './screens/transfers.js'
import { TrustScreen } from './screens/trust.js'
import { UsbScreen } from './screens/usb.js'
import { ErrorBox, ToastContext, Toasts, transferToastKey, useToasts } from './ui.js'

type Theme = 'auto' | 'light' | 'dark' | 'contrast'
const THEMES: Array<[Theme, string]> = [
  ['auto', 'Auto'],
  ['light', 'Light'],
  ['dark', 'Dark'],
  ['contrast', 'High contrast'],
]

function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem('fieldsync.theme') as Theme | null) ?? 'auto')
  useEffect(() => {
    document.documentElement.dataset.theme = theme
    localStorage.setItem('fieldsync.theme', theme)
  }, [theme])
  return [theme, setTheme]
}

function Nav(p: { route: string; running: number; info: AppInfo }) {
  const items: Array<[string, string, string | null]> = [
    ['library', 'Library', null],
    ['peers', 'Peers', p.info.capabilities.peers ? null : 'not yet'],
    ['devices', 'Devices', p.info.capabilities.devices ? null : 'not yet'],
    ['rollout', 'Rollout', p.info.capabilities.devices ? null : 'not yet'],
    ['transfers', 'Transfers', p.running > 0 ? String(p.running) : null],
    ['usb', 'USB', null],
    ['trust', 'Trust', null],
  ]
  return (
    <nav class='nav' aria-label='Screens'>
      <ul>
        {items.map(([id, label, tag]) => (
          <li key={id}>
            <a href={`#/${id}`} class={`nav-item${p.route === id ? ' nav-current' : ''}`} aria-current={p.route === id ? 'page' : undefined}>
              <span>{label}</span>
              {tag !== null && (
                <span class={`nav-tag${id === 'transfers' ? ' nav-tag-live' : ''}`} aria-label={id === 'transfers' ? `${tag} running` : tag}>
                  {tag}
                </span>
              )}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  )
}

function Connection(p: { state: ConnectionState }) {
  // A refused token is not a lost connection: the screen shows that error and what to do, nothing retries.
  if (p.state === 'connected' || p.state === 'refused') return null
  return (
    <div class={`banner banner-${p.state === 'connecting' ? 'info' : 'bad'}`} role='status'>
      {p.state === 'connecting' ? (
        'Connecting to the Fieldsync core…'
      ) : (
        <>
          Lost the connection to the Fieldsync core. Is <code>fieldsync ui</code> still running? Retrying…
        </>
      )}
    </div>
  )
}

export function App() {
  const client = useClient()
  const route = useRoute()
  const [theme, setTheme] = useTheme()
  const { toasts, notify, dismiss, dismissAll, resolve } = useToasts()
  const [info, setInfo] = useState<AppInfo | null>(null)
  const [infoError, setInfoError] = useState<unknown>(null)
  const [conn, setConn] = useState<ConnectionState>(client.connection())
  const transfers = useTransfers()
  const commands = useRef(createCommandBus()).current

  useEffect(() => {
    const load = () => {
      client.api.app.info().then(i => {
        setInfo(i)
        setInfoError(null)
      }, setInfoError)
    }
    load()
    const off = client.onConnection(s => {
      setConn(s)
      if (s === 'connected') load()
    })
    setConn(client.connection())
    return off
  }, [client])
  // An error toast about a transfer's subject goes once that succeeds (a retry, or the same thing done again).
  useEvent('transfer', t => {
    if (t.state === 'done') resolve(transferToastKey(t))
  })
  useEvent('capabilities', c => {
    setInfo(i => (i === null ? i : { ...i, capabilities: c }))
  })

  const screen = route[0] ?? 'library'
  useEffect(() => {
    const names: Record<string, string> = {
      library: 'Library',
      revision: 'Revision',
      peers: 'Peers',
      devices: 'Devices',
      rollout: 'Rollout',
      transfers: 'Transfers',
      usb: 'USB',
      trust: 'Trust',
    }
    document.title = `${names[screen] ?? 'Fieldsync'} · Fieldsync`
  }, [screen])

  const running = transfers.filter(t => t.state === 'running').length
  let body
  if (info === null) {
    body =
      infoError !== null ? (
        <div class='screen'>
          <ErrorBox
            error={infoError}
            title={isCode(infoError, ErrorCodes.Forbidden) ? 'The Fieldsync core refused this page' : 'Cannot reach the Fieldsync core'}
          />
        </div>
      ) : (
        <div class='screen'>
          <p class='muted'>Loading…</p>
        </div>
      )
  } else {
    switch (screen) {
      case 'revision':
        body = <RevisionScreen id={route[1] ?? ''} compare={route[2]} />
        break
      case 'peers':
        body = <PeersScreen transfers={transfers} />
        break
      case 'rollout':
        body = <RolloutScreen />
        break
      case 'devices':
        body =
          route[1] === 'device' ? (
            <DevicePage id={route[2] ?? ''} />
          ) : route[1] === 'install' ? (
            <InstallWizard rev={route[2]} device={route[3]} transfers={transfers} />
          ) : (
            <DevicesScreen />
          )
        break
      case 'transfers':
        body = <TransfersScreen transfers={transfers} />
        break
      case 'usb':
        body = <UsbScreen rev={route[1]} />
        break
      case 'trust':
        body = <TrustScreen />
        break
      default:
        body = <LibraryScreen transfers={transfers} />
    }
  }

  return (
    <ToastContext.Provider value={notify}>
      <InfoContext.Provider value={info}>
        <CommandContext.Provider value={commands}>
          <div class='shell'>
            <a class='skip' href='#main'>
              Skip to content
            </a>
            <aside class='sidebar'>
              <div class='brand'>
                <span class='brand-mark' aria-hidden='true'>
                  ◆
                </span>{' '}
                Fieldsync
              </div>
              {info !== null && <Nav route={screen === 'revision' ? 'library' : screen} running={running} info={info} />}
              <div class='sidebar-foot'>
                <label class='small' for='theme'>
                  Display
                </label>
                <select
                  id='theme'
                  class='input input-small'
                  value={theme}
                  onChange={e => {
                    setTheme((e.target as HTMLSelectElement).value as Theme)
                  }}
                >
                  {THEMES.map(([v, l]) => (
                    <option key={v} value={v}>
                      {l}
                    </option>
                  ))}
                </select>
                <div class='muted small keys-hint'>
                  <kbd>Ctrl</kbd>+<kbd>K</kbd> commands · <kbd>?</kbd> keys
                </div>
                {info !== null && (
                  <div class='muted small version' title={info.home}>
                    v{info.version} · {info.mode === 'electron' ? 'desktop' : 'browser mode'}
                  </div>
                )}
              </div>
            </aside>
            <main id='main' class='main' tabIndex={-1}>
              <Connection state={conn} />
              {body}
            </main>
            <Toasts toasts={toasts} dismiss={dismiss} dismissAll={dismissAll} />
            {info !== null && (
              <KeyboardLayer
                themes={THEMES}
                setTheme={t => {
                  setTheme(t as Theme)
                }}
              />
            )}
          </div>
        </CommandContext.Provider>
      </InfoContext.Provider>
    </ToastContext.Provider>
  )
}
