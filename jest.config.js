// Jest runs the TypeScript sources as ESM (the @actions/* packages are ESM-only).
// Type checking is `npm run typecheck`; ts-jest only transpiles, which keeps the suite fast.
//
// Three projects, told apart by file name so the rule is visible in the tree:
// - integration: `*.integration.test.ts`, `*.e2e.test.ts` (the bundled action) and
//   `*.differential.test.ts` (compared with a reference program): they run programs we did not
//   write (a registry, podman, buildah, skopeo, umoci, debootstrap, poetry, pip, python, dist/).
// - harness: the tests of the test support itself (__tests__/support).
// - unit: everything else; pure code and in-process fakes (the in-memory image store, the PyPI and
//   GitHub stand-ins on loopback). `npm run test:unit` runs only these, in under a minute.
// `npm test` runs all three.
import { env } from 'node:process'

const INTEGRATION = ['integration', 'e2e', 'differential'].map((kind) => `\\.${kind}\\.test\\.ts$`)
const HARNESS = ['/__tests__/support/']
const IGNORED = ['/dist/', '/node_modules/', '/.bench/']

/** @type {import('jest').Config} */
const common = {
  clearMocks: true,
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
  testTimeout: 60_000,
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true, diagnostics: false }]
  }
}

// `npm run test:unit` and `test:integration` name their projects in JEST_PROJECTS (comma-separated)
// rather than with --selectProjects, whose list would swallow the paths given after it.
const selected = env['JEST_PROJECTS'] ? env['JEST_PROJECTS'].split(',') : null

/** @type {import('jest').Config} */
const config = {
  testTimeout: 60_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['**/__tests__/**/*.test.ts'],
      testPathIgnorePatterns: [...IGNORED, ...HARNESS, ...INTEGRATION]
    },
    {
      ...common,
      displayName: 'integration',
      setupFilesAfterEnv: ['<rootDir>/__tests__/support/integration-timeout.ts'],
      testRegex: INTEGRATION,
      testPathIgnorePatterns: [...IGNORED, ...HARNESS]
    },
    {
      ...common,
      displayName: 'harness',
      setupFilesAfterEnv: ['<rootDir>/__tests__/support/integration-timeout.ts'],
      testMatch: ['**/__tests__/support/**/*.test.ts'],
      testPathIgnorePatterns: IGNORED
    }
  ].filter((p) => !selected || selected.includes(p.displayName))
}

export default config
