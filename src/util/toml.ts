// Reading TOML documents with errors that name the file, line and column.
import { readFileSync } from 'node:fs'
import { parse, TomlError } from 'smol-toml'
import type { FastBuildError } from '../errors.js'
import { ConfigError, type Location } from '../errors.js'
import { redactUserinfo } from './redact.js'

export type TomlTable = { [key: string]: TomlValue }
export type TomlValue = string | number | bigint | boolean | Date | TomlValue[] | TomlTable | object

type ErrorClass = new (message: string, location?: Location, hint?: string) => FastBuildError

/** Parse TOML text; a syntax error becomes `errorClass` pointing at the line and column. */
export function parseToml(
  text: string,
  file: string,
  errorClass: ErrorClass = ConfigError,
  hint = 'fix the TOML syntax at that position'
): TomlTable {
  try {
    return parse(text) as TomlTable
  } catch (e) {
    if (e instanceof TomlError) {
      // smol-toml's message carries a code excerpt after a blank line; keep the first sentence.
      const first = e.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'invalid TOML'
      throw new errorClass(`malformed TOML: ${first}`, { file, line: e.line, column: e.column }, hint)
    }
    throw e
  }
}

/** Read and parse a TOML file; a missing file is an error that says which. */
export function readTomlFile(
  path: string,
  displayPath: string,
  errorClass: ErrorClass = ConfigError,
  hint?: string,
  /** Rewrites the text before it is parsed (keeping its lines); `text` stays the original. */
  prepare?: (text: string) => string
): { text: string; data: TomlTable } {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new errorClass(
      code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(e)})`,
      { file: displayPath },
      hint
    )
  }
  return { text, data: parseToml(prepare ? prepare(text) : text, displayPath, errorClass) }
}

export function isTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
}

/**
 * Typed access into parsed TOML with key-path errors. Each getter names the key path and the
 * type expected, so a wrong type in pyproject.toml reads as "tool.fast-build.platforms: expected
 * an array of strings" rather than a crash later.
 */
export class TomlReader {
  constructor(
    readonly file: string,
    readonly errorClass: ErrorClass = ConfigError
  ) {}

  fail(keyPath: string, message: string, hint?: string, line?: number): never {
    throw new this.errorClass(message, { file: this.file, keyPath, ...(line ? { line } : {}) }, hint)
  }

  table(v: unknown, keyPath: string): TomlTable {
    if (!isTable(v)) this.fail(keyPath, `expected a table, found ${describeType(v)}`)
    return v
  }

  optTable(v: unknown, keyPath: string): TomlTable | undefined {
    return v === undefined ? undefined : this.table(v, keyPath)
  }

  string(v: unknown, keyPath: string): string {
    if (typeof v !== 'string') this.fail(keyPath, `expected a string, found ${describeType(v)}`)
    return v
  }

  optString(v: unknown, keyPath: string): string | undefined {
    return v === undefined ? undefined : this.string(v, keyPath)
  }

  bool(v: unknown, keyPath: string): boolean {
    if (typeof v !== 'boolean') this.fail(keyPath, `expected true or false, found ${describeType(v)}`)
    return v
  }

  optBool(v: unknown, keyPath: string): boolean | undefined {
    return v === undefined ? undefined : this.bool(v, keyPath)
  }

  array(v: unknown, keyPath: string): unknown[] {
    if (!Array.isArray(v)) this.fail(keyPath, `expected an array, found ${describeType(v)}`)
    return v
  }

  optArray(v: unknown, keyPath: string): unknown[] | undefined {
    return v === undefined ? undefined : this.array(v, keyPath)
  }

  strings(v: unknown, keyPath: string): string[] {
    return this.array(v, keyPath).map((item, i) => this.string(item, `${keyPath}[${i}]`))
  }

  optStrings(v: unknown, keyPath: string): string[] | undefined {
    return v === undefined ? undefined : this.strings(v, keyPath)
  }

  tables(v: unknown, keyPath: string): TomlTable[] {
    return this.array(v, keyPath).map((item, i) => this.table(item, `${keyPath}[${i}]`))
  }
}

export function describeType(v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (v instanceof Date) return 'a date'
  if (typeof v === 'object') return 'a table'
  if (typeof v === 'string') {
    // A misplaced URL may carry a credential: quoted without it.
    const s = redactUserinfo(v)
    return `the string ${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s)}`
  }
  return `${typeof v} ${String(v)}`
}
