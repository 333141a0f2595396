import type { FastifyPluginAsync } from 'fastify'
import { createQueryId, type InferResult, sql } from 'kysely'
import { ApiError } from '../api-error.js'
import type { AppDependencies } from '../app-dependencies.js'
import { requestPrincipal, requireRole } from '../auth/authenticate.js'
import { STAFF } from '../auth/principal.js'
import { classroomView } from './classroom-view.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { idempotentWrite } from './idempotent-write.js'
import { readOptions } from './read-options.js'
import {
  AUTH_ERRORS,
  answer,
  BODY_ERRORS,
  classroomSchema,
  DATABASE_ERRORS,
  errorResponses,
  extended,
  PATH_ERRORS,
  REPLAY_HEADER,
} from './responses.js'
import { type IdParams, idempotencyHeaders, idParams, nameSchema } from './schemas.js'

const MAX_PAGE = 100

interface CreateClassroomBody {
  name: string
  capacity: number
}

interface ListQuery {
  limit: number
  cursor?: string
}

/** `POST /classrooms`, `GET /classrooms` (keyset pages), `GET /classrooms/:id` (with its enrolled count). */
export function classroomRoutes(deps: AppDependencies): FastifyPluginAsync {
  const { db } = deps
  return async (app) => {
    app.post<{ Body: CreateClassroomBody }>(
      '/classrooms',
      {
        schema: {
          headers: idempotencyHeaders,
          body: {
            type: 'object',
            required: ['name', 'capacity'],
            additionalProperties: false,
            properties: { name: nameSchema, capacity: { type: 'integer', minimum: 1, maximum: 100_000 } },
          },
          response: {
            201: answer(
              'The classroom created (for a repeated Idempotency-Key: the first answer, with `idempotent-replayed: true`).',
              classroomSchema,
              REPLAY_HEADER,
            ),
            ...errorResponses(AUTH_ERRORS, BODY_ERRORS, DATABASE_ERRORS, ['IDEMPOTENCY_KEY_REUSED']),
          },
        },
      },
      (request, reply) => {
        const principal = requireRole(request, STAFF, 'create a classroom')
        return idempotentWrite(deps, request, reply, async (trx) => {
          const row = await trx
            .insertInto('classrooms')
            .values({
              name: request.body.name,
              capacity: request.body.capacity,
              school_id: principal.schoolId,
              // A teacher's classroom is theirs; an admin's has no teacher yet.
              teacher_id: principal.role === 'teacher' ? principal.userId : null,
            })
            .returningAll()
            .executeTakeFirstOrThrow()
            .catch((error: unknown) => {
              // The teacher of a token is not on the school's staff (users): a misprovisioned account.
              if ((error as { constraint?: string }).constraint === 'classrooms_teacher_same_school')
                throw new ApiError(
                  403,
                  'FORBIDDEN',
                  `teacher ${principal.userId} is not on the staff of school ${principal.schoolId}`,
                )
              throw error
            })
          return { status: 201, body: classroomView(row) }
        })
      },
    )

    app.get<{ Querystring: ListQuery }>(
      '/classrooms',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, finite: true, default: 20 },
              cursor: { type: 'string', minLength: 1, maxLength: 64 },
            },
          },
          response: {
            200: answer(
              'One page of classrooms in id order; `nextCursor` fetches the next, null on the last.',
              {
                type: 'object',
                required: ['items', 'nextCursor'],
                additionalProperties: false,
                properties: {
                  items: { type: 'array', items: classroomSchema },
                  nextCursor: { type: ['string', 'null'] },
                },
              },
            ),
            ...errorResponses(['UNAUTHENTICATED', 'VALIDATION_FAILED'], DATABASE_ERRORS),
          },
        },
      },
      async (request, reply) => {
        const { limit, cursor } = request.query
        const afterId = cursor === undefined ? 0 : decodeCursor(cursor)
        // One row more than asked tells whether another page exists, without a count.
        const rows = await db
          .selectFrom('classrooms')
          .selectAll()
          .where('school_id', '=', requestPrincipal(request).schoolId)
          .where('id', '>', afterId)
          .orderBy('id')
          .limit(limit + 1)
          .execute(readOptions(reply))
        const page = rows.slice(0, limit)
        const last = page.at(-1)
        return {
          items: page.map(classroomView),
          nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null,
        }
      },
    )

    // Built and compiled once, run with each request's id: building and compiling it cost about 9 µs
    // a request (BENCHMARKS.md, the api's cost). Only its parameter changes; each run gets its own id.
    const classroomById = db
      .selectFrom('classrooms')
      .selectAll('classrooms')
      // Counted by the database for the caller's school whatever the caller may see of the enrollments (a student: only its own).
      .select(sql<string>`classroom_enrolled_count(classrooms.id)`.as('enrolled_count'))
      .where('id', '=', 0)
      .where('school_id', '=', 0)
      .compile()

    app.get<{ Params: IdParams }>(
      '/classrooms/:id',
      {
        schema: {
          params: idParams,
          response: {
            200: answer(
              'The classroom with the number of students enrolled in it.',
              extended(classroomSchema, { enrolledCount: { type: 'integer' } }),
            ),
            ...errorResponses(['UNAUTHENTICATED'], PATH_ERRORS, DATABASE_ERRORS, ['CLASSROOM_NOT_FOUND']),
          },
        },
      },
      async (request, reply) => {
        const {
          rows: [row],
        } = await db.executeQuery<InferResult<typeof classroomById>[number]>(
          {
            ...classroomById,
            parameters: [request.params.id, requestPrincipal(request).schoolId],
            queryId: createQueryId(),
          },
          readOptions(reply),
        )
        if (!row)
          throw new ApiError(404, 'CLASSROOM_NOT_FOUND', `classroom ${request.params.id} does not exist`)
        return { ...classroomView(row), enrolledCount: Number(row.enrolled_count) }
      },
    )
  }
}
