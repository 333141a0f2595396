export { UsageError, wholeNumberOption } from './cli-options.js'
export { findFreePort } from './free-port.js'
export { type RecordedLine, recordingLogger } from './recording-logger.js'
export { type ApiProcess, type SpawnApiOptions, spawnApi } from './spawn-api.js'
