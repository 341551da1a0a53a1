/** The library's prepared statements, in one place. */
import type { Db } from './db.js'

const REVISION_INFO = `
SELECT r.id, r.spec, r.source, r.imported_at, r.complete,
  (SELECT group_concat(name, char(10)) FROM (SELECT name FROM revision_names WHERE revision_id = r.id ORDER BY created_at DESC, name)) AS names,
  (SELECT count(*) FROM (SELECT DISTINCT sha FROM revision_objects WHERE revision_id = r.id)) AS objects,
  (SELECT count(*) FROM (SELECT DISTINCT ro.sha FROM revision_objects ro JOIN objects o ON o.sha = ro.sha WHERE ro.revision_id = r.id AND o.present = 0)) AS missing,
  (SELECT coalesce(sum(o.size), 0) FROM objects o WHERE o.sha IN (SELECT sha FROM revision_objects WHERE revision_id = r.id)) AS bytes
FROM revisions r`

export class Queries {
  readonly revisionByName
  readonly revisionsByPrefix
  readonly revisionInfo
  readonly revisionList
  readonly revisionState
  readonly revisionExists
  readonly revisionInsert
  readonly revisionDelete
  readonly revisionObjects
  readonly revisionMissing
  readonly revisionMissingCount
  readonly revisionComplete
  readonly revisionSetComplete
  readonly revisionsUsing
  readonly revisionObjectInsert
  readonly nameUpsert
  readonly nameInsertIfFree
  readonly objectGet
  readonly objectEnsure
  readonly objectSetPresent
  readonly objectSetAbsent
  readonly objectDelete
  readonly objectsPresent
  readonly objectsUnreferenced
  private readonly statsStmt

  constructor(db: Db) {
    this.revisionByName = db.prepare('SELECT revision_id FROM revision_names WHERE name = ?')
    this.revisionsByPrefix = db.prepare('SELECT id FROM revisions WHERE id LIKE ? LIMIT 10')
    this.revisionInfo = db.prepare(`${REVISION_INFO} WHERE r.id = ?`)
    this.revisionList = db.prepare(`${REVISION_INFO} ORDER BY r.imported_at, r.id`)
    this.revisionState = db.prepare('SELECT state FROM revisions WHERE id = ?')
    this.revisionExists = db.prepare('SELECT 1 FROM revisions WHERE id = ?')
    this.revisionInsert = db.prepare(
      'INSERT INTO revisions (id, state, spec, source, imported_at, complete) VALUES (@id, @state, @spec, @source, @imported_at, 0)',
    )
    this.revisionDelete = db.prepare('DELETE FROM revisions WHERE id = ?')
    this.revisionObjects = db.prepare(
      'SELECT ro.key, ro.sha, o.size, o.present FROM revision_objects ro JOIN objects o ON o.sha = ro.sha WHERE ro.revision_id = ? ORDER BY ro.key',
    )
    this.revisionMissing = db.prepare(
      'SELECT DISTINCT ro.sha FROM revision_objects ro JOIN objects o ON o.sha = ro.sha WHERE ro.revision_id = ? AND o.present = 0 ORDER BY ro.sha',
    )
    this.revisionMissingCount = db.prepare(
      'SELECT count(*) AS n FROM revision_objects ro JOIN objects o ON o.sha = ro.sha WHERE ro.revision_id = ? AND o.present = 0',
    )
    this.revisionComplete = db.prepare('SELECT complete FROM revisions WHERE id = ?')
    this.revisionSetComplete = db.prepare('UPDATE revisions SET complete = @complete WHERE id = @id')
    this.revisionsUsing = db.prepare('SELECT DISTINCT revision_id FROM revision_objects WHERE sha = ?')
    this.revisionObjectInsert = db.prepare('INSERT INTO revision_objects (revision_id, key, sha) VALUES (@revision_id, @key, @sha)')
    this.nameUpsert = db.prepare(
      'INSERT INTO revision_names (name, revision_id, created_at) VALUES (@name, @revision_id, @created_at) ON CONFLICT(name) DO UPDATE SET revision_id = excluded.revision_id, created_at = excluded.created_at',
    )
    /** A name for a revision that has none, unless another revision holds it. */
    this.nameInsertIfFree = db.prepare(
      'INSERT INTO revision_names (name, revision_id, created_at) SELECT @name, @revision_id, @created_at WHERE NOT EXISTS (SELECT 1 FROM revision_names WHERE revision_id = @revision_id) ON CONFLICT(name) DO NOTHING',
    )
    this.objectGet = db.prepare('SELECT sha, size, present FROM objects WHERE sha = ?')
    this.objectEnsure = db.prepare('INSERT INTO objects (sha) VALUES (@sha) ON CONFLICT(sha) DO NOTHING')
    this.objectSetPresent = db.prepare(
      'INSERT INTO objects (sha, size, present) VALUES (@sha, @size, 1) ON CONFLICT(sha) DO UPDATE SET size = excluded.size, present = 1',
    )
    this.objectSetAbsent = db.prepare('UPDATE objects SET present = 0 WHERE sha = @sha')
    this.objectDelete = db.prepare('DELETE FROM objects WHERE sha = ?')
    this.objectsPresent = db.prepare('SELECT sha, size FROM objects WHERE present = 1 ORDER BY sha')
    this.objectsUnreferenced = db.prepare('SELECT sha FROM objects WHERE sha NOT IN (SELECT sha FROM revision_objects) ORDER BY sha')
    this.statsStmt = db.prepare(`SELECT
      (SELECT count(*) FROM revisions) AS revisions,
      (SELECT count(*) FROM objects WHERE present = 1) AS objects,
      (SELECT coalesce(sum(size), 0) FROM objects WHERE present = 1) AS storedBytes,
      (SELECT coalesce(sum(o.size), 0) FROM (SELECT DISTINCT revision_id, sha FROM revision_objects) ro JOIN objects o ON o.sha = ro.sha) AS logicalBytes`)
  }

  stats(): unknown {
    return this.statsStmt.get()
  }
}
