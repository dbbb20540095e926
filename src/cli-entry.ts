// The CLI bundle (dist/cli-main.cjs, run by the `fast-build` executable, src/cli-start.ts): run
// the CLI and exit with its code.
import { runCli } from './cli.js'

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`internal error: ${String(e)}\n`)
    process.exitCode = 1
  }
)
