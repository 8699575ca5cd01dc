import type { Tx } from "../platform/db/database.ts";

export interface CounterChange {
  stat: string;
  amount: number;
}

export interface CounterResult {
  stat: string;
  day: string;
  daily: number;
  total: number;
}

/**
 * Adds to daily counters (the day in the player's zone) and lifetime totals in one statement.
 * Stats are summed per name first, so one event bumping a stat twice writes one row.
 */
export async function bumpCounters(
  tx: Tx,
  userId: string,
  day: string,
  changes: CounterChange[],
): Promise<CounterResult[]> {
  if (changes.length === 0) return [];
  const merged = new Map<string, number>();
  for (const c of changes) merged.set(c.stat, (merged.get(c.stat) ?? 0) + c.amount);
  const stats = [...merged.keys()].sort();
  const amounts = stats.map((s) => merged.get(s) ?? 0);
  return tx.rows<CounterResult>(
    `WITH input AS (SELECT * FROM unnest($3::text[], $4::bigint[]) AS i(stat, amount)),
     d AS (
       INSERT INTO user_stats_daily (user_id, stat, day, value)
       SELECT $1, stat, $2::date, amount FROM input
       ON CONFLICT (user_id, stat, day) DO UPDATE SET value = user_stats_daily.value + EXCLUDED.value
       RETURNING stat, value
     ),
     t AS (
       INSERT INTO user_stats_totals (user_id, stat, value)
       SELECT $1, stat, amount FROM input
       ON CONFLICT (user_id, stat) DO UPDATE SET value = user_stats_totals.value + EXCLUDED.value, updated_at = now()
       RETURNING stat, value
     )
     SELECT d.stat, $2::text AS day, d.value AS daily, t.value AS total FROM d JOIN t USING (stat) ORDER BY d.stat`,
    [userId, day, stats, amounts],
  );
}

export function dailyValue(
  tx: Tx,
  userId: string,
  stat: string,
  day: string,
): Promise<{ value: number } | undefined> {
  return tx.maybeOne<{ value: number }>(
    `SELECT value FROM user_stats_daily WHERE user_id = $1 AND stat = $2 AND day = $3::date`,
    [userId, stat, day],
  );
}

export async function totals(tx: Tx, userId: string): Promise<Record<string, number>> {
  const rows = await tx.rows<{ stat: string; value: number }>(
    `SELECT stat, value FROM user_stats_totals WHERE user_id = $1`,
    [userId],
  );
  return Object.fromEntries(rows.map((r) => [r.stat, r.value]));
}

export function dailySeries(
  tx: Tx,
  userId: string,
  filter: { stat?: string; from: string; to: string },
): Promise<{ stat: string; day: string; value: number }[]> {
  return tx.rows(
    `SELECT stat, to_char(day, 'YYYY-MM-DD') AS day, value FROM user_stats_daily
     WHERE user_id = $1 AND ($2::text IS NULL OR stat = $2) AND day BETWEEN $3::date AND $4::date
     ORDER BY stat, day LIMIT 10000`,
    [userId, filter.stat ?? null, filter.from, filter.to],
  );
}
