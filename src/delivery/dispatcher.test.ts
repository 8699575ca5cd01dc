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
import { Dispatcher, DISPATCHER_DEFAULTS } from "./dispatcher.ts";
import type { OutboxMessage } from "./messages.ts";

describe("outbox dispatcher", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  /** What a test channel saw, in order; `failFor` makes it throw for events of these types. */
  const seen: OutboxMessage[] = [];
  const failFor = new Set<string>();

  before(async () => {
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-achievements"],
      delivery: { dispatcher: { maxAttempts: 3, retryBaseMs: 1000, retryMaxMs: 60_000 } },
    });
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
    ctx.delivery.dispatcher.use({
      name: "test",
      handle: async (_tx, message) => {
        if (failFor.has(message.type)) throw new Error(`refusing ${message.type}`);
        seen.push(message);
      },
    });
  });
  after(() => ctx.close());

  const send = async (userId: string, type: string, data: Record<string, unknown>) => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type, userId, data },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ eventId: string }>();
  };
  const pending = (userId: string) =>
    ctx.db.asSystem((tx) =>
      tx.rows<{ id: number; attempts: number; dead: boolean }>(
        `SELECT id, attempts, dead_at IS NOT NULL AS dead FROM outbox
         WHERE user_id = $1 AND dispatched_at IS NULL ORDER BY id`,
        [userId],
      ),
    );

  it("hands each committed event with its own effects to every channel, once, in order", async () => {
    seen.length = 0;
    const player = await registerPlayer(ctx.app);
    const first = await send(player.id, "meal.logged", { mealType: "breakfast" });
    await send(player.id, "meal.logged", { mealType: "lunch" });
    const r = await ctx.delivery.dispatcher.runOnce();
    assert.ok(r.dispatched >= 3, `dispatched ${r.dispatched}`);
    const mine = seen.filter((m) => m.userId === player.id);
    // The first meal, the achievement it unlocked (derived), then the second meal.
    assert.equal(mine[0]?.eventId, first.eventId);
    assert.equal(mine[0]?.type, "meal.logged");
    assert.deepEqual(mine[0]?.data, { mealType: "breakfast" });
    assert.deepEqual(
      mine[0]?.effects.achievements.map((a) => a.key),
      ["first-steps"],
    );
    const unlocked = mine.find((m) => m.type === "achievement.unlocked");
    assert.equal(unlocked?.parentId, first.eventId);
    const ids = mine.map((m) => m.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
    assert.equal(mine[mine.length - 1]?.data.mealType, "lunch");
    // Each effect is in exactly one message: the unlock is not repeated on the derived event.
    assert.equal(mine.flatMap((m) => m.effects.achievements).length, 1);
    assert.deepEqual(await pending(player.id), []);
    assert.equal((await ctx.delivery.dispatcher.runOnce()).dispatched, 0);
    assert.equal(seen.filter((m) => m.userId === player.id).length, mine.length);
  });

  it("retries a failing row with backoff, holding back the player's later rows but no one else's", async () => {
    seen.length = 0;
    const player = await registerPlayer(ctx.app);
    const other = await registerPlayer(ctx.app);
    failFor.add("exercise.logged");
    try {
      await send(player.id, "exercise.logged", { minutes: 1 });
      await send(player.id, "meal.logged", { mealType: "dinner" });
      await send(other.id, "meal.logged", { mealType: "dinner" });
      const r = await ctx.delivery.dispatcher.runOnce();
      assert.equal(r.failed, 1);
      assert.ok(seen.some((m) => m.userId === other.id));
      assert.ok(!seen.some((m) => m.userId === player.id), "later rows wait for the failing one");
      const rows = await pending(player.id);
      assert.equal(rows[0]?.attempts, 1);
      // Not before its backoff (1 s after the first failure).
      ctx.clock.advance(500);
      assert.equal((await ctx.delivery.dispatcher.runOnce()).failed, 0);
      ctx.clock.advance(600);
      assert.equal((await ctx.delivery.dispatcher.runOnce()).failed, 1);
      assert.equal((await pending(player.id))[0]?.attempts, 2);
    } finally {
      failFor.delete("exercise.logged");
    }
    // Fixed: the next due try dispatches it, then the rows behind it, in order.
    ctx.clock.advance(2000);
    await ctx.delivery.dispatcher.drain();
    assert.deepEqual(
      seen.filter((m) => m.userId === player.id && m.parentId === null).map((m) => m.type),
      ["exercise.logged", "meal.logged"],
    );
    assert.deepEqual(await pending(player.id), []);
  });

  it("turns a row that fails every try into a dead letter, lets later rows go, and requeues it on demand", async () => {
    seen.length = 0;
    const player = await registerPlayer(ctx.app);
    failFor.add("exercise.logged");
    let deadId: number;
    try {
      await send(player.id, "exercise.logged", { minutes: 2 });
      await send(player.id, "meal.logged", { mealType: "snack" });
      for (let i = 0; i < 3; i++) {
        await ctx.delivery.dispatcher.runOnce();
        ctx.clock.advance(60_000);
      }
      const rows = await pending(player.id);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.dead, true);
      assert.equal(rows[0]?.attempts, 3);
      deadId = rows[0].id;
      assert.deepEqual(
        seen.filter((m) => m.userId === player.id && m.parentId === null).map((m) => m.type),
        ["meal.logged"],
      );
    } finally {
      failFor.delete("exercise.logged");
    }

    const list = await ctx.app.inject({
      method: "GET",
      url: "/v1/admin/outbox/dead-letters?limit=100",
      headers: bearer(admin.accessToken),
    });
    assert.equal(list.statusCode, 200, list.body);
    const item = list
      .json<{ items: { id: number; eventType: string; attempts: number; lastError: string }[] }>()
      .items.find((i) => i.id === deadId);
    assert.equal(item?.eventType, "exercise.logged");
    assert.equal(item?.attempts, 3);
    assert.match(item?.lastError ?? "", /refusing exercise.logged/);

    const asPlayer = await ctx.app.inject({
      method: "GET",
      url: "/v1/admin/outbox/dead-letters",
      headers: bearer((await registerPlayer(ctx.app)).accessToken),
    });
    assert.equal(problem(asPlayer).status, 403);

    const retry = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/outbox/dead-letters/retry",
      headers: bearer(admin.accessToken),
      payload: { ids: [deadId, 999_999_999] },
    });
    assert.equal(retry.statusCode, 200, retry.body);
    assert.deepEqual(retry.json(), { requeued: [deadId] });
    await ctx.delivery.dispatcher.drain();
    assert.deepEqual(await pending(player.id), []);
    assert.ok(seen.some((m) => m.userId === player.id && m.type === "exercise.logged"));
  });

  it("lets one worker at a time take a player's rows (two dispatchers, one database)", async () => {
    seen.length = 0;
    const players = await Promise.all([1, 2, 3].map(() => registerPlayer(ctx.app)));
    for (let i = 0; i < 4; i++) {
      for (const p of players) await send(p.id, "exercise.logged", { minutes: i + 1 });
    }
    await Promise.all([ctx.delivery.dispatcher.runOnce(), ctx.delivery.dispatcher.runOnce()]);
    await ctx.delivery.dispatcher.drain();
    for (const p of players) {
      const mine = seen.filter((m) => m.userId === p.id && m.type === "exercise.logged");
      assert.deepEqual(
        mine.map((m) => m.data.minutes),
        [1, 2, 3, 4],
      );
    }
  });

  it("skips a player whose first row waits for its retry, and does not report more work for it", async () => {
    await ctx.delivery.dispatcher.drain();
    // Small batches: the old behaviour picked the blocked player first and called its batch full.
    const mine: OutboxMessage[] = [];
    const dispatcher = new Dispatcher(ctx.db, ctx.clock, ctx.app.log as never, {
      ...DISPATCHER_DEFAULTS,
      playersPerTick: 2,
      rowsPerPlayer: 2,
      concurrency: 1,
    });
    dispatcher.use({
      name: "test",
      handle: async (_tx, message) => {
        if (failFor.has(message.type)) throw new Error(`refusing ${message.type}`);
        mine.push(message);
      },
    });
    const blocked = await registerPlayer(ctx.app);
    const other = await registerPlayer(ctx.app);
    failFor.add("exercise.logged");
    try {
      await send(blocked.id, "exercise.logged", { minutes: 3 });
      await send(blocked.id, "meal.logged", { mealType: "lunch" });
      const first = await dispatcher.runOnce();
      assert.equal(first.failed, 1);
      // One row for the other player (an event would add derived rows).
      await ctx.db.asSystem((tx) =>
        tx.exec(`INSERT INTO outbox (user_id, topic, payload) VALUES ($1, 'event', $2::jsonb)`, [
          other.id,
          JSON.stringify({ eventId: crypto.randomUUID(), type: "test.ping", occurredAt: new Date() }),
        ]),
      );
      // The clock has not moved: the blocked player's first row is not due, its later rows wait.
      const r = await dispatcher.runOnce();
      assert.equal(r.failed, 0);
      assert.equal(r.dispatched, 1);
      assert.equal(r.more, false, "a blocked player is no reason to run again at once");
      assert.ok(mine.some((m) => m.userId === other.id));
      assert.ok(!mine.some((m) => m.userId === blocked.id));
      assert.equal((await pending(blocked.id))[0]?.attempts, 1);
    } finally {
      failFor.delete("exercise.logged");
    }
    ctx.clock.advance(60_000);
    await ctx.delivery.dispatcher.drain();
    assert.deepEqual(await pending(blocked.id), []);
  });

  it("counts a row whose payload cannot be read as a failed try, up to a dead letter", async () => {
    await ctx.delivery.dispatcher.drain();
    const player = await registerPlayer(ctx.app);
    await ctx.db.asSystem((tx) =>
      tx.exec(`INSERT INTO outbox (user_id, topic, payload) VALUES ($1, 'event', 'null'::jsonb)`, [
        player.id,
      ]),
    );
    const r = await ctx.delivery.dispatcher.runOnce();
    assert.equal(r.failed, 1);
    assert.equal((await pending(player.id))[0]?.attempts, 1);
    for (let i = 0; i < 3; i++) {
      ctx.clock.advance(60_000);
      await ctx.delivery.dispatcher.runOnce();
    }
    const rows = await pending(player.id);
    assert.equal(rows[0]?.dead, true);
    assert.equal(rows[0]?.attempts, 3);
  });

  it("purges old dispatched rows in batches until none is left", async () => {
    await ctx.delivery.dispatcher.drain();
    const count = () =>
      ctx.db.asSystem((tx) =>
        tx.one<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE dispatched_at IS NOT NULL`),
      );
    assert.ok((await count()).n > 2);
    ctx.clock.advance(10 * 60_000);
    await ctx.delivery.dispatcher.purge(60_000, 2);
    assert.equal((await count()).n, 0);
  });

  it("refuses bad dead-letter requests", async () => {
    // The clock has moved past the first admin's access token by now: sign in afresh.
    const admin = await createAdmin(ctx);
    for (const payload of [{ ids: [] }, { ids: [0] }, { ids: ["1"] }, { ids: [1], extra: true }, {}]) {
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/admin/outbox/dead-letters/retry",
        headers: bearer(admin.accessToken),
        payload,
      });
      assert.equal(problem(res).status, 400, JSON.stringify(payload));
    }
    const res = await ctx.app.inject({
      method: "GET",
      url: "/v1/admin/outbox/dead-letters?after=-1",
      headers: bearer(admin.accessToken),
    });
    assert.equal(problem(res).status, 400);
  });
});
