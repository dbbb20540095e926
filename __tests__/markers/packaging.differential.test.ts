// Our markers, requirements and PEP 440 comparisons against Python's packaging (26.2), the
// reference (DESIGN.md). Python runs once per test run: every question goes to
// __tests__/support/markers_reference.py in one JSON request.
//
// What is compared:
// - every distinct marker of the lock corpus (and our canonical print of each), evaluated in
//   21 environments (12 CPython container targets 3.9..3.14 x amd64/arm64, plus darwin, win32,
//   emscripten, PyPy, pre-release CPythons, a real kernel release) times 4 extras choices:
//   none, {ml}, several extras that corpus markers test (uv's synthetic extra-N-.../group-N-...
//   conflict names included), and every extra the corpus mentions. With no or one active extra
//   packaging is called as is (`extra` = "" or that extra); with several, packaging's own
//   comparison runs for each active extra (see the reference script);
// - every requirement string of the corpus: name, extras, specifiers, URL, marker results;
// - generated markers, requirements and syntax soups (fast-check, fixed seeds): parse or not,
//   and results;
// - generated versions (normalized text), specifiers (operator, version) and
//   `Specifier.contains(v, prereleases=True)`;
// - two pinned divergences, where we follow PEP 685 / refuse what we cannot decode.
import { execFileSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { MarkerSyntaxError } from '../../src/errors.js'
import {
  evaluateMarker,
  MARKER_VARIABLES,
  MarkerEvaluationError,
  nameSet,
  markerToString,
  parseMarker,
  parseRequirement,
  type Marker,
  type MarkerEnvironment
} from '../../src/markers/index.js'
import {
  compareVersions,
  parseSpecifier,
  parseVersion,
  specifierContains,
  versionToString
} from '../../src/pep440.js'
import { corpusStrings } from '../support/markerCorpus.js'
import {
  baseEnvironments,
  referenceEnvironment,
  withExtrasChoices,
  type ExtrasChoice,
  type NamedEnvironment
} from '../support/markerEnvironments.js'

const REFERENCE = join(dirname(fileURLToPath(import.meta.url)), '../support/markers_reference.py')

/** A refusal; `column` is where packaging's caret points (for its own syntax errors). */
type Refusal = { ok: false; error: string; column: number | null }
type MarkerAnswer = Refusal | { ok: true; results: string; values: string[] }
type RequirementAnswer =
  | Refusal
  | {
      ok: true
      name: string
      displayName: string
      extras: string[]
      specifiers: string[]
      url: string | null
      results: string | null
    }
interface Answer {
  packaging: string
  markerSets: MarkerAnswer[][]
  requirements: RequirementAnswer[]
  versions: (string | null)[]
  specifiers: ([string, string] | null)[]
  contains: string[]
  comparisons: (number | null)[]
}

// ---------------------------------------------------------------------------------------------
// What we ask

const corpus = corpusStrings()

function tryParse(text: string): Marker | null {
  try {
    return parseMarker(text)
  } catch {
    return null
  }
}

/** The extra names corpus markers compare `extra` with. */
function corpusExtraNames(): string[] {
  const names = new Set<string>()
  const walk = (m: Marker): void => {
    if (m.kind !== 'compare') m.items.forEach(walk)
    else if (m.left.kind === 'variable' && m.left.name === 'extra' && m.right.kind === 'string')
      names.add(m.right.value)
    else if (m.right.kind === 'variable' && m.right.name === 'extra' && m.left.kind === 'string')
      names.add(m.left.value)
  }
  for (const text of corpus.markers) {
    const m = tryParse(text)
    if (m) walk(m)
  }
  return [...names].sort()
}

const extraNames = corpusExtraNames()
const SYNTHETIC = ['extra-11-pydantic-ai-mcp-tasks', 'group-11-pydantic-ai-dev']
const choices: ExtrasChoice[] = [
  { name: 'none', extras: [], groups: [] },
  { name: 'ml', extras: ['ml'], groups: [] },
  {
    name: 'several',
    extras: [...new Set([...extraNames.filter((_, i) => i % 5 === 0), ...SYNTHETIC, 'dev'])],
    groups: ['dev']
  },
  { name: 'all', extras: extraNames, groups: ['dev', 'test', 'lint', 'docs'] }
]
const bases = baseEnvironments()
const environments = withExtrasChoices(bases, choices)
const envIndex = (e: NamedEnvironment): number => environments.indexOf(e)
const allEnvs = environments.map((_, i) => i)
/** A smaller set for generated cases: 8 platforms x 3 extras choices. */
const someEnvs = environments
  .filter(
    (e) =>
      /^(cpython-3\.11\.7-linux\/amd64|cpython-3\.9\.7-linux\/arm64|cpython-3\.13\.0rc1|pypy|cpython-3\.12\.3-darwin|cpython-3\.11\.7-win32|cpython-3\.8\.18|cpython-3\.12\.7-emscripten)/.test(
        e.name
      ) && !e.name.endsWith('extras=all')
  )
  .map(envIndex)

const corpusMarkers = [
  ...new Set([
    ...corpus.markers,
    ...corpus.markers.flatMap((t) => {
      const m = tryParse(t)
      return m ? [markerToString(m)] : []
    }),
    ...corpus.requirements.flatMap((r) => {
      try {
        const m = parseRequirement(r).marker
        return m ? [markerToString(m)] : []
      } catch {
        return []
      }
    })
  ])
]

// Generated markers. Inside parentheses `extra` is compared with normalized names only: that is
// where packaging skips PEP 685 normalization (pinned below as a divergence).
const VARIABLES = [
  ...MARKER_VARIABLES,
  // The legacy dotted spellings packaging still accepts.
  'os.name',
  'sys.platform',
  'platform.version',
  'platform.machine',
  'platform.python_implementation',
  'python_implementation'
]
const VALUES = [
  ...['3', '3.8', '3.9', '3.9.7', '3.10', '3.10.0', '3.11', '3.11.7', '3.12', '3.13', '3.14', '3.15', '3.1'],
  ...['3.11.*', '3.9.*', '3.*', '3.13.0rc1', '3.13.0a1', '3.12.0.0', 'v3.11', '3.11.7+local', '3.11+local'],
  ...['2!3.11', '3.11.post1', '3.11-1', '3.11.dev0', '3.11.*.*', '3.11.x', '7.3.17', '7.3', '6.8', '6.8.0'],
  ...['23.4.0', '10', '11', '', ' 3.9 ', '3.9 ', '03.09', '3.010', '3.10.0rc1.post1.dev2', '3.9.7.*'],
  ...['linux', 'darwin', 'win32', 'emscripten', 'posix', 'nt', 'Linux', 'Windows', 'Darwin', 'x86_64'],
  ...['aarch64', 'AMD64', 'arm64', 'wasm32', 'CPython', 'PyPy', 'cpython', 'pypy', 'lin', 'ux', '64'],
  ...['os_name', 'python_version', 'extra', 'extras', 'ml', 'ML', 'dev', 'Foo_Bar', 'foo.bar', 'a b'],
  ...SYNTHETIC,
  "it's",
  'say "hi"'
]
const NORMALIZED_EXTRAS = ['ml', 'dev', 'foo-bar', 'test', '', ...SYNTHETIC]
/** Raw quoted sources, escapes included (ast.literal_eval decodes them). */
const QUOTED = [
  '"\\x6cinux"',
  "'\\154inux'",
  '"lin\\\nux"',
  '"a\\qb"',
  '"\\u0033.11"',
  '"tab\\there"',
  '"\\\\"'
]
const OPS = ['<', '<=', '!=', '==', '>=', '>', '~=', '===', 'in', 'not in']
const ws = fc.constantFrom(' ', ' ', ' ', ' ', '  ', '\t', '')

function quoteValue(v: string, q: string): string {
  if (v.includes(q)) q = q === '"' ? "'" : '"'
  return `${q}${v}${q}`
}

function comparisonArb(nested: boolean): fc.Arbitrary<string> {
  return fc
    .record({
      shape: fc.constantFrom(
        'var-lit',
        'var-lit',
        'var-lit',
        'lit-var',
        'lit-var',
        'var-var',
        'lit-lit',
        'raw'
      ),
      v1: fc.constantFrom(...VARIABLES),
      v2: fc.constantFrom(...VARIABLES),
      l1: fc.constantFrom(...VALUES),
      l2: fc.constantFrom(...VALUES),
      extra: fc.constantFrom(...NORMALIZED_EXTRAS),
      raw: fc.constantFrom(...QUOTED),
      op: fc.constantFrom(...OPS),
      q: fc.constantFrom('"', "'"),
      w1: ws,
      w2: ws
    })
    .map(({ shape, v1, v2, l1, l2, extra, raw, op, q, w1, w2 }) => {
      // `in` must not run into a variable name; other operators may touch their operands.
      const sp = (w: string): string => (w === '' && (op === 'in' || op === 'not in') ? ' ' : w)
      if (nested && v1 === 'extra') l1 = extra
      if (nested && shape === 'var-var') {
        if (v1 === 'extra') v1 = 'sys_platform'
        if (v2 === 'extra') v2 = 'os_name'
      }
      if (shape === 'raw' && v1 === 'extra') v1 = 'os_name'
      const lit = quoteValue(l1, q)
      switch (shape) {
        case 'var-lit':
          return `${v1}${sp(w1)}${op}${w2}${lit}`
        case 'lit-var':
          return `${lit}${w1}${op}${sp(w2)}${v1}`
        case 'var-var':
          return `${v1}${sp(w1)}${op}${sp(w2)}${v2}`
        case 'lit-lit':
          return `${lit}${w1}${op}${w2}${quoteValue(l2, q)}`
        default:
          return `${v1} ${op} ${raw}`
      }
    })
}

function markerArb(depth: number, nested: boolean): fc.Arbitrary<string> {
  const cmp = comparisonArb(nested)
  if (depth === 0) return cmp
  return fc.oneof(
    { weight: 3, arbitrary: cmp },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          markerArb(depth - 1, nested),
          fc.constantFrom('and', 'or'),
          markerArb(depth - 1, nested),
          ws,
          ws
        )
        .map(([a, op, b, w1, w2]) => `${a}${w1 === '' ? ' ' : w1}${op}${w2}${b}`)
    },
    {
      weight: 2,
      arbitrary: fc.tuple(markerArb(depth - 1, true), ws, ws).map(([m, w1, w2]) => `(${w1}${m}${w2})`)
    }
  )
}

