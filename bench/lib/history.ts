/**
 * Streak history for benchmark players, written straight into the database as its owner (as the
 * players themselves are): events can only be dated up to LUDUS_EVENT_MAX_AGE_HOURS back, and an
 * event that arrives more than a streak's grace hours after its period ended counts in the period it
 * arrived in, so no event sent today can count for yesterday. Without history every streak would
 * only ever start; with it, today's first activity extends streaks, pays milestones, spends freeze
 * tokens or restarts lapsed streaks, as it does for players who have been playing for a while.
 *
 * For each streak of the given event types, each player gets (deterministically from `seed`):
 *   30%  no streak yet                                   → starts
 *   50%  alive, last counted in the previous period      → extends (1–6 → 2–7: milestones on the way)
 *   15%  missed the previous period, holding one freeze   → spends the token and extends
 *        token (streaks with a freeze currency; for the
 *        others these players are lapsed too)
 *    5%  lapsed, last counted five periods ago           → restarts
 * Current counts are 1–6 and longest = current, so no achievement measuring a streak (Streak Master
 * at 7) is owed from the past; milestones at or below the current count are recorded as paid.
 * The freeze tokens are credited as Ludus credits (wallet and ledger entry in one statement, as
 * src/economy/ledger.store.ts does), type 'adjust', so the books (wallets = ledgers) stay whole;
 * with `freezeTokens` false the players who missed a period hold none, and their streaks restart.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { periodIndex, periodOfIndex, type Cadence } from "../../src/platform/time/periods.ts";

export interface HistoryPlayer {
  id: string;
  timeZone: string;
}

export interface StreakHistory {
  key: string;
  cadence: Cadence;
  freezeCurrency: string | null;
  none: number;
  alive: number;
  missed: number;
  lapsed: number;
  milestonesPaid: number;
}

export interface History {
  streaks: StreakHistory[];
  /** Freeze tokens credited (one to each player who missed a period of a streak that freezes). */
  tokens: number;
}

interface StreakRow {
  id: string;
  key: string;
  cadence: Cadence;
  freeze_currency: string | null;
  milestones: { count: number }[];
}

/** mulberry32, as in event-bodies.ts. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * user_streaks columns this file fills, and columns a later schema may add that can be derived
 * from them (the last activity is the last counted one). Any other required column is an error.
 */
const BASE_COLUMNS = [
  "user_id",
  "streak_id",
  "current",
  "longest",
  "last_period",
  "time_zone",
  "day_start_hour",
  "started_at",
  "last_event_at",
  "freezes_used",
];
const DERIVED_COLUMNS: Record<string, string> = {
  last_activity_at: "last_event_at",
  activity_time_zone: "time_zone",
  activity_day_start_hour: "day_start_hour",
};

