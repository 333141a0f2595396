export { findFreePort } from './free-port.js'
export { LocalPostgres, type LocalPostgresOptions, type ShutdownMode } from './local-postgres.js'
export { createTestDatabase, provideTestDatabase, type TestDatabase } from './test-database.js'
