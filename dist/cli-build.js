import { join, resolve, isAbsolute, dirname, basename, posix, sep, relative } from 'node:path';
import { promisify, parseArgs } from 'node:util';
import { performance as performance$1 } from 'node:perf_hooks';
import { F as FastBuildError, D as DigestWriter, n as normalizeName, d as describeError, p as parseDigest, s as sha256$1, a as digestAlgorithm, b as digestHex, f as formatPlatform, c as parseWheelFilename, C as ConfigError, e as filesForTarget, u as unavailableReason, P as PYPI_SIMPLE, w as wheelSupports, g as chooseWheels, h as parseToml, i as planProject, j as chooseWheel, k as pythonMinor, U as UsageError, l as loadPlan, r as renderTable } from './cli.js';
import { open, stat, readFile, mkdir, rename, readdir, rm, writeFile, readlink } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { inflateRawSync, inflateRaw, createInflateRaw } from 'node:zlib';
import { openSync, readSync, closeSync, createWriteStream, createReadStream, readFileSync, statSync, mkdirSync, existsSync, writeFileSync, renameSync, rmSync, copyFileSync, lstatSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import 'node:module';

// Media types of the OCI image spec and their Docker (schema 2) counterparts, which registries
// and base images still use widely.
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** What a registry is asked for when a tag may name a manifest or an index. */
const ACCEPT_ANY_MANIFEST = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ');
function isIndexType(mediaType) {
    return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}
function isManifestType(mediaType) {
    return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}
/** The layer media type that goes with a manifest's family and a compression. */
function layerMediaType(manifestType, compression) {
    if (manifestType === DOCKER_MANIFEST) {
        if (compression !== 'gzip') {
            throw new Error(`Docker schema 2 manifests only carry gzip layers (asked for ${compression})`);
        }
        return DOCKER_LAYER_GZIP;
    }
    return compression === 'gzip' ? OCI_LAYER_GZIP : compression === 'zstd' ? OCI_LAYER_ZSTD : OCI_LAYER;
}

// Deterministic tar (ustar, with PAX records where ustar fields are too small): the bytes are a
// pure function of the entries and one timestamp. Entries are sorted; owners are 0/0 with empty
// names; modes are 0755 for directories and executables, 0644 for other files, 0777 for links;
// no xattrs, no device numbers, no access times.
class LayerPathError extends FastBuildError {
}
const BLOCK = 512;
const ZEROS = Buffer.alloc(BLOCK * 2);
/** Refuse paths a tar reader could resolve outside the layer root. */
function checkEntryPath(path) {
    if (path === '' ||
        path.startsWith('/') ||
        path.endsWith('/') ||
        path.includes('\0') ||
        path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
        throw new LayerPathError(`refusing layer path ${JSON.stringify(path)}: it must be relative, without empty, "." or ".." segments`);
    }
}
function compareCodePoints(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
/** Sorted, de-duplicated entries (a path given twice must be the same kind of entry). */
function normalizeEntries(entries) {
    const byPath = new Map();
    for (const e of entries) {
        checkEntryPath(e.path);
        const prev = byPath.get(e.path);
        if (prev && (prev.type !== 'dir' || e.type !== 'dir')) {
            throw new LayerPathError(`layer path ${JSON.stringify(e.path)} is given twice`);
        }
        byPath.set(e.path, e);
    }
    return [...byPath.values()].sort((a, b) => compareCodePoints(a.path, b.path));
}
function octal(value, width) {
    return value.toString(8).padStart(width - 1, '0') + '\0';
}
function paxRecord(key, value) {
    const body = ` ${key}=${value}\n`;
    // The length prefix counts itself.
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len)
        len = String(len).length + Buffer.byteLength(body);
    return Buffer.from(`${len}${body}`, 'utf8');
}
/** What every header has: owners 0, the ustar magic, no device numbers, a blank checksum. */
const TEMPLATE = (() => {
    const t = Buffer.alloc(BLOCK);
    t.write(octal(0, 8), 108, 8, 'ascii');
    t.write(octal(0, 8), 116, 8, 'ascii');
    t.write('        ', 148, 8, 'ascii');
    t.write('ustar\0', 257, 6, 'ascii');
    t.write('00', 263, 2, 'ascii');
    t.write(octal(0, 8), 329, 8, 'ascii');
    t.write(octal(0, 8), 337, 8, 'ascii');
    return t;
})();
/** Writes a ustar header into `h` at `at` (512 bytes there get overwritten). */
function writeHeader(f, h, at) {
    TEMPLATE.copy(h, at);
    h.write(f.name, at, 100, 'utf8');
    h.write(octal(f.mode, 8), at + 100, 8, 'ascii');
    h.write(octal(f.size, 12), at + 124, 12, 'ascii');
    h.write(octal(f.mtime, 12), at + 136, 12, 'ascii');
    h.write(f.typeflag, at + 156, 1, 'ascii');
    h.write(f.linkname, at + 157, 100, 'utf8');
    let sum = 0;
    for (let i = at; i < at + BLOCK; i++)
        sum += h[i];
    h.write(octal(sum, 7) + ' ', at + 148, 8, 'ascii');
}
function header(f) {
    const h = Buffer.allocUnsafe(BLOCK);
    writeHeader(f, h, 0);
    return h;
}
const MAX_USTAR_SIZE = 0o77777777777; // 11 octal digits
const fits = (s) => s.length <= 100 && /^[\x20-\x7e]*$/.test(s);
/** Header block(s) for one entry: a PAX record first when a name or size does not fit ustar. */
function headersFor(name, f) {
    const pax = [];
    if (!fits(name))
        pax.push(paxRecord('path', name));
    if (!fits(f.linkname))
        pax.push(paxRecord('linkpath', f.linkname));
    if (f.size > MAX_USTAR_SIZE)
        pax.push(paxRecord('size', String(f.size)));
    const main = header({
        ...f,
        name: fits(name) ? name : asciiPrefix(name),
        linkname: fits(f.linkname) ? f.linkname : asciiPrefix(f.linkname),
        size: f.size > MAX_USTAR_SIZE ? 0 : f.size
    });
    if (pax.length === 0)
        return [main];
    const body = Buffer.concat(pax);
    const paxHeader = header({
        name: asciiPrefix(`PaxHeaders/${name}`),
        mode: 0o644,
        size: body.length,
        typeflag: 'x',
        linkname: '',
        mtime: f.mtime
    });
    return [paxHeader, body, padding(body.length), main];
}
/** The first 100 bytes of the name's printable-ASCII form (readers use the PAX path). */
function asciiPrefix(s) {
    return s.replace(/[^\x20-\x7e]/g, '_').slice(0, 100);
}
function padding(size) {
    const rest = size % BLOCK;
    return rest === 0 ? Buffer.alloc(0) : ZEROS.subarray(0, BLOCK - rest);
}
/**
 * Fills fixed-size blocks and hands each full one to `onBlock` (a new buffer each time, which the
 * receiver may keep). Files with a `diskPath` are read straight into the block.
 */
class BlockSink {
    size;
    onBlock;
    free;
    block;
    used = 0;
    constructor(size, onBlock, 
    /** Blocks the receiver is done with, to fill again (less allocation, less GC). */
    free = []) {
        this.size = size;
        this.onBlock = onBlock;
        this.free = free;
        this.block = free.pop() ?? Buffer.allocUnsafe(size);
    }
    // Writes are synchronous; only handing off a full block (a few per layer) can be awaited, so a
    // file costs no promises. Each method returns that promise, or undefined.
    flushIfFull() {
        if (this.used === this.size) {
            const full = this.block;
            this.block = this.free.pop() ?? Buffer.allocUnsafe(this.size);
            this.used = 0;
            return this.onBlock(full);
        }
    }
    async write(data) {
        let offset = 0;
        while (offset < data.length) {
            const n = Math.min(this.size - this.used, data.length - offset);
            data.copy(this.block, this.used, offset, offset + n);
            this.used += n;
            offset += n;
            await this.flushIfFull();
        }
    }
    /**
     * A header, written in place. Every tar record starts on a 512-byte boundary and blocks are a
     * multiple of 512 bytes, so a header never straddles two blocks.
     */
    header(f) {
        writeHeader(f, this.block, this.used);
        this.used += BLOCK;
        return this.flushIfFull();
    }
    /** Zeros up to the next 512-byte boundary (which is never past the block's end). */
    pad() {
        const rest = this.used % BLOCK;
        if (rest === 0)
            return;
        this.block.fill(0, this.used, this.used + BLOCK - rest);
        this.used += BLOCK - rest;
        return this.flushIfFull();
    }
    /**
     * `size` bytes of the file at `path`, read straight into the block. A file that is shorter now
     * is an error; one that grew is cut at `size`, which the header already promised.
     */
    writeFile(path, size, entryPath) {
        const fd = openSync(path, 'r');
        let done = 0;
        let closed = false;
        const close = () => {
            if (!closed) {
                closed = true;
                closeSync(fd);
            }
        };
        const rest = async (flush) => {
            try {
                await flush;
                for (;;) {
                    const next = this.readSome(fd, size, done, entryPath);
                    if (next === null)
                        return;
                    done = next.done;
                    if (next.flush)
                        await next.flush;
                }
            }
            finally {
                close();
            }
        };
        try {
            for (;;) {
                const next = this.readSome(fd, size, done, entryPath);
                if (next === null)
                    break;
                done = next.done;
                // A full block was handed over: finish this file asynchronously.
                if (next.flush)
                    return rest(next.flush);
            }
        }
        catch (e) {
            close();
            throw e;
        }
        close();
    }
    /** One read into the block; null when the file is done. */
    readSome(fd, size, done, entryPath) {
        if (done >= size)
            return null;
        const n = readSync(fd, this.block, this.used, Math.min(this.size - this.used, size - done), done);
        if (n === 0)
            throw new LayerPathError(`${entryPath} changed while the layer was written (it was ${size} bytes)`);
        this.used += n;
        return { done: done + n, flush: this.flushIfFull() };
    }
    async end() {
        if (this.used > 0)
            await this.onBlock(this.block.subarray(0, this.used));
    }
}
/**
 * The tar stream of the entries, cut into blocks of `blockSize` bytes (the last may be shorter),
 * each passed to `onBlock` in order, which may await (back-pressure).
 */
async function writeTar(entries, opts, onBlock) {
    if (opts.blockSize % BLOCK !== 0)
        throw new Error('the block size must be a multiple of 512');
    const mtime = Math.max(0, Math.floor(opts.mtime));
    const sink = new BlockSink(opts.blockSize, onBlock, opts.freeBlocks);
    const headers = (name, f) => {
        if (fits(name) && fits(f.linkname) && f.size <= MAX_USTAR_SIZE)
            return sink.header({ ...f, name });
        return (async () => {
            for (const h of headersFor(name, f))
                await sink.write(h);
        })();
    };
    // Awaits only what is a promise: most steps finish synchronously.
    let w;
    for (const e of normalizeEntries(entries)) {
        switch (e.type) {
            case 'dir':
                if ((w = headers(`${e.path}/`, { mode: 0o755, size: 0, typeflag: '5', linkname: '', mtime })))
                    await w;
                break;
            case 'symlink':
                if ((w = headers(e.path, { mode: 0o777, size: 0, typeflag: '2', linkname: e.target, mtime })))
                    await w;
                break;
            case 'file': {
                const mode = e.executable ? 0o755 : 0o644;
                if (e.diskPath) {
                    if ((w = headers(e.path, { mode, size: e.size, typeflag: '0', linkname: '', mtime })))
                        await w;
                    if ((w = sink.writeFile(e.diskPath, e.size, e.path)))
                        await w;
                }
                else if (e.stream) {
                    if ((w = headers(e.path, { mode, size: e.size, typeflag: '0', linkname: '', mtime })))
                        await w;
                    let written = 0;
                    const size = e.size;
                    await e.stream(async (chunk) => {
                        written += chunk.length;
                        if (written > size)
                            throw new LayerPathError(`${e.path} gave more than the ${size} bytes it announced`);
                        await sink.write(chunk);
                    });
                    if (written !== size)
                        throw new LayerPathError(`${e.path} gave ${written} bytes, not the ${size} it announced`);
                }
                else {
                    const content = await e.content();
                    if (content.length !== e.size) {
                        throw new LayerPathError(`${e.path} changed while the layer was written (${e.size} bytes, then ${content.length})`);
                    }
                    if ((w = headers(e.path, { mode, size: content.length, typeflag: '0', linkname: '', mtime })))
                        await w;
                    await sink.write(content);
                }
                if ((w = sink.pad()))
                    await w;
                break;
            }
        }
    }
    await sink.write(ZEROS);
    await sink.end();
}

// A layer blob from entries: tar them deterministically, compress, and take both digests (the
// compressed blob's, for the manifest; the tar's, the diff_id, for the config) in one pass.
//
// Compression runs in parallel: the tar stream is cut into fixed 2 MiB blocks, each compressed
// on libuv's thread pool while the next is read, and the results are concatenated in order. For
// gzip that is a multi-member file (RFC 1952 §2.2), which every layer reader handles (Go's gzip
// reader in containerd/skopeo/umoci, Python's gzip and tarfile, GNU gzip); for zstd, several
// frames. The block size is fixed, so the bytes stay a pure function of the entries.
class CompressionError extends FastBuildError {
}
/** Part of the format: changing it changes every compressed layer's bytes. */
const BLOCK_SIZE = 2 * 1024 * 1024;
/** Blocks compressing at once (libuv's pool has 4 threads by default). */
const IN_FLIGHT = 4;
const gzip = promisify(zlib.gzip);
function compressorFor(compression, level) {
    if (compression === 'none')
        return null;
    if (compression === 'gzip') {
        return async (block) => {
            // One output buffer as large as the block: zlib then deflates the whole block in one go on
            // the thread pool, instead of returning to the main thread every 16 kB (the bytes are the
            // same either way).
            const out = await gzip(block, { level: level ?? 1, chunkSize: BLOCK_SIZE + 64 * 1024 });
            // zlib writes its build's OS code (3 on Unix, 10 on Windows) into byte 9 of each member's
            // header; a fixed 255 ("unknown") keeps the blob the same whichever OS wrote it.
            out[9] = 0xff;
            return out;
        };
    }
    const z = zlib;
    if (!z.zstdCompress) {
        throw new CompressionError(`zstd layers need Node.js 22.15 or later (this is ${process.version})`, {}, 'use compression gzip, or run fast-build with a newer Node.js');
    }
    const zstd = promisify(z.zstdCompress);
    const param = z.constants['ZSTD_c_compressionLevel'];
    return (block) => zstd(block, param === undefined ? {} : { params: { [param]: level ?? 3 } });
}
async function buildLayer(entries, opts) {
    const compression = opts.compression ?? 'gzip';
    const compress = compressorFor(compression, opts.level);
    const tar = new DigestWriter();
    const blob = new DigestWriter();
    const kept = [];
    let handle = opts.file ? await open(opts.file, 'w') : null;
    const emit = async (out) => {
        blob.update(out);
        if (handle)
            await handle.write(out);
        else
            kept.push(out);
        if (opts.onChunk)
            await opts.onChunk(out);
    };
    try {
        // Compression of several blocks at once, written out in order.
        const pending = [];
        // Input blocks go back to the tar writer once compressed (no new 2 MiB buffer per block).
        const free = [];
        await writeTar(entries, { mtime: opts.mtime, blockSize: BLOCK_SIZE, freeBlocks: free }, async (block) => {
            tar.update(block);
            if (!compress)
                return emit(block);
            pending.push(compress(block).then((out) => {
                if (block.length === BLOCK_SIZE)
                    free.push(block);
                return out;
            }));
            if (pending.length >= IN_FLIGHT)
                await emit(await pending.shift());
        });
        while (pending.length > 0)
            await emit(await pending.shift());
    }
    finally {
        await handle?.close();
        handle = null;
    }
    return {
        compression,
        mediaType: layerMediaType(opts.manifestType ?? OCI_MANIFEST, compression),
        digest: blob.digest(),
        size: blob.size,
        diffId: tar.digest(),
        uncompressedSize: tar.size,
        data: opts.file ? null : Buffer.concat(kept, blob.size),
        file: opts.file ?? null,
        entries: entries.length
    };
}

// HTTP for the registry client: keep-alive connections, bounded bodies and timeouts, and the
// retry policy: only 408/429/5xx and dropped connections are retried, with backoff that honours
// Retry-After; everything else (auth, not found, bad requests) fails at once.
/** A registry said no, or could not be reached. `temporary` failures are worth retrying. */
class RegistryError extends FastBuildError {
    temporary = false;
}
/** The registry's host name does not resolve (a typo, or no network to it). */
class UnknownHostError extends RegistryError {
}
/** An HTTP failure worth retrying (a dropped connection, a 5xx, a 429). */
class TransientHttpError extends RegistryError {
    retryAfterMs;
    temporary = true;
    constructor(message, retryAfterMs = null) {
        super(message);
        this.retryAfterMs = retryAfterMs;
    }
}
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
function isRetryableStatus(status) {
    return RETRY_STATUS.has(status) || (status >= 500 && status < 600);
}
/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
function parseRetryAfter(value, now = Date.now()) {
    if (!value)
        return null;
    const seconds = Number(value.trim());
    if (Number.isFinite(seconds))
        return Math.max(0, seconds * 1000);
    const date = Date.parse(value);
    return Number.isNaN(date) ? null : Math.max(0, date - now);
}
class HttpClient {
    opts;
    agents = {
        http: new http.Agent({ keepAlive: true, maxSockets: 8 }),
        https: new https.Agent({ keepAlive: true, maxSockets: 8 })
    };
    constructor(opts = {}) {
        this.opts = opts;
    }
    close() {
        this.agents.http.destroy();
        this.agents.https.destroy();
    }
    /**
     * A request whose body is written piece by piece (chunked transfer encoding), for streaming a
     * blob while it is being produced. `end` finishes the body and waits for the answer.
     */
    stream(o) {
        const url = new URL(o.url);
        const mod = url.protocol === 'https:' ? https : http;
        const agent = url.protocol === 'https:' ? this.agents.https : this.agents.http;
        const headers = {
            'user-agent': this.opts.userAgent ?? 'fast-build',
            ...o.headers
        };
        let failure = null;
        let resolveResponse;
        let rejectResponse;
        const response = new Promise((res, rej) => {
            resolveResponse = res;
            rejectResponse = rej;
        });
        response.catch(() => undefined);
        const req = mod.request(url, { method: o.method, headers, agent }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const h = {};
                for (const [k, v] of Object.entries(res.headers))
                    if (v !== undefined)
                        h[k] = Array.isArray(v) ? v.join(', ') : v;
                resolveResponse({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks), url: o.url });
            });
            res.on('error', (e) => rejectResponse(transient(o, e)));
        });
        const idle = this.opts.idleTimeoutMs ?? 60_000;
        req.setTimeout(idle, () => req.destroy(new TransientHttpError(`${o.method} ${redactUrl$1(o.url)}: no progress for ${idle / 1000} s`)));
        req.on('error', (e) => {
            failure = transient(o, e);
            rejectResponse(failure);
        });
        return {
            write: (chunk) => new Promise((resolve, reject) => {
                if (failure)
                    return reject(failure);
                if (req.write(chunk))
                    resolve();
                else
                    req.once('drain', () => (failure ? reject(failure) : resolve()));
            }),
            end: () => {
                if (failure)
                    return Promise.reject(failure);
                req.end();
                return response;
            },
            abort: () => {
                req.destroy();
            }
        };
    }
    /**
     * GET a body straight to a file (blobs can be gigabytes), hashing it on the way. A non-200
     * answer is returned with its (small) body and nothing written.
     */
    download(o, file) {
        const url = new URL(o.url);
        const mod = url.protocol === 'https:' ? https : http;
        const agent = url.protocol === 'https:' ? this.agents.https : this.agents.http;
        const idle = this.opts.idleTimeoutMs ?? 60_000;
        return new Promise((resolve, reject) => {
            let settled = false;
            const fail = (e) => {
                if (settled)
                    return;
                settled = true;
                req.destroy();
                reject(e);
            };
            const req = mod.request(url, {
                method: 'GET',
                headers: { 'user-agent': this.opts.userAgent ?? 'fast-build', ...o.headers },
                agent
            }, (res) => {
                const headers = {};
                for (const [k, v] of Object.entries(res.headers))
                    if (v !== undefined)
                        headers[k] = Array.isArray(v) ? v.join(', ') : v;
                const status = res.statusCode ?? 0;
                if (status !== 200) {
                    const chunks = [];
                    res.on('data', (c) => chunks.length < 64 && chunks.push(c));
                    res.on('end', () => {
                        settled = true;
                        resolve({ status, headers, body: Buffer.concat(chunks), digest: null, size: 0 });
                    });
                    res.on('error', (e) => fail(transient({ method: 'GET', url: o.url }, e)));
                    return;
                }
                const out = createWriteStream(file);
                const hash = createHash('sha256');
                let size = 0;
                res.on('data', (c) => {
                    hash.update(c);
                    size += c.length;
                });
                res.on('error', (e) => fail(transient({ method: 'GET', url: o.url }, e)));
                res.on('aborted', () => fail(transient({ method: 'GET', url: o.url }, new Error('response aborted'))));
                out.on('error', (e) => fail(e));
                out.on('finish', () => {
                    if (settled)
                        return;
                    settled = true;
                    resolve({ status, headers, body: Buffer.alloc(0), digest: `sha256:${hash.digest('hex')}`, size });
                });
                res.pipe(out);
            });
            req.setTimeout(idle, () => fail(new TransientHttpError(`GET ${redactUrl$1(o.url)}: no data for ${idle / 1000} s`)));
            req.on('error', (e) => fail(transient({ method: 'GET', url: o.url }, e)));
            req.end();
        });
    }
    request(o) {
        const url = new URL(o.url);
        const mod = url.protocol === 'https:' ? https : http;
        const agent = url.protocol === 'https:' ? this.agents.https : this.agents.http;
        const headers = {
            'user-agent': this.opts.userAgent ?? 'fast-build',
            ...o.headers
        };
        let body = null;
        if (o.body !== undefined) {
            if (Buffer.isBuffer(o.body)) {
                body = o.body;
                headers['content-length'] = String(o.body.length);
            }
            else {
                const { file, start, end } = o.body;
                body = createReadStream(file, {
                    ...(start !== undefined ? { start } : {}),
                    ...(end !== undefined ? { end } : {})
                });
                if (headers['content-length'] === undefined)
                    throw new Error('streamed bodies need a content-length');
            }
        }
        else if (o.method === 'PUT' || o.method === 'POST' || o.method === 'PATCH') {
            headers['content-length'] = '0';
        }
        const idle = this.opts.idleTimeoutMs ?? 60_000;
        const maxBody = o.maxBody ?? 16 * 1024 * 1024;
        return new Promise((resolve, reject) => {
            let settled = false;
            const fail = (e) => {
                if (settled)
                    return;
                settled = true;
                req.destroy();
                reject(e);
            };
            const req = mod.request(url, { method: o.method, headers, agent }, (res) => {
                const chunks = [];
                let size = 0;
                res.on('data', (c) => {
                    size += c.length;
                    if (size > maxBody)
                        fail(new FastBuildError(`${o.method} ${redactUrl$1(o.url)}: response larger than ${maxBody} bytes`));
                    else
                        chunks.push(c);
                });
                res.on('end', () => {
                    if (settled)
                        return;
                    settled = true;
                    const h = {};
                    for (const [k, v] of Object.entries(res.headers))
                        if (v !== undefined)
                            h[k] = Array.isArray(v) ? v.join(', ') : v;
                    resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks), url: o.url });
                });
                res.on('error', (e) => fail(transient(o, e)));
                res.on('aborted', () => fail(transient(o, new Error('response aborted'))));
            });
            req.setTimeout(idle, () => fail(new TransientHttpError(`${o.method} ${redactUrl$1(o.url)}: no response for ${idle / 1000} s`)));
            req.on('error', (e) => fail(transient(o, e)));
            if (body === null)
                req.end();
            else if (Buffer.isBuffer(body))
                req.end(body);
            else {
                body.on('error', (e) => fail(e));
                body.pipe(req);
            }
        });
    }
}
function transient(o, e) {
    const code = e.code;
    if (code === 'ENOTFOUND') {
        return new UnknownHostError(`cannot reach ${new URL(o.url).host}: no such host`, {}, 'check the registry name (image input or [tool.fast-build] image)');
    }
    const dropped = [
        'ECONNRESET',
        'EPIPE',
        'ETIMEDOUT',
        'ECONNABORTED',
        'EAI_AGAIN',
        'ECONNREFUSED',
        'UND_ERR_SOCKET',
        'ERR_STREAM_PREMATURE_CLOSE'
    ];
    if ((code && dropped.includes(code)) || /socket hang up|aborted|premature/i.test(e.message)) {
        return new TransientHttpError(`${o.method} ${redactUrl$1(o.url)}: connection dropped (${code ?? e.message})`);
    }
    return e;
}
/** URLs in messages lose their query (upload session state, tokens in some registries). */
function redactUrl$1(url) {
    const q = url.indexOf('?');
    return q === -1 ? url : `${url.slice(0, q)}?…`;
}
const DEFAULT_RETRY = { attempts: 6, baseDelayMs: 250, maxDelayMs: 20_000 };
/**
 * Run `op`, retrying transient failures with exponential backoff (and jitter), or after the
 * server's Retry-After when it gives one (capped by maxDelayMs). `onRetry` reports each retry.
 */
async function withRetry(op, policy = DEFAULT_RETRY, onRetry) {
    for (let attempt = 1;; attempt++) {
        try {
            return await op(attempt);
        }
        catch (e) {
            if (!(e instanceof TransientHttpError) || attempt >= policy.attempts)
                throw e;
            const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
            const delay = Math.min(policy.maxDelayMs, e.retryAfterMs ?? backoff * (0.5 + Math.random() / 2));
            onRetry?.(e, delay, attempt);
            await new Promise((r) => setTimeout(r, delay));
        }
    }
}

// Credentials for package indexes (private PyPI mirrors, Artifactory, CodeArtifact, GitLab, …),
// found where the tools people already use put them, and kept out of every message:
//
//   1. an explicit credential in the index configuration
//   2. `user:password@` in the index URL (stripped from the URL before it is used or shown)
//   3. environment variables for a named source (NAME = the source name upper-cased, every
//      character that is not a letter or digit as `_`), the first convention that is set:
//        FAST_BUILD_INDEX_<NAME>_USERNAME / _PASSWORD   (ours)
//        POETRY_HTTP_BASIC_<NAME>_USERNAME / _PASSWORD  (Poetry)
//        UV_INDEX_<NAME>_USERNAME / _PASSWORD           (uv)
//   4. ~/.netrc (or the file `NETRC` names): `machine <host> login … password …`, else `default`
//
// A URL that names a user but no password (`https://__token__@host/simple`) takes its password
// from the first of 3–4 that has an entry for that user. Parsing is pure; `resolveIndexCredential`
// is the one function that reads the environment and the netrc file.
/** What a credential is, for messages. */
function describeIndexCredential(c) {
    return `user ${JSON.stringify(c.username)} from ${c.source}`;
}
/**
 * A URL as it may appear in a message or a log: no userinfo, no query (signed download URLs
 * carry tokens there), no fragment. Text that does not parse as a URL still loses `…@` and `?…`.
 */
