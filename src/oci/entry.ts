// What goes into a layer, before it becomes tar bytes: a flat list of entries with paths relative
// to the image root (no leading slash), already normalized. The tar writer sorts them and fixes
// everything that would make bytes differ between machines (times, owners, modes).

export type LayerEntry =
  | {
      readonly type: 'file'
      /** Relative to the image root, `/`-separated, no `.`/`..` segments, no leading or trailing slash. */
      readonly path: string
      /** Executable bit: files become 0755 when set, else 0644. */
      readonly executable: boolean
      readonly size: number
      /** The content; read lazily so a layer of thousands of files streams from disk. */
      readonly content: () => Buffer | Promise<Buffer>
      /**
       * Where the content is on disk, when it is a file: the tar writer then reads it straight
       * into its output blocks, with no buffer per file (much less copying and garbage).
       */
      readonly diskPath?: string
      /**
       * Writes the content, exactly `size` bytes, through `out` (awaiting each write): for content
       * produced as it is read, such as a big file inflated out of a wheel, never held whole.
       */
      readonly stream?: (out: (chunk: Buffer) => Promise<void>) => Promise<void>
      /** The content already deflated (a wheel's entry as its zip holds it), when it is. */
      readonly deflated?: DeflatedContent
    }
  | { readonly type: 'dir'; readonly path: string }
  | {
      readonly type: 'symlink'
      readonly path: string
      /** As stored in the link; relative targets only (checked to stay inside the layer). */
      readonly target: string
    }

/** Files at least this big are carried as deflated (below it, deflating again costs less). */
export const CARRY_MIN_BYTES = 16 * 1024

/**
 * A file's content as raw deflate data (RFC 1951), as a wheel's zip stores it: a gzip layer can
 * carry these bytes as a gzip member of their own instead of deflating the content again.
 */
export interface DeflatedContent {
  /** CRC-32 of the content (a gzip member's trailer); checked when the content is read. */
  readonly crc32: number
  /**
   * Whether the data inflates to the content with nothing left over. Known once the content has
   * been read (it is inflated then, and checked), and only then may the data stand for it.
   */
  readonly exact: () => boolean
  /** The deflate data, in order. */
  readonly raw: () => AsyncIterable<Buffer>
}
