/**
 * electron-builder.yml against electron-builder's own JSON schema (shipped in
 * app-builder-lib), and the parts the issue asks for: the four targets,
 * better-sqlite3 rebuilt and unpacked from the asar, the built entry point.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { repoRoot } from '../../helpers/paths.js'

const require = createRequire(join(repoRoot, 'package.json'))
const schemaFile = join(repoRoot, 'node_modules', 'app-builder-lib', 'scheme.json')
let tools: { Ajv: any; yaml: any } | undefined
try {
  tools = { Ajv: require('ajv'), yaml: require('js-yaml') }
} catch {
  tools = undefined
}
const skip = tools === undefined || !existsSync(schemaFile) ? 'electron-builder (with ajv and js-yaml) is not installed' : false

describe('electron-builder.yml', { skip }, () => {
  const cfg = () => tools!.yaml.load(readFileSync(join(repoRoot, 'electron-builder.yml'), 'utf8')) as Record<string, any>

  it('is valid for electron-builder', () => {
    const ajv = new tools!.Ajv({ allErrors: true, strict: false })
    const ok = ajv.validate(JSON.parse(readFileSync(schemaFile, 'utf8')), cfg())
    assert.ok(ok, JSON.stringify(ajv.errors?.slice(0, 5)))
  })

  it('builds AppImage, deb, NSIS and dmg from the built entry, with better-sqlite3 rebuilt and unpacked', () => {
    const c = cfg()
    assert.deepEqual(c.linux.target, ['AppImage', 'deb'])
    assert.deepEqual(c.win.target, ['nsis'])
    assert.deepEqual(c.mac.target, ['dmg'])
    assert.equal(c.npmRebuild, true)
    assert.equal(c.asar, true)
    assert.ok(c.asarUnpack.some((p: string) => p.includes('better-sqlite3')))
    assert.equal(c.extraMetadata.main, 'dist/main/electron/main.js')
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { main: string }
    assert.equal(pkg.main, c.extraMetadata.main)
    assert.ok(c.files.includes('dist/renderer/**'))
  })
})
