// A blob uploaded while it is made, as docker push streams layers: each piece goes to the store as
// it is written (LayerOptions.onChunk), and the upload is done when the blob is. On any trouble
// with the stream it is dropped quietly, and the blob goes up the ordinary, retried way instead
// (`commit` answers null). The source layer and the deps layers built on a bump use it.
import { describeError } from '../errors.js'
import type { Descriptor } from '../oci/image.js'
import type { BlobOutcome, BlobStream, ImageStore } from '../registry/store.js'

export interface StreamedUpload {
  /** Give it the next piece of the blob (never rejects: a failed stream is dropped). */
  readonly onChunk: (chunk: Buffer) => Promise<void>
  /** Finish it as `desc`: the outcome, or null when the blob must go up another way. */
  commit(desc: Descriptor, say: (m: string) => void): Promise<BlobOutcome | null>
  /** Drop it (the blob turned out other than what was streamed). */
  abort(): Promise<void>
}

/**
 * `what` names the blob in the message of a failed stream. `abandoned` says when nobody wants
 * the blob any more. `ask`: whether the store is asked first if it has the blob already (see
 * BlobStream.commit); a blob made just now and sent already need not be.
 */
export function streamedUpload(
  store: ImageStore,
  what: string,
  opts: { readonly abandoned?: () => boolean; readonly ask?: boolean } = {}
): StreamedUpload {
  const abandoned = opts.abandoned ?? (() => false)
  // The upload session opens while the first blocks are tarred and compressed.
  const opening = store.beginBlob?.().catch(() => null) ?? Promise.resolve(null)
  let streaming: BlobStream | null | undefined
  const drop = async () => {
    if (streaming === undefined) streaming = await opening
    await streaming?.abort().catch(() => undefined)
    streaming = null
  }
  const onChunk = async (chunk: Buffer) => {
    if (streaming === undefined) streaming = await opening
    if (streaming && abandoned()) await drop()
    if (!streaming) return
    try {
      await streaming.write(chunk)
    } catch {
      await drop()
    }
  }
  const commit = async (desc: Descriptor, say: (m: string) => void): Promise<BlobOutcome | null> => {
    if (streaming === undefined) streaming = await opening
    if (!streaming) return null
    const s: BlobStream = streaming
    return s.commit(desc, { ask: opts.ask ?? true }).catch(async (e: unknown) => {
      if (!abandoned()) say(`streamed upload of ${what} failed (${describeError(e)}); it goes up again`)
      await s.abort().catch(() => undefined)
      return null
    })
  }
  return { onChunk, commit, abort: drop }
}