function redactUrl(url) {
    try {
        const u = new URL(url);
        const hadQuery = u.search !== '';
        u.username = '';
        u.password = '';
        u.search = '';
        u.hash = '';
        return `${u.href}${hadQuery ? '?…' : ''}`;
    }
    catch {
        const noUser = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
        const q = noUser.search(/[?#]/);
        return q === -1 ? noUser : `${noUser.slice(0, q)}${noUser[q] === '?' ? '?…' : ''}`;
    }
}
/** The URL without its userinfo, and the userinfo (percent-decoded) when there is one. */
function splitUserinfo(url) {
    let u;
    try {
        u = new URL(url);
    }
    catch {
        return { url, username: null, password: null };
    }
    if (u.username === '' && u.password === '')
        return { url, username: null, password: null };
    const decode = (s) => {
        try {
            return decodeURIComponent(s);
        }
        catch {
            return s;
        }
    };
    const username = decode(u.username);
    const password = u.password === '' && !/^[^/]*\/\/[^/@]*:[^/@]*@/.test(url) ? null : decode(u.password);
    u.username = '';
    u.password = '';
    return { url: u.href, username, password };
}
/** `my-repo.eu` → `MY_REPO_EU`: how every tool spells a source name in environment variables. */
function envSourceName(name) {
    return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}
/** The environment variable prefixes we read, in order of precedence. */
const ENV_CONVENTIONS = ['FAST_BUILD_INDEX_', 'POETRY_HTTP_BASIC_', 'UV_INDEX_'];
/** The variables that would give a credential for a named source, for hints. */
function credentialEnvNames(sourceName) {
    const n = envSourceName(sourceName);
    return ENV_CONVENTIONS.map((p) => `${p}${n}_USERNAME/_PASSWORD`);
}
/**
 * The credential for a named source from environment variables: the first convention (see
 * ENV_CONVENTIONS) with a username or a password set. A missing half is the empty string (tokens
 * are often given as a password alone).
 */
function credentialFromEnv(sourceName, env) {
    const n = envSourceName(sourceName);
    if (n === '')
        return null;
    for (const prefix of ENV_CONVENTIONS) {
        const user = env[`${prefix}${n}_USERNAME`];
        const pass = env[`${prefix}${n}_PASSWORD`];
        if (user || pass) {
            return { username: user ?? '', password: pass ?? '', source: `${prefix}${n}_USERNAME/_PASSWORD` };
        }
    }
    return null;
}
/**
 * Parse a netrc file as curl and Python's netrc do: whitespace-separated tokens (double quotes
 * group, backslash escapes inside quotes), `#` comments, `machine`/`default` start an entry,
 * `login`/`password`/`account` set its fields, `macdef` bodies run to the next blank line.
 */
function parseNetrc(text) {
    const tokens = tokenizeNetrc(text);
    const entries = [];
    let current = null;
    const flush = () => {
        if (current)
            entries.push({ ...current });
        current = null;
    };
    for (let i = 0; i < tokens.length; i++) {
        const t = tokens[i];
        if (t.kind === 'macdef') {
            flush();
            continue;
        }
        switch (t.value) {
            case 'machine':
                flush();
                current = { machine: (tokens[++i]?.value ?? '').toLowerCase(), login: null, password: null };
                break;
            case 'default':
                flush();
                current = { machine: null, login: null, password: null };
                break;
            case 'login':
                if (current)
                    current.login = tokens[++i]?.value ?? null;
                else
                    i++;
                break;
            case 'password':
                if (current)
                    current.password = tokens[++i]?.value ?? null;
                else
                    i++;
                break;
            case 'account':
                i++;
                break;
        }
    }
    flush();
    return entries;
}
function tokenizeNetrc(text) {
    const out = [];
    let i = 0;
    const n = text.length;
    while (i < n) {
        const c = text[i];
        if (/\s/.test(c)) {
            i++;
            continue;
        }
        if (c === '#') {
            while (i < n && text[i] !== '\n')
                i++;
            continue;
        }
        let value = '';
        if (c === '"') {
            i++;
            while (i < n && text[i] !== '"') {
                if (text[i] === '\\' && i + 1 < n)
                    i++;
                value += text[i];
                i++;
            }
            i++;
        }
        else {
            while (i < n && !/\s/.test(text[i])) {
                if (text[i] === '\\' && i + 1 < n)
                    i++;
                value += text[i];
                i++;
            }
        }
        if (value === 'macdef') {
            // The macro's name, then its body up to an empty line.
            const end = text.indexOf('\n\n', i);
            i = end === -1 ? n : end + 2;
            out.push({ kind: 'macdef', value });
            continue;
        }
        out.push({ kind: 'word', value });
    }
    return out;
}
/** The netrc entry for `host` (the first `machine` that names it, else `default`), optionally for one login. */
function netrcCredential(entries, host, login = null) {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    const fits = (e) => e.password !== null && (login === null || e.login === login);
    const match = entries.find((e) => e.machine === h && fits(e)) ?? entries.find((e) => e.machine === null && fits(e));
    if (!match)
        return null;
    return { username: match.login ?? '', password: match.password ?? '' };
}
function netrcPath(env, home = homedir()) {
    return env['NETRC'] || join(home, '.netrc');
}
function readNetrcFile(path) {
    try {
        return readFileSync(path, 'utf8');
    }
    catch {
        // Missing or unreadable: no credentials from it (as pip and uv behave).
        return null;
    }
}
/**
 * The index URL without userinfo, and the credential for it (see the order at the top of this
 * file). The edge of this module: reads the environment and the netrc file.
 */
function resolveIndexCredential(config, lookup = {}) {
    const split = splitUserinfo(config.url);
    const url = split.url;
    if (config.credential) {
        const source = 'source' in config.credential ? String(config.credential.source) : 'the index configuration';
        return {
            url,
            credential: { username: config.credential.username, password: config.credential.password, source }
        };
    }
    if (split.username !== null && split.password !== null) {
        return {
            url,
            credential: { username: split.username, password: split.password, source: 'the index URL' }
        };
    }
    // `credential: null` means "already looked up: none" (see indexConfigFor).
    if (config.credential === null) {
        return {
            url,
            credential: split.username !== null ? { username: split.username, password: '', source: 'the index URL' } : null
        };
    }
    const env = lookup.env ?? process.env;
    let host = null;
    try {
        const u = new URL(url);
        if (u.protocol === 'http:' || u.protocol === 'https:')
            host = u.hostname;
    }
    catch {
        host = null;
    }
    const fromEnv = config.name ? credentialFromEnv(config.name, env) : null;
    const wantUser = split.username;
    if (fromEnv && (wantUser === null || fromEnv.username === wantUser))
        return { url, credential: fromEnv };
    if (host !== null) {
        const path = netrcPath(env, lookup.home);
        const text = (lookup.readNetrc ?? readNetrcFile)(path);
        if (text !== null) {
            const c = netrcCredential(parseNetrc(text), host, wantUser);
            if (c)
                return { url, credential: { ...c, source: path.replace(lookup.home ?? homedir(), '~') } };
        }
    }
    if (wantUser !== null) {
        return { url, credential: { username: wantUser, password: '', source: 'the index URL' } };
    }
    return { url, credential: null };
}
/**
 * An index configuration with its credential looked up now (in `env` and the netrc file), for a
 * lock's registry source or a mirror: the URL loses its userinfo, `credential` is the one found
 * (with its source, for messages) or null, which tells PackageIndex not to look again.
 */
function indexConfigFor(url, name, env = process.env, lookup = {}) {
    const resolved = resolveIndexCredential({ url, name }, { ...lookup, env });
    return { url: resolved.url, name, credential: resolved.credential };
}
/** `Authorization` header value for a basic credential. */
function basicAuthorization(c) {
    return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

// A client for the Python "simple" repository API: the files a project has on an index, with
// their absolute URLs and hashes. Speaks PEP 691 JSON and falls back to PEP 503 HTML, for
// `http(s)://` indexes (PyPI, private indexes, download.pytorch.org) and `file://` trees (a local
// mirror laid out as `<root>/<project>/index.html`). The page parsers are pure; `PackageIndex`
// is the edge that fetches pages, with redirects, retries of transient failures, credentials only
// for the index's own origin, and one fetch per project per run.
/** The Accept header of PEP 691: JSON preferred, HTML accepted. */
const SIMPLE_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';
/** The index could not answer for a project, or does not list a file. */
class IndexError extends FastBuildError {
    index;
    project;
    filename;
    temporary;
    constructor(message, 
    /** The index URL, redacted. */
    index, project, filename, hint, 
    /** A failure that may go away on its own (network, 5xx). */
    temporary = false) {
        super(message, {}, hint);
        this.index = index;
        this.project = project;
        this.filename = filename;
        this.temporary = temporary;
    }
}
// ---------------------------------------------------------------------------------------------
// Pure part: URLs and page parsing.
/** `https://pypi.org/simple` + `Foo.Bar` → `https://pypi.org/simple/foo-bar/`. */
function projectPageUrl(indexUrl, project) {
    const base = indexUrl.replace(/\/+$/, '');
    return `${base}/${encodeURIComponent(normalizeName(project))}/`;
}
const NAMED_ENTITIES = {
    amp: '&',
    lt: '<',
    gt: '>',
    quot: '"',
    apos: "'",
    nbsp: '\u00a0',
    equals: '=',
    excl: '!',
    comma: ',',
    period: '.',
    colon: ':',
    semi: ';',
    sol: '/',
    num: '#',
    percnt: '%',
    plus: '+',
    ast: '*',
    lpar: '(',
    rpar: ')',
    tilde: '~'
};
/** HTML character references: `&gt;`, `&#62;`, `&#x3e;`. Unknown names stay as written. */
function decodeHtmlEntities(s) {
    if (!s.includes('&'))
        return s;
    return s.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);?/g, (whole, ref) => {
        if (ref[0] === '#') {
            const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
            if (!Number.isFinite(code) || code < 0 || code > 0x10ffff)
                return whole;
            try {
                return String.fromCodePoint(code);
            }
            catch {
                return whole;
            }
        }
        return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
    });
}
function lastSegment(url) {
    const path = url.pathname;
    const last = path.slice(path.lastIndexOf('/') + 1);
    try {
        return decodeURIComponent(last);
    }
    catch {
        return last;
    }
}
/** An absolute URL without userinfo and fragment; the fragment's `algo=hex`, if any. */
function resolveHref(href, base) {
    const u = new URL(href, base);
    let hash = null;
    const m = /^#([a-zA-Z0-9_]+)=([0-9a-fA-F]+)$/.exec(u.hash);
    if (m)
        hash = [m[1].toLowerCase(), m[2].toLowerCase()];
    u.hash = '';
    u.username = '';
    u.password = '';
    return { url: u.href, hash };
}
/** Read the start tag at `text[at] === '<'`: its name and attributes (values entity-decoded). */
function readStartTag(text, at) {
    let i = at + 1;
    const n = text.length;
    const nameMatch = /^[a-zA-Z][a-zA-Z0-9-]*/.exec(text.slice(i, i + 32));
    if (!nameMatch)
        return null;
    const name = nameMatch[0].toLowerCase();
    i += nameMatch[0].length;
    const attrs = new Map();
    while (i < n) {
        while (i < n && /\s/.test(text[i]))
            i++;
        if (i >= n)
            return null;
        if (text[i] === '>')
            return { name, attrs, end: i + 1 };
        if (text[i] === '/') {
            i++;
            continue;
        }
        let attrName = '';
        while (i < n && !/[\s=>/]/.test(text[i]))
            attrName += text[i++];
        while (i < n && /\s/.test(text[i]))
            i++;
        let value = '';
        if (text[i] === '=') {
            i++;
            while (i < n && /\s/.test(text[i]))
                i++;
            const q = text[i];
            if (q === '"' || q === "'") {
                const close = text.indexOf(q, i + 1);
                if (close === -1)
                    return null;
                value = text.slice(i + 1, close);
                i = close + 1;
            }
            else {
                while (i < n && !/[\s>]/.test(text[i]))
                    value += text[i++];
            }
        }
        if (attrName !== '' && !attrs.has(attrName.toLowerCase()))
            attrs.set(attrName.toLowerCase(), decodeHtmlEntities(value));
    }
    return null;
}
/**
 * PEP 503 (with PEP 592 yanking and PEP 658/714 attributes ignored): every `<a href>` on the page
 * is a file. The file name is the last path segment of the URL, percent-decoded (as pip reads it:
 * `torch-2.7.0%2Bcu126-….whl` is `torch-2.7.0+cu126-….whl`); hrefs resolve against `<base href>`
 * when the page has one, else the page URL; `#sha256=…` fragments are the hashes.
 */
function parseSimpleHtml(html, pageUrl) {
    const text = html.replace(/<!--[\s\S]*?(-->|$)/g, '');
    let base = pageUrl;
    const files = [];
    const starts = /<(?:a|base)[\s>]/gi;
    for (let m = starts.exec(text); m !== null; m = starts.exec(text)) {
        const tag = readStartTag(text, m.index);
        if (!tag)
            continue;
        starts.lastIndex = tag.end;
        if (tag.name === 'base') {
            const href = tag.attrs.get('href');
            if (href) {
                try {
                    base = new URL(href, pageUrl).href;
                }
                catch {
                    // An unusable <base> is ignored, as browsers do.
                }
            }
            continue;
        }
        const href = tag.attrs.get('href');
        if (href === undefined || href.trim() === '')
            continue;
        const closeRe = /<\/a\s*>/gi;
        closeRe.lastIndex = tag.end;
        const close = closeRe.exec(text);
        const inner = close === null ? '' : text.slice(tag.end, close.index);
        let resolved;
        try {
            resolved = resolveHref(href.trim(), base);
        }
        catch {
            continue;
        }
        const anchorText = decodeHtmlEntities(inner.replace(/<[^>]*>/g, '')).trim();
        const filename = lastSegment(new URL(resolved.url)) || anchorText;
        if (filename === '')
            continue;
        const yanked = tag.attrs.get('data-yanked');
        const requiresPython = tag.attrs.get('data-requires-python');
        files.push({
            filename,
            url: resolved.url,
            hashes: resolved.hash ? { [resolved.hash[0]]: resolved.hash[1] } : {},
            requiresPython: requiresPython === undefined || requiresPython === '' ? null : requiresPython,
            yanked: yanked === undefined ? false : yanked === '' ? true : yanked,
            size: null
        });
    }
    return files;
}
/** A page that is not what it should be; the caller adds which index and project. */
class PageFormatError extends Error {
}
/** PEP 691 JSON (api-version 1.x): `files[]` with `filename`, `url` (may be relative), `hashes`, … */
function parseSimpleJson(json, pageUrl) {
    let doc;
    try {
        doc = JSON.parse(json);
    }
    catch (e) {
        throw new PageFormatError(`not valid JSON (${e.message})`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
        throw new PageFormatError('not a JSON object');
    const o = doc;
    const meta = o['meta'];
    const version = typeof meta === 'object' && meta !== null ? meta['api-version'] : undefined;
    if (typeof version !== 'string')
        throw new PageFormatError('no meta.api-version');
    if (version.split('.')[0] !== '1')
        throw new PageFormatError(`api-version ${version} is not supported (only 1.x)`);
    const list = o['files'];
    if (!Array.isArray(list))
        throw new PageFormatError('no files list');
    const files = [];
    list.forEach((f, i) => {
        if (typeof f !== 'object' || f === null)
            throw new PageFormatError(`files[${i}] is not an object`);
        const e = f;
        const filename = e['filename'];
        const href = e['url'];
        if (typeof filename !== 'string' || filename === '')
            throw new PageFormatError(`files[${i}].filename is missing`);
        if (typeof href !== 'string' || href === '')
            throw new PageFormatError(`files[${i}].url is missing`);
        let resolved;
        try {
            resolved = resolveHref(href, pageUrl);
        }
        catch {
            throw new PageFormatError(`files[${i}].url is not a URL: ${JSON.stringify(redactUrl(href))}`);
        }
        const hashes = {};
        const h = e['hashes'];
        if (typeof h === 'object' && h !== null) {
            for (const [k, v] of Object.entries(h))
                if (typeof v === 'string')
                    hashes[k.toLowerCase()] = v.toLowerCase();
        }
        const rp = e['requires-python'];
        const y = e['yanked'];
        const size = e['size'];
        files.push({
            filename,
            url: resolved.url,
            hashes,
            requiresPython: typeof rp === 'string' && rp !== '' ? rp : null,
            yanked: typeof y === 'string' ? (y === '' ? true : y) : y === true,
            size: typeof size === 'number' ? size : null
        });
    });
    return files;
}
/** Choose the parser by Content-Type (PEP 691), or by the first character when there is none (file://). */
function parseSimplePage(body, contentType, pageUrl) {
    const ct = (contentType ?? '').toLowerCase();
    const json = ct.includes('json') || (ct === '' && body.trimStart().startsWith('{'));
    return json ? parseSimpleJson(body, pageUrl) : parseSimpleHtml(body, pageUrl);
}
const REDIRECTS$1 = new Set([301, 302, 303, 307, 308]);
let sharedClient = null;
function defaultHttp() {
    sharedClient ??= new HttpClient({ idleTimeoutMs: 60_000 });
    return sharedClient;
}
class PackageIndex {
    config;
    http;
    options;
    /** The index URL without userinfo (safe to show). */
    url;
    name;
    pages = new Map();
    resolved = null;
    constructor(config, http = defaultHttp(), options = {}) {
        this.config = config;
        this.http = http;
        this.options = options;
        this.url = redactUrl(config.url).replace(/\?…$/, '');
        this.name = config.name ?? null;
    }
    /** The index URL without userinfo and the credential for it (looked up once, on first use). */
    get access() {
        this.resolved ??= resolveIndexCredential(this.config, this.options.credentials);
        return this.resolved;
    }
    /** The credential in use, described (user and source, never the secret); null when anonymous. */
    describeCredential() {
        const c = this.access.credential;
        return c ? describeIndexCredential(c) : null;
    }
    /**
     * `Authorization` for a request to `url`: the index's credential when `url` has the index's
     * origin (scheme, host, port), so credentials never travel to another host (a CDN, a redirect).
     */
    authorizationFor(url) {
        const c = this.access.credential;
        if (!c)
            return null;
        try {
            return new URL(url).origin === new URL(this.access.url).origin ? basicAuthorization(c) : null;
        }
        catch {
            return null;
        }
    }
    /** Every file the index lists for `project` (fetched once per PackageIndex). */
    files(project) {
        const name = normalizeName(project);
        let page = this.pages.get(name);
        if (!page) {
            page = this.fetchProject(name);
            this.pages.set(name, page);
            page.catch(() => this.pages.delete(name));
        }
        return page;
    }
    /** The file named `filename` (exactly; else ignoring case), or null when the index does not list it. */
    async find(project, filename) {
        const files = await this.files(project);
        return (files.find((f) => f.filename === filename) ??
            files.find((f) => f.filename.toLowerCase() === filename.toLowerCase()) ??
            null);
    }
    /** Like `find`, but a file that is not listed is an IndexError naming the index, project and file. */
    async get(project, filename) {
        const found = await this.find(project, filename);
        if (found)
            return found;
        const files = await this.files(project);
        const name = normalizeName(project);
        const listed = files.length === 0
            ? 'it lists no files for the project'
            : `it lists ${files.length} file${files.length === 1 ? '' : 's'} for the project, not this one`;
        throw new IndexError(`${filename} (${name}) is not on the index ${this.url}: ${listed}`, this.url, name, filename, 'the lock pins a file this index does not serve (removed, or locked against another index): ' +
            're-lock, or point the package source (or the mirror) at an index that has the file');
    }
    async fetchProject(project) {
        const pageUrl = projectPageUrl(this.access.url, project);
        if (pageUrl.startsWith('file:'))
            return this.readFileProject(project, pageUrl);
        if (!/^https?:/i.test(pageUrl)) {
            throw new IndexError(`the index URL ${this.url} is neither http(s):// nor file://`, this.url, project, null, 'use the index URL as pip would (https://host/simple or file:///path/to/simple)');
        }
        const res = await this.getPage(project, pageUrl);
        try {
            return parseSimplePage(res.body.toString('utf8'), res.headers['content-type'] ?? null, res.url);
        }
        catch (e) {
            throw this.badPage(project, res.url, e);
        }
    }
    async readFileProject(project, pageUrl) {
        let path;
        try {
            path = fileURLToPath(pageUrl);
        }
        catch (e) {
            throw new IndexError(`the index URL ${this.url} is not a local path: ${e.message}`, this.url, project, null, 'write file:// index URLs as file:///absolute/path/to/simple');
        }
        // pip reads `<dir>/index.html` for a directory URL.
        let file = path;
        let url = pageUrl;
        try {
            if ((await stat(path)).isDirectory()) {
                file = `${path.replace(/\/+$/, '')}/index.html`;
                url = new URL('index.html', pageUrl).href;
            }
        }
        catch {
            throw this.notFound(project, pageUrl, 'no such directory');
        }
        let text;
        try {
            text = await readFile(file, 'utf8');
        }
        catch (e) {
            const code = e.code;
            if (code === 'ENOENT')
                throw this.notFound(project, pageUrl, `no ${file}`);
            throw new IndexError(`cannot read the index page for ${project} at ${file}: ${e.message}`, this.url, project, null, 'check the permissions of the local index');
        }
        try {
            return parseSimplePage(text, null, url);
        }
        catch (e) {
            throw this.badPage(project, url, e);
        }
    }
    /** GET a page with PEP 691 negotiation, following redirects, retrying transient failures. */
    async getPage(project, firstUrl) {
        const maxRedirects = this.options.maxRedirects ?? 10;
        let url = firstUrl;
        for (let hops = 0;; hops++) {
            const target = url;
            let res;
            try {
                res = await withRetry(async () => {
                    const headers = { accept: SIMPLE_ACCEPT };
                    const auth = this.authorizationFor(target);
                    if (auth)
                        headers['authorization'] = auth;
                    const r = await this.http.request({
                        method: 'GET',
                        url: target,
                        headers,
                        maxBody: this.options.maxPage ?? 64 * 1024 * 1024
                    });
                    if (isRetryableStatus(r.status)) {
                        throw new TransientHttpError(`GET ${redactUrl(target)}: ${r.status}`, parseRetryAfter(r.headers['retry-after']));
                    }
                    return r;
                }, this.options.retry ?? DEFAULT_RETRY, this.options.onRetry);
            }
            catch (e) {
                if (e instanceof IndexError)
                    throw e;
                const transient = e instanceof TransientHttpError;
                throw new IndexError(`cannot get project ${project} from the index ${this.url}: ${e.message}`, this.url, project, null, transient
                    ? 'the index did not answer (network, or the index is down): run again later, or use a mirror index that is reachable'
                    : 'check the index URL (the package source in the lock or pyproject.toml) and the network', transient);
            }
            if (REDIRECTS$1.has(res.status) && res.headers['location']) {
                if (hops >= maxRedirects) {
                    throw new IndexError(`the index ${this.url} redirected more than ${maxRedirects} times for project ${project}`, this.url, project, null, 'check the index URL; the server redirects in a loop');
                }
                url = new URL(res.headers['location'], target).href;
                if (!/^https?:/i.test(url)) {
                    throw new IndexError(`the index ${this.url} redirected project ${project} to ${redactUrl(url)}, which is not http(s)`, this.url, project, null, 'check the index URL');
                }
                continue;
            }
            if (res.status === 200)
                return res;
            if (res.status === 404 || res.status === 410) {
                throw this.notFound(project, target, `GET ${redactUrl(target)} answered ${res.status}`);
            }
            if (res.status === 401 || res.status === 403)
                throw this.denied(project, target, res.status);
            throw new IndexError(`the index ${this.url} answered ${res.status} for project ${project} (GET ${redactUrl(target)})`, this.url, project, null, 'check the index URL; the server does not speak the simple repository API (PEP 503/691) there');
        }
    }
    notFound(project, pageUrl, detail) {
        return new IndexError(`project ${project} is not on the index ${this.url} (${detail.replace(pageUrl, redactUrl(pageUrl))})`, this.url, project, null, 'check that the package source in the lock points at the index that serves it (and re-lock), ' +
            'or add the project to the mirror');
    }
    denied(project, pageUrl, status) {
        const c = this.access.credential;
        const names = this.name ? credentialEnvNames(this.name).join(', ') : null;
        const hint = c
            ? `the index rejected ${describeIndexCredential(c)}: check the username and password (or token) and their access to the index`
            : `give credentials for the index: ${names ? `set ${names}, ` : ''}put user:password@ in the index URL, or add "machine ${hostOf(pageUrl)} login … password …" to ~/.netrc`;
        return new IndexError(`the index ${this.url} refused access to project ${project} (${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'})`, this.url, project, null, hint);
    }
    badPage(project, pageUrl, e) {
        return new IndexError(`the index ${this.url} served a page for project ${project} that is not a simple-API page (${redactUrl(pageUrl)}): ${e.message}`, this.url, project, null, 'check the index URL: it must be the simple API root (…/simple), not the project web site');
    }
}
function hostOf(url) {
    try {
        return new URL(url).hostname;
    }
    catch {
        return 'HOST';
    }
}

// Getting the exact files a lock pins: find each file's URL (the lock's own, a mirror's, or the
// package index's), download it in parallel while hashing it, check the sha256 the lock pins, and
// keep it in a content-addressed cache. A file enters the cache only under its verified hash (it
// is written to a temporary name and renamed), so a cache hit is whole and right, and costs no
// network. Transient failures (5xx, 429, dropped connections, stalls) are retried from scratch
// with the registry client's policy; everything else fails at once with a message that names the
// package, the file, where it came from (credentials and queries removed) and what to do.
// ---------------------------------------------------------------------------------------------
// The cache.
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** `$FAST_BUILD_CACHE_DIR`, else `$XDG_CACHE_HOME/fast-build`, else `~/.cache/fast-build`. */
function defaultCacheDir(env = process.env, home = homedir()) {
    const explicit = env['FAST_BUILD_CACHE_DIR'];
    if (explicit)
        return resolve(explicit);
    const xdg = env['XDG_CACHE_HOME'];
    if (xdg && isAbsolute(xdg))
        return join(xdg, 'fast-build');
    return join(home, '.cache', 'fast-build');
}
/**
 * Files by their sha256: `<dir>/sha256/<first two hex digits>/<hex>`. Entries appear only by
 * rename from `<dir>/tmp/`, after their hash was computed, so a present entry is always whole.
 */
class ArtifactCache {
    dir;
    constructor(dir = defaultCacheDir()) {
        this.dir = resolve(dir);
    }
    pathFor(sha256Hex) {
        const h = sha256Hex.toLowerCase();
        if (!SHA256_HEX.test(h))
            throw new FetchError(`not a sha256 digest: ${JSON.stringify(sha256Hex)}`);
        return join(this.dir, 'sha256', h.slice(0, 2), h);
    }
    /** Whether the cache holds the file (and, when `size` is given, with that size). */
    has(sha256Hex, size = null) {
        return this.sizeOf(sha256Hex, size) !== null;
    }
    /** The cached file's size, or null when it is not cached (or has another size than `size`). */
    sizeOf(sha256Hex, size = null) {
        try {
            const s = statSync(this.pathFor(sha256Hex));
            return s.isFile() && (size === null || s.size === size) ? s.size : null;
        }
        catch {
            return null;
        }
    }
    /** A fresh temporary file name on the cache's file system (the directory exists). */
    async tempPath() {
        const dir = join(this.dir, 'tmp');
        await mkdir(dir, { recursive: true });
        return join(dir, `${process.pid}-${randomBytes(8).toString('hex')}.part`);
    }
    /**
     * Move `tempPath` into the cache as `sha256Hex`, which must be the hash of its content as
     * computed while it was written (fetchArtifacts does so). Atomic: readers see all or nothing.
     */
    async commit(tempPath, sha256Hex) {
        const final = this.pathFor(sha256Hex);
        await mkdir(dirname(final), { recursive: true });
        await rename(tempPath, final);
        return final;
    }
    /** Remove temporary files older than `maxAgeMs` (left by runs that were killed). Best effort. */
    async pruneTemp(maxAgeMs = 24 * 3600_000) {
        const dir = join(this.dir, 'tmp');
        let names;
        try {
            names = await readdir(dir);
        }
        catch {
            return;
        }
        const before = Date.now() - maxAgeMs;
        for (const name of names) {
            const p = join(dir, name);
            try {
                if ((await stat(p)).mtimeMs < before)
                    await rm(p, { force: true });
            }
            catch {
                // Another run may have just renamed or removed it.
            }
        }
    }
    /** Store bytes; returns their sha256 and cache path. */
    async put(data) {
        const sha256 = createHash('sha256').update(data).digest('hex');
        if (this.has(sha256))
            return { sha256, path: this.pathFor(sha256) };
        const temp = await this.tempPath();
        await writeFile(temp, data);
        return { sha256, path: await this.commit(temp, sha256) };
    }
}
/** A file could not be fetched. */
class FetchError extends FastBuildError {
}
/** A file's sha256 is not the one the lock pins. */
class HashMismatchError extends FetchError {
    project;
    version;
    filename;
    expected;
    actual;
    from;
    by;
    constructor(project, version, filename, expected, actual, 
    /** Where the file came from (URL redacted, or a path). */
    from, 
    /** 'download': the bytes were hashed; 'listing': the index lists another hash. */
    by = 'download') {
        const what = `${label(project, version)}: ${filename}`;
        super(by === 'download'
            ? `${what} from ${from} has sha256 ${actual}, but the lock pins sha256 ${expected}`
            : `${what}: the index ${from} lists sha256 ${actual}, but the lock pins sha256 ${expected}`, {}, `${by === 'download' ? 'the download was discarded. ' : ''}If the package was re-published, re-lock; ` +
            'otherwise the index (or mirror) serves a different file than the one the lock was made from: ' +
            'check the package source and the mirror');
        this.project = project;
        this.version = version;
        this.filename = filename;
        this.expected = expected;
        this.actual = actual;
        this.from = from;
        this.by = by;
    }
}
function label(name, version) {
    return version ? `${name} ${version}` : name;
}
function itemLabel(item) {
    return label(item.name, item.version);
}
/** The sha256 the lock pins for the item, lowercase; null when it pins none. */
function pinnedSha256(file) {
    const h = file.hashes['sha256'];
    return h && SHA256_HEX.test(h.toLowerCase()) ? h.toLowerCase() : null;
}
// ---------------------------------------------------------------------------------------------
// Fetching.
const PROGRESS_STEP = 1024 * 1024;
const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/**
 * Fetch every item into the cache, `concurrency` at a time; results in the order of `items`. Items
 * with the same sha256 are fetched once. Before any network, every item must pin a sha256. On a
 * failure no further downloads start; the ones running finish, and the failure is thrown (several:
 * one FetchError listing them).
 */
async function fetchArtifacts(items, opts) {
    const unpinned = items.filter((i) => pinnedSha256(i.file) === null);
    if (unpinned.length > 0)
        throw unpinnedError(unpinned);
    await opts.cache.pruneTemp();
    const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 8));
    const ownHttp = opts.http === undefined;
    const run = {
        opts,
        cache: opts.cache,
        retry: opts.retry ?? DEFAULT_RETRY,
        idleMs: opts.idleTimeoutMs ?? 60_000,
        agents: {
            http: new http.Agent({ keepAlive: true, maxSockets: concurrency }),
            https: new https.Agent({ keepAlive: true, maxSockets: concurrency })
        },
        indexes: new Map(),
        http: opts.http ?? new HttpClient({ idleTimeoutMs: opts.idleTimeoutMs ?? 60_000 }),
        emit: (e) => {
            try {
                opts.onProgress?.(e);
            }
            catch {
                // A progress printer that throws must not break a download.
            }
        }
    };
    // One job per distinct sha256.
    const jobs = new Map();
    for (const item of items) {
        const sha256 = pinnedSha256(item.file);
        if (!jobs.has(sha256))
            jobs.set(sha256, { item, sha256 });
    }
    const done = new Map();
    const queue = [...jobs.values()];
    const errors = [];
    let next = 0;
    const worker = async () => {
        while (errors.length === 0 && next < queue.length) {
            const job = queue[next++];
            try {
                done.set(job.sha256, await fetchOne(run, job.item, job.sha256));
            }
            catch (e) {
                errors.push(e);
            }
        }
    };
    try {
        await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
    }
    finally {
        run.agents.http.destroy();
        run.agents.https.destroy();
        if (ownHttp)
            run.http.close();
    }
    if (errors.length === 1)
        throw errors[0];
    if (errors.length > 1) {
        const skipped = queue.length - next;
        throw new FetchError(`${errors.length} files could not be fetched${skipped > 0 ? ` (${skipped} more not attempted)` : ''}:\n` +
            errors.map((e) => `  - ${describeError(e).replace(/\n/g, '\n    ')}`).join('\n'));
    }
    return items.map((item) => ({ item, ...done.get(pinnedSha256(item.file)) }));
}
function unpinnedError(items) {
    const shown = items.slice(0, 5).map((i) => {
        const algos = Object.keys(i.file.hashes);
        return `${itemLabel(i)} (${i.file.name}${algos.length > 0 ? `: only ${algos.join(', ')}` : ': no hash'})`;
    });
    const more = items.length > 5 ? ` and ${items.length - 5} more` : '';
    return new FetchError(`the lock pins no sha256 for ${items.length === 1 ? 'a file' : `${items.length} files`}: ${shown.join(', ')}${more}`, {}, 'fast-build installs only files it can verify: re-lock with hashes (Poetry, uv and pylock record sha256 by default)');
}
function indexFor(run, config) {
    const key = `${config.name ?? ''}\n${config.url}`;
    let index = run.indexes.get(key);
    if (!index) {
        const o = {
            retry: run.retry,
            ...(run.opts.credentials ? { credentials: run.opts.credentials } : {})
        };
        index = new PackageIndex(config, run.http, o);
        run.indexes.set(key, index);
    }
    return index;
}
async function locate(run, item, sha256) {
    const { file } = item;
    if (file.path !== null) {
        const base = run.opts.baseDir ?? process.cwd();
        return { kind: 'path', path: isAbsolute(file.path) ? file.path : resolve(base, file.path) };
    }
    const viaIndex = async (config) => {
        const index = indexFor(run, config);
        const listed = await index.get(item.name, file.name);
        checkListing(item, sha256, listed, index.url);
        return asOrigin(listed.url, (u) => index.authorizationFor(u));
    };
    if (run.opts.mirror && item.index !== null)
        return viaIndex(run.opts.mirror);
    if (file.url !== null) {
        // A lock URL may carry its own userinfo (pylock allows it); it is used for that origin only.
        const split = splitUserinfo(file.url);
        const own = split.username !== null
            ? basicAuthorization({ username: split.username, password: split.password ?? '' })
            : null;
        const index = item.index && item.index.url !== '' ? indexFor(run, item.index) : null;
        return asOrigin(split.url, (u) => {
            if (own !== null && sameOrigin(u, split.url))
                return own;
            return index ? index.authorizationFor(u) : null;
        });
    }
    if (item.index !== null && item.index.url !== '')
        return viaIndex(item.index);
    throw new FetchError(`${itemLabel(item)}: the lock gives no URL for ${file.name} and no index to find it on`, {}, 'set a mirror index (every registry file is then looked up there by name), or re-lock so the lock records the index');
}
function asOrigin(url, authorize) {
    if (url.startsWith('file:'))
        return { kind: 'path', path: fileURLToPath(url) };
    return { kind: 'url', url, authorize };
}
function sameOrigin(a, b) {
    try {
        return new URL(a).origin === new URL(b).origin;
    }
    catch {
        return false;
    }
}
/** An index that lists a different sha256 than the lock pins serves another file: stop before downloading. */
function checkListing(item, expected, listed, indexUrl) {
    const actual = listed.hashes['sha256'];
    if (actual !== undefined && actual !== expected) {
        throw new HashMismatchError(item.name, item.version, item.file.name, expected, actual, indexUrl, 'listing');
    }
}
async function fetchOne(run, item, sha256) {
    const cachedSize = run.cache.sizeOf(sha256, item.file.size);
    if (cachedSize !== null) {
        const path = run.cache.pathFor(sha256);
        run.emit({ kind: 'cached', item, path, size: cachedSize });
        return { path, sha256, size: cachedSize, cached: true };
    }
    const origin = await locate(run, item, sha256);
    const started = Date.now();
    const from = origin.kind === 'url' ? redactUrl(origin.url) : origin.path;
    run.emit({ kind: 'start', item, url: from, total: item.file.size });
    let lastStep = 0;
    const onBytes = (bytes, total) => {
        const step = Math.floor(bytes / PROGRESS_STEP);
        if (step > lastStep || (total !== null && bytes === total)) {
            lastStep = step;
            run.emit({ kind: 'progress', item, bytes, total: total ?? item.file.size });
        }
    };
    const temp = await run.cache.tempPath();
    try {
        const got = origin.kind === 'path'
            ? await copyLocal(item, origin.path, temp, onBytes)
            : await downloadWithRetry(run, item, origin, temp, (bytes, total) => {
                if (bytes === 0)
                    lastStep = 0;
                onBytes(bytes, total);
            });
        if (got.sha256 !== sha256) {
            throw new HashMismatchError(item.name, item.version, item.file.name, sha256, got.sha256, from);
        }
        const path = await run.cache.commit(temp, sha256);
        run.emit({ kind: 'done', item, path, bytes: got.bytes, ms: Date.now() - started });
        return { path, sha256, size: got.bytes, cached: false };
    }
    finally {
        await rm(temp, { force: true });
    }
}
function meter(onBytes, total) {
    const hash = createHash('sha256');
    let bytes = 0;
    const stream = new Transform({
        transform(chunk, _encoding, callback) {
            hash.update(chunk);
            bytes += chunk.length;
            onBytes(bytes, total);
            callback(null, chunk);
        }
    });
    return { stream, result: () => ({ bytes, sha256: hash.digest('hex') }), bytes: () => bytes };
}
async function copyLocal(item, path, temp, onBytes) {
    let size;
    try {
        const s = await stat(path);
        if (!s.isFile())
            throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
        size = s.size;
    }
    catch (e) {
        const code = e.code;
        throw new FetchError(`${itemLabel(item)}: ${item.file.name}: ${code === 'ENOENT' ? 'no such file' : e.message}: ${path}`, {}, item.file.path !== null
            ? 'the lock points at a local file that is not there: build from the directory the lock was made in, or re-lock'
            : 'the local index lists a file that is not there: repair the mirror, or use another index');
    }
    const m = meter(onBytes, size);
    await pipeline(createReadStream(path), m.stream, createWriteStream(temp));
    return m.result();
}
async function downloadWithRetry(run, item, origin, temp, onBytes) {
    try {
        return await withRetry(() => downloadOnce(run, origin, origin.url, temp, onBytes, 0), run.retry, (e, delayMs, attempt) => run.emit({ kind: 'retry', item, attempt, delayMs, reason: e.message }));
    }
    catch (e) {
        throw describeDownloadFailure(run, item, origin.url, e);
    }
}
class StatusFailure extends Error {
    status;
    url;
    constructor(status, url) {
        super(`GET ${redactUrl(url)}: ${status}`);
        this.status = status;
        this.url = url;
    }
}
class NoSuchHost extends Error {
    host;
    constructor(host) {
        super(`no such host: ${host}`);
        this.host = host;
    }
}
/** What to do about a 401/403: the variables for the index's name, or why the credential failed. */
function downloadAccessHint(item, url) {
    const c = item.index?.credential;
    if (c)
        return `the server rejected the credential for ${redactUrl(item.index.url)}: check the username and password (or token) and their access`;
    const name = item.index?.name;
    const vars = name
        ? `set ${credentialEnvNames(name).join(', ')}`
        : 'name the index in pyproject.toml ([[tool.uv.index]] or [[tool.poetry.source]]) and set FAST_BUILD_INDEX_<NAME>_USERNAME/_PASSWORD';
    const host = URL.canParse(url) ? new URL(url).hostname : '<host>';
    return `give credentials for the index: ${vars}, put user:password@ in the index URL, or add "machine ${host} login … password …" to ~/.netrc`;
}
function describeDownloadFailure(run, item, url, e) {
    const what = `${itemLabel(item)}: cannot download ${item.file.name} from ${redactUrl(url)}`;
    if (e instanceof StatusFailure) {
        if (e.status === 404 || e.status === 410) {
            return new FetchError(`${what}: the server answered ${e.status} (not found)${e.url !== url ? ` at ${redactUrl(e.url)}` : ''}`, {}, 'the file is no longer where the lock says: re-lock, or set a mirror index that has it');
        }
        if (e.status === 401 || e.status === 403) {
            return new FetchError(`${what}: the server answered ${e.status} (${e.status === 401 ? 'unauthorized' : 'forbidden'})`, {}, downloadAccessHint(item, url));
        }
        return new FetchError(`${what}: the server answered ${e.status}`, {}, 'check the URL in the lock and the index');
    }
    if (e instanceof NoSuchHost) {
        return new FetchError(`${what}: ${e.host} does not resolve (no such host)`, {}, 'check the network and DNS; on a runner without access to that host, set a mirror index that has the files');
    }
    if (e instanceof TransientHttpError) {
        return new FetchError(`${what}: ${e.message} (gave up after ${run.retry.attempts} attempts)`, {}, 'the server or the network is failing: run again later (files already fetched stay in the cache), or set a reachable mirror index');
    }
    if (e instanceof FastBuildError)
        return e;
    return new FetchError(`${what}: ${e.message}`);
}
const DROPPED = new Set([
    'ECONNRESET',
    'EPIPE',
    'ETIMEDOUT',
    'ECONNABORTED',
    'EAI_AGAIN',
    'ECONNREFUSED',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'UND_ERR_SOCKET',
    'ERR_STREAM_PREMATURE_CLOSE'
]);
function networkError(e, url, timedOut, idleMs) {
    if (timedOut)
        return new TransientHttpError(`GET ${redactUrl(url)}: no data for ${idleMs / 1000} s`);
    if (e instanceof TransientHttpError ||
        e instanceof FastBuildError ||
        e instanceof StatusFailure ||
        e instanceof NoSuchHost)
        return e;
    const code = e.code;
    if (code === 'ENOTFOUND')
        return new NoSuchHost(new URL(url).host);
    if ((code && DROPPED.has(code)) || /socket hang up|aborted|premature/i.test(e.message)) {
        return new TransientHttpError(`GET ${redactUrl(url)}: connection dropped (${code ?? e.message})`);
    }
    return e;
}
function downloadOnce(run, origin, url, dest, onBytes, hops) {
    let u;
    try {
        u = new URL(url);
    }
    catch {
        return Promise.reject(new FetchError(`not a URL: ${redactUrl(url)}`));
    }
    if (u.protocol === 'file:') {
        return Promise.reject(new FetchError(`a download redirected to a local file: ${redactUrl(url)}`));
    }
    const secure = u.protocol === 'https:';
    if (!secure && u.protocol !== 'http:') {
        return Promise.reject(new FetchError(`cannot download ${redactUrl(url)}: only http(s):// and file:// URLs`));
    }
    const headers = { 'user-agent': 'fast-build', accept: '*/*' };
    const auth = origin.authorize(u.href);
    if (auth)
        headers['authorization'] = auth;
    return new Promise((resolvePromise, reject) => {
        let timedOut = false;
        const req = (secure ? https : http).request(u, { method: 'GET', headers, agent: secure ? run.agents.https : run.agents.http }, (res) => {
            const status = res.statusCode ?? 0;
            const location = res.headers['location'];
            if (REDIRECTS.has(status) && location) {
                res.resume();
                if (hops >= MAX_REDIRECTS) {
                    reject(new FetchError(`GET ${redactUrl(url)}: more than ${MAX_REDIRECTS} redirects`));
                    return;
                }
                let nextUrl;
                try {
                    nextUrl = new URL(location, u).href;
                }
                catch {
                    reject(new FetchError(`GET ${redactUrl(url)}: redirect to something that is not a URL`));
                    return;
                }
                downloadOnce(run, origin, nextUrl, dest, onBytes, hops + 1).then(resolvePromise, reject);
                return;
            }
            if (status !== 200) {
                res.resume();
                reject(isRetryableStatus(status)
                    ? new TransientHttpError(`GET ${redactUrl(url)}: ${status}`, parseRetryAfter(res.headers['retry-after']))
                    : new StatusFailure(status, url));
                return;
            }
            const length = res.headers['content-length'];
            const total = length !== undefined && /^\d+$/.test(length) ? Number(length) : null;
            onBytes(0, total);
            const m = meter(onBytes, total);
            pipeline(res, m.stream, createWriteStream(dest)).then(() => {
                if (total !== null && m.bytes() !== total) {
                    reject(new TransientHttpError(`GET ${redactUrl(url)}: the connection ended after ${m.bytes()} of ${total} bytes`));
                }
                else
                    resolvePromise(m.result());
            }, (e) => reject(networkError(e, url, timedOut, run.idleMs)));
        });
        req.setTimeout(run.idleMs, () => {
            timedOut = true;
            req.destroy(new Error('idle timeout'));
        });
        req.on('error', (e) => reject(networkError(e, url, timedOut, run.idleMs)));
        req.end();
    });
}

function comparable(url) {
    return url.replace(/\/+$/, '').toLowerCase();
}
/** [[tool.uv.index]] and [[tool.poetry.source]] entries that have both a name and a URL. */
function namedIndexes(project) {
    const out = [];
    const tool = project.data['tool'];
    const uv = tool && typeof tool === 'object' && !Array.isArray(tool)
        ? tool['uv']
        : undefined;
    const list = uv && typeof uv === 'object' ? uv['index'] : undefined;
    if (Array.isArray(list)) {
        for (const e of list) {
            if (e && typeof e === 'object' && typeof e.name === 'string' && typeof e.url === 'string')
                out.push({ name: e.name, url: e.url });
        }
    }
    for (const s of project.poetrySources)
        if (s.url)
            out.push({ name: s.name, url: s.url });
    return out;
}
/** The name the project gives the index at `url`, or null. */
function indexNameFor(indexes, url) {
    const key = comparable(url);
    return indexes.find((i) => comparable(i.url) === key)?.name ?? null;
}

// Where registry credentials come from: explicit inputs, or the Docker config file that
// `docker login` / docker/login-action write (auths, credsStore, credHelpers). A credential knows
// its source so errors can say which one was used, never what it is.
const ANONYMOUS = { kind: 'anonymous', source: 'no credentials' };
class CredentialError extends FastBuildError {
}
/** What a credential is, for messages: the user and where it came from; never the secret. */
function describeCredential(c) {
    switch (c.kind) {
        case 'anonymous':
            return 'no credentials (anonymous)';
        case 'basic':
            return `user ${JSON.stringify(c.username)} from ${c.source}`;
        case 'identity-token':
            return `an identity token from ${c.source}`;
    }
}
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_HOSTS = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];
/** `https://ghcr.io/v1/` → `ghcr.io`; Docker Hub's aliases all become `docker.io`. */
function normalizeRegistryHost(key) {
    const host = key
        .replace(/^[a-z]+:\/\//i, '')
        .replace(/\/.*$/, '')
        .toLowerCase();
    return DOCKER_HUB_HOSTS.includes(host) ? 'docker.io' : host;
}
function dockerConfigPath(env = process.env) {
    return join(env['DOCKER_CONFIG'] ?? join(homedir(), '.docker'), 'config.json');
}
function readDockerConfig(path) {
    let text;
    try {
        text = readFileSync(path, 'utf8');
    }
    catch {
        return null;
    }
    try {
        return JSON.parse(text);
    }
    catch (e) {
        throw new CredentialError(`${path} is not valid JSON: ${e.message}`, { file: path }, 'fix or remove the Docker config file (docker login rewrites it)');
    }
}
/** Runs `docker-credential-<helper> get` with the server URL on stdin. */
const runCredentialHelper = (helper, serverUrl) => new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 15_000 }, (err, stdout, stderr) => {
        if (err) {
            if (/not found|no credentials/i.test(`${stdout}${stderr}`))
                return resolve(null);
            const reason = err.code === 'ENOENT'
                ? 'it is not installed'
                : (stderr || err.message).trim().split('\n')[0];
            return reject(new CredentialError(`credential helper docker-credential-${helper} failed for ${serverUrl}: ${reason}`, {}, 'install the helper or log in again'));
        }
        try {
            const o = JSON.parse(stdout);
            resolve(o.Secret ? { Username: o.Username ?? '', Secret: o.Secret } : null);
        }
        catch {
            reject(new CredentialError(`credential helper docker-credential-${helper} printed something that is not JSON`));
        }
    });
    child.stdin?.end(serverUrl);
});
/**
 * The credential for a registry host from the Docker config: credHelpers[host], then credsStore,
 * then auths[host]. Anonymous when none applies.
 */
