import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
} from "../../../test/helpers/context.ts";
import { createInstance, type Instance } from "../../../test/helpers/instance.ts";
import { openSse, type SseClient } from "../../../test/helpers/sse-client.ts";
import WebSocket from "ws";
import { STREAM_DEFAULTS, StreamHub } from "./hub.ts";

const listenOn = async (app: TestContext["app"]) => {
  await app.listen({ port: 0, host: "127.0.0.1" });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
};

describe("realtime stream (SSE)", () => {
  let ctx: TestContext;
  /** A second instance on the same database: it takes the events and dispatches them. */
  let other: Instance;
  let base: string;
  let apiKey: string;
  const clients: SseClient[] = [];

  before(async () => {
    ctx = await createTestContext({ packs: ["dietgame", "dietgame-achievements"] });
    const admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
    base = await listenOn(ctx.app);
    // This instance only serves streams: it hears the other's dispatcher through NOTIFY.
    await ctx.delivery.stream.listen(ctx.ownerUrl, true);
    other = await createInstance(ctx.ownerUrl, ctx.clock, { delivery: { pollIntervalMs: 20 } });
    other.delivery.start();
  });
  after(async () => {
    for (const c of clients) await c.close();
    await other.close();
    await ctx.close();
  });

  const open = async (token: string, query = "", headers: Record<string, string> = {}) => {
    const c = await openSse(`${base}/v1/me/stream${query}`, { ...bearer(token), ...headers });
    clients.push(c);
    return c;
  };
  /** An event through the other instance (answered once committed). */
  const send = async (userId: string, data: Record<string, unknown> = { mealType: "snack" }) => {
    const res = await other.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type: "meal.logged", userId, data },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ eventId: string }>().eventId;
  };
  const outboxIds = (userId: string, afterId: number) =>
    ctx.db.asSystem(async (tx) =>
      (
        await tx.rows<{ id: number }>(`SELECT id FROM outbox WHERE user_id = $1 AND id > $2 ORDER BY id`, [
          userId,
          afterId,
        ])
      ).map((r) => String(r.id)),
    );

  // Arrival only, with a generous deadline: the latency figure is measured by bench/stream.ts.
  it("delivers an achievement unlocked on another instance", async () => {
    const player = await registerPlayer(ctx.app);
    const client = await open(player.accessToken);
    assert.equal(client.res.status, 200);
    assert.match(client.res.headers.get("content-type") ?? "", /^text\/event-stream/);
    await client.until(() => client.comments > 0, 2000, "the connected comment");
    const eventId = await send(player.id, { mealType: "breakfast" });
    const unlocked = await client.next((m) => m.event === "achievement.unlocked", 15_000);
    const body = JSON.parse(unlocked.data) as { parentId: string; type: string; data: { key?: string } };
    assert.equal(body.parentId, eventId);
    const meal = await client.next((m) => m.event === "meal.logged");
    const mealBody = JSON.parse(meal.data) as {
      eventId: string;
      effects: { achievements: { key: string }[] };
    };
    assert.equal(mealBody.eventId, eventId);
    assert.deepEqual(
      mealBody.effects.achievements.map((a) => a.key),
      ["first-steps"],
    );
    assert.ok(Number(meal.id) < Number(unlocked.id), "in outbox order");
  });

  it("a reconnect with Last-Event-ID gets exactly the missed messages, in order, then live ones", async () => {
    const player = await registerPlayer(ctx.app);
    const first = await open(player.accessToken);
    await send(player.id);
    await first.until(() => first.messages.length >= 2, 3000, "the first event and its unlock");
    const lastSeen = first.messages[first.messages.length - 1]!.id!;
    await first.close();

    for (let i = 0; i < 3; i++) await send(player.id, { mealType: "lunch" });
    const missed = await outboxIds(player.id, Number(lastSeen));
    assert.equal(missed.length, 3);
    // Wait until the other instance dispatched them (only dispatched rows are streamed).
    await ctx.db.asSystem(async (tx) => {
      for (let i = 0; i < 100; i++) {
        const row = await tx.one<{ n: number }>(
          `SELECT count(*)::int AS n FROM outbox WHERE user_id = $1 AND dispatched_at IS NULL`,
          [player.id],
        );
        if (row.n === 0) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    });

    const again = await open(player.accessToken, "", { "last-event-id": lastSeen });
    await again.until(() => again.messages.length >= 3, 3000, "the missed messages");
    assert.deepEqual(
      again.messages.map((m) => m.id),
      missed,
    );
    const live = await send(player.id, { mealType: "dinner" });
    const next = await again.next((m) => !missed.includes(m.id!));
    assert.equal((JSON.parse(next.data) as { eventId: string }).eventId, live);
    // Everything after the resume point, each once (the dinner may unlock more).
    const expected = await outboxIds(player.id, Number(lastSeen));
    await again.until(() => again.messages.length >= expected.length, 3000, "the live messages");
    assert.deepEqual(
      again.messages.map((m) => m.id),
      expected,
    );

    // ?lastEventId= works the same; the header wins over it (EventSource keeps its first URL).
    const byQuery = await open(player.accessToken, `?lastEventId=${lastSeen}`, {
      "last-event-id": missed[1]!,
    });
    await byQuery.until(
      () => byQuery.messages.length >= expected.length - 2,
      3000,
      "replay after the header",
    );
    assert.deepEqual(
      byQuery.messages.map((m) => m.id),
      expected.slice(2),
    );
    // 0 replays everything still kept.
    const kept = await outboxIds(player.id, 0);
    const all = await open(player.accessToken, "?lastEventId=0");
    await all.until(() => all.messages.length >= kept.length, 3000, "everything kept");
    assert.deepEqual(
      all.messages.map((m) => m.id),
      kept,
    );
  });

  it("a resume point no longer kept gets a resync message, then live ones", async () => {
    const player = await registerPlayer(ctx.app);
    const client = await open(player.accessToken, "?lastEventId=999999999");
    const resync = await client.next((m) => m.event === "resync");
    assert.equal(resync.id, undefined);
    await send(player.id);
    await client.until(() => client.messages.length >= 3, 3000, "live messages");
    // Another player's id is not a resume point either.
    const someone = await registerPlayer(ctx.app);
    const [theirs] = await outboxIds(player.id, 0);
    const foreign = await open(someone.accessToken, `?lastEventId=${theirs}`);
    await foreign.next((m) => m.event === "resync");
    assert.equal(foreign.messages.length, 1);
  });

  it("a stream ticket opens the stream from a URL, and nothing else", async () => {
    const player = await registerPlayer(ctx.app);
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/stream/ticket",
      headers: bearer(player.accessToken),
    });
    assert.equal(res.statusCode, 200, res.body);
    const { ticket, expiresIn } = res.json<{ ticket: string; expiresIn: number }>();
    assert.equal(expiresIn, 60);
    const client = await openSse(`${base}/v1/me/stream?ticket=${encodeURIComponent(ticket)}`);
    clients.push(client);
    assert.equal(client.res.status, 200);
    await send(player.id);
    await client.next((m) => m.event === "meal.logged", 3000);

    // Not an access token: refused by every other route.
    const me = await ctx.app.inject({ method: "GET", url: "/v1/me", headers: bearer(ticket) });
    assert.equal(problem(me).code, "auth.invalid_token");
    // An access token is not a ticket.
    const asTicket = await ctx.app.inject({
      method: "GET",
      url: `/v1/me/stream?ticket=${player.accessToken}`,
    });
    assert.equal(problem(asTicket).code, "auth.invalid_token");
    // Not both at once.
    const both = await ctx.app.inject({
      method: "GET",
      url: `/v1/me/stream?ticket=${ticket}`,
      headers: bearer(player.accessToken),
    });
    assert.equal(problem(both).status, 401);
    // Expired after a minute.
    ctx.clock.advance(61_000);
    try {
      const late = await ctx.app.inject({ method: "GET", url: `/v1/me/stream?ticket=${ticket}` });
      assert.equal(problem(late).code, "auth.invalid_token");
    } finally {
      ctx.clock.advance(-61_000);
    }
    // A logout ends what its tickets can open.
    await ctx.app.inject({ method: "POST", url: "/v1/auth/logout", headers: bearer(player.accessToken) });
    const after = await ctx.app.inject({ method: "GET", url: `/v1/me/stream?ticket=${ticket}` });
    assert.equal(problem(after).status, 401);
  });

  it("refuses bad requests with a problem before streaming", async () => {
    const player = await registerPlayer(ctx.app);
    const cases: [string, Record<string, string>, number, string][] = [
      ["/v1/me/stream", {}, 401, "auth.unauthenticated"],
      ["/v1/me/stream", bearer("not-a-token"), 401, "auth.invalid_token"],
      ["/v1/me/stream", { ...bearer(player.accessToken), "last-event-id": "abc" }, 400, "validation.failed"],
      ["/v1/me/stream", { ...bearer(player.accessToken), "last-event-id": "-1" }, 400, "validation.failed"],
      ["/v1/me/stream?lastEventId=1.5", bearer(player.accessToken), 400, "validation.failed"],
      ["/v1/me/stream?lastEventId=01", bearer(player.accessToken), 400, "validation.failed"],
      ["/v1/me/stream?since=1", bearer(player.accessToken), 400, "validation.failed"],
      ["/v1/me/stream?ticket=", {}, 401, "auth.invalid_token"],
      ["/v1/me/stream?ticket=garbage", {}, 401, "auth.invalid_token"],
    ];
    for (const [url, headers, status, code] of cases) {
      const res = await ctx.app.inject({ method: "GET", url, headers });
      const body = problem(res);
      assert.equal(res.statusCode, status, `${url} ${JSON.stringify(headers)}: ${res.body}`);
      assert.equal(body.code, code);
    }
    const apiKeyCall = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/stream",
      headers: { "x-api-key": apiKey },
    });
    assert.equal(problem(apiKeyCall).code, "auth.forbidden");
  });

  it("catches up by the heartbeat poll when the NOTIFY is lost, and reconnects its listener", async () => {
    // A third instance that hears no NOTIFY at all (no listener yet, so no reconnection poll
    // either) and dispatches nothing itself: only its heartbeat poll can find new rows.
    const third = await createInstance(ctx.ownerUrl, ctx.clock, {
      delivery: { stream: { heartbeatMs: 300 } },
    });
    try {
      const url = await listenOn(third.app);
      const player = await registerPlayer(ctx.app);
      const client = await openSse(`${url}/v1/me/stream`, bearer(player.accessToken));
      clients.push(client);
      assert.equal(third.delivery.stream.listening, undefined);
      await send(player.id);
      await client.next((m) => m.event === "meal.logged", 3000);
      const comments = client.comments;
      await client.until(() => client.comments > comments, 2000, "a heartbeat");
      // A dropped listener comes back on its own; live messages come through NOTIFY again.
      await third.delivery.stream.listen(ctx.ownerUrl, true);
      third.delivery.stream.listening!.simulateDrop();
      assert.equal(third.delivery.stream.listening!.connected, false);
      await client.until(() => third.delivery.stream.listening!.connected, 5000, "reconnection");
    } finally {
      await third.close();
    }
  });

  it("ends an open stream at the next heartbeat once its session is logged out", async () => {
    const player = await registerPlayer(ctx.app);
    const stayer = await registerPlayer(ctx.app);
    const client = await open(player.accessToken);
    const kept = await open(stayer.accessToken);
    await client.until(() => client.comments > 0, 2000, "the connected comment");
    await kept.until(() => kept.comments > 0, 2000, "the connected comment");
    for (let i = 0; i < 100 && ctx.delivery.stream.size < 2; i++) await new Promise((r) => setTimeout(r, 10));
    const before = ctx.delivery.stream.size;
    const logout = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/logout",
      headers: bearer(player.accessToken),
    });
    assert.ok(logout.statusCode < 300, logout.body);
    await ctx.delivery.stream.beat();
    await client.closed(3000);
    assert.equal(ctx.delivery.stream.size, before - 1, "only the logged-out player's stream ends");
    await send(stayer.id);
    await kept.next((m) => m.event === "meal.logged", 3000);
  });

  it("ends a stream still opening when every stream is ended (shutdown)", async () => {
    const player = await registerPlayer(ctx.app);
    const hub = new StreamHub(ctx.db, ctx.app.log as never, STREAM_DEFAULTS);
    let ended = false;
    const sink = {
      send: async () => {},
      resync: async () => {},
      heartbeat: () => {},
      end: () => (ended = true),
    };
    // The stream's first query is under way when the hub ends every stream.
    const opening = hub.open(player.id, undefined, sink);
    hub.endAll();
    await opening;
    assert.equal(ended, true);
    assert.equal(hub.size, 0);
  });

  it("closes open streams when the server shuts down", async () => {
    const fourth = await createInstance(ctx.ownerUrl, ctx.clock);
    const url = await listenOn(fourth.app);
    const player = await registerPlayer(ctx.app);
    const client = await openSse(`${url}/v1/me/stream`, bearer(player.accessToken));
    clients.push(client);
    for (let i = 0; i < 100 && fourth.delivery.stream.size === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(fourth.delivery.stream.size, 1);
    const closing = fourth.close();
    await client.closed(5000);
    await closing;
    assert.equal(fourth.delivery.stream.size, 0);
  });
});

