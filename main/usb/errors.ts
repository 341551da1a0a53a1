/** File-system errors on a stick, turned into typed errors that say what to do. */
import { BadInputError, FieldsyncError, NoSpaceError, ReadOnlyError, StickCorruptError } from '../../shared/errors.js'

/**
 * `writing`: the error came from writing file data (not from creating a
 * file): FUSE FAT drivers (fusefat) answer EPERM, not ENOSPC, when full.
 */
export function mapFsError(err: unknown, dir: string, writing = false): unknown {
  if (err instanceof FieldsyncError) return err
  const e = err as NodeJS.ErrnoException
  if (writing && e?.code === 'EPERM') {
    return new NoSpaceError(
      `${dir}: the stick refused to take more data (${e.message}; FUSE FAT drivers answer this when the stick is full)`,
      { dir, advice: 'stick-full' },
      { cause: err },
    )
  }
  switch (e?.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new NoSpaceError(`${dir}: the stick is full (${e.message})`, { dir, advice: 'stick-full' }, { cause: err })
    case 'EROFS':
      return new ReadOnlyError(
        `${dir}: the stick is read-only (mounted read-only or its write-protect switch is on); remount it read-write`,
        { dir },
        { cause: err },
      )
    case 'EACCES':
      return new ReadOnlyError(`${dir}: not allowed to write there (${e.message}); check the mount options and permissions`, { dir }, { cause: err })
    case 'EFBIG':
      return new BadInputError(`${dir}: the file system refuses a file that large (${e.message}); use a smaller --split-size`, { dir }, { cause: err })
    case 'EIO':
      return new StickCorruptError(
        `${dir}: input/output error on the stick (${e.message}): it may be failing or was pulled out; try another stick`,
        { dir },
        { cause: err },
      )
    case 'ENOENT':
      return new BadInputError(`${dir}: no such folder (is the stick mounted?)`, { dir }, { cause: err })
    default:
      return err
  }
}

/**
 * A read from the stick that failed with an errno nothing above names (EPERM
 * from some FUSE drivers, EISDIR, ...): E_STICK_CORRUPT naming `file`, as
 * `<file>: <what> from the stick failed (<errno message>): <advice>`. Typed
 * errors, errors without an errno and cancellations pass as they are.
 */
export function unreadableError(err: unknown, file: string, what: string, advice: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code
  if (err instanceof FieldsyncError || code === undefined || code === 'ABORT_ERR') return err
  return new StickCorruptError(`${file}: ${what} from the stick failed (${(err as Error).message}): ${advice}`, { file }, { cause: err })
}
