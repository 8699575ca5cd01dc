/**
 * The in-process rank index (src/leaderboards/rank-index/memory-index.ts) at leaderboard scale, one
 * list per size in BENCH_RANK_MEMORY_SIZES (1,000,000 and 10,000,000):
 *
 *   1. bulk load: one upsertMany of every key (random scores 0 … 999,999, random times in 30 days,
 *      random UUIDs) into an empty list;
 *   2. memory per entry: heapUsed + arrayBuffers after a full GC, with the loaded index, minus the
 *      same before the load (the keys themselves are held throughout, so only the index counts);
 *   3. rank of BENCH_RANK_MEMORY_QUERIES (100,000) random present keys and as many absent ones, one
 *      at a time; range(random offset, 100) as many times;
 *   4. BENCH_RANK_MEMORY_MOVES (1,000,000) moves of random players (upsert with the previous key,
 *      a higher score and a later time), one at a time, then as many in upsertMany calls of 1,000;
 *      memory per entry again after them;
 *   5. rebuilds streamed in upsertMany chunks of 10,000: rows in rank order (appended), and rows in
 *      random order (each chunk sorted, then inserted or merged).
 *
 * Latencies are of the awaited call, in milliseconds, as performance.now() sees them. Runs in one
 * process; it turns on --expose-gc itself when node was not started with it.
 *
 *   npx tsx bench/rank-index-memory.ts
 */
import { randomUUID } from "node:crypto";
import path from "node:path";
import v8 from "node:v8";
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

export interface Latency {
  p50: number;
  p99: number;
  mean: number;
}