async function credentialFromDockerConfig(host, opts = {}) {
    const path = opts.path ?? dockerConfigPath();
    const config = readDockerConfig(path);
    if (!config)
        return ANONYMOUS;
    const want = normalizeRegistryHost(host);
    const serverUrl = want === 'docker.io' ? DOCKER_HUB_KEY : host;
    const runHelper = opts.runHelper ?? runCredentialHelper;
    const display = path.replace(homedir(), '~');
    const fromHelper = async (helper, where) => {
        const got = await runHelper(helper, serverUrl);
        if (!got)
            return null;
        const source = `docker-credential-${helper} (${where} in ${display})`;
        return got.Username === '<token>'
            ? { kind: 'identity-token', token: got.Secret, source }
            : { kind: 'basic', username: got.Username, password: got.Secret, source };
    };
    for (const [key, helper] of Object.entries(config.credHelpers ?? {})) {
        if (normalizeRegistryHost(key) === want) {
            const c = await fromHelper(helper, `credHelpers[${JSON.stringify(key)}]`);
            if (c)
                return c;
        }
    }
    if (config.credsStore) {
        const c = await fromHelper(config.credsStore, 'credsStore');
        if (c)
            return c;
    }
    for (const [key, entry] of Object.entries(config.auths ?? {})) {
        if (normalizeRegistryHost(key) !== want)
            continue;
        const source = `${display} (auths[${JSON.stringify(key)}])`;
        if (entry.identitytoken)
            return { kind: 'identity-token', token: entry.identitytoken, source };
        if (entry.auth) {
            const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
            const colon = decoded.indexOf(':');
            if (colon < 0)
                throw new CredentialError(`${source}: the auth value is not base64 of user:password`, { file: path }, `run docker login ${host} again`);
            return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
        }
        if (entry.username && entry.password)
            return { kind: 'basic', username: entry.username, password: entry.password, source };
    }
    return ANONYMOUS;
}

// Registry authentication by challenge: a request answered 401 tells how to authenticate
// (`Basic realm=…`, or `Bearer realm=…,service=…,scope=…` as GHCR, Docker Hub and ECR do).
// Bearer tokens are fetched from the realm for the scopes an operation needs and kept per scope.
/** Parse a WWW-Authenticate header (one challenge; quoted values may contain commas). */
function parseChallenge(header) {
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
    if (!m)
        return null;
    const params = {};
    const re = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/g;
    for (const p of m[2].matchAll(re))
        params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
    return { scheme: m[1].toLowerCase(), params };
}
/** Authentication refused: says which credential was used and what was asked for. */
class RegistryAuthError extends FastBuildError {
}
function scopeFor(repository, access) {
    return `repository:${repository}:${access === 'push' ? 'pull,push' : 'pull'}`;
}
/**
 * Holds what a registry asked for and the tokens obtained; `authorize` gives the Authorization
 * header for a set of scopes, fetching a token when needed.
 */
