import { createHash } from 'node:crypto';
import { Z as isDigest, a as formatPlatform, g as formatPython, _ as VERSION, $ as canonicalJson, d as digestHex, f as filesForTarget, w as withoutUserinfo, u as unavailableReason, a0 as sourceLabel } from './cli.js';
import 'node:module';
import 'node:fs';
import 'node:path';
import 'node:util';
import 'node:os';

// A CycloneDX 1.6 SBOM of one variant on one platform: exactly the packages its deps image
// installs (the plan's closure, each with the file chosen for the target, as the builders install
// it), the project's own local packages that the source layer carries, and the base image under
// them. Pure: the plan in, a JSON value out; the same inputs give the same bytes, serial number
// included, so a rebuild of the same commit attaches the same blob.
//
// CycloneDX rather than SPDX: its official JSON schema ships in an npm package
// (@cyclonedx/cyclonedx-library, res/schema/), against which the tests validate every document.
const CYCLONEDX_SPEC_VERSION = '1.6';
const CYCLONEDX_SCHEMA_URL = 'http://cyclonedx.org/schema/bom-1.6.schema.json';
/** The media type of a CycloneDX JSON document (IANA registered), as blob and artifact type. */
const CYCLONEDX_JSON = 'application/vnd.cyclonedx+json';
/** Property names, namespaced as the CycloneDX property taxonomy asks of tools. */
const PROP = {
    variant: 'fast-build:variant',
    variantHash: 'fast-build:variant-hash',
    platform: 'fast-build:platform',
    python: 'fast-build:python',
    builder: 'fast-build:builder',
    baseImage: 'fast-build:base-image',
    baseImageDigest: 'fast-build:base-image-digest',
    local: 'fast-build:local',
    source: 'fast-build:source',
    file: 'fast-build:file',
    unavailable: 'fast-build:unavailable'
};
/** A reference split at a pinned digest: `name@sha256:…` → name and digest; else no digest. */
function baseImageOf(reference) {
    const at = reference.lastIndexOf('@');
    const digest = at > 0 ? reference.slice(at + 1) : '';
    return isDigest(digest) ? { reference, digest } : { reference, digest: null };
}
function cycloneDxSbom(input) {
    const { variant, platform: p } = input;
    const base = input.base ?? baseImageOf(variant.baseImage);
    const baseComponent = baseImageComponent(base, p.platform.architecture);
    const installed = p.closure.installed.map((e) => pypiComponent(e, p));
    const local = dedupe(p.closure.local.map((e) => e.package)).map(localComponent);
    const properties = [
        { name: PROP.variant, value: variant.name },
        { name: PROP.variantHash, value: variant.hash },
        { name: PROP.platform, value: formatPlatform(p.platform) },
        { name: PROP.python, value: formatPython(variant.python) },
        { name: PROP.builder, value: variant.builder.kind },
        { name: PROP.baseImage, value: base.reference },
        {
            name: PROP.baseImageDigest,
            // Said in words, so a reader of an unpinned document knows the base is named, not identified.
            value: base.digest ??
                'unresolved: named by reference only (pin base-image as …@sha256:… to record its digest)'
        }
    ];
    const bom = {
        $schema: CYCLONEDX_SCHEMA_URL,
        bomFormat: 'CycloneDX',
        specVersion: CYCLONEDX_SPEC_VERSION,
        version: 1,
        metadata: {
            timestamp: input.created,
            lifecycles: [{ phase: 'build' }],
            tools: { components: [{ type: 'application', name: 'fast-build', version: VERSION }] },
            component: {
                type: 'container',
                'bom-ref': IMAGE_REF,
                name: input.name ?? variant.name
            },
            properties
        },
        components: [baseComponent, ...installed, ...local],
        // The image is the base plus every package. Edges between packages are left out: the closure
        // keeps only who first required each one, and a partial graph would claim less than is true.
        dependencies: [
            {
                ref: IMAGE_REF,
                dependsOn: [baseComponent, ...installed, ...local].map((c) => c['bom-ref'])
            }
        ]
    };
    // A serial number is a UUID; this one is derived from the rest of the document (variant hash,
    // platform, packages, created time…), so the same inputs give the same document and any change
    // gives another serial.
    return {
        $schema: bom.$schema,
        bomFormat: bom.bomFormat,
        specVersion: bom.specVersion,
        serialNumber: `urn:uuid:${nameBasedUuid(canonicalJson(bom))}`,
        version: bom.version,
        metadata: bom.metadata,
        components: bom.components,
        dependencies: bom.dependencies
    };
}
/** The document's bytes: indented JSON and a newline, the same for `fast-build sbom` and the attached blob. */
function sbomBytes(doc) {
    return Buffer.from(JSON.stringify(doc, null, 2) + '\n', 'utf8');
}
const IMAGE_REF = 'image';
const BASE_REF = 'base-image';
// --- packages ---------------------------------------------------------------------------------
/**
 * `pkg:pypi/<name>@<version>` per the purl spec's pypi type: the name lowercased with `_` as `-`
 * (a PEP 503 name already is), the version percent-encoded (`+` of a local version is `%2B`).
 */
