/**
 * Event intake benchmark: events/s of POST /v1/events (one event per request) and POST
 * /v1/events/batch (BENCH_BATCH events per request) from an app backend's API key, against pgbench's
 * TPC-B on the same PostgreSQL server, all in one run on one machine. The intake is measured in
 * configurations that switch the engine's subsystems on one after another through the admin API —
 * (1) engine only (rules, counters, levels, ledger), (2) + achievements, (3) + streaks, (4) + quests,
 * which is the default content — each on players of its own with the same streak history. Then
 * where the time of one event goes in each (statements, round trips, CPU of Node and PostgreSQL),
 * what the events caused, and whether the books still balance afterwards.
 *
 *   npx tsx bench/events.ts        BENCH_CONNECTIONS (8), BENCH_SECONDS (10), BENCH_EVENT_PLAYERS (10000
 *                                  per configuration), BENCH_BATCH (100), BENCH_PGBENCH_SCALE (10),
 *                                  BENCH_CONFIGURATIONS (1,2,3,4), BENCH_FREEZE_TOKENS (1)
 */
import { randomBytes, randomInt } from "node:crypto";
import os from "node:os";
import pg from "pg";
import { PasswordHasher } from "../src/identity/passwords.ts";
import { AdminApi, SUBSYSTEMS, type Definition, type Subsystem } from "./lib/admin.ts";
import { DIETGAME_EVENT_TYPES, type EventBodyOptions } from "./lib/event-bodies.ts";
import { seedStreakHistory, type History } from "./lib/history.ts";
import { BENCH_ROOT, runLoad, type LoadSpec, type LoadSummary } from "./lib/load.ts";
import { startLudus, type Ludus } from "./lib/ludus.ts";
import { preparePgbench } from "./lib/pgbench.ts";
import { verifyWithCustomPlans } from "./lib/verify.ts";
import { cpuByKind, serverCpu, type ServerCpu, type ServerCpuSample } from "./lib/proc-cpu.ts";
import {
  describeMachine,
  describeRun,
  describeSource,
  fail,
  fmt,
  intFromEnv,
  isInvalid,
  machineCpu,
  MAX_FAILURE_SHARE,
  table,
} from "./lib/report.ts";
import { SqlTrace, type StatementStats } from "./lib/sql-trace.ts";

// ---------------------------------------------------------------------------------------------- settings

const CONNECTIONS = intFromEnv("BENCH_CONNECTIONS", 8, 1);
const SECONDS = intFromEnv("BENCH_SECONDS", 10, 1);
/** Players of each configuration: every configuration has players of its own. */
const PLAYERS = intFromEnv("BENCH_EVENT_PLAYERS", 10_000, 1);
const BATCH = intFromEnv("BENCH_BATCH", 100, 1);
const PGBENCH_SCALE = intFromEnv("BENCH_PGBENCH_SCALE", 10, 1);
if (BATCH > 1000) fail("BENCH_BATCH must be at most 1000 (the largest batch Ludus accepts)");
/** Sequential requests (one connection) of the traced runs that show where the time goes. */
const TRACED_SINGLES = 300;
const TRACED_BATCHES = 20;
/** Requests before any measurement of a configuration, so Node's JIT and PostgreSQL's caches are warm. */
const WARMUP_SINGLES = 200;
/** Targets: events/s as a multiple of pgbench TPC-B transactions/s on the same server. */
const SINGLE_TARGET = 0.5;
const BATCH_TARGET = 3;
const TIME_ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"];
/** Whether the streak history gives players who missed a day a freeze token to spend (see history.ts). */
const FREEZE_TOKENS = intFromEnv("BENCH_FREEZE_TOKENS", 1, 0) !== 0;

/** Which subsystems are on in each configuration; every definition that was active at start is switched. */
interface Configuration {
  id: number;
  name: string;
  active: Record<Subsystem, boolean>;
}

const ALL_CONFIGURATIONS: Configuration[] = [
  { id: 1, name: "engine only", active: { achievements: false, streaks: false, quests: false } },
  { id: 2, name: "+ achievements", active: { achievements: true, streaks: false, quests: false } },
  { id: 3, name: "+ streaks", active: { achievements: true, streaks: true, quests: false } },
  { id: 4, name: "+ quests (all on)", active: { achievements: true, streaks: true, quests: true } },
];

function configurationsFromEnv(): Configuration[] {
  const raw = process.env.BENCH_CONFIGURATIONS ?? "";
  if (raw === "") return ALL_CONFIGURATIONS;
  const ids = raw.split(",").map((x) => Number(x.trim()));
  const chosen = ALL_CONFIGURATIONS.filter((c) => ids.includes(c.id));
  if (chosen.length !== ids.length || chosen.length === 0) {
    fail("BENCH_CONFIGURATIONS must list configurations among 1,2,3,4, e.g. 1,4");
  }
  return chosen;
}

const CONFIGURATIONS = configurationsFromEnv();

/**
 * The figures bench/README.md documents from earlier runs on the 2-core development machine: the
 * engine alone (commit 838f68f) and with the default achievements (commit 1633dc5).
 */
const EARLIER = {
  pgbench: 2696,
  engine: { commit: "838f68f", single: 170, batch: 1410 },
  achievements: { commit: "1633dc5", single: 158, batch: 1190 },
};

// -------------------------------------------------------------------------------------------- CPU usage

interface CpuSample {
  at: number;
  node: NodeJS.CpuUsage;
  postgres: ServerCpuSample | undefined;
  machine: { busy: number; total: number };
}

interface CpuSplit {
  seconds: number;
  /** Cores busy on average over the window: Ludus (this process), PostgreSQL, the whole machine. */
  node: number;
  postgres: number | undefined;
  machine: number;
  /** CPU seconds. */
  nodeSeconds: number;
  postgresSeconds: number | undefined;
  /** PostgreSQL's CPU seconds by kind of process, largest first. */
  postgresByKind: [string, number][];
}

function sampleCpu(pgCpu: ServerCpu | undefined): CpuSample {
  return {
    at: performance.now(),
    node: process.cpuUsage(),
    postgres: pgCpu?.sample(),
    machine: machineCpu(),
  };
}

