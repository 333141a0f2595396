import { type Kysely, sql } from 'kysely'

/**
 * Row-level security on every table the api serves, reading the request's principal from the
 * transaction-local settings db-core's `withSessionSettings` sets (`app.school_id`, `app.user_id`,
 * `app.role`): without them a role the policies bind (not the tables' owner, `NOBYPASSRLS`) sees
 * and changes nothing. Staff (teachers, school admins) read their school; a student reads its own
 * row and enrollments and its school's classrooms. Staff create classrooms and students; a
 * teacher manages the enrollments of its own classrooms, an admin those of its school. The
 * idempotency keys are each school's; `app.role = 'system'` (the purge) may read and delete any.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function app_school_id() returns integer language sql stable
      as $$ select nullif(current_setting('app.school_id', true), '')::integer $$;
    create function app_user_id() returns integer language sql stable
      as $$ select nullif(current_setting('app.user_id', true), '')::integer $$;
    create function app_role() returns text language sql stable
      as $$ select nullif(current_setting('app.role', true), '') $$;
    create function app_is_staff() returns boolean language sql stable
      as $$ select coalesce(app_role() in ('teacher', 'school_admin'), false) $$;

    -- How many are enrolled in a classroom of the caller's school, whatever the caller may see of the enrollments.
    create function classroom_enrolled_count(classroom integer) returns bigint
      language sql stable security definer set search_path = public
      as $$ select count(*) from enrollments where classroom_id = classroom and school_id = app_school_id() $$;

    alter table schools enable row level security;
    create policy schools_own on schools for select using (id = app_school_id());

    alter table users enable row level security;
    create policy users_staff on users for select using (school_id = app_school_id() and app_is_staff());

    alter table classrooms enable row level security;
    create policy classrooms_read on classrooms for select using (school_id = app_school_id());
    create policy classrooms_create on classrooms for insert with check (
      school_id = app_school_id()
      and (app_role() = 'school_admin' or (app_role() = 'teacher' and teacher_id = app_user_id())));
    -- Staff lock a classroom row to enroll into it (select … for update needs an update policy).
    create policy classrooms_lock on classrooms for update
      using (school_id = app_school_id() and app_is_staff())
      with check (school_id = app_school_id() and app_is_staff());

    alter table students enable row level security;
    create policy students_read on students for select using (
      school_id = app_school_id() and (app_is_staff() or (app_role() = 'student' and id = app_user_id())));
    create policy students_create on students for insert with check (school_id = app_school_id() and app_is_staff());

    alter table enrollments enable row level security;
    create policy enrollments_read on enrollments for select using (
      school_id = app_school_id() and (app_is_staff() or (app_role() = 'student' and student_id = app_user_id())));
    create policy enrollments_enroll on enrollments for insert with check (
      school_id = app_school_id()
      and (app_role() = 'school_admin' or (app_role() = 'teacher' and exists (
        select 1 from classrooms c where c.id = classroom_id and c.teacher_id = app_user_id()))));
    create policy enrollments_unenroll on enrollments for delete using (
      school_id = app_school_id()
      and (app_role() = 'school_admin' or (app_role() = 'teacher' and exists (
        select 1 from classrooms c where c.id = classroom_id and c.teacher_id = app_user_id()))));

    alter table idempotency_keys add column school_id integer default app_school_id();
    alter table idempotency_keys enable row level security;
    create policy idempotency_keys_own on idempotency_keys for all
      using (school_id = app_school_id()) with check (school_id = app_school_id());
    create policy idempotency_keys_purge on idempotency_keys for all
      using (app_role() = 'system') with check (false);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop policy idempotency_keys_purge on idempotency_keys; drop policy idempotency_keys_own on idempotency_keys;
    alter table idempotency_keys disable row level security; alter table idempotency_keys drop column school_id;
    drop policy enrollments_unenroll on enrollments; drop policy enrollments_enroll on enrollments;
    drop policy enrollments_read on enrollments; alter table enrollments disable row level security;
    drop policy students_create on students; drop policy students_read on students;
    alter table students disable row level security;
    drop policy classrooms_lock on classrooms; drop policy classrooms_create on classrooms;
    drop policy classrooms_read on classrooms; alter table classrooms disable row level security;
    drop policy users_staff on users; alter table users disable row level security;
    drop policy schools_own on schools; alter table schools disable row level security;
    drop function classroom_enrolled_count(integer); drop function app_is_staff();
    drop function app_role(); drop function app_user_id(); drop function app_school_id();
  `.execute(db)
}
