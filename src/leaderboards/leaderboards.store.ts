import type { Tx } from "../platform/db/database.ts";

/** An entry as the API shows it, with what it shows of the player. */
export interface EntryRow {
  user_id: string;
  score: number;
  rank_score: number;
  reached_at: Date;
  reached_ms: number;
  ranked: boolean;
  final_rank: number | null;
}

export interface PlayerCard {
  user_id: string;
  display_name: string;
  level: number;
  badges: number;
}

const ENTRY_COLUMNS = `user_id, score, rank_score, reached_at, ranked, final_rank,
  (extract(epoch FROM reached_at) * 1000)::float8 AS reached_ms`;

export function findEntries(
  tx: Tx,
  boardId: string,
  periodKey: string,
  userIds: string[],
): Promise<EntryRow[]> {
  return tx.rows<EntryRow>(
    `SELECT ${ENTRY_COLUMNS} FROM leaderboard_entries
     WHERE leaderboard_id = $1 AND period_key = $2 AND user_id = ANY($3::uuid[])`,
    [boardId, periodKey, userIds],
  );
}

/**
 * A board period's ranked entries in rank order after a position, straight off the table's rank
 * index, `$6` at most. Parameters: board, period key, then the position's rank_score, reached_at
 * (timestamptz) and user id (all null for the first page), and the limit. The position is split
 * in two index ranges (the rest of its score's ties, then every lower score) so that each page
 * starts where the last ended: one condition `rank_score < $3 OR (rank_score = $3 AND …)` is no
 * index bound, and PostgreSQL would read every entry before the position again for each page.
 */
export function rankOrderAfter(columns: string): string {
  // The union is ordered by output columns, so the order's columns are selected under names of their own.
  const from = `SELECT ${columns}, rank_score AS order_score, reached_at AS order_reached, user_id AS order_user
    FROM leaderboard_entries WHERE leaderboard_id = $1 AND period_key = $2 AND ranked`;
  const order = `ORDER BY rank_score DESC, reached_at, user_id`;
  return `(${from} AND $3::float8 IS NULL ${order} LIMIT $6)
     UNION ALL
     (${from} AND rank_score = $3::float8 AND (reached_at, user_id) > ($4::timestamptz, $5::uuid) ${order} LIMIT $6)
     UNION ALL
     (${from} AND rank_score < $3::float8 ${order} LIMIT $6)
     ORDER BY order_score DESC, order_reached, order_user LIMIT $6`;
}

/** Ranked entries in rank order after a position (keyset); see rankOrderAfter. */
export function entriesAfter(
  tx: Tx,
  boardId: string,
  periodKey: string,
  after: { rankScore: number; reachedMs: number; userId: string } | undefined,
  limit: number,
): Promise<EntryRow[]> {
  return tx.rows<EntryRow>(rankOrderAfter(ENTRY_COLUMNS), [
    boardId,
    periodKey,
    after?.rankScore ?? null,
    after === undefined ? null : new Date(after.reachedMs),
    after?.userId ?? null,
    limit,
  ]);
}

/** The entries at ranks offset+1 … offset+limit, from PostgreSQL (when the index is not ready). */
export function entriesAt(
  tx: Tx,
  boardId: string,
  periodKey: string,
  offset: number,
  limit: number,
): Promise<EntryRow[]> {
  return tx.rows<EntryRow>(
    `SELECT ${ENTRY_COLUMNS} FROM leaderboard_entries
     WHERE leaderboard_id = $1 AND period_key = $2 AND ranked
     ORDER BY rank_score DESC, reached_at, user_id
     OFFSET $3 LIMIT $4`,
    [boardId, periodKey, offset, limit],
  );
}

