/**
 * Acceptance: period close, tested with an injected clock in two zones, including closes missed
 * while Ludus was stopped.
 *
 * Daily boards in America/New_York (which moves to daylight time on Sunday 8 March 2026, so that
 * day is 23 hours long) and Asia/Tokyo: entries a minute either side of local midnight land in
 * different periods; a period closes only at its end in the board's zone (not at UTC midnight, not
 * a millisecond early); periods missed while nothing ran are all closed by the next run, oldest
 * first, each with its snapshot (the top snapshotSize) and final ranks; closing again changes
 * nothing; snapshots are listed newest first; a closed period reads with its final ranks; a score
 * for a closed period is refused (409 leaderboard.period_closed), also when it races the close, and
 * an event back-dated into one does not change it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import pino from "pino";
import { listName } from "../src/leaderboards/board-feed.ts";
import { closeDuePeriods } from "../src/leaderboards/period-close.ts";
import { capturingLogger } from "./helpers/capture-log.ts";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  problem,
  registerPlayer,
  tableDigests,
  type TestContext,
} from "./helpers/context.ts";

const silent = pino({ level: "silent" });
const LEADERBOARD_TABLES = ["leaderboard_periods", "leaderboard_entries", "leaderboard_snapshots"] as const;

interface BoardSpec {
  key: string;
  operator: "sum" | "best";
  sort: "desc" | "asc";
  timeZone: string;
  snapshotSize: number;
  source: { kind: "submitted" } | { kind: "event"; eventType: string; field: string };
}

const NY: BoardSpec = {
  key: "ny-daily",
  operator: "sum",
  sort: "desc",
  timeZone: "America/New_York",
  snapshotSize: 2,
  source: { kind: "submitted" },
};
/** Lower is better: a time to beat. */
const TOKYO: BoardSpec = {
  key: "tokyo-daily",
  operator: "best",
  sort: "asc",
  timeZone: "Asia/Tokyo",
  snapshotSize: 2,
  source: { kind: "submitted" },
};
const TOKYO_TYPING: BoardSpec = {
  key: "tokyo-typing",
  operator: "best",
  sort: "desc",
  timeZone: "Asia/Tokyo",
  snapshotSize: 3,
  source: { kind: "event", eventType: "typing.game.finished", field: "data.score" },
};
const RACE: BoardSpec = { ...NY, key: "race-daily", timeZone: "UTC", operator: "best", snapshotSize: 5 };
const RACE_TYPING: BoardSpec = { ...TOKYO_TYPING, key: "race-typing", timeZone: "UTC" };

interface Row {
  rank: number;
  userId: string;
  score: number;
  reachedAt: string;
}
interface Page {
  period: string;
  closed: boolean;
  items: Row[];
  nextCursor: string | null;
}
interface Snapshots {
  items: {
    period: string;
    startsAt: string | null;
    endsAt: string | null;
    closedAt: string;
    entries: number;
    top: { rank: number; userId: string; score: number; reachedAt: string }[];
  }[];
  nextCursor: string | null;
}

