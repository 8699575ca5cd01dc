/**
 * Exponential backoff: the wait before try `attempt + 1` after `attempt` failed tries, doubling from
 * `baseMs` and capped at `maxMs`. No jitter, so that tests with a moved clock know when a retry is
 * due; deliveries are spread by their own timing.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  return Math.min(maxMs, baseMs * 2 ** exponent);
}

/** An error's message, cut to what a column keeps. Never includes secrets: callers pass no secrets. */
export function errorText(error: unknown, max = 2000): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, max);
}
