// When every variant fails, nobody needs the source layer: its streamed upload is dropped quietly
// and settles before the build returns (it used to go on after the build had reported, and then
// say "it goes up again" for an upload nobody would make).
import { describe, expect, it } from '@jest/globals'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { runBuild } from '../../src/pipeline/build.js'
import { LayoutStore } from '../../src/registry/layout.js'
import type { BlobStream, ImageStore } from '../../src/registry/store.js'
import { planDir, tempDir } from '../support/project.js'

describe('a build whose variants all fail', () => {
  it('drops the source upload quietly and has nothing left running when it returns', async () => {
    const dir = tempDir()
    const project = join(dir, 'project')
    cpSync(join(process.cwd(), 'examples/offline'), project, { recursive: true })
    const layout = new LayoutStore(join(dir, 'images'))
    layout.init()
    let streamsOpen = 0
    // A store whose streamed uploads commit slowly, as a registry far away does.
    const store: ImageStore = Object.assign(Object.create(layout) as ImageStore, {
      beginBlob: async (): Promise<BlobStream> => {
        const s = await layout.beginBlob()
        streamsOpen++
        const settle = () => {
          streamsOpen--
        }
        return {
          write: (c: Buffer) => s.write(c),
          commit: async (d) => {
            await new Promise((r) => setTimeout(r, 300))
            settle()
            return s.commit(d)
          },
          abort: async () => {
            settle()
            await s.abort()
          }
        }
      }
    })
    const said: string[] = []
    const result = await runBuild({
      plan: planDir(project),
      store,
      tags: ['{variant}-1'],
      fullPath: false,
      sourceMode: 'walk',
      cacheDir: join(dir, 'cache'),
      onProgress: (_v, m) => said.push(m)
    })
    expect(result.variants.map((v) => v.path)).toEqual(['missing', 'missing'])
    const when = said.length
    expect(streamsOpen).toBe(0)
    await new Promise((r) => setTimeout(r, 500))
    // Nothing more was said after the build returned, and never "it goes up again".
    expect(said.length).toBe(when)
    expect(said.join('\n')).not.toMatch(/goes up again/)
  })
})