function cpuBetween(a: CpuSample, b: CpuSample): CpuSplit {
  const seconds = (b.at - a.at) / 1000;
  const nodeSeconds = (b.node.user - a.node.user + b.node.system - a.node.system) / 1e6;
  const postgresSeconds =
    a.postgres !== undefined && b.postgres !== undefined ? b.postgres.total - a.postgres.total : undefined;
  const total = b.machine.total - a.machine.total;
  const machine = total > 0 ? ((b.machine.busy - a.machine.busy) / total) * os.availableParallelism() : 0;
  return {
    seconds,
    node: nodeSeconds / seconds,
    postgres: postgresSeconds === undefined ? undefined : postgresSeconds / seconds,
    machine,
    nodeSeconds,
    postgresSeconds,
    postgresByKind:
      a.postgres !== undefined && b.postgres !== undefined ? cpuByKind(a.postgres, b.postgres) : [],
  };
}

/** Runs the load and samples CPU at its start and end (not while the load generator boots). */
async function measured(
  spec: LoadSpec,
  pgCpu: ServerCpu | undefined,
): Promise<{ load: LoadSummary; cpu: CpuSplit }> {
  let start: CpuSample | undefined;
  let end: CpuSample | undefined;
  const load = await runLoad(spec, {
    onStart: () => (start = sampleCpu(pgCpu)),
    onDone: () => (end = sampleCpu(pgCpu)),
  });
  if (start === undefined || end === undefined) throw new Error(`${spec.title}: no CPU samples`);
  return { load, cpu: cpuBetween(start, end) };
}

// ----------------------------------------------------------------------------------------------- players

interface Player {
  id: string;
  timeZone: string;
}

/**
 * Inserts the players straight into the database as its owner (registering 40,000 through the API
 * would hash 40,000 passwords): users with one real argon2id hash shared by all, and their profiles
 * in a mix of time zones (round robin, so any slice of the list has all of them).
 */
async function createPlayers(admin: pg.Client, count: number, passwordHash: string): Promise<Player[]> {
  const result = await admin.query<{ id: string; time_zone: string; n: number }>(
    `WITH u AS (
       INSERT INTO users (email, username, password_hash, display_name)
       SELECT 'bench.player.' || g || '@example.com', 'bench_player_' || g, $2, 'Bench Player ' || g
       FROM generate_series(1, $1::int) AS g
       RETURNING id, username
     )
     INSERT INTO user_profiles (user_id, time_zone)
     SELECT id, ($3::text[])[1 + substring(username FROM 14)::int % cardinality($3::text[])] FROM u
     RETURNING user_id AS id, time_zone`,
    [count, passwordHash, TIME_ZONES],
  );
  await admin.query(`ANALYZE users, user_profiles`);
  return result.rows.map((r) => ({ id: r.id, timeZone: r.time_zone }));
}

// ----------------------------------------------------------------------------------------------- pgbench

interface PgbenchResult {
  tps: number;
  transactions: number;
  p50: number;
  p99: number;
  mean: number;
  initSeconds: number;
  cpu: CpuSplit;
}

/**
 * pgbench's default TPC-B-like script on a scratch database of the same server (bench/lib/pgbench.ts):
 * initialised at BENCH_PGBENCH_SCALE, then run with the same connections and duration, logging
 * every transaction so its percentiles compare with the HTTP ones.
 */
async function runPgbench(serverUrl: string, pgCpu: ServerCpu | undefined): Promise<PgbenchResult> {
  const pgbench = await preparePgbench(serverUrl, PGBENCH_SCALE);
  try {
    const before = sampleCpu(pgCpu);
    const run = await pgbench.run(CONNECTIONS, SECONDS);
    const after = sampleCpu(pgCpu);
    return { ...run, initSeconds: pgbench.initSeconds, cpu: cpuBetween(before, after) };
  } finally {
    await pgbench.drop();
  }
}

// --------------------------------------------------------------------------------------------- the runs

interface EventRun {
  title: string;
  load: LoadSummary;
  cpu: CpuSplit;
  perRequest: number;
  connections: number;
  /** Events the responses reported applied (2xx responses × events per request). */
  events: number;
  eventsPerSecond: number;
  /** Deadlocks PostgreSQL detected in Ludus's database during the run (each costs deadlock_timeout). */
  deadlocks: number;
}

async function deadlockCount(admin: pg.Client): Promise<number> {
  const row = await admin.query<{ n: string }>(
    `SELECT deadlocks::text AS n FROM pg_stat_database WHERE datname = current_database()`,
  );
  return Number(row.rows[0]?.n ?? 0);
}

let seed = randomInt(2 ** 31);

function eventSpec(
  ludus: Ludus,
  apiKey: string,
  userIds: string[],
  options: { title: string; perRequest: number | null; connections: number; amount?: number },
): LoadSpec {
  const bodyOptions: EventBodyOptions = {
    userIds,
    perRequest: options.perRequest,
    keyPrefix: `bench-${options.title}-${randomBytes(6).toString("hex")}`,
    seed: seed++,
  };
  return {
    title: options.title,
    url: `${ludus.server.url}${options.perRequest === null ? "/v1/events" : "/v1/events/batch"}`,
    method: "POST",
    headers: { "x-api-key": apiKey },
    body: { kind: "generated", module: "bench/lib/event-bodies.ts", options: bodyOptions },
    connections: options.connections,
    durationSeconds: SECONDS,
    amount: options.amount,
  };
}

async function eventRun(
  admin: pg.Client,
  pgCpu: ServerCpu | undefined,
  spec: LoadSpec,
  perRequest: number,
  okStatus: string,
): Promise<EventRun> {
  await waitForIdle(admin); // what the previous run left in flight must not count here
  const deadlocksBefore = await deadlockCount(admin);
  const { load, cpu } = await measured(spec, pgCpu);
  const ok = load.statusCodes[okStatus] ?? 0;
  const events = ok * perRequest;
  return {
    title: spec.title,
    load,
    cpu,
    perRequest,
    connections: spec.connections,
    events,
    eventsPerSecond: (load.rps * ok * perRequest) / Math.max(1, load.responses),
    deadlocks: (await deadlockCount(admin)) - deadlocksBefore,
  };
}

