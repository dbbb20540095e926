// Where an install goes (in the manner of pypa/installer's WheelDestination): the driver,
// install.ts, decides every file's path, mode, bytes and RECORD row, the same for any destination;
// a destination only puts the files somewhere. Production puts them into an image layer
// (LayerDestination, below); the tests also put them into a directory, to compare with pip.
//
// Unlike pypa/installer, the driver writes the scripts and the RECORD itself: a layer destination
// writes nothing while installing (content is read when the layer is written), so the RECORD is
// made from the wheel's own hashes (checked as each file is read), not from what was written.
import type { NormalizedName } from '../../names.js'
import type { DeflatedContent, LayerEntry } from '../../oci/entry.js'
import type { PythonLayout } from './layout.js'

/** One installed file; its content is checked against the wheel's RECORD as it is read. */
export interface InstallFile {
  /** Relative to the image root, no leading slash. */
  readonly path: string
  readonly executable: boolean
  readonly size: number
  /** The content, read once (small entries of a wheel are handed out once, then forgotten). */
  readonly content: () => Buffer | Promise<Buffer>
  /** For large entries: the content through `out`, chunk by chunk, never held whole. */
  readonly stream?: (out: (chunk: Buffer) => Promise<void>) => Promise<void>
  /** The content as the wheel stores it, deflated: a gzip layer may carry it as it is. */
  readonly deflated?: DeflatedContent
}

/** The installed distribution, handed to the destination once every file is. */
export interface InstalledDist {
  readonly name: NormalizedName
  readonly version: string
  /** The `.dist-info` directory, relative to the image root. */
  readonly distInfo: string
  /** Release the wheel file: once the destination has read every file's content. */
  close(): Promise<void>
}

/** Receives one wheel's files (RECORD last), then makes its result. One destination per wheel. */
export interface Destination<R> {
  /** Where the files go; the driver places every file by it. */
  readonly layout: PythonLayout
  /** A file, to put in place now (its content may be read at once) or keep for later. */
  writeFile(file: InstallFile): void | Promise<void>
  /** After the last file. The destination now owns the open wheel: it calls `dist.close()`. */
  finalize(dist: InstalledDist): Promise<R>
}

export interface WheelLayerEntries {
  readonly name: NormalizedName
  readonly version: string
  /** What the install gives, as layer entries (files only), in no particular order. */
  readonly entries: readonly LayerEntry[]
  readonly installedSize: number
  /** Release the wheel file; call once the layer is written (or abandoned). */
  close(): Promise<void>
}

/**
 * An install as layer entries whose content comes straight out of the wheel when the layer is
 * written: a layer of installed packages with no staging tree, so no file is created, written and
 * read back (on a runner's disk that costs more than all the rest).
 */
export class LayerDestination implements Destination<WheelLayerEntries> {
  private readonly entries: LayerEntry[] = []

  constructor(readonly layout: PythonLayout) {}

  writeFile(file: InstallFile): void {
    this.entries.push({ type: 'file', ...file })
  }

  finalize(dist: InstalledDist): Promise<WheelLayerEntries> {
    const { entries } = this
    return Promise.resolve({
      name: dist.name,
      version: dist.version,
      entries,
      installedSize: entries.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0),
      close: () => dist.close()
    })
  }
}
