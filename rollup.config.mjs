// Two bundles from one source tree: the action entry (dist/index.js) and the CLI (dist/cli.cjs,
// which runs dist/cli-main.cjs). Both are self-contained so that `uses: org/fast-build@v1` and
// `npx fast-build` need no install step.
import commonjs from '@rollup/plugin-commonjs'
import json from '@rollup/plugin-json'
import nodeResolve from '@rollup/plugin-node-resolve'
import typescript from '@rollup/plugin-typescript'

const plugins = () => [
  typescript({ tsconfig: './tsconfig.build.json', outDir: 'dist', noEmit: false, module: 'NodeNext' }),
  nodeResolve({ preferBuiltins: true, exportConditions: ['node'] }),
  commonjs(),
  json()
]

/**
 * The CLI bundle in ASCII: every other character of the source written as a \uXXXX escape (in
 * strings, templates, regular expressions and identifiers these mean the same; in comments they
 * are text). The loader then reads it as Latin-1, a one-byte string, which is faster to read, hash
 * and compile than the two-byte string one non-ASCII character makes of the whole UTF-8 file. The
 * one place an escape would change the meaning is the raw text of a tagged template
 * (String.raw`…`): one with such a character fails the build.
 * @returns {import('rollup').Plugin}
 */
function asciiOnly() {
  return {
    name: 'ascii-only',
    renderChunk(code) {
      if (!/[^\x00-\x7f]/.test(code)) return null
      const ast = this.parse(code)
      const walk = (node) => {
        if (!node || typeof node.type !== 'string') return
        if (node.type === 'TaggedTemplateExpression')
          for (const q of node.quasi.quasis)
            if (/[^\x00-\x7f]/.test(q.value.raw))
              this.error(
                `a tagged template holds a non-ASCII character (at ${q.start}): write it as \\u{…} in the source`
              )
        for (const value of Object.values(node))
          if (Array.isArray(value)) value.forEach(walk)
          else if (value && typeof value === 'object') walk(value)
      }
      walk(ast)
      const escaped = code.replace(
        /[^\x00-\x7f]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
      )
      return { code: escaped, map: null }
    }
  }
}

/** @type {import('rollup').WarningHandlerWithDefault} */
const onwarn = (warning, warn) => {
  // Circular imports inside third-party packages (@actions/*, azure) are theirs, not ours.
  if (warning.code === 'CIRCULAR_DEPENDENCY' && warning.ids?.every((id) => id.includes('node_modules')))
    return
  if (warning.code === 'THIS_IS_UNDEFINED') return
  warn(warning)
}

/** @type {import('rollup').RollupOptions[]} */
const config = [
  {
    input: 'src/index.ts',
    output: {
      esModule: true,
      file: 'dist/index.js',
      format: 'es',
      sourcemap: false,
      inlineDynamicImports: true
    },
    plugins: plugins(),
    onwarn
  },
  {
    // The CLI in one CommonJS file, so that the executable below can compile it with vm.Script and
    // keep V8's compiled code between runs (src/cache/code-cache.ts).
    input: 'src/cli-entry.ts',
    output: {
      file: 'dist/cli-main.cjs',
      format: 'cjs',
      sourcemap: false,
      inlineDynamicImports: true,
      // vm.Script has no loader for import(): Node's modules are required.
      dynamicImportInCjs: false,
      plugins: [asciiOnly()]
    },
    plugins: plugins(),
    onwarn
  },
  {
    // The `fast-build` executable: a few lines that run dist/cli-main.cjs. CommonJS too: Node's
    // ES module loader adds a few milliseconds to every start (measured: 4-8 ms here).
    input: 'src/cli-start.ts',
    output: {
      file: 'dist/cli.cjs',
      format: 'cjs',
      sourcemap: false,
      banner: '#!/usr/bin/env node'
    },
    plugins: plugins(),
    onwarn
  }
]

export default config
