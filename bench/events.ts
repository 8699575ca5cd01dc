/**
 * Event intake benchmark: events/s of POST /v1/events (one event per request) and POST
 * /v1/events/batch (BENCH_BATCH events per request) from an app backend's API key, for random players
 * among BENCH_EVENT_PLAYERS, against pgbench's TPC-B on the same PostgreSQL server, all in one run on
 * one machine. Then where the time of one event goes (statements, round trips, CPU of Node and
 * PostgreSQL), and whether the books still balance afterwards.
 *
 *   npx tsx bench/events.ts        BENCH_CONNECTIONS (8), BENCH_SECONDS (10), BENCH_EVENT_PLAYERS (10000),
 *                                  BENCH_BATCH (100), BENCH_PGBENCH_SCALE (10)
 */
import { execFile } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { verifyBooks } from "../src/economy/verify.ts";
import { Definitions } from "../src/engine/definitions.ts";
import { PasswordHasher } from "../src/identity/passwords.ts";
import { createRuntimePool, Database } from "../src/platform/db/database.ts";
import type { EventBodyOptions } from "./lib/event-bodies.ts";
import { BENCH_ROOT, runLoad, type LoadSpec, type LoadSummary } from "./lib/load.ts";
import { databaseUrl, quoteIdent, startLudus, withClient, type Ludus } from "./lib/ludus.ts";
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

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------------------------- settings

const CONNECTIONS = intFromEnv("BENCH_CONNECTIONS", 8, 1);
const SECONDS = intFromEnv("BENCH_SECONDS", 10, 1);
const PLAYERS = intFromEnv("BENCH_EVENT_PLAYERS", 10_000, 1);
const BATCH = intFromEnv("BENCH_BATCH", 100, 1);
const PGBENCH_SCALE = intFromEnv("BENCH_PGBENCH_SCALE", 10, 1);
if (BATCH > 1000) fail("BENCH_BATCH must be at most 1000 (the largest batch Ludus accepts)");
/** Sequential requests (one connection) of the traced runs that show where the time goes. */
const TRACED_SINGLES = 200;
const TRACED_BATCHES = 10;
/** Requests before any measurement, so Node's JIT and PostgreSQL's caches are warm. */
const WARMUP_SINGLES = 400;
/** Targets: events/s as a multiple of pgbench TPC-B transactions/s on the same server. */
const SINGLE_TARGET = 0.5;
const BATCH_TARGET = 3;
const TIME_ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"];

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

/**
 * Inserts the players straight into the database as its owner (registering 10,000 through the API
 * would hash 10,000 passwords): users with one real argon2id hash shared by all, and their profiles
 * in a mix of time zones. Returns their ids.
 */
