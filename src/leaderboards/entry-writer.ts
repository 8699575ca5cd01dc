import type { RankSink } from "../engine/apply.ts";
import type { BoardDef } from "../engine/definitions.ts";
import type { Tx } from "../platform/db/database.ts";
import { AppError } from "../platform/http/errors.ts";
import { LIMITS, within } from "../platform/limits.ts";
import {
  boardPeriodBounds,
  boardPeriodKey,
  listName,
  nextEntry,
  rankKey,
  type EntryState,
} from "./board-feed.ts";
import * as store from "./leaderboards.store.ts";

/**
 * Moves one player's entry on one board by a value arriving at `at` (with the board's operator),
 * outside the engine's batch: submitted scores, and balances changed by purchases, gifts and
 * adjustments. The caller holds the player's lock. The period row is share-locked so a close in
 * progress finishes first; nothing is written into a closed period. The rank index follows just
 * before commit. Returns the entry as it stands (undefined if the period is closed).
 */
export async function moveEntry(
  tx: Tx,
  ranks: RankSink | undefined,
  board: BoardDef,
  userId: string,
  value: number,
  at: Date,
): Promise<{ entry: EntryState; changed: boolean; period: string } | undefined> {
  const period = boardPeriodKey(board, at);
  const known = await tx.maybeOne<{ closed: boolean }>(
    `SELECT closed_at IS NOT NULL AS closed FROM leaderboard_periods
     WHERE leaderboard_id = $1 AND period_key = $2 FOR SHARE`,
    [board.id, period],
  );
  if (known?.closed === true) return undefined;
  const [found] = await store.findEntries(tx, board.id, period, [userId]);
  const before: EntryState | undefined =
    found === undefined
      ? undefined
      : {
          score: found.score,
          rankScore: found.rank_score,
          reachedAt: found.reached_at,
          ranked: found.ranked,
        };
  const next = nextEntry(board, before, value, at);
  if (next === undefined) return { entry: before!, changed: false, period };
  if (!within(next.score, LIMITS.valueCeiling)) {
    throw new AppError(
      "limits.ceiling_reached",
      `The score on leaderboard ${board.key} would pass its ceiling of ${LIMITS.valueCeiling}`,
    );
  }
  const bounds = boardPeriodBounds(board, at);
  await tx.exec(
    `INSERT INTO leaderboard_periods (leaderboard_id, period_key, starts_at, ends_at)
     VALUES ($1, $2, coalesce($3, '-infinity'::timestamptz), coalesce($4, 'infinity'::timestamptz))
     ON CONFLICT DO NOTHING`,
    [board.id, period, bounds.startsAt, bounds.endsAt],
  );
  await tx.exec(
    `INSERT INTO leaderboard_entries (leaderboard_id, period_key, user_id, score, rank_score, reached_at, ranked)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (leaderboard_id, period_key, user_id) DO UPDATE SET score = EXCLUDED.score,
       rank_score = EXCLUDED.rank_score, reached_at = EXCLUDED.reached_at, ranked = EXCLUDED.ranked,
       updated_at = now()`,
    [board.id, period, userId, next.score, next.rankScore, next.reachedAt, next.ranked],
  );
  if (ranks !== undefined) {
    const list = listName(board.id, period);
    const previous = before?.ranked === true ? rankKey(before, userId) : undefined;
    const key = next.ranked ? rankKey(next, userId) : undefined;
    tx.beforeCommit(
      () => ranks.apply([{ list, previous, next: key }]),
      () => ranks.apply([{ list, previous: key, next: previous }]),
      () => ranks.distrust?.(),
    );
  }
  return { entry: next, changed: true, period };
}
