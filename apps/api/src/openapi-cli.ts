// `pnpm --filter @classroom/api openapi`: writes the api's OpenAPI document to apps/api/openapi.json.
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { openApiDocument } from './openapi-document.js'

const target = fileURLToPath(new URL('../openapi.json', import.meta.url))
await writeFile(target, `${JSON.stringify(await openApiDocument(), null, 2)}\n`)
process.stdout.write(`wrote ${target}\n`)
