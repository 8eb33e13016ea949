export { pathExpectation, directPathExpected, mappingClass, filtersLeniently, NO_PATH_CODES, type MatrixTransport, type PathExpectation, type MappingClass, type PairOptions } from './expectations.js';
export {
  MATRIX_PRESETS, MATRIX_VARIANTS, SAME_NAT, SLOTS_PER_PRESET, HOSTS_PER_SITE, planMatrix, onlyPairs, poolsOf, presetByKey, variantByKey, SitePool, PairQueue,
  type MatrixPreset, type MatrixVariant, type MatrixPair, type MatrixPlan, type MatrixSelection, type VariantSelection,
} from './plan.js';
export { runPair, judge, countIntactLines, udpLines, TCP_PAYLOAD_BYTES, UDP_LINES, type PairResult, type PairRunOptions, type RelayFlag } from './run-pair.js';
export { runMatrix, runMatrixIn, DEFAULT_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT_MS, type MatrixOptions, type MatrixRun } from './runner.js';
export { formatText, formatHtml, cellText, summary } from './report.js';
export { writeResults } from './write-results.js';