const SOUP = [
  ...['python_version', 'os_name', 'extra', 'os.name', 'platform.release', 'python_versionx', 'extra_x'],
  ...['"3.8"', "'linux'", '"ml"', '==', '<', '~=', '===', '=', '!', 'in', 'not', 'not in', 'and', 'or'],
  ...['(', ')', '"unterminated', "'", ';', ',', 'xor', '3.8', '\n', '\\', 'é', '"a\nb"', 'in"x"']
]
const soupArb = fc
  .array(fc.tuple(fc.constantFrom(...SOUP), fc.constantFrom(' ', '', '\t', '  ')), {
    minLength: 1,
    maxLength: 7
  })
  .map((parts) => parts.map(([t, w]) => t + w).join(''))

const HAND_MARKERS = [
  'python_version == "1" and ((os_name == "a" or os_name == "b"))',
  'os.name == "posix"',
  'platform.release == "x"',
  'os_name == "posix"\n',
  'os_name == "posix" \n',
  'os_name == "posix"\n\n',
  "os_name=='posix'and sys_platform=='linux'",
  '"a" == "b"',
  '"posix" == "os_name"',
  '"3.11" == "python_version"',
  'extra == extra',
  'os_name == extra',
  'extras == "a"',
  '"a" in extras',
  '"ML" in extras',
  '"dev" not in dependency_groups',
  '"dev" == dependency_groups',
  '"dev" ~= dependency_groups',
  'os_name in extras',
  'os_name ~= "x"',
  'python_version ~= "3"',
  'python_version ~= "3.1"',
  '"3" ~= python_version',
  '"3.8" < python_version',
  'python_version === "3.11"',
  'os_name === "posix"',
  'python_version>"3"or os_name<"z"',
  'python_version in "3.10 3.11"',
  '"3.1" in python_version',
  'platform_release >= "5"',
  '"5" <= platform_release',
  "extra == 'Foo_Bar'",
  'extra == " ml "',
  '"Foo_Bar" == extra',
  'python_version not  in "x"',
  'python_version not\tin "x"',
  '(python_version == "3.11"',
  'python_version >= ',
  'python_full_version == "3.11.*"',
  'python_full_version ~= "3.11.0c1"',
  'python_full_version ~= "v3.11"',
  'implementation_version > "7.3.dev0"',
  "os_name == 'a\\'",
  'os_name == "\\777"',
  'os_name == "\\U00110000"',
  'os_name == "\\x4"',
  'os_name == "a\rb"',
  'os_name == "a\x00b"',
  '',
  ' ',
  '()',
  'extra == "ml" and extra == "dev"',
  'extra != "ml" or extra != "dev"',
  'extra in "ml-extra"',
  '"m" in extra',
  'extra < "z"',
  'extra ~= "1.0"',
  'python_version < "3.10" and (extra == "extra-11-pydantic-ai-mcp-tasks" or extra != "group-11-pydantic-ai-dev")',
  'os_nameé == "x"',
  'extraé == "ml"',
  'python_version == "3"andé os_name == "x"',
  '"3"inπ python_version',
  'é"x" == os_name',
  'os_name == "é"and python_version > "3"',
  'os_name == "posix"orπ',
  '"\\q" in "os_name"',
  'os_name == "\\"',
  "os_name == '\\x41\\101\\u0041\\U00000041\\'\\\"'"
]

