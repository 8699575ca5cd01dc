/**
 * Numbers stay exact: award, counter, price, adjustment and score values from across the whole
 * numeric range (negative, fractional, around 2^53, 1e18, 9.3e18, huge, and not numbers at all)
 * sent through the HTTP API. Every answer is 2xx or 4xx, every later read of the player is 2xx,
 * what is accepted is exactly what the ceilings (src/platform/limits.ts) allow, and `ludus verify`
 * is clean at the end. Then the ceilings themselves: in the engine, and in SQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { LightMyRequestResponse } from "fastify";
import pg from "pg";
import { verifyBooks } from "../src/economy/verify.ts";
import { LIMITS } from "../src/platform/limits.ts";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
} from "./helpers/context.ts";

const CEILING = LIMITS.valueCeiling;

/** Values from the whole range a JSON client can send where a number is expected. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom<unknown>(
      0,
      1,
      -1,
      0.5,
      -0.5,
      2.75,
      1e9,
      1e9 + 1,
      -1e9,
      -1e9 - 1,
      1e12,
      1e12 + 1,
      1e15,
      1e15 + 1,
      2 ** 53 - 1,
      2 ** 53,
      2 ** 53 + 1,
      -(2 ** 53 + 1),
      1e18,
      -1e18,
      9.3e18,
      -9.3e18,
      1e300,
      -Number.MAX_VALUE,
      Number.MIN_VALUE,
      "1",
      "1e18",
      "abc",
      "",
      null,
      true,
      [],
      { n: 1 },
    ),
  },
  { weight: 2, arbitrary: fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }) },
  { weight: 2, arbitrary: fc.maxSafeInteger() },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const in2xx = (res: LightMyRequestResponse) => res.statusCode >= 200 && res.statusCode < 300;

/** What the engine does with an event whose data.n is `n` (absent when undefined). */
function expectedEvent(
  n: unknown,
  rule: { multiplier: number; max: number | null },
): { ok: true; coins: number; counter: number } | { ok: false } {
  if (n === undefined) return { ok: true, coins: 0, counter: 0 };
  if (!isNum(n)) return { ok: false };
  // The counter reads data.n as it is: beyond ±counterStep refuses the event.
  if (Math.abs(n) > LIMITS.counterStep) return { ok: false };
  const scaled = n * rule.multiplier;
  let coins: number;
  if (rule.max !== null) coins = scaled >= rule.max ? rule.max : Math.floor(scaled);
  else if (Math.abs(scaled) > LIMITS.award) return { ok: false };
  else coins = Math.floor(scaled);
  return { ok: true, coins: Math.max(0, coins), counter: Math.trunc(n) || 0 };
}

interface Run {
  award: unknown;
  counter: unknown;
  multiplier: unknown;
  max: unknown;
  n: unknown;
  boardN: unknown;
  adjustment: unknown;
  adjustCurrency: "coins" | "debt";
  price: unknown;
  score: unknown;
}

