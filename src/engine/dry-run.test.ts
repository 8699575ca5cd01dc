import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
  createApiKey,
  tableDigests,
} from "../../test/helpers/context.ts";

/**
 * POST /v1/admin/events/dry-run answers exactly what the real event would answer for the same
 * player state (event ids aside) and leaves every table as it was.
 */

const TABLES = [
  "events",
  "ledger_entries",
  "wallets",
  "user_progress",
  "rule_award_totals",
  "user_stats_daily",
  "user_stats_totals",
  "idempotency_keys",
  "outbox",
  "currencies",
  "event_types",
  "rules",
  "rule_versions",
  "settings",
  "audit_logs",
];

interface EventResult {
  eventId: string;
  duplicate: boolean;
  type: string;
  userId: string;
  occurredAt: string;
  effects: {
    awards: {
      rule: string;
      currency: string;
      amount: number;
      balance: number | null;
      capped: boolean;
      eventId?: string;
    }[];
    balances: Record<string, number>;
    levelUps: { level: number; previousLevel: number }[];
    counters: { stat: string; day: string; daily: number; total: number }[];
    derived: { eventId: string; type: string; data: Record<string, unknown> }[];
  };
}

/** The answer without its (necessarily different) event ids. */
function withoutIds(r: EventResult) {
  return {
    duplicate: r.duplicate,
    type: r.type,
    userId: r.userId,
    occurredAt: r.occurredAt,
    effects: {
      ...r.effects,
      awards: r.effects.awards.map(({ eventId: _eventId, ...a }) => a),
      derived: r.effects.derived.map(({ eventId: _eventId, ...d }) => d),
    },
  };
}