interface Traced {
  run: EventRun;
  statements: StatementStats[];
}

/** A short sequential run (one connection) with every SQL statement counted and timed. */
async function tracedRun(
  admin: pg.Client,
  pgCpu: ServerCpu | undefined,
  spec: LoadSpec,
  perRequest: number,
  okStatus: string,
): Promise<Traced> {
  const trace = new SqlTrace([admin]);
  trace.start();
  try {
    const run = await eventRun(admin, pgCpu, spec, perRequest, okStatus);
    return { run, statements: trace.results() };
  } finally {
    trace.stop();
  }
}

// ------------------------------------------------------------------------------------------ correctness

interface Books {
  balanced: boolean;
  players: number;
  problems: string[];
  /** Events the API recorded as sent by an API key (no derived ones). */
  recorded: number;
  ledgerEntries: number;
  playersAboveLevel1: number;
  levelsGained: number;
  levelUpEvents: number;
  /** Ledger entries by type (earn, reward, spend, adjust, …). */
  ledgerByType: Record<string, number>;
  unlocks: number;
  unlockEvents: number;
  questsCompleted: number;
  questCompletedEvents: number;
  /** Wallets holding more than their currency's ceiling (freeze tokens: 2). */
  overCeiling: number;
}

/**
 * Waits until Ludus has no statement running or transaction open: when autocannon stops, requests
 * it had sent are still being applied (a batch takes seconds under load), and they must be done
 * before events are counted. Returns how long that took.
 */
async function waitForIdle(admin: pg.Client, timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const busy = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'ludus' AND state <> 'idle'`,
    );
    if ((busy.rows[0]?.n ?? 0) === 0) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error("Ludus did not go idle after the load");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function checkBooks(ludus: Ludus, admin: pg.Client): Promise<Books> {
  const report = await verifyWithCustomPlans(ludus);
  const counts = await admin.query<{
    recorded: number;
    ledger: number;
    above: number;
    gained: number;
    level_ups: number;
    by_type: Record<string, number>;
    unlocks: number;
    unlock_events: number;
    completed: number;
    completed_events: number;
    over_ceiling: number;
  }>(
    `SELECT (SELECT count(*)::int FROM events WHERE source = 'api_key') AS recorded,
            (SELECT count(*)::int FROM ledger_entries) AS ledger,
            (SELECT count(*)::int FROM user_progress WHERE level > 1) AS above,
            (SELECT coalesce(sum(level - 1), 0)::int FROM user_progress) AS gained,
            (SELECT count(*)::int FROM events WHERE type = 'level.up') AS level_ups,
            (SELECT coalesce(json_object_agg(type, n), '{}') FROM
               (SELECT type::text, count(*)::int AS n FROM ledger_entries GROUP BY type ORDER BY type) l) AS by_type,
            (SELECT count(*)::int FROM user_achievements) AS unlocks,
            (SELECT count(*)::int FROM events WHERE type = 'achievement.unlocked') AS unlock_events,
            (SELECT count(*)::int FROM user_quests WHERE status = 'completed') AS completed,
            (SELECT count(*)::int FROM events WHERE type = 'quest.completed') AS completed_events,
            (SELECT count(*)::int FROM wallets w JOIN currencies c ON c.code = w.currency
             WHERE w.balance > c.max_balance) AS over_ceiling`,
  );
  const c = counts.rows[0];
  if (c === undefined) throw new Error("no counts");
  return {
    balanced: report.problems.length === 0,
    players: report.players,
    problems: report.problems.map((p) => `${p.user_id} ${p.currency} ${p.problem}: ${p.detail}`),
    recorded: c.recorded,
    ledgerEntries: c.ledger,
    playersAboveLevel1: c.above,
    levelsGained: c.gained,
    levelUpEvents: c.level_ups,
    ledgerByType: c.by_type,
    unlocks: c.unlocks,
    unlockEvents: c.unlock_events,
    questsCompleted: c.completed,
    questCompletedEvents: c.completed_events,
    overCeiling: c.over_ceiling,
  };
}

// ---------------------------------------------------------------------------------------- configurations

/**
 * Switches every definition that was active at the start on or off as the configuration says,
 * through PATCH /v1/admin/{kind}/{key}, then reads the lists back to check. Definitions that were
 * inactive at the start stay so. Returns how many definitions changed.
 */
async function applyConfiguration(
  api: AdminApi,
  initial: Map<Subsystem, Definition[]>,
  active: Record<Subsystem, boolean>,
): Promise<number> {
  let changed = 0;
  for (const kind of SUBSYSTEMS) {
    const wanted = new Map((initial.get(kind) ?? []).map((d) => [d.key, d.active && active[kind]]));
    for (const d of await api.list(kind)) {
      const want = wanted.get(d.key) ?? d.active;
      if (d.active === want) continue;
      await api.setActive(kind, d.key, want);
      changed++;
    }
    for (const d of await api.list(kind)) {
      if (d.active !== (wanted.get(d.key) ?? d.active)) throw new Error(`${kind} ${d.key} did not switch`);
    }
  }
  return changed;
}

/** What events caused, counted over the whole database (the configurations run one after another). */
interface ActivityCounts {
  at: string;
  apiEvents: number;
  derived: Record<string, number>;
  ledger: Record<string, number>;
  quests: number;
  questsCompleted: number;
  unlocks: number;
  milestones: number;
}

async function activityCounts(admin: pg.Client): Promise<ActivityCounts> {
  const row = await admin.query<{
    at: string;
    api: number;
    derived: Record<string, number>;
    ledger: Record<string, number>;
    quests: number;
    completed: number;
    unlocks: number;
    milestones: number;
  }>(
    `SELECT clock_timestamp()::text AS at,
            (SELECT count(*)::int FROM events WHERE source = 'api_key') AS api,
            (SELECT coalesce(json_object_agg(type, n), '{}') FROM
               (SELECT type, count(*)::int AS n FROM events WHERE source = 'system' GROUP BY type) d) AS derived,
            (SELECT coalesce(json_object_agg(type, n), '{}') FROM
               (SELECT type::text, count(*)::int AS n FROM ledger_entries GROUP BY type) l) AS ledger,
            (SELECT count(*)::int FROM user_quests) AS quests,
            (SELECT count(*)::int FROM user_quests WHERE status = 'completed') AS completed,
            (SELECT count(*)::int FROM user_achievements) AS unlocks,
            (SELECT count(*)::int FROM user_streak_milestones) AS milestones`,
  );
  const r = row.rows[0];
  if (r === undefined) throw new Error("no activity counts");
  return {
    at: r.at,
    apiEvents: r.api,
    derived: r.derived,
    ledger: r.ledger,
    quests: r.quests,
    questsCompleted: r.completed,
    unlocks: r.unlocks,
    milestones: r.milestones,
  };
}

/** Per 1,000 events sent: what the events of the throughput runs caused. */
interface Activity {
  events: number;
  levelUps: number;
  unlocks: number;
  streaksExtended: number;
  questsCompleted: number;
  earn: number;
  reward: number;
  spend: number;
  questsAssigned: number;
  streakRowsWritten: number;
  milestones: number;
}

async function activityBetween(admin: pg.Client, a: ActivityCounts): Promise<Activity> {
  const b = await activityCounts(admin);
  const written = await admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM user_streaks WHERE updated_at >= $1::timestamptz`,
    [a.at],
  );
  const events = b.apiEvents - a.apiEvents;
  const per = (n: number) => (1000 * n) / Math.max(1, events);
  const delta = (x: Record<string, number>, y: Record<string, number>, key: string) =>
    per((y[key] ?? 0) - (x[key] ?? 0));
  return {
    events,
    levelUps: delta(a.derived, b.derived, "level.up"),
    unlocks: delta(a.derived, b.derived, "achievement.unlocked"),
    streaksExtended: delta(a.derived, b.derived, "streak.extended"),
    questsCompleted: delta(a.derived, b.derived, "quest.completed"),
    earn: delta(a.ledger, b.ledger, "earn"),
    reward: delta(a.ledger, b.ledger, "reward"),
    spend: delta(a.ledger, b.ledger, "spend"),
    questsAssigned: per(b.quests - a.quests),
    streakRowsWritten: per(written.rows[0]?.n ?? 0),
    milestones: per(b.milestones - a.milestones),
  };
}

