import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { LightMyRequestResponse } from "fastify";
import { DateTime } from "luxon";
import { findLedgerDiscrepancies } from "../economy/ledger.store.ts";
import { levelForXp, type LevelCurve } from "../progression/levels.ts";
import {
  bearer,
  createAdmin,
  createTestContext,
  registerPlayer,
  type TestContext,
  createApiKey,
} from "../../test/helpers/context.ts";
import {
  dietgameEvents,
  type DietgameEvent,
  type DietgameType,
} from "../../test/helpers/dietgame-arbitraries.ts";

/**
 * A property over random concurrent workloads: DietGame events (some with idempotency keys, some
 * replayed, some in batches, some sent by the players themselves) and admin adjustments (credits
 * and debits, some refused for want of funds), all run in random concurrent chunks. Afterwards the
 * ledger must add up, nothing may be negative, levels must follow XP, and the totals must be what
 * the rules say for the events that were accepted (computed by a model that ignores ordering).
 */

const ZONES = ["UTC", "Pacific/Auckland", "America/Los_Angeles"] as const;
const PLAYERS = ZONES.length;
const CLIENT_CAPS: Record<string, number> = { "meal.logged": 20, "exercise.logged": 20, "recipe.tried": 10 };

type Typed = DietgameEvent;
interface EventOp extends Typed {
  kind: "event";
  player: number;
  via: "key" | "player";
  key: string | null;
  hoursAgo: number;
}
interface BatchOp {
  kind: "batch";
  key: string | null;
  events: (Typed & { player: number; hoursAgo: number })[];
}
interface AdjustOp {
  kind: "adjust";
  player: number;
  currency: "xp" | "coins" | "score";
  amount: number;
  key: string;
}
type Op = EventOp | BatchOp | AdjustOp;

interface EventResult {
  eventId: string;
  duplicate: boolean;
}

/** One event as the API answered it (a batch contributes one per event). */
interface Attempt extends Typed {
  player: number;
  via: "key" | "player";
  /** The idempotency key in effect, including a batch's derived '<key>#<i>'. */
  key: string | null;
  occurredAt: string;
  outcome: "applied" | "duplicate" | "key_reused" | "client_cap" | "batch_refused";
  eventId?: string;
}
interface AdjustAttempt {
  op: AdjustOp;
  outcome: "applied" | "duplicate" | "key_reused" | "insufficient_funds";
  entryId?: number;
}

// ---- workload generators ----------------------------------------------------------------------

const playerArb = fc.integer({ min: 0, max: PLAYERS - 1 });
const hoursAgoArb = fc.constantFrom(0, 2, 30);
const typedArb: fc.Arbitrary<Typed> = dietgameEvents({
  weights: { meal: 5, exercise: 2, recipe: 2, social: 2 },
  maxMinutes: 600,
  recipes: ["r1", "r2"],
  socialKinds: ["like", "comment", "share"],
});
const eventOpArb: fc.Arbitrary<EventOp> = fc
  .record({
    player: playerArb,
    typed: typedArb,
    via: fc.constantFrom<"key" | "player">("key", "key", "player"),
    key: fc.option(fc.constantFrom("k1", "k2", "k3", "k4"), { freq: 2, nil: null }),
    hoursAgo: hoursAgoArb,
  })
  .map(({ typed, via, ...rest }) => ({
    kind: "event",
    ...rest,
    ...typed,
    // Players may not send social.interaction; the app backend does.
    via: typed.type === "social.interaction" ? "key" : via,
  }));
