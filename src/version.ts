// Kept in step with package.json by the release script (and a test).
export const VERSION = '0.1.0'