class RegistryAuth {
    http;
    host;
    credential;
    hints;
    challenge = null;
    tokens = new Map();
    constructor(http, host, credential, hints) {
        this.http = http;
        this.host = host;
        this.credential = credential;
        this.hints = hints;
    }
    get known() {
        return this.challenge !== null;
    }
    /** `basic`, `bearer`, or null before the registry has asked. */
    get scheme() {
        return this.challenge?.scheme ?? null;
    }
    /** What to do when this credential is refused. */
    get fix() {
        return this.hints.fix;
    }
    /** Remember the challenge of a 401 answer. */
    learn(res) {
        const header = res.headers['www-authenticate'];
        const c = header ? parseChallenge(header) : null;
        if (!c) {
            throw new RegistryAuthError(`${this.host} answered 401 without an authentication challenge (${redactUrl$1(res.url)})`, {}, 'check that this is an OCI/Docker registry');
        }
        this.challenge = c;
    }
    /** Drop cached tokens (after a 401 with a token: it expired or lacks a scope). */
    forget() {
        this.tokens.clear();
    }
    async header(scopes) {
        const c = this.challenge;
        if (!c)
            return null;
        if (c.scheme === 'basic') {
            if (this.credential.kind !== 'basic') {
                throw new RegistryAuthError(`${this.host} requires a user name and password (Basic auth), and ${describeCredential(this.credential)} was found`, {}, this.hints.fix);
            }
            return `Basic ${Buffer.from(`${this.credential.username}:${this.credential.password}`).toString('base64')}`;
        }
        if (c.scheme !== 'bearer') {
            throw new RegistryAuthError(`${this.host} asks for ${c.scheme} authentication, which fast-build does not speak`, {}, 'use a registry with Basic or Bearer token auth');
        }
        const key = [...scopes].sort().join(' ');
        // A token for more (pull,push) also serves less (pull).
        for (const [k, t] of this.tokens) {
            if (t.expires > Date.now() && (k === key || covers(k, scopes)))
                return `Bearer ${t.value}`;
        }
        const token = await this.fetchToken(c, scopes);
        this.tokens.set(key, token);
        return `Bearer ${token.value}`;
    }
    async fetchToken(c, scopes) {
        const realm = c.params['realm'];
        if (!realm)
            throw new RegistryAuthError(`${this.host}: Bearer challenge without a realm`);
        const service = c.params['service'];
        const cred = this.credential;
        let res;
        if (cred.kind === 'identity-token') {
            const form = new URLSearchParams({
                grant_type: 'refresh_token',
                refresh_token: cred.token,
                client_id: 'fast-build'
            });
            if (service)
                form.set('service', service);
            if (scopes.length)
                form.set('scope', scopes.join(' '));
            res = await this.http.request({
                method: 'POST',
                url: realm,
                headers: { 'content-type': 'application/x-www-form-urlencoded' },
                body: Buffer.from(form.toString())
            });
        }
        else {
            const url = new URL(realm);
            if (service)
                url.searchParams.set('service', service);
            for (const s of scopes)
                url.searchParams.append('scope', s);
            const headers = {};
            if (cred.kind === 'basic') {
                url.searchParams.set('account', cred.username);
                headers['authorization'] =
                    `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
            }
            res = await this.http.request({ method: 'GET', url: url.toString(), headers });
        }
        if (isRetryableStatus(res.status)) {
            throw new TransientHttpError(`token service ${redactUrl$1(realm)} answered ${res.status}`, parseRetryAfter(res.headers['retry-after']));
        }
        if (res.status !== 200) {
            throw new RegistryAuthError(`${this.host}: the token service refused ${describeCredential(cred)} for ${scopes.join(' ') || 'no scope'} (${res.status}${errorText(res)})`, {}, this.hints.fix);
        }
        let body;
        try {
            body = JSON.parse(res.body.toString('utf8'));
        }
        catch {
            throw new RegistryAuthError(`${this.host}: the token service answered something that is not JSON`);
        }
        const value = body.token ?? body.access_token;
        if (!value)
            throw new RegistryAuthError(`${this.host}: the token service answered without a token`);
        // Renew a little early; 60 s is the spec's default lifetime.
        const seconds = Math.max(10, (body.expires_in ?? 60) - 5);
        return { value, expires: Date.now() + seconds * 1000 };
    }
}
function covers(have, want) {
    const granted = new Map();
    for (const s of have.split(' ')) {
        const [type, name, actions] = s.split(':');
        if (type && name && actions)
            granted.set(`${type}:${name}`, new Set(actions.split(',')));
    }
    return want.every((s) => {
        const [type, name, actions] = s.split(':');
        const g = granted.get(`${type}:${name}`);
        return g !== undefined && (actions ?? '').split(',').every((a) => g.has(a));
    });
}
/** The error text a registry or token service put in its body (distribution's JSON errors). */
function errorText(res) {
    const text = res.body.toString('utf8').slice(0, 2000);
    try {
        const o = JSON.parse(text);
        const parts = (o.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(' ')).filter(Boolean);
        if (parts.length)
            return `: ${parts.join('; ')}`;
        if (o.details)
            return `: ${o.details}`;
        if (o.error)
            return `: ${o.error}`;
    }
    catch {
        // not JSON
    }
    const line = text.trim().split('\n')[0];
    return line ? `: ${line.slice(0, 200)}` : '';
}

/** Tags as registries accept them (distribution's reference grammar). */
const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
function isDigestRef(ref) {
    return /^sha256:[a-f0-9]{64}$/.test(ref);
}

// A client for the OCI distribution spec, for one repository: HEAD/GET/PUT of blobs and
// manifests, cross-repository mounts, monolithic and chunked uploads, tag listing. Every
// operation retries transient failures as a whole (an upload restarts with a new session), and
// auth failures say which credential was used and what was asked for.
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
class ReferenceError extends FastBuildError {
}
/**
 * `ghcr.io/acme/app`, `127.0.0.1:5000/demo`, `python` (Docker Hub, library/python). A tag or
 * digest suffix is returned apart.
 */
function parseImageReference(text, where = 'image') {
    let rest = text.trim();
    let digest = null;
    const at = rest.indexOf('@');
    if (at >= 0) {
        digest = parseDigest(rest.slice(at + 1), `${where} ${JSON.stringify(text)}`);
        rest = rest.slice(0, at);
    }
    let tag = null;
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
        if (!TAG_PATTERN.test(tag))
            throw new ReferenceError(`${where}: ${JSON.stringify(text)} has an invalid tag ${JSON.stringify(tag)}`);
    }
    const slash = rest.indexOf('/');
    const first = slash < 0 ? '' : rest.slice(0, slash);
    let host;
    let repository;
    if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
        host = first;
        repository = rest.slice(slash + 1);
    }
    else {
        host = 'docker.io';
        repository = slash < 0 ? `library/${rest}` : rest;
    }
    if (host === 'docker.io' || host === 'index.docker.io')
        host = 'registry-1.docker.io';
    if (!REPOSITORY.test(repository)) {
        throw new ReferenceError(`${where}: ${JSON.stringify(text)} is not an image reference`, {}, 'write it as host/repository, e.g. ghcr.io/acme/app or 127.0.0.1:5000/demo');
    }
    return { host, repository, tag, digest };
}
const DEFAULT_CHUNK = 64 * 1024 * 1024;
function isLoopback(host) {
    const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
class RegistryClient {
    ref;
    opts;
    name;
    base;
    http;
    ownsHttp;
    auth;
    retry;
    chunkSize;
    constructor(ref, opts = {}) {
        this.ref = ref;
        this.opts = opts;
        this.name = `${ref.host}/${ref.repository}`;
        const insecure = opts.insecure ?? isLoopback(ref.host);
        this.base = `${insecure ? 'http' : 'https'}://${ref.host}`;
        this.ownsHttp = !opts.http;
        this.http = opts.http ?? new HttpClient();
        this.retry = opts.retry ?? DEFAULT_RETRY;
        this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK;
        const credential = opts.credential ?? ANONYMOUS;
        this.auth = new RegistryAuth(this.http, ref.host, credential, {
            fix: credential.kind === 'anonymous'
                ? `log in first (docker login ${ref.host}, or docker/login-action), or give registry-username and registry-password`
                : `check the credentials for ${ref.host} (registry-username / registry-password, or docker login ${ref.host})`
        });
    }
    /** Another repository of the same registry, sharing connections and credentials. */
    sibling(repository) {
        return new RegistryClient({ host: this.ref.host, repository }, { ...this.opts, http: this.http });
    }
    close() {
        if (this.ownsHttp)
            this.http.close();
    }
    url(path) {
        return `${this.base}/v2/${this.ref.repository}/${path}`;
    }
    /**
     * One request with auth: a 401 is answered by authenticating (once) and trying again.
     * Retryable statuses become TransientHttpError; the caller decides about retrying.
     */
    async send(method, url, o) {
        const scopes = [scopeFor(this.ref.repository, o.access), ...(o.scopes ?? [])];
        for (let attempt = 0; attempt < 2; attempt++) {
            const headers = { ...o.headers };
            const authorization = await this.auth.header(scopes);
            if (authorization)
                headers['authorization'] = authorization;
            const res = await this.http.request({
                method,
                url,
                headers,
                ...(o.body ? { body: o.body() } : {}),
                ...(o.maxBody ? { maxBody: o.maxBody } : {})
            });
            if (res.status === 401 && attempt === 0) {
                this.auth.learn(res);
                this.auth.forget();
                continue;
            }
            if (res.status === 401 || res.status === 403) {
                // With Basic auth a second 401 means the user or password is wrong; otherwise the
                // credential was accepted but lacks the access asked for.
                const wrongCredential = res.status === 401 && this.auth.scheme === 'basic';
                throw new RegistryAuthError(`${this.ref.host} refused ${method} on ${this.ref.repository} (${res.status}${errorText(res)}) with ${describeCredential(this.auth.credential)}; asked for ${scopes.join(' ')}`, {}, wrongCredential
                    ? this.auth.fix
                    : o.access === 'push'
                        ? `the credential needs push access to ${this.name} (for GHCR: a token with packages: write)`
                        : `the credential needs pull access to ${this.name}`);
            }
            if (isRetryableStatus(res.status)) {
                throw new TransientHttpError(`${method} ${redactUrl$1(url)}: ${res.status}${errorText(res)}`, parseRetryAfter(res.headers['retry-after']));
            }
            return res;
        }
        throw new Error('unreachable');
    }
    unexpected(what, res) {
        return new RegistryError(`${this.name}: ${what} failed (${res.status}${errorText(res)})`);
    }
    retrying(op) {
        return withRetry(op, this.retry, (e, delay) => this.opts.onRetry?.(e.message, delay));
    }
    async ping() {
        await this.retrying(async () => {
            const res = await this.send('GET', `${this.base}/v2/`, { access: 'pull' });
            if (res.status !== 200)
                throw this.unexpected('GET /v2/', res);
        });
    }
    blobExists(digest) {
        return this.retrying(async () => {
            const res = await this.send('HEAD', this.url(`blobs/${digest}`), { access: 'pull' });
            if (res.status === 200)
                return true;
            if (res.status === 404)
                return false;
            throw this.unexpected(`HEAD blob ${digest}`, res);
        });
    }
    getBlob(digest) {
        return this.retrying(async () => {
            const res = await this.send('GET', this.url(`blobs/${digest}`), {
                access: 'pull',
                maxBody: 64 * 1024 * 1024
            });
            if (res.status !== 200)
                throw this.unexpected(`GET blob ${digest}`, res);
            if (sha256$1(res.body) !== digest)
                throw new TransientHttpError(`${this.name}: blob ${digest} arrived with other content`);
            return res.body;
        });
    }
    async putBlob(desc, data, opts = {}) {
        if (await this.blobExists(desc.digest))
            return 'exists';
        const size = Buffer.isBuffer(data) ? data.length : statSync(data.file).size;
        if (size !== desc.size)
            throw new RegistryError(`blob ${desc.digest}: ${size} bytes given for a descriptor of ${desc.size}`);
        return this.retrying(async () => {
            let location;
            const mountFrom = opts.mountFrom && opts.mountFrom !== this.ref.repository ? opts.mountFrom : null;
            if (mountFrom) {
                const url = `${this.url('blobs/uploads/')}?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(mountFrom)}`;
                const res = await this.send('POST', url, { access: 'push', scopes: [scopeFor(mountFrom, 'pull')] });
                if (res.status === 201)
                    return 'mounted';
                if (res.status !== 202)
                    throw this.unexpected(`mount of ${desc.digest} from ${mountFrom}`, res);
                location = this.location(res);
            }
            else {
                const res = await this.send('POST', this.url('blobs/uploads/'), { access: 'push' });
                if (res.status !== 202)
                    throw this.unexpected('starting an upload', res);
                location = this.location(res);
            }
            const part = (start, end) => Buffer.isBuffer(data) ? data.subarray(start, end) : { file: data.file, start, end: end - 1 };
            if (size > this.chunkSize) {
                for (let start = 0; start < size; start += this.chunkSize) {
                    const end = Math.min(size, start + this.chunkSize);
                    const res = await this.send('PATCH', location, {
                        access: 'push',
                        headers: {
                            'content-type': 'application/octet-stream',
                            'content-range': `${start}-${end - 1}`,
                            'content-length': String(end - start)
                        },
                        body: () => part(start, end)
                    });
                    if (res.status !== 202)
                        throw this.unexpected(`uploading bytes ${start}-${end - 1} of ${desc.digest}`, res);
                    location = this.location(res);
                }
                const res = await this.send('PUT', withDigest(location, desc.digest), { access: 'push' });
                this.checkPut(res, desc.digest);
            }
            else {
                const res = await this.send('PUT', withDigest(location, desc.digest), {
                    access: 'push',
                    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
                    body: () => part(0, size)
                });
                this.checkPut(res, desc.digest);
            }
            return 'uploaded';
        });
    }
    get mountable() {
        return { host: this.ref.host, repository: this.ref.repository };
    }
    /** Mount a blob from another repository of this registry; false when the registry declined. */
    async mountBlob(desc, fromRepository) {
        if (fromRepository === this.ref.repository)
            return this.blobExists(desc.digest);
        return this.retrying(async () => {
            const url = `${this.url('blobs/uploads/')}?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(fromRepository)}`;
            const res = await this.send('POST', url, { access: 'push', scopes: [scopeFor(fromRepository, 'pull')] });
            if (res.status === 201)
                return true;
            if (res.status === 202) {
                // Declined: the registry opened an upload session instead; close it.
                await this.send('DELETE', this.location(res), { access: 'push' }).catch(() => undefined);
                return false;
            }
            throw this.unexpected(`mount of ${desc.digest} from ${fromRepository}`, res);
        });
    }
    /** Download a blob to a temp file, checked against its digest (base image layers, for copies). */
    async openBlob(digest) {
        const dir = join(tmpdir(), 'fast-build-blobs');
        mkdirSync(dir, { recursive: true });
        const file = join(dir, `${digest.slice(7)}.${process.pid}`);
        return this.retrying(async () => {
            for (let attempt = 0; attempt < 2; attempt++) {
                const authorization = await this.auth.header([scopeFor(this.ref.repository, 'pull')]);
                const res = await this.http.download({ url: this.url(`blobs/${digest}`), headers: authorization ? { authorization } : {} }, file);
                if (res.status === 401 && attempt === 0) {
                    this.auth.learn({ ...res, url: this.url(`blobs/${digest}`) });
                    this.auth.forget();
                    continue;
                }
                if (isRetryableStatus(res.status))
                    throw new TransientHttpError(`GET blob ${digest}: ${res.status}`, parseRetryAfter(res.headers['retry-after']));
                if (res.status !== 200)
                    throw this.unexpected(`GET blob ${digest}`, { ...res, url: this.url(`blobs/${digest}`) });
                if (res.digest !== digest)
                    throw new TransientHttpError(`${this.name}: blob ${digest} arrived with other content (${res.digest})`);
                return { file };
            }
            throw new RegistryAuthError(`${this.ref.host} refused to serve ${digest} with ${describeCredential(this.auth.credential)}`);
        });
    }
    /**
     * Start streaming a blob: one upload session, one PATCH whose body is written as the blob is
     * produced (as `docker push` does), then the PUT with the digest. Not retried: on any failure
     * the caller uploads the bytes it kept with putBlob, which is.
     */
    async beginBlob() {
        const start = await this.retrying(() => this.send('POST', this.url('blobs/uploads/'), { access: 'push' }));
        if (start.status !== 202)
            throw this.unexpected('starting an upload', start);
        const location = this.location(start);
        const authorization = await this.auth.header([scopeFor(this.ref.repository, 'push')]);
        const auth = authorization ? { authorization } : {};
        const patch = this.http.stream({
            method: 'PATCH',
            url: location,
            headers: { ...auth, 'content-type': 'application/octet-stream' }
        });
        const cancel = async () => {
            patch.abort();
            // Let the registry drop the session now rather than when it expires.
            await this.http.request({ method: 'DELETE', url: location, headers: auth }).catch(() => undefined);
        };
        return {
            write: (chunk) => patch.write(chunk),
            commit: async (desc) => {
                if (await this.blobExists(desc.digest)) {
                    await cancel();
                    return 'exists';
                }
                const res = await patch.end();
                if (res.status !== 202)
                    throw this.unexpected(`streaming ${desc.digest}`, res);
                const put = await this.send('PUT', withDigest(this.location(res), desc.digest), { access: 'push' });
                this.checkPut(put, desc.digest);
                return 'uploaded';
            },
            abort: cancel
        };
    }
    checkPut(res, digest) {
        if (res.status !== 201)
            throw this.unexpected(`finishing the upload of ${digest}`, res);
        const got = res.headers['docker-content-digest'];
        if (got && got !== digest)
            throw new RegistryError(`${this.name}: uploaded ${digest} but the registry stored ${got}`);
    }
    location(res) {
        const loc = res.headers['location'];
        if (!loc)
            throw new RegistryError(`${this.name}: an upload answer without a Location header`);
        return new URL(loc, this.base).toString();
    }
    getManifest(ref) {
        return this.retrying(async () => {
            const res = await this.send('GET', this.url(`manifests/${ref}`), {
                access: 'pull',
                headers: { accept: ACCEPT_ANY_MANIFEST }
            });
            if (res.status === 404)
                return null;
            if (res.status !== 200)
                throw this.unexpected(`GET manifest ${ref}`, res);
            const digest = sha256$1(res.body);
            if (isDigestRef(ref) && digest !== ref)
                throw new TransientHttpError(`${this.name}: manifest ${ref} arrived with other content`);
            return { bytes: res.body, mediaType: (res.headers['content-type'] ?? '').split(';')[0].trim(), digest };
        });
    }
    putManifest(tag, bytes, mediaType) {
        const digest = sha256$1(bytes);
        if (tag !== null && !TAG_PATTERN.test(tag))
            throw new RegistryError(`invalid tag ${JSON.stringify(tag)}`);
        return this.retrying(async () => {
            const res = await this.send('PUT', this.url(`manifests/${tag ?? digest}`), {
                access: 'push',
                headers: { 'content-type': mediaType },
                body: () => bytes
            });
            if (res.status !== 201 && res.status !== 200)
                throw this.unexpected(`PUT manifest ${tag ?? digest}`, res);
            const got = res.headers['docker-content-digest'];
            if (got && got !== digest)
                throw new RegistryError(`${this.name}: pushed manifest ${digest} but the registry stored ${got}`);
            return digest;
        });
    }
    async listTags() {
        const tags = [];
        let url = `${this.url('tags/list')}?n=1000`;
        for (let page = 0; url && page < 1000; page++) {
            const current = url;
            const res = await this.retrying(() => this.send('GET', current, { access: 'pull' }));
            if (res.status === 404)
                return [];
            if (res.status !== 200)
                throw this.unexpected('listing tags', res);
            const body = JSON.parse(res.body.toString('utf8'));
            tags.push(...(body.tags ?? []));
            const next = /<([^>]+)>;\s*rel="?next"?/.exec(res.headers['link'] ?? '');
            url = next ? new URL(next[1], this.base).toString() : null;
        }
        return tags.sort();
    }
}
function withDigest(location, digest) {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    return u.toString();
}

// Image manifests, indexes and configs: parsed from what a registry or layout returns (checked,
// with errors that say what is wrong), and built with a fixed key order so the same image always
// serializes to the same bytes.
class ImageError extends FastBuildError {
}
// --- platforms -------------------------------------------------------------------------------------
function ociPlatform(p) {
    return p.architecture === 'arm64'
        ? { architecture: 'arm64', os: 'linux', variant: 'v8' }
        : { architecture: 'amd64', os: 'linux' };
}
/** Whether an image's platform is the target's (arm64's `v8` variant may be omitted). */
function platformMatches(have, want) {
    if (have.os !== want.os || have.architecture !== want.architecture)
        return false;
    if (want.architecture === 'arm64')
        return have.variant === undefined || have.variant === 'v8';
    return true;
}
function describePlatform(p) {
    return `${String(p.os ?? '?')}/${String(p.architecture ?? '?')}${p.variant ? `/${String(p.variant)}` : ''}`;
}
// --- parsing ----------------------------------------------------------------------------------------
function object(v, what) {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw new ImageError(`${what} is not a JSON object`);
    return v;
}
function parseDescriptor(v, what) {
    const o = object(v, what);
    if (typeof o['mediaType'] !== 'string')
        throw new ImageError(`${what}: mediaType missing`);
    if (typeof o['size'] !== 'number' || !Number.isSafeInteger(o['size']) || o['size'] < 0) {
        throw new ImageError(`${what}: size is not a byte count`);
    }
    return {
        ...o,
        mediaType: o['mediaType'],
        digest: parseDigest(o['digest'], `${what}.digest`),
        size: o['size']
    };
}
function parseJson(bytes, what) {
    try {
        return object(JSON.parse(bytes.toString('utf8')), what);
    }
    catch (e) {
        if (e instanceof ImageError)
            throw e;
        throw new ImageError(`${what} is not valid JSON: ${e.message}`);
    }
}
/**
 * A manifest or index, from its bytes and the Content-Type it was served with (which wins
 * over, or stands in for, a missing `mediaType` field).
 */
function parseManifest(bytes, contentType, what) {
    const o = parseJson(bytes, what);
    const declared = typeof o['mediaType'] === 'string' ? o['mediaType'] : undefined;
    const served = contentType?.split(';')[0]?.trim();
    const mediaType = declared ??
        (served && served !== 'application/json' ? served : undefined) ??
        (o['manifests'] ? OCI_INDEX : undefined);
    if (o['schemaVersion'] !== 2) {
        throw new ImageError(`${what}: schemaVersion ${JSON.stringify(o['schemaVersion'])} is not supported (only 2)`);
    }
    if (isIndexType(mediaType) || (mediaType === undefined && Array.isArray(o['manifests']))) {
        if (!Array.isArray(o['manifests']))
            throw new ImageError(`${what}: index without manifests`);
        const manifests = o['manifests'].map((m, i) => parseDescriptor(m, `${what}.manifests[${i}]`));
        return {
            kind: 'index',
            mediaType: mediaType ?? OCI_INDEX,
            index: {
                ...o,
                schemaVersion: 2,
                mediaType: mediaType ?? OCI_INDEX,
                manifests
            }
        };
    }
    const mt = mediaType ?? (o['config'] ? 'application/vnd.oci.image.manifest.v1+json' : undefined);
    if (!isManifestType(mt))
        throw new ImageError(`${what}: unsupported media type ${JSON.stringify(mt ?? null)}`);
    if (!Array.isArray(o['layers']))
        throw new ImageError(`${what}: manifest without layers`);
    const manifest = {
        ...o,
        schemaVersion: 2,
        mediaType: mt,
        config: parseDescriptor(o['config'], `${what}.config`),
        layers: o['layers'].map((l, i) => parseDescriptor(l, `${what}.layers[${i}]`))
    };
    return { kind: 'manifest', mediaType: mt, manifest };
}
function parseConfig(bytes, what) {
    const o = parseJson(bytes, what);
    if (typeof o['os'] !== 'string' || typeof o['architecture'] !== 'string') {
        throw new ImageError(`${what}: os and architecture are required`);
    }
    const rootfs = object(o['rootfs'], `${what}.rootfs`);
    if (!Array.isArray(rootfs['diff_ids']))
        throw new ImageError(`${what}.rootfs.diff_ids missing`);
    rootfs['diff_ids'].forEach((d, i) => parseDigest(d, `${what}.rootfs.diff_ids[${i}]`));
    return o;
}
// --- building -------------------------------------------------------------------------------------
function configMediaTypeFor(manifestType) {
    return manifestType === DOCKER_MANIFEST ? DOCKER_CONFIG : OCI_CONFIG;
}
/** Bytes with a fixed key order; the digest of these bytes is the image's identity. */
function serialize(value) {
    return Buffer.from(JSON.stringify(value), 'utf8');
}
function buildManifest(args) {
    return {
        schemaVersion: 2,
        mediaType: args.mediaType,
        config: args.config,
        layers: args.layers,
        ...(args.annotations && Object.keys(args.annotations).length
            ? { annotations: sortedRecord(args.annotations) }
            : {})
    };
}
function buildIndex(args) {
    return {
        schemaVersion: 2,
        mediaType: args.mediaType ?? OCI_INDEX,
        manifests: args.manifests,
        ...(args.annotations && Object.keys(args.annotations).length
            ? { annotations: sortedRecord(args.annotations) }
            : {})
    };
}
/** A descriptor for serialized content. */
function describeBytes(mediaType, bytes, extra = {}) {
    return { mediaType, digest: sha256$1(bytes), size: bytes.length, ...extra };
}
function sortedRecord(r) {
    return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

// An OCI image-layout directory as a store: `oci-layout`, `index.json` naming tagged manifests
// (annotation org.opencontainers.image.ref.name, which skopeo and podman read as `oci:DIR:TAG`),
// and `blobs/sha256/<hex>`. Blobs are written to a temp file, checked, then renamed, so a blob
// that exists is whole; index.json is rewritten under a lock file by rename.
const REF_NAME = 'org.opencontainers.image.ref.name';
class LayoutError extends FastBuildError {
}
class LayoutStore {
    name;
    dir;
    constructor(dir) {
        this.dir = resolve(dir);
        this.name = `oci:${dir}`;
    }
    blobPath(d) {
        return join(this.dir, 'blobs', digestAlgorithm(d), digestHex(d));
    }
    /** Create the layout files when missing; refuse a directory that is something else. */
    init() {
        mkdirSync(join(this.dir, 'blobs', 'sha256'), { recursive: true });
        const marker = join(this.dir, 'oci-layout');
        if (existsSync(marker)) {
            const v = JSON.parse(readFileSync(marker, 'utf8'))
                .imageLayoutVersion;
            if (v !== '1.0.0')
                throw new LayoutError(`${marker}: unsupported imageLayoutVersion ${JSON.stringify(v)}`);
        }
        else {
            writeFileSync(marker, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
        }
        if (!existsSync(join(this.dir, 'index.json')))
            this.writeIndex({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    }
    readIndex() {
        const path = join(this.dir, 'index.json');
        if (!existsSync(path))
            return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
        let o;
        try {
            o = JSON.parse(readFileSync(path, 'utf8'));
        }
        catch (e) {
            throw new LayoutError(`${path} is not valid JSON: ${e.message}`, { file: path }, 'restore or delete the layout directory');
        }
        if (!Array.isArray(o.manifests))
            throw new LayoutError(`${path}: no manifests list`, { file: path });
        o.manifests = o.manifests.map((m, i) => parseDescriptor(m, `${path} manifests[${i}]`));
        return o;
    }
    writeIndex(index) {
        const path = join(this.dir, 'index.json');
        const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
        writeFileSync(tmp, JSON.stringify(index));
        renameSync(tmp, path);
    }
    /** Run `f` holding index.json.lock (bounded wait; a lock older than a minute is stale). */
    async locked(f) {
        const lock = join(this.dir, 'index.json.lock');
        const deadline = Date.now() + 30_000;
        for (;;) {
            try {
                closeSync(openSync(lock, 'wx'));
                break;
            }
            catch (e) {
                if (e.code !== 'EEXIST')
                    throw e;
                try {
                    if (Date.now() - statSync(lock).mtimeMs > 60_000)
                        rmSync(lock, { force: true });
                }
                catch {
                    // gone already
                }
                if (Date.now() > deadline)
                    throw new LayoutError(`${lock} is held by another build for over 30 s`, { file: lock }, 'remove the lock file if no other fast-build is running');
                await new Promise((r) => setTimeout(r, 20));
            }
        }
        try {
            return f();
        }
        finally {
            rmSync(lock, { force: true });
        }
    }
    async blobExists(digest) {
        return existsSync(this.blobPath(digest));
    }
    async putBlob(desc, data) {
        this.init();
        const path = this.blobPath(desc.digest);
        if (existsSync(path))
            return 'exists';
        const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
        try {
            let got;
            if (Buffer.isBuffer(data)) {
                got = sha256$1(data);
                if (got === desc.digest)
                    writeFileSync(tmp, data);
            }
            else {
                copyFileSync(data.file, tmp);
                got = await fileDigest(tmp);
            }
            if (got !== desc.digest)
                throw new LayoutError(`blob content does not match ${desc.digest} (it is ${got})`);
            renameSync(tmp, path);
        }
        finally {
            rmSync(tmp, { force: true });
        }
        return 'uploaded';
    }
    /** A streamed blob: written to a temp file, renamed into place by `commit` once checked. */
    async beginBlob() {
        this.init();
        const tmp = join(this.dir, 'blobs', 'sha256', `upload.${randomBytes(6).toString('hex')}.tmp`);
        const file = await open(tmp, 'w');
        const hash = createHash('sha256');
        let closed = false;
        const close = async () => {
            if (!closed) {
                closed = true;
                await file.close();
            }
        };
        return {
            write: async (chunk) => {
                hash.update(chunk);
                await file.write(chunk);
            },
            commit: async (desc) => {
                await close();
                const got = `sha256:${hash.digest('hex')}`;
                if (got !== desc.digest) {
                    rmSync(tmp, { force: true });
                    throw new LayoutError(`streamed blob is ${got}, not ${desc.digest}`);
                }
                if (existsSync(this.blobPath(desc.digest))) {
                    rmSync(tmp, { force: true });
                    return 'exists';
                }
                renameSync(tmp, this.blobPath(desc.digest));
                return 'uploaded';
            },
            abort: async () => {
                await close();
                rmSync(tmp, { force: true });
            }
        };
    }
    async openBlob(digest) {
        const path = this.blobPath(digest);
        if (!existsSync(path))
            throw new LayoutError(`${this.name}: blob ${digest} is missing`, { file: path });
        return { file: path };
    }
    async getBlob(digest) {
        const path = this.blobPath(digest);
        if (!existsSync(path))
            throw new LayoutError(`${this.name}: blob ${digest} is missing`, { file: path });
        const bytes = readFileSync(path);
        if (sha256$1(bytes) !== digest)
            throw new LayoutError(`${path} does not hold ${digest} (corrupted layout)`, { file: path });
        return bytes;
    }
    async getManifest(ref) {
        const index = this.readIndex();
        let desc;
        if (isDigestRef(ref)) {
            desc = index.manifests.find((m) => m.digest === ref);
            if (!desc && !existsSync(this.blobPath(ref)))
                return null;
        }
        else {
            desc = index.manifests.find((m) => m.annotations?.[REF_NAME] === ref);
            if (!desc)
                return null;
        }
        const digest = (desc?.digest ?? ref);
        const bytes = await this.getBlob(digest);
        const declared = JSON.parse(bytes.toString('utf8')).mediaType;
        return { bytes, mediaType: desc?.mediaType ?? declared ?? '', digest };
    }
    async putManifest(tag, bytes, mediaType) {
        if (tag !== null && !TAG_PATTERN.test(tag))
            throw new LayoutError(`invalid tag ${JSON.stringify(tag)}`);
        const digest = sha256$1(bytes);
        await this.putBlob({ mediaType, digest, size: bytes.length }, bytes);
        if (tag !== null) {
            await this.locked(() => {
                const index = this.readIndex();
                index.manifests = [
                    ...index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag),
                    { mediaType, digest, size: bytes.length, annotations: { [REF_NAME]: tag } }
                ];
                this.writeIndex(index);
            });
        }
        return digest;
    }
    async listTags() {
        return this.readIndex()
            .manifests.map((m) => m.annotations?.[REF_NAME])
            .filter((t) => typeof t === 'string')
            .sort();
    }
}
function fileDigest(path) {
    return new Promise((resolve, reject) => {
        const h = createHash('sha256');
        createReadStream(path)
            .on('data', (c) => h.update(c))
            .on('end', () => resolve(`sha256:${h.digest('hex')}`))
            .on('error', reject);
    });
}

// Finding an image (a variant's deps image `deps-<variant>-<hash>`, or a base image) and the
// manifest and config for each platform a variant builds, with clear errors when the reference
// names something else.
class DepsImageError extends FastBuildError {
}
function depsTag(variant, shortHash) {
    return `deps-${variant}-${shortHash}`;
}
const DEPS = { what: 'deps image', fix: 'rebuild the deps image (--rebuild)' };
/** The deps image for these platforms, or null when the tag does not exist. */
function resolveDepsImage(store, tag, platforms) {
    return resolveImage(store, tag, platforms, DEPS);
}
/** An image by tag or digest in a store, for these platforms; null when the reference does not exist. */
async function resolveImage(store, tag, platforms, kind) {
    const ref = tag.startsWith('sha256:') ? `${store.name}@${tag}` : `${store.name}:${tag}`;
    const top = await store.getManifest(tag);
    if (!top)
        return null;
    const parsed = parseManifest(top.bytes, top.mediaType, `${kind.what} ${ref}`);
    const configOf = async (m, what) => {
        const config = parseConfig(await store.getBlob(m.config.digest), `config of ${what}`);
        if (config.rootfs.diff_ids.length !== m.layers.length) {
            throw new DepsImageError(`${what}: its config has ${config.rootfs.diff_ids.length} diff_ids for ${m.layers.length} layers`, {}, kind.fix);
        }
        return config;
    };
    if (parsed.kind === 'manifest') {
        if (platforms.length > 1) {
            throw new DepsImageError(`${kind.what} ${ref} is a single-platform image, but the variant builds ${platforms.map(formatPlatform).join(', ')}`, {}, `${kind.fix}, or build one platform`);
        }
        const config = await configOf(parsed.manifest, `${kind.what} ${ref}`);
        const want = platforms[0];
        if (!platformMatches(config, want)) {
            throw new DepsImageError(`${kind.what} ${ref} is for ${describePlatform(config)}, not ${formatPlatform(want)}`, {}, `the reference holds an image of another platform: ${kind.fix}, or fix platforms in [tool.fast-build]`);
        }
        return {
            ref,
            digest: top.digest,
            mediaType: parsed.mediaType,
            isIndex: false,
            platforms: [
                { platform: want, indexEntry: null, manifest: parsed.manifest, manifestDigest: top.digest, config }
            ]
        };
    }
    const entries = parsed.index.manifests;
    const found = [];
    for (const want of platforms) {
        const entry = entries.find((e) => e.platform && platformMatches(e.platform, want));
        if (!entry) {
            const have = entries.filter((e) => e.platform).map((e) => describePlatform(e.platform));
            throw new DepsImageError(`${kind.what} ${ref} has no ${formatPlatform(want)} image (it has ${have.join(', ') || 'no platform entries'})`, {}, kind.fix);
        }
        const child = await store.getManifest(entry.digest);
        if (!child)
            throw new DepsImageError(`${kind.what} ${ref}: its ${formatPlatform(want)} manifest ${entry.digest} is missing`, {}, kind.fix);
        const p = parseManifest(child.bytes, entry.mediaType, `${kind.what} ${ref} (${formatPlatform(want)})`);
        if (p.kind !== 'manifest')
            throw new DepsImageError(`${kind.what} ${ref}: nested indexes are not supported`);
        const config = await configOf(p.manifest, `${kind.what} ${ref} (${formatPlatform(want)})`);
        found.push({
            platform: want,
            indexEntry: entry,
            manifest: p.manifest,
            manifestDigest: parseDigest(entry.digest),
            config
        });
    }
    return { ref, digest: top.digest, mediaType: parsed.mediaType, isIndex: true, platforms: found };
}

// The base image a deps image is built on: any registry (Docker Hub, GHCR, a local one) or an
// OCI layout (`oci:DIR:TAG`), resolved to a digest and to a manifest and config per platform.
// Its layers are referenced (mounted, or copied across registries), never rebuilt.
class BaseImageError extends FastBuildError {
}
/** `oci:DIR:TAG` or `oci:DIR@sha256:…` → layout dir and reference. */
function parseLayoutRef(text) {
    const rest = text.slice(4);
    const at = rest.lastIndexOf('@');
    if (at > 0)
        return { dir: rest.slice(0, at), ref: rest.slice(at + 1) };
    const colon = rest.lastIndexOf(':');
    if (colon <= 0)
        throw new BaseImageError(`base image ${JSON.stringify(text)} names no tag`, {}, 'write it as oci:DIR:TAG');
    return { dir: rest.slice(0, colon), ref: rest.slice(colon + 1) };
}
async function resolveBase(reference, platforms, opts = {}) {
    const kind = {
        what: 'base image',
        fix: 'choose a base image that has every platform the variant builds (base-image under [tool.fast-build])'
    };
    let store;
    let ref;
    let name;
    if (reference.startsWith('oci:')) {
        const l = parseLayoutRef(reference);
        const layout = new LayoutStore(resolve(opts.cwd ?? '.', l.dir));
        store = layout;
        ref = l.ref;
        name = `oci:${l.dir}`;
    }
    else {
        const r = parseImageReference(reference, 'base-image');
        const credential = opts.credentialFor
            ? await opts.credentialFor(r.host)
            : await credentialFromDockerConfig(r.host);
        store = new RegistryClient({ host: r.host, repository: r.repository }, { ...opts, credential });
        ref = r.digest ?? r.tag ?? 'latest';
        name = `${r.host === 'registry-1.docker.io' ? 'docker.io' : r.host}/${r.repository}`;
    }
    const image = await resolveImage(store, ref, platforms, kind).catch((e) => {
        store.close?.();
        // The registry client's own hint speaks of the image being pushed; this one is read from.
        if (e instanceof DepsImageError || !(e instanceof FastBuildError))
            throw e;
        throw new BaseImageError(`base image ${reference}: ${e.message}`, {}, e instanceof UnknownHostError
            ? `check base-image under [tool.fast-build] and the network to its registry; a base image pinned to a digest (${reference.replace(/@.*$/, '').replace(/:[^:/]*$/, '')}@sha256:…) needs no lookup on the fast path`
            : (e.hint ?? 'check base-image under [tool.fast-build] and the credentials for its registry'));
    });
    if (!image) {
        store.close?.();
        throw new BaseImageError(`base image ${reference} not found`, {}, 'check base-image under [tool.fast-build] (and the credentials for its registry)');
    }
    return { reference, pinned: `${name}@${image.digest}`, image, store };
}

/**
 * A wheel cannot be read or installed as it is: not a zip file, a truncated or corrupt entry, a
 * RECORD hash that does not match, an entry that would land outside its install directory...
 * `location.file` is the wheel; `entry` is the name inside the wheel, when one is at fault.
 */
class WheelError extends FastBuildError {
    entry;
    constructor(message, wheel, hint, entry) {
        super(message, { file: wheel }, hint);
        this.entry = entry;
    }
}

// A small, strict ZIP reader for wheels (APPNOTE 6.3: end of central directory, ZIP64 end record
// and locator, ZIP64 extra fields; stored and deflate entries). It reads the central directory with
// positioned reads and never loads the whole archive: small entries are read in windows of several
// neighbouring entries and inflated in the thread pool; large ones are streamed in chunks. Every
// entry's size and CRC-32 are checked. Errors are `WheelError`s that name the file and the entry.
const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
/** "Version made by" host system (high byte) for Unix: external attributes then carry st_mode. */
const SYSTEM_UNIX = 3;
const FLAG_ENCRYPTED = 0x1;
const FLAG_UTF8 = 0x800;
// ---------------------------------------------------------------------------------------------
// CRC-32 (IEEE, reflected, as zip uses it). Node has zlib.crc32 from 20.15/22.2; before that a
// slicing-by-8 table version is used.
const CRC_TABLES = (() => {
    const t0 = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        t0[n] = c >>> 0;
    }
    const tables = [t0];
    for (let k = 1; k < 8; k++) {
        const prev = tables[k - 1];
        const t = new Uint32Array(256);
        for (let n = 0; n < 256; n++)
            t[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff];
        tables.push(t);
    }
    return tables;
})();
/** CRC-32 in JavaScript (slicing-by-8); `crc` continues a previous value. */
function crc32Table(data, crc = 0) {
    const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES;
    let c = ~crc >>> 0;
    let i = 0;
    const n = data.length;
    for (; n - i >= 8; i += 8) {
        const a = (c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
        c =
            t7[a & 0xff] ^
                t6[(a >>> 8) & 0xff] ^
                t5[(a >>> 16) & 0xff] ^
                t4[a >>> 24] ^
                t3[data[i + 4]] ^
                t2[data[i + 5]] ^
                t1[data[i + 6]] ^
                t0[data[i + 7]];
    }
    for (; i < n; i++)
        c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
    return ~c >>> 0;
}
const nativeCrc32 = zlib.crc32;
/** CRC-32 of `data`, continuing `crc`: node:zlib's when this Node has it, else the table version. */
function crc32(data, crc = 0) {
    return nativeCrc32 ? nativeCrc32(data, crc) >>> 0 : crc32Table(data, crc);
}
// ---------------------------------------------------------------------------------------------
// Names
// Code page 437, bytes 0x80-0xFF (0x00-0x7F are ASCII, as in Python's cp437 codec).
const CP437_HIGH = 'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';
function decodeCp437(bytes) {
    let s = '';
    for (const b of bytes)
        s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
    return s;
}
const utf8 = new TextDecoder('utf-8', { fatal: true });
const INFLATE_SYNC_BELOW = 32 * 1024;
const STREAM_CHUNK = 4 * 1024 * 1024;
class ZipReader {
    fh;
    path;
    fileSize;
    entries;
    byName;
    internal;
    constructor(fh, 
    /** The file, as given to `open` (errors name it). */
    path, fileSize, entries, internal) {
        this.fh = fh;
        this.path = path;
        this.fileSize = fileSize;
        this.entries = entries;
        this.internal = internal;
        this.byName = new Map(entries.map((e) => [e.name, e]));
    }
    /** Open a zip file and read its central directory. Close it with `close()`. */
    static async open(path) {
        let fh;
        try {
            fh = await open(path, 'r');
        }
        catch (e) {
            throw new WheelError(`cannot open the wheel: ${e.message}`, path, 'check that the file exists and is readable');
        }
        try {
            const { size } = await fh.stat();
            const { entries, internal } = await readCentralDirectory(fh, path, size);
            return new ZipReader(fh, path, size, entries, internal);
        }
        catch (e) {
            await fh.close();
            throw e;
        }
    }
    async close() {
        await this.fh.close();
    }
    entry(name) {
        return this.byName.get(name);
    }
    /** One entry's content, inflated and checked. For entries that fit in memory. */
    async read(entry) {
        const start = await this.dataStart(entry, null, 0);
        const raw = await this.readExactly(start, entry.compressedSize, entry);
        return this.decode(entry, raw);
    }
    /**
     * Extract many entries: small ones in windows of neighbouring entries (one read each, inflated in
     * parallel), large ones streamed. Handlers run concurrently; order is not guaranteed.
     */
    async extract(entries, handlers, opts = {}) {
        const windowBytes = opts.windowBytes ?? 4 * 1024 * 1024;
        const threshold = opts.streamThreshold ?? 16 * 1024 * 1024;
        const concurrency = Math.max(1, opts.concurrency ?? 4);
        const sorted = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
        const jobs = [];
        let group = [];
        let groupStart = 0;
        let groupEnd = 0;
        let groupInflated = 0;
        const flush = () => {
            if (group.length === 0)
                return;
            const g = group;
            const [s, e] = [groupStart, groupEnd];
            jobs.push(() => this.extractWindow(g, s, e, handlers));
            group = [];
        };
        for (const entry of sorted) {
            if (entry.size >= threshold || entry.compressedSize >= threshold) {
                jobs.push(() => this.extractStream(entry, handlers));
                continue;
            }
            const info = this.internal.get(entry);
            // Room for the local header with a generous local extra field; never past the next entry.
            const estEnd = Math.min(info.limit, entry.localHeaderOffset +
                LOCAL_SIZE +
                info.rawName.length +
                info.cdExtraLength +
                256 +
                entry.compressedSize);
            if (group.length > 0 &&
                (estEnd - groupStart > windowBytes ||
                    entry.localHeaderOffset - groupEnd > 64 * 1024 ||
                    groupInflated + entry.size > windowBytes * 8)) {
                flush();
            }
            if (group.length === 0) {
                groupStart = entry.localHeaderOffset;
                groupInflated = 0;
            }
            group.push(entry);
            groupEnd = estEnd;
            groupInflated += entry.size;
        }
        flush();
        await runPool(jobs, concurrency);
    }
    // -------------------------------------------------------------------------------------------
    fail(message, entry, hint) {
        return new WheelError(message, this.path, hint ?? `download ${basename(this.path)} again; the file is damaged or is not a wheel`, entry?.name);
    }
    async readExactly(position, length, entry) {
        if (position + length > this.fileSize) {
            throw this.fail(entry
                ? `entry ${JSON.stringify(entry.name)} is truncated (the file ends early)`
                : 'the file is truncated', entry);
        }
        const buf = Buffer.allocUnsafe(length);
        let done = 0;
        while (done < length) {
            const { bytesRead } = await this.fh.read(buf, done, length - done, position + done);
            if (bytesRead === 0) {
                throw this.fail(entry
                    ? `entry ${JSON.stringify(entry.name)} is truncated (the file ends early)`
                    : 'the file is truncated', entry);
            }
            done += bytesRead;
        }
        return buf;
    }
    /**
     * Offset of the entry's data, from its local header. `window` (starting at file offset
     * `windowStart`) is used when it holds the header; otherwise the header is read.
     */
    async dataStart(entry, window, windowStart) {
        const info = this.internal.get(entry);
        const off = entry.localHeaderOffset;
        let header;
        const rel = off - windowStart;
        if (window && rel >= 0 && rel + LOCAL_SIZE <= window.length)
            header = window.subarray(rel);
        else
            header = await this.readExactly(off, Math.min(LOCAL_SIZE + info.rawName.length, info.limit - off), entry);
        if (header.length < LOCAL_SIZE || header.readUInt32LE(0) !== SIG_LOCAL) {
            throw this.fail(`entry ${JSON.stringify(entry.name)} has no local header where the directory says`, entry);
        }
        const nameLen = header.readUInt16LE(26);
        const extraLen = header.readUInt16LE(28);
        if (LOCAL_SIZE + nameLen > header.length) {
            header = await this.readExactly(off, LOCAL_SIZE + nameLen, entry);
        }
        if (!header.subarray(LOCAL_SIZE, LOCAL_SIZE + nameLen).equals(info.rawName)) {
            throw this.fail(`entry ${JSON.stringify(entry.name)}: the name in its local header differs from the central directory`, entry);
        }
        const start = off + LOCAL_SIZE + nameLen + extraLen;
        const end = start + entry.compressedSize;
        if (end > this.fileSize) {
            throw this.fail(`entry ${JSON.stringify(entry.name)} is truncated (the file ends early)`, entry);
        }
        if (end > info.limit) {
            throw this.fail(`entry ${JSON.stringify(entry.name)} overlaps the next entry or the central directory`, entry);
        }
        return start;
    }
    check(entry, size, crc) {
        if (size !== entry.size) {
            throw this.fail(`entry ${JSON.stringify(entry.name)} is corrupt: ${size} bytes instead of the ${entry.size} the directory records`, entry);
        }
        if (crc !== entry.crc32) {
            throw this.fail(`CRC mismatch in ${JSON.stringify(entry.name)} (${hex8(crc)}, the directory says ${hex8(entry.crc32)})`, entry);
        }
    }
    async decode(entry, raw) {
        let data;
        if (entry.method === METHOD_STORED) {
            data = raw;
        }
        else {
            const opts = { maxOutputLength: Math.max(1, entry.size) };
            try {
                data =
                    raw.length < INFLATE_SYNC_BELOW
                        ? inflateRawSync(raw, opts)
                        : await new Promise((resolve, reject) => inflateRaw(raw, opts, (err, out) => (err ? reject(err) : resolve(out))));
            }
            catch (e) {
                throw this.inflateError(entry, e);
            }
        }
        this.check(entry, data.length, crc32(data));
        return data;
    }
    inflateError(entry, e) {
        if (e.code === 'ERR_BUFFER_TOO_LARGE' || e.name === 'RangeError') {
            return this.fail(`entry ${JSON.stringify(entry.name)} is corrupt: it inflates to more than the ${entry.size} bytes the directory records`, entry);
        }
        const msg = e.message;
        if (/unexpected end/i.test(msg)) {
            return this.fail(`entry ${JSON.stringify(entry.name)} is truncated (its deflate stream ends early)`, entry);
        }
        return this.fail(`entry ${JSON.stringify(entry.name)} is corrupt (deflate: ${msg})`, entry);
    }
    async extractWindow(group, start, end, handlers) {
        const window = await this.readExactly(start, Math.min(end, this.fileSize) - start);
        // allSettled: no handler is still writing when an error is reported.
        const results = await Promise.allSettled(group.map(async (entry) => {
            const dataStart = await this.dataStart(entry, window, start);
            const rel = dataStart - start;
            const raw = rel + entry.compressedSize <= window.length
                ? window.subarray(rel, rel + entry.compressedSize)
                : await this.readExactly(dataStart, entry.compressedSize, entry);
            const data = await this.decode(entry, raw);
            await handlers.whole(entry, data);
        }));
        for (const r of results)
            if (r.status === 'rejected')
                throw r.reason;
    }
    async extractStream(entry, handlers) {
        const start = await this.dataStart(entry, null, 0);
        await handlers.stream(entry, this.checkedChunks(entry, start));
    }
    async *rawChunks(entry, start) {
        let pos = start;
        let left = entry.compressedSize;
        while (left > 0) {
            const n = Math.min(STREAM_CHUNK, left);
            yield await this.readExactly(pos, n, entry);
            pos += n;
            left -= n;
        }
    }
    async *inflatedChunks(entry, start) {
        const inflater = createInflateRaw({ chunkSize: 1024 * 1024 });
        const stop = new AbortController();
        const pump = (async () => {
            try {
                for await (const chunk of this.rawChunks(entry, start)) {
                    if (!inflater.write(chunk))
                        await once(inflater, 'drain', { signal: stop.signal });
                }
                inflater.end();
            }
            catch (e) {
                if (!stop.signal.aborted)
                    inflater.destroy(e);
            }
        })();
        try {
            for await (const out of inflater)
                yield out;
        }
        catch (e) {
            if (e instanceof WheelError)
                throw e;
            throw this.inflateError(entry, e);
        }
        finally {
            stop.abort();
            inflater.destroy();
            await pump;
        }
    }
    async *checkedChunks(entry, start) {
        const source = entry.method === METHOD_STORED ? this.rawChunks(entry, start) : this.inflatedChunks(entry, start);
        let size = 0;
        let crc = 0;
        for await (const chunk of source) {
            size += chunk.length;
            if (size > entry.size) {
                throw this.fail(`entry ${JSON.stringify(entry.name)} is corrupt: it inflates to more than the ${entry.size} bytes the directory records`, entry);
            }
            crc = crc32(chunk, crc);
            yield chunk;
        }
        this.check(entry, size, crc);
    }
}
function hex8(n) {
    return n.toString(16).padStart(8, '0');
}
async function runPool(jobs, concurrency) {
    let next = 0;
    let failure = null;
    const worker = async () => {
        while (failure === null && next < jobs.length) {
            const job = jobs[next++];
            try {
                await job();
            }
            catch (error) {
                failure ??= { error };
            }
        }
    };
    // Every worker stops before we return (nothing keeps writing after an error); the first error wins.
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
    if (failure !== null)
        throw failure.error;
}
// ---------------------------------------------------------------------------------------------
// Central directory
async function readAt(fh, position, length) {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, position + done);
        if (bytesRead === 0)
            break;
        done += bytesRead;
    }
    return buf.subarray(0, done);
}
function u64(buf, offset, what, fail) {
    const v = buf.readBigUInt64LE(offset);
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
        throw fail(`${what} is too large (${v})`);
    return Number(v);
}
async function readCentralDirectory(fh, path, fileSize) {
    const damaged = `download ${basename(path)} again; the file is damaged or is not a wheel`;
    const fail = (message, entry) => new WheelError(message, path, damaged, entry);
    const notZip = (why) => new WheelError(`not a zip file (${why})`, path, `a wheel is a zip archive: download ${basename(path)} again; it is truncated or not a wheel`);
    if (fileSize < EOCD_SIZE)
        throw notZip(`${fileSize} bytes, too short for a zip`);
    const tailLen = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT + ZIP64_LOCATOR_SIZE);
    const tailStart = fileSize - tailLen;
    const tail = await readAt(fh, tailStart, tailLen);
    let eocd = -1;
    for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
        if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tail.length) {
            eocd = i;
            break;
        }
    }
    if (eocd < 0)
        throw notZip('no end of central directory record; the file is truncated or not a zip');
    const eocdPos = tailStart + eocd;
    const disk = tail.readUInt16LE(eocd + 4);
    const cdDisk = tail.readUInt16LE(eocd + 6);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    let cdEnd = eocdPos;
    let zip64 = false;
    if (eocd >= ZIP64_LOCATOR_SIZE && tail.readUInt32LE(eocd - ZIP64_LOCATOR_SIZE) === SIG_ZIP64_LOCATOR) {
        const loc = eocd - ZIP64_LOCATOR_SIZE;
        if (tail.readUInt32LE(loc + 4) !== 0 || tail.readUInt32LE(loc + 16) > 1) {
            throw notZip('a multi-disk (split) archive');
        }
        const recPos = u64(tail, loc + 8, 'the ZIP64 end record offset', fail);
        const rec = await readAt(fh, recPos, ZIP64_EOCD_SIZE);
        if (rec.length < ZIP64_EOCD_SIZE || rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) {
            throw notZip('the ZIP64 end of central directory record is missing');
        }
        if (rec.readUInt32LE(16) !== 0 || rec.readUInt32LE(20) !== 0)
            throw notZip('a multi-disk (split) archive');
        count = u64(rec, 32, 'the ZIP64 entry count', fail);
        cdSize = u64(rec, 40, 'the ZIP64 central directory size', fail);
        cdOffset = u64(rec, 48, 'the ZIP64 central directory offset', fail);
        cdEnd = recPos;
        zip64 = true;
    }
    else if (disk !== 0 || cdDisk !== 0) {
        throw notZip('a multi-disk (split) archive');
    }
    if (cdOffset + cdSize !== cdEnd) {
        throw notZip(`the central directory (${cdSize} bytes at ${cdOffset}) does not end where the end record is (${cdEnd}); ` +
            'the file is truncated, or has data before the archive');
    }
    const cd = await readAt(fh, cdOffset, cdSize);
    if (cd.length !== cdSize)
        throw notZip('the central directory is truncated');
    const entries = [];
    const raw = [];
    const seen = new Set();
    let p = 0;
    while (p < cd.length) {
        if (p + CENTRAL_SIZE > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) {
            throw fail(`the central directory is corrupt at entry ${entries.length + 1}`);
        }
        const madeBy = cd.readUInt16LE(p + 4);
        const flags = cd.readUInt16LE(p + 8);
        const method = cd.readUInt16LE(p + 10);
        const crc = cd.readUInt32LE(p + 16);
        let compressedSize = cd.readUInt32LE(p + 20);
        let size = cd.readUInt32LE(p + 24);
        const nameLen = cd.readUInt16LE(p + 28);
        const extraLen = cd.readUInt16LE(p + 30);
        const commentLen = cd.readUInt16LE(p + 32);
        const external = cd.readUInt32LE(p + 38);
        let localHeaderOffset = cd.readUInt32LE(p + 42);
        const end = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
        if (end > cd.length)
            throw fail(`the central directory is corrupt at entry ${entries.length + 1}`);
        const rawName = Buffer.from(cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
        let name;
        if (flags & FLAG_UTF8) {
            try {
                name = utf8.decode(rawName);
            }
            catch {
                throw fail(`entry name ${JSON.stringify(rawName.toString('latin1'))} is marked UTF-8 but is not valid UTF-8`);
            }
        }
        else {
            name = decodeCp437(rawName);
        }
        if (name.includes('\0'))
            throw fail(`entry name ${JSON.stringify(name)} contains a NUL byte`, name);
        // ZIP64 extended information: only the fields whose 32-bit value is 0xFFFFFFFF, in this order.
        const extra = cd.subarray(p + CENTRAL_SIZE + nameLen, p + CENTRAL_SIZE + nameLen + extraLen);
        let x = 0;
        while (x + 4 <= extra.length) {
            const tag = extra.readUInt16LE(x);
            const len = extra.readUInt16LE(x + 2);
            if (x + 4 + len > extra.length)
                throw fail(`entry ${JSON.stringify(name)} has a corrupt extra field`, name);
            if (tag === 0x0001) {
                const field = extra.subarray(x + 4, x + 4 + len);
                let q = 0;
                const take = (what) => {
                    if (q + 8 > field.length)
                        throw fail(`entry ${JSON.stringify(name)} has a corrupt ZIP64 extra field`, name);
                    const v = u64(field, q, `entry ${JSON.stringify(name)}: ${what}`, fail);
                    q += 8;
                    return v;
                };
                if (size === 0xffffffff)
                    size = take('size');
                if (compressedSize === 0xffffffff)
                    compressedSize = take('compressed size');
                if (localHeaderOffset === 0xffffffff)
                    localHeaderOffset = take('offset');
            }
            x += 4 + len;
        }
        if (flags & FLAG_ENCRYPTED) {
            throw new WheelError(`entry ${JSON.stringify(name)} is encrypted`, path, 'wheels cannot be encrypted; rebuild the wheel', name);
        }
        if (method !== METHOD_STORED && method !== METHOD_DEFLATE) {
            throw new WheelError(`entry ${JSON.stringify(name)} uses compression method ${method}; only stored (0) and deflate (8) are supported`, path, 'rebuild the wheel with deflate compression (what the wheel spec asks for)', name);
        }
        if (seen.has(name)) {
            throw new WheelError(`entry ${JSON.stringify(name)} appears twice in the archive`, path, 'rebuild the wheel; a wheel lists each file once', name);
        }
        seen.add(name);
        const creatorSystem = madeBy >>> 8;
        entries.push({
            name,
            isDirectory: name.endsWith('/'),
            method,
            flags,
            crc32: crc,
            compressedSize,
            size,
            localHeaderOffset,
            creatorSystem,
            externalAttributes: external,
            unixMode: creatorSystem === SYSTEM_UNIX ? external >>> 16 : null
        });
        raw.push({ rawName, cdExtraLength: extraLen });
        p = end;
    }
    if (entries.length !== count && !(!zip64 && count === entries.length % 0x10000)) {
        throw fail(`the end record says ${count} entries, the central directory has ${entries.length}`);
    }
    // Each entry's data must end before the next local header (or the central directory).
    const order = entries
        .map((_, i) => i)
        .sort((a, b) => entries[a].localHeaderOffset - entries[b].localHeaderOffset);
    const internal = new Map();
    for (let k = 0; k < order.length; k++) {
        const i = order[k];
        const e = entries[i];
        const next = k + 1 < order.length ? entries[order[k + 1]].localHeaderOffset : cdOffset;
        if (e.localHeaderOffset + LOCAL_SIZE > cdOffset) {
            throw fail(`entry ${JSON.stringify(e.name)} starts past the end of the archive data`, e.name);
        }
        if (next === e.localHeaderOffset) {
            throw fail(`entries ${JSON.stringify(e.name)} and another share one local header`, e.name);
        }
        internal.set(e, { ...raw[i], limit: next });
    }
    return { entries, internal };
}

// Install a wheel into an image-root staging directory the way pip installs it into a Python
// environment (the binary distribution format spec, PEP 427, and "Recording installed projects"),
// so the staging directory can become one image layer.
//
// What pip does and we do too (pip's `_internal/operations/install/wheel.py` is the reference; the
// differential test installs the same wheels with pip 23.2.1, and pip 26.2.1 when the mirror has
// it, and compares the trees byte for byte):
// - Root-Is-Purelib picks purelib or platlib for the wheel's top level; `<x>.data/<key>/...` go to
//   the scheme paths (purelib, platlib, scripts, data, headers). Headers go under
//   `<headers>/<project>`, with the project named as pip names the requirement: the wheel file
//   name's project part with `_` turned into `-` (pip 23-24), or normalized (pip 26, `pip: 'pip-26'`).
// - `.data/scripts` files whose first line starts with `#!python` get `#!<interpreter>\n` instead of
//   that line; a data script named like an entry point (`X`, `X.exe`, `X-script.py`, `X.pya`) is not
//   installed; console_scripts and gui_scripts become wrapper scripts with the bytes pip writes
//   (distlib's ScriptMaker: shebang rules incl. the /bin/sh trampoline for long paths or spaces, the
//   template, pip/easy_install versioned names for the target Python).
// - A file is executable when the zip records a regular-file mode with any x bit (pip's
//   `zip_item_is_executable`; symlink or type-less modes are not); data scripts keep the zip's mode
//   (pip adds no x bit, though the spec lets installers); generated wrappers are executable;
//   INSTALLER, REQUESTED and RECORD are not.
// - RECORD lists every installed file relative to the lib dir (`../../../bin/x` for scripts),
//   `sha256=<urlsafe base64, no padding>,size`, RECORD itself with empty fields, rows sorted, CRLF
//   line ends (Python's csv writer).
//
// Where we differ, on purpose:
// - The wheel's RECORD hashes are verified for every file installed (pip 23-26 does not check
//   them); a mismatch, a weak (md5/sha1) or unknown algorithm is an error. Files the RECORD does not
//   list are accepted, as pip accepts them, but get a hash in the new RECORD (pip leaves it empty).
//   Every entry's CRC-32 and size are checked too (zip.ts).
// - The new RECORD lists exactly the installed files; pip also keeps rows of the old RECORD for
//   files it did not install (left-out wrappers).
// - Entry names are checked strictly: backslashes, absolute paths, NUL and anything that
//   normalizes outside its install directory are refused (pip compares string prefixes only).
// - Wheel-Version must be 1.x (pip also takes 0.x and warns above 1.0).
// - No `direct_url.json` (an image installs from an index, not a local file); REQUESTED only when
//   the caller says the project was asked for directly (`requested`), as pip writes it for
//   user-supplied requirements only. No byte-compilation (like `pip --no-compile`). The
//   ENSUREPIP_OPTIONS variable pip reads is ignored (output must not depend on the environment).
// - The shebang is the target interpreter from the layout, not the Python running the installer.
function checkLayout(layout) {
    for (const key of ['purelib', 'platlib', 'scripts', 'data', 'headers', 'interpreter']) {
        const v = layout[key];
        const ok = typeof v === 'string' &&
            v.startsWith('/') &&
            !/[\0\n]/.test(v) &&
            (key === 'interpreter' || (posix.normalize(v) === v && (v === '/' || !v.endsWith('/'))));
        if (!ok) {
            throw new ConfigError(`python layout: ${key} must be a normalized absolute path inside the image, not ${JSON.stringify(v)}`, {}, `give ${key} as an absolute path such as /usr/local/lib/python3.12/site-packages`);
        }
    }
}
function under(dir, rel) {
    return dir === '/' ? `/${rel}` : `${dir}/${rel}`;
}
// ---------------------------------------------------------------------------------------------
// Text formats inside a wheel
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, 'g');
/** Python's `str.splitlines()` line boundaries (which include the file/group/record separators). */
// eslint-disable-next-line no-control-regex
const PY_LINES = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
function pyStrip(s) {
    return s.replace(PY_STRIP, '');
}
/**
 * The first value of an RFC 822 style header, as Python's email parser (compat32) returns it:
 * leading blanks dropped, continuation lines kept, trailing line ends dropped. Null when absent.
 */
