#!/usr/bin/env node
// Copies the non-TypeScript files that main/ reads at run time next to their
// compiled modules in dist/ (tsc copies only what it compiles).
import { copyFile, mkdir } from 'node:fs/promises'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const assets = ['main/usb/install.sh']
for (const a of assets) {
  const to = path.join(root, 'dist', a)
  await mkdir(path.dirname(to), { recursive: true })
  await copyFile(path.join(root, a), to)
}
