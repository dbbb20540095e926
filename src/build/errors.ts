import { FastBuildError } from '../errors.js'

/**
 * The project's source tree cannot be packed as it is: a `.dockerignore` pattern does not parse, a
 * symlink points outside the tree, a file name cannot go into a tar, git cannot list the files...
 * `location.file` names the file (or the link), `line` the `.dockerignore` line.
 */
export class SourceError extends FastBuildError {}
