import { describe, expect, it } from '@jest/globals'
import {
  basicAuthorization,
  credentialFromEnv,
  describeIndexCredential,
  envSourceName,
  indexConfigFor,
  netrcCredential,
  netrcPath,
  parseNetrc,
  redactUrl,
  resolveIndexCredential,
  splitUserinfo
} from '../../src/packaging/index-credentials.js'

describe('redactUrl', () => {
  it('removes userinfo, query and fragment', () => {
    expect(redactUrl('https://user:pass@host.example:8443/simple/')).toBe('https://host.example:8443/simple/')
    expect(redactUrl('https://cdn.example/a.whl?X-Amz-Signature=abc&t=1#sha256=00')).toBe(
      'https://cdn.example/a.whl?…'
    )
    expect(redactUrl('https://token@host/simple')).toBe('https://host/simple')
    expect(redactUrl('file:///opt/pypi/simple')).toBe('file:///opt/pypi/simple')
  })

  it('still strips what it can from text that is not a URL', () => {
    expect(redactUrl('http://us er:pa ss@[bad/x?y')).toBe('http://[bad/x?…')
  })
})

describe('splitUserinfo', () => {
  it('splits user and password, percent-decoded, and returns the URL without them', () => {
    expect(splitUserinfo('https://alice:p%40ss%3Aword@pypi.corp.example/simple')).toEqual({
      url: 'https://pypi.corp.example/simple',
      username: 'alice',
      password: 'p@ss:word'
    })
  })

  it('a user without a password, an empty password, no userinfo', () => {
    expect(splitUserinfo('https://__token__@h/simple')).toEqual({
      url: 'https://h/simple',
      username: '__token__',
      password: null
    })
    expect(splitUserinfo('https://u:@h/simple')).toEqual({
      url: 'https://h/simple',
      username: 'u',
      password: ''
    })
    expect(splitUserinfo('https://h/simple')).toEqual({
      url: 'https://h/simple',
      username: null,
      password: null
    })
  })
})

describe('environment conventions', () => {
  it('spells source names as the tools do', () => {
    expect(envSourceName('pytorch-cu126')).toBe('PYTORCH_CU126')
    expect(envSourceName('My.Private Index')).toBe('MY_PRIVATE_INDEX')
  })

  it('reads FAST_BUILD_INDEX_, POETRY_HTTP_BASIC_ and UV_INDEX_, in that order', () => {
    const all = {
      UV_INDEX_CORP_USERNAME: 'uv-user',
      UV_INDEX_CORP_PASSWORD: 'uv-pass',
      POETRY_HTTP_BASIC_CORP_USERNAME: 'poetry-user',
      POETRY_HTTP_BASIC_CORP_PASSWORD: 'poetry-pass',
      FAST_BUILD_INDEX_CORP_USERNAME: 'fb-user',
      FAST_BUILD_INDEX_CORP_PASSWORD: 'fb-pass'
    }
    expect(credentialFromEnv('corp', all)).toEqual({
      username: 'fb-user',
      password: 'fb-pass',
      source: 'FAST_BUILD_INDEX_CORP_USERNAME/_PASSWORD'
    })
    const { FAST_BUILD_INDEX_CORP_USERNAME: _a, FAST_BUILD_INDEX_CORP_PASSWORD: _b, ...noOurs } = all
    expect(credentialFromEnv('corp', noOurs)?.source).toBe('POETRY_HTTP_BASIC_CORP_USERNAME/_PASSWORD')
    expect(credentialFromEnv('corp', { UV_INDEX_CORP_USERNAME: 'u', UV_INDEX_CORP_PASSWORD: 'p' })).toEqual({
      username: 'u',
      password: 'p',
      source: 'UV_INDEX_CORP_USERNAME/_PASSWORD'
    })
  })

  it('a token given as a password alone has an empty user; nothing set gives null', () => {
    expect(credentialFromEnv('corp', { UV_INDEX_CORP_PASSWORD: 'tok' })).toMatchObject({
      username: '',
      password: 'tok'
    })
    expect(credentialFromEnv('corp', { UV_INDEX_OTHER_PASSWORD: 'tok' })).toBeNull()
    expect(credentialFromEnv('corp', { UV_INDEX_CORP_PASSWORD: '' })).toBeNull()
  })
})