interface ConfigurationResult {
  config: Configuration;
  switched: number;
  runs: EventRun[];
  tracedSingle: Traced;
  tracedBatch: Traced;
  single: EventRun;
  batch: EventRun;
  activity: Activity;
}

/** Warm-up, traced runs and the two throughput runs of one configuration, on its own players. */
async function measureConfiguration(
  ctx: { ludus: Ludus; admin: pg.Client; api: AdminApi; apiKey: string; pgCpu: ServerCpu | undefined },
  initial: Map<Subsystem, Definition[]>,
  config: Configuration,
  userIds: string[],
): Promise<ConfigurationResult> {
  const { ludus, admin, apiKey, pgCpu } = ctx;
  const tag = `c${config.id}`;
  await waitForIdle(admin);
  const switched = await applyConfiguration(ctx.api, initial, config.active);
  // Each configuration starts with no dirty buffers left by the one before (or by the setup and
  // pgbench): their writing would land on whichever configuration comes next.
  const checkpoint = await admin.query(`CHECKPOINT`).then(
    () => "",
    (error: unknown) => `; no CHECKPOINT (${error instanceof Error ? error.message : String(error)})`,
  );
  const on = SUBSYSTEMS.filter((k) => config.active[k]);
  console.log(
    `\n(${config.id}) ${config.name}: ${on.length === 0 ? "achievements, streaks and quests off" : `${on.join(", ")} on`}` +
      ` (${switched} definitions switched through the admin API${checkpoint})`,
  );
  const spec = (title: string, perRequest: number | null, connections: number, amount?: number) =>
    eventSpec(ludus, apiKey, userIds, { title: `${tag}-${title}`, perRequest, connections, amount });

  console.log(`  warming up (${WARMUP_SINGLES} single events, ${CONNECTIONS} batches)...`);
  const warmups = [
    await eventRun(admin, pgCpu, spec("warm-up-single", null, CONNECTIONS, WARMUP_SINGLES), 1, "201"),
    await eventRun(admin, pgCpu, spec("warm-up-batch", BATCH, CONNECTIONS, CONNECTIONS), BATCH, "200"),
  ];
  // Fresh statistics, and with them fresh plans: the runtime pool forces generic plans, cached per
  // connection until a table's statistics change, and plans made while the tables were nearly empty
  // scan whole tables (wallets, idempotency keys) for every event once they have grown (see
  // bench/README.md). Without this, whichever configuration runs while such plans are cached pays.
  await waitForIdle(admin);
  await admin.query(`ANALYZE`);
  console.log(`  traced runs (1 connection, every SQL statement counted and timed)...`);
  const tracedSingle = await tracedRun(
    admin,
    pgCpu,
    spec("traced-single", null, 1, TRACED_SINGLES),
    1,
    "201",
  );
  const tracedBatch = await tracedRun(
    admin,
    pgCpu,
    spec("traced-batch", BATCH, 1, TRACED_BATCHES),
    BATCH,
    "200",
  );
  await waitForIdle(admin);
  const before = await activityCounts(admin);
  console.log(`  measuring POST /v1/events for ${SECONDS} s...`);
  const single = await eventRun(admin, pgCpu, spec("single", null, CONNECTIONS), 1, "201");
  console.log(`  measuring POST /v1/events/batch (${BATCH} events each) for ${SECONDS} s...`);
  const batch = await eventRun(admin, pgCpu, spec("batch", BATCH, CONNECTIONS), BATCH, "200");
  await waitForIdle(admin);
  const activity = await activityBetween(admin, before);
  console.log(
    `  ${fmt(single.eventsPerSecond)} single events/s, ${fmt(batch.eventsPerSecond)} batched events/s`,
  );
  return {
    config,
    switched,
    runs: [...warmups, tracedSingle.run, tracedBatch.run, single, batch],
    tracedSingle,
    tracedBatch,
    single,
    batch,
    activity,
  };
}

// -------------------------------------------------------------------------------------------------- main

