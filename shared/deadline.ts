/** Deadlines for async work, shared by every part that talks to peers or devices. */

/**
 * A signal that aborts when `parent` does or after `ms`. Use this, not
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: on Node 20 a garbage
 * collection can collect that timeout signal, and the deadline then never
 * fires. Here the timer holds the controller strongly; call `done()` after.
 */
export function deadline(parent: AbortSignal, ms: number): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController()
  const onAbort = () => {
    ac.abort(parent.reason)
  }
  if (parent.aborted) ac.abort(parent.reason)
  else parent.addEventListener('abort', onAbort, { once: true })
  const timer = setTimeout(() => {
    ac.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError'))
  }, ms)
  ;(timer as { unref?: () => void }).unref?.() // Node: do not hold the process open
  return {
    signal: ac.signal,
    done: () => {
      clearTimeout(timer)
      parent.removeEventListener('abort', onAbort)
    },
  }
}

/** Run `fn` with a deadline (see `deadline`). */
export async function withDeadline<T>(parent: AbortSignal, ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const d = deadline(parent, ms)
  try {
    return await fn(d.signal)
  } finally {
    d.done()
  }
}
