/**
 * Leaderboards at scale: a player's rank, the top 100 and the ranks around a player on one board
 * period of BENCH_LB_SIZES entries (1,000,000 and 10,000,000), answered by the in-process rank index,
 * the Redis rank index and PostgreSQL (COUNT(*) off the table's rank index, what Ludus answers with
 * when no index is ready), against Redis's own ZREVRANK/ZREVRANGE on a plain sorted set of the same
 * players through the same client, all in one run on one machine. Plus the in-process index's bytes
 * per entry, its rebuild from PostgreSQL (RankService.rebuild) and bulk load, and index updates a
 * second. For each size:
 *
 *   1. setup (not measured): leaderboard_entries of one board period filled in SQL (generate_series:
 *      scores floor(50,000 · random()²), so many ties; reached_at spread over 30 days in whole
 *      milliseconds, as Ludus writes it from JavaScript Dates; random UUIDs), indexes built after
 *      the insert, then VACUUM (ANALYZE);
 *   2. the in-process index rebuilt from PostgreSQL through RankService.rebuild() (keyset pages of
 *      50,000 in rank order), and separately bulk-loaded with one upsertMany from the same keys in an
 *      array (shuffled); bytes per entry = heapUsed + arrayBuffers after a full GC, minus the same
 *      before (the keys array is held throughout, so only the index counts);
 *   3. BENCH_LB_QUERIES (10,000) of each query, one at a time, for random players: rank, top 100
 *      (range(0, 100)) and around-me (rank, then range(rank − 5, 11)), on the bulk-loaded index;
 *   4. in-process updates a second, the median of 5 rounds of BENCH_LB_UPDATE_SECONDS (1) each:
 *      moves of random players (a higher score, a later time, with the previous key) on the
 *      bulk-loaded index, one at a time (as RankService applies them) and in upsertMany calls of
 *      1,000 distinct players; bytes per entry again after the moves;
 *   5. Redis: the same players (or BENCH_LB_REDIS_MAX of them) loaded into the Redis index
 *      (RedisIndex.upsertMany) and into a plain sorted set (score = score, member = user id); the
 *      queries of 3 on the index alternating with the baseline, ZREVRANK / ZREVRANGE … WITHSCORES on
 *      the plain set, through the same ioredis client; updates as in 4 with 64 moves in flight on the
 *      one connection (pipelined) and in upsertMany calls of 1,000, against ZADD of a new score on
 *      the plain set, 64 in flight;
 *   6. PostgreSQL through leaderboards.store.ts (countBefore; entriesAt(0, 100); countBefore then
 *      entriesAt(rank − 5, 11)), each in one Database.asSystem transaction on the runtime role's
 *      pool as Ludus runs it, BENCH_LB_PG_QUERIES (200) of each, fewer if they take longer than
 *      BENCH_LB_PG_SECONDS (30) a query kind (at least 5).
 *
 * Ranks are checked to agree: the rebuilt in-process index against the Redis index (1,000 players,
 * when Redis holds them all) and against COUNT(*) (every PostgreSQL rank query); a disagreement fails
 * the run. Latencies are of the awaited call in this process (performance.now(), ms).
 *
 * PostgreSQL: the embedded server, or a scratch database on DATABASE_URL (bench/lib/ludus.ts); the
 * scratch database's leaderboard_entries has no foreign key to users (dropped: the players exist only
 * as entries). Redis: REDIS_URL (redis://127.0.0.1:6379), under a prefix of its own, deleted at the
 * end; BENCH_LB_REDIS_MAX caps the players loaded into Redis (a random subset).
 *
 *   npm run bench:leaderboards     (node --expose-gc --max-old-space-size=8192 --import tsx …; run
 *                                   any other way, it starts itself again with those flags)
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import v8 from "node:v8";
import { Redis } from "ioredis";
import pg from "pg";
import { listName } from "../src/leaderboards/board-feed.ts";
import * as store from "../src/leaderboards/leaderboards.store.ts";
import { inspectMemoryRankIndex, MemoryRankIndex } from "../src/leaderboards/rank-index/memory-index.ts";
import type { RankKey } from "../src/leaderboards/rank-index/rank-index.ts";
import { RedisIndex } from "../src/leaderboards/rank-index/redis-index.ts";
import { RankService } from "../src/leaderboards/rank-service.ts";
import { createRuntimePool, Database } from "../src/platform/db/database.ts";
import { BENCH_ROOT } from "./lib/load.ts";
import { startLudus, type Ludus } from "./lib/ludus.ts";
import { describeMachine, describeSource, fail, fmt, intFromEnv, table } from "./lib/report.ts";
import { collectGarbage } from "./rank-index-memory.ts";

// ---------------------------------------------------------------------------------------------- settings

const HEAP_MB = 8192;
/** Set in the environment of the copy of this process started with the flags it needs. */
const RESTARTED = "LUDUS_BENCH_LB_RESTARTED";

function sizesFromEnv(): number[] {
  const raw = process.env.BENCH_LB_SIZES ?? "1000000,10000000";
  const sizes = raw.split(",").map((s) => Number(s.trim()));
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1000)) {
    fail("BENCH_LB_SIZES must be a comma-separated list of integers >= 1000");
  }
  return sizes;
}

