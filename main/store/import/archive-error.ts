/**
 * A failure while reading a tarball (import, pvtx add), as the user should
 * read it: a gzip stream or tar that ends early is a file cut short (an
 * interrupted copy or download), anything else unreadable is a damaged file;
 * both name the user's file and carry the advice to copy it again
 * (shared/advice.ts). Typed errors pass through.
 */
import { AbortedError, BadArchiveError } from '../../../shared/errors.js'

const CUT_SHORT = /unexpected end|truncated|premature|end of file/i

export function archiveError(err: unknown, file: string): unknown {
  const e = err as NodeJS.ErrnoException
  if (typeof e?.code === 'string' && e.code.startsWith('E_')) return err
  if (e?.name === 'AbortError') return new AbortedError(`${file}: cancelled`)
  if (e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR' || e?.code === 'ENOSPC') return err
  const gzip = e?.code === 'Z_DATA_ERROR' || e?.code === 'Z_BUF_ERROR' || e?.code === 'Z_STREAM_ERROR'
  if (!(e instanceof Error) || (!gzip && !/tar/i.test(e.message) && !CUT_SHORT.test(e.message))) return err
  if (e.code === 'Z_BUF_ERROR' || CUT_SHORT.test(e.message)) {
    return new BadArchiveError(
      `${file}: the file ends too soon: it was cut short (${gzip ? 'gzip' : 'tar'}: ${e.message})`,
      { file, advice: 'truncated' },
      { cause: err },
    )
  }
  return new BadArchiveError(`${file}: the file is damaged (${gzip ? 'gzip' : 'tar'}: ${e.message})`, { file, advice: 'damaged' }, { cause: err })
}
