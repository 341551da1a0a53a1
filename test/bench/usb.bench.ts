/**
 * `fieldsync usb export` of a ~1 GiB revision (real squashfs images) to a
 * folder, beside `cp` of the same object files to a folder in the same run.
 * The export's time includes its fsync, its read-back from the medium
 * (O_DIRECT on this ext4, so the bytes come from the disk) and its hashing;
 * `cp` is shown alone, followed by `sync` of its files, and followed by a
 * read-back from the disk through sha256sum (what a careful script does).
 * Also timed: sha256 of the same files from memory with OpenSSL (one core,
 * nothing written), the hashing a safe export cannot skip: cp's time over
 * that is the ratio an export could reach with free I/O. Then the same
 * export again onto the folder that holds it (checked, not written).
 * Goal: cp time / export time >= 0.8.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../shared/log.js'
import { App } from '../../main/app/index.js'
import { cliBin } from '../helpers/paths.js'
import { makeSquashfs } from '../helpers/revisions.js'
import { median, mbps, report, timeCmd, verdict } from './lib.js'

const MB = 1 << 20
const SIZES = (process.env.BENCH_USB_MB ?? '448,320,160,96').split(',').map(Number)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)

async function main(): Promise<void> {
  const work = join(process.env.BENCH_DIR ?? tmpdir(), `fieldsync-bench-usb-${process.pid}`)
  await mkdir(work, { recursive: true })
  try {
    const objs: Array<{ path: string; sha: string; size: number }> = []
    for (let i = 0; i < SIZES.length; i++) objs.push(await makeSquashfs(work, `c${i}`, SIZES[i] * MB, `usb-bench-${i}`))
    const state: Record<string, unknown> = { '#spec': 'pantavisor-service-system@1' }
    objs.forEach((o, i) => {
      state[`c${i}/run.json`] = {
        '#spec': 'service-manifest-run@1',
        config: 'lxc.container.conf',
        name: `c${i}`,
        'root-volume': 'root.squashfs',
        type: 'lxc',
        volumes: [],
      }
      state[`c${i}/root.squashfs`] = o.sha
      state[`c${i}/lxc.container.conf`] = objs[objs.length - 1].sha
    })
    const srcDir = join(work, 'src')
    await mkdir(join(srcDir, 'objects'), { recursive: true })
    await writeFile(join(srcDir, 'json'), JSON.stringify(state))
    for (const o of objs) await rename(o.path, join(srcDir, 'objects', o.sha))
    const home = join(work, 'home')
    const app = new App({ home, log: silentLogger() })
    await app.start()
    await app.importer.importPath(srcDir, { name: 'bench' })
    await app.stop()
    await rm(srcDir, { recursive: true, force: true })
    const files = objs.map(o => join(home, 'objects', o.sha))
    const bytes = objs.reduce((a, o) => a + o.size, 0)
    const tCp: number[] = []
    const tCpSync: number[] = []
    const tUsb: number[] = []
    const tScript: number[] = []
    const tHash: number[] = []
    const tAgain: number[] = []
    const out = join(work, 'out')
    for (let r = 0; r < RUNS; r++) {
      const readBack = 'for f in "$D"/*; do dd if="$f" iflag=direct bs=4M status=none | sha256sum; done > /dev/null'
      for (const [list, cmd] of [
        [tCp, 'cp "$@" "$D"/'],
        [tCpSync, 'cp "$@" "$D"/ && sync "$D"/*'],
        [tScript, `cp "$@" "$D"/ && sync "$D"/* && ${readBack}`],
      ] as const) {
        await rm(out, { recursive: true, force: true })
        await mkdir(out)
        await timeCmd('sync', [])
        list.push((await timeCmd('sh', ['-c', cmd, 'cp', ...files], { env: { D: out } })).seconds)
      }
      tHash.push((await timeCmd('openssl', ['dgst', '-sha256', ...files])).seconds)
      await rm(out, { recursive: true, force: true })
      await mkdir(out)
      await timeCmd('sync', [])
      tUsb.push((await timeCmd(process.execPath, [cliBin, '--home', home, 'usb', 'export', 'bench', out])).seconds)
      // The same export again: the stick already holds the revision, so it is only checked (hashed), not written.
      const again = await timeCmd(process.execPath, [cliBin, '--home', home, '--json', 'usb', 'export', 'bench', out])
      if ((JSON.parse(again.stdout) as { revisions: Array<{ written: boolean }> }).revisions[0].written) throw new Error('the rerun wrote the revision again')
      tAgain.push(again.seconds)
    }
    const cp = median(tCp)
    const cps = median(tCpSync)
    const usb = median(tUsb)
    const script = median(tScript)
    const hash = median(tHash)
    const againT = median(tAgain)
    report(`usb export of a ${(bytes / MB).toFixed(0)} MiB revision (${objs.length} squashfs objects) to a folder; median of ${RUNS}`, [
      ['fieldsync usb export (fsync, read-back from disk)', `${usb.toFixed(2)} s  ${mbps(bytes, usb)}`],
      ['cp of the same files', `${cp.toFixed(2)} s  ${mbps(bytes, cp)}`],
      ['cp + sync of the same files', `${cps.toFixed(2)} s  ${mbps(bytes, cps)}`],
      ['cp + sync + read-back (dd iflag=direct | sha256sum)', `${script.toFixed(2)} s  ${mbps(bytes, script)}`],
      ['sha256 of the same files from memory (openssl dgst, nothing written)', `${hash.toFixed(2)} s  ${mbps(bytes, hash)}`],
      ['the same export again (already there: hashed, not written)', `${againT.toFixed(2)} s  ${mbps(bytes, againT)}`],
      ['cp / export', `${(cp / usb).toFixed(2)}x  (goal >= 0.8x: ${verdict(cp / usb >= 0.8)})`],
      ['(cp + sync) / export', `${(cps / usb).toFixed(2)}x`],
      ['(cp + sync + read-back) / export', `${(script / usb).toFixed(2)}x`],
      ['cp / sha256 alone (the most an export that hashes can reach)', `${(cp / hash).toFixed(2)}x`],
      ['export / export again', `${(usb / againT).toFixed(2)}x  (on this disk; sticks read faster than they write)`],
    ])
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

await main()
