/**
 * The oracle for streaks and quests: a plain re-implementation of the documented semantics that
 * replays one player's raw history (events as they were applied, quest look-ups, protection
 * windows) against the definitions read straight from the content pack JSON. It shares no code with
 * the engine (periods are computed with luxon here), and favours being obviously right over being
 * fast: everything is recomputed from scratch on every call.
 *
 * What it models: streak counting (grace, calendar changes, missed periods forgiven by protection
 * windows and then by freeze tokens, restarts), milestones and their rewards (freeze tokens capped
 * by the currency's maxBalance), the derived streak.extended → quest chain, quest assignment (first
 * touch, pools drawn by hash), quest progress, completion and its rewards. What it does not model
 * (rules, achievements, levels) cannot feed back into streaks or quests with these packs — checked
 * by loadDefinitions, which refuses packs where it could.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { DateTime } from "luxon";

export interface Calendar {
  timeZone: string;
  dayStartHour: number;
}

export type Cadence = "day" | "week" | "month";
export type QuestCadence = Cadence | "special";

export interface Reward {
  currency: string;
  amount: number;
}

type Condition = Record<string, unknown> | null;

export interface StreakDef {
  key: string;
  cadence: Cadence;
  eventTypes: string[];
  condition: Condition;
  graceHours: number;
  freezeCurrency: string | null;
  milestones: { count: number; rewards: Reward[] }[];
}

export interface QuestDef {
  key: string;
  cadence: QuestCadence;
  target: number;
  eventTypes: string[];
  condition: Condition;
  amountField: string | null;
  mode: "sum" | "max" | "distinct";
  rewards: Reward[];
  timeLimitHours: number | null;
  startsAt: Date | null;
  endsAt: Date | null;
  pool: string | null;
}

export interface Definitions {
  streaks: StreakDef[];
  quests: QuestDef[];
  pools: Map<string, { size: number; rerolls: number }>;
  /** Currencies with a ceiling on what one player holds. */
  maxBalance: Map<string, number>;
  /** Currencies whose balance the reference follows exactly (capped ones and freeze currencies). */
  tracked: Set<string>;
}

// ---- definitions ---------------------------------------------------------------------------------

const ROOT = path.resolve(import.meta.dirname, "../..");

interface PackJson {
  currencies?: { code: string; maxBalance?: number }[];
  rules?: { eventType: string; awards?: { currency: string }[] }[];
  achievements?: { rewards?: Reward[] }[];
  streaks?: {
    key: string;
    cadence: Cadence;
    eventTypes: string[];
    condition?: Condition;
    graceHours?: number;
    freezeCurrency?: string | null;
    milestones?: { count: number; rewards: Reward[] }[];
    active?: boolean;
  }[];
  questPools?: { key: string; size: number; rerolls?: number }[];
  quests?: {
    key: string;
    cadence: QuestCadence;
    target: number;
    eventTypes: string[];
    condition?: Condition;
    amountField?: string | null;
    mode?: "sum" | "max" | "distinct";
    rewards?: Reward[];
    timeLimitHours?: number | null;
    startsAt?: string | null;
    endsAt?: string | null;
    pool?: string | null;
    active?: boolean;
  }[];
}

