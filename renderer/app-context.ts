/** App-wide context: what the core told us about itself, and the revisions for pickers. */
import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import type { AppInfo } from '../shared/api/types.js'
import { BugError } from '../shared/errors.js'

export const InfoContext = createContext<AppInfo | null>(null)

export function useInfo(): AppInfo {
  const i = useContext(InfoContext)
  if (i === null) throw new BugError('no app info')
  return i
}