const nameArb = fc.constantFrom(
  'requests',
  'Foo.Bar_baz',
  'a',
  'a-',
  '-a',
  'zope.interface',
  'é',
  'x1',
  'fooé',
  'foo-é'
)
const REQ_PARTS = {
  extras: ['', '[a]', '[a,b]', '[ a , B_c ]', '[]', '[a b]', '[a,]', '[', '[a,a]'],
  specs: [
    ...['', '>=1.0', ' >= 1.0 , <2', '(>=1,<2)', ' (>=1.0)', '(>=1', '==1.0.*', '>=1.0.*', '<=1.0+local'],
    ...['<=1.0+LOCAL', '==1.0+cpu', '===foo', '===foo,bar', '~=1.0', '~=1', '>1.0.dev0', '==v1.0', '>=1,'],
    ...['(===)', ' (>=3.4.1,<4.0.dev0 || >4.1.0)']
  ],
  urls: ['', ' @ https://x/y.whl', '@ https://x/y.whl ', ' @https://x/y.whl;', ' @ '],
  markers: [
    '',
    ';python_version>"3.8"',
    ' ; extra == "Foo_Bar"',
    ';',
    ' ; os_name == "nt" and',
    ' ;os_name=="posix" ;'
  ]
}
const requirementArb = fc
  .record({
    name: nameArb,
    extras: fc.constantFrom(...REQ_PARTS.extras),
    spec: fc.constantFrom(...REQ_PARTS.specs),
    url: fc.constantFrom(...REQ_PARTS.urls),
    marker: fc.constantFrom(...REQ_PARTS.markers),
    useUrl: fc.boolean()
  })
  .map(({ name, extras, spec, url, marker, useUrl }) => `${name}${extras}${useUrl ? url : spec}${marker}`)

const versionArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({
        ws1: fc.constantFrom('', '', '', ' ', '\t', '\n', '\u00a0', '\u2003', '\ufeff', '\x1c'),
        v: fc.constantFrom('', '', '', 'v', 'V'),
        epoch: fc.constantFrom('', '', '', '1!', '01!', '0!'),
        release: fc.array(fc.constantFrom('0', '1', '2', '3', '10', '11', '00', '010', '9'), {
          minLength: 1,
          maxLength: 4
        }),
        pre: fc.constantFrom(
          '',
          '',
          '',
          'a1',
          'b',
          'rc2',
          'c',
          'alpha3',
          'beta',
          'pre',
          'preview1',
          '-a1',
          '.rc.1',
          '_b_2',
          'RC1',
          'a-'
        ),
        post: fc.constantFrom(
          '',
          '',
          '',
          '.post1',
          '-1',
          'post',
          'rev2',
          'r',
          '.post.3',
          '_r_4',
          'POST1',
          '-post'
        ),
        dev: fc.constantFrom('', '', '', '.dev', 'dev2', '-dev3', '_dev_', 'DEV', '.dev0'),
        local: fc.constantFrom(
          '',
          '',
          '',
          '+local',
          '+cpu',
          '+cu128',
          '+1.2.abc',
          '+ABC-01_x',
          '+a..b',
          '+',
          '+01'
        ),
        ws2: fc.constantFrom('', '', '', ' ', '\n', '\u3000')
      })
      .map((p) => p.ws1 + p.v + p.epoch + p.release.join('.') + p.pre + p.post + p.dev + p.local + p.ws2)
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ...[
        '1..2',
        '.1',
        '1.',
        '1.0.*',
        'foo',
        '1.0+',
        '١.٠',
        '1_0',
        '1.0-',
        '1.0a-1',
        '1.0-dev',
        '1.0.post-dev'
      ],
      ...['1.0a.post1', '', ' ', '٣.١١', '1.0c1', '1.0rc1', 'v1.0', '1!', '1.0.0.0', '3.11', '3.11.7']
    )
  }
)
const specArb = fc
  .record({
    op: fc.constantFrom('~=', '==', '!=', '<=', '>=', '<', '>', '===', '=', '=>', ''),
    w: fc.constantFrom('', '', ' ', '\t'),
    version: versionArb,
    star: fc.constantFrom('', '', '', '.*'),
    tail: fc.constantFrom('', '', ' ')
  })
  .map(({ op, w, version, star, tail }) => `${op}${w}${version}${star}${tail}`)