function headerValue(text, name) {
    const lines = (text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? []);
    const want = name.toLowerCase();
    let found = null;
    let current = null;
    for (const line of lines) {
        if (/^[ \t]/.test(line) && line.trim() !== '') {
            if (current !== null)
                current += line;
            continue;
        }
        if (current !== null)
            break;
        if (line === '\n' || line === '\r\n' || line === '\r')
            break;
        const m = /^([\x21-\x39\x3b-\x7e]+):(.*)$/s.exec(line);
        if (!m)
            break;
        if (m[1].toLowerCase() === want)
            current = m[2].replace(/^[ \t]+/, '');
    }
    if (current !== null)
        found = current.replace(/[\r\n]+$/, '');
    return found;
}
/** The `.dist-info/WHEEL` file: Wheel-Version (major 1 only) and Root-Is-Purelib. */
function parseWheelInfo(text, wheel, path) {
    const versionText = headerValue(text, 'Wheel-Version');
    if (versionText === null) {
        throw new WheelError(`${path} has no Wheel-Version`, wheel, 'rebuild the wheel with a current build backend', path);
    }
    const parts = pyStrip(versionText).split('.');
    if (!parts.every((p) => /^[0-9]+(_[0-9]+)*$/.test(pyStrip(p)))) {
        throw new WheelError(`${path}: invalid Wheel-Version ${JSON.stringify(versionText)}`, wheel, 'rebuild the wheel with a current build backend', path);
    }
    const wheelVersion = parts.map((p) => Number(pyStrip(p).replace(/_/g, '')));
    if (wheelVersion[0] !== 1) {
        throw new WheelError(`Wheel-Version ${pyStrip(versionText)} in ${path} is not supported (only 1.x)`, wheel, 'use a wheel built for Wheel-Version 1 (what pip and every current build backend write)', path);
    }
    return {
        wheelVersion,
        rootIsPurelib: (headerValue(text, 'Root-Is-Purelib') ?? '').toLowerCase() === 'true'
    };
}
/** `entry_points.txt` as importlib.metadata reads it (sections, `name = value`, `#` comments). */
function parseEntryPoints(text, wheel = '', path = 'entry_points.txt') {
    const out = [];
    let group = null;
    const lines = text.split(PY_LINES);
    for (let i = 0; i < lines.length; i++) {
        const line = pyStrip(lines[i]);
        if (line === '' || line.startsWith('#'))
            continue;
        if (line.startsWith('[') && line.endsWith(']')) {
            group = line.replace(/^\[+|\]+$/g, '');
            continue;
        }
        if (group === null)
            continue;
        const eq = line.indexOf('=');
        if (eq < 0) {
            throw new WheelError(`${path} line ${i + 1} has no "=": ${JSON.stringify(line)}`, wheel, 'fix the entry points in the project and rebuild the wheel', path);
        }
        out.push({ group, name: pyStrip(line.slice(0, eq)), value: pyStrip(line.slice(eq + 1)) });
    }
    return out;
}
/** One CSV line as Python's csv reader (default dialect) splits it. */
function parseCsvLine(line) {
    const fields = [];
    let field = '';
    let inQuotes = false;
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (inQuotes) {
            if (c === '"') {
                if (line[i + 1] === '"') {
                    field += '"';
                    i++;
                }
                else
                    inQuotes = false;
            }
            else
                field += c;
        }
        else if (c === ',') {
            fields.push(field);
            field = '';
            quoted = false;
        }
        else if (c === '"' && field === '' && !quoted) {
            inQuotes = true;
            quoted = true;
        }
        else
            field += c;
    }
    fields.push(field);
    return fields;
}
/** A RECORD file: CSV rows `path,hash,size` (hash and size may be empty). */
function parseRecord(text) {
    const rows = [];
    for (const line of text.split(PY_LINES)) {
        if (line === '')
            continue;
        const f = parseCsvLine(line);
        rows.push({ path: f[0] ?? '', hash: f[1] ?? '', size: f[2] ?? '' });
    }
    return rows;
}
function csvField(s) {
    return /[,"\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
function compareUtf8(a, b) {
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
/** RECORD text as pip writes it: rows sorted by (path, hash, size), Python csv quoting, CRLF. */
function formatRecord(rows) {
    const sorted = [...rows].sort((a, b) => compareUtf8(a.path, b.path) || compareUtf8(a.hash, b.hash) || compareUtf8(a.size, b.size));
    return sorted.map((r) => `${csvField(r.path)},${csvField(r.hash)},${csvField(r.size)}\r\n`).join('');
}
/** `sha256=<urlsafe base64 without padding>` (the RECORD hash format). */
function recordHash(digest, algorithm = 'sha256') {
    return `${algorithm}=${digest.toString('base64url')}`;
}
// hashlib names in RECORD → node's names. md5 and sha1 are refused by the spec.
const RECORD_ALGORITHMS = {
    sha224: 'sha224',
    sha256: 'sha256',
    sha384: 'sha384',
    sha512: 'sha512',
    sha3_224: 'sha3-224',
    sha3_256: 'sha3-256',
    sha3_384: 'sha3-384',
    sha3_512: 'sha3-512',
    blake2b: 'blake2b512',
    blake2s: 'blake2s256'
};
function expectedHash(row, wheel, recordPath) {
    if (row.hash === '')
        return null;
    const eq = row.hash.indexOf('=');
    const algorithm = eq < 0 ? row.hash : row.hash.slice(0, eq);
    const nodeAlgorithm = RECORD_ALGORITHMS[algorithm];
    if (eq < 0 || nodeAlgorithm === undefined) {
        const weak = algorithm === 'md5' || algorithm === 'sha1';
        throw new WheelError(`${recordPath} lists ${JSON.stringify(row.path)} with ${weak
            ? `a ${algorithm} hash, which the wheel spec forbids`
            : `an unsupported hash ${JSON.stringify(row.hash)}`}`, wheel, 'rebuild the wheel with a current build backend (it writes sha256 hashes)', row.path);
    }
    return { algorithm, nodeAlgorithm, value: row.hash.slice(eq + 1).replace(/=+$/, '') };
}
const TEMPLATES = {
    'pip-23': "# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom %(module)s import %(import_name)s\nif __name__ == '__main__':\n" +
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(%(func)s())\n",
    'pip-24.3': "# -*- coding: utf-8 -*-\nimport re\nimport sys\nif __name__ == '__main__':\n    from %(module)s import %(import_name)s\n" +
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(%(func)s())\n",
    'pip-26': "import sys\nfrom %(module)s import %(import_name)s\nif __name__ == '__main__':\n" +
        "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n    sys.exit(%(func)s())\n"
};
const W = '[\\p{L}\\p{N}_]';
// distlib.util.ENTRY_RE, used with search() (not anchored).
const ENTRY_RE = new RegExp(`(?<name>(?:${W}|[-.+])+)\\s*=\\s*(?<callable>${W}+(?:[:.]${W}+)*)` +
    `\\s*(?:\\[\\s*(?<flags>[\\p{L}\\p{N}_-]+(?:=${W}+)?(?:,\\s*${W}+(?:=${W}+)?)*)\\s*\\])?`, 'u');
/** distlib's `get_export_entry`: null when the text has no `name = callable`; throws when invalid. */
function parseExportEntry(spec) {
    const m = ENTRY_RE.exec(spec);
    const brackets = spec.includes('[') || spec.includes(']');
    if (!m)
        return brackets ? 'invalid' : null;
    const { name, callable, flags } = m.groups;
    const colons = callable.split(':').length - 1;
    if (colons > 1)
        return 'invalid';
    const [prefix, suffix] = colons === 0 ? [callable, null] : callable.split(':');
    if (flags === undefined && brackets)
        return 'invalid';
    return { name, prefix, suffix, flags: flags === undefined ? [] : flags.split(',').map((f) => f.trim()) };
}
/** distlib's shebang for an interpreter path: `#!path\n`, or the /bin/sh trampoline when it has spaces or is long. */
function scriptShebang(interpreter) {
    let exe = interpreter;
    if (exe.includes(' ')) {
        if (exe.startsWith('/usr/bin/env ')) {
            const rest = exe.slice('/usr/bin/env '.length);
            if (rest.includes(' ') && !rest.startsWith('"'))
                exe = `/usr/bin/env "${rest}"`;
        }
        else if (!exe.startsWith('"'))
            exe = `"${exe}"`;
    }
    const length = Buffer.byteLength(exe, 'utf8') + 3;
    if (!exe.includes(' ') && length <= 127)
        return `#!${exe}\n`;
    return `#!/bin/sh\n'''exec' ${exe} "$0" "$@"\n' '''\n`;
}
/** The bytes of the wrapper script pip writes for an entry point. */
function entryPointScript(entry, interpreter, flavour = 'pip-23') {
    const suffix = entry.suffix ?? '';
    const text = TEMPLATES[flavour]
        .replace('%(module)s', entry.prefix)
        .replace('%(import_name)s', suffix.split('.')[0])
        .replace('%(func)s', suffix);
    return Buffer.from(scriptShebang(interpreter) + text, 'utf8');
}
/** pip's `get_console_script_specs`: pip and easy_install get versioned names for the target Python. */
function consoleScriptSpecs(console, python) {
    const c = new Map(console);
    const specs = [];
    const pip = c.get('pip');
    c.delete('pip');
    if (pip) {
        specs.push(`pip = ${pip}`, `pip${python.major} = ${pip}`, `pip${python.major}.${python.minor} = ${pip}`);
        for (const k of [...c.keys()])
            if (/^pip(\d+(\.\d+)?)?$/.test(k))
                c.delete(k);
    }
    const easy = c.get('easy_install');
    c.delete('easy_install');
    if (easy) {
        specs.push(`easy_install = ${easy}`, `easy_install-${python.major}.${python.minor} = ${easy}`);
        for (const k of [...c.keys()])
            if (/^easy_install(-\d+\.\d+)?$/.test(k))
                c.delete(k);
    }
    for (const [k, v] of c)
        specs.push(`${k} = ${v}`);
    return specs;
}
/** pip's `fix_script`: a first line starting with `#!python` becomes `#!<interpreter>\n`. */
function fixScriptShebang(content, interpreter) {
    if (!content.subarray(0, 8).equals(Buffer.from('#!python')))
        return content;
    const nl = content.indexOf(0x0a);
    const rest = nl < 0 ? Buffer.alloc(0) : content.subarray(nl + 1);
    return Buffer.concat([Buffer.from(`#!${interpreter}\n`, 'utf8'), rest]);
}
const SCHEME_KEYS = ['data', 'headers', 'platlib', 'purelib', 'scripts'];
/**
 * An entry name as `/`-separated segments after `os.path.normpath`; refuses names that are
 * absolute, use backslashes or NUL, or climb out of the directory they are installed into.
 */
function entrySegments(name, wheel) {
    const refuse = (why) => new WheelError(`entry ${JSON.stringify(name)} ${why}`, wheel, 'do not install this wheel: it was built wrongly or tampered with; rebuild it or get it from the project again', name);
    if (name.includes('\\'))
        throw refuse('uses a backslash; wheel paths are /-separated and relative');
    if (name.startsWith('/') || /^[A-Za-z]:/.test(name))
        throw refuse('is an absolute path');
    if (name.includes('\0'))
        throw refuse('contains a NUL character');
    const out = [];
    for (const seg of name.split('/')) {
        if (seg === '' || seg === '.')
            continue;
        if (seg === '..') {
            if (out.length === 0)
                throw refuse('would be installed outside its install directory (`..`)');
            out.pop();
        }
        else
            out.push(seg);
    }
    if (out.length === 0)
        throw refuse('has no file name');
    return out;
}
/** Where pip installs each file of the wheel, and what it generates. Throws WheelError. */
function planInstall(input) {
    const { layout, wheel, infoDir } = input;
    const libDir = input.rootIsPurelib ? layout.purelib : layout.platlib;
    const schemePaths = {
        data: layout.data,
        headers: under(layout.headers, input.headersName),
        platlib: layout.platlib,
        purelib: layout.purelib,
        scripts: layout.scripts
    };
    const console = new Map();
    const gui = new Map();
    for (const ep of input.entryPoints) {
        if (ep.group === 'console_scripts')
            console.set(ep.name, ep.value);
        else if (ep.group === 'gui_scripts')
            gui.set(ep.name, ep.value);
    }
    // pip's order: root files, other .data files, .data/scripts; then generated wrappers, INSTALLER,
    // REQUESTED, RECORD. A later file for the same destination replaces an earlier one.
    const root = [];
    const data = [];
    const scripts = [];
    const file = (dest, executable, source) => ({
        dest,
        recordPath: posix.relative(libDir, dest),
        executable,
        source
    });
    for (const e of input.entries) {
        if (e.isDirectory)
            continue;
        const segs = entrySegments(e.name, wheel);
        const isData = e.name.split('/', 1)[0].endsWith('.data');
        if (!isData) {
            root.push(file(under(libDir, segs.join('/')), e.executable, { kind: 'entry', entry: e.name, fixShebang: false }));
            continue;
        }
        if (segs.length < 3) {
            throw new WheelError(`unexpected file ${JSON.stringify(e.name)} in the .data directory (contents must be named <scheme key>/<path>)`, wheel, 'rebuild the wheel; only purelib/, platlib/, scripts/, data/ and headers/ may be under .data', e.name);
        }
        const key = segs[1];
        if (!SCHEME_KEYS.includes(key)) {
            throw new WheelError(`unknown scheme key ${JSON.stringify(key)} in ${JSON.stringify(e.name)} (valid: ${SCHEME_KEYS.join(', ')})`, wheel, 'rebuild the wheel; only purelib/, platlib/, scripts/, data/ and headers/ may be under .data', e.name);
        }
        const dest = under(schemePaths[key], segs.slice(2).join('/'));
        const raw = e.name.split('/');
        const isScript = raw.length > 2 && raw[0].endsWith('.data') && raw[1] === 'scripts';
        if (!isScript) {
            data.push(file(dest, e.executable, { kind: 'entry', entry: e.name, fixShebang: false }));
            continue;
        }
        // setuptools-generated wrappers for entry points are left out (pip's is_entrypoint_wrapper).
        const base = posix.basename(dest);
        const lower = base.toLowerCase();
        const match = lower.endsWith('.exe')
            ? base.slice(0, -4)
            : lower.endsWith('-script.py')
                ? base.slice(0, -10)
                : lower.endsWith('.pya')
                    ? base.slice(0, -4)
                    : base;
        if (console.has(match) || gui.has(match))
            continue;
        scripts.push(file(dest, e.executable, { kind: 'entry', entry: e.name, fixShebang: true }));
    }
    const generated = [];
    const wrappers = [...consoleScriptSpecs(console, layout.python), ...[...gui].map(([k, v]) => `${k} = ${v}`)];
    for (const spec of wrappers) {
        const entry = parseExportEntry(spec);
        const bad = (why) => new WheelError(`invalid script entry point ${JSON.stringify(spec)} in ${infoDir}/entry_points.txt: ${why}`, wheel, 'fix [project.scripts] / [project.gui-scripts] (or console_scripts) in the project and rebuild the wheel', `${infoDir}/entry_points.txt`);
        if (entry === null || entry === 'invalid')
            throw bad('not of the form `name = module:callable`');
        if (entry.suffix === null)
            throw bad('a callable suffix is required (module:function)');
        if (entry.name === '.' || entry.name === '..')
            throw bad('the script would be installed outside the scripts directory');
        generated.push(file(under(layout.scripts, entry.name), true, {
            kind: 'generated',
            content: entryPointScript(entry, layout.interpreter, input.pip)
        }));
    }
    const distInfo = under(libDir, infoDir);
    generated.push(file(under(distInfo, 'INSTALLER'), false, {
        kind: 'generated',
        content: Buffer.from(`${input.installer}\n`)
    }));
    if (input.requested) {
        generated.push(file(under(distInfo, 'REQUESTED'), false, { kind: 'generated', content: Buffer.alloc(0) }));
    }
    generated.push(file(under(distInfo, 'RECORD'), false, { kind: 'record' }));
    const winners = new Map();
    for (const f of [...root, ...data, ...scripts, ...generated]) {
        winners.delete(f.dest);
        winners.set(f.dest, f);
    }
    const files = [...winners.values()];
    for (const f of files)
        checkEntryPath(f.dest.slice(1));
    // A path cannot be both a file and a directory.
    for (const f of files) {
        for (let d = posix.dirname(f.dest); d !== '/' && d !== '.'; d = posix.dirname(d)) {
            const clash = winners.get(d);
            if (clash) {
                const name = (p) => p.source.kind === 'entry' ? JSON.stringify(p.source.entry) : `generated ${p.dest}`;
                throw new WheelError(`${name(clash)} installs a file at ${d}, where ${name(f)} needs a directory`, wheel, 'rebuild the wheel so no file has the same path as a directory', clash.source.kind === 'entry' ? clash.source.entry : undefined);
            }
        }
    }
    return { libDir, distInfo, files };
}
/** pip's `zip_item_is_executable`: a regular-file mode with any x bit. */
function zipExecutable(e) {
    const mode = e.externalAttributes >>> 16;
    return mode !== 0 && (mode & 0o170000) === 0o100000 && (mode & 0o111) !== 0;
}
async function readText(zip, path, wheel) {
    const entry = zip.entry(path);
    if (!entry) {
        throw new WheelError(`${path} is missing`, wheel, 'rebuild the wheel with a current build backend; every wheel has WHEEL and RECORD in its .dist-info', path);
    }
    const data = await zip.read(entry);
    try {
        return new TextDecoder('utf-8', { fatal: true }).decode(data);
    }
    catch {
        throw new WheelError(`${path} is not valid UTF-8`, wheel, 'rebuild the wheel', path);
    }
}
function findDistInfo(names, name, wheel) {
    const dirs = [...new Set(names.map((n) => n.split('/', 1)[0]))].filter((d) => d.endsWith('.dist-info'));
    if (dirs.length !== 1) {
        throw new WheelError(dirs.length === 0
            ? 'no .dist-info directory'
            : `several .dist-info directories: ${dirs.sort().join(', ')}`, wheel, 'a wheel has exactly one <name>-<version>.dist-info directory; rebuild it', dirs[0]);
    }
    const dir = dirs[0];
    if (!normalizeName(dir).startsWith(name)) {
        throw new WheelError(`the .dist-info directory ${JSON.stringify(dir)} does not belong to ${name}`, wheel, 'check that the file name matches the project in the wheel', dir);
    }
    return dir;
}
/** Open the wheel and plan its install (shared by the disk install and the layer entries). */
async function prepareInstall(wheelPath, layout, opts) {
    const filename = opts.filename ?? basename(wheelPath);
    const parsed = parseWheelFilename(filename);
    if (!parsed) {
        throw new WheelError(`${JSON.stringify(filename)} is not a wheel file name (name-version[-build]-python-abi-platform.whl)`, wheelPath, 'keep the file name the index gives the wheel, or pass the original name as `filename`');
    }
    checkLayout(layout);
    const pip = opts.pip ?? 'pip-23';
    const zip = await ZipReader.open(wheelPath);
    try {
        const infoDir = findDistInfo(zip.entries.map((e) => e.name), parsed.distribution, wheelPath);
        const info = parseWheelInfo(await readText(zip, `${infoDir}/WHEEL`, wheelPath), wheelPath, `${infoDir}/WHEEL`);
        const recordName = `${infoDir}/RECORD`;
        const record = new Map(parseRecord(await readText(zip, recordName, wheelPath)).map((r) => [r.path, r]));
        const epName = `${infoDir}/entry_points.txt`;
        const entryPoints = zip.entry(epName)
            ? parseEntryPoints(await readText(zip, epName, wheelPath), wheelPath, epName)
            : [];
        const plan = planInstall({
            wheel: wheelPath,
            entries: zip.entries.map((e) => ({
                name: e.name,
                isDirectory: e.isDirectory,
                executable: zipExecutable(e)
            })),
            infoDir,
            rootIsPurelib: info.rootIsPurelib,
            layout,
            headersName: pip === 'pip-26' ? parsed.distribution : filename.split('-', 1)[0].replace(/_/g, '-'),
            entryPoints,
            pip,
            installer: opts.installer ?? 'fast-build',
            requested: opts.requested ?? false
        });
        const expected = (entry) => {
            const row = record.get(entry.name);
            return row ? expectedHash(row, wheelPath, recordName) : null;
        };
        const verify = (entry, exp, actual) => {
            if (exp && actual.toString('base64url') !== exp.value) {
                throw new WheelError(`${entry.name} does not match its hash in RECORD (${exp.algorithm}=${exp.value}, the file has ${exp.algorithm}=${actual.toString('base64url')})`, wheelPath, `the wheel's content was changed after it was built: download it again, or rebuild it`, entry.name);
            }
        };
        return { zip, parsed, plan, expected, verify };
    }
    catch (e) {
        await zip.close();
        throw e;
    }
}
function sha256(data) {
    return createHash('sha256').update(data).digest();
}
// ---------------------------------------------------------------------------------------------
// The same install as layer entries, with nothing written to disk
/** Entries at least this big are streamed into the layer; smaller ones are read in windows. */
const STREAM_BYTES = 1024 * 1024;
/**
 * The files `installWheel` would write, as layer entries whose content comes straight out of the
 * wheel when the layer is written: a layer of installed packages with no staging tree, so no file
 * is created, written and read back (on a runner's disk that costs more than all the rest).
 *
 * What RECORD needs is known up front: a file copied as it is has the hash the wheel's RECORD gives
 * it (checked as the file is written into the layer: a mismatch fails the layer), and the few others
 * (rewritten `#!python` scripts, files RECORD has no sha256 for, generated wrappers) are read and
 * hashed here. Small entries are inflated a window of neighbours at a time when first needed;
 * large ones stream in chunks.
 */
async function wheelLayerEntries(wheelPath, layout, opts = {}) {
    const { zip, parsed, plan, expected, verify } = await prepareInstall(wheelPath, layout, opts);
    try {
        const entries = [];
        const rows = [];
        const path = (f) => f.dest.slice(1);
        const executable = (f) => f.executable;
        // Entries whose installed bytes or hash must be known now.
        const early = plan.files.filter((f) => {
            if (f.source.kind !== 'entry')
                return false;
            const exp = expected(zip.entry(f.source.entry));
            return f.source.fixShebang || !exp || exp.nodeAlgorithm !== 'sha256';
        });
        const earlyBytes = new Map();
        await zip.extract(early.map((f) => zip.entry(f.source.entry)), {
            whole: (entry, data) => {
                earlyBytes.set(entry.name, data);
            },
            stream: async (entry, chunks) => {
                const parts = [];
                for await (const c of chunks)
                    parts.push(c);
                earlyBytes.set(entry.name, Buffer.concat(parts));
            }
        }, { ...opts.extract, streamThreshold: Number.MAX_SAFE_INTEGER });
        // Small verbatim entries are inflated together, the first time one of them is wanted.
        const small = new Map();
        let smallJob = null;
        const lazyEntries = [];
        const loadSmall = () => (smallJob ??= zip.extract(lazyEntries, {
            whole: (entry, data) => {
                small.set(entry.name, data);
            },
            stream: () => Promise.reject(new Error('unreachable: small entries are read whole'))
        }, { ...opts.extract, streamThreshold: Number.MAX_SAFE_INTEGER }));
        for (const f of plan.files) {
            const src = f.source;
            if (src.kind === 'record')
                continue;
            if (src.kind === 'generated') {
                const content = src.content;
                rows.push({ path: f.recordPath, hash: recordHash(sha256(content)), size: String(content.length) });
                entries.push({
                    type: 'file',
                    path: path(f),
                    executable: executable(f),
                    size: content.length,
                    content: () => content
                });
                continue;
            }
            const entry = zip.entry(src.entry);
            const exp = expected(entry);
            const got = earlyBytes.get(entry.name);
            if (got) {
                verify(entry, exp, createHash(exp?.nodeAlgorithm ?? 'sha256')
                    .update(got)
                    .digest());
                const out = src.fixShebang ? fixScriptShebang(got, layout.interpreter) : got;
                rows.push({ path: f.recordPath, hash: recordHash(sha256(out)), size: String(out.length) });
                entries.push({
                    type: 'file',
                    path: path(f),
                    executable: executable(f),
                    size: out.length,
                    content: () => out
                });
                continue;
            }
            // Copied as it is, with a sha256 in RECORD: that is its hash, checked as it is written.
            rows.push({
                path: f.recordPath,
                hash: recordHash(Buffer.from(exp.value, 'base64url')),
                size: String(entry.size)
            });
            if (entry.size >= STREAM_BYTES) {
                const stream = async (out) => {
                    const h = createHash('sha256');
                    await zip.extract([entry], {
                        whole: async (e, data) => {
                            h.update(data);
                            await out(data);
                        },
                        stream: async (e, chunks) => {
                            for await (const c of chunks) {
                                h.update(c);
                                await out(c);
                            }
                        }
                    }, { streamThreshold: 0 });
                    verify(entry, exp, h.digest());
                };
                entries.push({
                    type: 'file',
                    path: path(f),
                    executable: executable(f),
                    size: entry.size,
                    stream,
                    content: async () => {
                        const parts = [];
                        await stream(async (c) => void parts.push(Buffer.from(c)));
                        return Buffer.concat(parts);
                    }
                });
            }
            else {
                lazyEntries.push(entry);
                entries.push({
                    type: 'file',
                    path: path(f),
                    executable: executable(f),
                    size: entry.size,
                    content: async () => {
                        await loadSmall();
                        const data = small.get(entry.name);
                        if (!data)
                            throw new WheelError(`${entry.name} was read twice`, wheelPath, 'report this as a fast-build bug', entry.name);
                        small.delete(entry.name); // each is written once: free it
                        verify(entry, exp, sha256(data));
                        return data;
                    }
                });
            }
        }
        const rf = plan.files.find((f) => f.source.kind === 'record');
        if (rf) {
            rows.push({ path: rf.recordPath, hash: '', size: '' });
            const text = Buffer.from(formatRecord(rows), 'utf8');
            entries.push({
                type: 'file',
                path: path(rf),
                executable: false,
                size: text.length,
                content: () => text
            });
        }
        return {
            name: parsed.distribution,
            version: parsed.version,
            entries,
            installedSize: entries.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0),
            close: () => zip.close()
        };
    }
    catch (e) {
        await zip.close();
        throw e;
    }
}

function limit(n) {
    let running = 0;
    const waiting = [];
    const next = () => {
        if (running >= n)
            return;
        const start = waiting.shift();
        if (start) {
            running++;
            start();
        }
    };
    return (task) => new Promise((resolve, reject) => {
        waiting.push(() => {
            task()
                .then(resolve, reject)
                .finally(() => {
                running--;
                next();
            });
        });
        next();
    });
}
/** Mark a promise as handled (its failure is reported where it is awaited later), and return it. */
function handled(p) {
    p.catch(() => undefined);
    return p;
}

/**
 * The project's source tree cannot be packed as it is: a `.dockerignore` pattern does not parse, a
 * symlink points outside the tree, a file name cannot go into a tar, git cannot list the files...
 * `location.file` names the file (or the link), `line` the `.dockerignore` line.
 */
class SourceError extends FastBuildError {
}
/**
 * A package of a run-time group (`runtime-groups`) cannot be installed by pip when the container
 * starts: it comes from git or a local archive, or the lock lacks the hashes pip needs.
 * `location` is the package's entry in the lock.
 */
class RuntimeGroupError extends FastBuildError {
}
/**
 * The Dockerfile builder cannot build a variant's deps image: a package pip cannot fetch into the
 * build context, a Dockerfile that is missing, or the engine failing (the message then ends with
 * the build's last lines). `location` names the lock entry or the Dockerfile.
 */
class DockerfileError extends FastBuildError {
}

// Pinned pip requirements from a closure, for one target: `name==version` with a `--hash` line for
// every file pip may install it from, markers already evaluated (the closure is per target), local
// source trees left out (they ship with the source layer). Two users: run-time groups (installed
// when the container starts) and the Dockerfile builder (installed by the user's Dockerfile). Pure.
function compare(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
/** A URL fit to be written into an image or a build context: credentials never are. */
function withoutCredentials(url) {
    return splitUserinfo(url).url;
}
/** sha256 digests of `files`; refuses when one has none (pip's --require-hashes needs them all). */
function sha256s(pkg, files, o) {
    const out = new Set();
    for (const f of files) {
        const h = f.hashes['sha256'];
        if (!h)
            o.refuse(pkg, `file ${f.name}`, 'the lock records no sha256 for it, which pip --require-hashes needs');
        out.add(h.toLowerCase());
    }
    return [...out].sort(compare);
}
/**
 * The files pip may choose from on the target: every compatible wheel and the sdists. pip ranks
 * the candidates itself; listing all of them (not only the wheel we would pick) keeps a different
 * but valid choice from failing the hash check.
 */
function installableFiles(pkg, target) {
    return pkg.files.filter((f) => f.kind === 'sdist' || (f.kind === 'wheel' && wheelSupports(f.name, target)));
}
/** The requirements of these closure entries on `target`, sorted by name. */
function pinnedRequirements(entries, target, o) {
    const out = [];
    for (const { package: pkg } of entries) {
        const s = pkg.source;
        switch (s.kind) {
            case 'directory':
                continue;
            case 'registry': {
                if (pkg.version === null)
                    o.refuse(pkg, 'from an index', 'the lock records no version');
                const reason = unavailableReason(pkg, target);
                if (reason)
                    o.refuse(pkg, `on ${formatPlatform(target.platform)}`, reason);
                const files = installableFiles(pkg, target);
                if (files.length === 0)
                    o.refuse(pkg, 'from an index', 'the lock lists no files for it');
                out.push({
                    name: pkg.name,
                    version: pkg.version,
                    requirement: `${pkg.name}==${pkg.version}`,
                    hashes: sha256s(pkg, files, o),
                    // A lock that does not name the index (pylock may omit it) means PyPI, as for pip.
                    index: s.url === '' ? PYPI_SIMPLE : withoutCredentials(s.url)
                });
                continue;
            }
            case 'url': {
                const [file] = filesForTarget(pkg.files, target);
                if (!file)
                    o.refuse(pkg, `from ${s.url}`, 'the lock records no archive with a hash for it');
                const url = withoutCredentials(file.url ?? s.url);
                out.push({
                    name: pkg.name,
                    version: pkg.version,
                    requirement: `${pkg.name} @ ${url}${s.subdirectory ? `#subdirectory=${s.subdirectory}` : ''}`,
                    hashes: sha256s(pkg, [file], o),
                    index: null
                });
                continue;
            }
            case 'git': {
                if (o.git === 'refuse' || !s.commit)
                    o.refuse(pkg, `from git ${s.url}`, s.commit ? o.why.git : 'the lock records no commit for it');
                const url = withoutCredentials(s.url.replace(/^git\+/, ''));
                out.push({
                    name: pkg.name,
                    version: pkg.version,
                    requirement: `${pkg.name} @ git+${url}@${s.commit}${s.subdirectory ? `#subdirectory=${s.subdirectory}` : ''}`,
                    hashes: [],
                    index: null
                });
                continue;
            }
            case 'file':
                return o.refuse(pkg, `from the local archive ${s.path}`, o.why.file);
        }
    }
    return out.sort((a, b) => compare(a.name, b.name) || compare(a.version ?? '', b.version ?? ''));
}
/** The index to install from: the lock's own (first used), else PyPI; the others as extra indexes. */
function requirementIndexes(requirements) {
    const seen = [];
    for (const r of requirements)
        if (r.index && !seen.includes(r.index))
            seen.push(r.index);
    const [index = PYPI_SIMPLE, ...extra] = seen;
    return { index, extra };
}
/** `name==version \` and one `--hash` line per file, for each requirement. */
function requirementLines(requirements) {
    const lines = [];
    for (const r of requirements) {
        lines.push(`${r.requirement}${r.hashes.length ? ' \\' : ''}`);
        r.hashes.forEach((h, i) => lines.push(`    --hash=sha256:${h}${i < r.hashes.length - 1 ? ' \\' : ''}`));
    }
    return lines;
}

// Run-time groups (`runtime-groups = ["exp"]`): packages that stay out of the deps image and its
// hash, and are installed by pip when the container starts. The app image gets one small layer
// for them, between the deps layers and the source layer, holding
//
//   /opt/fast-build/runtime-requirements.txt   pinned and hashed, for this variant and platform
//   /opt/fast-build/entrypoint                 a POSIX sh shim: pip install (once), then exec "$@"
//
// and the image's Entrypoint becomes the shim followed by the entrypoint it had. Everything here
// is pure: the plan's run-time closure in, texts and layer entries out. Pushing the layer is the
// push code's business (fast-path.ts); the hash never sees any of this (plan/hash.ts).
/** Where the layer's files go in the image. */
const RUNTIME_DIR = '/opt/fast-build';
const REQUIREMENTS_PATH = `${RUNTIME_DIR}/runtime-requirements.txt`;
const SHIM_PATH = `${RUNTIME_DIR}/entrypoint`;
/**
 * The layer's one file time (1980-01-01, as deps layers): it depends on the lock only, so the same
 * run-time packages give the same layer on every commit, uploaded once.
 */
const RUNTIME_MTIME = 315532800;
/** Image label: how many packages the shim installs (on this platform). */
const RUNTIME_LABEL = 'dev.fast-build.runtime-packages';
/** Overrides the index the shim installs from (a mirror), as FAST_BUILD_INDEX_URL does for builds. */
const INDEX_ENV = 'FAST_BUILD_INDEX_URL';
function refuse(pkg, lockPath, what, why) {
    throw new RuntimeGroupError(`run-time package ${pkg.name}${pkg.version ? ` ${pkg.version}` : ''} ${what}: ${why}`, { file: lockPath, line: pkg.line }, `move ${pkg.name} out of the runtime group (tool.fast-build.runtime-groups) into a variant's groups, so it is built into the deps image`);
}
/**
 * The requirements for a platform's run-time packages, sorted by name. Markers are already
 * evaluated (the closure is per target), so none are written. Local source trees ship with the
 * source layer and are left out; what pip cannot fetch and check by hash (git checkouts, local
 * archives) is refused.
 */
function runtimeRequirements(entries, target, lockPath) {
    return pinnedRequirements(entries, target, {
        refuse: (pkg, what, why) => refuse(pkg, lockPath, what, why),
        git: 'refuse',
        why: {
            git: 'pip cannot check a git checkout against a hash, and the container installs with --require-hashes',
            file: 'the file is not in the image, so the container cannot install it'
        }
    });
}
/** The index to install from: the lock's own (first used), else PyPI; the others as extra indexes. */
function runtimeIndexes(requirements) {
    return requirementIndexes(requirements);
}
/** The pip requirements file: a header, then `name==version \` and one `--hash` line per file. */
function requirementsText(variant, platform, requirements) {
    const lines = [
        `# Generated by fast-build for variant ${variant}, platform ${formatPlatform(platform)}.`,
        `# The run-time group packages: ${SHIM_PATH} installs them with pip when the container starts.`,
        "# They are not in the image's hash: the deps image does not change when they do.",
        ''
    ];
    lines.push(...requirementLines(requirements));
    return lines.join('\n') + '\n';
}
/** `text` as one single-quoted sh word. */
function shQuote(text) {
    return `'${text.replace(/'/g, `'\\''`)}'`;
}
/** `a==1, b==2, c==3 and 4 more` */
function summary(requirements) {
    const shown = requirements.slice(0, 3).map((r) => (r.version ? `${r.name}==${r.version}` : r.name));
    const more = requirements.length - shown.length;
    return shown.join(', ') + (more > 0 ? ` and ${more} more` : '');
}
/**
 * The entrypoint shim. Without packages it only runs the command. With packages it installs them
 * once per container (a marker keyed by the requirements' sha256, under $TMPDIR or /tmp so a
 * read-only root with a writable site-packages still works), then runs the command with exec, so
 * signals reach it directly.
 */
function shimText(args) {
    const { requirements: reqs, install } = args;
    const head = [
        '#!/bin/sh',
        `# Generated by fast-build for variant ${args.variant}, platform ${formatPlatform(args.platform)}.`
    ];
    if (reqs.length === 0) {
        return [
            ...head,
            '# No run-time group packages on this platform: it only runs the command.',
            'exec "$@"',
            ''
        ].join('\n');
    }
    head.push(`# Installs the run-time group packages of ${REQUIREMENTS_PATH}`, '# with pip when the container starts (once per container), then runs the command. They are', "# not in the image's hash.", `# ${INDEX_ENV} replaces the index they come from (a mirror; credentials in the URL or in`, '# ~/.netrc, never in the image).');
    const { index, extra } = runtimeIndexes(reqs);
    const n = `${reqs.length} run-time package${reqs.length === 1 ? '' : 's'}`;
    const py = shQuote(install.interpreter);
    const site = shQuote(install.sitePackages);
    const defaults = [`--index-url ${shQuote(index)}`, ...extra.map((u) => `--extra-index-url ${shQuote(u)}`)];
    const say = (text) => `echo ${shQuote(`fast-build: ${text}`)} >&2`;
    // Inside double quotes only these four are special.
    const dq = (text) => text.replace(/["$`\\]/g, '\\$&');
    return [
        ...head,
        'set -u',
        `req=${shQuote(REQUIREMENTS_PATH)}`,
        `marker="\${TMPDIR:-/tmp}/fast-build-runtime-${args.requirementsSha256.slice(0, 16)}"`,
        // Running as root is what containers do; pip's warning about it would be noise on every start
        // (an environment setting, which pips older than the option ignore, unlike the flag).
        'fast_build_pip() {',
        `  PIP_ROOT_USER_ACTION=ignore ${py} -m pip install --no-deps --require-hashes --no-input --disable-pip-version-check --quiet \\`,
        `    --target ${site} "$@" -r "$req"`,
        '}',
        'if [ ! -e "$marker" ]; then',
        `  if [ -n "\${${INDEX_ENV}:-}" ]; then`,
        // A URL with credentials in it is not echoed.
        `    case "$${INDEX_ENV}" in *@*) from=${INDEX_ENV} ;; *) from="$${INDEX_ENV}" ;; esac`,
        `    echo "${dq(`fast-build: installing ${n} (${summary(reqs)}) into ${install.sitePackages} from `)}$from" >&2`,
        `    fast_build_pip --index-url "$${INDEX_ENV}"`,
        '  else',
        `    ${say(`installing ${n} (${summary(reqs)}) into ${install.sitePackages} from ${index}`)}`,
        `    fast_build_pip ${defaults.join(' ')}`,
        '  fi',
        '  status=$?',
        '  if [ "$status" -ne 0 ]; then',
        // Told apart only after a failure: the check costs a second Python start on every container.
        `    if ! ${py} -m pip --version >/dev/null 2>&1; then`,
        `      ${say(`the run-time group needs pip in the image, but ${install.interpreter} -m pip does not run: add pip to the project's dependencies (the deps image then has it), use a base image with pip, or move the run-time packages into a variant's groups`)}`,
        '    else',
        `      ${say(`installing the run-time packages of ${REQUIREMENTS_PATH} failed (pip says why above): check that the index serves the files the lock pins (${INDEX_ENV} sets another index) and that the container's user can write ${install.sitePackages}`)}`,
        '    fi',
        '    exit "$status"',
        '  fi',
        '  : >"$marker" 2>/dev/null || true',
        'fi',
        'exec "$@"',
        ''
    ].join('\n');
}
/** The requirements and shim of one platform of a variant. */
function runtimeFiles(args) {
    const { platform: p } = args;
    const requirements = runtimeRequirements(p.runtime, p.target, args.lockPath);
    const text = requirementsText(args.variant, p.platform, requirements);
    return {
        variant: args.variant,
        platform: p.platform,
        requirements,
        requirementsText: text,
        shimText: shimText({
            variant: args.variant,
            platform: p.platform,
            requirements,
            requirementsSha256: digestHex(sha256$1(text)),
            install: args.install
        })
    };
}
/** Whether the variant's app images get the run-time layer (any platform has run-time packages). */
function hasRuntime(platforms) {
    return platforms.some((p) => p.runtime.length > 0);
}
/** The layer's entries: the directories, the requirements (0644) and the shim (0755). */
function runtimeEntries(files) {
    const file = (path, text, executable) => {
        const bytes = Buffer.from(text, 'utf8');
        return { type: 'file', path: path.slice(1), executable, size: bytes.length, content: () => bytes };
    };
    return [
        { type: 'dir', path: 'opt' },
        { type: 'dir', path: RUNTIME_DIR.slice(1) },
        file(SHIM_PATH, files.shimText, true),
        file(REQUIREMENTS_PATH, files.requirementsText, false)
    ];
}
/**
 * The image Entrypoint with the shim in front (once): `podman run image cmd args` then runs the
 * shim, which installs and execs the original entrypoint with the command.
 */
function wrapEntrypoint(entrypoint) {
    const inner = entrypoint ?? [];
    return inner[0] === SHIM_PATH ? [...inner] : [SHIM_PATH, ...inner];
}

function parseEnv(list) {
    const env = new Map();
    for (const item of list ?? []) {
        const eq = item.indexOf('=');
        if (eq > 0)
            env.set(item.slice(0, eq), item.slice(eq + 1));
    }
    return env;
}
/** The deps config with our settings applied; unknown fields are kept as they were. */
function appConfig(deps, layer, s, runtime = null) {
    const config = { ...(deps.config ?? {}) };
    const env = parseEnv(config.Env);
    for (const [k, v] of Object.entries(s.env))
        env.set(k, v);
    if (s.pythonPath.length > 0) {
        const existing = env.get('PYTHONPATH');
        env.set('PYTHONPATH', [...s.pythonPath, ...(existing ? [existing] : [])].join(':'));
    }
    config.Env = [...env].map(([k, v]) => `${k}=${v}`);
    config.WorkingDir = s.workdir;
    if (s.entrypoint) {
        config.Entrypoint = [...s.entrypoint];
        // As in a Dockerfile: a new ENTRYPOINT drops the CMD inherited from the base.
        config.Cmd = s.cmd ? [...s.cmd] : null;
    }
    else if (s.cmd) {
        config.Cmd = [...s.cmd];
    }
    // The shim goes in front of whatever entrypoint the image ends up with; CMD stays as it is, so
    // `run image cmd args` runs the shim, which installs and then execs the entrypoint and command.
    if (runtime)
        config.Entrypoint = wrapEntrypoint(config.Entrypoint);
    config.Labels = sortedRecord({
        ...(config.Labels ?? {}),
        ...s.labels,
        ...(runtime ? { [RUNTIME_LABEL]: String(runtime.packages) } : {})
    });
    return {
        ...deps,
        created: s.created,
        config,
        rootfs: {
            type: 'layers',
            diff_ids: [...deps.rootfs.diff_ids, ...(runtime ? [runtime.diffId] : []), layer.diffId]
        },
        history: [
            ...(deps.history ?? []),
            ...(runtime
                ? [
                    {
                        created: s.created,
                        created_by: `fast-build: run-time packages (${runtime.packages}), installed at start by ${SHIM_PATH}`,
                        comment: 'fast-build'
                    }
                ]
                : []),
            {
                created: s.created,
                created_by: `fast-build: source layer (${layer.files} files) at ${s.workdir}`,
                comment: 'fast-build'
            }
        ]
    };
}
/** Config and manifest of the app image for one platform of the deps image. */
function appImage(args) {
    const { depsManifest: m, layer } = args;
    if (args.depsConfig.rootfs.diff_ids.length !== m.layers.length) {
        throw new Error(`deps image ${args.depsRef}: its config lists ${args.depsConfig.rootfs.diff_ids.length} diff_ids for ${m.layers.length} layers`);
    }
    const runtime = args.runtime ?? null;
    const config = serialize(appConfig(args.depsConfig, layer, args.settings, runtime));
    const configDescriptor = describeBytes(configMediaTypeFor(m.mediaType), config);
    const layerDescriptor = { mediaType: layer.mediaType, digest: layer.digest, size: layer.size };
    const manifest = serialize(buildManifest({
        mediaType: m.mediaType,
        config: configDescriptor,
        layers: [
            ...m.layers,
            ...(runtime ? [{ mediaType: runtime.mediaType, digest: runtime.digest, size: runtime.size }] : []),
            layerDescriptor
        ],
        // Docker schema 2 has no annotations; the labels carry the same facts there.
        ...(m.mediaType === DOCKER_MANIFEST
            ? {}
            : {
                annotations: {
                    'org.opencontainers.image.base.digest': args.depsManifestDigest,
                    'org.opencontainers.image.base.name': args.depsRef,
                    ...(args.settings.labels['org.opencontainers.image.revision']
                        ? {
                            'org.opencontainers.image.revision': args.settings.labels['org.opencontainers.image.revision']
                        }
                        : {})
                }
            })
    }));
    return { config, configDescriptor, manifest, manifestDescriptor: describeBytes(m.mediaType, manifest) };
}

// The fast path: the deps image exists, so the app image is its layers plus one source layer (and,
// for a variant with run-time packages, the small run-time layer before it: runtime.ts). Only
// those layers (unless already there), the configs and the manifests are written; the deps
// layers are referenced, never pulled. Blobs always go before the manifests naming them,
// and the tagged manifest (or index) goes last, so no tag ever points at an incomplete image.
function emptyStats() {
    return { uploaded: 0, mounted: 0, skipped: 0, bytesUploaded: 0 };
}
/** Count one blob's outcome (and its bytes, when it went up) into `stats`. */
function countBlob(stats, outcome, size) {
    if (outcome === 'uploaded') {
        stats.uploaded++;
        stats.bytesUploaded += size;
    }
    else if (outcome === 'mounted')
        stats.mounted++;
    else
        stats.skipped++;
}
async function pushAppImage(args) {
    const { store, deps, layer, settings } = args;
    const stats = emptyStats();
    // The deps layers are referenced as they are; the registry checks they exist when the
    // manifest is pushed.
    stats.skipped += deps.platforms.reduce((n, p) => n + p.manifest.layers.length, 0);
    const layerData = layer.data ?? { file: layer.file };
    const pushedLayer = new Set();
    const children = [];
    let single = null;
    for (const p of deps.platforms) {
        // The same bytes carry the media type of the manifest family they are listed in.
        const mediaType = layerMediaType(p.manifest.mediaType, layer.compression);
        if (!pushedLayer.has(layer.digest)) {
            args.onProgress?.(`source layer ${layer.digest.slice(7, 19)} (${formatBytes(layer.size)})`);
            const outcome = args.layerOutcome ??
                (await store.putBlob({ mediaType, digest: layer.digest, size: layer.size }, layerData));
            countBlob(stats, outcome, layer.size);
            pushedLayer.add(layer.digest);
        }
        const runtime = args.runtime?.(p.platform) ?? null;
        const runtimeType = runtime ? layerMediaType(p.manifest.mediaType, runtime.blob.compression) : '';
        if (runtime && !pushedLayer.has(runtime.blob.digest)) {
            const r = runtime.blob;
            args.onProgress?.(`run-time layer ${r.digest.slice(7, 19)} (${runtime.packages} packages, ${formatBytes(r.size)})`);
            countBlob(stats, await store.putBlob({ mediaType: runtimeType, digest: r.digest, size: r.size }, r.data ?? { file: r.file }), r.size);
            pushedLayer.add(r.digest);
        }
        const image = appImage({
            depsManifest: p.manifest,
            depsManifestDigest: p.manifestDigest,
            depsConfig: p.config,
            depsRef: deps.ref,
            layer: {
                digest: layer.digest,
                size: layer.size,
                mediaType,
                diffId: layer.diffId,
                files: layer.entries
            },
            runtime: runtime
                ? {
                    digest: runtime.blob.digest,
                    size: runtime.blob.size,
                    mediaType: runtimeType,
                    diffId: runtime.blob.diffId,
                    files: runtime.blob.entries,
                    packages: runtime.packages
                }
                : null,
            settings
        });
        countBlob(stats, await store.putBlob(image.configDescriptor, image.config), image.config.length);
        if (deps.isIndex) {
            await store.putManifest(null, image.manifest, image.manifestDescriptor.mediaType);
            stats.uploaded++;
            stats.bytesUploaded += image.manifest.length;
            children.push({
                ...image.manifestDescriptor,
                ...(p.indexEntry?.platform ? { platform: p.indexEntry.platform } : {})
            });
        }
        else {
            single = { bytes: image.manifest, mediaType: image.manifestDescriptor.mediaType };
        }
    }
    const top = single ??
        (() => {
            const mediaType = isIndexType(deps.mediaType) && deps.mediaType === DOCKER_MANIFEST_LIST
                ? DOCKER_MANIFEST_LIST
                : OCI_INDEX;
            return {
                bytes: serialize(buildIndex({
                    mediaType,
                    manifests: children,
                    ...(mediaType === OCI_INDEX
                        ? {
                            annotations: {
                                'org.opencontainers.image.base.digest': deps.digest,
                                'org.opencontainers.image.base.name': deps.ref
                            }
                        }
                        : {})
                })),
                mediaType
            };
        })();
    let digest = null;
    for (const tag of args.tags) {
        digest = await store.putManifest(tag, top.bytes, top.mediaType);
        stats.uploaded++;
        stats.bytesUploaded += top.bytes.length;
    }
    if (digest === null) {
        digest = await store.putManifest(null, top.bytes, top.mediaType);
        stats.uploaded++;
        stats.bytesUploaded += top.bytes.length;
    }
    return { digest, mediaType: top.mediaType, tags: args.tags, stats };
}
function formatBytes(n) {
    if (n < 1024)
        return `${n} B`;
    if (n < 1024 * 1024)
        return `${(n / 1024).toFixed(1)} kB`;
    if (n < 1024 ** 3)
        return `${(n / 1024 / 1024).toFixed(1)} MB`;
    return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

const DEFAULT_BUCKETS = 8;
/** FNV-1a (32 bit): a stable bucket for a name, the same on every machine and run. */
function nameBucket(name, buckets) {
    let h = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) {
        h ^= name.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h % buckets;
}
function byName(a, b) {
    return a.name < b.name ? -1 : a.name > b.name ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
const size = (g) => g.packages.reduce((n, p) => n + p.installedSize, 0);
function planLayers(packages, opts) {
    const buckets = opts.buckets ?? DEFAULT_BUCKETS;
    const notes = [];
    const heavy = [];
    const light = new Map();
    for (const p of [...packages].sort(byName)) {
        if (p.installedSize > opts.heavyBytes) {
            heavy.push({ packages: [p], kind: 'heavy', label: `${p.name} ${p.version ?? ''}`.trim() });
            continue;
        }
        const signature = [...p.variants].sort().join(',');
        let sig = light.get(signature);
        if (!sig)
            light.set(signature, (sig = { shared: p.variants.length, members: new Map() }));
        const b = nameBucket(p.name, buckets);
        sig.members.set(b, [...(sig.members.get(b) ?? []), p]);
    }
    const ordered = [];
    for (const h of heavy) {
        ordered.push({ shared: h.packages[0].variants.length, heavy: true, sort: h.packages[0].name, group: h });
    }
    for (const [signature, sig] of light) {
        for (const [b, members] of sig.members) {
            ordered.push({
                shared: sig.shared,
                heavy: false,
                sort: `${signature}#${String(b).padStart(3, '0')}`,
                group: {
                    packages: members,
                    kind: 'group',
                    label: `${members.length} package${members.length === 1 ? '' : 's'} (${signature || 'no variant'}, bucket ${b})`
                }
            });
        }
    }
    ordered.sort((a, b) => a.shared !== b.shared
        ? b.shared - a.shared
        : a.heavy !== b.heavy
            ? a.heavy
                ? -1
                : 1
            : a.sort < b.sort
                ? -1
                : a.sort > b.sort
                    ? 1
                    : 0);
    let groups = ordered.map((o) => o.group);
    if (opts.budget < 1 && groups.length > 0) {
        throw new RangeError(`no room for package layers (budget ${opts.budget})`);
    }
    if (groups.length > opts.budget) {
        const before = groups.length;
        // Merge the adjacent pair with the smallest combined size until the budget holds; light
        // pairs before any pair with a heavy package, so heavy packages stay alone as long as possible.
        while (groups.length > opts.budget) {
            let best = -1;
            let bestCost = Infinity;
            for (let i = 0; i + 1 < groups.length; i++) {
                const a = groups[i];
                const b = groups[i + 1];
                const cost = size(a) + size(b) + (a.kind === 'heavy' || b.kind === 'heavy' ? Number.MAX_SAFE_INTEGER / 2 : 0);
                if (cost < bestCost) {
                    bestCost = cost;
                    best = i;
                }
            }
            const a = groups[best];
            const b = groups[best + 1];
            const packagesMerged = [...a.packages, ...b.packages];
            groups = [
                ...groups.slice(0, best),
                { packages: packagesMerged, kind: 'merged', label: `${packagesMerged.length} packages (merged)` },
                ...groups.slice(best + 2)
            ];
        }
        notes.push(`${before} package layers would exceed the layer budget; merged into ${groups.length} (raise max-layers to keep more apart)`);
    }
    return { groups, notes };
}

// The full path: a variant's deps image built straight from the wheels its lock pins, without
// Docker. Choose the wheel per package and platform, fetch and verify it, group packages into
// layers, install each group's wheels straight into its layer (our installer, pip's layout, no
// staging tree on disk), write each layer once (content-addressed, cached across builds), and
// push: base layers referenced (mounted, or copied across registries), package layers uploaded
// only when missing, then configs, manifests, the index, and the `deps-<variant>-<hash>` tag last.
/** Deps layers carry one fixed time, so the same wheels give the same layer on every commit. */
const DEPS_MTIME = 315532800; // 1980-01-01T00:00:00Z
const DEPS_CREATED = new Date(DEPS_MTIME * 1000).toISOString();
/** Part of every cached layer's key: changing how layers are written must not reuse old ones. */
const LAYER_FORMAT = 2;
/** Packages the wheels builder cannot install, and why; the variant needs another builder. */
class WheelsUnavailableError extends FastBuildError {
    variant;
    problems;
    constructor(variant, problems) {
        super(`the wheels builder cannot build variant ${variant}: ${problems.length} package${problems.length === 1 ? ' has' : 's have'} no wheel to install\n` +
            problems.map((p) => `  - ${p.name} ${p.version ?? ''} (${p.platform}): ${p.reason}`).join('\n'), {}, 'build this variant with the Dockerfile builder (builder = "dockerfile"), or lock versions that publish wheels for these platforms');
        this.variant = variant;
        this.problems = problems;
    }
}
/** A path-sourced wheel (`source = { path = "wheels/x.whl" }`) is listed by file name alone. */
function fileLocation(c) {
    const f = c.file;
    if (f.path === null && f.url === null && c.pkg.source.kind === 'file')
        return { ...f, path: c.pkg.source.path };
    return f;
}
/**
 * Bytes a wheel unpacks to (its zip directory's sizes): what layering weighs packages by. Kept
 * under the work directory by the wheel's digest, so a rebuild does not read every wheel again.
 */
/** The unpacked size recorded by an earlier build (kept in the Actions cache's layer index). */
function knownSize(sha256, workDir) {
    const memo = join(workDir, 'unpacked-size', sha256);
    if (!existsSync(memo))
        return null;
    const text = readFileSync(memo, 'utf8');
    const n = Number(text);
    return text !== '' && Number.isSafeInteger(n) && n >= 0 ? n : null;
}
async function unpackedSize(path, filename, sha256, workDir) {
    const known = knownSize(sha256, workDir);
    if (known !== null)
        return known;
    const memo = join(workDir, 'unpacked-size', sha256);
    const zip = await ZipReader.open(path).catch((e) => {
        if (e instanceof WheelError)
            throw new WheelError(e.message, filename, e.hint ?? '', e.entry);
        throw e;
    });
    let size;
    try {
        size = zip.entries.reduce((n, e) => n + e.size, 0);
    }
    finally {
        await zip.close();
    }
    mkdirSync(join(workDir, 'unpacked-size'), { recursive: true });
    // Written aside and renamed, so a concurrent build never reads half a number.
    const tmp = `${memo}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, String(size));
    renameSync(tmp, memo);
    return size;
}
function plural(n, word) {
    return `${n} ${word}${n === 1 ? '' : 's'}`;
}
function layoutKey(layout) {
    return createHash('sha256').update(JSON.stringify(layout)).digest('hex').slice(0, 16);
}
/** Name the wheel (not its path in the artifact cache, which is by digest) in an installer error. */
function namingWheel(m) {
    return (e) => {
        if (e instanceof WheelError)
            throw new WheelError(`${m.label}: ${e.message}`, m.filename, e.hint ?? '', e.entry);
        throw e;
    };
}
/**
 * The installed files of these wheels as layer entries, with every parent directory (each layer
 * carries its own). Where two wheels of one layer install the same path, the later one wins, as
 * when pip installs them in that order.
 */
function layerEntries(wheels) {
    const files = new Map();
    for (const w of wheels)
        for (const e of w.entries)
            files.set(e.path, e);
    const dirs = new Set();
    for (const path of files.keys())
        for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1))
            dirs.add(path.slice(0, i));
    return [...files.values(), ...[...dirs].map((d) => ({ type: 'dir', path: d }))];
}
/** The layer cache's key for a layer of these wheels: everything that makes its bytes. */
function layerKeyOf(sha256s, layout) {
    return createHash('sha256')
        .update(JSON.stringify({
        format: LAYER_FORMAT,
        layout: layoutKey(layout),
        mtime: DEPS_MTIME,
        wheels: [...sha256s].sort()
    }))
        .digest('hex');
}
/**
 * What the layer cache knows of a layer: its descriptor (`<key>.json`, a few bytes, kept in the
 * Actions cache's layer index), and the compressed layer itself when this machine built it.
 */
function knownLayer(key, workDir) {
    const meta = join(workDir, 'layers', `${key}.json`);
    if (!existsSync(meta))
        return null;
    let m;
    try {
        m = JSON.parse(readFileSync(meta, 'utf8'));
    }
    catch {
        return null; // a torn or foreign file: build the layer again
    }
    if (typeof m.digest !== 'string' || typeof m.diffId !== 'string' || typeof m.size !== 'number')
        return null;
    const blob = join(workDir, 'layers', `${key}.tar.gz`);
    return { meta: m, file: existsSync(blob) && statSync(blob).size === m.size ? blob : null };
}
/** The layer of these wheels, installed straight into it (nothing is written but the compressed layer). */
async function buildLayerFile(key, members, layout, workDir) {
    const dir = join(workDir, 'layers');
    mkdirSync(dir, { recursive: true });
    const blob = join(dir, `${key}.tar.gz`);
    const tmp = `${blob}.${randomBytes(4).toString('hex')}.tmp`;
    try {
        const wheels = [];
        let layer;
        try {
            for (const m of members)
                wheels.push(await wheelLayerEntries(m.path, layout, { filename: m.filename }).catch(namingWheel(m)));
            // Errors found while the layer is written (a RECORD hash) name the wheel too.
            layer = await buildLayer(layerEntries(wheels), {
                mtime: DEPS_MTIME,
                compression: 'gzip',
                file: tmp
            }).catch((e) => {
                const m = e instanceof WheelError ? members.find((x) => x.path === e.location.file) : undefined;
                return m ? namingWheel(m)(e) : Promise.reject(e);
            });
        }
        finally {
            await Promise.all(wheels.map((w) => w.close()));
        }
        renameSync(tmp, blob);
        // The descriptor last, written aside and renamed: a reader never sees half of it.
        const meta = { digest: layer.digest, diffId: layer.diffId, size: layer.size };
        const metaTmp = `${tmp}.json`;
        writeFileSync(metaTmp, JSON.stringify(meta));
        renameSync(metaTmp, join(dir, `${key}.json`));
        return { ...meta, file: blob, built: true };
    }
    finally {
        rmSync(tmp, { force: true });
    }
}
/** Make the base image's blobs present in the target: mount within a registry, copy otherwise. */
async function placeBaseBlobs(ctx, descriptors, stats) {
    const { store } = ctx;
    const source = ctx.base.store;
    const sameRegistry = store.mountable && source.mountable && store.mountable.host === source.mountable.host;
    for (const d of descriptors) {
        if (await store.blobExists(d.digest)) {
            countBlob(stats, 'exists', d.size);
            continue;
        }
        if (sameRegistry && store.mountBlob && (await store.mountBlob(d, source.mountable.repository))) {
            countBlob(stats, 'mounted', d.size);
            continue;
        }
        ctx.onProgress?.(`copying base layer ${d.digest.slice(7, 19)} (${formatBytes(d.size)}) from ${source.name}`);
        const data = await source.openBlob(d.digest);
        countBlob(stats, await store.putBlob(d, data), d.size);
    }
}
async function buildDepsImage(variant, tag, ctx) {
    const progress = ctx.onProgress ?? (() => { });
    const notes = [];
    // 1. A wheel for every package on every platform, or a precise refusal.
    const perPlatform = variant.platforms.map((p) => ({
        plan: p,
        ...chooseWheels(p.closure.installed.map((e) => e.package), p.target)
    }));
    const problems = perPlatform.flatMap((p) => p.problems);
    if (problems.length > 0)
        throw new WheelsUnavailableError(variant.name, problems);
    // 2. Sizes (what layering weighs packages by): known from earlier builds, else read from the
    // wheel, which is then fetched (verified against the lock; cached by sha256).
    const unique = new Map();
    for (const p of perPlatform)
        for (const c of p.chosen)
            unique.set(c.sha256, c);
    progress(`${plural(unique.size, 'wheel')} to install`);
    const wheelPath = new Map();
    let downloaded = [];
    let restored = 0;
    const fetchWheels = async (shas) => {
        const wanted = shas.filter((sha) => !wheelPath.has(sha));
        if (wanted.length === 0)
            return;
        const missing = wanted.filter((sha) => !ctx.cache.has(sha));
        if (missing.length > 0 && ctx.restoreWheels) {
            const n = await ctx.restoreWheels(missing).catch(() => 0);
            if (n > 0)
                progress(`restored ${plural(n, 'wheel')} from the cache`);
            restored += n;
        }
        const items = wanted.map((sha) => {
            const c = unique.get(sha);
            return { name: c.pkg.name, version: c.pkg.version, file: fileLocation(c), index: ctx.indexFor(c.pkg) };
        });
        // Big downloads (torch is ~200 MB) say when they start and end; retries always say why.
        const BIG = 16 * 1024 * 1024;
        const fetched = await fetchArtifacts(items, {
            cache: ctx.cache,
            mirror: ctx.mirror,
            baseDir: ctx.lockDir,
            onProgress: (e) => {
                if (e.kind === 'start' && (e.total ?? 0) >= BIG)
                    progress(`downloading ${e.item.file.name} (${formatBytes(e.total)})`);
                else if (e.kind === 'done' && e.bytes >= BIG)
                    progress(`downloaded ${e.item.file.name} in ${(e.ms / 1000).toFixed(1)} s`);
                else if (e.kind === 'retry')
                    progress(`${e.item.file.name}: ${e.reason}; retrying in ${(e.delayMs / 1000).toFixed(1)} s`);
            }
        });
        for (const f of fetched)
            wheelPath.set(f.sha256, f.path);
        const now = fetched.filter((f) => !f.cached);
        downloaded = [...downloaded, ...now];
        if (now.length) {
            progress(`downloaded ${plural(now.length, 'wheel')} (${formatBytes(now.reduce((n, f) => n + f.size, 0))}), ${fetched.length - now.length} from the cache`);
        }
    };
    const sizes = new Map();
    for (const sha of unique.keys()) {
        const n = knownSize(sha, ctx.workDir);
        if (n !== null)
            sizes.set(sha, n);
    }
    await fetchWheels([...unique.keys()].filter((sha) => !sizes.has(sha)));
    await Promise.all([...unique.keys()]
        .filter((sha) => !sizes.has(sha))
        .map(async (sha) => sizes.set(sha, await unpackedSize(wheelPath.get(sha), unique.get(sha).file.name, sha, ctx.workDir))));
    // 3. Plan the layers of every platform.
    const platforms = perPlatform.map(({ plan: p, chosen }) => {
        const platform = formatPlatform(p.platform);
        const baseImage = ctx.base.image.platforms.find((b) => b.platform.architecture === p.platform.architecture);
        const budget = ctx.maxLayers - baseImage.manifest.layers.length - 1;
        if (budget < 1 && chosen.length > 0) {
            throw new FastBuildError(`base image ${ctx.base.reference} has ${baseImage.manifest.layers.length} layers, which leaves no room under max-layers ${ctx.maxLayers}`, {}, 'raise max-layers under [tool.fast-build] (Docker refuses images past about 125 layers)');
        }
        const candidates = chosen.map((c) => ({
            key: c.sha256,
            name: c.pkg.name,
            version: c.pkg.version,
            installedSize: sizes.get(c.sha256),
            variants: ctx.sharing(p.platform, c.sha256)
        }));
        const layering = planLayers(candidates, { budget, heavyBytes: ctx.heavyBytes });
        notes.push(...layering.notes.map((n) => `${platform}: ${n}`));
        return { p, platform, baseImage, layering };
    });
    const jobs = new Map();
    const jobOf = (shas) => {
        const key = layerKeyOf(shas, ctx.layout);
        let job = jobs.get(key);
        if (!job) {
            job = { key, known: knownLayer(key, ctx.workDir), inRegistry: false };
            jobs.set(key, job);
        }
        return job;
    };
    const groupShas = (g) => g.packages.map((c) => c.key);
    for (const { layering } of platforms)
        for (const g of layering.groups)
            jobOf(groupShas(g));
    await Promise.all([...jobs.values()]
        .filter((j) => j.known && !j.known.file)
        .map(async (j) => {
        j.inRegistry = await ctx.store.blobExists(j.known.meta.digest);
    }));
    const ready = (j) => j.known !== null && (j.known.file !== null || j.inRegistry);
    const buildShas = new Set();
    for (const { layering } of platforms)
        for (const g of layering.groups)
            if (!ready(jobOf(groupShas(g))))
                for (const sha of groupShas(g))
                    buildShas.add(sha);
    await fetchWheels([...buildShas]);
    // 5. Two layers are built at once: each inflates, hashes and tars on this thread while its
    // compression runs on the thread pool, so both cores stay busy. Pushes overlap the builds.
    const layerLimit = limit(2);
    const pushLimit = limit(2);
    const member = (sha) => {
        const c = unique.get(sha);
        return {
            sha256: sha,
            path: wheelPath.get(sha),
            filename: c.file.name,
            label: `${c.pkg.name} ${c.pkg.version ?? ''}`.trim()
        };
    };
    // A layer shared by two platforms (pure wheels) is built once.
    const layers = new Map();
    const layerFor = (shas) => {
        const job = jobOf(shas);
        let built = layers.get(job.key);
        if (!built) {
            built = ready(job)
                ? Promise.resolve({ ...job.known.meta, file: job.known.file, built: false })
                : handled(layerLimit(() => buildLayerFile(job.key, shas.map(member), ctx.layout, ctx.workDir)));
            layers.set(job.key, built);
        }
        return built;
    };
    // 6. Per platform: base blobs, layers, config, manifest.
    const stats = emptyStats();
    const reports = [];
    const children = [];
    let single = null;
    // What was pushed, as the fast path needs it (no need to read it back from the store).
    const pushedImages = [];
    for (const { p, platform, baseImage, layering } of platforms) {
        await placeBaseBlobs(ctx, baseImage.manifest.layers, stats);
        const manifestType = baseImage.manifest.mediaType;
        const mediaType = layerMediaType(manifestType, 'gzip');
        const pushed = layering.groups.map((group, i) => handled(layerFor(group.packages.map((c) => c.key)).then((built) => pushLimit(async () => {
            const desc = { mediaType, digest: built.digest, size: built.size };
            const outcome = built.file
                ? await ctx.store.putBlob(desc, { file: built.file })
                : 'exists';
            progress(`${platform}: layer ${i + 1}/${layering.groups.length} ${group.label}: ${formatBytes(built.size)}${built.built ? '' : ' (cached)'}, ${outcome}`);
            return { built, desc, outcome };
        }))));
        const layerDescriptors = [];
        const diffIds = [];
        const history = [];
        for (const [i, group] of layering.groups.entries()) {
            const { built, desc, outcome } = await pushed[i];
            countBlob(stats, outcome, built.size);
            reports.push({
                platform,
                label: group.label,
                packages: group.packages.length,
                digest: built.digest,
                size: built.size,
                outcome,
                built: built.built
            });
            layerDescriptors.push(desc);
            diffIds.push(built.diffId);
            const names = group.packages.map((c) => `${c.name}==${c.version ?? '?'}`);
            history.push({
                created: DEPS_CREATED,
                created_by: `fast-build: ${names.length > 12 ? `${names.slice(0, 12).join(' ')} …and ${names.length - 12} more` : names.join(' ')}`,
                comment: 'fast-build'
            });
        }
        const baseConfig = baseImage.config;
        const config = {
            ...baseConfig,
            created: DEPS_CREATED,
            config: {
                ...(baseConfig.config ?? {}),
                Labels: sortedRecord({
                    ...(baseConfig.config?.Labels ?? {}),
                    'dev.fast-build.variant': variant.name,
                    'dev.fast-build.hash': variant.hash,
                    'org.opencontainers.image.base.name': ctx.base.reference,
                    'org.opencontainers.image.base.digest': ctx.base.image.digest
                })
            },
            rootfs: { type: 'layers', diff_ids: [...baseConfig.rootfs.diff_ids, ...diffIds] },
            history: [...(baseConfig.history ?? []), ...history]
        };
        const configBytes = serialize(config);
        const configDesc = describeBytes(configMediaTypeFor(manifestType), configBytes);
        countBlob(stats, await ctx.store.putBlob(configDesc, configBytes), configBytes.length);
        const manifest = serialize(buildManifest({
            mediaType: manifestType,
            config: configDesc,
            layers: [...baseImage.manifest.layers, ...layerDescriptors]
        }));
        const manifestDesc = describeBytes(manifestType, manifest);
        const parsed = parseManifest(manifest, manifestType, `deps image ${ctx.store.name}:${tag}`);
        if (parsed.kind !== 'manifest')
            throw new Error('unreachable: a manifest was written');
        let indexEntry = null;
        if (variant.platforms.length > 1) {
            await ctx.store.putManifest(null, manifest, manifestType);
            stats.uploaded++;
            stats.bytesUploaded += manifest.length;
            indexEntry = { ...manifestDesc, platform: baseImage.indexEntry?.platform ?? ociPlatform(p.platform) };
            children.push(indexEntry);
        }
        else {
            single = { bytes: manifest, mediaType: manifestType };
        }
        pushedImages.push({
            platform: p.platform,
            indexEntry,
            manifest: parsed.manifest,
            manifestDigest: manifestDesc.digest,
            config
        });
    }
    // 7. The tagged manifest or index, last: only a complete image ever has the tag.
    const top = single ??
        (() => {
            const mediaType = ctx.base.image.mediaType === DOCKER_MANIFEST_LIST ? DOCKER_MANIFEST_LIST : OCI_INDEX;
            return { bytes: serialize(buildIndex({ mediaType, manifests: children })), mediaType };
        })();
    await ctx.store.putManifest(tag, top.bytes, top.mediaType);
    stats.uploaded++;
    stats.bytesUploaded += top.bytes.length;
    const image = {
        ref: `${ctx.store.name}:${tag}`,
        digest: describeBytes(top.mediaType, top.bytes).digest,
        mediaType: top.mediaType,
        isIndex: single === null,
        platforms: pushedImages
    };
    return {
        image,
        stats,
        layers: reports,
        notes,
        wheels: {
            total: unique.size,
            fetched: wheelPath.size,
            downloaded: downloaded.length,
            bytesDownloaded: downloaded.reduce((n, f) => n + f.size, 0),
            restored,
            downloadedSha256: downloaded.map((f) => f.sha256)
        }
    };
}

// The Dockerfile builder, as data: for variants the wheels builder cannot build (an sdist-only
// package, a git dependency, system libraries), the deps image comes from a Dockerfile run by
// `docker buildx build` or `buildah bud`. Pure: the build context's files, the default Dockerfile,
// the engines' argument lists. dockerfile-build.ts runs them.
//
// The build context holds only what the deps stage needs: a generated requirements file per
// platform (`requirements-<os>-<arch>.txt`: exact pins, --hash lines, markers already evaluated,
// the lock's index; `requirements-vcs-<os>-<arch>.txt`: git dependencies at their locked commits,
// which pip cannot hash), never the source. A code change therefore cannot invalidate it.
/** The engine a command line drives, from its program name. */
function engineOf(command) {
    return basename(command[0] ?? '') === 'buildah' ? 'buildah' : 'docker';
}
const platformSlug = (p) => `${p.os}-${p.architecture}`;
const requirementsName = (p) => `requirements-${platformSlug(p)}.txt`;
const vcsRequirementsName = (p) => `requirements-vcs-${platformSlug(p)}.txt`;
/** The build context's files for one variant: two requirements files per platform. */
function contextFiles(variant, platforms, lockPath) {
    const refuse = (pkg, what, why) => {
        throw new DockerfileError(`${variant}: ${pkg.name}${pkg.version ? ` ${pkg.version}` : ''} ${what}: ${why}`, { file: lockPath, line: pkg.line }, 'the Dockerfile build context holds only what pip can fetch: lock the package from an index, a URL or git');
    };
    const files = [];
    for (const p of platforms) {
        const reqs = pinnedRequirements(p.closure.installed, p.target, {
            refuse,
            git: 'allow',
            why: { git: '', file: 'a local archive is not in the build context (the source never is)' }
        });
        const hashed = reqs.filter((r) => r.hashes.length > 0);
        const vcs = reqs.filter((r) => r.hashes.length === 0);
        const { index, extra } = requirementIndexes(hashed);
        // Both files name the index: a git dependency's build backend (setuptools…) comes from it too.
        const indexLines = [`--index-url ${index}`, ...extra.map((u) => `--extra-index-url ${u}`)];
        const head = (what) => [
            `# Generated by fast-build for variant ${variant}, platform ${formatPlatform(p.platform)}: ${what}.`,
            '# Markers are already evaluated; local packages ship with the source, not here.'
        ];
        files.push({
            name: requirementsName(p.platform),
            text: [
                ...head('exact pins with the hashes of the lock (pip install --no-deps --require-hashes)'),
                ...indexLines,
                ...requirementLines(hashed)
            ].join('\n') + '\n'
        });
        files.push({
            name: vcsRequirementsName(p.platform),
            text: [
                ...head('git dependencies at their locked commits (pip cannot hash a checkout)'),
                ...(vcs.length ? indexLines : []),
                ...requirementLines(vcs)
            ].join('\n') + '\n'
        });
    }
    return files;
}
/** What the Dockerfile is told (--build-arg): the user's own, then fast-build's. */
function buildArgsFor(args) {
    const ours = [
        ['FAST_BUILD_VARIANT', args.variant],
        ['FAST_BUILD_BASE', args.base]
    ];
    // One platform: its requirements file by name (a multi-platform build picks by TARGETOS/ARCH).
    if (args.platforms.length === 1)
        ours.push(['FAST_BUILD_REQUIREMENTS', requirementsName(args.platforms[0])]);
    const user = Object.entries(args.settings.buildArgs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return [...user.filter(([k]) => !ours.some(([o]) => o === k)), ...ours];
}
/** The command lines to run, in order (docker: one, with --push; buildah: build, then push). */
function engineCommands(r) {
    const common = [
        '--file',
        r.file,
        ...(r.settings.target ? ['--target', r.settings.target] : []),
        '--platform',
        r.platforms.map(formatPlatform).join(','),
        ...r.buildArgs.flatMap(([k, v]) => ['--build-arg', `${k}=${v}`])
    ];
    const multi = r.platforms.length > 1;
    if (engineOf(r.settings.command) === 'docker') {
        const scope = `fast-build-${r.variant}`;
        return [
            [
                ...r.settings.command,
                ...common,
                '--tag',
                r.tag,
                ...(r.githubCache
                    ? ['--cache-from', `type=gha,scope=${scope}`, '--cache-to', `type=gha,mode=max,scope=${scope}`]
                    : []),
                // A plain image manifest (or index), as the fast path expects: no attestation manifests.
                '--provenance=false',
                '--sbom=false',
                '--push',
                r.context
            ]
        ];
    }
    const tls = r.insecure ? ['--tls-verify=false'] : [];
    const program = r.settings.command[0];
    return [
        // Several platforms: buildah collects the images in a manifest list named by the tag.
        [...r.settings.command, ...tls, ...common, multi ? '--manifest' : '--tag', r.tag, r.context],
        multi
            ? [program, 'manifest', 'push', ...tls, '--all', r.tag, `docker://${r.tag}`]
            : [program, 'push', ...tls, r.tag, `docker://${r.tag}`]
    ];
}

// The Dockerfile builder's edge: write the build context, run the engine (docker buildx or
// buildah) with its output streamed line by line, and hand back the deps image it pushed, read
// from the registry like any other. What to write and which commands to run is dockerfile.ts's.
/** How many of the build's last lines an error carries (and the job summary shows). */
const LOG_TAIL_LINES = 20;
/** Run one command; every output line to `onLine`; the exit code and the last lines. */
function runStreaming(argv, env, cwd, onLine) {
    return new Promise((resolve) => {
        const tail = [];
        const child = spawn(argv[0], argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        const feed = (stream) => {
            let rest = '';
            stream.setEncoding('utf8');
            stream.on('data', (chunk) => {
                const lines = (rest + chunk).split(/\r?\n/);
                rest = lines.pop() ?? '';
                for (const l of lines)
                    push(l);
            });
            stream.on('end', () => rest && push(rest));
        };
        const push = (line) => {
            onLine(line);
            tail.push(line);
            if (tail.length > LOG_TAIL_LINES)
                tail.shift();
        };
        feed(child.stdout);
        feed(child.stderr);
        child.on('error', (e) => {
            push(`${argv[0]}: ${e.code === 'ENOENT' ? 'not found' : e.message}`);
            resolve({ code: 127, tail });
        });
        child.on('close', (code) => resolve({ code: code ?? 1, tail }));
    });
}
/** `docker buildx build …` / `buildah bud …`, as the log shows a command (arguments quoted when needed). */
function shown(argv) {
    return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : shQuote(a))).join(' ');
}
/** Build and push the variant's deps image `tag` with its Dockerfile; the image as pushed. */
async function buildDepsWithDockerfile(v, settings, tag, o) {
    const say = o.onProgress ?? (() => undefined);
    if (o.store.name.startsWith('oci:'))
        throw new DockerfileError(`${v.name}: the Dockerfile builder pushes its deps image to a registry, and ${o.store.name} is an OCI layout`, { keyPath: 'tool.fast-build.builder' }, 'build to a registry (--registry HOST/REPO), or use the wheels builder for this variant');
    const context = join(o.workDir, 'dockerfile', `${v.name}-${v.shortHash}`);
    rmSync(context, { recursive: true, force: true });
    mkdirSync(context, { recursive: true });
    for (const f of contextFiles(v.name, v.platforms, o.plan.lock.path))
        writeFileSync(join(context, f.name), f.text);
    let file;
    if (settings.path === null) {
        file = join(context, 'Dockerfile');
        writeFileSync(file, settings.text);
    }
    else {
        file = isAbsolute(settings.path) ? settings.path : join(o.plan.project.dir, settings.path);
    }
    const ref = `${o.store.name}:${tag}`;
    const platforms = v.platforms.map((p) => p.platform);
    const commands = engineCommands({
        settings,
        file,
        context,
        variant: v.name,
        buildArgs: buildArgsFor({ settings, variant: v.name, base: o.base, platforms }),
        platforms,
        tag: ref,
        insecure: isLoopback(parseImageReference(ref, 'image').host),
        githubCache: Boolean(o.env['ACTIONS_RUNTIME_TOKEN']) && engineOf(settings.command) === 'docker'
    });
    const start = performance.now();
    for (const argv of commands) {
        say(`$ ${shown(argv)}`);
        const { code, tail } = await runStreaming(argv, o.env, context, (line) => say(line));
        if (code !== 0) {
            throw new DockerfileError(`${v.name}: ${argv[0]} exited with ${code} building ${ref}${settings.path ? ` from ${settings.path}` : ''}; its last lines:\n${tail.join('\n')}`, settings.path ? { file: settings.path } : { keyPath: 'tool.fast-build.dockerfile' }, code === 127
                ? `install ${argv[0]} or set dockerfile-command (for instance "buildah bud")`
                : 'fix the Dockerfile or the packages it installs (the full log is above)');
        }
    }
    const seconds = (performance.now() - start) / 1000;
    const image = await resolveDepsImage(o.store, tag, platforms);
    if (!image)
        throw new DockerfileError(`${v.name}: ${commands[0][0]} finished, but ${ref} is not in the registry`, { keyPath: 'tool.fast-build.dockerfile-command' }, 'check that the command pushes (docker buildx needs a builder that can push: docker/setup-buildx-action)');
    say(`deps image ${ref} built with the Dockerfile builder in ${seconds.toFixed(1)} s`);
    return {
        image,
        stats: emptyStats(),
        layers: [],
        notes: [],
        wheels: { total: 0, fetched: 0, downloaded: 0, bytesDownloaded: 0, restored: 0, downloadedSha256: [] }
    };
}

// What git says about the checkout: the revision and its time (for labels and reproducible
// timestamps) and where the source lives (for org.opencontainers.image.source), with any
// credentials in remote URLs removed.
function git(dir, args) {
    return new Promise((resolve) => {
        execFile('git', ['-C', dir, ...args], { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => resolve(err ? null : stdout.trim() || null));
    });
}
/** `git@github.com:org/repo.git` or `https://x-access-token:T@github.com/org/repo.git` → `https://github.com/org/repo`. */
function publicRepositoryUrl(remote) {
    const scp = /^(?:[\w.-]+@)?([\w.-]+):(?!\/\/)(.+?)(?:\.git)?\/?$/.exec(remote);
    if (scp && !remote.includes('://'))
        return `https://${scp[1]}/${scp[2]}`;
    try {
        const u = new URL(remote);
        if (!['http:', 'https:', 'ssh:', 'git:'].includes(u.protocol))
            return null;
        return `https://${u.hostname}${u.pathname.replace(/\.git\/?$/, '').replace(/\/$/, '')}`;
    }
    catch {
        return null;
    }
}
async function gitInfo(dir, env = process.env) {
    // Two processes at once: HEAD's hash and commit time, and the origin remote.
    const [log, remote] = await Promise.all([
        git(dir, ['log', '-1', '--format=%H %ct']),
        git(dir, ['config', '--get', 'remote.origin.url'])
    ]);
    const [head, time] = (log ?? '').split(' ');
    const revision = env['GITHUB_SHA'] || head || null;
    const server = env['GITHUB_SERVER_URL'];
    const repo = env['GITHUB_REPOSITORY'];
    return {
        revision,
        commitTime: time && /^\d+$/.test(time) ? Number(time) : null,
        sourceUrl: server && repo ? `${server.replace(/\/$/, '')}/${repo}` : remote ? publicRepositoryUrl(remote) : null
    };
}
/**
 * The one timestamp of a build (tar mtimes, `created`): SOURCE_DATE_EPOCH when set (the
 * reproducible-builds convention), else the commit's time, else the epoch.
 */
function buildEpoch(info, env = process.env) {
    const sde = env['SOURCE_DATE_EPOCH'];
    if (sde && /^\d+$/.test(sde.trim()))
        return Number(sde.trim());
    return info.commitTime ?? 0;
}

// `.dockerignore` as Docker reads it: moby/patternmatcher (`ignorefile.ReadAll` + `New` +
// `MatchesOrParentMatches`), reimplemented. Pure: text in, patterns out; patterns and a path in,
// excluded or not out.
//
// Reading a file (ignorefile.ReadAll, then patternmatcher.New):
// - one pattern a line; a UTF-8 BOM at the start is dropped; a line whose FIRST character is `#`
//   is a comment (`  # x` is a pattern); surrounding whitespace is trimmed; blank lines are skipped;
// - a leading `!` makes an exception (re-include); the rest is cleaned like Go's `filepath.Clean`
//   (`./a//b/` → `a/b`, `a/../b` → `b`) and one leading `/` is dropped (`/a` ≡ `a`);
// - `!` alone (or `!/`) is an error, as are malformed classes and trailing backslashes
//   (filepath.Match's syntax check).
//
// Matching one pattern (patternmatcher's compile):
// - `*` = any run of characters except `/`; `?` = one character except `/`;
//   `[...]`/`[^...]` = a character class; `\x` = the character x;
// - `**` = any number of directories (`**/a` matches `a` and `x/y/a`); `a/**` = everything below a;
//   a pattern that STARTS with `**` and has no other wildcard is a plain suffix test
//   (`**.pyc` matches `x.pyc` and `dir/x.pyc`; `**foo` matches `barfoo`);
// - the pattern must match the whole path, never a part of a name.
//
// Matching a path (MatchesOrParentMatches): the last pattern that matches wins (`!` ones make the
// path included again); a pattern matches a path when it matches the path itself OR any of its
// parent directories (`a`, `a/b`, ... of `a/b/c`), so `build` excludes `build/x/y`, and
// `!build/keep` brings back `build/keep` and everything below it.
//
// Where this differs from Docker:
// - BuildKit's walker (tonistiigi/fsutil) calls MatchesUsingParentResults, which remembers per
//   directory which patterns matched it and skips an exception that was not "live" there: for
//   `**/z.py` then `!pkg`, BuildKit keeps pkg/a/z.py excluded, while MatchesOrParentMatches (here,
//   and buildah/podman, see buildah-differential.test.ts) includes it again.
// - Docker compiles a pattern's regular expression when it first needs it, so a pattern Go's
//   regexp rejects (`[z-a]`, `\y`) fails the build only if it is reached; here every pattern is
//   checked up front.
// - Escapes that Go's regexp gives a meaning and nobody writes in a .dockerignore (`\x41`,
//   `\p{L}`, `\Q..\E`, octal `\101`) are refused with an error instead of being emulated;
//   `\d \w \s \b` (and their capitals) and POSIX classes (`[[:alpha:]]`) are emulated.
/** No `.dockerignore`: nothing is excluded. */
const NO_DOCKERIGNORE = {
    file: '.dockerignore',
    patterns: [],
    hasExceptions: false
};
/** Parse the text of a `.dockerignore`; `file` names it in errors. */
function parseDockerignore(text, file = '.dockerignore') {
    const patterns = [];
    const lines = text.replace(/^\uFEFF/, '').split('\n');
    if (lines[lines.length - 1] === '')
        lines.pop();
    lines.forEach((raw, index) => {
        const line = index + 1;
        const pattern = readLine(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
        if (pattern === null)
            return;
        patterns.push(compilePattern(pattern, raw.trim(), file, line));
    });
    return { file, patterns, hasExceptions: patterns.some((p) => p.exception) };
}
/**
 * Is `relativePath` (relative to the directory of the `.dockerignore`, `/`-separated) left out?
 * The root itself (`.`, ``) never is.
 */
function isExcluded(ignore, relativePath) {
    if (ignore.patterns.length === 0)
        return false;
    const file = cleanPath(relativePath);
    if (file === '.')
        return false;
    const slash = file.lastIndexOf('/');
    const parents = [];
    if (slash > 0) {
        // The prefixes `a`, `a/b`, ... of the parent directory, shortest first.
        const parent = file.slice(0, slash);
        for (let i = parent.indexOf('/'); i !== -1; i = parent.indexOf('/', i + 1))
            parents.push(parent.slice(0, i));
        parents.push(parent);
    }
    let excluded = false;
    for (const p of ignore.patterns) {
        // Only a pattern that could change the answer is tried (an exception when excluded, ...).
        if (p.exception !== excluded)
            continue;
        if (p.matches(file) || parents.some((d) => p.matches(d)))
            excluded = !p.exception;
    }
    return excluded;
}
// --- reading lines ---------------------------------------------------------------------------
/** ignorefile.ReadAll + the trimming and cleaning of patternmatcher.New; null for no pattern. */
function readLine(raw) {
    if (raw.startsWith('#'))
        return null;
    let pattern = goTrimSpace(raw);
    if (pattern === '')
        return null;
    const invert = pattern.startsWith('!');
    if (invert)
        pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
        pattern = cleanPath(pattern);
        if (pattern.length > 1 && pattern.startsWith('/'))
            pattern = pattern.slice(1);
    }
    if (invert)
        pattern = '!' + pattern;
    // patternmatcher.New trims and cleans once more, `!` included (`!/` becomes `!`).
    return cleanPath(goTrimSpace(pattern));
}
/** Go's `filepath.Clean` for `/`-separated paths. */
function cleanPath(path) {
    if (path === '')
        return '.';
    const rooted = path.startsWith('/');
    const out = [];
    for (const part of path.split('/')) {
        if (part === '' || part === '.')
            continue;
        if (part === '..') {
            if (out.length > 0 && out[out.length - 1] !== '..')
                out.pop();
            else if (!rooted)
                out.push('..');
            continue;
        }
        out.push(part);
    }
    const joined = out.join('/');
    if (rooted)
        return '/' + joined;
    return joined === '' ? '.' : joined;
}
// Go's unicode.IsSpace, which strings.TrimSpace uses (JS's trim() differs on U+0085 and U+FEFF).
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g');
const goTrimSpace = (s) => s.replace(GO_TRIM, '');
// --- one pattern -----------------------------------------------------------------------------
function compilePattern(cleaned, written, file, line) {
    const fail = (what, hint) => {
        throw new SourceError(`bad .dockerignore pattern ${JSON.stringify(written)}: ${what}`, { file, line }, hint);
    };
    let pattern = cleaned;
    const exception = pattern.startsWith('!');
    if (exception) {
        if (pattern.length === 1) {
            fail('`!` needs a pattern after it', 'write the path to include again after the `!`, or delete the line');
        }
        pattern = pattern.slice(1);
    }
    const syntax = globSyntaxError(pattern);
    if (syntax)
        fail(syntax, 'escape a literal `[`, `]` or `\\` with a backslash (`\\[`)');
    try {
        return { pattern, line, exception, matches: compileMatcher(pattern) };
    }
    catch (e) {
        if (!(e instanceof RegexError))
            throw e;
        return fail(e.message, e.hint);
    }
}
/**
 * filepath.Match's syntax check (run by patternmatcher.New on every pattern): classes must close,
 * have at least one item, and not start a range with `-` or `]`; a backslash must escape something.
 */
function globSyntaxError(pattern) {
    const cs = Array.from(pattern);
    let i = 0;
    // One class item (`a`, `\]`); false when malformed or when nothing follows it.
    const item = () => {
        const c = cs[i];
        if (c === undefined || c === '-' || c === ']')
            return false;
        if (c === '\\' && ++i >= cs.length)
            return false;
        i++;
        return i < cs.length;
    };
    while (i < cs.length) {
        const c = cs[i];
        if (c === '\\') {
            if (i + 1 >= cs.length)
                return 'a trailing backslash escapes nothing';
            i += 2;
        }
        else if (c === '[') {
            i++;
            if (cs[i] === '^')
                i++;
            for (let n = 0;; n++) {
                if (cs[i] === ']' && n > 0) {
                    i++;
                    break;
                }
                if (!item())
                    return 'malformed character class (empty, unclosed, or a range without both ends)';
                if (cs[i] === '-') {
                    i++;
                    if (!item())
                        return 'malformed character class (empty, unclosed, or a range without both ends)';
                }
            }
        }
        else {
            i++;
        }
    }
    return null;
}
/** patternmatcher's compile: exact, prefix (`a/**`), suffix (`**\/a`) or a regular expression. */
function compileMatcher(pattern) {
    const cs = Array.from(pattern);
    let pos = 0;
    let re = '^';
    let kind = 'exact';
    for (let i = 0; pos < cs.length; i++) {
        const ch = cs[pos++];
        if (ch === '*') {
            if (cs[pos] === '*') {
                pos++;
                if (cs[pos] === '/')
                    pos++;
                if (pos === cs.length) {
                    // `**` at the end: everything below.
                    if (kind === 'exact')
                        kind = 'prefix';
                    else {
                        re += '.*';
                        kind = 'regexp';
                    }
                }
                else {
                    re += '(.*/)?';
                    kind = 'regexp';
                }
                if (i === 0)
                    kind = 'suffix';
            }
            else {
                re += '[^/]*';
                kind = 'regexp';
            }
        }
        else if (ch === '?') {
            re += '[^/]';
            kind = 'regexp';
        }
        else if ('.+()|{}$'.includes(ch)) {
            re += '\\' + ch;
        }
        else if (ch === '\\') {
            if (pos < cs.length) {
                re += '\\' + cs[pos++];
                kind = 'regexp';
            }
            else {
                re += '\\'; // unreachable: the syntax check refuses a trailing backslash
            }
        }
        else if (ch === '[' || ch === ']') {
            re += ch;
            kind = 'regexp';
        }
        else {
            re += ch;
        }
    }
    switch (kind) {
        case 'exact':
            return (path) => path === pattern;
        case 'prefix': {
            const prefix = pattern.slice(0, -2);
            return (path) => path.startsWith(prefix);
        }
        case 'suffix': {
            const suffix = pattern.slice(2);
            const bare = suffix.startsWith('/') ? suffix.slice(1) : null;
            return (path) => path.endsWith(suffix) || path === bare;
        }
        case 'regexp': {
            const regexp = new RegExp(goRegexpToJs(re + '$'), 'u');
            return (path) => regexp.test(path);
        }
    }
}
// --- Go regexp (RE2 syntax) → JavaScript ------------------------------------------------------
// patternmatcher hands its regular expression to Go's regexp; the character classes it builds
// (`[a[^/]*]` from `[a*]`, POSIX `[[:alpha:]]`) parse differently in JavaScript, so the Go syntax is
// parsed here and every class is written out as explicit code point ranges.
class RegexError extends Error {
    hint;
    constructor(message, hint) {
        super(message);
        this.hint = hint;
    }
}
const MAX_RUNE = 0x10ffff;
const c = (s) => s.codePointAt(0);
const DIGIT = [[c('0'), c('9')]];
const WORD = [
    [c('0'), c('9')],
    [c('A'), c('Z')],
    [c('_'), c('_')],
    [c('a'), c('z')]
];
const PERL_SPACE = [
    [9, 10],
    [12, 13],
    [32, 32]
];
const PERL = { d: DIGIT, s: PERL_SPACE, w: WORD };
const POSIX = {
    alnum: [
        [c('0'), c('9')],
        [c('A'), c('Z')],
        [c('a'), c('z')]
    ],
    alpha: [
        [c('A'), c('Z')],
        [c('a'), c('z')]
    ],
    ascii: [[0, 0x7f]],
    blank: [
        [9, 9],
        [32, 32]
    ],
    cntrl: [
        [0, 0x1f],
        [0x7f, 0x7f]
    ],
    digit: DIGIT,
    graph: [[0x21, 0x7e]],
    lower: [[c('a'), c('z')]],
    print: [[0x20, 0x7e]],
    punct: [
        [0x21, 0x2f],
        [0x3a, 0x40],
        [0x5b, 0x60],
        [0x7b, 0x7e]
    ],
    space: [
        [9, 13],
        [32, 32]
    ],
    upper: [[c('A'), c('Z')]],
    word: WORD,
    xdigit: [
        [c('0'), c('9')],
        [c('A'), c('F')],
        [c('a'), c('f')]
    ]
};
const CONTROL_ESCAPES = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
function complement(ranges) {
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    const out = [];
    let next = 0;
    for (const [lo, hi] of sorted) {
        if (lo > next)
            out.push([next, lo - 1]);
        next = Math.max(next, hi + 1);
    }
    if (next <= MAX_RUNE)
        out.push([next, MAX_RUNE]);
    return out;
}
const hex = (cp) => `\\u{${cp.toString(16)}}`;
const jsClass = (ranges) => '[' + ranges.map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`)).join('') + ']';
const jsLiteral = (ch) => (/^[A-Za-z0-9_/]$/.test(ch) ? ch : hex(c(ch)));
const isAsciiAlnum = (ch) => /^[A-Za-z0-9]$/.test(ch);
function unsupportedEscape(e) {
    if (/^[xpPQC0-7]$/.test(e)) {
        return new RegexError(`\`\\${e}\` is a regular-expression escape in Docker's matcher, which fast-build does not reproduce`, `write the character(s) you mean without the backslash`);
    }
    return new RegexError(`\`\\${e}\` is an invalid escape (Docker's matcher fails on it too)`, 'escape only punctuation (`\\*`, `\\?`, `\\[`); write letters and digits without a backslash');
}
/** A single-character escape inside or outside a class (Go's parseEscape). */
function escapedRune(e) {
    if (c(e) < 0x80 && !isAsciiAlnum(e))
        return c(e);
    const control = CONTROL_ESCAPES[e];
    if (control !== undefined)
        return control;
    throw unsupportedEscape(e);
}
function goRegexpToJs(source) {
    const cs = Array.from(source);
    let p = 0;
    let out = '';
    while (p < cs.length) {
        const ch = cs[p++];
        switch (ch) {
            case '\\': {
                const e = cs[p++];
                if (e === undefined)
                    throw new RegexError('a trailing backslash escapes nothing', 'remove it');
                if (e === 'A')
                    out += '^';
                else if (e === 'z')
                    out += '$';
                else if (e === 'b' || e === 'B')
                    out += '\\' + e;
                else if ('dDsSwW'.includes(e)) {
                    const ranges = PERL[e.toLowerCase()];
                    out += jsClass(e === e.toLowerCase() ? ranges : complement(ranges));
                }
                else
                    out += hex(escapedRune(e));
                break;
            }
            case '[': {
                const parsed = parseClass(cs, p);
                out += jsClass(parsed.ranges);
                p = parsed.end;
                break;
            }
            case '.':
                out += '[^\\n]';
                break;
            case '(':
                out += '(?:';
                break;
            case '^':
            case '$':
            case ')':
            case '|':
            case '*':
            case '+':
            case '?':
                out += ch;
                break;
            default:
                out += jsLiteral(ch);
        }
    }
    return out;
}
/** Go's parseClass (Perl flags), from just after the `[`; returns the matched code points. */
function parseClass(cs, start) {
    let p = start;
    let negated = false;
    if (cs[p] === '^') {
        negated = true;
        p++;
    }
    const ranges = [];
    const classChar = () => {
        const ch = cs[p++];
        if (ch === undefined)
            throw missingBracket();
        if (ch !== '\\')
            return c(ch);
        const e = cs[p++];
        if (e === undefined)
            throw missingBracket();
        return escapedRune(e);
    };
    for (let first = true; first || cs[p] !== ']'; first = false) {
        if (p >= cs.length)
            throw missingBracket();
        // POSIX classes: `[:alpha:]`, `[:^alpha:]`.
        if (cs[p] === '[' && cs[p + 1] === ':') {
            const rest = cs.slice(p + 2).join('');
            const close = rest.indexOf(':]');
            if (close >= 0) {
                let name = rest.slice(0, close);
                const not = name.startsWith('^');
                if (not)
                    name = name.slice(1);
                const group = POSIX[name];
                if (!group) {
                    throw new RegexError(`\`[:${rest.slice(0, close)}:]\` is not a character class name`, 'use a POSIX class such as [:alpha:], or escape the `[`');
                }
                ranges.push(...(not ? complement(group) : group));
                p += 2 + Array.from(rest.slice(0, close + 2)).length;
                continue;
            }
        }
        if (cs[p] === '\\' && cs[p + 1] !== undefined && 'dDsSwW'.includes(cs[p + 1])) {
            const e = cs[p + 1];
            const group = PERL[e.toLowerCase()];
            ranges.push(...(e === e.toLowerCase() ? group : complement(group)));
            p += 2;
            continue;
        }
        const lo = classChar();
        let hi = lo;
        if (cs[p] === '-' && cs[p + 1] !== undefined && cs[p + 1] !== ']') {
            p++;
            hi = classChar();
            if (hi < lo) {
                throw new RegexError(`the range \`${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}\` runs backwards (Docker's matcher fails on it)`, `write it as \`${String.fromCodePoint(hi)}-${String.fromCodePoint(lo)}\``);
            }
        }
        ranges.push([lo, hi]);
    }
    return { ranges: negated ? complement(ranges) : ranges, end: p + 1 };
}
const missingBracket = () => new RegexError('a character class is not closed', 'close it with `]`, or escape the `[` as `\\[`');

// The project's source files for the source layer: which files (git's list or a directory walk,
// less `.dockerignore`), where they go in the image (`<workdir>/...`, local packages from outside
// the project under `<workdir>/_local/<name>/`), and what goes on PYTHONPATH. The only part of the
// source layer that touches the disk; file contents are read later, lazily, by the tar writer.
//
// Which files:
// - git mode: `git ls-files --cached --recurse-submodules` in the directory: what git tracks there,
//   read from the working tree (uncommitted edits count; tracked files deleted from the working
//   tree, or now behind a symlinked directory, are skipped; untracked files are not shipped).
//   .gitignore has already decided what is junk.
// - walk mode: every file below the directory, as `COPY . <workdir>` would see it, less common
//   junk (see JUNK_DIRS/JUNK_FILES: caches, `__pycache__`, `*.pyc`, and any directory holding a
//   `pyvenv.cfg`, i.e. a virtualenv whatever its name). Empty directories are kept, as Docker does.
// - auto: git when the directory is inside a git work tree (a `.git` in it or above it), else walk.
// In every mode nothing named `.git` is shipped, and `<dir>/.dockerignore` applies with Docker's
// semantics (see dockerignore.ts); the `.dockerignore` file itself ships unless it excludes itself.
//
// What is refused (SourceError, naming the path and the fix): symlinks with absolute targets or
// targets outside the directory they were collected from, names that are not UTF-8 or hold a
// newline, paths with `..`, sockets/FIFOs/devices, local packages that are missing or excluded.
/** Directory names walk mode never ships (any depth). */
const JUNK_DIRS = new Set([
    '__pycache__',
    '.mypy_cache',
    '.pytest_cache',
    '.ruff_cache',
    '.tox',
    '.nox'
]);
/** File name endings walk mode never ships. */
const JUNK_FILES = ['.pyc', '.pyo'];
/** A directory holding this file is a virtualenv: walk mode leaves it out. */
const VENV_MARKER = 'pyvenv.cfg';
/** Under `<workdir>/` for local packages from outside the project directory. */
const LOCAL_DIR = '_local';
/**
 * Every local package of the plan's closures (any variant, any platform), once: the project
 * itself (`.`), workspace members and path dependencies. `lockDir` is the lock's directory relative
 * to the project directory (lock paths are relative to it).
 */
function localPackagesOf(plan, lockDir = '.') {
    const byPath = new Map();
    for (const v of plan.variants) {
        for (const p of v.platforms) {
            for (const { package: pkg } of p.closure.local) {
                if (pkg.source.kind !== 'directory')
                    continue;
                const path = cleanPath(`${lockDir}/${pkg.source.path}`);
                if (!byPath.has(path))
                    byPath.set(path, { name: pkg.name, path, virtual: pkg.source.virtual });
            }
        }
    }
    return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
// --- the whole tree ---------------------------------------------------------------------------
async function collectSource(opts) {
    const projectDir = resolve(opts.projectDir);
    const imageRoot = imageRootOf(opts.workdir);
    const mode = opts.mode ?? 'auto';
    const skipJunk = opts.skipJunk ?? true;
    requireDirectory(projectDir, '.', 'the project directory');
    const project = await collectTree(projectDir, '', mode, skipJunk);
    if (project.mode === 'git' && project.items.length === 0) {
        throw new SourceError('git tracks no files in the project directory', { file: '.' }, 'git add the project files, or set the source mode to walk');
    }
    const trees = [{ tree: project, prefix: imageRoot }];
    const packages = [
        {
            name: normalizeName(projectDir.split(sep).pop() || 'project'),
            path: '.',
            dir: '/' + imageRoot,
            importRoots: importRoots(filesOf(project, ''), readPyproject(projectDir)).map((r) => inImage(imageRoot, r)),
            mode: project.mode
        }
    ];
    const outside = new Map(); // name → path, to refuse two packages in one place
    for (const ref of opts.localPackages ?? []) {
        const abs = resolve(projectDir, ref.path);
        const rel = relative(projectDir, abs).split(sep).join('/');
        if (rel === '')
            continue; // the project itself
        const display = ref.path;
        const isOutside = rel === '..' || rel.startsWith('../') || isAbsolute(rel);
        const name = packageName(ref.name, display);
        if (!isOutside) {
            const files = filesOf(project, rel);
            if (files.length === 0) {
                requireDirectory(abs, display, `local package ${name}`);
                const why = [
                    ...(existsSync(join(projectDir, '.dockerignore')) ? ['excluded by .dockerignore'] : []),
                    project.mode === 'git' ? 'not tracked by git' : 'left out as junk (caches, virtualenvs)'
                ].join(', or ');
                throw new SourceError(`local package ${name} (${display}) has no files in the source layer`, { file: display }, `its files are ${why}; ship them (change .dockerignore${project.mode === 'git' ? ', or git add them' : ''})`);
            }
            packages.push({
                name,
                path: ref.path,
                dir: '/' + join2(imageRoot, rel),
                importRoots: importRoots(files, readPyproject(abs)).map((r) => inImage(join2(imageRoot, rel), r)),
                mode: project.mode
            });
            continue;
        }
        if ((projectDir + sep).startsWith(abs + sep)) {
            if (ref.virtual)
                continue; // a workspace root around the project: nothing to import
            throw new SourceError(`local package ${name} (${display}) contains the project directory; it cannot ship separately`, { file: display }, 'run fast-build on the directory that holds the whole workspace, or make the package a sibling of the project');
        }
        const seen = outside.get(name);
        if (seen !== undefined) {
            if (seen === rel)
                continue;
            throw new SourceError(`two local packages named ${name}: ${seen} and ${display}`, { file: display }, 'give the packages distinct names in their pyproject.toml');
        }
        outside.set(name, rel);
        requireDirectory(abs, display, `local package ${name}`);
        const tree = await collectTree(abs, rel, mode, skipJunk);
        const prefix = join2(imageRoot, `${LOCAL_DIR}/${name}`);
        const files = filesOf(tree, '');
        if (files.length === 0) {
            throw new SourceError(`local package ${name} (${display}) has no files to ship`, { file: display }, tree.mode === 'git' ? 'git add its files, or use source mode walk' : 'check its .dockerignore');
        }
        trees.push({ tree, prefix });
        packages.push({
            name,
            path: ref.path,
            dir: '/' + prefix,
            importRoots: importRoots(files, readPyproject(abs)).map((r) => inImage(prefix, r)),
            mode: tree.mode
        });
    }
    const { entries, files, bytes } = toEntries(trees, imageRoot);
    const pythonPath = [...new Set(packages.flatMap((p) => p.importRoots))];
    const excluded = trees.reduce((n, t) => n + t.tree.excluded, 0);
    return { entries, files, bytes, pythonPath, excluded, packages };
}
/** `/app` → `app`; `/` → ``. */
function imageRootOf(workdir) {
    const clean = cleanPath(workdir);
    if (!workdir.startsWith('/') || clean.split('/').includes('..')) {
        throw new SourceError(`workdir ${JSON.stringify(workdir)} is not an absolute path in the image`, { keyPath: 'tool.fast-build.workdir' }, 'set workdir to an absolute path such as "/app"');
    }
    return clean.slice(1);
}
const join2 = (a, b) => (a === '' ? b : b === '' || b === '.' ? a : `${a}/${b}`);
const inImage = (prefix, root) => '/' + join2(prefix, root);
function packageName(name, display) {
    const n = normalizeName(name);
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(n)) {
        throw new SourceError(`local package name ${JSON.stringify(name)} cannot name a directory`, { file: display }, 'fix the name in its pyproject.toml');
    }
    return n;
}
function requireDirectory(abs, display, what) {
    let ok;
    try {
        ok = statSync(abs).isDirectory();
    }
    catch {
        ok = false;
    }
    if (!ok) {
        throw new SourceError(`${what} (${display}) is not a directory here`, { file: display }, 'check out the whole repository (path dependencies and workspace members included) before building');
    }
}
/** `display` is how the directory is named in messages, relative to the project (`` for it). */
async function collectTree(dir, display, mode, skipJunk) {
    const ignore = readDockerignore(dir, display);
    const useGit = mode === 'git' || (mode === 'auto' && insideGitWorkTree(dir));
    return useGit ? collectGit(dir, display, ignore) : collectWalk(dir, display, ignore, skipJunk);
}
function readDockerignore(dir, display) {
    const path = join(dir, '.dockerignore');
    const name = join2(display, '.dockerignore');
    let text;
    try {
        text = readFileSync(path, 'utf8');
    }
    catch (e) {
        const code = e.code;
        if (code === 'ENOENT' || code === 'ENOTDIR')
            return NO_DOCKERIGNORE;
        throw new SourceError(`cannot read ${name}: ${e.message}`, { file: name }, 'make it a readable file');
    }
    return parseDockerignore(text, name);
}
function insideGitWorkTree(dir) {
    for (let d = dir;; d = dirname(d)) {
        if (existsSync(join(d, '.git')))
            return true;
        if (dirname(d) === d)
            return false;
    }
}
// Environment variables that would point git at another repository or index than the directory's.
const GIT_ENV = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_PREFIX', 'GIT_COMMON_DIR'];
function gitLsFiles(dir, display) {
    const env = { ...process.env };
    for (const k of GIT_ENV)
        delete env[k];
    return new Promise((resolvePromise, reject) => {
        execFile('git', ['ls-files', '-z', '--cached', '--recurse-submodules'], { cwd: dir, env, encoding: 'buffer', maxBuffer: 1 << 30 }, (error, stdout, stderr) => {
            if (!error)
                return resolvePromise(stdout);
            const where = display || '.';
            const code = error.code;
            if (code === 'ENOENT') {
                return reject(new SourceError(`git is not installed, and ${where} is in a git work tree`, { file: where }, 'install git, or set the source mode to walk (every file, less .dockerignore)'));
            }
            const said = stderr.toString('utf8').trim().split('\n')[0] || error.message;
            const hint = /dubious ownership/.test(said)
                ? `mark the checkout as safe (git config --global --add safe.directory ${dir}), or set the source mode to walk`
                : 'fix the checkout, or set the source mode to walk (every file, less .dockerignore)';
            reject(new SourceError(`git ls-files failed in ${where}: ${said}`, { file: where }, hint));
        });
    });
}
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** A name as bytes → text, refusing what cannot go into a tar layer faithfully. */
function decodeName(bytes, displayParent) {
    let name;
    try {
        name = UTF8.decode(bytes);
    }
    catch {
        const shown = join2(displayParent, bytes.toString('utf8'));
        throw new SourceError(`the file name ${JSON.stringify(shown)} is not valid UTF-8`, { file: shown }, 'rename it (UTF-8 names only), or add it to .dockerignore');
    }
    if (name.includes('\n') || name.includes('\0')) {
        const shown = join2(displayParent, name);
        throw new SourceError(`the file name ${JSON.stringify(shown)} contains a newline`, { file: shown }, 'rename it, or add it to .dockerignore');
    }
    return name;
}
/** Listings started early by prefetchSource, by directory; taken once. */
const early = new Map();
/**
 * Start listing the project's files (in git mode) before anything else needs them: git runs in
 * its own process while this one reads the lock and plans. collectSource takes the result.
 */
function prefetchSource(projectDir, mode = 'auto') {
    const dir = resolve(projectDir);
    if (early.has(dir))
        return;
    if (mode === 'walk' || (mode === 'auto' && !insideGitWorkTree(dir)))
        return;
    // A failure is reported by the real call, which runs git again for its message.
    early.set(dir, gitLsFiles(dir, '').catch(() => null));
}
async function collectGit(dir, display, ignore) {
    const prefetched = early.get(dir);
    early.delete(dir);
    const out = (prefetched && (await prefetched)) || (await gitLsFiles(dir, display));
    const paths = new Set();
    let excluded = 0;
    for (let start = 0; start < out.length;) {
        let end = out.indexOf(0, start);
        if (end === -1)
            end = out.length;
        if (end > start) {
            const path = decodeName(out.subarray(start, end), display);
            checkRelative(path, display);
            if (isGitPath(path))
                excluded++;
            else if (isExcluded(ignore, path))
                excluded++;
            else
                paths.add(path);
        }
        start = end + 1;
    }
    // A tracked file behind a directory that is now a symlink is not in the working tree (git says
    // "beyond a symbolic link"); check each directory once.
    const parents = new Set();
    for (const p of paths)
        for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1))
            parents.add(p.slice(0, i));
    const parentList = [...parents];
    const parentStats = await lstatAll(parentList.map((p) => join(dir, p)));
    const badParents = new Set(parentList.filter((_, i) => !parentStats[i]?.isDirectory()));
    const list = [...paths].filter((p) => {
        for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1))
            if (badParents.has(p.slice(0, i)))
                return false;
        return true;
    });
    const stats = await lstatAll(list.map((p) => join(dir, p)));
    // Missing: deleted from the working tree. A directory: an uninitialized submodule.
    const items = [];
    for (let i = 0; i < list.length; i++) {
        const st = stats[i] ?? null;
        // Regular files (nearly all) need nothing asynchronous.
        const item = st?.isFile()
            ? {
                kind: 'file',
                rel: list[i],
                abs: `${dir}/${list[i]}`,
                size: st.size,
                executable: (st.mode & 0o111) !== 0
            }
            : await toItem(dir, display, list[i], st);
        if (item)
            items.push(item);
    }
    return { mode: 'git', items, dirs: [], excluded };
}
const isGitPath = (rel) => rel === '.git' || rel.startsWith('.git/') || rel.includes('/.git/') || rel.endsWith('/.git');
function checkRelative(rel, display) {
    if (rel.startsWith('/') || rel.split('/').some((s) => s === '' || s === '.' || s === '..')) {
        const shown = join2(display, rel);
        throw new SourceError(`the path ${JSON.stringify(shown)} would land outside the project directory`, { file: shown }, 'rename it, or add it to .dockerignore');
    }
}
async function collectWalk(root, display, ignore, skipJunk) {
    const files = [];
    const links = [];
    const dirs = [];
    let excluded = 0;
    // `keep`: ship the directory itself (false below an excluded one, walked for `!` exceptions).
    const walk = async (rel, keep) => {
        let entries;
        try {
            entries = await readdir(rel === '' ? root : join(root, rel), {
                withFileTypes: true,
                encoding: 'buffer'
            });
        }
        catch (e) {
            const shown = join2(display, rel) || '.';
            throw new SourceError(`cannot list ${shown}: ${e.message}`, { file: shown }, 'make it readable, or add it to .dockerignore');
        }
        if (skipJunk && rel !== '' && entries.some((e) => e.name.equals(VENV_BYTES))) {
            if (keep)
                excluded++;
            return;
        }
        if (keep && rel !== '')
            dirs.push(rel);
        const below = [];
        for (const e of entries) {
            const name = decodeName(e.name, join2(display, rel));
            const path = rel === '' ? name : `${rel}/${name}`;
            if (name === '.git')
                continue;
            const isDir = e.isDirectory();
            if (skipJunk && (isDir ? JUNK_DIRS.has(name) : JUNK_FILES.some((j) => name.endsWith(j)))) {
                if (keep)
                    excluded++;
                continue;
            }
            const out = isExcluded(ignore, path);
            // Below an excluded directory (walked for `!` exceptions) nothing more is counted.
            if (out && keep)
                excluded++;
            if (isDir) {
                if (!out)
                    below.push(walk(path, true));
                // An exception (`!dir/keep`) may bring back something below an excluded directory.
                else if (ignore.hasExceptions)
                    below.push(walk(path, false));
            }
            else if (out) {
                continue;
            }
            else if (e.isSymbolicLink()) {
                links.push(path);
            }
            else {
                files.push(path);
            }
        }
        await Promise.all(below);
    };
    await walk('', true);
    const paths = [...files, ...links];
    const stats = await lstatAll(paths.map((p) => join(root, p)));
    // Gone since the listing: it is not there to ship.
    const items = await Promise.all(paths.map((rel, i) => toItem(root, display, rel, stats[i] ?? null)));
    return { mode: 'walk', items: items.filter((i) => i !== null), dirs, excluded };
}
const VENV_BYTES = Buffer.from(VENV_MARKER);
/** The file or link at `rel`; null when there is none (missing, or a directory). */
async function toItem(root, display, rel, st) {
    if (!st || st.isDirectory())
        return null;
    // `rel` is clean and relative here (checked), so plain concatenation is the join.
    const abs = `${root}/${rel}`;
    if (st.isFile())
        return { kind: 'file', rel, abs, size: st.size, executable: (st.mode & 0o111) !== 0 };
    const shown = join2(display, rel);
    if (st.isSymbolicLink()) {
        const raw = await readlink(abs, { encoding: 'buffer' });
        let target;
        let problem;
        try {
            target = UTF8.decode(raw);
            problem = symlinkProblem(rel, target);
        }
        catch {
            target = raw.toString('utf8');
            problem = 'has a target that is not valid UTF-8';
        }
        if (problem) {
            throw new SourceError(`symlink ${shown} -> ${target} ${problem}`, { file: shown }, `replace the link with the file it points to, or add ${JSON.stringify(rel)} to .dockerignore`);
        }
        return { kind: 'symlink', rel, target };
    }
    const what = st.isSocket() ? 'a socket' : st.isFIFO() ? 'a FIFO' : 'a device';
    throw new SourceError(`${shown} is ${what}, which cannot go into an image layer`, { file: shown }, `add ${JSON.stringify(rel)} to .dockerignore`);
}
/** Why a link at `rel` (inside its root) with this target cannot ship, or null when it can. */
function symlinkProblem(rel, target) {
    if (target === '')
        return 'has an empty target';
    if (target.includes('\n') || target.includes('\0'))
        return 'has a newline in its target';
    if (target.startsWith('/'))
        return 'has an absolute target, which would point elsewhere in the image';
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '.';
    const resolved = cleanPath(`${parent}/${target}`);
    if (resolved === '..' || resolved.startsWith('../'))
        return 'points outside the directory being shipped';
    return null;
}
/**
 * lstat many paths (null when missing). Synchronous on purpose: for a source tree in the page
 * cache a direct lstat costs a few microseconds, far less than a thread-pool round trip each.
 */
