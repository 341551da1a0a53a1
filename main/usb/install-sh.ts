/**
 * install.sh, the device side of a stick: the script itself is
 * main/usb/install.sh (POSIX sh for busybox and dash, checked by shellcheck
 * and `sh -n` in `npm run lint`). The build copies it beside this module;
 * it is read once, when an export first needs it.
 */
import { readFileSync } from 'node:fs'

let text: string | undefined

export function installSh(): string {
  text ??= readFileSync(new URL('./install.sh', import.meta.url), 'utf8')
  return text
}
