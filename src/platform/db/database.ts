import { createHash } from "node:crypto";
import pg from "pg";
import type { Logger } from "pino";
import { DatabaseHealth, DatabaseUnavailableError, isConnectionError } from "./availability.ts";

// int8 (bigint) columns arrive as JS numbers, exactly: balances, counters and scores are kept
// within ±10^15 (src/platform/limits.ts, and CHECK constraints since migration 0015), far below
// 2^53, and ids that could one day grow past it (the ledger's) are read as text where they are
// shown. A value past 2^53 can then only be a row written before those constraints: it is read as
// the nearest number rather than failing every read of its player, and `ludus verify` lists it.
export function parseInt8(value: string): number {
  return Number(value);
}
pg.types.setTypeParser(20, parseInt8);

/** The name of the role that request work runs as. It owns nothing; see migrations/0001. */
export const RUNTIME_ROLE = "ludus_app";

/** A connection inside one transaction, with typed helpers. All values go as $n parameters. */
export interface Tx {
  rows<R extends pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<R[]>;
  /** Exactly one row, or an error: for statements that cannot return zero rows. */
  one<R extends pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<R>;
  maybeOne<R extends pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<R | undefined>;
  /** Runs a statement and returns the number of rows it touched. */
  exec(text: string, values?: readonly unknown[]): Promise<number>;
  /**
   * Runs `apply` just before COMMIT, while the transaction's locks are held (so changes to state
   * outside PostgreSQL, such as a rank index, happen in the order of the transactions), and `undo`
   * if the transaction then fails to commit. Dry runs, which roll back, run neither. When the
   * connection fails after COMMIT was sent, whether it committed is unknown: then neither `undo`
   * nor anything else runs but `uncertain`, which should make the outside state rebuild itself.
   */
  beforeCommit(apply: () => Promise<void>, undo: () => Promise<void>, uncertain?: () => void): void;
}

interface CommitHook {
  apply: () => Promise<void>;
  undo: () => Promise<void>;
  uncertain?: () => void;
  applied: boolean;
}

/** Who a transaction acts for; row-level security in PostgreSQL reads it. */
export type Actor = { kind: "user"; userId: string } | { kind: "system" };

// SQLSTATEs that mean "try the whole transaction again"; every other error is final.
const RETRYABLE = new Set(["40001", "40P01"]);

/**
 * A prepared statement made stale by a schema change under a live pool (another instance ran a
 * migration): the connection's statements are unusable, so it is thrown away and the transaction
 * retried on a fresh one.
 */
function isStalePlan(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    (code === "0A000" && typeof message === "string" && message.includes("cached plan")) ||
    (code === "XX000" && typeof message === "string" && message.startsWith("cache lookup failed"))
  );
}
const MAX_ATTEMPTS = 5;

// Statements are sent as named prepared statements: PostgreSQL then parses and plans each text once
// per connection instead of on every call (planning was about half of the engine's database time).
// The name is derived from the text, so one text always maps to one name.
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `ludus_${createHash("sha1").update(text).digest("base64url")}`;
    statementNames.set(text, name);
  }
  return name;
}

function run<R extends pg.QueryResultRow>(client: pg.PoolClient, text: string, values?: readonly unknown[]) {
  return client.query<R>({ name: statementName(text), text, values: values as unknown[] | undefined });
}

function wrap(client: pg.PoolClient, hooks: CommitHook[]): Tx {
  const rows = async <R extends pg.QueryResultRow>(text: string, values?: readonly unknown[]) =>
    (await run<R>(client, text, values)).rows;
  return {
    rows,
    async one<R extends pg.QueryResultRow>(text: string, values?: readonly unknown[]) {
      const result = await rows<R>(text, values);
      if (result.length !== 1 || result[0] === undefined) {
        throw new Error(`expected one row, got ${result.length}`);
      }
      return result[0];
    },
    async maybeOne<R extends pg.QueryResultRow>(
      text: string,
      values?: readonly unknown[],
    ): Promise<R | undefined> {
      const result: R[] = await rows<R>(text, values);
      return result[0];
    },
    async exec(text: string, values?: readonly unknown[]) {
      return (await run(client, text, values)).rowCount ?? 0;
    },
    beforeCommit(apply, undo, uncertain) {
      hooks.push({ apply, undo, uncertain, applied: false });
    },
  };
}

export interface TransactionOptions {
  /** Roll back instead of committing (dry runs). */
  rollback?: boolean;
  /** One snapshot for every statement (consistent multi-query reads). */
  repeatableRead?: boolean;
}

export class Database {
  /** Whether the database answered the last transaction; logs outages once. */
  readonly health: DatabaseHealth;
  private closing = false;

  constructor(
    readonly pool: pg.Pool,
    private readonly logger: Logger,
  ) {
    this.health = new DatabaseHealth(logger);
    // An idle connection that fails (the server restarted, a backend was terminated) is dropped by
    // the pool, which then emits 'error': without a listener that would end the process.
    pool.on("error", (err) => {
      if (!this.closing) this.health.down(err);
    });
    // From its first moment, every client has a listener of its own. The pool removes its idle
    // listener before a checked-out client reaches `transaction` (a microtask later), and a backend
    // terminated just after its startup sends its FATAL in that gap: unheard, it ends the process.
    // Whoever holds the client learns of the failure from its next statement.
    pool.on("connect", (client) => {
      client.on("error", () => undefined);
    });
  }