describe("realtime stream (WebSocket)", () => {
  let ctx: TestContext;
  let base: string;
  let apiKey: string;
  const sockets: WebSocket[] = [];

  before(async () => {
    ctx = await createTestContext({ packs: ["dietgame", "dietgame-achievements"] });
    const admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
    base = (await listenOn(ctx.app)).replace("http:", "ws:");
    ctx.delivery.start();
  });
  after(async () => {
    for (const s of sockets) s.terminate();
    await ctx.close();
  });

  interface Frame {
    id?: number;
    event: string;
    data: Record<string, unknown>;
  }
  /** Opens a socket and collects its frames; resolves once open, or with the refusal's status. */
  const connect = (query: string, headers: Record<string, string> = {}) =>
    new Promise<{ ws: WebSocket; frames: Frame[]; status?: number }>((resolve, reject) => {
      const ws = new WebSocket(`${base}/v1/me/ws${query}`, { headers });
      sockets.push(ws);
      const frames: Frame[] = [];
      ws.on("message", (data: Buffer) => frames.push(JSON.parse(data.toString()) as Frame));
      ws.on("open", () => resolve({ ws, frames }));
      ws.on("unexpected-response", (_req, res) => resolve({ ws, frames, status: res.statusCode }));
      ws.on("error", reject);
    });
  const until = async (check: () => boolean, what: string, timeoutMs = 3000) => {
    const end = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const send = async (userId: string) => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type: "meal.logged", userId, data: { mealType: "snack" } },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ eventId: string }>().eventId;
  };

  it("sends the stream's messages as JSON frames, and resumes after ?lastEventId=", async () => {
    const player = await registerPlayer(ctx.app);
    const first = await connect("", bearer(player.accessToken));
    assert.equal(first.status, undefined);
    const eventId = await send(player.id);
    await until(() => first.frames.some((f) => f.event === "achievement.unlocked"), "the unlock");
    assert.equal(first.frames[0]?.event, "meal.logged");
    assert.equal(first.frames[0]?.data.eventId, eventId);
    const last = first.frames[first.frames.length - 1]!.id!;
    first.ws.close();

    await send(player.id);
    await send(player.id);
    const expected = await ctx.db.asSystem(async (tx) =>
      (
        await tx.rows<{ id: number }>(`SELECT id FROM outbox WHERE user_id = $1 AND id > $2 ORDER BY id`, [
          player.id,
          last,
        ])
      ).map((r) => r.id),
    );
    // By ticket, as a browser would.
    const ticket = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/stream/ticket",
      headers: bearer(player.accessToken),
    });
    const again = await connect(`?lastEventId=${last}&ticket=${ticket.json<{ ticket: string }>().ticket}`);
    await until(() => again.frames.length >= expected.length, "the missed frames");
    assert.deepEqual(
      again.frames.map((f) => f.id),
      expected,
    );
  });

  it("refuses the upgrade with a problem: no or bad credentials, a bad id; a plain GET gets 426", async () => {
    const player = await registerPlayer(ctx.app);
    assert.equal((await connect("")).status, 401);
    assert.equal((await connect("?ticket=garbage")).status, 401);
    assert.equal((await connect("", bearer("not-a-token"))).status, 401);
    assert.equal((await connect("?lastEventId=abc", bearer(player.accessToken))).status, 400);
    for (const id of ["abc", "-1", "01", "1e3", "9999999999999999"]) {
      const res = await connect("", { ...bearer(player.accessToken), "last-event-id": id });
      assert.equal(res.status, 400, `Last-Event-ID ${id}`);
    }
    const plain = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/ws",
      headers: bearer(player.accessToken),
    });
    assert.equal(problem(plain).code, "stream.upgrade_required");
    assert.equal(plain.statusCode, 426);
  });

  it("closes sockets when the server shuts down", async () => {
    const other = await createInstance(ctx.ownerUrl, ctx.clock);
    await other.app.listen({ port: 0, host: "127.0.0.1" });
    const url = `ws://127.0.0.1:${(other.app.server.address() as AddressInfo).port}/v1/me/ws`;
    const player = await registerPlayer(ctx.app);
    const ws = new WebSocket(url, { headers: bearer(player.accessToken) });
    sockets.push(ws);
    await new Promise((resolve, reject) => ws.on("open", resolve).on("error", reject));
    const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    await until(() => other.delivery.stream.size === 1, "the subscription");
    await other.close();
    assert.equal(await closed, 1001);
  });
});

