import { DateTime } from "luxon";

export type Cadence = "day" | "week" | "month";

/**
 * A calendar period in an IANA time zone, optionally with days starting at a given hour (a player
 * who sets 4 am has their "day" run 04:00–04:00). Keys are stable text: 2026-03-08, 2026-W10,
 * 2026-03. Weeks are ISO weeks (Monday first).
 */
export interface Period {
  cadence: Cadence;
  key: string;
  start: Date;
  end: Date;
}

export interface ZoneOptions {
  timeZone: string;
  /** Hour (0–23) at which a day begins; applies to weeks and months too. */
  dayStartHour?: number;
}

function local(at: Date, { timeZone, dayStartHour = 0 }: ZoneOptions): DateTime {
  const dt = DateTime.fromJSDate(at, { zone: timeZone });
  if (!dt.isValid) throw new Error(`invalid time zone ${timeZone}`);
  // Shift so that the configured hour becomes midnight; period arithmetic then works on calendar days.
  return dt.minus({ hours: dayStartHour });
}

function bounds(startLocal: DateTime, cadence: Cadence, dayStartHour: number): { start: Date; end: Date } {
  const unit = cadence === "day" ? "days" : cadence === "week" ? "weeks" : "months";
  // Adding the hour back after truncation lands on the wall-clock start, even across DST changes.
  const start = startLocal.plus({ hours: dayStartHour });
  const end = startLocal.plus({ [unit]: 1 }).plus({ hours: dayStartHour });
  return { start: start.toJSDate(), end: end.toJSDate() };
}

export function periodAt(at: Date, cadence: Cadence, zone: ZoneOptions): Period {
  const dt = local(at, zone);
  const hour = zone.dayStartHour ?? 0;
  switch (cadence) {
    case "day": {
      const start = dt.startOf("day");
      return { cadence, key: start.toISODate() ?? "", ...bounds(start, cadence, hour) };
    }
    case "week": {
      const start = dt.startOf("week");
      return {
        cadence,
        key: `${dt.weekYear}-W${String(dt.weekNumber).padStart(2, "0")}`,
        ...bounds(start, cadence, hour),
      };
    }
    case "month": {
      const start = dt.startOf("month");
      return { cadence, key: start.toFormat("yyyy-MM"), ...bounds(start, cadence, hour) };
    }
  }
}

// One formatter per zone: building an Intl.DateTimeFormat is costly, using one is cheap.
const dateFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * The local calendar date (YYYY-MM-DD) of an instant in the zone: the key of daily statistics. The
 * same key periodAt(…, "day", …) gives, computed without the period's bounds (a hot path).
 */
export function dayKey(at: Date, { timeZone, dayStartHour = 0 }: ZoneOptions): string {
  let format = dateFormats.get(timeZone);
  if (format === undefined) {
    // en-CA formats dates as YYYY-MM-DD.
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    });
    dateFormats.set(timeZone, format);
  }
  return format.format(new Date(at.getTime() - dayStartHour * 3_600_000));
}

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a YYYY-MM-DD date. */
function dayNumber(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY_MS;
}

/**
 * The period containing an instant as a number: days, ISO weeks or months since 1970 in the zone's
 * calendar. Consecutive periods have consecutive numbers, which is what streaks count with.
 */
export function periodIndex(at: Date, cadence: Cadence, zone: ZoneOptions): number {
  const date = dayKey(at, zone);
  if (cadence === "month") return Number(date.slice(0, 4)) * 12 + Number(date.slice(5, 7)) - 1;
  const day = dayNumber(date);
  // 1970-01-01 was a Thursday; shifting by 3 makes weeks start on Mondays.
  return cadence === "day" ? day : Math.floor((day + 3) / 7);
}

/** The first local date (YYYY-MM-DD) of a numbered period. */
function firstDate(index: number, cadence: Cadence): string {
  if (cadence === "month") {
    return `${String(Math.floor(index / 12)).padStart(4, "0")}-${String((index % 12) + 1).padStart(2, "0")}-01`;
  }
  const day = cadence === "day" ? index : index * 7 - 3;
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** The period with a given number: its key and its bounds in the zone. */
export function periodOfIndex(index: number, cadence: Cadence, zone: ZoneOptions): Period {
  const hour = zone.dayStartHour ?? 0;
  // Noon of the first local day (plus the day-start shift) lies inside the period in every zone.
  const start = DateTime.fromISO(`${firstDate(index, cadence)}T12:00:00`, { zone: zone.timeZone }).plus({
    hours: hour,
  });
  return periodAt(start.toJSDate(), cadence, zone);
}

/** The key of the period containing an instant (as periodAt gives), without computing its bounds. */
export function periodKey(at: Date, cadence: Cadence, zone: ZoneOptions): string {
  const date = dayKey(at, zone);
  if (cadence === "day") return date;
  if (cadence === "month") return date.slice(0, 7);
  // An ISO week belongs to the year of its Thursday and is numbered from that year's first Thursday.
  const thursday = Math.floor((dayNumber(date) + 3) / 7) * 7;
  const year = new Date(thursday * DAY_MS).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1) / DAY_MS) / 7) + 1;
  return `${year}-W${String(week).padStart(2, "0")}`;
}