const SIZES = sizesFromEnv();
const QUERIES = intFromEnv("BENCH_LB_QUERIES", 10_000, 1);
const PG_QUERIES = intFromEnv("BENCH_LB_PG_QUERIES", 200, 1);
const PG_SECONDS = intFromEnv("BENCH_LB_PG_SECONDS", 30, 1);
/** PostgreSQL query kinds stop early at PG_SECONDS, but not before this many queries. */
const PG_MIN_QUERIES = Math.min(5, PG_QUERIES);
const REDIS_MAX = intFromEnv("BENCH_LB_REDIS_MAX", Number.MAX_SAFE_INTEGER, 1000);
const UPDATE_SECONDS = intFromEnv("BENCH_LB_UPDATE_SECONDS", 1, 1);
const UPDATE_ROUNDS = 5;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PAGE = 100;
/** Neighbours on each side in around-me. */
const AROUND = 5;
const BATCH = 1000;
const IN_FLIGHT = 64;
/** Changes per RedisIndex.upsertMany call while loading, so the encoded keys are not all held at once. */
const REDIS_LOAD_CHUNK = 100_000;
const PERIOD_KEY = "bench";
const DAY_MS = 86_400_000;

/** The acceptance targets. */
const TARGET = { rankP99Ms: 1, rankAtSize: 10_000_000, bytesPerEntry: 100, updatesPerSecond: 100_000 };

// ----------------------------------------------------------------------------------------------- helpers

interface Latency {
  p50: number;
  p99: number;
  n: number;
}

/** Milliseconds. */
function latency(samples: number[]): Latency {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), n: sorted.length };
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

const randomInt = (n: number) => Math.floor(Math.random() * n);
const count = (n: number) => n.toLocaleString("en-US");
const seconds = (ms: number) => fmt(ms / 1000, 1);

function log(line: string): void {
  console.log(`  … ${line}`);
}

/**
 * The players of a board, column by column (ids as ASCII in one buffer, scores and times in typed
 * arrays), with their keys made when needed: so the benchmark's own heap stays small, as a server's
 * does, instead of holding 10,000,000 key objects (some 30,000,000 objects for the garbage collector
 * to mark, which it would then be measuring instead of the index).
 */
class Players {
  private constructor(
    /** The ids in rank order, 36 bytes each. */
    private readonly ids: Buffer,
    /** Scores and times by rank order. */
    private readonly scores: Float64Array,
    private readonly reached: Float64Array,
    /** Player i is at this position of the columns above: a random order. */
    private readonly order: Uint32Array,
  ) {}

  get size(): number {
    return this.order.length;
  }

  /** The keys of a rank index, in a random order. */
  static async of(index: MemoryRankIndex, list: string, size: number): Promise<Players> {
    const ids = Buffer.alloc(36 * size);
    const scores = new Float64Array(size);
    const reached = new Float64Array(size);
    let i = 0;
    for (let offset = 0; offset < size; offset += 50_000) {
      for (const key of await index.range(list, offset, 50_000)) {
        ids.write(key.userId, 36 * i, "latin1");
        scores[i] = key.score;
        reached[i] = key.reachedAt;
        i++;
      }
    }
    if (i !== size) throw new Error(`the index held ${i} keys, not ${size}`);
    const order = new Uint32Array(size);
    for (let a = 0; a < size; a++) order[a] = a;
    for (let a = size - 1; a > 0; a--) {
      const b = randomInt(a + 1);
      const t = order[a]!;
      order[a] = order[b]!;
      order[b] = t;
    }
    return new Players(ids, scores, reached, order);
  }

  /** The first `size` players, with scores and times of their own to move (the ids are shared). */
  copy(size = this.size): Players {
    return new Players(this.ids, this.scores.slice(), this.reached.slice(), this.order.subarray(0, size));
  }

  key(i: number): RankKey {
    const at = this.order[i]!;
    return {
      score: this.scores[at]!,
      reachedAt: this.reached[at]!,
      userId: this.ids.toString("latin1", 36 * at, 36 * at + 36),
    };
  }

  random(): RankKey {
    return this.key(randomInt(this.size));
  }

  /** Moves player i: a higher score, a later time (`clock`, ms, counting up). */
  move(i: number, clock: { now: number }): { next: RankKey; previous: RankKey } {
    const previous = this.key(i);
    const at = this.order[i]!;
    this.scores[at] = previous.score + 1 + randomInt(100);
    this.reached[at] = clock.now++;
    return { next: this.key(i), previous };
  }
}

/**
 * heapUsed + arrayBuffers after a full garbage collection. V8 frees the memory of dead ArrayBuffers
 * (the index's leaves) on a background thread after the collection, so this collects again until
 * two readings agree.
 */
async function usedMemory(): Promise<number> {
  let last = NaN;
  for (let attempt = 0; attempt < 20; attempt++) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const m = process.memoryUsage();
    const used = m.heapUsed + m.arrayBuffers;
    if (Math.abs(used - last) < 256 * 1024) return used;
    last = used;
  }
  return last;
}

async function redisUsedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match?.[1]) throw new Error("INFO memory has no used_memory");
  return Number(match[1]);
}

// ------------------------------------------------------------------------------------------------ setup

interface Setup {
  ludus: Ludus;
  /** The database owner, acting as the system (row-level security). */
  admin: pg.Client;
  /** Ludus's runtime pool, as the server opens it (runtime role, generic plans), one connection. */
  db: Database;
  redis: Redis;
  prefix: string;
  boardId: string;
  list: string;
  /** CREATE statements of the table's primary key and rank index, to build them after a fill. */
  rebuildIndexes: string[];
  dropIndexes: string[];
  settings: string;
}

