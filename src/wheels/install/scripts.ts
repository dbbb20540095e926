// Scripts as pip installs them: wrappers for console_scripts and gui_scripts with the bytes pip
// writes (distlib's ScriptMaker as pip configures it: shebang rules incl. the /bin/sh trampoline
// for long paths or spaces, the template, pip/easy_install versioned names for the target Python),
// and `.data/scripts` files whose first line starts with `#!python` rewritten to name the target
// interpreter. The shebang is the interpreter of the layout, not the Python running the installer.
import { posix } from 'node:path'
import type { PythonVersion } from './layout.js'

/**
 * Which pip's output to reproduce where pip versions differ (the wrapper template and the headers
 * directory name):
 * - `pip-23`: distlib 0.3.6-0.3.8's template (pip 23.x to 24.2); headers under the wheel file name's
 *   project part with `_` turned into `-`. Checked against pip 23.2.1's output.
 * - `pip-24.3`: distlib 0.3.9's template, the import moved under `if __name__ == '__main__'` (pip
 *   24.3 until pip shipped its own template); headers as pip-23. Read from distlib's source, not
 *   checked against a pip run.
 * - `pip-26`: pip's own template, without `re`; headers under the normalized project name (pip
 *   parses file names with packaging). Checked against pip 26.2.1's output.
 */
export type PipFlavour = 'pip-23' | 'pip-24.3' | 'pip-26'

const TEMPLATES: Record<PipFlavour, string> = {
  'pip-23':
    "# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom %(module)s import %(import_name)s\nif __name__ == '__main__':\n" +
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(%(func)s())\n",
  'pip-24.3':
    "# -*- coding: utf-8 -*-\nimport re\nimport sys\nif __name__ == '__main__':\n    from %(module)s import %(import_name)s\n" +
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(%(func)s())\n",
  'pip-26':
    "import sys\nfrom %(module)s import %(import_name)s\nif __name__ == '__main__':\n" +
    "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n    sys.exit(%(func)s())\n"
}

const W = '[\\p{L}\\p{N}_]'
// distlib.util.ENTRY_RE, used with search() (not anchored).
const ENTRY_RE = new RegExp(
  `(?<name>(?:${W}|[-.+])+)\\s*=\\s*(?<callable>${W}+(?:[:.]${W}+)*)` +
    `\\s*(?:\\[\\s*(?<flags>[\\p{L}\\p{N}_-]+(?:=${W}+)?(?:,\\s*${W}+(?:=${W}+)?)*)\\s*\\])?`,
  'u'
)

export interface ExportEntry {
  readonly name: string
  readonly prefix: string
  readonly suffix: string | null
  readonly flags: readonly string[]
}

/** distlib's `get_export_entry`: null when the text has no `name = callable`; throws when invalid. */
export function parseExportEntry(spec: string): ExportEntry | null | 'invalid' {
  const m = ENTRY_RE.exec(spec)
  const brackets = spec.includes('[') || spec.includes(']')
  if (!m) return brackets ? 'invalid' : null
  const { name, callable, flags } = m.groups as { name: string; callable: string; flags?: string }
  const colons = callable.split(':').length - 1
  if (colons > 1) return 'invalid'
  const [prefix, suffix] = colons === 0 ? [callable, null] : (callable.split(':') as [string, string])
  if (flags === undefined && brackets) return 'invalid'
  return { name, prefix, suffix, flags: flags === undefined ? [] : flags.split(',').map((f) => f.trim()) }
}

/** distlib's shebang for an interpreter path: `#!path\n`, or the /bin/sh trampoline when it has spaces or is long. */
export function scriptShebang(interpreter: string): string {
  let exe = interpreter
  if (exe.includes(' ')) {
    if (exe.startsWith('/usr/bin/env ')) {
      const rest = exe.slice('/usr/bin/env '.length)
      if (rest.includes(' ') && !rest.startsWith('"')) exe = `/usr/bin/env "${rest}"`
    } else if (!exe.startsWith('"')) exe = `"${exe}"`
  }
  const length = Buffer.byteLength(exe, 'utf8') + 3
  if (!exe.includes(' ') && length <= 127) return `#!${exe}\n`
  return `#!/bin/sh\n'''exec' ${exe} "$0" "$@"\n' '''\n`
}

/** The bytes of the wrapper script pip writes for an entry point. */
export function entryPointScript(
  entry: ExportEntry,
  interpreter: string,
  flavour: PipFlavour = 'pip-23'
): Buffer {
  const suffix = entry.suffix ?? ''
  const text = TEMPLATES[flavour]
    .replace('%(module)s', entry.prefix)
    .replace('%(import_name)s', suffix.split('.')[0]!)
    .replace('%(func)s', suffix)
  return Buffer.from(scriptShebang(interpreter) + text, 'utf8')
}

/** pip's `get_console_script_specs`: pip and easy_install get versioned names for the target Python. */
export function consoleScriptSpecs(console: ReadonlyMap<string, string>, python: PythonVersion): string[] {
  const c = new Map(console)
  const specs: string[] = []
  const pip = c.get('pip')
  c.delete('pip')
  if (pip) {
    specs.push(`pip = ${pip}`, `pip${python.major} = ${pip}`, `pip${python.major}.${python.minor} = ${pip}`)
    for (const k of [...c.keys()]) if (/^pip(\d+(\.\d+)?)?$/.test(k)) c.delete(k)
  }
  const easy = c.get('easy_install')
  c.delete('easy_install')
  if (easy) {
    specs.push(`easy_install = ${easy}`, `easy_install-${python.major}.${python.minor} = ${easy}`)
    for (const k of [...c.keys()]) if (/^easy_install(-\d+\.\d+)?$/.test(k)) c.delete(k)
  }
  for (const [k, v] of c) specs.push(`${k} = ${v}`)
  return specs
}

/** pip's `fix_script`: a first line starting with `#!python` becomes `#!<interpreter>\n`. */
export function fixScriptShebang(content: Buffer, interpreter: string): Buffer {
  if (!content.subarray(0, 8).equals(Buffer.from('#!python'))) return content
  const nl = content.indexOf(0x0a)
  const rest = nl < 0 ? Buffer.alloc(0) : content.subarray(nl + 1)
  return Buffer.concat([Buffer.from(`#!${interpreter}\n`, 'utf8'), rest])
}

/**
 * pip's `is_entrypoint_wrapper`: a `.data/scripts` file named like an entry point (`X`, `X.exe`,
 * `X-script.py`, `X.pya`) is a wrapper setuptools generated, left out since pip writes its own.
 */
export function isEntryPointWrapper(dest: string, names: ReadonlySet<string>): boolean {
  const base = posix.basename(dest)
  const lower = base.toLowerCase()
  const match = lower.endsWith('.exe')
    ? base.slice(0, -4)
    : lower.endsWith('-script.py')
      ? base.slice(0, -10)
      : lower.endsWith('.pya')
        ? base.slice(0, -4)
        : base
  return names.has(match)
}
