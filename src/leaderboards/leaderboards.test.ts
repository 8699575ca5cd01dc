import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
} from "../../test/helpers/context.ts";
import { closeDuePeriods } from "./period-close.ts";

const silent = pino({ level: "silent" });

interface Row {
  rank: number;
  userId: string;
  score: number;
  level: number;
  badgesCount: number;
}
interface Page {
  period: string;
  closed: boolean;
  items: Row[];
  nextCursor: string | null;
}

describe("leaderboards", () => {
  let ctx: TestContext;
  let apiKey: string;
  let scoresKey: string;
  let adminToken: string;

  before(async () => {
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-achievements", "questlog", "prodev", "leaderboards"],
    });
    // Wednesday 14 January 2026, noon UTC.
    ctx.clock.set("2026-01-14T12:00:00Z");
    const admin = await createAdmin(ctx);
    adminToken = admin.accessToken;
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
    scoresKey = await createApiKey(ctx, admin.accessToken, ["scores:write"]);
  });
  after(() => ctx.close());

  const send = async (userId: string, type: string, data: Record<string, unknown>, occurredAt?: string) => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type, userId, data, ...(occurredAt ? { occurredAt } : {}) },
    });
    assert.equal(res.statusCode, 201, res.body);
  };
  const get = async <T>(url: string) => {
    const res = await ctx.app.inject({ method: "GET", url, headers: { "x-api-key": apiKey } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<T>();
  };

  it("ranks players by XP earned this week, ties to whoever got there first, with pages and neighbours", async () => {
    const [a, b, c] = [
      await registerPlayer(ctx.app),
      await registerPlayer(ctx.app),
      await registerPlayer(ctx.app),
    ];
    // a: 2 typing games, b: 1, c: 1 a minute after b — the same XP as b, reached later.
    await send(a.id, "typing.game.finished", { score: 500, wpm: 70, accuracy: 99, durationSeconds: 60 });
    await send(a.id, "typing.game.finished", { score: 500, wpm: 72, accuracy: 95, durationSeconds: 60 });
    ctx.clock.advance(60_000);
    await send(b.id, "typing.game.finished", { score: 500, wpm: 80, accuracy: 90, durationSeconds: 60 });
    ctx.clock.advance(60_000);
    await send(c.id, "typing.game.finished", { score: 500, wpm: 60, accuracy: 90, durationSeconds: 60 });

    const page = await get<Page>("/v1/leaderboards/prodev-best-score?limit=2");
    assert.equal(page.period, "all");
    assert.deepEqual(
      page.items.map((r) => [r.rank, r.userId, r.score]),
      [
        [1, a.id, 500],
        [2, b.id, 500],
      ],
    );
    assert.ok(page.nextCursor !== null);
    const next = await get<Page>(`/v1/leaderboards/prodev-best-score?limit=2&cursor=${page.nextCursor}`);
    assert.deepEqual(
      next.items.map((r) => [r.rank, r.userId]),
      [[3, c.id]],
    );
    assert.equal(next.nextCursor, null);

    const wpm = await get<Page>("/v1/leaderboards/prodev-best-wpm");
    assert.equal(wpm.period, "2026-W03");
    assert.deepEqual(
      wpm.items.map((r) => [r.userId, r.score]),
      [
        [b.id, 80],
        [a.id, 72],
        [c.id, 60],
      ],
    );

    const me = await ctx.app.inject({
      method: "GET",
      url: "/v1/leaderboards/prodev-best-wpm/me?around=1",
      headers: bearer(c.accessToken),
    });
    assert.equal(me.statusCode, 200, me.body);
    const standing = me.json<{ rank: number; neighbours: Row[]; total: number }>();
    assert.equal(standing.rank, 3);
    assert.equal(standing.total, 3);
    assert.deepEqual(
      standing.neighbours.map((r) => r.rank),
      [2, 3],
    );

    const ranks = await ctx.app.inject({
      method: "POST",
      url: "/v1/leaderboards/prodev-best-wpm/ranks",
      headers: { "x-api-key": apiKey },
      payload: { userIds: [c.id, a.id] },
    });
    assert.deepEqual(
      ranks.json<{ items: Row[] }>().items.map((r) => [r.userId, r.rank]),
      [
        [a.id, 2],
        [c.id, 3],
      ],
    );
  });

  it("takes submitted scores from app backends, keeps the best, and answers a replayed key with the first answer", async () => {
    const p = await registerPlayer(ctx.app);
    const submit = (
      score: number,
      idempotencyKey: string,
      headers: Record<string, string> = { "x-api-key": scoresKey },
    ) =>
      ctx.app.inject({
        method: "POST",
        url: "/v1/leaderboards/arcade-high-scores/scores",
        headers,
        payload: { userId: p.id, score, idempotencyKey },
      });
    const first = await submit(1200, "s1");
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual(first.json<{ score: number; changed: boolean }>().score, 1200);
    const lower = await submit(900, "s2");
    assert.equal(lower.json<{ score: number; changed: boolean }>().changed, false);
    const replay = await submit(1200, "s1");
    assert.equal(replay.json<{ duplicate: boolean }>().duplicate, true);
    assert.equal(problem(await submit(1300, "s1")).code, "idempotency.key_reused");
    // Players cannot submit scores, and boards fed by events take none.
    assert.equal((await submit(99999, "s3", bearer(p.accessToken))).statusCode, 403);
    const wrong = await ctx.app.inject({
      method: "POST",
      url: "/v1/leaderboards/levels/scores",
      headers: { "x-api-key": scoresKey },
      payload: { userId: p.id, score: 5, idempotencyKey: "s4" },
    });
    assert.equal(problem(wrong).code, "leaderboard.not_submittable");
    const page = await get<Page>("/v1/leaderboards/arcade-high-scores");
    assert.deepEqual(
      page.items.map((r) => [r.userId, r.score]),
      [[p.id, 1200]],
    );
  });

  it("closes a period at its end: final ranks and a snapshot, once, and late events no longer change it", async () => {
    const x = await registerPlayer(ctx.app);
    const y = await registerPlayer(ctx.app);
    ctx.clock.set("2026-01-16T10:00:00Z");
    await send(x.id, "task.completed", { difficulty: "hard" });
    await send(y.id, "task.completed", { difficulty: "easy" });
    await send(y.id, "task.completed", { difficulty: "easy" });
    const week = await get<Page>("/v1/leaderboards/questlog-tasks-weekly");
    assert.deepEqual(
      week.items.map((r) => [r.userId, r.score]),
      [
        [y.id, 2],
        [x.id, 1],
      ],
    );
    // Monday 19 January 00:00 UTC ends week 3.
    ctx.clock.set("2026-01-19T00:05:00Z");
    const closed = await closeDuePeriods(ctx.db, ctx.game.ranks, ctx.clock.now(), silent);
    assert.ok(closed >= 1);
    assert.equal(
      await closeDuePeriods(ctx.db, ctx.game.ranks, ctx.clock.now(), silent),
      0,
      "closing again does nothing",
    );
    // A task back-dated into the closed week does not move it.
    await send(x.id, "task.completed", { difficulty: "epic" }, "2026-01-18T20:00:00Z");
    await send(x.id, "task.completed", { difficulty: "epic" }, "2026-01-18T21:00:00Z");
    const past = await get<Page>("/v1/leaderboards/questlog-tasks-weekly?period=2026-W03");
    assert.equal(past.closed, true);
    assert.deepEqual(
      past.items.map((r) => [r.rank, r.userId, r.score]),
      [
        [1, y.id, 2],
        [2, x.id, 1],
      ],
    );
    const snapshots = await get<{ items: { period: string; top: { rank: number; userId: string }[] }[] }>(
      "/v1/leaderboards/questlog-tasks-weekly/snapshots",
    );
    const w3 = snapshots.items.find((s) => s.period === "2026-W03");
    assert.deepEqual(
      w3?.top.map((t) => [t.rank, t.userId]),
      [
        [1, y.id],
        [2, x.id],
      ],
    );
  });

  it("refuses bad periods, cursors and unknown boards", async () => {
    const bad = async (url: string, status: number) => {
      const res = await ctx.app.inject({ method: "GET", url, headers: { "x-api-key": apiKey } });
      assert.equal(res.statusCode, status, `${url}: ${res.body}`);
      problem(res);
    };
    await bad("/v1/leaderboards/no-such-board", 404);
    await bad("/v1/leaderboards/xp-weekly?period=2026-01-14", 400);
    await bad("/v1/leaderboards/xp-weekly?period=yesterday", 400);
    await bad("/v1/leaderboards/xp-weekly?cursor=bm90LWEtY3Vyc29y", 400);
    await bad("/v1/leaderboards/xp-weekly?limit=0", 400);
    await bad("/v1/leaderboards/xp-weekly?limit=101", 400);
    await bad("/v1/leaderboards/xp-weekly/users/not-a-uuid", 400);
    const admin = await ctx.app.inject({
      method: "PATCH",
      url: "/v1/admin/leaderboards/prodev-best-wpm",
      headers: bearer(adminToken),
      payload: { operator: "sum" },
    });
    assert.ok([401, 409].includes(admin.statusCode), admin.body);
  });
});
