/** Small building blocks: buttons, badges, progress, errors, dialogs, toasts. */
import { createContext, type ComponentChildren } from 'preact'
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks'
import { adviceFor } from '../shared/advice.js'
import { ErrorCodes } from '../shared/errors.js'
import { percent } from './format.js'

export function Button(p: {
  children: ComponentChildren
  onClick?: () => void
  kind?: 'primary' | 'danger' | 'plain' | 'quiet'
  disabled?: boolean
  type?: 'button' | 'submit'
  title?: string
  small?: boolean
  busy?: boolean
  label?: string
  testId?: string
}) {
  return (
    <button
      type={p.type ?? 'button'}
      class={`btn btn-${p.kind ?? 'plain'}${p.small === true ? ' btn-small' : ''}`}
      onClick={p.onClick}
      disabled={p.disabled === true || p.busy === true}
      title={p.title}
      aria-label={p.label}
      aria-busy={p.busy === true ? 'true' : undefined}
      data-testid={p.testId}
    >
      {p.busy === true && <span class='spinner' aria-hidden='true' />}
      {p.children}
    </button>
  )
}

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted'

export function Badge(p: { tone: Tone; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${p.tone}`} title={p.title}>
      {p.children}
    </span>
  )
}

/**
 * A bar of done/total. An unknown total animates only while the work runs
 * (`running`, default true); once it ended, nothing moves: the bar is full when
 * it ended well (`tone` ok), else empty.
 */
export function ProgressBar(p: { done: number; total: number | null; tone?: Tone; label: string; running?: boolean }) {
  const running = p.running ?? true
  const known = percent(p.done, p.total)
  const pct = known ?? (running ? null : p.tone === 'ok' ? 100 : 0)
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (ref.current !== null) ref.current.style.width = pct === null ? '' : `${pct}%`
  }, [pct])
  return (
    <div
      class={`progress${pct === null ? ' progress-indeterminate' : ''} progress-${p.tone ?? 'info'}`}
      role='progressbar'
      aria-label={p.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct === null ? undefined : Math.round(pct)}
    >
      <div class='progress-fill' ref={ref} />
    </div>
  )
}

export function errorParts(err: unknown): { code: string; message: string; hint: string | null } {
  const e = err as { code?: unknown; message?: unknown; details?: unknown } | null
  const code = typeof e?.code === 'string' ? e.code : ErrorCodes.Internal
  const message = typeof e?.message === 'string' ? e.message : String(err)
  return { code, message, hint: adviceFor({ code, details: e?.details }, 'app') }
}

/** Whether an error is one the Trust screen fixes (trust a CA or key, change the policy). */
export function trustCanFix(code: string, message: string): boolean {
  return (
    code === ErrorCodes.SignatureInvalid || code === ErrorCodes.PolicyRefused || /trust its CA|trust add|not in the trust store|change the policy/.test(message)
  )
}

/** The link to the Trust screen that messages saying "trust its CA" or "change the policy" carry. */
export function TrustLink(p: { children?: ComponentChildren }) {
  return (
    <a href='#/trust' class='trust-link' data-testid='trust-link'>
      {p.children ?? 'Open Trust'}
    </a>
  )
}

/** A message from the core, where `command` spans (as the CLI writes them) show as code, never as literal backticks. */
export function Prose(p: { text: string }) {
  const parts = p.text.split('`')
  // An odd count of backticks: one stray, not a code span; show the text as it is.
  if (parts.length % 2 === 0) return <>{p.text}</>
  return <>{parts.map((t, i) => (i % 2 === 1 ? <code key={i}>{t}</code> : t))}</>
}

export function ErrorBox(p: { error: unknown; title?: string; onRetry?: () => void }) {
  const { code, message, hint } = errorParts(p.error)
  return (
    <div class='alert alert-bad' role='alert' data-code={code}>
      <div class='alert-title'>
        {p.title ?? 'Something went wrong'} <code class='code-chip'>{code}</code>
      </div>
      <div class='alert-body'>
        <Prose text={message} />
      </div>
      {hint !== null && (
        <div class='alert-hint'>
          What to do: <Prose text={hint} />
        </div>
      )}
      {trustCanFix(code, message) && (
        <div class='alert-hint'>
          <TrustLink>Trust a CA or change the policy…</TrustLink>
        </div>
      )}
      {p.onRetry !== undefined && (
        <div class='alert-actions'>
          <Button small onClick={p.onRetry}>
            Try again
          </Button>
        </div>
      )}
    </div>
  )
}

/** A whole screen's capability missing in this build/run: say so plainly, no fake data. */
export function NotAvailable(p: { title: string; children: ComponentChildren }) {
  return (
    <section class='not-available' aria-labelledby='na-title' data-testid='not-available'>
      <h2 id='na-title'>{p.title}</h2>
      <div class='na-body'>{p.children}</div>
    </section>
  )
}

export function Empty(p: { title: string; children?: ComponentChildren }) {
  return (
    <div class='empty'>
      <div class='empty-title'>{p.title}</div>
      {p.children !== undefined && <div class='empty-body'>{p.children}</div>}
    </div>
  )
}

/**
 * A <dialog> closed by code (its `open` prop went false) must not report
 * that close back: the browser fires `close` a task after close(), when the
 * dialog may have been asked to open again already (an action run from the
 * palette, then Ctrl+K at once), and reporting it then closes the new one.
 * closeDialog() counts the closes made by code; dialogClosed()'s handler
 * skips that many close events and reports the others (Escape).
 */
export function closeDialog(d: HTMLDialogElement, own: { current: number }): void {
  own.current++
  d.close()
}

export function dialogClosed(own: { current: number }, onClose: () => void): () => void {
  return () => {
    if (own.current > 0) own.current--
    else onClose()
  }
}

export function Dialog(p: { title: string; open: boolean; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null)
  const own = useRef(0)
  useEffect(() => {
    const d = ref.current
    if (d === null) return
    if (p.open && !d.open) d.showModal()
    if (!p.open && d.open) closeDialog(d, own)
  }, [p.open])
  return (
    <dialog ref={ref} class={`dialog${p.wide === true ? ' dialog-wide' : ''}`} onClose={dialogClosed(own, p.onClose)} onCancel={p.onClose} aria-label={p.title}>
      {p.open && (
        <div class='dialog-inner'>
          <header class='dialog-head'>
            <h2>{p.title}</h2>
            <button type='button' class='icon-btn' onClick={p.onClose} aria-label='Close'>
              ×
            </button>
          </header>
          {p.children}
        </div>
      )}
    </dialog>
  )
}

export interface Toast {
  id: number
  tone: Tone
  title: string
  body?: string
  /**
   * What it is about (`pull:<rev id>`, `import:import <file>`, see
   * transferToastKey): a newer toast with the same key replaces it, and an
   * error goes away once that thing succeeds (resolveToasts).
   */
  key?: string
}
type Notify = (t: Omit<Toast, 'id'>) => void
export const ToastContext = createContext<Notify>(() => {})
export function useNotify(): Notify {
  return useContext(ToastContext)
}

/** How many toasts show at once; older ones collapse into "+N more". */
export const TOASTS_SHOWN = 3
/** Toasts kept at all (the oldest go first). */
const TOASTS_KEPT = 20
/** Info, ok and warning toasts leave by themselves after this; errors stay until dismissed or resolved. */
const TOAST_MS = 6000

export interface ToastState {
  toasts: Toast[]
  notify: Notify
  dismiss: (id: number) => void
  dismissAll: () => void
  /** The thing `key` names succeeded: its error toasts go. */
  resolve: (key: string) => void
}

export function useToasts(): ToastState {
  const [toasts, setToasts] = useState<Toast[]>([])
  const next = useRef(1)
  const dismiss = useCallback((id: number) => {
    setToasts(ts => ts.filter(t => t.id !== id))
  }, [])
  const dismissAll = useCallback(() => {
    setToasts([])
  }, [])
  const resolve = useCallback((key: string) => {
    setToasts(ts => (ts.some(t => t.key === key && t.tone === 'bad') ? ts.filter(t => !(t.key === key && t.tone === 'bad')) : ts))
  }, [])
  const notify = useCallback<Notify>(
    t => {
      const id = next.current++
      setToasts(ts => [...ts.filter(x => t.key === undefined || x.key !== t.key).slice(-(TOASTS_KEPT - 1)), { ...t, id }])
      if (t.tone !== 'bad')
        setTimeout(() => {
          dismiss(id)
        }, TOAST_MS)
    },
    [dismiss],
  )
  return { toasts, notify, dismiss, dismissAll, resolve }
}

/** The newest TOASTS_SHOWN toasts; the others behind "+N more" (which shows them all, with "Dismiss all"). */
export function Toasts(p: { toasts: Toast[]; dismiss: (id: number) => void; dismissAll: () => void }) {
  const [expanded, setExpanded] = useState(false)
  const hidden = expanded ? 0 : Math.max(0, p.toasts.length - TOASTS_SHOWN)
  useEffect(() => {
    if (p.toasts.length <= TOASTS_SHOWN) setExpanded(false)
  }, [p.toasts.length])
  return (
    <div class={`toasts${expanded ? ' toasts-expanded' : ''}`} aria-live='polite'>
      {p.toasts.length > TOASTS_SHOWN && (
        <div class='toast-more'>
          {hidden > 0 ? (
            <Button
              small
              onClick={() => {
                setExpanded(true)
              }}
            >
              +{hidden} more
            </Button>
          ) : (
            <Button
              small
              onClick={() => {
                setExpanded(false)
              }}
            >
              Show fewer
            </Button>
          )}
          <Button small kind='quiet' onClick={p.dismissAll}>
            Dismiss all
          </Button>
        </div>
      )}
      {p.toasts.slice(hidden).map(t => (
        <div key={t.id} class={`toast toast-${t.tone}`} role={t.tone === 'bad' ? 'alert' : 'status'} data-key={t.key}>
          <div class='toast-text'>
            <div class='toast-title'>{t.title}</div>
            {t.body !== undefined && <div class='toast-body'>{t.body}</div>}
          </div>
          <button
            type='button'
            class='icon-btn'
            onClick={() => {
              p.dismiss(t.id)
            }}
            aria-label='Dismiss'
          >
            ×
          </button>
        </div>
      ))}
    </div>
  )
}

/** The key of the toasts about a transfer's subject: a pull by its revision, anything else by its kind and label (`import:import wifi.tgz`). */
export function transferToastKey(t: { kind: string; label: string; rev?: string }): string {
  return t.kind === 'pull' && t.rev !== undefined ? pullToastKey(t.rev) : `${t.kind}:${t.label}`
}
export function pullToastKey(rev: string): string {
  return `pull:${rev}`
}
/** As the core labels an import of `file` (a name or a path; main/app/handlers/library.ts names it by its base name). */
export function importToastKey(file: string): string {
  return `import:import ${file.split(/[\\/]/).pop() ?? file}`
}

export function Copy(p: { text: string; label: string }) {
  const [done, setDone] = useState(false)
  return (
    <button
      type='button'
      class='icon-btn copy-btn'
      aria-label={p.label}
      title={p.label}
      onClick={() => {
        void navigator.clipboard?.writeText(p.text).then(
          () => {
            setDone(true)
            setTimeout(() => {
              setDone(false)
            }, 1500)
          },
          () => {},
        )
      }}
    >
      {done ? 'Copied' : 'Copy'}
    </button>
  )
}