async function setUp(): Promise<Setup> {
  const ludus = await startLudus();
  const admin = new pg.Client({ connectionString: ludus.adminUrl });
  await admin.connect();
  await admin.query(`SELECT set_config('ludus.system', 'on', false)`);
  const settings = await admin.query<{ name: string; setting: string }>(
    `SELECT name, current_setting(name) AS setting FROM unnest(ARRAY['server_version', 'shared_buffers',
       'work_mem', 'max_parallel_workers_per_gather', 'random_page_cost']) AS name`,
  );
  const board = await admin.query<{ id: string }>(
    `INSERT INTO leaderboards (key, name, source, period, operator)
     VALUES ('bench-leaderboards', 'Benchmark board', '{"kind": "submitted"}', 'month', 'best') RETURNING id`,
  );
  const boardId = board.rows[0]!.id;
  // Open, and not due to close while the benchmark runs (the server closes due periods every minute).
  await admin.query(
    `INSERT INTO leaderboard_periods (leaderboard_id, period_key, starts_at, ends_at)
     VALUES ($1, $2, now() - interval '30 days', now() + interval '365 days')`,
    [boardId, PERIOD_KEY],
  );
  const foreign = await admin.query<{ conname: string }>(
    `SELECT conname FROM pg_constraint
     WHERE conrelid = 'leaderboard_entries'::regclass AND contype = 'f' AND confrelid = 'users'::regclass`,
  );
  for (const { conname } of foreign.rows) {
    await admin.query(`ALTER TABLE leaderboard_entries DROP CONSTRAINT ${pg.escapeIdentifier(conname)}`);
  }
  // The primary key and the rank index, dropped before each fill and built after it, as they were.
  const primary = await admin.query<{ conname: string; def: string }>(
    `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE conrelid = 'leaderboard_entries'::regclass AND contype = 'p'`,
  );
  const rankIndex = await admin.query<{ indexdef: string }>(
    `SELECT indexdef FROM pg_indexes WHERE indexname = 'leaderboard_entries_rank_idx'`,
  );
  if (primary.rows.length !== 1 || rankIndex.rows.length !== 1) {
    throw new Error("leaderboard_entries has no primary key or no leaderboard_entries_rank_idx");
  }
  const pkey = pg.escapeIdentifier(primary.rows[0]!.conname);
  const db = new Database(createRuntimePool(ludus.adminUrl, 1, true), ludus.logger);
  const redis = new Redis(REDIS_URL);
  return {
    ludus,
    admin,
    db,
    redis,
    prefix: `ludus-bench:${process.pid}:${randomUUID()}:`,
    boardId,
    list: listName(boardId, PERIOD_KEY),
    dropIndexes: [
      `ALTER TABLE leaderboard_entries DROP CONSTRAINT IF EXISTS ${pkey}`,
      `DROP INDEX IF EXISTS leaderboard_entries_rank_idx`,
    ],
    rebuildIndexes: [
      `ALTER TABLE leaderboard_entries ADD CONSTRAINT ${pkey} ${primary.rows[0]!.def}`,
      rankIndex.rows[0]!.indexdef,
    ],
    settings: settings.rows.map((r) => `${r.name}=${r.setting}`).join(", "),
  };
}

interface Fill {
  insertMs: number;
  indexMs: number;
  vacuumMs: number;
  tableBytes: number;
  rankIndexBytes: number;
}

/** Replaces the board period's entries with `size` random ones. */
async function fill(s: Setup, size: number): Promise<Fill> {
  const { admin } = s;
  await admin.query(`TRUNCATE leaderboard_entries`);
  for (const statement of s.dropIndexes) await admin.query(statement);
  let started = performance.now();
  await admin.query(
    `INSERT INTO leaderboard_entries (leaderboard_id, period_key, user_id, score, rank_score, reached_at)
     SELECT $1, $2, gen_random_uuid(), g.score, g.score,
            date_trunc('milliseconds', now()) - interval '30 days' + floor(random() * $4::float8) * interval '1 millisecond'
     FROM (SELECT floor(50000 * random() ^ 2)::float8 AS score FROM generate_series(1, $3::int)) g`,
    [s.boardId, PERIOD_KEY, size, 30 * DAY_MS],
  );
  const insertMs = performance.now() - started;
  started = performance.now();
  await admin.query(`SET maintenance_work_mem = '1GB'`);
  for (const statement of s.rebuildIndexes) await admin.query(statement);
  await admin.query(`RESET maintenance_work_mem`);
  const indexMs = performance.now() - started;
  started = performance.now();
  await admin.query(`VACUUM (ANALYZE) leaderboard_entries`);
  const vacuumMs = performance.now() - started;
  const sizes = await admin.query<{ table_bytes: string; index_bytes: string }>(
    `SELECT pg_table_size('leaderboard_entries') AS table_bytes,
            pg_relation_size('leaderboard_entries_rank_idx') AS index_bytes`,
  );
  return {
    insertMs,
    indexMs,
    vacuumMs,
    tableBytes: Number(sizes.rows[0]!.table_bytes),
    rankIndexBytes: Number(sizes.rows[0]!.index_bytes),
  };
}

// -------------------------------------------------------------------------------------------- measuring

interface Queries {
  rank: Latency;
  top: Latency;
  around: Latency;
}

interface Figures {
  size: number;
  fill: Fill;
  rebuildMs: number;
  bulkLoadMs: number;
  bytesPerEntry: { rebuilt: number; bulkLoaded: number; afterMoves: number };
  leafFill: { loaded: number; afterMoves: number };
  memory: Queries;
  redisSize: number;
  redisLoadMs: { index: number; plain: number };
  redisBytesPerEntry: { index: number; plain: number };
  redisIndex: Queries;
  zrevrank: Queries;
  postgres: Queries;
  updates: {
    memorySequential: UpdateRate;
    memoryBatched: UpdateRate;
    redisPipelined: UpdateRate;
    redisBatched: UpdateRate;
    zaddPipelined: UpdateRate;
  };
}

