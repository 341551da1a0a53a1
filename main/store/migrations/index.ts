/**
 * Numbered migrations, applied in order inside one transaction each, with
 * PRAGMA user_version recording the last applied (house rule 7). Append only:
 * never edit a migration that has shipped.
 */
import { sql as m1 } from './001-library.js'
import { sql as m2 } from './002-peers.js'
import { sql as m3 } from './003-devices.js'
import { sql as m4 } from './004-trust.js'
import { sql as m5 } from './005-usb.js'
import { sql as m6 } from './006-fleet.js'
import { sql as m7 } from './007-ssh-logins.js'
import { sql as m8 } from './008-rollout-owner.js'

export const migrations: readonly string[] = [m1, m2, m3, m4, m5, m6, m7, m8]
