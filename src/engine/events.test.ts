import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { DateTime } from "luxon";
import {
  bearer,
  createAdmin,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
  createApiKey,
} from "../../test/helpers/context.ts";

/**
 * The happy path of the event engine through the HTTP API, and the shape of its answers:
 * awards, balances, counters (days in the player's zone), caps, level-ups, activity, wallet,
 * ledger, statistics, public progress, player-sent events and their limits.
 */

interface Award {
  rule: string;
  currency: string;
  amount: number;
  balance: number | null;
  capped: boolean;
  eventId?: string;
}
interface Counter {
  stat: string;
  day: string;
  daily: number;
  total: number;
}
interface Effects {
  awards: Award[];
  balances: Record<string, number>;
  levelUps: { level: number; previousLevel: number }[];
  counters: Counter[];
  derived: { eventId: string; type: string; data: Record<string, unknown> }[];
}
interface EventResult {
  eventId: string;
  duplicate: boolean;
  type: string;
  userId: string;
  occurredAt: string;
  effects: Effects;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
interface ActivityItem {
  id: string;
  type: string;
  occurredAt: string;
  receivedAt: string;
  source: string;
  parentId: string | null;
  data: Record<string, unknown>;
  result: { awards?: Award[]; levelUps?: unknown[] };
}
interface LedgerItem {
  id: string;
  currency: string;
  type: string;
  amount: number;
  balanceAfter: number;
  reason: string;
  source: string;
  reference: string | null;
  metadata: Record<string, unknown> | null;
}
interface Progress {
  userId: string;
  level: number;
  totalXp: number;
  score: number;
  coins: number;
  eventsCount: number;
}

type Player = Awaited<ReturnType<typeof registerPlayer>>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A curve no test here reaches (except the one that sets its own), so level-ups stay out of the way. */
const HIGH_CURVE = { kind: "table", thresholds: [0, 1_000_000], maxLevel: 100 };

const byStat = (a: { stat: string }, b: { stat: string }) => (a.stat < b.stat ? -1 : a.stat > b.stat ? 1 : 0);
const sortedCounters = (counters: Counter[]) => [...counters].sort(byStat);
const dayIn = (at: Date, zone: string) => DateTime.fromJSDate(at, { zone }).toISODate() ?? "";

/** The most recent 20:00 UTC at least an hour ago: a time whose Auckland date is the next UTC date. */
function lastEveningUtc(now: Date): Date {
  const t = new Date(now);
  t.setUTCHours(20, 0, 0, 0);
  if (t.getTime() > now.getTime() - 3_600_000) t.setUTCDate(t.getUTCDate() - 1);
  return t;
}

describe("events: happy path and answer shape", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;

  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write", "users:read"]);
    const curve = await setCurve(HIGH_CURVE);
    assert.equal(curve.statusCode, 200, curve.body);
  });
  after(() => ctx.close());

  const setCurve = (curve: object) =>
    ctx.app.inject({
      method: "PUT",
      url: "/v1/admin/level-curve",
      headers: bearer(admin.accessToken),
      payload: curve,
    });

  const send = (
    payload: Record<string, unknown>,
    headers: Record<string, string> = { "x-api-key": apiKey },
  ) => ctx.app.inject({ method: "POST", url: "/v1/events", headers, payload });

  async function sendOk(payload: Record<string, unknown>, headers?: Record<string, string>) {
    const res = await send(payload, headers);
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json<EventResult>();
    assert.equal(body.duplicate, false);
    return body;
  }

  const get = async <T>(url: string, token: string) => {
    const res = await ctx.app.inject({ method: "GET", url, headers: bearer(token) });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json<T>();
  };

  it("an API-key meal.logged answers 201 with awards, balances and counters on the player's local day", async () => {
    const player = await registerPlayer(ctx.app, { timeZone: "Pacific/Auckland" });
    const occurredAt = lastEveningUtc(ctx.clock.now());
    const utcDay = occurredAt.toISOString().slice(0, 10);
    const localDay = dayIn(occurredAt, "Pacific/Auckland");
    assert.notEqual(localDay, utcDay, "the test needs a time whose Auckland date differs from its UTC date");

    const res = await send({
      type: "meal.logged",
      userId: player.id,
      occurredAt: occurredAt.toISOString(),
      data: { mealType: "dinner", calories: 650 },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    const body = res.json<EventResult>();
    assert.match(body.eventId, UUID);
    assert.equal(body.duplicate, false);
    assert.equal(body.type, "meal.logged");
    assert.equal(body.userId, player.id);
    assert.equal(body.occurredAt, occurredAt.toISOString());
    assert.deepEqual(body.effects.awards, [
      {
        rule: "dietgame.meal",
        currency: "xp",
        amount: 10,
        balance: 10,
        capped: false,
        eventId: body.eventId,
      },
      {
        rule: "dietgame.meal",
        currency: "coins",
        amount: 5,
        balance: 5,
        capped: false,
        eventId: body.eventId,
      },
      {
        rule: "dietgame.meal",
        currency: "score",
        amount: 10,
        balance: 10,
        capped: false,
        eventId: body.eventId,
      },
    ]);
    assert.deepEqual(body.effects.balances, { xp: 10, coins: 5, score: 10 });
    assert.deepEqual(body.effects.levelUps, []);
    assert.deepEqual(body.effects.derived, []);
    // API-key events are not client events: no client_events.* counter.
    assert.deepEqual(sortedCounters(body.effects.counters), [
      { stat: "events.meal.logged", day: localDay, daily: 1, total: 1 },
      { stat: "meals.logged", day: localDay, daily: 1, total: 1 },
    ]);

    // The stored daily rows carry the local day too.
    const rows = await ctx.db.asSystem((tx) =>
      tx.rows<{ stat: string; day: string; value: number }>(
        `SELECT stat, to_char(day, 'YYYY-MM-DD') AS day, value FROM user_stats_daily WHERE user_id = $1 ORDER BY stat`,
        [player.id],
      ),
    );
    assert.deepEqual(rows, [
      { stat: "events.meal.logged", day: localDay, value: 1 },
      { stat: "meals.logged", day: localDay, value: 1 },
    ]);
    const event = await ctx.db.asSystem((tx) =>
      tx.one<{ type: string; source: string; occurred_at: Date; data: unknown }>(
        `SELECT type, source, occurred_at, data FROM events WHERE id = $1`,
        [body.eventId],
      ),
    );
    assert.equal(event.type, "meal.logged");
    assert.equal(event.source, "api_key");
    assert.equal(event.occurred_at.toISOString(), occurredAt.toISOString());
    assert.deepEqual(event.data, { mealType: "dinner", calories: 650 });
  });

  it("exercise.logged pays from data.minutes, at most each award's max", async () => {
    const player = await registerPlayer(ctx.app);
    const first = await sendOk({
      type: "exercise.logged",
      userId: player.id,
      data: { minutes: 45, kind: "run" },
    });
    assert.deepEqual(
      first.effects.awards.map((a) => [a.rule, a.currency, a.amount, a.balance, a.capped]),
      [
        ["dietgame.exercise", "xp", 45, 45, false],
        ["dietgame.exercise", "coins", 22, 22, false],
        ["dietgame.exercise", "score", 45, 45, false],
      ],
    );
    assert.deepEqual(first.effects.balances, { xp: 45, coins: 22, score: 45 });

    const long = await sendOk({ type: "exercise.logged", userId: player.id, data: { minutes: 500 } });
    assert.deepEqual(
      long.effects.awards.map((a) => [a.currency, a.amount, a.balance]),
      [
        ["xp", 120, 165],
        ["coins", 60, 82],
        ["score", 120, 165],
      ],
    );
    const counters = Object.fromEntries(long.effects.counters.map((c) => [c.stat, c.total]));
    assert.deepEqual(counters, {
      "events.exercise.logged": 2,
      "exercise.minutes": 545, // counters are not capped
      "exercise.sessions": 2,
    });
  });

  it("the 11th meal of the player's day pays no XP (capped) but still pays coins and score", async () => {
    const player = await registerPlayer(ctx.app);
    const today = new Date(ctx.clock.now().getTime() - 3_600_000).toISOString();
    const results: EventResult[] = [];
    for (let i = 0; i < 11; i++) {
      results.push(
        await sendOk({
          type: "meal.logged",
          userId: player.id,
          occurredAt: today,
          data: { mealType: "snack" },
        }),
      );
    }
    const tenth = results[9];
    const eleventh = results[10];
    assert.ok(tenth !== undefined && eleventh !== undefined);
    assert.deepEqual(
      tenth.effects.awards.find((a) => a.currency === "xp"),
      {
        rule: "dietgame.meal",
        currency: "xp",
        amount: 10,
        balance: 100,
        capped: false,
        eventId: tenth.eventId,
      },
    );
    assert.deepEqual(eleventh.effects.awards, [
      {
        rule: "dietgame.meal",
        currency: "xp",
        amount: 0,
        balance: null,
        capped: true,
        eventId: eleventh.eventId,
      },
      {
        rule: "dietgame.meal",
        currency: "coins",
        amount: 5,
        balance: 55,
        capped: false,
        eventId: eleventh.eventId,
      },
      {
        rule: "dietgame.meal",
        currency: "score",
        amount: 10,
        balance: 110,
        capped: false,
        eventId: eleventh.eventId,
      },
    ]);
    assert.deepEqual(eleventh.effects.balances, { coins: 55, score: 110 });
    const meals = eleventh.effects.counters.find((c) => c.stat === "meals.logged");
    assert.equal(meals?.daily, 11);

    // The cap is per day: a meal on the previous day pays XP again.
    const yesterday = new Date(ctx.clock.now().getTime() - 25 * 3_600_000).toISOString();
    const earlier = await sendOk({
      type: "meal.logged",
      userId: player.id,
      occurredAt: yesterday,
      data: { mealType: "lunch" },
    });
    assert.deepEqual(earlier.effects.awards[0], {
      rule: "dietgame.meal",
      currency: "xp",
      amount: 10,
      balance: 110,
      capped: false,
      eventId: earlier.eventId,
    });
    const xpEntries = await ctx.db.asSystem((tx) =>
      tx.one<{ n: number; total: number }>(
        `SELECT count(*)::int AS n, coalesce(sum(amount), 0)::int AS total FROM ledger_entries WHERE user_id = $1 AND currency = 'xp'`,
        [player.id],
      ),
    );
    assert.deepEqual(xpEntries, { n: 11, total: 110 }, "a capped award writes no ledger entry");
  });

  it("an event crossing two levels emits two level.up events, pays their bonus and raises the level", async () => {
    const player = await registerPlayer(ctx.app);
    const set = await setCurve({ kind: "table", thresholds: [0, 10, 20, 1000], maxLevel: 100 });
    assert.equal(set.statusCode, 200, set.body);
    try {
      const body = await sendOk({ type: "exercise.logged", userId: player.id, data: { minutes: 25 } });

      // The stored and shown level follow the XP (25 XP: past 10 and 20, short of 1000).
      const progress = await get<Progress>("/v1/me/progress", player.accessToken);
      assert.equal(progress.level, 3);
      assert.equal(progress.totalXp, 25);
      const stored = await ctx.db.asSystem((tx) =>
        tx.one<{ level: number }>(`SELECT level FROM user_progress WHERE user_id = $1`, [player.id]),
      );
      assert.equal(stored.level, 3);

      assert.deepEqual(body.effects.levelUps, [
        { level: 2, previousLevel: 1 },
        { level: 3, previousLevel: 2 },
      ]);
      assert.deepEqual(
        body.effects.derived.map((d) => ({ type: d.type, data: d.data })),
        [
          { type: "level.up", data: { level: 2, previousLevel: 1 } },
          { type: "level.up", data: { level: 3, previousLevel: 2 } },
        ],
      );
      for (const d of body.effects.derived) assert.match(d.eventId, UUID);
      const bonuses = body.effects.awards.filter((a) => a.rule === "core.level-up-bonus");
      assert.deepEqual(
        bonuses.map((a) => [a.currency, a.amount, a.balance]),
        [
          ["coins", 50, 12 + 50],
          ["coins", 50, 12 + 100],
        ],
      );
      assert.deepEqual(
        bonuses.map((a) => a.eventId),
        body.effects.derived.map((d) => d.eventId),
        "each bonus names the level.up event that paid it",
      );
      assert.equal(body.effects.balances.coins, 112);
      const totals = Object.fromEntries(body.effects.counters.map((c) => [c.stat, c.total]));
      assert.equal(totals["events.level.up"], 2);
      assert.equal(totals["levels.gained"], 2);

      const after = await get<Progress>("/v1/me/progress", player.accessToken);
      assert.equal(after.coins, 112);
      const children = await ctx.db.asSystem((tx) =>
        tx.rows<{ type: string; parent_id: string; source: string }>(
          `SELECT type, parent_id, source FROM events WHERE user_id = $1 AND type = 'level.up'`,
          [player.id],
        ),
      );
      assert.equal(children.length, 2);
      for (const c of children) {
        assert.equal(c.parent_id, body.eventId);
        assert.equal(c.source, "system");
      }
    } finally {
      const restored = await setCurve(HIGH_CURVE);
      assert.equal(restored.statusCode, 200, restored.body);
    }
  });

  it("GET /v1/me/activity lists the player's events newest first, with cursor pagination", async () => {
    const player = await registerPlayer(ctx.app);
    const sent: EventResult[] = [];
    const payloads = [
      { type: "meal.logged", data: { mealType: "breakfast" } },
      { type: "exercise.logged", data: { minutes: 30 } },
      { type: "recipe.tried", data: { recipeId: "r-1", isNew: true } },
      { type: "social.interaction", data: { kind: "like" } },
      { type: "meal.logged", data: { mealType: "lunch" } },
    ];
    for (const p of payloads) sent.push(await sendOk({ ...p, userId: player.id }));
    // One sent by the player themselves.
    sent.push(await sendOk({ type: "meal.logged", data: { mealType: "snack" } }, bearer(player.accessToken)));

    const seen: ActivityItem[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/me/activity?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`;
      const page = await get<Page<ActivityItem>>(url, player.accessToken);
      assert.ok(page.items.length <= 2);
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(
      seen.map((e) => e.id),
      sent.map((s) => s.eventId).reverse(),
    );
    const newest = seen[0];
    assert.ok(newest !== undefined);
    assert.equal(newest.source, "player");
    assert.deepEqual(newest.data, { mealType: "snack" });
    assert.equal(newest.parentId, null);
    assert.deepEqual(
      newest.result.awards?.map((a) => a.currency),
      ["xp", "coins", "score"],
    );
    assert.deepEqual(
      seen.slice(1).map((e) => e.source),
      Array<string>(5).fill("api_key"),
    );
    for (let i = 1; i < seen.length; i++) {
      assert.ok((seen[i - 1]?.receivedAt ?? "") >= (seen[i]?.receivedAt ?? ""), "newest first");
    }

    const meals = await get<Page<ActivityItem>>("/v1/me/activity?type=meal.logged", player.accessToken);
    assert.deepEqual(
      meals.items.map((e) => e.id),
      [sent[5], sent[4], sent[0]].map((s) => s?.eventId),
    );
    assert.equal(meals.nextCursor, null);

    const bad = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/activity?cursor=bm90LWEtY3Vyc29y",
      headers: bearer(player.accessToken),
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(problem(bad).code, "validation.failed");
  });

  it("GET /v1/me/wallet and /v1/me/ledger (paginated) agree with the effects", async () => {
    const player = await registerPlayer(ctx.app);
    const sent: EventResult[] = [];
    sent.push(await sendOk({ type: "meal.logged", userId: player.id, data: { mealType: "lunch" } }));
    sent.push(await sendOk({ type: "exercise.logged", userId: player.id, data: { minutes: 31 } }));
    sent.push(
      await sendOk({ type: "recipe.tried", userId: player.id, data: { recipeId: "x", isNew: true } }),
    );
    sent.push(await sendOk({ type: "social.interaction", userId: player.id, data: { kind: "share" } }));

    const last = new Map<string, number>();
    for (const s of sent) for (const [c, b] of Object.entries(s.effects.balances)) last.set(c, b);
    const wallet = await get<{ items: { currency: string; balance: number; lifetimeEarned: number }[] }>(
      "/v1/me/wallet",
      player.accessToken,
    );
    assert.deepEqual(
      wallet.items.map((w) => [w.currency, w.balance, w.lifetimeEarned]).sort(),
      [...last.entries()].map(([c, b]) => [c, b, b]).sort(),
    );
    // 10 + 31 + 25 + 25 + 5 XP; 5 + 15 + 15 + 2 coins; 10 + 31 score.
    assert.deepEqual(Object.fromEntries(last), { xp: 96, coins: 37, score: 41 });

    const entries: LedgerItem[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/me/ledger?limit=3${cursor === null ? "" : `&cursor=${cursor}`}`;
      const page = await get<Page<LedgerItem>>(url, player.accessToken);
      entries.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    const awards = sent.flatMap((s) => s.effects.awards).filter((a) => a.amount > 0);
    assert.equal(entries.length, awards.length);
    assert.equal(pages, Math.ceil(awards.length / 3));
    // Newest first: the reverse of the order the awards were paid.
    assert.deepEqual(
      entries.map((e) => [e.currency, e.type, e.amount, e.balanceAfter, e.source, e.reference]),
      awards.map((a) => [a.currency, "earn", a.amount, a.balance, `rule:${a.rule}`, a.eventId]).reverse(),
    );
    const ids = entries.map((e) => Number(e.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
    const first = entries[entries.length - 1];
    assert.deepEqual(first?.metadata, { ruleVersion: 1, eventType: "meal.logged" });
    assert.equal(first?.reason, "Meal logged");

    const coins = await get<Page<LedgerItem>>("/v1/me/ledger?currency=coins", player.accessToken);
    assert.deepEqual(
      coins.items.map((e) => e.balanceAfter),
      [37, 35, 20, 5],
    );
  });

  it("GET /v1/me/stats returns totals and daily values for a range", async () => {
    const player = await registerPlayer(ctx.app);
    const now = ctx.clock.now();
    const recent = new Date(now.getTime() - 3_600_000);
    const older = new Date(now.getTime() - 25 * 3_600_000);
    const d1 = dayIn(recent, "UTC");
    const d0 = dayIn(older, "UTC");
    await sendOk({
      type: "meal.logged",
      userId: player.id,
      occurredAt: older.toISOString(),
      data: { mealType: "lunch" },
    });
    for (let i = 0; i < 2; i++) {
      await sendOk({
        type: "meal.logged",
        userId: player.id,
        occurredAt: recent.toISOString(),
        data: { mealType: "dinner" },
      });
    }
    await sendOk({
      type: "exercise.logged",
      userId: player.id,
      occurredAt: recent.toISOString(),
      data: { minutes: 20 },
    });

    const all = await get<{
      from: string;
      to: string;
      totals: Record<string, number>;
      daily: { stat: string; day: string; value: number }[];
    }>(`/v1/me/stats?from=${d0}&to=${d1}`, player.accessToken);
    assert.equal(all.from, d0);
    assert.equal(all.to, d1);
    assert.deepEqual(all.totals, {
      "events.meal.logged": 3,
      "meals.logged": 3,
      "events.exercise.logged": 1,
      "exercise.sessions": 1,
      "exercise.minutes": 20,
    });
    assert.deepEqual(
      [...all.daily].sort((a, b) => `${a.stat}${a.day}`.localeCompare(`${b.stat}${b.day}`)),
      [
        { stat: "events.exercise.logged", day: d1, value: 1 },
        { stat: "events.meal.logged", day: d0, value: 1 },
        { stat: "events.meal.logged", day: d1, value: 2 },
        { stat: "exercise.minutes", day: d1, value: 20 },
        { stat: "exercise.sessions", day: d1, value: 1 },
        { stat: "meals.logged", day: d0, value: 1 },
        { stat: "meals.logged", day: d1, value: 2 },
      ],
    );

    const one = await get<{
      totals: Record<string, number>;
      daily: { stat: string; day: string; value: number }[];
    }>(`/v1/me/stats?stat=meals.logged&from=${d1}&to=${d1}`, player.accessToken);
    assert.deepEqual(one.totals, { "meals.logged": 3 });
    assert.deepEqual(one.daily, [{ stat: "meals.logged", day: d1, value: 2 }]);

    // Without a range: the last 30 days up to today in the player's zone.
    const recentDays = await get<{ from: string; to: string; daily: unknown[] }>(
      "/v1/me/stats",
      player.accessToken,
    );
    assert.equal(recentDays.to, dayIn(now, "UTC"));
    assert.equal(recentDays.daily.length, 7);

    const stats = (query: string) =>
      ctx.app.inject({ method: "GET", url: `/v1/me/stats?${query}`, headers: bearer(player.accessToken) });
    const reversed = await stats(`from=${d1}&to=${d0}`);
    assert.equal(reversed.statusCode, 400);
    assert.equal(problem(reversed).code, "validation.failed");
    const tooLong = await stats("from=2025-01-01&to=2026-02-01");
    assert.equal(tooLong.statusCode, 400);
    assert.equal(problem(tooLong).code, "validation.failed");
    const notADay = await stats("from=2025-13-01");
    assert.equal(notADay.statusCode, 400);
  });

  it("GET /v1/me/stats accepts 366 days at most (from and to both count)", async () => {
    const player = await registerPlayer(ctx.app);
    const stats = (from: string, to: string) =>
      ctx.app.inject({
        method: "GET",
        url: `/v1/me/stats?from=${from}&to=${to}`,
        headers: bearer(player.accessToken),
      });
    // 2025-01-01 … 2026-01-01 is 366 days; … 2026-01-02 is 367.
    const full = await stats("2025-01-01", "2026-01-01");
    assert.equal(full.statusCode, 200, full.body);
    const over = await stats("2025-01-01", "2026-01-02");
    assert.equal(over.statusCode, 400, `a 367-day range was answered ${over.statusCode}`);
    assert.equal(problem(over).code, "validation.failed");
  });

  it("GET /v1/users/{id}/progress shows the public fields only, to app backends and admins", async () => {
    const player = await registerPlayer(ctx.app);
    const viewer = await registerPlayer(ctx.app);
    await sendOk({ type: "exercise.logged", userId: player.id, data: { minutes: 40 } });
    const expected = { userId: player.id, level: 1, totalXp: 40, score: 40 };
    assert.deepEqual(await get(`/v1/users/${player.id}/progress`, admin.accessToken), expected);
    // As docs/api.md says: an app backend's route (users:read), like GET /v1/users/{id}; another
    // player is refused, and so is the player itself (it has GET /v1/me/progress).
    for (const token of [viewer.accessToken, player.accessToken]) {
      const byPlayer = await ctx.app.inject({
        method: "GET",
        url: `/v1/users/${player.id}/progress`,
        headers: bearer(token),
      });
      assert.equal(byPlayer.statusCode, 403);
      assert.equal(problem(byPlayer).code, "auth.insufficient_scope");
    }
    const withKey = await ctx.app.inject({
      method: "GET",
      url: `/v1/users/${player.id}/progress`,
      headers: { "x-api-key": apiKey },
    });
    assert.equal(withKey.statusCode, 200, withKey.body);
    assert.deepEqual(withKey.json(), expected);
    assert.ok(!withKey.body.includes("coins") && !withKey.body.includes(player.email));

    const writeOnly = await createApiKey(ctx, admin.accessToken, ["events:write"]);
    const refused = await ctx.app.inject({
      method: "GET",
      url: `/v1/users/${player.id}/progress`,
      headers: { "x-api-key": writeOnly },
    });
    assert.equal(refused.statusCode, 403);
    assert.equal(problem(refused).code, "auth.insufficient_scope");
    const unknown = await ctx.app.inject({
      method: "GET",
      url: `/v1/users/${randomUUID()}/progress`,
      headers: bearer(admin.accessToken),
    });
    assert.equal(unknown.statusCode, 404);
  });

  it("a player sends client-writable types for themselves; the 21st meal of a day is 429", async () => {
    const player: Player = await registerPlayer(ctx.app);
    const headers = bearer(player.accessToken);
    const day = new Date(ctx.clock.now().getTime() - 3_600_000).toISOString();
    const first = await sendOk(
      { type: "meal.logged", occurredAt: day, data: { mealType: "lunch" } },
      headers,
    );
    assert.equal(first.userId, player.id);
    const counters = Object.fromEntries(first.effects.counters.map((c) => [c.stat, c.daily]));
    assert.equal(counters["client_events.meal.logged"], 1);
    // Naming themselves is fine too.
    await sendOk(
      { type: "meal.logged", userId: player.id, occurredAt: day, data: { mealType: "lunch" } },
      headers,
    );
    await sendOk({ type: "exercise.logged", data: { minutes: 10 } }, headers);
    await sendOk({ type: "recipe.tried", data: { recipeId: "soup" } }, headers);
    for (let i = 2; i < 20; i++) {
      await sendOk({ type: "meal.logged", occurredAt: day, data: { mealType: "snack" } }, headers);
    }
    const before = await ctx.db.asSystem((tx) =>
      tx.one<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE user_id = $1`, [player.id]),
    );
    const capped = await send({ type: "meal.logged", occurredAt: day, data: { mealType: "snack" } }, headers);
    assert.equal(capped.statusCode, 429, capped.body);
    assert.equal(problem(capped).code, "event.client_cap_reached");
    const afterCap = await ctx.db.asSystem((tx) =>
      tx.one<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE user_id = $1`, [player.id]),
    );
    assert.equal(afterCap.n, before.n);

    // The cap is per day and for players only: another day, or the app backend, still works.
    const yesterday = new Date(ctx.clock.now().getTime() - 25 * 3_600_000).toISOString();
    await sendOk({ type: "meal.logged", occurredAt: yesterday, data: { mealType: "snack" } }, headers);
    await sendOk({ type: "meal.logged", userId: player.id, occurredAt: day, data: { mealType: "snack" } });
  });

  it("GET /v1/me/progress counts the player's events", async () => {
    const player = await registerPlayer(ctx.app);
    for (let i = 0; i < 3; i++) {
      await sendOk({ type: "meal.logged", userId: player.id, data: { mealType: "lunch" } });
    }
    const progress = await get<Progress>("/v1/me/progress", player.accessToken);
    assert.deepEqual(
      { totalXp: progress.totalXp, coins: progress.coins, score: progress.score },
      { totalXp: 30, coins: 15, score: 30 },
    );
    assert.equal(progress.eventsCount, 3, `eventsCount is ${progress.eventsCount} after 3 events`);
  });
});

describe("events: player rate limit", () => {
  let ctx: TestContext;
  let apiKey: string;
  before(async () => {
    ctx = await createTestContext({ eventsRateLimitPerMinute: 3 });
    const admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  after(() => ctx.close());

  it("limits each player's requests per minute, but not API keys", async () => {
    const player = await registerPlayer(ctx.app);
    const other = await registerPlayer(ctx.app);
    const asPlayer = (token: string) =>
      ctx.app.inject({
        method: "POST",
        url: "/v1/events",
        headers: bearer(token),
        payload: { type: "meal.logged", data: { mealType: "snack" } },
      });
    for (let i = 0; i < 3; i++) assert.equal((await asPlayer(player.accessToken)).statusCode, 201);
    const limited = await asPlayer(player.accessToken);
    assert.equal(limited.statusCode, 429, limited.body);
    assert.equal(problem(limited).code, "rate_limited");
    // Another player has their own allowance.
    assert.equal((await asPlayer(other.accessToken)).statusCode, 201);
    // API keys are not limited.
    for (let i = 0; i < 10; i++) {
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/events",
        headers: { "x-api-key": apiKey },
        payload: { type: "meal.logged", userId: player.id, data: { mealType: "snack" } },
      });
      assert.equal(res.statusCode, 201, res.body);
    }
    const events = await ctx.db.asSystem((tx) =>
      tx.one<{ n: number }>(
        `SELECT count(*)::int AS n FROM events WHERE user_id = $1 AND type = 'meal.logged'`,
        [player.id],
      ),
    );
    assert.equal(events.n, 13);
  });
});
