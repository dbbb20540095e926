// Two bundles from one source tree: the action entry (dist/index.js) and the CLI (dist/cli.js).
// Both are self-contained (the CLI in two files) so that `uses: org/fast-build@v1` and
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
    input: { cli: 'src/cli-entry.ts' },
    output: {
      // `build` is a chunk of its own (dist/cli-build.js) that `plan` never loads.
      esModule: true,
      dir: 'dist',
      entryFileNames: '[name].js',
      chunkFileNames: '[name].js',
      format: 'es',
      sourcemap: false,
      banner: (chunk) => (chunk.isEntry ? '#!/usr/bin/env node' : '')
    },
    plugins: plugins(),
    onwarn
  }
]

export default config