/** How many ranked entries come before a key: PostgreSQL's O(rank) way of finding a rank. */
export async function countBefore(
  tx: Tx,
  boardId: string,
  periodKey: string,
  key: { rankScore: number; reachedMs: number; userId: string },
): Promise<number> {
  const row = await tx.one<{ n: number }>(
    // Two index ranges (better scores; the same score reached earlier), as in rankOrderAfter.
    `SELECT (SELECT count(*) FROM leaderboard_entries
             WHERE leaderboard_id = $1 AND period_key = $2 AND ranked AND rank_score > $3::float8)::int
          + (SELECT count(*) FROM leaderboard_entries
             WHERE leaderboard_id = $1 AND period_key = $2 AND ranked AND rank_score = $3::float8
               AND (reached_at, user_id) < (to_timestamp($4::float8 / 1000), $5::uuid))::int AS n`,
    [boardId, periodKey, key.rankScore, key.reachedMs, key.userId],
  );
  return row.n;
}

export async function countRanked(tx: Tx, boardId: string, periodKey: string): Promise<number> {
  const row = await tx.one<{ n: number }>(
    `SELECT count(*)::int AS n FROM leaderboard_entries WHERE leaderboard_id = $1 AND period_key = $2 AND ranked`,
    [boardId, periodKey],
  );
  return row.n;
}

/** Display name, level and unlocked achievements of players, for the rows of a board. */
export async function playerCards(tx: Tx, userIds: string[]): Promise<Map<string, PlayerCard>> {
  const rows = await tx.rows<PlayerCard>(
    `SELECT u.id AS user_id, u.display_name,
            coalesce((SELECT p.level FROM user_progress p WHERE p.user_id = u.id), 1) AS level,
            coalesce((SELECT t.value FROM user_stats_totals t
                      WHERE t.user_id = u.id AND t.stat = 'achievements.unlocked'), 0)::int AS badges
     FROM users u WHERE u.id = ANY($1::uuid[])`,
    [userIds],
  );
  return new Map(rows.map((r) => [r.user_id, r]));
}

/** Where a player stands against a board period's top (its snapshot size), for rank notifications. */
export interface TopStanding {
  key: string;
  name: string;
  /** The board's top: its snapshot size. */
  top: number;
  score: number;
  /** The player's rank when within the top, else null. */
  rank: number | null;
}

/**
 * Whether a player is within the top of an open board period, counting at most `top` better
 * entries (two index ranges, as in countBefore), so it costs O(top) whatever the board's size.
 * Undefined when the player is not ranked there, or the board is inactive or the period closed.
 */
export async function topStanding(
  tx: Tx,
  boardId: string,
  periodKey: string,
  userId: string,
): Promise<TopStanding | undefined> {
  const row = await tx.maybeOne<{ key: string; name: string; top: number; score: number; better: number }>(
    `SELECT b.key, b.name, b.snapshot_size AS top, e.score,
            (SELECT count(*) FROM (SELECT 1 FROM leaderboard_entries o
               WHERE o.leaderboard_id = e.leaderboard_id AND o.period_key = e.period_key AND o.ranked
                 AND o.rank_score > e.rank_score LIMIT b.snapshot_size) better_score)::int
          + (SELECT count(*) FROM (SELECT 1 FROM leaderboard_entries o
               WHERE o.leaderboard_id = e.leaderboard_id AND o.period_key = e.period_key AND o.ranked
                 AND o.rank_score = e.rank_score AND (o.reached_at, o.user_id) < (e.reached_at, e.user_id)
               LIMIT b.snapshot_size) earlier_tie)::int AS better
     FROM leaderboard_entries e JOIN leaderboards b ON b.id = e.leaderboard_id
     WHERE e.leaderboard_id = $1 AND e.period_key = $2 AND e.user_id = $3 AND e.ranked AND b.active
       AND NOT EXISTS (SELECT 1 FROM leaderboard_periods p
                       WHERE p.leaderboard_id = e.leaderboard_id AND p.period_key = e.period_key
                         AND p.closed_at IS NOT NULL)`,
    [boardId, periodKey, userId],
  );
  if (row === undefined) return undefined;
  return {
    key: row.key,
    name: row.name,
    top: row.top,
    score: row.score,
    rank: row.better < row.top ? row.better + 1 : null,
  };
}
