/**
 * RedisIndex against the real Redis in REDIS_URL (default redis://127.0.0.1:6379). Every key this
 * file writes is under a prefix of its own (pid and a random id), deleted at the end.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Redis } from "ioredis";
import { compareKeys, RankIndexNotBuilt, RebuildInterrupted, type RankKey } from "./rank-index.ts";
import { decodeKey, encodeKey, RedisIndex } from "./redis-index.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PREFIX = `ludus-test:${process.pid}:${randomUUID()}:`;

/** User ids in a known order: user(0) < user(1) < … as strings. */
const user = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
const key = (score: number, reachedAt: number, u: number): RankKey => ({ score, reachedAt, userId: user(u) });

/** −0 is stored as 0. */
const normal = (k: RankKey): RankKey => ({ ...k, score: k.score === 0 ? 0 : k.score });

// ------------------------------------------------------------------------------------------- arbitraries

const SCORES = [0, -0, 1, -1, 0.5, -0.5, 1e-300, -1e-300, 5e-324, -5e-324, 1e308, -1e308, 2 ** 53, 42];
const score = fc.oneof(
  fc.constantFrom(...SCORES),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1000, max: 1000 }),
);
const reachedAt = fc.oneof(
  fc.constantFrom(0, 1, -1, 1_700_000_000_000, 2 ** 32, 2 ** 32 - 1, -(2 ** 32)),
  fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_100 }),
  fc.maxSafeInteger(),
);
const userId = fc.oneof(
  fc.uuid(),
  fc.integer({ min: 0, max: 3 }).map(user),
  fc.constantFrom("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
);
const rankKey = fc.record({ score, reachedAt, userId });
/** A pair of keys that often share the score, or the score and reachedAt. */
const keyPair = fc
  .tuple(rankKey, rankKey, fc.integer({ min: 0, max: 2 }))
  .map(([a, b, share]): [RankKey, RankKey] => [
    a,
    share === 0
      ? b
      : share === 1
        ? { ...b, score: a.score }
        : { ...b, score: a.score, reachedAt: a.reachedAt },
  ]);

// ------------------------------------------------------------------------------------------------ encoding

describe("encodeKey", () => {
  it("round-trips every key (−0 as 0)", () => {
    fc.assert(
      fc.property(rankKey, (k) => {
        const bytes = encodeKey(k);
        assert.equal(bytes.length, 32);
        assert.deepEqual(decodeKey(bytes), normal(k));
      }),
      { numRuns: 2000 },
    );
  });

  it("sorts bytes exactly as compareKeys orders keys", () => {
    fc.assert(
      fc.property(keyPair, ([a, b]) => {
        assert.equal(Math.sign(Buffer.compare(encodeKey(a), encodeKey(b))), Math.sign(compareKeys(a, b)));
      }),
      { numRuns: 5000 },
    );
  });

  it("orders a hand-made list of edge cases", () => {
    const sorted = [
      key(Infinity, 0, 0),
      key(Number.MAX_VALUE, 0, 0),
      key(1e308, 0, 0),
      key(1, -(2 ** 40), 0),
      key(1, -1, 0),
      key(1, 0, 0),
      key(1, 0, 1),
      key(1, 2 ** 32 - 1, 0),
      key(1, 2 ** 32, 0),
      key(1, Number.MAX_SAFE_INTEGER, 0),
      key(0.5, 0, 0),
      key(5e-324, 0, 0),
      key(0, 5, 0),
      key(-0, 6, 0),
      key(0, 7, 0),
      key(-5e-324, 0, 0),
      key(-0.5, 0, 0),
      key(-1, 0, 0),
      key(-1e308, 0, 0),
      key(-Number.MAX_VALUE, 0, 0),
      key(-Infinity, 0, 0),
    ];
    const shuffled = [...sorted].reverse();
    shuffled.sort((a, b) => Buffer.compare(encodeKey(a), encodeKey(b)));
    assert.deepEqual(shuffled.map(normal), sorted.map(normal));
  });

  it("refuses keys it cannot order", () => {
    assert.throws(() => encodeKey(key(NaN, 0, 0)), TypeError);
    assert.throws(() => encodeKey(key(1, 0.5, 0)), TypeError);
    assert.throws(() => encodeKey(key(1, 2 ** 53, 0)), TypeError);
    assert.throws(() => encodeKey({ score: 1, reachedAt: 0, userId: user(10).toUpperCase() }), TypeError);
    assert.throws(() => encodeKey({ score: 1, reachedAt: 0, userId: "not-a-uuid" }), TypeError);
    assert.throws(() => decodeKey(Buffer.alloc(31)), RangeError);
  });
});

// -------------------------------------------------------------------------------------------- with Redis

let admin: Redis;
let index: RedisIndex;
let listCounter = 0;
/** A list name no other test in this file uses. */
const freshList = (name: string) => `${name}:${listCounter++}`;

before(async () => {
  admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 3000 });
  try {
    await admin.ping();
  } catch (error) {
    throw new Error(`these tests need Redis at ${REDIS_URL} (set REDIS_URL): ${String(error)}`);
  }
  index = new RedisIndex({ url: REDIS_URL, prefix: PREFIX });
  // Reads need the index marked built: a rebuild of nothing marks it.
  await (await index.beginRebuild())?.finish();
  assert.equal(await index.isBuilt(), true);
});

