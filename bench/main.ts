// npm run bench: every speed target, measured against its named alternative in the same run.
import { benchDockerfile } from './dockerfile.js'
import { benchFastPath } from './fast-path.js'
import { benchFullPath } from './full-path.js'
import { benchPlan } from './plan.js'
import { benchReupload } from './reupload.js'
import { benchUvLarge } from './uv-large.js'
import { verdicts } from './lib.js'

const only = process.argv.slice(2)
const sections: [string, () => void | Promise<void>][] = [
  ['plan', benchPlan],
  ['fast-path', benchFastPath],
  ['full-path', benchFullPath],
  ['dockerfile', benchDockerfile],
  ['reupload', async () => void (await benchReupload())],
  ['uv-large', benchUvLarge]
]

for (const [name, run] of sections) {
  if (only.length && !only.includes(name)) continue
  await run()
}

console.log('\nsummary')
for (const v of verdicts)
  console.log(`  ${v.ok ? 'PASS' : 'MISS'}  ${v.name}: ${v.measured} (target ${v.target})`)
