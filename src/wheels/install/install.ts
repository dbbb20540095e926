// Install a wheel the way pip installs it into a Python environment (the binary distribution
// format spec, PEP 427, and "Recording installed projects"), into a destination: an image layer in
// production, a directory in the tests that compare the result with pip's, file by file.
//
// pip's `_internal/operations/install/wheel.py` is the reference: the differential test installs
// the same wheels with pip 23.2.1, and pip 26.2.1 when the mirror has it, and compares the trees
// byte for byte. Where files go is plan.ts; wrapper scripts and `#!python` lines are scripts.ts;
// RECORD (checked on the way in, written on the way out) is records.ts.
//
// Also unlike pip: every entry's CRC-32 and size are checked too (zip.ts); no byte-compilation
// (like `pip --no-compile`); the ENSUREPIP_OPTIONS variable pip reads is ignored (output must not
// depend on the environment).
import { createHash } from 'node:crypto'
import { METHOD_DEFLATE, type ExtractOptions, type ZipEntry, type ZipReader } from '../zip.js'
import { CARRY_MIN_BYTES, type DeflatedContent } from '../../oci/entry.js'
import { LazyEntries, readWhole, STREAM_BYTES, streamEntry } from './contents.js'
import type { Destination, InstallFile } from './destination.js'
import { checkLayout, type PythonLayout } from './layout.js'
import { headersName, planInstall, type InstallPlan, type PlannedFile } from './plan.js'
import { formatRecord, recordHash, type ExpectedHash, type RecordRow } from './records.js'
import { fixScriptShebang, type PipFlavour } from './scripts.js'
import { openWheel, wheelName, zipExecutable, type WheelSource } from './source.js'

export interface InstallOptions {
  /** Written to `.dist-info/INSTALLER` (default `fast-build`). */
  installer?: string
  /** Write `.dist-info/REQUESTED`: the project was asked for directly, not pulled in as a dependency. */
  requested?: boolean
  /** Which pip's output to reproduce where pip versions differ (default `pip-23`). */
  pip?: PipFlavour
  /** The wheel's file name when `wheelPath` is not named like a wheel (a cache keyed by digest). */
  filename?: string
  /** Tuning for the zip reader (window size, concurrency). */
  extract?: ExtractOptions
}

/**
 * Install the wheel into `destination` and return what it makes of it. Everything that can be
 * refused (names, paths, metadata, weak hashes) is refused before the first file is handed over; a
 * RECORD mismatch fails when that file's content is read. Installs share nothing: several wheels
 * may be installed at once.
 */
export async function install<R>(
  wheelPath: string,
  destination: Destination<R>,
  opts: InstallOptions = {}
): Promise<R> {
  const name = wheelName(wheelPath, opts.filename)
  const { layout } = destination
  checkLayout(layout)
  const wheel = await openWheel(wheelPath, name)
  try {
    const plan = planWheel(wheel, layout, opts)
    const files = await resolveFiles(wheel, plan, layout.interpreter, opts.extract)
    for (const f of files) await destination.writeFile(f.file)
    await destination.writeFile(recordFile(plan, files))
    const distInfo = plan.distInfo.slice(1)
    return await destination.finalize({
      name: name.name,
      version: name.version,
      distInfo,
      close: wheel.close
    })
  } catch (e) {
    await wheel.close()
    throw e
  }
}

function planWheel(wheel: WheelSource, layout: PythonLayout, opts: InstallOptions): InstallPlan {
  const pip = opts.pip ?? 'pip-23'
  return planInstall({
    wheel: wheel.path,
    entries: wheel.zip.entries.map((e) => ({
      name: e.name,
      isDirectory: e.isDirectory,
      executable: zipExecutable(e)
    })),
    infoDir: wheel.infoDir,
    rootIsPurelib: wheel.rootIsPurelib,
    layout,
    headersName: headersName(wheel.filename, wheel.name, pip),
    entryPoints: wheel.entryPoints,
    pip,
    installer: opts.installer ?? 'fast-build',
    requested: opts.requested ?? false
  })
}

/** A file to install with its row in the new RECORD. */
interface Resolved {
  readonly file: InstallFile
  readonly row: RecordRow
}

/** How a planned file's bytes are had. */
type Content =
  | { readonly kind: 'bytes'; readonly bytes: Buffer }
  /** Rewritten (`#!python`) or without a sha256 in RECORD: read and hashed now. */
  | {
      readonly kind: 'now'
      readonly entry: ZipEntry
      readonly exp: ExpectedHash | null
      readonly fix: boolean
    }
  /** Copied as it is, with a sha256 in RECORD: that is its hash, checked as it is read. */
  | { readonly kind: 'verbatim'; readonly entry: ZipEntry; readonly exp: ExpectedHash }

