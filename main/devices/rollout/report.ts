/**
 * Rollout reports: `--report FILE` as .csv, .json or .html by its extension.
 * The HTML is one self-contained page (no script, no remote resource) for
 * the customer: summary counts, then one row per device, failures first.
 * Written to a temporary name and renamed, so a reader never sees half.
 */
import { rename, writeFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { UsageError } from '../../../shared/errors.js'
import type { RolloutReportRow, RolloutResult } from './types.js'

export const REPORT_FORMATS = ['.csv', '.json', '.html'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

export function reportFormat(file: string): ReportFormat {
  const ext = extname(file).toLowerCase()
  if (!(REPORT_FORMATS as readonly string[]).includes(ext)) throw new UsageError(`--report ${file}: name a .csv, .json or .html file`)
  return ext as ReportFormat
}

const COLUMNS: Array<[string, (r: RolloutReportRow) => string]> = [
  ['device', r => r.device],
  ['name', r => r.name],
  ['alias', r => r.alias ?? ''],
  ['tags', r => r.tags.join(' ')],
  ['canary', r => (r.canary ? 'yes' : '')],
  ['revision_before', r => r.revisionBefore ?? ''],
  ['revision_after', r => r.revisionAfter ?? ''],
  ['outcome', r => r.outcome ?? ''],
  ['message', r => r.message ?? ''],
  ['bytes_sent', r => String(r.bytesSent)],
  ['seconds', r => (r.seconds === null ? '' : String(r.seconds))],
]

/** RFC 4180 field; a leading = + - @ is prefixed with ' so that a spreadsheet never runs a device's words as a formula. */
function csvField(s: string): string {
  const v = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
}

export function toCsv(res: RolloutResult): string {
  return [COLUMNS.map(c => c[0]).join(','), ...res.devices.map(r => COLUMNS.map(c => csvField(c[1](r))).join(','))].join('\r\n') + '\r\n'
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)
}

const FAILED = new Set(['failed', 'not-started'])

export function toHtml(res: RolloutResult, now = new Date()): string {
  const rows = [...res.devices].sort(
    (a, b) => Number(FAILED.has(b.state)) - Number(FAILED.has(a.state)) || (a.state === 'failed' ? 0 : 1) - (b.state === 'failed' ? 0 : 1),
  )
  const s = res.summary
  const counts: Array<[string, number, string]> = [
    ['devices', s.devices, ''],
    ['succeeded', s.succeeded, 'ok'],
    ['failed', s.failed, 'bad'],
    ['already ran it', s.skipped, ''],
    ['not started', s.notStarted, 'warn'],
    ['stopped while running', s.stopped, 'warn'],
  ]
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Rollout of ${esc(res.revision.name)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}.sub{color:#555}
.counts{display:flex;gap:1em;margin:1em 0}.counts div{border:1px solid #ccc;border-radius:6px;padding:.5em 1em}
.counts b{display:block;font-size:1.6em}.ok b{color:#176117}.bad b{color:#a31515}.warn b{color:#8a5a00}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr.failed td{background:#fde8e8}tr.not-started td{background:#fff6dd}td.num{text-align:right}code{font-size:.9em}
</style></head><body>
<h1>Rollout of ${esc(res.revision.name)}</h1>
<p class="sub">Revision <code>${esc(res.revision.id)}</code>; signatures: ${esc(res.signature)}. Report written ${esc(now.toISOString().replace(/\.\d+Z$/, 'Z'))}${res.rollout === null ? ' (plan only, nothing installed)' : `, rollout ${res.rollout}`}.</p>
${res.stopped === null ? '' : `<p><strong>Stopped:</strong> ${esc(res.stopped)}</p>`}
<div class="counts">${counts.map(([l, n, c]) => `<div class="${c}"><b>${n}</b>${esc(l)}</div>`).join('')}</div>
<table><thead><tr>${['Device', 'Name', 'Tags', 'Before', 'After', 'Outcome', 'Device message', 'Sent (bytes)', 'Seconds'].map(h => `<th>${h}</th>`).join('')}</tr></thead><tbody>
${rows.map(r => `<tr class="${esc(r.state)}"><td><code>${esc(r.device)}</code>${r.canary ? ' (canary)' : ''}</td><td>${esc(r.name)}</td><td>${esc(r.tags.join(', '))}</td><td>${esc(r.revisionBefore ?? '')}</td><td>${esc(r.revisionAfter ?? '')}</td><td>${esc(r.outcome ?? '')}</td><td>${esc(r.message ?? '')}</td><td class="num">${r.bytesSent}</td><td class="num">${r.seconds ?? ''}</td></tr>`).join('\n')}
</tbody></table>
</body></html>
`
}

export async function writeReport(file: string, res: RolloutResult): Promise<void> {
  const fmt = reportFormat(file)
  const text = fmt === '.csv' ? toCsv(res) : fmt === '.json' ? JSON.stringify(res, null, 2) + '\n' : toHtml(res)
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, text)
  await rename(tmp, file)
}
