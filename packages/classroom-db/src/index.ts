export { seedDemoData } from './demo-data.js'
export { MigrationError, migrateToLatest } from './migrator.js'
export type {
  Classroom,
  ClassroomsTable,
  Database,
  EnrollmentsTable,
  Student,
  StudentsTable,
} from './schema.js'
export { MAX_ID } from './schema.js'
