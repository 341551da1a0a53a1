/**
 * The preload of the one window (sandboxed, context-isolated): exposes only
 * `window.fieldsync`, the typed API built from the contract. CommonJS because
 * sandboxed preloads cannot be ES modules; bundled (with shared/) into
 * dist/main/electron/preload.bundle.cjs by scripts/build-renderer.mjs,
 * because a sandboxed preload cannot require files either.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron'
import { createBridge } from './bridge.js'

contextBridge.exposeInMainWorld('fieldsync', createBridge(ipcRenderer, webUtils))
