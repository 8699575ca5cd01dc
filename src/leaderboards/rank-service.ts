import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { RankSink } from "../engine/apply.ts";
import type { RankChange } from "../engine/plan.ts";
import type { Database } from "../platform/db/database.ts";
import { listName } from "./board-feed.ts";
import { rankOrderAfter } from "./leaderboards.store.ts";
import {
  RankIndexNotBuilt,
  RebuildInterrupted,
  type RankIndex,
  type RankKey,
  type SharedRebuild,
} from "./rank-index/rank-index.ts";

/** An entry row in rank-index form. */
interface KeyRow {
  leaderboard_id: string;
  period_key: string;
  user_id: string;
  rank_score: number;
  reached_ms: number;
  reached_text: string;
}

const REBUILD_CHUNK = 50_000;

/**
 * The rank index as the rest of Ludus uses it: filled from PostgreSQL at start (streamed, in
 * chunks, with progress in the logs), kept up to date by every transaction that moves an entry,
 * and not trusted until it is ready or after a change it could not take (then readers answer from
 * PostgreSQL until a rebuild).
 */
export class RankService implements RankSink {
  private ready = false;
  private building: Promise<void> | undefined;
  /**
   * Changes that arrive while an in-process index is rebuilt, replayed after it in the order they
   * came. Replaying is safe whatever the rebuild saw: each change removes the key the one before
   * put in. (A shared index journals changes itself, those of every instance.)
   */
  private pending: RankChange[] | undefined;
  private failed = false;
  /** Retrying a rebuild after the index failed (with this delay, doubling up to a minute). */
  private recovery: NodeJS.Timeout | undefined;
  private recoveryDelayMs = 1000;
  private closed = false;

  constructor(
    readonly index: RankIndex,
    private readonly db: Database,
    private readonly logger: Logger,
  ) {}

  /** Whether reads may use the index; otherwise they go to PostgreSQL. */
  get usable(): boolean {
    return this.ready;
  }

  /**
   * Runs a read on the index: undefined when it must be answered from PostgreSQL instead (this
   * instance has not taken every change, a shared index is not built — being rebuilt, or another
   * instance could not write to it — or the read failed).
   */
  async read<T>(run: (index: RankIndex) => Promise<T>): Promise<T | undefined> {
    if (!this.ready) return undefined;
    try {
      return await run(this.index);
    } catch (err) {
      if (!(err instanceof RankIndexNotBuilt)) {
        this.logger.warn({ err }, "rank index read failed; answering from PostgreSQL");
      }
      return undefined;
    }
  }

  async apply(changes: RankChange[]): Promise<void> {
    if (this.pending !== undefined) {
      this.pending.push(...changes);
      return;
    }
    return this.write(changes);
  }

  private async write(changes: RankChange[]): Promise<void> {
    try {
      for (const c of changes) {
        if (c.next !== undefined) await this.index.upsert(c.list, c.next, c.previous);
        else if (c.previous !== undefined) await this.index.remove(c.list, c.previous);
      }
    } catch (err) {
      // PostgreSQL stays right; ranks are answered from it until the index is rebuilt.
      this.ready = false;
      this.failed = true;
      this.logger.error({ err }, "rank index update failed; serving ranks from PostgreSQL until rebuilt");
      await this.index.invalidate?.().catch(() => undefined);
      this.scheduleRecovery();
    }
  }

  /**
   * Makes the index ready at start: an index shared by instances (Redis) that was built before is
   * used as it is; otherwise it is rebuilt, and until then ranks come from PostgreSQL.
   */
  async start(): Promise<void> {
    try {
      if ((await this.index.isBuilt?.()) === true) {
        this.ready = true;
        this.logger.info("rank index shared and already built");
        return;
      }
      await this.rebuild();
    } catch (err) {
      // The database (or Redis) was unavailable: tried again with backoff until it works.
      this.scheduleRecovery();
      throw err;
    }
  }

  /**
   * The index may disagree with PostgreSQL: a transaction that changed it lost its connection
   * after sending COMMIT, so whether it committed is unknown. Ranks come from PostgreSQL until a
   * rebuild (in the background) has made it right again.
   */
  distrust(): void {
    this.ready = false;
    this.failed = true;
    this.logger.warn("rank index may be stale after a commit with an unknown outcome; rebuilding");
    void this.index.invalidate?.().catch(() => undefined);
    this.scheduleRecovery();
  }

  /**
   * Rebuilds every open board period's list from PostgreSQL (at start, and `ludus ranks rebuild`).
   * For a shared index whose rebuild another instance holds, waits for that one to finish instead.
   */
  rebuild(onProgress: (done: number, total: number) => void = () => {}): Promise<void> {
    this.building ??= this.load(onProgress).finally(() => (this.building = undefined));
    return this.building;
  }

