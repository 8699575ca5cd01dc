import type { Tx } from "../platform/db/database.ts";

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
