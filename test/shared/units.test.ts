/** One way to count bytes (issue #17, item 12): binary units, IEC names, for the CLI, the app and messages alike. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatBytes, formatRate, revisionSizeText, sizeMismatch } from '../../shared/units.js'
import { formatSize } from '../../main/usb/space.js'
import { formatBytes as cliBytes } from '../../main/cli/output.js'

describe('sizes for people', () => {
  it('counts in KiB, MiB, GiB: 1024 per step, one decimal under 100', () => {
    assert.equal(formatBytes(0), '0 B')
    assert.equal(formatBytes(812), '812 B')
    assert.equal(formatBytes(1024), '1.0 KiB')
    assert.equal(formatBytes(3_572_625), '3.4 MiB')
    assert.equal(formatBytes(512 * 2 ** 20), '512 MiB')
    assert.equal(formatBytes(1024 * 1024 - 1), '1.0 MiB', 'never "1024.0 KiB"')
    assert.equal(formatBytes(null), '?')
    assert.equal(formatRate(7_235_174), '6.9 MiB/s')
    assert.equal(formatRate(0), '—')
  })

  it('the CLI and the USB messages print the same text (the app imports it too: renderer/format.ts)', () => {
    for (const n of [0, 999, 1000, 1_500_000, 3_572_625, 4.2e9]) {
      assert.equal(cliBytes(n), formatBytes(n))
      assert.equal(formatSize(n), formatBytes(n))
    }
  })

  it('an incomplete revision is a lower bound, or unknown with nothing here; never "0 B"', () => {
    assert.equal(revisionSizeText({ bytes: 3_572_625, missing: 0 }), '3.4 MiB')
    assert.equal(revisionSizeText({ bytes: 1_992_180, missing: 2 }), '≥ 1.9 MiB')
    assert.equal(revisionSizeText({ bytes: 0, missing: 5 }), 'unknown')
  })

  it('sizes that disagree are told in words, with the difference', () => {
    assert.equal(sizeMismatch(1_992_180, 3_572_625, "manifest's"), "1.9 MiB, 1.5 MiB short of the manifest's 3.4 MiB")
    assert.equal(sizeMismatch(1034, 1024), '1.0 KiB, 10 B more than the expected 1.0 KiB')
  })
})
