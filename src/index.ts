// The action's entry point: run(), then exit. Exiting does not wait for work the action gave up
// on (a cache request past its deadline), which must never hold the job.
import { run } from './main.js'

await run()
process.exit()
