// The filesystem an image's layers add up to, as names only: which paths exist, what kind they
// are, where symlinks point. Layers are applied in order with the OCI whiteout rules (`.wh.NAME`
// deletes NAME from the layers below, `.wh..wh..opq` empties a directory of them). Pure.
import { posix } from 'node:path'

export type FsNode =
  | { readonly type: 'file'; readonly mode: number }
  | { readonly type: 'dir' }
  | { readonly type: 'symlink'; readonly target: string }

export interface FsEntry {
  /** Relative to the root, no leading slash (`usr/bin/python3`). */
  readonly path: string
  readonly type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other'
  readonly linkTarget?: string
  readonly mode?: number
}

const WHITEOUT = '.wh.'
const OPAQUE = '.wh..wh..opq'

export class ImageFilesystem {
  private readonly nodes = new Map<string, FsNode>()

  /** Apply one layer's entries (in tar order) on top of what is there. */
  applyLayer(entries: Iterable<FsEntry>): void {
    const layer: FsEntry[] = [...entries]
    // Whiteouts apply to the layers below, whatever their place in this layer's tar.
    for (const e of layer) {
      const base = posix.basename(e.path)
      if (!base.startsWith(WHITEOUT)) continue
      const dir = posix.dirname(e.path) === '.' ? '' : posix.dirname(e.path)
      if (base === OPAQUE) this.removeBelow(dir, false)
      else
        this.removeBelow(
          dir === '' ? base.slice(WHITEOUT.length) : `${dir}/${base.slice(WHITEOUT.length)}`,
          true
        )
    }
    for (const e of layer) {
      if (e.path === '' || posix.basename(e.path).startsWith(WHITEOUT)) continue
      this.addParents(e.path)
      switch (e.type) {
        case 'dir':
          // A directory replaces a file or link of that name, and keeps what is below it.
          if (this.nodes.get(e.path)?.type !== 'dir') {
            this.removeBelow(e.path, true)
            this.nodes.set(e.path, { type: 'dir' })
          }
          break
        case 'symlink':
          this.removeBelow(e.path, true)
          this.nodes.set(e.path, { type: 'symlink', target: e.linkTarget ?? '' })
          break
        case 'hardlink': {
          const to = this.nodes.get(posix.normalize(e.linkTarget ?? '').replace(/^\/+/, ''))
          this.removeBelow(e.path, true)
          this.nodes.set(e.path, to && to.type === 'file' ? to : { type: 'file', mode: e.mode ?? 0o644 })
          break
        }
        default:
          this.removeBelow(e.path, true)
          this.nodes.set(e.path, { type: 'file', mode: e.mode ?? 0o644 })
      }
    }
  }

  private addParents(path: string): void {
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
      const d = path.slice(0, i)
      if (!this.nodes.has(d)) this.nodes.set(d, { type: 'dir' })
    }
  }

  /**
   * Remove `path`'s children (and `path` itself when `self`). Only a directory has children, so
   * the scan runs only when one is replaced or whited out (rare), never per file.
   */
  private removeBelow(path: string, self: boolean): void {
    const node = path === '' ? ({ type: 'dir' } as const) : this.nodes.get(path)
    if (self) this.nodes.delete(path)
    if (node?.type !== 'dir') return
    const prefix = path === '' ? '' : `${path}/`
    for (const k of [...this.nodes.keys()]) if (k.startsWith(prefix) && k !== path) this.nodes.delete(k)
  }

  /** The node at exactly this path (no symlinks followed on the last part). */
  lstat(path: string): FsNode | undefined {
    return this.nodes.get(strip(path))
  }

  /**
   * The path with every symlink resolved, as the kernel would inside the image (absolute targets
   * are relative to the image root; `..` never climbs above it), or null when a link is broken or
   * loops. Missing final components are fine: the resolved path of something that does not exist.
   */
  realpath(path: string, maxLinks = 40): string | null {
    let links = 0
    const parts = strip(path)
      .split('/')
      .filter((p) => p !== '' && p !== '.')
    const done: string[] = []
    while (parts.length > 0) {
      const part = parts.shift()!
      if (part === '..') {
        done.pop()
        continue
      }
      const candidate = [...done, part].join('/')
      const node = this.nodes.get(candidate)
      if (node?.type === 'symlink') {
        if (++links > maxLinks) return null
        const t = node.target
        if (t.startsWith('/')) done.length = 0
        parts.unshift(...t.split('/').filter((p) => p !== '' && p !== '.'))
        continue
      }
      done.push(part)
    }
    return `/${done.join('/')}`
  }

  /** What is at `path` after following symlinks (undefined when nothing is). */
  stat(path: string): FsNode | undefined {
    const real = this.realpath(path)
    return real === null ? undefined : this.nodes.get(strip(real))
  }

  exists(path: string): boolean {
    return this.stat(path) !== undefined
  }

  isDir(path: string): boolean {
    return path === '/' || this.stat(path)?.type === 'dir'
  }

  isFile(path: string): boolean {
    return this.stat(path)?.type === 'file'
  }

  /** Names directly inside a directory (following symlinks to reach it). */
  list(dir: string): string[] {
    const real = this.realpath(dir)
    if (real === null) return []
    const prefix = real === '/' ? '' : `${strip(real)}/`
    const out: string[] = []
    for (const k of this.nodes.keys()) {
      if (k.startsWith(prefix) && k.length > prefix.length && !k.slice(prefix.length).includes('/'))
        out.push(k.slice(prefix.length))
    }
    return out.sort()
  }

  /** Every path (for tests and small images). */
  paths(): string[] {
    return [...this.nodes.keys()].sort()
  }
}

function strip(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '')
}
