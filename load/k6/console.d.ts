// k6 provides console.log; @types/k6 does not declare it.
declare const console: { log(...values: unknown[]): void }
