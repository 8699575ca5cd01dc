/** Event-type filters: an exact key, a prefix such as `quest.*`, or `*` for every type. */
export const EVENT_FILTER_PATTERN = "^(\\*|[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*(\\.\\*)?)$";

export function matches(filters: readonly string[], type: string): boolean {
  return filters.some(
    (f) => f === "*" || f === type || (f.endsWith(".*") && type.startsWith(f.slice(0, -1))),
  );
}
