import type { Logger } from "pino";
import type { NotificationService } from "../delivery/notifications/notifications.service.ts";
import type { Game } from "../engine/index.ts";
import { closeDuePeriods } from "../leaderboards/period-close.ts";
import { snapshotOpenPeriods } from "../leaderboards/snapshots.ts";
import { ensurePartitions } from "../platform/db/connect.ts";
import type { Database } from "../platform/db/database.ts";
import { assignQuestsToAll } from "../quests/quest-book.ts";
import type { JobSpec } from "./scheduler.ts";
import { remindStreaksAtRisk } from "./streak-reminders.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface JobSettings {
  /** Streak reminders go to players whose at-risk period ends within this. */
  streakReminderWindowMs: number;
  /** How often players are checked for streaks at risk. */
  streakReminderEveryMs: number;
  /** Months kept of each partitioned history table; 0 keeps it for ever. */
  retentionMonths: { events: number; notifications: number; audit_logs: number };
  /** Months of partitions made ahead. */
  partitionsAhead: number;
}

export const JOB_DEFAULTS: JobSettings = {
  streakReminderWindowMs: 4 * HOUR,
  streakReminderEveryMs: 15 * MINUTE,
  // Seed 001: behaviour logs (our events) 12 months, notifications 6 months. Audit logs are kept.
  retentionMonths: { events: 12, notifications: 6, audit_logs: 0 },
  partitionsAhead: 4,
};

/** The first day of the month `months` before `at`'s (UTC): partitions ending by then may go. */
export function retentionCutoff(at: Date, months: number): string {
  const lastDay = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - months + 1, 0)).getUTCDate();
  const d = new Date(
    Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - months, Math.min(at.getUTCDate(), lastDay)),
  );
  return d.toISOString().slice(0, 10);
}

/** Ludus's recurring jobs. */
export function ludusJobs(
  deps: { db: Database; game: Game; notifications: NotificationService; logger: Logger },
  settings: JobSettings = JOB_DEFAULTS,
): JobSpec[] {
  const { db, game, notifications, logger } = deps;
  return [
    {
      // Each player's quests of the periods that begin within the next hour, in their own zone,
      // so they are there when the period starts. After downtime, the current ones too (an event
      // or opening the quests would also give them, lazily).
      name: "quests.assign",
      intervalMs: HOUR,
      async run({ now, periodEnd, missed, lastPeriodStart }) {
        const snapshot = await game.definitions.snapshot();
        let given = 0;
        if (missed > 0 || lastPeriodStart === null) given += await assignQuestsToAll(db, snapshot, now);
        given += await assignQuestsToAll(db, snapshot, periodEnd);
        return { given };
      },
    },
    {
      name: "streaks.remind",
      intervalMs: settings.streakReminderEveryMs,
      run: ({ now }) => remindStreaksAtRisk(db, notifications, now, settings.streakReminderWindowMs),
    },
    {
      // Every period that ended, also while Ludus was stopped, oldest first.
      name: "leaderboards.close",
      intervalMs: MINUTE,
      async run({ now }) {
        return { closed: await closeDuePeriods(db, game.ranks, now, logger) };
      },
    },
    {
      // Periods that never close (all time) are snapshotted once a day instead (seed 004).
      name: "leaderboards.snapshot",
      intervalMs: DAY,
      async run({ now, periodStart }) {
        return { taken: await snapshotOpenPeriods(db, now, periodStart, logger) };
      },
    },
    {
      name: "partitions.ensure",
      intervalMs: DAY,
      async run({ now }) {
        return { created: await ensurePartitions(db, now, settings.partitionsAhead) };
      },
    },
    {
      // Whole months past their retention, never the current or a future one.
      name: "retention.drop",
      intervalMs: DAY,
      async run({ now }) {
        const dropped: string[] = [];
        for (const [table, months] of Object.entries(settings.retentionMonths)) {
          if (months <= 0) continue;
          const row = await db.asSystem((tx) =>
            tx.one<{ dropped: string[] }>(`SELECT ludus_drop_monthly_partitions($1, $2::date) AS dropped`, [
              table,
              retentionCutoff(now, months),
            ]),
          );
          dropped.push(...row.dropped);
        }
        if (dropped.length > 0) logger.info({ dropped }, "retention dropped partitions");
        return { dropped };
      },
    },
  ];
}