async function createPlayers(admin: pg.Client, count: number, passwordHash: string): Promise<string[]> {
  const result = await admin.query<{ id: string }>(
    `WITH u AS (
       INSERT INTO users (email, username, password_hash, display_name)
       SELECT 'bench.player.' || g || '@example.com', 'bench_player_' || g, $2, 'Bench Player ' || g
       FROM generate_series(1, $1::int) AS g
       RETURNING id, username
     )
     INSERT INTO user_profiles (user_id, time_zone)
     SELECT id, ($3::text[])[1 + substring(username FROM 14)::int % cardinality($3::text[])] FROM u
     RETURNING user_id AS id`,
    [count, passwordHash, TIME_ZONES],
  );
  await admin.query(`ANALYZE users, user_profiles`);
  return result.rows.map((r) => r.id);
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

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/**
 * pgbench's default TPC-B-like script on a scratch database of the same server: initialised at
 * BENCH_PGBENCH_SCALE, then run with the same connections and duration, logging every transaction
 * so its percentiles compare with the HTTP ones.
 */
async function runPgbench(serverUrl: string, pgCpu: ServerCpu | undefined): Promise<PgbenchResult> {
  const scratch = `ludus_pgbench_${process.pid}_${randomBytes(4).toString("hex")}`;
  const url = new URL(databaseUrl(serverUrl, scratch));
  const password = decodeURIComponent(url.password);
  url.password = "";
  // The password goes in the environment, not on a command line other users can read.
  const env = { ...process.env, PGPASSWORD: password };
  const logDir = await mkdtemp(path.join(os.tmpdir(), "ludus-pgbench-"));
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(scratch)}`));
  try {
    const initStarted = performance.now();
    await execFileAsync("pgbench", ["-i", "-q", "-s", String(PGBENCH_SCALE), url.toString()], { env });
    const initSeconds = (performance.now() - initStarted) / 1000;
    const args = [
      "-c",
      String(CONNECTIONS),
      "-j",
      String(Math.min(2, CONNECTIONS)),
      "-T",
      String(SECONDS),
      "-n",
      "-l",
      `--log-prefix=${path.join(logDir, "pgbench")}`,
      url.toString(),
    ];
    const before = sampleCpu(pgCpu);
    const { stdout } = await execFileAsync("pgbench", args, { env });
    const after = sampleCpu(pgCpu);
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
    if (tps === undefined) throw new Error(`could not read tps from pgbench:\n${stdout}`);
    // Per-transaction log: "client_id transaction_no time script_no time_epoch time_us", time in µs.
    const latencies: number[] = [];
    for (const file of await readdir(logDir)) {
      for (const line of (await readFile(path.join(logDir, file), "utf8")).split("\n")) {
        const micros = Number(line.split(" ")[2]);
        if (line !== "" && Number.isFinite(micros)) latencies.push(micros / 1000);
      }
    }
    const sorted = Float64Array.from(latencies).sort();
    return {
      tps: Number(tps),
      transactions: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      mean: sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length),
      initSeconds,
      cpu: cpuBetween(before, after),
    };
  } finally {
    await rm(logDir, { recursive: true, force: true });
    await withClient(serverUrl, (c) =>
      c.query(`DROP DATABASE IF EXISTS ${quoteIdent(scratch)} WITH (FORCE)`),
    );
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

// ------------------------------------------------------------------------------------------------- setup

async function json<T>(response: Response, expected: number, what: string): Promise<T> {
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${what}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Logs the configured admin in and creates an API key for app backends with events:write. */
async function createApiKey(ludus: Ludus): Promise<string> {
  const admin = ludus.config.admin;
  if (admin === undefined) throw new Error("no admin configured");
  const login = await json<{ tokens: { accessToken: string } }>(
    await fetch(`${ludus.server.url}/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ login: admin.email, password: admin.password }),
    }),
    200,
    "admin login",
  );
  const created = await json<{ key: string }>(
    await fetch(`${ludus.server.url}/v1/admin/api-keys`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${login.tokens.accessToken}`,
      },
      body: JSON.stringify({ name: "events benchmark", scopes: ["events:write"] }),
    }),
    201,
    "create API key",
  );
  return created.key;
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
  // What `ludus verify` does (src/main.ts), on a pool of its own as the runtime role.
  const db = new Database(createRuntimePool(ludus.adminUrl, 2, true), ludus.logger);
  let report: Awaited<ReturnType<typeof verifyBooks>>;
  try {
    report = await verifyBooks(db, new Definitions(db, ludus.logger));
  } finally {
    await db.close();
  }
  const counts = await admin.query<{
    recorded: number;
    ledger: number;
    above: number;
    gained: number;
    level_ups: number;
  }>(
    `SELECT (SELECT count(*)::int FROM events WHERE source = 'api_key') AS recorded,
            (SELECT count(*)::int FROM ledger_entries) AS ledger,
            (SELECT count(*)::int FROM user_progress WHERE level > 1) AS above,
            (SELECT coalesce(sum(level - 1), 0)::int FROM user_progress) AS gained,
            (SELECT count(*)::int FROM events WHERE type = 'level.up') AS level_ups`,
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
  };
}

// -------------------------------------------------------------------------------------------------- main

const ms = (n: number) => fmt(n, 2);
const cores = (n: number | undefined) => (n === undefined ? "n/a" : fmt(n, 2));
const perEvent = (seconds: number | undefined, events: number) =>
  seconds === undefined || events === 0 ? "n/a" : fmt((1000 * seconds) / events, 3);

function statementLabel(sql: string): string {
  return sql.length > 88 ? `${sql.slice(0, 85)}...` : sql;
}

function printTrace(traced: Traced, label: string): void {
  const { run, statements } = traced;
  const events = Math.max(1, run.events);
  const requests = Math.max(1, run.load.responses);
  const calls = statements.reduce((s, x) => s + x.calls, 0);
  const sqlMs = statements.reduce((s, x) => s + x.totalMs, 0);
  const transactions = statements.find((s) => s.sql === "BEGIN")?.calls ?? 0;
  console.log(
    `\n${label}: ${run.load.responses} requests, ${run.events} events, 1 connection, one after another`,
  );
  console.log(
    `  latency per request: mean ${ms(run.load.mean)} ms, p50 ${ms(run.load.p50)} ms, p99 ${ms(run.load.p99)} ms`,
  );
  console.log(
    `  per event: ${fmt(calls / events, 1)} SQL statements (each one round trip), ` +
      `${fmt(transactions / requests, 1)} transactions per request; ` +
      `${ms(sqlMs / events)} ms waiting for PostgreSQL, ` +
      `${perEvent(run.cpu.nodeSeconds, run.events)} ms Node CPU, ${perEvent(run.cpu.postgresSeconds, run.events)} ms PostgreSQL CPU, ` +
      `${ms((1000 * run.cpu.seconds) / events)} ms wall`,
  );
  console.log(
    `  Ludus busy ${fmt(100 * run.cpu.node, 0)}% of one core, PostgreSQL ${run.cpu.postgres === undefined ? "n/a" : `${fmt(100 * run.cpu.postgres, 0)}%`}; ` +
      `the rest of the wall time is round trips and waiting`,
  );
  console.log();
  console.log(
    table(
      ["statement", "per event", "mean ms", "ms per event"],
      statements.map((s) => [
        statementLabel(s.sql),
        fmt(s.calls / events, 2),
        fmt(s.totalMs / s.calls, 3),
        fmt(s.totalMs / events, 3),
      ]),
    ),
  );
}

async function main(): Promise<number> {
  console.log("Ludus event intake benchmark");
  console.log(`  code: ${describeSource(BENCH_ROOT)}`);
  await describeMachine();
  console.log(
    `  load: autocannon in a child process, ${CONNECTIONS} connections, ${SECONDS} s per run, ` +
      `${PLAYERS} players, batches of ${BATCH}`,
  );

  const adminPassword = `Bench-admin-${randomBytes(12).toString("hex")}`;
  const ludus = await startLudus({
    LUDUS_ADMIN_EMAIL: "bench.admin@example.com",
    LUDUS_ADMIN_PASSWORD: adminPassword,
    // The highest values the configuration accepts, so limits never refuse benchmark traffic
    // (API keys are not rate limited on the event routes anyway).
    LUDUS_AUTH_RATE_LIMIT: "100000",
    LUDUS_EVENTS_RATE_LIMIT: "1000000",
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

    const apiKey = await createApiKey(ludus);

    console.log(`\ncreating ${PLAYERS} players in SQL...`);
    const hash = await new PasswordHasher(ludus.config.argon2).hash(
      `Bench-player-${randomBytes(8).toString("hex")}`,
    );
    const playersStarted = performance.now();
    const userIds = await createPlayers(admin, PLAYERS, hash);
    console.log(
      `  ${userIds.length} players (users + user_profiles in ${TIME_ZONES.join(", ")}) in ` +
        `${fmt((performance.now() - playersStarted) / 1000, 2)} s`,
    );

    console.log(`\nbaseline: pgbench TPC-B, scale ${PGBENCH_SCALE}, on a scratch database (Ludus idle)...`);
    const pgbench = await runPgbench(ludus.serverUrl, pgCpu);
    console.log(
      `  initialised in ${fmt(pgbench.initSeconds, 1)} s; ${fmt(pgbench.tps)} tps, ${pgbench.transactions} transactions`,
    );

    console.log(
      `\nwarming up (${WARMUP_SINGLES} single events, ${CONNECTIONS} batches, ${CONNECTIONS} connections)...`,
    );
    const warmups = [
      await eventRun(
        admin,
        pgCpu,
        eventSpec(ludus, apiKey, userIds, {
          title: "warm-up-single",
          perRequest: null,
          connections: CONNECTIONS,
          amount: Math.max(WARMUP_SINGLES, CONNECTIONS),
        }),
        1,
        "201",
      ),
      await eventRun(
        admin,
        pgCpu,
        eventSpec(ludus, apiKey, userIds, {
          title: "warm-up-batch",
          perRequest: BATCH,
          connections: CONNECTIONS,
          amount: CONNECTIONS,
        }),
        BATCH,
        "200",
      ),
    ];

    console.log(`traced runs (1 connection, every SQL statement counted and timed)...`);
    const tracedSingle = await tracedRun(
      admin,
      pgCpu,
      eventSpec(ludus, apiKey, userIds, {
        title: "traced-single",
        perRequest: null,
        connections: 1,
        amount: TRACED_SINGLES,
      }),
      1,
      "201",
    );
    const tracedBatch = await tracedRun(
      admin,
      pgCpu,
      eventSpec(ludus, apiKey, userIds, {
        title: "traced-batch",
        perRequest: BATCH,
        connections: 1,
        amount: TRACED_BATCHES,
      }),
      BATCH,
      "200",
    );

    console.log(`measuring POST /v1/events for ${SECONDS} s...`);
    const single = await eventRun(
      admin,
      pgCpu,
      eventSpec(ludus, apiKey, userIds, { title: "single", perRequest: null, connections: CONNECTIONS }),
      1,
      "201",
    );
    console.log(`measuring POST /v1/events/batch (${BATCH} events each) for ${SECONDS} s...`);
    const batch = await eventRun(
      admin,
      pgCpu,
      eventSpec(ludus, apiKey, userIds, { title: "batch", perRequest: BATCH, connections: CONNECTIONS }),
      BATCH,
      "200",
    );
    const runs = [...warmups, tracedSingle.run, tracedBatch.run, single, batch];

    const drained = await waitForIdle(admin);
    console.log(
      `checking the books (verifyBooks, as \`ludus verify\` does), ${fmt(drained / 1000, 1)} s after the load ` +
        "(requests in flight when it stopped had to finish)...",
    );
    const books = await checkBooks(ludus, admin);

    // ------------------------------------------------------------------------------------------ report
    const ratio = (r: EventRun) => r.eventsPerSecond / pgbench.tps;
    const verdict = (value: number, target: number) => (value >= target ? "target met" : "target not met");
    console.log(`\nResults (${CONNECTIONS} connections, ${SECONDS} s each, ${PLAYERS} players)\n`);
    console.log(
      table(
        ["measurement", "events/s", "requests/s", "p50 ms", "p99 ms", "non-2xx", "vs pgbench", "target", ""],
        [
          [
            "pgbench TPC-B (baseline, per transaction)",
            `${fmt(pgbench.tps)} tps`,
            "",
            ms(pgbench.p50),
            ms(pgbench.p99),
            "",
            "1",
            "",
            "",
          ],
          [
            "single events: POST /v1/events",
            fmt(single.eventsPerSecond),
            fmt(single.load.rps),
            ms(single.load.p50),
            ms(single.load.p99),
            String(single.load.non2xx + single.load.errors),
            fmt(ratio(single), 2),
            `>= ${SINGLE_TARGET}`,
            verdict(ratio(single), SINGLE_TARGET),
          ],
          [
            `batched events: POST /v1/events/batch x${BATCH} (latency per batch)`,
            fmt(batch.eventsPerSecond),
            fmt(batch.load.rps),
            ms(batch.load.p50),
            ms(batch.load.p99),
            String(batch.load.non2xx + batch.load.errors),
            fmt(ratio(batch), 2),
            `>= ${BATCH_TARGET}`,
            verdict(ratio(batch), BATCH_TARGET),
          ],
        ],
      ),
    );

    console.log("\nWhere the time goes");
    printTrace(tracedSingle, "Single events, traced");
    printTrace(tracedBatch, `Batches of ${BATCH}, traced`);

    console.log(`\nCPU under load (cores busy on average; ${os.availableParallelism()} cores in all)\n`);
    const pgbenchPerTx = (s: number | undefined) =>
      s === undefined ? "n/a" : fmt((1000 * s) / Math.max(1, pgbench.transactions), 3);
    console.log(
      table(
        [
          "run",
          "Ludus (Node)",
          "PostgreSQL",
          "load generator",
          "machine",
          "Node ms/event",
          "PostgreSQL ms/event",
        ],
        [
          [
            "pgbench (per transaction)",
            "-",
            cores(pgbench.cpu.postgres),
            "(pgbench)",
            cores(pgbench.cpu.machine),
            "-",
            pgbenchPerTx(pgbench.cpu.postgresSeconds),
          ],
          ...[single, batch].map((r) => [
            r.title === "single" ? "single events" : `batches of ${BATCH}`,
            cores(r.cpu.node),
            cores(r.cpu.postgres),
            cores(r.load.loadCpuSeconds / r.cpu.seconds),
            cores(r.cpu.machine),
            perEvent(r.cpu.nodeSeconds, r.events),
            perEvent(r.cpu.postgresSeconds, r.events),
          ]),
        ],
      ),
    );

    const split = (name: string, cpu: CpuSplit) => {
      if (cpu.postgresByKind.length === 0) return;
      // Shares of the kinds that used CPU (a process that ended moves its time to "exited processes").
      const total = cpu.postgresByKind.reduce((sum, [, seconds]) => sum + seconds, 0);
      console.log(
        `  PostgreSQL CPU in ${name}: ` +
          cpu.postgresByKind
            .map(([kind, seconds]) => `${kind} ${fmt((100 * seconds) / total, 0)}%`)
            .join(", "),
      );
    };
    console.log();
    split("pgbench", pgbench.cpu);
    split("single events", single.cpu);
    split(`batches of ${BATCH}`, batch.cpu);

    console.log("\nWhat this says");
    const machineCores = os.availableParallelism();
    const pgPerTx =
      pgbench.cpu.postgresSeconds === undefined
        ? undefined
        : pgbench.cpu.postgresSeconds / pgbench.transactions;
    for (const r of [single, batch]) {
      const name = r === single ? "single events" : `batches of ${BATCH}`;
      const events = Math.max(1, r.events);
      const node = r.cpu.nodeSeconds / events;
      const postgres = r.cpu.postgresSeconds === undefined ? undefined : r.cpu.postgresSeconds / events;
      const load = r.load.loadCpuSeconds / events;
      if (postgres === undefined) {
        console.log(
          `  ${name}: ${fmt(1000 * node, 2)} ms of Node CPU per event (PostgreSQL CPU not visible)`,
        );
        continue;
      }
      // If nothing but CPU limited intake, all cores busy with this mix would give this rate.
      const ceiling = machineCores / (node + postgres + load);
      console.log(
        `  ${name}: each event costs ${fmt(1000 * node, 2)} ms of Node CPU and ${fmt(1000 * postgres, 2)} ms of ` +
          `PostgreSQL CPU` +
          (pgPerTx === undefined
            ? ""
            : ` (${fmt(postgres / pgPerTx, 1)}x the ${fmt(1000 * pgPerTx, 2)} ms of a pgbench transaction)`) +
          `; ${machineCores} cores doing only that would take ${fmt(ceiling, 0)} events/s, measured ` +
          `${fmt(r.eventsPerSecond, 0)} (${fmt((100 * r.eventsPerSecond) / ceiling, 0)}%)` +
          (r.cpu.machine > 0.9 * machineCores ? ": the machine's CPU is the limit." : "."),
      );
    }
    const singleCalls = tracedSingle.statements.reduce((sum, x) => sum + x.calls, 0);
    const batchCalls = tracedBatch.statements.reduce((sum, x) => sum + x.calls, 0);
    console.log(
      `  round trips: ${fmt(singleCalls / Math.max(1, tracedSingle.run.events), 1)} SQL statements per single event ` +
        `(two transactions: the API key lookup, then the event), ` +
        `${fmt(batchCalls / Math.max(1, tracedBatch.run.events), 1)} per event in a batch; ` +
        "a pgbench transaction is 7 (BEGIN, 3 UPDATEs, SELECT, INSERT, END).",
    );

    console.log("\nCorrectness after the load");
    const accepted = runs.reduce((s, r) => s + r.events, 0);
    // Requests still in flight when autocannon stops may still be applied: up to one per connection.
    const inFlight = runs.reduce((s, r) => s + r.connections * r.perRequest, 0);
    const countsAgree = books.recorded >= accepted && books.recorded <= accepted + inFlight;
    console.log(
      `  books balance: ${books.balanced ? "yes" : "no"} (verifyBooks over ${books.players} players: ` +
        `wallets = ledgers, running sums, levels, statistics; ${books.ledgerEntries} ledger entries)`,
    );
    for (const p of books.problems.slice(0, 20)) console.log(`    ${p}`);
    console.log(
      `  events recorded: ${books.recorded}; accepted by 2xx responses: ${accepted}` +
        ` (up to ${inFlight} more may have been in flight when runs stopped): ${countsAgree ? "consistent" : "INCONSISTENT"}`,
    );
    console.log(
      `  deadlocks detected by PostgreSQL: ${runs.map((r) => `${r.title} ${r.deadlocks}`).join(", ")}`,
    );
    // One level.up event per level gained (the default curve and content cannot skip or cascade).
    const levelsAgree = books.levelUpEvents === books.levelsGained;
    console.log(
      `  level.up events: ${books.levelUpEvents} for ${books.levelsGained} levels gained by ` +
        `${books.playersAboveLevel1} players: ${levelsAgree ? "consistent" : "MISMATCH (expected one level.up event per level gained)"}`,
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
    if (!books.balanced) {
      console.error("\nFAILED: the books do not balance after the load");
      code = 1;
    }
    if (!countsAgree) {
      console.error("\nFAILED: the events recorded do not match the responses");
      code = 1;
    }
    if (!levelsAgree) {
      console.error("\nFAILED: levels were gained without their level.up events");
      code = 1;
    }
    return code;
  } finally {
    await admin.end().catch(() => undefined);
    await ludus.cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
