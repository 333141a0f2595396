// k6-summary from jslib.k6.io: k6 fetches it; the built-in engine provides its own. @types/k6 does not declare it.
declare module 'https://jslib.k6.io/k6-summary/0.0.2/index.js' {
  export function textSummary(data: unknown, options?: { indent?: string; enableColors?: boolean }): string
}
