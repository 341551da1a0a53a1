import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { eta, table, terminalLines, terminalText, TERMINAL_TEXT_MAX } from '../../../main/cli/output.js'

describe('cli output', () => {
  it('ETA: unknown for the first second or before any byte, then time left at the average rate', () => {
    assert.equal(eta(1 << 20, 2 ** 31, 0.05), '--')
    assert.equal(eta(0, 100, 5), '--')
    assert.equal(eta(50, 100, 10), '10s')
    assert.equal(eta(10, 100, 10), '1m30s')
    assert.equal(eta(1, 10_000, 1), '2h46m')
    assert.equal(eta(100, 100, 0), '0s')
  })

  it('tables pad every column but the last', () => {
    assert.equal(
      table(
        [
          ['a', 'bb', 'c'],
          ['ddd', 'e', 'f'],
        ],
        ['X', 'Y', 'Z'],
      ),
      'X    Y   Z\na    bb  c\nddd  e   f',
    )
  })

  it('untrusted text for a terminal: control characters, C1, bidi overrides and separators escaped; cut at the cap with a count', () => {
    assert.equal(terminalText('plain text, ünïcode ✓'), 'plain text, ünïcode ✓')
    assert.equal(terminalText('\x1b]0;owned\x07\x1b[2J\x9b31m'), '\\x1b]0;owned\\x07\\x1b[2J\\x9b31m')
    assert.equal(terminalText('a\nb\tc\rd\x7f'), 'a\\x0ab\\x09c\\x0dd\\x7f')
    assert.equal(terminalText('exe.\u202egnp\u2066x\u2028'), 'exe.\\u{202e}gnp\\u{2066}x\\u{2028}')
    const long = 'A'.repeat(50 << 20)
    const shown = terminalText(long)
    assert.equal(shown, `${'A'.repeat(TERMINAL_TEXT_MAX)}… (${(50 << 20) - TERMINAL_TEXT_MAX} more characters)`)
    assert.equal(terminalText('\x1b'.repeat(100), 10), '\\x1b\\x1b… (98 more characters)', 'an escape is never cut in half')
    assert.equal(terminalText('😀😀😀', 4), '😀😀… (1 more character)')
    assert.equal(terminalLines('line one\nline \x1b[31mtwo\u202e'), 'line one\nline \\x1b[31mtwo\\u{202e}')
  })
})
