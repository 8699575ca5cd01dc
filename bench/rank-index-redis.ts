/**
 * The Redis rank index (src/leaderboards/rank-index/redis-index.ts) at leaderboard scale, against
 * Redis's own sorted set in the same run, through the same client:
 *
 *   1. bulk load of BENCH_RANK_ENTRIES keys (1,000,000) with upsertMany (pipelined chunks), and the
 *      same players into a plain sorted set (member = user id, score = score) with pipelined ZADDs;
 *      Redis memory per entry of each (INFO used_memory delta / entries);
 *   2. rank of BENCH_RANK_QUERIES (10,000) random present keys, one at a time: RedisIndex.rank
 *      (ZLEXCOUNT) against ZREVRANK on the plain set, alternating, so both see the same noise; and
 *      rank of as many absent keys (where a score would place);
 *   3. range(offset, 100) at random offsets against ZREVRANGE … WITHSCORES on the plain set;
 *   4. upserts (moves with the previous key) a second: one at a time, BENCH_RANK_IN_FLIGHT (64) at
 *      a time, and in upsertMany batches of 1,000, each against ZADD of a new score on the plain
 *      set done the same way (BENCH_RANK_UPSERT_SECONDS, 3, each).
 *
 * Latencies are of one query at a time, measured in this process (so they include the client).
 *
 * Everything is under a prefix of its own, deleted at the end. REDIS_URL (redis://127.0.0.1:6379).
 *
 *   npx tsx bench/rank-index-redis.ts
 */
import { randomUUID } from "node:crypto";
import path from "node:path";
import { Redis } from "ioredis";
import type { RankKey } from "../src/leaderboards/rank-index/rank-index.ts";
import { RedisIndex } from "../src/leaderboards/rank-index/redis-index.ts";
import { describeMachine, fmt, intFromEnv, table } from "./lib/report.ts";

export interface RankIndexRedisOptions {
  url: string;
  entries: number;
  queries: number;
  /** Entries per range query. */
  pageSize: number;
  /** Upserts in flight at once in the concurrent upsert run. */
  inFlight: number;
  /** Duration of each upsert run. */
  upsertSeconds: number;
}

export interface Latency {
  p50: number;
  p99: number;
  mean: number;
}

export interface RankIndexRedisFigures {
  options: RankIndexRedisOptions;
  redisVersion: string;
  load: { indexSeconds: number; plainSeconds: number };
  bytesPerEntry: { index: number; plain: number };
  rank: { index: Latency; absent: Latency; zrevrank: Latency };
  range: { index: Latency; zrevrange: Latency };
  /** Moves a second; the *Zadd figures are the baseline, ZADD of a new score on the plain set. */
  upsertsPerSecond: {
    sequential: number;
    sequentialZadd: number;
    concurrent: number;
    concurrentZadd: number;
    batched: number;
    batchedZadd: number;
  };
}

export function defaultRankIndexRedisOptions(): RankIndexRedisOptions {
  return {
    url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    entries: intFromEnv("BENCH_RANK_ENTRIES", 1_000_000, 1000),
    queries: intFromEnv("BENCH_RANK_QUERIES", 10_000, 1),
    pageSize: 100,
    inFlight: intFromEnv("BENCH_RANK_IN_FLIGHT", 64, 1),
    upsertSeconds: intFromEnv("BENCH_RANK_UPSERT_SECONDS", 3, 1),
  };
}

/** Milliseconds. */
function latency(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), mean: sorted.reduce((s, x) => s + x, 0) / sorted.length };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match?.[1]) throw new Error("INFO memory has no used_memory");
  return Number(match[1]);
}

const randomInt = (n: number) => Math.floor(Math.random() * n);

/**
 * Scores as a points board has them: integers with many ties (a few thousand distinct values),
 * reached within the last 30 days.
 */
