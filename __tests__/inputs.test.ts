import { describe, expect, it } from '@jest/globals'
import { ConfigError } from '../src/errors.js'
import { parseInputs } from '../src/inputs.js'

const get = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? ''

describe('parseInputs', () => {
  it('defaults', () => {
    expect(parseInputs(get({}))).toEqual({
      project: '.',
      image: null,
      variants: [],
      platforms: [],
      push: true,
      tags: [],
      builder: null,
      compression: null,
      maxLayers: null,
      registryUsername: null,
      registryPassword: null,
      githubToken: null,
      invalidate: [],
      cacheEpoch: null,
      cache: true,
      mode: 'build',
      annotate: ['checks'],
      allowRuntimeGroupsOnDefaultBranch: false,
      dockerfile: null,
      target: null,
      dockerfileCommand: null
    })
  })

  it.each([
    [{ variants: 'base, ml\ndev' }, { variants: ['base', 'ml', 'dev'] }],
    [{ invalidate: 'ml,all' }, { invalidate: 'all' }],
    [{ invalidate: 'ml, dev' }, { invalidate: ['ml', 'dev'] }],
    [{ compression: 'zstd' }, { compression: 'zstd' }],
    [
      { push: 'False', cache: 'TRUE' },
      { push: false, cache: true }
    ],
    [{ tags: '{variant}-{sha}, {variant}-{ref}' }, { tags: ['{variant}-{sha}', '{variant}-{ref}'] }],
    [{ 'max-layers': '120' }, { maxLayers: 120 }],
    [{ 'cache-epoch': ' 2026-11 ' }, { cacheEpoch: '2026-11' }],
    [{ platforms: 'linux/arm64' }, { platforms: [{ os: 'linux', architecture: 'arm64' }] }],
    [{ annotate: 'none' }, { annotate: [] }],
    [
      {
        builder: 'dockerfile',
        dockerfile: 'docker/deps.Dockerfile',
        'dockerfile-command': 'buildah  bud --network host'
      },
      {
        builder: 'dockerfile',
        dockerfile: 'docker/deps.Dockerfile',
        dockerfileCommand: ['buildah', 'bud', '--network', 'host']
      }
    ],
    [{ annotate: 'status, comment,status' }, { annotate: ['status', 'comment'] }],
    [{ 'allow-runtime-groups-on-default-branch': 'true' }, { allowRuntimeGroupsOnDefaultBranch: true }]
  ])('%j', (inputs, expected) => {
    expect(parseInputs(get(inputs))).toMatchObject(expected)
  })

  it('a bad annotate names itself and what it takes', () => {
    expect(() => parseInputs(get({ annotate: 'checks,slack' }))).toThrow(
      /input annotate: "slack" is not one of checks, status, comment, none/
    )
  })

  it('an image with capitals (ghcr.io/${{ github.repository }}) is lowercased, with a notice', () => {
    const notices: string[] = []
    const inputs = parseInputs(get({ image: 'ghcr.io/Acme-Corp/My_App' }), (m) => notices.push(m))
    expect(inputs.image).toBe('ghcr.io/acme-corp/my_app')
    expect(notices).toEqual([
      'input image: ghcr.io/Acme-Corp/My_App has capitals in its repository name, which registries refuse: using ghcr.io/acme-corp/my_app'
    ])
  })

  it('a lowercase image is kept as written, without a notice', () => {
    const notices: string[] = []
    expect(parseInputs(get({ image: ' 127.0.0.1:5000/demo ' }), (m) => notices.push(m)).image).toBe(
      '127.0.0.1:5000/demo'
    )
    expect(notices).toEqual([])
  })

  it('an image that is no reference names the input and the form it takes', () => {
    let e: unknown
    try {
      parseInputs(get({ image: 'ghcr.io/acme/my app' }))
    } catch (x) {
      e = x
    }
    expect(e).toBeInstanceOf(ConfigError)
    expect((e as ConfigError).describe()).toMatch(
      /^with\.image: input image: "ghcr\.io\/acme\/my app" is not an image repository\n {2}fix: write it as host\/repository/
    )
  })
})
