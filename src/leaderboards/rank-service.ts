import type { Logger } from "pino";
import type { RankSink } from "../engine/apply.ts";
import type { RankChange } from "../engine/plan.ts";
import type { Database } from "../platform/db/database.ts";
import { listName } from "./board-feed.ts";
import type { RankIndex, RankKey } from "./rank-index/rank-index.ts";

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
   * Changes that arrive while a rebuild reads PostgreSQL, replayed after it in the order they came.
   * Replaying is safe whatever the rebuild saw: each change removes the key the one before put in.
   */
  private pending: RankChange[] | undefined;
  private failed = false;

  constructor(
    readonly index: RankIndex,
    private readonly db: Database,
    private readonly logger: Logger,
  ) {}

  /** Whether reads may use the index; otherwise they go to PostgreSQL. */
  get usable(): boolean {
    return this.ready;
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
      await this.index.setBuilt?.(false).catch(() => undefined);
      this.logger.error({ err }, "rank index update failed; serving ranks from PostgreSQL until rebuilt");
    }
  }

  /**
   * Makes the index ready at start: an index shared by instances (Redis) that was built before is
   * used as it is; otherwise it is rebuilt, and until then ranks come from PostgreSQL.
   */
  async start(): Promise<void> {
    if ((await this.index.isBuilt?.()) === true) {
      this.ready = true;
      this.logger.info("rank index shared and already built");
      return;
    }
    await this.rebuild();
  }

  /** Rebuilds every open board period's list from PostgreSQL (at start, and `ludus ranks rebuild`). */
  rebuild(onProgress: (done: number, total: number) => void = () => {}): Promise<void> {
    this.building ??= this.load(onProgress).finally(() => (this.building = undefined));
    return this.building;
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
    this.pending = [];
    this.failed = false;
    try {
      await this.index.setBuilt?.(false);
      await this.fill(onProgress);
      while (this.pending.length > 0) await this.write(this.pending.splice(0));
      if (!this.failed) await this.index.setBuilt?.(true);
      this.ready = !this.failed;
    } finally {
      this.pending = undefined;
    }
  }

  private async fill(onProgress: (done: number, total: number) => void): Promise<void> {
    const started = Date.now();
    const lists = await this.openLists();
    const total = lists.reduce((n, l) => n + l.n, 0);
    let done = 0;
    for (const list of lists) {
      const name = listName(list.leaderboard_id, list.period_key);
      await this.index.drop(name);
      for await (const rows of this.pages(list.leaderboard_id, list.period_key)) {
        await this.index.upsertMany(
          name,
          rows.map((r) => ({ next: keyOf(r) })),
        );
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
          `SELECT leaderboard_id, period_key, user_id, rank_score, reached_at::text AS reached_text,
                  (extract(epoch FROM reached_at) * 1000)::float8 AS reached_ms
           FROM leaderboard_entries
           WHERE leaderboard_id = $1 AND period_key = $2 AND ranked
             AND ($3::float8 IS NULL OR rank_score < $3::float8
                  OR (rank_score = $3::float8 AND (reached_at, user_id) > ($4::timestamptz, $5::uuid)))
           ORDER BY rank_score DESC, reached_at, user_id
           LIMIT $6`,
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
