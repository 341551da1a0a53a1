#!/usr/bin/env node
// Copies the screenshots the README shows from the last e2e run
// (test-results/screenshots/, written by `npm test` in Chromium) into
// docs/screenshots/, so that the README's pictures are the tests' own.
// Run it after a full `npm test`: `node scripts/readme-screenshots.mjs`.
// A screenshot the tests did not write is named, and nothing is copied.
import { copyFile, mkdir, stat } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'

const root = path.resolve(import.meta.dirname, '..')
const from = path.join(root, 'test-results', 'screenshots')
const to = path.join(root, 'docs', 'screenshots')

/** The README's pictures, by the name its e2e test gives each. */
export const SHOWN = [
  'library',
  'revision',
  'revision-diff',
  'compose-add-package',
  'peers',
  'peers-pull-row',
  'install-plan',
  'install-error',
  'fleet-devices-tagged',
  'fleet-rollout-finished',
  'fleet-rollout-stopped',
  'fleet-device-page',
  'fleet-devices-200',
  'library-500',
  'transfers',
  'usb-write',
  'trust',
  'palette',
  'rollout-unfinished',
]

const missing = []
for (const name of SHOWN) {
  try {
    await stat(path.join(from, `${name}.png`))
  } catch {
    missing.push(name)
  }
}
if (missing.length > 0) {
  process.stderr.write(`readme-screenshots: not in ${from}: ${missing.join(', ')} (run npm test first)\n`)
  process.exit(1)
}
await mkdir(to, { recursive: true })
for (const name of SHOWN) await copyFile(path.join(from, `${name}.png`), path.join(to, `${name}.png`))
process.stdout.write(`copied ${SHOWN.length} screenshots to ${path.relative(root, to)}\n`)
