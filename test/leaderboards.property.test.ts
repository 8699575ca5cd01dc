/**
 * Acceptance: every leaderboard read — a player's rank, top-N pages walked with their cursors (and
 * resumed from other and stale cursors), a player's neighbours at the edges, a friends' ranks — is
 * compared against a naive sort of the same entries, under random inserts, updates, ties and
 * deletions (entries falling below a board's minScore), for both rank index implementations: in
 * this process (with tiny tree nodes, so splits and merges happen) and in Redis. The same reads are
 * also answered by a rank service whose index is not ready (PostgreSQL) and by one rebuilt from
 * PostgreSQL, and must agree.
 *
 * Each run creates a board through the admin API with a random operator (latest, so scores go up
 * and down; best; sum), sort (desc, asc) and minScore, then submits scores for a pool of players:
 * small score ranges and mostly the same clock instant, so ties are common and are broken by the
 * earlier reachedAt, then the smaller user id. A model of the submissions gives the expected
 * entries, which are also checked against the leaderboard_entries rows.
 *
 * Reproduce a failure with the seed (and path) fast-check prints: LEADERBOARD_SEED=<seed>
 * LEADERBOARD_PATH=<path>.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Redis } from "ioredis";
import pino from "pino";
import { LeaderboardsService } from "../src/leaderboards/leaderboards.service.ts";
import { MemoryRankIndex } from "../src/leaderboards/rank-index/memory-index.ts";
import type { RankIndex, RankKey } from "../src/leaderboards/rank-index/rank-index.ts";
import { RedisIndex } from "../src/leaderboards/rank-index/redis-index.ts";
import { RankService } from "../src/leaderboards/rank-service.ts";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  registerPlayer,
  type TestContext,
} from "./helpers/context.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PREFIX = `ludus-test:lbprop:${process.pid}:${randomUUID()}:`;
const silent = pino({ level: "silent" });
const PLAYERS = 16;
const START = "2026-04-15T12:00:00.000Z";
const RUNS = Number(process.env.LEADERBOARD_RUNS ?? 20);
const SEED = process.env.LEADERBOARD_SEED === undefined ? undefined : Number(process.env.LEADERBOARD_SEED);
const PATH = process.env.LEADERBOARD_PATH;

// ---- the model -----------------------------------------------------------------------------------

interface BoardSpec {
  operator: "sum" | "best" | "latest";
  sort: "desc" | "asc";
  minScore: number | null;
}

interface Entry {
  userId: string;
  score: number;
  reachedMs: number;
  ranked: boolean;
}

/** What a submission does to an entry, as the board's rules say (undefined: no change). */
function applyScore(board: BoardSpec, entry: Entry | undefined, userId: string, value: number, atMs: number) {
  const better = (a: number, b: number) => (board.sort === "desc" ? a > b : a < b);
  let score: number;
  if (board.operator === "sum") score = (entry?.score ?? 0) + value;
  else if (board.operator === "best")
    score = entry === undefined || better(value, entry.score) ? value : entry.score;
  else score = value;
  if (entry !== undefined && score === entry.score) return undefined;
  const ranked = board.minScore === null || score === board.minScore || better(score, board.minScore);
  return { userId, score, reachedMs: atMs, ranked };
}

/** The naive order: better score first, then earlier reachedAt, then smaller user id. */
function naiveCompare(board: BoardSpec, a: Entry, b: Entry): number {
  if (a.score !== b.score) return (board.sort === "desc" ? a.score > b.score : a.score < b.score) ? -1 : 1;
  if (a.reachedMs !== b.reachedMs) return a.reachedMs - b.reachedMs;
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

interface Row {
  rank: number;
  userId: string;
  score: number;
  reachedAt: string;
}

const rowOf = (e: Entry, i: number): Row => ({
  rank: i + 1,
  userId: e.userId,
  score: e.score,
  reachedAt: new Date(e.reachedMs).toISOString(),
});
/** What the tests compare of a row the API gives (the rest is the player's card). */
const project = (r: Row): Row => ({ rank: r.rank, userId: r.userId, score: r.score, reachedAt: r.reachedAt });

// ---- the steps -----------------------------------------------------------------------------------

type Step =
  | { kind: "submit"; player: number; score: number; offsetMs: number; advanceMs: number }
  | { kind: "replay"; which: number }
  | { kind: "check"; limit: number; around: number };

const scoreArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(0.5, -0.5, 1.5, 10, -10) },
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({
      kind: fc.constant("submit" as const),
      player: fc.nat(PLAYERS - 1),
      score: scoreArb,
      // occurredAt around now: the same instant for most, a millisecond or two apart for some.
      offsetMs: fc.oneof(
        { weight: 4, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }) },
      ),
      advanceMs: fc.oneof(
        { weight: 5, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("replay" as const), which: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("check" as const),
      limit: fc.integer({ min: 1, max: 7 }),
      around: fc.integer({ min: 0, max: 4 }),
    }),
  },
);
const runArb = fc.record({
  board: fc.record({
    operator: fc.constantFrom("sum" as const, "best" as const, "latest" as const),
    sort: fc.constantFrom("desc" as const, "asc" as const),
    minScore: fc.oneof(
      { weight: 1, arbitrary: fc.constant(null) },
      { weight: 2, arbitrary: fc.integer({ min: -2, max: 2 }) },
    ),
  }),
  steps: fc.array(stepArb, { minLength: 5, maxLength: 70 }),
  final: fc.record({ limit: fc.integer({ min: 1, max: 7 }), around: fc.integer({ min: 0, max: 4 }) }),
});