  /**
   * Checks a shared index's health again (after the instance's LISTEN connection came back: this
   * instance may have missed the news while it was away). An index another instance marked not
   * built is no longer read, and is rebuilt.
   */
  async recheck(): Promise<void> {
    if (this.closed || !this.ready || this.index.isBuilt === undefined) return;
    if ((await this.index.isBuilt()) === false) {
      this.ready = false;
      this.logger.warn("shared rank index not built; serving ranks from PostgreSQL until rebuilt");
      this.scheduleRecovery();
    }
  }

  /** Stops retrying rebuilds (the index itself is closed by its owner). */
  close(): void {
    this.closed = true;
    clearTimeout(this.recovery);
  }

  /** After a failed write: rebuilds later, with a delay that doubles up to a minute, until it works. */
  private scheduleRecovery(): void {
    if (this.recovery !== undefined || this.closed) return;
    this.recovery = setTimeout(() => {
      this.recovery = undefined;
      this.recover().then(
        () => {
          this.recoveryDelayMs = 1000;
          // A change it could not take arrived during the rebuild: once more.
          if (!this.ready) this.scheduleRecovery();
        },
        (err: unknown) => {
          this.logger.error({ err }, "rank index rebuild failed; trying again later");
          this.recoveryDelayMs = Math.min(this.recoveryDelayMs * 2, 60_000);
          this.scheduleRecovery();
        },
      );
    }, this.recoveryDelayMs);
    this.recovery.unref();
  }

  private async recover(): Promise<void> {
    if (this.ready) return;
    // The mark may not have been cleared when the write failed (Redis unreachable, say).
    await this.index.invalidate?.();
    await this.rebuild();
  }

  /**
   * Compares every open board period's list with PostgreSQL, entry by entry in rank order
   * (`ludus ranks verify`). Reports at most 20 differences.
   */
  async verify(onProgress: (done: number, total: number) => void = () => {}): Promise<VerifyReport> {
    const lists = await this.openLists();
    const total = lists.reduce((n, l) => n + l.n, 0);
    const report: VerifyReport = { lists: lists.length, entries: 0, problems: [] };
    const note = (problem: string) => {
      if (report.problems.length < 20) report.problems.push(problem);
    };
    for (const list of lists) {
      const name = listName(list.leaderboard_id, list.period_key);
      const size = await this.index.size(name);
      if (size !== list.n) note(`${name}: ${size} in the index, ${list.n} in PostgreSQL`);
      let offset = 0;
      for await (const chunk of this.pages(list.leaderboard_id, list.period_key)) {
        const keys = await this.index.range(name, offset, chunk.length);
        chunk.forEach((row, i) => {
          const key = keys[i];
          const want = keyOf(row);
          if (
            key === undefined ||
            key.userId !== want.userId ||
            key.score !== want.score ||
            key.reachedAt !== want.reachedAt
          ) {
            note(
              `${name}: rank ${offset + i + 1} is ${JSON.stringify(key)} in the index, ${JSON.stringify(want)} in PostgreSQL`,
            );
          }
        });
        offset += chunk.length;
        report.entries += chunk.length;
        onProgress(report.entries, total);
      }
    }
    return report;
  }

  private async load(onProgress: (done: number, total: number) => void): Promise<void> {
    this.ready = false;
    this.failed = false;
    if (this.index.beginRebuild === undefined) return this.loadOwn(onProgress);
    // A shared index: rebuild it unless another instance is, else wait until that one is done.
    for (;;) {
      const rebuild = await this.index.beginRebuild();
      if (rebuild !== undefined) {
        try {
          return await this.loadShared(rebuild, onProgress);
        } catch (err) {
          if (!(err instanceof RebuildInterrupted)) throw err;
          this.logger.warn({ err }, "rank index rebuild interrupted; starting again");
          continue;
        }
      }
      this.logger.info("rank index being rebuilt by another instance; waiting");
      await sleep(500);
      if ((await this.index.isBuilt?.()) === true) {
        this.ready = true;
        return;
      }
    }
  }

  /** An in-process index: refilled in place (reads go to PostgreSQL meanwhile). */
  private async loadOwn(onProgress: (done: number, total: number) => void): Promise<void> {
    this.pending = [];
    try {
      await this.waitForWritersInFlight();
      await this.fill(onProgress, async (name) => {
        await this.index.drop(name);
        return (keys) =>
          this.index.upsertMany(
            name,
            keys.map((next) => ({ next })),
          );
      });
      while (this.pending.length > 0) await this.write(this.pending.splice(0));
      this.ready = !this.failed;
    } finally {
      this.pending = undefined;
    }
  }

