/**
 * Screen commands: actions that live inside a screen (open the Library's
 * file picker, its export dialog, the Trust screen's "add") and that the
 * command palette runs from anywhere. A screen registers its handlers with
 * `useCommand` while it is shown; `runCommand` calls the handler at once, or
 * goes to the screen and calls it when the screen has mounted.
 */
import { createContext } from 'preact'
import { useContext, useEffect, useRef } from 'preact/hooks'
import { go } from './hooks.js'

export type CommandHandler = (arg?: string) => void

export interface CommandBus {
  handlers: Map<string, { current: CommandHandler }>
  pending: { id: string; arg?: string } | null
}

export function createCommandBus(): CommandBus {
  return { handlers: new Map(), pending: null }
}

export const CommandContext = createContext<CommandBus>(createCommandBus())

/** Register `fn` as the handler of command `id` while the calling screen is shown. */
export function useCommand(id: string, fn: CommandHandler): void {
  const bus = useContext(CommandContext)
  const ref = useRef(fn)
  ref.current = fn
  useEffect(() => {
    bus.handlers.set(id, ref)
    const p = bus.pending
    if (p !== null && p.id === id) {
      bus.pending = null
      const t = setTimeout(() => {
        ref.current(p.arg)
      }, 0)
      return () => {
        clearTimeout(t)
        if (bus.handlers.get(id) === ref) bus.handlers.delete(id)
      }
    }
    return () => {
      if (bus.handlers.get(id) === ref) bus.handlers.delete(id)
    }
  }, [bus, id])
}

/** Run screen command `id` (shown on `route`): now if its screen is shown, else once it is. */
export function runCommand(bus: CommandBus, id: string, route: string[], arg?: string): void {
  const h = bus.handlers.get(id)
  if (h !== undefined) {
    h.current(arg)
    return
  }
  bus.pending = { id, arg }
  go(...route)
}

export function useCommandBus(): CommandBus {
  return useContext(CommandContext)
}