/** Every file but RECORD, with its RECORD row: in plan order. */
async function resolveFiles(
  wheel: WheelSource,
  plan: InstallPlan,
  interpreter: string,
  extract: ExtractOptions | undefined
): Promise<Resolved[]> {
  const planned = plan.files.filter((f) => f.source.kind !== 'record')
  const contents = planned.map((f) => contentOf(wheel, f))
  const entries = (keep: (c: Content) => boolean): ZipEntry[] =>
    contents.flatMap((c) => (c.kind !== 'bytes' && keep(c) ? [c.entry] : []))
  const now = await readWhole(
    wheel.zip,
    entries((c) => c.kind === 'now'),
    extract
  )
  const smallEntries = entries((c) => c.kind === 'verbatim' && c.entry.size < STREAM_BYTES)
  // The deflate data of what a gzip layer may carry is kept as it is read (see oci/layer.ts).
  const small = new LazyEntries(wheel.zip, smallEntries, { keepDeflatedFrom: CARRY_MIN_BYTES, ...extract })
  return planned.map((f, i) => {
    const c = contents[i]!
    if (c.kind === 'bytes') return bytesFile(f, c.bytes)
    if (c.kind === 'now') return wholeFile(wheel, f, c, now.get(c.entry.name)!, interpreter)
    return verbatimFile(wheel, f, c.entry, c.exp, small)
  })
}

function contentOf(wheel: WheelSource, f: PlannedFile): Content {
  const src = f.source
  if (src.kind === 'generated') return { kind: 'bytes', bytes: src.content }
  if (src.kind === 'record') throw new Error('unreachable: RECORD is written last')
  const entry = wheel.zip.entry(src.entry)!
  const exp = wheel.record.expected(entry.name)
  if (src.fixShebang || !exp || exp.nodeAlgorithm !== 'sha256')
    return { kind: 'now', entry, exp, fix: src.fixShebang }
  return { kind: 'verbatim', entry, exp }
}

/** Bytes known now: generated files, rewritten scripts, entries read whole. */
function bytesFile(f: PlannedFile, bytes: Buffer): Resolved {
  return {
    file: { path: f.dest.slice(1), executable: f.executable, size: bytes.length, content: () => bytes },
    row: { path: f.recordPath, hash: recordHash(sha256(bytes)), size: String(bytes.length) }
  }
}

/** An entry read whole: checked against RECORD, its `#!python` line fixed when it is a script. */
function wholeFile(
  wheel: WheelSource,
  f: PlannedFile,
  c: Extract<Content, { kind: 'now' }>,
  data: Buffer,
  interpreter: string
): Resolved {
  if (c.exp) wheel.record.verify(c.entry.name, c.exp, createHash(c.exp.nodeAlgorithm).update(data).digest())
  return bytesFile(f, c.fix ? fixScriptShebang(data, interpreter) : data)
}

/** An entry copied as it is: small ones come out of the shared windows, large ones stream. */
function verbatimFile(
  wheel: WheelSource,
  f: PlannedFile,
  entry: ZipEntry,
  exp: ExpectedHash,
  small: LazyEntries
): Resolved {
  const row = {
    path: f.recordPath,
    hash: recordHash(Buffer.from(exp.value, 'base64url')),
    size: String(entry.size)
  }
  const base = {
    path: f.dest.slice(1),
    executable: f.executable,
    size: entry.size,
    ...(entry.method === METHOD_DEFLATE ? { deflated: deflatedOf(wheel.zip, entry) } : {})
  }
  const verify = (digest: Buffer): void => wheel.record.verify(entry.name, exp, digest)
  if (entry.size < STREAM_BYTES) {
    const content = async (): Promise<Buffer> => {
      const data = await small.take(entry)
      verify(sha256(data))
      return data
    }
    return { file: { ...base, content }, row }
  }
  const stream = streamEntry(wheel.zip, entry, verify)
  const content = async (): Promise<Buffer> => {
    const parts: Buffer[] = []
    await stream(async (c) => void parts.push(Buffer.from(c)))
    return Buffer.concat(parts)
  }
  return { file: { ...base, stream, content }, row }
}

/** The entry's deflate data, which stands for its content once reading the content has checked it. */
function deflatedOf(zip: ZipReader, entry: ZipEntry): DeflatedContent {
  return { crc32: entry.crc32, exact: () => zip.exactDeflate(entry), raw: () => zip.raw(entry) }
}

/** The new RECORD: a row per installed file, and its own with empty hash and size. */
function recordFile(plan: InstallPlan, files: readonly Resolved[]): InstallFile {
  const rf = plan.files.find((f) => f.source.kind === 'record')!
  const rows = [...files.map((f) => f.row), { path: rf.recordPath, hash: '', size: '' }]
  const text = Buffer.from(formatRecord(rows), 'utf8')
  return { path: rf.dest.slice(1), executable: false, size: text.length, content: () => text }
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest()
}
