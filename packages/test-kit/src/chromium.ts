// Headless Chromium for tests that look at a page as a person would: Debian's chromium, driven by playwright-core.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium'

// Headless, and quiet: nothing of its own on the network (no updates, sync or field trials), no GPU.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * Debian's chromium, installed with apt-get when missing and we are root (as the tests get
 * PostgreSQL's tools); otherwise an error saying how to get it.
 *
 * ```ts
 * const executable = ensureChromium() // '/usr/bin/chromium'
 * ```
 */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH
  if (process.getuid?.() !== 0) {
    throw new Error(`${CHROMIUM_PATH} is missing and installing it needs root: apt-get install chromium`)
  }
  execFileSync(
    'sh',
    [
      '-c',
      // Another test may be installing a package too: wait for apt's lock instead of failing on it.
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends chromium',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get install chromium left no ${CHROMIUM_PATH}`)
  return CHROMIUM_PATH
}

/** What a page did that a person would not see in a screenshot. */
export interface PageRecord {
  /** Every URL the browser asked for, in order. */
  readonly requests: string[]
  /** Console errors and uncaught exceptions, as text. */
  readonly errors: string[]
}

/** A headless Chromium with a new empty profile, recording what its pages request and report. */
export interface HeadlessChromium {
  /** A new page whose requests and errors go to `record`. */
  open(): Promise<{ page: Page; record: PageRecord }>
  /** Writes the whole of `page` to `<package>/test-results/<name>.png` (gitignored) for a developer to look at; its path. */
  screenshot(page: Page, name: string): Promise<string>
  /** Closes the browser and removes its profile. */
  close(): Promise<void>
}

/**
 * Starts Debian's Chromium headless ({@link ensureChromium}) on a profile of its own; screenshots go
 * to `test-results/` in the package whose folder `packageUrl` is.
 *
 * ```ts
 * const browser = await launchChromium(new URL('..', import.meta.url))
 * const { page, record } = await browser.open()
 * await page.goto('http://127.0.0.1:3000/documentation')
 * await browser.screenshot(page, 'documentation')
 * await browser.close()
 * ```
 */
export async function launchChromium(packageUrl: URL): Promise<HeadlessChromium> {
  const screenshots = path.join(fileURLToPath(packageUrl), 'test-results')
  const executablePath = ensureChromium()
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'chromium-profile-'))
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 900 },
    })
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true })
    throw error
  }
  return {
    open: async () => {
      const page = await context.newPage()
      const record: PageRecord = { requests: [], errors: [] }
      page.on('request', (request) => record.requests.push(request.url()))
      page.on('console', (message) => {
        if (message.type() === 'error') record.errors.push(`console: ${message.text()}`)
      })
      page.on('pageerror', (error) => record.errors.push(`uncaught: ${error.message}`))
      return { page, record }
    },
    screenshot: async (page, name) => {
      await mkdir(screenshots, { recursive: true })
      const file = path.join(screenshots, `${name}.png`)
      await page.screenshot({ path: file, fullPage: true })
      return file
    },
    close: async () => {
      await context.close()
      await rm(userDataDir, { recursive: true, force: true })
    },
  }
}

// URLs that never leave the machine: the page's own data, and files.
const LOCAL_PROTOCOLS = new Set(['data:', 'blob:', 'file:'])

/** The requests in `record` that went anywhere but 127.0.0.1 (`data:`, `blob:` and `file:` URLs stay here). */
export function requestsOffThisMachine(record: PageRecord): string[] {
  return record.requests.filter((url) => {
    const { protocol, hostname } = new URL(url)
    return !(LOCAL_PROTOCOLS.has(protocol) || hostname === '127.0.0.1')
  })
}
