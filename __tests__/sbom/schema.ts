// The official CycloneDX 1.6 JSON schema (as @cyclonedx/cyclonedx-library ships it), applied by
// Python's jsonschema: a validator we did not write, offline (validate_cyclonedx.py registers the
// schema files that bom-1.6 refers to under the URIs its $refs resolve to).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

export const SCHEMA_DIR = join(
  process.cwd(),
  'node_modules',
  '@cyclonedx',
  'cyclonedx-library',
  'res',
  'schema'
)
const SCRIPT = join(process.cwd(), '__tests__', 'sbom', 'validate_cyclonedx.py')

export interface SchemaErrors {
  documents: number
  errors: { document: number; path: string; message: string }[]
}

/** Validate one document or an array of them (as JSON text or a value). */
export function validateCycloneDx(docs: unknown): SchemaErrors {
  if (!existsSync(join(SCHEMA_DIR, 'bom-1.6.SNAPSHOT.schema.json')))
    throw new Error(
      `no CycloneDX schema at ${SCHEMA_DIR}: npm install (the devDependency @cyclonedx/cyclonedx-library)`
    )
  const input = typeof docs === 'string' ? docs : JSON.stringify(docs)
  const out = execFileSync('python3', [SCRIPT, SCHEMA_DIR], { input, encoding: 'utf8', timeout: 60_000 })
  return JSON.parse(out) as SchemaErrors
}
