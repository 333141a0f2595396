import Fastify from 'fastify'
import pg from 'pg'

// The HTTP baseline: the api's GET /classrooms/:id query on a bare pg.Pool, in the same framework,
// with nothing else (no validation layer beyond a number check, no metrics, no logging).
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 60 })
const app = Fastify({ logger: false })

app.get<{ Params: { id: string } }>('/classrooms/:id', async (request, reply) => {
  const id = Number(request.params.id)
  if (!Number.isInteger(id) || id < 1) return reply.code(400).send({ error: 'VALIDATION_FAILED' })
  const { rows } = await pool.query(
    `select c.id, c.name, c.capacity, c.created_at,
            (select count(*) from enrollments e where e.classroom_id = c.id) as enrolled_count
       from classrooms c where c.id = $1`,
    [id],
  )
  const row = rows[0]
  if (!row) return reply.code(404).send({ error: 'CLASSROOM_NOT_FOUND' })
  return {
    id: row.id,
    name: row.name,
    capacity: row.capacity,
    createdAt: row.created_at.toISOString(),
    enrolledCount: Number(row.enrolled_count),
  }
})

const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.stdout.write(`listening ${address}\n`)
process.once('SIGTERM', () => {
  void app.close().then(() => pool.end())
})
