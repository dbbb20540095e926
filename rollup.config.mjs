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
      dynamicImportInCjs: false
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
