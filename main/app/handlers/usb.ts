/** usb.*: sticks for devices and for other laptops (main/usb), run as transfers. */
import { basename } from 'node:path'
import { UsbExporter, UsbImporter, ejectStick, writeLibraryInventory } from '../../usb/index.js'
import type { HandlerDeps, HandlerMap } from './context.js'

type UsbHandlers = Pick<HandlerMap, 'usb.export' | 'usb.import' | 'usb.inventory' | 'usb.eject'>

export function usbHandlers(deps: HandlerDeps): UsbHandlers {
  const app = deps.app
  return {
    async 'usb.export'({ revs, folder, forDevice, forPeer }) {
      const exporter = new UsbExporter({ library: app.library, log: deps.log, trust: app.trust, policy: deps.policy })
      const names = revs.map(r => {
        try {
          return app.library.resolve(r).name
        } catch {
          return r
        }
      })
      const res = await deps.transfers.run('usb-export', `write ${names.join(', ')} to ${basename(folder) || folder}`, async t => {
        const r = await exporter.export({
          revisions: revs,
          dir: folder,
          forDevice,
          forPeer,
          signal: t.signal,
          onProgress: p => {
            t.progress(p.bytes, p.totalBytes)
            t.detail(`${p.phase === 'verify' ? 'reading back' : p.phase === 'check' ? 'checking what the stick has of' : 'writing'} ${p.file}`)
          },
        })
        // The finished card says what was done, not the last step it was at.
        const written = r.revisions.filter(x => x.written).length
        const there = r.revisions.length - written
        t.detail(
          [written > 0 ? `${written} written and read back` : '', there > 0 ? `${there} already on the stick (hashed)` : ''].filter(x => x !== '').join(', '),
        )
        return r
      })
      return {
        dir: res.dir,
        mode: res.mode,
        revisions: res.revisions.map(r => ({
          name: r.name,
          id: r.id,
          files: r.files,
          bytes: r.bytes,
          objects: r.objects,
          included: r.included,
          written: r.written,
        })),
        bytes: res.bytes,
        sync: res.sync,
      }
    },

    async 'usb.eject'({ folder }, ctx) {
      return await ejectStick(folder, { log: deps.log, signal: ctx.signal })
    },

    async 'usb.import'({ folder }) {
      const importer = new UsbImporter({ library: app.library, importer: app.importer, log: deps.log })
      const res = await deps.transfers.run('usb-import', `read stick ${basename(folder) || folder}`, async t => {
        const r = await importer.import(folder, {
          signal: t.signal,
          onProgress: p => {
            t.progress(p.bytes, p.totalBytes)
            t.detail(p.file)
          },
        })
        const count = (status: string) => r.revisions.filter(x => x.status === status).length
        t.detail(
          [
            ['imported', count('imported')],
            ['already here', count('existed')],
            ['corrupt', count('corrupt')],
            ['failed', count('failed')],
          ]
            .filter(([, n]) => (n as number) > 0)
            .map(([what, n]) => `${n} ${what}`)
            .join(', ') + ` · ${r.newObjects} new object(s)`,
        )
        return r
      })
      return {
        dir: res.dir,
        ok: res.ok,
        revisions: res.revisions.map(r => ({
          name: r.name,
          id: r.id,
          status: r.status,
          error: r.error ?? null,
          newObjects: r.newObjects.length,
          newBytes: r.newBytes,
          missing: r.missing.length,
          complete: r.complete,
        })),
        newObjects: res.newObjects,
        newBytes: res.newBytes,
      }
    },

    async 'usb.inventory'({ folder }, ctx) {
      const res = await writeLibraryInventory(app.library, folder, { signal: ctx.signal })
      return { file: res.file, objects: res.objects, bytes: res.bytes }
    },
  }
}
