import type { FastifyPluginAsync } from 'fastify'
import { ApiError } from '../api-error.js'
import type { AppDependencies } from '../app-dependencies.js'
import { forbidden, requireRole } from '../auth/authenticate.js'
import { type Principal, STAFF } from '../auth/principal.js'
import { idempotentWrite } from './idempotent-write.js'
import {
  AUTH_ERRORS,
  answer,
  BODY_ERRORS,
  DATABASE_ERRORS,
  errorResponses,
  PATH_ERRORS,
  REPLAY_HEADER,
  timestamp,
} from './responses.js'
import { idempotencyHeaders, idParams, idSchema } from './schemas.js'

interface EnrollParams {
  id: number
}

interface EnrollBody {
  studentId: number
}

interface UnenrollParams {
  id: number
  studentId: number
}

/** A teacher manages the enrollments of its own classrooms only; an admin those of its school. */
function mayManage(principal: Principal, classroom: { id: number; teacher_id: number | null }): void {
  if (principal.role === 'teacher' && classroom.teacher_id !== principal.userId)
    throw forbidden(
      principal,
      `change the enrollments of classroom ${classroom.id}`,
      'its teacher or a school admin',
    )
}

/** `POST /classrooms/:id/enrollments` and `DELETE /classrooms/:id/enrollments/:studentId`. */
export function enrollmentRoutes(deps: AppDependencies): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: EnrollParams; Body: EnrollBody }>(
      '/classrooms/:id/enrollments',
      {
        schema: {
          headers: idempotencyHeaders,
          params: idParams,
          body: {
            type: 'object',
            required: ['studentId'],
            additionalProperties: false,
            properties: { studentId: idSchema },
          },
          response: {
            201: answer(
              'The enrollment made (for a repeated Idempotency-Key: the first answer).',
              {
                type: 'object',
                required: ['classroomId', 'studentId', 'createdAt'],
                additionalProperties: false,
                properties: {
                  classroomId: { type: 'integer' },
                  studentId: { type: 'integer' },
                  createdAt: timestamp,
                },
              },
              REPLAY_HEADER,
            ),
            ...errorResponses(AUTH_ERRORS, PATH_ERRORS, BODY_ERRORS, DATABASE_ERRORS, [
              'CLASSROOM_NOT_FOUND',
              'STUDENT_NOT_FOUND',
              'ALREADY_ENROLLED',
              'CLASSROOM_FULL',
              'IDEMPOTENCY_KEY_REUSED',
            ]),
          },
        },
      },
      async (request, reply) => {
        const classroomId = request.params.id
        const { studentId } = request.body
        const principal = requireRole(request, STAFF, 'enroll a student')
        return idempotentWrite(deps, request, reply, async (trx) => {
          // Locking the classroom row serialises enrollments into it: the count below cannot go
          // stale before our insert commits, so capacity holds under any concurrency.
          const classroom = await trx
            .selectFrom('classrooms')
            .select(['id', 'capacity', 'teacher_id'])
            .where('id', '=', classroomId)
            .where('school_id', '=', principal.schoolId)
            .forUpdate()
            .executeTakeFirst()
          if (!classroom)
            throw new ApiError(404, 'CLASSROOM_NOT_FOUND', `classroom ${classroomId} does not exist`)
          mayManage(principal, classroom)
          const student = await trx
            .selectFrom('students')
            .select('id')
            .where('id', '=', studentId)
            .where('school_id', '=', principal.schoolId)
            .executeTakeFirst()
          if (!student) throw new ApiError(404, 'STUDENT_NOT_FOUND', `student ${studentId} does not exist`)
          const { enrolled, already } = await trx
            .selectFrom('enrollments')
            .select((eb) => [
              eb.fn.countAll<string>().as('enrolled'),
              eb.fn.countAll<string>().filterWhere('student_id', '=', studentId).as('already'),
            ])
            .where('classroom_id', '=', classroomId)
            .executeTakeFirstOrThrow()
          if (Number(already) > 0) {
            throw new ApiError(
              409,
              'ALREADY_ENROLLED',
              `student ${studentId} is already enrolled in classroom ${classroomId}`,
            )
          }
          if (Number(enrolled) >= classroom.capacity) {
            throw new ApiError(
              409,
              'CLASSROOM_FULL',
              `classroom ${classroomId} is full (capacity ${classroom.capacity})`,
            )
          }
          const enrollment = await trx
            .insertInto('enrollments')
            .values({ school_id: principal.schoolId, classroom_id: classroomId, student_id: studentId })
            .returning(['classroom_id', 'student_id', 'created_at'])
            .executeTakeFirstOrThrow()
          return {
            status: 201,
            body: {
              classroomId: enrollment.classroom_id,
              studentId: enrollment.student_id,
              createdAt: enrollment.created_at.toISOString(),
            },
          }
        })
      },
    )

    app.delete<{ Params: UnenrollParams }>(
      '/classrooms/:id/enrollments/:studentId',
      {
        schema: {
          headers: idempotencyHeaders,
          params: {
            type: 'object',
            required: ['id', 'studentId'],
            additionalProperties: false,
            properties: { id: idSchema, studentId: idSchema },
          },
          response: {
            204: answer('The student is no longer enrolled; no body.', { type: 'null' }, REPLAY_HEADER),
            // A body, though none is needed, is parsed: its refusals apply too.
            ...errorResponses(AUTH_ERRORS, PATH_ERRORS, BODY_ERRORS, DATABASE_ERRORS, [
              'ENROLLMENT_NOT_FOUND',
              'IDEMPOTENCY_KEY_REUSED',
            ]),
          },
        },
      },
      async (request, reply) => {
        const { id, studentId } = request.params
        const principal = requireRole(request, STAFF, 'unenroll a student')
        return idempotentWrite(deps, request, reply, async (trx) => {
          const classroom = await trx
            .selectFrom('classrooms')
            .select(['id', 'teacher_id'])
            .where('id', '=', id)
            .where('school_id', '=', principal.schoolId)
            .executeTakeFirst()
          if (classroom) mayManage(principal, classroom)
          const deleted = await trx
            .deleteFrom('enrollments')
            .where('school_id', '=', principal.schoolId)
            .where('classroom_id', '=', id)
            .where('student_id', '=', studentId)
            .executeTakeFirst()
          if (deleted.numDeletedRows === 0n) {
            throw new ApiError(
              404,
              'ENROLLMENT_NOT_FOUND',
              `student ${studentId} is not enrolled in classroom ${id}`,
            )
          }
          return { status: 204 }
        })
      },
    )
  }
}
