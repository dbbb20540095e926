import { describe, expect, it } from '@jest/globals'
import { MarkerSyntaxError } from '../../src/errors.js'
import {
  evaluateMarker,
  formatRequirement,
  markerToString,
  parseRequirement,
  targetEnvironment,
  withExtras
} from '../../src/markers/index.js'
import { DEFAULT_LIBC, parsePlatform, parsePythonVersion } from '../../src/target.js'

const env = targetEnvironment({
  python: parsePythonVersion('3.11.7'),
  platform: parsePlatform('linux/amd64'),
  libc: DEFAULT_LIBC
})

function refusal(text: string): MarkerSyntaxError {
  try {
    parseRequirement(text)
  } catch (e) {
    if (e instanceof MarkerSyntaxError) return e
    throw e
  }
  throw new Error(`${JSON.stringify(text)} parsed`)
}

describe('parseRequirement', () => {
  it('normalizes names with dots and underscores, keeping the written one', () => {
    const r = parseRequirement('Foo.Bar_baz>=1.0')
    expect(r).toMatchObject({
      name: 'foo-bar-baz',
      displayName: 'Foo.Bar_baz',
      specifier: '>=1.0',
      url: null
    })
    expect(r.marker).toBeNull()
    expect(parseRequirement('zope.interface').name).toBe('zope-interface')
  })

  it('normalizes, sorts and deduplicates extras', () => {
    expect(parseRequirement('requests[Socks, security,socks]>=2').extras).toEqual(['security', 'socks'])
    expect(parseRequirement('pkg[ ]').extras).toEqual([])
    expect(parseRequirement('uvicorn[Standard_Extras]').extras).toEqual(['standard-extras'])
  })

  it('normalizes specifier sets and keeps their order', () => {
    expect(parseRequirement('name >= 1.0 , < 2').specifier).toBe('>=1.0,<2')
    expect(parseRequirement('name==1.0.*').specifier).toBe('==1.0.*')
    expect(parseRequirement('torch==2.7.1+cpu').specifier).toBe('==2.7.1+cpu')
    expect(parseRequirement('name>=1,').specifier).toBe('>=1')
    expect(parseRequirement('name~= 1.4').specifier).toBe('~=1.4')
    expect(parseRequirement('name').specifier).toBe('')
  })

  it("accepts Poetry's parenthesized form", () => {
    const r = parseRequirement('pytest (>=6.0,<8.0) ; python_version >= "3.8" and extra == "Test"')
    expect(r.name).toBe('pytest')
    expect(r.specifier).toBe('>=6.0,<8.0')
    expect(markerToString(r.marker!)).toBe('python_version >= "3.8" and extra == "test"')
    expect(evaluateMarker(r.marker!, env)).toBe(false)
    expect(evaluateMarker(r.marker!, withExtras(env, ['test']))).toBe(true)
    expect(parseRequirement('coverage[toml] (>=7)').extras).toEqual(['toml'])
  })

  it('reads the marker after the semicolon', () => {
    const r = parseRequirement(
      'uvloop>=0.21;platform_python_implementation=="CPython" and sys_platform!="win32"'
    )
    expect(r.specifier).toBe('>=0.21')
    expect(evaluateMarker(r.marker!, env)).toBe(true)
    expect(parseRequirement("tomli ; python_version < '3.11'").specifier).toBe('')
  })

  it('reads URL requirements; the marker needs a space before its semicolon', () => {
    const r = parseRequirement(
      'gym-dora @ git+https://github.com/dora-rs/gym-dora.git@abc#subdirectory=x ; sys_platform == "linux"'
    )
    expect(r.url).toBe('git+https://github.com/dora-rs/gym-dora.git@abc#subdirectory=x')
    expect(r.specifier).toBe('')
    expect(markerToString(r.marker!)).toBe('sys_platform == "linux"')
    // Without the space the semicolon belongs to the URL (PEP 508).
    const glued = parseRequirement('name @ https://x/y.whl;os_name=="posix"')
    expect(glued.url).toBe('https://x/y.whl;os_name=="posix"')
    expect(glued.marker).toBeNull()
    expect(parseRequirement('name@https://x/y.whl ').url).toBe('https://x/y.whl')
  })

  it.each([
    ['-foo', 1, 'expected a package name at the start of the requirement'],
    ['name[a b]', 8, 'expected a comma between extra names'],
    ['name[a,]', 8, "expected an extra name after ','"],
    ['name[a', 7, "expected ']' to close the '[' opened at column 5"],
    ['name>=1.0.*', 10, "'.*' can only follow == or !="],
    ['name<=1.0+local', 10, 'a local version label (+...) can only follow == or !='],
    ['name (>=1', 10, "expected ')' to close the '(' opened at column 6"],
    ['name>=1 os_name', 9, "expected ',' (within the version specifier), ';' (before a marker) or the end"],
    ['name v1', 6, "expected ';' (before a marker) or the end of the requirement"],
    ['name @ ', 8, "expected a URL after '@'"],
    ['name @ https://x/y.whl os_name', 24, "expected ';' (after the URL and a space) or the end"],
    ['name;', 6, 'expected a marker variable or a quoted string'],
    ['name>=1;os_name=="a" ;', 22, "expected 'and', 'or' or the end of the requirement"],
    ['name===foo,bar', 5, "invalid version specifier 'bar'"],
    ['datasets (>=3.4.1,<4.0.dev0 || >4.1.0)', 29, "expected ')' to close the '(' opened at column 10"]
  ])('refuses %j at column %i', (text, column, message) => {
    const e = refusal(text)
    expect(e.location.column).toBe(column)
    expect(e.message).toContain(message)
  })

  it('merges the caller location into errors', () => {
    try {
      parseRequirement('name[a b]', { file: 'pyproject.toml', line: 7, keyPath: 'project.dependencies' })
      throw new Error('parsed')
    } catch (e) {
      expect((e as MarkerSyntaxError).location).toEqual({
        file: 'pyproject.toml',
        line: 7,
        keyPath: 'project.dependencies',
        column: 8
      })
    }
  })
})

describe('formatRequirement', () => {
  it.each([
    ['Foo.Bar_baz >= 1.0', 'Foo.Bar_baz>=1.0'],
    [
      'requests[socks,Security] (>=2,<3) ; python_version<"3.12"',
      'requests[security,socks]>=2,<3; python_version < "3.12"'
    ],
    ['name @ https://x/y.whl ; os_name=="nt"', 'name @ https://x/y.whl ; os_name == "nt"'],
    ['name@https://x/y.whl', 'name @ https://x/y.whl'],
    ['name', 'name']
  ])('prints %j as %j, which parses back the same', (text, printed) => {
    const r = parseRequirement(text)
    expect(formatRequirement(r)).toBe(printed)
    const again = parseRequirement(printed)
    expect({ ...again, marker: again.marker && markerToString(again.marker) }).toEqual({
      ...r,
      marker: r.marker && markerToString(r.marker)
    })
  })
})
