import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  problem,
  registerPlayer,
  tableDigests,
  type TestContext,
} from "../../test/helpers/context.ts";
import { verifyBooks } from "./verify.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** What a refused or repeated use must leave untouched. */
const USE_TABLES = [
  "user_inventory",
  "user_boosts",
  "streak_protections",
  "wallets",
  "ledger_entries",
  "user_progress",
  "events",
  "idempotency_keys",
] as const;

interface UseResult {
  quantity: number;
  held: number;
  equipped: boolean;
  effect: Record<string, unknown>;
  duplicate: boolean;
}

describe("inventory: using items, and gifts", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;

  before(async () => {
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-streaks-quests", "dietgame-shop"],
      accessTokenTtlSeconds: 10 * 365 * 86_400,
    });
    // Midday UTC, so "tomorrow" is a whole day away whatever the real time.
    const now = ctx.clock.now();
    ctx.clock.set(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 12)));
    ctx.clock.advance(DAY);
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  after(() => ctx.close());

  const asAdmin = (method: "GET" | "POST", url: string, payload?: Record<string, unknown>) =>
    ctx.app.inject({
      method,
      url,
      headers: bearer(admin.accessToken),
      ...(payload === undefined ? {} : { payload }),
    });

  async function grant(userId: string, item: string, quantity = 1) {
    const res = await asAdmin("POST", `/v1/admin/users/${userId}/inventory`, {
      item,
      quantity,
      reason: "inventory test",
      idempotencyKey: randomUUID(),
    });
    assert.equal(res.statusCode, 201, res.body);
  }

  const use = (token: string, item: string, body: Record<string, unknown> = {}) =>
    ctx.app.inject({
      method: "POST",
      url: `/v1/me/inventory/${item}/use`,
      headers: bearer(token),
      payload: { idempotencyKey: randomUUID(), ...body },
    });

  async function used(token: string, item: string, body: Record<string, unknown> = {}): Promise<UseResult> {
    const res = await use(token, item, body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json<UseResult>();
  }

  async function meal(userId: string) {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type: "meal.logged", userId, data: { mealType: "lunch" } },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{
      effects: { streaks: { key: string; change: string; current: number; protected: number }[] };
    }>().effects.streaks;
  }

  it("a protection shields the streak for its window; a second one follows the first", async () => {
    const player = await registerPlayer(ctx.app);
    await grant(player.id, "streak-protection", 2);
    assert.deepEqual(
      (await meal(player.id)).map((s) => [s.key, s.change, s.current]),
      [["nutrition", "started", 1]],
    );
    const now = ctx.clock.now().getTime();
    const first = await used(player.accessToken, "streak-protection");
    assert.deepEqual(first.effect, {
      kind: "protection",
      streak: null,
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 24 * HOUR).toISOString(),
    });
    const second = await used(player.accessToken, "streak-protection");
    assert.equal(second.effect.startsAt, new Date(now + 24 * HOUR).toISOString());
    assert.equal(second.effect.endsAt, new Date(now + 48 * HOUR).toISOString());
    assert.equal(second.held, 0);

    // Two whole days missed, both covered: the streak goes on.
    ctx.clock.advance(3 * DAY);
    assert.deepEqual(
      (await meal(player.id)).map((s) => [s.key, s.change, s.current, s.protected]),
      [["nutrition", "extended", 2, 2]],
    );
    ctx.clock.advance(-3 * DAY);
  });

  it("a freeze adds freeze tokens up to their cap; past it the use is refused and the item kept", async () => {
    const player = await registerPlayer(ctx.app);
    await grant(player.id, "streak-freeze", 3);
    const one = await used(player.accessToken, "streak-freeze");
    assert.deepEqual(one.effect, { kind: "freeze", currency: "streak_freeze", amount: 1, balance: 1 });
    assert.equal((await used(player.accessToken, "streak-freeze")).effect.balance, 2);
    const before = await tableDigests(ctx, USE_TABLES);
    const full = await use(player.accessToken, "streak-freeze");
    assert.equal(full.statusCode, 409);
    assert.equal(problem(full).code, "economy.balance_cap");
    assert.deepEqual(await tableDigests(ctx, USE_TABLES), before, "the refused use changed nothing");

    const streaks = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/streaks",
      headers: bearer(player.accessToken),
    });
    const nutrition = streaks
      .json<{ items: { key: string; freezeTokens: { balance: number; max: number } }[] }>()
      .items.find((s) => s.key === "nutrition");
    assert.deepEqual(nutrition?.freezeTokens, { currency: "streak_freeze", balance: 2, max: 2 });
  });

  it("a recipe pack raises recipes_unlocked; a generic consumable is used up with an item.used event", async () => {
    const player = await registerPlayer(ctx.app);
    await grant(player.id, "recipe-pack", 2);
    const pack = await used(player.accessToken, "recipe-pack", { quantity: 2 });
    assert.deepEqual(pack.effect, { kind: "recipes", recipesUnlocked: 10 });
    const progress = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/progress",
      headers: bearer(player.accessToken),
    });
    assert.equal(progress.json<{ recipesUnlocked: number }>().recipesUnlocked, 10);

    const snack = await asAdmin("POST", "/v1/admin/shop-items", {
      key: "energy-snack",
      name: "Energy snack",
      price: 5,
      type: "consumable",
    });
    assert.equal(snack.statusCode, 201, snack.body);
    await grant(player.id, "energy-snack", 3);
    const eaten = await used(player.accessToken, "energy-snack");
    assert.deepEqual([eaten.effect, eaten.held], [{ kind: "consumed" }, 2]);
    const events = await ctx.db.asSystem((tx) =>
      tx.rows<{ item: string; quantity: number }>(
        `SELECT data->>'item' AS item, (data->>'quantity')::int AS quantity FROM events
         WHERE user_id = $1 AND type = 'item.used' ORDER BY received_at, data->>'item'`,
        [player.id],
      ),
    );
    assert.deepEqual(events, [
      { item: "recipe-pack", quantity: 2 },
      { item: "energy-snack", quantity: 1 },
    ]);

    const all = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/inventory?all=true",
      headers: bearer(player.accessToken),
    });
    assert.deepEqual(
      all
        .json<{ items: { item: { key: string }; quantity: number; used: number }[] }>()
        .items.map((i) => [i.item.key, i.quantity, i.used]),
      [
        ["energy-snack", 2, 1],
        ["recipe-pack", 0, 2],
      ],
    );
    const held = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/inventory",
      headers: bearer(player.accessToken),
    });
    assert.deepEqual(
      held.json<{ items: { item: { key: string } }[] }>().items.map((i) => i.item.key),
      ["energy-snack"],
      "items used up are left out unless asked for",
    );
  });

  it("cosmetics are equipped, one avatar at a time, and can be taken off", async () => {
    const player = await registerPlayer(ctx.app);
    const frame = await asAdmin("POST", "/v1/admin/shop-items", {
      key: "gold-frame",
      name: "Gold frame",
      category: "cosmetics",
      price: 100,
      type: "avatar",
      data: { frame: "gold" },
    });
    assert.equal(frame.statusCode, 201, frame.body);
    await grant(player.id, "premium-avatar");
    await grant(player.id, "gold-frame");
    const twice = await use(player.accessToken, "premium-avatar", { quantity: 2 });
    assert.equal(problem(twice).code, "validation.failed");
    assert.deepEqual(
      (({ effect, held, equipped }) => ({ effect, held, equipped }))(
        await used(player.accessToken, "premium-avatar"),
      ),
      { effect: { kind: "equipped" }, held: 1, equipped: true },
    );
    await used(player.accessToken, "gold-frame");
    const equipped = async () =>
      (
        await ctx.app.inject({
          method: "GET",
          url: "/v1/me/inventory?type=avatar",
          headers: bearer(player.accessToken),
        })
      )
        .json<{ items: { item: { key: string }; equipped: boolean }[] }>()
        .items.map((i) => [i.item.key, i.equipped]);
    assert.deepEqual(await equipped(), [
      ["gold-frame", true],
      ["premium-avatar", false],
    ]);
    // Equipping is its own event, never item.used (which rules and quests may count).
    const recorded = await ctx.db.asSystem((tx) =>
      tx.rows<{ type: string; item: string }>(
        `SELECT type, data->>'item' AS item FROM events
         WHERE user_id = $1 AND type IN ('item.used', 'item.equipped') ORDER BY received_at`,
        [player.id],
      ),
    );
    assert.deepEqual(
      recorded.map((r) => [r.type, r.item]),
      [
        ["item.equipped", "premium-avatar"],
        ["item.equipped", "gold-frame"],
      ],
    );
    const off = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/inventory/gold-frame/unequip",
      headers: bearer(player.accessToken),
    });
    assert.equal(off.statusCode, 200, off.body);
    assert.deepEqual(await equipped(), [
      ["gold-frame", false],
      ["premium-avatar", false],
    ]);
    const notCosmetic = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/inventory/xp-boost/unequip",
      headers: bearer(player.accessToken),
    });
    assert.equal(problem(notCosmetic).code, "inventory.not_usable");
  });

  it("only items one holds can be used: not another player's, not more than held, not unknown ones", async () => {
    const owner = await registerPlayer(ctx.app);
    const other = await registerPlayer(ctx.app);
    await grant(owner.id, "xp-boost", 2);
    const before = await tableDigests(ctx, USE_TABLES);
    const cases: [string, string, Record<string, unknown>, number, string][] = [
      [other.accessToken, "xp-boost", {}, 409, "inventory.not_held"],
      [owner.accessToken, "xp-boost", { quantity: 3 }, 409, "inventory.not_held"],
      [owner.accessToken, "no-such-item", {}, 404, "resource.not_found"],
      [owner.accessToken, randomUUID(), {}, 404, "resource.not_found"],
    ];
    for (const [token, item, body, status, code] of cases) {
      const res = await use(token, item, body);
      assert.equal(res.statusCode, status, res.body);
      assert.equal(problem(res).code, code);
    }
    assert.deepEqual(await tableDigests(ctx, USE_TABLES), before);
    const owned = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/inventory",
      headers: bearer(other.accessToken),
    });
    assert.deepEqual(
      owned.json<{ items: unknown[] }>().items,
      [],
      "the other player sees none of the owner's",
    );
  });

  it("replaying a use's key answers the first use and changes nothing", async () => {
    const player = await registerPlayer(ctx.app);
    await grant(player.id, "xp-boost", 3);
    const key = randomUUID();
    const first = await used(player.accessToken, "xp-boost", { idempotencyKey: key });
    const before = await tableDigests(ctx, USE_TABLES);
    ctx.clock.advance(60_000);
    const again = await use(player.accessToken, "xp-boost", { idempotencyKey: key });
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual({ ...again.json<UseResult>(), duplicate: false }, first);
    assert.equal(again.json<UseResult>().duplicate, true);
    assert.equal(
      problem(await use(player.accessToken, "xp-boost", { idempotencyKey: key, quantity: 2 })).code,
      "idempotency.key_reused",
    );
    assert.deepEqual(await tableDigests(ctx, USE_TABLES), before);
  });

  it("the welcome gift is claimed once: coins, an item, the flag; claiming again answers the first claim", async () => {
    const player = await registerPlayer(ctx.app);
    const listed = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/gifts",
      headers: bearer(player.accessToken),
    });
    assert.deepEqual(
      listed.json<{ items: { key: string; claimed: boolean }[] }>().items.map((g) => [g.key, g.claimed]),
      [["welcome", false]],
    );
    const claim = () =>
      ctx.app.inject({ method: "POST", url: "/v1/me/gift/claim", headers: bearer(player.accessToken) });
    const first = await claim();
    assert.equal(first.statusCode, 201, first.body);
    const body = first.json<{ rewards: unknown[]; items: unknown[]; duplicate: boolean }>();
    assert.deepEqual(body.rewards, [{ currency: "coins", amount: 500, balance: 500 }]);
    assert.deepEqual(body.items, [{ item: "xp-boost", quantity: 1, held: 1 }]);
    const before = await tableDigests(ctx, USE_TABLES);
    const second = await claim();
    assert.equal(second.statusCode, 200);
    assert.deepEqual({ ...second.json<object>(), duplicate: false }, first.json<object>());
    assert.deepEqual(await tableDigests(ctx, USE_TABLES), before);
    const progress = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/progress",
      headers: bearer(player.accessToken),
    });
    assert.equal(progress.json<{ hasClaimedGift: boolean }>().hasClaimedGift, true);
    const after = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/gifts",
      headers: bearer(player.accessToken),
    });
    assert.deepEqual(
      after.json<{ items: { key: string; claimed: boolean }[] }>().items.map((g) => [g.key, g.claimed]),
      [["welcome", true]],
    );
  });

  it("other gifts: XP that levels the player up, windows, inactive and unknown gifts", async () => {
    const player = await registerPlayer(ctx.app);
    const now = ctx.clock.now().getTime();
    const make = async (body: Record<string, unknown>) => {
      const res = await asAdmin("POST", "/v1/admin/gifts", {
        name: "A gift",
        rewards: [{ currency: "xp", amount: 500 }],
        ...body,
      });
      assert.equal(res.statusCode, 201, res.body);
    };
    await make({ key: "launch-party" });
    await make({ key: "next-week", startsAt: new Date(now + 7 * DAY).toISOString() });
    await make({ key: "retired-gift", active: false });
    const claim = (key: string) =>
      ctx.app.inject({
        method: "POST",
        url: `/v1/me/gifts/${key}/claim`,
        headers: bearer(player.accessToken),
      });
    const party = await claim("launch-party");
    assert.equal(party.statusCode, 201, party.body);
    const effects = party.json<{ effects: { levelUps: { level: number }[]; derived: { type: string }[] } }>()
      .effects;
    assert.deepEqual(
      effects.levelUps.map((l) => l.level),
      [2, 3],
      "500 XP: level 3 on the default curve",
    );
    assert.ok(effects.derived.some((d) => d.type === "level.up"));
    assert.equal(problem(await claim("next-week")).code, "gift.unavailable");
    assert.equal(problem(await claim("retired-gift")).code, "resource.not_found");
    assert.equal(problem(await claim("no-such-gift")).code, "resource.not_found");

    const bad = await asAdmin("POST", "/v1/admin/gifts", {
      key: "bad-gift",
      name: "Bad",
      items: [{ item: "nope", quantity: 1 }],
    });
    assert.equal(problem(bad).code, "definition.invalid");
    assert.deepEqual((await verifyBooks(ctx.db, ctx.game.definitions)).problems, []);
  });
});
