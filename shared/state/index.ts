/** The state JSON model: parse, canonical form and identity, validation, summary, diff, parts. */
export { STATE_MAX_BYTES, KNOWN_SPECS, SPEC_SYSTEM1, SPEC_MULTI1, SPEC_EMBED1, parseState, rawMembers, specProblem, describeValue } from './parse.js'
export { isParsedState, stateJson, isSha, isPlainObject, type ParsedState, type StateInput } from './types.js'
export {
  canonicalJson,
  canonicalBytes,
  canonicalizeJsonText,
  revisionId,
  normalizeNumber,
  formatNumber,
  quoteString,
  compareKeys,
  sortKeys,
} from './canonical.js'
export { JsonNumber, JsonSyntaxError, parseJsonText, firstInvalidUtf8, decodeUtf8, JSON_MAX_DEPTH, type RawMember, type JsonParseOptions } from './rawjson.js'
export { objectRefs, uniqueShas, type ObjectRef } from './objects.js'
export {
  validateState,
  assertValidState,
  keyPathProblem,
  localRevisionNameProblem,
  validateLocalRevisionName,
  base64UrlToText,
  SIG_ALGS,
  type ValidationIssue,
  type ValidateOptions,
} from './validate.js'
export { DEFAULT_GROUPS, STATUS_GOALS, RESTART_POLICIES, ROLES, PERSISTENCE, CONTAINER_TYPES } from './validate-containers.js'
export { summarizeState, containerNames, type StateSummary, type ContainerSummary, type ObjectInfo, type BspSummary } from './summary.js'
export { diffStates, type StateDiff } from './diff.js'
export { filterParts, type FilterPartsOptions } from './parts.js'
export {
  compose,
  partOfKey,
  partsOfState,
  EMPTY_STATE_TEXT,
  readStateDoc,
  writeStateDoc,
  signaturePrefixes,
  type ComposeOp,
  type ComposeResult,
  type ComposeStep,
  type ComposeInput,
  type ComposeOptions,
  type KeyChanges,
  type PartChanges,
  type StateDoc,
  type StateMember,
  type RawValueType,
} from './compose.js'
