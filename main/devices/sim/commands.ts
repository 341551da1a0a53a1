/**
 * POST /commands as pv-ctrl reads it (ctrl/ctrl_cmd.c pv_ctrl_cmd_parse,
 * ctrl/ctrl_cmd.h pv_ctrl_cmd_op_from_str): `op` and `payload` are
 * pv_json_get_value lookups (raw text, any JSON type), and an op matches the
 * first command, in the enum's order, that it is a prefix of: "LOCAL" is
 * LOCAL_RUN, "LOCAL_RUN_" is LOCAL_RUN_COMMIT, "" is UPDATE_METADATA.
 * TRY_ONCE, LOCAL_APPLY and XCONNECT_GRAPH are taken (200) and then ignored
 * by the state machine (pantavisor.c _pv_command: "unknown command
 * received. Ignoring...").
 */
import { Doc } from './pvjson.js'

/** enum pv_ctrl_cmd_op, in order (index 0 is no command). */
export const CMD_OPS = [
  'UPDATE_METADATA',
  'REBOOT_DEVICE',
  'POWEROFF_DEVICE',
  'TRY_ONCE',
  'LOCAL_RUN',
  'MAKE_FACTORY',
  'RUN_GC',
  'ENABLE_SSH',
  'DISABLE_SSH',
  'GO_REMOTE',
  'DEFER_REBOOT',
  'LOCAL_RUN_COMMIT',
  'LOCAL_APPLY',
  'XCONNECT_GRAPH',
  'UNCLAIM',
] as const

export type CmdOp = (typeof CMD_OPS)[number]

/** pv_ctrl_cmd_op_from_str: strncmp(op, name, strlen(op)) == 0, first in enum order. */
export function opFromStr(op: string): CmdOp | null {
  return CMD_OPS.find(name => name.startsWith(op)) ?? null
}

/** pv_ctrl_cmd_parse: the command, or null ("Command has bad format"). */
export function parseCommand(body: string): { op: CmdOp; payload: string } | null {
  const d = new Doc(body)
  const opStr = d.value('op')
  if (opStr === null) return null
  const op = opFromStr(opStr)
  if (op === null) return null
  const payload = d.value('payload')
  if (payload === null) return null
  return { op, payload }
}
