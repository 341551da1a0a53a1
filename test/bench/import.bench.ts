/**
 * Import of a ~1 GiB uncompressed export tarball (real squashfs objects, one
 * shared by two keys) beside, in the same run: `tar -xf` + `sha256sum` of the
 * same file, and Node's own streaming sha256 of the same bytes (the ceiling).
 * Also peak memory of the import, and the CLI's start-up.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cliBin } from '../helpers/paths.js'
import { makeSquashfs, writeTarball } from '../helpers/revisions.js'
import { median, mbps, report, timeCmd, verdict } from './lib.js'

const MB = 1 << 20
const SIZES = (process.env.BENCH_IMPORT_MB ?? '384,256,192,128,64').split(',').map(Number)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)

async function nodeSha(file: string): Promise<number> {
  const t0 = process.hrtime.bigint()
  const h = createHash('sha256')
  for await (const c of createReadStream(file, { highWaterMark: 4 * MB })) h.update(c as Buffer)
  h.digest('hex')
  return Number(process.hrtime.bigint() - t0) / 1e9
}

async function main(): Promise<void> {
  const work = join(process.env.BENCH_DIR ?? tmpdir(), `fieldsync-bench-import-${process.pid}`)
  await mkdir(work, { recursive: true })
  try {
    const objs: Array<{ path: string; sha: string; size: number }> = []
    for (let i = 0; i < SIZES.length; i++) objs.push(await makeSquashfs(work, `c${i}`, SIZES[i] * MB, `bench-${i}`))
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
      state[`c${i}/lxc.container.conf`] = objs[objs.length - 1].sha // one object shared by every container
    })
    const tarball = join(work, 'bench.tar')
    await writeTarball(tarball, JSON.stringify(state), objs)
    const bytes = (await stat(tarball)).size
    const extract = join(work, 'x')
    const tImport: number[] = []
    const tTar: number[] = []
    const tSha: number[] = []
    let rss = 0
    for (let r = 0; r < RUNS; r++) {
      // Each measured command starts with no dirty pages from the one before (sync).
      await rm(extract, { recursive: true, force: true })
      await mkdir(extract)
      await timeCmd('sync', [])
      tTar.push((await timeCmd('bash', ['-c', `tar -xf '${tarball}' -C '${extract}' && sha256sum '${extract}'/objects/* > /dev/null`])).seconds)
      tSha.push(await nodeSha(tarball))
      await rm(extract, { recursive: true, force: true })
      const home = join(work, `home${r}`)
      await timeCmd('sync', [])
      const t = await timeCmd(process.execPath, [cliBin, '--home', home, 'import', tarball], { rss: true })
      tImport.push(t.seconds)
      rss = Math.max(rss, t.maxRssKb ?? 0)
      await rm(home, { recursive: true, force: true })
    }
    const imp = median(tImport)
    const tar = median(tTar)
    const sha = median(tSha)
    report(`import of a ${(bytes / MB).toFixed(0)} MiB export tarball (${objs.length} squashfs objects; median of ${RUNS})`, [
      ['fieldsync import', `${imp.toFixed(2)} s  ${mbps(bytes, imp)}`],
      ['tar -xf + sha256sum', `${tar.toFixed(2)} s  ${mbps(bytes, tar)}`],
      ['node streaming sha256 (ceiling)', `${sha.toFixed(2)} s  ${mbps(bytes, sha)}`],
      ['import / (tar + sha256sum) time', `${(imp / tar).toFixed(2)}x  (goal <= 0.5x: ${verdict(imp / tar <= 0.5)})`],
      ['import / ceiling throughput', `${(sha / imp).toFixed(2)}x  (goal >= 0.6x: ${verdict(sha / imp >= 0.6)})`],
      ['import peak RSS', rss > 0 ? `${(rss / 1024).toFixed(0)} MB  (goal <= 150 MB: ${verdict(rss / 1024 <= 150)})` : 'n/a (/usr/bin/time missing)'],
    ])
    const empty = join(work, 'empty')
    const v: number[] = []
    const l: number[] = []
    for (let r = 0; r < 5; r++) {
      v.push((await timeCmd(process.execPath, [cliBin, '--version'])).seconds)
      l.push((await timeCmd(process.execPath, [cliBin, '--home', empty, 'ls'])).seconds)
    }
    const bare = median(await Promise.all([0, 1, 2].map(async () => (await timeCmd(process.execPath, ['-e', '0'])).seconds)))
    report('CLI start-up (median of 5)', [
      ['fieldsync --version', `${(median(v) * 1000).toFixed(0)} ms  (goal < 300 ms: ${verdict(median(v) < 0.3)})`],
      ['fieldsync ls (empty library)', `${(median(l) * 1000).toFixed(0)} ms  (goal < 300 ms: ${verdict(median(l) < 0.3)})`],
      ['node -e 0 (baseline)', `${(bare * 1000).toFixed(0)} ms`],
    ])
    await writeFile(join(work, 'done'), '')
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

await main()
