import type { Logger } from "pino";
import type { Database } from "../platform/db/database.ts";
import { listName } from "./board-feed.ts";
import { takeSnapshot } from "./snapshots.ts";
import type { RankService } from "./rank-service.ts";

/**
 * Closes every board period that has ended by `now`, oldest first: each entry gets its final rank,
 * the top `snapshot_size` are kept as the period's snapshot, and the period is marked closed. Each
 * period closes in its own transaction holding its row lock (other instances skip it, and events
 * writing into it wait or see it closed), and a closed period is never closed again, so running
 * this twice, or on several instances at once, changes nothing. Returns how many were closed.
 */
export async function closeDuePeriods(
  db: Database,
  ranks: RankService | undefined,
  now: Date,
  logger: Logger,
): Promise<number> {
  let closed = 0;
  for (;;) {
    const done = await db.asSystem(async (tx) => {
      const due = await tx.maybeOne<{ leaderboard_id: string; period_key: string; snapshot_size: number }>(
        `SELECT p.leaderboard_id, p.period_key, b.snapshot_size
         FROM leaderboard_periods p JOIN leaderboards b ON b.id = p.leaderboard_id
         WHERE p.closed_at IS NULL AND p.ends_at <= $1
         ORDER BY p.ends_at, p.leaderboard_id
         LIMIT 1
         FOR UPDATE OF p SKIP LOCKED`,
        [now],
      );
      if (due === undefined) return undefined;
      const entries = await takeSnapshot(
        tx,
        { leaderboardId: due.leaderboard_id, periodKey: due.period_key, size: due.snapshot_size },
        now,
        true,
      );
      // Every ranked entry keeps the rank it closed the period with.
      await tx.exec(
        `WITH ranked AS (
           SELECT user_id, row_number() OVER (ORDER BY rank_score DESC, reached_at, user_id)::int AS r
           FROM leaderboard_entries WHERE leaderboard_id = $1 AND period_key = $2 AND ranked
         ),
         finals AS (
           UPDATE leaderboard_entries e SET final_rank = ranked.r
           FROM ranked WHERE e.leaderboard_id = $1 AND e.period_key = $2 AND e.user_id = ranked.user_id
         )
         UPDATE leaderboard_periods SET closed_at = $3, entries = $4
         WHERE leaderboard_id = $1 AND period_key = $2`,
        [due.leaderboard_id, due.period_key, now, entries],
      );
      return { ...due, entries };
    });
    if (done === undefined) return closed;
    closed += 1;
    logger.info(
      { leaderboard: done.leaderboard_id, period: done.period_key, entries: done.entries },
      "leaderboard period closed",
    );
    // Closed periods are read from their final ranks; the index no longer needs them.
    await ranks?.index.drop(listName(done.leaderboard_id, done.period_key));
  }
}
