/** File-system errors on a stick, turned into typed errors that say what to do. */
import { BadInputError, FieldsyncError, NoSpaceError, ReadOnlyError } from '../../shared/errors.js'

export function mapFsError (err: unknown, dir: string): unknown {
  if (err instanceof FieldsyncError) return err
  const e = err as NodeJS.ErrnoException
  switch (e?.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new NoSpaceError(`${dir}: the stick is full (${e.message}); free some space, use a bigger stick, or send only what the target lacks (--for-device/--for-peer)`, { dir }, { cause: err })
    case 'EROFS':
      return new ReadOnlyError(`${dir}: the stick is read-only (mounted read-only or its write-protect switch is on); remount it read-write`, { dir }, { cause: err })
    case 'EACCES':
      return new ReadOnlyError(`${dir}: not allowed to write there (${e.message}); check the mount options and permissions`, { dir }, { cause: err })
    case 'EFBIG':
      return new BadInputError(`${dir}: the file system refuses a file that large (${e.message}); use a smaller --split-size`, { dir }, { cause: err })
    case 'ENOENT':
      return new BadInputError(`${dir}: no such folder (is the stick mounted?)`, { dir }, { cause: err })
    default:
      return err
  }
}