const ms = (n: number) => fmt(n, 2);
const cores = (n: number | undefined) => (n === undefined ? "n/a" : fmt(n, 2));
const perEvent = (seconds: number | undefined, events: number) =>
  seconds === undefined || events === 0 ? "n/a" : fmt((1000 * seconds) / events, 3);
const label = (c: Configuration) => `(${c.id}) ${c.name}`;
const runName = (r: EventRun) => (r.perRequest === 1 ? "single events" : `batches of ${BATCH}`);

function statementLabel(sql: string): string {
  return sql.length > 70 ? `${sql.slice(0, 67)}...` : sql;
}

/** The numbers of a traced run: per event unless said otherwise. */
function traceSummary(traced: Traced) {
  const { run, statements } = traced;
  const events = Math.max(1, run.events);
  const requests = Math.max(1, run.load.responses);
  const calls = statements.reduce((s, x) => s + x.calls, 0);
  const sqlMs = statements.reduce((s, x) => s + x.totalMs, 0);
  const transactions = statements.find((s) => s.sql === "BEGIN")?.calls ?? 0;
  return {
    p50: run.load.p50,
    statements: calls / events,
    transactions: transactions / requests,
    sqlMs: sqlMs / events,
    nodeMs: run.cpu.nodeSeconds === undefined ? undefined : (1000 * run.cpu.nodeSeconds) / events,
    postgresMs: run.cpu.postgresSeconds === undefined ? undefined : (1000 * run.cpu.postgresSeconds) / events,
    wallMs: (1000 * run.cpu.seconds) / events,
  };
}

/** Every statement of the traced runs of one kind, with its ms per event in each configuration. */
function statementTable(results: ConfigurationResult[], pick: (r: ConfigurationResult) => Traced): string {
  const order: string[] = [];
  const cells = new Map<string, Map<number, { perEvent: number; msPerEvent: number; mean: number }>>();
  for (const r of results) {
    const traced = pick(r);
    const events = Math.max(1, traced.run.events);
    for (const s of traced.statements) {
      if (!cells.has(s.sql)) {
        order.push(s.sql);
        cells.set(s.sql, new Map());
      }
      cells.get(s.sql)!.set(r.config.id, {
        perEvent: s.calls / events,
        msPerEvent: s.totalMs / events,
        mean: s.totalMs / s.calls,
      });
    }
  }
  const last = results[results.length - 1]!;
  const byLast = (sql: string) => cells.get(sql)?.get(last.config.id)?.msPerEvent ?? 0;
  order.sort((a, b) => byLast(b) - byLast(a));
  return table(
    [
      "statement",
      "per event",
      ...results.map((r) => `(${r.config.id}) ms/event`),
      `(${last.config.id}) mean ms`,
    ],
    order.map((sql) => {
      const row = cells.get(sql)!;
      const any = [...row.values()][0];
      return [
        statementLabel(sql),
        fmt(any?.perEvent ?? 0, 2),
        ...results.map((r) => {
          const c = row.get(r.config.id);
          return c === undefined ? "-" : fmt(c.msPerEvent, 3);
        }),
        row.get(last.config.id) === undefined ? "-" : fmt(row.get(last.config.id)!.mean, 3),
      ];
    }),
  );
}

async function main(): Promise<number> {
  console.log("Ludus event intake benchmark");
  console.log(`  code: ${describeSource(BENCH_ROOT)}`);
  await describeMachine();
  console.log(
    `  load: autocannon in a child process, ${CONNECTIONS} connections, ${SECONDS} s per run, ` +
      `${PLAYERS} players per configuration, batches of ${BATCH}; configurations ${CONFIGURATIONS.map((c) => c.id).join(", ")}`,
  );

  const adminPassword = `Bench-admin-${randomBytes(12).toString("hex")}`;
  const ludus = await startLudus({
    LUDUS_ADMIN_EMAIL: "bench.admin@example.com",
    LUDUS_ADMIN_PASSWORD: adminPassword,
    // The highest values the configuration accepts, so limits never refuse benchmark traffic
    // (API keys are not rate limited on the event routes anyway).
    LUDUS_AUTH_RATE_LIMIT: "100000",
    LUDUS_EVENTS_RATE_LIMIT: "1000000",
    // The admin's token switches configurations for the whole run.
    LUDUS_ACCESS_TOKEN_TTL: "86400",
  });
  const admin = new pg.Client({ connectionString: ludus.adminUrl });
  try {
    await admin.connect();
    // Owner connections are still subject to row-level security unless superuser: act as the system.
    await admin.query(`SELECT set_config('ludus.system', 'on', false)`);
    const settings = await admin.query<{ name: string; setting: string }>(
      `SELECT name, current_setting(name) AS setting FROM unnest(ARRAY['server_version', 'fsync',
         'synchronous_commit', 'shared_buffers', 'max_connections']) AS name`,
    );
    const backend = await admin.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`);
    const pgCpu = serverCpu(backend.rows[0]?.pid ?? -1);
    console.log(`  Ludus: ${ludus.server.url} on ${ludus.where}, pool ${ludus.config.poolSize} connections`);
    console.log(`  PostgreSQL: ${settings.rows.map((r) => `${r.name}=${r.setting}`).join(", ")}`);
    if (pgCpu === undefined) console.log("  PostgreSQL CPU: not visible from here (not on this machine)");

    const api = await AdminApi.login(ludus);
    const apiKey = await api.createApiKey("events benchmark", ["events:write"]);
    const initial = new Map<Subsystem, Definition[]>();
    for (const kind of SUBSYSTEMS) initial.set(kind, await api.list(kind));
    console.log(
      `  content: ${SUBSYSTEMS.map((k) => {
        const defs = initial.get(k) ?? [];
        return `${defs.filter((d) => d.active).length} of ${defs.length} ${k} active`;
      }).join(", ")}`,
    );

    const total = PLAYERS * CONFIGURATIONS.length;
    console.log(`\ncreating ${total} players in SQL (${PLAYERS} for each configuration)...`);
    const hash = await new PasswordHasher(ludus.config.argon2).hash(
      `Bench-player-${randomBytes(8).toString("hex")}`,
    );
    const playersStarted = performance.now();
    const players = await createPlayers(admin, total, hash);
    console.log(
      `  ${players.length} players (users + user_profiles in ${TIME_ZONES.join(", ")}) in ` +
        `${fmt((performance.now() - playersStarted) / 1000, 2)} s`,
    );
    const historyStarted = performance.now();
    const history: History = await seedStreakHistory(admin, players, DIETGAME_EVENT_TYPES, seed++, {
      freezeTokens: FREEZE_TOKENS,
    });
    console.log(
      `  streak history in ${fmt((performance.now() - historyStarted) / 1000, 2)} s (the same mix in every configuration's players):`,
    );
    for (const s of history.streaks) {
      console.log(
        `    ${s.key} (${s.cadence}): ${s.alive} counted last ${s.cadence}, ` +
          (s.freezeCurrency === null
            ? ""
            : `${s.missed} missed one ${FREEZE_TOKENS ? `holding a ${s.freezeCurrency} token` : "(no tokens: BENCH_FREEZE_TOKENS=0)"}, `) +
          `${s.lapsed} lapsed, ${s.none} none; ${s.milestonesPaid} milestones paid before`,
      );
    }
    console.log(`    ${history.tokens} freeze tokens credited (wallet + ledger entry of type adjust)`);

    console.log(`\nbaseline: pgbench TPC-B, scale ${PGBENCH_SCALE}, on a scratch database (Ludus idle)...`);
    const pgbench = await runPgbench(ludus.serverUrl, pgCpu);
    console.log(
      `  initialised in ${fmt(pgbench.initSeconds, 1)} s; ${fmt(pgbench.tps)} tps, ${pgbench.transactions} transactions`,
    );

    const ctx = { ludus, admin, api, apiKey, pgCpu };
    const results: ConfigurationResult[] = [];
    for (const [i, config] of CONFIGURATIONS.entries()) {
      const group = players.slice(i * PLAYERS, (i + 1) * PLAYERS).map((p) => p.id);
      results.push(await measureConfiguration(ctx, initial, config, group));
    }
    // Back to the content as it was (all of it, as configuration 4 has it).
    await applyConfiguration(api, initial, { achievements: true, streaks: true, quests: true });
    const runs = results.flatMap((r) => r.runs);

    const drained = await waitForIdle(admin);
    console.log(
      `\nchecking the books (verifyBooks, as \`ludus verify\` does), ${fmt(drained / 1000, 1)} s after the load ` +
        "(requests in flight when it stopped had to finish)...",
    );
    const verifyStarted = performance.now();
    const books = await checkBooks(ludus, admin);
    console.log(`  checked in ${fmt((performance.now() - verifyStarted) / 1000, 1)} s`);

    report(pgbench, results);
    return correctness(books, runs);
  } finally {
    await admin.end().catch(() => undefined);
    await ludus.cleanup();
  }
}