const generatedMarkers = [
  ...new Set([
    ...HAND_MARKERS,
    ...fc.sample(markerArb(3, false), { seed: 508, numRuns: 2500 }),
    ...fc.sample(soupArb, { seed: 440, numRuns: 1500 })
  ])
]
const REQUIREMENT_SOUP = [
  ...['name', 'Foo.Bar', '[a', 'b]', '[', ']', ',', '@', 'https://x/y.whl', '>=1.0', '==1.0.*', '.*', '+loc'],
  ...['(>=1', ')', '(', ';', 'os_name', '==', '"x"', 'and', 'or', 'é', '~=', '3.8', '===', 'not in', '\n']
]
const requirementSoupArb = fc
  .array(fc.tuple(fc.constantFrom(...REQUIREMENT_SOUP), fc.constantFrom(' ', '', '\t')), {
    minLength: 1,
    maxLength: 7
  })
  .map((parts) => parts.map(([t, w]) => t + w).join(''))
const generatedRequirements = [
  ...new Set([
    ...fc.sample(requirementArb, { seed: 508, numRuns: 1500 }),
    ...fc.sample(requirementSoupArb, { seed: 503, numRuns: 1500 })
  ])
]
const versions = [...new Set(fc.sample(versionArb, { seed: 440, numRuns: 3000 }))]
const specifiers = [...new Set(fc.sample(specArb, { seed: 440, numRuns: 3000 }))]
// Pairs built around the same few releases, so that the edge rules (post-releases of V for >V,
// pre-releases of V for <V, local labels, prefixes, ~= prefixes) are met often.
const BASES = ['1', '1.0', '1.0.0', '1.1', '0.9', '2!1.0', '3.11', '3.11.7']
const SUFFIXES = [
  '',
  '',
  '',
  'a1',
  'b2',
  'rc1',
  '.post1',
  '.post2',
  '.dev0',
  '.dev1',
  'a1.dev1',
  '.post1.dev1'
]
const LOCALS = ['', '', '', '+local', '+cpu.1', '+1']
const relatedPairArb = fc
  .record({
    op: fc.constantFrom('~=', '==', '!=', '<=', '>=', '<', '>', '==='),
    b1: fc.constantFrom(...BASES),
    s1: fc.constantFrom(...SUFFIXES),
    l1: fc.constantFrom(...LOCALS),
    star: fc.constantFrom('', '', '.*'),
    b2: fc.constantFrom(...BASES),
    s2: fc.constantFrom(...SUFFIXES),
    l2: fc.constantFrom(...LOCALS)
  })
  .map(({ op, b1, s1, l1, star, b2, s2, l2 }): [string, string] => [
    `${op}${b1}${star ? '' : s1}${star ? '' : l1}${star}`,
    `${b2}${s2}${l2}`
  ])