/** Reads content/<pack>.json for each pack, with the documented defaults for what a pack leaves out. */
export function loadDefinitions(packs: readonly string[]): Definitions {
  const defs: Definitions = {
    streaks: [],
    quests: [],
    pools: new Map(),
    maxBalance: new Map(),
    tracked: new Set(),
  };
  const jsons = packs.map(
    (name) => JSON.parse(readFileSync(path.join(ROOT, "content", `${name}.json`), "utf8")) as PackJson,
  );
  for (const pack of jsons) {
    for (const c of pack.currencies ?? []) {
      if (c.maxBalance !== undefined) defs.maxBalance.set(c.code, c.maxBalance);
    }
    for (const s of pack.streaks ?? []) {
      if (s.active === false) continue;
      defs.streaks.push({
        key: s.key,
        cadence: s.cadence,
        eventTypes: s.eventTypes,
        condition: s.condition ?? null,
        graceHours: s.graceHours ?? 6,
        freezeCurrency: s.freezeCurrency ?? null,
        milestones: s.milestones ?? [],
      });
    }
    for (const p of pack.questPools ?? []) defs.pools.set(p.key, { size: p.size, rerolls: p.rerolls ?? 1 });
    for (const q of pack.quests ?? []) {
      if (q.active === false) continue;
      defs.quests.push({
        key: q.key,
        cadence: q.cadence,
        target: q.target,
        eventTypes: q.eventTypes,
        condition: q.condition ?? null,
        amountField: q.amountField ?? null,
        mode: q.mode ?? "sum",
        rewards: q.rewards ?? [],
        timeLimitHours: q.timeLimitHours ?? null,
        startsAt: q.startsAt ? new Date(q.startsAt) : null,
        endsAt: q.endsAt ? new Date(q.endsAt) : null,
        pool: q.pool ?? null,
      });
    }
  }
  for (const c of defs.maxBalance.keys()) defs.tracked.add(c);
  for (const s of defs.streaks) if (s.freezeCurrency !== null) defs.tracked.add(s.freezeCurrency);

  // Guards: the reference is only complete if nothing it does not model feeds what it models.
  const modelled = new Set(["streak.extended", "quest.completed"]);
  for (const x of [...defs.streaks, ...defs.quests]) {
    for (const t of x.eventTypes) {
      if (t.startsWith("achievement.") || t === "level.up") {
        throw new Error(`the reference does not model '${t}' events (used by ${x.key})`);
      }
    }
  }
  for (const pack of jsons) {
    for (const r of pack.rules ?? []) {
      if (modelled.has(r.eventType)) throw new Error(`rules on ${r.eventType} are not modelled`);
      for (const a of r.awards ?? []) {
        if (defs.tracked.has(a.currency)) throw new Error(`a rule pays tracked currency ${a.currency}`);
      }
    }
    for (const a of pack.achievements ?? []) {
      for (const r of a.rewards ?? []) {
        if (defs.tracked.has(r.currency))
          throw new Error(`an achievement pays tracked currency ${r.currency}`);
      }
    }
  }
  return defs;
}

// ---- calendars -----------------------------------------------------------------------------------

const HOUR = 3_600_000;
const DAY = 86_400_000;

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

/** The local date of the instant minus dayStartHour hours, in the calendar's zone. */
function localDate(at: Date, calendar: Calendar): LocalDate {
  const dt = DateTime.fromMillis(at.getTime() - calendar.dayStartHour * HOUR, { zone: calendar.timeZone });
  if (!dt.isValid) throw new Error(`bad zone ${calendar.timeZone}`);
  return { year: dt.year, month: dt.month, day: dt.day };
}

const epochDay = (d: LocalDate) => Date.UTC(d.year, d.month - 1, d.day) / DAY;

function fromEpochDay(n: number): LocalDate {
  const u = new Date(n * DAY);
  return { year: u.getUTCFullYear(), month: u.getUTCMonth() + 1, day: u.getUTCDate() };
}

/** Day: days since 1970-01-01; week: floor((day + 3) / 7); month: year * 12 + month - 1. */
export function periodIndex(at: Date, cadence: Cadence, calendar: Calendar): number {
  const d = localDate(at, calendar);
  if (cadence === "month") return d.year * 12 + d.month - 1;
  const n = epochDay(d);
  return cadence === "day" ? n : Math.floor((n + 3) / 7);
}

function firstDate(index: number, cadence: Cadence): LocalDate {
  if (cadence === "month") return { year: Math.floor(index / 12), month: (index % 12) + 1, day: 1 };
  return fromEpochDay(cadence === "day" ? index : index * 7 - 3);
}

