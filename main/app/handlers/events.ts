/** The typed event bus that feeds the UI: library, transfer, peer and device events. */
import { EventEmitter } from 'node:events'
import type { ApiEvents, EventName } from '../../../shared/api/contract.js'

export type AnyListener = <E extends EventName>(event: E, payload: ApiEvents[E]) => void

export class ApiEventBus {
  private readonly emitter = new EventEmitter()

  constructor() {
    // Every front end (a window, each browser tab) adds a listener.
    this.emitter.setMaxListeners(0)
  }

  emit<E extends EventName>(event: E, payload: ApiEvents[E]): void {
    this.emitter.emit('event', event, payload)
  }

  /** Listen to every event; returns the unsubscribe function. */
  onAny(fn: AnyListener): () => void {
    const l = (e: EventName, p: unknown) => {
      try {
        fn(e, p as ApiEvents[typeof e])
      } catch {
        /* a listener's failure is its own */
      }
    }
    this.emitter.on('event', l)
    return () => {
      this.emitter.off('event', l)
    }
  }

  listenerCount(): number {
    return this.emitter.listenerCount('event')
  }
}
