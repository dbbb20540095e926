// Jest runs the TypeScript sources as ESM (the @actions/* packages are ESM-only).
// Type checking is `npm run typecheck`; ts-jest only transpiles, which keeps the suite fast.
/** @type {import('jest').Config} */
const config = {
  clearMocks: true,
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
  testMatch: ['**/__tests__/**/*.test.ts'],
  testPathIgnorePatterns: ['/dist/', '/node_modules/', '/.bench/'],
  testTimeout: 60_000,
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true, diagnostics: false }]
  }
}

export default config