function randomKey(now: number): RankKey {
  return {
    score: Math.floor(50_000 * Math.random() ** 2),
    reachedAt: now - randomInt(30 * 86_400_000),
    userId: randomUUID(),
  };
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** Runs the measurements and returns the figures; prints progress lines through `log`. */
export async function measureRankIndexRedis(
  options: RankIndexRedisOptions,
  log: (line: string) => void = console.log,
): Promise<RankIndexRedisFigures> {
  const prefix = `ludus-bench:${process.pid}:${randomUUID()}:`;
  const redis = new Redis(options.url);
  const index = new RedisIndex({ redis, prefix });
  // Reads need the index marked built, as a rebuild marks it (of nothing yet here).
  await (await index.beginRebuild())?.finish();
  const list = "bench";
  const indexKey = index.keyOf(list);
  const plainKey = `${prefix}plain`;
  try {
    const server = await redis.info("server");
    const redisVersion = /^redis_version:(\S+)/m.exec(server)?.[1] ?? "unknown";

    // 1. bulk load and memory
    const now = Date.now();
    const keys = Array.from({ length: options.entries }, () => randomKey(now));
    log(`  loading ${options.entries.toLocaleString("en-US")} keys…`);
    const before = await usedMemory(redis);
    const indexMs = await timed(() =>
      index.upsertMany(
        list,
        keys.map((next) => ({ next })),
      ),
    );
    const afterIndex = await usedMemory(redis);
    const plainMs = await timed(async () => {
      const chunk = 1000;
      let inFlight: Promise<unknown>[] = [];
      for (let i = 0; i < keys.length; i += chunk) {
        const args: (string | number)[] = [];
        for (const k of keys.slice(i, i + chunk)) args.push(k.score, k.userId);
        inFlight.push(redis.zadd(plainKey, ...args));
        if (inFlight.length >= 16) {
          await Promise.all(inFlight);
          inFlight = [];
        }
      }
      await Promise.all(inFlight);
    });
    const afterPlain = await usedMemory(redis);
    if ((await index.size(list)) !== keys.length || (await redis.zcard(plainKey)) !== keys.length) {
      throw new Error("the bulk load lost entries");
    }

    // 2. rank, alternating which goes first
    log(`  ${options.queries.toLocaleString("en-US")} rank queries each…`);
    const ours: number[] = [];
    const raw: number[] = [];
    const absent: number[] = [];
    for (let i = 0; i < options.queries; i++) {
      const k = keys[randomInt(keys.length)] as RankKey;
      const mine = () => timed(() => index.rank(list, k));
      const theirs = () => timed(() => redis.zrevrank(plainKey, k.userId));
      if (i % 2 === 0) {
        ours.push(await mine());
        raw.push(await theirs());
      } else {
        raw.push(await theirs());
        ours.push(await mine());
      }
      const missing = randomKey(now);
      absent.push(await timed(() => index.rank(list, missing)));
    }

    // 3. range
    log(`  ${options.queries.toLocaleString("en-US")} range queries each…`);
    const pages: number[] = [];
    const rawPages: number[] = [];
    for (let i = 0; i < options.queries; i++) {
      const offset = randomInt(Math.max(1, keys.length - options.pageSize));
      const mine = () => timed(() => index.range(list, offset, options.pageSize));
      const theirs = () =>
        timed(() => redis.zrevrange(plainKey, offset, offset + options.pageSize - 1, "WITHSCORES"));
      if (i % 2 === 0) {
        pages.push(await mine());
        rawPages.push(await theirs());
      } else {
        rawPages.push(await theirs());
        pages.push(await mine());
      }
    }

    // 4. upserts: moves of random players, each player moved by one worker at a time
    log(`  upserts, ${options.upsertSeconds} s each way…`);
    const move = (i: number) => {
      const previous = keys[i] as RankKey;
      const next = { ...previous, score: previous.score + 1 + randomInt(100), reachedAt: Date.now() };
      keys[i] = next;
      return { next, previous };
    };
    /** Moves a second by `workers` workers, each `perCall` moves a call; `plain` on the plain set. */
    const rate = async (workers: number, perCall: number, plain: boolean) => {
      const deadline = performance.now() + options.upsertSeconds * 1000;
      const started = performance.now();
      let done = 0;
      await Promise.all(
        Array.from({ length: workers }, async (_, w) => {
          // Worker w moves only players i with i % workers === w.
          const slots = Math.floor(keys.length / workers);
          const pick = () => w + workers * randomInt(slots);
          while (performance.now() < deadline) {
            if (plain) {
              // A move in the plain set is a ZADD of the new score (keys[] keeps the index's state).
              const args: (string | number)[] = [];
              for (let j = 0; j < perCall; j++) {
                const k = keys[pick()] as RankKey;
                args.push(k.score + 1 + randomInt(100), k.userId);
              }
              await redis.zadd(plainKey, ...args);
            } else if (perCall === 1) {
              const { next, previous } = move(pick());
              await index.upsert(list, next, previous);
            } else {
              await index.upsertMany(
                list,
                Array.from({ length: perCall }, () => move(pick())),
              );
            }
            done += perCall;
          }
        }),
      );
      return done / ((performance.now() - started) / 1000);
    };
    const upserts = {
      sequential: await rate(1, 1, false),
      sequentialZadd: await rate(1, 1, true),
      concurrent: await rate(options.inFlight, 1, false),
      concurrentZadd: await rate(options.inFlight, 1, true),
      batched: await rate(1, 1000, false),
      batchedZadd: await rate(1, 1000, true),
    };
    if ((await index.size(list)) !== keys.length) throw new Error("the upserts lost or duplicated entries");

    return {
      options,
      redisVersion,
      load: { indexSeconds: indexMs / 1000, plainSeconds: plainMs / 1000 },
      bytesPerEntry: {
        index: (afterIndex - before) / keys.length,
        plain: (afterPlain - afterIndex) / keys.length,
      },
      rank: { index: latency(ours), absent: latency(absent), zrevrank: latency(raw) },
      range: { index: latency(pages), zrevrange: latency(rawPages) },
      upsertsPerSecond: upserts,
    };
  } finally {
    await redis.unlink(indexKey, plainKey);
    await index.close();
    await redis.quit();
  }
}

export function printRankIndexRedis(f: RankIndexRedisFigures): void {
  const n = f.options.entries;
  const ms = (x: number) => fmt(x, 3);
  const row = (name: string, l: Latency) => [name, ms(l.p50), ms(l.p99), ms(l.mean)];
  console.log(`\n  Redis ${f.redisVersion}, ${n.toLocaleString("en-US")} entries in one list`);
  console.log(
    table(
      ["bulk load", "seconds", "entries/s", "Redis bytes/entry"],
      [
        [
          "RedisIndex.upsertMany",
          fmt(f.load.indexSeconds, 2),
          fmt(n / f.load.indexSeconds, 0),
          fmt(f.bytesPerEntry.index, 1),
        ],
        [
          "baseline: ZADD score userId",
          fmt(f.load.plainSeconds, 2),
          fmt(n / f.load.plainSeconds, 0),
          fmt(f.bytesPerEntry.plain, 1),
        ],
      ],
    ),
  );
  console.log(`\n  ${f.options.queries.toLocaleString("en-US")} queries each, one at a time (ms):`);
  console.log(
    table(
      ["query", "p50", "p99", "mean"],
      [
        row("RedisIndex.rank (present key)", f.rank.index),
        row("RedisIndex.rank (absent key)", f.rank.absent),
        row("baseline: ZREVRANK", f.rank.zrevrank),
        row(`RedisIndex.range(offset, ${f.options.pageSize})`, f.range.index),
        row(`baseline: ZREVRANGE ${f.options.pageSize} WITHSCORES`, f.range.zrevrange),
      ],
    ),
  );
  const u = f.upsertsPerSecond;
  console.log(`\n  upserts (moves with the previous key), ${f.options.upsertSeconds} s each:`);
  console.log(
    table(
      ["how", "upserts/s"],
      [
        ["RedisIndex.upsert, one at a time", fmt(u.sequential, 0)],
        ["baseline: ZADD new score, one at a time", fmt(u.sequentialZadd, 0)],
        [`RedisIndex.upsert, ${f.options.inFlight} in flight`, fmt(u.concurrent, 0)],
        [`baseline: ZADD new score, ${f.options.inFlight} in flight`, fmt(u.concurrentZadd, 0)],
        ["RedisIndex.upsertMany, 1,000 a call", fmt(u.batched, 0)],
        ["baseline: ZADD 1,000 new scores a call", fmt(u.batchedZadd, 0)],
      ],
    ),
  );
}

async function main(): Promise<void> {
  console.log("Rank index in Redis (bench/rank-index-redis.ts)");
  await describeMachine();
  printRankIndexRedis(await measureRankIndexRedis(defaultRankIndexRedisOptions()));
}

if (path.resolve(process.argv[1] ?? "") === import.meta.filename) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
