// `Response.json(selector)`: the part of gjson's path syntax (k6's) that the built-in engine reads.

/**
 * The value at a gjson path: keys and array indexes separated by dots (`data.items.0.id`), `\.`
 * for a dot inside a key, `#` for an array's length and `#.key` for that key of every element;
 * undefined where the path leads nowhere. gjson's wildcards, queries and modifiers are refused, named.
 *
 * ```ts
 * selectJson({ items: [{ id: 1 }, { id: 2 }] }, 'items.#.id') // [1, 2]
 * ```
 */
export function selectJson(value: unknown, selector: string): unknown {
  const unsupported = /[*?@|()!]/.exec(selector)
  if (unsupported)
    throw new Error(
      `json("${selector}"): gjson's "${unsupported[0]}" does not run here (keys, indexes, "#" and "#.key" do)`,
    )
  return select(
    value,
    selector.split(/(?<!\\)\./).map((part) => part.replace(/\\\./g, '.')),
  )
}

function select(value: unknown, path: readonly string[]): unknown {
  let at = value
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!
    if (key === '#' && Array.isArray(at)) {
      const rest = path.slice(i + 1)
      return rest.length === 0 ? at.length : at.map((element) => select(element, rest))
    }
    if (at === null || typeof at !== 'object') return undefined
    at = (at as Record<string, unknown>)[key]
  }
  return at
}
