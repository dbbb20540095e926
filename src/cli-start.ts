// The `fast-build` executable (dist/cli.cjs): it runs the CLI bundle (dist/cli-main.cjs) with V8's
// compiled code of it kept between runs in the user's cache directory (src/cache/code-cache.ts).
// FAST_BUILD_CODE_CACHE=0 turns that off.
import { isAscii } from 'node:buffer'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Script } from 'node:vm'
import { codeCacheName, readCodeCache, writeCodeCache } from './cache/code-cache.js'
import { CacheLayout } from './cache/layout.js'

const main = join(dirname(fileURLToPath(import.meta.url)), 'cli-main.cjs')
const bytes = readFileSync(main)
// The bundle is ASCII (see rollup.config.mjs): read as Latin-1 it is a one-byte string, which is
// faster to make, hash and compile than UTF-8 decoding makes it. Any other file is UTF-8.
const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8')
const enabled = process.env['FAST_BUILD_CODE_CACHE'] !== '0'
const dir = CacheLayout.default(process.env, 'cli').codeCache
const name = codeCacheName(bytes, process.argv[2])
const cached = enabled ? readCodeCache(dir, name) : undefined
// CommonJS's own wrapper: the bundle sees exports, require, module, __filename and __dirname.
const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`
const script = new Script(wrapped, { filename: main, ...(cached ? { cachedData: cached } : {}) })
// Written at exit, when the functions this run called are compiled too (not only the top level).
if (enabled && (!cached || script.cachedDataRejected === true))
  process.once('exit', () => writeCodeCache(dir, name, script.createCachedData()))
const run = script.runInThisContext() as (
  exports: object,
  require: NodeJS.Require,
  module: { exports: object },
  filename: string,
  dirname: string
) => void
const module = { exports: {} }
run.call(module.exports, module.exports, createRequire(main), module, main, dirname(main))
