// A typed stand-in for @actions/core, as actions/typescript-action does it: tests load main.ts
// with this module in place of the real one and read what the action reported.
import { jest } from '@jest/globals'
import type * as core from '@actions/core'

export const debug = jest.fn<typeof core.debug>()
export const error = jest.fn<typeof core.error>()
export const info = jest.fn<typeof core.info>()
export const notice = jest.fn<typeof core.notice>()
export const warning = jest.fn<typeof core.warning>()
export const getInput = jest.fn<typeof core.getInput>()
export const getBooleanInput = jest.fn<typeof core.getBooleanInput>()
export const setOutput = jest.fn<typeof core.setOutput>()
export const setFailed = jest.fn<typeof core.setFailed>()
export const setSecret = jest.fn<typeof core.setSecret>()
export const startGroup = jest.fn<typeof core.startGroup>()
export const endGroup = jest.fn<typeof core.endGroup>()
export const group = jest.fn(async <T>(_name: string, f: () => Promise<T>): Promise<T> => f())

/** The job summary: records what was added; `write` resolves unless told to fail. */
export const summaryText: string[] = []
export const summary = {
  addHeading: jest.fn((text: string) => {
    summaryText.push(`# ${text}`)
    return summary
  }),
  addTable: jest.fn((rows: unknown[][]) => {
    summaryText.push(JSON.stringify(rows))
    return summary
  }),
  addRaw: jest.fn((text: string) => {
    summaryText.push(text)
    return summary
  }),
  write: jest.fn(async () => summary)
}

/** Inputs as the runner would pass them (INPUT_* by action.yml name). */
export function setInputs(inputs: Record<string, string>): void {
  getInput.mockImplementation((name: string) => inputs[name] ?? '')
}

/** What the action set as outputs, by name (the last value of each). */
export function outputs(): Record<string, string> {
  return Object.fromEntries(setOutput.mock.calls.map(([k, v]) => [k, String(v)]))
}

/** Every mock cleared and the summary emptied: a fresh run (call in `beforeEach`). */
export function resetCore(): void {
  jest.clearAllMocks()
  summaryText.length = 0
}
