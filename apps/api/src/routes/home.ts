// GET /: what this is and where to look next, as a page for a browser and as JSON for anything else.
import type { FastifyPluginAsync } from 'fastify'
import { DOCUMENTATION_PATH } from '../openapi.js'
import { answer, errorResponses } from './responses.js'

const TITLE = 'Classroom API'
const SUMMARY = 'Classrooms, students and enrollments over HTTP, on PostgreSQL through db-core.'

/** The places `GET /` points to, in the order it lists them. */
export const HOME_LINKS = [
  {
    rel: 'documentation',
    href: DOCUMENTATION_PATH,
    title: 'API reference: every route, tried from the page',
  },
  { rel: 'openapi', href: `${DOCUMENTATION_PATH}/json`, title: 'The OpenAPI 3.1 document' },
  { rel: 'health', href: '/healthz', title: 'Liveness: the process answers' },
  { rel: 'readiness', href: '/readyz', title: 'Readiness: the database answers too' },
  { rel: 'metrics', href: '/metrics', title: 'Prometheus metrics' },
] as const

const homeSchema = {
  type: 'object',
  required: ['name', 'description', 'links'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    links: {
      type: 'array',
      items: {
        type: 'object',
        required: ['rel', 'href', 'title'],
        additionalProperties: false,
        properties: { rel: { type: 'string' }, href: { type: 'string' }, title: { type: 'string' } },
      },
    },
  },
} as const

// Fixed text (no request data in it), so built once. The empty icon spares the browser a /favicon.ico 404.
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${TITLE}</title>
<link rel="icon" href="data:,">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}a{color:#0b5cad}</style>
</head>
<body>
<h1>${TITLE}</h1>
<p>${SUMMARY}</p>
<ul>
${HOME_LINKS.map((link) => `<li><a href="${link.href}" rel="${link.rel}">${link.href}</a>: ${link.title}</li>`).join('\n')}
</ul>
</body>
</html>
`

/** Whether the client asks for HTML: its Accept header names `text/html` (as browsers' do), not with q=0. */
function wantsHtml(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some((range) => /^\s*text\/html\s*(;|$)/i.test(range) && !/;\s*q\s*=\s*0(\.0*)?\s*(;|$)/i.test(range))
}

/** `GET /`: an HTML page for a browser (Accept names text/html), JSON otherwise. */
export function homeRoutes(): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/',
      {
        // What this is and where to look: no token needed to find out.
        config: { access: 'open' },
        schema: {
          response: {
            200: answer(
              'What this is and where to look: HTML when Accept names `text/html` (a browser), else JSON.',
              {
                content: {
                  'application/json': { schema: homeSchema },
                  'text/html': { schema: { type: 'string' } },
                },
              },
              { vary: { type: 'string', const: 'Accept', description: 'The answer depends on Accept.' } },
            ),
            ...errorResponses(),
          },
        },
      },
      async (request, reply) => {
        reply.header('vary', 'Accept')
        if (wantsHtml(request.headers.accept)) return reply.type('text/html; charset=utf-8').send(PAGE)
        return reply.type('application/json; charset=utf-8').send({
          name: TITLE,
          description: SUMMARY,
          links: HOME_LINKS,
        })
      },
    )
  }
}
