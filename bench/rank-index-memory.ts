/**
 * The in-process rank index (src/leaderboards/rank-index/memory-index.ts) at leaderboard scale, one
 * list per size in BENCH_RANK_MEMORY_SIZES (1,000,000 and 10,000,000):
 *
 *   1. load: one upsertMany of every key (random scores 0 … 999,999, random times in 30 days,
 *      random UUIDs) into an empty list;
 *   2. memory per entry: heapUsed + arrayBuffers after full collections, with the loaded index, minus
 *      the same before the load (the players' own compact arrays are in both);
 *   3. rank of BENCH_RANK_MEMORY_QUERIES (100,000) random present keys and as many absent ones, one
 *      at a time; range(random offset, 100) as many times;
 *   4. BENCH_RANK_MEMORY_MOVES (1,000,000) moves of random players (upsert with the previous key, 1 …
 *      100 more points, a later time), one at a time, then as many in upsertMany calls of 1,000;
 *      memory per entry again;
 *   5. rebuilds into a fresh index in upsertMany chunks of 10,000: the rows in rank order (as
 *      ORDER BY score DESC, reached_at, user_id would stream them), then in random order.
 *
 * Keys are made fresh for each call from compact arrays, as a row read from PostgreSQL would be, not
 * fetched from ten million objects scattered over the heap (that would time the benchmark's own cache
 * misses). Each call is timed with performance.now() (wall clock, so time the process spends waiting
 * for a core on a busy machine counts); the CPU column is the process's CPU time over the same calls,
 * which such waiting does not inflate. Runs in one process and turns on --expose-gc itself.
 * BENCH_RANK_MEMORY_BLOCK_SIZE and BENCH_RANK_MEMORY_FANOUT set the index's node sizes.
 *
 *   npx tsx bench/rank-index-memory.ts
 */
import { randomFillSync } from "node:crypto";
import path from "node:path";
import v8 from "node:v8";
import { setTimeout as sleep } from "node:timers/promises";
import { runInNewContext } from "node:vm";
import { MemoryRankIndex, type MemoryRankIndexOptions } from "../src/leaderboards/rank-index/memory-index.ts";
import type { RankKey } from "../src/leaderboards/rank-index/rank-index.ts";
import { describeMachine, fail, fmt, intFromEnv, table } from "./lib/report.ts";

export interface RankIndexMemoryOptions {
  sizes: number[];
  queries: number;
  pageSize: number;
  moves: number;
  /** Moves per upsertMany call in the batched run. */
  batch: number;
  /** Rows per upsertMany call in the streamed rebuilds. */
  chunk: number;
  index: MemoryRankIndexOptions;
}

/** Wall-clock latency of single calls, in milliseconds, and CPU time of this process per call. */
export interface Latency {
  p50: number;
  p99: number;
  mean: number;
  cpuMicros: number;
}

export interface Seconds {
  wall: number;
  cpu: number;
}

export interface RankIndexMemoryFigures {
  size: number;
  load: Seconds;
  streamed: { inOrder: Seconds; randomOrder: Seconds };
  bytesPerEntry: { loaded: number; afterMoves: number };
  rank: { present: Latency; absent: Latency };
  range: Latency;
  /** One move: upsert with the previous key. */
  upsert: Latency;
  /** upsertMany of `batch` moves, per move. */
  batchedMove: { wallMicros: number; cpuMicros: number };
}

export function defaultRankIndexMemoryOptions(): RankIndexMemoryOptions {
  const raw = process.env.BENCH_RANK_MEMORY_SIZES ?? "1000000,10000000";
  const sizes = raw.split(",").map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1000)) {
    fail("BENCH_RANK_MEMORY_SIZES must be a comma-separated list of integers >= 1000");
  }
  return {
    sizes,
    queries: intFromEnv("BENCH_RANK_MEMORY_QUERIES", 100_000, 1),
    pageSize: 100,
    moves: intFromEnv("BENCH_RANK_MEMORY_MOVES", 1_000_000, 1),
    batch: 1000,
    chunk: 10_000,
    index: {
      blockSize: intFromEnv("BENCH_RANK_MEMORY_BLOCK_SIZE", 256, 4),
      fanout: intFromEnv("BENCH_RANK_MEMORY_FANOUT", 64, 4),
    },
  };
}

