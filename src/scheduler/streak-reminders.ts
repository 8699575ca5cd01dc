import type { NotificationService } from "../delivery/notifications/notifications.service.ts";
import type { Database } from "../platform/db/database.ts";
import type { Cadence } from "../platform/time/periods.ts";
import { streakStatus } from "../streaks/streak-logic.ts";
import { toStreakState, type UserStreakRow } from "../streaks/streaks.store.ts";

type Row = UserStreakRow & {
  streak_id: string;
  name: string;
  cadence: Cadence;
  tokens: number;
  tz: string | null;
  dsh: number | null;
};

const UNIT: Record<Cadence, string> = { day: "day", week: "week", month: "month" };

/**
 * Reminds players whose streak is at risk: alive, the current period (in the player's calendar)
 * not yet counted, and ending within `windowMs`. One `streak_at_risk` notification per player,
 * streak and period: its dedupe key names the period and its time is fixed (the period's end
 * minus the window), so any number of runs make one. Not sent while a protection window covers
 * the end of the period. Returns how many were made.
 */
export async function remindStreaksAtRisk(
  db: Database,
  notifications: NotificationService,
  now: Date,
  windowMs: number,
  pageSize = 1000,
): Promise<{ checked: number; reminded: number }> {
  let after: [string, string] = [
    "00000000-0000-0000-0000-000000000000",
    "00000000-0000-0000-0000-000000000000",
  ];
  let checked = 0;
  let reminded = 0;
  for (;;) {
    const page = await db.asSystem(async (tx) => {
      const rows = await tx.rows<Row>(
        `SELECT us.user_id, us.streak_id, d.key, d.name, d.cadence, us.current, us.longest, us.last_period,
                us.time_zone, us.day_start_hour, us.started_at, us.last_event_at, us.last_activity_at,
                us.activity_time_zone, us.activity_day_start_hour, us.freezes_used,
                coalesce(w.balance, 0)::int AS tokens, p.time_zone AS tz, p.day_start_hour AS dsh
         FROM user_streaks us
         JOIN streak_definitions d ON d.id = us.streak_id AND d.active
         JOIN users u ON u.id = us.user_id AND u.is_active AND u.deleted_at IS NULL
         LEFT JOIN user_profiles p ON p.user_id = us.user_id
         LEFT JOIN wallets w ON w.user_id = us.user_id AND w.currency = d.freeze_currency
         WHERE us.current > 0 AND (us.user_id, us.streak_id) > ($1::uuid, $2::uuid)
         ORDER BY us.user_id, us.streak_id LIMIT $3`,
        [after[0], after[1], pageSize],
      );
      if (rows.length === 0) return rows;
      const shields = await tx.rows<{
        user_id: string;
        streak_id: string | null;
        starts_at: Date;
        ends_at: Date;
      }>(
        `SELECT user_id, streak_id, starts_at, ends_at FROM streak_protections
         WHERE user_id = ANY($1::uuid[]) AND ends_at > $2`,
        [[...new Set(rows.map((r) => r.user_id))], now],
      );
      for (const r of rows) {
        const calendar = { timeZone: r.tz ?? "UTC", dayStartHour: r.dsh ?? 0 };
        const own = shields
          .filter((p) => p.user_id === r.user_id && (p.streak_id === null || p.streak_id === r.streak_id))
          .map((p) => ({ startsAt: p.starts_at, endsAt: p.ends_at }));
        const status = streakStatus(toStreakState(r), now, r.cadence, calendar, {
          tokens: r.tokens,
          protections: own,
        });
        const left = status.periodEndsAt.getTime() - now.getTime();
        if (!status.atRisk || left <= 0 || left > windowMs) continue;
        if (own.some((p) => p.startsAt <= status.periodEndsAt && status.periodEndsAt <= p.endsAt)) continue;
        const hours = Math.max(1, Math.round(left / 3_600_000));
        const made = await notifications.notify(
          tx,
          r.user_id,
          [
            {
              type: "streak_at_risk",
              title: `Your ${r.name} streak is at risk`,
              message: `Your ${status.current}-${UNIT[r.cadence]} streak ends in about ${hours} h unless you keep it going.`,
              data: {
                key: r.key,
                current: status.current,
                periodEndsAt: status.periodEndsAt.toISOString(),
                freezesNeeded: status.freezesNeeded,
              },
              dedupeKey: `streak_at_risk:${r.key}:${status.periodEndsAt.toISOString()}`,
              expiresAt: status.periodEndsAt,
            },
          ],
          new Date(status.periodEndsAt.getTime() - windowMs),
          now,
        );
        reminded += made;
      }
      return rows;
    });
    checked += page.length;
    const last = page[page.length - 1];
    if (last === undefined || page.length < pageSize) break;
    after = [last.user_id, last.streak_id];
  }
  return { checked, reminded };
}
