/**
 * Browser-mode e2e helpers: a real `fieldsync ui` process (real core), and
 * Debian's Chromium driven by playwright-core with a fresh profile.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { cliBin, repoRoot } from '../helpers/paths.js'

export const CHROMIUM = '/usr/bin/chromium'
export const screenshotsDir = join(repoRoot, 'test-results', 'screenshots')

export function chromiumMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} not installed (apt-get install chromium)`
  if (!existsSync(join(repoRoot, 'dist', 'renderer', 'index.html'))) return 'renderer not built (npm run build)'
  return null
}

/** SIGTERM a child and wait for it to exit; SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const done = new Promise<void>(resolve =>
    child.once('exit', () => {
      resolve()
    }),
  )
  child.kill('SIGTERM')
  const t = setTimeout(() => {
    child.kill('SIGKILL')
  }, graceMs)
  await done
  clearTimeout(t)
}

export interface UiProcess {
  child: ChildProcess
  url: string
  base: string
  token: string
  home: string
  stderr: () => string
  stop: () => Promise<void>
}

/** Spawn `fieldsync ui --no-open --no-mdns --home <home>` and wait for the URL it prints. */
export async function startUi(home: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<UiProcess> {
  const child = spawn(process.execPath, [cliBin, '--home', home, 'ui', '--no-open', '--no-mdns', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env, DISPLAY: '', WAYLAND_DISPLAY: '' },
  })
  let out = ''
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`fieldsync ui printed no URL in 20 s; stderr: ${err}`))
    }, 20_000)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /(http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
    child.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`fieldsync ui exited (${code}): ${err}`))
    })
  })
  const base = url.slice(0, url.indexOf('#'))
  const token = url.slice(url.indexOf('#token=') + 7)
  return {
    child,
    url,
    base,
    token,
    home,
    stderr: () => err,
    stop: async () => {
      await stopChild(child, 5000)
    },
  }
}

export interface BrowserSession {
  context: BrowserContext
  page: Page
  errors: string[]
  close: () => Promise<void>
}

/** Chromium with a fresh profile (user-data-dir) for this session only. */
export async function openBrowser(opts: { colorScheme?: 'light' | 'dark' } = {}): Promise<BrowserSession> {
  const profile = await mkdtemp(join(tmpdir(), 'fieldsync-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1360, height: 860 },
    colorScheme: opts.colorScheme ?? 'light',
  })
  const page = context.pages()[0] ?? (await context.newPage())
  const errors: string[] = []
  page.on('pageerror', e => {
    errors.push(`pageerror: ${e.message}`)
  })
  page.on('console', m => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`)
  })
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}

export async function screenshot(page: Page, name: string, opts: { keepToasts?: boolean } = {}): Promise<void> {
  if (opts.keepToasts !== true) {
    await page.$$eval('.toast button[aria-label="Dismiss"]', bs => {
      for (const b of bs) (b as unknown as { click: () => void }).click()
    })
    await page
      .locator('.toast')
      .first()
      .waitFor({ state: 'detached', timeout: 2000 })
      .catch(() => {})
  }
  await mkdir(screenshotsDir, { recursive: true })
  await page.screenshot({ path: join(screenshotsDir, `${name}.png`), fullPage: true })
}

/** Drop a file from disk onto `selector`, as a user dragging it from the file manager. */
export async function dropFile(page: Page, selector: string, file: string, name: string): Promise<void> {
  const b64 = (await readFile(file)).toString('base64')
  const dt = await page.evaluateHandle(
    ({ b64, name }) => {
      const bin = atob(b64)
      const bytes = new Uint8Array(bin.length)
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
      const t = new (globalThis as any).DataTransfer()
      t.items.add(new File([bytes], name, { type: 'application/gzip' }))
      return t
    },
    { b64, name },
  )
  await page.dispatchEvent(selector, 'dragenter', { dataTransfer: dt })
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: dt })
  await page.dispatchEvent(selector, 'drop', { dataTransfer: dt })
}

/** POST /api/<channel> as a client would, with optional token/origin. */
export async function apiCall(base: string, channel: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}api/${channel}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.status, json: await res.json() }
}
