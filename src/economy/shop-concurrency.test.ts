import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import {
  bearer,
  createAdmin,
  createTestContext,
  registerPlayer,
  type TestContext,
} from "../../test/helpers/context.ts";
import { verifyBooks } from "./verify.ts";

/**
 * Money-like invariants under real concurrency: many requests at once (Promise.all of app.inject)
 * against PostgreSQL, then the books, the inventory and the stock checked to the unit.
 */
describe("shop under concurrency: no overdraft, no overselling, no limit overrun", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;

  before(async () => {
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-streaks-quests", "dietgame-shop"],
      accessTokenTtlSeconds: 10 * 365 * 86_400,
    });
    admin = await createAdmin(ctx);
  });
  after(() => ctx.close());

  async function fund(userId: string, amount: number) {
    const res = await ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${userId}/adjustments`,
      headers: bearer(admin.accessToken),
      payload: { currency: "coins", amount, reason: "test funds", idempotencyKey: randomUUID() },
    });
    assert.equal(res.statusCode, 201, res.body);
  }

  async function makeItem(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/shop-items",
      headers: bearer(admin.accessToken),
      payload: { name: "Race item", type: "consumable", ...body },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json();
  }

  const buy = (token: string, item: string, quantity = 1) =>
    ctx.app.inject({
      method: "POST",
      url: `/v1/shop/${item}/purchase`,
      headers: bearer(token),
      payload: { idempotencyKey: randomUUID(), quantity },
    });

  /** Status and code of each answer, counted: {"201": 7, "409 economy.insufficient_funds": 193}. */
  function tally(answers: LightMyRequestResponse[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of answers) {
      const label =
        a.statusCode < 300 ? String(a.statusCode) : `${a.statusCode} ${a.json<{ code: string }>().code}`;
      out[label] = (out[label] ?? 0) + 1;
    }
    return out;
  }

  async function books() {
    const report = await verifyBooks(ctx.db, ctx.game.definitions);
    assert.deepEqual(report.problems, [], "every wallet equals its ledger, every running sum holds");
  }

  const state = (userIds: string[], itemId: string) =>
    ctx.db.asSystem(async (tx) => ({
      balances: await tx.rows<{ user_id: string; balance: number; ledger: number }>(
        `SELECT w.user_id, w.balance,
                (SELECT sum(amount)::bigint FROM ledger_entries l WHERE l.user_id = w.user_id AND l.currency = 'coins') AS ledger
         FROM wallets w WHERE w.user_id = ANY($1::uuid[]) AND w.currency = 'coins' ORDER BY w.user_id`,
        [userIds],
      ),
      held: (
        await tx.one<{ n: number }>(
          `SELECT coalesce(sum(quantity), 0)::int AS n FROM user_inventory WHERE user_id = ANY($1::uuid[]) AND item_id = $2`,
          [userIds, itemId],
        )
      ).n,
      bought: (
        await tx.one<{ n: number; rows: number }>(
          `SELECT coalesce(sum(quantity), 0)::int AS n, count(*)::int AS rows FROM purchases
           WHERE user_id = ANY($1::uuid[]) AND item_id = $2`,
          [userIds, itemId],
        )
      ).n,
      events: (
        await tx.one<{ n: number }>(
          `SELECT count(*)::int AS n FROM events WHERE user_id = ANY($1::uuid[]) AND type = 'item.purchased'
             AND data->>'item' = (SELECT key FROM shop_items WHERE id = $2)`,
          [userIds, itemId],
        )
      ).n,
      stock: (await tx.one<{ stock: number | null }>(`SELECT stock FROM shop_items WHERE id = $1`, [itemId]))
        .stock,
    }));

  it("200 purchases at once from a player who can afford exactly 7: 7 succeed, the balance ends exact", async () => {
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 7 * 750 + 123);
    const answers = await Promise.all(Array.from({ length: 200 }, () => buy(player.accessToken, "xp-boost")));
    assert.deepEqual(tally(answers), { "201": 7, "409 economy.insufficient_funds": 193 });
    const item = await ctx.db.asSystem((tx) =>
      tx.one<{ id: string }>(`SELECT id FROM shop_items WHERE key = 'xp-boost'`),
    );
    const s = await state([player.id], item.id);
    assert.deepEqual(s.balances, [{ user_id: player.id, balance: 123, ledger: 123 }]);
    assert.equal(s.held, 7, "inventory equals successes");
    assert.equal(s.bought, 7);
    assert.equal(s.events, 7);
    // The successful answers saw balances going down by 750 each, every one distinct.
    const seen = answers
      .filter((a) => a.statusCode === 201)
      .map((a) => a.json<{ balance: number }>().balance);
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [123, 873, 1623, 2373, 3123, 3873, 4623],
    );
    await books();
  });

  it("many players racing for the last units of a stocked item: exactly the stock is sold", async () => {
    const item = await makeItem({ key: "last-units", price: 10, stock: 5 });
    const players = await Promise.all(Array.from({ length: 30 }, () => registerPlayer(ctx.app)));
    for (const p of players) await fund(p.id, 1000);
    const answers = await Promise.all(
      players.flatMap((p) => [buy(p.accessToken, item.key), buy(p.accessToken, item.key)]),
    );
    assert.deepEqual(tally(answers), { "201": 5, "409 shop.out_of_stock": 55 });
    const s = await state(
      players.map((p) => p.id),
      item.id,
    );
    assert.equal(s.stock, 0);
    assert.equal(s.held, 5);
    assert.equal(s.bought, 5);
    assert.equal(s.events, 5);
    assert.equal(
      s.balances.reduce((sum, b) => sum + b.balance, 0),
      30 * 1000 - 5 * 10,
    );
    for (const b of s.balances) assert.equal(b.balance, b.ledger);
    // Stock left as each buyer saw it: 4, 3, 2, 1, 0, once each.
    const left = answers
      .filter((a) => a.statusCode === 201)
      .map((a) => a.json<{ stockLeft: number }>().stockLeft);
    assert.deepEqual(left.sort(), [0, 1, 2, 3, 4]);

    // Several units a request: 7 left, 20 buyers of 2 each: three succeed, one unit stays.
    const pairs = await makeItem({ key: "pairs", price: 10, stock: 7 });
    const racing = await Promise.all(players.slice(0, 20).map((p) => buy(p.accessToken, pairs.key, 2)));
    assert.deepEqual(tally(racing), { "201": 3, "409 shop.out_of_stock": 17 });
    const t = await state(
      players.map((p) => p.id),
      pairs.id,
    );
    assert.equal(t.stock, 1);
    assert.equal(t.held, 6);
    await books();
  });

  it("one player racing past a per-player limit: exactly the limit is bought", async () => {
    const item = await makeItem({ key: "limited-race", price: 5, perPlayerLimit: 3 });
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 10_000);
    const answers = await Promise.all(Array.from({ length: 50 }, () => buy(player.accessToken, item.key)));
    assert.deepEqual(tally(answers), { "201": 3, "409 shop.limit_reached": 47 });
    const s = await state([player.id], item.id);
    assert.equal(s.held, 3);
    assert.equal(s.bought, 3);
    assert.deepEqual(s.balances, [{ user_id: player.id, balance: 10_000 - 15, ledger: 10_000 - 15 }]);
    await books();
  });

  it("uses, replays, refunds and gift claims racing: each happens exactly as often as it may", async () => {
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 10_000);
    const item = await makeItem({ key: "race-consumable", price: 100 });
    const bought = await buy(player.accessToken, item.key, 5);
    assert.equal(bought.statusCode, 201, bought.body);

    const uses = await Promise.all(
      Array.from({ length: 40 }, () =>
        ctx.app.inject({
          method: "POST",
          url: `/v1/me/inventory/${item.key}/use`,
          headers: bearer(player.accessToken),
          payload: { idempotencyKey: randomUUID() },
        }),
      ),
    );
    assert.deepEqual(tally(uses), { "201": 5, "409 inventory.not_held": 35 });

    // The same purchase key sent 30 times at once: one purchase, 29 answers repeating it.
    const key = randomUUID();
    const replays = await Promise.all(
      Array.from({ length: 30 }, () =>
        ctx.app.inject({
          method: "POST",
          url: `/v1/shop/${item.key}/purchase`,
          headers: bearer(player.accessToken),
          payload: { idempotencyKey: key, quantity: 2 },
        }),
      ),
    );
    assert.deepEqual(tally(replays), { "201": 1, "200": 29 });
    const purchaseId = replays[0]!.json<{ purchaseId: string }>().purchaseId;
    assert.ok(replays.every((r) => r.json<{ purchaseId: string }>().purchaseId === purchaseId));

    const refunds = await Promise.all(
      Array.from({ length: 10 }, () =>
        ctx.app.inject({
          method: "POST",
          url: `/v1/admin/purchases/${purchaseId}/refund`,
          headers: bearer(admin.accessToken),
          payload: { reason: "race" },
        }),
      ),
    );
    assert.deepEqual(tally(refunds), { "201": 1, "200": 9 });

    const claims = await Promise.all(
      Array.from({ length: 20 }, () =>
        ctx.app.inject({ method: "POST", url: "/v1/me/gift/claim", headers: bearer(player.accessToken) }),
      ),
    );
    assert.deepEqual(tally(claims), { "201": 1, "200": 19 });

    const s = await state([player.id], item.id);
    // 10,000 − 5 × 100 (the first purchase) − 2 × 100 + 2 × 100 (refunded) + 500 (the welcome gift).
    assert.deepEqual(s.balances, [{ user_id: player.id, balance: 10_000, ledger: 10_000 }]);
    assert.equal(s.held, 0);
    const ledger = await ctx.db.asSystem((tx) =>
      tx.rows<{ type: string; n: number }>(
        `SELECT type::text, count(*)::int AS n FROM ledger_entries WHERE user_id = $1 AND currency = 'coins'
         GROUP BY type ORDER BY type`,
        [player.id],
      ),
    );
    assert.deepEqual(ledger, [
      { type: "adjust", n: 1 },
      { type: "purchase", n: 2 },
      { type: "refund", n: 1 },
      { type: "reward", n: 1 },
    ]);
    await books();
  });
});