// ------------------------------------------------------------------------------------------------ report

function report(pgbench: PgbenchResult, results: ConfigurationResult[]): void {
  const base = results.find((r) => r.config.id === 1);
  const vsPgbench = (r: EventRun) => r.eventsPerSecond / pgbench.tps;
  const vsBase = (r: ConfigurationResult, run: EventRun) => {
    if (base === undefined) return "-";
    const b = run.perRequest === 1 ? base.single : base.batch;
    return fmt(run.eventsPerSecond / b.eventsPerSecond, 2);
  };
  const verdict = (value: number, target: number) => (value >= target ? "met" : "not met");

  console.log(
    `\nResults (${CONNECTIONS} connections, ${SECONDS} s per run, ${PLAYERS} players per configuration)\n`,
  );
  console.log(
    table(
      [
        "configuration",
        "run",
        "events/s",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "vs pgbench",
        "vs (1)",
        "target",
        "",
      ],
      [
        [
          "pgbench TPC-B (baseline)",
          "per transaction",
          `${fmt(pgbench.tps)} tps`,
          "",
          ms(pgbench.p50),
          ms(pgbench.p99),
          "",
          "1",
          "",
          "",
          "",
        ],
        ...results.flatMap((r) =>
          [r.single, r.batch].map((run, i) => {
            const target = run.perRequest === 1 ? SINGLE_TARGET : BATCH_TARGET;
            return [
              i === 0 ? label(r.config) : "",
              runName(run),
              fmt(run.eventsPerSecond),
              fmt(run.load.rps),
              ms(run.load.p50),
              ms(run.load.p99),
              String(run.load.non2xx + run.load.errors),
              fmt(vsPgbench(run), 2),
              vsBase(r, run),
              `>= ${target}`,
              isInvalid(run.load) ? "INVALID: requests failed" : verdict(vsPgbench(run), target),
            ];
          }),
        ),
      ],
    ),
  );
  console.log("  p50/p99 are per request: per batch for batches.");

  // The documented figures of earlier runs, and the same lines in this run.
  const find = (id: number) => results.find((r) => r.config.id === id);
  const earlierRows: string[][] = [];
  const earlier = (
    what: string,
    figure: number,
    commit: string,
    now: ConfigurationResult | undefined,
    run: "single" | "batch",
  ) => {
    const measured = now?.[run];
    earlierRows.push([
      what,
      `${fmt(figure, 0)}/s (${commit})`,
      fmt(figure / EARLIER.pgbench, 2),
      measured === undefined ? "-" : `(${now!.config.id}) ${fmt(measured.eventsPerSecond, 0)}/s`,
      measured === undefined ? "-" : fmt(vsPgbench(measured), 2),
      measured === undefined ? "-" : fmt(measured.eventsPerSecond / figure, 2),
      measured === undefined ? "-" : fmt(vsPgbench(measured) / (figure / EARLIER.pgbench), 2),
    ]);
  };
  earlier("single, engine only", EARLIER.engine.single, EARLIER.engine.commit, find(1), "single");
  earlier("batches, engine only", EARLIER.engine.batch, EARLIER.engine.commit, find(1), "batch");
  earlier(
    "single, + achievements",
    EARLIER.achievements.single,
    EARLIER.achievements.commit,
    find(2),
    "single",
  );
  earlier(
    "batches, + achievements",
    EARLIER.achievements.batch,
    EARLIER.achievements.commit,
    find(2),
    "batch",
  );
  earlier("single, all on vs engine only", EARLIER.engine.single, EARLIER.engine.commit, find(4), "single");
  earlier("batches, all on vs engine only", EARLIER.engine.batch, EARLIER.engine.commit, find(4), "batch");
  console.log(
    `\nAgainst the figures documented from earlier runs (bench/README.md; pgbench ${fmt(EARLIER.pgbench, 0)} tps then, ` +
      `${fmt(pgbench.tps, 0)} tps now)\n`,
  );
  console.log(
    table(
      ["line", "earlier", "vs its pgbench", "this run", "vs pgbench", "this / earlier", "ratio of ratios"],
      earlierRows,
    ),
  );
  if (base !== undefined) {
    const last = results[results.length - 1]!;
    console.log(
      `  In this run, ${label(last.config)} against (1) engine only: single ${fmt(last.single.eventsPerSecond / base.single.eventsPerSecond, 2)}x, ` +
        `batches ${fmt(last.batch.eventsPerSecond / base.batch.eventsPerSecond, 2)}x.`,
    );
  }

  console.log("\nWhere the time goes (traced runs: 1 connection, requests one after another; per event)\n");
  console.log(
    table(
      [
        "configuration",
        "run",
        "p50 ms/request",
        "statements",
        "transactions/request",
        "ms waiting for PostgreSQL",
        "Node CPU ms",
        "PostgreSQL CPU ms",
        "wall ms",
      ],
      results.flatMap((r) =>
        [r.tracedSingle, r.tracedBatch].map((t, i) => {
          const s = traceSummary(t);
          return [
            i === 0 ? label(r.config) : "",
            runName(t.run),
            ms(s.p50),
            fmt(s.statements, 2),
            fmt(s.transactions, 1),
            ms(s.sqlMs),
            s.nodeMs === undefined ? "n/a" : fmt(s.nodeMs, 3),
            s.postgresMs === undefined ? "n/a" : fmt(s.postgresMs, 3),
            ms(s.wallMs),
          ];
        }),
      ),
    ),
  );
  console.log(`\nStatements of single events (traced), ms per event in each configuration\n`);
  console.log(statementTable(results, (r) => r.tracedSingle));
  console.log(`\nStatements of batches of ${BATCH} (traced), ms per event in each configuration\n`);
  console.log(statementTable(results, (r) => r.tracedBatch));

  console.log(
    `\nWhat the events of the throughput runs caused, per 1,000 events sent (derived events, ledger entries, rows)\n`,
  );
  console.log(
    table(
      [
        "configuration",
        "events",
        "level.up",
        "achievement.unlocked",
        "streak.extended",
        "quest.completed",
        "earn",
        "reward",
        "spend",
        "quests assigned",
        "streak rows written",
        "milestones",
      ],
      results.map((r) => {
        const a = r.activity;
        return [
          label(r.config),
          String(a.events),
          fmt(a.levelUps, 0),
          fmt(a.unlocks, 0),
          fmt(a.streaksExtended, 0),
          fmt(a.questsCompleted, 0),
          fmt(a.earn, 0),
          fmt(a.reward, 0),
          fmt(a.spend, 1),
          fmt(a.questsAssigned, 0),
          fmt(a.streakRowsWritten, 0),
          fmt(a.milestones, 1),
        ];
      }),
    ),
  );

  const machineCores = os.availableParallelism();
  console.log(`\nCPU under load (cores busy on average; ${machineCores} cores in all)\n`);
  const pgbenchPerTx = (s: number | undefined) =>
    s === undefined ? "n/a" : fmt((1000 * s) / Math.max(1, pgbench.transactions), 3);
  // Cores busy with anything but Ludus, PostgreSQL and the load generator: other work on the machine.
  const others = (r: EventRun) =>
    r.cpu.postgres === undefined
      ? "n/a"
      : cores(
          Math.max(0, r.cpu.machine - r.cpu.node - r.cpu.postgres - r.load.loadCpuSeconds / r.cpu.seconds),
        );
  const ceiling = (r: EventRun) => {
    const events = Math.max(1, r.events);
    if (r.cpu.postgresSeconds === undefined) return undefined;
    // If nothing but CPU limited intake, all cores busy with this mix would give this rate.
    return machineCores / ((r.cpu.nodeSeconds + r.cpu.postgresSeconds + r.load.loadCpuSeconds) / events);
  };
  console.log(
    table(
      [
        "configuration",
        "run",
        "Ludus (Node)",
        "PostgreSQL",
        "load generator",
        "machine",
        "others",
        "Node ms/event",
        "PostgreSQL ms/event",
        "CPU ceiling events/s",
        "measured",
      ],
      [
        [
          "pgbench (per transaction)",
          "",
          "-",
          cores(pgbench.cpu.postgres),
          "(pgbench)",
          cores(pgbench.cpu.machine),
          "",
          "-",
          pgbenchPerTx(pgbench.cpu.postgresSeconds),
          "",
          "",
        ],
        ...results.flatMap((res) =>
          [res.single, res.batch].map((r, i) => {
            const c = ceiling(r);
            return [
              i === 0 ? label(res.config) : "",
              runName(r),
              cores(r.cpu.node),
              cores(r.cpu.postgres),
              cores(r.load.loadCpuSeconds / r.cpu.seconds),
              cores(r.cpu.machine),
              others(r),
              perEvent(r.cpu.nodeSeconds, r.events),
              perEvent(r.cpu.postgresSeconds, r.events),
              c === undefined ? "n/a" : fmt(c, 0),
              c === undefined ? "n/a" : `${fmt((100 * r.eventsPerSecond) / c, 0)}%`,
            ];
          }),
        ),
      ],
    ),
  );
  console.log(
    "  others: cores busy with other work on the machine (machine - Ludus - PostgreSQL - load generator); " +
      "well above 0 means the run competed for CPU and its figures are low.\n" +
      "  CPU ceiling: the events/s all cores would give doing nothing but this mix (Node + PostgreSQL + load " +
      "generator per event); measured near it means intake is CPU-bound.",
  );
  const split = (name: string, cpu: CpuSplit) => {
    if (cpu.postgresByKind.length === 0) return;
    // Shares of the kinds that used CPU (a process that ended moves its time to "exited processes").
    const sum = cpu.postgresByKind.reduce((s, [, seconds]) => s + seconds, 0);
    console.log(
      `  PostgreSQL CPU in ${name}: ` +
        cpu.postgresByKind.map(([kind, seconds]) => `${kind} ${fmt((100 * seconds) / sum, 0)}%`).join(", "),
    );
  };
  split("pgbench", pgbench.cpu);
  const lastResult = results[results.length - 1]!;
  split(`${label(lastResult.config)} batches`, lastResult.batch.cpu);

  // What each subsystem adds: the difference to the configuration before it, from the throughput runs.
  console.log(
    "\nWhat each subsystem adds (throughput runs: CPU per event and events/s against the configuration before)\n",
  );
  const rows: string[][] = [];
  for (let i = 1; i < results.length; i++) {
    const prev = results[i - 1]!;
    const cur = results[i]!;
    for (const kind of ["single", "batch"] as const) {
      const a = prev[kind];
      const b = cur[kind];
      const cpu = (r: EventRun, which: "node" | "pg") => {
        const s = which === "node" ? r.cpu.nodeSeconds : r.cpu.postgresSeconds;
        return s === undefined ? undefined : (1000 * s) / Math.max(1, r.events);
      };
      const diff = (which: "node" | "pg") => {
        const x = cpu(a, which);
        const y = cpu(b, which);
        return x === undefined || y === undefined ? "n/a" : `${y - x >= 0 ? "+" : ""}${fmt(y - x, 3)}`;
      };
      const tracedA = traceSummary(kind === "single" ? prev.tracedSingle : prev.tracedBatch);
      const tracedB = traceSummary(kind === "single" ? cur.tracedSingle : cur.tracedBatch);
      const sqlDiff = tracedB.sqlMs - tracedA.sqlMs;
      rows.push([
        kind === "single" ? `${label(cur.config)} vs (${prev.config.id})` : "",
        runName(b),
        diff("node"),
        diff("pg"),
        `${sqlDiff >= 0 ? "+" : ""}${fmt(sqlDiff, 3)}`,
        `${fmt(b.eventsPerSecond / a.eventsPerSecond, 2)}x`,
      ]);
    }
  }
  if (rows.length > 0) {
    console.log(
      table(
        [
          "step",
          "run",
          "Node CPU ms/event",
          "PostgreSQL CPU ms/event",
          "ms waiting for PostgreSQL (traced)",
          "events/s",
        ],
        rows,
      ),
    );
  }
}

