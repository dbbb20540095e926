import { describe, expect, it } from '@jest/globals'
import { MarkerSyntaxError } from '../../src/errors.js'
import {
  andMarkers,
  evaluateMarker,
  MarkerEvaluationError,
  markerToString,
  markerVariables,
  orMarkers,
  parseMarker,
  targetEnvironment,
  withExtras,
  withGroups,
  type Marker,
  type MarkerEnvironment
} from '../../src/markers/index.js'
import { DEFAULT_LIBC, parsePlatform, parsePythonVersion } from '../../src/target.js'

function target(python: string, platform = 'linux/amd64', extras: string[] = []): MarkerEnvironment {
  return targetEnvironment(
    { python: parsePythonVersion(python), platform: parsePlatform(platform), libc: DEFAULT_LIBC },
    { extras }
  )
}

const py311 = target('3.11.7')
const evaluate = (text: string, env: MarkerEnvironment = py311): boolean =>
  evaluateMarker(parseMarker(text), env)

function syntaxError(text: string): MarkerSyntaxError {
  try {
    parseMarker(text)
  } catch (e) {
    if (e instanceof MarkerSyntaxError) return e
    throw e
  }
  throw new Error(`${JSON.stringify(text)} parsed`)
}

describe('parseMarker', () => {
  it('gives `and` precedence over `or`', () => {
    const m = parseMarker('os_name == "a" or os_name == "b" and os_name == "c"')
    expect(m.kind).toBe('or')
    expect(markerToString(m)).toBe('os_name == "a" or os_name == "b" and os_name == "c"')
    expect(m.kind === 'or' && m.items.map((i) => i.kind)).toEqual(['compare', 'and'])
    // posix: false or (false and false)
    expect(evaluate('os_name == "posix" or os_name == "b" and os_name == "c"')).toBe(true)
    expect(evaluate('os_name == "b" and os_name == "c" or os_name == "posix"')).toBe(true)
    expect(evaluate('os_name == "posix" and os_name == "b" or os_name == "c"')).toBe(false)
  })

  it('groups with parentheses, keeping them only where needed when printed', () => {
    const m = parseMarker('(os_name == "a" or os_name == "posix") and (sys_platform == "linux")')
    expect(m.kind).toBe('and')
    expect(markerToString(m)).toBe('(os_name == "a" or os_name == "posix") and sys_platform == "linux"')
    expect(evaluateMarker(m, py311)).toBe(true)
    expect(markerToString(parseMarker('((python_version >= "3.8"))'))).toBe('python_version >= "3.8"')
    // Nested groups of the same kind flatten.
    const flat = parseMarker('os_name == "x" and (sys_platform == "x" and (os_name == "y"))')
    expect(flat.kind === 'and' && flat.items.length).toBe(3)
  })

  it('keeps the meaning of redundant parentheses (packaging 26.2 prints them away wrongly)', () => {
    // str(Marker(...)) gives 'python_version == "1" and os_name == "a" or os_name == "b"'.
    const m = parseMarker('python_version == "1" and ((os_name == "a" or os_name == "b"))')
    expect(markerToString(m)).toBe('python_version == "1" and (os_name == "a" or os_name == "b")')
    expect(evaluateMarker(m, py311)).toBe(false)
  })

  it('accepts variables on either side and both quote styles', () => {
    expect(evaluate('"3.8" < python_version')).toBe(true)
    expect(evaluate("'3.12' < python_version")).toBe(false)
    expect(evaluate('"linux" == sys_platform')).toBe(true)
    expect(markerToString(parseMarker("'3.8'<python_version"))).toBe('"3.8" < python_version')
  })

  it('accepts the legacy names packaging 26.2 accepts, and prints the canonical ones', () => {
    expect(markerToString(parseMarker('os.name == "posix" and sys.platform == "linux"'))).toBe(
      'os_name == "posix" and sys_platform == "linux"'
    )
    expect(markerToString(parseMarker('platform.machine == "x86_64"'))).toBe('platform_machine == "x86_64"')
    expect(markerToString(parseMarker('platform.version == ""'))).toBe('platform_version == ""')
    expect(markerToString(parseMarker('python_implementation == "CPython"'))).toBe(
      'platform_python_implementation == "CPython"'
    )
    expect(markerToString(parseMarker('platform.python_implementation == "CPython"'))).toBe(
      'platform_python_implementation == "CPython"'
    )
    // Not accepted by packaging: dotted platform.release / platform.system.
    expect(syntaxError('platform.release == "6"').message).toContain(
      "unknown marker variable 'platform.release'"
    )
  })

  it('returns the same frozen tree for the same text', () => {
    const a = parseMarker('python_version < "3.11"')
    expect(parseMarker('python_version < "3.11"')).toBe(a)
    expect(Object.isFrozen(a)).toBe(true)
    const b = parseMarker('os_name == "a" or os_name == "b"')
    expect(b.kind === 'or' && Object.isFrozen(b.items)).toBe(true)
  })

  it('decodes Python string escapes like ast.literal_eval', () => {
    expect(evaluate('sys_platform == "\\x6cinux"')).toBe(true)
    expect(evaluate("sys_platform == '\\154inux'")).toBe(true)
    const m = parseMarker('os_name == "a\\qb"') // unknown escapes keep their backslash
    expect(m.kind === 'compare' && m.right).toEqual({ kind: 'string', value: 'a\\qb' })
  })

  it('accepts a final newline, as packaging (Python `$`) does', () => {
    expect(evaluate('os_name == "posix"\n')).toBe(true)
    expect(syntaxError('os_name == "posix"\n\n').location.column).toBe(19)
  })

  it.each([
    ['python_version >= ', 19, 'expected a marker variable or a quoted string'],
    ['python_version >= 3.8', 19, 'expected a marker variable or a quoted string'],
    ['python_version = "3.8"', 16, 'expected a marker operator'],
    ['python_version not"3.8"', 19, "expected whitespace after 'not'"],
    ['python_version not inn "3.8"', 20, "expected 'in' after 'not'"],
    ['python_versions == "3.8"', 1, "unknown marker variable 'python_versions'"],
    ['os_name == "posix', 12, 'unterminated quoted string'],
    ['(os_name == "posix"', 20, "expected ')' to close the '(' opened at column 1"],
    ['os_name == "posix" xor os_name == "nt"', 20, "expected 'and', 'or' or the end of the marker"],
    ['os_name == "posix") ', 19, "expected 'and', 'or' or the end of the marker"],
    ['os_name == "posix" and', 23, 'expected a marker variable or a quoted string'],
    ['os_name == "a\\x4"', 14, 'truncated \\x escape'],
    ['', 1, 'expected a marker variable or a quoted string'],
    ['π == "x"', 1, "unknown marker variable 'π'"],
    ['platform_machine == "x86_64" and π == "x"', 34, "unknown marker variable 'π'"]
  ])('refuses %j at column %i', (text, column, message) => {
    const e = syntaxError(text)
    expect(e.location.column).toBe(column)
    expect(e.message).toContain(message)
    expect(e.message).toContain(`at column ${column} in `)
  })

  it('says where, merging the caller location', () => {
    let e: MarkerSyntaxError | undefined
    try {
      parseMarker('python_version >= ', { file: 'uv.lock', line: 12, keyPath: 'package.dependencies' })
    } catch (err) {
      e = err as MarkerSyntaxError
    }
    expect(e).toBeInstanceOf(MarkerSyntaxError)
    expect(e!.location).toEqual({ file: 'uv.lock', line: 12, keyPath: 'package.dependencies', column: 19 })
    expect(e!.describe()).toBe(
      "uv.lock:12:19: package.dependencies: expected a marker variable or a quoted string at column 19 in 'python_version >= '"
    )
    expect(syntaxError("extra == 'x' and").message).toContain(`in "extra == 'x' and"`)
  })
})

