/** A command line that cannot run: says what is wrong; the command prints it with its usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/**
 * An option's whole number of at least `min` (`fallback` when absent), or a {@link UsageError}
 * naming the option, the unit and what it got.
 *
 * ```ts
 * const rounds = wholeNumberOption('rounds', values.rounds, { fallback: 5, min: 1 })
 * const seconds = wholeNumberOption('duration', values.duration, { fallback: 60, min: 1, unit: 'seconds' })
 * ```
 */
export function wholeNumberOption(
  name: string,
  raw: unknown,
  { fallback, min, unit }: { readonly fallback: number; readonly min: number; readonly unit?: string },
): number {
  if (raw === undefined) return fallback
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < min) {
    throw new UsageError(`--${name} takes a whole number${unit ? ` of ${unit}` : ''} ≥ ${min}, not "${raw}"`)
  }
  return Number(raw)
}