function localMidnight(d: LocalDate, timeZone: string): number {
  const dt = DateTime.fromObject({ year: d.year, month: d.month, day: d.day, hour: 0 }, { zone: timeZone });
  if (!dt.isValid || dt.hour !== 0)
    throw new Error(`no local midnight on ${JSON.stringify(d)} in ${timeZone}`);
  return dt.toMillis();
}

/** [start, end) of a numbered period: local midnight of its first date plus dayStartHour hours. */
export function periodBounds(
  index: number,
  cadence: Cadence,
  calendar: Calendar,
): { start: Date; end: Date } {
  const shift = calendar.dayStartHour * HOUR;
  return {
    start: new Date(localMidnight(firstDate(index, cadence), calendar.timeZone) + shift),
    end: new Date(localMidnight(firstDate(index + 1, cadence), calendar.timeZone) + shift),
  };
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** "YYYY-MM-DD", ISO "YYYY-Www" (luxon's ISO week of the period's first day), or "YYYY-MM". */
export function periodKeyOf(index: number, cadence: Cadence): string {
  const d = firstDate(index, cadence);
  if (cadence === "day") return `${pad(d.year, 4)}-${pad(d.month)}-${pad(d.day)}`;
  if (cadence === "month") return `${pad(d.year, 4)}-${pad(d.month)}`;
  const dt = DateTime.fromObject(d, { zone: "UTC" });
  return `${dt.weekYear}-W${pad(dt.weekNumber)}`;
}

// ---- history -------------------------------------------------------------------------------------

/** An event the engine applied (201), as the test sent it and when the server's clock said it arrived. */
export interface HistoryEvent {
  kind: "event";
  type: string;
  data: Record<string, unknown>;
  occurredAt: Date;
  receivedAt: Date;
  /** The player's calendar at that moment. */
  calendar: Calendar;
}

/** GET /v1/me/quests: a first touch at `at`. */
export interface HistoryTouch {
  kind: "touch";
  at: Date;
  calendar: Calendar;
}

/** A protection window given to the player (streak null: all streaks). */
export interface HistoryProtection {
  kind: "protection";
  streak: string | null;
  startsAt: Date;
  endsAt: Date;
}

/** An admin adjustment of a wallet (only tracked currencies matter to streaks). */
export interface HistoryAdjustment {
  kind: "adjust";
  currency: string;
  amount: number;
}

export type HistoryEntry = HistoryEvent | HistoryTouch | HistoryProtection | HistoryAdjustment;

// ---- outcome -------------------------------------------------------------------------------------

export interface RefStreak {
  key: string;
  current: number;
  longest: number;
  last: number;
  calendar: Calendar;
  /** Freeze tokens spent on this streak so far. */
  freezesUsed: number;
  /** The counting instant of the last counted period (used by the "both-calendars" rule only). */
  countedAt: Date;
  /** The last activity, counted or not, and the calendar then ("both-calendars" rule only). */
  activityAt: Date;
  activityCalendar: Calendar;
}

/**
 * How a change of calendar (zone or day-start hour) is handled.
 *
 * "both-calendars" — the rule Ludus follows (docs/engine.md, Streaks): a period counts only if a
 * new one has begun since the last count both in the calendar of that count and in the calendar
 * now; periods are missed only if the player was idle through them both in the calendar of their
 * last activity (counted or not) and in the calendar now.
 *
 * "brief" — an earlier, simpler rule kept to show what the walks catch: a period counts if its
 * number in the calendar now is after the last counted one; missed = min(p, p in the calendar of
 * the last count) − last − 1. It lets a player who flies east count two dates within an hour.
 *
 * With a single calendar both rules give the same results.
 */
export type CalendarChangeRule = "brief" | "both-calendars";
export const CALENDAR_CHANGE_RULE: CalendarChangeRule = "both-calendars";

interface Gap {
  advanced: boolean;
  missed: number;
  /** Missed periods are from.index + 1 … from.index + missed, numbered in from.calendar. */
  from: { index: number; calendar: Calendar };
}

function gapOf(
  state: RefStreak,
  at: Date,
  cadence: Cadence,
  calendar: Calendar,
  rule: CalendarChangeRule,
): Gap {
  const p = periodIndex(at, cadence, calendar);
  if (rule === "brief") {
    const pOld = periodIndex(at, cadence, state.calendar);
    return {
      advanced: p > state.last,
      missed: Math.max(0, Math.min(p, pOld) - state.last - 1),
      from: { index: state.last, calendar: state.calendar },
    };
  }
  const advanced =
    p > periodIndex(state.countedAt, cadence, calendar) &&
    periodIndex(at, cadence, state.calendar) > state.last;
  const fromHere = periodIndex(state.activityAt, cadence, calendar);
  const fromThere = periodIndex(state.activityAt, cadence, state.activityCalendar);
  const here = p - fromHere;
  const there = periodIndex(at, cadence, state.activityCalendar) - fromThere;
  return {
    advanced,
    missed: Math.max(0, Math.min(here, there) - 1),
    from:
      here <= there ? { index: fromHere, calendar } : { index: fromThere, calendar: state.activityCalendar },
  };
}

/** How many of a gap's missed periods some protection window of this streak (or of all) overlaps. */
function shieldedCount(key: string, cadence: Cadence, gap: Gap, protections: HistoryProtection[]): number {
  if (gap.missed > 400) return 0;
  let count = 0;
  for (let p = gap.from.index + 1; p <= gap.from.index + gap.missed; p++) {
    const { start, end } = periodBounds(p, cadence, gap.from.calendar);
    if (
      protections.some((w) => (w.streak === null || w.streak === key) && w.startsAt < end && start < w.endsAt)
    ) {
      count++;
    }
  }
  return count;
}

export interface RefQuest {
  key: string;
  periodKey: string;
  status: "active" | "completed";
  progress: number;
  target: number;
  startsAt: Date;
  expiresAt: Date;
  completedAt: Date | null;
}

export interface RefLedgerEntry {
  currency: string;
  type: "reward" | "spend" | "adjust";
  amount: number;
  source: string;
  /** The quest period, for quest rewards. */
  period: string | null;
}

export interface RefStreakStep {
  key: string;
  current: number;
  longest: number;
  /** Tokens spent and periods forgiven by protection at this step; restarted: the streak broke. */
  frozen: number;
  shielded: number;
  restarted: boolean;
}

export interface Outcome {
  streaks: Map<string, RefStreak>;
  /** Milestones paid, as `${key}|${count}`. */
  milestones: Set<string>;
  /** Balances of the tracked currencies (freeze tokens). */
  balances: Map<string, number>;
  /** Ledger entries the streaks and quests wrote, in order. */
  ledger: RefLedgerEntry[];
  /** One per counting step (each is a streak.extended event). */
  steps: RefStreakStep[];
  quests: Map<string, RefQuest>;
  /** How many times an event counted for a streak when it arrived, being later than the grace. */
  countedAtReceipt: number;
  /** One per completed quest (each is a quest.completed event). */
  completions: { key: string; period: string }[];
  protections: HistoryProtection[];
}

export interface StreakView {
  current: number;
  longest: number;
  safe: boolean;
  atRisk: boolean;
  freezesNeeded: number;
  periodEndsAt: Date;
}

// ---- replay --------------------------------------------------------------------------------------

function read(value: unknown, dotted: string): unknown {
  let node = value;
  for (const part of dotted.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Conditions of these packs are equalities (or $in lists) on dotted paths; anything else is refused. */
function holds(condition: Condition, event: { type: string; data: Record<string, unknown> }): boolean {
  if (condition === null) return true;
  return Object.entries(condition).every(([dotted, expected]) => {
    if (expected !== null && typeof expected === "object") {
      const only = Object.keys(expected);
      const list = (expected as { $in?: unknown }).$in;
      if (only.length === 1 && Array.isArray(list)) return list.includes(read({ event }, dotted));
      throw new Error(`the reference only knows equality conditions, not ${JSON.stringify(expected)}`);
    }
    return read({ event }, dotted) === expected;
  });
}

interface Applied {
  type: string;
  data: Record<string, unknown>;
  occurredAt: Date;
}

/** Replays a player's history and returns what streaks and quests must look like after it. */
export function replay(
  userId: string,
  history: readonly HistoryEntry[],
  defs: Definitions,
  rule: CalendarChangeRule = CALENDAR_CHANGE_RULE,
): Outcome {
  const out: Outcome = {
    streaks: new Map(),
    milestones: new Set(),
    balances: new Map([...defs.tracked].map((c) => [c, 0])),
    ledger: [],
    steps: [],
    quests: new Map(),
    countedAtReceipt: 0,
    completions: [],
    protections: [],
  };
  const cadences = [...new Set(defs.quests.map((q) => q.cadence))];

  const pay = (rewards: Reward[], source: string, period: string | null) => {
    for (const r of rewards) {
      let amount = r.amount;
      const max = defs.maxBalance.get(r.currency);
      const balance = out.balances.get(r.currency) ?? 0;
      if (max !== undefined) amount = Math.min(amount, Math.max(0, max - balance));
      if (amount <= 0) continue;
      if (defs.tracked.has(r.currency)) out.balances.set(r.currency, balance + amount);
      out.ledger.push({ currency: r.currency, type: "reward", amount, source, period });
    }
  };

  const questPeriod = (cadence: QuestCadence, at: Date, calendar: Calendar) =>
    cadence === "special" ? "special" : periodKeyOf(periodIndex(at, cadence, calendar), cadence);

  const give = (q: QuestDef, at: Date, calendar: Calendar, periodKey: string) => {
    let startsAt = at;
    let end = Infinity;
    if (q.cadence !== "special") {
      const bounds = periodBounds(periodIndex(at, q.cadence, calendar), q.cadence, calendar);
      startsAt = bounds.start;
      end = bounds.end.getTime();
    }
    const limits = [end];
    if (q.endsAt !== null) limits.push(q.endsAt.getTime());
    if (q.timeLimitHours !== null) limits.push(at.getTime() + q.timeLimitHours * HOUR);
    out.quests.set(`${q.key}|${periodKey}`, {
      key: q.key,
      periodKey,
      status: "active",
      progress: 0,
      target: q.target,
      startsAt,
      expiresAt: new Date(Math.min(...limits)),
      completedAt: null,
    });
  };

  const has = (q: QuestDef, periodKey: string) => out.quests.has(`${q.key}|${periodKey}`);
  /** The values counted so far by quests of mode distinct, by `${key}|${periodKey}`. */
  const seenBy = new Map<string, Set<string>>();

  /** First touch: the quests of the periods containing `at` that the player does not have yet. */
  const assign = (at: Date, calendar: Calendar) => {
    for (const cadence of cadences) {
      const periodKey = questPeriod(cadence, at, calendar);
      const open = defs.quests.filter(
        (q) =>
          q.cadence === cadence &&
          (q.startsAt === null || q.startsAt <= at) &&
          (q.endsAt === null || at < q.endsAt),
      );
      for (const q of open) if (q.pool === null && !has(q, periodKey)) give(q, at, calendar, periodKey);
      for (const pool of new Set(open.flatMap((q) => (q.pool === null ? [] : [q.pool])))) {
        const members = defs.quests.filter((q) => q.pool === pool && q.cadence === cadence);
        if (members.some((q) => has(q, periodKey))) continue;
        const size = defs.pools.get(pool)?.size ?? Infinity;
        const weight = (q: QuestDef) =>
          createHash("sha256").update(`${userId}|${periodKey}|${q.key}`).digest("hex");
        const drawn = open
          .filter((q) => q.pool === pool)
          .map((q) => ({ q, w: weight(q) }))
          .sort((a, b) => (a.w < b.w ? -1 : a.w > b.w ? 1 : 0))
          .slice(0, size);
        for (const { q } of drawn) give(q, at, calendar, periodKey);
      }
    }
  };

  const tokensOf = (s: StreakDef) =>
    s.freezeCurrency === null ? 0 : (out.balances.get(s.freezeCurrency) ?? 0);

  /** Counts one event into one streak; returns whether it was a counting step. */
  const countStreak = (s: StreakDef, occurredAt: Date, receivedAt: Date, calendar: Calendar): boolean => {
    // The counting instant.
    let at = occurredAt;
    const p0 = periodIndex(occurredAt, s.cadence, calendar);
    if (p0 < periodIndex(receivedAt, s.cadence, calendar)) {
      const end = periodBounds(p0, s.cadence, calendar).end.getTime();
      if (receivedAt.getTime() - end > s.graceHours * HOUR) {
        at = receivedAt;
        out.countedAtReceipt++;
      }
    }
    const p = periodIndex(at, s.cadence, calendar);
    const state = out.streaks.get(s.key);
    let step: RefStreakStep;
    if (state === undefined) {
      out.streaks.set(s.key, {
        key: s.key,
        current: 1,
        longest: 1,
        last: p,
        calendar,
        freezesUsed: 0,
        countedAt: at,
        activityAt: at,
        activityCalendar: calendar,
      });
      step = { key: s.key, current: 1, longest: 1, frozen: 0, shielded: 0, restarted: false };
    } else {
      const gap = gapOf(state, at, s.cadence, calendar, rule);
      if (!gap.advanced) {
        if (rule === "both-calendars" && at > state.activityAt) {
          state.activityAt = at;
          state.activityCalendar = calendar;
        }
        return false;
      }
      let frozen = 0;
      let shielded = 0;
      let restarted = false;
      if (gap.missed === 0) {
        state.current += 1;
      } else {
        shielded = shieldedCount(s.key, s.cadence, gap, out.protections);
        const needed = gap.missed - shielded;
        if (gap.missed <= 400 && needed <= tokensOf(s)) {
          if (needed > 0 && s.freezeCurrency !== null) {
            out.balances.set(s.freezeCurrency, tokensOf(s) - needed);
            out.ledger.push({
              currency: s.freezeCurrency,
              type: "spend",
              amount: -needed,
              source: `streak:${s.key}`,
              period: null,
            });
          }
          frozen = needed;
          state.freezesUsed += needed;
          state.current += 1;
        } else {
          shielded = 0;
          restarted = true;
          state.current = 1;
        }
      }
      state.longest = Math.max(state.longest, state.current);
      state.last = p;
      state.calendar = calendar;
      state.countedAt = at;
      state.activityAt = at;
      state.activityCalendar = calendar;
      step = { key: s.key, current: state.current, longest: state.longest, frozen, shielded, restarted };
    }
    out.steps.push(step);
    for (const m of s.milestones) {
      const slot = `${s.key}|${m.count}`;
      if (m.count > step.current || out.milestones.has(slot)) continue;
      out.milestones.add(slot);
      pay(m.rewards, `streak:${s.key}`, null);
    }
    return true;
  };

  /** Applies one event (and, depth first, the events it derives) at the player's calendar. */
  const apply = (event: Applied, receivedAt: Date, calendar: Calendar, depth: number) => {
    assign(event.occurredAt, calendar);
    const derived: Applied[] = [];
    for (const s of defs.streaks) {
      if (!s.eventTypes.includes(event.type) || !holds(s.condition, event)) continue;
      if (countStreak(s, event.occurredAt, receivedAt, calendar)) {
        const st = out.streaks.get(s.key)!;
        // A derived event happens when its cause did.
        derived.push({
          type: "streak.extended",
          data: { key: s.key, current: st.current, longest: st.longest },
          occurredAt: event.occurredAt,
        });
      }
    }
    for (const q of defs.quests) {
      if (!q.eventTypes.includes(event.type)) continue;
      const periodKey = questPeriod(q.cadence, event.occurredAt, calendar);
      const quest = out.quests.get(`${q.key}|${periodKey}`);
      if (quest === undefined || quest.status !== "active") continue;
      if (event.occurredAt < quest.startsAt || event.occurredAt >= quest.expiresAt) continue;
      if (!holds(q.condition, event)) continue;
      let reached: number;
      if (q.mode === "distinct") {
        // Each value of the field counts once (strings and numbers, by their text: 1 and "1" are one).
        const raw = read(event, q.amountField ?? "");
        if (typeof raw !== "string" && typeof raw !== "number") continue;
        const slot = `${q.key}|${periodKey}`;
        const seen = seenBy.get(slot) ?? new Set<string>();
        seenBy.set(slot, seen);
        const value = String(raw);
        if (seen.has(value)) continue;
        seen.add(value);
        reached = seen.size;
      } else {
        let amount = 1;
        if (q.amountField !== null) {
          const raw = read(event, q.amountField);
          amount = typeof raw === "number" ? Math.floor(raw) : 0;
        }
        if (amount <= 0) continue;
        reached = q.mode === "sum" ? quest.progress + amount : Math.max(quest.progress, amount);
      }
      quest.progress = Math.min(quest.target, reached);
      if (quest.progress >= quest.target) {
        quest.status = "completed";
        quest.completedAt = event.occurredAt;
        pay(q.rewards, `quest:${q.key}`, periodKey);
        out.completions.push({ key: q.key, period: periodKey });
        derived.push({
          type: "quest.completed",
          data: { key: q.key, period: periodKey },
          occurredAt: event.occurredAt,
        });
      }
    }
    if (depth < 5) for (const d of derived) apply(d, receivedAt, calendar, depth + 1);
  };

  for (const entry of history) {
    switch (entry.kind) {
      case "protection":
        out.protections.push(entry);
        break;
      case "touch":
        assign(entry.at, entry.calendar);
        break;
      case "adjust":
        if (defs.tracked.has(entry.currency)) {
          out.balances.set(entry.currency, (out.balances.get(entry.currency) ?? 0) + entry.amount);
        }
        out.ledger.push({
          currency: entry.currency,
          type: "adjust",
          amount: entry.amount,
          source: "admin",
          period: null,
        });
        break;
      case "event":
        apply(entry, entry.receivedAt, entry.calendar, 0);
        break;
    }
  }
  return out;
}

/** A streak as GET /v1/me/streaks must show it at `now` for a player with `calendar`. */
export function streakView(
  outcome: Outcome,
  defs: Definitions,
  key: string,
  now: Date,
  calendar: Calendar,
  rule: CalendarChangeRule = CALENDAR_CHANGE_RULE,
): StreakView {
  const s = defs.streaks.find((x) => x.key === key);
  if (s === undefined) throw new Error(`no streak ${key}`);
  const here = periodIndex(now, s.cadence, calendar);
  const periodEndsAt = periodBounds(here, s.cadence, calendar).end;
  const state = outcome.streaks.get(key);
  if (state === undefined) {
    return { current: 0, longest: 0, safe: false, atRisk: false, freezesNeeded: 0, periodEndsAt };
  }
  const gap = gapOf(state, now, s.cadence, calendar, rule);
  if (!gap.advanced) {
    return {
      current: state.current,
      longest: state.longest,
      safe: true,
      atRisk: false,
      freezesNeeded: 0,
      periodEndsAt,
    };
  }
  let needed = 0;
  let alive = true;
  if (gap.missed > 0) {
    needed = gap.missed - shieldedCount(key, s.cadence, gap, outcome.protections);
    const tokens = s.freezeCurrency === null ? 0 : (outcome.balances.get(s.freezeCurrency) ?? 0);
    alive = gap.missed <= 400 && needed <= tokens;
  }
  return {
    current: alive ? state.current : 0,
    longest: state.longest,
    safe: false,
    atRisk: alive,
    freezesNeeded: alive ? needed : 0,
    periodEndsAt,
  };
}

/** The status GET /v1/me/quests shows: an active quest past its expiry is expired. */
export function questStatus(q: RefQuest, now: Date): "active" | "completed" | "expired" {
  return q.status === "active" && q.expiresAt <= now ? "expired" : q.status;
}
