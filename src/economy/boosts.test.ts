import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  registerPlayer,
  type TestContext,
} from "../../test/helpers/context.ts";
import { BOOST_CEILING, boostAt, boostExtra, boostWindowFor, type BoostWindow } from "./boosts.ts";
import { verifyBooks } from "./verify.ts";

const MINUTE = 60_000;
const at = (ms: number) => new Date(Date.UTC(2026, 2, 8, 12) + ms);
const window = (
  key: string,
  currency: string,
  multiplier: number,
  from: number,
  to: number,
): BoostWindow => ({
  key,
  currency,
  multiplier,
  startsAt: at(from),
  endsAt: at(to),
});

describe("boost arithmetic", () => {
  it("a window starts at its start and is over at its end", () => {
    const boosts = [window("xp-boost", "xp", 2, 0, 60 * MINUTE)];
    assert.equal(boostAt(boosts, "xp", at(-1)), undefined);
    assert.deepEqual(boostAt(boosts, "xp", at(0)), { keys: ["xp-boost"], multiplier: 2 });
    assert.deepEqual(boostAt(boosts, "xp", at(60 * MINUTE - 1)), { keys: ["xp-boost"], multiplier: 2 });
    assert.equal(boostAt(boosts, "xp", at(60 * MINUTE)), undefined);
    assert.equal(boostAt(boosts, "coins", at(0)), undefined, "a boost multiplies its own currency only");
  });

  it("boosts of different items on one currency multiply, up to the ceiling", () => {
    const boosts = [
      window("a", "xp", 1.5, 0, 60 * MINUTE),
      window("b", "xp", 1.2, 0, 30 * MINUTE),
      window("c", "xp", 2, 20 * MINUTE, 40 * MINUTE),
    ];
    assert.deepEqual(boostAt(boosts, "xp", at(10 * MINUTE)), { keys: ["a", "b"], multiplier: 1.8 });
    assert.deepEqual(boostAt(boosts, "xp", at(25 * MINUTE)), {
      keys: ["a", "b", "c"],
      multiplier: BOOST_CEILING,
    });
    assert.deepEqual(boostAt(boosts, "xp", at(35 * MINUTE)), { keys: ["a", "c"], multiplier: 3 });
    assert.deepEqual(boostAt(boosts, "xp", at(45 * MINUTE)), { keys: ["a"], multiplier: 1.5 });
  });

  it("the extra is the award times (multiplier − 1), rounded down, without floating-point slips", () => {
    assert.equal(boostExtra(10, 2), 10);
    assert.equal(boostExtra(5, 1.5), 2);
    assert.equal(boostExtra(100, 1.15), 15, "not 14.999…");
    assert.equal(boostExtra(30, 1.1), 3);
    assert.equal(boostExtra(1, 1.5), 0);
    assert.equal(boostExtra(7, 3), 14);
  });

  it("the same boost used while it runs extends its end; used after it ended, it starts again", () => {
    const now = at(10 * MINUTE);
    assert.deepEqual(boostWindowFor(undefined, now, 60), {
      startsAt: now,
      endsAt: at(70 * MINUTE),
      extended: false,
    });
    const running = { startsAt: at(0), endsAt: at(60 * MINUTE) };
    assert.deepEqual(boostWindowFor(running, now, 60), {
      startsAt: at(0),
      endsAt: at(120 * MINUTE),
      extended: true,
    });
    const ended = { startsAt: at(0), endsAt: at(10 * MINUTE) };
    assert.deepEqual(boostWindowFor(ended, now, 60), {
      startsAt: now,
      endsAt: at(70 * MINUTE),
      extended: false,
    });
  });
});

interface Award {
  rule: string;
  currency: string;
  amount: number;
  balance: number | null;
  capped: boolean;
  eventId: string;
}

