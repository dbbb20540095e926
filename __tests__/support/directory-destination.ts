// The installer's other destination, used only by tests: the same install() as production, its
// files written under a directory (the layout's absolute paths below `root`), so the tree can be
// compared with what pip installs and with the layer entries production makes.
import { createWriteStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { finished } from 'node:stream/promises'
import type { NormalizedName } from '../../src/names.js'
import type { Destination, InstalledDist, InstallFile } from '../../src/wheels/install/destination.js'
import { install, type InstallOptions } from '../../src/wheels/install/install.js'
import type { PythonLayout } from '../../src/wheels/install/layout.js'

export interface InstalledFile {
  /** Relative to the image root, no leading slash. */
  readonly path: string
  readonly size: number
  readonly executable: boolean
  /** The file under the directory. */
  readonly diskPath: string
}

export interface InstalledWheel {
  readonly name: NormalizedName
  readonly version: string
  /** Sorted by path (UTF-16 code units). */
  readonly files: readonly InstalledFile[]
  readonly installedSize: number
  /** The `.dist-info` directory, relative to the image root. */
  readonly distInfo: string
}

/** Writes each file as it is given, so a failure leaves the files before it (and no RECORD). */
export class DirectoryDestination implements Destination<InstalledWheel> {
  private readonly files: InstalledFile[] = []
  private readonly dirs = new Set<string>()

  constructor(
    readonly root: string,
    readonly layout: PythonLayout
  ) {}

  async writeFile(file: InstallFile): Promise<void> {
    const diskPath = join(this.root, file.path)
    const mode = file.executable ? 0o755 : 0o644
    const dir = dirname(diskPath)
    if (!this.dirs.has(dir)) await mkdir(dir, { recursive: true })
    this.dirs.add(dir)
    if (file.stream) {
      const out = createWriteStream(diskPath, { mode })
      try {
        await file.stream(
          (chunk) => new Promise((done, fail) => out.write(chunk, (e) => (e ? fail(e) : done())))
        )
      } finally {
        out.end()
        await finished(out)
      }
    } else await writeFile(diskPath, await file.content(), { mode })
    this.files.push({ path: file.path, size: file.size, executable: file.executable, diskPath })
  }

  async finalize(dist: InstalledDist): Promise<InstalledWheel> {
    await dist.close()
    const files = [...this.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    return {
      name: dist.name,
      version: dist.version,
      files,
      installedSize: files.reduce((n, f) => n + f.size, 0),
      distInfo: dist.distInfo
    }
  }
}

/** install() into `root`: a file at image path `/usr/local/x` lands at `<root>/usr/local/x`. */
export function installIntoDirectory(
  wheel: string,
  layout: PythonLayout,
  root: string,
  opts: InstallOptions = {}
): Promise<InstalledWheel> {
  return install(wheel, new DirectoryDestination(root, layout), opts)
}
