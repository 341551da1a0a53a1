/**
 * Two real revisions of a "site gateway" for the UI tests: a BSP and three
 * containers with real squashfs images (mksquashfs), where v2 changes one
 * container and shares everything else with v1.
 */
import { join } from 'node:path'
import { buildState, makeSquashfs, smallObject, writeTarball, type TestObject } from '../helpers/revisions.js'

export interface Gateway {
  v1: string
  v2: string
}

async function squash(dir: string, name: string, bytes: number, seed: string, key: string): Promise<TestObject> {
  const s = await makeSquashfs(dir, name, bytes, seed)
  return { key, ...s }
}

export async function makeGateway(dir: string): Promise<Gateway> {
  const kernel = await squash(dir, 'kernel', 1_400_000, 'kernel-5.10', 'bsp/kernel.img')
  const initrd = await squash(dir, 'initrd', 500_000, 'pantavisor-019', 'bsp/pantavisor')
  const aw = {
    name: 'awconnect',
    root: await squash(dir, 'awconnect', 900_000, 'awconnect-1', 'awconnect/root.squashfs'),
    config: await smallObject(dir, 'awconnect.conf', 'lxc.uts.name = awconnect\n'),
  }
  const avahi = {
    name: 'pv-avahi',
    root: await squash(dir, 'pv-avahi', 350_000, 'avahi-1', 'pv-avahi/root.squashfs'),
    config: await smallObject(dir, 'avahi.conf', 'lxc.uts.name = pv-avahi\n'),
  }
  const agent1 = {
    name: 'fleet-agent',
    root: await squash(dir, 'agent-1', 1_700_000, 'agent-1.4.0', 'fleet-agent/root.squashfs'),
    config: await smallObject(dir, 'agent1.conf', 'lxc.uts.name = fleet-agent\n# 1.4.0\n'),
  }
  const agent2 = {
    name: 'fleet-agent',
    root: await squash(dir, 'agent-2', 1_800_000, 'agent-1.5.0', 'fleet-agent/root.squashfs'),
    config: await smallObject(dir, 'agent2.conf', 'lxc.uts.name = fleet-agent\n# 1.5.0\n'),
  }
  const v1 = buildState({ kernel, initrd, containers: [aw, avahi, agent1] })
  const v2 = buildState({ kernel, initrd, containers: [aw, avahi, agent2] })
  const objs = (c: (typeof aw)[]) => [kernel, initrd, ...c.flatMap(x => [x.root, x.config])].map(o => ({ sha: o.sha, path: o.path }))
  const f1 = join(dir, 'site-gateway-1.4.tgz')
  const f2 = join(dir, 'site-gateway-1.5.tgz')
  await writeTarball(f1, JSON.stringify(v1), objs([aw, avahi, agent1]), { gzip: true })
  await writeTarball(f2, JSON.stringify(v2), objs([aw, avahi, agent2]), { gzip: true })
  return { v1: f1, v2: f2 }
}
