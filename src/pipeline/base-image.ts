// The base image a deps image is built on: any registry (Docker Hub, GHCR, a local one) or an
// OCI layout (`oci:DIR:TAG`), resolved to a digest and to a manifest and config per platform.
// Its layers are referenced (mounted, or copied across registries), never rebuilt.
import { resolve } from 'node:path'
import { FastBuildError } from '../errors.js'
import { parseImageReference, RegistryClient, type RegistryClientOptions } from '../registry/client.js'
import { UnknownHostError } from '../net/errors.js'
import { credentialFromDockerConfig, type Credential } from '../registry/credentials.js'
import { LayoutStore } from '../registry/layout.js'
import type { ImageStore } from '../registry/store.js'
import type { Platform } from '../target.js'
import { DepsImageError, resolveImage, type DepsImage } from './deps-image.js'

export class BaseImageError extends FastBuildError {}

export interface ResolvedBase {
  /** As configured (`python:3.12-slim`, `oci:./base:tag`). */
  readonly reference: string
  /** Pinned to its digest; this is what the variant hash covers. */
  readonly pinned: string
  readonly image: DepsImage
  /** Where its blobs are read from. */
  readonly store: ImageStore & { close?: () => void }
}

export interface BaseOptions extends Omit<RegistryClientOptions, 'credential'> {
  /** Credentials for the base image's registry (default: the Docker config). */
  readonly credentialFor?: (host: string) => Promise<Credential>
  readonly cwd?: string
}

/** `oci:DIR:TAG` or `oci:DIR@sha256:…` → layout dir and reference. */
function parseLayoutRef(text: string): { dir: string; ref: string } {
  const rest = text.slice(4)
  const at = rest.lastIndexOf('@')
  if (at > 0) return { dir: rest.slice(0, at), ref: rest.slice(at + 1) }
  const colon = rest.lastIndexOf(':')
  if (colon <= 0)
    throw new BaseImageError(`base image ${JSON.stringify(text)} names no tag`, {}, 'write it as oci:DIR:TAG')
  return { dir: rest.slice(0, colon), ref: rest.slice(colon + 1) }
}

export async function resolveBase(
  reference: string,
  platforms: readonly Platform[],
  opts: BaseOptions = {}
): Promise<ResolvedBase> {
  const kind = {
    what: 'base image',
    fix: 'choose a base image that has every platform the variant builds (base-image under [tool.fast-build])'
  }
  let store: ImageStore & { close?: () => void }
  let ref: string
  let name: string
  if (reference.startsWith('oci:')) {
    const l = parseLayoutRef(reference)
    const layout = new LayoutStore(resolve(opts.cwd ?? '.', l.dir))
    store = layout
    ref = l.ref
    name = `oci:${l.dir}`
  } else {
    const r = parseImageReference(reference, 'base-image')
    const credential = opts.credentialFor
      ? await opts.credentialFor(r.host)
      : await credentialFromDockerConfig(r.host)
    store = new RegistryClient({ host: r.host, repository: r.repository }, { ...opts, credential })
    ref = r.digest ?? r.tag ?? 'latest'
    name = `${r.host === 'registry-1.docker.io' ? 'docker.io' : r.host}/${r.repository}`
  }
  const image = await resolveImage(store, ref, platforms, kind).catch((e: unknown) => {
    store.close?.()
    // The registry client's own hint speaks of the image being pushed; this one is read from.
    if (e instanceof DepsImageError || !(e instanceof FastBuildError)) throw e
    throw new BaseImageError(
      `base image ${reference}: ${e.message}`,
      {},
      e instanceof UnknownHostError
        ? `check base-image under [tool.fast-build] and the network to its registry; a base image pinned to a digest (${reference.replace(/@.*$/, '').replace(/:[^:/]*$/, '')}@sha256:…) needs no lookup on the fast path`
        : (e.hint ?? 'check base-image under [tool.fast-build] and the credentials for its registry')
    )
  })
  if (!image) {
    store.close?.()
    throw new BaseImageError(
      `base image ${reference} not found`,
      {},
      'check base-image under [tool.fast-build] (and the credentials for its registry)'
    )
  }
  return { reference, pinned: `${name}@${image.digest}`, image, store }
}