let gcFunction: (() => void) | undefined;

/** A full garbage collection, with --expose-gc turned on here if node was started without it. */
export function collectGarbage(): void {
  if (gcFunction === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed !== undefined) gcFunction = exposed;
    else {
      v8.setFlagsFromString("--expose-gc");
      gcFunction = runInNewContext("gc") as () => void;
    }
  }
  gcFunction();
  gcFunction();
}

/**
 * heapUsed + arrayBuffers once they settle: array buffer backing stores are freed by a sweeper that
 * runs after the collection, so one reading straight after gc() can still count dead ones.
 */
async function usedMemory(): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 20; i++) {
    collectGarbage();
    await sleep(50);
    const m = process.memoryUsage();
    const used = m.heapUsed + m.arrayBuffers;
    if (Math.abs(used - last) < 1e6) return Math.min(used, last);
    last = used;
  }
  return last;
}

const cpuMicros = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return d.user + d.system;
};

/**
 * Makes the inputs of `count` calls (10,000 at a time, outside the timing), then awaits the calls
 * one at a time, timing each.
 */
async function timeCalls<T>(
  count: number,
  make: (i: number) => T,
  call: (input: T) => Promise<unknown>,
): Promise<Latency> {
  const samples = new Float64Array(count);
  let cpu = 0;
  for (let done = 0; done < count; done += 10_000) {
    const inputs = Array.from({ length: Math.min(10_000, count - done) }, (_, k) => make(done + k));
    const since = process.cpuUsage();
    for (let k = 0; k < inputs.length; k++) {
      const t = performance.now();
      await call(inputs[k]!);
      samples[done + k] = performance.now() - t;
    }
    cpu += cpuMicros(since);
  }
  samples.sort();
  const at = (q: number) => samples[Math.min(count - 1, Math.ceil(q * count) - 1)] ?? NaN;
  let total = 0;
  for (const x of samples) total += x;
  return { p50: at(0.5), p99: at(0.99), mean: total / count, cpuMicros: cpu / count };
}

async function timeOnce(run: () => Promise<void>): Promise<Seconds> {
  const since = process.cpuUsage();
  const started = performance.now();
  await run();
  return { wall: (performance.now() - started) / 1000, cpu: cpuMicros(since) / 1e6 };
}

const randomInt = (n: number) => Math.floor(Math.random() * n);
const T0 = Date.UTC(2026, 0, 1);
const MONTH = 30 * 86_400_000;
const HEX = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/**
 * The players, compactly: score, time and user id of player i in typed arrays, so that the keys the
 * benchmark passes are made fresh for each call (as a row read from PostgreSQL would be) instead of
 * being fetched from ten million objects scattered over the heap.
 */
class Players {
  score: Float64Array;
  reachedAt: Float64Array;
  id: Uint32Array;
  private readonly codes = new Array<number>(36).fill(45);

  constructor(readonly size: number) {
    this.score = new Float64Array(size);
    this.reachedAt = new Float64Array(size);
    this.id = new Uint32Array(4 * size);
    for (let i = 0; i < size; i++) {
      this.score[i] = randomInt(1_000_000);
      this.reachedAt[i] = T0 + randomInt(MONTH);
    }
    randomFillSync(this.id);
  }

  userId(i: number): string {
    const codes = this.codes;
    let at = 0;
    for (let w = 0; w < 4; w++) {
      const word = this.id[4 * i + w]!;
      for (let k = 28; k >= 0; k -= 4) {
        if (at === 8 || at === 13 || at === 18 || at === 23) at++;
        codes[at++] = HEX[(word >>> k) & 15]!;
      }
    }
    return String.fromCharCode(...codes);
  }

