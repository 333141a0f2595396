export { type BouncedCluster, startBouncedCluster } from './bounced-cluster.js'
export { FaultProxy } from './fault-proxy.js'
export { ensurePgBouncer, LocalPgBouncer, type LocalPgBouncerOptions } from './local-pgbouncer.js'
export {
  type ClusterRole,
  LocalPostgres,
  type LocalPostgresOptions,
  type ShutdownMode,
  type StandbyOptions,
} from './local-postgres.js'
export { PortTakenError } from './server-identity.js'
export { createTestDatabase, provideTestDatabase, type TestDatabase } from './test-database.js'
