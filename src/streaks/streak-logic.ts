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
  /** The instant the last period was counted at (see countingInstant). */
  lastEventAt: Date;
  /**
   * The last activity, counted or not, and the calendar the player had then. Only after a change
   * of calendar can it fall in a later period than the last counted one (see gap).
   */
  lastActivityAt: Date;
  activityCalendar: Calendar;
  freezesUsed: number;
}

export interface ProtectionWindow {
  startsAt: Date;
  endsAt: Date;
}

export interface StreakStep {
  state: StreakState;
  /**
   * started: first period; extended: the next one (perhaps after covered misses); restarted: it had
   * broken; none: nothing counted (the period is already counted), though the activity is noted.
   */
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

/** Periods between two instants: how many boundaries of the calendar lie between them. */
const steps = (from: Date, to: Date, cadence: Cadence, calendar: Calendar) =>
  periodIndex(to, cadence, calendar) - periodIndex(from, cadence, calendar);

/**
 * Whether `at` opens a new period since the last counted one, and which periods were missed.
 *
 * With one calendar this is arithmetic on period numbers. A change of zone (or day-start hour)
 * must neither gain nor lose a period by itself, so then:
 * - a period is counted only if a new one has begun since the last count both in the calendar of
 *   that count and in the player's calendar now (hopping zones cannot count two dates in an hour);
 * - periods are missed only if the player was idle through them in both the calendar of their
 *   last activity and the calendar now (a date skipped by flying east, or an activity that could
 *   not count because the new zone's date was already counted, does not break the streak).
 */
function gap(state: StreakState, at: Date, cadence: Cadence, calendar: Calendar) {
  const period = periodIndex(at, cadence, calendar);
  const advanced =
    steps(state.lastEventAt, at, cadence, calendar) > 0 &&
    periodIndex(at, cadence, state.calendar) > state.lastPeriod;
  const here = steps(state.lastActivityAt, at, cadence, calendar);
  if (sameCalendar(state.activityCalendar, calendar)) {
    return { period, advanced, missed: Math.max(0, here - 1), after: state.lastActivityAt, in: calendar };
  }
  const there = steps(state.lastActivityAt, at, cadence, state.activityCalendar);
  return {
    period,
    advanced,
    missed: Math.max(0, Math.min(here, there) - 1),
    after: state.lastActivityAt,
    in: here <= there ? calendar : state.activityCalendar,
  };
}

/** The missed periods (those after `after`'s, in `calendar`) that some protection window overlaps. */
function protectedCount(
  after: Date,
  missed: number,
  cadence: Cadence,
  calendar: Calendar,
  protections: ProtectionWindow[],
): number {
  if (protections.length === 0 || missed > MAX_COVERABLE) return 0;
  const last = periodIndex(after, cadence, calendar);
  let count = 0;
  for (let p = last + 1; p <= last + missed; p++) {
    const { start, end } = periodOfIndex(p, cadence, calendar);
    if (protections.some((w) => w.startsAt < end && start < w.endsAt)) count++;
  }
  return count;
}

function cover(
  missed: { missed: number; after: Date; in: Calendar },
  cadence: Cadence,
  tokens: number,
  protections: ProtectionWindow[],
) {
  if (missed.missed === 0) return { shielded: 0, needed: 0, alive: true };
  const shielded = protectedCount(missed.after, missed.missed, cadence, missed.in, protections);
  const needed = missed.missed - shielded;
  return { shielded, needed, alive: missed.missed <= MAX_COVERABLE && needed <= tokens };
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
  const counted = (current: number, longest: number, startedAt: Date, freezesUsed: number): StreakState => ({
    current,
    longest,
    lastPeriod: periodIndex(at, cadence, calendar),
    calendar,
    startedAt,
    lastEventAt: at,
    lastActivityAt: at,
    activityCalendar: calendar,
    freezesUsed,
  });
  if (previous === undefined) {
    return { state: counted(1, 1, at, 0), change: "started", frozen: 0, protectedPeriods: 0, brokenAt: 0 };
  }
  const found = gap(previous, at, cadence, calendar);
  if (!found.advanced) {
    // Nothing to count, but a later activity (in another calendar) keeps the streak from breaking.
    const later = at > previous.lastActivityAt;
    return {
      state: later ? { ...previous, lastActivityAt: at, activityCalendar: calendar } : previous,
      change: "none",
      frozen: 0,
      protectedPeriods: 0,
      brokenAt: 0,
    };
  }
  const covered = cover(found, cadence, options.tokens, options.protections);
  if (!covered.alive) {
    return {
      state: counted(1, Math.max(previous.longest, 1), at, previous.freezesUsed),
      change: "restarted",
      frozen: 0,
      protectedPeriods: 0,
      brokenAt: previous.current,
    };
  }
  const current = previous.current + 1;
  return {
    state: counted(
      current,
      Math.max(previous.longest, current),
      previous.startedAt,
      previous.freezesUsed + covered.needed,
    ),
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
  const found = gap(state, now, cadence, calendar);
  if (!found.advanced) {
    return {
      current: state.current,
      longest: state.longest,
      safe: true,
      atRisk: false,
      freezesNeeded: 0,
      periodEndsAt,
    };
  }
  const covered = cover(found, cadence, options.tokens, options.protections);
  return {
    current: covered.alive ? state.current : 0,
    longest: state.longest,
    safe: false,
    atRisk: covered.alive,
    freezesNeeded: covered.alive ? covered.needed : 0,
    periodEndsAt,
  };
}
