export { DEMO_SCHOOLS, seedDemoData } from './demo-data.js'
export { DEFAULT_SCHOOL } from './migrations/0003-schools-and-owners.js'
export { MigrationError, migrateToLatest } from './migrator.js'
export type {
  Classroom,
  ClassroomsTable,
  Database,
  EnrollmentsTable,
  School,
  SchoolsTable,
  StaffRole,
  Student,
  StudentsTable,
  User,
  UsersTable,
} from './schema.js'
export { MAX_ID } from './schema.js'