describe("dry run", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;

  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write", "users:read"], "dry run");
  });
  after(() => ctx.close());

  /** Row count and content digest of every table the engine and its admin routes write. */
  const snapshot = () => tableDigests(ctx, TABLES);

  const dryRun = (
    payload: Record<string, unknown>,
    headers: Record<string, string> = bearer(admin.accessToken),
  ) => ctx.app.inject({ method: "POST", url: "/v1/admin/events/dry-run", headers, payload });
  const real = (payload: Record<string, unknown>) =>
    ctx.app.inject({ method: "POST", url: "/v1/events", headers: { "x-api-key": apiKey }, payload });

  /** Dry-runs the event (twice), checks nothing changed, sends it for real and compares the answers. */
  async function compare(payload: Record<string, unknown>): Promise<{ dry: EventResult; sent: EventResult }> {
    const before = await snapshot();
    const res = await dryRun(payload);
    assert.equal(res.statusCode, 200, res.body);
    const dry = res.json<EventResult>();
    assert.deepEqual(await snapshot(), before, "a dry run writes nothing");
    const again = await dryRun(payload);
    assert.deepEqual(withoutIds(again.json<EventResult>()), withoutIds(dry), "a dry run changes no state");

    const sentRes = await real(payload);
    assert.equal(sentRes.statusCode, 201, sentRes.body);
    const sent = sentRes.json<EventResult>();
    assert.deepEqual(withoutIds(dry), withoutIds(sent));
    assert.notEqual(dry.eventId, sent.eventId);
    return { dry, sent };
  }

  it("answers exactly what the real event then answers, and writes nothing", async () => {
    const player = await registerPlayer(ctx.app, { timeZone: "America/New_York" });
    const at = (hoursAgo: number) => new Date(ctx.clock.now().getTime() - hoursAgo * 3_600_000).toISOString();

    // A player with no rows at all yet.
    const first = await compare({
      type: "meal.logged",
      userId: player.id,
      occurredAt: at(2),
      data: { mealType: "breakfast" },
    });
    assert.deepEqual(first.dry.effects.balances, { xp: 10, coins: 5, score: 10 });
    assert.equal(first.dry.duplicate, false);

    // Each DietGame rule, including a conditional bonus and the exercise maxima.
    await compare({ type: "exercise.logged", userId: player.id, occurredAt: at(2), data: { minutes: 500 } });
    const recipe = await compare({
      type: "recipe.tried",
      userId: player.id,
      occurredAt: at(1),
      data: { recipeId: "r-7", isNew: true },
    });
    assert.deepEqual(
      recipe.dry.effects.awards.map((a) => [a.rule, a.currency, a.amount]),
      [
        ["dietgame.recipe", "xp", 25],
        ["dietgame.recipe", "coins", 15],
        ["dietgame.recipe-new", "xp", 25],
      ],
    );
    await compare({
      type: "social.interaction",
      userId: player.id,
      occurredAt: at(1),
      data: { kind: "comment" },
    });

    // Up to the meal XP cap, and past it (the cap's running total must be seen, not changed).
    for (let i = 0; i < 9; i++) {
      const r = await real({
        type: "meal.logged",
        userId: player.id,
        occurredAt: at(2),
        data: { mealType: "snack" },
      });
      assert.equal(r.statusCode, 201, r.body);
    }
    const capped = await compare({
      type: "meal.logged",
      userId: player.id,
      occurredAt: at(2),
      data: { mealType: "snack" },
    });
    assert.deepEqual(capped.dry.effects.awards[0], {
      rule: "dietgame.meal",
      currency: "xp",
      amount: 0,
      balance: null,
      capped: true,
      eventId: capped.dry.eventId,
    });
  });

  it("matches the real event when it crosses levels", async () => {
    const player = await registerPlayer(ctx.app);
    const curve = (payload: object) =>
      ctx.app.inject({
        method: "PUT",
        url: "/v1/admin/level-curve",
        headers: bearer(admin.accessToken),
        payload,
      });
    const previous = await ctx.app.inject({
      method: "GET",
      url: "/v1/admin/level-curve",
      headers: bearer(admin.accessToken),
    });
    assert.equal(
      (await curve({ kind: "table", thresholds: [0, 10, 20, 1000], maxLevel: 100 })).statusCode,
      200,
    );
    try {
      const { dry } = await compare({ type: "exercise.logged", userId: player.id, data: { minutes: 25 } });
      assert.deepEqual(dry.effects.levelUps, [
        { level: 2, previousLevel: 1 },
        { level: 3, previousLevel: 2 },
      ]);
    } finally {
      assert.equal((await curve(previous.json<object>())).statusCode, 200);
    }
  });

  it("ignores idempotency keys: a key already used still shows what the event would do", async () => {
    const player = await registerPlayer(ctx.app);
    const payload = {
      type: "meal.logged",
      userId: player.id,
      idempotencyKey: "k-1",
      data: { mealType: "lunch" },
    };
    assert.equal((await real(payload)).statusCode, 201);
    const before = await snapshot();
    const res = await dryRun(payload);
    assert.equal(res.statusCode, 200, res.body);
    const dry = res.json<EventResult>();
    assert.equal(dry.duplicate, false);
    assert.deepEqual(dry.effects.balances, { xp: 20, coins: 10, score: 20 });
    assert.deepEqual(await snapshot(), before);
  });

  it("refuses what the real event would refuse, writing nothing", async () => {
    const player = await registerPlayer(ctx.app);
    const before = await snapshot();
    const cases: [Record<string, unknown>, number, string][] = [
      [{ type: "meal.logged", userId: randomUUID(), data: { mealType: "lunch" } }, 404, "event.unknown_user"],
      [{ type: "meal.logged", userId: player.id, data: { mealType: "brunch" } }, 422, "event.invalid_data"],
      [{ type: "nope.nothing", userId: player.id, data: {} }, 422, "event.unknown_type"],
      [{ type: "level.up", userId: player.id, data: { level: 2 } }, 403, "event.system_type"],
      [{ type: "meal.logged", data: { mealType: "lunch" } }, 400, "validation.failed"],
    ];
    for (const [payload, status, code] of cases) {
      const res = await dryRun(payload);
      assert.equal(res.statusCode, status, res.body);
      assert.equal(problem(res).code, code);
    }
    assert.deepEqual(await snapshot(), before);
  });

  it("is for admins only: players and API keys get 403", async () => {
    const player = await registerPlayer(ctx.app);
    const payload = { type: "meal.logged", userId: player.id, data: { mealType: "lunch" } };
    const before = await snapshot();
    const asPlayer = await dryRun(payload, bearer(player.accessToken));
    assert.equal(asPlayer.statusCode, 403);
    assert.equal(problem(asPlayer).code, "auth.forbidden");
    const asKey = await dryRun(payload, { "x-api-key": apiKey });
    assert.equal(asKey.statusCode, 403);
    assert.equal(problem(asKey).code, "auth.forbidden");
    const anonymous = await dryRun(payload, {});
    assert.equal(anonymous.statusCode, 401);
    assert.deepEqual(await snapshot(), before);
  });
});
