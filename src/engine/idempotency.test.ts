import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { findLedgerDiscrepancies } from "../economy/ledger.store.ts";
import {
  bearer,
  createAdmin,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
  createApiKey,
} from "../../test/helpers/context.ts";

/**
 * Idempotency of event intake and admin adjustments: a replayed request, sequential or 50 at a
 * time, has exactly one set of effects and answers with the first result; a key reused for
 * different data is refused and writes nothing; keys are scoped by caller and player.
 */

interface EventResult {
  eventId: string;
  duplicate: boolean;
  type: string;
  userId: string;
  occurredAt: string;
  effects: {
    awards: { rule: string; currency: string; amount: number; balance: number | null }[];
    balances: Record<string, number>;
    counters: { stat: string; day: string; daily: number; total: number }[];
  };
}
interface AdjustmentResult {
  entryId: number;
  currency: string;
  amount: number;
  balance: number;
  duplicate: boolean;
}

/** What one player has in every engine table, read below the API. */
interface PlayerState {
  events: Record<string, number>;
  ledgerEntries: number;
  wallets: Record<string, number>;
  stats: Record<string, number>;
  daily: Record<string, number>;
  idempotencyKeys: number;
  outbox: number;
  adjustmentsAudited: number;
}

const tally = (rows: { k: string; n: number }[]) => Object.fromEntries(rows.map((r) => [r.k, r.n]));

