import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createTestContext,
  problem,
  registerPlayer,
  tableDigests,
  type TestContext,
} from "../../test/helpers/context.ts";
import { findLedgerDiscrepancies } from "./ledger.store.ts";
import { verifyBooks } from "./verify.ts";

export const SHOP_PACKS = ["dietgame", "dietgame-streaks-quests", "dietgame-shop"] as const;

/** What a refused purchase must leave untouched. */
const ECONOMY_TABLES = [
  "wallets",
  "ledger_entries",
  "purchases",
  "user_inventory",
  "shop_items",
  "idempotency_keys",
  "audit_logs",
  "events",
] as const;

interface CatalogueItem {
  id: string;
  key: string;
  price: number;
  stock: number | null;
  held: number;
  bought: number;
  remaining: number | null;
  affordable: boolean;
  purchasable: boolean;
  reason: string | null;
}

interface PurchaseResult {
  purchaseId: string;
  item: { key: string };
  quantity: number;
  total: number;
  balance: number | null;
  held: number;
  stockLeft: number | null;
  duplicate: boolean;
  effects: { derived: { type: string }[]; counters: { stat: string }[] };
}

describe("shop: catalogue, purchases, history, grants, refunds", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;

  before(async () => {
    ctx = await createTestContext({ packs: SHOP_PACKS, accessTokenTtlSeconds: 10 * 365 * 86_400 });
    admin = await createAdmin(ctx);
  });
  after(() => ctx.close());

  const asAdmin = (method: "GET" | "POST" | "PATCH", url: string, payload?: Record<string, unknown>) =>
    ctx.app.inject({
      method,
      url,
      headers: bearer(admin.accessToken),
      ...(payload === undefined ? {} : { payload }),
    });

  async function fund(userId: string, amount: number, currency = "coins") {
    const res = await asAdmin("POST", `/v1/admin/users/${userId}/adjustments`, {
      currency,
      amount,
      reason: "test funds",
      idempotencyKey: randomUUID(),
    });
    assert.equal(res.statusCode, 201, res.body);
  }

  const buy = (token: string, item: string, body: Record<string, unknown> = {}) =>
    ctx.app.inject({
      method: "POST",
      url: `/v1/shop/${item}/purchase`,
      headers: bearer(token),
      payload: { idempotencyKey: randomUUID(), ...body },
    });

  async function balance(userId: string, currency = "coins"): Promise<number> {
    const row = await ctx.db.asSystem((tx) =>
      tx.maybeOne<{ balance: number }>(`SELECT balance FROM wallets WHERE user_id = $1 AND currency = $2`, [
        userId,
        currency,
      ]),
    );
    return row?.balance ?? 0;
  }

  async function makeItem(body: Record<string, unknown>) {
    const res = await asAdmin("POST", "/v1/admin/shop-items", {
      name: "Test item",
      price: 100,
      type: "consumable",
      ...body,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ id: string; key: string }>();
  }

  it("lists seed 000's items with what the player holds, may buy and can afford", async () => {
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 800);
    const res = await ctx.app.inject({
      method: "GET",
      url: "/v1/shop?limit=100",
      headers: bearer(player.accessToken),
    });
    assert.equal(res.statusCode, 200, res.body);
    const items = res.json<{ items: CatalogueItem[] }>().items;
    const byKey = new Map(items.map((i) => [i.key, i]));
    for (const [key, price] of [
      ["recipe-pack", 1000],
      ["streak-protection", 500],
      ["xp-boost", 750],
      ["premium-avatar", 2000],
      ["coin-multiplier", 1000],
    ] as const) {
      assert.equal(byKey.get(key)?.price, price, key);
    }
    assert.equal(byKey.get("xp-boost")?.purchasable, true);
    assert.equal(byKey.get("recipe-pack")?.reason, "insufficient_funds");
    assert.equal(byKey.get("premium-avatar")?.remaining, 1, "a cosmetic is held at most once");

    const filtered = await ctx.app.inject({
      method: "GET",
      url: "/v1/shop?type=boost&purchasable=true",
      headers: bearer(player.accessToken),
    });
    assert.deepEqual(
      filtered.json<{ items: CatalogueItem[] }>().items.map((i) => i.key),
      ["xp-boost"],
      "coin multiplier (1000) is boost but not affordable with 800",
    );

    // Pages follow the catalogue order without gaps or repeats.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: CatalogueItem[]; nextCursor: string | null } = (
        await ctx.app.inject({
          method: "GET",
          url: `/v1/shop?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`,
          headers: bearer(player.accessToken),
        })
      ).json();
      seen.push(...page.items.map((i) => i.key));
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(
      seen,
      items.map((i) => i.key),
    );

    const one = await ctx.app.inject({
      method: "GET",
      url: "/v1/shop/xp-boost",
      headers: bearer(player.accessToken),
    });
    assert.equal(one.json<CatalogueItem>().key, "xp-boost");
    const byId = await ctx.app.inject({
      method: "GET",
      url: `/v1/shop/${one.json<CatalogueItem>().id}`,
      headers: bearer(player.accessToken),
    });
    assert.equal(byId.json<CatalogueItem>().key, "xp-boost");
  });

  it("a purchase debits, fills the inventory, writes ledger, purchase, audit and an item.purchased event", async () => {
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 2000);
    const res = await buy(player.accessToken, "xp-boost", { quantity: 2 });
    assert.equal(res.statusCode, 201, res.body);
    const p = res.json<PurchaseResult>();
    assert.equal(p.total, 1500);
    assert.equal(p.balance, 500);
    assert.equal(p.held, 2);
    assert.equal(p.stockLeft, null);
    assert.equal(p.duplicate, false);
    assert.ok(p.effects.counters.some((c) => c.stat === "events.item.purchased"));
    assert.equal(await balance(player.id), 500);

    const rows = await ctx.db.asSystem(async (tx) => ({
      ledger: await tx.rows<{ type: string; amount: number; balance_after: number; reference: string }>(
        `SELECT type, amount, balance_after, reference FROM ledger_entries WHERE user_id = $1 AND type = 'purchase'`,
        [player.id],
      ),
      audit: await tx.rows(`SELECT 1 FROM audit_logs WHERE action = 'shop.purchased' AND resource_id = $1`, [
        p.purchaseId,
      ]),
      events: await tx.rows(`SELECT data FROM events WHERE user_id = $1 AND type = 'item.purchased'`, [
        player.id,
      ]),
      problems: await findLedgerDiscrepancies(tx, [player.id]),
    }));
    assert.deepEqual(rows.ledger, [
      { type: "purchase", amount: -1500, balance_after: 500, reference: p.purchaseId },
    ]);
    assert.equal(rows.audit.length, 1);
    assert.equal(rows.events.length, 1);
    assert.deepEqual(rows.problems, []);

    const history = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/purchases",
      headers: bearer(player.accessToken),
    });
    const items = history.json<{ items: { id: string; status: string; total: number }[] }>().items;
    assert.deepEqual(
      items.map((i) => [i.id, i.status, i.total]),
      [[p.purchaseId, "completed", 1500]],
    );
  });

  it("replaying a purchase's key answers the first purchase and changes nothing; another request with it is refused", async () => {
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 5000);
    const key = randomUUID();
    const first = await buy(player.accessToken, "xp-boost", { idempotencyKey: key });
    assert.equal(first.statusCode, 201, first.body);
    const before = await tableDigests(ctx, ECONOMY_TABLES);
    const replays = await Promise.all(
      Array.from({ length: 10 }, () => buy(player.accessToken, "xp-boost", { idempotencyKey: key })),
    );
    for (const r of replays) {
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual({ ...r.json<PurchaseResult>(), duplicate: false }, first.json<PurchaseResult>());
      assert.equal(r.json<PurchaseResult>().duplicate, true);
    }
    const other = await buy(player.accessToken, "xp-boost", { idempotencyKey: key, quantity: 2 });
    assert.equal(other.statusCode, 422);
    assert.equal(problem(other).code, "idempotency.key_reused");
    const elsewhere = await buy(player.accessToken, "recipe-pack", { idempotencyKey: key });
    assert.equal(problem(elsewhere).code, "idempotency.key_reused");
    assert.deepEqual(await tableDigests(ctx, ECONOMY_TABLES), before);
  });

  it("every refusal has its own code and writes nothing", async () => {
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 1000);
    const inactive = await makeItem({ key: "retired", active: false });
    const later = await makeItem({
      key: "next-season",
      availableFrom: new Date(ctx.clock.now().getTime() + 86_400_000).toISOString(),
    });
    const over = await makeItem({
      key: "last-season",
      availableFrom: new Date(ctx.clock.now().getTime() - 2 * 86_400_000).toISOString(),
      availableUntil: new Date(ctx.clock.now().getTime() - 86_400_000).toISOString(),
    });
    const soldOut = await makeItem({ key: "sold-out", stock: 0 });
    const limited = await makeItem({ key: "limited", perPlayerLimit: 1, price: 10 });
    assert.equal((await buy(player.accessToken, limited.key)).statusCode, 201);

    const before = await tableDigests(ctx, ECONOMY_TABLES);
    const cases: [string, Record<string, unknown>, number, string][] = [
      ["recipe-pack", { quantity: 2 }, 409, "economy.insufficient_funds"],
      [inactive.key, {}, 409, "shop.item_inactive"],
      [later.key, {}, 409, "shop.item_unavailable"],
      [over.key, {}, 409, "shop.item_unavailable"],
      [soldOut.key, {}, 409, "shop.out_of_stock"],
      [limited.key, {}, 409, "shop.limit_reached"],
      ["no-such-item", {}, 404, "resource.not_found"],
      [randomUUID(), {}, 404, "resource.not_found"],
    ];
    for (const [item, body, status, code] of cases) {
      const res = await buy(player.accessToken, item, body);
      assert.equal(res.statusCode, status, `${item}: ${res.body}`);
      assert.equal(problem(res).code, code, item);
    }
    assert.equal(await balance(player.id), 990);
    assert.deepEqual(await tableDigests(ctx, ECONOMY_TABLES), before);

    // The same key works once the reason is gone: a refusal keeps nothing, not even the key.
    const key = randomUUID();
    assert.equal(
      (await buy(player.accessToken, "recipe-pack", { idempotencyKey: key, quantity: 2 })).statusCode,
      409,
    );
    await fund(player.id, 1010);
    assert.equal(
      (await buy(player.accessToken, "recipe-pack", { idempotencyKey: key, quantity: 2 })).statusCode,
      201,
    );
    assert.equal(await balance(player.id), 0);
  });

  it("a player holds a cosmetic once; XP cannot be a price", async () => {
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 5000);
    assert.equal((await buy(player.accessToken, "premium-avatar")).statusCode, 201);
    const again = await buy(player.accessToken, "premium-avatar");
    assert.equal(problem(again).code, "shop.limit_reached");

    // Spending XP would lower the level, and earning it back would pay the level-ups again.
    const xpPriced = await asAdmin("POST", "/v1/admin/shop-items", {
      key: "xp-priced",
      name: "Test item",
      price: 300,
      type: "consumable",
      currency: "xp",
    });
    assert.equal(xpPriced.statusCode, 422, xpPriced.body);
    assert.equal(problem(xpPriced).code, "definition.invalid");
    const patched = await asAdmin("PATCH", "/v1/admin/shop-items/premium-avatar", { currency: "xp" });
    assert.equal(patched.statusCode, 422, patched.body);
  });

  it("admins create, change, list items; a bad definition is refused", async () => {
    const created = await makeItem({
      key: "gold-boost",
      type: "boost",
      data: { currency: "coins", multiplier: 1.25, duration: 30 },
      stock: 10,
    });
    const patched = await asAdmin("PATCH", `/v1/admin/shop-items/${created.key}`, {
      price: 250,
      premium: true,
    });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json<{ price: number; stock: number }>().price, 250);
    assert.equal(patched.json<{ price: number; stock: number }>().stock, 10);
    const list = await asAdmin("GET", "/v1/admin/shop-items");
    assert.ok(list.json<{ items: { key: string }[] }>().items.some((i) => i.key === "gold-boost"));

    const bad: [Record<string, unknown>, string][] = [
      [
        { key: "b1", type: "boost", data: { currency: "coins", multiplier: 1, duration: 30 } },
        "body/data/multiplier",
      ],
      [{ key: "b2", type: "boost", data: { currency: "coins", multiplier: 2 } }, "body/data/duration"],
      [
        { key: "b3", type: "boost", data: { currency: "gems", multiplier: 2, duration: 5 } },
        "body/data/currency",
      ],
      [{ key: "b4", type: "protection", data: { duration: 24, streak: "nope" } }, "body/data/streak"],
      [{ key: "b5", type: "recipe", data: { recipeCount: 5, extra: 1 } }, "body/data/extra"],
      [{ key: "b6", type: "freeze", data: { amount: 0 } }, "body/data/amount"],
      [{ key: "b7", currency: "gems" }, "body/currency"],
      [{ key: "b8", type: "avatar", perPlayerLimit: 2 }, "body/perPlayerLimit"],
      [{ key: randomUUID() }, "body/key"],
      [
        { key: "b9", availableFrom: "2030-01-02T00:00:00Z", availableUntil: "2030-01-01T00:00:00Z" },
        "body/availableUntil",
      ],
    ];
    for (const [body, path] of bad) {
      const res = await asAdmin("POST", "/v1/admin/shop-items", {
        name: "Bad",
        price: 1,
        type: "consumable",
        ...body,
      });
      assert.equal(res.statusCode, 422, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(problem(res).code, "definition.invalid");
      assert.equal(problem(res).errors?.[0]?.path, path, JSON.stringify(body));
    }
    const typeChange = await asAdmin("PATCH", "/v1/admin/shop-items/gold-boost", {
      type: "consumable",
      data: {},
    });
    assert.equal(problem(typeChange).code, "definition.invalid");
    const dup = await asAdmin("POST", "/v1/admin/shop-items", {
      key: "gold-boost",
      name: "X",
      price: 1,
      type: "consumable",
    });
    assert.equal(problem(dup).code, "definition.exists");
    // A multiplier above the ceiling boosts are applied with would be sold and not paid.
    const tooStrong = await asAdmin("POST", "/v1/admin/shop-items", {
      key: "five-x",
      name: "Test item",
      price: 100,
      type: "boost",
      data: { currency: "coins", multiplier: 5, duration: 30 },
    });
    assert.equal(tooStrong.statusCode, 422, tooStrong.body);
    // An item's id is found however its hex digits are cased, as every path takes it.
    const upper = await ctx.app.inject({
      method: "GET",
      url: `/v1/shop/${created.id.toUpperCase()}`,
      headers: bearer(admin.accessToken),
    });
    assert.equal(upper.statusCode, 200, upper.body);
  });

  it("admins grant items (idempotent, audited) and refund purchases (idempotent, compensating entry)", async () => {
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 3000);
    const stocked = await makeItem({ key: "stocked", stock: 5, price: 200 });
    const bought = (await buy(player.accessToken, stocked.key, { quantity: 3 })).json<PurchaseResult>();
    assert.equal(bought.stockLeft, 2);

    const key = randomUUID();
    const grant = (quantity: number) =>
      asAdmin("POST", `/v1/admin/users/${player.id}/inventory`, {
        item: "streak-protection",
        quantity,
        reason: "support ticket 7",
        idempotencyKey: key,
      });
    const granted = await grant(2);
    assert.equal(granted.statusCode, 201, granted.body);
    assert.equal(granted.json<{ held: number }>().held, 2);
    const again = await grant(2);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<{ duplicate: boolean }>().duplicate, true);
    assert.equal(problem(await grant(3)).code, "idempotency.key_reused");

    const refund = () =>
      asAdmin("POST", `/v1/admin/purchases/${bought.purchaseId}/refund`, { reason: "bought by mistake" });
    const refunded = await refund();
    assert.equal(refunded.statusCode, 201, refunded.body);
    assert.deepEqual(
      (({ amount, balance, quantity, duplicate }) => ({ amount, balance, quantity, duplicate }))(
        refunded.json<{ amount: number; balance: number; quantity: number; duplicate: boolean }>(),
      ),
      { amount: 600, balance: 3000, quantity: 3, duplicate: false },
    );
    const twice = await refund();
    assert.equal(twice.statusCode, 200);
    assert.deepEqual({ ...twice.json<object>(), duplicate: false }, refunded.json<object>());
    assert.equal(await balance(player.id), 3000);

    const state = await ctx.db.asSystem(async (tx) => ({
      inventory: await tx.maybeOne<{ quantity: number; purchased: number }>(
        `SELECT quantity, purchased FROM user_inventory WHERE user_id = $1 AND item_id = $2`,
        [player.id, stocked.id],
      ),
      stock: (await tx.one<{ stock: number }>(`SELECT stock FROM shop_items WHERE id = $1`, [stocked.id]))
        .stock,
      refunds: await tx.rows<{ amount: number; earned: number }>(
        `SELECT amount FROM ledger_entries WHERE user_id = $1 AND type = 'refund'`,
        [player.id],
      ),
      earned: (
        await tx.one<{ lifetime_earned: number }>(
          `SELECT lifetime_earned FROM wallets WHERE user_id = $1 AND currency = 'coins'`,
          [player.id],
        )
      ).lifetime_earned,
      audits: await tx.rows<{ action: string }>(
        `SELECT action FROM audit_logs WHERE subject_user_id = $1 AND action IN ('shop.refunded', 'inventory.granted')`,
        [player.id],
      ),
      status: (
        await tx.one<{ status: string }>(`SELECT status FROM purchases WHERE id = $1`, [bought.purchaseId])
      ).status,
      problems: await findLedgerDiscrepancies(tx, [player.id]),
    }));
    assert.deepEqual(state.inventory, { quantity: 0, purchased: 0 });
    assert.equal(state.stock, 5);
    assert.deepEqual(state.refunds, [{ amount: 600 }]);
    assert.equal(state.earned, 3000, "a refund is not earned");
    assert.equal(state.audits.length, 2);
    assert.equal(state.status, "refunded");
    assert.deepEqual(state.problems, []);

    // Units used cannot be refunded.
    const boost = (await buy(player.accessToken, "xp-boost")).json<PurchaseResult>();
    const used = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/inventory/xp-boost/use",
      headers: bearer(player.accessToken),
      payload: { idempotencyKey: randomUUID() },
    });
    assert.equal(used.statusCode, 201, used.body);
    const refusedRefund = await asAdmin("POST", `/v1/admin/purchases/${boost.purchaseId}/refund`, {
      reason: "x",
    });
    assert.equal(problem(refusedRefund).code, "shop.refund_not_possible");
    assert.equal(
      problem(await asAdmin("POST", `/v1/admin/purchases/${randomUUID()}/refund`, { reason: "x" })).code,
      "resource.not_found",
    );

    const adminView = await asAdmin("GET", `/v1/admin/users/${player.id}/purchases?status=refunded`);
    assert.deepEqual(
      adminView.json<{ items: { id: string }[] }>().items.map((i) => i.id),
      [bought.purchaseId],
    );
    const inventory = await asAdmin("GET", `/v1/admin/users/${player.id}/inventory`);
    assert.deepEqual(
      inventory
        .json<{ items: { item: { key: string }; quantity: number }[] }>()
        .items.map((i) => [i.item.key, i.quantity])
        .sort(),
      [["streak-protection", 2]],
    );
  });
  it("ludus verify checks the shop's books: inventories against purchases, purchases against the ledger", async () => {
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 1000);
    const p = (await buy(player.accessToken, "streak-protection")).json<PurchaseResult>();
    const mine = async () =>
      (await verifyBooks(ctx.db, ctx.game.definitions)).problems.filter((x) => x.user_id === player.id);
    assert.deepEqual(await mine(), []);
    await ctx.db.asSystem((tx) =>
      tx.exec(
        `UPDATE user_inventory SET purchased = purchased + 1, quantity = quantity + 1
         WHERE user_id = $1 AND item_id = (SELECT id FROM shop_items WHERE key = 'streak-protection')`,
        [player.id],
      ),
    );
    await ctx.db.asSystem((tx) =>
      tx.exec(`UPDATE purchases SET ledger_entry_id = NULL WHERE id = $1`, [p.purchaseId]),
    );
    assert.deepEqual(
      (await mine()).map((x) => [x.currency, x.problem]),
      [
        ["streak-protection", "inventory"],
        ["coins", "purchase"],
      ],
    );
    // Put it back for the other tests' checks of the whole database.
    await ctx.db.asSystem(async (tx) => {
      await tx.exec(
        `UPDATE user_inventory SET purchased = purchased - 1, quantity = quantity - 1
         WHERE user_id = $1 AND item_id = (SELECT id FROM shop_items WHERE key = 'streak-protection')`,
        [player.id],
      );
      await tx.exec(
        `UPDATE purchases p SET ledger_entry_id = l.id FROM ledger_entries l
         WHERE p.id = $1 AND l.user_id = p.user_id AND l.reference = p.id::text`,
        [p.purchaseId],
      );
    });
    assert.deepEqual(await mine(), []);
  });
  it("bad purchase and use requests are 4xx problems that write nothing", async () => {
    const player = await registerPlayer(ctx.app);
    await fund(player.id, 10_000);
    const before = await tableDigests(ctx, ECONOMY_TABLES);
    const send = (url: string, payload: string) =>
      ctx.app.inject({
        method: "POST",
        url,
        headers: { ...bearer(player.accessToken), "content-type": "application/json" },
        payload,
      });
    const key = JSON.stringify(randomUUID());
    const bodies: [string, string][] = [
      ["missing idempotency key", `{}`],
      ["quantity 0", `{"idempotencyKey": ${key}, "quantity": 0}`],
      ["quantity 101", `{"idempotencyKey": ${key}, "quantity": 101}`],
      ["quantity as a string", `{"idempotencyKey": ${key}, "quantity": "1"}`],
      ["quantity 1.5", `{"idempotencyKey": ${key}, "quantity": 1.5}`],
      ["an unknown field", `{"idempotencyKey": ${key}, "price": 0}`],
      ["a key of 201 characters", `{"idempotencyKey": "${"k".repeat(201)}"}`],
      ["a key with a space", `{"idempotencyKey": "a b"}`],
      ["malformed JSON", `{"idempotencyKey": `],
      ["an array", `[]`],
    ];
    for (const url of ["/v1/shop/xp-boost/purchase", "/v1/me/inventory/xp-boost/use"]) {
      for (const [label, payload] of bodies) {
        const res = await send(url, payload);
        assert.equal(res.statusCode, 400, `${url} ${label}: ${res.body}`);
        assert.match(problem(res).code, /^(validation\.failed|request\.malformed_json)$/);
      }
    }
    for (const url of [
      `/v1/shop/${"a".repeat(5000)}/purchase`,
      "/v1/shop/not%20an%20item/purchase",
      "/v1/shop/-leading-dash/purchase",
    ]) {
      const res = await send(url, `{"idempotencyKey": ${key}}`);
      assert.ok([400, 414].includes(res.statusCode), `${url.slice(0, 40)}: ${res.statusCode}`);
    }
    const query = await ctx.app.inject({
      method: "GET",
      url: "/v1/shop?type=weapon&limit=0",
      headers: bearer(player.accessToken),
    });
    assert.equal(problem(query).code, "validation.failed");
    const cursor = await ctx.app.inject({
      method: "GET",
      url: `/v1/shop?cursor=${Buffer.from(JSON.stringify(["x", "1", "k"])).toString("base64url")}`,
      headers: bearer(player.accessToken),
    });
    assert.equal(problem(cursor).code, "validation.failed");
    assert.deepEqual(await tableDigests(ctx, ECONOMY_TABLES), before);
  });
});
