// What a layer's tar holds, read by an independent reader (Python's tarfile), for comparisons.
import { execFileSync } from 'node:child_process'

/** The files of a tar (gzip or not) by path, with their sha256, as Python's tarfile reads them. */
export function filesIn(blob: string): Record<string, string> {
  const script =
    'import hashlib, json, sys, tarfile\n' +
    't = tarfile.open(sys.argv[1])\n' +
    'print(json.dumps({m.name: hashlib.sha256(t.extractfile(m).read()).hexdigest() for m in t if m.isfile()}))'
  return JSON.parse(execFileSync('python3', ['-c', script, blob], { encoding: 'utf8' })) as Record<
    string,
    string
  >
}
