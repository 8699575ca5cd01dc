import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import {
  createAdmin,
  createApiKey,
  createTestContext,
  registerPlayer,
  type TestContext,
} from "../../test/helpers/context.ts";
import { JOB_DEFAULTS, ludusJobs, retentionCutoff } from "./jobs.ts";
import { Scheduler, type JobRun, type JobSpec } from "./scheduler.ts";
import * as store from "./scheduler.store.ts";
import { DatabaseUnavailableError } from "../platform/db/availability.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const logger = pino({ level: "silent" });

describe("scheduler", () => {
  let ctx: TestContext;
  let apiKey: string;

  before(async () => {
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-streaks-quests", "questlog", "prodev", "leaderboards"],
    });
    const admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  after(() => ctx.close());

  const counting = (name: string, intervalMs: number, runs: JobRun[], fail?: () => boolean): JobSpec => ({
    name,
    intervalMs,
    async run(r) {
      if (fail?.()) throw new Error("job failed on purpose");
      runs.push(r);
      return { n: runs.length };
    },
  });

  it("runs a job once per period across instances, and catches up after a pause", async () => {
    ctx.clock.set("2026-03-10T10:15:00Z");
    const runs: JobRun[] = [];
    const a = new Scheduler(ctx.db, ctx.clock, logger, [counting("test.hourly", HOUR, runs)]);
    const b = new Scheduler(ctx.db, ctx.clock, logger, [counting("test.hourly", HOUR, runs)]);
    await Promise.all([a.runOnce(), b.runOnce()]);
    assert.equal(runs.length, 1, "one instance ran it");
    assert.equal(runs[0]!.periodStart.toISOString(), "2026-03-10T10:00:00.000Z");
    assert.equal(runs[0]!.missed, 0);
    ctx.clock.advance(30 * 60_000);
    await Promise.all([a.runOnce(), b.runOnce()]);
    assert.equal(runs.length, 1, "not again in the same period");
    ctx.clock.advance(30 * 60_000);
    await Promise.all([a.runOnce(), b.runOnce()]);
    assert.equal(runs.length, 2, "the next period");
    assert.equal(runs[1]!.missed, 0);
    // Down for five hours: one run, told what it missed.
    ctx.clock.advance(5 * HOUR + 10 * 60_000);
    await Promise.all([a.runOnce(), b.runOnce()]);
    assert.equal(runs.length, 3);
    assert.equal(runs[2]!.missed, 4);
    assert.equal(runs[2]!.lastPeriodStart?.toISOString(), "2026-03-10T11:00:00.000Z");
    const [row] = (await a.list()).filter((j) => j.name === "test.hourly");
    assert.equal(row?.runs, 3);
    assert.equal(row?.next_run_at.toISOString(), "2026-03-10T17:00:00.000Z");
  });

  it("retries a failed run with backoff, and takes over a job whose instance died", async () => {
    ctx.clock.set("2026-03-11T00:00:30Z");
    const runs: JobRun[] = [];
    let failing = true;
    const s = new Scheduler(ctx.db, ctx.clock, logger, [counting("test.flaky", DAY, runs, () => failing)], {
      pollMs: 1000,
      leaseMs: 60_000,
      retryBaseMs: 30_000,
    });
    const [first] = await s.runOnce();
    assert.match(first?.error ?? "", /on purpose/);
    assert.deepEqual(await s.runOnce(), [], "not before the backoff");
    failing = false;
    ctx.clock.advance(31_000);
    const [second] = await s.runOnce();
    assert.deepEqual(second?.result, { n: 1 });

    // An instance claims a job and dies: after the lease another runs it.
    ctx.clock.set("2026-03-12T00:00:10Z");
    const dead = await ctx.db.asSystem((tx) =>
      store.claimDue(
        tx,
        ["test.flaky"],
        ctx.clock.now(),
        new Date(ctx.clock.now().getTime() + 60_000),
        "dead",
      ),
    );
    assert.ok(dead !== undefined);
    assert.deepEqual(await s.runOnce(), [], "held by the lease");
    ctx.clock.advance(61_000);
    assert.equal((await s.runOnce()).length, 1);
    assert.equal(runs.length, 2);
  });

  const jobs = () =>
    new Scheduler(
      ctx.db,
      ctx.clock,
      logger,
      ludusJobs({ db: ctx.db, game: ctx.game, notifications: ctx.delivery.notifications, logger }),
    );
  const send = async (userId: string, type: string, data: Record<string, unknown>) => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type, userId, data, occurredAt: ctx.clock.now().toISOString() },
    });
    assert.equal(res.statusCode, 201, res.body);
  };

  it("keeps the lease of a job while it runs, so another instance does not take it over", async () => {
    ctx.clock.set("2026-03-12T00:00:30Z");
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const slow: JobSpec = {
      name: "test.slow",
      intervalMs: DAY,
      async run() {
        started += 1;
        await released;
        return {};
      },
    };
    const settings = { pollMs: 1000, leaseMs: 300, retryBaseMs: 1000 };
    const a = new Scheduler(ctx.db, ctx.clock, logger, [slow], settings);
    const b = new Scheduler(ctx.db, ctx.clock, logger, [slow], settings);
    const running = a.runOnce();
    while (started === 0) await new Promise((r) => setTimeout(r, 10));
    // Far past the first lease by the injected clock; the running instance renews it meanwhile
    // (every third of the lease, real time).
    ctx.clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(await b.runOnce(), [], "the job is still leased by the instance running it");
    assert.equal(started, 1);
    release();
    const [done] = await running;
    assert.equal(done?.name, "test.slow");
    assert.equal(done?.error, undefined);
  });

  it("sends one streak-at-risk reminder per player, streak and period, within the window", async () => {
    ctx.clock.set("2026-04-01T10:00:00Z");
    const player = await registerPlayer(ctx.app);
    await send(player.id, "meal.logged", { mealType: "lunch" });
    const reminders = () =>
      ctx.db.asSystem((tx) =>
        tx.rows<{ dedupe_key: string; expires_at: Date }>(
          `SELECT dedupe_key, expires_at FROM notifications WHERE user_id = $1 AND type = 'streak_at_risk'`,
          [player.id],
        ),
      );
    const s = jobs();
    // The next day at noon: 12 h left, outside the 4 h window.
    ctx.clock.set("2026-04-02T12:00:00Z");
    await s.runOnce();
    assert.equal((await reminders()).length, 0);
    // 21:00: 3 h left.
    ctx.clock.set("2026-04-02T21:00:00Z");
    await s.runOnce();
    ctx.clock.set("2026-04-02T21:20:00Z");
    await s.runOnce();
    const made = await reminders();
    assert.equal(made.length, 1, "once per period");
    assert.equal(made[0]!.dedupe_key, "streak_at_risk:nutrition:2026-04-03T00:00:00.000Z");
    // Visible to the player until the period ends.
    const list = await ctx.delivery.notifications.list(player.id, { limit: 10 });
    assert.ok(list.items.some((n) => n.type === "streak_at_risk"));
    // Covered today: no reminder the next evening either if it is logged again.
    ctx.clock.set("2026-04-03T09:00:00Z");
    await send(player.id, "meal.logged", { mealType: "breakfast" });
    ctx.clock.set("2026-04-03T21:00:00Z");
    await s.runOnce();
    assert.equal((await reminders()).length, 1, "no reminder for a covered period");
  });

  it("assigns quests ahead of the coming period and closes leaderboard periods missed while down", async () => {
    ctx.clock.set("2026-05-01T12:00:00Z");
    const player = await registerPlayer(ctx.app);
    await send(player.id, "meal.logged", { mealType: "lunch" });
    const s = jobs();
    await s.runOnce();
    // 23:30 UTC: the next day's quests (the player's zone is UTC) are given before it begins.
    ctx.clock.set("2026-05-01T23:30:00Z");
    await s.runOnce();
    const periods = await ctx.db.asSystem((tx) =>
      tx.rows<{ period_key: string }>(
        `SELECT DISTINCT period_key FROM user_quests WHERE user_id = $1 ORDER BY 1`,
        [player.id],
      ),
    );
    assert.ok(
      periods.some((p) => p.period_key.includes("2026-05-02")),
      `tomorrow's quests: ${JSON.stringify(periods)}`,
    );
    // Down for three days: every board period that ended meanwhile is closed by one run.
    ctx.clock.set("2026-05-05T00:05:00Z");
    await s.runOnce();
    const open = await ctx.db.asSystem((tx) =>
      tx.one<{ open: number; closed: number }>(
        `SELECT count(*) FILTER (WHERE closed_at IS NULL AND ends_at <= $1)::int AS open,
                count(*) FILTER (WHERE closed_at IS NOT NULL)::int AS closed FROM leaderboard_periods`,
        [ctx.clock.now()],
      ),
    );
    assert.equal(open.open, 0);
    assert.ok(open.closed >= 1, `closed ${open.closed}`);
  });

  it("makes partitions ahead and drops whole months past their retention, never current ones", async () => {
    const real = new Date();
    ctx.clock.set(real);
    const exists = (name: string) =>
      ctx.db.asSystem(
        async (tx) => (await tx.one<{ r: string | null }>(`SELECT to_regclass($1)::text AS r`, [name])).r,
      );
    const month = (d: Date) => `y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
    const monthsAgo = (n: number) => new Date(Date.UTC(real.getUTCFullYear(), real.getUTCMonth() - n, 1));
    await ctx.db.asSystem(async (tx) => {
      for (const [table, n] of [
        ["events", 14],
        ["events", 11],
        ["notifications", 8],
        ["notifications", 3],
        ["ledger_entries", 30],
      ] as const) {
        await tx.exec(`SELECT ludus_ensure_monthly_partitions($1, $2::date, 1)`, [
          table,
          monthsAgo(n).toISOString().slice(0, 10),
        ]);
      }
    });
    const s = jobs();
    await s.runOnce();
    assert.equal(await exists(`events_${month(monthsAgo(14))}`), null, "events: 14 months ago dropped");
    assert.ok(await exists(`events_${month(monthsAgo(11))}`), "events: 11 months ago kept");
    assert.equal(await exists(`notifications_${month(monthsAgo(8))}`), null);
    assert.ok(await exists(`notifications_${month(monthsAgo(3))}`));
    assert.ok(await exists(`ledger_entries_${month(monthsAgo(30))}`), "the ledger is never dropped");
    assert.ok(await exists(`events_${month(real)}`), "the current month stays");
    const ahead = new Date(Date.UTC(real.getUTCFullYear(), real.getUTCMonth() + 3, 1));
    assert.ok(await exists(`events_${month(ahead)}`), "months ahead made");

    // The database refuses the ledger, and current or future months, whatever it is asked.
    await assert.rejects(
      ctx.db.asSystem((tx) =>
        tx.exec(`SELECT ludus_drop_monthly_partitions('ledger_entries', '2999-01-01')`),
      ),
      /not dropped by retention/,
    );
    await ctx.db.asSystem((tx) => tx.exec(`SELECT ludus_drop_monthly_partitions('events', '2999-01-01')`));
    assert.ok(await exists(`events_${month(real)}`), "the current month survives a cutoff in the future");
  });

  it("computes retention cut-offs by calendar month", () => {
    assert.equal(retentionCutoff(new Date("2026-07-15T10:00:00Z"), 12), "2025-07-15");
    assert.equal(retentionCutoff(new Date("2026-03-31T10:00:00Z"), 1), "2026-02-28");
    assert.deepEqual(JOB_DEFAULTS.retentionMonths, { events: 12, notifications: 6, audit_logs: 0 });
  });

  it("a run whose end could not be recorded (database away) is recorded once it is back", async () => {
    ctx.clock.set("2026-05-10T10:15:00Z");
    const runs: JobRun[] = [];
    let down = false;
    // The database goes away just as the run ends: recording it fails as unavailable.
    const flaky = new Proxy(ctx.db, {
      get(target, prop, receiver) {
        if (prop === "asSystem" && down) {
          return () =>
            Promise.reject(new DatabaseUnavailableError(new Error("Connection terminated unexpectedly")));
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const job: JobSpec = {
      name: "test.outage",
      intervalMs: HOUR,
      async run(r) {
        runs.push(r);
        down = true;
        return { n: runs.length };
      },
    };
    const scheduler = new Scheduler(flaky, ctx.clock, logger, [job]);
    await assert.rejects(scheduler.runOnce(), DatabaseUnavailableError);
    assert.equal(runs.length, 1);
    down = false;
    ctx.clock.advance(60_000);
    await scheduler.runOnce();
    assert.equal(runs.length, 1, "the period's run counts: not run again");
    const row = (await ctx.db.asSystem((tx) => store.listJobs(tx))).find((j) => j.name === "test.outage");
    assert.ok(row !== undefined);
    assert.equal(row.locked_by, null, "the job is not held until its lease ends");
    assert.equal(row.last_period_start?.toISOString(), "2026-05-10T10:00:00.000Z");
    assert.equal(row.next_run_at.toISOString(), "2026-05-10T11:00:00.000Z");
  });
});