function pypiPurl(name, version) {
    const n = name.toLowerCase().replace(/[-_.]+/g, '-');
    return `pkg:pypi/${encodeURIComponent(n)}${version ? `@${encodeURIComponent(version)}` : ''}`;
}
const HASH_ALGS = {
    md5: 'MD5',
    sha1: 'SHA-1',
    sha256: 'SHA-256',
    sha384: 'SHA-384',
    sha512: 'SHA-512',
    blake2b_256: 'BLAKE2b-256',
    blake2b_384: 'BLAKE2b-384',
    blake2b_512: 'BLAKE2b-512'
};
function fileHashes(file) {
    return Object.entries(file.hashes)
        .filter(([alg, hex]) => HASH_ALGS[alg] !== undefined && /^[0-9a-f]+$/.test(hex))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([alg, hex]) => ({ alg: HASH_ALGS[alg], content: hex }));
}
/**
 * Where the installed file comes from, without userinfo (the lock readers strip it already; a
 * model built elsewhere may not have). A Poetry lock names files, not URLs: then the index's
 * project page, where the installer finds the file.
 */
function fileUrl(source, file, name) {
    if (file?.url)
        return withoutUserinfo(file.url);
    switch (source.kind) {
        case 'registry': {
            // '' is a pylock entry that names no index: nowhere to point at.
            if (source.url === '')
                return null;
            return `${withoutUserinfo(source.url).replace(/\/+$/, '')}/${name}/`;
        }
        case 'url':
            return withoutUserinfo(source.url);
        default:
            return null;
    }
}
function pypiComponent(e, p) {
    const pkg = e.package;
    // The file the builders install: the wheel chosen for the target, else the first sdist (as
    // `plan --json` reports it).
    const [file] = filesForTarget(pkg.files, p.target);
    const purl = pypiPurl(pkg.name, pkg.version);
    const hashes = file ? fileHashes(file) : [];
    const refs = [];
    if (pkg.source.kind === 'git') {
        const url = withoutUserinfo(pkg.source.url);
        refs.push({ type: 'vcs', url: pkg.source.commit ? `${url}#${pkg.source.commit}` : url });
    }
    else {
        const url = fileUrl(pkg.source, file, pkg.name);
        if (url)
            refs.push({ type: 'distribution', url, ...(hashes.length ? { hashes } : {}) });
    }
    const unavailable = unavailableReason(pkg, p.target);
    const properties = [
        { name: PROP.source, value: sourceLabel(pkg.source) },
        ...(file ? [{ name: PROP.file, value: file.name }] : []),
        ...(unavailable ? [{ name: PROP.unavailable, value: unavailable }] : [])
    ];
    return {
        type: 'library',
        'bom-ref': purl,
        name: pkg.name,
        ...(pkg.version ? { version: pkg.version } : {}),
        scope: 'required',
        ...(hashes.length ? { hashes } : {}),
        purl,
        ...(refs.length ? { externalReferences: refs } : {}),
        properties
    };
}
/**
 * The project itself, workspace members and path dependencies: built from the source, so no file
 * hash, and no pypi purl (a local package of the same name as one on PyPI is not that package).
 */
