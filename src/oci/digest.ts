// Content digests (`sha256:<hex>`) as a parsed type: once a string is a Digest, it has been
// checked, so registry paths and file names built from it are safe.
import { createHash, type Hash } from 'node:crypto'
import { FastBuildError } from '../errors.js'

declare const digestBrand: unique symbol
export type Digest = string & { readonly [digestBrand]: true }

const PATTERNS: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/
}

export class DigestError extends FastBuildError {}

export function isDigest(s: unknown): s is Digest {
  if (typeof s !== 'string') return false
  const colon = s.indexOf(':')
  const pattern = PATTERNS[s.slice(0, colon)]
  return pattern !== undefined && pattern.test(s.slice(colon + 1))
}

/** Parse and check a digest; `where` names what it came from for the error. */
export function parseDigest(s: unknown, where = 'digest'): Digest {
  if (!isDigest(s)) {
    throw new DigestError(`${where}: ${JSON.stringify(s)} is not a digest (expected sha256:<64 hex digits>)`)
  }
  return s
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1)
}

export function digestAlgorithm(d: Digest): string {
  return d.slice(0, d.indexOf(':'))
}

export function sha256(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest
}

/** A running sha256 over chunks, finished into a Digest. */
export class DigestWriter {
  private readonly hash: Hash = createHash('sha256')
  size = 0

  update(chunk: Buffer): void {
    this.hash.update(chunk)
    this.size += chunk.length
  }

  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}` as Digest
  }
}

/** The first 12 hex digits, as `docker images` shows them. */
export function shortDigest(d: Digest): string {
  return digestHex(d).slice(0, 12)
}
