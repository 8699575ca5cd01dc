import { periodIndex, periodOfIndex, type Cadence } from "../platform/time/periods.ts";

/** The calendar a player counts in: their zone and the hour their day starts. */
export interface Calendar {
  timeZone: string;
  dayStartHour: number;
}

export interface StreakState {
  current: number;
  longest: number;
  /** Number of the last period counted, in `calendar` (see periodIndex). */
  lastPeriod: number;
  /** The calendar the player had when that period was counted. */
  calendar: Calendar;
  startedAt: Date;
  lastEventAt: Date;
  freezesUsed: number;
}

export interface ProtectionWindow {
  startsAt: Date;
  endsAt: Date;
}

export interface StreakStep {
  state: StreakState;
  /** started: first period; extended: the next one (perhaps after covered misses); restarted: broken. */
  change: "started" | "extended" | "restarted" | "none";
  /** Freeze tokens to spend for missed periods. */
  frozen: number;
  /** Missed periods forgiven by protection windows. */
  protectedPeriods: number;
  /** What the streak was before it broke (restarted only). */
  brokenAt: number;
}

/** Periods past this many missed ones are not looked at one by one: the streak is over. */
const MAX_COVERABLE = 400;

const sameCalendar = (a: Calendar, b: Calendar) =>
  a.timeZone === b.timeZone && a.dayStartHour === b.dayStartHour;

/**
 * The instant an event counts at: when it happened, unless it arrived more than `graceHours` after
 * the end of that period, in which case it counts when it arrived.
 */
export function countingInstant(
  occurredAt: Date,
  receivedAt: Date,
  cadence: Cadence,
  graceHours: number,
  calendar: Calendar,
): Date {
  const period = periodIndex(occurredAt, cadence, calendar);
  if (period >= periodIndex(receivedAt, cadence, calendar)) return occurredAt;
  const end = periodOfIndex(period, cadence, calendar).end.getTime();
  return receivedAt.getTime() <= end + graceHours * 3_600_000 ? occurredAt : receivedAt;
}

/**
 * How many periods were missed between the last counted one and the period of `at`, and the number
 * of `at`'s period. After a change of calendar the step is measured in the old and the new one and
 * the smaller is taken, so moving east never skips a period; a period is only counted if it comes
 * after the last in the new calendar, so moving west never counts a date twice.
 */
function gap(state: StreakState, at: Date, cadence: Cadence, calendar: Calendar) {
  const period = periodIndex(at, cadence, calendar);
  const old = sameCalendar(state.calendar, calendar) ? period : periodIndex(at, cadence, state.calendar);
  return { period, missed: Math.max(0, Math.min(period, old) - state.lastPeriod - 1) };
}

/** Missed periods (after `last`, in `calendar`) that some protection window overlaps. */
function protectedCount(
  last: number,
  missed: number,
  cadence: Cadence,
  calendar: Calendar,
  protections: ProtectionWindow[],
): number {
  if (protections.length === 0 || missed > MAX_COVERABLE) return 0;
  let count = 0;
  for (let p = last + 1; p <= last + missed; p++) {
    const { start, end } = periodOfIndex(p, cadence, calendar);
    if (protections.some((w) => w.startsAt < end && start < w.endsAt)) count++;
  }
  return count;
}

function cover(
  state: StreakState,
  missed: number,
  cadence: Cadence,
  tokens: number,
  protections: ProtectionWindow[],
) {
  const shielded = protectedCount(state.lastPeriod, missed, cadence, state.calendar, protections);
  const needed = missed - shielded;
  return { shielded, needed, alive: missed <= MAX_COVERABLE && needed <= tokens };
}

/**
 * Counts one activity at `at` (see countingInstant) into a streak. Missed periods are forgiven by
 * protection windows first, then by freeze tokens (all of them or none: tokens are not burnt on a
 * streak that breaks anyway). A frozen or protected period keeps the streak but does not add to it.
 */
export function stepStreak(
  previous: StreakState | undefined,
  at: Date,
  cadence: Cadence,
  calendar: Calendar,
  options: { tokens: number; protections: ProtectionWindow[] },
): StreakStep {
  if (previous === undefined) {
    return {
      state: {
        current: 1,
        longest: 1,
        lastPeriod: periodIndex(at, cadence, calendar),
        calendar,
        startedAt: at,
        lastEventAt: at,
        freezesUsed: 0,
      },
      change: "started",
      frozen: 0,
      protectedPeriods: 0,
      brokenAt: 0,
    };
  }
  const { period, missed } = gap(previous, at, cadence, calendar);
  if (period <= previous.lastPeriod) {
    return { state: previous, change: "none", frozen: 0, protectedPeriods: 0, brokenAt: 0 };
  }
  const covered =
    missed === 0
      ? { shielded: 0, needed: 0, alive: true }
      : cover(previous, missed, cadence, options.tokens, options.protections);
  if (!covered.alive) {
    return {
      state: {
        current: 1,
        longest: Math.max(previous.longest, 1),
        lastPeriod: period,
        calendar,
        startedAt: at,
        lastEventAt: at,
        freezesUsed: previous.freezesUsed,
      },
      change: "restarted",
      frozen: 0,
      protectedPeriods: 0,
      brokenAt: previous.current,
    };
  }
  const current = previous.current + 1;
  return {
    state: {
      current,
      longest: Math.max(previous.longest, current),
      lastPeriod: period,
      calendar,
      startedAt: previous.startedAt,
      lastEventAt: at,
      freezesUsed: previous.freezesUsed + covered.needed,
    },
    change: "extended",
    frozen: covered.needed,
    protectedPeriods: covered.shielded,
    brokenAt: 0,
  };
}

export interface StreakStatus {
  /** The streak as it stands now: 0 once it can no longer be saved. */
  current: number;
  longest: number;
  /** The current period is already counted. */
  safe: boolean;
  /** Still alive but the current period is not counted yet. */
  atRisk: boolean;
  /** Periods missed so far that will need tokens on the next activity (after protection). */
  freezesNeeded: number;
  /** End of the current period in the player's calendar. */
  periodEndsAt: Date;
}

/** What a player's streak looks like at `now`, without changing it. */
export function streakStatus(
  state: StreakState | undefined,
  now: Date,
  cadence: Cadence,
  calendar: Calendar,
  options: { tokens: number; protections: ProtectionWindow[] },
): StreakStatus {
  const here = periodIndex(now, cadence, calendar);
  const periodEndsAt = periodOfIndex(here, cadence, calendar).end;
  if (state === undefined) {
    return { current: 0, longest: 0, safe: false, atRisk: false, freezesNeeded: 0, periodEndsAt };
  }
  const { period, missed } = gap(state, now, cadence, calendar);
  if (period <= state.lastPeriod) {
    return {
      current: state.current,
      longest: state.longest,
      safe: true,
      atRisk: false,
      freezesNeeded: 0,
      periodEndsAt,
    };
  }
  const covered =
    missed === 0
      ? { needed: 0, alive: true }
      : cover(state, missed, cadence, options.tokens, options.protections);
  return {
    current: covered.alive ? state.current : 0,
    longest: state.longest,
    safe: false,
    atRisk: covered.alive,
    freezesNeeded: covered.alive ? covered.needed : 0,
    periodEndsAt,
  };
}
