import type { Logger } from "pino";
import type { Database, Tx } from "../platform/db/database.ts";

/**
 * Keeps the top `size` ranked entries of a board period as a snapshot taken at `at`, and records the
 * taking with the number of ranked entries. `final` marks the snapshot a period closes with.
 * Returns how many entries were ranked.
 */
export async function takeSnapshot(
  tx: Tx,
  target: { leaderboardId: string; periodKey: string; size: number },
  at: Date,
  final: boolean,
): Promise<number> {
  const row = await tx.one<{ entries: number }>(
    `WITH ranked AS (
       SELECT user_id, score, reached_at,
              row_number() OVER (ORDER BY rank_score DESC, reached_at, user_id)::int AS r
       FROM leaderboard_entries WHERE leaderboard_id = $1 AND period_key = $2 AND ranked
     ),
     top AS (
       INSERT INTO leaderboard_snapshots (leaderboard_id, period_key, taken_at, rank, user_id, score, reached_at)
       SELECT $1, $2, $4, r, user_id, score, reached_at FROM ranked WHERE r <= $3
       ON CONFLICT DO NOTHING
     ),
     taking AS (
       INSERT INTO leaderboard_snapshot_sets (leaderboard_id, period_key, taken_at, final, entries)
       SELECT $1, $2, $4, $5, count(*) FROM ranked
       ON CONFLICT DO NOTHING
     )
     SELECT count(*)::int AS entries FROM ranked`,
    [target.leaderboardId, target.periodKey, target.size, at, final],
  );
  return row.entries;
}

/**
 * Scheduled snapshots of periods that never close (all-time boards): one per run for each active
 * board, each in its own transaction, taken at `at`. A board with a snapshot taken since `since`
 * (the run's period began) is skipped, so a run cut short and run again takes no second one.
 * Returns how many snapshots were taken.
 */
export async function snapshotOpenPeriods(
  db: Database,
  at: Date,
  since: Date,
  logger: Logger,
): Promise<number> {
  const boards = await db.asSystem((tx) =>
    tx.rows<{ id: string; key: string; snapshot_size: number }>(
      `SELECT id, key, snapshot_size FROM leaderboards WHERE active AND period = 'all' ORDER BY key`,
    ),
  );
  let taken = 0;
  for (const board of boards) {
    const entries = await db.asSystem(async (tx) => {
      // The board's row lock makes a second instance running the same job wait, then skip.
      await tx.exec(`SELECT 1 FROM leaderboards WHERE id = $1 FOR UPDATE`, [board.id]);
      const exists = await tx.maybeOne(
        `SELECT 1 FROM leaderboard_snapshot_sets
         WHERE leaderboard_id = $1 AND period_key = 'all' AND NOT final AND taken_at >= $2`,
        [board.id, since],
      );
      if (exists !== undefined) return undefined;
      // The period row exists once an entry was written; a board nobody played yet has none.
      const open = await tx.maybeOne(
        `SELECT 1 FROM leaderboard_periods WHERE leaderboard_id = $1 AND period_key = 'all'`,
        [board.id],
      );
      if (open === undefined) return undefined;
      const target = { leaderboardId: board.id, periodKey: "all", size: board.snapshot_size };
      return takeSnapshot(tx, target, at, false);
    });
    if (entries === undefined) continue;
    taken += 1;
    logger.info({ leaderboard: board.key, entries }, "leaderboard snapshot taken");
  }
  return taken;
}
