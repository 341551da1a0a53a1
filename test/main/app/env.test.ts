/**
 * The environment is read once, by the composition root: FIELDSYNC_DIRECT_IO,
 * FIELDSYNC_MAX_EXPANSION and PVR_OBJECTS_DIR reach the store and the importer
 * as options, and the services themselves no longer look at process.env.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { App } from '../../../main/app/index.js'
import { readEnvSettings } from '../../../main/app/paths.js'
import { directorySource } from '../../../main/store/import/sources.js'
import { silentLogger } from '../../../shared/log.js'
import { tempDir } from '../../helpers/tmp.js'

describe('the environment, read once by the composition root', () => {
  it("reads direct I/O, the expansion limit and pvr's object folders, with their defaults", () => {
    assert.deepEqual(readEnvSettings({}), { directIo: true, maxExpansion: 100, pvrObjectDirs: [join(homedir(), '.pvr', 'objects')] })
    assert.deepEqual(readEnvSettings({ FIELDSYNC_DIRECT_IO: '0', FIELDSYNC_MAX_EXPANSION: '0', PVR_OBJECTS_DIR: '/srv/pvr' }), {
      directIo: false,
      maxExpansion: 0,
      pvrObjectDirs: ['/srv/pvr', join(homedir(), '.pvr', 'objects')],
    })
    assert.equal(readEnvSettings({ FIELDSYNC_DIRECT_IO: '1', FIELDSYNC_MAX_EXPANSION: 'lots' }).maxExpansion, 100)
    assert.equal(readEnvSettings({ FIELDSYNC_MAX_EXPANSION: '-3' }).maxExpansion, 100)
    assert.equal(readEnvSettings({ FIELDSYNC_DIRECT_IO: '1' }).directIo, true)
  })

  it('the App hands the settings to the object store', async t => {
    const off = new App({ home: await tempDir(t), log: silentLogger(), env: { directIo: false, maxExpansion: 100, pvrObjectDirs: [] } })
    assert.equal(off.library.objects.directIo, false)
    const on = new App({ home: await tempDir(t), log: silentLogger(), env: { directIo: true, maxExpansion: 100, pvrObjectDirs: [] } })
    assert.equal(on.library.objects.directIo, true)
  })

  it('a checkout import looks in the object folders it is given, not in PVR_OBJECTS_DIR of the process', async t => {
    const dir = await tempDir(t)
    await mkdir(join(dir, '.pvr'), { recursive: true })
    await writeFile(join(dir, '.pvr', 'json'), '{"#spec":"pantavisor-service-system@1"}')
    const before = process.env.PVR_OBJECTS_DIR
    process.env.PVR_OBJECTS_DIR = '/from/the/process'
    try {
      const src = await directorySource(dir, undefined, ['/given/pvr'])
      assert.deepEqual(src.objectDirs, ['/given/pvr', join(dir, '.pvr', 'objects')])
    } finally {
      if (before === undefined) delete process.env.PVR_OBJECTS_DIR
      else process.env.PVR_OBJECTS_DIR = before
    }
  })
})
