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

const DAY = 86_400_000;

interface Award {
  rule: string;
  currency: string;
  amount: number;
  balance: number | null;
  capped: boolean;
}
interface Effects {
  awards: Award[];
  balances: Record<string, number>;
  streaks: { key: string; current: number; milestones: number[] }[];
}

/** What a refused credit must leave untouched. */
const ECONOMY_TABLES = ["wallets", "ledger_entries", "idempotency_keys", "audit_logs"] as const;

/** A currency's ceiling (maxBalance): awards are cut to the room left, admin credits beyond it refused. */
describe("currency balance caps", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;

  before(async () => {
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-streaks-quests"],
      accessTokenTtlSeconds: 10 * 365 * 86_400,
    });
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  after(() => ctx.close());

  const adjust = (userId: string, currency: string, amount: number, idempotencyKey = randomUUID()) =>
    ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${userId}/adjustments`,
      headers: bearer(admin.accessToken),
      payload: { currency, amount, reason: "cap test", idempotencyKey },
    });

  async function event(userId: string, type: string, data: Record<string, unknown>): Promise<Effects> {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type, userId, data },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ effects: Effects }>().effects;
  }

  async function balance(userId: string, currency: string): Promise<number> {
    const row = await ctx.db.asSystem((tx) =>
      tx.maybeOne<{ balance: string }>(`SELECT balance FROM wallets WHERE user_id = $1 AND currency = $2`, [
        userId,
        currency,
      ]),
    );
    return Number(row?.balance ?? 0);
  }

  /** Three days of meals in a row, from now: the third reaches the nutrition streak's day-3 milestone. */
  async function reachDayThree(userId: string): Promise<Effects> {
    const start = ctx.clock.now().getTime();
    const days: Effects[] = [];
    for (let day = 0; day < 3; day++) {
      ctx.clock.set(new Date(start + day * DAY));
      days.push(await event(userId, "meal.logged", { mealType: "lunch" }));
    }
    ctx.clock.set(new Date(start));
    const last = days[2]!;
    assert.deepEqual(
      last.streaks.find((s) => s.key === "nutrition")?.milestones,
      [3],
      "the third day reaches milestone 3",
    );
    return last;
  }

  it("lists each currency's maxBalance (null when uncapped)", async () => {
    const res = await ctx.app.inject({
      method: "GET",
      url: "/v1/admin/currencies",
      headers: bearer(admin.accessToken),
    });
    assert.equal(res.statusCode, 200, res.body);
    const items = res.json<{ items: { code: string; maxBalance: number | null }[] }>().items;
    const caps = Object.fromEntries(items.map((c) => [c.code, c.maxBalance]));
    assert.equal(caps.streak_freeze, 2);
    assert.equal(caps.xp, null);
    assert.equal(caps.coins, null);
  });

  it("pays the day-3 freeze token to a player with room for it", async () => {
    const player = await registerPlayer(ctx.app);
    const effects = await reachDayThree(player.id);
    const paid = effects.awards.filter((a) => a.rule === "streak:nutrition");
    assert.deepEqual(
      paid.map((a) => [a.currency, a.amount, a.capped]),
      [
        ["xp", 30, false],
        ["streak_freeze", 1, false],
      ],
    );
    assert.equal(effects.balances.streak_freeze, 1);
    assert.equal(await balance(player.id, "streak_freeze"), 1);
  });

  it("cuts the day-3 freeze token to nothing for a player already holding 2, paying the rest", async () => {
    const player = await registerPlayer(ctx.app);
    assert.equal((await adjust(player.id, "streak_freeze", 2)).statusCode, 201);
    const effects = await reachDayThree(player.id);
    const token = effects.awards.find((a) => a.rule === "streak:nutrition" && a.currency === "streak_freeze");
    // The award is listed as capped with nothing paid; the balance stays at the ceiling.
    assert.deepEqual(token && [token.amount, token.capped, token.balance], [0, true, 2]);
    const xp = effects.awards.find((a) => a.rule === "streak:nutrition" && a.currency === "xp");
    assert.deepEqual(xp && [xp.amount, xp.capped], [30, false]);
    assert.equal(await balance(player.id, "streak_freeze"), 2);
    const entries = await ctx.db.asSystem((tx) =>
      tx.rows<{ type: string; amount: string }>(
        `SELECT type, amount FROM ledger_entries WHERE user_id = $1 AND currency = 'streak_freeze' ORDER BY id`,
        [player.id],
      ),
    );
    assert.deepEqual(
      entries.map((e) => [e.type, Number(e.amount)]),
      [["adjust", 2]],
      "no ledger entry for a payment of nothing",
    );
  });

  it("tops a player holding 1 up to the ceiling", async () => {
    const player = await registerPlayer(ctx.app);
    assert.equal((await adjust(player.id, "streak_freeze", 1)).statusCode, 201);
    const effects = await reachDayThree(player.id);
    const token = effects.awards.find((a) => a.rule === "streak:nutrition" && a.currency === "streak_freeze");
    assert.deepEqual(token && [token.amount, token.capped, token.balance], [1, false, 2]);
  });

  it("refuses an admin credit beyond the ceiling with 409 economy.balance_cap and writes nothing", async () => {
    const player = await registerPlayer(ctx.app);
    const tooMuch = await adjust(player.id, "streak_freeze", 3);
    assert.equal(tooMuch.statusCode, 409, tooMuch.body);
    assert.equal(problem(tooMuch).code, "economy.balance_cap");
    assert.match(problem(tooMuch).detail, /at most 2 streak_freeze/);

    const full = await adjust(player.id, "streak_freeze", 2);
    assert.equal(full.statusCode, 201, full.body);
    assert.equal(full.json<{ balance: number }>().balance, 2);

    const digests = await tableDigests(ctx, ECONOMY_TABLES);
    const key = randomUUID();
    const over = await adjust(player.id, "streak_freeze", 1, key);
    assert.equal(over.statusCode, 409, over.body);
    assert.equal(problem(over).code, "economy.balance_cap");
    assert.deepEqual(await tableDigests(ctx, ECONOMY_TABLES), digests, "nothing written, key not used up");

    // Debits are not limited by the ceiling; once there is room the same request goes through.
    const spent = await adjust(player.id, "streak_freeze", -1);
    assert.equal(spent.statusCode, 201, spent.body);
    const retried = await adjust(player.id, "streak_freeze", 1, key);
    assert.equal(retried.statusCode, 201, retried.body);
    const result = retried.json<{ balance: number; duplicate: boolean }>();
    assert.deepEqual([result.balance, result.duplicate], [2, false]);
    assert.equal(await balance(player.id, "streak_freeze"), 2);
  });

  it("creates a currency with a ceiling that awards and adjustments respect at once", async () => {
    const created = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/currencies",
      headers: bearer(admin.accessToken),
      payload: { code: "gems", name: "Gems", maxBalance: 5 },
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(created.json(), {
      code: "gems",
      name: "Gems",
      description: null,
      allowNegative: false,
      maxBalance: 5,
    });
    const listed = await ctx.app.inject({
      method: "GET",
      url: "/v1/admin/currencies",
      headers: bearer(admin.accessToken),
    });
    assert.equal(
      listed
        .json<{ items: { code: string; maxBalance: number | null }[] }>()
        .items.find((c) => c.code === "gems")?.maxBalance,
      5,
    );

    const rule = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/rules",
      headers: bearer(admin.accessToken),
      payload: {
        key: "gems-for-recipes",
        name: "Gems for recipes",
        eventType: "recipe.tried",
        awards: [{ currency: "gems", amount: 3 }],
      },
    });
    assert.equal(rule.statusCode, 201, rule.body);
    const player = await registerPlayer(ctx.app);
    const gems = async () =>
      (await event(player.id, "recipe.tried", { recipeId: randomUUID() })).awards
        .filter((a) => a.currency === "gems")
        .map((a) => [a.amount, a.balance, a.capped]);
    assert.deepEqual(await gems(), [[3, 3, false]]);
    assert.deepEqual(await gems(), [[2, 5, true]], "cut to the room left");
    assert.deepEqual(await gems(), [[0, 5, true]], "nothing left to pay");
    assert.equal(await balance(player.id, "gems"), 5);

    const over = await adjust(player.id, "gems", 1);
    assert.equal(over.statusCode, 409, over.body);
    assert.equal(problem(over).code, "economy.balance_cap");
    const other = await registerPlayer(ctx.app);
    assert.equal((await adjust(other.id, "gems", 5)).statusCode, 201);
    assert.equal((await adjust(other.id, "gems", 6)).statusCode, 409);
  });

  it("refuses a bad maxBalance with 400 and creates nothing", async () => {
    const digests = await tableDigests(ctx, ["currencies", "audit_logs"]);
    for (const maxBalance of [0, -1, 1.5, "5", 1_000_000_000_001, null]) {
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/admin/currencies",
        headers: bearer(admin.accessToken),
        payload: { code: "rubies", name: "Rubies", maxBalance },
      });
      assert.equal(res.statusCode, 400, `${String(maxBalance)}: ${res.body}`);
      assert.equal(problem(res).code, "validation.failed");
    }
    assert.deepEqual(await tableDigests(ctx, ["currencies", "audit_logs"]), digests);
  });
});