after(async () => {
  await index?.close();
  if (admin) {
    let cursor = "0";
    do {
      const [next, keys] = await admin.scan(cursor, "MATCH", `${PREFIX}*`, "COUNT", 1000);
      if (keys.length > 0) await admin.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
    await admin.quit();
  }
});

describe("RedisIndex", () => {
  it("names its keys ${prefix}rank:${list}", async () => {
    const list = freshList("names");
    await index.upsert(list, key(1, 0, 0));
    assert.equal(await admin.exists(`${PREFIX}rank:${list}`), 1);
    assert.equal(await admin.zscore(`${PREFIX}rank:${list}`, encodeKey(key(1, 0, 0))), "0");
    await index.drop(list);
  });

  it("answers for an empty list", async () => {
    const list = freshList("empty");
    assert.equal(await index.size(list), 0);
    assert.equal(await index.rank(list, key(1, 2, 3)), 0);
    assert.deepEqual(await index.range(list, 0, 10), []);
    assert.deepEqual(await index.range(list, 5, 10), []);
    await index.remove(list, key(1, 2, 3));
    await index.drop(list);
    assert.equal(await index.size(list), 0);
  });

  it("breaks ties by reachedAt, then by user id", async () => {
    const list = freshList("ties");
    const keys = [key(10, 5, 2), key(10, 5, 1), key(10, 4, 3), key(11, 9, 9), key(-0, 1, 4), key(0, 1, 0)];
    for (const k of keys) await index.upsert(list, k);
    const expected = [key(11, 9, 9), key(10, 4, 3), key(10, 5, 1), key(10, 5, 2), key(0, 1, 0), key(0, 1, 4)];
    assert.deepEqual(await index.range(list, 0, 10), expected);
    for (const [i, k] of expected.entries()) assert.equal(await index.rank(list, k), i);
    assert.equal(await index.size(list), 6);
  });

  it("ranks absent keys where they would go", async () => {
    const list = freshList("absent");
    await index.upsertMany(list, [{ next: key(30, 0, 0) }, { next: key(20, 0, 0) }, { next: key(10, 0, 0) }]);
    assert.equal(await index.rank(list, key(40, 0, 1)), 0);
    assert.equal(await index.rank(list, key(30, -1, 1)), 0);
    assert.equal(await index.rank(list, key(30, 0, 1)), 1);
    assert.equal(await index.rank(list, key(25, 0, 1)), 1);
    assert.equal(await index.rank(list, key(20, 0, 0)), 1);
    assert.equal(await index.rank(list, key(10, 1, 0)), 3);
    assert.equal(await index.rank(list, key(-Infinity, 0, 0)), 3);
  });

  it("pages past the end and refuses negative offsets and limits", async () => {
    const list = freshList("pages");
    await index.upsertMany(
      list,
      Array.from({ length: 5 }, (_, i) => ({ next: key(i, 0, i) })),
    );
    assert.deepEqual(
      (await index.range(list, 3, 10)).map((k) => k.score),
      [1, 0],
    );
    assert.deepEqual(await index.range(list, 5, 10), []);
    assert.deepEqual(await index.range(list, 1000, 1), []);
    assert.deepEqual(await index.range(list, 0, 0), []);
    await assert.rejects(index.range(list, -1, 2), RangeError);
    await assert.rejects(index.range(list, 0, -1), RangeError);
    await assert.rejects(index.range(list, 0.5, 2), RangeError);
  });

  it("moves an entry atomically and ignores a stale previous", async () => {
    const list = freshList("moves");
    await index.upsert(list, key(1, 0, 0));
    await index.upsert(list, key(5, 1, 0), key(1, 0, 0));
    assert.deepEqual(await index.range(list, 0, 10), [key(5, 1, 0)]);
    // The same key again is a no-op.
    await index.upsert(list, key(5, 1, 0), key(5, 1, 0));
    assert.deepEqual(await index.range(list, 0, 10), [key(5, 1, 0)]);
    // A previous that is not there removes nothing.
    await index.upsert(list, key(7, 1, 1), key(3, 3, 1));
    assert.equal(await index.size(list), 2);
    await index.remove(list, key(5, 1, 0));
    assert.deepEqual(await index.range(list, 0, 10), [key(7, 1, 1)]);
  });

  it("applies upsertMany in order, even when one batch moves an entry twice", async () => {
    const list = freshList("batch");
    await index.upsertMany(list, [
      { next: key(1, 0, 0) },
      { next: key(2, 0, 0), previous: key(1, 0, 0) },
      { next: key(3, 0, 0), previous: key(2, 0, 0) },
      { next: key(1, 0, 1) },
      { next: key(1, 0, 1), previous: key(1, 0, 1) },
      { next: key(9, 0, 2) },
      { next: key(8, 0, 2), previous: key(9, 0, 2) },
      { next: key(9, 0, 2), previous: key(8, 0, 2) },
    ]);
    assert.deepEqual(await index.range(list, 0, 10), [key(9, 0, 2), key(3, 0, 0), key(1, 0, 1)]);
    await index.upsertMany(list, []);
    assert.equal(await index.size(list), 3);
  });

  it("writes nothing from an upsertMany with a bad key", async () => {
    const list = freshList("bad-batch");
    const changes = [{ next: key(1, 0, 0) }, { next: { score: NaN, reachedAt: 0, userId: user(1) } }];
    await assert.rejects(index.upsertMany(list, changes), TypeError);
    assert.equal(await index.size(list), 0);
  });

  it("loads thousands in one upsertMany (several chunks) and drops them", async () => {
    const list = freshList("bulk");
    const keys = Array.from({ length: 5500 }, (_, i) => key(i % 97, i % 13, i));
    await index.upsertMany(
      list,
      keys.map((next) => ({ next })),
    );
    // Move every entry in a second batch, across chunk boundaries.
    await index.upsertMany(
      list,
      keys.map((previous) => ({ previous, next: { ...previous, score: -previous.score - 1 } })),
    );
    const expected = keys.map((k) => ({ ...k, score: -k.score - 1 })).sort(compareKeys);
    assert.equal(await index.size(list), 5500);
    assert.deepEqual(await index.range(list, 0, 5500), expected);
    assert.equal(await index.rank(list, expected[4321] as RankKey), 4321);
    await index.drop(list);
    assert.equal(await index.size(list), 0);
    assert.equal(await admin.exists(index.keyOf(list)), 0);
  });

  it("keeps many lists apart", async () => {
    const lists = Array.from({ length: 20 }, (_, i) => freshList(`many-${i}`));
    await Promise.all(
      lists.map((list, i) =>
        index.upsertMany(
          list,
          Array.from({ length: i + 1 }, (_, u) => ({ next: key(u * i, 0, u) })),
        ),
      ),
    );
    for (const [i, list] of lists.entries()) {
      assert.equal(await index.size(list), i + 1);
      assert.equal((await index.range(list, 0, 1))[0]?.score, i * i);
    }
    await index.drop(lists[3] as string);
    assert.equal(await index.size(lists[3] as string), 0);
    assert.equal(await index.size(lists[4] as string), 5);
  });

  it("leaves a client it was given open", async () => {
    const shared = new RedisIndex({ redis: admin, prefix: PREFIX });
    const list = freshList("shared");
    await shared.upsert(list, key(1, 0, 0));
    await shared.close();
    assert.equal(await admin.ping(), "PONG");
    assert.equal(await index.size(list), 1);
  });
});

// ------------------------------------------------------------------------------- against a sorted array

/** The naive model: each user's key, and all keys sorted by compareKeys. */
class Model {
  readonly byUser = new Map<string, RankKey>();
  sorted(): RankKey[] {
    return [...this.byUser.values()].sort(compareKeys);
  }
  rank(k: RankKey): number {
    return this.sorted().filter((other) => compareKeys(other, k) < 0).length;
  }
}

type Op =
  | { op: "set"; key: RankKey }
  | { op: "remove"; user: number }
  | { op: "rankOf"; user: number }
  | { op: "rank"; key: RankKey }
  | { op: "range"; offset: number; limit: number }
  | { op: "pages"; size: number }
  | { op: "batch"; keys: RankKey[] }
  | { op: "size" };

const USERS = 8;
const modelUser = fc.integer({ min: 0, max: USERS - 1 });
/** Keys from a small pool of scores and instants, so ties are common. */
const modelKey = fc.record({
  score: fc.oneof(fc.constantFrom(0, -0, 1, -1, 2.5, 1e300, -1e-300), score),
  reachedAt: fc.oneof(fc.constantFrom(0, 1, 2), reachedAt),
  userId: modelUser.map(user),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant("set" as const), key: modelKey }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant("remove" as const), user: modelUser }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("rankOf" as const), user: modelUser }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("rank" as const), key: modelKey }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant("range" as const),
      offset: fc.nat({ max: USERS + 2 }),
      limit: fc.nat({ max: USERS + 2 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ op: fc.constant("pages" as const), size: fc.integer({ min: 1, max: 4 }) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("batch" as const), keys: fc.array(modelKey, { maxLength: 12 }) }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant("size" as const) }), weight: 1 },
);

