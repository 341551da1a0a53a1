import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  assertValidState,
  localRevisionNameProblem,
  parseState,
  validateLocalRevisionName,
  validateState,
  type ValidationIssue,
} from '../../../shared/state/index.js'
import { initialStateJson, pvwificonnectJson, seedJson, text, watchdogJson } from './fixtures.js'

const SHA = (c: string): string => c.repeat(64)

function initial(): Record<string, unknown> {
  return JSON.parse(text(initialStateJson())) as Record<string, unknown>
}

type Mut = (s: Record<string, any>) => void

function issuesOf(mut: Mut, warnings = false): ValidationIssue[] {
  const s = initial()
  mut(s)
  return validateState(s, { warnings })
}

function expectIssue(mut: Mut, rule: string, key: string, message?: RegExp | string, warnings = false): void {
  const issues = issuesOf(mut, warnings)
  const hit = issues.find(i => i.rule === rule && i.key === key)
  assert.ok(hit !== undefined, `expected rule ${rule} on ${key}, got ${JSON.stringify(issues)}`)
  if (typeof message === 'string') assert.equal(hit.message, message)
  else if (message !== undefined) assert.match(hit.message, message)
  assert.ok(hit.message.startsWith(`${key}: `), hit.message)
}

describe('validateState on real states', () => {
  const fixtures: Array<[string, () => Uint8Array]> = [
    ['upstream/initial_state.json', initialStateJson],
    ['seed-awconnect-rpi64.json', seedJson],
    ['json entry of pvwificonnect.tgz', pvwificonnectJson],
    ['json entry of watchdog_pinger.tar', watchdogJson],
  ]
  for (const [name, load] of fixtures) {
    it(`${name} has no issue, warnings included`, () => {
      const p = parseState(load(), name)
      assert.deepEqual(validateState(p, { warnings: true }), [])
      assert.deepEqual(validateState(p.json), [])
      assertValidState(p, name)
    })
  }
})