// ---- readers -------------------------------------------------------------------------------------

interface Standing {
  rank: number | null;
  entry: Row | null;
  neighbours: Row[];
  total: number;
}

/** One way of asking for the reads: the HTTP API, or a LeaderboardsService called directly. */
interface Reader {
  name: string;
  page(
    key: string,
    limit: number,
    cursor?: string,
  ): Promise<{ items: Row[]; nextCursor: string | null; period: string; closed: boolean }>;
  standing(key: string, userId: string, around: number): Promise<Standing>;
  ranks(key: string, userIds: string[]): Promise<Row[]>;
}

function serviceReader(name: string, service: LeaderboardsService): Reader {
  return {
    name,
    page: (key, limit, cursor) => service.page(key, { limit, ...(cursor === undefined ? {} : { cursor }) }),
    standing: (key, userId, around) => service.standing(key, userId, { around }),
    ranks: async (key, userIds) => (await service.ranksOf(key, userIds)).items,
  };
}

function httpReader(ctx: TestContext, apiKey: string): Reader {
  const call = async <T>(method: "GET" | "POST", url: string, payload?: unknown) => {
    const res = await ctx.app.inject({
      method,
      url,
      headers: { "x-api-key": apiKey },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
    assert.equal(res.statusCode, 200, `${method} ${url}: ${res.body}`);
    return res.json<T>();
  };
  return {
    name: "http",
    page: (key, limit, cursor) =>
      call("GET", `/v1/leaderboards/${key}?limit=${limit}${cursor === undefined ? "" : `&cursor=${cursor}`}`),
    standing: (key, userId, around) =>
      call("GET", `/v1/leaderboards/${key}/users/${userId}?around=${around}`),
    ranks: async (key, userIds) =>
      (await call<{ items: Row[] }>("POST", `/v1/leaderboards/${key}/ranks`, { userIds })).items,
  };
}

// ---- the property --------------------------------------------------------------------------------

interface Suite {
  ctx: TestContext;
  adminToken: string;
  apiKey: string;
  players: string[];
  /** A fresh index for a service rebuilt from PostgreSQL (like another process starting). */
  freshIndex(): RankIndex;
}

let boards = 0;

interface Run {
  board: BoardSpec;
  steps: Step[];
  final: { limit: number; around: number };
}

/** −0 and 0 are the same score (strict assertions tell them apart). */
const plain = (n: number) => (n === 0 ? 0 : n);

/** Creates a board fed by submitted scores, for all time, through the admin API. */
async function createBoard(suite: Suite, board: BoardSpec) {
  const { ctx } = suite;
  boards += 1;
  const key = `prop-${process.pid}-${boards}`;
  const created = await ctx.app.inject({
    method: "POST",
    url: "/v1/admin/leaderboards",
    headers: bearer(suite.adminToken),
    payload: {
      key,
      name: key,
      source: { kind: "submitted" },
      period: "all",
      operator: board.operator,
      sort: board.sort,
      minScore: board.minScore,
    },
  });
  assert.equal(created.statusCode, 201, created.body);
  const { id: boardId } = await ctx.db.asSystem((tx) =>
    tx.one<{ id: string }>(`SELECT id FROM leaderboards WHERE key = $1`, [key]),
  );
  return { key, boardId };
}

async function runOnce(suite: Suite, run: Run) {
  const { ctx, players } = suite;
  const board = run.board;
  const { key, boardId } = await createBoard(suite, board);
  const list = `${boardId}:all`;
  ctx.clock.set(START);

  const model = new Map<string, Entry>();
  const submitted: { body: Record<string, unknown>; answer: unknown }[] = [];
  /** Cursors seen in earlier checks, with the key of the row they continue after. */
  const stale: { cursor: string; after: Entry }[] = [];
  const http = httpReader(ctx, suite.apiKey);

  const submit = async (body: Record<string, unknown>) =>
    ctx.app.inject({
      method: "POST",
      url: `/v1/leaderboards/${key}/scores`,
      headers: { "x-api-key": suite.apiKey },
      payload: body,
    });

  const check = async (limit: number, around: number, label: string) => {
    const expected = [...model.values()].filter((e) => e.ranked).sort((a, b) => naiveCompare(board, a, b));
    const rows = expected.map(rowOf);
    const n = rows.length;
    const where = `${label} ${JSON.stringify(board)} limit=${limit} around=${around}`;

    // The rows in PostgreSQL are the model's entries.
    const stored = await ctx.db.asSystem((tx) =>
      tx.rows<{ user_id: string; score: number; rank_score: number; reached_ms: number; ranked: boolean }>(
        `SELECT user_id, score, rank_score, (extract(epoch FROM reached_at) * 1000)::float8 AS reached_ms, ranked
         FROM leaderboard_entries WHERE leaderboard_id = $1 AND period_key = 'all' ORDER BY user_id`,
        [boardId],
      ),
    );
    assert.deepEqual(
      stored.map((r) => ({ userId: r.user_id, score: r.score, reachedMs: r.reached_ms, ranked: r.ranked })),
      [...model.values()].sort((a, b) => (a.userId < b.userId ? -1 : 1)).map((e) => ({ ...e })),
      `entries rows ${where}`,
    );
    for (const r of stored)
      assert.equal(plain(r.rank_score), plain(board.sort === "desc" ? r.score : -r.score));

    // The running index holds exactly the ranked entries, in the naive order.
    assert.ok(ctx.game.ranks.usable, "the index took every change (else reads fell back to PostgreSQL)");
    const keys = await ctx.game.ranks.index.range(list, 0, PLAYERS + 5);
    assert.deepEqual(
      keys.map((k: RankKey) => [k.userId, plain(k.score), k.reachedAt]),
      expected.map((e) => [e.userId, plain(board.sort === "desc" ? e.score : -e.score), e.reachedMs]),
      `index contents ${where}`,
    );
    assert.equal(await ctx.game.ranks.index.size(list), n);

    // PostgreSQL's answers: a rank service whose index is not ready (another instance starting).
    const cold = new RankService(new MemoryRankIndex(), ctx.db, silent);
    assert.equal(cold.usable, false);
    // A rank service rebuilt from PostgreSQL (a restart).
    const rebuiltIndex = suite.freshIndex();
    const rebuilt = new RankService(rebuiltIndex, ctx.db, silent);
    await rebuilt.rebuild();
    assert.equal(rebuilt.usable, true);
    const readers = [
      http,
      serviceReader("postgres", new LeaderboardsService(ctx.db, ctx.game.definitions, cold, ctx.clock)),
      serviceReader("rebuilt", new LeaderboardsService(ctx.db, ctx.game.definitions, rebuilt, ctx.clock)),
    ];
    try {
      for (const reader of readers) {
        const at = `${reader.name} ${where}`;
        // Walk every page; each is the naive slice, and each cursor resumed with another limit
        // gives the rest.
        let cursor: string | undefined;
        let offset = 0;
        const cursors: { cursor: string; after: Entry }[] = [];
        for (let pages = 0; ; pages++) {
          assert.ok(pages <= n + 1, `too many pages ${at}`);
          const page = await reader.page(key, limit, cursor);
          assert.equal(page.period, "all");
          assert.equal(page.closed, false);
          assert.deepEqual(
            page.items.map(project),
            rows.slice(offset, offset + limit),
            `page at ${offset} ${at}`,
          );
          offset += page.items.length;
          if (page.nextCursor === null) break;
          assert.ok(offset < n, `a next cursor after the last row ${at}`);
          cursor = page.nextCursor;
          cursors.push({ cursor, after: expected[offset - 1] as Entry });
        }
        assert.equal(offset, n, `the walk saw every row ${at}`);
        if (reader === http) {
          for (const [i, c] of cursors.entries()) {
            const rest = await reader.page(key, 100, c.cursor);
            assert.deepEqual(
              rest.items.map(project),
              rows.slice((i + 1) * limit),
              `resumed at ${(i + 1) * limit} ${at}`,
            );
            assert.equal(rest.nextCursor, null);
          }
        }
        // Cursors from earlier checks continue after the row they were made from, wherever that
        // row has moved since (or if it is gone).
        for (const s of stale) {
          const from = expected.findIndex((e) => naiveCompare(board, e, s.after) > 0);
          const want = from < 0 ? [] : rows.slice(from, from + limit);
          const page = await reader.page(key, limit, s.cursor);
          assert.deepEqual(
            page.items.map(project),
            want,
            `stale cursor after ${JSON.stringify(s.after)} ${at}`,
          );
        }

        // Standings: the first, second, middle, second-to-last and last players, and a few others
        // (unranked or absent ones among them).
        const ranked = new Set(expected.map((e) => e.userId));
        const picks = new Set<string>();
        for (const i of [0, 1, Math.floor(n / 2), n - 2, n - 1])
          if (i >= 0 && i < n) picks.add(expected[i]!.userId);
        for (const p of players)
          if (!ranked.has(p)) {
            picks.add(p);
            break;
          }
        for (const p of players)
          if (!ranked.has(p) && model.has(p)) {
            picks.add(p);
            break;
          }
        for (const id of picks) {
          const s = await reader.standing(key, id, around);
          const i = expected.findIndex((e) => e.userId === id);
          if (i < 0) {
            assert.deepEqual(
              [s.rank, s.entry, s.neighbours, s.total],
              [null, null, [], n],
              `standing of unranked ${id} ${at}`,
            );
          } else {
            assert.equal(s.rank, i + 1, `rank of ${id} ${at}`);
            assert.deepEqual(s.entry === null ? null : project(s.entry), rows[i], `entry of ${id} ${at}`);
            assert.deepEqual(
              s.neighbours.map(project),
              rows.slice(Math.max(0, i - around), i + around + 1),
              `neighbours of rank ${i + 1} of ${n} ${at}`,
            );
            assert.equal(s.total, n, `total ${at}`);
          }
        }

        // A friends board: every player at once, and a few.
        const all = await reader.ranks(key, players);
        assert.deepEqual(all.map(project), rows, `ranks of everyone ${at}`);
        const few = players.filter((_, i) => i % 3 === 0);
        assert.deepEqual(
          (await reader.ranks(key, few)).map(project),
          rows.filter((r) => few.includes(r.userId)),
          `ranks of a few ${at}`,
        );
      }
    } finally {
      await rebuiltIndex.close();
    }
    if (stale.length >= 4) stale.shift();
    // Keep one cursor of this check (if there was one) for the next: from the middle of the list.
    const page = await http.page(key, Math.max(1, Math.floor(n / 2)));
    if (page.nextCursor !== null)
      stale.push({ cursor: page.nextCursor, after: expected[page.items.length - 1] as Entry });
  };

  for (const [i, step] of run.steps.entries()) {
    if (step.kind === "check") {
      await check(step.limit, step.around, `step ${i}`);
      continue;
    }
    if (step.kind === "replay") {
      if (submitted.length === 0) continue;
      const first = submitted[step.which % submitted.length]!;
      const res = await submit(first.body);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(
        res.json(),
        { ...(first.answer as object), duplicate: true },
        "a replay gives the first answer",
      );
      continue;
    }
    ctx.clock.advance(step.advanceMs);
    const userId = players[step.player]!;
    const atMs = ctx.clock.now().getTime() + step.offsetMs;
    const body = {
      userId,
      score: step.score,
      occurredAt: new Date(atMs).toISOString(),
      idempotencyKey: `${key}-${i}`,
    };
    const res = await submit(body);
    assert.equal(res.statusCode, 200, res.body);
    const before = model.get(userId);
    const next = applyScore(board, before, userId, step.score, atMs);
    if (next !== undefined) model.set(userId, next);
    const answer = res.json<{ score: number; changed: boolean; duplicate: boolean }>();
    assert.deepEqual(answer, {
      board: key,
      period: "all",
      userId,
      score: (next ?? before)!.score,
      changed: next !== undefined,
      duplicate: false,
    });
    submitted.push({ body, answer });
  }
  await check(run.final.limit, run.final.around, "final");
  // ludus ranks verify agrees: every open board period's list is PostgreSQL's, entry by entry.
  assert.deepEqual((await ctx.game.ranks.verify()).problems, []);
}

/**
 * An index that missed removals (the store was unreachable) while every entry of a board left the
 * ranking: PostgreSQL answers meanwhile, and after a rebuild the index must not show them again.
 */
async function lostRemovalsThenRebuild(suite: Suite) {
  const { ctx } = suite;
  ctx.clock.set(START);
  const { key } = await createBoard(suite, { operator: "latest", sort: "desc", minScore: 10 });
  const [a, b] = suite.players as [string, string];
  let n = 0;
  const submit = async (userId: string, score: number) => {
    n += 1;
    const res = await ctx.app.inject({
      method: "POST",
      url: `/v1/leaderboards/${key}/scores`,
      headers: { "x-api-key": suite.apiKey },
      payload: { userId, score, idempotencyKey: `lost-${n}` },
    });
    assert.equal(res.statusCode, 200, res.body);
  };
  await submit(a, 20);
  await submit(b, 15);
  const index = ctx.game.ranks.index;
  const remove = index.remove.bind(index);
  index.remove = () => Promise.reject(new Error("rank index unreachable (simulated)"));
  try {
    await submit(a, 5);
    await submit(b, 5);
  } finally {
    index.remove = remove;
  }
  const http = httpReader(ctx, suite.apiKey);
  assert.equal(ctx.game.ranks.usable, false);
  assert.deepEqual((await http.page(key, 10)).items, [], "PostgreSQL answers while the index is not trusted");
  await ctx.game.ranks.rebuild();
  assert.equal(ctx.game.ranks.usable, true);
  const page = await http.page(key, 10);
  const standing = await http.standing(key, a, 1);
  assert.deepEqual(
    { page: page.items.map((r) => [r.rank, r.score]), rank: standing.rank, total: standing.total },
    { page: [], rank: null, total: 0 },
    "after the rebuild",
  );
}

async function setUp(rankIndex: RankIndex, freshIndex: () => RankIndex): Promise<Suite> {
  const ctx = await createTestContext({ rankIndex });
  ctx.clock.set(START);
  const admin = await createAdmin(ctx);
  const apiKey = await createApiKey(ctx, admin.accessToken, ["scores:write"]);
  const players: string[] = [];
  for (let i = 0; i < PLAYERS; i++) players.push((await registerPlayer(ctx.app)).id);
  return { ctx, adminToken: admin.accessToken, apiKey, players, freshIndex };
}

const property = (suite: () => Suite) =>
  fc.assert(
    fc.asyncProperty(runArb, (run) => runOnce(suite(), run)),
    {
      numRuns: RUNS,
      ...(SEED === undefined ? {} : { seed: SEED }),
      ...(PATH === undefined ? {} : { path: PATH }),
    },
  );

describe("leaderboard reads against a naive sort: in-process index", () => {
  let suite: Suite;
  before(async () => {
    // Tiny leaves and inner nodes: a handful of entries already makes a tree of several levels.
    suite = await setUp(new MemoryRankIndex({ blockSize: 4, fanout: 4 }), () => new MemoryRankIndex());
  });
  after(() => suite.ctx.close());

  it("every rank, page, cursor, neighbourhood and friends' rank matches (and PostgreSQL's and a rebuild's)", async () => {
    await property(() => suite);
  });

  it("a rebuild forgets entries the index missed leaving the ranking", async () => {
    await lostRemovalsThenRebuild(suite);
  });
});

describe("leaderboard reads against a naive sort: Redis index", () => {
  let suite: Suite;
  let redis: Redis;
  before(async () => {
    redis = new Redis(REDIS_URL);
    let rebuilds = 0;
    suite = await setUp(new RedisIndex({ url: REDIS_URL, prefix: `${PREFIX}live:` }), () => {
      rebuilds += 1;
      return new RedisIndex({ url: REDIS_URL, prefix: `${PREFIX}rebuilt-${rebuilds}:` });
    });
  });
  after(async () => {
    await suite.ctx.close();
    // Every key this file wrote is under PREFIX.
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", `${PREFIX}*`, "COUNT", 1000);
      if (found.length > 0) await redis.del(...found);
      cursor = next;
    } while (cursor !== "0");
    await redis.quit();
  });

  it("every rank, page, cursor, neighbourhood and friends' rank matches (and PostgreSQL's and a rebuild's)", async () => {
    await property(() => suite);
  });

  it("a rebuild forgets entries the index missed leaving the ranking", async () => {
    await lostRemovalsThenRebuild(suite);
  });
});