describe("numbers across the whole range", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;

  const asAdmin = (method: "GET" | "POST" | "PATCH", url: string, payload?: unknown) =>
    ctx.app.inject({ method, url, headers: bearer(admin.accessToken), payload: payload as object });
  const sendEvent = (userId: string, type: string, data: Record<string, unknown>) =>
    ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type, userId, data },
    });

  /** Every read of a player must answer 2xx, whatever was sent before. */
  async function readsAreFine(player: { id: string; accessToken: string }, label: string) {
    const me = bearer(player.accessToken);
    const reads: [string, Record<string, string>][] = [
      ["/v1/me/progress", me],
      ["/v1/me/wallet", me],
      ["/v1/me/ledger?limit=100", me],
      ["/v1/me/stats", me],
      ["/v1/me/activity?limit=100", me],
      ["/v1/me/inventory", me],
      ["/v1/me/purchases", me],
      ["/v1/me/achievements", me],
      [`/v1/users/${player.id}/progress`, { "x-api-key": apiKey }],
      ["/v1/leaderboards/num-events", me],
      ["/v1/leaderboards/num-events/me", me],
      ["/v1/leaderboards/num-counter", me],
      ["/v1/leaderboards/num-coins/me", me],
      ["/v1/leaderboards/num-scores", me],
      ["/v1/leaderboards/num-scores/me", me],
      [`/v1/admin/users/${player.id}/ledger?limit=100`, bearer(admin.accessToken)],
    ];
    for (const [url, headers] of reads) {
      const res = await ctx.app.inject({ method: "GET", url, headers });
      assert.ok(in2xx(res), `${label}: GET ${url} → ${res.statusCode} ${res.body.slice(0, 300)}`);
    }
  }

  before(async () => {
    ctx = await createTestContext({ content: false });
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write", "users:read", "scores:write"]);
    const setup: [string, unknown][] = [
      ["/v1/admin/currencies", { code: "debt", name: "Debt", allowNegative: true }],
      ["/v1/admin/event-types", { key: "num.board", dataSchema: { type: "object" } }],
      [
        "/v1/admin/leaderboards",
        {
          key: "num-events",
          name: "Event numbers",
          source: { kind: "event", eventType: "num.board", field: "data.n" },
          period: "all",
          operator: "sum",
        },
      ],
      [
        "/v1/admin/leaderboards",
        {
          key: "num-counter",
          name: "Counted numbers",
          source: { kind: "counter", stat: "num.n" },
          period: "all",
          operator: "sum",
        },
      ],
      [
        "/v1/admin/leaderboards",
        {
          key: "num-coins",
          name: "Coins earned",
          source: { kind: "currency", currency: "coins" },
          period: "all",
          operator: "sum",
        },
      ],
      [
        "/v1/admin/leaderboards",
        { key: "num-scores", name: "Scores", source: { kind: "submitted" }, period: "all", operator: "sum" },
      ],
    ];
    for (const [url, payload] of setup) {
      const res = await asAdmin("POST", url, payload);
      assert.equal(res.statusCode, 201, `${url}: ${res.body}`);
    }
  });
  after(() => ctx?.close());

  it("every answer is 2xx or 4xx, reads stay 2xx, accepted amounts are exact, and the books verify", async () => {
    let run = 0;
    const runArb: fc.Arbitrary<Run> = fc.record({
      award: anyValue,
      counter: anyValue,
      multiplier: fc.oneof(fc.constant(undefined), anyValue),
      max: fc.oneof(fc.constant(undefined), anyValue),
      n: fc.oneof(fc.constant(undefined), anyValue),
      boardN: fc.oneof(fc.constant(undefined), anyValue),
      adjustment: anyValue,
      adjustCurrency: fc.constantFrom<"coins" | "debt">("coins", "debt"),
      price: anyValue,
      score: anyValue,
    });
    await fc.assert(
      fc.asyncProperty(runArb, async (r) => {
        run += 1;
        const label = `run ${run} ${JSON.stringify(r)}`;
        const player = await registerPlayer(ctx.app);
        const check = (res: LightMyRequestResponse, what: string) => {
          assert.ok(res.statusCode < 500, `${label}: ${what} → ${res.statusCode} ${res.body.slice(0, 300)}`);
          if (res.statusCode >= 400) problem(res);
        };
        const type = `num.r${run}`;
        check(await asAdmin("POST", "/v1/admin/event-types", { key: type }), "event type");

        // A rule with fixed amounts: accepted only with integers inside the documented bounds.
        const fixed = await asAdmin("POST", "/v1/admin/rules", {
          key: `num-fixed-${run}`,
          name: "Fixed amounts",
          eventType: type,
          awards: [{ currency: "xp", amount: r.award }],
          counters: [{ stat: "num.fixed", amount: r.counter }],
        });
        check(fixed, "fixed rule");
        const fixedOk =
          isInt(r.award) &&
          r.award >= 1 &&
          r.award <= LIMITS.award &&
          isInt(r.counter) &&
          Math.abs(r.counter) <= 1_000_000;
        assert.equal(fixed.statusCode, fixedOk ? 201 : 400, `${label}: fixed rule ${fixed.body}`);

        // A rule reading data.n: multiplier and max must be in range; the event is judged when it comes.
        const fieldRule: Record<string, unknown> = { currency: "coins", field: "data.n" };
        if (r.multiplier !== undefined) fieldRule.multiplier = r.multiplier;
        if (r.max !== undefined) fieldRule.max = r.max;
        let created = await asAdmin("POST", "/v1/admin/rules", {
          key: `num-field-${run}`,
          name: "From the event",
          eventType: type,
          awards: [fieldRule],
          counters: [{ stat: "num.n", field: "data.n" }],
        });
        check(created, "field rule");
        const multiplierOk =
          r.multiplier === undefined ||
          (isNum(r.multiplier) && r.multiplier > 0 && r.multiplier <= 1_000_000);
        const maxOk = r.max === undefined || (isInt(r.max) && r.max >= 1 && r.max <= LIMITS.award);
        assert.equal(created.statusCode, multiplierOk && maxOk ? 201 : 400, `${label}: ${created.body}`);
        let rule = {
          multiplier: multiplierOk && r.multiplier !== undefined ? (r.multiplier as number) : 1,
          max: maxOk && r.max !== undefined ? (r.max as number) : null,
        };
        if (created.statusCode !== 201) {
          created = await asAdmin("POST", "/v1/admin/rules", {
            key: `num-field-${run}`,
            name: "From the event",
            eventType: type,
            awards: [{ currency: "coins", field: "data.n" }],
            counters: [{ stat: "num.n", field: "data.n" }],
          });
          assert.equal(created.statusCode, 201, created.body);
          rule = { multiplier: 1, max: null };
        }

        const sent = await sendEvent(player.id, type, r.n === undefined ? {} : { n: r.n });
        check(sent, "event");
        const expected = expectedEvent(r.n, rule);
        if (expected.ok) {
          assert.equal(sent.statusCode, 201, `${label}: event ${sent.body}`);
          const effects = sent.json<{
            effects: {
              awards: { currency: string; amount: number }[];
              counters: { stat: string; total: number }[];
            };
          }>().effects;
          const coins = effects.awards
            .filter((a) => a.currency === "coins")
            .reduce((s, a) => s + a.amount, 0);
          assert.equal(coins, expected.coins, `${label}: coins paid`);
          const counted = effects.counters.find((c) => c.stat === "num.n")?.total ?? 0;
          assert.equal(counted, expected.counter, `${label}: num.n counted`);
        } else {
          assert.equal(sent.statusCode, 422, `${label}: event ${sent.body}`);
          assert.equal(problem(sent).code, "event.amount_out_of_range", label);
        }
        await readsAreFine(player, `${label} after the event`);

        // An event-fed board takes numbers within ±LIMITS.score; beyond it the event is refused.
        const boarded = await sendEvent(
          player.id,
          "num.board",
          r.boardN === undefined ? {} : { n: r.boardN },
        );
        check(boarded, "board event");
        const boardOk = !isNum(r.boardN) || Math.abs(r.boardN) <= LIMITS.score;
        assert.equal(boarded.statusCode, boardOk ? 201 : 422, `${label}: board event ${boarded.body}`);

        // Admin adjustments: non-zero integers within ±LIMITS.adjustment.
        const adjusted = await asAdmin("POST", `/v1/admin/users/${player.id}/adjustments`, {
          currency: r.adjustCurrency,
          amount: r.adjustment,
          reason: "property",
          idempotencyKey: `adj-${run}`,
        });
        check(adjusted, "adjustment");
        const adjustmentOk =
          isInt(r.adjustment) && r.adjustment !== 0 && Math.abs(r.adjustment) <= LIMITS.adjustment;
        if (!adjustmentOk) assert.equal(adjusted.statusCode, 400, `${label}: adjustment ${adjusted.body}`);
        await readsAreFine(player, `${label} after the adjustment`);

        // Shop prices: integers in [0, LIMITS.price]; what is created can be bought (or refused as unaffordable).
        const item = await asAdmin("POST", "/v1/admin/shop-items", {
          key: `num-item-${run}`,
          name: "Priced",
          price: r.price,
          type: "consumable",
        });
        check(item, "shop item");
        const priceOk = isInt(r.price) && r.price >= 0 && r.price <= LIMITS.price;
        assert.equal(item.statusCode, priceOk ? 201 : 400, `${label}: shop item ${item.body}`);
        if (item.statusCode === 201) {
          const bought = await ctx.app.inject({
            method: "POST",
            url: `/v1/shop/num-item-${run}/purchase`,
            headers: bearer(player.accessToken),
            payload: { idempotencyKey: `buy-${run}` },
          });
          check(bought, "purchase");
        }

        // Submitted scores: finite numbers within ±LIMITS.score.
        const scored = await ctx.app.inject({
          method: "POST",
          url: "/v1/leaderboards/num-scores/scores",
          headers: { "x-api-key": apiKey },
          payload: { userId: player.id, score: r.score, idempotencyKey: `score-${run}` },
        });
        check(scored, "score");
        const scoreOk = isNum(r.score) && Math.abs(r.score) <= LIMITS.score;
        assert.equal(scored.statusCode, scoreOk ? 200 : 400, `${label}: score ${scored.body}`);
        await readsAreFine(player, `${label} at the end`);
      }),
      {
        numRuns: 30,
        // The case of the report: an award read from a field without a maximum, sent 1e18.
        examples: [
          [
            {
              award: 10,
              counter: 1,
              multiplier: undefined,
              max: undefined,
              n: 1e18,
              boardN: 9.3e18,
              adjustment: 2 ** 53 + 1,
              adjustCurrency: "coins",
              price: 1e18,
              score: 1e18,
            },
          ],
        ],
      },
    );
    assert.ok(run >= 30);

    const report = await verifyBooks(ctx.db, ctx.game.definitions);
    assert.deepEqual(report.problems, []);
  });

  it("a batch with one event whose amount is out of range is refused whole, and nothing is written", async () => {
    const player = await registerPlayer(ctx.app);
    for (const [url, payload] of [
      ["/v1/admin/event-types", { key: "num.batch" }],
      [
        "/v1/admin/rules",
        {
          key: "num-batch",
          name: "Batch",
          eventType: "num.batch",
          awards: [{ currency: "coins", field: "data.n" }],
        },
      ],
    ] as const) {
      const res = await asAdmin("POST", url, payload);
      assert.equal(res.statusCode, 201, res.body);
    }
    const written = () =>
      ctx.db.asSystem((tx) =>
        tx.one<{ events: number; entries: number }>(
          `SELECT (SELECT count(*)::int FROM events WHERE user_id = $1) AS events,
                  (SELECT count(*)::int FROM ledger_entries WHERE user_id = $1) AS entries`,
          [player.id],
        ),
      );
    const before = await written();
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events/batch",
      headers: { "x-api-key": apiKey },
      payload: {
        events: [
          { type: "num.batch", userId: player.id, data: { n: 5 } },
          { type: "num.batch", userId: player.id, data: { n: 1e18 } },
          { type: "num.batch", userId: player.id, data: { n: 7 } },
        ],
      },
    });
    assert.equal(res.statusCode, 422, res.body);
    const body = problem(res);
    assert.equal(body.code, "event.amount_out_of_range");
    assert.match(body.detail, /num-batch.*data\.n/);
    assert.deepEqual(await written(), before);
  });

  it("a balance, counter or score that would pass the ceiling refuses the event with 409, and nothing is written", async () => {
    const player = await registerPlayer(ctx.app);
    for (const [url, payload] of [
      ["/v1/admin/event-types", { key: "num.near" }],
      [
        "/v1/admin/rules",
        {
          key: "num-near",
          name: "Near the ceiling",
          eventType: "num.near",
          awards: [{ currency: "coins", field: "data.coins" }],
          counters: [{ stat: "num.near", field: "data.count" }],
        },
      ],
    ] as const) {
      const res = await asAdmin("POST", url, payload);
      assert.equal(res.statusCode, 201, res.body);
    }
    // Bring the player's coins and counter close to the ceiling, as years of play could (with
    // the ledger entry that explains the balance, so the books stay right).
    const near = CEILING - 500_000_000;
    await ctx.db.asSystem(async (tx) => {
      await tx.exec(
        `INSERT INTO wallets (user_id, currency, balance, lifetime_earned) VALUES ($1, 'coins', $2, $2)`,
        [player.id, near],
      );
      await tx.exec(
        `INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source)
         VALUES ($1, 'coins', 'adjust', $2, $2, 'years of play', 'test')`,
        [player.id, near],
      );
      await tx.exec(`INSERT INTO user_stats_totals (user_id, stat, value) VALUES ($1, 'num.near', $2)`, [
        player.id,
        near,
      ]);
      await tx.exec(
        `INSERT INTO user_stats_daily (user_id, stat, day, value) VALUES ($1, 'num.near', '2020-01-01', $2)`,
        [player.id, near],
      );
    });
    const digest = () =>
      ctx.db.asSystem((tx) =>
        tx.one<{ balance: number; entries: number; total: number }>(
          `SELECT (SELECT balance FROM wallets WHERE user_id = $1 AND currency = 'coins') AS balance,
                  (SELECT count(*)::int FROM ledger_entries WHERE user_id = $1) AS entries,
                  (SELECT value FROM user_stats_totals WHERE user_id = $1 AND stat = 'num.near') AS total`,
          [player.id],
        ),
      );
    const before = await digest();

    // Within the ceiling: paid exactly.
    const fine = await sendEvent(player.id, "num.near", { coins: 400_000_000 });
    assert.equal(fine.statusCode, 201, fine.body);
    const balance = fine.json<{ effects: { balances: Record<string, number> } }>().effects.balances.coins;
    assert.equal(balance, near + 400_000_000);

    const afterFine = await digest();
    for (const data of [{ coins: 200_000_000 }, { count: 600_000_000 }]) {
      const over = await sendEvent(player.id, "num.near", data);
      assert.equal(over.statusCode, 409, over.body);
      assert.equal(problem(over).code, "limits.ceiling_reached");
      assert.deepEqual(await digest(), afterFine, "nothing written");
    }
    // An admin credit past the ceiling is refused the same way (by the database's constraint).
    const credit = await asAdmin("POST", `/v1/admin/users/${player.id}/adjustments`, {
      currency: "coins",
      amount: 200_000_000,
      reason: "too much",
      idempotencyKey: "over-the-top",
    });
    assert.equal(credit.statusCode, 409, credit.body);
    assert.equal(problem(credit).code, "limits.ceiling_reached");
    assert.deepEqual(await digest(), afterFine);
    assert.notDeepEqual(before, afterFine);
    await readsAreFine(player, "near the ceiling");
    const report = await verifyBooks(ctx.db, ctx.game.definitions);
    assert.deepEqual(report.problems, []);
  });

  it("the database refuses balances, counters and scores past the ceiling, even from the table owner", async () => {
    const player = await registerPlayer(ctx.app);
    const client = new pg.Client({ connectionString: ctx.ownerUrl });
    await client.connect();
    try {
      const refused: [string, string, unknown[]][] = [
        [
          "wallets_balance_ceiling",
          `INSERT INTO wallets (user_id, currency, balance, lifetime_earned) VALUES ($1, 'debt', $2, 0)`,
          [player.id, String(CEILING + 1)],
        ],
        [
          "wallets_balance_ceiling",
          `INSERT INTO wallets (user_id, currency, balance, lifetime_earned, allow_negative) VALUES ($1, 'debt', $2, 0, true)`,
          [player.id, String(-CEILING - 1)],
        ],
        [
          "wallets_lifetime_earned_ceiling",
          `INSERT INTO wallets (user_id, currency, balance, lifetime_earned) VALUES ($1, 'debt', 0, $2)`,
          [player.id, "9223372036854775807"],
        ],
        [
          "ledger_entries_balance_after_ceiling",
          `INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source)
           VALUES ($1, 'debt', 'adjust', 1, $2, 'x', 'x')`,
          [player.id, String(2 ** 53 + 1)],
        ],
        [
          "ledger_entries_amount_ceiling",
          `INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source)
           VALUES ($1, 'debt', 'adjust', $2, 1, 'x', 'x')`,
          [player.id, "-930000000000000000"],
        ],
        [
          "user_stats_totals_value_ceiling",
          `INSERT INTO user_stats_totals (user_id, stat, value) VALUES ($1, 'x', $2)`,
          [player.id, "1000000000000000000"],
        ],
        [
          "user_stats_daily_value_ceiling",
          `INSERT INTO user_stats_daily (user_id, stat, day, value) VALUES ($1, 'x', '2020-01-01', $2)`,
          [player.id, String(-CEILING - 1)],
        ],
        [
          "leaderboard_entries_score_ceiling",
          `INSERT INTO leaderboard_entries (leaderboard_id, period_key, user_id, score, rank_score, reached_at)
           SELECT id, 'all', $1, $2::float8, $2::float8, now() FROM leaderboards WHERE key = 'num-scores'`,
          [player.id, "1e18"],
        ],
        [
          "leaderboard_entries_score_ceiling",
          `INSERT INTO leaderboard_entries (leaderboard_id, period_key, user_id, score, rank_score, reached_at)
           SELECT id, 'all', $1, $2::float8, $2::float8, now() FROM leaderboards WHERE key = 'num-scores'`,
          [player.id, "NaN"],
        ],
      ];
      for (const [constraint, sql, values] of refused) {
        await assert.rejects(
          client.query(sql, values),
          (err: { code?: string; constraint?: string }) =>
            err.code === "23514" && err.constraint === constraint,
          `${constraint}: ${sql}`,
        );
      }
      // Right at the ceiling is allowed.
      await client.query(
        `INSERT INTO user_stats_totals (user_id, stat, value) VALUES ($1, 'at.ceiling', $2), ($1, 'at.floor', $3)`,
        [player.id, String(CEILING), String(-CEILING)],
      );
      await client
        .query(`UPDATE user_stats_totals SET value = value + 1 WHERE user_id = $1 AND stat = 'at.ceiling'`, [
          player.id,
        ])
        .then(
          () => assert.fail("an update past the ceiling was accepted"),
          (err: { constraint?: string }) => assert.equal(err.constraint, "user_stats_totals_value_ceiling"),
        );
    } finally {
      await client.end();
    }
  });
  it("a value past 2^53 left from before the ceilings is read without a 500, and verify lists it", async () => {
    const player = await registerPlayer(ctx.app);
    const huge = "1000000000000000000"; // 1e18, as the report's award left it
    const client = new pg.Client({ connectionString: ctx.ownerUrl });
    await client.connect();
    try {
      // A database from before migration 0015: no constraints when the rows were written, then
      // the constraints added as the migration adds them (NOT VALID).
      const ceilings = [
        ["wallets", "wallets_balance_ceiling", "balance BETWEEN -1000000000000000 AND 1000000000000000"],
        ["wallets", "wallets_lifetime_earned_ceiling", "lifetime_earned <= 1000000000000000"],
        [
          "ledger_entries",
          "ledger_entries_amount_ceiling",
          "amount BETWEEN -1000000000000000 AND 1000000000000000",
        ],
        [
          "ledger_entries",
          "ledger_entries_balance_after_ceiling",
          "balance_after BETWEEN -1000000000000000 AND 1000000000000000",
        ],
      ] as const;
      for (const [table, name] of ceilings)
        await client.query(`ALTER TABLE ${table} DROP CONSTRAINT ${name}`);
      for (const currency of ["coins", "xp"]) {
        await client.query(
          `INSERT INTO wallets (user_id, currency, balance, lifetime_earned) VALUES ($1, $2, $3, $3)`,
          [player.id, currency, huge],
        );
        await client.query(
          `INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source)
           VALUES ($1, $2, 'earn', $3, $3, 'before the ceilings', 'test')`,
          [player.id, currency, huge],
        );
      }
      for (const [table, name, check] of ceilings) {
        await client.query(`ALTER TABLE ${table} ADD CONSTRAINT ${name} CHECK (${check}) NOT VALID`);
      }
    } finally {
      await client.end();
    }
    await readsAreFine(player, "a balance of 1e18 from before");
    const wallet = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/wallet",
      headers: bearer(player.accessToken),
    });
    const coins = wallet
      .json<{ items: { currency: string; balance: number }[] }>()
      .items.find((w) => w.currency === "coins");
    assert.equal(coins?.balance, 1e18);
    // It cannot grow any further, and the books say what is wrong.
    const more = await asAdmin("POST", `/v1/admin/users/${player.id}/adjustments`, {
      currency: "coins",
      amount: 1,
      reason: "more",
      idempotencyKey: "more",
    });
    assert.equal(more.statusCode, 409, more.body);
    assert.equal(problem(more).code, "limits.ceiling_reached");
    const report = await verifyBooks(ctx.db, ctx.game.definitions);
    assert.deepEqual(
      report.problems.filter((p) => p.user_id === player.id).map((p) => [p.currency, p.problem]),
      [
        ["coins", "ceiling"],
        ["xp", "ceiling"],
      ],
    );
  });
});
