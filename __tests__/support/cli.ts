// Run the CLI in this process, capturing what it prints.
import { runCli } from '../../src/cli.js'

export interface CliRun {
  readonly code: number
  readonly out: string
  readonly err: string
  /** stdout parsed as JSON (for `--json`). */
  json(): any // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function cli(...args: string[]): Promise<CliRun> {
  let out = ''
  let err = ''
  const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t) })
  return { code, out, err, json: () => JSON.parse(out) }
}
