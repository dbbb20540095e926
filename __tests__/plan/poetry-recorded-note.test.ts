// Poetry 2.1 locks record, per package and group, the markers under which Poetry installs it;
// Poetry's installer uses them only with installer.re-resolve = false. fast-build walks the graph
// (Poetry's default), and says so in a note for each variant and platform where the two disagree.
import { describe, expect, it } from '@jest/globals'
import { join } from 'node:path'
import { readLock } from '../../src/lock/index.js'
import { normalizeGroup, type NormalizedName } from '../../src/names.js'
import type { VariantSpec } from '../../src/project/config.js'
import { readProject } from '../../src/project/pyproject.js'
import { planProject, type Plan } from '../../src/plan/plan.js'
import { parsePlatform } from '../../src/target.js'
import { materializeCorpusCase } from '../support/corpus.js'

const FIXTURE = join(process.cwd(), '__tests__', 'fixtures', 'poetry-recorded-disagree')

function planOf(dir: string, variants?: VariantSpec[]): Plan {
  const project = readProject(dir)
  const { lock } = readLock(project)
  return planProject(variants ? { ...project, config: { ...project.config, variants } } : project, lock, {
    platforms: [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')]
  })
}

const recordedNotes = (plan: Plan) => plan.notes.filter((n) => n.includes('recorded markers'))

describe('a lock whose recorded markers disagree with its dependency graph', () => {
  // The fixture records iniconfig for python < 3.12 only (pytest needs it everywhere) and colorama
  // unconditionally (pytest needs it on Windows only).
  const plan = planOf(FIXTURE)

  it('one note per variant and platform where they disagree, with examples each way', () => {
    expect(recordedNotes(plan)).toEqual([
      "variant dev on linux/amd64: __tests__/fixtures/poetry-recorded-disagree/poetry.lock's recorded markers select 6 packages where the dependency walk installs 6 (only the walk: iniconfig 2.0.0; only the recorded markers: colorama 0.4.6). " +
        "Poetry's installer re-resolves by default, as fast-build does; the recorded markers are used only with installer.re-resolve = false",
      expect.stringMatching(
        /^variant dev on linux\/arm64: .*only the walk: iniconfig 2\.0\.0; only the recorded markers: colorama 0\.4\.6/
      )
    ])
  })

  it('the walk decides what is installed', () => {
    const dev = plan.variants.find((v) => v.name === 'dev')!
    const names = dev.platforms[0]!.closure.installed.map((e) => e.package.name)
    expect(names).toContain('iniconfig')
    expect(names).not.toContain('colorama')
  })
})

describe.each(['poetry-poetry-2.1', 'poetry-nep-lms', 'poetry-poetry-1.1'])(
  '%s: no note where the recorded markers agree (or there are none)',
  (name) => {
    it('main, each extra, each group', () => {
      const dir = materializeCorpusCase(name).projectDir
      const project = readProject(dir)
      const root = readLock(project).lock.roots[0]!
      const v = (n: string, g: string[], e: string[] = []): VariantSpec => ({
        name: n,
        groups: g.map(normalizeGroup),
        extras: e as NormalizedName[],
        members: []
      })
      const variants = [
        v('main', ['main']),
        ...root.extraNames.map((e) => v(`extra-${e}`, ['main'], [e])),
        ...root.groupNames.filter((g) => g !== 'main').map((g) => v(`group-${g}`, ['main', g]))
      ]
      const plan = planOf(dir, variants)
      expect(plan.failed).toEqual([])
      // poetry-nep-lms locks two torch builds whose recorded markers both hold; the walk choosing
      // one of them is not a disagreement.
      expect(recordedNotes(plan)).toEqual([])
    })
  }
)
