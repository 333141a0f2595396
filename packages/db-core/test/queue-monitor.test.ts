import { recordingLogger } from '@classroom/test-kit'
import { describe, expect, it } from 'vitest'
import { QueueMonitor } from '../src/pool/queue-monitor.js'
import { ManualClock } from './manual-clock.js'

// The monitor's logic on a manual clock; pool.test.ts proves the same end to end on a real pool.
function monitor(threshold = 3, intervalMs = 1000) {
  const clock = new ManualClock()
  const { logger, lines } = recordingLogger()
  const queue = { waiting: 0, idle: 0 }
  const subject = new QueueMonitor({
    threshold,
    intervalMs,
    logger,
    clock,
    waiting: () => queue.waiting,
    snapshot: () => ({ waiting: queue.waiting, total: 5, idle: queue.idle, max: 5 }),
  })
  return { clock, lines, queue, subject }
}

describe('QueueMonitor', () => {
  it('says nothing at the threshold, warns once above it', () => {
    const { lines, queue, subject } = monitor(3)
    queue.waiting = 3
    subject.check()
    expect(lines).toEqual([])
    queue.waiting = 4
    subject.check()
    subject.check()
    expect(lines).toEqual([
      {
        level: 'warn',
        message: 'database pool wait queue above threshold',
        waiting: 4,
        total: 5,
        idle: 0,
        max: 5,
        threshold: 3,
      },
    ])
  })

  it('says nothing while idle connections are there for the queue: pg-pool serves it a tick later', () => {
    const { lines, queue, subject } = monitor(3)
    queue.waiting = 7
    queue.idle = 4
    subject.check()
    expect(lines).toEqual([])
    queue.idle = 3
    subject.check()
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', waiting: 7, idle: 3 })])
  })

  it('repeats the warning once per interval while the queue stays above, polling on its own', () => {
    const { clock, lines, queue, subject } = monitor(3, 1000)
    queue.waiting = 8
    subject.check()
    clock.advance(999)
    expect(lines).toHaveLength(1)
    clock.advance(1)
    expect(lines).toHaveLength(2)
    clock.advance(3000)
    expect(lines.map((l) => l.level)).toEqual(['warn', 'warn', 'warn', 'warn', 'warn'])
  })

  it('says once when the queue drained, with the peak, and stops polling', () => {
    const { clock, lines, queue, subject } = monitor(3, 1000)
    queue.waiting = 6
    subject.check()
    queue.waiting = 9
    subject.check()
    queue.waiting = 1
    clock.advance(1000)
    expect(lines.at(-1)).toMatchObject({
      level: 'info',
      message: 'database pool wait queue drained',
      peakWaiting: 9,
    })
    expect(clock.timers).toBe(0)
    clock.advance(10_000)
    expect(lines.filter((l) => l.level === 'info')).toHaveLength(1)
  })

  it('forgets the alert on stop', () => {
    const { clock, lines, queue, subject } = monitor(3, 1000)
    queue.waiting = 6
    subject.check()
    subject.stop()
    expect(clock.timers).toBe(0)
    queue.waiting = 0
    subject.check()
    expect(lines.map((l) => l.level)).toEqual(['warn'])
  })
})
