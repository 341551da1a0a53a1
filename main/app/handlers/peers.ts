/** peers.* and team.*: the LAN node (main/peers) as the UI drives it. */
import { NotAvailableError, NotInTeamError, PeerUnavailableError, UsageError } from '../../../shared/errors.js'
import type { HandlerDeps, HandlerMap } from './context.js'
import type { LanService } from './lan.js'
import type { PullEvent } from '../../peers/index.js'

type PeerHandlers = Pick<HandlerMap, 'peers.status' | 'peers.add' | 'peers.pull' | 'team.create' | 'team.join' | 'team.show'>

export function peerHandlers(deps: HandlerDeps): PeerHandlers {
  const lan = (): LanService => {
    const l = deps.lan()
    if (l === undefined) throw new NotAvailableError('the LAN node does not run in this window (start it with `fieldsync ui`, or the desktop app)')
    return l
  }
  const running = () => {
    const l = lan()
    const s = l.services
    if (s !== undefined) return s
    if (l.state === 'no-team') throw new NotInTeamError('this laptop is in no team yet: create a team, or join one with the code a colleague gives you')
    throw new PeerUnavailableError(`the LAN node is not running${l.error !== null ? `: ${l.error.message}` : ''}`)
  }
  const peerName = (id: string) => running().node.table.get(id)?.name ?? id
  /** A revision id's name as the team's catalogs (or this library, for a partial one) give it; null when none does. */
  const knownName = (s: ReturnType<typeof running>, rev: string): string | null => {
    if (!/^[0-9a-f]{64}$/.test(rev)) return null
    for (const p of s.node.table.records()) for (const r of p.catalog ?? []) if (r.id === rev && r.names.length > 0) return r.names[0]
    const local = deps.app.library.get(rev)
    return local === undefined || local.names.length === 0 ? null : local.names[0]
  }

  return {
    async 'peers.status'() {
      return await lan().status()
    },

    async 'peers.add'({ addr, offline }, ctx) {
      const s = running()
      return await s.node.add(addr, { offline: offline === true, signal: ctx.signal ?? new AbortController().signal })
    },

    async 'peers.pull'({ rev, from }) {
      const s = running()
      // Titled by name from the start where a peer's catalog (or this library) already names it, not by id until resolved.
      const label = `pull ${knownName(s, rev) ?? (rev.length === 64 ? rev.slice(0, 12) : rev)}`
      return await deps.transfers.run('pull', label, async t => {
        if (/^[0-9a-f]{64}$/.test(rev)) t.revision(rev)
        const onProgress = (e: PullEvent): void => {
          switch (e.type) {
            case 'resolved':
              t.revision(e.id)
              t.rename(`pull ${e.name ?? e.id.slice(0, 12)}`)
              t.detail(`${e.objects} object(s) to fetch from ${e.peers.length} peer(s)`)
              t.progress(0, e.bytes)
              break
            case 'progress':
              t.progress(e.bytes, e.totalBytes)
              for (const [peer, p] of Object.entries(e.peers)) t.peer(peerName(peer), p.bytes)
              break
            case 'peer-dropped':
              t.detail(`${peerName(e.peer)} dropped: ${e.reason}`)
              break
            case 'liar':
              t.detail(`${peerName(e.peer)} sent corrupt bytes: no longer used`)
              break
            default:
              break
          }
        }
        const r = await s.puller.pull(rev, { from, signal: t.signal, onProgress })
        // What happened, in place of what was about to happen.
        const peers = Object.keys(r.fromPeers).length
        t.detail(r.objects === 0 ? 'complete here already: nothing to fetch' : `${r.objects} object(s) from ${peers} peer(s) in ${r.seconds.toFixed(1)} s`)
        return r
      })
    },

    async 'team.create'({ name, replace }) {
      const l = lan()
      const existing = await l.teamStore.load()
      if (existing !== null && replace !== true)
        throw new UsageError(`this laptop is already in team ${existing.name ?? existing.id}; its join code is under "Invite a colleague"`)
      const { team, code } = await l.teamStore.create({ name, force: replace === true })
      await l.restart()
      deps.events.emit('peer', { id: '', peer: null, gone: false })
      return { code, name: team.name }
    },

    async 'team.join'({ code }) {
      const l = lan()
      const team = await l.teamStore.join(code)
      await l.restart()
      deps.events.emit('peer', { id: '', peer: null, gone: false })
      return { name: team.name ?? team.id }
    },

    async 'team.show'() {
      const l = lan()
      const team = await l.teamStore.load()
      return { code: team === null ? null : l.teamStore.code(team), name: team === null ? null : (team.name ?? team.id) }
    },
  }
}