/** BATCH moves of distinct players, as a batch of events moves each player once. */
function distinctMoves(players: Players, clock: { now: number }): { next: RankKey; previous: RankKey }[] {
  const batch = new Map<number, { next: RankKey; previous: RankKey }>();
  while (batch.size < BATCH) {
    const i = randomInt(players.size);
    if (!batch.has(i)) batch.set(i, players.move(i, clock));
  }
  return [...batch.values()];
}

/** Runs `query` once per sample, one at a time; `count` of them, or fewer if past `maxMs`. */
async function sample(
  samples: number,
  query: (i: number) => Promise<unknown>,
  maxMs = Infinity,
  minSamples = samples,
): Promise<Latency> {
  const times: number[] = [];
  const deadline = performance.now() + maxMs;
  for (let i = 0; i < samples; i++) {
    if (i >= minSamples && performance.now() > deadline) break;
    times.push(await timed(() => query(i)));
  }
  return latency(times);
}

interface UpdateRate {
  /** Moves a second, the median round. */
  rate: number;
  /** This process's CPU time (all its threads) over the wall time of the rounds. */
  cpuShare: number;
  /** Garbage collection pauses over the wall time of the rounds. */
  gcShare: number;
}

/** Garbage collections of the whole run, as PerformanceObserver reports them. */
const collections: { start: number; duration: number }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) collections.push({ start: e.startTime, duration: e.duration });
}).observe({ entryTypes: ["gc"] });

/**
 * Moves a second: `move` (which moves `perCall` players) run by `workers` at a time for
 * UPDATE_SECONDS, UPDATE_ROUNDS times.
 */
async function updateRate(
  workers: number,
  perCall: number,
  move: (worker: number) => Promise<void>,
): Promise<UpdateRate> {
  const rates: number[] = [];
  const cpu = process.cpuUsage();
  const from = performance.now();
  for (let round = 0; round < UPDATE_ROUNDS; round++) {
    const started = performance.now();
    const deadline = started + UPDATE_SECONDS * 1000;
    let done = 0;
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        while (performance.now() < deadline) {
          await move(w);
          done += perCall;
        }
      }),
    );
    rates.push(done / ((performance.now() - started) / 1000));
  }
  const to = performance.now();
  const used = process.cpuUsage(cpu);
  // The observer reports collections on a later turn of the event loop.
  await new Promise((resolve) => setTimeout(resolve, 10));
  let gcMs = 0;
  for (const c of collections) if (c.start >= from && c.start < to) gcMs += c.duration;
  return {
    rate: rates.sort((a, b) => a - b)[rates.length >> 1]!,
    cpuShare: (used.user + used.system) / 1000 / (to - from),
    gcShare: gcMs / (to - from),
  };
}

/**
 * One size. `previous` are the in-process indexes of the size before, still open (see below);
 * returns this size's, open, for the next.
 */