const containsPairs = [
  ...fc.sample(fc.tuple(specArb, versionArb), { seed: 685, numRuns: 4000 }),
  ...fc.sample(relatedPairArb, { seed: 440, numRuns: 6000 })
]

const localVersionArb = fc
  .record({
    b: fc.constantFrom('1.0', '1', '1.0.0', '1.0.post1', '1.0a1'),
    l: fc.array(fc.constantFrom('1', '2', '01', '10', 'a', 'b', 'abc', 'B', 'a1'), { maxLength: 3 }),
    sep: fc.constantFrom('.', '-', '_')
  })
  .map(({ b, l, sep }) => (l.length ? `${b}+${l.join(sep)}` : b))
const comparisonPairs = [
  ...fc.sample(fc.tuple(versionArb, versionArb), { seed: 503, numRuns: 2000 }),
  ...fc.sample(fc.tuple(localVersionArb, localVersionArb), { seed: 503, numRuns: 2000 }),
  ...fc.sample(
    fc.tuple(
      relatedPairArb.map(([, v]) => v),
      relatedPairArb.map(([, v]) => v)
    ),
    {
      seed: 503,
      numRuns: 2000
    }
  )
]

// Pinned divergences: [marker, extras, what packaging says, what we say].
const DIVERGENCES: [string, string[], string, string][] = [
  // packaging normalizes extra names only in top-level comparisons (PEP 685 says always).
  ['(extra == "Foo_Bar")', ['foo-bar'], 'F', 'T'],
  ['os_name == "posix" and ("Foo.Bar" == extra)', ['foo-bar'], 'F', 'T'],
  // \N{...} needs Python's Unicode name table.
  ['os_name == "\\N{LATIN SMALL LETTER P}osix"', [], 'T', 'syntax error']
]
const divergenceEnvs = DIVERGENCES.map(([, extras]) => ({
  name: `divergence extras=${extras.join(',')}`,
  env: { ...bases[0]!.env, extras: nameSet(extras) }
}))

// ---------------------------------------------------------------------------------------------
// Our answers

function ourMarker(text: string, envs: MarkerEnvironment[]): MarkerAnswer {
  let m: Marker
  try {
    m = parseMarker(text)
  } catch (e) {
    if (e instanceof MarkerSyntaxError) return refusal(e)
    throw e
  }
  return { ok: true, results: envs.map((env) => evaluateOrError(m, env)).join(''), values: literalValues(m) }
}

/** The quoted strings of a marker in the order written. */
function literalValues(m: Marker): string[] {
  if (m.kind !== 'compare') return m.items.flatMap(literalValues)
  return [m.left, m.right].flatMap((v) => (v.kind === 'string' ? [v.value] : []))
}

function refusal(e: MarkerSyntaxError): Refusal {
  return { ok: false, error: e.message, column: e.location.column ?? null }
}

/**
 * Both refuse: our column must be packaging's caret, except for a misplaced `.*`, where we point
 * at the `.` and packaging at the `*`.
 */
function sameRefusal(ours: Refusal, ref: Refusal): boolean {
  return ref.column === null || ours.column === ref.column || ours.error.startsWith("'.*'")
}

function evaluateOrError(m: Marker, env: MarkerEnvironment): string {
  try {
    return evaluateMarker(m, env) ? 'T' : 'F'
  } catch (e) {
    if (e instanceof MarkerEvaluationError) return 'E'
    throw e
  }
}

interface Disagreement {
  case: string
  environment?: string
  ours: unknown
  packaging: unknown
}