async function lstatAll(paths) {
    return paths.map((p) => {
        try {
            return lstatSync(p);
        }
        catch (err) {
            const code = err.code;
            if (code === 'ENOENT' || code === 'ENOTDIR')
                return null;
            throw err;
        }
    });
}
// --- entries ------------------------------------------------------------------------------------
function toEntries(trees, imageRoot) {
    const entries = [];
    const dirs = new Set();
    const addDirs = (path) => {
        // `path` and every directory above it.
        for (let p = path; p !== '' && !dirs.has(p); p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '')
            dirs.add(p);
    };
    const parentOf = (p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
    let files = 0;
    let bytes = 0;
    addDirs(imageRoot);
    for (const { tree, prefix } of trees) {
        addDirs(prefix);
        for (const d of tree.dirs)
            addDirs(join2(prefix, d));
        for (const item of tree.items) {
            const path = join2(prefix, item.rel);
            addDirs(parentOf(path));
            if (item.kind === 'symlink') {
                entries.push({ type: 'symlink', path, target: item.target });
            }
            else {
                files++;
                bytes += item.size;
                const { abs } = item;
                entries.push({
                    type: 'file',
                    path,
                    executable: item.executable,
                    size: item.size,
                    // Source files are small: a synchronous read is far cheaper than three thread-pool
                    // round trips, and the tar writer reads them one after another anyway.
                    content: () => readFileSync(abs),
                    diskPath: abs
                });
            }
        }
    }
    for (const d of dirs)
        entries.push({ type: 'dir', path: d });
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { entries, files, bytes };
}
/** The tree's file paths below `under` (`` for all), relative to it. */
function filesOf(tree, under) {
    if (under === '')
        return tree.items.map((i) => i.rel);
    const prefix = under + '/';
    return tree.items.filter((i) => i.rel.startsWith(prefix)).map((i) => i.rel.slice(prefix.length));
}
// --- import roots -------------------------------------------------------------------------------
function readPyproject(dir) {
    let text;
    try {
        text = readFileSync(join(dir, 'pyproject.toml'), 'utf8');
    }
    catch {
        return null;
    }
    try {
        return parseToml(text, 'pyproject.toml');
    }
    catch {
        return null; // the plan reads (and reports on) the project's own; a broken member fails its install
    }
}
const table = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? v : null;
const strings = (v) => Array.isArray(v) ? v.filter((s) => typeof s === 'string') : [];
const at = (t, ...keys) => {
    let v = t;
    for (const k of keys)
        v = table(v)?.[k];
    return v;
};
/**
 * Where a package's modules import from, relative to its root (`.` or `src`...):
 * 1. what its build configuration says, when that directory has files: Poetry
 *    `packages = [{ include, from }]` (`from`, else the root), setuptools `package-dir = { "" = … }`
 *    or `packages.find.where`, uv_build `module-root`, Hatch wheel `packages` (their parents);
 * 2. else `src` when `src/` holds Python code (a module `src/x.py`, or a directory below `src/`
 *    with `.py` files) and is not itself a package (no `src/__init__.py`: then the code imports it
 *    as `src.…` from the root);
 * 3. else the root.
 */
function importRoots(files, pyproject) {
    const dirs = new Set();
    for (const f of files)
        for (let i = f.indexOf('/'); i !== -1; i = f.indexOf('/', i + 1))
            dirs.add(f.slice(0, i));
    const exists = (d) => d === '.' || dirs.has(d);
    const declared = [];
    const poetry = at(pyproject, 'tool', 'poetry', 'packages');
    if (Array.isArray(poetry)) {
        for (const p of poetry) {
            const from = at(table(p), 'from');
            if (table(p))
                declared.push(typeof from === 'string' ? from : '.');
        }
    }
    const packageDir = at(pyproject, 'tool', 'setuptools', 'package-dir', '');
    if (typeof packageDir === 'string')
        declared.push(packageDir);
    declared.push(...strings(at(pyproject, 'tool', 'setuptools', 'packages', 'find', 'where')));
    const moduleRoot = at(pyproject, 'tool', 'uv', 'build-backend', 'module-root');
    if (typeof moduleRoot === 'string')
        declared.push(moduleRoot);
    for (const p of strings(at(pyproject, 'tool', 'hatch', 'build', 'targets', 'wheel', 'packages'))) {
        const clean = cleanPath(p);
        declared.push(clean.includes('/') ? clean.slice(0, clean.lastIndexOf('/')) : '.');
    }
    const roots = [...new Set(declared.map(cleanPath))].filter((d) => !d.startsWith('..') && !d.startsWith('/') && exists(d));
    if (roots.length > 0)
        return roots;
    const srcLayout = !files.includes('src/__init__.py') && files.some((f) => f.startsWith('src/') && f.endsWith('.py'));
    return [srcLayout ? 'src' : '.'];
}

// `fast-build build`: plan (with the base image pinned to its digest, which the hash covers),
// collect the source once and build its layer once, then per variant look up
// `deps-<variant>-<hash>`: present → fast path; absent (or named by --rebuild) → full path (the
// deps image built from wheels), then the fast path on top. Variants are independent: one
// failing does not stop the others.
/**
 * The plan with the base image pinned to its digest, which is what variant hashes cover. A
 * reference already pinned (`…@sha256:…`) needs no lookup; otherwise the base image's registry is
 * asked (the build needs it anyway for the full path).
 */
async function pinBase(plan, opts = {}) {
    const reference = plan.variants[0]?.baseImage;
    if (!reference || /@sha256:[a-f0-9]{64}$/.test(reference))
        return { plan, base: null };
    const platforms = uniquePlatforms(plan);
    const base = await resolveBase(reference, platforms, { ...opts, cwd: plan.project.dir });
    const pinned = planProject(plan.project, plan.lock, { ...plan.options, baseImage: base.pinned });
    return { plan: { ...pinned, notes: plan.notes }, base };
}
function uniquePlatforms(plan) {
    const seen = new Map();
    for (const v of plan.variants)
        for (const p of v.platforms)
            seen.set(formatPlatform(p.platform), p.platform);
    return [...seen.values()];
}
function pythonLayoutOf(plan) {
    const v = plan.variants[0];
    const i = plan.install;
    const root = i.prefix === '/' ? '' : i.prefix;
    return {
        purelib: i.sitePackages,
        platlib: i.sitePackages,
        scripts: i.scripts,
        data: i.prefix,
        headers: `${root}/include/python${pythonMinor(v.python)}`,
        interpreter: i.interpreter,
        python: { major: v.python.major, minor: v.python.minor }
    };
}
/** Which variants of the whole configuration install each wheel, per platform. */
function sharingOf(plan) {
    // A plan of every variant already is that; one of some variants is planned again in full.
    const all = (plan.options.variants ?? []).length === 0
        ? plan
        : planProject(plan.project, plan.lock, { ...plan.options, variants: [] });
    const map = new Map();
    for (const v of all.variants) {
        for (const p of v.platforms) {
            for (const e of p.closure.installed) {
                const sha = chooseWheel(e.package.files, p.target)?.file.hashes['sha256'];
                if (!sha)
                    continue;
                const key = `${formatPlatform(p.platform)}|${sha}`;
                map.set(key, [...(map.get(key) ?? []), v.name]);
            }
        }
    }
    return (platform, sha) => map.get(`${formatPlatform(platform)}|${sha}`) ?? [];
}
/**
 * The run-time layer of each platform of a variant (by formatPlatform), or null when the variant
 * has no run-time packages. Small (a shim and a requirements file), so built in memory; checked
 * before any deps image is built, so a package pip cannot install at start fails the variant early.
 */
async function runtimeLayers(plan, v, compression) {
    if (!hasRuntime(v.platforms))
        return null;
    const out = new Map();
    for (const p of v.platforms) {
        const files = runtimeFiles({
            variant: v.name,
            platform: p,
            install: plan.install,
            lockPath: plan.lock.path
        });
        const blob = await buildLayer(runtimeEntries(files), { mtime: RUNTIME_MTIME, compression });
        out.set(formatPlatform(p.platform), { blob, packages: files.requirements.length });
    }
    return out;
}
const DEFAULT_TAG = '{variant}-{sha}';
/** Expand a tag template; the result must be a valid registry tag. */
function expandTag(template, values) {
    const tag = template.replace(/\{(variant|sha|ref)\}/g, (_, k) => values[k]);
    if (!TAG_PATTERN.test(tag)) {
        throw new ConfigError(`tag template ${JSON.stringify(template)} gives ${JSON.stringify(tag)}, which is not a valid tag`, { keyPath: 'tags' }, 'tags are letters, digits, "_", "." and "-", at most 128, not starting with "." or "-"');
    }
    return tag;
}
/** A branch or tag name as a tag: `feature/x` → `feature-x`. */
function refSlug(ref) {
    return (ref
        .replace(/^refs\/(heads|tags)\//, '')
        .replace(/[^\w.-]+/g, '-')
        .replace(/^[.-]+/, '')
        .slice(0, 100) || 'ref');
}
function settingsFor(plan, v, source, git, created) {
    const c = plan.project.config;
    const labels = {
        'dev.fast-build.variant': v.name,
        'dev.fast-build.hash': v.hash
    };
    if (git.revision)
        labels['org.opencontainers.image.revision'] = git.revision;
    if (git.sourceUrl)
        labels['org.opencontainers.image.source'] = git.sourceUrl;
    return {
        workdir: c.workdir,
        env: c.env,
        pythonPath: source.pythonPath,
        entrypoint: c.entrypoint,
        cmd: c.cmd,
        labels,
        created
    };
}
async function runBuild(o) {
    const env = o.env ?? process.env;
    const { store } = o;
    const progress = o.onProgress ?? (() => { });
    const rebuild = o.rebuild ?? [];
    for (const name of rebuild === 'all' ? [] : rebuild) {
        if (!o.plan.variants.some((v) => v.name === name)) {
            throw new ConfigError(`--rebuild names unknown variant ${JSON.stringify(name)}`, {}, `variants are: ${o.plan.variants.map((v) => v.name).join(', ')}`);
        }
    }
    const pinned = await pinBase(o.plan, o.base);
    const plan = pinned.plan;
    let base = pinned.base ? Promise.resolve(pinned.base) : null;
    const baseOnce = () => (base ??= resolveBase(plan.variants[0].baseImage, uniquePlatforms(plan), {
        ...o.base,
        cwd: plan.project.dir
    }));
    try {
        const cacheDir = o.cacheDir ?? defaultCacheDir(env);
        const mirrorUrl = o.indexUrl ?? plan.project.config.indexUrl ?? env['FAST_BUILD_INDEX_URL'] ?? null;
        let sharing = null;
        const indexes = namedIndexes(plan.project);
        const git = await gitInfo(plan.project.dir, env);
        const epoch = buildEpoch(git, env);
        const created = new Date(epoch * 1000).toISOString();
        const values = (variant) => ({
            variant,
            sha: git.revision ? git.revision.slice(0, 12) : 'local',
            ref: refSlug(env['GITHUB_HEAD_REF'] || env['GITHUB_REF_NAME'] || 'local')
        });
        const templates = o.tags && o.tags.length > 0 ? o.tags : [DEFAULT_TAG];
        // Check every template before any work, so a bad one fails the build up front.
        for (const v of plan.variants)
            for (const t of templates)
                expandTag(t, values(v.name));
        let source = null;
        let layer = null;
        let layerSeconds = 0;
        // The source layer is the same for every variant. It is started at once, so the disk and CPU
        // work runs while the registry is asked about the deps images, and it is uploaded while it is
        // compressed, as docker push streams layers; on any trouble with the stream the bytes kept in
        // memory go up the ordinary, retried way when a variant needs them.
        const layerJob = (async () => {
            const start = performance$1.now();
            const tree = await collectSource({
                projectDir: plan.project.dir,
                workdir: plan.project.config.workdir,
                localPackages: localPackagesOf(plan, dirname(plan.project.config.lock ?? 'pyproject.toml')),
                mode: o.sourceMode ?? 'auto'
            });
            source = tree;
            progress(null, `source: ${tree.files} files, ${formatBytes(tree.bytes)}`);
            // The upload session opens while the first blocks are tarred and compressed.
            const opening = store.beginBlob?.().catch(() => null) ?? Promise.resolve(null);
            let streaming;
            const onChunk = async (chunk) => {
                if (streaming === undefined)
                    streaming = await opening;
                if (!streaming)
                    return;
                try {
                    await streaming.write(chunk);
                }
                catch {
                    await streaming.abort().catch(() => undefined);
                    streaming = null;
                }
            };
            const blob = await buildLayer(tree.entries, {
                mtime: epoch,
                compression: o.compression ?? 'gzip',
                onChunk
            });
            layer = blob;
            let uploaded = null;
            if (streaming === undefined)
                streaming = await opening;
            if (streaming) {
                const s = streaming;
                uploaded = await s
                    .commit({ mediaType: blob.mediaType, digest: blob.digest, size: blob.size })
                    .catch(async (e) => {
                    progress(null, `streamed upload of the source layer failed (${describeError(e)}); it goes up again`);
                    await s.abort().catch(() => undefined);
                    return null;
                });
            }
            layerSeconds = (performance$1.now() - start) / 1000;
            progress(null, `source layer ${blob.digest.slice(7, 19)}: ${formatBytes(blob.size)} in ${layerSeconds.toFixed(2)} s`);
            return { source: tree, layer: blob, uploaded };
        })();
        // Failures surface where a variant awaits the layer, never as an unhandled rejection.
        layerJob.catch(() => undefined);
        const ensureLayer = () => layerJob;
        const results = [];
        let layerCounted = false;
        for (const v of plan.variants) {
            const start = performance$1.now();
            const tag = depsTag(v.name, v.shortHash);
            const depsRef = `${store.name}:${tag}`;
            const base0 = { variant: v.name, hash: v.hash, depsRef };
            // A variant that ends without an image: nothing pushed, and why.
            const unbuilt = (path, error) => ({
                ...base0,
                path,
                appRef: null,
                digest: null,
                tags: [],
                blobs: { uploaded: 0, mounted: 0, skipped: 0 },
                bytesUploaded: 0,
                seconds: (performance$1.now() - start) / 1000,
                error,
                full: null
            });
            try {
                const runtime = await runtimeLayers(plan, v, o.compression ?? 'gzip');
                const wanted = rebuild === 'all' || rebuild.includes(v.name);
                let deps = wanted
                    ? null
                    : await resolveDepsImage(store, tag, v.platforms.map((p) => p.platform));
                let full = null;
                let fullSeconds = 0;
                if (!deps && o.fullPath === false) {
                    progress(v.name, `deps image ${depsRef} is missing: the full path (building it) is needed`);
                    results.push(unbuilt('missing', `deps image ${depsRef} is missing: full path needed (build the deps image for hash ${v.shortHash})`));
                    continue;
                }
                if (!deps) {
                    progress(v.name, wanted ? `rebuilding deps image ${depsRef}` : `deps image ${depsRef} is missing: full path`);
                    const fullStart = performance$1.now();
                    const mirror = mirrorUrl ? indexConfigFor(mirrorUrl, 'mirror', env) : null;
                    if (v.builder.kind === 'dockerfile')
                        progress(v.name, `Dockerfile builder (${engineOf(v.builder.settings.command)}): ${v.builder.reason}`);
                    full =
                        v.builder.kind === 'dockerfile'
                            ? await buildDepsWithDockerfile(v, v.builder.settings, tag, {
                                plan,
                                store,
                                base: (await baseOnce()).pinned,
                                workDir: join(cacheDir, 'work'),
                                env,
                                onProgress: (m) => progress(v.name, m)
                            })
                            : await buildDepsImage(v, tag, {
                                store,
                                base: await baseOnce(),
                                layout: pythonLayoutOf(plan),
                                cache: new ArtifactCache(join(cacheDir, 'artifacts')),
                                workDir: join(cacheDir, 'work'),
                                indexFor: (pkg) => pkg.source.kind === 'registry' && pkg.source.url
                                    ? indexConfigFor(pkg.source.url, pkg.source.name ?? indexNameFor(indexes, pkg.source.url), env)
                                    : null,
                                mirror,
                                lockDir: join(plan.project.dir, dirname(plan.project.config.lock ?? 'pyproject.toml')),
                                sharing: (sharing ??= sharingOf(plan)),
                                maxLayers: o.maxLayers ?? plan.project.config.maxLayers,
                                heavyBytes: plan.project.config.heavyPackageMb * 1024 * 1024,
                                ...(o.restoreWheels ? { restoreWheels: o.restoreWheels } : {}),
                                onProgress: (m) => progress(v.name, m)
                            });
                    fullSeconds = (performance$1.now() - fullStart) / 1000;
                    for (const n of full.notes)
                        progress(v.name, `note: ${n}`);
                    deps = full.image;
                    progress(v.name, `deps image ${depsRef} pushed (${deps.digest.slice(0, 19)}), ${formatBytes(full.stats.bytesUploaded)} uploaded in ${fullSeconds.toFixed(1)} s`);
                }
                if (!full)
                    progress(v.name, `deps image ${depsRef} found (${deps.digest.slice(0, 19)}): fast path`);
                const { source: src, layer: lay, uploaded } = await ensureLayer();
                // The streamed upload counts for the first variant that uses the layer.
                const layerOutcome = layerCounted ? undefined : (uploaded ?? undefined);
                layerCounted ||= uploaded !== null;
                const tags = templates.map((t) => expandTag(t, values(v.name)));
                const pushed = await pushAppImage({
                    store,
                    deps,
                    layer: lay,
                    settings: {
                        ...settingsFor(plan, v, src, git, created),
                        labels: {
                            ...settingsFor(plan, v, src, git, created).labels,
                            'org.opencontainers.image.base.digest': deps.digest,
                            'org.opencontainers.image.base.name': deps.ref
                        }
                    },
                    tags,
                    ...(layerOutcome ? { layerOutcome } : {}),
                    ...(runtime
                        ? { runtime: (platform) => runtime.get(formatPlatform(platform)) ?? null }
                        : {}),
                    onProgress: (m) => progress(v.name, m)
                });
                const stats = pushed.stats;
                results.push({
                    ...base0,
                    path: full ? 'full' : 'fast',
                    appRef: `${store.name}:${tags[0]}@${pushed.digest}`,
                    digest: pushed.digest,
                    tags,
                    blobs: { uploaded: stats.uploaded, mounted: stats.mounted, skipped: stats.skipped },
                    bytesUploaded: stats.bytesUploaded,
                    seconds: (performance$1.now() - start) / 1000,
                    error: null,
                    full: full
                        ? {
                            layers: full.layers.length,
                            layersUploaded: full.layers.filter((l) => l.outcome === 'uploaded').length,
                            layerBytesUploaded: full.layers
                                .filter((l) => l.outcome === 'uploaded')
                                .reduce((n, l) => n + l.size, 0),
                            layersBuilt: full.layers.filter((l) => l.built).length,
                            wheels: full.wheels.total,
                            wheelsDownloaded: full.wheels.downloaded,
                            wheelsRestored: full.wheels.restored,
                            downloadedSha256: full.wheels.downloadedSha256,
                            bytesUploaded: full.stats.bytesUploaded,
                            seconds: fullSeconds,
                            notes: full.notes,
                            builder: v.builder.kind,
                            builderReason: v.builder.kind === 'dockerfile' ? v.builder.reason : null
                        }
                        : null
                });
                progress(v.name, `pushed ${store.name}:${tags.join(', ')} (${pushed.digest.slice(0, 19)}), ${formatBytes(stats.bytesUploaded)} uploaded`);
            }
            catch (e) {
                results.push(unbuilt('failed', describeError(e)));
                progress(v.name, `failed: ${describeError(e)}`);
            }
        }
        const l = layer;
        const s = source;
        return {
            store: store.name,
            revision: git.revision,
            sourceLayer: l && s ? { digest: l.digest, size: l.size, files: s.files, seconds: layerSeconds } : null,
            variants: results
        };
    }
    finally {
        // The base image's registry connection (kept for the full path) is closed whatever happened.
        if (base)
            await base.then((b) => b.store.close?.(), () => undefined);
    }
}

// From what a user typed (`oci:DIR`, `HOST/REPO`) to an ImageStore, with credentials resolved
// in order: explicit ones, then the Docker config (docker login / docker/login-action).
function parseStoreSpec(text, where = '--store') {
    const t = text.trim();
    if (t.startsWith('oci:')) {
        const dir = t.slice(4);
        if (!dir)
            throw new ConfigError(`${where}: oci: needs a directory`, {}, 'write oci:./images');
        return { kind: 'layout', dir };
    }
    const image = t.replace(/^(docker|registry):(\/\/)?/, '');
    parseImageReference(image, where);
    return { kind: 'registry', image };
}
async function openStore(spec, opts = {}) {
    if (spec.kind === 'layout') {
        const store = new LayoutStore(resolve(opts.cwd ?? '.', spec.dir));
        store.init();
        return store;
    }
    const ref = parseImageReference(spec.image);
    if (ref.tag || ref.digest) {
        throw new ConfigError(`${spec.image}: give the repository without a tag or digest`, {}, 'tags come from --tag');
    }
    const credential = opts.credential ??
        (await credentialFromDockerConfig(ref.host, opts.dockerConfig ? { path: opts.dockerConfig } : {}));
    return new RegistryClient({ host: ref.host, repository: ref.repository }, { ...opts, credential });
}

// `fast-build build`, loaded by the CLI only when asked for (see runCli).
async function cmdBuild(args, io) {
    const { values, positionals } = parseArgs({
        args: [...args],
        options: {
            project: { type: 'string', default: '.' },
            store: { type: 'string' },
            registry: { type: 'string' },
            variant: { type: 'string', multiple: true },
            platform: { type: 'string', multiple: true },
            python: { type: 'string' },
            tag: { type: 'string', multiple: true },
            source: { type: 'string', default: 'auto' },
            compression: { type: 'string', default: 'gzip' },
            rebuild: { type: 'string', multiple: true },
            'fast-only': { type: 'boolean', default: false },
            'cache-dir': { type: 'string' },
            'index-url': { type: 'string' },
            builder: { type: 'string' },
            dockerfile: { type: 'string' },
            'dockerfile-target': { type: 'string' },
            'dockerfile-command': { type: 'string' },
            json: { type: 'boolean', default: false },
            quiet: { type: 'boolean', default: false }
        },
        allowPositionals: true
    });
    if (positionals.length > 0)
        throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if (values.store && values.registry)
        throw new UsageError('give --store or --registry, not both');
    if (values['fast-only'] && (values.rebuild ?? []).length > 0)
        throw new UsageError('--rebuild builds deps images, which --fast-only forbids: give one or the other');
    const source = values.source;
    if (!['auto', 'git', 'walk'].includes(source))
        throw new UsageError(`--source must be auto, git or walk`);
    const compression = values.compression;
    if (!['gzip', 'zstd', 'none'].includes(compression))
        throw new UsageError(`--compression must be gzip, zstd or none`);
    // git lists the source files in its own process while the lock is read and planned.
    prefetchSource(resolve(values.project), source);
    const plan = loadPlan({
        project: values.project,
        variants: values.variant ?? [],
        platforms: values.platform ?? [],
        ...(values.python ? { python: values.python } : {}),
        ...(values.builder ? { builder: values.builder } : {}),
        ...(values.dockerfile ? { dockerfile: values.dockerfile } : {}),
        ...(values['dockerfile-target'] ? { dockerfileTarget: values['dockerfile-target'] } : {}),
        ...(values['dockerfile-command'] ? { dockerfileCommand: values['dockerfile-command'] } : {})
    });
    for (const n of plan.notes)
        io.err(`note: ${n}\n`);
    const spec = values.registry
        ? parseStoreSpec(values.registry, '--registry')
        : parseStoreSpec(values.store ?? `oci:${join(plan.project.dir, '.fast-build', 'oci')}`, '--store');
    const user = process.env['FAST_BUILD_REGISTRY_USERNAME'];
    const password = process.env['FAST_BUILD_REGISTRY_PASSWORD'];
    const store = await openStore(spec, {
        ...(user && password
            ? {
                credential: {
                    kind: 'basic',
                    username: user,
                    password,
                    source: 'FAST_BUILD_REGISTRY_USERNAME/PASSWORD'
                }
            }
            : {}),
        onRetry: (m, delay) => io.err(`retrying in ${(delay / 1000).toFixed(1)} s: ${m}\n`)
    });
    try {
        const result = await runBuild({
            plan,
            store,
            tags: values.tag ?? [],
            sourceMode: source,
            compression: compression,
            rebuild: (values.rebuild ?? []).includes('all') ? 'all' : (values.rebuild ?? []),
            fullPath: !values['fast-only'],
            ...(values['cache-dir'] ? { cacheDir: resolve(values['cache-dir']) } : {}),
            ...(values['index-url'] ? { indexUrl: values['index-url'] } : {}),
            onProgress: values.quiet ? undefined : (variant, m) => io.err(`${variant ? `${variant}: ` : ''}${m}\n`)
        });
        if (values.json) {
            io.out(JSON.stringify(result, null, 2) + '\n');
        }
        else {
            const rows = result.variants.map((v) => [
                v.variant,
                v.path,
                v.depsRef.slice(v.depsRef.lastIndexOf(':') + 1),
                v.appRef ? `${v.appRef.slice(0, v.appRef.indexOf('@'))}@${v.digest.slice(0, 19)}` : '-',
                `${v.blobs.uploaded}/${v.blobs.mounted}/${v.blobs.skipped}`,
                // The full path's uploads (the deps image) count too.
                formatBytes(v.bytesUploaded + (v.full?.bytesUploaded ?? 0)),
                v.seconds.toFixed(2)
            ]);
            io.out(renderTable(['variant', 'path', 'deps', 'app image', 'up/mnt/skip', 'uploaded', 'seconds'], rows));
            for (const v of result.variants)
                if (v.error)
                    io.err(`${v.variant}: ${v.error}\n`);
        }
        return result.variants.every((v) => v.path === 'fast' || v.path === 'full') ? 0 : 1;
    }
    finally {
        store.close?.();
    }
}

export { cmdBuild };
