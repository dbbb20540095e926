// PEP 508 markers and requirements: parse, evaluate for a target environment, print.
export {
  andMarkers,
  evaluateMarker,
  locateMarker,
  MARKER_VARIABLES,
  markerLocation,
  markerToString,
  markerVariables,
  orMarkers,
  parseMarker,
  sharedMarker,
  type Marker,
  type MarkerAnd,
  type MarkerComparison,
  type MarkerOperator,
  type MarkerOr,
  type MarkerValue,
  type MarkerVariable
} from './marker.js'
export {
  nameSet,
  targetEnvironment,
  withExtras,
  withGroups,
  type EnvironmentOptions,
  type MarkerEnvironment
} from './environment.js'
export { formatRequirement, parseRequirement, type Requirement } from './requirement.js'
export { MarkerEvaluationError } from '../errors.js'