describe("leaderboard periods in two zones, closed by an injected clock", () => {
  let ctx: TestContext;
  let apiKey: string;
  let players: string[];
  const boardIds = new Map<string, string>();
  /** The model: per board and period, each player's score and when it was reached. */
  const model = new Map<string, Map<string, { score: number; reachedMs: number }>>();

  before(async () => {
    ctx = await createTestContext({ packs: ["dietgame", "prodev"] });
    ctx.clock.set("2026-03-07T22:00:00Z");
    const admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write", "scores:write"]);
    for (const board of [NY, TOKYO, TOKYO_TYPING, RACE]) await createBoard(admin.accessToken, board);
    players = [];
    for (let i = 0; i < 5; i++) players.push((await registerPlayer(ctx.app)).id);
  });
  after(() => ctx.close());

  // ---- helpers -----------------------------------------------------------------------------------

  const p = (i: number) => players[i]!;
  async function createBoard(adminToken: string, board: BoardSpec) {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/leaderboards",
      headers: bearer(adminToken),
      payload: { ...board, name: board.key, period: "day" },
    });
    assert.equal(res.statusCode, 201, res.body);
    const { id } = await ctx.db.asSystem((tx) =>
      tx.one<{ id: string }>(`SELECT id FROM leaderboards WHERE key = $1`, [board.key]),
    );
    boardIds.set(board.key, id);
  }
  const at = (iso: string) => ctx.clock.set(iso);
  const close = (logger = silent) => closeDuePeriods(ctx.db, ctx.game.ranks, ctx.clock.now(), logger);
  let keys = 0;

  const record = (board: BoardSpec, period: string, userId: string, value: number, atMs: number) => {
    const slot = `${board.key} ${period}`;
    const entries = model.get(slot) ?? new Map<string, { score: number; reachedMs: number }>();
    model.set(slot, entries);
    const before = entries.get(userId);
    const better = (a: number, b: number) => (board.sort === "desc" ? a > b : a < b);
    const score =
      board.operator === "sum"
        ? (before?.score ?? 0) + value
        : before === undefined || better(value, before.score)
          ? value
          : before.score;
    if (before === undefined || score !== before.score) entries.set(userId, { score, reachedMs: atMs });
  };

  /** The naive final standings of a board period: [rank, userId, score]. */
  const expected = (board: BoardSpec, period: string): [number, string, number][] =>
    [
      ...(
        model.get(`${board.key} ${period}`) ?? new Map<string, { score: number; reachedMs: number }>()
      ).entries(),
    ]
      .sort(([ua, a], [ub, b]) => {
        if (a.score !== b.score)
          return (board.sort === "desc" ? a.score > b.score : a.score < b.score) ? -1 : 1;
        if (a.reachedMs !== b.reachedMs) return a.reachedMs - b.reachedMs;
        return ua < ub ? -1 : 1;
      })
      .map(([userId, e], i) => [i + 1, userId, e.score]);

  const submitRaw = (board: BoardSpec, userId: string, score: number, occurredAt?: string) => {
    keys += 1;
    return ctx.app.inject({
      method: "POST",
      url: `/v1/leaderboards/${board.key}/scores`,
      headers: { "x-api-key": apiKey },
      payload: {
        userId,
        score,
        idempotencyKey: `k${keys}`,
        ...(occurredAt === undefined ? {} : { occurredAt }),
      },
    });
  };
  /** Submits a score (now, or at occurredAt) and returns the period it went to. */
  const submit = async (board: BoardSpec, userId: string, score: number, occurredAt?: string) => {
    const res = await submitRaw(board, userId, score, occurredAt);
    assert.equal(res.statusCode, 200, res.body);
    const { period } = res.json<{ period: string }>();
    record(
      board,
      period,
      userId,
      score,
      occurredAt === undefined ? ctx.clock.now().getTime() : Date.parse(occurredAt),
    );
    return period;
  };
  const typingGame = async (userId: string, score: number, occurredAt?: string) => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: {
        type: "typing.game.finished",
        userId,
        data: { score, wpm: 50, accuracy: 90, durationSeconds: 60 },
        ...(occurredAt === undefined ? {} : { occurredAt }),
      },
    });
    assert.equal(res.statusCode, 201, res.body);
  };
  const get = async <T>(url: string) => {
    const res = await ctx.app.inject({ method: "GET", url, headers: { "x-api-key": apiKey } });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json<T>();
  };
  const periodRow = (board: BoardSpec, period: string) =>
    ctx.db.asSystem((tx) =>
      tx.maybeOne<{ starts_at: Date; ends_at: Date; closed_at: Date | null; entries: number | null }>(
        `SELECT starts_at, ends_at, closed_at, entries FROM leaderboard_periods WHERE leaderboard_id = $1 AND period_key = $2`,
        [boardIds.get(board.key), period],
      ),
    );
  const isClosed = async (board: BoardSpec, period: string) =>
    ((await periodRow(board, period))?.closed_at ?? null) !== null;

  /** Every read of a closed period gives its final ranks, and its snapshot is its top. */
  async function checkClosed(board: BoardSpec, period: string, closedAt: string) {
    const want = expected(board, period);
    const where = `${board.key} ${period}`;
    const row = await periodRow(board, period);
    assert.equal(row?.closed_at?.toISOString(), closedAt, `closed at ${where}`);
    assert.equal(row?.entries, want.length);
    const finals = await ctx.db.asSystem((tx) =>
      tx.rows<{ user_id: string; final_rank: number }>(
        `SELECT user_id, final_rank FROM leaderboard_entries WHERE leaderboard_id = $1 AND period_key = $2 ORDER BY final_rank`,
        [boardIds.get(board.key), period],
      ),
    );
    assert.deepEqual(
      finals.map((f) => [f.final_rank, f.user_id]),
      want.map(([rank, userId]) => [rank, userId]),
      `final ranks of ${where}`,
    );
    const snapshot = await ctx.db.asSystem((tx) =>
      tx.rows<{ rank: number; user_id: string; score: number }>(
        `SELECT rank, user_id, score FROM leaderboard_snapshots WHERE leaderboard_id = $1 AND period_key = $2 ORDER BY rank`,
        [boardIds.get(board.key), period],
      ),
    );
    assert.deepEqual(
      snapshot.map((s) => [s.rank, s.user_id, s.score]),
      want.slice(0, board.snapshotSize),
      `snapshot of ${where}`,
    );
    // Reads of the closed period: one page, pages of one, standings and a friends board.
    const page = await get<Page>(`/v1/leaderboards/${board.key}?period=${period}&limit=100`);
    assert.equal(page.closed, true);
    assert.equal(page.period, period);
    assert.deepEqual(
      page.items.map((r) => [r.rank, r.userId, r.score]),
      want,
      `page of ${where}`,
    );
    const walked: [number, string, number][] = [];
    let cursor: string | null = null;
    do {
      const one: Page = await get(
        `/v1/leaderboards/${board.key}?period=${period}&limit=1${cursor === null ? "" : `&cursor=${cursor}`}`,
      );
      walked.push(...one.items.map((r): [number, string, number] => [r.rank, r.userId, r.score]));
      cursor = one.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(walked, want, `pages of one of ${where}`);
    for (const id of players) {
      const standing = await get<{ rank: number | null; total: number; neighbours: Row[] }>(
        `/v1/leaderboards/${board.key}/users/${id}?period=${period}&around=1`,
      );
      const mine = want.find(([, userId]) => userId === id);
      assert.equal(standing.rank, mine?.[0] ?? null, `standing of player ${players.indexOf(id)} in ${where}`);
      assert.equal(standing.total, want.length);
      if (mine !== undefined) {
        assert.deepEqual(
          standing.neighbours.map((r) => r.rank),
          want.slice(Math.max(0, mine[0] - 2), mine[0] + 1).map(([rank]) => rank),
        );
      }
    }
    const ranks = await ctx.app.inject({
      method: "POST",
      url: `/v1/leaderboards/${board.key}/ranks`,
      headers: { "x-api-key": apiKey },
      payload: { userIds: players, period },
    });
    assert.deepEqual(
      ranks.json<{ items: Row[] }>().items.map((r) => [r.rank, r.userId, r.score]),
      want,
      `friends' ranks in ${where}`,
    );
    // The index no longer holds the period.
    assert.equal(await ctx.game.ranks.index.size(listName(boardIds.get(board.key)!, period)), 0);
  }

  // ---- the tests ---------------------------------------------------------------------------------

  it("puts entries a minute either side of local midnight in different periods, and closes each at its end in its zone", async () => {
    // Saturday 7 March, 18:00 in New York (EST, UTC−5); Sunday 8 March, 08:00 in Tokyo (UTC+9).
    at("2026-03-07T23:00:00Z");
    assert.equal(await submit(NY, p(1), 3), "2026-03-07");
    assert.equal(await submit(TOKYO, p(0), 30), "2026-03-08");
    // UTC midnight ends no period of these boards.
    at("2026-03-08T00:00:00Z");
    assert.equal(await close(), 0);
    // 23:59 on the 7th in New York.
    at("2026-03-08T04:59:00Z");
    assert.equal(await submit(NY, p(0), 5), "2026-03-07");
    assert.equal(await close(), 0);
    at("2026-03-08T04:59:59.999Z");
    assert.equal(await close(), 0, "a millisecond before midnight in New York");
    assert.equal(await isClosed(NY, "2026-03-07"), false);
    at("2026-03-08T05:00:00.000Z");
    assert.equal(await close(), 1, "midnight in New York closes the 7th there");
    await checkClosed(NY, "2026-03-07", "2026-03-08T05:00:00.000Z");
    assert.equal(await isClosed(TOKYO, "2026-03-08"), false);

    // 00:01 on the 8th in New York: the next period. A score for 23:59:30 on the 7th is refused.
    at("2026-03-08T05:01:00Z");
    assert.equal(await submit(NY, p(0), 2), "2026-03-08");
    assert.equal(await submit(NY, p(2), 7), "2026-03-08");
    const late = await submitRaw(NY, p(3), 100, "2026-03-08T04:59:30Z");
    assert.equal(late.statusCode, 409, late.body);
    assert.equal(problem(late).code, "leaderboard.period_closed");
    await checkClosed(NY, "2026-03-07", "2026-03-08T05:00:00.000Z");

    // 23:59 on the 8th in Tokyo, then 00:01 on the 9th.
    at("2026-03-08T14:59:00Z");
    assert.equal(await submit(TOKYO, p(1), 20), "2026-03-08");
    assert.equal(await submit(TOKYO, p(2), 20), "2026-03-08");
    await typingGame(p(0), 400);
    record(TOKYO_TYPING, "2026-03-08", p(0), 400, ctx.clock.now().getTime());
    at("2026-03-08T14:59:59.999Z");
    assert.equal(await close(), 0, "a millisecond before midnight in Tokyo");
    at("2026-03-08T15:01:00Z");
    assert.equal(await submit(TOKYO, p(1), 10), "2026-03-09");
    await typingGame(p(1), 500);
    record(TOKYO_TYPING, "2026-03-09", p(1), 500, ctx.clock.now().getTime());
    assert.deepEqual(
      (await get<Page>(`/v1/leaderboards/${TOKYO.key}`)).items.map((r) => [r.userId, r.score]),
      [[p(1), 10]],
      "the current Tokyo day is the 9th",
    );
    assert.equal(await close(), 2, "midnight in Tokyo closes both Tokyo boards' 8th");
    await checkClosed(TOKYO, "2026-03-08", "2026-03-08T15:01:00.000Z");
    await checkClosed(TOKYO_TYPING, "2026-03-08", "2026-03-08T15:01:00.000Z");
    assert.equal(await isClosed(NY, "2026-03-08"), false);

    // A game back-dated into Tokyo's closed 8th (23:30 there) does not change it.
    const digests = await tableDigests(ctx, ["leaderboard_snapshots"]);
    await typingGame(p(3), 900, "2026-03-08T14:30:00Z");
    await checkClosed(TOKYO_TYPING, "2026-03-08", "2026-03-08T15:01:00.000Z");
    assert.deepEqual(await tableDigests(ctx, ["leaderboard_snapshots"]), digests);

    // New York's 8th is 23 hours long (daylight time starts at 2:00): it ends at 04:00 UTC.
    const ny8 = await periodRow(NY, "2026-03-08");
    assert.equal(ny8?.starts_at.toISOString(), "2026-03-08T05:00:00.000Z");
    assert.equal(ny8?.ends_at.toISOString(), "2026-03-09T04:00:00.000Z");
    at("2026-03-09T03:59:59.999Z");
    assert.equal(await close(), 0);
    at("2026-03-09T04:00:00.000Z");
    assert.equal(await close(), 1);
    await checkClosed(NY, "2026-03-08", "2026-03-09T04:00:00.000Z");
    assert.equal(await close(), 0);
  });

  it("closes every period missed while stopped on the next run, oldest first, each with its snapshot and final ranks", async () => {
    // Three days of scores in both zones, with ties (same score, same instant: the smaller user id
    // first; same score earlier: first), and no close job running.
    const days = ["2026-03-09", "2026-03-10", "2026-03-11"];
    for (const [d, day] of days.entries()) {
      at(`${day}T12:00:00Z`); // 08:00 in New York, 21:00 in Tokyo: both on `day`.
      assert.equal(await submit(NY, p(4), 4), day);
      ctx.clock.advance(1000);
      for (const i of [0, 1, 2, 3]) await submit(NY, p(i), i % 2 === 0 ? 4 : d + 2);
      await submit(NY, p(1), 1);
      assert.equal(await submit(TOKYO, p(d), 15), day);
      ctx.clock.advance(1);
      await submit(TOKYO, p(3), 15);
      await submit(TOKYO, p(4), 12 + d);
      await submit(TOKYO, p((d + 1) % 3), 15);
    }
    // A score for New York's 11th (23:00 there) arriving while it is over but not yet closed counts.
    at("2026-03-14T12:00:00Z");
    await submit(NY, p(2), 1, "2026-03-12T03:00:00Z");
    assert.equal(await isClosed(NY, "2026-03-11"), false);

    const { logger, lines } = capturingLogger();
    assert.equal(await close(logger), 7);
    const closings = lines
      .filter((l) => l.msg === "leaderboard period closed")
      .map((l) => `${[...boardIds].find(([, id]) => id === l.leaderboard)?.[0]} ${String(l.period)}`);
    // By end: Tokyo's days end at 15:00 UTC, New York's (in daylight time) at 04:00 UTC the next day;
    // two boards' periods ending together go in board id order. (The typing board's 9th had the game
    // played at 00:01 there.)
    const byEnd = (first: BoardSpec, second: BoardSpec, day: string) =>
      boardIds.get(first.key)! < boardIds.get(second.key)!
        ? [`${first.key} ${day}`, `${second.key} ${day}`]
        : [`${second.key} ${day}`, `${first.key} ${day}`];
    assert.deepEqual(closings, [
      ...byEnd(TOKYO, TOKYO_TYPING, "2026-03-09"),
      "ny-daily 2026-03-09",
      "tokyo-daily 2026-03-10",
      "ny-daily 2026-03-10",
      "tokyo-daily 2026-03-11",
      "ny-daily 2026-03-11",
    ]);
    for (const board of [NY, TOKYO]) {
      for (const day of days) await checkClosed(board, day, "2026-03-14T12:00:00.000Z");
    }
    await checkClosed(TOKYO_TYPING, "2026-03-09", "2026-03-14T12:00:00.000Z");
    // The model's ties on New York's 9th: p4's 4 (reached a second earlier), then p0's and p2's 4
    // (the same instant: the smaller user id first).
    assert.deepEqual(
      expected(NY, "2026-03-09")
        .slice(0, 3)
        .map(([rank, userId]) => [rank, userId]),
      [[1, p(4)], ...[p(0), p(2)].sort().map((id, i) => [i + 2, id])],
    );

    // Closing again changes nothing.
    const digests = await tableDigests(ctx, LEADERBOARD_TABLES);
    assert.equal(await close(), 0);
    ctx.clock.advance(3_600_000);
    assert.equal(await close(), 0);
    assert.deepEqual(await tableDigests(ctx, LEADERBOARD_TABLES), digests);

    // Snapshots, newest first, two at a time.
    const first = await get<Snapshots>(`/v1/leaderboards/${NY.key}/snapshots?limit=2`);
    assert.deepEqual(
      first.items.map((s) => s.period),
      ["2026-03-11", "2026-03-10"],
    );
    assert.match(first.nextCursor ?? "", /^\d+-2026-03-10$/, "the cursor names the last snapshot shown");
    const second = await get<Snapshots>(
      `/v1/leaderboards/${NY.key}/snapshots?limit=2&cursor=${first.nextCursor}`,
    );
    const third = await get<Snapshots>(
      `/v1/leaderboards/${NY.key}/snapshots?limit=2&cursor=${second.nextCursor}`,
    );
    const all = [...first.items, ...second.items, ...third.items];
    assert.equal(third.nextCursor, null);
    assert.deepEqual(
      all.map((s) => [s.period, s.startsAt, s.endsAt, s.entries]),
      [
        ["2026-03-11", "2026-03-11T04:00:00.000Z", "2026-03-12T04:00:00.000Z", 5],
        ["2026-03-10", "2026-03-10T04:00:00.000Z", "2026-03-11T04:00:00.000Z", 5],
        ["2026-03-09", "2026-03-09T04:00:00.000Z", "2026-03-10T04:00:00.000Z", 5],
        ["2026-03-08", "2026-03-08T05:00:00.000Z", "2026-03-09T04:00:00.000Z", 2],
        ["2026-03-07", "2026-03-07T05:00:00.000Z", "2026-03-08T05:00:00.000Z", 2],
      ],
    );
    for (const s of all) {
      assert.deepEqual(
        s.top.map((t) => [t.rank, t.userId, t.score]),
        expected(NY, s.period).slice(0, NY.snapshotSize),
        `snapshot of ${s.period}`,
      );
    }
    const tokyo = await get<Snapshots>(`/v1/leaderboards/${TOKYO.key}/snapshots`);
    assert.deepEqual(
      tokyo.items.map((s) => [s.period, s.startsAt, s.endsAt, s.closedAt]),
      [
        ["2026-03-11", "2026-03-10T15:00:00.000Z", "2026-03-11T15:00:00.000Z", "2026-03-14T12:00:00.000Z"],
        ["2026-03-10", "2026-03-09T15:00:00.000Z", "2026-03-10T15:00:00.000Z", "2026-03-14T12:00:00.000Z"],
        ["2026-03-09", "2026-03-08T15:00:00.000Z", "2026-03-09T15:00:00.000Z", "2026-03-14T12:00:00.000Z"],
        ["2026-03-08", "2026-03-07T15:00:00.000Z", "2026-03-08T15:00:00.000Z", "2026-03-08T15:01:00.000Z"],
      ],
    );

    // Every closed period refuses scores; the current one takes them.
    for (const [board, occurredAt] of [
      [NY, "2026-03-12T03:59:59.999Z"],
      [TOKYO, "2026-03-11T14:59:00Z"],
      [NY, "2026-03-11T14:00:00Z"],
    ] as const) {
      const res = await submitRaw(board, p(0), -50, occurredAt);
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(problem(res).code, "leaderboard.period_closed");
    }
    assert.equal(await submit(NY, p(0), 1, "2026-03-12T04:00:00Z"), "2026-03-12");
    assert.equal(await submit(TOKYO, p(0), 1), "2026-03-14");
    for (const board of [NY, TOKYO]) {
      for (const day of days) await checkClosed(board, day, "2026-03-14T12:00:00.000Z");
    }
  });

  /** Blocks closeDuePeriods inside a period's transaction: an owner connection locks one of its entries. */
  async function blockClose(board: BoardSpec, period: string, userId: string) {
    const holder = new pg.Client({ connectionString: ctx.ownerUrl });
    const watcher = new pg.Client({ connectionString: ctx.ownerUrl });
    await holder.connect();
    await watcher.connect();
    await holder.query("BEGIN");
    await holder.query(
      `SELECT 1 FROM leaderboard_entries WHERE leaderboard_id = $1 AND period_key = $2 AND user_id = $3 FOR UPDATE`,
      [boardIds.get(board.key), period, userId],
    );
    const closing = close();
    // Wait until the close is waiting for that lock (its statement, and snapshot, have started).
    for (let i = 0; ; i++) {
      const { rows } = await watcher.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (rows[0]!.n > 0) break;
      assert.ok(i < 200, "the close never waited for the lock");
      await new Promise((r) => setTimeout(r, 10));
    }
    return {
      closing,
      async release() {
        await holder.query("ROLLBACK");
        await holder.end();
        await watcher.end();
        return closing;
      },
    };
  }

  /** Whether a promise settles within `ms`. */
  const settlesWithin = (promise: Promise<unknown>, ms: number) =>
    Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
    ]);

  it("refuses a score that races the close of its period (or counts it in the final ranks)", async () => {
    at("2026-03-20T10:00:00Z");
    // Whatever else is due closes now, so that only the race board's 20th is due at midnight.
    await close();
    await submit(RACE, p(0), 10);
    await submit(RACE, p(1), 20);
    at("2026-03-21T00:00:10Z");
    const blocked = await blockClose(RACE, "2026-03-20", p(0));
    // While the close of the 20th is under way, a score for 23:00 on the 20th arrives.
    const racing = submitRaw(RACE, p(2), 30, "2026-03-20T23:00:00Z");
    const settledWhileClosing = await settlesWithin(racing, 500);
    assert.equal(await blocked.release(), 1);
    const res = await racing;
    const stored = await ctx.db.asSystem((tx) =>
      tx.rows<{ user_id: string; final_rank: number | null; score: number }>(
        `SELECT user_id, final_rank, score FROM leaderboard_entries
           WHERE leaderboard_id = $1 AND period_key = '2026-03-20' ORDER BY score DESC`,
        [boardIds.get(RACE.key)],
      ),
    );
    const page = await get<Page>(`/v1/leaderboards/${RACE.key}?period=2026-03-20`);
    const snaps = await get<Snapshots>(`/v1/leaderboards/${RACE.key}/snapshots`);
    const rankOf = async (userId: string) =>
      (await get<{ rank: number | null }>(`/v1/leaderboards/${RACE.key}/users/${userId}?period=2026-03-20`))
        .rank;
    const report = {
      status: res.statusCode,
      settledWhileClosing,
      entries: stored.map((s) => [s.user_id === p(2) ? "racer" : "early", s.score, s.final_rank]),
      page: page.items.map((r) => [r.rank, r.score]),
      snapshot: snaps.items[0]?.top.map((t) => [t.rank, t.score]),
      /** Ranks of the racer and of the player with 20. */
      standings: [await rankOf(p(2)), await rankOf(p(1))],
    };
    const seen = JSON.stringify(report);
    if (res.statusCode === 200) {
      // Taken: then it must be part of the period as closed.
      assert.deepEqual(
        report,
        {
          ...report,
          entries: [
            ["racer", 30, 1],
            ["early", 20, 2],
            ["early", 10, 3],
          ],
          page: [
            [1, 30],
            [2, 20],
            [3, 10],
          ],
          snapshot: [
            [1, 30],
            [2, 20],
            [3, 10],
          ],
          standings: [1, 2],
        },
        seen,
      );
    } else {
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(problem(res).code, "leaderboard.period_closed");
      assert.deepEqual(
        report.entries,
        [
          ["early", 20, 1],
          ["early", 10, 2],
        ],
        seen,
      );
    }
  });

  it("an event racing the close of its period waits for it and then leaves the period alone", async () => {
    // A board fed by the games, in UTC, created now (so that the games above did not feed it).
    await createBoard((await createAdmin(ctx)).accessToken, RACE_TYPING);
    at("2026-03-21T10:00:00Z");
    await typingGame(p(0), 100);
    record(RACE_TYPING, "2026-03-21", p(0), 100, ctx.clock.now().getTime());
    await typingGame(p(1), 200);
    record(RACE_TYPING, "2026-03-21", p(1), 200, ctx.clock.now().getTime());
    // The games' Tokyo 21st ends first; then only the race board's 21st is due at midnight UTC.
    at("2026-03-21T16:00:00Z");
    assert.equal(await close(), 1);
    at("2026-03-22T00:00:10Z");
    const blocked = await blockClose(RACE_TYPING, "2026-03-21", p(0));
    const racing = typingGame(p(2), 300, "2026-03-21T23:00:00Z");
    const settledWhileClosing = await settlesWithin(racing, 300);
    assert.equal(await blocked.release(), 1);
    await racing;
    assert.equal(settledWhileClosing, false, "the event waited for the close");
    await checkClosed(RACE_TYPING, "2026-03-21", "2026-03-22T00:00:10.000Z");
  });
});
