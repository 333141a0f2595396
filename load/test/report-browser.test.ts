/// <reference lib="dom" />
// The page-side checks below run in Chromium: they need the DOM's types.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { type HeadlessChromium, launchChromium, requestsOffThisMachine } from '@classroom/test-kit/chromium'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoadResult, runLoad } from '../runner/run-load.js'

// A real drill's report.html (a short `pnpm load steady --duration 3 --warmup 1`: the embedded
// PostgreSQL, the built api, 50 users) opened in Debian's Chromium, headless. The screenshot goes
// to load/test-results/report.png (gitignored).
interface DrawnChart {
  readonly title: string
  readonly width: number
  readonly height: number
  /** The series the legend names ('none' left out). */
  readonly legend: string[]
  /** Each series line: its colour, its length as laid out, and the pixels painted near that colour. */
  readonly lines: { stroke: string; length: number; pixels: number }[]
  /** Pixels painted at all (grid, ticks, markers, lines). */
  readonly painted: number
}

let resultsDir: string
let result: LoadResult
let browser: HeadlessChromium

beforeAll(async () => {
  resultsDir = await mkdtemp(path.join(tmpdir(), 'load-report-browser-'))
  result = await runLoad({
    scenario: 'steady',
    engine: 'node',
    durationSeconds: 3,
    warmupSeconds: 1,
    phases: { before: 1, window: 1, after: 1 },
    mode: 'fast',
    downSeconds: 0,
    resultsDir,
    databaseUrl: undefined,
    restartCommand: undefined,
  })
  browser = await launchChromium(new URL('..', import.meta.url))
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await rm(resultsDir, { recursive: true, force: true })
})

describe("a drill's report.html in a browser", () => {
  it('opens with no console error and nothing fetched, and every chart is drawn: each series its line, in its colour', async () => {
    const { page, record } = await browser.open()
    await page.goto(pathToFileURL(path.join(result.runDir, 'report.html')).href)
    const charts = await page.locator('svg').evaluateAll(async (svgs) => {
      /** Pixels of `svg` as painted, through an image of its markup (what the page shows, not its DOM). */
      async function raster(svg: SVGSVGElement): Promise<Uint8ClampedArray> {
        const image = new Image()
        image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(svg))}`
        await image.decode()
        const canvas = document.createElement('canvas')
        canvas.width = svg.width.baseVal.value
        canvas.height = svg.height.baseVal.value
        const context = canvas.getContext('2d')!
        context.drawImage(image, 0, 0)
        return context.getImageData(0, 0, canvas.width, canvas.height).data
      }
      const rgb = (hex: string) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16))
      return Promise.all(
        (svgs as SVGSVGElement[]).map(async (svg) => {
          const data = await raster(svg)
          const near = (color: number[]) => {
            let count = 0
            for (let i = 0; i < data.length; i += 4) {
              const distance = Math.hypot(
                data[i]! - color[0]!,
                data[i + 1]! - color[1]!,
                data[i + 2]! - color[2]!,
              )
              if (data[i + 3]! > 128 && distance < 60) count++
            }
            return count
          }
          let painted = 0
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++
          const box = svg.getBoundingClientRect()
          const legend = Array.from(svg.previousElementSibling?.querySelectorAll('span') ?? [])
            .map((span) => span.textContent ?? '')
            .filter((name) => name !== 'none')
          return {
            title: svg.getAttribute('aria-label') ?? '',
            width: box.width,
            height: box.height,
            legend,
            lines: Array.from(svg.querySelectorAll('polyline')).map((line) => ({
              stroke: line.getAttribute('stroke') ?? '',
              length: line.getTotalLength(),
              pixels: near(rgb(line.getAttribute('stroke') ?? '#000000')),
            })),
            painted,
          }
        }),
      )
    })
    await browser.screenshot(page, 'report')

    expect(charts.map((chart: DrawnChart) => chart.title)).toEqual([
      'Requests per second',
      'Errors per second, by code',
      'Latency',
      'Database pool',
      'The api process: memory',
      'The api process: event-loop lag, p99 of each second',
    ])
    for (const chart of charts as DrawnChart[]) {
      expect(chart.width, chart.title).toBeGreaterThan(800)
      expect(chart.height, chart.title).toBeGreaterThan(200)
      expect(chart.painted, `${chart.title}: grid, ticks and markers painted`).toBeGreaterThan(1000)
      // A series the legend names and no line drew is a chart missing its data.
      expect(chart.lines.length, `${chart.title}: a line per series`).toBe(chart.legend.length)
      for (const line of chart.lines) {
        expect(line.length, `${chart.title} ${line.stroke}: laid out`).toBeGreaterThan(100)
        expect(line.pixels, `${chart.title} ${line.stroke}: painted`).toBeGreaterThan(50)
      }
    }
    // The load itself: requests, latency, the pool, memory and lag have data (errors only when some failed).
    const withLines = (charts as DrawnChart[]).filter((chart) => chart.lines.length > 0).map((c) => c.title)
    expect(withLines).toEqual(expect.arrayContaining(['Requests per second', 'Latency', 'Database pool']))
    expect(withLines).toHaveLength(5)
    expect(record.errors).toEqual([])
    expect(requestsOffThisMachine(record)).toEqual([])
  })
})
