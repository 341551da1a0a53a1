/**
 * How a command reaches devices: `--via` and the SSH options, shared by
 * `install` and `rollout` so that both read them the same way. On a
 * Pantavisor device the SSH login name is the container to enter; without
 * `--ssh-user` it is what the device is known to want (devices/ssh-login.ts).
 */
import { Option, type Command } from 'commander'
import { UsageError } from '../../../shared/errors.js'
import { DEFAULT_SSH_CONTAINER, describeLogin, SSH_DEFAULT_PORT, VIAS, type ConnectOptions, type Via } from '../../devices/index.js'
import type { CommandContext } from '../cli.js'
import { terminalText } from '../output.js'

export interface ConnectFlags {
  via?: Via
  sshUser?: string
  sshPort?: number
  sshKey?: string
  sshPasswordEnv?: string
  sshSocket?: string
}

function port(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--ssh-port ${v}: a TCP port, 1 to 65535`)
  return n
}

export function addConnectOptions(cmd: Command, viaHelp: string): Command {
  return cmd
    .addOption(new Option('--via <driver>', viaHelp).choices([...VIAS]))
    .option(
      '--ssh-user <container>',
      `SSH login name: on a Pantavisor device, the container to enter, its management container (default: the one the device's state gives the management role, else the one given before for this device, else ${DEFAULT_SSH_CONTAINER}); remembered per device once a login as it works`,
    )
    .option('--ssh-port <port>', `SSH port (default ${SSH_DEFAULT_PORT}, as pv-avahi advertises)`, port)
    .option('--ssh-key <file>', 'private key file')
    .option('--ssh-password-env <var>', 'take the SSH password from this environment variable')
    .option('--ssh-socket <path>', 'pv-ctrl socket inside the management container (default: where pvcontrol looks)')
}

/** ConnectOptions from the flags: the password from its variable, the agent when no key or password is given, notes on stderr. */
export function connectOptions(ctx: CommandContext<ConnectFlags>, device?: string): ConnectOptions {
  const o = ctx.opts
  const at = device === undefined ? 'fieldsync: ' : `fieldsync: ${terminalText(device, 64)}: `
  const password = o.sshPasswordEnv === undefined ? undefined : process.env[o.sshPasswordEnv]
  if (o.sshPasswordEnv !== undefined && password === undefined)
    throw new UsageError(`--ssh-password-env ${o.sshPasswordEnv}: that environment variable is not set`)
  return {
    via: o.via,
    sshUser: o.sshUser,
    sshPort: o.sshPort,
    sshKey: o.sshKey,
    sshPassword: password,
    sshAgent: o.sshKey === undefined && password === undefined ? process.env.SSH_AUTH_SOCK : undefined,
    sshSocket: o.sshSocket,
    howToChoose: c => `give --ssh-user ${c} (remembered for this device once it works)`,
    onHostKey: k => {
      ctx.note(
        k.pinned === 'new'
          ? `${at}${k.host}:${k.port} shows SSH host key ${terminalText(k.type, 64)} ${k.fingerprint}: pinned (first use)`
          : `${at}${k.host}:${k.port} host key ${k.fingerprint} matches the pinned one`,
      )
    },
    onSshChoice: c => {
      ctx.note(`${at}SSH: ${describeLogin(c)}`)
    },
    onSshLogin: ({ login, next }) => {
      if (next.container === login.container) return
      ctx.note(`${at}SSH: the state the device runs gives the management role to ${next.container}: the next login to this device is as ${next.container}`)
    },
  }
}
