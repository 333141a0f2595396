import pg from 'pg'
import { describe, expect, it } from 'vitest'
import * as dbCore from '../src/index.js'
import { InstrumentedPool } from '../src/index.js'

// The driver reaches the pool through a module-private symbol: the pool's public surface is pg.Pool's
// plus what a service uses, never a method that exists only for db-core's own driver.
describe("the pool's public surface", () => {
  it("is pg.Pool's methods plus max, stats, settings, endWithin and connectDetached", () => {
    const own = Object.getOwnPropertyNames(InstrumentedPool.prototype).filter(
      (name) => name !== 'constructor',
    )
    const added = own.filter((name) => !(name in pg.Pool.prototype))
    expect(added.sort()).toEqual(['connectDetached', 'endWithin', 'max', 'settings', 'stats'])
  })

  it('exports no internal symbol from the package', () => {
    const symbols = Object.values(dbCore).filter((value) => typeof value === 'symbol')
    expect(symbols).toEqual([])
    expect(Object.getOwnPropertySymbols(InstrumentedPool.prototype).map(String)).toEqual([
      'Symbol(db-core pool internals)',
    ])
  })
})
