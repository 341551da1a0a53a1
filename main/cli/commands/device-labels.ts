/** `devices rename|tag|untag|forget`: the technician's names for devices, kept in the device store. */
import type { Command } from 'commander'
import { NotFoundError } from '../../../shared/errors.js'
import { DeviceStore, deviceLabel, selectDevices, selectOne, type ResolvedDevice } from '../../devices/index.js'
import type { Cli } from '../cli.js'

/** Labels belong to devices the store knows: an address nobody added is NotFoundError saying how to add it. */
function stored(list: ResolvedDevice[]): Array<ResolvedDevice & { record: NonNullable<ResolvedDevice['record']> }> {
  return list.map(r => {
    if (r.record === undefined)
      throw new NotFoundError(`device ${r.deviceId}: not a known device; add it first (fieldsync devices --no-mdns --device ${r.deviceId})`)
    return { ...r, record: r.record }
  })
}

export function registerDeviceLabels(devices: Command, cli: Cli): void {
  devices
    .command('rename <device> [alias]')
    .description('give a device an alias (unique; selectors find it as name:ALIAS); without ALIAS, remove it')
    .action(
      cli.action(async (ctx, ref: string, alias: string | undefined) => {
        const store = new DeviceStore((await ctx.app()).library.db)
        const [d] = stored([selectOne(store, ref)])
        store.setAlias(d.deviceId, alias ?? null)
        const now = store.get(d.deviceId)
        return {
          json: { deviceId: d.deviceId, alias: now?.alias ?? null },
          text: alias === undefined ? `${d.deviceId}: alias removed` : `${d.deviceId} is now ${alias}`,
        }
      }),
    )

  for (const remove of [false, true]) {
    devices
      .command(`${remove ? 'untag' : 'tag'} <devices> <tags...>`)
      .description(
        remove
          ? 'take tags off devices (selectors: ids, addresses, name:, tag:, all)'
          : 'tag devices, e.g. canary or line-3 (selectors: ids, addresses, name:, tag:, all)',
      )
      .action(
        cli.action(async (ctx, sel: string, tags: string[]) => {
          const store = new DeviceStore((await ctx.app()).library.db)
          const list = stored(selectDevices(store, sel))
          const out = list.map(d => ({ deviceId: d.deviceId, tags: store.tag(d.deviceId, tags, remove) }))
          return { json: out, text: out.map(o => `${o.deviceId}: ${o.tags.length === 0 ? '(no tags)' : o.tags.join(', ')}`).join('\n') }
        }),
      )
  }

  devices
    .command('forget <devices>')
    .description('remove devices from the list, with their alias and tags (their install history stays)')
    .action(
      cli.action(async (ctx, sel: string) => {
        const store = new DeviceStore((await ctx.app()).library.db)
        const list = stored(selectDevices(store, sel))
        const out = list.map(d => ({ deviceId: d.deviceId, name: deviceLabel(d.record), forgotten: store.forget(d.deviceId) }))
        return { json: out, text: out.map(o => `forgot ${o.name}${o.name === o.deviceId ? '' : ` (${o.deviceId})`}`).join('\n') }
      }),
    )
}