// ------------------------------------------------------------------------------------------- correctness

function correctness(books: Books, runs: EventRun[]): number {
  console.log("\nCorrectness after the load");
  const accepted = runs.reduce((s, r) => s + r.events, 0);
  // Requests still in flight when autocannon stops may still be applied: up to one per connection.
  const inFlight = runs.reduce((s, r) => s + r.connections * r.perRequest, 0);
  const countsAgree = books.recorded >= accepted && books.recorded <= accepted + inFlight;
  console.log(
    `  books balance: ${books.balanced ? "yes" : "no"} (verifyBooks over ${books.players} players: ` +
      `wallets = ledgers, running sums, levels, statistics; ${books.ledgerEntries} ledger entries: ` +
      `${Object.entries(books.ledgerByType)
        .map(([type, n]) => `${n} ${type}`)
        .join(", ")})`,
  );
  for (const p of books.problems.slice(0, 20)) console.log(`    ${p}`);
  console.log(
    `  events recorded: ${books.recorded}; accepted by 2xx responses: ${accepted}` +
      ` (up to ${inFlight} more may have been in flight when runs stopped): ${countsAgree ? "consistent" : "INCONSISTENT"}`,
  );
  console.log(
    `  deadlocks detected by PostgreSQL: ${
      runs
        .filter((r) => r.deadlocks > 0)
        .map((r) => `${r.title} ${r.deadlocks}`)
        .join(", ") || "none"
    }`,
  );
  // One level.up event per level gained (every level is reached one at a time).
  const levelsAgree = books.levelUpEvents === books.levelsGained;
  console.log(
    `  level.up events: ${books.levelUpEvents} for ${books.levelsGained} levels gained by ` +
      `${books.playersAboveLevel1} players: ${levelsAgree ? "consistent" : "MISMATCH (expected one level.up event per level gained)"}`,
  );
  const unlocksAgree = books.unlocks === books.unlockEvents;
  console.log(
    `  achievement.unlocked events: ${books.unlockEvents} for ${books.unlocks} achievements unlocked: ` +
      (unlocksAgree ? "consistent" : "MISMATCH"),
  );
  const questsAgree = books.questsCompleted === books.questCompletedEvents;
  console.log(
    `  quest.completed events: ${books.questCompletedEvents} for ${books.questsCompleted} quests completed: ` +
      (questsAgree ? "consistent" : "MISMATCH"),
  );
  console.log(
    `  wallets above their currency's ceiling: ${books.overCeiling}` +
      (books.overCeiling === 0 ? "" : " (MISMATCH: freeze tokens are capped)"),
  );

  console.log("\nRun details");
  for (const r of runs) {
    console.log(`  ${describeRun(r.load)}${r.deadlocks > 0 ? `, ${r.deadlocks} deadlocks` : ""}`);
  }

  let code = 0;
  const invalid = runs.filter((r) => isInvalid(r.load));
  if (invalid.length > 0) {
    console.error(
      `\nINVALID: more than ${MAX_FAILURE_SHARE * 100}% of requests failed in: ${invalid.map((r) => r.title).join(", ")}`,
    );
    code = 1;
  }
  const failed = (ok: boolean, message: string) => {
    if (ok) return;
    console.error(`\nFAILED: ${message}`);
    code = 1;
  };
  failed(books.balanced, "the books do not balance after the load");
  failed(countsAgree, "the events recorded do not match the responses");
  failed(levelsAgree, "levels were gained without their level.up events");
  failed(unlocksAgree, "achievements were unlocked without their achievement.unlocked events");
  failed(questsAgree, "quests were completed without their quest.completed events");
  failed(books.overCeiling === 0, "wallets hold more than their currency's ceiling");
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
