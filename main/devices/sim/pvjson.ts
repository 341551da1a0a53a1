/**
 * JSON as Pantavisor's C code reads it: jsmn tokens (main/trust/jsmn.ts) and
 * the lookups of utils/json.c and libthttp's jsmnutil.c on them. Values are
 * raw text (a string's between its quotes, escapes kept), never decoded.
 */
import { tokenize, tokText, type Tok } from '../../trust/jsmn.js'

/** A text and its jsmn tokens. jsmn parses a bare word as one primitive; strict JSON otherwise. */
export class Doc {
  readonly toks: Tok[]
  readonly ok: boolean
  constructor(readonly text: string) {
    const t = tokenize(text)
    if (t !== null) {
      this.toks = t
      this.ok = true
      return
    }
    const bare = text !== '' && !/[{}[\]",:\s]/.test(text)
    this.toks = bare ? [{ type: 'primitive', start: 0, end: text.length, size: 0 }] : []
    this.ok = bare
  }

  /**
   * pv_json_get_value (utils/json.c pv_json_get_value_ref): scanning every
   * token in text order, a string token equal to `key` arms it (again and
   * again for repeats); the first token after that which is not such a
   * string is the value, as raw text. A key also matches where it is a
   * value: `{"payload":"op","op":"RUN_GC"}` gives RUN_GC for "op" (checked
   * on the device).
   */
  value(key: string): string | null {
    let armed = false
    for (const t of this.toks) {
      if (t.type === 'string' && t.end - t.start === key.length && this.text.startsWith(key, t.start)) armed = true
      else if (armed) return tokText(this.text, t)
    }
    return null
  }

  /** pv_json_get_key_count. */
  count(key: string): number {
    return this.toks.filter(t => t.type === 'string' && tokText(this.text, t) === key).length
  }

  /** traverse_token: how many tokens token i and its descendants take. */
  span(i: number): number {
    let c = 1
    for (let k = 0; k < this.toks[i].size; k++) c += this.span(i + c)
    return c
  }

  /** jsmnutil_get_object_keys / jsmnutil_get_array_toks on token i: child token indexes, or null for another type. */
  children(i: number, type: 'object' | 'array'): number[] | null {
    const t = this.toks[i]
    if (t === undefined || t.type !== type) return null
    const out: number[] = []
    let j = i + 1
    for (let k = 0; k < t.size; k++) {
      out.push(j)
      j += this.span(j)
    }
    return out
  }

  raw(i: number): string {
    return tokText(this.text, this.toks[i])
  }
}
