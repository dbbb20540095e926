// `fast-build` executable: run the CLI and exit with its code.
import module from 'node:module'
import { runCli } from './cli.js'

// Node 22.1+ can keep compiled code between runs, which takes a good part of start-up off every
// later `fast-build plan` (a no-op on older Node).
;(module as { enableCompileCache?: () => unknown }).enableCompileCache?.()

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`internal error: ${String(e)}\n`)
    process.exitCode = 1
  }
)