describe('netrc', () => {
  const text = `# credentials
machine pypi.corp.example
  login alice
  password "with space"
machine Other.Example login bob password b0b account ignored
macdef init
  echo this is a macro, password nothing
  login nobody

machine pypi.corp.example login carol password c4r0l
default login anon password anonpw
`

  it('parses machines, default, quoted values, comments and skips macros', () => {
    expect(parseNetrc(text)).toEqual([
      { machine: 'pypi.corp.example', login: 'alice', password: 'with space' },
      { machine: 'other.example', login: 'bob', password: 'b0b' },
      { machine: 'pypi.corp.example', login: 'carol', password: 'c4r0l' },
      { machine: null, login: 'anon', password: 'anonpw' }
    ])
  })

  it('looks a host up (case-insensitively), by login when asked, falling back to default', () => {
    const entries = parseNetrc(text)
    expect(netrcCredential(entries, 'PYPI.corp.example')).toEqual({
      username: 'alice',
      password: 'with space'
    })
    expect(netrcCredential(entries, 'pypi.corp.example', 'carol')).toEqual({
      username: 'carol',
      password: 'c4r0l'
    })
    expect(netrcCredential(entries, 'unknown.example')).toEqual({ username: 'anon', password: 'anonpw' })
    expect(netrcCredential(parseNetrc('machine a login x password y'), 'b')).toBeNull()
  })

  it('NETRC overrides ~/.netrc', () => {
    expect(netrcPath({ NETRC: '/etc/ci-netrc' }, '/home/u')).toBe('/etc/ci-netrc')
    expect(netrcPath({}, '/home/u')).toBe('/home/u/.netrc')
  })
})

describe('resolveIndexCredential: the order', () => {
  const url = 'https://pypi.corp.example/simple'
  const netrc = 'machine pypi.corp.example login net-user password net-pass\n'
  const env = { FAST_BUILD_INDEX_CORP_USERNAME: 'env-user', FAST_BUILD_INDEX_CORP_PASSWORD: 'env-pass' }
  const lookup = { env, home: '/home/u', readNetrc: (p: string) => (p === '/home/u/.netrc' ? netrc : null) }

  it('1. an explicit credential', () => {
    const r = resolveIndexCredential(
      {
        url: 'https://x:y@pypi.corp.example/simple',
        name: 'corp',
        credential: { username: 'c', password: 'p' }
      },
      lookup
    )
    expect(r).toEqual({
      url,
      credential: { username: 'c', password: 'p', source: 'the index configuration' }
    })
  })

  it('2. userinfo in the URL', () => {
    const r = resolveIndexCredential({ url: 'https://x:y@pypi.corp.example/simple', name: 'corp' }, lookup)
    expect(r).toEqual({ url, credential: { username: 'x', password: 'y', source: 'the index URL' } })
  })

  it('3. environment variables for the source name', () => {
    expect(resolveIndexCredential({ url, name: 'corp' }, lookup).credential).toEqual({
      username: 'env-user',
      password: 'env-pass',
      source: 'FAST_BUILD_INDEX_CORP_USERNAME/_PASSWORD'
    })
  })

  it('4. netrc (shown as ~/.netrc), for unnamed sources too', () => {
    expect(resolveIndexCredential({ url, name: null }, lookup).credential).toEqual({
      username: 'net-user',
      password: 'net-pass',
      source: '~/.netrc'
    })
    expect(resolveIndexCredential({ url, name: 'other' }, lookup).credential?.source).toBe('~/.netrc')
  })

  it('a user without a password in the URL takes the password of that user from netrc', () => {
    const r = resolveIndexCredential({ url: 'https://net-user@pypi.corp.example/simple' }, lookup)
    expect(r).toEqual({ url, credential: { username: 'net-user', password: 'net-pass', source: '~/.netrc' } })
    const other = resolveIndexCredential({ url: 'https://someone@pypi.corp.example/simple' }, lookup)
    expect(other.credential).toEqual({ username: 'someone', password: '', source: 'the index URL' })
  })

  it('nothing anywhere: anonymous; file:// indexes never read netrc', () => {
    expect(resolveIndexCredential({ url }, { env: {}, readNetrc: () => null })).toEqual({
      url,
      credential: null
    })
    let read = false
    resolveIndexCredential(
      { url: 'file:///opt/pypi/simple' },
      {
        env: {},
        readNetrc: () => {
          read = true
          return 'default login a password b'
        }
      }
    )
    expect(read).toBe(false)
  })

  it('credential: null means already looked up (none): no env, no netrc', () => {
    expect(resolveIndexCredential({ url, name: 'corp', credential: null }, lookup)).toEqual({
      url,
      credential: null
    })
  })

  it('indexConfigFor looks up once and returns a config PackageIndex will not look up again', () => {
    expect(
      indexConfigFor('https://pypi.corp.example/simple', 'corp', env, { readNetrc: () => null })
    ).toEqual({
      url,
      name: 'corp',
      credential: {
        username: 'env-user',
        password: 'env-pass',
        source: 'FAST_BUILD_INDEX_CORP_USERNAME/_PASSWORD'
      }
    })
    expect(indexConfigFor(url, 'none', {}, { readNetrc: () => null })).toEqual({
      url,
      name: 'none',
      credential: null
    })
  })

  it('descriptions carry the user and the source, never the password', () => {
    const c = resolveIndexCredential({ url, name: 'corp' }, lookup).credential!
    expect(describeIndexCredential(c)).toBe('user "env-user" from FAST_BUILD_INDEX_CORP_USERNAME/_PASSWORD')
    expect(JSON.stringify(describeIndexCredential(c))).not.toContain('env-pass')
    expect(basicAuthorization(c)).toBe(`Basic ${Buffer.from('env-user:env-pass').toString('base64')}`)
  })
})
