import type { Logger } from "pino";
import type { Clock } from "../platform/clock.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { backoffMs, errorText } from "./backoff.ts";
import type { OutboxMessage } from "./messages.ts";
import * as store from "./outbox.store.ts";

/** A channel fed by the dispatcher (webhooks, notifications): its work joins the dispatch transaction. */
export interface OutboxHandler {
  readonly name: string;
  handle(tx: Tx, message: OutboxMessage, now: Date): Promise<void>;
}

export interface DispatcherSettings {
  /** Players taken per tick. */
  playersPerTick: number;
  /** Rows of one player taken per transaction. */
  rowsPerPlayer: number;
  /** Players worked on at once. */
  concurrency: number;
  /** Tries of a row before it becomes a dead letter. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export const DISPATCHER_DEFAULTS: DispatcherSettings = {
  playersPerTick: 200,
  rowsPerPlayer: 100,
  concurrency: 2,
  maxAttempts: 10,
  retryBaseMs: 1000,
  retryMaxMs: 10 * 60_000,
};

export function toMessage(row: store.OutboxRow): OutboxMessage {
  const p = row.payload;
  const e = p.effects ?? {};
  return {
    id: row.id,
    userId: row.user_id,
    topic: row.topic,
    eventId: p.eventId,
    type: p.type,
    occurredAt: p.occurredAt,
    parentId: p.parentId ?? null,
    data: p.data ?? {},
    effects: {
      awards: e.awards ?? [],
      levelUps: e.levelUps ?? [],
      achievements: e.achievements ?? [],
      streaks: e.streaks ?? [],
      quests: e.quests ?? [],
    },
    boards: p.boards ?? [],
    createdAt: row.created_at,
  };
}

/**
 * Works through the outbox: every row the engine wrote in an event's transaction is handed, after
 * that transaction committed, to each channel, in one transaction per player with the row marked
 * dispatched — so a channel's work (a webhook delivery, a notification) exists exactly when the
 * row is dispatched, and a crash at any point leaves the row to be dispatched again (at least
 * once; channels make their rows idempotent by outbox id or event id).
 *
 * Order: one worker at a time per player (an advisory lock), rows by id. A failing row is retried
 * with exponential backoff and holds back the player's later rows until it succeeds or, after
 * `maxAttempts`, becomes a dead letter (listed for admins, who may requeue it).
 */
export class Dispatcher {
  private readonly handlers: OutboxHandler[] = [];
  private readonly listeners: ((userId: string, lastId: number) => void)[] = [];

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: DispatcherSettings = DISPATCHER_DEFAULTS,
  ) {}

  use(handler: OutboxHandler): void {
    this.handlers.push(handler);
  }

  /** Called after a player's rows were dispatched (in this process). */
  onDispatched(listener: (userId: string, lastId: number) => void): void {
    this.listeners.push(listener);
  }

  /** One pass over the players with due rows. Returns the rows dispatched and whether more may wait. */
  async runOnce(): Promise<{ dispatched: number; failed: number; more: boolean }> {
    const now = this.clock.now();
    const players = await this.db.asSystem((tx) =>
      store.playersWithWork(tx, now, this.settings.playersPerTick),
    );
    let dispatched = 0;
    let failed = 0;
    let more = players.length >= this.settings.playersPerTick;
    let next = 0;
    const worker = async () => {
      while (next < players.length) {
        const userId = players[next++]!;
        const r = await this.dispatchPlayer(userId, now);
        dispatched += r.dispatched;
        failed += r.failed;
        if (r.full) more = true;
      }
    };
    // Every worker ends before this pass does (so passes never overlap), even when one failed.
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(this.settings.concurrency, players.length) }, worker),
    );
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (rejected !== undefined) throw rejected.reason;
    return { dispatched, failed, more };
  }

  /** Runs passes until nothing due is left (tests; catch-up). */
  async drain(maxPasses = 100): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxPasses; i++) {
      const r = await this.runOnce();
      total += r.dispatched;
      if (r.dispatched === 0 && !r.more) break;
    }
    return total;
  }

  private async dispatchPlayer(userId: string, now: Date) {
    const result = await this.db.asSystem(async (tx) => {
      if (!(await store.tryLockPlayer(tx, userId))) return { dispatched: [], failed: 0, full: false };
      const rows = await store.pendingRows(tx, userId, this.settings.rowsPerPlayer);
      const done: number[] = [];
      let failed = 0;
      for (const row of rows) {
        if (row.next_attempt_at !== null && row.next_attempt_at > now) break;
        await tx.exec("SAVEPOINT outbox_row");
        try {
          // Inside the savepoint: a payload that cannot be read is a failed try like any other.
          const message = toMessage(row);
          for (const handler of this.handlers) await handler.handle(tx, message, now);
          await tx.exec("RELEASE SAVEPOINT outbox_row");
          done.push(row.id);
        } catch (error) {
          await tx.exec("ROLLBACK TO SAVEPOINT outbox_row");
          failed += 1;
          const attempts = row.attempts + 1;
          const dead = attempts >= this.settings.maxAttempts;
          const retryAt = dead
            ? null
            : new Date(
                now.getTime() + backoffMs(attempts, this.settings.retryBaseMs, this.settings.retryMaxMs),
              );
          await store.markFailed(tx, row.id, errorText(error), now, retryAt);
          this.logger.warn(
            { err: error, outboxId: row.id, userId, attempts, dead },
            dead ? "outbox row is a dead letter" : "outbox row failed; will retry",
          );
          // Later rows wait for this one, unless it is dead (then they go on without it).
          if (!dead) break;
        }
      }
      if (done.length > 0) {
        await store.markDispatched(tx, done, now);
        await store.announce(tx, userId, done[done.length - 1]!);
      }
      // Full only when every row read was handled: a row waiting for its retry ends the batch.
      const handled = done.length + failed;
      return {
        dispatched: done,
        failed,
        full: rows.length >= this.settings.rowsPerPlayer && handled === rows.length,
      };
    });
    const last = result.dispatched[result.dispatched.length - 1];
    if (last !== undefined) for (const l of this.listeners) l(userId, last);
    return { dispatched: result.dispatched.length, failed: result.failed, full: result.full };
  }

  deadLetters(afterId: number | null, limit: number) {
    return this.db.asSystem((tx) => store.deadLetters(tx, afterId, limit));
  }

  requeue(ids: number[]) {
    return this.db.asSystem((tx) => store.requeueDead(tx, ids, this.clock.now()));
  }

  /**
   * Deletes dispatched rows older than the stream keeps them for resuming, in batches of
   * `batchSize` (one transaction each) until a batch is not full.
   */
  async purge(keepMs: number, batchSize = 10_000): Promise<number> {
    const before = new Date(this.clock.now().getTime() - keepMs);
    let total = 0;
    for (;;) {
      const n = await this.db.asSystem((tx) => store.purgeDispatched(tx, before, batchSize));
      total += n;
      if (n < batchSize) return total;
    }
  }
}
