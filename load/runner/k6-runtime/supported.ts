/** k6-summary from jslib.k6.io, any version: `textSummary` for a handleSummary that keeps k6's text. */
const K6_SUMMARY = 'https://jslib.k6.io/k6-summary/<version>/index.js'

/**
 * The k6 API subset the built-in engine runs: module → its exports. The script loader refuses any
 * other module, and any other export of these, before a VU starts.
 */
export const SUPPORTED_API: Readonly<Record<string, readonly string[]>> = {
  k6: ['check', 'sleep', 'fail', 'group'],
  'k6/http': [
    'request',
    'get',
    'post',
    'put',
    'patch',
    'del',
    'head',
    'options',
    'batch',
    'expectedStatuses',
    'setResponseCallback',
  ],
  'k6/metrics': ['Counter', 'Gauge', 'Rate', 'Trend'],
  'k6/execution': ['vu', 'scenario', 'test'],
  'k6/data': ['SharedArray'],
  [K6_SUMMARY]: ['textSummary'],
}

/** The file (beside this one, under `modules/`) that implements each supported module. */
export const MODULE_FILES: Readonly<Record<string, string>> = {
  k6: 'k6.js',
  'k6/http': 'http.js',
  'k6/metrics': 'metrics.js',
  'k6/execution': 'execution.js',
  'k6/data': 'data.js',
  [K6_SUMMARY]: 'k6-summary.js',
}

/**
 * The module a specifier names: k6-summary's jslib URL, whatever its version, is the one module
 * the engine provides itself (its textSummary is the engine's); any other specifier names itself.
 */
export function moduleName(specifier: string): string {
  return /^https:\/\/jslib\.k6\.io\/k6-summary\/[\d.]+\/index\.js$/.test(specifier) ? K6_SUMMARY : specifier
}
