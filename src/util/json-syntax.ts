// Where a JSON text stops being JSON, without quoting it. JSON.parse's messages quote the text
// around the error (`..."identitytoken": s3cret}"...`), which for a credentials file is the secret
// itself; this scanner finds the same position and says only what was expected there.

export interface JsonSyntaxProblem {
  /** 1-based line and column (in characters) of the first character that is not valid there. */
  readonly line: number
  readonly column: number
  /** What was wrong, in words that never include the text. */
  readonly reason: string
}

/**
 * The first syntax error of `text` as JSON (RFC 8259, as JSON.parse reads it), or null when it
 * parses. Linear, iterative (no recursion, so deep nesting cannot overflow the stack).
 */
export function jsonSyntaxProblem(text: string): JsonSyntaxProblem | null {
  let i = 0
  const n = text.length
  const at = (pos: number, reason: string): JsonSyntaxProblem => {
    let line = 1
    let lineStart = 0
    for (let k = 0; k < pos && k < n; k++) {
      if (text.charCodeAt(k) === 10) {
        line++
        lineStart = k + 1
      }
    }
    // Columns in characters: a surrogate pair is one.
    let column = 1
    for (let k = lineStart; k < pos && k < n; k++) {
      const c = text.charCodeAt(k)
      if (!(c >= 0xdc00 && c <= 0xdfff && k > lineStart)) column++
    }
    return { line, column, reason }
  }
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c === 32 || c === 9 || c === 10 || c === 13) i++
      else break
    }
  }
  const end = (what: string) => (i >= n ? at(n, `unexpected end of the file (expected ${what})`) : null)

  const string = (): JsonSyntaxProblem | null => {
    // text[i] is '"'
    i++
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c === 34) {
        i++
        return null
      }
      if (c < 0x20) return at(i, 'a control character (such as a line break) inside a string')
      if (c === 92) {
        const e = text[i + 1]
        if (e === undefined) break
        if ('"\\/bfnrt'.includes(e)) i += 2
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6
        else return at(i, 'an invalid escape sequence in a string')
        continue
      }
      i++
    }
    return at(n, 'unexpected end of the file inside a string')
  }

  const number = (): JsonSyntaxProblem | null => {
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y
    m.lastIndex = i
    const hit = m.exec(text)
    if (!hit || hit[0] === '-' || hit[0] === '') return at(i, 'an invalid number')
    i += hit[0].length
    return null
  }

  const literal = (): JsonSyntaxProblem | null => {
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length
        return null
      }
    }
    return at(i, 'expected a value (a string, number, object, array, true, false or null)')
  }

  // Containers still open: '{' or '['; `expect` says what may come next.
  const stack: string[] = []
  type Expect = 'value' | 'key' | 'firstKey' | 'firstValue' | 'afterValue'
  let expect: Expect = 'value'
  for (;;) {
    ws()
    if (expect === 'value' || expect === 'firstValue') {
      const eof = end('a value')
      if (eof) return eof
      const c = text[i]!
      if (expect === 'firstValue' && c === ']') {
        i++
        stack.pop()
        expect = 'afterValue'
        continue
      }
      if (c === '{' || c === '[') {
        i++
        stack.push(c)
        expect = c === '{' ? 'firstKey' : 'firstValue'
        continue
      }
      const problem = c === '"' ? string() : c === '-' || (c >= '0' && c <= '9') ? number() : literal()
      if (problem) return problem
      expect = 'afterValue'
      continue
    }
    if (expect === 'key' || expect === 'firstKey') {
      const eof = end('a key')
      if (eof) return eof
      if (expect === 'firstKey' && text[i] === '}') {
        i++
        stack.pop()
        expect = 'afterValue'
        continue
      }
      if (text[i] !== '"') return at(i, 'expected a key in double quotes')
      const problem = string()
      if (problem) return problem
      ws()
      const eof2 = end("':'")
      if (eof2) return eof2
      if (text[i] !== ':') return at(i, "expected ':' after a key")
      i++
      expect = 'value'
      continue
    }
    // afterValue
    const top = stack[stack.length - 1]
    if (top === undefined) {
      return i < n ? at(i, 'unexpected text after the end of the JSON value') : null
    }
    const eof = end(top === '{' ? "',' or '}'" : "',' or ']'")
    if (eof) return eof
    const c = text[i]
    if (c === ',') {
      i++
      expect = top === '{' ? 'key' : 'value'
    } else if ((top === '{' && c === '}') || (top === '[' && c === ']')) {
      i++
      stack.pop()
    } else {
      return at(i, top === '{' ? "expected ',' or '}' after a value" : "expected ',' or ']' after a value")
    }
  }
}
