import type { Logger } from "pino";

// Errors that say "the database (or the way to it) is not there", as opposed to "this statement is
// wrong": the connection exception class (08), the server shutting down or starting (57P01-57P03),
// too many connections (53300), socket errors, and the messages pg and pg-pool use for a connection
// that ended or could not be made in time.
const SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
const MESSAGES = [
  "Connection terminated",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
  "timeout exceeded when trying to connect",
  "Cannot use a pool after calling end on the pool",
  "Connection closed",
];

/** Whether an error means the database connection was lost or could not be made. */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (typeof error !== "object" || error === null) return false;
  const { code, message, errors } = error as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof code === "string") {
    if (code.startsWith("08") && code.length === 5) return true;
    if (SQLSTATES.has(code) || SOCKET_CODES.has(code)) return true;
  }
  if (typeof message === "string" && MESSAGES.some((m) => message.startsWith(m))) return true;
  // Node's AggregateError (a host with several addresses, none answering).
  if (Array.isArray(errors)) return errors.some(isConnectionError);
  return false;
}

/**
 * A transaction could not run, or could not finish, because the database connection failed. Nothing
 * the transaction did is visible, except when the connection failed after COMMIT was sent: then the
 * outcome is unknown (`commitUnknown`), and the transaction is not retried here. Answered as 503
 * `db.unavailable`; a client retry with the same idempotency key is safe either way.
 */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";

  constructor(
    override readonly cause: unknown,
    readonly commitUnknown = false,
  ) {
    super(`database unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/**
 * Whether the database is reachable, as the last transaction found it: logs once when an outage
 * begins and once when it ends, so that a down database does not flood the log with one line per
 * request or per loop tick.
 */
export class DatabaseHealth {
  private downSince: number | undefined;

  constructor(private readonly logger: Logger) {}

  get available(): boolean {
    return this.downSince === undefined;
  }

  down(err: unknown): void {
    if (this.downSince !== undefined) return;
    this.downSince = Date.now();
    this.logger.error({ err }, "database unavailable; answering 503 and retrying until it is back");
  }

  up(): void {
    if (this.downSince === undefined) return;
    const ms = Date.now() - this.downSince;
    this.downSince = undefined;
    this.logger.warn({ outageMs: ms }, "database available again");
  }
}
