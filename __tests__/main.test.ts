// The action's entry: inputs in, plan output and summary out; errors become setFailed with the
// file, line and fix, plus an annotation on the file.
import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as core from '../__fixtures__/core.js'
import { uvProject, VARIANTS_CONFIG } from './support/fixtures.js'

jest.unstable_mockModule('@actions/core', () => core)
const { run } = await import('../src/main.js')

describe('action (plan)', () => {
  beforeEach(() => {
    jest.clearAllMocks()
    core.summaryText.length = 0
  })

  it('outputs the plan and writes a summary table', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    core.setInputs({ project: dir, variants: 'base, ml', platforms: 'linux/amd64\nlinux/arm64' })
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    const [name, value] = core.setOutput.mock.calls[0]!
    expect(name).toBe('plan')
    const plan = JSON.parse(String(value))
    expect(plan.variants.map((v: { name: string }) => v.name)).toEqual(['base', 'ml'])
    expect(plan.variants[1].platforms.map((p: { platform: string }) => p.platform)).toEqual([
      'linux/amd64',
      'linux/arm64'
    ])
    expect(core.summaryText[0]).toBe('# fast-build plan')
    expect(core.summaryText[1]).toMatch(/"ml","linux\/arm64","`[0-9a-f]{16}`","4"/)
  })

  it('fails with the file, the line and the fix, and annotates the file', async () => {
    const dir = uvProject()
    writeFileSync(join(dir, 'uv.lock'), 'version = 1\n[[package]\n')
    core.setInputs({ project: dir })
    await run()
    expect(core.setFailed).toHaveBeenCalledWith(
      expect.stringMatching(/uv\.lock:2:\d+: malformed TOML.*\n {2}fix: /s)
    )
    expect(core.error).toHaveBeenCalledWith(
      expect.stringMatching(/malformed TOML/),
      expect.objectContaining({ file: expect.stringMatching(/uv\.lock$/), startLine: 2 })
    )
  })

  it('a bad platform input names the input', async () => {
    core.setInputs({ project: uvProject(), platforms: 'linux/s390x' })
    await run()
    expect(core.setFailed).toHaveBeenCalledWith(
      expect.stringMatching(
        /with\.platforms: input unsupported platform "linux\/s390x"\n {2}fix: use one of linux\/amd64, linux\/arm64/
      )
    )
  })

  it('a summary that cannot be written only warns', async () => {
    core.summary.write.mockRejectedValueOnce(new Error('no GITHUB_STEP_SUMMARY'))
    core.setInputs({ project: uvProject() })
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(core.warning).toHaveBeenCalledWith(
      expect.stringMatching(/could not write the job summary: no GITHUB_STEP_SUMMARY/)
    )
  })
})