async function measureSize(
  s: Setup,
  size: number,
  previous: MemoryRankIndex[],
): Promise<{ figures: Figures; indexes: MemoryRankIndex[] }> {
  const { list, db, redis } = s;
  console.log(`\n${count(size)} entries in one board period`);
  log(`filling leaderboard_entries in SQL…`);
  const filled = await fill(s, size);
  log(
    `filled in ${seconds(filled.insertMs + filled.indexMs + filled.vacuumMs)} s (insert ${seconds(filled.insertMs)} s, ` +
      `primary key and rank index ${seconds(filled.indexMs)} s, VACUUM ANALYZE ${seconds(filled.vacuumMs)} s)`,
  );

  // 2. rebuild from PostgreSQL, then the same keys bulk-loaded from an array
  //
  // Memory is compared only between states in which the same trees are alive: memory-index.ts keeps
  // the path of its last descent in module variables, so a tree that was dropped stays reachable
  // until a descent in another tree of at least its height overwrites that path. So the indexes of
  // the size before stay open across this rebuild, and the rebuilt one until the next size's.
  log(`RankService.rebuild() from PostgreSQL…`);
  const rebuiltIndex = new MemoryRankIndex();
  const service = new RankService(rebuiltIndex, db, s.ludus.logger);
  const beforeRebuild = await usedMemory();
  const rebuildMs = await timed(() => service.rebuild());
  if (!service.usable || (await rebuiltIndex.size(list)) !== size) {
    throw new Error(
      `the rebuild left ${await rebuiltIndex.size(list)} entries, not ${size} (usable: ${service.usable})`,
    );
  }
  const rebuilt = ((await usedMemory()) - beforeRebuild) / size;
  for (const ix of previous) await ix.close();
  log(`rebuilt in ${seconds(rebuildMs)} s`);
  const players = await Players.of(rebuiltIndex, list, size);

  const beforeBulkLoad = await usedMemory();
  let changes: { next: RankKey }[] | undefined = Array.from({ length: size }, (_, i) => ({
    next: players.key(i),
  }));
  const index = new MemoryRankIndex();
  const bulkLoadMs = await timed(() => index.upsertMany(list, changes!));
  changes = undefined; // the array goes before the reading after the load, so only the index counts
  const bulkLoaded = ((await usedMemory()) - beforeBulkLoad) / size;
  const loadedShape = inspectMemoryRankIndex(index, list);
  if (loadedShape.size !== size) throw new Error(`the bulk load left ${loadedShape.size} entries`);
  log(`bulk-loaded in ${seconds(bulkLoadMs)} s`);

  // 3a. in-process queries
  const player = () => players.random();
  const aroundIndex = async (ix: MemoryRankIndex | RedisIndex, key: RankKey) => {
    const rank = await ix.rank(list, key);
    return ix.range(list, Math.max(0, rank - AROUND), 2 * AROUND + 1);
  };
  log(`${count(QUERIES)} in-process queries of each kind…`);
  for (let i = 0; i < 1000; i++) await aroundIndex(index, player()); // warm-up
  const memory: Queries = {
    rank: await sample(QUERIES, () => index.rank(list, player())),
    top: await sample(QUERIES, () => index.range(list, 0, PAGE)),
    around: await sample(QUERIES, () => aroundIndex(index, player())),
  };

  // 4a. in-process updates, on the bulk-loaded index, with scores of their own: the rebuilt index
  // and `players` stay as PostgreSQL has them, for the checks below.
  log(`in-process updates, ${UPDATE_ROUNDS} × ${UPDATE_SECONDS} s each way…`);
  const beforeMoves = await usedMemory();
  let moving: Players | undefined = players.copy();
  const clock = { now: Date.now() };
  // 256 moves between looks at the clock, so the loop measures the index rather than the clock.
  const memorySequential = await updateRate(1, 256, async () => {
    for (let j = 0; j < 256; j++) {
      const { next, previous: previousKey } = moving!.move(randomInt(size), clock);
      await index.upsert(list, next, previousKey);
    }
  });
  const memoryBatched = await updateRate(1, BATCH, async () => {
    await index.upsertMany(list, distinctMoves(moving!, clock));
  });
  const movedShape = inspectMemoryRankIndex(index, list);
  if (movedShape.size !== size) throw new Error(`the moves left ${movedShape.size} entries, not ${size}`);
  moving = undefined; // so that only the index is counted
  const afterMoves = bulkLoaded + ((await usedMemory()) - beforeMoves) / size;

  // 3b. Redis: the index and the plain set, the same players (all, or a random subset)
  const redisSize = Math.min(size, REDIS_MAX);
  const redisPlayers = players.copy(redisSize);
  const redisIndex = new RedisIndex({ redis, prefix: s.prefix });
  // Reads need the index marked built, as a rebuild marks it (of nothing yet here).
  await (await redisIndex.beginRebuild())?.finish();
  const plainKey = `${s.prefix}plain`;
  const redisKey = redisIndex.keyOf(list);
  let redisFigures: Pick<Figures, "redisLoadMs" | "redisBytesPerEntry" | "redisIndex" | "zrevrank"> & {
    redisUpdates: { pipelined: UpdateRate; batched: UpdateRate; zadd: UpdateRate };
  };
  try {
    log(`loading ${count(redisSize)} players into Redis (index, then plain set)…`);
    const redisBefore = await redisUsedMemory(redis);
    const indexLoadMs = await timed(async () => {
      for (let i = 0; i < redisSize; i += REDIS_LOAD_CHUNK) {
        const end = Math.min(redisSize, i + REDIS_LOAD_CHUNK);
        await redisIndex.upsertMany(
          list,
          Array.from({ length: end - i }, (_, j) => ({ next: redisPlayers.key(i + j) })),
        );
      }
    });
    const redisAfterIndex = await redisUsedMemory(redis);
    const plainLoadMs = await timed(async () => {
      let inFlight: Promise<unknown>[] = [];
      for (let i = 0; i < redisSize; i += BATCH) {
        const args: (string | number)[] = [];
        for (let j = i; j < Math.min(redisSize, i + BATCH); j++) {
          const k = redisPlayers.key(j);
          args.push(k.score, k.userId);
        }
        inFlight.push(redis.zadd(plainKey, ...args));
        if (inFlight.length >= 16) {
          await Promise.all(inFlight);
          inFlight = [];
        }
      }
      await Promise.all(inFlight);
    });
    const redisAfterPlain = await redisUsedMemory(redis);
    if ((await redisIndex.size(list)) !== redisSize || (await redis.zcard(plainKey)) !== redisSize) {
      throw new Error("the Redis load lost entries");
    }
    log(`loaded in ${seconds(indexLoadMs)} s (index) and ${seconds(plainLoadMs)} s (plain set)`);

    log(`${count(QUERIES)} Redis queries of each kind, index and ZREVRANK alternating…`);
    const redisPlayer = () => redisPlayers.random();
    const aroundPlain = async (userId: string) => {
      const rank = (await redis.zrevrank(plainKey, userId)) ?? 0;
      return redis.zrevrange(plainKey, Math.max(0, rank - AROUND), rank + AROUND, "WITHSCORES");
    };
    for (let i = 0; i < 200; i++) {
      const k = redisPlayer();
      await aroundIndex(redisIndex, k);
      await aroundPlain(k.userId);
    }
    const pair = async (ours: () => Promise<unknown>, theirs: () => Promise<unknown>) => {
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < QUERIES; i++) {
        if (i % 2 === 0) {
          a.push(await timed(ours));
          b.push(await timed(theirs));
        } else {
          b.push(await timed(theirs));
          a.push(await timed(ours));
        }
      }
      return [latency(a), latency(b)] as const;
    };
    let k = redisPlayer();
    const [indexRank, plainRank] = await pair(
      () => redisIndex.rank(list, (k = redisPlayer())),
      () => redis.zrevrank(plainKey, k.userId),
    );
    const [indexTop, plainTop] = await pair(
      () => redisIndex.range(list, 0, PAGE),
      () => redis.zrevrange(plainKey, 0, PAGE - 1, "WITHSCORES"),
    );
    const [indexAround, plainAround] = await pair(
      () => aroundIndex(redisIndex, (k = redisPlayer())),
      () => aroundPlain(k.userId),
    );
    // The ranks agree with the in-process index (on the whole board, not on a subset).
    if (redisSize === size) {
      for (let i = 0; i < 1000; i++) {
        const key = redisPlayer();
        const [ours, theirs] = [await rebuiltIndex.rank(list, key), await redisIndex.rank(list, key)];
        if (ours !== theirs) throw new Error(`rank ${ours} in process, ${theirs} in Redis for ${key.userId}`);
      }
    }

    // 4b. Redis updates: worker w moves only the players i with i % IN_FLIGHT === w
    log(`Redis updates, ${UPDATE_ROUNDS} × ${UPDATE_SECONDS} s each way…`);
    const redisClock = { now: Date.now() };
    const slots = Math.floor(redisSize / IN_FLIGHT);
    const pick = (w: number) => w + IN_FLIGHT * randomInt(slots);
    const redisUpdates = {
      pipelined: await updateRate(IN_FLIGHT, 1, async (w) => {
        const { next, previous } = redisPlayers.move(pick(w), redisClock);
        await redisIndex.upsert(list, next, previous);
      }),
      batched: await updateRate(1, BATCH, async () => {
        await redisIndex.upsertMany(list, distinctMoves(redisPlayers, redisClock));
      }),
      zadd: await updateRate(IN_FLIGHT, 1, async (w) => {
        const key = redisPlayers.key(pick(w));
        await redis.zadd(plainKey, key.score + 1 + randomInt(100), key.userId);
      }),
    };
    if ((await redisIndex.size(list)) !== redisSize)
      throw new Error("the Redis moves lost or duplicated entries");
    redisFigures = {
      redisLoadMs: { index: indexLoadMs, plain: plainLoadMs },
      redisBytesPerEntry: {
        index: (redisAfterIndex - redisBefore) / redisSize,
        plain: (redisAfterPlain - redisAfterIndex) / redisSize,
      },
      redisIndex: { rank: indexRank, top: indexTop, around: indexAround },
      zrevrank: { rank: plainRank, top: plainTop, around: plainAround },
      redisUpdates,
    };
  } finally {
    await redis.unlink(redisKey, plainKey);
  }

  // 3c. PostgreSQL, as Ludus answers when the index is not ready
  log(`PostgreSQL queries (at most ${PG_QUERIES} of each kind or ${PG_SECONDS} s)…`);
  const position = (key: RankKey) => ({ rankScore: key.score, reachedMs: key.reachedAt, userId: key.userId });
  const top = () => db.asSystem((tx) => store.entriesAt(tx, s.boardId, PERIOD_KEY, 0, PAGE));
  const countBefore = (key: RankKey) =>
    db.asSystem((tx) => store.countBefore(tx, s.boardId, PERIOD_KEY, position(key)));
  const aroundPostgres = (key: RankKey) =>
    db.asSystem(async (tx) => {
      const rank = await store.countBefore(tx, s.boardId, PERIOD_KEY, position(key));
      const from = Math.max(0, rank - AROUND);
      return store.entriesAt(tx, s.boardId, PERIOD_KEY, from, rank + AROUND + 1 - from);
    });
  for (let i = 0; i < 20; i++) await top();
  for (let i = 0; i < 3; i++) await countBefore(player());
  let disagreements = 0;
  const postgres: Queries = {
    rank: await sample(
      PG_QUERIES,
      async () => {
        const key = player();
        const rank = await countBefore(key);
        if (rank !== (await rebuiltIndex.rank(list, key))) disagreements++;
      },
      PG_SECONDS * 1000,
      PG_MIN_QUERIES,
    ),
    top: await sample(PG_QUERIES, top, PG_SECONDS * 1000, PG_MIN_QUERIES),
    around: await sample(PG_QUERIES, () => aroundPostgres(player()), PG_SECONDS * 1000, PG_MIN_QUERIES),
  };
  if (disagreements > 0) throw new Error(`${disagreements} ranks from COUNT(*) differ from the index's`);

  const figures: Figures = {
    size,
    fill: filled,
    rebuildMs,
    bulkLoadMs,
    bytesPerEntry: { rebuilt, bulkLoaded, afterMoves },
    leafFill: { loaded: loadedShape.leafFill, afterMoves: movedShape.leafFill },
    memory,
    redisSize,
    redisLoadMs: redisFigures.redisLoadMs,
    redisBytesPerEntry: redisFigures.redisBytesPerEntry,
    redisIndex: redisFigures.redisIndex,
    zrevrank: redisFigures.zrevrank,
    postgres,
    updates: {
      memorySequential,
      memoryBatched,
      redisPipelined: redisFigures.redisUpdates.pipelined,
      redisBatched: redisFigures.redisUpdates.batched,
      zaddPipelined: redisFigures.redisUpdates.zadd,
    },
  };
  return { figures, indexes: [rebuiltIndex, index] };
}