async function check(list: string, model: Model, op: Op): Promise<void> {
  switch (op.op) {
    case "set": {
      const previous = model.byUser.get(op.key.userId);
      await index.upsert(list, op.key, previous);
      model.byUser.set(op.key.userId, normal(op.key));
      return;
    }
    case "remove": {
      const previous = model.byUser.get(user(op.user));
      if (previous === undefined) return;
      await index.remove(list, previous);
      model.byUser.delete(user(op.user));
      return;
    }
    case "rankOf": {
      const present = model.byUser.get(user(op.user));
      if (present === undefined) return;
      assert.equal(await index.rank(list, present), model.rank(present));
      return;
    }
    case "rank":
      assert.equal(await index.rank(list, op.key), model.rank(op.key));
      return;
    case "range":
      assert.deepEqual(
        await index.range(list, op.offset, op.limit),
        model.sorted().slice(op.offset, op.offset + op.limit),
      );
      return;
    case "pages": {
      const all = model.sorted();
      const forward: RankKey[] = [];
      for (let offset = 0; ; offset += op.size) {
        const page = await index.range(list, offset, op.size);
        forward.push(...page);
        if (page.length < op.size) break;
      }
      assert.deepEqual(forward, all);
      // Backward: from the last page to the first, each page as it would be shown.
      const backward: RankKey[] = [];
      const size = await index.size(list);
      for (let end = size; end > 0; end -= op.size) {
        const start = Math.max(0, end - op.size);
        backward.unshift(...(await index.range(list, start, end - start)));
      }
      assert.deepEqual(backward, all);
      return;
    }
    case "batch": {
      const changes = op.keys.map((next) => {
        const previous = model.byUser.get(next.userId);
        model.byUser.set(next.userId, normal(next));
        return previous === undefined ? { next } : { next, previous };
      });
      await index.upsertMany(list, changes);
      return;
    }
    case "size":
      assert.equal(await index.size(list), model.byUser.size);
      return;
  }
}