describe("idempotency", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  let otherKey: string;

  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken);
    otherKey = await createApiKey(ctx, admin.accessToken, undefined, "other");
  });
  after(() => ctx.close());

  const sendEvent = (
    payload: Record<string, unknown>,
    headers: Record<string, string> = { "x-api-key": apiKey },
  ) => ctx.app.inject({ method: "POST", url: "/v1/events", headers, payload });
  const sendBatch = (payload: Record<string, unknown>) =>
    ctx.app.inject({ method: "POST", url: "/v1/events/batch", headers: { "x-api-key": apiKey }, payload });
  const adjust = (userId: string, payload: Record<string, unknown>, token = admin.accessToken) =>
    ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${userId}/adjustments`,
      headers: bearer(token),
      payload,
    });

  function state(userId: string): Promise<PlayerState> {
    return ctx.db.asSystem(async (tx) => {
      const count = async (sql: string) => (await tx.one<{ n: number }>(sql, [userId])).n;
      return {
        events: tally(
          await tx.rows(`SELECT type AS k, count(*)::int AS n FROM events WHERE user_id = $1 GROUP BY type`, [
            userId,
          ]),
        ),
        ledgerEntries: await count(`SELECT count(*)::int AS n FROM ledger_entries WHERE user_id = $1`),
        wallets: tally(
          await tx.rows(`SELECT currency AS k, balance AS n FROM wallets WHERE user_id = $1`, [userId]),
        ),
        stats: tally(
          await tx.rows(`SELECT stat AS k, value AS n FROM user_stats_totals WHERE user_id = $1`, [userId]),
        ),
        daily: tally(
          await tx.rows(
            `SELECT stat || '@' || day AS k, value AS n FROM user_stats_daily WHERE user_id = $1`,
            [userId],
          ),
        ),
        idempotencyKeys: await count(`SELECT count(*)::int AS n FROM idempotency_keys WHERE user_id = $1`),
        outbox: await count(`SELECT count(*)::int AS n FROM outbox WHERE user_id = $1`),
        adjustmentsAudited: await count(
          `SELECT count(*)::int AS n FROM audit_logs WHERE subject_user_id = $1 AND action = 'wallet.adjusted'`,
        ),
      };
    });
  }

  /** One first answer (201, duplicate false) and every other a 200 repeating it with duplicate true. */
  function assertOneFirstAnswer(responses: LightMyRequestResponse[]): EventResult {
    const statuses = responses.map((r) => r.statusCode);
    const firsts = responses.filter((r) => r.statusCode === 201);
    assert.equal(
      firsts.length,
      1,
      `statuses: ${statuses.join(",")}; ${responses.find((r) => r.statusCode >= 400)?.body}`,
    );
    assert.equal(responses.filter((r) => r.statusCode === 200).length, responses.length - 1);
    const first = firsts[0]?.json<EventResult>();
    assert.ok(first !== undefined);
    assert.equal(first.duplicate, false);
    for (const r of responses) {
      if (r.statusCode !== 200) continue;
      const again = r.json<EventResult>();
      assert.equal(again.duplicate, true);
      assert.deepEqual(
        { ...again, duplicate: false },
        first,
        "a replay answers exactly like the first request",
      );
    }
    return first;
  }

  const meal = (userId: string, key: string, mealType = "lunch") => ({
    type: "meal.logged",
    userId,
    idempotencyKey: key,
    data: { mealType, calories: 500 },
  });

  const oneMeal = {
    ledgerEntries: 3,
    wallets: { xp: 10, coins: 5, score: 10 },
    stats: { "events.meal.logged": 1, "meals.logged": 1 },
    idempotencyKeys: 1,
    outbox: 1,
  };
  function assertOneMeal(s: PlayerState) {
    assert.deepEqual(s.events, { "meal.logged": 1 });
    assert.equal(s.ledgerEntries, oneMeal.ledgerEntries);
    assert.deepEqual(s.wallets, oneMeal.wallets);
    assert.deepEqual(s.stats, oneMeal.stats);
    assert.deepEqual(Object.values(s.daily), [1, 1]);
    assert.equal(s.idempotencyKeys, oneMeal.idempotencyKeys);
    assert.equal(s.outbox, oneMeal.outbox);
  }

  it("a replayed event (sequentially) applies once and answers with the first result", async () => {
    const player = await registerPlayer(ctx.app);
    const responses: LightMyRequestResponse[] = [];
    for (let i = 0; i < 5; i++) responses.push(await sendEvent(meal(player.id, "seq-1")));
    assert.deepEqual(
      responses.map((r) => r.statusCode),
      [201, 200, 200, 200, 200],
    );
    const first = assertOneFirstAnswer(responses);
    assert.deepEqual(first.effects.balances, { xp: 10, coins: 5, score: 10 });
    assertOneMeal(await state(player.id));
  });

  it("50 concurrent replays of an event apply it exactly once", async () => {
    const player = await registerPlayer(ctx.app);
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => sendEvent(meal(player.id, "burst-1"))),
    );
    const first = assertOneFirstAnswer(responses);
    assert.deepEqual(first.effects.balances, { xp: 10, coins: 5, score: 10 });
    assertOneMeal(await state(player.id));
    // Later, one more replay: still the same answer, still no change.
    const late = await sendEvent(meal(player.id, "burst-1"));
    assert.equal(late.statusCode, 200);
    assert.equal(late.json<EventResult>().eventId, first.eventId);
    assertOneMeal(await state(player.id));
    const wallet = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/wallet",
      headers: bearer(player.accessToken),
    });
    assert.deepEqual(
      wallet
        .json<{ items: { currency: string; balance: number }[] }>()
        .items.map((w) => [w.currency, w.balance]),
      [
        ["coins", 5],
        ["score", 10],
        ["xp", 10],
      ],
    );
  });

  it("replays do not count as events in the player's progress", async () => {
    const player = await registerPlayer(ctx.app);
    const firstAnswers = await Promise.all(
      Array.from({ length: 10 }, () => sendEvent(meal(player.id, "count-1"))),
    );
    assertOneFirstAnswer(firstAnswers);
    const stored = await ctx.db.asSystem((tx) =>
      tx.one<{ events_count: number }>(`SELECT events_count FROM user_progress WHERE user_id = $1`, [
        player.id,
      ]),
    );
    const progress = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/progress",
      headers: bearer(player.accessToken),
    });
    const shown = progress.json<{ eventsCount: number }>().eventsCount;
    assert.equal(
      shown,
      1,
      `1 event sent 10 times: eventsCount ${shown} (user_progress.events_count ${stored.events_count})`,
    );
  });

  it("a batch with a batch-level key replayed 20 times concurrently applies once", async () => {
    const a = await registerPlayer(ctx.app);
    const b = await registerPlayer(ctx.app);
    const batch = {
      idempotencyKey: "batch-1",
      events: [
        { type: "meal.logged", userId: a.id, data: { mealType: "breakfast" } },
        { type: "exercise.logged", userId: a.id, data: { minutes: 30 } },
        { type: "meal.logged", userId: b.id, data: { mealType: "dinner" } },
        // An event with its own key keeps it.
        { type: "recipe.tried", userId: b.id, idempotencyKey: "own-key", data: { recipeId: "r1" } },
      ],
    };
    const responses = await Promise.all(Array.from({ length: 20 }, () => sendBatch(batch)));
    assert.deepEqual(
      [...new Set(responses.map((r) => r.statusCode))],
      [200],
      responses.find((r) => r.statusCode !== 200)?.body,
    );
    const results = responses.map((r) => r.json<{ results: EventResult[] }>().results);
    const fresh = results.filter((rs) => rs.every((r) => !r.duplicate));
    const replays = results.filter((rs) => rs.every((r) => r.duplicate));
    assert.equal(fresh.length, 1, "exactly one answer applied the batch");
    assert.equal(replays.length, 19, "every other answer is a replay of the whole batch");
    const first = fresh[0] ?? [];
    for (const rs of replays) {
      assert.deepEqual(
        rs.map((r) => ({ ...r, duplicate: false })),
        first,
      );
    }

    const sa = await state(a.id);
    assert.deepEqual(sa.events, { "meal.logged": 1, "exercise.logged": 1 });
    assert.deepEqual(sa.wallets, { xp: 40, coins: 20, score: 40 });
    assert.equal(sa.ledgerEntries, 6);
    assert.deepEqual(sa.stats, {
      "events.meal.logged": 1,
      "meals.logged": 1,
      "events.exercise.logged": 1,
      "exercise.sessions": 1,
      "exercise.minutes": 30,
    });
    assert.equal(sa.idempotencyKeys, 2);
    const sb = await state(b.id);
    assert.deepEqual(sb.events, { "meal.logged": 1, "recipe.tried": 1 });
    assert.deepEqual(sb.wallets, { xp: 35, coins: 20, score: 10 });
    assert.equal(sb.ledgerEntries, 5);
    assert.equal(sb.stats["recipes.tried"], 1);
    const keys = await ctx.db.asSystem((tx) =>
      tx.rows<{ key: string }>(`SELECT key FROM idempotency_keys WHERE user_id = ANY($1) ORDER BY key`, [
        [a.id, b.id],
      ]),
    );
    assert.deepEqual(
      keys.map((k) => k.key),
      ["batch-1#0", "batch-1#1", "batch-1#2", "own-key"],
    );

    // The same batch key for one player's batch (a single-player transaction) behaves the same.
    const c = await registerPlayer(ctx.app);
    const solo = {
      idempotencyKey: "batch-solo",
      events: [
        { type: "meal.logged", userId: c.id, data: { mealType: "lunch" } },
        { type: "meal.logged", userId: c.id, data: { mealType: "snack" } },
      ],
    };
    const soloResponses = await Promise.all(Array.from({ length: 20 }, () => sendBatch(solo)));
    const soloResults = soloResponses.map((r) => {
      assert.equal(r.statusCode, 200, r.body);
      return r.json<{ results: EventResult[] }>().results;
    });
    assert.equal(soloResults.filter((rs) => rs.every((r) => !r.duplicate)).length, 1);
    assert.equal(soloResults.filter((rs) => rs.every((r) => r.duplicate)).length, 19);
    const sc = await state(c.id);
    assert.deepEqual(sc.events, { "meal.logged": 2 });
    assert.deepEqual(sc.wallets, { xp: 20, coins: 10, score: 20 });
  });

  it("reusing a key for different data is 422 idempotency.key_reused and writes nothing", async () => {
    const player = await registerPlayer(ctx.app);
    const first = await sendEvent(meal(player.id, "reuse-1", "lunch"));
    assert.equal(first.statusCode, 201, first.body);
    const before = await state(player.id);

    const variants = [
      meal(player.id, "reuse-1", "dinner"),
      { ...meal(player.id, "reuse-1"), data: { mealType: "lunch" } }, // calories dropped
      { type: "exercise.logged", userId: player.id, idempotencyKey: "reuse-1", data: { minutes: 10 } },
    ];
    for (const v of variants) {
      const res = await sendEvent(v);
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(problem(res).code, "idempotency.key_reused");
    }
    assert.deepEqual(await state(player.id), before);

    // Key order in data does not matter: the same data is the same event.
    const reordered = await sendEvent({
      ...meal(player.id, "reuse-1"),
      data: { calories: 500, mealType: "lunch" },
    });
    assert.equal(reordered.statusCode, 200, reordered.body);
    assert.equal(reordered.json<EventResult>().duplicate, true);

    // A batch replayed with different content is refused as a whole.
    const batch = {
      idempotencyKey: "reuse-batch",
      events: [
        { type: "meal.logged", userId: player.id, data: { mealType: "breakfast" } },
        { type: "meal.logged", userId: player.id, data: { mealType: "snack" } },
      ],
    };
    assert.equal((await sendBatch(batch)).statusCode, 200);
    const beforeBatch = await state(player.id);
    const changed = await sendBatch({
      ...batch,
      events: [batch.events[0], { type: "meal.logged", userId: player.id, data: { mealType: "dinner" } }],
    });
    assert.equal(changed.statusCode, 422, changed.body);
    assert.equal(problem(changed).code, "idempotency.key_reused");
    assert.deepEqual(await state(player.id), beforeBatch);
  });

  it("concurrent requests racing for one key with different data: one wins, the same data replays, the rest are 422", async () => {
    const player = await registerPlayer(ctx.app);
    const before = await state(player.id);
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        sendEvent(meal(player.id, "race-1", i % 2 === 0 ? "lunch" : "dinner")),
      ),
    );
    const winners = responses.filter((r) => r.statusCode === 201);
    assert.equal(winners.length, 1);
    const winner = winners[0]?.json<EventResult>();
    const winnerIndex = responses.findIndex((r) => r.statusCode === 201);
    responses.forEach((r, i) => {
      const sameData = i % 2 === winnerIndex % 2;
      if (sameData) {
        if (i === winnerIndex) return;
        assert.equal(r.statusCode, 200, r.body);
        assert.equal(r.json<EventResult>().eventId, winner?.eventId);
      } else {
        assert.equal(r.statusCode, 422, r.body);
        assert.equal(problem(r).code, "idempotency.key_reused");
      }
    });
    const after = await state(player.id);
    assert.deepEqual(after.events, { "meal.logged": 1 });
    assert.equal(after.ledgerEntries - before.ledgerEntries, 3);
    assert.equal(after.idempotencyKeys, 1);
  });

  it("the same key from another API key, for another player, or from the player is a different event", async () => {
    const a = await registerPlayer(ctx.app);
    const b = await registerPlayer(ctx.app);
    const key = "shared-key";
    const answers = [
      await sendEvent(meal(a.id, key)),
      await sendEvent(meal(a.id, key), { "x-api-key": otherKey }),
      await sendEvent(meal(b.id, key)),
      await sendEvent(
        { type: "meal.logged", idempotencyKey: key, data: { mealType: "lunch", calories: 500 } },
        bearer(a.accessToken),
      ),
    ];
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [201, 201, 201, 201],
      answers.map((r) => r.body).join("\n"),
    );
    const ids = answers.map((r) => r.json<EventResult>().eventId);
    assert.equal(new Set(ids).size, 4);

    // Each replays to its own first answer.
    const replays = [
      await sendEvent(meal(a.id, key)),
      await sendEvent(meal(a.id, key), { "x-api-key": otherKey }),
      await sendEvent(meal(b.id, key)),
      await sendEvent(
        { type: "meal.logged", idempotencyKey: key, data: { mealType: "lunch", calories: 500 } },
        bearer(a.accessToken),
      ),
    ];
    assert.deepEqual(
      replays.map((r) => r.statusCode),
      [200, 200, 200, 200],
    );
    assert.deepEqual(
      replays.map((r) => r.json<EventResult>().eventId),
      ids,
    );
    const sa = await state(a.id);
    assert.deepEqual(sa.events, { "meal.logged": 3 });
    assert.deepEqual(sa.wallets, { xp: 30, coins: 15, score: 30 });
    assert.equal(sa.idempotencyKeys, 3);
    const sb = await state(b.id);
    assert.deepEqual(sb.events, { "meal.logged": 1 });
  });

  it("admin adjustments replayed concurrently apply once", async () => {
    const player = await registerPlayer(ctx.app);
    const body = { currency: "coins", amount: 100, reason: "goodwill", idempotencyKey: "adj-1" };
    const responses = await Promise.all(Array.from({ length: 20 }, () => adjust(player.id, body)));
    const firsts = responses.filter((r) => r.statusCode === 201);
    assert.equal(firsts.length, 1, responses.map((r) => `${r.statusCode}`).join(","));
    const first = firsts[0]?.json<AdjustmentResult>();
    assert.ok(first !== undefined);
    assert.deepEqual(
      { ...first, entryId: 0 },
      { entryId: 0, currency: "coins", amount: 100, balance: 100, duplicate: false },
    );
    for (const r of responses) {
      if (r.statusCode === 201) continue;
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json<AdjustmentResult>(), { ...first, duplicate: true });
    }
    const s = await state(player.id);
    assert.deepEqual(s.wallets, { coins: 100 });
    assert.equal(s.ledgerEntries, 1);
    assert.equal(s.idempotencyKeys, 1);
    assert.equal(s.adjustmentsAudited, 1);

    // The same key with a different amount is refused; from another admin it is another adjustment.
    const reused = await adjust(player.id, { ...body, amount: 99 });
    assert.equal(reused.statusCode, 422);
    assert.equal(problem(reused).code, "idempotency.key_reused");
    const otherAdmin = await createAdmin(ctx);
    const theirs = await adjust(player.id, body, otherAdmin.accessToken);
    assert.equal(theirs.statusCode, 201, theirs.body);
    assert.equal(theirs.json<AdjustmentResult>().balance, 200);
    const after = await state(player.id);
    assert.equal(after.ledgerEntries, 2);
    assert.equal(after.adjustmentsAudited, 2);
  });

  it("a debit beyond the balance is 409 economy.insufficient_funds and writes nothing", async () => {
    const player = await registerPlayer(ctx.app);
    const credit = await adjust(player.id, {
      currency: "coins",
      amount: 50,
      reason: "start",
      idempotencyKey: "c-1",
    });
    assert.equal(credit.statusCode, 201, credit.body);
    const before = await state(player.id);

    const debit = { currency: "coins", amount: -51, reason: "too much", idempotencyKey: "d-1" };
    const refused = await adjust(player.id, debit);
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(problem(refused).code, "economy.insufficient_funds");
    // No wallet at all for this currency: also insufficient.
    const noWallet = await adjust(player.id, {
      currency: "score",
      amount: -1,
      reason: "none",
      idempotencyKey: "d-2",
    });
    assert.equal(noWallet.statusCode, 409, noWallet.body);
    assert.equal(problem(noWallet).code, "economy.insufficient_funds");
    assert.deepEqual(await state(player.id), before);

    // The refused key was not used up: once the funds are there, the same request goes through.
    assert.equal(
      (await adjust(player.id, { currency: "coins", amount: 1, reason: "top up", idempotencyKey: "c-2" }))
        .statusCode,
      201,
    );
    const retried = await adjust(player.id, debit);
    assert.equal(retried.statusCode, 201, retried.body);
    assert.equal(retried.json<AdjustmentResult>().balance, 0);
  });

  it("concurrent debits never overdraw a wallet", async () => {
    const player = await registerPlayer(ctx.app);
    assert.equal(
      (await adjust(player.id, { currency: "coins", amount: 100, reason: "start", idempotencyKey: "c-1" }))
        .statusCode,
      201,
    );
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        adjust(player.id, { currency: "coins", amount: -30, reason: "spend", idempotencyKey: `d-${i}` }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode).sort();
    assert.deepEqual(statuses, [...Array<number>(3).fill(201), ...Array<number>(17).fill(409)]);
    for (const r of responses.filter((r) => r.statusCode === 409)) {
      assert.equal(problem(r).code, "economy.insufficient_funds");
    }
    const s = await state(player.id);
    assert.deepEqual(s.wallets, { coins: 10 });
    assert.equal(s.ledgerEntries, 4);
    assert.equal(s.adjustmentsAudited, 4);
    assert.deepEqual(await ctx.db.asSystem((tx) => findLedgerDiscrepancies(tx, [player.id])), []);
  });
});
