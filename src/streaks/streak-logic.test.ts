import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { periodAt, periodIndex, periodKey, periodOfIndex, type Cadence } from "../platform/time/periods.ts";
import {
  countingInstant,
  stepStreak,
  streakStatus,
  type Calendar,
  type StreakState,
} from "./streak-logic.ts";

const HOUR = 3_600_000;
const at = (iso: string) => new Date(iso);
const NY: Calendar = { timeZone: "America/New_York", dayStartHour: 0 };
const TOKYO: Calendar = { timeZone: "Asia/Tokyo", dayStartHour: 0 };
const LA: Calendar = { timeZone: "America/Los_Angeles", dayStartHour: 0 };
const none = { tokens: 0, protections: [] };

/** Counts activities one after another, as the engine does, returning the final state. */
function walk(
  steps: { at: string; calendar?: Calendar; tokens?: number }[],
  cadence: Cadence = "day",
): { state: StreakState | undefined; changes: string[]; frozen: number } {
  let state: StreakState | undefined;
  const changes: string[] = [];
  let frozen = 0;
  for (const s of steps) {
    const step = stepStreak(state, at(s.at), cadence, s.calendar ?? NY, {
      tokens: s.tokens ?? 0,
      protections: [],
    });
    changes.push(step.change);
    frozen += step.frozen;
    state = step.state;
  }
  return { state, changes, frozen };
}

