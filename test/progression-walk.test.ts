import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DateTime } from "luxon";
import { createAdmin, createApiKey, createTestContext, type TestContext } from "./helpers/context.ts";
import { ProgressionDriver, type Player } from "./helpers/progression-driver.ts";
import {
  CALENDAR_CHANGE_RULE,
  loadDefinitions,
  periodBounds,
  periodIndex,
  type Outcome,
} from "./reference/progression-reference.ts";

/**
 * Acceptance 1: scripted walks with the manual clock through local midnights, DST changes, a 4 am
 * day start, changes of time zone, missed days (frozen, protected, or breaking the streak), late
 * events inside and beyond grace, weekly streaks and quests expiring and coming back. After each
 * walk every player's streaks, milestones, freeze tokens, quests and derived events — as stored
 * and as the API shows them — must equal the reference's replay of the history the walk recorded.
 */

const PACKS = ["dietgame", "dietgame-achievements", "dietgame-streaks-quests"] as const;
const HOUR = 3_600_000;

/** An instant given as local wall-clock time in a zone ("2026-03-07T23:59"). */
function local(zone: string, wall: string): Date {
  const dt = DateTime.fromISO(wall, { zone });
  assert.ok(dt.isValid, `${wall} in ${zone}`);
  return dt.toJSDate();
}

const stepsOf = (o: Outcome, key: string) => o.steps.filter((s) => s.key === key);

