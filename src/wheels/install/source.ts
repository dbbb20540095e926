// A wheel opened for installing: its name from the file name, its entries, its `.dist-info`
// metadata and its RECORD, read once; the zip stays open for the content until `close()`.
import { basename } from 'node:path'
import type { NormalizedName } from '../../names.js'
import { parseWheelFilename } from '../../packaging/filename.js'
import { WheelError } from '../wheel-error.js'
import { ZipReader, type ZipEntry } from '../zip.js'
import { findDistInfo, parseEntryPoints, parseWheelInfo, readText, type EntryPoint } from './metadata.js'
import { WheelRecord } from './records.js'

export interface WheelName {
  /** The file name the wheel was published under (what its path is named, or what the caller says). */
  readonly filename: string
  readonly name: NormalizedName
  readonly version: string
}

/** The wheel's name and version from its file name (`filename`, else the path's last part). */
export function wheelName(wheelPath: string, filename = basename(wheelPath)): WheelName {
  const parsed = parseWheelFilename(filename)
  if (!parsed) {
    throw new WheelError(
      `${JSON.stringify(filename)} is not a wheel file name (name-version[-build]-python-abi-platform.whl)`,
      wheelPath,
      'keep the file name the index gives the wheel, or pass the original name as `filename`'
    )
  }
  return { filename, name: parsed.distribution, version: parsed.version }
}

export interface WheelSource extends WheelName {
  /** The wheel file (errors name it). */
  readonly path: string
  readonly zip: ZipReader
  /** The `<name>-<version>.dist-info` directory inside the wheel. */
  readonly infoDir: string
  readonly rootIsPurelib: boolean
  readonly entryPoints: readonly EntryPoint[]
  readonly record: WheelRecord
  /** Release the wheel file; later calls do nothing. */
  close(): Promise<void>
}

/** Open the wheel and read its metadata; the zip is closed again when that fails. */
export async function openWheel(wheelPath: string, name: WheelName): Promise<WheelSource> {
  const zip = await ZipReader.open(wheelPath)
  let closing: Promise<void> | null = null
  const close = (): Promise<void> => (closing ??= zip.close())
  try {
    const infoDir = findDistInfo(
      zip.entries.map((e) => e.name),
      name.name,
      wheelPath
    )
    const wheelFile = `${infoDir}/WHEEL`
    const info = parseWheelInfo(await readText(zip, wheelFile, wheelPath), wheelPath, wheelFile)
    const recordFile = `${infoDir}/RECORD`
    const record = new WheelRecord(await readText(zip, recordFile, wheelPath), wheelPath, recordFile)
    const epFile = `${infoDir}/entry_points.txt`
    const entryPoints = zip.entry(epFile)
      ? parseEntryPoints(await readText(zip, epFile, wheelPath), wheelPath, epFile)
      : []
    const { rootIsPurelib } = info
    return { ...name, path: wheelPath, zip, infoDir, rootIsPurelib, entryPoints, record, close }
  } catch (e) {
    await close()
    throw e
  }
}

/** pip's `zip_item_is_executable`: a regular-file mode with any x bit. */
export function zipExecutable(e: ZipEntry): boolean {
  const mode = e.externalAttributes >>> 16
  return mode !== 0 && (mode & 0o170000) === 0o100000 && (mode & 0o111) !== 0
}