const batchOpArb: fc.Arbitrary<BatchOp> = fc.record({
  kind: fc.constant("batch" as const),
  key: fc.option(fc.constantFrom("b1", "b2"), { freq: 2, nil: null }),
  events: fc.array(
    fc
      .record({ player: playerArb, hoursAgo: hoursAgoArb, typed: typedArb })
      .map(({ typed, ...r }) => ({ ...r, ...typed })),
    { minLength: 1, maxLength: 4 },
  ),
});
const adjustOpArb: fc.Arbitrary<AdjustOp> = fc.record({
  kind: fc.constant("adjust" as const),
  player: playerArb,
  currency: fc.constantFrom<"xp" | "coins" | "score">("xp", "coins", "score"),
  amount: fc.oneof(fc.integer({ min: 1, max: 150 }), fc.integer({ min: -150, max: -1 })),
  key: fc.constantFrom("a1", "a2", "a3", "a4", "a5"),
});
/** Many meals of one player on one day, to run into the daily XP cap. */
const burstArb = fc
  .record({
    player: playerArb,
    hoursAgo: hoursAgoArb,
    // Half the bursts pass the daily meal XP cap (10 meals), so the cap is reached in nearly every
    // run of the suite: with uniform sizes, 15 runs missed it a few times in a hundred.
    n: fc.oneof(fc.integer({ min: 3, max: 10 }), fc.integer({ min: 11, max: 14 })),
  })
  .map(({ player, hoursAgo, n }) =>
    Array.from({ length: n }, (_, i): EventOp => ({
      kind: "event",
      player,
      via: "key",
      key: null,
      hoursAgo,
      type: "meal.logged",
      data: { mealType: "snack", calories: i },
    })),
  );

const workloadArb = fc.record({
  ops: fc.array(
    fc.oneof(
      { weight: 8, arbitrary: eventOpArb },
      { weight: 1, arbitrary: batchOpArb },
      { weight: 2, arbitrary: adjustOpArb },
    ),
    { minLength: 5, maxLength: 50 },
  ),
  bursts: fc.array(burstArb, { minLength: 1, maxLength: 2 }),
  // Exact replays of earlier operations, inserted at random places: [which, where].
  replays: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 15 }),
  chunks: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }),
});
type Workload = typeof workloadArb extends fc.Arbitrary<infer W> ? W : never;

function expand(w: Workload): Op[] {
  const list: Op[] = [...w.ops, ...w.bursts.flat()];
  const base = list.length;
  for (const [which, where] of w.replays) {
    const op = list[which % base];
    if (op !== undefined) list.splice(where % (list.length + 1), 0, op);
  }
  // A replay of the first credit at the end, so that workloads exercise replayed adjustments
  // whatever the random replays above picked (a credit is applied unless its key was taken).
  const credit = list.find((op) => op.kind === "adjust" && op.amount > 0);
  if (credit !== undefined) list.push(credit);
  return list;
}

/** Order-independent key for "same event data". */
function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sort(value));
}

const groupBy = <T>(items: T[], key: (t: T) => string) => {
  const map = new Map<string, T[]>();
  for (const item of items) map.set(key(item), [...(map.get(key(item)) ?? []), item]);
  return map;
};

