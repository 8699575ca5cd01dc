import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { inspectMemoryRankIndex, MemoryRankIndex, sortRecords } from "./memory-index.ts";
import { compareKeys, type RankKey } from "./rank-index.ts";

const L = "board:2026-01";
const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const key = (score: number, reachedAt: number, userId: string | number): RankKey => ({
  score,
  reachedAt,
  userId: typeof userId === "number" ? id(userId) : userId,
});

/** The naive model: a sorted array of distinct keys. */
class Model {
  keys: RankKey[] = [];
  rank(k: RankKey): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid]!, k) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  has(k: RankKey): boolean {
    const r = this.rank(k);
    return r < this.keys.length && compareKeys(this.keys[r]!, k) === 0;
  }
  insert(k: RankKey): void {
    if (!this.has(k)) this.keys.splice(this.rank(k), 0, { ...k });
  }
  remove(k: RankKey): void {
    if (this.has(k)) this.keys.splice(this.rank(k), 1);
  }
}

/** Compares everything the index can say about a list with the model. */
async function agree(index: MemoryRankIndex, list: string, model: Model, probes: RankKey[]): Promise<void> {
  inspectMemoryRankIndex(index, list);
  const n = model.keys.length;
  assert.equal(await index.size(list), n);
  assert.deepEqual(await index.range(list, 0, n + 5), model.keys);
  for (let i = 0; i < n; i++) assert.equal(await index.rank(list, model.keys[i]!), i);
  for (const p of probes)
    assert.equal(await index.rank(list, p), model.rank(p), `rank of ${JSON.stringify(p)}`);
  // Pages forward and backward, of a few sizes.
  for (const page of [1, 3, 7]) {
    for (let offset = 0; offset < n; offset += page) {
      assert.deepEqual(await index.range(list, offset, page), model.keys.slice(offset, offset + page));
    }
    for (let end = n; end > 0; end -= page) {
      const offset = Math.max(0, end - page);
      assert.deepEqual(await index.range(list, offset, end - offset), model.keys.slice(offset, end));
    }
  }
  assert.deepEqual(await index.range(list, n, 10), []);
}

