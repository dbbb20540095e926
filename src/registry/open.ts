// From what a user typed (`oci:DIR`, `HOST/REPO`) to an ImageStore, with credentials resolved
// in order: explicit ones, then the Docker config (docker login / docker/login-action).
import { createHash } from 'node:crypto'
import { basename, dirname, join, resolve } from 'node:path'
import { CacheLayout } from '../cache/layout.js'
import { ConfigError } from '../errors.js'
import { parseImageReference, RegistryClient, type RegistryClientOptions } from './client.js'
import { credentialFromDockerConfig, type Credential } from './credentials.js'
import { LayoutStore } from './layout.js'
import type { ImageStore } from './store.js'

export type StoreSpec =
  { readonly kind: 'layout'; readonly dir: string } | { readonly kind: 'registry'; readonly image: string }

/**
 * The reference with its repository path lowercased (`ghcr.io/Acme/App:v1` → `ghcr.io/acme/app:v1`),
 * or null when that path has no capitals. Registries take only lowercase repository names, while
 * GitHub owners and repositories keep theirs (`ghcr.io/${{ github.repository }}`). The host, tag
 * and digest are left as they are (hosts are case-insensitive, tags may hold capitals).
 */
export function lowercaseRepository(text: string): string | null {
  const t = text.trim()
  const at = t.indexOf('@')
  const digest = at >= 0 ? t.slice(at) : ''
  let rest = at >= 0 ? t.slice(0, at) : t
  let tag = ''
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon)
    rest = rest.slice(0, colon)
  }
  // The first component is a host when it looks like one, as parseImageReference decides.
  const slash = rest.indexOf('/')
  const first = slash < 0 ? '' : rest.slice(0, slash)
  const host =
    slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : null
  const path = host === null ? rest : rest.slice(slash + 1)
  if (path === path.toLowerCase()) return null
  return `${host === null ? '' : `${host}/`}${path.toLowerCase()}${tag}${digest}`
}

export function parseStoreSpec(text: string, where = '--store'): StoreSpec {
  const t = text.trim()
  if (t.startsWith('oci:')) {
    const dir = t.slice(4)
    if (!dir) throw new ConfigError(`${where}: oci: needs a directory`, {}, 'write oci:./images')
    return { kind: 'layout', dir }
  }
  const image = t.replace(/^(docker|registry):(\/\/)?/, '')
  const lower = lowercaseRepository(image)
  if (lower !== null) {
    // Said apart from "not an image reference": the fix is known, and it is not a typo.
    throw new ConfigError(
      `${where}: ${JSON.stringify(image)} has capitals in its repository name, and registries take only lowercase repository names`,
      {},
      `write ${lower}`
    )
  }
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

// --- the CLI's default store ---------------------------------------------------------------------
//
// The default layout is kept in the cache directory, outside the project: inside it, a walk of the
// source (no git) would pack the previous images into the next, and git status would list it.
// Podman 4 names an image pulled from `oci:DIR:TAG` after DIR itself (`localhost/<DIR>`), so it
// refuses a DIR with a dot-folder (`~/.cache`) or capitals ("invalid reference format"); skopeo
// does not mind. The store's own name is therefore podman-safe, and the build prints a command
// that runs from its parent (`podman run oci:<id>:TAG`), which podman takes whatever the path.

/** One path component as a repository name component: lowercase, `.` `_` `-` only between. */
const PODMAN_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/

/**
 * `my-app-1f3e9a0c`: the project directory's name as a lowercase slug (at most 40 characters,
 * `project` when nothing is left) and 8 hex digits of its absolute path's sha256, so two checkouts
 * of one project (or two projects of one name) keep their images apart.
 */
export function projectId(projectDir: string): string {
  const abs = resolve(projectDir)
  const slug =
    basename(abs)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .slice(0, 40)
      .replace(/^-+|-+$/g, '') || 'project'
  return `${slug}-${createHash('sha256').update(abs).digest('hex').slice(0, 8)}`
}

/** `<cacheDir>/oci/<projectId>`: where `fast-build build` puts images when given no store. */
export function defaultStoreDir(projectDir: string, cacheDir: string): string {
  return join(new CacheLayout(cacheDir).stores, projectId(projectDir))
}

/** Whether podman 4 can pull `oci:<dir>:TAG` by that absolute path (it makes it an image name). */
export function podmanAcceptsPath(dir: string): boolean {
  const parts = resolve(dir)
    .split('/')
    .filter((p) => p !== '')
  return (
    parts.length > 0 &&
    parts.every((p) => PODMAN_COMPONENT.test(p)) &&
    `localhost/${parts.join('/')}`.length <= 255
  )
}

/** A command that runs the image `tag` of the layout `dir` with podman (see podmanAcceptsPath). */
export function podmanRunCommand(dir: string, tag: string): string {
  const abs = resolve(dir)
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)
  if (podmanAcceptsPath(abs)) return `podman run --rm oci:${quote(`${abs}:${tag}`)}`
  if (PODMAN_COMPONENT.test(basename(abs)))
    return `(cd ${quote(dirname(abs))} && podman run --rm oci:${quote(`${basename(abs)}:${tag}`)})`
  return `skopeo copy oci:${quote(`${abs}:${tag}`)} containers-storage:localhost/fast-build:${tag} && podman run --rm localhost/fast-build:${tag}`
}