describe("ledger property: random concurrent workloads keep the books straight", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  let curve: LevelCurve;
  let runs = 0;
  let eventsApplied = 0;
  let levelUpsSeen = 0;
  let capsHit = 0;
  const outcomes = new Map<string, number>();
  /** Level-up expectations, checked after the property so they cannot hide the ledger checks. */
  const levelUpMismatches: string[] = [];

  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write", "users:read"], "property");
    curve = (await ctx.game.definitions.snapshot()).curve;
  });
  after(() => ctx.close());

  async function runWorkload(w: Workload) {
    runs++;
    const players = await Promise.all(ZONES.map((timeZone) => registerPlayer(ctx.app, { timeZone })));
    const ids = players.map((p) => p.id);
    const now = ctx.clock.now().getTime();
    const at = (hoursAgo: number) => new Date(now - hoursAgo * 3_600_000).toISOString();
    const who = (i: number) => {
      const p = players[i];
      assert.ok(p !== undefined);
      return p;
    };

    const attempts: Attempt[] = [];
    const adjustments: AdjustAttempt[] = [];

    const codeOf = (res: LightMyRequestResponse) => res.json<{ code?: string }>().code;
    const unexpected = (what: string, res: LightMyRequestResponse) =>
      assert.fail(`${what}: unexpected ${res.statusCode} ${res.body}`);

    async function run(op: Op): Promise<void> {
      switch (op.kind) {
        case "event": {
          const occurredAt = at(op.hoursAgo);
          const payload = {
            type: op.type,
            occurredAt,
            data: op.data,
            ...(op.via === "key" ? { userId: who(op.player).id } : {}),
            ...(op.key === null ? {} : { idempotencyKey: op.key }),
          };
          const headers = op.via === "key" ? { "x-api-key": apiKey } : bearer(who(op.player).accessToken);
          const res = await ctx.app.inject({ method: "POST", url: "/v1/events", headers, payload });
          const attempt = { ...op, occurredAt };
          if (res.statusCode === 201 || res.statusCode === 200) {
            const body = res.json<EventResult>();
            assert.equal(body.duplicate, res.statusCode === 200);
            attempts.push({
              ...attempt,
              outcome: body.duplicate ? "duplicate" : "applied",
              eventId: body.eventId,
            });
          } else if (res.statusCode === 422 && codeOf(res) === "idempotency.key_reused") {
            attempts.push({ ...attempt, outcome: "key_reused" });
          } else if (
            res.statusCode === 429 &&
            op.via === "player" &&
            codeOf(res) === "event.client_cap_reached"
          ) {
            attempts.push({ ...attempt, outcome: "client_cap" });
          } else {
            unexpected(`event ${JSON.stringify(op)}`, res);
          }
          return;
        }
        case "batch": {
          const events = op.events.map((e) => ({
            type: e.type,
            userId: who(e.player).id,
            occurredAt: at(e.hoursAgo),
            data: e.data,
          }));
          const res = await ctx.app.inject({
            method: "POST",
            url: "/v1/events/batch",
            headers: { "x-api-key": apiKey },
            payload: { events, ...(op.key === null ? {} : { idempotencyKey: op.key }) },
          });
          const each = (i: number) => {
            const e = op.events[i];
            assert.ok(e !== undefined);
            return {
              type: e.type,
              data: e.data,
              player: e.player,
              via: "key" as const,
              key: op.key === null ? null : `${op.key}#${i}`,
              occurredAt: at(e.hoursAgo),
            };
          };
          if (res.statusCode === 200) {
            const results = res.json<{ results: EventResult[] }>().results;
            assert.equal(results.length, op.events.length);
            results.forEach((r, i) =>
              attempts.push({
                ...each(i),
                outcome: r.duplicate ? "duplicate" : "applied",
                eventId: r.eventId,
              }),
            );
          } else if (res.statusCode === 422 && op.key !== null && codeOf(res) === "idempotency.key_reused") {
            op.events.forEach((_, i) => attempts.push({ ...each(i), outcome: "batch_refused" }));
          } else {
            unexpected(`batch ${JSON.stringify(op)}`, res);
          }
          return;
        }
        case "adjust": {
          const res = await ctx.app.inject({
            method: "POST",
            url: `/v1/admin/users/${who(op.player).id}/adjustments`,
            headers: bearer(admin.accessToken),
            payload: { currency: op.currency, amount: op.amount, reason: "property", idempotencyKey: op.key },
          });
          if (res.statusCode === 201 || res.statusCode === 200) {
            const body = res.json<{ entryId: number; duplicate: boolean; balance: number }>();
            assert.equal(body.duplicate, res.statusCode === 200);
            assert.ok(body.balance >= 0, res.body);
            adjustments.push({
              op,
              outcome: body.duplicate ? "duplicate" : "applied",
              entryId: body.entryId,
            });
          } else if (
            res.statusCode === 409 &&
            op.amount < 0 &&
            codeOf(res) === "economy.insufficient_funds"
          ) {
            adjustments.push({ op, outcome: "insufficient_funds" });
          } else if (res.statusCode === 422 && codeOf(res) === "idempotency.key_reused") {
            adjustments.push({ op, outcome: "key_reused" });
          } else {
            unexpected(`adjustment ${JSON.stringify(op)}`, res);
          }
          return;
        }
      }
    }

    // Run everything concurrently, in chunks of random sizes.
    const ops = expand(w);
    let position = 0;
    for (let c = 0; position < ops.length; c++) {
      const size = w.chunks[c % w.chunks.length] ?? 1;
      await Promise.all(ops.slice(position, position + size).map(run));
      position += size;
    }

    for (const a of attempts)
      outcomes.set(`event.${a.outcome}`, (outcomes.get(`event.${a.outcome}`) ?? 0) + 1);
    for (const a of adjustments)
      outcomes.set(`adjust.${a.outcome}`, (outcomes.get(`adjust.${a.outcome}`) ?? 0) + 1);

    // ---- idempotency: one application per key, replays answer with it, other data is refused ----
    const keyed = attempts.filter((a) => a.key !== null && a.outcome !== "batch_refused");
    for (const [group, list] of groupBy(keyed, (a) => `${a.via}|${a.player}|${a.key}`)) {
      const applied = list.filter((a) => a.outcome === "applied");
      assert.ok(applied.length <= 1, `${group}: applied ${applied.length} times`);
      const first = applied[0];
      if (first === undefined) {
        assert.ok(
          list.every((a) => a.outcome === "client_cap"),
          `${group}: replays of nothing: ${JSON.stringify(list)}`,
        );
        continue;
      }
      const same = (a: Typed) => a.type === first.type && canonical(a.data) === canonical(first.data);
      for (const a of list) {
        if (a.outcome === "duplicate") {
          assert.equal(a.eventId, first.eventId, `${group}: a replay answered another event`);
          assert.ok(same(a), `${group}: a replay with other data was accepted`);
        }
        if (a.outcome === "key_reused") assert.ok(!same(a), `${group}: the same data was refused`);
      }
    }
    for (const [group, list] of groupBy(adjustments, (a) => `${a.op.player}|${a.op.key}`)) {
      const applied = list.filter((a) => a.outcome === "applied");
      assert.ok(applied.length <= 1, `adjustment ${group}: applied ${applied.length} times`);
      const first = applied[0];
      for (const a of list) {
        const same =
          first !== undefined && a.op.currency === first.op.currency && a.op.amount === first.op.amount;
        if (a.outcome === "duplicate") {
          assert.ok(
            first !== undefined && same && a.entryId === first.entryId,
            `adjustment ${group}: bad replay`,
          );
        }
        if (a.outcome === "key_reused")
          assert.ok(first !== undefined && !same, `adjustment ${group}: bad refusal`);
      }
    }

    // ---- the books, read below the API ----
    const db = await ctx.db.asSystem(async (tx) => ({
      discrepancies: await findLedgerDiscrepancies(tx, ids),
      entries: await tx.rows<{
        user_id: string;
        currency: string;
        id: number;
        amount: number;
        balance_after: number;
        source: string;
      }>(
        `SELECT user_id, currency, id, amount, balance_after, source FROM ledger_entries
         WHERE user_id = ANY($1) ORDER BY id`,
        [ids],
      ),
      wallets: await tx.rows<{ user_id: string; currency: string; balance: number }>(
        `SELECT user_id, currency, balance FROM wallets WHERE user_id = ANY($1)`,
        [ids],
      ),
      levels: await tx.rows<{ user_id: string; level: number }>(
        `SELECT user_id, level FROM user_progress WHERE user_id = ANY($1)`,
        [ids],
      ),
      stats: await tx.rows<{ user_id: string; stat: string; value: number }>(
        `SELECT user_id, stat, value FROM user_stats_totals WHERE user_id = ANY($1)`,
        [ids],
      ),
      events: await tx.rows<{ user_id: string; type: string; n: number }>(
        `SELECT user_id, type, count(*)::int AS n FROM events WHERE user_id = ANY($1) GROUP BY user_id, type`,
        [ids],
      ),
      // The same two invariants once more in plain SQL, independently of findLedgerDiscrepancies.
      sqlCheck: await tx.one<{ bad_running: number; bad_balance: number; negative: number }>(
        `WITH r AS (
           SELECT balance_after, sum(amount) OVER (PARTITION BY user_id, currency ORDER BY id) AS running
           FROM ledger_entries WHERE user_id = ANY($1)
         )
         SELECT (SELECT count(*)::int FROM r WHERE balance_after <> running) AS bad_running,
                (SELECT count(*)::int FROM wallets w WHERE w.user_id = ANY($1) AND w.balance <>
                   (SELECT coalesce(sum(amount), 0) FROM ledger_entries l
                    WHERE l.user_id = w.user_id AND l.currency = w.currency)) AS bad_balance,
                (SELECT count(*)::int FROM wallets WHERE user_id = ANY($1) AND balance < 0) AS negative`,
        [ids],
      ),
    }));

    assert.deepEqual(db.discrepancies, [], "findLedgerDiscrepancies");
    assert.deepEqual(db.sqlCheck, { bad_running: 0, bad_balance: 0, negative: 0 }, "SQL check");

    // The running sum in JS, entry by entry in id order.
    const running = new Map<string, number>();
    for (const e of db.entries) {
      const k = `${e.user_id}|${e.currency}`;
      const next = (running.get(k) ?? 0) + e.amount;
      running.set(k, next);
      assert.equal(
        e.balance_after,
        next,
        `entry ${e.id}: balance_after ${e.balance_after}, running sum ${next}`,
      );
      assert.ok(e.balance_after >= 0, `entry ${e.id} leaves ${e.currency} negative`);
    }
    const wallet = new Map(db.wallets.map((r) => [`${r.user_id}|${r.currency}`, r.balance]));
    assert.deepEqual(
      [...wallet.entries()].sort(),
      [...running.entries()].sort(),
      "every wallet equals the sum of its ledger, and every ledger has its wallet",
    );
    for (const b of wallet.values()) assert.ok(b >= 0);

    // ---- the model: what the rules pay for the accepted events, whatever the order ----
    players.forEach((p, i) => {
      const zone = ZONES[i] ?? "UTC";
      const mine = attempts.filter((a) => a.player === i && a.outcome === "applied");
      const dayOf = (a: Attempt) => DateTime.fromISO(a.occurredAt, { zone }).toISODate() ?? "";
      const count = (type: DietgameType) => mine.filter((a) => a.type === type).length;
      const perDay = (type: DietgameType) =>
        [
          ...groupBy(
            mine.filter((a) => a.type === type),
            dayOf,
          ).values(),
        ].map((l) => l.length);
      const minutes = mine.filter((a) => a.type === "exercise.logged").map((a) => Number(a.data.minutes));
      const newRecipes = mine.filter((a) => a.type === "recipe.tried" && a.data.isNew === true).length;
      const adjusted = (currency: string) =>
        adjustments
          .filter((a) => a.op.player === i && a.op.currency === currency && a.outcome === "applied")
          .reduce((s, a) => s + a.op.amount, 0);

      const expected = {
        xp:
          perDay("meal.logged").reduce((s, n) => s + Math.min(100, 10 * n), 0) +
          minutes.reduce((s, m) => s + Math.min(m, 120), 0) +
          25 * count("recipe.tried") +
          25 * newRecipes +
          perDay("social.interaction").reduce((s, n) => s + Math.min(50, 5 * n), 0) +
          adjusted("xp"),
        coins:
          5 * count("meal.logged") +
          minutes.reduce((s, m) => s + Math.min(Math.floor(m * 0.5), 60), 0) +
          15 * count("recipe.tried") +
          2 * count("social.interaction") +
          adjusted("coins"),
        score:
          10 * count("meal.logged") + minutes.reduce((s, m) => s + Math.min(m, 120), 0) + adjusted("score"),
      };
      if (perDay("meal.logged").some((n) => n > 10)) capsHit++;
      eventsApplied += mine.length;

      const balance = (c: string) => wallet.get(`${p.id}|${c}`) ?? 0;
      const typeCount = (t: string) => db.events.find((e) => e.user_id === p.id && e.type === t)?.n ?? 0;
      const stat = (s: string) => db.stats.find((r) => r.user_id === p.id && r.stat === s)?.value ?? 0;
      const ledger = (source: string, currency: string) =>
        db.entries.filter((e) => e.user_id === p.id && e.source === source && e.currency === currency);
      const levelUps = typeCount("level.up");
      levelUpsSeen += levelUps;
      const label = `player ${i} (${zone})`;

      assert.equal(balance("xp"), expected.xp, `${label}: XP`);
      assert.equal(balance("score"), expected.score, `${label}: score`);
      assert.equal(balance("coins"), expected.coins + 50 * levelUps, `${label}: coins`);
      const mealCoins = ledger("rule:dietgame.meal", "coins");
      assert.equal(mealCoins.length, count("meal.logged"), `${label}: one coin entry per meal`);
      assert.equal(
        mealCoins.reduce((s, e) => s + e.amount, 0),
        5 * count("meal.logged"),
        `${label}: 5 coins per meal`,
      );

      for (const type of ["meal.logged", "exercise.logged", "recipe.tried", "social.interaction"] as const) {
        assert.equal(typeCount(type), count(type), `${label}: ${type} events stored`);
        assert.equal(stat(`events.${type}`), count(type), `${label}: events.${type}`);
      }
      assert.equal(stat("meals.logged"), count("meal.logged"), `${label}: meals.logged`);
      assert.equal(stat("exercise.sessions"), minutes.length, `${label}: exercise.sessions`);
      assert.equal(
        stat("exercise.minutes"),
        minutes.reduce((s, m) => s + m, 0),
        `${label}: exercise.minutes`,
      );
      assert.equal(stat("recipes.tried"), count("recipe.tried"), `${label}: recipes.tried`);
      assert.equal(stat("recipes.new_tried"), newRecipes, `${label}: recipes.new_tried`);
      assert.equal(stat("social.interactions"), count("social.interaction"), `${label}: social.interactions`);

      // Client caps: never more accepted from the player than the cap, and refusals only at it.
      const sentByPlayer = attempts.filter((a) => a.player === i && a.via === "player");
      for (const [group, list] of groupBy(sentByPlayer, (a) => `${a.type}@${dayOf(a)}`)) {
        const cap = CLIENT_CAPS[list[0]?.type ?? ""] ?? Infinity;
        const accepted = list.filter((a) => a.outcome === "applied").length;
        assert.ok(accepted <= cap, `${label}: ${group}: ${accepted} accepted over the cap`);
        if (list.some((a) => a.outcome === "client_cap"))
          assert.equal(accepted, cap, `${label}: ${group}: refused early`);
      }

      // Levels follow XP.
      const stored = db.levels.find((r) => r.user_id === p.id)?.level ?? 1;
      assert.equal(
        stored,
        levelForXp(curve, balance("xp")),
        `${label}: stored level for ${balance("xp")} XP`,
      );

      // Level-ups are consistent with each other …
      assert.equal(stat("events.level.up"), levelUps, `${label}: events.level.up`);
      assert.equal(stat("levels.gained"), levelUps, `${label}: levels.gained`);
      assert.equal(
        ledger("rule:core.level-up-bonus", "coins").length,
        levelUps,
        `${label}: level-up bonuses`,
      );
      // … and, when XP only ever grew through events, one per level gained.
      const xpAdjusted = adjustments.some(
        (a) => a.op.player === i && a.op.currency === "xp" && a.outcome === "applied",
      );
      if (!xpAdjusted && stored - 1 !== levelUps) {
        levelUpMismatches.push(
          `run ${runs}, ${label}: level ${stored} with ${balance("xp")} XP but ${levelUps} level.up events`,
        );
      }
    });
  }

  it("balances equal the ledger, running sums hold, nothing is negative, levels follow XP, totals match the rules", async () => {
    await fc.assert(fc.asyncProperty(workloadArb, runWorkload), {
      numRuns: 15,
      // Each run is a few hundred requests: report the first failing workload rather than shrink it.
      endOnFailure: true,
    });
    // The workloads must actually exercise what is checked.
    assert.ok(eventsApplied > 15 * 10, `only ${eventsApplied} events applied`);
    assert.ok(capsHit > 0, "no workload reached the daily meal XP cap");
    for (const outcome of [
      "event.duplicate",
      "event.key_reused",
      "adjust.applied",
      "adjust.duplicate",
      "adjust.insufficient_funds",
    ]) {
      assert.ok((outcomes.get(outcome) ?? 0) > 0, `no ${outcome} in ${JSON.stringify([...outcomes])}`);
    }
  });

  it("every level gained through events emitted a level.up event (checked over the same runs)", () => {
    assert.ok(runs > 0);
    assert.deepEqual(
      levelUpMismatches,
      [],
      `${levelUpMismatches.length} players gained levels without level.up events (level.up events seen: ${levelUpsSeen})`,
    );
  });
});
