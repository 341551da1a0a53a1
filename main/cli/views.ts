/**
 * `show` and `diff` as text: the models of shared/library/views.ts (the same
 * ones the UI gets, and `--json` prints) rendered for a terminal. Keys,
 * names, specs and sources come from whoever made the revision: escaped and
 * cut here, whole in JSON.
 */
import type { ObjectDetail, RevisionDetail, RevisionDiff } from '../../shared/api/types.js'
import { formatBytes, terminalText } from './output.js'
import { revisionSizeText } from '../../shared/units.js'

export function showText(m: RevisionDetail): string {
  const r = m.revision
  const t = (s: string): string => terminalText(s)
  const lines = [
    `${t(r.name)}  ${r.id}`,
    `spec ${t(r.spec)}, ${r.objects} objects, ${revisionSizeText(r)}, ${r.complete ? 'complete' : `INCOMPLETE: ${r.missing} missing`}`,
    `source ${t(r.source)}, imported ${new Date(r.importedAt).toISOString()}`,
    `signatures: ${t(r.signature.summary)}`,
  ]
  const obj = (o: ObjectDetail): string => `  ${t(o.key)}  ${formatBytes(o.size)}${o.present ? '' : '  MISSING'}`
  for (const p of m.parts) {
    const head = p.kind === 'bsp' ? `bsp: ${formatBytes(p.bytes)}` : p.kind === 'container' ? `container ${t(p.name)}: ${formatBytes(p.bytes)}` : 'other:'
    lines.push(head, ...p.objects.map(obj))
  }
  return lines.join('\n')
}

export function diffText(m: RevisionDiff): string {
  const key = (k: { key: string }): string => terminalText(k.key)
  const a = terminalText(m.a.name)
  return [
    `${a} -> ${terminalText(m.b.name)}`,
    ...m.added.map(k => `+ ${key(k)}`),
    ...m.removed.map(k => `- ${key(k)}`),
    ...m.changed.map(k => `~ ${key(k)}`),
    `${m.added.length} added, ${m.removed.length} removed, ${m.changed.length} changed; a device running ${a} needs ${m.transferObjects} object(s), ${formatBytes(m.transferBytes)}`,
  ].join('\n')
}