  /** Runs fn in a transaction whose row-level security sees only this user's rows. */
  asUser<T>(userId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.transaction({ kind: "user", userId }, fn);
  }

  /**
   * Runs fn in a transaction that sees every row. Reserved for work no single player owns:
   * login lookups, admin routes (which audit themselves), the scheduler.
   */
  asSystem<T>(fn: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return this.transaction({ kind: "system" }, fn, options);
  }

  /**
   * Runs fn in a transaction that is always rolled back: for dry runs that must show exactly what
   * the real thing would do and leave nothing behind.
   */
  rolledBack<T>(actor: Actor, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.transaction(actor, fn, { rollback: true });
  }

  /**
   * Runs fn in a transaction, retried on serialization failures and deadlocks. A lost or refused
   * connection rejects with DatabaseUnavailableError (never retried here: after COMMIT was sent it
   * may have committed) and the broken connection is thrown away.
   */
  async transaction<T>(
    actor: Actor,
    fn: (tx: Tx) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw this.failed(error, false);
      }
      // A checked-out client has no listener of the pool's: a connection that fails while it is
      // checked out (between two statements, say) would emit an unhandled 'error' and end the
      // process. Noted here; the statement in flight (or the next one) rejects.
      let broken: unknown;
      const onError = (err: unknown) => {
        broken ??= err;
      };
      client.on("error", onError);
      let discard = false;
      let commitSent = false;
      const hooks: CommitHook[] = [];
      try {
        await client.query(
          options.repeatableRead === true ? "BEGIN ISOLATION LEVEL REPEATABLE READ" : "BEGIN",
        );
        // Transaction-local settings: they vanish at COMMIT/ROLLBACK, so a pooled connection
        // never carries one request's identity into the next.
        await run(
          client,
          "SELECT set_config('ludus.user_id', $1, true), set_config('ludus.system', $2, true)",
          [actor.kind === "user" ? actor.userId : "", actor.kind === "system" ? "on" : "off"],
        );
        const result = await fn(wrap(client, hooks));
        if (options.rollback !== true) {
          for (const hook of hooks) {
            await hook.apply();
            hook.applied = true;
          }
        }
        commitSent = options.rollback !== true;
        await client.query(options.rollback === true ? "ROLLBACK" : "COMMIT");
        this.health.up();
        return result;
      } catch (error) {
        const lost = broken !== undefined || isConnectionError(error);
        if (lost) discard = true;
        else await client.query("ROLLBACK").catch(() => undefined);
        const applied = hooks.filter((h) => h.applied).reverse();
        if (lost && commitSent) {
          // It may have committed: neither keep nor undo what was applied; have it rebuilt.
          for (const hook of applied) hook.uncertain?.();
        } else {
          for (const hook of applied) {
            await hook.undo().catch((err: unknown) => {
              this.logger.error({ err }, "could not undo a change made for a transaction that failed");
            });
          }
        }
        // A statement error seen after the connection broke (a row missing from a read cut
        // short) is the outage's doing, not the request's.
        if (lost) {
          const cause = isConnectionError(error) ? error : broken;
          if (cause instanceof DatabaseUnavailableError) throw cause;
          if (!this.closing) this.health.down(cause);
          throw new DatabaseUnavailableError(cause, commitSent);
        }
        const code = (error as { code?: unknown }).code;
        if (isStalePlan(error) && attempt < MAX_ATTEMPTS) {
          discard = true;
          this.logger.warn(
            { code, attempt },
            "stale prepared statement after a schema change; retrying on a new connection",
          );
          continue;
        }
        if (typeof code === "string" && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) {
          this.logger.debug({ code, attempt }, "retrying transaction");
          await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** attempt));
          continue;
        }
        throw error;
      } finally {
        client.removeListener("error", onError);
        client.release(discard);
      }
    }
  }

  /** A connection error as DatabaseUnavailableError (the outage noted once); anything else as it is. */
  private failed(error: unknown, commitSent: boolean): unknown {
    if (error instanceof DatabaseUnavailableError) return error;
    if (!isConnectionError(error)) return error;
    if (!this.closing) this.health.down(error);
    return new DatabaseUnavailableError(error, commitSent);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.pool.end();
  }
}

/** How long a transaction waits for a pooled connection (a new one, or a free one) before 503. */
export const CONNECT_TIMEOUT_MS = 5000;

/**
 * A pool for request work. With a dedicated runtime login (DATABASE_APP_URL) it connects as that
 * role; otherwise it connects with the main URL and the server switches every connection to the
 * runtime role at startup (PostgreSQL refuses the connection if it cannot).
 */
export function createRuntimePool(url: string, max: number, switchRole: boolean): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max,
    // Generic plans: the engine's statements take arrays, and re-planning them for each call's
    // values cost more than it ever saved. Planned once per connection, then reused.
    options: `${switchRole ? `-c role=${RUNTIME_ROLE} ` : ""}-c plan_cache_mode=force_generic_plan`,
    application_name: "ludus",
    // While the database is down or unreachable, a request waits at most this long for a
    // connection and then answers 503, rather than hanging.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
  });
}
