import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  createAdmin,
  createApiKey,
  createTestContext,
  registerPlayer,
  type TestContext,
} from "../../test/helpers/context.ts";
import { assignQuestsToAll } from "./quest-book.ts";

const HOUR = 3_600_000;

/** Seed 000's acceptance: the daily quest, First Steps and Streak Master, in a player's own day. */
describe("seed 000 quests, streak and achievements", () => {
  let ctx: TestContext;
  let apiKey: string;

  before(async () => {
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-achievements", "dietgame-streaks-quests"],
    });
    // 15:00 UTC is 10:00 in New York (EST): the player's day has 14 hours left.
    ctx.clock.set("2026-01-12T15:00:00Z");
    const admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  after(() => ctx.close());

  interface Effects {
    awards: { rule: string; currency: string; amount: number }[];
    achievements: { key: string }[];
    quests: { key: string; progress: number; target: number; completed: boolean }[];
    streaks: { key: string; current: number; change: string }[];
  }

  async function meal(userId: string, mealType = "lunch"): Promise<Effects> {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type: "meal.logged", userId, data: { mealType } },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ effects: Effects }>().effects;
  }

  const paidBy = (effects: Effects, rule: string) =>
    effects.awards.filter((a) => a.rule === rule).map((a) => [a.currency, a.amount]);

  it("Daily Nutrition Log completes on the third meal of the player's day and pays 150 XP and 300 coins once", async () => {
    const player = await registerPlayer(ctx.app, { timeZone: "America/New_York" });
    const first = await meal(player.id, "breakfast");
    assert.deepEqual(
      first.achievements.map((a) => a.key),
      ["first-steps"],
      "First Steps unlocks on the first meal",
    );
    const daily = (e: Effects) => e.quests.find((q) => q.key === "daily-nutrition-log");
    assert.deepEqual(daily(first), {
      ...daily(first),
      progress: 1,
      target: 3,
      completed: false,
    });
    const second = await meal(player.id);
    assert.equal(daily(second)?.completed, false);
    assert.deepEqual(paidBy(second, "quest:daily-nutrition-log"), []);
    const third = await meal(player.id, "dinner");
    assert.equal(daily(third)?.completed, true);
    assert.deepEqual(paidBy(third, "quest:daily-nutrition-log"), [
      ["xp", 150],
      ["coins", 300],
    ]);
    const fourth = await meal(player.id, "snack");
    assert.equal(daily(fourth), undefined, "a completed quest is not advanced again");
    assert.deepEqual(paidBy(fourth, "quest:daily-nutrition-log"), []);

    const ledger = await ctx.db.asSystem((tx) =>
      tx.rows<{ currency: string; total: number; n: number }>(
        `SELECT currency, sum(amount)::int AS total, count(*)::int AS n FROM ledger_entries
         WHERE user_id = $1 AND source = 'quest:daily-nutrition-log' GROUP BY currency ORDER BY currency`,
        [player.id],
      ),
    );
    assert.deepEqual(ledger, [
      { currency: "coins", total: 300, n: 1 },
      { currency: "xp", total: 150, n: 1 },
    ]);
    // Breakfast may also have completed the daily bonus quest the pool drew for this player.
    const completions = await ctx.db.asSystem((tx) =>
      tx.rows<{ key: string }>(
        `SELECT data->>'key' AS key FROM events WHERE user_id = $1 AND type = 'quest.completed' ORDER BY 1`,
        [player.id],
      ),
    );
    assert.equal(completions.filter((c) => c.key === "daily-nutrition-log").length, 1);
    const stats = await ctx.db.asSystem((tx) =>
      tx.one<{ value: number }>(
        `SELECT value FROM user_stats_totals WHERE user_id = $1 AND stat = 'quests.completed'`,
        [player.id],
      ),
    );
    assert.equal(stats.value, completions.length);
  });

  it("Daily Nutrition Log needs breakfast, lunch and dinner: not three breakfasts, not snacks", async () => {
    const player = await registerPlayer(ctx.app, { timeZone: "America/New_York" });
    const daily = (e: Effects) => e.quests.find((q) => q.key === "daily-nutrition-log");
    assert.equal(daily(await meal(player.id, "breakfast"))?.progress, 1);
    assert.equal(
      daily(await meal(player.id, "breakfast")),
      undefined,
      "a second breakfast counts for nothing",
    );
    assert.equal(daily(await meal(player.id, "snack")), undefined, "a snack counts for nothing");
    const lunch = await meal(player.id, "lunch");
    assert.deepEqual([daily(lunch)?.progress, daily(lunch)?.completed], [2, false]);
    assert.equal(daily(await meal(player.id, "lunch")), undefined);
    const dinner = await meal(player.id, "dinner");
    assert.equal(daily(dinner)?.completed, true);
    assert.deepEqual(paidBy(dinner, "quest:daily-nutrition-log"), [
      ["xp", 150],
      ["coins", 300],
    ]);
  });

  it("Social Engagement counts distinct friends", async () => {
    const player = await registerPlayer(ctx.app, { timeZone: "America/New_York" });
    const social = async (friendId?: string) => {
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/events",
        headers: { "x-api-key": apiKey },
        payload: {
          type: "social.interaction",
          userId: player.id,
          data: { kind: "like", ...(friendId === undefined ? {} : { friendId }) },
        },
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json<{ effects: Effects }>().effects.quests.find((q) => q.key === "social-engagement");
    };
    assert.equal((await social("ann"))?.progress, 1);
    for (let i = 0; i < 5; i++) assert.equal(await social("ann"), undefined, "the same friend again");
    assert.equal(await social(), undefined, "an interaction naming no friend");
    assert.equal((await social("bob"))?.progress, 2);
    assert.equal((await social("cy"))?.progress, 3);
    assert.equal((await social("dee"))?.progress, 4);
    const fifth = await social("eve");
    assert.deepEqual([fifth?.progress, fifth?.completed], [5, true]);
    const stored = await ctx.db.asSystem((tx) =>
      tx.one<{ seen: string[] }>(
        `SELECT q.seen FROM user_quests q JOIN quest_templates t ON t.id = q.template_id
         WHERE q.user_id = $1 AND t.key = 'social-engagement'`,
        [player.id],
      ),
    );
    assert.deepEqual(stored.seen, ["ann", "bob", "cy", "dee", "eve"]);
  });

  it("a meal after the player's midnight counts for the next day's quest, not the completed one", async () => {
    const player = await registerPlayer(ctx.app, { timeZone: "America/New_York" });
    ctx.clock.set("2026-01-13T15:00:00Z");
    for (let i = 0; i < 3; i++) await meal(player.id);
    // 05:30 UTC on the 14th is 00:30 on the 14th in New York: a new day, a new quest.
    ctx.clock.set("2026-01-14T05:30:00Z");
    const next = await meal(player.id);
    const daily = next.quests.find((q) => q.key === "daily-nutrition-log");
    assert.equal(daily?.progress, 1);
    assert.equal(daily?.completed, false);
  });

  it("Streak Master unlocks on day 7 of the nutrition streak, not before", async () => {
    const player = await registerPlayer(ctx.app, { timeZone: "Asia/Kolkata" });
    ctx.clock.set("2026-02-02T06:00:00Z"); // 11:30 in Kolkata
    for (let day = 1; day <= 7; day++) {
      const effects = await meal(player.id);
      const streak = effects.streaks.find((s) => s.key === "nutrition");
      assert.equal(streak?.current, day, `day ${day} counts`);
      const unlocked = effects.achievements.map((a) => a.key).includes("streak-master");
      assert.equal(unlocked, day === 7, `Streak Master ${day === 7 ? "unlocks" : "waits"} on day ${day}`);
      // A second meal the same day does not count again.
      const again = await meal(player.id);
      assert.equal(
        again.streaks.find((s) => s.key === "nutrition"),
        undefined,
      );
      ctx.clock.advance(24 * HOUR);
    }
    const unlocks = await ctx.db.asSystem((tx) =>
      tx.rows(
        `SELECT 1 FROM user_achievements ua JOIN achievements a ON a.id = ua.achievement_id
         WHERE ua.user_id = $1 AND a.key = 'streak-master'`,
        [player.id],
      ),
    );
    assert.equal(unlocks.length, 1);
  });

  it("the player's data export holds their game data: ledger, streaks, quests, achievements", async () => {
    const player = await registerPlayer(ctx.app, { timeZone: "Europe/Berlin" });
    const other = await registerPlayer(ctx.app);
    await meal(player.id);
    await meal(other.id);
    const res = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/export",
      headers: { authorization: `Bearer ${player.accessToken}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<Record<string, { user_id: string }[]>>();
    for (const key of ["wallets", "ledger", "events", "achievements", "streaks", "quests", "statistics"]) {
      assert.ok(Array.isArray(body[key]) && body[key].length > 0, `export has ${key}`);
      for (const row of body[key]) assert.equal(row.user_id, player.id, `${key} holds only my rows`);
    }
    assert.ok(!res.body.includes(other.id), "nothing about another player");
  });

  it("assigning ahead gives every player the quests of their own period, once", async () => {
    const east = await registerPlayer(ctx.app, { timeZone: "Asia/Tokyo" });
    const west = await registerPlayer(ctx.app, { timeZone: "America/Los_Angeles" });
    // 16:00 UTC on 20 March: already the 21st in Tokyo, still the 20th in Los Angeles.
    const at = new Date("2026-03-20T16:00:00Z");
    const snapshot = await ctx.game.definitions.snapshot();
    let reported = 0;
    const given = await assignQuestsToAll(ctx.db, snapshot, at, (done) => (reported = done), 1);
    assert.ok(given > 0);
    assert.ok(reported >= 2, "progress is reported");
    const daily = (userId: string) =>
      ctx.db.asSystem((tx) =>
        tx.rows<{ period_key: string; expires_at: Date }>(
          `SELECT q.period_key, q.expires_at FROM user_quests q JOIN quest_templates t ON t.id = q.template_id
           WHERE q.user_id = $1 AND t.key = 'daily-nutrition-log'`,
          [userId],
        ),
      );
    assert.deepEqual(await daily(east.id), [
      { period_key: "2026-03-21", expires_at: new Date("2026-03-21T15:00:00Z") },
    ]);
    // Los Angeles is on summer time since 8 March: its midnight is 07:00 UTC.
    assert.deepEqual(await daily(west.id), [
      { period_key: "2026-03-20", expires_at: new Date("2026-03-21T07:00:00Z") },
    ]);
    assert.equal(await assignQuestsToAll(ctx.db, snapshot, at), 0, "a second run gives nothing");
  });
});
