// What a deps image is built for: a Python interpreter and an OS/architecture pair.
import { ConfigError } from './errors.js'

export interface PythonVersion {
  readonly major: number
  readonly minor: number
  /** Undefined when the user gave only "3.12". */
  readonly patch: number | undefined
}

export function parsePythonVersion(text: string, where = 'python'): PythonVersion {
  const m = /^\s*(\d+)\.(\d+)(?:\.(\d+))?\s*$/.exec(text)
  if (!m) {
    throw new ConfigError(
      `${JSON.stringify(text)} is not a Python version`,
      { keyPath: where },
      'write it as "3.12" or "3.12.7"'
    )
  }
  return { major: Number(m[1]), minor: Number(m[2]), patch: m[3] === undefined ? undefined : Number(m[3]) }
}

/** "3.12" — the value of the `python_version` marker. */
export function pythonMinor(v: PythonVersion): string {
  return `${v.major}.${v.minor}`
}

/**
 * "3.12.7" — the value of `python_full_version`. When only "3.12" was given we evaluate as
 * "3.12.0"; markers that split inside a minor series are rare, and the README says to give
 * the full version when they matter.
 */
export function pythonFull(v: PythonVersion): string {
  return `${v.major}.${v.minor}.${v.patch ?? 0}`
}

export function formatPython(v: PythonVersion): string {
  return v.patch === undefined ? pythonMinor(v) : pythonFull(v)
}

export type Architecture = 'amd64' | 'arm64'

export interface Platform {
  readonly os: 'linux'
  readonly architecture: Architecture
}

const MACHINE: Record<Architecture, string> = { amd64: 'x86_64', arm64: 'aarch64' }

/** The `platform_machine` marker value and the wheel platform-tag suffix for an architecture. */
export function machineOf(p: Platform): string {
  return MACHINE[p.architecture]
}

export const SUPPORTED_PLATFORMS = ['linux/amd64', 'linux/arm64'] as const

export function parsePlatform(text: string, where = 'platforms'): Platform {
  const t = text.trim().toLowerCase()
  const aliases: Record<string, Architecture> = {
    'linux/amd64': 'amd64',
    'linux/x86_64': 'amd64',
    'linux/arm64': 'arm64',
    'linux/arm64/v8': 'arm64',
    'linux/aarch64': 'arm64'
  }
  const arch = aliases[t]
  if (!arch) {
    throw new ConfigError(
      `unsupported platform ${JSON.stringify(text)}`,
      { keyPath: where },
      `use one of ${SUPPORTED_PLATFORMS.join(', ')}`
    )
  }
  return { os: 'linux', architecture: arch }
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}`
}

/** The C library the target image runs, which decides manylinux vs musllinux wheels. */
export interface Libc {
  readonly family: 'glibc' | 'musl'
  readonly major: number
  readonly minor: number
}

/** Debian 12 (bookworm), what python:3.x-slim images and our test base image run. */
export const DEFAULT_LIBC: Libc = { family: 'glibc', major: 2, minor: 36 }

export function parseLibc(text: string, where = 'libc'): Libc {
  const m = /^\s*(glibc|musl)\s*[- ]?\s*(\d+)\.(\d+)\s*$/i.exec(text)
  if (!m) {
    throw new ConfigError(
      `${JSON.stringify(text)} is not a C library version`,
      { keyPath: where },
      'write it as "glibc 2.36" or "musl 1.2"'
    )
  }
  return { family: m[1]!.toLowerCase() as Libc['family'], major: Number(m[2]), minor: Number(m[3]) }
}

export function formatLibc(l: Libc): string {
  return `${l.family} ${l.major}.${l.minor}`
}

/** One (interpreter, platform) pair a closure is computed for. */
export interface Target {
  readonly python: PythonVersion
  readonly platform: Platform
  readonly libc: Libc
}
