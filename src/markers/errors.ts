import { FastBuildError } from '../errors.js'

/**
 * A marker that parses but cannot be evaluated: packaging raises here too (UndefinedComparison,
 * a comparison between two strings, a set-valued variable on the left of an operator).
 */
export class MarkerEvaluationError extends FastBuildError {}