// ------------------------------------------------------------------------------------------------ report

const ms = (x: number) => (x < 0.1 ? fmt(x, 4) : x < 10 ? fmt(x, 3) : fmt(x, 1));
const times = (a: number, b: number) => `${fmt(a / b, a / b < 10 ? 2 : 0)}×`;

function print(f: Figures): void {
  const n = f.size;
  const subset = f.redisSize < n ? ` (Redis: ${count(f.redisSize)} of them, BENCH_LB_REDIS_MAX)` : "";
  console.log(`\n  ${count(n)} entries${subset}: queries one at a time, latency in ms`);
  const rows: [string, Queries, string][] = [
    ["in-process index (MemoryRankIndex)", f.memory, count(f.memory.rank.n)],
    ["Redis index (RedisIndex: Lua ZLEXCOUNT, ZRANGE)", f.redisIndex, count(f.redisIndex.rank.n)],
    ["baseline: raw ZREVRANK / ZREVRANGE, same client", f.zrevrank, count(f.zrevrank.rank.n)],
    [
      "PostgreSQL: COUNT(*) / entriesAt (asSystem tx)",
      f.postgres,
      `${f.postgres.rank.n} / ${f.postgres.top.n} / ${f.postgres.around.n}`,
    ],
  ];
  console.log(
    table(
      [
        "path",
        "rank p50",
        "rank p99",
        "top-100 p50",
        "top-100 p99",
        "around-me p50",
        "around-me p99",
        "queries",
      ],
      rows.map(([name, q, queries]) => [
        name,
        ms(q.rank.p50),
        ms(q.rank.p99),
        ms(q.top.p50),
        ms(q.top.p99),
        ms(q.around.p50),
        ms(q.around.p99),
        queries,
      ]),
    ),
  );
  if (f.postgres.rank.n < PG_QUERIES || f.postgres.around.n < PG_QUERIES) {
    console.log(`  (PostgreSQL: fewer queries than ${PG_QUERIES} where ${PG_SECONDS} s ran out)`);
  }

  console.log(`\n  ratios (same run, same machine)`);
  console.log(
    table(
      ["comparison", "ratio"],
      [
        [
          "PostgreSQL COUNT(*) rank p50 / in-process rank p99 (speed-up)",
          times(f.postgres.rank.p50, f.memory.rank.p99),
        ],
        ["PostgreSQL COUNT(*) rank p50 / raw ZREVRANK p50", times(f.postgres.rank.p50, f.zrevrank.rank.p50)],
        ["Redis index rank p50 / raw ZREVRANK p50", times(f.redisIndex.rank.p50, f.zrevrank.rank.p50)],
        ["Redis index rank p99 / raw ZREVRANK p99", times(f.redisIndex.rank.p99, f.zrevrank.rank.p99)],
        ["Redis index top-100 p50 / raw ZREVRANGE p50", times(f.redisIndex.top.p50, f.zrevrank.top.p50)],
        [
          "Redis index around-me p50 / raw ZREVRANK+ZREVRANGE p50",
          times(f.redisIndex.around.p50, f.zrevrank.around.p50),
        ],
        ["raw ZREVRANK p50 / in-process rank p50 (speed-up)", times(f.zrevrank.rank.p50, f.memory.rank.p50)],
        ["PostgreSQL top-100 p50 / in-process top-100 p50", times(f.postgres.top.p50, f.memory.top.p50)],
        [
          "PostgreSQL around-me p50 / in-process around-me p50",
          times(f.postgres.around.p50, f.memory.around.p50),
        ],
      ],
    ),
  );

  const u = f.updates;
  const pgIndexPerEntry = f.fill.rankIndexBytes / n;
  console.log(`\n  index size, loading and updates`);
  console.log(
    table(
      ["measure", "value"],
      [
        ["in-process rebuild from PostgreSQL, RankService.rebuild() (s)", fmt(f.rebuildMs / 1000, 2)],
        ["  entries/s", fmt(n / (f.rebuildMs / 1000), 0)],
        ["in-process bulk load from an array, one upsertMany (s)", fmt(f.bulkLoadMs / 1000, 2)],
        ["  entries/s", fmt(n / (f.bulkLoadMs / 1000), 0)],
        ["in-process bytes/entry after the rebuild", fmt(f.bytesPerEntry.rebuilt, 1)],
        [
          `in-process bytes/entry after the bulk load (leaves ${fmt(100 * f.leafFill.loaded, 0)}% full)`,
          fmt(f.bytesPerEntry.bulkLoaded, 1),
        ],
        [
          `in-process bytes/entry after the moves (leaves ${fmt(100 * f.leafFill.afterMoves, 0)}% full)`,
          fmt(f.bytesPerEntry.afterMoves, 1),
        ],
        ["PostgreSQL leaderboard_entries_rank_idx bytes/entry", fmt(pgIndexPerEntry, 1)],
        ["PostgreSQL leaderboard_entries (table) bytes/entry", fmt(f.fill.tableBytes / n, 1)],
        [
          `Redis index load, upsertMany of ${count(REDIS_LOAD_CHUNK)} (s)`,
          fmt(f.redisLoadMs.index / 1000, 2),
        ],
        [
          `baseline: plain set load, ZADD of ${count(BATCH)}, 16 in flight (s)`,
          fmt(f.redisLoadMs.plain / 1000, 2),
        ],
        ["Redis index bytes/entry (INFO used_memory)", fmt(f.redisBytesPerEntry.index, 1)],
        ["baseline: plain set bytes/entry", fmt(f.redisBytesPerEntry.plain, 1)],
      ],
    ),
  );
  console.log(
    `\n  updates (moves with the previous key): median of ${UPDATE_ROUNDS} rounds of ${UPDATE_SECONDS} s; ` +
      `CPU = this process's CPU time (all threads) / wall time, GC = collection pauses / wall time; ` +
      `moves per CPU-second = moves/s / CPU (what the process would do with a core to itself)`,
  );
  const rate = (name: string, r: UpdateRate) => [
    name,
    fmt(r.rate, 0),
    `${fmt(100 * r.cpuShare, 0)}%`,
    `${fmt(100 * r.gcShare, 0)}%`,
    fmt(r.rate / r.cpuShare, 0),
  ];
  console.log(
    table(
      ["how", "moves/s", "CPU", "GC", "moves per CPU-second"],
      [
        rate("in-process upsert, one at a time", u.memorySequential),
        rate(`in-process upsertMany of ${count(BATCH)}`, u.memoryBatched),
        rate(`Redis index upsert, ${IN_FLIGHT} in flight (pipelined)`, u.redisPipelined),
        rate(`Redis index upsertMany of ${count(BATCH)}`, u.redisBatched),
        rate(`baseline: ZADD new score, ${IN_FLIGHT} in flight`, u.zaddPipelined),
        ["  Redis index upsert / ZADD", times(u.redisPipelined.rate, u.zaddPipelined.rate), "", "", ""],
      ],
    ),
  );
}