describe('evaluateMarker', () => {
  it.each([
    // Version variables: PEP 440 comparison when op + right side is a valid specifier.
    ['python_version < "3.12"', true],
    ['python_version <= "3.11"', true],
    ['python_version != "3.11"', false],
    ['python_version == "3.11"', true],
    ['python_version >= "3.9"', true],
    ['python_version > "3.9"', true], // as strings, "3.11" > "3.9" would be false
    ['python_version > "3.1"', true],
    ['python_version ~= "3.10"', true],
    ['python_version === "3.11"', true],
    ['python_version === "3.11.0"', false], // === compares strings
    ['python_version in "3.10 3.11"', true], // `in` is a substring test
    ['python_version not in "3.10 3.11"', false],
    ['python_full_version == "3.11.*"', true],
    ['python_full_version != "3.11.*"', false],
    ['python_full_version == "3.11"', false],
    ['python_full_version >= "3.11.7"', true],
    ['python_full_version < "3.11.7"', false],
    ['python_full_version ~= "3.11.0"', true],
    ['python_full_version ~= "3.10.0"', false],
    ['python_full_version == "3.11.7+local"', false], // the spec has a local label: exact match
    ['python_full_version <= "3.11"', false],
    ['"3.11.7+local" == python_full_version', true], // `3.11.7+local` matches ==3.11.7
    ['implementation_version >= "3.11"', true],
    // A string that is no specifier falls back to string comparison.
    ['python_version == "3.11foo"', false],
    ['python_version <= "latest"', false],
    ['platform_release >= "5.0"', false], // '' is not a version
    // Other variables: plain string comparison; < and > are always false.
    ['sys_platform == "linux"', true],
    ['sys_platform != "linux"', false],
    ['sys_platform < "z"', false],
    ['sys_platform > "a"', false],
    ['sys_platform <= "linux"', true],
    ['sys_platform >= "linux"', true],
    ['sys_platform in "linux2 darwin"', true],
    ['"lin" in sys_platform', true],
    ['"win" not in sys_platform', true],
    ['platform_machine == "x86_64"', true],
    ['platform_system == "Linux" and os_name == "posix"', true],
    ['implementation_name == "cpython" and platform_python_implementation == "CPython"', true]
  ])('%s on CPython 3.11.7 linux/amd64 is %s', (text, expected) => {
    expect(evaluate(text)).toBe(expected)
  })

  it('compares Python versions as versions across the 3.9/3.10 boundary', () => {
    expect(evaluate('python_version < "3.9"', target('3.10'))).toBe(false)
    expect(evaluate('python_version >= "3.9"', target('3.10'))).toBe(true)
    expect(evaluate('python_full_version >= "3.10.0"', target('3.10'))).toBe(true)
    expect(evaluate('platform_machine == "aarch64"', target('3.12', 'linux/arm64'))).toBe(true)
  })

  it('tests `extra` against the set of active extras', () => {
    const env = withExtras(py311, ['ml', 'Dev_Tools'])
    expect(evaluate('extra == "ml"', env)).toBe(true)
    expect(evaluate('extra == "ML"', env)).toBe(true) // names normalize (PEP 685)
    expect(evaluate('extra == "dev.tools"', env)).toBe(true)
    expect(evaluate('extra == "cuda"', env)).toBe(false)
    expect(evaluate('extra != "cuda"', env)).toBe(true)
    expect(evaluate('extra != "ml"', env)).toBe(false)
    expect(evaluate('extra == "ml" and extra == "dev-tools"', env)).toBe(true)
    expect(evaluate('"ml" == extra', env)).toBe(true)
    expect(evaluate('(extra == "ML")', env)).toBe(true) // packaging skips normalization here
    // No active extra: packaging's default `extra == ""`.
    expect(evaluate('extra == "ml"')).toBe(false)
    expect(evaluate('extra != "ml"')).toBe(true)
  })

  it("evaluates uv's conflict markers with synthetic extra names", () => {
    const marker =
      "python_full_version < '3.11' or (extra == 'extra-11-pydantic-ai-mcp-tasks' and extra == 'group-11-pydantic-ai-dev')"
    expect(evaluate(marker)).toBe(false)
    expect(evaluate(marker, withExtras(py311, ['extra-11-pydantic-ai-mcp-tasks']))).toBe(false)
    expect(
      evaluate(marker, withExtras(py311, ['extra-11-pydantic-ai-mcp-tasks', 'group-11-pydantic-ai-dev']))
    ).toBe(true)
    expect(evaluate(marker, target('3.10'))).toBe(true)
  })

  it('tests PEP 751 `extras` and `dependency_groups` sets', () => {
    const env = withGroups(withExtras(py311, ['ml']), ['dev'])
    expect(evaluate('"ml" in extras', env)).toBe(true)
    expect(evaluate('"ML" in extras', env)).toBe(true)
    expect(evaluate('"cuda" not in extras', env)).toBe(true)
    expect(evaluate('"dev" in dependency_groups', env)).toBe(true)
    expect(evaluate('"docs" in dependency_groups', env)).toBe(false)
    expect(evaluate('"dev" == dependency_groups', env)).toBe(false) // a string never equals a set
    expect(evaluate('"dev" != dependency_groups', env)).toBe(true)
  })

  it.each([
    ['os_name ~= "posix"', '~= compares versions'],
    ['sys_platform === "linux"', '=== compares versions'],
    ['python_version ~= "3"', '~= compares versions'], // ~=3 is no valid specifier
    ['"a" == "b"', 'a comparison needs a marker variable on one side'],
    ['extras == "ml"', 'extras is a set of names and can only be on the right'],
    ['"ml" ~= extras', '~= compares versions']
  ])('refuses to evaluate %s, as packaging does', (text, message) => {
    const m = parseMarker(text)
    expect(() => evaluateMarker(m, py311)).toThrow(MarkerEvaluationError)
    expect(() => evaluateMarker(m, py311)).toThrow(message)
  })

  it('evaluates every comparison, so a refused one fails the whole marker', () => {
    const m = parseMarker('os_name == "posix" or os_name ~= "x"')
    expect(() => evaluateMarker(m, py311)).toThrow(MarkerEvaluationError)
  })

  it('reads a string compared with a string naming a variable as that variable (as packaging does)', () => {
    expect(evaluate('"posix" == "os_name"')).toBe(true)
    expect([...markerVariables(parseMarker('"posix" == "os_name"'))]).toEqual(['os_name'])
  })
})

