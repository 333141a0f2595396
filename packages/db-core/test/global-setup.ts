import { provideTestDatabase } from '@classroom/local-postgres'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

export default async function setup(project: TestProject) {
  const database = await provideTestDatabase()
  project.provide('databaseUrl', database.url)
  return database.teardown
}
