/**
 * Who is on a board and what it keeps (seeds 000 and 004): deactivated, deleted and erased players
 * leave every board and come back if reactivated, on both rank indexes; all-time boards get
 * scheduled snapshots; a board of a balance as it stands ranks spends; player events keep where
 * they came from.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import pino from "pino";
import { MemoryRankIndex } from "../src/leaderboards/rank-index/memory-index.ts";
import type { RankIndex } from "../src/leaderboards/rank-index/rank-index.ts";
import { RedisIndex } from "../src/leaderboards/rank-index/redis-index.ts";
import { ludusJobs } from "../src/scheduler/jobs.ts";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  registerPlayer,
  type TestContext,
} from "./helpers/context.ts";
import { withClient } from "./helpers/postgres.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PREFIX = `ludus-test:standing:${process.pid}:${randomUUID()}:`;
const silent = pino({ level: "silent" });

interface Row {
  rank: number;
  userId: string;
  score: number;
}
interface Page {
  items: Row[];
  nextCursor: string | null;
}
interface Standing {
  rank: number | null;
  entry: Row | null;
  neighbours: Row[];
  total: number;
}
interface Snapshots {
  items: {
    period: string;
    final: boolean;
    takenAt: string;
    closedAt: string | null;
    entries: number;
    top: Row[];
  }[];
  nextCursor: string | null;
}

async function setUp(rankIndex: RankIndex) {
  const ctx = await createTestContext({
    packs: ["dietgame", "dietgame-achievements", "questlog", "prodev", "leaderboards"],
    rankIndex,
  });
  ctx.clock.set("2026-03-11T12:00:00Z");
  const admin = await createAdmin(ctx);
  const apiKey = await createApiKey(ctx, admin.accessToken, ["events:write", "scores:write"]);
  return { ctx, admin, apiKey };
}

for (const [name, makeIndex] of [
  ["the in-process rank index", () => new MemoryRankIndex()],
  ["the Redis rank index", () => new RedisIndex({ url: REDIS_URL, prefix: PREFIX })],
] as const) {
  describe(`players who leave the boards, on ${name}`, () => {
    let ctx: TestContext;
    let adminToken: string;
    let apiKey: string;
    const players: string[] = [];

    before(async () => {
      const s = await setUp(makeIndex());
      ({ ctx, apiKey } = s);
      adminToken = s.admin.accessToken;
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/admin/leaderboards",
        headers: bearer(adminToken),
        payload: {
          key: "arcade",
          name: "Arcade",
          source: { kind: "submitted" },
          period: "all",
          operator: "best",
        },
      });
      assert.equal(res.statusCode, 201, res.body);
      // Five players, scores 50, 40, 30, 20, 10: player 2 (30) is in the middle.
      for (let i = 0; i < 5; i++) {
        const id = (await registerPlayer(ctx.app)).id;
        players.push(id);
        await submit(id, 50 - i * 10);
      }
      assert.ok(ctx.game.ranks.usable, "the rank index answers reads");
    });
    after(async () => {
      await ctx?.close();
      if (name.startsWith("the Redis")) {
        const redis = new Redis(REDIS_URL);
        const keys = await redis.keys(`${PREFIX}*`);
        if (keys.length > 0) await redis.del(...keys);
        await redis.quit();
      }
    });

    const submit = async (userId: string, score: number) => {
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/leaderboards/arcade/scores",
        headers: { "x-api-key": apiKey },
        payload: { userId, score, idempotencyKey: randomUUID() },
      });
      assert.equal(res.statusCode, 200, res.body);
    };
    const get = async <T>(url: string) => {
      const res = await ctx.app.inject({ method: "GET", url, headers: { "x-api-key": apiKey } });
      assert.equal(res.statusCode, 200, res.body);
      return res.json<T>();
    };
    const admin = async (path: string) => {
      const res = await ctx.app.inject({
        method: "POST",
        url: `/v1/admin/users/${path}`,
        headers: bearer(adminToken),
      });
      assert.equal(res.statusCode, 200, res.body);
    };
    const ranksOf = async () => {
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/leaderboards/arcade/ranks",
        headers: { "x-api-key": apiKey },
        payload: { userIds: players },
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json<{ items: { userId: string; rank: number | null }[] }>().items;
    };

    it("a deactivated player leaves pages, ranks and neighbours, and is back after reactivation", async () => {
      const [p0, p1, p2, p3, p4] = players as [string, string, string, string, string];
      const before = await get<Page>("/v1/leaderboards/arcade?limit=10");
      assert.deepEqual(
        before.items.map((r) => [r.rank, r.userId]),
        players.map((id, i) => [i + 1, id]),
      );

      await admin(`${p2}/deactivate`);
      const page = await get<Page>("/v1/leaderboards/arcade?limit=10");
      assert.deepEqual(
        page.items.map((r) => [r.rank, r.userId, r.score]),
        [
          [1, p0, 50],
          [2, p1, 40],
          [3, p3, 20],
          [4, p4, 10],
        ],
      );
      const gone = await get<Standing>(`/v1/leaderboards/arcade/users/${p2}?around=1`);
      assert.equal(gone.rank, null);
      assert.equal(gone.total, 4);
      const neighbour = await get<Standing>(`/v1/leaderboards/arcade/users/${p3}?around=1`);
      assert.equal(neighbour.rank, 3);
      assert.deepEqual(
        neighbour.neighbours.map((r) => r.userId),
        [p1, p3, p4],
      );
      const ranks = new Map((await ranksOf()).map((r) => [r.userId, r.rank]));
      assert.equal(ranks.has(p2), false, "a player off the boards is left out of friends' ranks");
      assert.equal(ranks.get(p3), 3);
      // A second page after the first two: no trace of the player between them.
      const first = await get<Page>("/v1/leaderboards/arcade?limit=2");
      const second = await get<Page>(`/v1/leaderboards/arcade?limit=2&cursor=${first.nextCursor}`);
      assert.deepEqual(
        second.items.map((r) => r.userId),
        [p3, p4],
      );
      const verify = await ctx.game.ranks.verify();
      assert.equal(verify.problems.length, 0, verify.problems.join("\n"));

      await admin(`${p2}/activate`);
      const back = await get<Page>("/v1/leaderboards/arcade?limit=10");
      assert.deepEqual(
        back.items.map((r) => [r.rank, r.userId, r.score]),
        players.map((id, i) => [i + 1, id, 50 - i * 10]),
      );
      const again = await get<Standing>(`/v1/leaderboards/arcade/users/${p2}?around=1`);
      assert.equal(again.rank, 3);
      assert.deepEqual(
        again.neighbours.map((r) => r.userId),
        [p1, p2, p3],
      );
    });

    it("an erased player leaves the boards for good, and a snapshot taken after leaves them out", async () => {
      const p0 = players[0]!;
      await admin(`${p0}/erase`);
      const page = await get<Page>("/v1/leaderboards/arcade?limit=10");
      assert.ok(!page.items.some((r) => r.userId === p0));
      assert.equal(page.items[0]?.rank, 1);
      assert.equal(page.items[0]?.userId, players[1]);
      // An operator cannot bring an erased account back onto the boards by switching it on.
      await admin(`${p0}/activate`).catch(() => undefined);
      const still = await get<Standing>(`/v1/leaderboards/arcade/users/${p0}`);
      assert.equal(still.rank, null);

      ctx.clock.advance(24 * 3_600_000);
      const job = ludusJobs({
        db: ctx.db,
        game: ctx.game,
        notifications: ctx.delivery.notifications,
        logger: silent,
      }).find((j) => j.name === "leaderboards.snapshot")!;
      const now = ctx.clock.now();
      await job.run({ now, periodStart: now, periodEnd: now, lastPeriodStart: null, missed: 0 });
      const snaps = await get<Snapshots>("/v1/leaderboards/arcade/snapshots");
      const latest = snaps.items[0]!;
      assert.equal(latest.period, "all");
      assert.ok(!latest.top.some((r) => r.userId === p0));
      assert.equal(latest.top[0]?.userId, players[1]);
    });
  });
}

describe("a player who deletes their account", () => {
  let ctx: TestContext;
  after(() => ctx?.close());

  it("leaves every board it was on", async () => {
    const s = await setUp(new MemoryRankIndex());
    ctx = s.ctx;
    const a = await registerPlayer(ctx.app);
    const b = await registerPlayer(ctx.app);
    for (const p of [a, b]) {
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/events",
        headers: { "x-api-key": s.apiKey },
        payload: { type: "meal.logged", userId: p.id, data: { mealType: "lunch", calories: 500 } },
      });
      assert.equal(res.statusCode, 201, res.body);
    }
    const boards = async () => {
      const res = await ctx.app.inject({
        method: "GET",
        url: "/v1/leaderboards/xp-weekly",
        headers: { "x-api-key": s.apiKey },
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json<Page>().items.map((r) => r.userId);
    };
    assert.deepEqual((await boards()).sort(), [a.id, b.id].sort());
    const res = await ctx.app.inject({
      method: "DELETE",
      url: "/v1/me",
      headers: bearer(a.accessToken),
      payload: { password: a.password },
    });
    assert.equal(res.statusCode, 204, res.body);
    assert.deepEqual(await boards(), [b.id]);
  });
});

describe("an event racing a deactivation", () => {
  let ctx: TestContext;
  after(() => ctx?.close());

  it("waits for the player's lock, then sees the player gone and writes nothing", async () => {
    const s = await setUp(new MemoryRankIndex());
    ctx = s.ctx;
    const player = await registerPlayer(ctx.app);
    const send = () =>
      ctx.app.inject({
        method: "POST",
        url: "/v1/events",
        headers: { "x-api-key": s.apiKey },
        payload: { type: "meal.logged", userId: player.id, data: { mealType: "lunch", calories: 500 } },
      });
    assert.equal((await send()).statusCode, 201);
    const entries = () =>
      ctx.db.asSystem((tx) =>
        tx.one<{ n: number; ranked: number }>(
          `SELECT count(*)::int AS n, count(*) FILTER (WHERE ranked)::int AS ranked
           FROM leaderboard_entries WHERE user_id = $1`,
          [player.id],
        ),
      );
    const before = await entries();
    // A deactivation holding the player's lock (as setListed takes it) while an event arrives.
    await withClient(ctx.ownerUrl, async (c) => {
      await c.query("BEGIN");
      await c.query(`UPDATE users SET is_active = false WHERE id = $1`, [player.id]);
      await c.query(`UPDATE leaderboard_entries SET ranked = false WHERE user_id = $1`, [player.id]);
      await c.query(`SELECT 1 FROM user_progress WHERE user_id = $1 FOR UPDATE`, [player.id]);
      const racing = send();
      await new Promise((r) => setTimeout(r, 300));
      await c.query("COMMIT");
      const res = await racing;
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(res.json<{ code: string }>().code, "event.user_inactive");
    });
    const after = await entries();
    assert.equal(after.n, before.n);
    assert.equal(after.ranked, 0, "no entry of the deactivated player is ranked");
  });
});

describe("snapshots and balances", () => {
  let ctx: TestContext;
  let adminToken: string;
  let apiKey: string;

  before(async () => {
    const s = await setUp(new MemoryRankIndex());
    ({ ctx, apiKey } = s);
    adminToken = s.admin.accessToken;
  });
  after(() => ctx?.close());

  const get = async <T>(url: string) => {
    const res = await ctx.app.inject({ method: "GET", url, headers: { "x-api-key": apiKey } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<T>();
  };
  const snapshotJob = () =>
    ludusJobs({ db: ctx.db, game: ctx.game, notifications: ctx.delivery.notifications, logger: silent }).find(
      (j) => j.name === "leaderboards.snapshot",
    )!;

  it("an all-time board has a snapshot after its scheduled run, once per run", async () => {
    const player = await registerPlayer(ctx.app);
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type: "meal.logged", userId: player.id, data: { mealType: "lunch", calories: 500 } },
    });
    assert.equal(res.statusCode, 201, res.body);
    const live = await get<Page>("/v1/leaderboards/score-all-time");
    assert.equal(live.items.length, 1);
    assert.equal((await get<Snapshots>("/v1/leaderboards/score-all-time/snapshots")).items.length, 0);

    const now = ctx.clock.now();
    const run = {
      now,
      periodStart: now,
      periodEnd: new Date(now.getTime() + 86_400_000),
      lastPeriodStart: null,
      missed: 0,
    };
    const first = await snapshotJob().run(run);
    assert.ok((first.taken as number) >= 1);
    // A run cut short and run again takes no second snapshot of the same day.
    const again = await snapshotJob().run({ ...run, now: new Date(now.getTime() + 60_000) });
    assert.equal(again.taken, 0);

    const snaps = await get<Snapshots>("/v1/leaderboards/score-all-time/snapshots");
    assert.equal(snaps.items.length, 1);
    const snap = snaps.items[0]!;
    assert.equal(snap.period, "all");
    assert.equal(snap.final, false);
    assert.equal(snap.closedAt, null);
    assert.equal(snap.takenAt, now.toISOString());
    assert.equal(snap.entries, 1);
    assert.deepEqual(
      snap.top.map((r) => [r.rank, r.userId, r.score]),
      [[1, player.id, live.items[0]!.score]],
    );
  });

  it("a board of the current score ranks a spend: the balance as it stands, not what was earned", async () => {
    const create = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/leaderboards",
      headers: bearer(adminToken),
      payload: {
        key: "coins-now",
        name: "Coins now",
        source: { kind: "balance", currency: "coins" },
        period: "all",
        operator: "latest",
      },
    });
    assert.equal(create.statusCode, 201, create.body);
    const refused = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/leaderboards",
      headers: bearer(adminToken),
      payload: {
        key: "coins-sum",
        name: "x",
        source: { kind: "balance", currency: "coins" },
        period: "all",
        operator: "sum",
      },
    });
    assert.equal(refused.statusCode, 422, refused.body);

    const [a, b] = [await registerPlayer(ctx.app), await registerPlayer(ctx.app)];
    const adjust = async (userId: string, amount: number) => {
      const res = await ctx.app.inject({
        method: "POST",
        url: `/v1/admin/users/${userId}/adjustments`,
        headers: bearer(adminToken),
        payload: { currency: "coins", amount, reason: "test", idempotencyKey: randomUUID() },
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json<{ balance: number }>().balance;
    };
    const balanceA = await adjust(a.id, 1000);
    const balanceB = await adjust(b.id, 600);
    let page = await get<Page>("/v1/leaderboards/coins-now");
    assert.deepEqual(
      page.items.map((r) => [r.userId, r.score]),
      [
        [a.id, balanceA],
        [b.id, balanceB],
      ],
    );

    // a spends 700 in the shop: 300 left, now behind b.
    const item = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/shop-items",
      headers: bearer(adminToken),
      payload: { key: "big-hat", name: "Big hat", type: "avatar", price: 700, currency: "coins" },
    });
    assert.equal(item.statusCode, 201, item.body);
    const bought = await ctx.app.inject({
      method: "POST",
      url: "/v1/shop/big-hat/purchase",
      headers: bearer(a.accessToken),
      payload: { quantity: 1, idempotencyKey: randomUUID() },
    });
    assert.equal(bought.statusCode, 201, bought.body);
    page = await get<Page>("/v1/leaderboards/coins-now");
    assert.deepEqual(
      page.items.map((r) => [r.rank, r.userId, r.score]),
      [
        [1, b.id, balanceB],
        [2, a.id, balanceA - 700],
      ],
    );
    // Events move it too: a meal's coins credit b's balance in the same transaction.
    const meal = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type: "meal.logged", userId: b.id, data: { mealType: "lunch", calories: 500 } },
    });
    assert.equal(meal.statusCode, 201, meal.body);
    const wallet = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/wallet",
      headers: bearer(b.accessToken),
    });
    const coins = wallet
      .json<{ items: { currency: string; balance: number }[] }>()
      .items.find((w) => w.currency === "coins");
    page = await get<Page>("/v1/leaderboards/coins-now");
    assert.equal(page.items[0]?.userId, b.id);
    assert.equal(page.items[0]?.score, coins?.balance);
    const verify = await ctx.game.ranks.verify();
    assert.equal(verify.problems.length, 0, verify.problems.join("\n"));
  });

  it("a player's own events keep the address and user agent they came from; an app backend's do not", async () => {
    const player = await registerPlayer(ctx.app);
    const own = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { ...bearer(player.accessToken), "user-agent": "DietGame/2.1 (Android 14)" },
      remoteAddress: "203.0.113.7",
      payload: { type: "exercise.logged", data: { minutes: 20 } },
    });
    assert.equal(own.statusCode, 201, own.body);
    const fromApp = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey, "user-agent": "backend" },
      remoteAddress: "198.51.100.9",
      payload: { type: "meal.logged", userId: player.id, data: { mealType: "lunch", calories: 400 } },
    });
    assert.equal(fromApp.statusCode, 201, fromApp.body);
    const res = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/activity",
      headers: bearer(player.accessToken),
    });
    assert.equal(res.statusCode, 200, res.body);
    const items = res.json<{ items: { type: string; clientIp: string | null; userAgent: string | null }[] }>()
      .items;
    const water = items.find((e) => e.type === "exercise.logged")!;
    assert.equal(water.clientIp, "203.0.113.7");
    assert.equal(water.userAgent, "DietGame/2.1 (Android 14)");
    const meal = items.find((e) => e.type === "meal.logged")!;
    assert.equal(meal.clientIp, null);
    assert.equal(meal.userAgent, null);
  });
});
