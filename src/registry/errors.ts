// The registry's own error: what the client (and the OCI layout store) throw when a registry says
// no or cannot be reached. The HTTP failures under it are src/net/errors.ts's.
import { FastBuildError, type Location } from '../errors.js'

/** A registry said no, or could not be reached. `temporary` failures may go away by running again. */
export class RegistryError extends FastBuildError {
  readonly temporary: boolean

  constructor(message: string, location: Location = {}, hint?: string, temporary = false) {
    super(message, location, hint)
    this.temporary = temporary
  }
}