  /** A shared index: new copies filled and swapped in by the index (see RankIndex.beginRebuild). */
  private async loadShared(rebuild: SharedRebuild, onProgress: (done: number, total: number) => void) {
    try {
      await this.waitForWritersInFlight();
      await this.fill(onProgress, async (name) => {
        // Even a list with nothing ranked gets a copy (empty), so its live list is replaced.
        await rebuild.fill(name, []);
        return (keys) => rebuild.fill(name, keys);
      });
      await rebuild.finish();
      this.ready = !this.failed;
    } catch (err) {
      await rebuild.abort().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Waits until every transaction running now has ended. A transaction writes its rank changes
   * just before it commits: one that wrote before the rebuild started collecting changes (the
   * pending list, or a shared index's journal) but commits after the rebuild has read past its
   * entry would otherwise be in neither. Those that start later are collected.
   */
  private async waitForWritersInFlight(): Promise<void> {
    const xids = await this.db.asSystem((tx) =>
      tx.rows<{ xid: string }>(`SELECT pg_snapshot_xip(pg_current_snapshot())::text AS xid`),
    );
    let waited = 0;
    while (xids.length > 0) {
      const running = await this.db.asSystem((tx) =>
        tx.one<{ n: number }>(
          `SELECT count(*)::int AS n FROM unnest($1::xid8[]) x WHERE pg_xact_status(x) = 'in progress'`,
          [xids.map((x) => x.xid)],
        ),
      );
      if (running.n === 0) return;
      if (waited % 10_000 === 0 && waited > 0) {
        this.logger.info(
          { transactions: running.n },
          "rank index rebuild waiting for transactions in flight",
        );
      }
      await sleep(50);
      waited += 50;
    }
  }

  /**
   * Streams every open board period's ranked entries in rank order to the writer `open` gives for
   * its list, logging progress.
   */
  private async fill(
    onProgress: (done: number, total: number) => void,
    open: (list: string) => Promise<(keys: RankKey[]) => Promise<void>>,
  ): Promise<void> {
    const started = Date.now();
    const lists = await this.openLists();
    const total = lists.reduce((n, l) => n + l.n, 0);
    let done = 0;
    for (const list of lists) {
      const write = await open(listName(list.leaderboard_id, list.period_key));
      for await (const rows of this.pages(list.leaderboard_id, list.period_key)) {
        await write(rows.map(keyOf));
        done += rows.length;
        this.logger.info({ done, total }, "rebuilding rank index");
        onProgress(done, total);
      }
    }
    this.logger.info({ entries: total, ms: Date.now() - started }, "rank index ready");
  }

  /** The board periods the index holds: every open one, with how many entries it ranks (maybe 0). */
  private openLists() {
    return this.db.asSystem((tx) =>
      tx.rows<{ leaderboard_id: string; period_key: string; n: number }>(
        `SELECT p.leaderboard_id, p.period_key,
                (SELECT count(*) FROM leaderboard_entries e
                 WHERE e.leaderboard_id = p.leaderboard_id AND e.period_key = p.period_key AND e.ranked)::int AS n
         FROM leaderboard_periods p JOIN leaderboards b ON b.id = p.leaderboard_id
         WHERE b.active AND p.closed_at IS NULL ORDER BY 1, 2`,
      ),
    );
  }

  /** A board period's ranked entries in rank order, a chunk at a time (keyset pages off its index). */
  private async *pages(boardId: string, periodKey: string): AsyncGenerator<KeyRow[]> {
    let after: KeyRow | undefined;
    for (;;) {
      const rows: KeyRow[] = await this.db.asSystem((tx) =>
        tx.rows<KeyRow>(
          rankOrderAfter(`leaderboard_id, period_key, user_id, rank_score, reached_at::text AS reached_text,
                          (extract(epoch FROM reached_at) * 1000)::float8 AS reached_ms`),
          [
            boardId,
            periodKey,
            after?.rank_score ?? null,
            after?.reached_text ?? null,
            after?.user_id ?? null,
            REBUILD_CHUNK,
          ],
        ),
      );
      if (rows.length > 0) yield rows;
      if (rows.length < REBUILD_CHUNK) return;
      after = rows[rows.length - 1];
    }
  }
}

/** What `ludus ranks verify` found: lists compared and the first differences. */
export interface VerifyReport {
  lists: number;
  entries: number;
  problems: string[];
}

const keyOf = (r: KeyRow): RankKey => ({ score: r.rank_score, reachedAt: r.reached_ms, userId: r.user_id });
