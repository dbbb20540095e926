// The action's entry (main.ts) with @actions/core replaced by typed fixtures, as
// actions/typescript-action tests it: inputs in; outputs, summary, annotations and failures out.
// The build scenarios, against a real registry and package index: main.integration.test.ts.
import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as core from '../__fixtures__/core.js'
import { uvProject, VARIANTS_CONFIG } from './support/fixtures.js'
import { tempDir } from './support/project.js'

jest.unstable_mockModule('@actions/core', () => core)
const { run } = await import('../src/main.js')

beforeEach(() => core.resetCore())

describe('action: inputs and failures', () => {
  it('plan mode without an image: the plan, every variant in the matrix, a summary', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    core.setInputs({
      project: dir,
      variants: 'base, ml',
      platforms: 'linux/amd64\nlinux/arm64',
      mode: 'plan'
    })
    await run({ env: {} })
    expect(core.setFailed).not.toHaveBeenCalled()
    const out = core.outputs()
    const plan = JSON.parse(out['plan']!)
    expect(plan.variants.map((v: { name: string }) => v.name)).toEqual(['base', 'ml'])
    expect(plan.variants[1].platforms.map((p: { platform: string }) => p.platform)).toEqual([
      'linux/amd64',
      'linux/arm64'
    ])
    expect(JSON.parse(out['matrix']!).include.map((i: { variant: string }) => i.variant)).toEqual([
      'base',
      'ml'
    ])
    expect(core.notice).toHaveBeenCalledWith(expect.stringMatching(/no image configured/))
    expect(core.summaryText[0]).toBe('# fast-build plan')
    expect(core.summaryText[1]).toMatch(/"data":"ml"/)
  })

  it('build mode needs an image, and says where to give it', async () => {
    core.setInputs({ project: uvProject() })
    await run({ env: {} })
    expect(core.setFailed).toHaveBeenCalledWith(
      expect.stringMatching(/with\.image: no image to build.*\n {2}fix: set the image input/s)
    )
  })

  it('fails with the file, the line and the fix, and annotates the file', async () => {
    const dir = uvProject()
    writeFileSync(join(dir, 'uv.lock'), 'version = 1\n[[package]\n')
    core.setInputs({ project: dir })
    await run({ env: {} })
    expect(core.setFailed).toHaveBeenCalledWith(
      expect.stringMatching(/uv\.lock:2:\d+: malformed TOML.*\n {2}fix: /s)
    )
    expect(core.error).toHaveBeenCalledWith(
      expect.stringMatching(/malformed TOML/),
      expect.objectContaining({ file: expect.stringMatching(/uv\.lock$/), startLine: 2 })
    )
  })

  it.each([
    [
      { platforms: 'linux/s390x' },
      /with\.platforms: input unsupported platform "linux\/s390x"\n {2}fix: use one of/
    ],
    [
      { dockerfile: 'nope/Dockerfile' },
      /cannot read the Dockerfile nope\/Dockerfile: no such file\n {2}fix: give a path relative to the project directory/
    ],
    [{ builder: 'docker' }, /with\.builder: input builder: "docker" is not one of auto, wheels, dockerfile/],
    [{ push: 'yes' }, /with\.push: input push: "yes" is not a boolean\n {2}fix: write true or false/],
    [{ 'max-layers': '400x' }, /with\.max-layers: .* is not a whole number from 2 to 500/],
    [{ tags: 'v{version}' }, /with\.tags: input tags: "v\{version\}" does not make a valid tag/],
    [{ 'registry-username': 'me' }, /with\.registry-password: input registry-password: is missing/],
    [{ mode: 'dry-run' }, /with\.mode: input mode: "dry-run" is not one of build, plan/]
  ])('a bad input (%j) names the input and the fix', async (bad, message) => {
    core.setInputs({ project: uvProject(), ...bad })
    await run({ env: {} })
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringMatching(message))
  })

  it('a pull request from a fork plans only, and says so', async () => {
    const payload = join(tempDir(), 'event.json')
    writeFileSync(
      payload,
      JSON.stringify({
        repository: { full_name: 'acme/app' },
        pull_request: { number: 7, head: { repo: { full_name: 'someone/app' } } }
      })
    )
    core.setInputs({ project: uvProject({ config: VARIANTS_CONFIG }) })
    await run({ env: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: payload } })
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(core.notice).toHaveBeenCalledWith(
      expect.stringMatching(/pull request from a fork: fast-build plans only/)
    )
    expect(core.summaryText.join('\n')).toMatch(/Pull request from a fork: planned only, nothing was pushed/)
  })

  it('a summary that cannot be written only warns', async () => {
    core.summary.write.mockRejectedValueOnce(new Error('no GITHUB_STEP_SUMMARY'))
    core.setInputs({ project: uvProject(), mode: 'plan' })
    await run({ env: {} })
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(core.warning).toHaveBeenCalledWith(
      expect.stringMatching(/could not write the job summary: no GITHUB_STEP_SUMMARY/)
    )
  })
})