describe("period numbering", () => {
  it("agrees with periodAt for keys and bounds in many zones, hours and cadences (property)", () => {
    const zones = [
      "UTC",
      "America/New_York",
      "Europe/London",
      "Australia/Sydney",
      "Asia/Kolkata",
      "Pacific/Chatham",
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }),
        fc.constantFrom(...zones),
        fc.integer({ min: 0, max: 23 }),
        fc.constantFrom<Cadence>("day", "week", "month"),
        (ms, timeZone, dayStartHour, cadence) => {
          const zone = { timeZone, dayStartHour };
          const instant = new Date(ms);
          const period = periodAt(instant, cadence, zone);
          assert.equal(periodKey(instant, cadence, zone), period.key);
          const again = periodOfIndex(periodIndex(instant, cadence, zone), cadence, zone);
          assert.equal(again.key, period.key);
          assert.equal(again.start.getTime(), period.start.getTime());
          assert.equal(again.end.getTime(), period.end.getTime());
          // The next number is the next period: it starts where this one ends.
          const next = periodOfIndex(periodIndex(instant, cadence, zone) + 1, cadence, zone);
          assert.equal(next.start.getTime(), period.end.getTime());
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("numbers ISO weeks across a year boundary and days across DST changes consecutively", () => {
    // 2026-12-31 is a Thursday of week 2026-W53; 2027-01-04 is the Monday of 2027-W01.
    assert.equal(periodKey(at("2026-12-31T12:00:00Z"), "week", { timeZone: "UTC" }), "2026-W53");
    assert.equal(periodKey(at("2027-01-04T12:00:00Z"), "week", { timeZone: "UTC" }), "2027-W01");
    assert.equal(
      periodIndex(at("2027-01-04T12:00:00Z"), "week", { timeZone: "UTC" }) -
        periodIndex(at("2026-12-31T12:00:00Z"), "week", { timeZone: "UTC" }),
      1,
    );
    // New York springs forward on 2026-03-08: that day is 23 hours long and still one day.
    const march8 = periodAt(at("2026-03-08T12:00:00Z"), "day", NY);
    assert.equal(march8.end.getTime() - march8.start.getTime(), 23 * HOUR);
    assert.equal(
      periodIndex(at("2026-03-09T12:00:00Z"), "day", NY) - periodIndex(march8.start, "day", NY),
      1,
    );
  });
});

describe("stepStreak", () => {
  it("counts one per period, ignores a second activity in the same period, and breaks after a miss", () => {
    const { state, changes } = walk([
      { at: "2026-01-05T15:00:00Z" },
      { at: "2026-01-05T23:00:00Z" }, // same New York day (18:00)
      { at: "2026-01-06T04:59:00Z" }, // 23:59 on the 5th in New York: still the 5th
      { at: "2026-01-06T05:00:00Z" }, // 00:00 on the 6th
      { at: "2026-01-08T15:00:00Z" }, // the 7th was missed
    ]);
    assert.deepEqual(changes, ["started", "none", "none", "extended", "restarted"]);
    assert.equal(state?.current, 1);
    assert.equal(state?.longest, 2);
  });

  it("spends freeze tokens for missed periods only when they cover all of them", () => {
    const covered = walk([
      { at: "2026-01-05T15:00:00Z" },
      { at: "2026-01-08T15:00:00Z", tokens: 2 }, // two days missed, two tokens
    ]);
    assert.deepEqual(covered.changes, ["started", "extended"]);
    assert.equal(covered.frozen, 2);
    assert.equal(covered.state?.current, 2);
    assert.equal(covered.state?.freezesUsed, 2);

    const short = walk([
      { at: "2026-01-05T15:00:00Z" },
      { at: "2026-01-09T15:00:00Z", tokens: 2 }, // three missed, two tokens: broken, none spent
    ]);
    assert.deepEqual(short.changes, ["started", "restarted"]);
    assert.equal(short.frozen, 0);
  });

  it("forgives missed periods that a protection window overlaps, before spending tokens", () => {
    const first = stepStreak(undefined, at("2026-01-05T15:00:00Z"), "day", NY, none).state;
    // Protected from 20:00 on the 6th to 20:00 on the 7th (New York): both missed days overlap it.
    const protections = [{ startsAt: at("2026-01-07T01:00:00Z"), endsAt: at("2026-01-08T01:00:00Z") }];
    const step = stepStreak(first, at("2026-01-08T15:00:00Z"), "day", NY, { tokens: 0, protections });
    assert.equal(step.change, "extended");
    assert.equal(step.protectedPeriods, 2);
    assert.equal(step.frozen, 0);
    // A window that covers only the 6th leaves the 7th to a token.
    const partial = [{ startsAt: at("2026-01-06T06:00:00Z"), endsAt: at("2026-01-06T07:00:00Z") }];
    const one = stepStreak(first, at("2026-01-08T15:00:00Z"), "day", NY, { tokens: 1, protections: partial });
    assert.deepEqual([one.change, one.protectedPeriods, one.frozen], ["extended", 1, 1]);
  });

  it("moving east across the date line skips a date without breaking the streak", () => {
    // 18:00 on the 5th in Los Angeles, then a day later in Tokyo it is already the 7th.
    const { state, changes } = walk([
      { at: "2026-01-06T02:00:00Z", calendar: LA },
      { at: "2026-01-07T02:00:00Z", calendar: TOKYO },
    ]);
    assert.deepEqual(changes, ["started", "extended"]);
    assert.equal(state?.current, 2);
    assert.deepEqual(state?.calendar, TOKYO);
  });

  it("moving west never counts a date twice", () => {
    // 23:00 on the 6th in Tokyo is 06:00 on the 6th in Los Angeles: the 6th there is taken.
    const { state, changes } = walk([
      { at: "2026-01-06T14:00:00Z", calendar: TOKYO },
      { at: "2026-01-07T04:00:00Z", calendar: LA }, // 20:00 on the 6th in LA
      { at: "2026-01-07T16:00:00Z", calendar: LA }, // 08:00 on the 7th in LA
    ]);
    assert.deepEqual(changes, ["started", "none", "extended"]);
    assert.equal(state?.current, 2);
  });

  it("hopping zones gains nothing: a new period must have begun in the old calendar and the new", () => {
    const { state, changes } = walk([
      { at: "2026-01-06T07:59:00Z", calendar: LA }, // 23:59 on the 5th in LA
      { at: "2026-01-06T08:01:00Z", calendar: TOKYO }, // 17:01 on the 6th in Tokyo, but the 5th in LA
      { at: "2026-01-06T08:02:00Z", calendar: LA }, // 00:02 on the 6th in LA: a new day there
      { at: "2026-01-06T15:01:00Z", calendar: TOKYO }, // 00:01 on the 7th in Tokyo, still the 6th in LA
      { at: "2026-01-06T15:05:00Z", calendar: LA },
    ]);
    assert.deepEqual(changes, ["started", "none", "extended", "none", "none"]);
    assert.equal(state?.current, 2);
  });

  const zones = [
    "Pacific/Kiritimati",
    "Asia/Tokyo",
    "Europe/Berlin",
    "UTC",
    "America/New_York",
    "Pacific/Pago_Pago",
  ];
  const hops = (maxGap: number) =>
    fc.array(
      fc.record({ gapMinutes: fc.integer({ min: 1, max: maxGap * 60 }), zone: fc.constantFrom(...zones) }),
      {
        minLength: 2,
        maxLength: 40,
      },
    );

  it("a change of zone never loses a period: activity at most 23 hours apart never breaks a streak (property)", () => {
    fc.assert(
      fc.property(hops(23), (steps) => {
        let t = Date.UTC(2026, 2, 1, 12);
        let state: StreakState | undefined;
        for (const s of steps) {
          t += s.gapMinutes * 60_000;
          const step = stepStreak(state, new Date(t), "day", { timeZone: s.zone, dayStartHour: 0 }, none);
          assert.notEqual(step.change, "restarted");
          state = step.state;
        }
      }),
      { numRuns: 500 },
    );
  });

  it("a change of zone never gains a period: every count after one would have counted without it (property)", () => {
    fc.assert(
      fc.property(hops(40), (steps) => {
        let t = Date.UTC(2026, 2, 1, 12);
        let state: StreakState | undefined;
        for (const s of steps) {
          t += s.gapMinutes * 60_000;
          const calendar = { timeZone: s.zone, dayStartHour: 0 };
          const step = stepStreak(state, new Date(t), "day", calendar, none);
          if (state !== undefined && step.change !== "none" && state.calendar.timeZone !== s.zone) {
            const stayed = stepStreak(state, new Date(t), "day", state.calendar, none);
            assert.notEqual(stayed.change, "none", "a player who had stayed would have counted too");
          }
          state = step.state;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("a change of zone never loses a period: a break after one would have broken without it (property)", () => {
    fc.assert(
      fc.property(hops(60), (steps) => {
        let t = Date.UTC(2026, 9, 20, 12);
        let state: StreakState | undefined;
        for (const s of steps) {
          t += s.gapMinutes * 60_000;
          const step = stepStreak(state, new Date(t), "day", { timeZone: s.zone, dayStartHour: 0 }, none);
          if (state !== undefined && step.change === "restarted") {
            const stayed = stepStreak(state, new Date(t), "day", state.activityCalendar, none);
            assert.equal(stayed.change, "restarted", "a player who had stayed would have broken too");
          }
          state = step.state;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("counts weeks and months, and a day-start hour moves the day boundary", () => {
    const weeks = walk(
      [{ at: "2026-03-01T12:00:00Z" }, { at: "2026-03-02T12:00:00Z" }, { at: "2026-03-15T12:00:00Z" }],
      "week",
    );
    // Sunday 1 March is ISO week 9, Monday 2 March week 10, 15 March week 11: consecutive.
    assert.deepEqual(weeks.changes, ["started", "extended", "extended"]);
    const late: Calendar = { timeZone: "America/New_York", dayStartHour: 4 };
    const first = stepStreak(undefined, at("2026-01-05T15:00:00Z"), "day", late, none).state;
    // 02:00 on the 6th in New York is still the 5th for a player whose day starts at 04:00.
    assert.equal(stepStreak(first, at("2026-01-06T07:00:00Z"), "day", late, none).change, "none");
    assert.equal(stepStreak(first, at("2026-01-06T09:00:00Z"), "day", late, none).change, "extended");
  });
});

describe("countingInstant", () => {
  it("keeps a late event's own period inside the grace window and moves it to arrival after", () => {
    const occurred = at("2026-01-06T04:00:00Z"); // 23:00 on the 5th in New York
    const inGrace = at("2026-01-06T10:59:00Z"); // 05:59 on the 6th: within 6 hours of midnight
    const tooLate = at("2026-01-06T11:01:00Z");
    assert.equal(countingInstant(occurred, inGrace, "day", 6, NY), occurred);
    assert.equal(countingInstant(occurred, tooLate, "day", 6, NY), tooLate);
    assert.equal(countingInstant(occurred, occurred, "day", 0, NY), occurred);
  });
});

describe("streakStatus", () => {
  const first = stepStreak(undefined, at("2026-01-05T15:00:00Z"), "day", NY, none).state;
  it("is safe the same day, at risk the next with the time to local midnight, and over after a miss", () => {
    assert.deepEqual(
      [streakStatus(first, at("2026-01-05T20:00:00Z"), "day", NY, none)].map((s) => [
        s.safe,
        s.atRisk,
        s.current,
      ]),
      [[true, false, 1]],
    );
    const next = streakStatus(first, at("2026-01-06T20:00:00Z"), "day", NY, none);
    assert.deepEqual([next.safe, next.atRisk, next.current], [false, true, 1]);
    assert.equal(next.periodEndsAt.toISOString(), "2026-01-07T05:00:00.000Z");
    const missed = streakStatus(first, at("2026-01-07T20:00:00Z"), "day", NY, none);
    assert.deepEqual([missed.atRisk, missed.current], [false, 0]);
    const frozen = streakStatus(first, at("2026-01-07T20:00:00Z"), "day", NY, { tokens: 1, protections: [] });
    assert.deepEqual([frozen.atRisk, frozen.current, frozen.freezesNeeded], [true, 1, 1]);
  });
});
