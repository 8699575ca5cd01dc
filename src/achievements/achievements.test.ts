import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
} from "../../test/helpers/context.ts";

describe("achievements", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;

  before(async () => {
    ctx = await createTestContext({ packs: ["dietgame", "dietgame-achievements"] });
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  after(() => ctx.close());

  const send = (userId: string, type: string, data: Record<string, unknown>) =>
    ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type, userId, data },
    });

  type Effects = {
    achievements: { key: string }[];
    awards: { rule: string; currency: string; amount: number }[];
    levelUps: { level: number }[];
  };

  const unlockRows = (userId: string) =>
    ctx.db.asSystem((tx) =>
      tx.rows<{ key: string }>(
        `SELECT a.key FROM user_achievements ua JOIN achievements a ON a.id = ua.achievement_id WHERE ua.user_id = $1 ORDER BY 1`,
        [userId],
      ),
    );

  it("First Steps unlocks on the first meal, pays its rewards through the ledger, and only once", async () => {
    const player = await registerPlayer(ctx.app);
    const first = await send(player.id, "meal.logged", { mealType: "breakfast" });
    assert.equal(first.statusCode, 201, first.body);
    const effects = first.json<{ effects: Effects }>().effects;
    assert.deepEqual(
      effects.achievements.map((a) => a.key),
      ["first-steps"],
    );
    const rewards = effects.awards.filter((a) => a.rule === "achievement:first-steps");
    assert.deepEqual(
      rewards.map((r) => [r.currency, r.amount]),
      [
        ["xp", 50],
        ["coins", 100],
      ],
    );
    const second = await send(player.id, "meal.logged", { mealType: "lunch" });
    assert.deepEqual(second.json<{ effects: Effects }>().effects.achievements, []);
    const ledger = await ctx.db.asSystem((tx) =>
      tx.rows<{ type: string }>(
        `SELECT type FROM ledger_entries WHERE user_id = $1 AND source = 'achievement:first-steps'`,
        [player.id],
      ),
    );
    assert.deepEqual(
      ledger.map((l) => l.type),
      ["reward", "reward"],
    );
    assert.deepEqual(await unlockRows(player.id), [{ key: "first-steps" }]);
  });

  it("unlocks once when twenty events race for it", async () => {
    const player = await registerPlayer(ctx.app);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => send(player.id, "meal.logged", { mealType: "snack" })),
    );
    assert.ok(answers.every((a) => a.statusCode === 201));
    const unlocked = answers.flatMap((a) => a.json<{ effects: Effects }>().effects.achievements);
    assert.equal(unlocked.length, 1);
    assert.deepEqual(await unlockRows(player.id), [{ key: "first-steps" }]);
    const paid = await ctx.db.asSystem((tx) =>
      tx.one<{ n: number }>(
        `SELECT count(*)::int AS n FROM ledger_entries WHERE user_id = $1 AND source = 'achievement:first-steps'`,
        [player.id],
      ),
    );
    assert.equal(paid.n, 2);
  });

  it("Level 5 unlocks in the event that crosses level 5", async () => {
    const player = await registerPlayer(ctx.app);
    // 120 minutes of exercise pay 120 XP: with the default curve (100·(L−1)²) that is level 2.
    // Four sessions of 120 give 480 XP → level 3; Level 5 needs 1,600.
    const res = await send(player.id, "exercise.logged", { minutes: 120 });
    assert.deepEqual(
      res.json<{ effects: Effects }>().effects.levelUps.map((l) => l.level),
      [2],
    );
    const adjust = await ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${player.id}/adjustments`,
      headers: bearer(admin.accessToken),
      payload: { currency: "xp", amount: 1400, reason: "test", idempotencyKey: `lvl-${player.id}` },
    });
    assert.equal(adjust.statusCode, 201, adjust.body);
    const crossing = await send(player.id, "exercise.logged", { minutes: 100 });
    const effects = crossing.json<{ effects: Effects }>().effects;
    assert.ok(
      effects.achievements.some((a) => a.key === "level-5"),
      JSON.stringify(effects.achievements),
    );
    assert.ok(effects.levelUps.some((l) => l.level === 5));
  });

  it("shows progress, masks hidden ones until unlocked, and records what was seen", async () => {
    const hidden = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/achievements",
      headers: bearer(admin.accessToken),
      payload: {
        key: "secret-chef",
        name: "Secret Chef",
        description: "Cook three recipes",
        rarity: "epic",
        metric: "stats.recipes.tried",
        target: 3,
        hidden: true,
      },
    });
    assert.equal(hidden.statusCode, 201, hidden.body);
    const player = await registerPlayer(ctx.app);
    await send(player.id, "recipe.tried", { recipeId: "r1" });
    const catalogue = async () =>
      (
        await ctx.app.inject({
          method: "GET",
          url: "/v1/me/achievements",
          headers: bearer(player.accessToken),
        })
      ).json<{
        items: {
          key: string;
          name: string;
          description: string | null;
          unlocked: boolean;
          seen: boolean;
          progress: unknown;
        }[];
      }>().items;
    let items = await catalogue();
    const coin = items.find((a) => a.key === "coin-collector")!;
    assert.deepEqual(coin.progress, { current: 15, target: 10000 });
    const secret = items.find((a) => a.key === "secret-chef")!;
    assert.deepEqual([secret.name, secret.description, secret.progress], ["Hidden achievement", null, null]);

    await send(player.id, "recipe.tried", { recipeId: "r2" });
    await send(player.id, "recipe.tried", { recipeId: "r3" });
    items = await catalogue();
    const revealed = items.find((a) => a.key === "secret-chef")!;
    assert.deepEqual([revealed.name, revealed.unlocked, revealed.seen], ["Secret Chef", true, false]);
    const seen = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/achievements/seen",
      headers: bearer(player.accessToken),
      payload: { keys: ["secret-chef"] },
    });
    assert.equal(seen.json<{ updated: number }>().updated, 1);
    assert.equal((await catalogue()).find((a) => a.key === "secret-chef")!.seen, true);
  });

  it("a seasonal achievement unlocks only inside its window", async () => {
    const start = new Date(ctx.clock.now().getTime() + 86_400_000).toISOString();
    const created = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/achievements",
      headers: bearer(admin.accessToken),
      payload: {
        key: "winter-walker",
        name: "Winter Walker",
        metric: "stats.exercise.sessions",
        target: 1,
        startsAt: start,
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const player = await registerPlayer(ctx.app);
    await send(player.id, "exercise.logged", { minutes: 10 });
    assert.ok(!(await unlockRows(player.id)).some((r) => r.key === "winter-walker"));
  });

  it("refuses definitions that cannot work, and players", async () => {
    const post = (payload: Record<string, unknown>, token = admin.accessToken) =>
      ctx.app.inject({ method: "POST", url: "/v1/admin/achievements", headers: bearer(token), payload });
    const base = { key: "bad-one", name: "Bad", metric: "level", target: 2 };
    assert.equal(problem(await post({ ...base, metric: "mood.happy" })).code, "definition.invalid");
    assert.equal(problem(await post({ ...base, condition: { $where: "1" } })).code, "definition.invalid");
    assert.equal(
      problem(await post({ ...base, rewards: [{ currency: "gems", amount: 1 }] })).code,
      "definition.invalid",
    );
    assert.equal(problem(await post({ ...base, key: "first-steps" })).code, "definition.exists");
    const player = await registerPlayer(ctx.app);
    assert.equal(problem(await post(base, player.accessToken)).code, "auth.forbidden");
    const list = await ctx.app.inject({
      method: "GET",
      url: "/v1/admin/achievements",
      headers: bearer(admin.accessToken),
    });
    assert.ok(!list.json<{ items: { key: string }[] }>().items.some((a) => a.key === "bad-one"));
  });
});