describe("MemoryRankIndex", () => {
  it("answers for an empty or unknown list", async () => {
    const index = new MemoryRankIndex();
    assert.equal(await index.size(L), 0);
    assert.equal(await index.rank(L, key(10, 1, 1)), 0);
    assert.deepEqual(await index.range(L, 0, 10), []);
    assert.deepEqual(await index.range(L, 5, 10), []);
    await index.remove(L, key(10, 1, 1));
    await index.drop(L);
    assert.equal(await index.size(L), 0);
  });

  it("holds one entry", async () => {
    const index = new MemoryRankIndex();
    const k = key(10, 1000, 7);
    await index.upsert(L, k);
    assert.equal(await index.size(L), 1);
    assert.equal(await index.rank(L, k), 0);
    assert.equal(await index.rank(L, key(11, 1000, 7)), 0, "a better absent key");
    assert.equal(await index.rank(L, key(9, 1000, 7)), 1, "a worse absent key");
    assert.equal(await index.rank(L, key(10, 1000, 8)), 1, "same score and time, larger id");
    assert.deepEqual(await index.range(L, 0, 10), [k]);
    assert.deepEqual(await index.range(L, 1, 10), []);
    assert.deepEqual(await index.range(L, 0, 0), []);
    await index.upsert(L, k);
    assert.equal(await index.size(L), 1, "the same key twice is one entry");
    await index.remove(L, k);
    assert.equal(await index.size(L), 0);
    assert.deepEqual(await index.range(L, 0, 10), []);
  });

  it("breaks ties on score by reachedAt, then by user id", async () => {
    const index = new MemoryRankIndex();
    const a = key(5, 100, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    const b = key(5, 200, "00000000-0000-4000-8000-000000000000");
    const c = key(5, 200, "00000000-0000-4000-8000-000000000001");
    const d = key(5, 200, "0000000a-0000-4000-8000-000000000000");
    const e = key(4, 0, "00000000-0000-4000-8000-000000000000");
    const top = key(6, 999, "12345678-9abc-4def-8123-456789abcdef");
    for (const k of [e, d, c, b, a, top]) await index.upsert(L, k);
    assert.deepEqual(await index.range(L, 0, 10), [top, a, b, c, d, e]);
    assert.equal(await index.rank(L, d), 4);
    assert.equal(await index.rank(L, key(5, 200, "00000000-0000-4000-8000-000000000002")), 4);
  });

  it("orders negative, fractional and infinite scores and times", async () => {
    const index = new MemoryRankIndex({ blockSize: 4, fanout: 4 });
    const keys = [
      key(-Infinity, 0, 1),
      key(-1.5, 0, 2),
      key(-1.25, -5, 3),
      key(-1.25, 3.5, 4),
      key(0, 0, 5),
      key(0.1, 0, 6),
      key(1e300, 0, 7),
      key(Infinity, 0, 8),
      key(Number.MAX_VALUE, -1e15, 9),
      key(-Number.MAX_VALUE, 1e15, 10),
      key(Number.MIN_VALUE, -Infinity, 11),
      key(-Number.MIN_VALUE, Infinity, 12),
      key(0.1, -0.5, 13),
      key(0.1, 0.5, 14),
    ];
    for (const k of keys) await index.upsert(L, k);
    const sorted = [...keys].sort(compareKeys);
    assert.deepEqual(await index.range(L, 0, 100), sorted);
    assert.equal(sorted[0]!.score, Infinity);
    const probe = key(-1.3, 0, 0);
    assert.equal(await index.rank(L, probe), 11);
    assert.equal(sorted.filter((k) => compareKeys(k, probe) < 0).length, 11);
    // compareKeys holds -0 and 0 equal: one key.
    await index.upsert(L, key(-0, -0, 20));
    assert.equal(await index.rank(L, key(0, 0, 21)), await index.rank(L, key(-0, -0, 21)));
    const size = await index.size(L);
    await index.upsert(L, key(0, 0, 20));
    assert.equal(await index.size(L), size);
    await index.remove(L, key(0, 0, 20));
    assert.equal(await index.size(L), size - 1);
  });

  it("removes the best and the worst, and ignores absent keys", async () => {
    const index = new MemoryRankIndex({ blockSize: 4, fanout: 4 });
    const keys = Array.from({ length: 50 }, (_, i) => key(i, 0, i));
    await index.upsertMany(
      L,
      keys.map((next) => ({ next })),
    );
    await index.remove(L, key(49, 0, 49));
    await index.remove(L, key(0, 0, 0));
    await index.remove(L, key(1000, 0, 1));
    await index.remove(L, key(10, 0, 11));
    assert.equal(await index.size(L), 48);
    assert.deepEqual((await index.range(L, 0, 1))[0], key(48, 0, 48));
    assert.deepEqual((await index.range(L, 47, 5))[0], key(1, 0, 1));
    assert.deepEqual(await index.range(L, 48, 5), []);
    assert.deepEqual(await index.range(L, 1000, 5), []);
    assert.equal((await index.range(L, 40, 100)).length, 8);
    inspectMemoryRankIndex(index, L);
  });

  it("moves an entry, and inserts when the previous key is absent", async () => {
    const index = new MemoryRankIndex();
    await index.upsert(L, key(1, 0, 1));
    await index.upsert(L, key(2, 0, 2));
    await index.upsert(L, key(3, 5, 1), key(1, 0, 1));
    assert.deepEqual(await index.range(L, 0, 10), [key(3, 5, 1), key(2, 0, 2)]);
    await index.upsert(L, key(0, 0, 3), key(9, 9, 3));
    assert.equal(await index.size(L), 3);
    await index.upsert(L, key(2, 0, 2), key(2, 0, 2));
    assert.equal(await index.size(L), 3, "moving to the same key");
  });

  it("keeps lists apart and forgets a dropped one", async () => {
    const index = new MemoryRankIndex({ blockSize: 4, fanout: 4 });
    for (let i = 0; i < 30; i++) {
      await index.upsert("a", key(i, 0, i));
      if (i % 3 === 0) await index.upsert("b", key(-i, 0, i));
    }
    assert.equal(await index.size("a"), 30);
    assert.equal(await index.size("b"), 10);
    assert.equal(await index.rank("b", key(-3, 0, 3)), 1);
    assert.equal(await index.rank("a", key(-3, 0, 3)), 30);
    await index.drop("a");
    assert.equal(await index.size("a"), 0);
    assert.deepEqual(await index.range("a", 0, 5), []);
    assert.equal(await index.size("b"), 10);
    await index.upsert("a", key(1, 1, 1));
    assert.equal(await index.size("a"), 1);
    await index.close();
    assert.equal(await index.size("b"), 0);
  });

  it("lets a dropped list go (nothing keeps its tree alive)", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const index = new MemoryRankIndex({ blockSize: 4, fanout: 4 });
    const trees = (index as unknown as { lists: Map<string, { root: object }> }).lists;
    await index.upsertMany(
      L,
      Array.from({ length: 200 }, (_, i) => ({ next: key(i, 0, i) })),
    );
    await index.upsert(L, key(50, 1, 50), key(50, 0, 50));
    const root = new WeakRef(trees.get(L)!.root);
    await index.drop(L);
    // A WeakRef holds its target until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    assert.equal(root.deref(), undefined);

    // Nor does an index let go of without close() keep its trees.
    let abandoned: MemoryRankIndex | undefined = new MemoryRankIndex({ blockSize: 4, fanout: 4 });
    await abandoned.upsertMany(
      L,
      Array.from({ length: 500 }, (_, i) => ({ next: key(i, 0, i) })),
    );
    await abandoned.upsert(L, key(50, 1, 50), key(50, 0, 50));
    const abandonedRoot = new WeakRef(
      (abandoned as unknown as { lists: Map<string, { root: object }> }).lists.get(L)!.root,
    );
    abandoned = undefined;
    await index.upsert(L, key(1, 1, 1));
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    assert.equal(abandonedRoot.deref(), undefined);
  });

  it("returns user ids as the canonical lowercase UUIDs it was given", async () => {
    const index = new MemoryRankIndex({ blockSize: 4, fanout: 4 });
    const ids = [
      "00000000-0000-0000-0000-000000000000",
      "ffffffff-ffff-ffff-ffff-ffffffffffff",
      "80000000-0000-0000-0000-000000000001",
      "7fffffff-ffff-ffff-ffff-fffffffffffe",
      ...Array.from({ length: 40 }, () => randomUUID()),
    ];
    for (const [i, userId] of ids.entries()) await index.upsert(L, { score: i % 3, reachedAt: 7, userId });
    const got = await index.range(L, 0, 100);
    assert.deepEqual(got, ids.map((userId, i) => ({ score: i % 3, reachedAt: 7, userId })).sort(compareKeys));
  });

  it("refuses keys it cannot order, changing nothing", async () => {
    const index = new MemoryRankIndex();
    const good = key(1, 1, 1);
    await index.upsert(L, good);
    const bad: RankKey[] = [
      key(NaN, 1, 2),
      key(1, NaN, 2),
      key(1, 1, "0B6A4E1C-7B7E-4F7E-9D2A-3C1F5E8A9B0C"),
      key(1, 1, "0b6a4e1c7b7e4f7e9d2a3c1f5e8a9b0c"),
      key(1, 1, "0b6a4e1c-7b7e-4f7e-9d2a-3c1f5e8a9b0g"),
      key(1, 1, "user-1"),
    ];
    for (const k of bad) {
      await assert.rejects(index.upsert(L, k), TypeError);
      await assert.rejects(index.upsert(L, k, good), TypeError);
      await assert.rejects(index.upsert(L, good, k), TypeError);
      await assert.rejects(index.rank(L, k), TypeError);
      await assert.rejects(index.remove(L, k), TypeError);
      await assert.rejects(index.upsertMany(L, [{ next: key(5, 5, 5) }, { next: k, previous: good }]));
      await assert.rejects(
        index.upsertMany(
          L,
          Array.from({ length: 100 }, (_, i) => ({ next: i === 50 ? k : key(i, 0, i + 10) })),
        ),
        TypeError,
      );
    }
    assert.deepEqual(await index.range(L, 0, 10), [good]);
    await assert.rejects(index.range(L, -1, 5), RangeError);
    await assert.rejects(index.range(L, 0, 1.5), RangeError);
    assert.throws(() => new MemoryRankIndex({ blockSize: 2 }), RangeError);
  });

  it("loads in bulk: on an empty list, appended in order, merged, and one by one", async () => {
    for (const options of [{ blockSize: 4, fanout: 4 }, { blockSize: 16, fanout: 5 }, {}]) {
      const index = new MemoryRankIndex(options);
      const model = new Model();
      const rows = Array.from({ length: 3000 }, (_, i) => key(Math.floor(i / 3), i % 7, 5000 - i));
      const inOrder = [...rows].sort(compareKeys);
      // Streamed in rank order, in chunks: each chunk goes after the last key.
      for (let i = 0; i < 2000; i += 250) {
        const chunk = inOrder.slice(i, i + 250);
        await index.upsertMany(
          L,
          chunk.map((next) => ({ next })),
        );
        for (const k of chunk) model.insert(k);
      }
      let shape = inspectMemoryRankIndex(index, L);
      assert.ok(shape.leafFill > 0.9, `leaves filled in order: ${shape.leafFill}`);
      // A big shuffled chunk overlapping the list (merge), then a small one (one by one).
      const shuffled = [...rows.slice(1500), ...rows.slice(0, 100)].reverse();
      await index.upsertMany(
        L,
        shuffled.map((next) => ({ next })),
      );
      for (const k of shuffled) model.insert(k);
      const small = rows.slice(0, 150).map((k) => key(k.score + 0.5, k.reachedAt, k.userId));
      await index.upsertMany(
        L,
        [...small, ...small].map((next) => ({ next })),
      );
      for (const k of small) model.insert(k);
      shape = inspectMemoryRankIndex(index, L);
      assert.equal(shape.size, model.keys.length);
      await agree(index, L, model, [key(500.25, 0, 1), key(-1, 0, 0), key(1e9, 0, 0)]);
      // Empty it again one by one: every merge and refill on the way down.
      for (const k of [...model.keys].reverse().filter((_, i) => i % 2 === 0)) {
        await index.remove(L, k);
        model.remove(k);
      }
      await agree(index, L, model, []);
      for (const k of [...model.keys]) {
        await index.remove(L, k);
        model.remove(k);
      }
      assert.equal(await index.size(L), 0);
    }
  });

  it("agrees with a sorted array over 40,000 random changes at the default sizes", async () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const ids = Array.from({ length: 3000 }, () => randomUUID());
    const randomKey = () => key(random(200) - 50, random(5), ids[random(ids.length)]!);
    const index = new MemoryRankIndex();
    const model = new Model();
    for (let step = 0; step < 40_000; step++) {
      const r = random(10);
      const n = model.keys.length;
      if (r < 4 || n === 0) {
        const k = randomKey();
        await index.upsert(L, k);
        model.insert(k);
      } else if (r < 8) {
        const from = model.keys[random(n)]!;
        const to = randomKey();
        await index.upsert(L, to, from);
        model.remove(from);
        model.insert(to);
      } else {
        const k = model.keys[random(n)]!;
        await index.remove(L, k);
        model.remove(k);
      }
      if (step % 5000 === 4999) {
        assert.equal(await index.size(L), model.keys.length);
        const at = random(model.keys.length);
        assert.equal(await index.rank(L, model.keys[at]!), at);
        assert.deepEqual(await index.range(L, at, 50), model.keys.slice(at, at + 50));
      }
    }
    const shape = inspectMemoryRankIndex(index, L);
    assert.ok(shape.height >= 1, "more than one leaf");
    assert.deepEqual(await index.range(L, 0, model.keys.length), model.keys);
  });

  it("sorts records by introsort, heapsort included", () => {
    // Records are 8 words compared in order; few distinct values, so that long runs tie.
    const words = (u: Uint32Array, i: number) => Array.from(u.subarray(8 * i, 8 * i + 8));
    const byWords = (a: number[], b: number[]) => {
      for (let k = 0; k < 8; k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
      return 0;
    };
    for (const depthLimit of [undefined, 0, 3]) {
      for (const n of [0, 1, 2, 17, 500]) {
        const u = new Uint32Array(8 * n);
        let seed = n + (depthLimit ?? 99);
        for (let i = 0; i < u.length; i++) {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          u[i] = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff][(seed >>> 16) % 5]!;
        }
        const want = Array.from({ length: n }, (_, i) => words(u, i)).sort(byWords);
        sortRecords(u, n, depthLimit);
        assert.deepEqual(
          Array.from({ length: n }, (_, i) => words(u, i)),
          want,
        );
      }
    }
  });

  it("agrees with a sorted array through any sequence of changes (property)", async () => {
    const ids = Array.from({ length: 24 }, (_, i) =>
      i === 0
        ? "00000000-0000-0000-0000-000000000000"
        : i === 1
          ? "ffffffff-ffff-ffff-ffff-ffffffffffff"
          : null,
    );
    // Few scores, times and ids, so that ties and repeated keys are common.
    const arbKey = fc
      .record({
        score: fc.oneof(fc.integer({ min: -4, max: 4 }), fc.constantFrom(-0.5, 0.25, 2.75)),
        reachedAt: fc.integer({ min: 0, max: 5 }),
        user: fc.integer({ min: 0, max: ids.length - 1 }),
      })
      .map(({ score, reachedAt, user }) => ({ score, reachedAt, user }));
    const arbOp = fc.oneof(
      { weight: 4, arbitrary: fc.record({ op: fc.constant("insert" as const), k: arbKey }) },
      {
        weight: 3,
        arbitrary: fc.record({ op: fc.constant("move" as const), at: fc.nat(), k: arbKey }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ op: fc.constant("moveAbsent" as const), from: arbKey, k: arbKey }),
      },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("remove" as const), at: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("removeAbsent" as const), k: arbKey }) },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant("batch" as const),
          ks: fc.array(arbKey, { minLength: 0, maxLength: 150, size: "max" }),
          moves: fc.boolean(),
        }),
      },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("drain" as const), keep: fc.nat({ max: 20 }) }) },
    );
    const config = fc.constantFrom(
      { blockSize: 4, fanout: 4 },
      { blockSize: 5, fanout: 4 },
      { blockSize: 4, fanout: 7 },
      { blockSize: 8, fanout: 4 },
      { blockSize: 32, fanout: 16 },
    );
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(fc.uuid(), { minLength: ids.length, maxLength: ids.length }),
        fc.array(arbOp, { minLength: 1, maxLength: 60, size: "max" }),
        fc.array(arbKey, { minLength: 3, maxLength: 3 }),
        async (options, uuids, ops, probes) => {
          const pool = ids.map((fixed, i) => fixed ?? uuids[i]!.toLowerCase());
          const toKey = (k: { score: number; reachedAt: number; user: number }): RankKey => ({
            score: k.score,
            reachedAt: k.reachedAt,
            userId: pool[k.user]!,
          });
          const index = new MemoryRankIndex(options);
          const model = new Model();
          const other = new Model();
          await index.upsert("other", key(1, 1, 1));
          other.insert(key(1, 1, 1));
          for (const op of ops) {
            switch (op.op) {
              case "insert":
                await index.upsert(L, toKey(op.k));
                model.insert(toKey(op.k));
                break;
              case "move": {
                const from = model.keys[op.at % Math.max(1, model.keys.length)];
                await index.upsert(L, toKey(op.k), from);
                if (from !== undefined) model.remove(from);
                model.insert(toKey(op.k));
                break;
              }
              case "moveAbsent":
                await index.upsert(L, toKey(op.k), toKey(op.from));
                model.remove(toKey(op.from));
                model.insert(toKey(op.k));
                break;
              case "remove": {
                const k = model.keys[op.at % Math.max(1, model.keys.length)];
                if (k !== undefined) {
                  await index.remove(L, k);
                  model.remove(k);
                }
                break;
              }
              case "removeAbsent":
                await index.remove(L, toKey(op.k));
                model.remove(toKey(op.k));
                break;
              case "batch": {
                const changes = op.ks.map((k, i) => {
                  const previous =
                    op.moves && i % 2 === 1 ? model.keys[i % Math.max(1, model.keys.length)] : undefined;
                  return previous === undefined ? { next: toKey(k) } : { next: toKey(k), previous };
                });
                await index.upsertMany(L, changes);
                for (const c of changes) {
                  if (c.previous !== undefined) model.remove(c.previous);
                  model.insert(c.next);
                }
                break;
              }
              case "drain":
                while (model.keys.length > op.keep) {
                  const k = model.keys[(op.keep * 7) % model.keys.length]!;
                  await index.remove(L, k);
                  model.remove(k);
                }
                break;
            }
            inspectMemoryRankIndex(index, L);
          }
          await agree(index, L, model, probes.map(toKey));
          await agree(index, "other", other, []);
        },
      ),
      { numRuns: 300 },
    );
  });
});