function localComponent(pkg) {
    return {
        type: 'library',
        'bom-ref': `local:${pkg.name}${pkg.version ? `@${pkg.version}` : ''}`,
        name: pkg.name,
        ...(pkg.version ? { version: pkg.version } : {}),
        scope: 'required',
        properties: [
            { name: PROP.local, value: 'true' },
            { name: PROP.source, value: sourceLabel(pkg.source) }
        ]
    };
}
function dedupe(packages) {
    const seen = new Set();
    return packages
        .filter((p) => !seen.has(p.id) && (seen.add(p.id), true))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
// --- the base image ---------------------------------------------------------------------------
/**
 * `python:3.12-slim` → docker.io/library/python, tag 3.12-slim; `ghcr.io/acme/base:1@sha256:…` →
 * ghcr.io/acme/base. Docker's normalization, as `docker pull` reads a name. `oci:DIR:TAG` names a
 * layout: no repository, the directory's last segment as name.
 */
function splitImageReference(reference) {
    let rest = reference.trim();
    const at = rest.lastIndexOf('@');
    if (at > 0)
        rest = rest.slice(0, at);
    if (rest.startsWith('oci:')) {
        const body = rest.slice(4);
        const colon = body.lastIndexOf(':');
        const dir = (colon > 0 ? body.slice(0, colon) : body).replace(/\/+$/, '');
        return {
            repository: null,
            name: dir.slice(dir.lastIndexOf('/') + 1) || dir,
            tag: colon > 0 ? body.slice(colon + 1) : null
        };
    }
    let tag = null;
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
    }
    const slash = rest.indexOf('/');
    const first = slash < 0 ? '' : rest.slice(0, slash);
    const hasHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
    const repository = hasHost ? rest : slash < 0 ? `docker.io/library/${rest}` : `docker.io/${rest}`;
    return { repository, name: repository.slice(repository.lastIndexOf('/') + 1), tag };
}
/** `pkg:oci/<name>@sha256%3A<hex>?arch=…&repository_url=…&tag=…`, per the purl spec's oci type. */
function ociPurl(name, digest, qualifiers) {
    const q = Object.entries(qualifiers)
        .filter((kv) => kv[1] !== null && kv[1] !== '')
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        // Values are percent-encoded, except `/` and `:`, which the spec's own examples leave as they are.
        .map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2F/gi, '/').replace(/%3A/gi, ':')}`);
    return `pkg:oci/${encodeURIComponent(name.toLowerCase())}${digest ? `@${encodeURIComponent(digest)}` : ''}${q.length ? `?${q.join('&')}` : ''}`;
}
function baseImageComponent(base, arch) {
    const { repository, name, tag } = splitImageReference(base.reference);
    const purl = ociPurl(name, base.digest, { arch, repository_url: repository, tag });
    return {
        type: 'container',
        'bom-ref': BASE_REF,
        name: repository ?? name,
        ...(tag ? { version: tag } : {}),
        ...(base.digest ? { hashes: [{ alg: 'SHA-256', content: digestHex(base.digest) }] } : {}),
        purl,
        properties: [
            { name: PROP.baseImage, value: base.reference },
            ...(base.digest ? [] : [{ name: PROP.baseImageDigest, value: 'unresolved' }])
        ]
    };
}
// --- serial number ----------------------------------------------------------------------------
/** RFC 4122's URL namespace: the name hashed below is a URN of ours. */
const NAMESPACE_URL = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex');
/** A name-based UUID (version 5, SHA-1, as RFC 4122 §4.3 makes it) of `urn:fast-build:sbom:<content>`. */
function nameBasedUuid(content) {
    const h = createHash('sha1').update(NAMESPACE_URL).update(`urn:fast-build:sbom:${content}`, 'utf8').digest();
    h[6] = (h[6] & 0x0f) | 0x50;
    h[8] = (h[8] & 0x3f) | 0x80;
    const x = h.subarray(0, 16).toString('hex');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export { CYCLONEDX_JSON, CYCLONEDX_SCHEMA_URL, CYCLONEDX_SPEC_VERSION, PROP, baseImageOf, cycloneDxSbom, ociPurl, pypiPurl, sbomBytes, splitImageReference };
