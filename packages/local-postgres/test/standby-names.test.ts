import { describe, expect, it } from 'vitest'
import { formatStandbyNames, parseStandbyNames } from '../src/base-backup.js'

describe('synchronous_standby_names', () => {
  it.each([
    ['', []],
    ['standby1', ['standby1']],
    ['a, b,c', ['a', 'b', 'c']],
    ['FIRST 2 (a, b)', ['a', 'b']],
    ['first 1 (a)', ['a']],
    ['ANY 1 (a, "B")', ['a', '"B"']],
    ['2 (a, b)', ['a', 'b']],
    ['FIRST 1 ("with, comma", "say ""hi""")', ['"with, comma"', '"say ""hi"""']],
    ['*', ['*']],
  ])('parses %j as the names %j', (value, names) => {
    expect(parseStandbyNames(value)).toEqual(names)
  })

  it('writes FIRST n of all n names, which parses back to the same names, or nothing for none', () => {
    expect(formatStandbyNames([])).toBe('')
    const names = ['standby1', '"Standby 2"']
    expect(formatStandbyNames(names)).toBe('FIRST 2 (standby1, "Standby 2")')
    expect(parseStandbyNames(formatStandbyNames(names))).toEqual(names)
  })
})