describe('validateState rules', () => {
  it('rule 1: unknown or device-rejected #spec', () => {
    expectIssue(
      s => {
        s['#spec'] = 'pantavisor-service-system@9'
      },
      '1',
      '#spec',
      /unknown "#spec"/,
    )
    expectIssue(
      s => {
        s['#spec'] = 'pantavisor-service-embed@1'
      },
      '1',
      '#spec',
      /rejected by Pantavisor devices/,
    )
    expectIssue(
      s => {
        delete s['#spec']
      },
      '1',
      '#spec',
      /no "#spec" key/,
    )
  })

  it('rule 2: keys not ending in .json hold a sha256', () => {
    expectIssue(
      s => {
        s['awconnect/root.squashfs'] = { inline: true }
      },
      '2',
      'awconnect/root.squashfs',
      /must hold an object sha256.*got an object/,
    )
    expectIssue(
      s => {
        s['bsp/kernel.img'] = SHA('A')
      },
      '2',
      'bsp/kernel.img',
    )
    expectIssue(
      s => {
        s['bsp/kernel.img'] = 'abc'
      },
      '2',
      'bsp/kernel.img',
      /got the string "abc"/,
    )
  })

  it('rule 3: .json keys hold inline JSON or a sha', () => {
    expectIssue(
      s => {
        s['network-mapping.json'] = 42
      },
      '3',
      'network-mapping.json',
      /got number 42/,
    )
    expectIssue(
      s => {
        s['network-mapping.json'] = 'not-a-sha'
      },
      '3',
      'network-mapping.json',
    )
    assert.deepEqual(
      issuesOf(s => {
        s['network-mapping.json'] = SHA('c')
      }),
      [],
    )
    assert.deepEqual(
      issuesOf(s => {
        s['awconnect/mdev.json'] = ['watchdog.* 0:0 0660']
      }),
      [],
    )
  })

  it('rule 4: bsp/run.json needs fit, rpiab, or linux and initrd', () => {
    expectIssue(
      s => {
        delete s['bsp/run.json'].linux
      },
      '4',
      'bsp/run.json',
      'bsp/run.json: needs "fit", "rpiab", or both "linux" and "initrd"',
    )
    assert.deepEqual(
      issuesOf(s => {
        s['bsp/run.json'] = { fit: 'kernel.img' }
      }),
      [],
    )
    assert.deepEqual(
      issuesOf(s => {
        s['bsp/run.json'] = { rpiab: 'pantavisor' }
      }),
      [],
    )
    expectIssue(
      s => {
        s['bsp/run.json'] = { fit: 'image.fit' }
      },
      '4',
      'bsp/run.json',
      /"fit" names "image.fit" but the state has no key "bsp\/image.fit"/,
    )
    expectIssue(
      s => {
        s['bsp/run.json'] = SHA('d')
      },
      '4',
      'bsp/run.json',
      /must be an inline JSON object/,
    )
  })

  it('rule 4: files named by bsp/run.json exist as bsp/<path> keys', () => {
    expectIssue(
      s => {
        delete s['bsp/firmware.squashfs']
      },
      '4',
      'bsp/run.json',
      /"firmware" names "firmware.squashfs" but the state has no key "bsp\/firmware.squashfs"/,
    )
    expectIssue(
      s => {
        delete s['bsp/trail.config']
      },
      '4',
      'bsp/run.json',
      /"initrd_config"/,
    )
    expectIssue(
      s => {
        s['bsp/run.json'].addons = ['addon-missing.cpio.xz4']
      },
      '4',
      'bsp/run.json',
      /"addons\[0\]" names "addon-missing.cpio.xz4"/,
    )
    expectIssue(
      s => {
        s['bsp/run.json']['modules_5.10.110-v8'] = 'modules-5.10.squashfs'
      },
      '4',
      'bsp/run.json',
      /"modules_5.10.110-v8" names/,
    )
    expectIssue(
      s => {
        s['bsp/run.json'].fdt = 'board.dtb'
      },
      '4',
      'bsp/run.json',
      /"fdt"/,
    )
    expectIssue(
      s => {
        s['bsp/run.json'].linux = '../kernel.img'
      },
      '4',
      'bsp/run.json',
      /"linux" "..\/kernel.img" has an empty, "." or ".." segment/,
    )
    expectIssue(
      s => {
        s['bsp/run.json'].initrd = 7
      },
      '4',
      'bsp/run.json',
      /"initrd" must be a string/,
    )
  })

  it('rule 4: an app-only state has no BSP; BSP files without bsp/run.json do not boot', () => {
    assert.deepEqual(
      issuesOf(s => {
        for (const k of Object.keys(s)) if (k.startsWith('bsp/') || k === '_sigs/bsp.json') delete s[k]
      }),
      [],
    )
    expectIssue(
      s => {
        delete s['bsp/run.json']
      },
      '4',
      'bsp/run.json',
      /missing, although the state has BSP files/,
    )
  })

  it('rule 5: name, type, config and root-volume', () => {
    expectIssue(
      s => {
        s['awconnect/run.json'].name = 'wifi'
      },
      '5',
      'awconnect/run.json',
      'awconnect/run.json: "name" is "wifi" but must be the directory name "awconnect"',
    )
    expectIssue(
      s => {
        delete s['awconnect/run.json'].name
      },
      '5',
      'awconnect/run.json',
      /needs a string "name"/,
    )
    expectIssue(
      s => {
        s['awconnect/run.json'].type = 'docker'
      },
      '5',
      'awconnect/run.json',
      /only runs lxc containers/,
    )
    expectIssue(
      s => {
        delete s['awconnect/run.json'].config
      },
      '5',
      'awconnect/run.json',
      /needs a string "config"/,
    )
    expectIssue(
      s => {
        delete s['awconnect/lxc.container.conf']
      },
      '5',
      'awconnect/run.json',
      /"config" names "lxc.container.conf" but the state has no key "awconnect\/lxc.container.conf"/,
    )
    expectIssue(
      s => {
        s['awconnect/run.json']['root-volume'] = 42
      },
      '5',
      'awconnect/run.json',
      /"root-volume" must be a string/,
    )
    expectIssue(
      s => {
        s['awconnect/run.json'].volumes = ['data.squashfs']
      },
      '5',
      'awconnect/run.json',
      /"volumes\[0\]" names "data.squashfs"/,
    )
    expectIssue(
      s => {
        s['awconnect/run.json'] = SHA('e')
      },
      '5',
      'awconnect/run.json',
      /must be an inline JSON object/,
    )
  })

  it('rule 5: handler prefixes are stripped, dm: needs its manifest', () => {
    assert.deepEqual(
      issuesOf(s => {
        s['awconnect/run.json'].volumes = ['loop:root.squashfs.docker-digest']
      }),
      [],
    )
    expectIssue(
      s => {
        delete s['pvr-sdk/_dm/root.squashfs.json']
      },
      '5',
      'pvr-sdk/run.json',
      /uses the dm handler but the state has no key "pvr-sdk\/_dm\/root.squashfs.json"/,
    )
    expectIssue(
      s => {
        delete s['pvr-sdk/root.squashfs']
      },
      '5',
      'pvr-sdk/run.json',
      /"root-volume" names "dm:root.squashfs" but the state has no key "pvr-sdk\/root.squashfs"/,
    )
  })

  it('rule 5: enum fields', () => {
    expectIssue(
      s => {
        s['pvr-sdk/run.json'].status_goal = 'RUNNING'
      },
      '5',
      'pvr-sdk/run.json',
      /"status_goal" is "RUNNING", not one of MOUNTED, STARTED, READY/,
    )
    expectIssue(
      s => {
        s['pvr-sdk/run.json'].restart_policy = 'always'
      },
      '5',
      'pvr-sdk/run.json',
      /"restart_policy" is "always"/,
    )
    // tolerated by the device with a log line: warnings
    assert.deepEqual(
      issuesOf(s => {
        s['pvr-sdk/run.json'].roles = ['admin']
      }),
      [],
    )
    expectIssue(
      s => {
        s['pvr-sdk/run.json'].roles = ['admin']
      },
      '5',
      'pvr-sdk/run.json',
      /role "admin" is not one of mgmt, nobody/,
      true,
    )
    assert.equal(
      issuesOf(s => {
        s['awconnect/run.json'].storage['lxc-overlay'].persistence = 'forever'
      }, true)[0].severity,
      'warning',
    )
    expectIssue(
      s => {
        s['awconnect/run.json'].storage['lxc-overlay'].persistence = 'forever'
      },
      '5',
      'awconnect/run.json',
      /storage.lxc-overlay.persistence is "forever"/,
      true,
    )
  })

  it('rule 5: groups come from device.json, else the defaults', () => {
    expectIssue(
      s => {
        s['awconnect/run.json'].group = 'apps'
      },
      '5',
      'awconnect/run.json',
      'awconnect/run.json: "group" "apps" is not defined in device.json',
    )
    const noDevice =
      (extra: Mut): Mut =>
      s => {
        delete s['device.json']
        delete s['_sigs/bsp.json']
        extra(s)
      }
    assert.deepEqual(issuesOf(noDevice(() => {})), [])
    expectIssue(
      noDevice(s => {
        s['awconnect/run.json'].group = 'custom'
      }),
      '5',
      'awconnect/run.json',
      /not defined in the default groups \(data, root, platform, app\)/,
    )
    assert.deepEqual(
      issuesOf(s => {
        s['device.json'].groups.push({ name: 'custom', status_goal: 'READY', restart_policy: 'container', timeout: 10 })
        s['awconnect/run.json'].group = 'custom'
      }),
      [],
    )
    expectIssue(
      s => {
        s['device.json'].groups[0].status_goal = 'UP'
      },
      '5',
      'device.json',
      /"status_goal" is "UP"/,
    )
    expectIssue(
      s => {
        s['device.json'].groups.push({ name: 'data' })
      },
      '5',
      'device.json',
      /group "data" is defined twice/,
    )
    expectIssue(
      s => {
        delete s['awconnect/run.json'].group
        s['awconnect/run.json'].runlevel = 'nope'
      },
      '5',
      'awconnect/run.json',
      /"runlevel" "nope"/,
      true,
    )
  })

  it('dm manifests name existing devices', () => {
    expectIssue(
      s => {
        delete s['pvr-sdk/root.squashfs.hash']
      },
      'dm',
      'pvr-sdk/_dm/root.squashfs.json',
      /"hash_device" names "root.squashfs.hash" but the state has no key "pvr-sdk\/root.squashfs.hash"/,
    )
    expectIssue(
      s => {
        s['pvr-sdk/_dm/root.squashfs.json'].type = 'dm-crypt'
      },
      'dm',
      'pvr-sdk/_dm/root.squashfs.json',
      /"type" must be "dm-verity"/,
    )
    expectIssue(
      s => {
        s['pvr-sdk/_dm/root.squashfs.json'].root_hash = 'xyz'
      },
      'dm',
      'pvr-sdk/_dm/root.squashfs.json',
      /"root_hash" must be a hex string/,
    )
  })

  it('_sigs/*.json are pvs@2 JWS objects', () => {
    expectIssue(
      s => {
        s['_sigs/awconnect.json']['#spec'] = 'pvs@1'
      },
      'sigs',
      '_sigs/awconnect.json',
      /"#spec" must be "pvs@2"/,
    )
    expectIssue(
      s => {
        s['_sigs/awconnect.json'].protected = 'not base64!'
      },
      'sigs',
      '_sigs/awconnect.json',
      /"protected" is not a base64url-encoded JSON object/,
    )
    expectIssue(
      s => {
        delete s['_sigs/awconnect.json'].signature
      },
      'sigs',
      '_sigs/awconnect.json',
      /"signature" must be a base64url string/,
    )
    const header = (h: unknown): string => Buffer.from(JSON.stringify(h)).toString('base64url')
    expectIssue(
      s => {
        s['_sigs/awconnect.json'].protected = header({ alg: 'HS256', typ: 'PVS', pvs: { include: [], exclude: [] } })
      },
      'sigs',
      '_sigs/awconnect.json',
      /"alg" must be one of RS256, ES256, ES384, ES512, got the string "HS256"/,
    )
    expectIssue(
      s => {
        s['_sigs/awconnect.json'].protected = header({ alg: 'ES256', typ: 'PVS', pvs: { include: ['a/**'] } })
      },
      'sigs',
      '_sigs/awconnect.json',
      /pvs.exclude must be an array/,
    )
    expectIssue(
      s => {
        s['_sigs/awconnect.json'] = SHA('f')
      },
      'sigs',
      '_sigs/awconnect.json',
      /must be an inline JSON object/,
    )
  })

  it('keys are safe relative paths', () => {
    expectIssue(
      s => {
        s['../etc/passwd'] = SHA('0')
      },
      'path',
      '../etc/passwd',
      /not a safe relative file path/,
    )
    expectIssue(
      s => {
        s['/abs'] = SHA('0')
      },
      'path',
      '/abs',
    )
    expectIssue(
      s => {
        s['a//b'] = SHA('0')
      },
      'path',
      'a//b',
    )
    expectIssue(
      s => {
        s[''] = SHA('0')
      },
      'path',
      '',
    )
  })

  it('a multi-platform@1 state gets the generic rules only', () => {
    assert.deepEqual(validateState({ '#spec': 'pantavisor-multi-platform@1', 'pantavisor.json': { linux: 'x' }, 'kernel.img': SHA('1') }), [])
  })

  it('reports every issue, in key order, and assertValidState lists them all', () => {
    const s: Record<string, any> = initial()
    s['pvr-sdk/run.json'].status_goal = 'NOPE'
    delete s['bsp/run.json'].linux
    s['awconnect/root.squashfs'] = 1
    const issues = validateState(s)
    assert.deepEqual(
      issues.map(i => [i.key, i.rule]),
      [
        ['awconnect/root.squashfs', '2'],
        ['bsp/run.json', '4'],
        ['pvr-sdk/run.json', '5'],
      ],
    )
    const raw = new TextEncoder().encode(JSON.stringify(s))
    assert.throws(
      () => assertValidState(parseState(raw, 'x.json'), 'x.json'),
      (err: any) => {
        assert.equal(err.code, 'E_INVALID_STATE')
        assert.deepEqual(err.details.issues, issues)
        assert.match(
          err.message,
          /^x\.json: invalid state: 3 problems\n {2}awconnect\/root\.squashfs: .* \(rule 2\)\n {2}bsp\/run\.json: needs "fit", "rpiab", or both "linux" and "initrd" \(rule 4\)\n/,
        )
        return true
      },
    )
  })
})

describe('rule 7: local revision names', () => {
  it('accepts names of at most 64 characters without "/"', () => {
    assert.equal(localRevisionNameProblem('locals/site-42_v1.2'), null)
    assert.equal(localRevisionNameProblem('x'.repeat(64)), null)
    assert.deepEqual(validateLocalRevisionName('ok'), [])
  })
  it('refuses the rest', () => {
    for (const bad of ['', 'locals/', 'x'.repeat(65), 'a/b', 'locals/a/b', '..', 'a b', 'a?b', 'a\nb']) {
      assert.notEqual(localRevisionNameProblem(bad), null, bad)
      assert.equal(validateLocalRevisionName(bad)[0].rule, '7')
    }
  })
})
