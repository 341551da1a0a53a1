/** Opening the SQLite index: WAL, foreign keys, migrations, refusing a newer database. */
import { BUSY_WAIT_MS, Database } from './sqlite.js'
import { DatabaseTooNewError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { migrations } from './migrations/index.js'

export type Db = Database

export function openDatabase(file: string, log: Logger): Db {
  const db = new Database(file)
  try {
    // First, so that the pragmas below wait for another process opening the same new file.
    db.pragma(`busy_timeout = ${BUSY_WAIT_MS}`)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    // A current schema (every open but the first after an upgrade) needs no
    // write transaction: versions only go up, so a read that finds the
    // current one is the answer. Anything else goes through migrate().
    if (db.pragma('user_version', { simple: true }) !== migrations.length) migrate(db, file, log)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/**
 * Apply the migrations this database lacks. Each runs in an IMMEDIATE
 * transaction that reads `user_version` itself: two processes opening a new
 * home at once (a `serve` and an `import`) take turns, and the second finds
 * the work done instead of creating the same tables again.
 */
export function migrate(db: Db, file: string, log: Logger): void {
  for (;;) {
    const applied = db
      .transaction((): number | undefined => {
        const current = db.pragma('user_version', { simple: true }) as number
        if (current > migrations.length) {
          throw new DatabaseTooNewError(
            `${file}: the library was written by a newer Fieldsync (schema ${current}, this one knows ${migrations.length}); upgrade Fieldsync`,
          )
        }
        if (current === migrations.length) return undefined
        db.exec(migrations[current])
        db.pragma(`user_version = ${current + 1}`)
        return current + 1
      })
      .immediate()
    if (applied === undefined) return
    log('migrated %s to schema %d', file, applied)
  }
}
