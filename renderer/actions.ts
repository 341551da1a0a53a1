/**
 * Every action the command palette offers: going to each screen, and what
 * each screen does (import, export, install, USB, pull, add a peer or a
 * device, trust, the policy, the display), per revision, peer and device
 * where it applies. Lists are read when the palette opens.
 */
import { useContext, useEffect, useState } from 'preact/hooks'
import { POLICY_MEANINGS, TRUST_POLICIES } from '../shared/api/trust.js'
import type { DeviceInfo, PeersStatus, RevisionSummary } from '../shared/api/types.js'
import { InfoContext } from './app-context.js'
import { runCommand, useCommandBus } from './commands.js'
import { go, useApi } from './hooks.js'
import { GO_KEYS, type Action } from './palette.js'
import { errorParts, pullToastKey, useNotify } from './ui.js'

/** Focus the element with this id once its screen shows it (a few seconds at most). */
function focusWhenShown(id: string): void {
  const until = Date.now() + 3000
  const tick = () => {
    const el = document.getElementById(id)
    if (el !== null) {
      el.focus()
      return
    }
    if (Date.now() < until) requestAnimationFrame(tick)
  }
  requestAnimationFrame(tick)
}

interface Lists {
  revs: RevisionSummary[]
  peers: PeersStatus | null
  devices: DeviceInfo[]
}

export function useActions(open: boolean, display: { themes: Array<[string, string]>; setTheme: (t: string) => void; openHelp: () => void }): Action[] {
  const api = useApi()
  const info = useContext(InfoContext)
  const bus = useCommandBus()
  const notify = useNotify()
  const [lists, setLists] = useState<Lists>({ revs: [], peers: null, devices: [] })

  useEffect(() => {
    if (!open || info === null) return
    let alive = true
    void Promise.all([
      api.library.list().then(
        l => l.revisions,
        () => [],
      ),
      info.capabilities.peers ? api.peers.status().catch(() => null) : Promise.resolve(null),
      info.capabilities.devices ? api.devices.list().catch(() => []) : Promise.resolve([]),
    ]).then(([revs, peers, devices]) => {
      if (alive) setLists({ revs, peers, devices })
    })
    return () => {
      alive = false
    }
  }, [open, api, info])

  const caps = info?.capabilities
  const out: Action[] = GO_KEYS.map(([k, route, label]) => ({
    id: `go-${route}`,
    title: label,
    group: 'Go to',
    keys: `g ${k}`,
    run: () => {
      go(route)
    },
  }))
  const add = (a: Action) => {
    out.push(a)
  }

  add({
    id: 'import-file',
    title: 'Import a file…',
    group: 'Library',
    run: () => {
      runCommand(bus, 'library.import-file', ['library'])
    },
  })
  add({
    id: 'import-folder',
    title: 'Import from a folder on this computer…',
    group: 'Library',
    run: () => {
      runCommand(bus, 'library.import-folder', ['library'])
    },
  })
  for (const r of lists.revs) {
    add({
      id: `open-${r.id}`,
      title: `Open ${r.name}`,
      group: 'Library',
      run: () => {
        go('revision', r.id)
      },
    })
    if (r.complete)
      add({
        id: `export-${r.id}`,
        title: `Export ${r.name}…`,
        group: 'Library',
        run: () => {
          runCommand(bus, 'library.export', ['library'], r.id)
        },
      })
    if (r.complete && caps?.devices === true)
      add({
        id: `install-${r.id}`,
        title: `Install ${r.name} on a device…`,
        group: 'Devices',
        run: () => {
          go('devices', 'install', r.id)
        },
      })
    add({
      id: `usb-${r.id}`,
      title: `Write ${r.name} to a USB stick…`,
      group: 'USB',
      run: () => {
        go('usb', r.id)
      },
    })
  }
  add({
    id: 'usb-import',
    title: 'Import from a USB stick…',
    group: 'USB',
    run: () => {
      go('usb')
    },
  })

  if (caps?.peers === true) {
    add({
      id: 'add-peer',
      title: 'Add a peer by address…',
      group: 'Peers',
      run: () => {
        go('peers')
        focusWhenShown('peer-addr')
      },
    })
    add({
      id: 'team',
      title: 'Team: invite a colleague or join a team…',
      group: 'Peers',
      run: () => {
        go('peers')
      },
    })
    for (const p of lists.peers?.peers ?? []) {
      const from = p.name !== '' ? p.name : p.id.slice(0, 12)
      for (const r of p.lacking) {
        add({
          id: `pull-${p.id}-${r.id}`,
          title: `Pull ${r.name} from ${from}`,
          group: 'Peers',
          run: () => {
            go('peers')
            api.peers.pull({ rev: r.id, from: [p.id] }).then(
              res => {
                notify({ tone: 'ok', title: `Pulled ${r.name}`, body: `${res.objects} object(s) in ${res.seconds.toFixed(1)} s`, key: pullToastKey(r.id) })
              },
              err => {
                notify({ tone: 'bad', title: `Pull of ${r.name} failed`, body: errorParts(err).message, key: pullToastKey(r.id) })
              },
            )
          },
        })
      }
    }
  }

  if (caps?.devices === true) {
    add({
      id: 'add-device',
      title: 'Add a device by address…',
      group: 'Devices',
      run: () => {
        runCommand(bus, 'devices.add', ['devices'])
        focusWhenShown('device-addr')
      },
    })
    add({
      id: 'install',
      title: 'Install a revision…',
      group: 'Devices',
      run: () => {
        go('devices', 'install')
      },
    })
    for (const d of lists.devices)
      add({
        id: `install-on-${d.deviceId}`,
        title: `Install on ${d.name}…`,
        group: 'Devices',
        run: () => {
          go('devices', 'install', '-', d.deviceId)
        },
      })
  }

  add({
    id: 'transfers-clear',
    title: 'Clear finished transfers',
    group: 'Transfers',
    run: () => {
      void api.transfers.clear().then(r => {
        notify({ tone: 'info', title: `Cleared ${r.cleared} finished transfer(s)` })
      })
    },
  })

  add({
    id: 'trust-add',
    title: 'Trust a CA or key (PEM file)…',
    group: 'Trust',
    run: () => {
      runCommand(bus, 'trust.add', ['trust'])
    },
  })
  for (const m of TRUST_POLICIES) {
    add({
      id: `policy-${m}`,
      title: `Signature policy: ${m}`,
      group: 'Trust',
      run: () => {
        api.trust.setPolicy({ policy: m }).then(
          r => {
            notify({ tone: 'ok', title: `Signature policy: ${r.policy}`, body: POLICY_MEANINGS[r.policy] })
          },
          err => {
            notify({ tone: 'bad', title: 'Cannot change the policy', body: errorParts(err).message })
          },
        )
      },
    })
  }

  for (const [v, label] of display.themes)
    add({
      id: `theme-${v}`,
      title: `Display: ${label}`,
      group: 'Display',
      run: () => {
        display.setTheme(v)
      },
    })
  add({ id: 'shortcuts', title: 'Keyboard shortcuts', group: 'Help', keys: '?', run: display.openHelp })
  return out
}
