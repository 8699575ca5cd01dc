/**
 * Acceptance: two Ludus instances with Redis, fed concurrently — every player's rank agrees between
 * them and with PostgreSQL; and period-close jobs started on both at once close each period once.
 *
 * Instance A is a test context (its own cloned database, a RedisIndex); instance B is a second app
 * on the same database with its own pool, definitions cache, rank service and Redis client, on the
 * same Redis prefix (test/helpers/instance.ts). Every Redis key this file writes is under a prefix
 * of its own, deleted at the end.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { listName } from "../src/leaderboards/board-feed.ts";
import { closeDuePeriods } from "../src/leaderboards/period-close.ts";
import { RedisIndex } from "../src/leaderboards/rank-index/redis-index.ts";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  registerPlayer,
  type TestContext,
} from "./helpers/context.ts";
import { capturingLogger } from "./helpers/capture-log.ts";
import { createInstance, type Instance } from "./helpers/instance.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PREFIX = `ludus-test:lbinst:${process.pid}:${randomUUID()}:`;
const PLAYERS = 20;
const ROUNDS = 10;
/** Wednesday 20 May 2026, 09:00 UTC. */
const START = "2026-05-20T09:00:00.000Z";

interface Row {
  rank: number;
  userId: string;
  score: number;
  reachedAt: string;
}
interface Standing {
  rank: number | null;
  entry: Row | null;
  neighbours: Row[];
  total: number;
}

/** The boards this file creates (all fed by submitted scores); the packs' boards are fed by events. */
const BOARDS = [
  { key: "duo-best", operator: "best", sort: "desc", period: "all" },
  { key: "duo-latest", operator: "latest", sort: "desc", period: "all", minScore: 0 },
  { key: "duo-sum-asc", operator: "sum", sort: "asc", period: "day", snapshotSize: 5 },
  {
    key: "duo-berlin",
    operator: "best",
    sort: "desc",
    period: "day",
    timeZone: "Europe/Berlin",
    snapshotSize: 3,
  },
] as const;

