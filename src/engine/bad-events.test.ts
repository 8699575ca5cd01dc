import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import {
  bearer,
  createAdmin,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
  tableDigests,
  createApiKey,
} from "../../test/helpers/context.ts";

/**
 * Events that must be refused: each answer is a 4xx application/problem+json with its code, and
 * nothing is written anywhere in the engine's tables.
 */

const ENGINE_TABLES = [
  "events",
  "ledger_entries",
  "wallets",
  "user_stats_totals",
  "user_stats_daily",
  "idempotency_keys",
  "user_progress",
  "rule_award_totals",
  "outbox",
];

type Player = Awaited<ReturnType<typeof registerPlayer>>;

describe("bad events", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  let readOnlyKey: string;
  let player: Player;
  let other: Player;

  const send = (payload: unknown, headers: Record<string, string> = { "x-api-key": apiKey }) =>
    ctx.app.inject({ method: "POST", url: "/v1/events", headers, payload: payload as object });
  const sendBatch = (payload: unknown, headers: Record<string, string> = { "x-api-key": apiKey }) =>
    ctx.app.inject({ method: "POST", url: "/v1/events/batch", headers, payload: payload as object });

  /** Row count and a digest of the content of every engine table. */
  const snapshot = () => tableDigests(ctx, ENGINE_TABLES);

  /** Sends a request that must be refused, checks the problem and that nothing changed. */
  async function refused(
    request: () => Promise<LightMyRequestResponse>,
    status: number,
    code: string,
  ): Promise<ReturnType<typeof problem>> {
    const before = await snapshot();
    const res = await request();
    assert.equal(res.statusCode, status, res.body);
    const body = problem(res);
    assert.equal(body.status, status);
    assert.equal(body.code, code, body.detail);
    assert.deepEqual(await snapshot(), before, `${code}: nothing may be written`);
    return body;
  }

  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken);
    readOnlyKey = await createApiKey(ctx, admin.accessToken, ["users:read"], "read only");
    player = await registerPlayer(ctx.app);
    other = await registerPlayer(ctx.app);
    // Some history, so "nothing written" compares tables with rows in them.
    for (const who of [player, other]) {
      const res = await send({
        type: "meal.logged",
        userId: who.id,
        idempotencyKey: `warm-${who.id}`,
        data: { mealType: "lunch" },
      });
      assert.equal(res.statusCode, 201, res.body);
    }
  });
  after(() => ctx.close());

  it("an unknown event type is 422 event.unknown_type", async () => {
    const body = await refused(
      () => send({ type: "pizza.eaten", userId: player.id, data: {} }),
      422,
      "event.unknown_type",
    );
    assert.deepEqual(
      body.errors?.map((e) => e.path),
      ["body/type"],
    );
    await refused(
      () => send({ type: "pizza.eaten", data: {} }, bearer(player.accessToken)),
      422,
      "event.unknown_type",
    );
  });

  it("data failing the type's schema is 422 event.invalid_data with the paths at fault", async () => {
    const body = await refused(
      () => send({ type: "meal.logged", userId: player.id, data: { mealType: "brunch", calories: -5 } }),
      422,
      "event.invalid_data",
    );
    const paths = body.errors?.map((e) => e.path).sort();
    assert.deepEqual(paths, ["body/data/calories", "body/data/mealType"]);

    const missing = await refused(
      () => send({ type: "exercise.logged", userId: player.id, data: {} }),
      422,
      "event.invalid_data",
    );
    assert.ok(
      missing.errors?.some((e) => e.path === "body/data" && /minutes/.test(e.message)),
      JSON.stringify(missing),
    );

    // No type coercion: "45" is not an integer.
    await refused(
      () => send({ type: "exercise.logged", userId: player.id, data: { minutes: "45" } }),
      422,
      "event.invalid_data",
    );
    await refused(
      () => send({ type: "exercise.logged", userId: player.id, data: { minutes: 601 } }),
      422,
      "event.invalid_data",
    );
    // Data without the required field when none is sent at all.
    await refused(() => send({ type: "meal.logged", userId: player.id }), 422, "event.invalid_data");
    // A field the type does not declare.
    const extra = await refused(
      () => send({ type: "meal.logged", userId: player.id, data: { mealType: "lunch", spicy: true } }),
      422,
      "event.invalid_data",
    );
    assert.deepEqual(
      extra.errors?.map((e) => e.path),
      ["body/data"],
    );
  });

  it("occurredAt more than 5 minutes ahead or more than 72 hours back is 422 event.occurred_at_out_of_range", async () => {
    const start = ctx.clock.now();
    const at = (ms: number) => new Date(start.getTime() + ms).toISOString();
    const meal = (occurredAt: string) => ({
      type: "meal.logged",
      userId: player.id,
      occurredAt,
      data: { mealType: "snack" },
    });
    try {
      const future = await refused(
        () => send(meal(at(5 * 60_000 + 1_000))),
        422,
        "event.occurred_at_out_of_range",
      );
      assert.deepEqual(
        future.errors?.map((e) => e.path),
        ["body/occurredAt"],
      );
      await refused(() => send(meal(at(-72 * 3_600_000 - 1_000))), 422, "event.occurred_at_out_of_range");
      await refused(
        () =>
          send(
            { type: "meal.logged", occurredAt: at(3_600_000), data: { mealType: "snack" } },
            bearer(player.accessToken),
          ),
        422,
        "event.occurred_at_out_of_range",
      );

      // The window moves with the clock: an event from T is fine at T + 71 h, refused at T + 72 h + 1 s …
      const t = at(0);
      ctx.clock.set(new Date(start.getTime() + 72 * 3_600_000 + 1_000));
      await refused(() => send(meal(t)), 422, "event.occurred_at_out_of_range");
      // … and one from T + 10 min is refused while the clock says T, fine at T + 5 min.
      ctx.clock.set(start);
      await refused(() => send(meal(at(10 * 60_000))), 422, "event.occurred_at_out_of_range");
      ctx.clock.set(new Date(start.getTime() + 5 * 60_000));
      const ok = await send(meal(at(10 * 60_000)));
      assert.equal(ok.statusCode, 201, ok.body);
      ctx.clock.set(new Date(start.getTime() + 71 * 3_600_000));
      const old = await send(meal(t));
      assert.equal(old.statusCode, 201, old.body);
    } finally {
      ctx.clock.set(start);
    }
  });

  it("players may not send non-client-writable types, system types, or events for someone else", async () => {
    const headers = bearer(player.accessToken);
    const social = await refused(
      () => send({ type: "social.interaction", data: { kind: "like" } }, headers),
      403,
      "event.not_client_writable",
    );
    assert.deepEqual(
      social.errors?.map((e) => e.path),
      ["body/type"],
    );
    await refused(
      () => send({ type: "level.up", data: { level: 2, previousLevel: 1 } }, headers),
      403,
      "event.system_type",
    );
    // Nobody may send a system type, not even an app backend.
    await refused(
      () => send({ type: "level.up", userId: player.id, data: { level: 2, previousLevel: 1 } }),
      403,
      "event.system_type",
    );
    const otherUser = await refused(
      () => send({ type: "meal.logged", userId: other.id, data: { mealType: "lunch" } }, headers),
      403,
      "event.other_user",
    );
    assert.deepEqual(
      otherUser.errors?.map((e) => e.path),
      ["body/userId"],
    );
    await refused(
      () =>
        sendBatch(
          { events: [{ type: "meal.logged", userId: other.id, data: { mealType: "lunch" } }] },
          headers,
        ),
      403,
      "event.other_user",
    );
  });

  it("an API key without events:write is 403 auth.insufficient_scope; without credentials 401", async () => {
    await refused(
      () =>
        send(
          { type: "meal.logged", userId: player.id, data: { mealType: "lunch" } },
          { "x-api-key": readOnlyKey },
        ),
      403,
      "auth.insufficient_scope",
    );
    await refused(
      () => send({ type: "meal.logged", userId: player.id, data: { mealType: "lunch" } }, {}),
      401,
      "auth.unauthenticated",
    );
    await refused(
      () =>
        send(
          { type: "meal.logged", userId: player.id, data: { mealType: "lunch" } },
          { "x-api-key": "ludus_not-a-real-key" },
        ),
      401,
      "auth.invalid_token",
    );
  });

  it("a batch from an API key without events:write is 403 auth.insufficient_scope too", async () => {
    await refused(
      () =>
        sendBatch(
          { events: [{ type: "meal.logged", userId: player.id, data: { mealType: "lunch" } }] },
          { "x-api-key": readOnlyKey },
        ),
      403,
      "auth.insufficient_scope",
    );
  });

  it("an API-key event without userId is refused", async () => {
    const body = await refused(
      () => send({ type: "meal.logged", data: { mealType: "lunch" } }),
      400,
      "validation.failed",
    );
    assert.deepEqual(
      body.errors?.map((e) => e.path),
      ["body/userId"],
    );
  });

  it("an unknown player is 404 event.unknown_user; a deactivated one 409 event.user_inactive", async () => {
    await refused(
      () => send({ type: "meal.logged", userId: randomUUID(), data: { mealType: "lunch" } }),
      404,
      "event.unknown_user",
    );
    const gone = await registerPlayer(ctx.app);
    const warm = await send({ type: "meal.logged", userId: gone.id, data: { mealType: "lunch" } });
    assert.equal(warm.statusCode, 201);
    const deactivated = await ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${gone.id}/deactivate`,
      headers: bearer(admin.accessToken),
    });
    assert.equal(deactivated.statusCode, 200, deactivated.body);
    await refused(
      () => send({ type: "meal.logged", userId: gone.id, data: { mealType: "lunch" } }),
      409,
      "event.user_inactive",
    );
    // Also a fresh player (no progress row yet) who is deactivated.
    const fresh = await registerPlayer(ctx.app);
    await ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${fresh.id}/deactivate`,
      headers: bearer(admin.accessToken),
    });
    await refused(
      () => send({ type: "meal.logged", userId: fresh.id, idempotencyKey: "k", data: { mealType: "lunch" } }),
      409,
      "event.user_inactive",
    );
  });

  it("a batch of 1001 events is 400 validation.failed", async () => {
    const events = Array.from({ length: 1001 }, () => ({
      type: "meal.logged",
      userId: player.id,
      data: { mealType: "snack" },
    }));
    const body = await refused(() => sendBatch({ events }), 400, "validation.failed");
    assert.ok(
      body.errors?.some((e) => e.path === "body/events"),
      JSON.stringify(body.errors),
    );
    await refused(() => sendBatch({ events: [] }), 400, "validation.failed");
  });

  it("a batch with one invalid event of 5 is refused and none of the 5 is applied", async () => {
    const good = (mealType: string) => ({ type: "meal.logged", userId: player.id, data: { mealType } });
    const events = [
      good("breakfast"),
      good("lunch"),
      good("dinner"),
      { ...good("x"), data: { mealType: "brunch" } },
      good("snack"),
    ];
    const body = await refused(() => sendBatch({ idempotencyKey: "b-1", events }), 422, "event.invalid_data");
    assert.deepEqual(
      body.errors?.map((e) => e.path),
      ["body/events/3/data/mealType"],
    );
    // Several reasons at once are all reported, each under its index.
    const mixed = await refused(
      () =>
        sendBatch({
          events: [
            good("lunch"),
            { type: "pizza.eaten", userId: player.id, data: {} },
            { type: "level.up", userId: player.id, data: { level: 2 } },
            good("dinner"),
            { ...good("snack"), occurredAt: new Date(ctx.clock.now().getTime() + 3_600_000).toISOString() },
          ],
        }),
      422,
      "event.invalid_data",
    );
    assert.deepEqual(
      mixed.errors?.map((e) => e.path),
      ["body/events/1/type", "body/events/2/type", "body/events/4/occurredAt"],
    );
    // A problem found only while applying (an unknown player, the 4th of 5) rolls back the first three.
    await refused(
      () =>
        sendBatch({
          events: [
            good("breakfast"),
            good("lunch"),
            { ...good("dinner"), userId: other.id },
            { ...good("snack"), userId: randomUUID() },
            good("snack"),
          ],
        }),
      404,
      "event.unknown_user",
    );
    // The batch key was not used up by the refused batch.
    const retry = await sendBatch({
      idempotencyKey: "b-1",
      events: events.map((e, i) => (i === 3 ? good("lunch") : e)),
    });
    assert.equal(retry.statusCode, 200, retry.body);
  });

  it("malformed JSON is 400 request.malformed_json", async () => {
    await refused(
      () =>
        ctx.app.inject({
          method: "POST",
          url: "/v1/events",
          headers: { "x-api-key": apiKey, "content-type": "application/json" },
          payload: '{"type": "meal.logged", "userId": ',
        }),
      400,
      "request.malformed_json",
    );
    await refused(
      () =>
        ctx.app.inject({
          method: "POST",
          url: "/v1/events/batch",
          headers: { "x-api-key": apiKey, "content-type": "application/json" },
          payload: "{events: []}",
        }),
      400,
      "request.malformed_json",
    );
  });

  it("unknown fields and badly typed fields are 400 validation.failed", async () => {
    const extra = await refused(
      () => send({ type: "meal.logged", userId: player.id, data: { mealType: "lunch" }, points: 1000 }),
      400,
      "validation.failed",
    );
    assert.ok(
      extra.errors?.some((e) => e.message.includes("points")),
      JSON.stringify(extra.errors),
    );
    await refused(
      () =>
        sendBatch({
          events: [{ type: "meal.logged", userId: player.id, data: { mealType: "lunch" } }],
          dryRun: true,
        }),
      400,
      "validation.failed",
    );
    await refused(
      () =>
        sendBatch({
          events: [{ type: "meal.logged", userId: player.id, data: { mealType: "lunch" }, xp: 5 }],
        }),
      400,
      "validation.failed",
    );
    const cases: unknown[] = [
      { type: "Meal Logged", userId: player.id, data: {} },
      { type: "meal.logged", userId: "not-a-uuid", data: { mealType: "lunch" } },
      { type: "meal.logged", userId: player.id, occurredAt: "yesterday", data: { mealType: "lunch" } },
      { type: "meal.logged", userId: player.id, idempotencyKey: "", data: { mealType: "lunch" } },
      {
        type: "meal.logged",
        userId: player.id,
        idempotencyKey: "x".repeat(201),
        data: { mealType: "lunch" },
      },
      { type: "meal.logged", userId: player.id, idempotencyKey: "has space", data: { mealType: "lunch" } },
      { type: "meal.logged", userId: player.id, data: ["lunch"] },
      { type: 42, userId: player.id, data: {} },
      { userId: player.id, data: {} },
      [{ type: "meal.logged", userId: player.id, data: { mealType: "lunch" } }],
    ];
    for (const payload of cases) {
      await refused(() => send(payload), 400, "validation.failed");
    }
  });
});