function printTargets(figures: Figures[]): void {
  console.log(`\nTargets`);
  const verdict = (met: boolean) => (met ? "met" : "NOT MET");
  const at10M = figures.filter((f) => f.size >= TARGET.rankAtSize);
  if (at10M.length === 0) {
    const largest = figures[figures.length - 1]!;
    console.log(
      `  in-process rank p99 < ${TARGET.rankP99Ms} ms at ${count(TARGET.rankAtSize)} entries: not measured ` +
        `(largest size ${count(largest.size)}: p99 ${ms(largest.memory.rank.p99)} ms)`,
    );
  }
  for (const f of at10M) {
    console.log(
      `  in-process rank p99 < ${TARGET.rankP99Ms} ms at ${count(f.size)} entries: ${ms(f.memory.rank.p99)} ms, ` +
        verdict(f.memory.rank.p99 < TARGET.rankP99Ms),
    );
  }
  for (const f of figures) {
    const worst = Math.max(f.bytesPerEntry.rebuilt, f.bytesPerEntry.bulkLoaded, f.bytesPerEntry.afterMoves);
    console.log(
      `  in-process bytes/entry <= ${TARGET.bytesPerEntry} at ${count(f.size)} entries: worst of rebuild, ` +
        `bulk load, after moves ${fmt(worst, 1)}, ${verdict(worst <= TARGET.bytesPerEntry)}`,
    );
  }
  for (const f of figures) {
    const { rate, cpuShare } = f.updates.memorySequential;
    console.log(
      `  in-process updates/s >= ${count(TARGET.updatesPerSecond)} at ${count(f.size)} entries (one at a time): ` +
        `${fmt(rate, 0)}, ${verdict(rate >= TARGET.updatesPerSecond)} ` +
        `(${fmt(rate / cpuShare, 0)} per CPU-second: the process had ${fmt(100 * cpuShare, 0)}% of a core)`,
    );
  }
}