describe('markerToString', () => {
  it.each([
    ["python_version<'3.8'", 'python_version < "3.8"'],
    ['os_name=="posix"   and\tsys_platform=="linux"', 'os_name == "posix" and sys_platform == "linux"'],
    ['extra == "Foo_Bar"', 'extra == "foo-bar"'],
    ['os_name == \'say "hi"\'', 'os_name == \'say "hi"\''],
    ['os_name == "it\'s"', 'os_name == "it\'s"'],
    ['os_name == "a\\\\b"', 'os_name == "a\\\\b"'],
    ['os_name == "\\t\\x22\'"', 'os_name == "\\x09\\x22\'"'],
    ['python_version not  in "3.8"', 'python_version not in "3.8"'],
    ['(os_name == "1" or sys_platform == "2")', 'os_name == "1" or sys_platform == "2"']
  ])('prints %j as %j', (text, printed) => {
    expect(markerToString(parseMarker(text))).toBe(printed)
    expect(markerToString(parseMarker(printed))).toBe(printed)
  })
})

describe('helpers', () => {
  const a = parseMarker('python_version < "3.12"')
  const b = parseMarker('sys_platform == "linux" or sys_platform == "darwin"')

  it('andMarkers treats null as always and keeps `or` grouped', () => {
    expect(andMarkers(null, null)).toBeNull()
    expect(andMarkers(a, null)).toBe(a)
    expect(andMarkers(null, b)).toBe(b)
    const both = andMarkers(a, b)!
    expect(markerToString(both)).toBe(
      'python_version < "3.12" and (sys_platform == "linux" or sys_platform == "darwin")'
    )
    expect(evaluateMarker(both, py311)).toBe(true)
    expect(evaluateMarker(both, target('3.12'))).toBe(false)
    const three: Marker = andMarkers(both, parseMarker('os_name == "posix"'))!
    expect(three.kind === 'and' && three.items.length).toBe(3)
  })

  it('orMarkers treats null as always', () => {
    expect(orMarkers(a, null)).toBeNull()
    expect(markerToString(orMarkers(a, b)!)).toBe(
      'python_version < "3.12" or sys_platform == "linux" or sys_platform == "darwin"'
    )
  })

  it('markerVariables lists canonical names', () => {
    expect(
      [...markerVariables(parseMarker('os.name == "nt" and "3.8" < python_version or extra == "x"'))].sort()
    ).toEqual(['extra', 'os_name', 'python_version'])
  })
})
