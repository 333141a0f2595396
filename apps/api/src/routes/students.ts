import type { Student } from '@classroom/classroom-db'
import type { FastifyPluginAsync } from 'fastify'
import { ApiError } from '../api-error.js'
import type { AppDependencies } from '../app-dependencies.js'
import { requestPrincipal, requireRole } from '../auth/authenticate.js'
import { type Principal, STAFF } from '../auth/principal.js'
import { classroomView } from './classroom-view.js'
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
  studentSchema,
  timestamp,
} from './responses.js'
import { type IdParams, idempotencyHeaders, idParams, nameSchema } from './schemas.js'

const UNIQUE_VIOLATION = '23505'

interface CreateStudentBody {
  name: string
  email: string
}

/** Whether the principal may see student `id` at all: staff see their school's, a student itself. */
function maySee(principal: Principal, id: number): boolean {
  return principal.role !== 'student' || principal.userId === id
}

function studentView(row: Student) {
  return { id: row.id, name: row.name, email: row.email, createdAt: row.created_at.toISOString() }
}

/** `POST /students`, `GET /students/:id`, `GET /students/:id/classrooms`. */
export function studentRoutes(deps: AppDependencies): FastifyPluginAsync {
  const { db } = deps
  return async (app) => {
    app.post<{ Body: CreateStudentBody }>(
      '/students',
      {
        schema: {
          headers: idempotencyHeaders,
          body: {
            type: 'object',
            required: ['name', 'email'],
            additionalProperties: false,
            properties: {
              name: nameSchema,
              email: {
                type: 'string',
                maxLength: 254,
                pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
                storableText: true,
              },
            },
          },
          response: {
            201: answer(
              'The student created, email lower-cased (for a repeated Idempotency-Key: the first answer).',
              studentSchema,
              REPLAY_HEADER,
            ),
            ...errorResponses(AUTH_ERRORS, BODY_ERRORS, DATABASE_ERRORS, [
              'EMAIL_TAKEN',
              'IDEMPOTENCY_KEY_REUSED',
            ]),
          },
        },
      },
      async (request, reply) => {
        // Addresses differ only in case are the same mailbox in practice: one student each.
        const email = request.body.email.toLowerCase()
        const { schoolId } = requireRole(request, STAFF, 'create a student')
        return idempotentWrite(deps, request, reply, async (trx) => {
          try {
            const row = await trx
              .insertInto('students')
              .values({ name: request.body.name, email, school_id: schoolId })
              .returningAll()
              .executeTakeFirstOrThrow()
            return { status: 201, body: studentView(row) }
          } catch (error) {
            if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
              throw new ApiError(409, 'EMAIL_TAKEN', `a student with email ${email} already exists`)
            }
            throw error
          }
        })
      },
    )

    app.get<{ Params: IdParams }>(
      '/students/:id',
      {
        schema: {
          params: idParams,
          response: {
            200: answer('The student.', studentSchema),
            ...errorResponses(['UNAUTHENTICATED'], PATH_ERRORS, DATABASE_ERRORS, ['STUDENT_NOT_FOUND']),
          },
        },
      },
      async (request, reply) => {
        const principal = requestPrincipal(request)
        const row = maySee(principal, request.params.id)
          ? await db
              .selectFrom('students')
              .selectAll()
              .where('id', '=', request.params.id)
              .where('school_id', '=', principal.schoolId)
              .executeTakeFirst(readOptions(reply))
          : undefined
        if (!row) throw new ApiError(404, 'STUDENT_NOT_FOUND', `student ${request.params.id} does not exist`)
        return studentView(row)
      },
    )

    app.get<{ Params: IdParams }>(
      '/students/:id/classrooms',
      {
        schema: {
          params: idParams,
          response: {
            200: answer('The classrooms the student is enrolled in, in id order, each with when.', {
              type: 'object',
              required: ['items'],
              additionalProperties: false,
              properties: {
                items: {
                  type: 'array',
                  items: extended(classroomSchema, { enrolledAt: timestamp }),
                },
              },
            }),
            ...errorResponses(['UNAUTHENTICATED'], PATH_ERRORS, DATABASE_ERRORS, ['STUDENT_NOT_FOUND']),
          },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        const principal = requestPrincipal(request)
        if (!maySee(principal, id))
          throw new ApiError(404, 'STUDENT_NOT_FOUND', `student ${id} does not exist`)
        // One query (one connection) answers both "does the student exist" and "where is it enrolled".
        const rows = await db
          .selectFrom('students')
          .leftJoin('enrollments', 'enrollments.student_id', 'students.id')
          .leftJoin('classrooms', 'classrooms.id', 'enrollments.classroom_id')
          .select([
            'classrooms.id',
            'classrooms.name',
            'classrooms.capacity',
            'classrooms.created_at',
            'enrollments.created_at as enrolled_at',
          ])
          .where('students.id', '=', id)
          .where('students.school_id', '=', principal.schoolId)
          .orderBy('classrooms.id')
          .execute(readOptions(reply))
        if (rows.length === 0) throw new ApiError(404, 'STUDENT_NOT_FOUND', `student ${id} does not exist`)
        const enrolled = rows.flatMap((row) =>
          row.id === null ||
          row.name === null ||
          row.capacity === null ||
          row.created_at === null ||
          row.enrolled_at === null
            ? []
            : [
                {
                  ...classroomView({
                    id: row.id,
                    name: row.name,
                    capacity: row.capacity,
                    created_at: row.created_at,
                  }),
                  enrolledAt: row.enrolled_at.toISOString(),
                },
              ],
        )
        return { items: enrolled }
      },
    )
  }
}