describe("progression walks: streaks and quests against the reference", () => {
  let ctx: TestContext;
  let drive: ProgressionDriver;
  const defs = loadDefinitions(PACKS);

  before(async () => {
    ctx = await createTestContext({ packs: PACKS });
    ctx.clock.set("2026-01-05T12:00:00Z");
    const admin = await createAdmin(ctx);
    drive = new ProgressionDriver(ctx, await createApiKey(ctx, admin.accessToken, ["events:write"]), defs);
  });
  after(() => ctx.close());

  /** Moves the clock to a local wall-clock time. */
  const at = (zone: string, wall: string) => ctx.clock.set(local(zone, wall));
  const meal = (p: Player, mealType = "lunch", occurredAt?: Date) =>
    drive.event(p, "meal.logged", { mealType }, occurredAt === undefined ? {} : { occurredAt });
  const exercise = (p: Player, minutes: number, occurredAt?: Date) =>
    drive.event(p, "exercise.logged", { minutes }, occurredAt === undefined ? {} : { occurredAt });

  it("players changing time zone mid-streak: Los Angeles → Tokyo → Los Angeles, and Tokyo → Los Angeles → Kolkata", async () => {
    const LA = "America/Los_Angeles";
    const TYO = "Asia/Tokyo";
    const IST = "Asia/Kolkata";
    const g = await drive.addPlayer("la-east-west", LA);
    const h = await drive.addPlayer("tokyo-west-east", TYO);
    // The comments below describe the brief's rule for a change of calendar (CALENDAR_CHANGE_RULE).

    at(TYO, "2026-01-12T21:00");
    await meal(h);
    at(TYO, "2026-01-13T09:00"); // h: day 2
    await meal(h);
    await drive.setCalendar(h, { timeZone: LA }); // 12 January 16:00 in Los Angeles
    at(LA, "2026-01-12T18:00");
    await meal(h); // 12 January again, in the new zone: not counted twice
    at(LA, "2026-01-12T20:00");
    await meal(g);
    at(LA, "2026-01-13T09:00"); // = 14 January 02:00 in Tokyo
    await meal(g);
    await exercise(g, 45);
    await drive.setCalendar(g, { timeZone: TYO });
    at(LA, "2026-01-13T12:00");
    await meal(h); // 13 January in Los Angeles: Tokyo's 13th was already counted
    at(TYO, "2026-01-14T08:00"); // g: 13 January 15:00 in Los Angeles — no day skipped, none missed
    await meal(g);
    await exercise(g, 15);
    await drive.check(g, { viewQuests: true, where: "after moving east" });
    await drive.check(h, { viewQuests: true, where: "after moving west" });

    at(LA, "2026-01-14T12:00");
    await meal(h);
    at(LA, "2026-01-14T22:00");
    await drive.setCalendar(h, { timeZone: IST }); // 15 January 11:30 in Kolkata
    at(IST, "2026-01-15T12:00");
    await meal(h);
    at(TYO, "2026-01-15T20:00");
    await meal(g);
    await drive.setCalendar(g, { timeZone: LA }); // 15 January 03:00 in Los Angeles
    at(LA, "2026-01-15T10:00");
    await meal(g); // 15 January, already counted in Tokyo
    at(LA, "2026-01-16T10:00");
    await meal(g);
    at(IST, "2026-01-18T10:00"); // 16 and 17 January missed: only one token
    await meal(h);
    at(LA, "2026-01-18T10:00"); // 17 January missed: covered by the token
    await meal(g);
    const west = await drive.check(g, { viewQuests: true });
    const east = await drive.check(h, { viewQuests: true });
    assert.deepEqual(
      stepsOf(west, "nutrition").map((s) => [s.current, s.frozen]),
      CALENDAR_CHANGE_RULE === "brief"
        ? [
            [1, 0],
            [2, 0],
            [3, 0],
            [4, 0],
            [5, 0],
            [6, 1],
          ]
        : // Tokyo's 14 January began before the meal of 13 January 09:00 in Los Angeles: not a new day.
          [
            [1, 0],
            [2, 0],
            [3, 0],
            [4, 0],
            [5, 1],
          ],
    );
    assert.deepEqual(
      stepsOf(east, "nutrition").map((s) => [s.current, s.restarted]),
      [
        [1, false],
        [2, false],
        [3, false],
        [4, false],
        [1, true],
      ],
    );
  });

  it("a 4 am day in Kolkata: events either side of 04:00, and a whole week completing Weekly Streak", async () => {
    const IST = "Asia/Kolkata";
    const f = await drive.addPlayer("kolkata-4am", IST, 4);
    at(IST, "2026-02-09T03:50"); // Monday 03:50 is still Sunday 8 February for this player
    await meal(f);
    for (let i = 0; i < 7; i++) {
      const date = DateTime.fromISO("2026-02-09", { zone: IST }).plus({ days: i }).toISODate() ?? "";
      at(IST, `${date}T04:10`);
      await meal(f, "breakfast");
      at(IST, `${date}T13:00`);
      await meal(f);
      await drive.event(f, "recipe.tried", { recipeId: `r${i}`, isNew: i % 2 === 0 });
      await drive.event(f, "social.interaction", { kind: i === 3 ? "share" : "like" });
      if (i === 2) await drive.check(f, { where: "mid-week" });
    }
    at(IST, "2026-02-16T03:59"); // still Sunday 15 February
    await meal(f, "snack");
    at(IST, "2026-02-16T04:01");
    await meal(f);
    const end = await drive.check(f, { viewQuests: true });
    assert.equal(end.streaks.get("nutrition")?.current, 9);
    assert.equal(end.quests.get("weekly-streak|2026-W07")?.status, "completed");
    assert.equal(end.quests.get("weekly-streak|2026-W06")?.progress, 1);
    assert.ok(end.milestones.has("nutrition|7"));
  });

  it("New York across the spring change (2026-03-08), with a 4 am player, a weekly streak and late exercise", async () => {
    const NY = "America/New_York";
    const a = await drive.addPlayer("ny-midnight", NY);
    const b = await drive.addPlayer("ny-4am", NY, 4);

    at(NY, "2026-03-05T12:00");
    await meal(a, "breakfast");
    await meal(b);
    await exercise(a, 20);
    at(NY, "2026-03-05T23:59"); // just before a's midnight
    await meal(a);
    at(NY, "2026-03-06T00:01"); // just after: day 2 for a
    await meal(a);
    at(NY, "2026-03-06T03:59"); // still b's 5 March
    await meal(b);
    at(NY, "2026-03-06T04:01"); // b's 6 March
    await meal(b);
    await drive.check(a, { where: "day 2" });
    await drive.check(b, { where: "day 2" });

    at(NY, "2026-03-07T10:00"); // day 3: the milestone pays a freeze token; the daily log completes
    for (const mealType of ["breakfast", "lunch", "dinner"]) await meal(a, mealType);
    await meal(b, "breakfast");

    // 8 March, 23 hours long: a misses it. For b (4 am) it starts at midnight + 4 h, 05:00 EDT.
    at(NY, "2026-03-08T04:30");
    await meal(b);
    at(NY, "2026-03-08T05:30");
    await meal(b);
    at(NY, "2026-03-08T23:30");
    await exercise(a, 10); // a's week of 2–8 March, already counted
    const aSunday = await drive.check(a, { where: "DST Sunday" });
    assert.equal(aSunday.streaks.get("nutrition")?.current, 3);

    at(NY, "2026-03-09T00:10"); // a new week for the exercise; the meal below spends the token on 8 March
    await exercise(a, 35);
    at(NY, "2026-03-09T00:30");
    await meal(a);
    await meal(b); // still b's 8 March
    at(NY, "2026-03-09T12:00");
    const aMonday = await drive.check(a, { viewQuests: true, where: "after the token" });
    await drive.check(b, { viewQuests: true });
    const nutrition = stepsOf(aMonday, "nutrition");
    assert.deepEqual(
      nutrition.map((s) => [s.current, s.frozen]),
      [
        [1, 0],
        [2, 0],
        [3, 0],
        [4, 1],
      ],
      "the walk covered a missed day with the token the day-3 milestone paid",
    );
    assert.deepEqual(
      stepsOf(aMonday, "fitness-weekly").map((s) => s.current),
      [1, 2],
    );

    // Weekly streak: a late exercise arriving 19 h after its week ended still counts for it (grace
    // 24 h); one arriving 34 h after its week ended counts when it arrives, and the missed week
    // breaks the streak.
    at(NY, "2026-03-23T19:00");
    await exercise(a, 15, local(NY, "2026-03-22T21:00"));
    at(NY, "2026-03-31T10:00");
    await exercise(a, 40, local(NY, "2026-03-29T21:00"));
    await meal(b);
    const aLate = await drive.check(a, { viewQuests: true, where: "late exercise" });
    await drive.check(b, { viewQuests: true });
    assert.deepEqual(
      stepsOf(aLate, "fitness-weekly").map((s) => [s.current, s.restarted]),
      [
        [1, false],
        [2, false],
        [3, false],
        [1, true],
      ],
    );
    // The exercise-log quest of 29 March was assigned and advanced at the event's own time.
    const sunday = aLate.quests.get("exercise-log|2026-03-29");
    assert.equal(sunday?.status, "completed");
  });

  it("Sydney and Chatham across the end of southern summer time (2026-04-05), with protection windows", async () => {
    const SYD = "Australia/Sydney";
    const CHT = "Pacific/Chatham";
    const d = await drive.addPlayer("sydney", SYD);
    const e = await drive.addPlayer("chatham", CHT);

    // Chatham is 2 h 45 min (+13:45 vs +11:00) ahead of Sydney before the change, both shift an hour.
    for (const [p, zone] of [
      [e, CHT],
      [d, SYD],
    ] as const) {
      at(zone, "2026-04-03T23:58");
      await meal(p);
      at(zone, "2026-04-04T00:02");
      await meal(p);
      await exercise(p, 30);
    }
    for (const [p, zone] of [
      [e, CHT],
      [d, SYD],
    ] as const) {
      at(zone, "2026-04-05T00:30"); // day 3, 25 hours long: token earned, daily quest given now
      await meal(p, "breakfast");
    }
    for (const [p, zone] of [
      [e, CHT],
      [d, SYD],
    ] as const) {
      at(zone, "2026-04-05T23:40");
      await meal(p);
      await exercise(p, 5);
    }
    // Sydney is protected on 6 April (nutrition only); Chatham on 6 April for every streak.
    at(SYD, "2026-04-06T00:10");
    await exercise(d, 20); // a new ISO week
    await drive.protect(d, "nutrition", local(SYD, "2026-04-06T10:00"), 3);
    await drive.protect(e, null, local(CHT, "2026-04-06T09:00"), 2);
    at(SYD, "2026-04-07T09:00");
    await meal(d); // 6 April missed but protected: no token spent
    at(CHT, "2026-04-08T09:00");
    await meal(e); // 6 (protected) and 7 April missed: the token covers 7 April
    const sydney = await drive.check(d, { viewQuests: true });
    const chatham = await drive.check(e, { viewQuests: true });
    assert.deepEqual(
      stepsOf(sydney, "nutrition").map((s) => [s.current, s.frozen, s.shielded]),
      [
        [1, 0, 0],
        [2, 0, 0],
        [3, 0, 0],
        [4, 0, 1],
      ],
    );
    assert.deepEqual(
      stepsOf(chatham, "nutrition").map((s) => [s.current, s.frozen, s.shielded]),
      [
        [1, 0, 0],
        [2, 0, 0],
        [3, 0, 0],
        [4, 1, 1],
      ],
    );
    assert.equal(sydney.balances.get("streak_freeze"), 1);
    assert.equal(chatham.balances.get("streak_freeze"), 0);

    // While a protection is on, the read view says so; a later missed day is not protected.
    ctx.clock.set(local(SYD, "2026-04-10T12:00"));
    await drive.protect(d, null, new Date(ctx.clock.now().getTime() - HOUR), 48);
    await drive.check(d, { where: "protected now" });
    at(SYD, "2026-04-13T12:00"); // 8 April–12 April missed, partly protected: too many for 1 token
    await meal(d);
    await drive.check(d, { viewQuests: true, where: "broken" });
    await drive.check(e, { viewQuests: true, where: "broken" });
  });

  it("a change of calendar that renames the day (London in summer → UTC with a 23:00 day start): both days' quests stay in the history", async () => {
    const m = await drive.addPlayer("london-renamed-day", "Europe/London");
    at("Europe/London", "2026-06-10T12:00");
    for (const mealType of ["breakfast", "lunch", "dinner"]) await meal(m, mealType);
    await exercise(m, 20);
    // The same 24 hours are now called 9 June: [9 June 23:00 UTC, 10 June 23:00 UTC) both ways.
    await drive.setCalendar(m, { timeZone: "UTC", dayStartHour: 23 });
    ctx.clock.set("2026-06-10T11:45:00Z");
    await meal(m);
    await exercise(m, 5);
    // One quest per page: the history is read through the cursor between every two quests.
    const end = await drive.check(m, { viewQuests: true, pageSize: 1 });
    const renamed = end.quests.get("daily-nutrition-log|2026-06-09");
    const original = end.quests.get("daily-nutrition-log|2026-06-10");
    assert.equal(
      renamed?.expiresAt.getTime(),
      original?.expiresAt.getTime(),
      "two quests of one template end together",
    );
  });

  it("London across the autumn change (2026-10-25): freeze tokens are capped at 2 and two are spent at once", async () => {
    const LON = "Europe/London";
    const k = await drive.addPlayer("london-cap", LON);
    at(LON, "2026-10-22T08:00");
    await meal(k, "breakfast");
    await drive.adjust(k, "streak_freeze", 2); // full: the day-3 milestone's token finds no room
    at(LON, "2026-10-23T21:00");
    await meal(k);
    at(LON, "2026-10-24T23:59");
    await meal(k);
    await drive.check(k, { where: "day 3, tokens full" });
    // 25 October (25 hours) and 26 October missed: both tokens go.
    at(LON, "2026-10-27T00:00");
    await meal(k);
    at(LON, "2026-10-29T07:00"); // 28 October missed, no token left: it breaks
    await meal(k);
    const end = await drive.check(k, { viewQuests: true });
    assert.deepEqual(
      end.ledger.filter((e) => e.currency === "streak_freeze").map((e) => [e.type, e.amount]),
      [
        ["adjust", 2],
        ["spend", -2],
      ],
      "the milestone's token was cut to nothing; two were spent at once",
    );
    assert.deepEqual(
      stepsOf(end, "nutrition").map((s) => [s.current, s.frozen, s.restarted]),
      [
        [1, 0, false],
        [2, 0, false],
        [3, 0, false],
        [4, 2, false],
        [1, 0, true],
      ],
    );
  });

  it("New York across the autumn change (2026-11-01): a 25-hour day, an expiring quest, a restart and late meals", async () => {
    const NY = "America/New_York";
    const c = await drive.addPlayer("ny-autumn", NY);

    at(NY, "2026-10-30T12:00");
    await meal(c);
    at(NY, "2026-10-31T23:50");
    await meal(c);
    at(NY, "2026-11-01T00:30"); // day 3 (25 hours long): the daily quest is given at 00:30 EDT
    await meal(c, "breakfast");
    ctx.clock.set("2026-11-01T05:30:00Z"); // 01:30 EDT
    await meal(c);
    ctx.clock.set("2026-11-01T06:30:00Z"); // 01:30 EST, the same wall time an hour later
    await exercise(c, 12);
    at(NY, "2026-11-01T23:30"); // exactly 24 h after the quest was given: its time limit is up
    await meal(c, "dinner");
    const sunday = await drive.check(c, { viewQuests: true, where: "end of 1 November" });
    const daily = sunday.quests.get("daily-nutrition-log|2026-11-01");
    const day = periodBounds(
      periodIndex(local(NY, "2026-11-01T12:00"), "day", c.calendar),
      "day",
      c.calendar,
    );
    assert.equal(day.end.getTime() - day.start.getTime(), 25 * HOUR);
    assert.equal(daily?.expiresAt.getTime(), local(NY, "2026-11-01T00:30").getTime() + 24 * HOUR);
    assert.equal(daily?.progress, 2, "the meal at the time limit did not count");

    at(NY, "2026-11-02T00:15"); // a new day, a new quest
    await meal(c);
    // 3 and 4 November missed: two periods, one token — the streak restarts and keeps its token.
    at(NY, "2026-11-05T10:00");
    await meal(c);
    // A meal of 6 November arriving exactly 6 h after that day ended still counts for it (grace 6 h).
    at(NY, "2026-11-07T06:00");
    await meal(c, "snack", local(NY, "2026-11-06T21:00"));
    // One of 7 November arriving 7 h after it ended counts on 8 November: 7 November is missed
    // and the token covers it.
    at(NY, "2026-11-08T07:00");
    await meal(c, "dinner", local(NY, "2026-11-07T20:00"));
    at(NY, "2026-11-08T18:00");
    const end = await drive.check(c, { viewQuests: true, where: "end" });
    assert.deepEqual(
      stepsOf(end, "nutrition").map((s) => [s.current, s.frozen, s.restarted]),
      [
        [1, 0, false],
        [2, 0, false],
        [3, 0, false],
        [4, 0, false],
        [1, 0, true],
        [2, 0, false],
        [3, 1, false],
      ],
    );
    assert.equal(end.streaks.get("nutrition")?.longest, 4);
  });

  it("compared something", () => {
    assert.ok(drive.checks >= 20, `only ${drive.checks} comparisons`);
  });
});
