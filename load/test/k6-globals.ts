// k6 scripts read __ENV at import time.
;(globalThis as { __ENV?: Record<string, string> }).__ENV = {}
