// Every marker error a lock can cause names the lock file and where in it: syntax errors (found
// when the marker is first read) and evaluation errors (`python_version ~= "3"` parses; packaging
// refuses to evaluate it), for uv.lock, poetry.lock, pylock.toml and pyproject.toml alike.
import { describe, expect, it } from '@jest/globals'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeError, FastBuildError, MarkerSyntaxError } from '../../src/errors.js'
import { readLock } from '../../src/lock/index.js'
import {
  evaluateMarker,
  markerLocation,
  MarkerEvaluationError,
  parseMarker,
  targetEnvironment
} from '../../src/markers/index.js'
import { planProject } from '../../src/plan/plan.js'
import { readProject } from '../../src/project/pyproject.js'
import { DEFAULT_LIBC, parsePlatform } from '../../src/target.js'
import { cli } from '../support/cli.js'

const SHA = 'ab'.repeat(32)

function project(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'fast-build-markers-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text)
  return d
}

function planError(dir: string): FastBuildError {
  try {
    const p = readProject(dir)
    const { lock } = readLock(p)
    const plan = planProject(p, lock, { platforms: [parsePlatform('linux/amd64')] })
    if (plan.failed[0]) return plan.failed[0].error
  } catch (e) {
    if (e instanceof FastBuildError) return e
    throw e
  }
  throw new Error('expected the plan to fail')
}

const UV_PYPROJECT = `[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.11"\ndependencies = ["six", "idna"]\n`

function uvLock(sixMarker: string, idnaMarker = 'sys_platform == "linux"'): string {
  return `version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "app"
version = "0.1"
source = { editable = "." }
dependencies = [
    { name = "idna", marker = ${JSON.stringify(idnaMarker)} },
    { name = "six", marker = ${JSON.stringify(sixMarker)} },
]

[package.metadata]
requires-dist = [{ name = "idna" }, { name = "six" }]

[[package]]
name = "idna"
version = "3.7"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.example/idna-3.7-py3-none-any.whl", hash = "sha256:${SHA}" }]

[[package]]
name = "six"
version = "1.16.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.example/six-1.16.0-py2.py3-none-any.whl", hash = "sha256:${SHA}" }]
`
}

describe('uv.lock', () => {
  it('a marker that cannot be evaluated (`~=` with one segment) names the lock and the key path', () => {
    const dir = project({ 'pyproject.toml': UV_PYPROJECT, 'uv.lock': uvLock('python_version ~= "3"') })
    const e = planError(dir)
    expect(e).toBeInstanceOf(MarkerEvaluationError)
    expect(e.location).toMatchObject({ keyPath: 'package[0].dependencies[1].marker' })
    expect(e.location.file).toMatch(/uv\.lock$/)
    expect(describeError(e)).toMatch(
      /uv\.lock: package\[0\]\.dependencies\[1\]\.marker: cannot evaluate 'python_version ~= "3"'/
    )
  })

  it('the same marker text in two places: each error names its own place', () => {
    const bad = 'os_name ~= "posix"'
    const first = planError(
      project({ 'pyproject.toml': UV_PYPROJECT, 'uv.lock': uvLock('sys_platform == "linux"', bad) })
    )
    const second = planError(project({ 'pyproject.toml': UV_PYPROJECT, 'uv.lock': uvLock(bad) }))
    expect(first.location.keyPath).toBe('package[0].dependencies[0].marker')
    expect(second.location.keyPath).toBe('package[0].dependencies[1].marker')
  })

  it('a marker that does not parse names the lock, the key path and the column', () => {
    const e = planError(
      project({ 'pyproject.toml': UV_PYPROJECT, 'uv.lock': uvLock('python_version >= "3" and') })
    )
    expect(e).toBeInstanceOf(MarkerSyntaxError)
    expect(e.location).toMatchObject({ keyPath: 'package[0].dependencies[1].marker', column: 26 })
    expect(e.location.file).toMatch(/uv\.lock$/)
  })

  it('the CLI prints where', async () => {
    const dir = project({ 'pyproject.toml': UV_PYPROJECT, 'uv.lock': uvLock('python_version ~= "3"') })
    const run = await cli('plan', '--project', dir)
    expect(run.code).toBe(1)
    expect(run.err).toMatch(/uv\.lock: package\[0\]\.dependencies\[1\]\.marker: cannot evaluate/)
    expect(run.err).not.toMatch(/internal error/)
  })
})

