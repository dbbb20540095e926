// .dockerignore matching. The tables marked "moby" are moby/patternmatcher's own test tables
// (patternmatcher_test.go, ignorefile_test.go), answered as MatchesOrParentMatches answers them; the
// rest pins each rule with the smallest case. buildah.differential.test.ts checks a whole tree
// against a real builder.
import { describe, expect, it } from '@jest/globals'
import { cleanPath, isExcluded, parseDockerignore } from '../../src/pipeline/dockerignore.js'
import { SourceError } from '../../src/pipeline/errors.js'

const excluded = (patterns: readonly string[], path: string): boolean =>
  isExcluded(parseDockerignore(patterns.join('\n')), path)

function parseError(text: string): SourceError {
  try {
    parseDockerignore(text, 'svc/.dockerignore')
  } catch (e) {
    expect(e).toBeInstanceOf(SourceError)
    return e as SourceError
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`)
}

describe('moby TestMatches (MatchesOrParentMatches)', () => {
  // [pattern, path, excluded]
  it.each<[string, string, boolean]>([
    ['**', 'file', true],
    ['**', 'file/', true],
    ['**/', 'file', true],
    ['**/', 'file/', true],
    ['**', 'dir/file', true],
    ['**/', 'dir/file', true],
    ['**/**', 'dir/file', true],
    ['dir/**', 'dir/file', true],
    ['dir/**', 'dir/dir2/file', true],
    ['**/dir', 'dir', true],
    ['**/dir', 'dir/file', true],
    ['**/dir2/*', 'dir/dir2/file', true],
    ['**/dir2/*', 'dir/dir2/file/', true],
    ['**/dir2/**', 'dir/dir2/dir3/file', true],
    ['**file', 'file', true],
    ['**file', 'dir/file', true],
    ['**/file', 'dir/file', true],
    ['**file', 'dir/dir/file', true],
    ['**/file', 'dir/dir/file', true],
    ['**/file*', 'dir/dir/file', true],
    ['**/file*', 'dir/dir/file.txt', true],
    ['**/file*txt', 'dir/dir/file.txt', true],
    ['**/file*.txt', 'dir/dir/file.txt', true],
    ['**/file*.txt*', 'dir/dir/file.txt', true],
    ['**/**/*.txt', 'dir/dir/file.txt', true],
    ['**/**/*.txt2', 'dir/dir/file.txt', false],
    ['**/*.txt', 'file.txt', true],
    ['**/**/*.txt', 'file.txt', true],
    ['a**/*.txt', 'a/file.txt', true],
    ['a**/*.txt', 'a/dir/file.txt', true],
    ['a**/*.txt', 'a/dir/dir/file.txt', true],
    ['a/*.txt', 'a/dir/file.txt', false],
    ['a/*.txt', 'a/file.txt', true],
    ['a/*.txt**', 'a/file.txt', true],
    ['a[b-d]e', 'ae', false],
    ['a[b-d]e', 'ace', true],
    ['a[b-d]e', 'aae', false],
    ['a[^b-d]e', 'aze', true],
    ['.*', '.foo', true],
    ['.*', 'foo', false],
    ['abc.def', 'abcdef', false],
    ['abc.def', 'abc.def', true],
    ['abc.def', 'abcZdef', false],
    ['abc?def', 'abcZdef', true],
    ['abc?def', 'abcdef', false],
    ['**/foo/bar', 'foo/bar', true],
    ['**/foo/bar', 'dir/foo/bar', true],
    ['**/foo/bar', 'dir/dir2/foo/bar', true],
    ['abc/**', 'abc', false],
    ['abc/**', 'abc/def', true],
    ['abc/**', 'abc/def/ghi', true],
    ['**/.foo', '.foo', true],
    ['**/.foo', 'bar.foo', false],
    ['a(b)c/def', 'a(b)c/def', true],
    ['a(b)c/def', 'a(b)c/xyz', false],
    ['a.|)$(}+{bc', 'a.|)$(}+{bc', true],
    [
      'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
      'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
      true
    ],
    ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
    ['a\\\\', 'a\\', true],
    ['a\\*b', 'a*b', true]
  ])('%j vs %j → %j', (pattern, path, want) => {
    expect(excluded([pattern], path)).toBe(want)
  })

  it.each<[string[], string, boolean]>([
    [['**', '!util/docker/web'], 'util/docker/web/foo', false],
    [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
    [
      ['**', '!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl'],
      'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
      false
    ],
    [['**', '!dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false]
  ])('%j vs %j → %j', (patterns, path, want) => {
    expect(excluded(patterns, path)).toBe(want)
  })
})

describe("moby TestMatch (Go's filepath.Match table)", () => {
  it.each<[string, string, boolean]>([
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', true], // the parent `ab` matches
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['a[^a][^a][^a]b', 'a☺b', false],
    ['[a-ζ]*', 'α', true],
    ['*[a-ζ]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'x', true],
    ['[x\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[\\-x]', 'x', true],
    ['[\\-x]', '-', true],
    ['[\\-x]', 'a', false],
    ['*x', 'xxx', true]
  ])('%j vs %j → %j', (pattern, path, want) => {
    expect(excluded([pattern], path)).toBe(want)
  })

  it.each(['[]a]', '[-]', '[x-]', '[-x]', '\\', '[a-b-c]', '[', '[^', '[^bc', 'a['])(
    'refuses %j',
    (pattern) => {
      expect(parseError(pattern).message).toMatch(/bad \.dockerignore pattern/)
    }
  )
})

describe('reading the file (moby ignorefile.ReadAll)', () => {
  it('drops comments and blank lines, strips a leading / and cleans each pattern', () => {
    const ignore = parseDockerignore(
      'test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n',
      '.dockerignore'
    )
    expect(ignore.patterns.map((p) => [p.exception ? '!' + p.pattern : p.pattern, p.line])).toEqual([
      ['test1', 1],
      ['test2', 2],
      ['a/file/here', 3],
      ['lastfile', 5],
      ['!inverted/abs/path', 7]
    ])
    expect(ignore.hasExceptions).toBe(true)
  })

  it.each<[string, string]>([
    ['./x', 'x'],
    ['x/', 'x'],
    ['x//y/./z/', 'x/y/z'],
    ['a/../b', 'b'],
    ['/', '/'], // a lone `/` stays and matches nothing
    ['  spaced  ', 'spaced'],
    ['\t tabbed', 'tabbed'],
    ['x\r', 'x'],
    ['\uFEFFbom', 'bom'],
    ['  # not a comment', '# not a comment'],
    ['!./x/', 'x']
  ])('%j is the pattern %j', (line, pattern) => {
    const [p] = parseDockerignore(line).patterns
    expect(p?.pattern).toBe(pattern)
  })

  it('a BOM is only dropped at the start of the file', () => {
    expect(parseDockerignore('a\n\uFEFFb').patterns.map((p) => p.pattern)).toEqual(['a', '\uFEFFb'])
  })

  it('Go trims U+0085 but not U+FEFF (JavaScript trim() does the opposite)', () => {
    expect(parseDockerignore('x\u0085').patterns[0]?.pattern).toBe('x')
    expect(parseDockerignore('a\nx\uFEFF').patterns[1]?.pattern).toBe('x\uFEFF')
  })

  it.each(['!', '! ', '!/', ' ! '])('%j is an error naming the file and line', (line) => {
    const e = parseError(`ok\n${line}`)
    expect(e.location).toEqual({ file: 'svc/.dockerignore', line: 2 })
    expect(e.describe()).toMatch(/^svc\/\.dockerignore:2: bad \.dockerignore pattern .*\n {2}fix: /)
  })
})

describe('matching rules', () => {
  it.each<[string[], string, boolean]>([
    // `*` and `?` stop at `/`; a pattern matches the whole path.
    [['*.py'], 'a.py', true],
    [['*.py'], 'pkg/a.py', false],
    [['?.py'], 'ab.py', false],
    [['a'], 'ab', false],
    [['a'], 'ba', false],
    // `**` crosses directories; `**/x` matches x at the top too.
    [['**/*.py'], 'a.py', true],
    [['**/*.py'], 'pkg/sub/a.py', true],
    [['**/__pycache__'], 'pkg/__pycache__/m.pyc', true],
    [['pkg/**/test_*.py'], 'pkg/test_a.py', true],
    [['pkg/**/test_*.py'], 'pkg/x/y/test_a.py', true],
    [['pkg/**/test_*.py'], 'other/test_a.py', false],
    // A pattern starting with `**` and otherwise plain is a suffix test on the whole path.
    [['**.pyc'], 'deep/dir/m.pyc', true],
    [['**foo'], 'dir/barfoo', true],
    [['**/foo'], 'dir/barfoo', false],
    // A matching directory excludes everything below it; trailing `/` and leading `/`, `./` are the same.
    [['build'], 'build/lib/x.so', true],
    [['build/'], 'build/lib/x.so', true],
    [['/build'], 'build/lib/x.so', true],
    [['./build'], 'build/lib/x.so', true],
    [['build'], 'src/build/x', false], // anchored at the root
    [['*/build'], 'src/build/x', true],
    // Parent matching checks every ancestor (moby's MatchesOrParentMatches), not only the one
    // as deep as the pattern (the deprecated Matches).
    [['*/x'], 'a/x/b/c', true],
    [['**/node_modules', '!keep'], 'a/b/node_modules/x/y', true],
    // Exceptions: the last matching pattern wins, and a `!` matches through parents too.
    [['docs', '!docs/README.md'], 'docs/README.md', false],
    [['docs', '!docs/README.md'], 'docs/other.md', true],
    [['docs/', '!docs/README.md'], 'docs/README.md', false],
    [['docs/*', '!docs/README.md'], 'docs/README.md', false],
    [['*', '!src'], 'src/app/main.py', false],
    [['*', '!src'], 'tests/t.py', true],
    [['*', '!src', 'src/secret'], 'src/secret/key', true],
    [['*.md', '!README*.md', 'README-secret.md'], 'README-secret.md', true],
    [['*.md', '!README*.md', 'README-secret.md'], 'README.md', false],
    [['!keep.txt', '*.txt'], 'keep.txt', true], // an exception before the pattern does not help
    [['data', '!data/keep', 'data/keep/tmp'], 'data/keep/tmp/x', true],
    [['data', '!data/keep', 'data/keep/tmp'], 'data/keep/y', false],
    // An exception that matches only a parent, after a pattern that matches the path itself:
    // included again (MatchesOrParentMatches, buildah; BuildKit's cached walk keeps it out).
    [['**/z.py', '!pkg'], 'pkg/a/z.py', false],
    // Classes and escapes.
    [['[abc].txt'], 'b.txt', true],
    [['[^abc].txt'], 'b.txt', false],
    [['[a-c]x'], 'dx', false],
    [['\\[x\\]'], '[x]', true],
    [['\\*'], '*', true],
    [['\\*'], 'a', false],
    [['file\\?.txt'], 'file?.txt', true],
    [['file\\?.txt'], 'fileX.txt', false],
    [['a\\ b'], 'a b', true],
    // Regular-expression characters are plain in patterns.
    [['a+b'], 'a+b', true],
    [['a+b'], 'aab', false],
    [['v1.2'], 'v1x2', false],
    [['$x'], '$x', true],
    // The root itself is never excluded.
    [['**'], '.', false],
    [['*'], '', false]
  ])('%j vs %j → %j', (patterns, path, want) => {
    expect(excluded(patterns, path)).toBe(want)
  })

  it('paths are cleaned before matching', () => {
    expect(excluded(['a/b'], './a//b/')).toBe(true)
    expect(excluded(['b'], 'a/../b')).toBe(true)
  })
})

describe("Go regexp details that patternmatcher lets through (Docker's quirks, reproduced)", () => {
  it.each<[string, string, boolean]>([
    // `*`/`?` inside a class become `[^/]*`/`[^/]`, which Go parses as a class of `[`, `^`, `/`.
    ['x[*]', 'x[]', true],
    ['x[*]', 'x*', false],
    ['x[?]', 'x^]', true],
    ['x[?]', 'x?', false],
    // `^` is passed through as an anchor when the pattern becomes a regexp (it can only match at
    // the start); a pattern without wildcards is compared as text.
    ['a^b', 'a^b', true],
    ['a^*', 'a^b', false],
    ['*^x', 'x', true],
    ['*^x', '^x', false],
    // POSIX classes are Go regexp syntax.
    ['[[:digit:]]x', '7x', true],
    ['[[:digit:]]x', 'dx', false],
    ['[[:^alpha:]]', '1', true],
    // Perl classes after a backslash.
    ['\\d.txt', '5.txt', true],
    ['\\d.txt', 'd.txt', false],
    ['\\w', '_', true],
    ['\\S', ' ', false]
  ])('%j vs %j → %j', (pattern, path, want) => {
    expect(excluded([pattern], path)).toBe(want)
  })

  it('a backwards range fails up front (Docker fails at match time; moby issue 52203)', () => {
    const e = parseError('[Local-Only]/')
    expect(e.message).toMatch(/range `l-O` runs backwards/)
    expect(e.location.line).toBe(1)
  })

  it.each<[string, RegExp]>([
    ['\\y', /invalid escape/],
    ['\\é', /invalid escape/],
    ['[\\y]', /invalid escape/],
    ['\\x41', /regular-expression escape .* does not reproduce/],
    ['\\p{L}', /regular-expression escape/],
    ['[[:nope:]]', /not a character class name/]
  ])('%j is refused (%s)', (pattern, message) => {
    expect(parseError(pattern).message).toMatch(message)
  })
})

describe('cleanPath (Go filepath.Clean)', () => {
  it.each<[string, string]>([
    ['', '.'],
    ['.', '.'],
    ['a/b/', 'a/b'],
    ['a//b', 'a/b'],
    ['./a', 'a'],
    ['a/./b', 'a/b'],
    ['a/b/..', 'a'],
    ['a/../..', '..'],
    ['../a/..', '..'],
    ['/..', '/'],
    ['/a/../b', '/b'],
    ['//a', '/a']
  ])('%j → %j', (path, want) => {
    expect(cleanPath(path)).toBe(want)
  })
})

describe('matching cost', () => {
  // A JavaScript RegExp backtracks: `*a*a*a*a*a*a*b` against 200 `a`s took minutes, once per path
  // of the tree. The matcher steps through a path once per character, as Go's regexp does.
  it('star-heavy patterns answer on long names at once (no backtracking)', () => {
    const ignore = parseDockerignore('*a*a*a*a*a*a*b\n**/*a*a*a*a*a*a*b/**\n?a*[ab]*a*a*a*a*b')
    expect(isExcluded(ignore, 'a'.repeat(200))).toBe(false)
    expect(isExcluded(ignore, `x/${'a'.repeat(200)}/y`)).toBe(false)
    expect(isExcluded(ignore, `${'a'.repeat(200)}b`)).toBe(true)
  })

  it('the anchors and boundaries a pattern can spell behave as in Go', () => {
    // `^` is not escaped by patternmatcher: in a regular expression, mid-pattern, it is an anchor
    // that cannot hold (a pattern without wildcards is compared as a string).
    expect(excluded(['a^b*'], 'a^bc')).toBe(false)
    expect(excluded(['a^b'], 'a^b')).toBe(true)
    expect(excluded(['^ab*'], 'abc')).toBe(true)
    expect(excluded(['a\\zb'], 'ab')).toBe(false)
    expect(excluded(['\\Aab*'], 'abc')).toBe(true)
    expect(excluded(['foo\\b*'], 'foo.py')).toBe(true)
    expect(excluded(['foo\\b*'], 'foobar')).toBe(false)
    expect(excluded(['foo\\B*'], 'foobar')).toBe(true)
  })
})