describe("boosts in the engine (injected clock, judged by when events happened)", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;

  before(async () => {
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-streaks-quests", "dietgame-shop"],
      accessTokenTtlSeconds: 10 * 365 * 86_400,
    });
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
    // A plain event type and rule, so the sums are clean: `points` of XP and of coins.
    const type = await asAdmin("POST", "/v1/admin/event-types", {
      key: "test.points",
      dataSchema: {
        type: "object",
        required: ["points"],
        properties: { points: { type: "integer", minimum: 1, maximum: 1000 } },
      },
    });
    assert.equal(type.statusCode, 201, type.body);
    const rule = await asAdmin("POST", "/v1/admin/rules", {
      key: "test.points",
      name: "Points",
      eventType: "test.points",
      awards: [
        { currency: "xp", field: "data.points", multiplier: 1 },
        { currency: "coins", field: "data.points", multiplier: 1 },
      ],
    });
    assert.equal(rule.statusCode, 201, rule.body);
    const mega = await asAdmin("POST", "/v1/admin/shop-items", {
      key: "mega-xp",
      name: "Mega XP",
      price: 1,
      type: "boost",
      data: { currency: "xp", multiplier: 2, duration: 30 },
    });
    assert.equal(mega.statusCode, 201, mega.body);
  });
  after(() => ctx.close());

  function asAdmin(method: "GET" | "POST", url: string, payload?: Record<string, unknown>) {
    return ctx.app.inject({
      method,
      url,
      headers: bearer(admin.accessToken),
      ...(payload === undefined ? {} : { payload }),
    });
  }

  async function grant(userId: string, item: string, quantity = 1) {
    const res = await asAdmin("POST", `/v1/admin/users/${userId}/inventory`, {
      item,
      quantity,
      reason: "boost test",
      idempotencyKey: randomUUID(),
    });
    assert.equal(res.statusCode, 201, res.body);
  }

  async function use(token: string, item: string) {
    const res = await ctx.app.inject({
      method: "POST",
      url: `/v1/me/inventory/${item}/use`,
      headers: bearer(token),
      payload: { idempotencyKey: randomUUID() },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ effect: { startsAt: string; endsAt: string; extended: boolean; multiplier: number } }>()
      .effect;
  }

  async function send(userId: string, type: string, data: Record<string, unknown>, occurredAt: Date) {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type, userId, occurredAt: occurredAt.toISOString(), data },
    });
    assert.equal(res.statusCode, 201, res.body);
    const result = res.json<{ eventId: string; effects: { awards: Award[] } }>();
    // The event's own awards (not those of the level-ups it may cause).
    return result.effects.awards.filter((a) => a.eventId === result.eventId);
  }

  /** The boost extras of an event's awards, as [currency, amount, rule]. */
  const extras = (awards: Award[]) =>
    awards.filter((a) => a.rule.startsWith("boost:")).map((a) => [a.currency, a.amount, a.rule]);

  it("awards inside the window are multiplied, outside not, and the window ends exactly", async () => {
    const player = await registerPlayer(ctx.app);
    await grant(player.id, "xp-boost");
    const t0 = ctx.clock.now().getTime();
    const effect = await use(player.accessToken, "xp-boost");
    assert.equal(effect.startsAt, new Date(t0).toISOString());
    assert.equal(effect.endsAt, new Date(t0 + 60 * MINUTE).toISOString());
    ctx.clock.advance(2 * 60 * MINUTE); // events below are sent later than they happened

    const points = (ms: number) => send(player.id, "test.points", { points: 100 }, new Date(t0 + ms));
    assert.deepEqual(extras(await points(-1)), [], "a millisecond before the boost");
    assert.deepEqual(extras(await points(0)), [["xp", 100, "boost:xp-boost"]], "at its start");
    assert.deepEqual(
      extras(await points(60 * MINUTE - 1)),
      [["xp", 100, "boost:xp-boost"]],
      "at its last ms",
    );
    assert.deepEqual(extras(await points(60 * MINUTE)), [], "at its end");

    const ledger = await ctx.db.asSystem((tx) =>
      tx.rows<{ currency: string; amount: number; source: string; multiplier: number }>(
        `SELECT currency, amount, source, (metadata->>'multiplier')::float AS multiplier
         FROM ledger_entries WHERE user_id = $1 AND type = 'bonus' ORDER BY id`,
        [player.id],
      ),
    );
    assert.deepEqual(ledger, [
      { currency: "xp", amount: 100, source: "boost:xp-boost", multiplier: 2 },
      { currency: "xp", amount: 100, source: "boost:xp-boost", multiplier: 2 },
    ]);
    assert.deepEqual((await verifyBooks(ctx.db, ctx.game.definitions)).problems, []);
  });

  it("the same boost again extends it; different boosts on a currency multiply up to the ceiling", async () => {
    const player = await registerPlayer(ctx.app);
    await grant(player.id, "xp-boost", 2);
    await grant(player.id, "mega-xp");
    await grant(player.id, "coin-multiplier");
    const t1 = ctx.clock.now().getTime();
    await use(player.accessToken, "xp-boost");
    ctx.clock.advance(10 * MINUTE);
    const again = await use(player.accessToken, "xp-boost");
    assert.deepEqual(
      { startsAt: again.startsAt, endsAt: again.endsAt, extended: again.extended },
      {
        startsAt: new Date(t1).toISOString(),
        endsAt: new Date(t1 + 120 * MINUTE).toISOString(),
        extended: true,
      },
    );
    await use(player.accessToken, "mega-xp"); // [t1+10, t1+40)
    await use(player.accessToken, "coin-multiplier"); // [t1+10, t1+130)

    const shown = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/boosts",
      headers: bearer(player.accessToken),
    });
    assert.equal(shown.statusCode, 200, shown.body);
    const boosts = shown.json<{
      items: { item: { key: string }; secondsLeft: number; multiplier: number }[];
      multipliers: Record<string, number>;
      ceiling: number;
    }>();
    assert.deepEqual(boosts.multipliers, { xp: 3, coins: 1.5 }, "2 × 2 capped at 3");
    assert.equal(boosts.ceiling, 3);
    assert.deepEqual(
      boosts.items.map((b) => [b.item.key, b.secondsLeft]),
      [
        ["mega-xp", 30 * 60],
        ["xp-boost", 110 * 60],
        ["coin-multiplier", 120 * 60],
      ],
    );

    ctx.clock.advance(3 * 60 * MINUTE);
    const points = (ms: number, n = 100) => send(player.id, "test.points", { points: n }, new Date(t1 + ms));
    assert.deepEqual(extras(await points(5 * MINUTE)), [["xp", 100, "boost:xp-boost"]]);
    assert.deepEqual(extras(await points(20 * MINUTE)), [
      ["xp", 200, "boost:xp-boost+mega-xp"],
      ["coins", 50, "boost:coin-multiplier"],
    ]);
    assert.deepEqual(extras(await points(20 * MINUTE, 7)), [
      ["xp", 14, "boost:xp-boost+mega-xp"],
      ["coins", 3, "boost:coin-multiplier"],
    ]);
    assert.deepEqual(extras(await points(100 * MINUTE)), [
      ["xp", 100, "boost:xp-boost"],
      ["coins", 50, "boost:coin-multiplier"],
    ]);
    assert.deepEqual(extras(await points(125 * MINUTE)), [["coins", 50, "boost:coin-multiplier"]]);
    assert.deepEqual(extras(await points(130 * MINUTE)), []);
    assert.deepEqual((await verifyBooks(ctx.db, ctx.game.definitions)).problems, []);
  });

  it("rewards are boosted like rule awards: a quest's (achievements and streak milestones pay the same way)", async () => {
    const player = await registerPlayer(ctx.app);
    await grant(player.id, "xp-boost");
    await use(player.accessToken, "xp-boost");
    const now = ctx.clock.now();
    await send(player.id, "meal.logged", { mealType: "breakfast" }, now);
    await send(player.id, "meal.logged", { mealType: "lunch" }, now);
    const third = await send(player.id, "meal.logged", { mealType: "dinner" }, now);
    const quest = third.findIndex((a) => a.rule === "quest:daily-nutrition-log" && a.currency === "xp");
    assert.ok(quest >= 0, JSON.stringify(third));
    assert.deepEqual(third[quest + 1], {
      rule: "boost:xp-boost",
      currency: "xp",
      amount: 150,
      balance: third[quest + 1]?.balance,
      capped: false,
      eventId: third[quest]?.eventId,
    });
  });
});
