// From what a user typed (`oci:DIR`, `HOST/REPO`) to an ImageStore, with credentials resolved
// in order: explicit ones, then the Docker config (docker login / docker/login-action).
import { resolve } from 'node:path'
import { ConfigError } from '../errors.js'
import { parseImageReference, RegistryClient, type RegistryClientOptions } from './client.js'
import { credentialFromDockerConfig, type Credential } from './credentials.js'
import { LayoutStore } from './layout.js'
import type { ImageStore } from './store.js'

export type StoreSpec =
  { readonly kind: 'layout'; readonly dir: string } | { readonly kind: 'registry'; readonly image: string }

export function parseStoreSpec(text: string, where = '--store'): StoreSpec {
  const t = text.trim()
  if (t.startsWith('oci:')) {
    const dir = t.slice(4)
    if (!dir) throw new ConfigError(`${where}: oci: needs a directory`, {}, 'write oci:./images')
    return { kind: 'layout', dir }
  }
  const image = t.replace(/^(docker|registry):(\/\/)?/, '')
  parseImageReference(image, where)
  return { kind: 'registry', image }
}

export interface OpenOptions extends Omit<RegistryClientOptions, 'credential'> {
  readonly credential?: Credential
  /** Base directory for relative layout paths. */
  readonly cwd?: string
  readonly dockerConfig?: string
}

export async function openStore(
  spec: StoreSpec,
  opts: OpenOptions = {}
): Promise<ImageStore & { close?: () => void }> {
  if (spec.kind === 'layout') {
    const store = new LayoutStore(resolve(opts.cwd ?? '.', spec.dir))
    store.init()
    return store
  }
  const ref = parseImageReference(spec.image)
  if (ref.tag || ref.digest) {
    throw new ConfigError(
      `${spec.image}: give the repository without a tag or digest`,
      {},
      'tags come from --tag'
    )
  }
  const credential =
    opts.credential ??
    (await credentialFromDockerConfig(ref.host, opts.dockerConfig ? { path: opts.dockerConfig } : {}))
  return new RegistryClient({ host: ref.host, repository: ref.repository }, { ...opts, credential })
}
