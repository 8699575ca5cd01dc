import type { RankSink } from "../engine/apply.ts";
import type { RankChange } from "../engine/plan.ts";
import type { Tx } from "../platform/db/database.ts";
import { listName } from "./board-feed.ts";

interface MovedEntry {
  leaderboard_id: string;
  period_key: string;
  rank_score: number;
  reached_ms: number;
}

/**
 * Takes a player off every board, or puts them back: a deactivated, deleted or erased player must
 * not be shown, ranked or counted as anyone's neighbour, nor make a snapshot taken after. Their
 * entries of open periods stay (reactivation brings them back as they were) but stop being ranked;
 * closed periods keep the ranks they closed with. The rank index follows, just before commit.
 *
 * Runs in the transaction that changes the player's standing, after locking their progress row
 * (the lock every event of theirs takes first), so no event of theirs lands in between.
 */
export async function setListed(tx: Tx, ranks: RankSink, userId: string, listed: boolean): Promise<number> {
  await tx.exec(`SELECT 1 FROM user_progress WHERE user_id = $1 FOR UPDATE`, [userId]);
  const moved = await tx.rows<MovedEntry>(
    listed
      ? // Back on: ranked again where the score meets the board's minimum.
        `UPDATE leaderboard_entries e SET ranked = true, updated_at = now()
         FROM leaderboards b, leaderboard_periods p
         WHERE e.user_id = $1 AND NOT e.ranked
           AND b.id = e.leaderboard_id
           AND (b.min_score IS NULL OR CASE b.sort WHEN 'desc' THEN e.score >= b.min_score ELSE e.score <= b.min_score END)
           AND p.leaderboard_id = e.leaderboard_id AND p.period_key = e.period_key AND p.closed_at IS NULL
         RETURNING e.leaderboard_id, e.period_key, e.rank_score, (extract(epoch FROM e.reached_at) * 1000)::float8 AS reached_ms`
      : `UPDATE leaderboard_entries e SET ranked = false, updated_at = now()
         FROM leaderboard_periods p
         WHERE e.user_id = $1 AND e.ranked
           AND p.leaderboard_id = e.leaderboard_id AND p.period_key = e.period_key AND p.closed_at IS NULL
         RETURNING e.leaderboard_id, e.period_key, e.rank_score, (extract(epoch FROM e.reached_at) * 1000)::float8 AS reached_ms`,
    [userId],
  );
  if (moved.length === 0) return 0;
  const changes: RankChange[] = moved.map((m) => {
    const key = { score: m.rank_score, reachedAt: m.reached_ms, userId };
    return {
      list: listName(m.leaderboard_id, m.period_key),
      previous: listed ? undefined : key,
      next: listed ? key : undefined,
    };
  });
  const undo = changes.map((c) => ({ list: c.list, previous: c.next, next: c.previous }));
  tx.beforeCommit(
    () => ranks.apply(changes),
    () => ranks.apply(undo),
    () => ranks.distrust?.(),
  );
  return moved.length;
}
