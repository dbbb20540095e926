import { FastBuildError } from '../errors.js'

/**
 * A wheel cannot be read or installed as it is: not a zip file, a truncated or corrupt entry, a
 * RECORD hash that does not match, an entry that would land outside its install directory...
 * `location.file` is the wheel; `entry` is the name inside the wheel, when one is at fault.
 */
export class WheelError extends FastBuildError {
  readonly entry: string | undefined

  constructor(message: string, wheel: string, hint: string, entry?: string) {
    super(message, { file: wheel }, hint)
    this.entry = entry
  }
}
