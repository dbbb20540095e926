import { FastBuildError } from '../errors.js'

/**
 * The project's source tree cannot be packed as it is: a `.dockerignore` pattern does not parse, a
 * symlink points outside the tree, a file name cannot go into a tar, git cannot list the files...
 * `location.file` names the file (or the link), `line` the `.dockerignore` line.
 */
export class SourceError extends FastBuildError {}

/**
 * A package of a run-time group (`runtime-groups`) cannot be installed by pip when the container
 * starts: it comes from git or a local archive, or the lock lacks the hashes pip needs.
 * `location` is the package's entry in the lock.
 */
export class RuntimeGroupError extends FastBuildError {}

/**
 * The Dockerfile builder cannot build a variant's deps image: a package pip cannot fetch into the
 * build context, a Dockerfile that is missing, or the engine failing (the message then ends with
 * the build's last lines). `location` names the lock entry or the Dockerfile.
 */
export class DockerfileError extends FastBuildError {}
