/** What the app is and where it runs; folders the UI may browse. */

export type Empty = Record<string, never>

/** What this run of the core can do: a screen shows "not available" for what is false. */
export interface Capabilities {
  peers: boolean
  devices: boolean
  /** The renderer can turn a dropped/picked File into a local path (Electron). */
  filePaths: boolean
  /** The renderer can upload a File's bytes to the core (browser mode). */
  upload: boolean
}

export interface AppInfo {
  version: string
  mode: 'electron' | 'browser'
  home: string
  platform: string
  /** A sensible default folder for exports (the user's Downloads or home). */
  defaultFolder: string
  capabilities: Capabilities
}

export interface DirEntry {
  name: string
  kind: 'dir' | 'file'
  size: number | null
}

export interface DirListing {
  path: string
  parent: string | null
  entries: DirEntry[]
  /** Mount points that look like removable drives (USB sticks), for quick picks. */
  places: Array<{ label: string; path: string }>
}
