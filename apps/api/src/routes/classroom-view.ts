import type { Classroom } from '@classroom/classroom-db'

/** A classroom as the api shows it. */
export interface ClassroomView {
  id: number
  name: string
  capacity: number
  createdAt: string
}

export function classroomView(
  row: Pick<Classroom, 'id' | 'name' | 'capacity' | 'created_at'>,
): ClassroomView {
  return { id: row.id, name: row.name, capacity: row.capacity, createdAt: row.created_at.toISOString() }
}
