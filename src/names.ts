// PEP 503 normalized project names, as a type: once normalized, always normalized.

declare const normalized: unique symbol
export type NormalizedName = string & { readonly [normalized]: true }

/** PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`. */
export function normalizeName(name: string): NormalizedName {
  return name
    .trim()
    .toLowerCase()
    .replace(/[-_.]+/g, '-') as NormalizedName
}

/** Extras and group names are normalized the same way (PEP 685, PEP 735). */
export const normalizeExtra = normalizeName
export const normalizeGroup = normalizeName

/** PEP 508 name syntax: letters/digits at both ends, `-_.` inside. */
export function isValidName(name: string): boolean {
  return /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i.test(name)
}
