/**
 * Trust commands: `trust add|ls|rm|policy|oem-name` and `verify-sig`.
 * Also exports revisionSignatureSummary for `show`/`ls`.
 */
import type { Command } from 'commander'
import { resolve } from 'node:path'
import { UsageError } from '../../../shared/errors.js'
import type { App } from '../../app/index.js'
import { formatReport, isPolicyMode, POLICY_MODES, signatureSummary, type PolicyMode, type TrustEntry } from '../../trust/index.js'
import type { Cli } from '../cli.js'
import { table } from '../output.js'

/**
 * The one-line signature summary of a library revision, for `show` and `ls`:
 * `signed by pv-developer-01 (Pantavisor Dev CA), all keys covered`,
 * `unsigned`, or `INVALID: ...`. Checked against the library's trust store.
 */
export async function revisionSignatureSummary(app: App, id: string): Promise<string> {
  return signatureSummary(app.library.state(id).raw, await app.trustStore())
}

function policyArg(v: string | undefined): PolicyMode | undefined {
  if (v === undefined) return undefined
  if (!isPolicyMode(v)) throw new UsageError(`--policy ${v}: use one of ${POLICY_MODES.join(', ')}`)
  return v
}

function entryJson(e: TrustEntry): Record<string, unknown> {
  return { ...e }
}

function entryRows(entries: TrustEntry[]): string[][] {
  return entries.map(e => [
    e.kind,
    e.subject,
    e.issuer ?? '-',
    e.notAfter !== null
      ? `${e.notAfter.slice(0, 10)}${e.validity === 'expired' ? ' (expired)' : e.validity === 'not-yet-valid' ? ' (not yet valid)' : ''}`
      : '-',
    e.fingerprint.slice(0, 16),
    e.file,
  ])
}

export function register(program: Command, cli: Cli): void {
  const trust = program.command('trust').description('the CA certificates and keys this library trusts for Pantavisor signatures, and the signature policy')

  trust
    .command('add <pem>')
    .description("add a PEM bundle of CA certificates (the device's truststore), or a public key (PEM or JWK) to pin for signatures without x5c")
    .option('--oem', 'add the certificates to the OEM truststore (PV_SECUREBOOT_OEM_TRUSTSTORE)')
    .action(
      cli.action<{ oem?: boolean }>(async (ctx, pem: string) => {
        const app = await ctx.app()
        const trust = await app.trustStore()
        const res = await trust.add(resolve(pem), { oem: ctx.opts.oem === true, signal: ctx.signal })
        const lines = [
          ...res.added.map(e => `added ${e.kind} ${e.subject} (${e.fingerprint.slice(0, 16)}) as ${e.file}`),
          ...res.existed.map(e => `already trusted: ${e.subject} (${e.fingerprint.slice(0, 16)}) in ${e.file}`),
          ...res.warnings.map(w => `warning: ${w}`),
        ]
        return { json: { added: res.added.map(entryJson), existed: res.existed.map(entryJson), warnings: res.warnings }, text: lines.join('\n') }
      }),
    )

  trust
    .command('ls')
    .description('list trusted CA certificates and pinned keys, with validity and fingerprints')
    .action(
      cli.action(async ctx => {
        const app = await ctx.app()
        const trust = await app.trustStore()
        const entries = trust.list()
        const head = `signature policy: ${trust.policy()}${trust.oemName() !== null ? `, OEM name: ${trust.oemName()}` : ''}`
        const text =
          entries.length === 0
            ? `${head}\nthe trust store is empty: add the CA your devices trust with \`fieldsync trust add <ca.pem>\``
            : `${head}\n${table(entryRows(entries), ['KIND', 'SUBJECT', 'ISSUER', 'VALID TO', 'FINGERPRINT', 'FILE'])}`
        return { json: { policy: trust.policy(), oemName: trust.oemName(), entries: entries.map(entryJson) }, text }
      }),
    )

  trust
    .command('rm <ref>')
    .description('remove a trusted certificate or key by fingerprint (8+ hex digits) or file name')
    .action(
      cli.action(async (ctx, ref: string) => {
        const app = await ctx.app()
        const trust = await app.trustStore()
        const gone = await trust.remove(ref, { signal: ctx.signal })
        return { json: { removed: gone.map(entryJson) }, text: gone.map(e => `removed ${e.kind} ${e.subject} (${e.fingerprint.slice(0, 16)})`).join('\n') }
      }),
    )

  trust
    .command('policy [mode]')
    .description(`show or set the library's signature policy (${POLICY_MODES.join(', ')}); install and USB export refuse what it refuses`)
    .action(
      cli.action(async (ctx, mode: string | undefined) => {
        const app = await ctx.app()
        const trust = await app.trustStore()
        if (mode !== undefined) await trust.setPolicy(policyArg(mode) as PolicyMode, { signal: ctx.signal })
        return { json: { policy: trust.policy() }, text: `signature policy: ${trust.policy()}` }
      }),
    )

  trust
    .command('oem-name [name]')
    .description("show or set the device's PV_OEM_NAME: leaf certificates with this CN are checked against the OEM truststore")
    .option('--clear', 'unset it')
    .action(
      cli.action<{ clear?: boolean }>(async (ctx, name: string | undefined) => {
        const app = await ctx.app()
        const trust = await app.trustStore()
        if (ctx.opts.clear === true) await trust.setOemName(null, { signal: ctx.signal })
        else if (name !== undefined) await trust.setOemName(name, { signal: ctx.signal })
        const cur = trust.oemName()
        return { json: { oemName: cur }, text: cur === null ? 'no OEM name set' : `OEM name: ${cur}` }
      }),
    )

  program
    .command('verify-sig <rev>')
    .description("check a revision's Pantavisor signatures as a device would; exits 0 only when the policy passes it")
    .option('--policy <mode>', `${POLICY_MODES.join(' | ')} (default: the library's policy)`)
    .option('--no-keys', 'leave out the per-key coverage lists in the text output')
    .action(
      cli.action<{ policy?: string; keys?: boolean }>(async (ctx, rev: string) => {
        const policy = policyArg(ctx.opts.policy)
        const app = await ctx.app()
        const trust = await app.trustStore()
        const info = app.library.resolve(rev)
        const report = trust.verify(app.library.state(info.id).raw, { policy })
        const text = `${info.name} ${info.id.slice(0, 12)}\n${formatReport(report, { keys: ctx.opts.keys !== false })}`
        return { json: { id: info.id, name: info.name, ...report }, text, exitCode: report.pass ? 0 : 1 }
      }),
    )
}
