/** Opening the SQLite index: WAL, foreign keys, migrations, refusing a newer database. */
import Database from 'better-sqlite3'
import { DatabaseTooNewError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { migrations } from './migrations/index.js'

export type Db = Database.Database

export function openDatabase (file: string, log: Logger): Db {
  const db = new Database(file)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    migrate(db, file, log)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

export function migrate (db: Db, file: string, log: Logger): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > migrations.length) {
    throw new DatabaseTooNewError(`${file}: the library was written by a newer Fieldsync (schema ${current}, this one knows ${migrations.length}); upgrade Fieldsync`)
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v])
      db.pragma(`user_version = ${v + 1}`)
    }).immediate()
    log('migrated %s to schema %d', file, v + 1)
  }
}
