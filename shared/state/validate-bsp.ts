/**
 * Rule 4: bsp/run.json. As Pantavisor's parser (parser_system1.c parse_bsp):
 * `fit` wins, else `rpiab`, else `linux` + `initrd` (+ optional `fdt`) are
 * required; `firmware`, `modules` (or `modules_<kernel release>`), `addons[]`
 * and `initrd_config` are optional. Every file named must exist as a
 * `bsp/<path>` key.
 */
import { IssueList, describeValue, inlineObject, q, relPathProblem } from './issues.js'

const RULE = '4'
const KEY = 'bsp/run.json'

function checkFile(il: IssueList, field: string, v: unknown, allowEmpty: boolean): void {
  if (typeof v !== 'string') {
    il.error(KEY, RULE, `"${field}" must be a string, got ${describeValue(v)}`)
    return
  }
  if (v === '' && allowEmpty) return
  const bad = relPathProblem(v)
  if (bad !== null) {
    il.error(KEY, RULE, `"${field}" ${q(v)} ${bad}`)
    return
  }
  if (!il.keys.has(`bsp/${v}`)) il.error(KEY, RULE, `"${field}" names ${q(v)} but the state has no key ${q(`bsp/${v}`)}`)
}

export function validateBsp(il: IssueList): void {
  const bspKeys = [...il.keys].filter(k => k.startsWith('bsp/'))
  if (!il.keys.has(KEY)) {
    // an app-only update carries no BSP at all; BSP files without their manifest cannot boot
    const files = bspKeys.filter(k => k !== 'bsp/src.json' && k !== 'bsp/build.json')
    if (files.length > 0) il.error(KEY, RULE, `missing, although the state has BSP files (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', ...' : ''})`)
    return
  }
  const run = inlineObject(il, KEY, RULE)
  if (run === undefined) return
  const has = (f: string): boolean => run[f] !== undefined && run[f] !== null
  if (has('fit')) {
    checkFile(il, 'fit', run.fit, false)
  } else if (has('rpiab')) {
    checkFile(il, 'rpiab', run.rpiab, false)
  } else if (has('linux') && has('initrd')) {
    checkFile(il, 'linux', run.linux, false)
    checkFile(il, 'initrd', run.initrd, false)
    if (has('fdt')) checkFile(il, 'fdt', run.fdt, true)
  } else {
    il.error(KEY, RULE, 'needs "fit", "rpiab", or both "linux" and "initrd"')
  }
  if (has('firmware')) checkFile(il, 'firmware', run.firmware, true)
  for (const f of Object.keys(run)) {
    if (f === 'modules' || f.startsWith('modules_')) {
      if (has(f)) checkFile(il, f, run[f], true)
    }
  }
  if (has('initrd_config')) checkFile(il, 'initrd_config', run.initrd_config, true)
  if (has('addons')) {
    const addons = run.addons
    if (!Array.isArray(addons)) il.error(KEY, RULE, `"addons" must be an array of file names, got ${describeValue(addons)}`)
    else addons.forEach((a, i) => checkFile(il, `addons[${i}]`, a, false))
  }
}
