// The action: read inputs → plan → report. One catch turns any error into setFailed with the
// error's own description (file, line, fix), never a stack trace.
import * as core from '@actions/core'
import { resolve } from 'node:path'
import { describeError, isFastBuildError } from './errors.js'
import { readLock } from './lock/index.js'
import { planProject, planToJson, type Plan } from './plan/plan.js'
import { readProject } from './project/pyproject.js'
import { getInputs } from './inputs.js'
import { formatPlatform } from './target.js'

export async function run(): Promise<void> {
  try {
    const inputs = getInputs()
    const project = readProject(resolve(inputs.project), inputs.project === '.' ? undefined : inputs.project)
    const { lock, notes } = readLock(project)
    const plan = planProject(project, lock, {
      variants: [...inputs.variants],
      platforms: [...inputs.platforms]
    })
    for (const n of [...notes, ...plan.notes]) core.notice(n)
    core.setOutput('plan', JSON.stringify(planToJson(plan)))
    await writeSummary(plan)
  } catch (e) {
    if (isFastBuildError(e) && e.location.file) {
      core.error(e.message, {
        title: 'fast-build',
        file: e.location.file,
        ...(e.location.line ? { startLine: e.location.line } : {})
      })
    }
    core.setFailed(describeError(e))
  }
}

async function writeSummary(plan: Plan): Promise<void> {
  try {
    const rows = plan.variants.flatMap((v) =>
      v.platforms.map((p) => [
        v.name,
        formatPlatform(p.platform),
        `\`${v.shortHash}\``,
        String(p.closure.installed.length),
        p.closure.local.map((e) => e.package.name).join(', ') || '–'
      ])
    )
    await core.summary
      .addHeading('fast-build plan', 2)
      .addTable([
        [
          { data: 'variant', header: true },
          { data: 'platform', header: true },
          { data: 'hash', header: true },
          { data: 'packages', header: true },
          { data: 'local', header: true }
        ],
        ...rows
      ])
      .write()
  } catch (e) {
    // The summary is an extra: failing to write it only warns.
    core.warning(`could not write the job summary: ${describeError(e)}`)
  }
}