async function streakColumns(admin: pg.Client): Promise<{ column: string; from: string }[]> {
  const required = await admin.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = 'user_streaks'
       AND is_nullable = 'NO' AND column_default IS NULL`,
  );
  const columns = BASE_COLUMNS.map((c) => ({ column: c, from: c }));
  for (const { column_name: name } of required.rows) {
    if (BASE_COLUMNS.includes(name)) continue;
    const from = DERIVED_COLUMNS[name];
    if (from === undefined)
      throw new Error(`bench/lib/history.ts: unknown required column user_streaks.${name}`);
    columns.push({ column: name, from });
  }
  return columns;
}

/** Writes the streak history of `players` for the active streaks counting any of `eventTypes`. */
export async function seedStreakHistory(
  admin: pg.Client,
  players: HistoryPlayer[],
  eventTypes: string[],
  seed: number,
  options: { freezeTokens: boolean },
  now = new Date(),
): Promise<History> {
  const streaks = await admin.query<StreakRow>(
    `SELECT id, key, cadence, freeze_currency, milestones FROM streak_definitions
     WHERE active AND event_types && $1::text[] AND cadence IN ('day', 'week', 'month') ORDER BY key`,
    [eventTypes],
  );
  const columns = await streakColumns(admin);
  const rnd = random(seed);
  // Period bounds take a time-zone library call each; players share a handful of zones and periods.
  const bounds = new Map<string, ReturnType<typeof periodOfIndex>>();
  const periodOf = (
    index: number,
    cadence: Cadence,
    calendar: { timeZone: string; dayStartHour: number },
  ) => {
    const key = `${index}|${cadence}|${calendar.timeZone}|${calendar.dayStartHour}`;
    let period = bounds.get(key);
    if (period === undefined) {
      period = periodOfIndex(index, cadence, calendar);
      bounds.set(key, period);
    }
    return period;
  };
  const history: History = { streaks: [], tokens: 0 };
  for (const s of streaks.rows) {
    const counts = s.milestones.map((m) => m.count);
    const summary: StreakHistory = {
      key: s.key,
      cadence: s.cadence,
      freezeCurrency: s.freeze_currency,
      none: 0,
      alive: 0,
      missed: 0,
      lapsed: 0,
      milestonesPaid: 0,
    };
    const rows: Record<string, unknown[]> = Object.fromEntries(BASE_COLUMNS.map((c) => [c, []]));
    const milestones: { userId: string; count: number }[] = [];
    const tokens: string[] = [];
    for (const p of players) {
      const calendar = { timeZone: p.timeZone, dayStartHour: 0 };
      const roll = rnd();
      const current = 1 + Math.floor(rnd() * 6);
      let back: number;
      if (roll < 0.3) {
        summary.none++;
        continue;
      } else if (roll < 0.8) {
        summary.alive++;
        back = 1;
      } else if (roll < 0.95 && s.freeze_currency !== null) {
        summary.missed++;
        back = 2;
        if (options.freezeTokens) tokens.push(p.id);
      } else {
        summary.lapsed++;
        back = 5;
      }
      const last = periodIndex(now, s.cadence, calendar) - back;
      const first = periodOf(last - current + 1, s.cadence, calendar);
      const lastPeriod = periodOf(last, s.cadence, calendar);
      const values: Record<string, unknown> = {
        user_id: p.id,
        streak_id: s.id,
        current,
        longest: current,
        last_period: last,
        time_zone: p.timeZone,
        day_start_hour: 0,
        // An hour into the first and the last period counted.
        started_at: new Date(first.start.getTime() + 3_600_000),
        last_event_at: new Date(lastPeriod.start.getTime() + 3_600_000),
        freezes_used: 0,
      };
      for (const c of BASE_COLUMNS) rows[c]!.push(values[c]);
      for (const count of counts) if (count <= current) milestones.push({ userId: p.id, count });
    }
    const types = [
      "uuid",
      "uuid",
      "int",
      "int",
      "int",
      "text",
      "smallint",
      "timestamptz",
      "timestamptz",
      "int",
    ];
    await admin.query(
      `INSERT INTO user_streaks (${columns.map((c) => c.column).join(", ")})
       SELECT ${columns.map((c) => `x.${c.from}`).join(", ")}
       FROM unnest(${BASE_COLUMNS.map((_, i) => `$${i + 1}::${types[i]}[]`).join(", ")})
         AS x(${BASE_COLUMNS.join(", ")})`,
      BASE_COLUMNS.map((c) => rows[c]),
    );
    // Paid in the past: the event that paid them is not kept here, so each gets an id of its own.
    await admin.query(
      `INSERT INTO user_streak_milestones (user_id, streak_id, count, event_id)
       SELECT x.user_id, $2, x.count, x.event_id
       FROM unnest($1::uuid[], $3::int[], $4::uuid[]) AS x(user_id, count, event_id)`,
      [
        milestones.map((m) => m.userId),
        s.id,
        milestones.map((m) => m.count),
        milestones.map(() => randomUUID()),
      ],
    );
    if (s.freeze_currency !== null && tokens.length > 0) {
      await admin.query(
        `WITH w AS (
           INSERT INTO wallets (user_id, currency, balance, lifetime_earned, allow_negative)
           SELECT x.user_id, c.code, 1, 1, c.allow_negative
           FROM unnest($1::uuid[]) AS x(user_id) JOIN currencies c ON c.code = $2
           ON CONFLICT (user_id, currency) DO UPDATE SET balance = wallets.balance + 1,
             lifetime_earned = wallets.lifetime_earned + 1, updated_at = now()
           RETURNING user_id, currency, balance
         )
         INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source)
         SELECT user_id, currency, 'adjust', 1, balance, 'Benchmark history: a freeze token earned earlier',
                'bench:history'
         FROM w`,
        [tokens, s.freeze_currency],
      );
      history.tokens += tokens.length;
    }
    summary.milestonesPaid = milestones.length;
    history.streaks.push(summary);
  }
  await admin.query(`ANALYZE user_streaks, user_streak_milestones`);
  return history;
}
