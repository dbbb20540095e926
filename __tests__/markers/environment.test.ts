import { describe, expect, it } from '@jest/globals'
import { nameSet, targetEnvironment, withExtras, withGroups } from '../../src/markers/index.js'
import { DEFAULT_LIBC, parsePlatform, parsePythonVersion } from '../../src/target.js'

describe('targetEnvironment', () => {
  it('describes a Linux CPython container target', () => {
    const env = targetEnvironment({
      python: parsePythonVersion('3.12.3'),
      platform: parsePlatform('linux/arm64'),
      libc: DEFAULT_LIBC
    })
    expect({ ...env, extras: [...env.extras], dependency_groups: [...env.dependency_groups] }).toEqual({
      implementation_name: 'cpython',
      implementation_version: '3.12.3',
      os_name: 'posix',
      platform_machine: 'aarch64',
      platform_release: '',
      platform_system: 'Linux',
      platform_version: '',
      python_full_version: '3.12.3',
      platform_python_implementation: 'CPython',
      python_version: '3.12',
      sys_platform: 'linux',
      extras: [],
      dependency_groups: []
    })
    expect(Object.isFrozen(env)).toBe(true)
  })

  it('takes "3.11" as 3.11.0 and amd64 as x86_64', () => {
    const env = targetEnvironment({
      python: parsePythonVersion('3.11'),
      platform: parsePlatform('linux/amd64'),
      libc: DEFAULT_LIBC
    })
    expect([env.python_version, env.python_full_version, env.platform_machine]).toEqual([
      '3.11',
      '3.11.0',
      'x86_64'
    ])
  })

  it('normalizes extras and groups', () => {
    const target = {
      python: parsePythonVersion('3.11'),
      platform: parsePlatform('linux/amd64'),
      libc: DEFAULT_LIBC
    }
    const env = targetEnvironment(target, { extras: ['ML', 'Dev_Tools'], groups: ['Lint.All'] })
    expect([...env.extras]).toEqual(['ml', 'dev-tools'])
    expect([...env.dependency_groups]).toEqual(['lint-all'])
    const other = withExtras(env, ['CUDA'])
    expect([...other.extras]).toEqual(['cuda'])
    expect([...env.extras]).toEqual(['ml', 'dev-tools'])
    expect(other.python_version).toBe('3.11')
    expect([...withGroups(env, []).dependency_groups]).toEqual([])
    expect([...nameSet(['a_b', 'A-B'])]).toEqual(['a-b'])
  })
})
