import { execFileSync } from 'node:child_process'
import { chmod, chown, copyFile, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'

/** What {@link makeCertificates} made: PEM files in `dir`. */
export interface TestCertificates {
  readonly dir: string
  /** The CA that signed `serverCert`. */
  readonly caFile: string
  /** A second, unrelated CA, which signed `otherServerCert`. */
  readonly otherCaFile: string
  /** For 127.0.0.1 and localhost, signed by `caFile`'s CA; the key is readable by PostgreSQL only. */
  readonly serverCert: string
  readonly serverKey: string
  /** The same names, signed by the other CA. */
  readonly otherServerCert: string
  readonly otherServerKey: string
  /**
   * What to point PostgreSQL's `ssl_cert_file` and `ssl_key_file` at: a copy of the server's pair,
   * to be overwritten with another pair (and the configuration reloaded) while it runs.
   */
  readonly liveCert: string
  readonly liveKey: string
}

/**
 * Two CAs and a server certificate from each, made with openssl for this run, for TLS tests
 * against a real PostgreSQL. Server files belong to `postgres` when run as root: PostgreSQL insists
 * its key is private to the user it runs as. Remove `dir` when done.
 *
 * ```ts
 * const certificates = await makeCertificates()
 * await LocalPostgres.temporary({ settings: { ssl: 'on', ssl_cert_file: certificates.serverCert, ssl_key_file: certificates.serverKey } })
 * ```
 */
export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(path.join(tmpdir(), 'api-tls-'))
  await chmod(dir, 0o755)
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  for (const ca of ['test-ca', 'other-ca']) {
    openssl(
      'req',
      '-x509',
      ...ec,
      '-days',
      '1',
      '-subj',
      `/CN=${ca}`,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.crt`,
    )
  }
  await writeFile(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  const owner =
    userInfo().uid === 0
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
          gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
        }
      : undefined
  for (const [name, ca] of [
    ['server', 'test-ca'],
    ['other-server', 'other-ca'],
  ] as const) {
    openssl('req', ...ec, '-subj', '/CN=localhost', '-keyout', `${name}.key`, '-out', `${name}.csr`)
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      'san.ext',
      '-out',
      `${name}.crt`,
    )
  }
  await copyFile(path.join(dir, 'server.crt'), path.join(dir, 'live.crt'))
  await copyFile(path.join(dir, 'server.key'), path.join(dir, 'live.key'))
  for (const name of ['server', 'other-server', 'live']) {
    await chmod(path.join(dir, `${name}.key`), 0o600)
    if (owner) {
      for (const file of [`${name}.key`, `${name}.crt`])
        await chown(path.join(dir, file), owner.uid, owner.gid)
    }
  }
  const at = (file: string) => path.join(dir, file)
  return {
    dir,
    caFile: at('test-ca.crt'),
    otherCaFile: at('other-ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    otherServerCert: at('other-server.crt'),
    otherServerKey: at('other-server.key'),
    liveCert: at('live.crt'),
    liveKey: at('live.key'),
  }
}
