/** Blocked peers, kept in the library's database (table peer_blocks). */
import { BadInputError } from '../../shared/errors.js'
import type { Library } from '../store/library.js'

/** A libp2p peer id as printed (base58btc, Ed25519 ids start with 12D3KooW). */
export const PEER_ID_RE = /^(12D3KooW[1-9A-HJ-NP-Za-km-z]{44}|Qm[1-9A-HJ-NP-Za-km-z]{44}|[1-9A-HJ-NP-Za-km-z]{40,128})$/

export function checkPeerId(s: string): string {
  if (!PEER_ID_RE.test(s)) throw new BadInputError(`peer ${JSON.stringify(s)}: not a peer id (see \`fieldsync peers\`; ids look like 12D3KooW...)`)
  return s
}

export class BlockList {
  private hasStmt: ReturnType<Library['db']['prepare']> | undefined
  private db: Library['db'] | undefined

  constructor(private readonly library: Library) {}

  has(peer: string): boolean {
    const db = this.library.db
    if (this.hasStmt === undefined || this.db !== db) {
      this.db = db
      this.hasStmt = db.prepare('SELECT 1 FROM peer_blocks WHERE peer_id = ?')
    }
    return this.hasStmt.get(peer) !== undefined
  }

  add(peer: string): void {
    checkPeerId(peer)
    this.library.db.prepare('INSERT OR IGNORE INTO peer_blocks (peer_id, blocked_at) VALUES (?, ?)').run(peer, Date.now())
  }

  remove(peer: string): boolean {
    return this.library.db.prepare('DELETE FROM peer_blocks WHERE peer_id = ?').run(peer).changes > 0
  }

  list(): Array<{ peer: string; blockedAt: number }> {
    return (
      this.library.db.prepare('SELECT peer_id, blocked_at FROM peer_blocks ORDER BY blocked_at').all() as Array<{ peer_id: string; blocked_at: number }>
    ).map(r => ({ peer: r.peer_id, blockedAt: r.blocked_at }))
  }
}
