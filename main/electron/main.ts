/**
 * Electron's main process: the core (library, LAN node) runs here through
 * the same composition root as the CLI and browser mode; one window shows
 * the renderer from the `app://fieldsync/` scheme with a strict CSP, a
 * sandboxed, context-isolated preload, no remote content, no navigation.
 */
import '../polyfills.js'
import { app as electron, BrowserWindow, Menu, protocol, session, shell } from 'electron'
import { fileURLToPath } from 'node:url'
import { App, defaultHome } from '../app/index.js'
import { ApiCore } from '../app/handlers/index.js'
import { createLogger } from '../log.js'
import { bindIpc } from './ipc.js'
import { APP_ORIGIN, registerAppScheme, serveRenderer } from './scheme.js'

const log = createLogger('fieldsync:electron')
const rendererDir = fileURLToPath(new URL('../../renderer/', import.meta.url))
const preload = fileURLToPath(new URL('./preload.bundle.cjs', import.meta.url))

registerAppScheme(protocol)

// One instance per library: a second launch focuses the first window.
if (!electron.requestSingleInstanceLock()) electron.quit()

let window: BrowserWindow | null = null
let core: ApiCore | null = null
let fieldsync: App | null = null

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1360,
    height: 880,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Fieldsync',
    backgroundColor: '#f4f5f7',
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
      navigateOnDragDrop: false,
    },
  })
  win.once('ready-to-show', () => {
    win.show()
  })
  // No navigation away from the app, no new windows; https links open in the system browser.
  win.webContents.on('will-navigate', (e, url) => {
    if (!url.startsWith(APP_ORIGIN)) e.preventDefault()
  })
  win.webContents.on('will-redirect', (e, url) => {
    if (!url.startsWith(APP_ORIGIN)) e.preventDefault()
  })
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url)
    return { action: 'deny' }
  })
  void win.loadURL(`${APP_ORIGIN}/index.html`)
  return win
}

async function main(): Promise<void> {
  await electron.whenReady()
  // Nothing remote: every request that is not our scheme is cancelled; no permission is ever granted.
  session.defaultSession.webRequest.onBeforeRequest((details, cb) => {
    cb({ cancel: !details.url.startsWith(APP_ORIGIN) && !details.url.startsWith('devtools://') })
  })
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => {
    cb(false)
  })
  session.defaultSession.setPermissionCheckHandler(() => false)
  await serveRenderer(protocol, rendererDir)
  electron.on('web-contents-created', (_e, contents) => {
    contents.on('will-attach-webview', ev => {
      ev.preventDefault()
    })
  })
  if (process.platform !== 'darwin') Menu.setApplicationMenu(null)

  fieldsync = new App({ home: defaultHome(), log })
  await fieldsync.start()
  core = new ApiCore({ app: fieldsync, log }, { mode: 'electron' })
  await core.start()
  window = createWindow()
  bindIpc({ core, window, log })
  // The LAN node starts with the app (mDNS on; FIELDSYNC_NO_MDNS=1 turns it off).
  core.enableDevices({ mdns: process.env.FIELDSYNC_NO_MDNS !== '1' }).catch((err: unknown) => {
    log.error('devices: %s', (err as Error).message)
  })
  core.enableLan({ mdns: process.env.FIELDSYNC_NO_MDNS !== '1' }).catch((err: unknown) => {
    log.error('LAN node: %s', (err as Error).message)
  })

  electron.on('second-instance', () => {
    if (window === null) return
    if (window.isMinimized()) window.restore()
    window.focus()
  })
  electron.on('window-all-closed', () => {
    electron.quit()
  })
}

let stopping = false
electron.on('will-quit', e => {
  if (stopping || (core === null && fieldsync === null)) return
  e.preventDefault()
  stopping = true
  void (async () => {
    try {
      await core?.stop()
      await fieldsync?.stop()
    } catch (err) {
      log.error('stopping: %s', (err as Error).message)
    }
    core = null
    fieldsync = null
    electron.quit()
  })()
})

main().catch((err: unknown) => {
  log.error('cannot start: %s', (err as Error)?.stack ?? err)
  electron.exit(1)
})