// -------------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  console.log("Ludus leaderboards benchmark (bench/leaderboards.ts)");
  console.log(`  code: ${describeSource(BENCH_ROOT)}`);
  await describeMachine();
  const heapMb = v8.getHeapStatistics().heap_size_limit / 2 ** 20;
  console.log(
    `  sizes ${SIZES.map(count).join(", ")}; ${count(QUERIES)} queries of each kind (PostgreSQL: ` +
      `at most ${PG_QUERIES} or ${PG_SECONDS} s); updates: median of ${UPDATE_ROUNDS} rounds of ${UPDATE_SECONDS} s; Node heap limit ${fmt(heapMb, 0)} MB`,
  );
  const s = await setUp();
  const figures: Figures[] = [];
  try {
    const server = await s.redis.info("server");
    console.log(`  PostgreSQL: ${s.ludus.where}; ${s.settings}`);
    console.log(
      `  Redis ${/^redis_version:(\S+)/m.exec(server)?.[1] ?? "unknown"} at ${REDIS_URL}, ` +
        `prefix ${s.prefix}${REDIS_MAX < Number.MAX_SAFE_INTEGER ? `, at most ${count(REDIS_MAX)} players (BENCH_LB_REDIS_MAX)` : ""}`,
    );
    let previous: MemoryRankIndex[] = [];
    try {
      for (const size of SIZES) {
        const measured = await measureSize(s, size, previous);
        previous = measured.indexes;
        figures.push(measured.figures);
        print(measured.figures);
      }
    } finally {
      for (const ix of previous) await ix.close();
    }
    printTargets(figures);
  } finally {
    await s.redis.quit();
    await s.db.close();
    await s.admin.end();
    await s.ludus.cleanup();
  }
}

/** This process again with --expose-gc and a heap big enough for 10,000,000 keys held in an array. */
function restartWithFlags(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        "--expose-gc",
        `--max-old-space-size=${HEAP_MB}`,
        "--import",
        "tsx",
        import.meta.filename,
        ...process.argv.slice(2),
      ],
      { stdio: "inherit", env: { ...process.env, [RESTARTED]: "1" } },
    );
    child.once("error", (error) => {
      console.error(`could not start ${import.meta.filename}: ${error.message}`);
      resolve(1);
    });
    child.once("exit", (code) => resolve(code ?? 1));
  });
}

const flagsMissing =
  (globalThis as { gc?: unknown }).gc === undefined ||
  v8.getHeapStatistics().heap_size_limit < HEAP_MB * 2 ** 20;
(flagsMissing && process.env[RESTARTED] === undefined ? restartWithFlags() : main().then(() => 0)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