export interface RankIndexMemoryFigures {
  size: number;
  loadSeconds: number;
  bytesPerEntry: { loaded: number; afterMoves: number };
  rank: { present: Latency; absent: Latency };
  range: Latency;
  updatesPerSecond: { sequential: number; batched: number };
  streamedSeconds: { inOrder: number; randomOrder: number };
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
    index: {},
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

function usedMemory(): number {
  collectGarbage();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Milliseconds. */
function latency(samples: Float64Array): Latency {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  let total = 0;
  for (const s of sorted) total += s;
  return { p50: at(0.5), p99: at(0.99), mean: total / sorted.length };
}

const randomInt = (n: number) => Math.floor(Math.random() * n);
const T0 = Date.UTC(2026, 0, 1);
const MONTH = 30 * 86_400_000;

function randomKey(): RankKey {
  return { score: randomInt(1_000_000), reachedAt: T0 + randomInt(MONTH), userId: randomUUID() };
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
}

async function timeStreamed(options: RankIndexMemoryOptions, chunks: RankKey[][]): Promise<number> {
  const index = new MemoryRankIndex(options.index);
  let ms = 0;
  for (const chunk of chunks) {
    const changes = chunk.map((next) => ({ next }));
    const started = performance.now();
    await index.upsertMany("streamed", changes);
    ms += performance.now() - started;
  }
  await index.close();
  return ms / 1000;
}

async function measureSize(options: RankIndexMemoryOptions, size: number): Promise<RankIndexMemoryFigures> {
  const list = "bench:period";
  const changes = Array.from({ length: size }, () => ({ next: randomKey() }));
  const keys = changes.map((c) => c.next);
  const index = new MemoryRankIndex(options.index);

  const before = usedMemory();
  let started = performance.now();
  await index.upsertMany(list, changes);
  const loadSeconds = (performance.now() - started) / 1000;
  const entries = await index.size(list);
  const loaded = (usedMemory() - before) / entries;

  const samples = new Float64Array(options.queries);
  for (let i = 0; i < options.queries; i++) {
    const key = keys[randomInt(size)]!;
    const t = performance.now();
    await index.rank(list, key);
    samples[i] = performance.now() - t;
  }
  const present = latency(samples);
  for (let i = 0; i < options.queries; i++) {
    const key = randomKey();
    const t = performance.now();
    await index.rank(list, key);
    samples[i] = performance.now() - t;
  }
  const absent = latency(samples);
  for (let i = 0; i < options.queries; i++) {
    const offset = randomInt(entries - options.pageSize + 1);
    const t = performance.now();
    await index.range(list, offset, options.pageSize);
    samples[i] = performance.now() - t;
  }
  const range = latency(samples);

  let clock = T0 + MONTH;
  const moved = (previous: RankKey): RankKey => ({
    score: previous.score + 1 + randomInt(100),
    reachedAt: clock++,
    userId: previous.userId,
  });
  started = performance.now();
  for (let i = 0; i < options.moves; i++) {
    const at = randomInt(size);
    const previous = keys[at]!;
    const next = moved(previous);
    await index.upsert(list, next, previous);
    keys[at] = next;
  }
  const sequential = options.moves / ((performance.now() - started) / 1000);
  let batchedMs = 0;
  for (let done = 0; done < options.moves; done += options.batch) {
    const batch: { next: RankKey; previous: RankKey }[] = [];
    for (let i = 0; i < options.batch; i++) {
      const at = randomInt(size);
      const previous = keys[at]!;
      const next = moved(previous);
      batch.push({ next, previous });
      keys[at] = next;
    }
    const t = performance.now();
    await index.upsertMany(list, batch);
    batchedMs += performance.now() - t;
  }
  const batched = options.moves / (batchedMs / 1000);
  if ((await index.size(list)) !== entries) throw new Error("moves changed the number of entries");
  const afterMoves = (usedMemory() - before) / entries;

  // Rebuilds streamed in chunks: rows in rank order, then the same rows in random order.
  changes.length = 0;
  keys.length = 0;
  const ordered: RankKey[][] = [];
  for (let offset = 0; offset < entries; offset += options.chunk) {
    ordered.push(await index.range(list, offset, options.chunk));
  }
  await index.close();
  const inOrder = await timeStreamed(options, ordered);
  const rows = ordered.flat();
  ordered.length = 0;
  shuffle(rows);
  const shuffled: RankKey[][] = [];
  for (let offset = 0; offset < rows.length; offset += options.chunk) {
    shuffled.push(rows.slice(offset, offset + options.chunk));
  }
  rows.length = 0;
  const randomOrder = await timeStreamed(options, shuffled);

  return {
    size: entries,
    loadSeconds,
    bytesPerEntry: { loaded, afterMoves },
    rank: { present, absent },
    range,
    updatesPerSecond: { sequential, batched },
    streamedSeconds: { inOrder, randomOrder },
  };
}

export async function measureRankIndexMemory(options: RankIndexMemoryOptions): Promise<RankIndexMemoryFigures[]> {
  const figures: RankIndexMemoryFigures[] = [];
  for (const size of options.sizes) {
    figures.push(await measureSize(options, size));
    collectGarbage();
  }
  return figures;
}

export function printRankIndexMemory(options: RankIndexMemoryOptions, figures: RankIndexMemoryFigures[]): void {
  const n = (x: number) => x.toLocaleString("en-US");
  const ms = (l: Latency) => [fmt(l.p50, 4), fmt(l.p99, 4), fmt(l.mean, 4)];
  for (const f of figures) {
    console.log(`\n  ${n(f.size)} entries in one list`);
    console.log(
      table(
        ["measure", "value"],
        [
          ["bulk load, one upsertMany (s)", fmt(f.loadSeconds, 2)],
          [`streamed in rank order, upsertMany of ${n(options.chunk)} (s)`, fmt(f.streamedSeconds.inOrder, 2)],
          [`streamed in random order, upsertMany of ${n(options.chunk)} (s)`, fmt(f.streamedSeconds.randomOrder, 2)],
          ["bytes per entry after the load", fmt(f.bytesPerEntry.loaded, 1)],
          ["bytes per entry after the moves", fmt(f.bytesPerEntry.afterMoves, 1)],
          [`moves/s, upsert one at a time (${n(options.moves)})`, fmt(f.updatesPerSecond.sequential, 0)],
          [`moves/s, upsertMany of ${n(options.batch)} (${n(options.moves)})`, fmt(f.updatesPerSecond.batched, 0)],
        ],
      ),
    );
    console.log(`\n  ${n(options.queries)} queries each, one at a time (ms):`);
    console.log(
      table(
        ["query", "p50", "p99", "mean"],
        [
          ["rank (present key)", ...ms(f.rank.present)],
          ["rank (absent key)", ...ms(f.rank.absent)],
          [`range(random offset, ${options.pageSize})`, ...ms(f.range)],
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