describe('poetry.lock, pylock.toml and pyproject.toml', () => {
  it('poetry.lock: a dependency marker of a package', () => {
    const pyproject = `[tool.poetry]\nname = "app"\nversion = "0.1"\n\n[tool.poetry.dependencies]\npython = ">=3.11"\nfoo = "1.0"\n`
    const lock = `[[package]]
name = "foo"
version = "1.0"
description = ""
optional = false
python-versions = "*"
files = [{file = "foo-1.0-py3-none-any.whl", hash = "sha256:${SHA}"}]

[package.dependencies]
six = { version = "*", markers = "python_full_version ~= \\"3\\"" }

[[package]]
name = "six"
version = "1.16.0"
description = ""
optional = false
python-versions = "*"
files = [{file = "six-1.16.0-py2.py3-none-any.whl", hash = "sha256:${SHA}"}]

[metadata]
lock-version = "2.0"
python-versions = ">=3.11"
`
    const e = planError(project({ 'pyproject.toml': pyproject, 'poetry.lock': lock }))
    expect(e).toBeInstanceOf(MarkerEvaluationError)
    expect(e.location).toMatchObject({ keyPath: 'package[0].dependencies.six.markers' })
    expect(e.location.file).toMatch(/poetry\.lock$/)
  })

  it('pylock.toml: a package marker', () => {
    const lock = `lock-version = "1.0"
created-by = "test"

[[packages]]
name = "six"
version = "1.16.0"
marker = "implementation_version ~= \\"3\\""
wheels = [{ name = "six-1.16.0-py2.py3-none-any.whl", url = "https://files.example/six-1.16.0-py2.py3-none-any.whl", hashes = { sha256 = "${SHA}" } }]
`
    const pyproject = `[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.11"\n`
    const e = planError(project({ 'pyproject.toml': pyproject, 'pylock.toml': lock }))
    expect(e).toBeInstanceOf(MarkerEvaluationError)
    expect(e.location).toMatchObject({ keyPath: 'packages[0].marker' })
    expect(e.location.file).toMatch(/pylock\.toml$/)
  })

  it('pyproject.toml: a requirement marker', () => {
    const pyproject = `[tool.poetry]\nname = "app"\nversion = "0.1"\n\n[tool.poetry.dependencies]\npython = ">=3.11"\nsix = { version = "*", markers = "python_version ~= \\"3\\"" }\n`
    const lock = `[[package]]
name = "six"
version = "1.16.0"
description = ""
optional = false
python-versions = "*"
files = [{file = "six-1.16.0-py2.py3-none-any.whl", hash = "sha256:${SHA}"}]

[metadata]
lock-version = "2.0"
python-versions = ">=3.11"
`
    const e = planError(project({ 'pyproject.toml': pyproject, 'poetry.lock': lock }))
    expect(e).toBeInstanceOf(MarkerEvaluationError)
    expect(e.location).toMatchObject({ keyPath: 'tool.poetry.dependencies.six' })
    expect(e.location.file).toMatch(/pyproject\.toml$/)
  })
})

describe('located markers', () => {
  const env = targetEnvironment({
    platform: parsePlatform('linux/amd64'),
    python: { major: 3, minor: 11, patch: 9 },
    libc: DEFAULT_LIBC
  } as Parameters<typeof targetEnvironment>[0])

  it('equal the shared marker, keep their place, and evaluate as it does', () => {
    const at = { file: 'uv.lock', keyPath: 'package[3].dependencies[0].marker' }
    const plain = parseMarker('python_version >= "3.8" and sys_platform == "linux"')
    const located = parseMarker('python_version >= "3.8" and sys_platform == "linux"', at)
    expect(located).toEqual(plain)
    expect(markerLocation(located)).toEqual(at)
    expect(markerLocation(plain)).toBeNull()
    expect(evaluateMarker(located, env)).toBe(true)
  })

  it('an error without a place stays without one', () => {
    expect(() => evaluateMarker(parseMarker('python_version ~= "3"'), env)).toThrow(MarkerEvaluationError)
    try {
      evaluateMarker(parseMarker('python_version ~= "3"'), env)
    } catch (e) {
      expect((e as FastBuildError).location).toEqual({})
    }
  })
})
