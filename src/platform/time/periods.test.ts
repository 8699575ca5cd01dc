import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { dayKey, periodAt } from "./periods.ts";

describe("periods in IANA zones", () => {
  it("days follow the zone's calendar, not UTC's", () => {
    const at = new Date("2026-03-10T03:30:00Z");
    assert.equal(dayKey(at, { timeZone: "UTC" }), "2026-03-10");
    assert.equal(dayKey(at, { timeZone: "America/New_York" }), "2026-03-09");
    assert.equal(dayKey(at, { timeZone: "Asia/Tokyo" }), "2026-03-10");
    assert.equal(dayKey(at, { timeZone: "Asia/Kathmandu" }), "2026-03-10");
  });

  it("the spring-forward day in New York is 23 hours long", () => {
    const day = periodAt(new Date("2026-03-08T15:00:00Z"), "day", { timeZone: "America/New_York" });
    assert.equal(day.key, "2026-03-08");
    assert.equal(day.start.toISOString(), "2026-03-08T05:00:00.000Z");
    assert.equal(day.end.toISOString(), "2026-03-09T04:00:00.000Z");
    assert.equal((day.end.getTime() - day.start.getTime()) / 3_600_000, 23);
  });

  it("the fall-back day in Berlin is 25 hours long", () => {
    const day = periodAt(new Date("2026-10-25T12:00:00Z"), "day", { timeZone: "Europe/Berlin" });
    assert.equal(day.key, "2026-10-25");
    assert.equal((day.end.getTime() - day.start.getTime()) / 3_600_000, 25);
  });

  it("a day-start hour moves the boundary", () => {
    const zone = { timeZone: "Europe/Berlin", dayStartHour: 4 };
    // 03:30 local on the 12th still belongs to the 11th; 04:00 starts the 12th.
    assert.equal(dayKey(new Date("2026-01-12T02:30:00Z"), zone), "2026-01-11");
    assert.equal(dayKey(new Date("2026-01-12T03:00:00Z"), zone), "2026-01-12");
    const day = periodAt(new Date("2026-01-12T12:00:00Z"), "day", zone);
    assert.equal(day.start.toISOString(), "2026-01-12T03:00:00.000Z");
  });

  it("weeks are ISO weeks and months are calendar months, in the zone", () => {
    const zone = { timeZone: "Australia/Sydney" };
    // Sunday 2026-01-04 22:00 UTC is Monday 09:00 in Sydney: week 2 there.
    const week = periodAt(new Date("2026-01-04T22:00:00Z"), "week", zone);
    assert.equal(week.key, "2026-W02");
    assert.equal(periodAt(new Date("2026-01-04T22:00:00Z"), "week", { timeZone: "UTC" }).key, "2026-W01");
    // 2027-01-01 is in ISO week 53 of 2026.
    assert.equal(periodAt(new Date("2027-01-01T12:00:00Z"), "week", { timeZone: "UTC" }).key, "2026-W53");
    assert.equal(periodAt(new Date("2026-01-31T14:00:00Z"), "month", zone).key, "2026-02");
  });

  it("dayKey (the fast path) agrees with periodAt's day key (property)", () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date("2000-01-01T00:00:00Z"),
          max: new Date("2040-01-01T00:00:00Z"),
          noInvalidDate: true,
        }),
        fc.constantFrom(
          "UTC",
          "America/New_York",
          "Europe/Berlin",
          "Asia/Kathmandu",
          "Australia/Lord_Howe",
          "Pacific/Apia",
        ),
        fc.integer({ min: 0, max: 23 }),
        (at, timeZone, dayStartHour) => {
          assert.equal(
            dayKey(at, { timeZone, dayStartHour }),
            periodAt(at, "day", { timeZone, dayStartHour }).key,
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("every instant lies inside its period, and periods tile time (property)", () => {
    const zones = [
      "UTC",
      "America/New_York",
      "Europe/Berlin",
      "Asia/Kathmandu",
      "Australia/Lord_Howe",
      "Pacific/Apia",
    ];
    fc.assert(
      fc.property(
        fc.date({
          min: new Date("2020-01-01T00:00:00Z"),
          max: new Date("2035-01-01T00:00:00Z"),
          noInvalidDate: true,
        }),
        fc.constantFrom(...zones),
        fc.constantFrom("day" as const, "week" as const, "month" as const),
        fc.integer({ min: 0, max: 23 }),
        (at, timeZone, cadence, dayStartHour) => {
          const p = periodAt(at, cadence, { timeZone, dayStartHour });
          assert.ok(p.start <= at && at < p.end, `${at.toISOString()} in ${p.key}`);
          const next = periodAt(p.end, cadence, { timeZone, dayStartHour });
          assert.equal(next.start.getTime(), p.end.getTime(), "the next period starts where this one ends");
          assert.notEqual(next.key, p.key);
        },
      ),
      { numRuns: 500 },
    );
  });
});
