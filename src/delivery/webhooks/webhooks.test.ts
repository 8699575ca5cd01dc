import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
} from "../../../test/helpers/context.ts";
import { startReceiver, type Received } from "../../../test/helpers/webhook-receiver.ts";
import { verify } from "./signing.ts";
import * as store from "./webhooks.store.ts";

interface Endpoint {
  id: string;
  enabled: boolean;
  consecutiveFailures: number;
  disabledAt: string | null;
  disabledReason: string | null;
  secret?: string;
}
interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  tries: { attempt: number; statusCode: number | null; durationMs: number; ok: boolean }[];
}

describe("webhooks", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  const cleanup: (() => Promise<void>)[] = [];

  before(async () => {
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-achievements"],
      // The tests move the clock by hours (backoff); tokens must outlive that.
      accessTokenTtlSeconds: 86_400,
      // The receivers listen on loopback, which webhooks may reach only when the operator allows it.
      delivery: {
        webhooks: {
          retryBaseMs: 10_000,
          retryMaxMs: 600_000,
          disableAfter: 5,
          maxAttempts: 8,
          allowPrivate: ["loopback"],
        },
      },
    });
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });
  after(() => ctx.close());

  const api = (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: unknown) =>
    ctx.app.inject({
      method,
      url,
      headers: bearer(admin.accessToken),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
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
  /** A receiver and an endpoint pointing at it, both removed after the test. */
  const setup = async (eventTypes: string[], respond?: (r: Received, i: number) => number) => {
    const receiver = await startReceiver(respond, () => ctx.clock.now());
    const res = await api("POST", "/v1/admin/webhooks", {
      url: receiver.url,
      eventTypes,
      description: "test",
    });
    assert.equal(res.statusCode, 201, res.body);
    const endpoint = res.json<Endpoint & { secret: string }>();
    cleanup.push(async () => {
      await api("DELETE", `/v1/admin/webhooks/${endpoint.id}`);
      await receiver.close();
    });
    return { receiver, endpoint };
  };
  const deliveries = async (endpointId: string) => {
    const res = await api("GET", `/v1/admin/webhooks/${endpointId}/deliveries?limit=100`);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ items: Delivery[] }>().items;
  };
  const signed = (secret: string, r: Received) =>
    verify(
      secret,
      {
        signature: r.headers["ludus-signature"] as string | undefined,
        timestamp: r.headers["ludus-timestamp"] as string | undefined,
      },
      r.body,
      r.at,
    );

  it("signs each delivery so the receiver can verify it, and filters by event type", async () => {
    const all = await setup(["*"]);
    const unlocks = await setup(["achievement.*"]);
    const player = await registerPlayer(ctx.app);
    const meal = await send(player.id, "meal.logged", { mealType: "breakfast" });
    await ctx.delivery.runOnce();
    await ctx.delivery.webhooks.runOnce();

    const types = all.receiver.received.map((r) => JSON.parse(r.body) as { type: string; eventId: string });
    assert.ok(types.some((b) => b.type === "meal.logged" && b.eventId === meal.eventId));
    assert.ok(types.some((b) => b.type === "achievement.unlocked"));
    for (const r of all.receiver.received) {
      assert.ok(signed(all.endpoint.secret, r), "signature verifies");
      assert.ok(!signed(unlocks.endpoint.secret, r), "another endpoint's secret does not verify it");
      assert.equal(r.headers["content-type"], "application/json");
    }
    // A tampered body or a stale timestamp fails.
    const first = all.receiver.received[0]!;
    assert.ok(
      !verify(
        all.endpoint.secret,
        {
          signature: first.headers["ludus-signature"] as string,
          timestamp: first.headers["ludus-timestamp"] as string,
        },
        first.body + " ",
      ),
    );
    assert.ok(
      !verify(
        all.endpoint.secret,
        {
          signature: first.headers["ludus-signature"] as string,
          timestamp: first.headers["ludus-timestamp"] as string,
        },
        first.body,
        new Date(ctx.clock.now().getTime() + 3_600_000),
      ),
    );

    assert.deepEqual(
      unlocks.receiver.received.map((r) => (JSON.parse(r.body) as { type: string }).type),
      ["achievement.unlocked"],
    );
    const body = JSON.parse(unlocks.receiver.received[0]!.body) as Record<string, unknown>;
    assert.equal(body.userId, player.id);
    assert.deepEqual(body.data, { key: "first-steps" });
    assert.equal(body.parentId, meal.eventId);
    assert.equal(unlocks.receiver.received[0]!.headers["ludus-event-type"], "achievement.unlocked");
    // Delivered once: nothing more on later passes.
    ctx.clock.advance(3_600_000);
    await ctx.delivery.runOnce();
    assert.equal(unlocks.receiver.received.length, 1);
    const log = await deliveries(unlocks.endpoint.id);
    assert.equal(log.length, 1);
    assert.equal(log[0]?.status, "delivered");
  });

  it("never shows the secret again (lists, reads, audit) and rotates it", async () => {
    const { endpoint } = await setup(["meal.logged"]);
    assert.match(endpoint.secret, /^whsec_/);
    const one = await api("GET", `/v1/admin/webhooks/${endpoint.id}`);
    const list = await api("GET", "/v1/admin/webhooks");
    for (const res of [one, list]) {
      assert.equal(res.statusCode, 200);
      assert.ok(!res.body.includes(endpoint.secret));
      assert.ok(!res.body.includes("secret"));
    }
    const audit = await ctx.db.asSystem((tx) =>
      tx.rows<{ row: string }>(`SELECT a::text AS row FROM audit_logs a WHERE resource_id = $1`, [
        endpoint.id,
      ]),
    );
    assert.ok(audit.length >= 1);
    assert.ok(audit.every((a) => !a.row.includes(endpoint.secret)));
    const rotated = await api("POST", `/v1/admin/webhooks/${endpoint.id}/rotate-secret`);
    assert.equal(rotated.statusCode, 200, rotated.body);
    const secret = rotated.json<{ secret: string }>().secret;
    assert.notEqual(secret, endpoint.secret);
    const stored = await ctx.db.asSystem((tx) =>
      tx.one<{ secret: string }>(`SELECT secret FROM webhook_endpoints WHERE id = $1`, [endpoint.id]),
    );
    assert.equal(stored.secret, secret);
  });

  it("never shows or audits the credentials in an endpoint's URL", async () => {
    const created = await api("POST", "/v1/admin/webhooks", {
      url: "https://hookuser:hookpass@example.com/hook",
      eventTypes: ["meal.logged"],
      enabled: false,
    });
    assert.equal(created.statusCode, 201, created.body);
    const { id, url } = created.json<{ id: string; url: string }>();
    assert.equal(url, "https://example.com/hook");
    const audit = await ctx.db.asSystem((tx) =>
      tx.rows<{ row: string }>(`SELECT a::text AS row FROM audit_logs a WHERE resource_id = $1`, [id]),
    );
    assert.ok(audit.length >= 1);
    assert.ok(audit.every((a) => !a.row.includes("hookpass")));
  });

  it("retries a failing receiver with exponential backoff: three failures, then exactly one more delivery", async () => {
    const { receiver, endpoint } = await setup(["meal.logged"], (_r, i) => (i < 3 ? 500 : 200));
    const player = await registerPlayer(ctx.app);
    const meal = await send(player.id, "meal.logged", { mealType: "lunch" });
    await ctx.delivery.runOnce();
    assert.equal(receiver.received.length, 1);
    // The waits double: 10 s, 20 s, 40 s. Nothing is sent early.
    for (const wait of [10_000, 20_000, 40_000]) {
      ctx.clock.advance(wait - 1000);
      await ctx.delivery.webhooks.runOnce();
      const sent: number = receiver.received.length;
      ctx.clock.advance(1000);
      await ctx.delivery.webhooks.runOnce();
      assert.equal(receiver.received.length, sent + 1, `a retry after ${wait} ms`);
    }
    for (let i = 0; i < 5; i++) {
      ctx.clock.advance(600_000);
      await ctx.delivery.runOnce();
    }
    assert.equal(receiver.received.length, 4);
    assert.deepEqual(
      receiver.received.map((r) => r.status),
      [500, 500, 500, 200],
    );
    for (const r of receiver.received) {
      assert.ok(signed(endpoint.secret, r));
      assert.equal((JSON.parse(r.body) as { eventId: string }).eventId, meal.eventId);
    }
    const [log] = await deliveries(endpoint.id);
    assert.equal(log?.status, "delivered");
    assert.equal(log?.attempts, 4);
    assert.deepEqual(
      log?.tries.map((t) => [t.attempt, t.statusCode, t.ok]),
      [
        [1, 500, false],
        [2, 500, false],
        [3, 500, false],
        [4, 200, true],
      ],
    );
    assert.ok(log?.tries.every((t) => Number.isInteger(t.durationMs) && t.durationMs >= 0));
    const after = (await api("GET", `/v1/admin/webhooks/${endpoint.id}`)).json<Endpoint>();
    assert.equal(after.consecutiveFailures, 0);
  });

  it("delivers a player's events in order: a later one waits for an earlier one being retried", async () => {
    let failing = true;
    const { receiver } = await setup(["exercise.logged"], () => (failing ? 503 : 200));
    const player = await registerPlayer(ctx.app);
    for (const minutes of [1, 2, 3]) await send(player.id, "exercise.logged", { minutes });
    await ctx.delivery.runOnce();
    ctx.clock.advance(10_000);
    await ctx.delivery.runOnce();
    assert.deepEqual(
      receiver.received.map((r) => (JSON.parse(r.body) as { data: { minutes: number } }).data.minutes),
      [1, 1],
    );
    failing = false;
    for (let i = 0; i < 4; i++) {
      ctx.clock.advance(20_000);
      await ctx.delivery.runOnce();
    }
    assert.deepEqual(
      receiver.received.map((r) => (JSON.parse(r.body) as { data: { minutes: number } }).data.minutes),
      [1, 1, 1, 2, 3],
    );
  });

  it("disables an endpoint that keeps failing, with an audit row, and re-enables it on request", async () => {
    const { receiver, endpoint } = await setup(["exercise.logged"], () => 500);
    const player = await registerPlayer(ctx.app);
    await send(player.id, "exercise.logged", { minutes: 5 });
    await ctx.delivery.runOnce();
    for (let i = 0; i < 10; i++) {
      ctx.clock.advance(600_000);
      await ctx.delivery.webhooks.runOnce();
    }
    assert.equal(receiver.received.length, 5, "no tries once disabled");
    const state = (await api("GET", `/v1/admin/webhooks/${endpoint.id}`)).json<Endpoint>();
    assert.equal(state.enabled, false);
    assert.equal(state.consecutiveFailures, 5);
    assert.ok(state.disabledAt !== null);
    assert.match(state.disabledReason ?? "", /5 failed deliveries in a row/);
    const audit = await ctx.db.asSystem((tx) =>
      tx.rows(`SELECT 1 FROM audit_logs WHERE action = 'webhook.disabled' AND resource_id = $1`, [
        endpoint.id,
      ]),
    );
    assert.equal(audit.length, 1);

    const enabled = await api("PATCH", `/v1/admin/webhooks/${endpoint.id}`, { enabled: true });
    assert.equal(enabled.statusCode, 200, enabled.body);
    const e = enabled.json<Endpoint>();
    assert.deepEqual(
      [e.enabled, e.consecutiveFailures, e.disabledAt, e.disabledReason],
      [true, 0, null, null],
    );
    ctx.clock.advance(600_000);
    await ctx.delivery.webhooks.runOnce();
    assert.equal(receiver.received.length, 6, "the pending delivery goes on");
  });

  it("replays a delivery by hand, and takes over one whose sender died mid-request", async () => {
    const { receiver, endpoint } = await setup(["meal.logged"]);
    const player = await registerPlayer(ctx.app);
    await send(player.id, "meal.logged", { mealType: "snack" });
    await ctx.delivery.dispatcher.runOnce();
    // A sender claims it and dies before answering.
    const claimed = await ctx.db.asSystem((tx) =>
      store.claimDeliveries(tx, ctx.clock.now(), new Date(ctx.clock.now().getTime() + 40_000), 10),
    );
    assert.equal(claimed.length, 1);
    await ctx.delivery.webhooks.runOnce();
    assert.equal(receiver.received.length, 0, "leased to the dead sender");
    ctx.clock.advance(40_000);
    await ctx.delivery.webhooks.runOnce();
    assert.equal(receiver.received.length, 1);

    const [log] = await deliveries(endpoint.id);
    assert.equal(log?.status, "delivered");
    const replay = await api("POST", `/v1/admin/webhooks/${endpoint.id}/deliveries/${log.id}/replay`);
    assert.equal(replay.statusCode, 204, replay.body);
    await ctx.delivery.webhooks.runOnce();
    assert.equal(receiver.received.length, 2);
    assert.equal(
      receiver.received[0]?.body,
      receiver.received[1]?.body,
      "the same event, deduplicated by the receiver",
    );
    const unknown = await api(
      "POST",
      `/v1/admin/webhooks/${endpoint.id}/deliveries/00000000-0000-4000-8000-000000000000/replay`,
    );
    assert.equal(problem(unknown).status, 404);
  });

  it("refuses bad endpoint definitions", async () => {
    for (const payload of [
      { url: "ftp://example.com/x", eventTypes: ["*"] },
      { url: "not a url", eventTypes: ["*"] },
      { url: "https://example.com/hook", eventTypes: [] },
      { url: "https://example.com/hook", eventTypes: ["Meal Logged"] },
      { url: "https://example.com/hook", eventTypes: ["meal.*.x"] },
      { url: "https://example.com/hook", eventTypes: ["*"], secret: "mine" },
      { url: `https://example.com/${"x".repeat(3000)}`, eventTypes: ["*"] },
    ]) {
      const res = await api("POST", "/v1/admin/webhooks", payload);
      assert.equal(problem(res).status, 400, JSON.stringify(payload).slice(0, 100));
    }
    const empty = await api("PATCH", "/v1/admin/webhooks/00000000-0000-4000-8000-000000000000", {});
    assert.equal(problem(empty).status, 400);
    const missing = await api("PATCH", "/v1/admin/webhooks/00000000-0000-4000-8000-000000000000", {
      enabled: false,
    });
    assert.equal(problem(missing).status, 404);
    const player = await registerPlayer(ctx.app);
    const forbidden = await ctx.app.inject({
      method: "GET",
      url: "/v1/admin/webhooks",
      headers: bearer(player.accessToken),
    });
    assert.equal(problem(forbidden).status, 403);
  });
});
