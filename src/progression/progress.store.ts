import type { Tx } from "../platform/db/database.ts";

export interface LockedPlayer {
  exists: boolean;
  usable: boolean;
  level: number;
  time_zone: string;
}

/**
 * Locks the player's progress row (creating it on first use) for the rest of the transaction. All
 * of a player's events pass through here first, so they apply one at a time, and every other row
 * of theirs is locked after this one: a fixed order that cannot deadlock.
 */
export async function lockPlayer(tx: Tx, userId: string): Promise<LockedPlayer> {
  // The common case, one round trip and no write: the row exists and is locked as it is read.
  const found = await tx.maybeOne<{ usable: boolean; level: number; time_zone: string | null }>(
    `SELECT p.level,
            (SELECT is_active AND deleted_at IS NULL FROM users WHERE id = p.user_id) AS usable,
            (SELECT time_zone FROM user_profiles WHERE user_id = p.user_id) AS time_zone
     FROM user_progress p WHERE p.user_id = $1 FOR UPDATE OF p`,
    [userId],
  );
  if (found !== undefined) {
    return { exists: true, usable: found.usable, level: found.level, time_zone: found.time_zone ?? "UTC" };
  }
  // A player's first event: make the row (unless the player is unknown or unusable) and lock it.
  const row = await tx.maybeOne<{ usable: boolean; level: number | null; time_zone: string | null }>(
    `WITH u AS (SELECT id, is_active AND deleted_at IS NULL AS usable FROM users WHERE id = $1),
     p AS (
       INSERT INTO user_progress (user_id) SELECT id FROM u WHERE usable
       -- A no-op update when a concurrent first event made the row: it takes the row lock.
       ON CONFLICT (user_id) DO UPDATE SET level = user_progress.level
       RETURNING level
     )
     SELECT u.usable, p.level, pr.time_zone
     FROM u LEFT JOIN p ON true LEFT JOIN user_profiles pr ON pr.user_id = u.id`,
    [userId],
  );
  if (row === undefined) return { exists: false, usable: false, level: 1, time_zone: "UTC" };
  return { exists: true, usable: row.usable, level: row.level ?? 1, time_zone: row.time_zone ?? "UTC" };
}

export async function setLevel(tx: Tx, userId: string, level: number): Promise<void> {
  await tx.exec(`UPDATE user_progress SET level = $2, updated_at = now() WHERE user_id = $1`, [
    userId,
    level,
  ]);
}

export interface ProgressRow {
  level: number;
  recipes_unlocked: number;
  has_claimed_gift: boolean;
  events_count: number;
}

export function findProgress(tx: Tx, userId: string): Promise<ProgressRow | undefined> {
  return tx.maybeOne<ProgressRow>(
    `SELECT level, recipes_unlocked, has_claimed_gift, events_count FROM user_progress WHERE user_id = $1`,
    [userId],
  );
}