describe("RedisIndex against a sorted array", () => {
  it("agrees on every operation", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), async (ops) => {
        const list = freshList("model");
        const model = new Model();
        try {
          for (const op of ops) await check(list, model, op);
          assert.deepEqual(await index.range(list, 0, USERS + 1), model.sorted());
        } finally {
          await index.drop(list);
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ------------------------------------------------------------------------------------------- concurrency

describe("two RedisIndex instances on one list", () => {
  it("agree on every rank after interleaved upserts, and no reader sees a move half done", async () => {
    const list = freshList("concurrent");
    const a = new RedisIndex({ url: REDIS_URL, prefix: PREFIX });
    const b = new RedisIndex({ url: REDIS_URL, prefix: PREFIX });
    const players = 200;
    try {
      const current = new Map<string, RankKey>();
      await a.upsertMany(
        list,
        Array.from({ length: players }, (_, u) => {
          const k = key(0, 0, u);
          current.set(k.userId, k);
          return { next: k };
        }),
      );
      // Each player's moves go through one instance, in order (as their rows' locks would order
      // them); the two instances interleave freely. A third client watches the size meanwhile.
      const moves = fc.sample(
        fc.array(fc.tuple(fc.nat({ max: players - 1 }), fc.integer({ min: -50, max: 50 }), fc.nat(20)), {
          minLength: 2000,
          maxLength: 2000,
        }),
        { numRuns: 1, seed: 42 },
      )[0] as [number, number, number][];
      const run = async (instance: RedisIndex, parity: number) => {
        let step = 0;
        for (const [u, s, t] of moves) {
          if (u % 2 !== parity) continue;
          const previous = current.get(user(u)) as RankKey;
          const next = key(s, t + step++, u);
          current.set(next.userId, next);
          await instance.upsert(list, next, previous);
        }
      };
      let done = false;
      const sizes: number[] = [];
      const watch = async () => {
        while (!done) sizes.push(await admin.zcard(index.keyOf(list)));
      };
      const watching = watch();
      await Promise.all([run(a, 0), run(b, 1)]);
      done = true;
      await watching;
      assert.ok(sizes.length > 0);
      assert.deepEqual(new Set(sizes), new Set([players]));

      const expected = [...current.values()].sort(compareKeys);
      assert.deepEqual(await a.range(list, 0, players), expected);
      assert.deepEqual(await b.range(list, 0, players), expected);
      for (const [i, k] of expected.entries()) {
        const [ra, rb] = await Promise.all([a.rank(list, k), b.rank(list, k)]);
        assert.equal(ra, i);
        assert.equal(rb, i);
      }
    } finally {
      await a.drop(list);
      await Promise.all([a.close(), b.close()]);
    }
  });
});

// ---------------------------------------------------------------------------------- built mark, rebuild

describe("RedisIndex rebuilds and its built mark", () => {
  /** An index on a prefix of its own, marked built, with `players` entries in `list`. */
  async function fresh(name: string, players: number) {
    const prefix = `${PREFIX}${name}:`;
    const own = new RedisIndex({ url: REDIS_URL, prefix });
    await (await own.beginRebuild())?.finish();
    const list = freshList(name);
    await own.upsertMany(
      list,
      Array.from({ length: players }, (_, u) => ({ next: key(u % 7, u, u) })),
    );
    return { own, list, prefix };
  }

  it("refuses reads once invalidated, until a rebuild finishes", async () => {
    const { own, list } = await fresh("invalidated", 5);
    try {
      assert.equal(await own.rank(list, key(0, 0, 0)), 4);
      await own.invalidate();
      assert.equal(await own.isBuilt(), false);
      await assert.rejects(own.rank(list, key(0, 0, 0)), RankIndexNotBuilt);
      await assert.rejects(own.range(list, 0, 3), RankIndexNotBuilt);
      await assert.rejects(own.range(list, 0, 0), RankIndexNotBuilt);
      await assert.rejects(own.size(list), RankIndexNotBuilt);
      // Writes still go to the live list (an instance that took the change keeps it).
      await own.upsert(list, key(100, 0, 9));
      const rebuild = await own.beginRebuild();
      assert.ok(rebuild);
      await rebuild.fill(list, [key(1, 1, 1), key(100, 0, 9)]);
      await rebuild.finish();
      assert.equal(await own.isBuilt(), true);
      assert.deepEqual(await own.range(list, 0, 10), [key(100, 0, 9), key(1, 1, 1)]);
    } finally {
      await own.drop(list);
      await own.close();
    }
  });

  it("holds one rebuild at a time; an abort swaps nothing and frees the lock", async () => {
    const { own, list, prefix } = await fresh("lock", 4);
    const other = new RedisIndex({ url: REDIS_URL, prefix });
    try {
      const first = await own.beginRebuild();
      assert.ok(first);
      assert.equal(await other.beginRebuild(), undefined, "a second rebuild must wait");
      await first.fill(list, [key(1, 1, 1)]);
      await first.abort();
      assert.equal(await admin.exists(`${prefix}rank-next:${list}`), 0, "the copy is deleted");
      assert.equal(await admin.zcard(own.keyOf(list)), 4, "the live list is as it was");
      const second = await other.beginRebuild();
      assert.ok(second, "the lock is free again");
      await second.abort();
    } finally {
      await own.drop(list);
      await Promise.all([own.close(), other.close()]);
    }
  });

  it("a rebuild that lost its lock, or saw an index invalidated meanwhile, is interrupted", async () => {
    const { own, list, prefix } = await fresh("interrupted", 3);
    try {
      const stalled = await own.beginRebuild();
      assert.ok(stalled);
      await admin.del(`${prefix}rank-rebuild`); // as if the lock's time to live ran out
      await assert.rejects(stalled.fill(list, [key(1, 1, 1)]), RebuildInterrupted);
      await stalled.abort();

      const overtaken = await own.beginRebuild();
      assert.ok(overtaken);
      await overtaken.fill(list, [key(1, 1, 1)]);
      await own.invalidate();
      await assert.rejects(overtaken.finish(), RebuildInterrupted);
      await overtaken.abort();
      assert.equal(await own.isBuilt(), false);
      assert.equal(await admin.zcard(own.keyOf(list)), 3, "nothing was swapped in");
    } finally {
      await own.drop(list);
      await own.close();
    }
  });

  it("keeps every change other clients write while it fills, whatever the copy saw of them", async () => {
    // The live list holds players 0–199 at key(0, 0, u). The rebuild's copy is filled from a
    // snapshot the writers overtake: some players as they were, some as they end up, some twice
    // (read before and after a move), some missed; meanwhile two other clients move players,
    // remove some and add new ones, and one list is dropped. After the swap every list must be
    // exactly the writers' final state.
    const players = 200;
    const { own, list, prefix } = await fresh("journal", 0);
    const writers = [new RedisIndex({ url: REDIS_URL, prefix }), new RedisIndex({ url: REDIS_URL, prefix })];
    const doomed = freshList("journal-dropped");
    const newcomer = freshList("journal-new");
    try {
      const current = new Map<string, RankKey>();
      await own.upsertMany(
        list,
        Array.from({ length: players }, (_, u) => {
          current.set(user(u), key(0, 0, u));
          return { next: key(0, 0, u) };
        }),
      );
      await own.upsert(doomed, key(5, 5, 5));
      const before = new Map(current);

      const rebuild = await own.beginRebuild();
      assert.ok(rebuild);
      await assert.rejects(
        writers[0]!.rank(list, key(0, 0, 0)),
        RankIndexNotBuilt,
        "out of service meanwhile",
      );
      const moves = fc.sample(
        fc.array(fc.tuple(fc.nat(players + 49), fc.integer({ min: -9, max: 9 })), {
          minLength: 600,
          maxLength: 600,
        }),
        { numRuns: 1, seed: 7 },
      )[0] as [number, number][];
      let step = 0;
      const write = async (writer: RedisIndex, parity: number) => {
        for (const [u, s] of moves) {
          if (u % 2 !== parity) continue;
          const previous = current.get(user(u));
          step += 1;
          if (s === 0 && previous !== undefined) {
            current.delete(user(u));
            await writer.remove(list, previous);
          } else {
            const next = key(s, step, u);
            current.set(user(u), next);
            await writer.upsert(list, next, previous);
          }
        }
      };
      const fill = async () => {
        // Half the players as they were before, the rest as they are when read (racing the writers).
        const snapshot = [...before.values()].filter((_, i) => i % 2 === 0);
        await rebuild.fill(list, snapshot);
        for (let i = 1; i < players; i += 2) {
          const now = current.get(user(i));
          if (now !== undefined) await rebuild.fill(list, [now]);
          await new Promise((r) => setImmediate(r));
        }
        await rebuild.fill(doomed, [key(5, 5, 5)]);
      };
      await Promise.all([write(writers[0]!, 0), write(writers[1]!, 1), fill()]);
      await writers[0]!.drop(doomed);
      await writers[1]!.upsert(newcomer, key(3, 3, 3));
      await rebuild.finish();

      assert.equal(await own.isBuilt(), true);
      const expected = [...current.values()].sort(compareKeys);
      assert.deepEqual(await own.range(list, 0, players * 2), expected);
      assert.equal(await own.size(list), expected.length);
      assert.equal(await own.size(doomed), 0);
      assert.deepEqual(await own.range(newcomer, 0, 5), [key(3, 3, 3)]);
      const leftovers = await admin.keys(`${prefix}rank-{next,journal,rebuild}*`);
      assert.deepEqual(leftovers, [], "the copies, journals and lock are gone");
    } finally {
      await Promise.all([own.drop(list), own.drop(newcomer)]);
      await Promise.all([own.close(), ...writers.map((w) => w.close())]);
    }
  });
});
