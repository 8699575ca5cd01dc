import type { Tx } from "../platform/db/database.ts";
import type { ProtectionWindow, StreakState } from "./streak-logic.ts";

/** user_streaks as read back, with the definition's key (and dates as JSON gives them). */
export interface UserStreakRow {
  user_id: string;
  key: string;
  current: number;
  longest: number;
  last_period: number;
  time_zone: string;
  day_start_hour: number;
  started_at: string | Date;
  last_event_at: string | Date;
  last_activity_at: string | Date;
  activity_time_zone: string;
  activity_day_start_hour: number;
  freezes_used: number;
}

export function toStreakState(row: UserStreakRow): StreakState {
  return {
    current: row.current,
    longest: row.longest,
    lastPeriod: row.last_period,
    calendar: { timeZone: row.time_zone, dayStartHour: row.day_start_hour },
    startedAt: new Date(row.started_at),
    lastEventAt: new Date(row.last_event_at),
    lastActivityAt: new Date(row.last_activity_at),
    activityCalendar: { timeZone: row.activity_time_zone, dayStartHour: row.activity_day_start_hour },
    freezesUsed: row.freezes_used,
  };
}

/** SQL giving a player's streak rows with their keys, as json_agg input (used by the engine too). */
export const USER_STREAKS_SQL = `
  SELECT us.user_id, d.key, us.current, us.longest, us.last_period, us.time_zone, us.day_start_hour,
         us.started_at, us.last_event_at, us.last_activity_at, us.activity_time_zone,
         us.activity_day_start_hour, us.freezes_used
  FROM user_streaks us JOIN streak_definitions d ON d.id = us.streak_id`;

/**
 * Protection windows that can still matter: those ending after `since` (the parameter named),
 * recent enough to overlap a period a streak missed. Older ones only fill the table.
 */
export const protectionsSql = (since: string) => `
  SELECT user_id, streak_id, starts_at, ends_at FROM streak_protections WHERE ends_at > ${since}::timestamptz`;

/** How far back protection windows are read: further than a streak can be saved by anything. */
export const protectionsSince = (now: Date) => new Date(now.getTime() - 400 * 86_400_000);

export async function userStreaks(tx: Tx, userId: string): Promise<{ key: string; state: StreakState }[]> {
  const rows = await tx.rows<UserStreakRow>(`${USER_STREAKS_SQL} WHERE us.user_id = $1`, [userId]);
  return rows.map((r) => ({ key: r.key, state: toStreakState(r) }));
}

export async function userProtections(
  tx: Tx,
  userId: string,
  now: Date,
): Promise<(ProtectionWindow & { streakId: string | null })[]> {
  const rows = await tx.rows<{ streak_id: string | null; starts_at: Date; ends_at: Date }>(
    `${protectionsSql("$2")} AND user_id = $1 ORDER BY starts_at`,
    [userId, protectionsSince(now)],
  );
  return rows.map((r) => ({ streakId: r.streak_id, startsAt: r.starts_at, endsAt: r.ends_at }));
}

export async function milestonesOf(tx: Tx, userId: string): Promise<{ key: string; count: number }[]> {
  return tx.rows<{ key: string; count: number }>(
    `SELECT d.key, m.count FROM user_streak_milestones m JOIN streak_definitions d ON d.id = m.streak_id
     WHERE m.user_id = $1 ORDER BY d.key, m.count`,
    [userId],
  );
}

export async function addProtection(
  tx: Tx,
  p: { userId: string; streakId: string | null; startsAt: Date; endsAt: Date; source: string },
): Promise<{ id: number }> {
  return tx.one<{ id: number }>(
    `INSERT INTO streak_protections (user_id, streak_id, starts_at, ends_at, source)
     VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [p.userId, p.streakId, p.startsAt, p.endsAt, p.source],
  );
}