function compareMarkers(texts: string[], envIdx: number[], answers: MarkerAnswer[]): Disagreement[] {
  const envs = envIdx.map((i) => environments[i]!.env)
  const out: Disagreement[] = []
  texts.forEach((text, n) => {
    const ref = answers[n]!
    const ours = ourMarker(text, envs)
    if (ours.ok !== ref.ok) {
      out.push({ case: text, ours: ours.ok ? 'parses' : ours, packaging: ref.ok ? 'parses' : ref })
    } else if (!ours.ok && !ref.ok && !sameRefusal(ours, ref)) {
      out.push({ case: text, ours, packaging: ref })
    } else if (ours.ok && ref.ok && JSON.stringify(ours.values) !== JSON.stringify(ref.values)) {
      out.push({ case: text, ours: ours.values, packaging: ref.values })
    } else if (ours.ok && ref.ok && ours.results !== ref.results) {
      for (let i = 0; i < envIdx.length; i++) {
        if (ours.results[i] !== ref.results[i]) {
          out.push({
            case: text,
            environment: environments[envIdx[i]!]!.name,
            ours: ours.results[i],
            packaging: ref.results[i]
          })
        }
      }
    }
  })
  return out.slice(0, 40)
}

// ---------------------------------------------------------------------------------------------

let answer: Answer

beforeAll(() => {
  const request = {
    environments: [...environments, ...divergenceEnvs].map(referenceEnvironment),
    markerSets: [
      { markers: corpusMarkers, envs: allEnvs },
      { markers: generatedMarkers, envs: someEnvs },
      {
        markers: DIVERGENCES.map(([m]) => m),
        envs: divergenceEnvs.map((_, i) => environments.length + i)
      }
    ],
    requirements: { texts: [...corpus.requirements, ...generatedRequirements], envs: someEnvs },
    versions,
    specifiers,
    contains: containsPairs,
    comparisons: comparisonPairs
  }
  const out = execFileSync('python3', [REFERENCE], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONIOENCODING: 'utf-8', PYTHONWARNINGS: 'ignore' }
  })
  answer = JSON.parse(out) as Answer
}, 120_000)