describe("realtime stream: the per-instance cap", () => {
  let ctx: TestContext;
  let base: string;
  const clients: SseClient[] = [];

  before(async () => {
    ctx = await createTestContext({ delivery: { stream: { maxPerInstance: 2 } } });
    base = await listenOn(ctx.app);
  });
  after(async () => {
    for (const c of clients) await c.close();
    await ctx.close();
  });

  it("refuses a stream past the instance's cap with 503 problem+json, and opens one again once below", async () => {
    const players = await Promise.all([1, 2, 3].map(() => registerPlayer(ctx.app)));
    for (const p of players.slice(0, 2)) {
      const c = await openSse(`${base}/v1/me/stream`, bearer(p.accessToken));
      clients.push(c);
      assert.equal(c.res.status, 200);
      await c.until(() => c.comments > 0, 5000, "the connected comment");
    }
    // The connected comment may be written before the stream has subscribed: wait until both have.
    const opened = Date.now() + 5000;
    while (ctx.delivery.stream.size < 2 && Date.now() < opened) await new Promise((r) => setTimeout(r, 20));
    const refused = await fetch(`${base}/v1/me/stream`, { headers: bearer(players[2]!.accessToken) });
    assert.equal(refused.status, 503);
    assert.match(refused.headers.get("content-type") ?? "", /^application\/problem\+json/);
    assert.equal(((await refused.json()) as { code: string }).code, "stream.capacity");
    assert.equal(ctx.delivery.stream.size, 2);

    await clients.shift()!.close();
    const deadline = Date.now() + 5000;
    while (ctx.delivery.stream.size > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const again = await openSse(`${base}/v1/me/stream`, bearer(players[2]!.accessToken));
    clients.push(again);
    assert.equal(again.res.status, 200);
  });
});
