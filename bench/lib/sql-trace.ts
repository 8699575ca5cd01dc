/**
 * Counts and times every statement node-postgres sends from this process while a trace is on, by
 * wrapping pg.Client.prototype.query (Ludus runs in the benchmark's process, so its pool's clients
 * go through it). Time is from the call to the reply: the round trip plus PostgreSQL's work, plus
 * any wait in the client's own queue. Meant for short sequential runs, not for throughput runs.
 */
import pg from "pg";

export interface StatementStats {
  /** The statement's text, whitespace collapsed. */
  sql: string;
  calls: number;
  totalMs: number;
}

type Query = (...args: unknown[]) => unknown;

function rawText(arg: unknown): string {
  if (typeof arg === "string") return arg;
  const text = typeof arg === "object" && arg !== null ? (arg as { text?: unknown }).text : undefined;
  return typeof text === "string" ? text : "(unknown)";
}

export class SqlTrace {
  private readonly stats = new Map<string, StatementStats>();
  private original: Query | undefined;

  /** `ignore`: clients whose statements are not Ludus's (the benchmark's own connection). */
  constructor(private readonly ignore: readonly pg.Client[] = []) {}

  start(): void {
    if (this.original !== undefined) return;
    const proto = pg.Client.prototype as unknown as { query: Query };
    const original = proto.query;
    this.original = original;
    const stats = this.stats;
    const ignore = this.ignore;
    proto.query = function (this: pg.Client, ...args: unknown[]): unknown {
      if (ignore.includes(this)) return original.apply(this, args);
      const started = performance.now();
      const result = original.apply(this, args);
      const record = () => {
        // Keyed by the raw text (the same string every time); whitespace is collapsed in results().
        const text = rawText(args[0]);
        const entry = stats.get(text) ?? { sql: text, calls: 0, totalMs: 0 };
        entry.calls += 1;
        entry.totalMs += performance.now() - started;
        stats.set(text, entry);
      };
      if (result instanceof Promise) void result.then(record, record);
      return result;
    };
  }

  stop(): void {
    if (this.original === undefined) return;
    (pg.Client.prototype as unknown as { query: Query }).query = this.original;
    this.original = undefined;
  }

  /** Statements seen so far, most time first. */
  results(): StatementStats[] {
    const merged = new Map<string, StatementStats>();
    for (const s of this.stats.values()) {
      const sql = s.sql.replace(/\s+/g, " ").trim();
      const entry = merged.get(sql) ?? { sql, calls: 0, totalMs: 0 };
      entry.calls += s.calls;
      entry.totalMs += s.totalMs;
      merged.set(sql, entry);
    }
    return [...merged.values()].sort((a, b) => b.totalMs - a.totalMs);
  }
}