describe("two Ludus instances on one PostgreSQL and one Redis", () => {
  let ctx: TestContext;
  let b: Instance;
  let redis: Redis;
  let apiKey: string;
  let players: string[];

  before(async () => {
    redis = new Redis(REDIS_URL);
    ctx = await createTestContext({
      packs: ["dietgame", "questlog", "prodev", "leaderboards"],
      rankIndex: new RedisIndex({ url: REDIS_URL, prefix: PREFIX }),
    });
    ctx.clock.set(START);
    const admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write", "scores:write"]);
    for (const board of BOARDS) {
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/admin/leaderboards",
        headers: bearer(admin.accessToken),
        payload: { name: board.key, source: { kind: "submitted" }, ...board },
      });
      assert.equal(res.statusCode, 201, res.body);
    }
    players = [];
    for (let i = 0; i < PLAYERS; i++) players.push((await registerPlayer(ctx.app)).id);
    b = await createInstance(ctx.ownerUrl, ctx.clock, {
      rankIndex: new RedisIndex({ url: REDIS_URL, prefix: PREFIX }),
    });
  });

  after(async () => {
    await b?.close();
    await ctx?.close();
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", `${PREFIX}*`, "COUNT", 1000);
      if (found.length > 0) await redis.del(...found);
      cursor = next;
    } while (cursor !== "0");
    await redis.quit();
  });

  const inject = async <T>(app: FastifyInstance, method: "GET" | "POST", url: string, payload?: object) => {
    const res = await app.inject({
      method,
      url,
      headers: { "x-api-key": apiKey },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
    assert.ok(
      res.statusCode === 200 || res.statusCode === 201,
      `${method} ${url}: ${res.statusCode} ${res.body}`,
    );
    return res.json<T>();
  };

  let submissions = 0;
  const submit = (
    app: FastifyInstance,
    board: string,
    userId: string,
    score: number,
    occurredAt?: string,
  ) => {
    submissions += 1;
    return inject(app, "POST", `/v1/leaderboards/${board}/scores`, {
      userId,
      score,
      idempotencyKey: `s-${submissions}`,
      ...(occurredAt === undefined ? {} : { occurredAt }),
    });
  };
  const typingGame = (app: FastifyInstance, userId: string, score: number) =>
    inject(app, "POST", "/v1/events", {
      type: "typing.game.finished",
      userId,
      data: { score, wpm: score % 150, accuracy: 95, durationSeconds: 60 },
    });

  /** A small deterministic generator, so a failure can be replayed. */
  let seed = 20260520;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };

  /** Every player's submissions and events, round by round, split between the instances. */
  async function feed(rounds: number, during?: () => Promise<unknown>) {
    const apps = [ctx.app, b.app];
    for (let round = 0; round < rounds; round++) {
      const work: Promise<unknown>[] = [];
      for (const [p, userId] of players.entries()) {
        const on = (k: number) => apps[(p + round + k) % 2]!;
        // Small ranges and one clock instant per round: many ties, broken by reachedAt then user id.
        work.push(submit(on(0), "duo-best", userId, random(8)));
        work.push(submit(on(1), "duo-latest", userId, random(7) - 2));
        work.push(submit(on(0), "duo-sum-asc", userId, random(5) - 2));
        work.push(submit(on(1), "duo-berlin", userId, random(6)));
        work.push(typingGame(on(round % 2), userId, random(4) * 100));
      }
      if (round === Math.floor(rounds / 2) && during !== undefined) work.push(during());
      await Promise.all(work);
      ctx.clock.advance(random(3));
    }
  }

  /** Ranks from PostgreSQL: COUNT(*) of the ranked entries before each, as the naive answer. */
  async function postgresRanks(board: string, period: string) {
    return ctx.db.asSystem(async (tx) => {
      const rows = await tx.rows<{ user_id: string; rank: number; score: number; reached_at: Date }>(
        `SELECT e.user_id, e.score, e.reached_at,
                (SELECT count(*) FROM leaderboard_entries o
                 WHERE o.leaderboard_id = e.leaderboard_id AND o.period_key = e.period_key AND o.ranked
                   AND (o.rank_score > e.rank_score
                        OR (o.rank_score = e.rank_score AND (o.reached_at, o.user_id) < (e.reached_at, e.user_id))))::int + 1 AS rank
         FROM leaderboard_entries e JOIN leaderboards l ON l.id = e.leaderboard_id
         WHERE l.key = $1 AND e.period_key = $2 AND e.ranked ORDER BY rank`,
        [board, period],
      );
      return new Map(rows.map((r) => [r.user_id, r]));
    });
  }

  /**
   * Every player's standing on every board agrees on A, on B (and on any other instance given) and
   * with PostgreSQL.
   */
  async function compareEverywhere(label: string, others: Instance[] = []) {
    const instances = [{ app: ctx.app, game: ctx.game }, b, ...others];
    const apps = instances.map((i) => i.app);
    for (const [i, instance] of instances.entries()) {
      assert.ok(instance.game.ranks.usable, `instance ${i} reads its index (it took every change)`);
    }
    const { items: boards } = await inject<{ items: { key: string }[] }>(ctx.app, "GET", "/v1/leaderboards");
    let compared = 0;
    for (const { key } of boards) {
      const current = await inject<{ period: string }>(ctx.app, "GET", `/v1/leaderboards/${key}?limit=1`);
      const truth = await postgresRanks(key, current.period);
      const order = [...truth.values()];
      // Every player's standing on every instance (asked all at once: nothing writes meanwhile).
      const standings = await Promise.all(
        players.map((userId) =>
          Promise.all(
            apps.map((app) =>
              inject<Standing>(app, "GET", `/v1/leaderboards/${key}/users/${userId}?around=1`),
            ),
          ),
        ),
      );
      for (const [p, userId] of players.entries()) {
        const [onA, ...onOthers] = standings[p]!;
        const want = truth.get(userId);
        const where = `${label}: ${key} ${current.period} player ${players.indexOf(userId)}`;
        assert.ok(onA !== undefined);
        for (const [i, other] of onOthers.entries())
          assert.deepEqual(other, onA, `instance ${i + 1} agrees with A, ${where}`);
        assert.equal(onA.rank, want?.rank ?? null, `the rank is PostgreSQL's, ${where}`);
        assert.equal(onA.total, truth.size, `the total is PostgreSQL's, ${where}`);
        if (want !== undefined) {
          assert.equal(onA.entry?.score, want.score);
          assert.deepEqual(
            onA.neighbours.map((r) => [r.rank, r.userId]),
            order.slice(Math.max(0, want.rank - 2), want.rank + 1).map((r) => [r.rank, r.user_id]),
            `neighbours, ${where}`,
          );
        }
        compared += 1;
      }
      // The whole board, page by page, on each.
      for (const app of apps) {
        const seen: [number, string][] = [];
        let cursor: string | null = null;
        do {
          const page: { items: Row[]; nextCursor: string | null } = await inject(
            app,
            "GET",
            `/v1/leaderboards/${key}?limit=7${cursor === null ? "" : `&cursor=${cursor}`}`,
          );
          seen.push(...page.items.map((r): [number, string] => [r.rank, r.userId]));
          cursor = page.nextCursor;
        } while (cursor !== null);
        assert.deepEqual(
          seen,
          order.map((r) => [r.rank, r.user_id]),
          `${label}: pages of ${key}`,
        );
      }
      // A friends board.
      const friends = players.filter((_, i) => i % 4 === 1);
      const url = `/v1/leaderboards/${key}/ranks`;
      const [fa, ...fothers] = await Promise.all(
        apps.map((app) => inject<{ items: Row[] }>(app, "POST", url, { userIds: friends })),
      );
      assert.ok(fa !== undefined);
      for (const f of fothers) assert.deepEqual(f, fa);
      assert.deepEqual(
        fa.items.map((r) => [r.userId, r.rank]),
        order.filter((r) => friends.includes(r.user_id)).map((r) => [r.user_id, r.rank]),
      );
    }
    return compared;
  }

  it("fed concurrently through both, every player's rank agrees between them and with PostgreSQL", async () => {
    await feed(ROUNDS);
    const compared = await compareEverywhere("after the feed");
    assert.ok(compared >= PLAYERS * BOARDS.length);
    // The Redis lists hold exactly PostgreSQL's ranked entries.
    const lists = await ctx.db.asSystem((tx) =>
      tx.rows<{ leaderboard_id: string; period_key: string; n: number }>(
        `SELECT p.leaderboard_id, p.period_key, count(e.*) FILTER (WHERE e.ranked)::int AS n
         FROM leaderboard_periods p LEFT JOIN leaderboard_entries e USING (leaderboard_id, period_key)
         WHERE p.closed_at IS NULL GROUP BY 1, 2`,
      ),
    );
    assert.ok(lists.length >= 8);
    for (const l of lists) {
      assert.equal(await redis.zcard(`${PREFIX}rank:${listName(l.leaderboard_id, l.period_key)}`), l.n);
    }
  });

  it("period-close jobs run on both at once: each period closes once, with one snapshot", async () => {
    // Past the end of 20 May in UTC and in Berlin; the week and the month go on.
    ctx.clock.set("2026-05-21T00:00:30Z");
    const now = ctx.clock.now();
    const due = await ctx.db.asSystem((tx) =>
      tx.rows<{ leaderboard_id: string; period_key: string; key: string; snapshot_size: number }>(
        `SELECT p.leaderboard_id, p.period_key, l.key, l.snapshot_size
         FROM leaderboard_periods p JOIN leaderboards l ON l.id = p.leaderboard_id
         WHERE p.closed_at IS NULL AND p.ends_at <= $1 ORDER BY l.key`,
        [now],
      ),
    );
    assert.deepEqual(
      due.map((d) => `${d.key} ${d.period_key}`),
      ["duo-berlin 2026-05-20", "duo-sum-asc 2026-05-20", "xp-daily 2026-05-20"],
    );
    const before = new Map<string, Map<string, { rank: number }>>();
    for (const d of due) before.set(d.key, await postgresRanks(d.key, d.period_key));

    const [onA, onB] = [capturingLogger(), capturingLogger()];
    // Both instances' jobs, several ticks each, all at once.
    const counts = await Promise.all([
      closeDuePeriods(ctx.db, ctx.game.ranks, now, onA.logger),
      closeDuePeriods(b.db, b.game.ranks, now, onB.logger),
      closeDuePeriods(ctx.db, ctx.game.ranks, now, onA.logger),
      closeDuePeriods(b.db, b.game.ranks, now, onB.logger),
    ]);
    assert.equal(
      counts.reduce((n, c) => n + c, 0),
      due.length,
      `each period closed once: ${JSON.stringify(counts)}`,
    );
    const closings = [...onA.lines, ...onB.lines]
      .filter((l) => l.msg === "leaderboard period closed")
      .map((l) => `${String(l.leaderboard)} ${String(l.period)}`)
      .sort();
    assert.deepEqual(closings, due.map((d) => `${d.leaderboard_id} ${d.period_key}`).sort());
    assert.equal(await closeDuePeriods(b.db, b.game.ranks, now, onB.logger), 0);
    assert.equal(await closeDuePeriods(ctx.db, ctx.game.ranks, now, onA.logger), 0);

    for (const d of due) {
      const truth = before.get(d.key)!;
      const snapshot = await ctx.db.asSystem((tx) =>
        tx.rows<{ rank: number; user_id: string }>(
          `SELECT rank, user_id FROM leaderboard_snapshots WHERE leaderboard_id = $1 AND period_key = $2 ORDER BY rank`,
          [d.leaderboard_id, d.period_key],
        ),
      );
      const top = [...truth.entries()].filter(([, r]) => r.rank <= d.snapshot_size);
      assert.deepEqual(
        snapshot.map((s) => [s.rank, s.user_id]),
        top.map(([userId, r]) => [r.rank, userId]),
        `one snapshot of ${d.key} ${d.period_key}: the top ${d.snapshot_size}`,
      );
      const finals = await ctx.db.asSystem((tx) =>
        tx.rows<{ user_id: string; final_rank: number | null; ranked: boolean }>(
          `SELECT user_id, final_rank, ranked FROM leaderboard_entries WHERE leaderboard_id = $1 AND period_key = $2`,
          [d.leaderboard_id, d.period_key],
        ),
      );
      for (const f of finals) assert.equal(f.final_rank, f.ranked ? truth.get(f.user_id)!.rank : null);
      const period = await ctx.db.asSystem((tx) =>
        tx.one<{ closed_at: Date; entries: number }>(
          `SELECT closed_at, entries FROM leaderboard_periods WHERE leaderboard_id = $1 AND period_key = $2`,
          [d.leaderboard_id, d.period_key],
        ),
      );
      assert.equal(period.closed_at.getTime(), now.getTime());
      assert.equal(period.entries, truth.size);
      // The index forgot the closed period; both instances read its final ranks from PostgreSQL.
      assert.equal(await redis.exists(`${PREFIX}rank:${listName(d.leaderboard_id, d.period_key)}`), 0);
      for (const app of [ctx.app, b.app]) {
        const page = await inject<{ closed: boolean; items: Row[]; nextCursor: string | null }>(
          app,
          "GET",
          `/v1/leaderboards/${d.key}?period=${d.period_key}&limit=100`,
        );
        assert.equal(page.closed, true);
        assert.deepEqual(
          page.items.map((r) => [r.rank, r.userId]),
          [...truth.entries()].map(([userId, r]) => [r.rank, userId]),
        );
        const snaps = await inject<{ items: { period: string; top: { rank: number }[] }[] }>(
          app,
          "GET",
          `/v1/leaderboards/${d.key}/snapshots`,
        );
        assert.deepEqual(
          snaps.items.map((s) => [s.period, s.top.length]),
          [[d.period_key, Math.min(d.snapshot_size, truth.size)]],
        );
      }
    }

    // The next day's periods fill on both instances and still agree.
    await feed(2);
    await compareEverywhere("the next day");
  });

  it("an instance joining while both are fed uses the shared index as built, and all three agree", async () => {
    ctx.clock.advance(60_000);
    assert.equal(await ctx.game.ranks.index.isBuilt?.(), true);
    let c: Instance | undefined;
    try {
      await feed(4, async () => {
        // As src/server.ts starts it: the shared index is marked built, so it is used as it is.
        c = await createInstance(ctx.ownerUrl, ctx.clock, {
          rankIndex: new RedisIndex({ url: REDIS_URL, prefix: PREFIX }),
        });
        assert.ok(c.game.ranks.usable);
      });
      await compareEverywhere("after an instance joined during the feed", [c!]);
      assert.deepEqual((await ctx.game.ranks.verify()).problems, []);
    } finally {
      await c?.close();
    }
  });

  it("a rebuild on one instance while both are fed: every instance ends agreeing with PostgreSQL", async () => {
    ctx.clock.advance(60_000);
    let rebuilt = false;
    // B's reads while A rebuilds: the shared index is out of service, so they come from PostgreSQL.
    const readsMeanwhile: Standing[] = [];
    await feed(6, async () => {
      const rebuilding = ctx.game.ranks.rebuild();
      readsMeanwhile.push(
        await inject<Standing>(b.app, "GET", `/v1/leaderboards/duo-best/users/${players[0]}?around=0`),
      );
      await rebuilding;
      rebuilt = true;
    });
    assert.ok(rebuilt);
    assert.equal(readsMeanwhile.length, 1);
    assert.ok(ctx.game.ranks.usable && b.game.ranks.usable);
    await compareEverywhere("after a rebuild during the feed");
    assert.deepEqual((await ctx.game.ranks.verify()).problems, []);
    assert.deepEqual((await b.game.ranks.verify()).problems, []);
  });

  it("an index write that fails on one instance takes every instance off the index until it is rebuilt", async () => {
    ctx.clock.advance(60_000);
    const index = ctx.game.ranks.index;
    const upsert = index.upsert.bind(index);
    let failures = 0;
    index.upsert = () => {
      failures += 1;
      index.upsert = upsert; // fails once
      return Promise.reject(new Error("connection lost"));
    };
    const [first] = players;
    await submit(ctx.app, "duo-best", first!, 1_000_000);
    assert.equal(failures, 1);
    assert.equal(ctx.game.ranks.usable, false);
    // The index lacks that score; B must not answer from it.
    assert.equal(await index.isBuilt?.(), false);
    const onB = await inject<Standing>(b.app, "GET", `/v1/leaderboards/duo-best/users/${first}?around=0`);
    assert.equal(onB.rank, 1);
    assert.equal(onB.entry?.score, 1_000_000);
    // A rebuilds by itself (after a second), and both serve from the index again.
    for (let waited = 0; !ctx.game.ranks.usable; waited += 100) {
      assert.ok(waited < 20_000, "A rebuilt the index within 20 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await index.isBuilt?.(), true);
    await feed(2);
    await compareEverywhere("after a failed write and the rebuild that followed");
    assert.deepEqual((await ctx.game.ranks.verify()).problems, []);
  });
});