  key(i: number): RankKey {
    return { score: this.score[i]!, reachedAt: this.reachedAt[i]!, userId: this.userId(i) };
  }

  /**
   * Lets go of the arrays now: V8 may keep a closure over this object alive for a while (in call
   * feedback), which would count it in the next size's memory baseline.
   */
  release(): void {
    this.score = new Float64Array(0);
    this.reachedAt = new Float64Array(0);
    this.id = new Uint32Array(0);
  }
}

/** Loads a fresh index chunk by chunk; times the upsertMany calls only. */
async function timeStreamed(
  options: RankIndexMemoryOptions,
  chunks: AsyncIterable<RankKey[]> | Iterable<RankKey[]>,
): Promise<Seconds> {
  const index = new MemoryRankIndex(options.index);
  const total = { wall: 0, cpu: 0 };
  for await (const chunk of chunks) {
    const changes = chunk.map((next) => ({ next }));
    const t = await timeOnce(() => index.upsertMany("streamed", changes));
    total.wall += t.wall;
    total.cpu += t.cpu;
  }
  await index.close();
  return total;
}

async function measureSize(options: RankIndexMemoryOptions, size: number): Promise<RankIndexMemoryFigures> {
  const list = "bench:period";
  const players = new Players(size);
  const index = new MemoryRankIndex(options.index);

  // Memory before and after the load, with the players' compact arrays in both.
  const before = await usedMemory();
  let changes = Array.from({ length: size }, (_, i) => ({ next: players.key(i) }));
  const load = await timeOnce(() => index.upsertMany(list, changes));
  changes = [];
  const entries = await index.size(list);
  const loaded = ((await usedMemory()) - before) / entries;

  const present = await timeCalls(
    options.queries,
    () => players.key(randomInt(size)),
    (key) => index.rank(list, key),
  );
  const strangers = new Players(Math.min(options.queries, 10_000));
  const absent = await timeCalls(
    options.queries,
    (i) => strangers.key(i % strangers.size),
    (key) => index.rank(list, key),
  );
  const range = await timeCalls(
    options.queries,
    () => randomInt(entries - options.pageSize + 1),
    (offset) => index.range(list, offset, options.pageSize),
  );

  // Moves: a random player gains 1 … 100 points, now.
  let clock = T0 + MONTH;
  const move = (): { next: RankKey; previous: RankKey } => {
    const i = randomInt(size);
    const previous = players.key(i);
    const next = { score: previous.score + 1 + randomInt(100), reachedAt: clock++, userId: previous.userId };
    players.score[i] = next.score;
    players.reachedAt[i] = next.reachedAt;
    return { next, previous };
  };
  const upsert = await timeCalls(options.moves, move, ({ next, previous }) =>
    index.upsert(list, next, previous),
  );
  const batches = Math.ceil(options.moves / options.batch);
  const perBatch = await timeCalls(
    batches,
    () => Array.from({ length: options.batch }, move),
    (batch) => index.upsertMany(list, batch),
  );
  const batchedMove = {
    wallMicros: (1000 * perBatch.mean) / options.batch,
    cpuMicros: perBatch.cpuMicros / options.batch,
  };
  if ((await index.size(list)) !== entries) throw new Error("moves changed the number of entries");
  const afterMoves = ((await usedMemory()) - before) / entries;

  // Rebuilds streamed in chunks: rows in rank order (read back from this index), then in random order.
  const inOrder = await timeStreamed(
    options,
    (async function* () {
      for (let offset = 0; offset < entries; offset += options.chunk) {
        yield await index.range(list, offset, options.chunk);
      }
    })(),
  );
  await index.close();
  let order = Uint32Array.from({ length: size }, (_, i) => i);
  for (let i = size - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  const randomOrder = await timeStreamed(
    options,
    (function* () {
      for (let offset = 0; offset < size; offset += options.chunk) {
        const end = Math.min(size, offset + options.chunk);
        yield Array.from({ length: end - offset }, (_, k) => players.key(order[offset + k]!));
      }
    })(),
  );

  order = new Uint32Array(0);
  players.release();
  strangers.release();
  return {
    size: entries,
    load,
    streamed: { inOrder, randomOrder },
    bytesPerEntry: { loaded, afterMoves },
    rank: { present, absent },
    range,
    upsert,
    batchedMove,
  };
}

export async function measureRankIndexMemory(
  options: RankIndexMemoryOptions,
): Promise<RankIndexMemoryFigures[]> {
  const figures: RankIndexMemoryFigures[] = [];
  for (const size of options.sizes) {
    figures.push(await measureSize(options, size));
    collectGarbage();
  }
  return figures;
}

export function printRankIndexMemory(
  options: RankIndexMemoryOptions,
  figures: RankIndexMemoryFigures[],
): void {
  const n = (x: number) => x.toLocaleString("en-US");
  const secs = (t: Seconds) => [fmt(t.wall, 2), fmt(t.cpu, 2)];
  const calls = (l: Latency) => [
    fmt(1000 * l.p50, 1),
    fmt(1000 * l.p99, 1),
    fmt(1000 * l.mean, 1),
    fmt(l.cpuMicros, 1),
  ];
  const perSecond = (micros: number) => fmt(1e6 / micros, 0);
  const block = options.index.blockSize ?? "default";
  const fanout = options.index.fanout ?? "default";
  for (const f of figures) {
    console.log(`\n  ${n(f.size)} entries in one list (blockSize ${block}, fanout ${fanout})`);
    console.log(
      table(
        ["load", "wall s", "CPU s"],
        [
          ["one upsertMany of every key, random order", ...secs(f.load)],
          [`upsertMany of ${n(options.chunk)} at a time, in rank order`, ...secs(f.streamed.inOrder)],
          [`upsertMany of ${n(options.chunk)} at a time, random order`, ...secs(f.streamed.randomOrder)],
        ],
      ),
    );
    console.log(
      `\n  memory: ${fmt(f.bytesPerEntry.loaded, 1)} bytes per entry after the load, ` +
        `${fmt(f.bytesPerEntry.afterMoves, 1)} after the moves (heapUsed + arrayBuffers)`,
    );
    console.log(`\n  calls one at a time, µs (wall p50 / p99 / mean; CPU of this process per call):`);
    console.log(
      table(
        ["call", "count", "p50", "p99", "mean", "CPU"],
        [
          ["rank (present key)", n(options.queries), ...calls(f.rank.present)],
          ["rank (absent key)", n(options.queries), ...calls(f.rank.absent)],
          [`range(random offset, ${options.pageSize})`, n(options.queries), ...calls(f.range)],
          ["upsert (a move, previous key given)", n(options.moves), ...calls(f.upsert)],
        ],
      ),
    );
    console.log(`\n  moves per second:`);
    console.log(
      table(
        ["how", "by wall mean", "by wall p50", "by CPU"],
        [
          [
            "upsert, one at a time",
            perSecond(1000 * f.upsert.mean),
            perSecond(1000 * f.upsert.p50),
            perSecond(f.upsert.cpuMicros),
          ],
          [
            `upsertMany of ${n(options.batch)}`,
            perSecond(f.batchedMove.wallMicros),
            "",
            perSecond(f.batchedMove.cpuMicros),
          ],
        ],
      ),
    );
  }
}

async function main(): Promise<void> {
  console.log("Rank index in this process (bench/rank-index-memory.ts)");
  await describeMachine();
  const options = defaultRankIndexMemoryOptions();
  printRankIndexMemory(options, await measureRankIndexMemory(options));
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
