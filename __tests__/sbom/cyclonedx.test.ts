// The SBOM document: every package of the closure once, with the file the target installs, local
// packages marked, the base image, no credentials, the same bytes for the same inputs, and valid
// against the official CycloneDX 1.6 schema (checked by Python's jsonschema, not by us).
import { afterEach, describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { planToJson, type Plan, type PlatformPlan, type VariantPlan } from '../../src/plan/plan.js'
import {
  baseImageOf,
  cycloneDxSbom,
  ociPurl,
  PROP,
  pypiPurl,
  sbomBytes,
  splitImageReference,
  type CdxComponent,
  type CycloneDxBom
} from '../../src/sbom/cyclonedx.js'
import { parseDigest } from '../../src/oci/digest.js'
import { parsePlatform, formatPlatform } from '../../src/target.js'
import { cli } from '../support/cli.js'
import { materializeCorpusCase } from '../support/corpus.js'
import { DEFAULT_PACKAGES, uvProject, VARIANTS_CONFIG } from '../support/fixtures.js'
import { planDir } from '../support/project.js'
import { validateCycloneDx } from './schema.js'

const CREATED = '2024-05-01T12:00:00.000Z'
const platforms = [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')]
const prop = (c: { properties?: { name: string; value: string }[] }, name: string) =>
  c.properties?.find((p) => p.name === name)?.value
const isLocal = (c: CdxComponent) => prop(c, PROP.local) === 'true'
const libraries = (doc: CycloneDxBom) => doc.components.filter((c) => c.type === 'library' && !isLocal(c))

function docsOf(plan: Plan, created = CREATED): { v: VariantPlan; p: PlatformPlan; doc: CycloneDxBom }[] {
  return plan.variants.flatMap((v) =>
    v.platforms.map((p) => ({ v, p, doc: cycloneDxSbom({ variant: v, platform: p, created }) }))
  )
}

describe.each(['uv-flask', 'poetry-private-gpt'])('the SBOM of corpus %s', (name) => {
  const dir = materializeCorpusCase(name).projectDir
  const plan = planDir(dir, { platforms })
  const docs = docsOf(plan)
  const json = planToJson(plan)

  it('lists every package of the closure exactly once, with version, purl and the sha256 of the file the target installs', () => {
    expect(docs.length).toBe(plan.variants.length * 2)
    for (const { v, p, doc } of docs) {
      const expected = json.variants
        .find((x) => x.name === v.name)!
        .platforms.find((x) => x.platform === formatPlatform(p.platform))!.packages
      expect(expected.length).toBeGreaterThan(0)
      const libs = libraries(doc)
      expect(libs.map((c) => c.name)).toEqual(expected.map((e) => e.name))
      for (const e of expected) {
        const [c, ...more] = libs.filter((x) => x.name === e.name)
        expect(more).toEqual([])
        expect(c!.version).toBe(e.version)
        expect(c!.purl).toBe(`pkg:pypi/${e.name}@${e.version!.replace(/\+/g, '%2B')}`)
        expect(c!['bom-ref']).toBe(c!.purl)
        expect(c!.hashes).toEqual([{ alg: 'SHA-256', content: e.sha256 }])
        expect(prop(c!, PROP.file)).toBe(e.file)
        expect(c!.externalReferences?.[0]?.type).toBe('distribution')
      }
      // bom-refs are unique, as the schema cannot check.
      const refs = doc.components.map((c) => c['bom-ref'])
      expect(new Set(refs).size).toBe(refs.length)
      expect(doc.dependencies).toEqual([{ ref: 'image', dependsOn: refs }])
    }
  })

  it('marks the local packages, without hash or purl', () => {
    for (const { p, doc } of docs) {
      const local = doc.components.filter(isLocal)
      expect(local.map((c) => c.name)).toEqual(
        [...new Set(p.closure.local.map((e) => e.package.name))].sort()
      )
      expect(local.length).toBeGreaterThan(0)
      for (const c of local) {
        expect(c.hashes).toBeUndefined()
        expect(c.purl).toBeUndefined()
        expect(prop(c, PROP.source)).toMatch(/^path:/)
      }
    }
  })

  it('names the variant, its hash, the platform and the base image', () => {
    for (const { v, p, doc } of docs) {
      expect(prop(doc.metadata, PROP.variant)).toBe(v.name)
      expect(prop(doc.metadata, PROP.variantHash)).toBe(v.hash)
      expect(prop(doc.metadata, PROP.platform)).toBe(formatPlatform(p.platform))
      expect(prop(doc.metadata, PROP.baseImage)).toBe(v.baseImage)
      // The corpus does not pin its base image: named by reference, and said so.
      expect(prop(doc.metadata, PROP.baseImageDigest)).toMatch(/^unresolved: /)
      const [base] = doc.components
      expect(base).toMatchObject({
        type: 'container',
        'bom-ref': 'base-image',
        name: 'docker.io/library/python'
      })
      expect(base!.purl).toBe(
        `pkg:oci/python?arch=${p.platform.architecture}&repository_url=docker.io/library/python&tag=${v.baseImage.split(':')[1]}`
      )
      expect(doc.metadata.timestamp).toBe(CREATED)
    }
  })

  it('is valid CycloneDX 1.6 by the official schema', () => {
    expect(validateCycloneDx(docs.map((d) => d.doc))).toEqual({ documents: docs.length, errors: [] })
  })

  it('gives the same bytes for the same inputs, and another serial number for another platform or time', () => {
    const again = docsOf(planDir(dir, { platforms }))
    expect(again.map((d) => sbomBytes(d.doc).toString())).toEqual(
      docs.map((d) => sbomBytes(d.doc).toString())
    )
    const serials = docs.map((d) => d.doc.serialNumber)
    expect(new Set(serials).size).toBe(serials.length)
    const later = docsOf(plan, '2024-05-01T12:00:01.000Z')
    for (const [i, d] of later.entries()) expect(d.doc.serialNumber).not.toBe(serials[i])
    for (const s of serials)
      expect(s).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })
})

describe('credentials', () => {
  it('never appear, whether the lock has them (the reader strips them) or the model does', () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    const lockPath = join(dir, 'uv.lock')
    writeFileSync(
      lockPath,
      readFileSync(lockPath, 'utf8')
        .replaceAll('https://files.example/', 'https://deploy:s3cret-pass@files.example/')
        .replaceAll(
          'registry = "https://pypi.org/simple"',
          'registry = "https://tok:hunter2-pass@pypi.example/simple"'
        )
    )
    const plan = planDir(dir)
    const docs = docsOf(plan)
    // A model that still carries userinfo (built by something other than the lock readers).
    const { v, p } = docs[0]!
    const dirty: PlatformPlan = {
      ...p,
      closure: {
        ...p.closure,
        installed: p.closure.installed.map((e) => ({
          ...e,
          package: {
            ...e.package,
            source: { kind: 'registry', url: 'https://tok:hunter2-pass@pypi.example/simple', name: null },
            files: e.package.files.map((f) => ({
              ...f,
              url: f.url!.replace('https://files.example/', 'https://deploy:s3cret-pass@files.example/')
            }))
          }
        }))
      }
    }
    const all = [...docs.map((d) => d.doc), cycloneDxSbom({ variant: v, platform: dirty, created: CREATED })]
    const text = JSON.stringify(all)
    expect(text).not.toMatch(/s3cret|hunter2|deploy|tok:/)
    expect(text).toContain('"url":"https://files.example/requests-2.32.3-py3-none-any.whl"')
    expect(validateCycloneDx(all).errors).toEqual([])
  })
})

describe('package URLs', () => {
  it.each([
    ['requests', '2.32.3', 'pkg:pypi/requests@2.32.3'],
    ['Typing_Extensions', '4.12.2', 'pkg:pypi/typing-extensions@4.12.2'],
    ['zope.interface', '7.0', 'pkg:pypi/zope-interface@7.0'],
    ['torch', '2.5.1+cpu', 'pkg:pypi/torch@2.5.1%2Bcpu'],
    ['app', null, 'pkg:pypi/app']
  ])('pypi %s %s → %s', (name, version, purl) => {
    expect(pypiPurl(name, version)).toBe(purl)
  })

  const hex = 'a'.repeat(64)
  it.each([
    ['python:3.12-slim', { repository: 'docker.io/library/python', name: 'python', tag: '3.12-slim' }],
    ['acme/base', { repository: 'docker.io/acme/base', name: 'base', tag: null }],
    [`ghcr.io/acme/base:1.0@sha256:${hex}`, { repository: 'ghcr.io/acme/base', name: 'base', tag: '1.0' }],
    ['127.0.0.1:5000/py:3', { repository: '127.0.0.1:5000/py', name: 'py', tag: '3' }],
    ['oci:./images/base:v1', { repository: null, name: 'base', tag: 'v1' }]
  ])('image %s', (ref, split) => {
    expect(splitImageReference(ref)).toEqual(split)
  })

  it('oci: the digest as version, qualifiers sorted', () => {
    const d = parseDigest(`sha256:${hex}`)
    expect(ociPurl('Base', d, { tag: '1.0', repository_url: 'ghcr.io/acme/base', arch: 'arm64' })).toBe(
      `pkg:oci/base@sha256%3A${hex}?arch=arm64&repository_url=ghcr.io/acme/base&tag=1.0`
    )
    expect(ociPurl('x', null, { tag: null })).toBe('pkg:oci/x')
  })
})

describe('a pinned base image', () => {
  it('is named with its digest', () => {
    const hex = 'b'.repeat(64)
    const plan = planDir(uvProject({ config: VARIANTS_CONFIG }), {
      baseImage: `ghcr.io/acme/base:1.0@sha256:${hex}`
    })
    const v = plan.variants[0]!
    const doc = cycloneDxSbom({ variant: v, platform: v.platforms[0]!, created: CREATED })
    expect(baseImageOf(v.baseImage).digest).toBe(`sha256:${hex}`)
    expect(prop(doc.metadata, PROP.baseImageDigest)).toBe(`sha256:${hex}`)
    expect(doc.components[0]).toEqual({
      type: 'container',
      'bom-ref': 'base-image',
      name: 'ghcr.io/acme/base',
      version: '1.0',
      hashes: [{ alg: 'SHA-256', content: hex }],
      purl: `pkg:oci/base@sha256%3A${hex}?arch=amd64&repository_url=ghcr.io/acme/base&tag=1.0`,
      properties: [{ name: PROP.baseImage, value: `ghcr.io/acme/base:1.0@sha256:${hex}` }]
    })
    // The caller may say which digest the build resolved an unpinned reference to.
    const resolved = cycloneDxSbom({
      variant: v,
      platform: v.platforms[0]!,
      created: CREATED,
      base: { reference: 'python:3.12-slim', digest: parseDigest(`sha256:${hex}`) }
    })
    expect(resolved.components[0]!.purl).toBe(
      `pkg:oci/python@sha256%3A${hex}?arch=amd64&repository_url=docker.io/library/python&tag=3.12-slim`
    )
    expect(validateCycloneDx([doc, resolved]).errors).toEqual([])
  })
})

describe('fast-build sbom', () => {
  const saved = process.env['SOURCE_DATE_EPOCH']
  afterEach(() => {
    if (saved === undefined) delete process.env['SOURCE_DATE_EPOCH']
    else process.env['SOURCE_DATE_EPOCH'] = saved
  })

  it('prints one document for one variant on one platform: the bytes the build attaches', async () => {
    process.env['SOURCE_DATE_EPOCH'] = '1714564800'
    const dir = uvProject({ config: VARIANTS_CONFIG })
    const r = await cli('sbom', '--project', dir, '--variant', 'ml', '--platform', 'linux/amd64', '--json')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const v = planDir(dir).variants.find((x) => x.name === 'ml')!
    const expected = cycloneDxSbom({ variant: v, platform: v.platforms[0]!, created: CREATED, name: 'app' })
    expect(r.out).toBe(sbomBytes(expected).toString())
    expect(libraries(r.json()).map((c: CdxComponent) => c.name)).toEqual([
      'certifi',
      'idna',
      'numpy',
      'requests'
    ])
    expect(validateCycloneDx(r.out).errors).toEqual([])
  })

  it('prints a JSON array for several', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    const r = await cli('sbom', '--project', dir)
    expect(r.code).toBe(0)
    const docs = r.json() as CycloneDxBom[]
    expect(docs.map((d) => prop(d.metadata, PROP.variant))).toEqual(['base', 'ml', 'dev'])
    expect(validateCycloneDx(docs)).toEqual({ documents: 3, errors: [] })
  })

  it('refuses an unknown variant or platform, naming the choices', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    const v = await cli('sbom', '--project', dir, '--variant', 'gpu')
    expect(v.code).toBe(1)
    expect(v.out).toBe('')
    expect(v.err).toMatch(/unknown variant "gpu"\n {2}fix: variants are: base, ml, dev\n$/)
    const p = await cli('sbom', '--project', dir, '--platform', 'linux/arm64')
    expect(p.code).toBe(1)
    expect(p.err).toMatch(
      /platform linux\/arm64 is not built by these variants\n {2}fix: platforms are: linux\/amd64 /
    )
    const bad = await cli('sbom', '--project', dir, '--platform', 'windows/amd64')
    expect(bad.code).toBe(1)
    expect(bad.err).toMatch(
      /unsupported platform "windows\/amd64"\n {2}fix: use one of linux\/amd64, linux\/arm64/
    )
  })

  it('a variant that cannot be planned: the others are printed, then its error, and exit 1', async () => {
    const packages = DEFAULT_PACKAGES
    const dir = uvProject({
      packages,
      config: VARIANTS_CONFIG.replace(
        'dev = { groups = ["main", "dev"] }',
        'dev = { groups = ["main", "nope"] }'
      )
    })
    const r = await cli('sbom', '--project', dir)
    expect(r.code).toBe(1)
    expect((r.json() as CycloneDxBom[]).map((d) => prop(d.metadata, PROP.variant))).toEqual(['base', 'ml'])
    expect(r.err).toMatch(/error: .*variant dev: unknown group "nope"/)
  })
})
