#!/usr/bin/env node
'use strict';

var node_buffer = require('node:buffer');
var node_fs = require('node:fs');
var node_module = require('node:module');
var node_path = require('node:path');
var node_url = require('node:url');
var node_vm = require('node:vm');
var node_crypto = require('node:crypto');
var node_os = require('node:os');

var _documentCurrentScript = typeof document !== 'undefined' ? document.currentScript : null;
// V8's compiled code of the CLI bundle, kept between runs (the loader, src/cli-start.ts, uses it).
// Parsing and compiling 800 kB of JavaScript, then each function on its first call, is otherwise a
// fixed part of every run: on a build whose deps image is rebuilt for one bumped package, about a
// tenth. (Node 22.1's module.enableCompileCache does the like for ES modules; this works from
// Node 20, for which the CLI bundle is CommonJS, compiled by vm.Script.)
//
// V8 checks a cache against its own version and flags and rejects one that does not fit, but it
// checks the source only by its length, and the bytes not at all: given the cache of another
// source of the same length, or damaged bytes, it runs what they say. So each file is named after
// the bundle's sha256, and starts with the sha256 of what follows, checked before V8 sees it. It
// lives in the user's cache directory, never a shared one (whoever can write it can run code as
// the user). Failing to read or write it only costs the time it would have saved.
/**
 * One file per command (what a run compiles depends on it: `plan` never reaches the build code)
 * and per bundle, Node version and architecture.
 */
function codeCacheName(source, command, runtime = `${process.version} ${process.arch}`) {
    const c = command && /^[a-z][a-z-]{0,19}$/.test(command) ? command : 'other';
    const key = node_crypto.createHash('sha256').update(`${runtime}\0`).update(source).digest('hex').slice(0, 32);
    return { prefix: `${c}-`, file: `${c}-${key}.bin` };
}
const SUM = 32;
/** The cached code, or undefined when there is none, it cannot be read, or it is damaged. */
function readCodeCache(dir, name) {
    let bytes;
    try {
        bytes = node_fs.readFileSync(`${dir}/${name.file}`);
    }
    catch {
        return undefined;
    }
    if (bytes.length <= SUM)
        return undefined;
    const data = bytes.subarray(SUM);
    return node_crypto.createHash('sha256').update(data).digest().equals(bytes.subarray(0, SUM)) ? data : undefined;
}
/**
 * Written aside and renamed (a concurrent run reads a whole file or none); the command's files of
 * other bundles are removed. Never throws: a read-only home or a full disk only means the next run
 * compiles again.
 */
function writeCodeCache(dir, name, data) {
    try {
        node_fs.mkdirSync(dir, { recursive: true });
        const tmp = `${dir}/${name.file}.${process.pid}.tmp`;
        node_fs.writeFileSync(tmp, Buffer.concat([node_crypto.createHash('sha256').update(data).digest(), data]));
        node_fs.renameSync(tmp, `${dir}/${name.file}`);
        for (const f of node_fs.readdirSync(dir))
            if (f.startsWith(name.prefix) && f.endsWith('.bin') && f !== name.file)
                node_fs.rmSync(`${dir}/${f}`, { force: true });
    }
    catch {
        // The next run compiles again.
    }
}

