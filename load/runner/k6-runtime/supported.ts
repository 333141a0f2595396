/**
 * The k6 API subset the built-in engine runs: module → its exports. The script loader refuses any
 * other module, and any other export of these, before a VU starts.
 */
export const SUPPORTED_API: Readonly<Record<string, readonly string[]>> = {
  k6: ['check', 'sleep', 'fail'],
  'k6/http': [
    'request',
    'get',
    'post',
    'put',
    'patch',
    'del',
    'head',
    'options',
    'expectedStatuses',
    'setResponseCallback',
  ],
  'k6/metrics': ['Counter', 'Gauge', 'Rate', 'Trend'],
  'k6/execution': ['vu', 'scenario', 'test'],
}

/** The file (beside this one, under `modules/`) that implements each supported module. */
export const MODULE_FILES: Readonly<Record<string, string>> = {
  k6: 'k6.js',
  'k6/http': 'http.js',
  'k6/metrics': 'metrics.js',
  'k6/execution': 'execution.js',
}
