// Poetry 2.1 locks record, per package, the groups and markers under which Poetry installs it.
// Our graph walk must select exactly those packages for every natural variant and target: an
// independent check of the walk (edges, extras, markers) against Poetry's own resolution.
import { describe, expect, it } from '@jest/globals'
import { readLock } from '../../src/lock/index.js'
import { evaluateMarker, targetEnvironment } from '../../src/markers/index.js'
import type { NormalizedName } from '../../src/names.js'
import { computeClosure, MAIN_GROUP } from '../../src/plan/closure.js'
import { readProject } from '../../src/project/pyproject.js'
import { DEFAULT_LIBC, parsePlatform, type Target } from '../../src/target.js'
import { materializeCorpusCase } from '../support/corpus.js'

const cases = ['poetry-langgraph', 'poetry-lerobot', 'poetry-nep-lms', 'poetry-poetry-2.1']
const pythons = [
  { major: 3, minor: 10, patch: 12 },
  { major: 3, minor: 11, patch: 7 },
  { major: 3, minor: 12, patch: 3 },
  { major: 3, minor: 13, patch: 1 }
]

describe.each(cases)('%s: walk agrees with the markers Poetry recorded', (name) => {
  const project = readProject(materializeCorpusCase(name).projectDir)
  const { lock } = readLock(project)
  const root = lock.roots[0]!
  const selections: { groups: NormalizedName[]; extras: NormalizedName[] }[] = [
    { groups: [MAIN_GROUP], extras: [] },
    ...root.extraNames.map((e) => ({ groups: [MAIN_GROUP], extras: [e] })),
    ...root.groupNames.filter((g) => g !== MAIN_GROUP).map((g) => ({ groups: [MAIN_GROUP, g], extras: [] })),
    { groups: [...root.groupNames], extras: [...root.extraNames] }
  ]

  it.each(['linux/amd64', 'linux/arm64'])('on %s', (platform) => {
    let compared = 0
    for (const python of pythons) {
      const target: Target = { python, platform: parsePlatform(platform), libc: DEFAULT_LIBC }
      if (
        lock.requiresPython &&
        !(project.pythonConstraint?.matches(`${python.major}.${python.minor}.${python.patch}`) ?? true)
      )
        continue
      for (const sel of selections) {
        const env = targetEnvironment(target, { extras: sel.extras })
        const recorded = lock.packages
          .filter((p) => p.source.kind !== 'directory')
          .filter((p) =>
            sel.groups.some(
              (g) =>
                p.recorded!.byGroup.has(g) &&
                (p.recorded!.byGroup.get(g) === null || evaluateMarker(p.recorded!.byGroup.get(g)!, env))
            )
          )
          .map((p) => p.id)
        const walked = computeClosure(lock, { ...sel, members: [] }, target).installed.map(
          (e) => e.package.id
        )
        // Where Poetry locked several packages of one name that all apply (a transitive pin on a
        // PyPI torch next to the project's own cu126 torch), the walk keeps the project's choice.
        const walkedNames = new Set(walked.map((id) => id.split('==')[0]))
        const ambiguous = recorded.filter(
          (id) => recorded.filter((o) => o.split('==')[0] === id.split('==')[0]).length > 1
        )
        expect(walked.filter((id) => !ambiguous.includes(id)).sort()).toEqual(
          recorded.filter((id) => !ambiguous.includes(id)).sort()
        )
        for (const id of ambiguous) expect(walkedNames.has(id.split('==')[0])).toBe(true)
        compared++
      }
    }
    expect(compared).toBeGreaterThan(0)
  })
})
