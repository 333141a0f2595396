import { recordingLogger } from '@classroom/test-kit'
import { describe, expect, it } from 'vitest'
import { LeakDetector } from '../src/pool/leak-detector.js'
import { ManualClock } from './manual-clock.js'

// The detector's logic on a manual clock; pool.test.ts proves a real leak is reported end to end.
function detector(thresholdMs = 1000) {
  const clock = new ManualClock()
  const { logger, lines } = recordingLogger()
  let leaks = 0
  const subject = new LeakDetector({ thresholdMs, logger, clock, onLeak: () => leaks++ })
  return { clock, lines, subject, leaks: () => leaks }
}

function takeConnection(subject: LeakDetector): Error {
  return subject.captureCaller(takeConnection)
}

describe('LeakDetector', () => {
  it('reports a connection held past the threshold once, with the stack of the code that took it', () => {
    const { clock, lines, subject, leaks } = detector(1000)
    const connection = {}
    subject.track(connection, takeConnection(subject))
    clock.advance(999)
    expect(lines).toEqual([])
    clock.advance(600)
    expect(leaks()).toBe(1)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 'warn', thresholdMs: 1000 })
    expect(lines[0]!.heldMs).toBeGreaterThanOrEqual(1000)
    // The stack starts at the caller of takeConnection: this test.
    expect(String(lines[0]!.acquiredAt)).toMatch(/leak-detector\.test\.ts/)
    expect(String(lines[0]!.acquiredAt)).not.toMatch(/at takeConnection/)
    clock.advance(60_000)
    expect(leaks()).toBe(1)
  })

  it('says when a reported connection comes back, and nothing for one returned in time', () => {
    const { clock, lines, subject } = detector(1000)
    const late = {}
    const prompt = {}
    subject.track(late, takeConnection(subject))
    subject.track(prompt, takeConnection(subject))
    clock.advance(200)
    subject.release(prompt)
    clock.advance(2000)
    subject.release(late)
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['warn', 'database connection held longer than DB_POOL_LEAK_WARN_MS: possible leak'],
      ['info', 'a connection reported as leaked was returned to the pool'],
    ])
  })

  it('runs its sweep only while connections are out', () => {
    const { clock, subject } = detector(1000)
    expect(clock.timers).toBe(0)
    const connection = {}
    subject.track(connection, takeConnection(subject))
    expect(clock.timers).toBe(1)
    subject.release(connection)
    clock.advance(1000)
    expect(clock.timers).toBe(0)
  })
})