// Where fast-build keeps what outlives one build, and what lives where: the one owner of the cache
// directory's layout. Every module that reads or writes under it asks here for the path, and the
// Actions cache (src/github/cache.ts) saves and restores exactly the paths named here.
//
//   <root>/artifacts/          wheels and sdists by sha256 (ArtifactCache, artifacts.ts)
//   <root>/work/layers/        the full path's layers: <key>.json (descriptor and the wheels in
//                              it) and the compressed layer beside it, when this machine built it;
//                              seg-<key>.json: which layer holds a wheel's files as a segment
//   <root>/work/unpacked-size/ each wheel's unpacked size by sha256 (what layering weighs)
//   <root>/work/plans/         each variant's plan as of its last build (what changed, for reports)
//   <root>/work/dockerfile/    build contexts of the Dockerfile builder
//   <root>/base-python/        what each base image's Python is, by manifest digest
//   <root>/transfer/           wheels on their way into or out of the Actions cache
//   <root>/oci/                the CLI's default image stores, one per project
//   <root>/v8/                 V8's compiled code of the CLI itself (code-cache.ts)
//
// Where the root is (defaultCacheDir): FAST_BUILD_CACHE_DIR when set; else, in the action, the
// runner's temporary directory (RUNNER_TEMP/fast-build: emptied after each job, and what matters
// between jobs travels through the Actions cache); else XDG_CACHE_HOME/fast-build, else
// ~/.cache/fast-build, as for any tool a developer runs.
/** The cache directory, by the one rule above. */
function defaultCacheDir(env = process.env, home = node_os.homedir(), user = 'cli') {
    const explicit = env['FAST_BUILD_CACHE_DIR'];
    if (explicit)
        return node_path.resolve(explicit);
    const runnerTemp = env['RUNNER_TEMP'];
    if (user === 'action' && runnerTemp)
        return node_path.join(node_path.resolve(runnerTemp), 'fast-build');
    const xdg = env['XDG_CACHE_HOME'];
    if (xdg && node_path.isAbsolute(xdg))
        return node_path.join(xdg, 'fast-build');
    return node_path.join(home, '.cache', 'fast-build');
}
/** The paths under one cache directory (nothing is created here; writers make their directories). */
class CacheLayout {
    root;
    constructor(root) {
        this.root = node_path.resolve(root);
    }
    /** The layout of the default cache directory (defaultCacheDir). */
    static default(env = process.env, user = 'cli') {
        return new CacheLayout(defaultCacheDir(env, node_os.homedir(), user));
    }
    /** V8's compiled code of the CLI bundle, one file per command (cache/code-cache.ts). */
    get codeCache() {
        return node_path.join(this.root, 'v8');
    }
    /** Wheels and sdists by sha256: the ArtifactCache's directory. */
    get artifacts() {
        return node_path.join(this.root, 'artifacts');
    }
    /** What builds leave for the next ones on this machine (layers, sizes, plans, build contexts). */
    get work() {
        return node_path.join(this.root, 'work');
    }
    /** The full path's built layers and their descriptors. */
    get layers() {
        return node_path.join(this.work, 'layers');
    }
    /** `<key>.json`: what is known of the layer with this key (descriptor, wheels). */
    layerDescriptor(key) {
        return node_path.join(this.layers, `${key}.json`);
    }
    /**
     * `seg-<key>.json`: which layer holds the segment of a wheel (for a layout and compression), for
     * a later layer to copy instead of installing the wheel again. Kept with the descriptors.
     */
    segmentIndex(key) {
        return node_path.join(this.layers, `seg-${key}.json`);
    }
    /** The compressed layer itself (`fileName` carries the key and the compression's extension). */
    layerBlob(fileName) {
        return node_path.join(this.layers, fileName);
    }
    get unpackedSizes() {
        return node_path.join(this.work, 'unpacked-size');
    }
    /** The unpacked size of the wheel with this sha256, as a decimal number. */
    unpackedSize(sha256) {
        return node_path.join(this.unpackedSizes, sha256);
    }
    get plans() {
        return node_path.join(this.work, 'plans');
    }
    /** The variant's plan as of its last build. */
    plan(variant) {
        return node_path.join(this.plans, `${variant}.json`);
    }
    /** The Dockerfile builder's context for one variant at one hash. */
    dockerfileContext(variant, shortHash) {
        return node_path.join(this.work, 'dockerfile', `${variant}-${shortHash}`);
    }
    get basePython() {
        return node_path.join(this.root, 'base-python');
    }
    /** What the base image with this manifest digest (hex) has for a Python. */
    basePythonFacts(manifestHex) {
        return node_path.join(this.basePython, `${manifestHex}.json`);
    }
    /** Where a wheel sits while it travels through the Actions cache (the path is part of the entry's version). */
    transfer(sha256) {
        return node_path.join(this.root, 'transfer', sha256.slice(0, 2), `${sha256}.whl`);
    }
    /** The CLI's default image stores, one directory per project under it. */
    get stores() {
        return node_path.join(this.root, 'oci');
    }
    /**
     * What the Actions cache keeps as a variant's layer index: the layers' descriptors (not the
     * layers: the registry has them), the wheels' unpacked sizes, the plans, and the base images'
     * Python facts, so a fresh runner neither reads every wheel nor every base layer again. A few kB.
     */
    get layerIndexEntry() {
        return [node_path.join(this.layers, '*.json'), this.unpackedSizes, this.plans, this.basePython];
    }
}

// The `fast-build` executable (dist/cli.cjs): it runs the CLI bundle (dist/cli-main.cjs) with V8's
// compiled code of it kept between runs in the user's cache directory (src/cache/code-cache.ts).
// FAST_BUILD_CODE_CACHE=0 turns that off.
const main = node_path.join(node_path.dirname(node_url.fileURLToPath((typeof document === 'undefined' ? require('u' + 'rl').pathToFileURL(__filename).href : (_documentCurrentScript && _documentCurrentScript.tagName.toUpperCase() === 'SCRIPT' && _documentCurrentScript.src || new URL('cli.cjs', document.baseURI).href)))), 'cli-main.cjs');
const bytes = node_fs.readFileSync(main);
// The bundle is ASCII (see rollup.config.mjs): read as Latin-1 it is a one-byte string, which is
// faster to make, hash and compile than UTF-8 decoding makes it. Any other file is UTF-8.
const source = node_buffer.isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
const enabled = process.env['FAST_BUILD_CODE_CACHE'] !== '0';
const dir = CacheLayout.default(process.env, 'cli').codeCache;
const name = codeCacheName(bytes, process.argv[2]);
const cached = enabled ? readCodeCache(dir, name) : undefined;
// CommonJS's own wrapper: the bundle sees exports, require, module, __filename and __dirname.
const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;
const script = new node_vm.Script(wrapped, { filename: main, ...(cached ? { cachedData: cached } : {}) });
// Written at exit, when the functions this run called are compiled too (not only the top level).
if (enabled && (!cached || script.cachedDataRejected === true))
    process.once('exit', () => writeCodeCache(dir, name, script.createCachedData()));
const run = script.runInThisContext();
const module$1 = { exports: {} };
run.call(module$1.exports, module$1.exports, node_module.createRequire(main), module$1, main, node_path.dirname(main));
