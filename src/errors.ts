// Errors that reach a user. Each one says which file (and where in it), what is wrong,
// and what to do about it; the CLI and the action print `message` and never a stack.

export interface Location {
  /** File the problem is in, as the user would type it (relative to the project when possible). */
  file?: string
  /** 1-based line, when known. */
  line?: number
  /** 1-based column, when known. */
  column?: number
  /** Dotted key path inside a TOML/JSON document, such as `tool.fast-build.variants.ml.extras`. */
  keyPath?: string
}

export class FastBuildError extends Error {
  readonly location: Location
  /** What to do about it, one sentence. */
  readonly hint: string | undefined

  constructor(message: string, location: Location = {}, hint?: string) {
    super(message)
    this.name = new.target.name
    this.location = location
    this.hint = hint
  }

  /** `file:line:column: key: message` followed by the hint, as compilers print it. */
  describe(): string {
    const { file, line, column, keyPath } = this.location
    let where = ''
    if (file) {
      where = file
      if (line !== undefined) where += `:${line}`
      if (line !== undefined && column !== undefined) where += `:${column}`
      where += ': '
    }
    const key = keyPath ? `${keyPath}: ` : ''
    return `${where}${key}${this.message}${this.hint ? `\n  fix: ${this.hint}` : ''}`
  }
}

/** pyproject.toml or [tool.fast-build] is wrong, or an input/flag is. */
export class ConfigError extends FastBuildError {}

/** A lock file cannot be read, is of an unknown version, or does not agree with pyproject.toml. */
export class LockError extends FastBuildError {}

/** A PEP 508 marker or requirement does not parse. `column` points at the offending character. */
export class MarkerSyntaxError extends FastBuildError {}

/**
 * A marker that parses but cannot be evaluated: packaging raises here too (UndefinedComparison,
 * a comparison between two strings, a set-valued variable on the left of an operator, a version
 * PEP 440 cannot compare). Here, beside MarkerSyntaxError, because pep440.ts raises it as well,
 * and pep440.ts is below markers/.
 */
export class MarkerEvaluationError extends FastBuildError {}

/** The selection cannot be satisfied from the lock (conflicting packages, missing packages, cycles). */
export class PlanError extends FastBuildError {}

export function isFastBuildError(e: unknown): e is FastBuildError {
  return e instanceof FastBuildError
}

/** Message for anything thrown: our errors describe themselves; others get their message only. */
export function describeError(e: unknown): string {
  if (isFastBuildError(e)) return e.describe()
  if (e instanceof Error) return e.message
  return String(e)
}