describe('markers against packaging', () => {
  it('uses packaging 26.2', () => {
    expect(answer.packaging).toBe('26.2')
  })

  it('finds hundreds of distinct markers in the corpus, with extras, so the comparison is not vacuous', () => {
    expect(corpus.markers.length).toBeGreaterThan(300)
    expect(corpusMarkers.length).toBeGreaterThan(600)
    expect(corpus.requirements.filter((r) => r.includes(';')).length).toBeGreaterThan(100)
    expect(environments.length).toBe(84)
    for (const name of SYNTHETIC) expect(extraNames).toContain(name)
    expect(extraNames.length).toBeGreaterThan(20)
    // Each answer varies across environments: the markers do discriminate.
    const results = answer.markerSets[0]!.flatMap((a) => (a.ok ? [a.results] : []))
    expect(results.length).toBe(corpusMarkers.length)
    expect(results.filter((r) => r.includes('T') && r.includes('F')).length).toBeGreaterThan(500)
  })

  it('evaluates every corpus marker like packaging in every environment', () => {
    expect(compareMarkers(corpusMarkers, allEnvs, answer.markerSets[0]!)).toEqual([])
  })

  it('parses and evaluates generated markers and syntax soups like packaging', () => {
    const answers = answer.markerSets[1]!
    expect(compareMarkers(generatedMarkers, someEnvs, answers)).toEqual([])
    // Both outcomes are well represented.
    expect(answers.filter((a) => a.ok).length).toBeGreaterThan(1000)
    expect(answers.filter((a) => !a.ok).length).toBeGreaterThan(500)
    expect(answers.filter((a) => a.ok && a.results.includes('E')).length).toBeGreaterThan(50)
  })

  it('parses requirements like packaging', () => {
    const texts = [...corpus.requirements, ...generatedRequirements]
    const envs = someEnvs.map((i) => environments[i]!.env)
    const out: Disagreement[] = []
    texts.forEach((text, n) => {
      const ref = answer.requirements[n]!
      let ours: RequirementAnswer
      try {
        const r = parseRequirement(text)
        ours = {
          ok: true,
          name: r.name,
          displayName: r.displayName,
          extras: [...r.extras],
          specifiers: r.specifier.split(',').filter(Boolean).sort(),
          url: r.url,
          results: r.marker && envs.map((env) => evaluateOrError(r.marker!, env)).join('')
        }
      } catch (e) {
        if (!(e instanceof MarkerSyntaxError)) throw e
        ours = refusal(e)
      }
      if (
        ours.ok !== ref.ok ||
        (ours.ok && JSON.stringify(ours) !== JSON.stringify(ref)) ||
        (!ours.ok && !ref.ok && !sameRefusal(ours, ref))
      ) {
        out.push({ case: text, ours, packaging: ref })
      }
    })
    expect(out.slice(0, 40)).toEqual([])
    expect(answer.requirements.filter((r) => r.ok).length).toBeGreaterThan(2500)
    expect(answer.requirements.filter((r) => !r.ok).length).toBeGreaterThan(300)
  })

  it('parses versions like packaging.version.Version', () => {
    const out = versions.flatMap((v, i) => {
      const p = parseVersion(v)
      const ours = p === null ? null : versionToString(p)
      return ours === answer.versions[i] ? [] : [{ case: v, ours, packaging: answer.versions[i] }]
    })
    expect(out.slice(0, 40)).toEqual([])
    expect(answer.versions.filter((v) => v !== null).length).toBeGreaterThan(1000)
  })

  it('parses specifiers like packaging.specifiers.Specifier', () => {
    const out = specifiers.flatMap((s, i) => {
      const p = parseSpecifier(s)
      const ours = p === null ? null : [p.operator, p.version]
      const ref = answer.specifiers[i]
      return JSON.stringify(ours) === JSON.stringify(ref) ? [] : [{ case: s, ours, packaging: ref }]
    })
    expect(out.slice(0, 40)).toEqual([])
    expect(answer.specifiers.filter((s) => s !== null).length).toBeGreaterThan(500)
  })

  it('matches Specifier.contains(version, prereleases=True)', () => {
    const out = containsPairs.flatMap(([s, v], i) => {
      const spec = parseSpecifier(s)
      let ours: string
      if (spec === null) ours = 'I'
      else {
        try {
          ours = specifierContains(spec, v) ? 'T' : 'F'
        } catch (e) {
          if (!(e instanceof MarkerEvaluationError)) throw e
          ours = 'E'
        }
      }
      return ours === answer.contains[i]
        ? []
        : [{ case: `${JSON.stringify(v)} in ${JSON.stringify(s)}`, ours, packaging: answer.contains[i] }]
    })
    expect(out.slice(0, 40)).toEqual([])
    expect(answer.contains.filter((c) => c === 'T').length).toBeGreaterThan(300)
    expect(answer.contains.filter((c) => c === 'F').length).toBeGreaterThan(300)
  })

  it('orders versions like packaging.version.Version', () => {
    const out = comparisonPairs.flatMap(([a, b], i) => {
      const va = parseVersion(a)
      const vb = parseVersion(b)
      const ours = va === null || vb === null ? null : compareVersions(va, vb)
      return ours === answer.comparisons[i]
        ? []
        : [{ case: `${a} vs ${b}`, ours, packaging: answer.comparisons[i] }]
    })
    expect(out.slice(0, 40)).toEqual([])
    expect(answer.comparisons.filter((c) => c === 0).length).toBeGreaterThan(100)
  })

  it('diverges from packaging only where pinned', () => {
    DIVERGENCES.forEach(([text, , theirs, ours], i) => {
      const ref = answer.markerSets[2]![i]!
      expect(ref.ok ? ref.results[i] : 'syntax error').toBe(theirs)
      const mine = ourMarker(text, [divergenceEnvs[i]!.env])
      expect(mine.ok ? mine.results : 'syntax error').toBe(ours)
      expect(mine.ok ? mine.results : 'syntax error').not.toBe(theirs)
    })
  })
})
