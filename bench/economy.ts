/**
 * Shop benchmark: purchases a second of POST /v1/shop/{item}/purchase (players' own access tokens,
 * one unit per request, each a whole purchase transaction: player lock, debit, inventory, purchase,
 * ledger and audit rows, an item.purchased event through the engine) at 8 and 32 concurrent
 * clients, against pgbench's TPC-B with the same number of clients on the same PostgreSQL server,
 * in the same run. Rounds alternate pgbench and purchases; medians are reported. Then the books:
 * verifyBooks (wallets = ledgers, inventories = purchases, every purchase paid), purchases =
 * successful answers, no balance below zero.
 *
 *   npx tsx bench/economy.ts       BENCH_ECONOMY_CLIENTS (8,32), BENCH_SECONDS (10), BENCH_ROUNDS (3),
 *                                  BENCH_SHOP_PLAYERS (2000), BENCH_PGBENCH_SCALE (10)
 */
import { randomBytes, randomInt } from "node:crypto";
import pg from "pg";
import { PasswordHasher } from "../src/identity/passwords.ts";
import { AccessTokens } from "../src/identity/tokens.ts";
import { systemClock } from "../src/platform/clock.ts";
import { BENCH_ROOT, runLoad, type LoadSummary } from "./lib/load.ts";
import { startLudus, type Ludus } from "./lib/ludus.ts";
import { preparePgbench, type PgbenchRun } from "./lib/pgbench.ts";
import type { PurchaseRequestOptions } from "./lib/purchase-requests.ts";
import { verifyWithCustomPlans } from "./lib/verify.ts";
import {
  describeMachine,
  describeRun,
  describeSource,
  fail,
  fmt,
  intFromEnv,
  isInvalid,
  MAX_FAILURE_SHARE,
  table,
} from "./lib/report.ts";

// ---------------------------------------------------------------------------------------------- settings

function clientsFromEnv(): number[] {
  const raw = process.env.BENCH_ECONOMY_CLIENTS ?? "";
  if (raw === "") return [8, 32];
  const list = raw.split(",").map((x) => Number(x.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) {
    fail("BENCH_ECONOMY_CLIENTS must list client counts from 1 to 256, e.g. 8,32");
  }
  return list;
}

const CLIENTS = clientsFromEnv();
const SECONDS = intFromEnv("BENCH_SECONDS", 10, 1);
const ROUNDS = intFromEnv("BENCH_ROUNDS", 3, 1);
const PLAYERS = intFromEnv("BENCH_SHOP_PLAYERS", 2000, 1);
const PGBENCH_SCALE = intFromEnv("BENCH_PGBENCH_SCALE", 10, 1);
const WARMUP_PURCHASES = 300;
/** Enough coins that no purchase of the run is refused for want of them. */
const FUNDS = 100_000_000;
/** The default shop's consumables (content/dietgame-shop.json), none stocked or limited, by weight. */
const ITEMS = [
  { key: "xp-boost", weight: 35 },
  { key: "coin-multiplier", weight: 20 },
  { key: "streak-protection", weight: 20 },
  { key: "recipe-pack", weight: 15 },
  { key: "streak-freeze", weight: 10 },
];

// ----------------------------------------------------------------------------------------------- players

/**
 * Inserts the players straight into the database as its owner, funded (a wallet and its `adjust`
 * ledger entry, so the books balance) and signed in (a session each), and signs each an access
 * token with the secret Ludus was started with: no password hashing, no login traffic.
 */
async function createPlayers(admin: pg.Client, count: number, secret: string): Promise<string[]> {
  const hash = await new PasswordHasher({ memoryCost: 1024, timeCost: 1 }).hash(
    randomBytes(16).toString("hex"),
  );
  const rows = await admin.query<{ id: string; session_id: string }>(
    `WITH u AS (
       INSERT INTO users (email, username, password_hash, display_name)
       SELECT 'bench.shopper.' || g || '@example.com', 'bench_shopper_' || g, $2, 'Bench Shopper ' || g
       FROM generate_series(1, $1::int) AS g
       RETURNING id
     ),
     p AS (INSERT INTO user_profiles (user_id) SELECT id FROM u),
     w AS (
       INSERT INTO wallets (user_id, currency, balance, lifetime_earned)
       SELECT id, 'coins', $3::bigint, $3::bigint FROM u
     ),
     l AS (
       INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source)
       SELECT id, 'coins', 'adjust', $3::bigint, $3::bigint, 'Benchmark funds', 'bench' FROM u
     )
     INSERT INTO sessions (user_id, expires_at) SELECT id, now() + interval '2 days' FROM u
     RETURNING id AS session_id, user_id AS id`,
    [count, hash, FUNDS],
  );
  await admin.query(`ANALYZE users, user_profiles, sessions, wallets`);
  const tokens = new AccessTokens(secret, 86_400, systemClock);
  return Promise.all(rows.rows.map((r) => tokens.sign({ userId: r.id, sessionId: r.session_id })));
}

// --------------------------------------------------------------------------------------------- the runs

interface PurchaseRun {
  clients: number;
  load: LoadSummary;
  /** Successful purchases (201 answers). */
  purchases: number;
  perSecond: number;
}

let seed = randomInt(2 ** 31);

async function purchaseRun(
  ludus: Ludus,
  tokens: string[],
  title: string,
  clients: number,
  amount?: number,
): Promise<PurchaseRun> {
  const options: PurchaseRequestOptions = {
    tokens,
    items: ITEMS,
    keyPrefix: `bench-${title}-${randomBytes(6).toString("hex")}`,
    seed: seed++,
  };
  const load = await runLoad({
    title,
    url: `${ludus.server.url}/v1/shop/xp-boost/purchase`,
    method: "POST",
    body: { kind: "generated", module: "bench/lib/purchase-requests.ts", options },
    connections: clients,
    durationSeconds: SECONDS,
    amount,
  });
  const ok = load.statusCodes["201"] ?? 0;
  return { clients, load, purchases: ok, perSecond: (load.rps * ok) / Math.max(1, load.responses) };
}

/** Waits until Ludus has no statement running or transaction open (requests in flight finished). */
async function waitForIdle(admin: pg.Client, timeoutMs = 60_000): Promise<void> {
  const started = performance.now();
  for (;;) {
    const busy = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'ludus' AND state <> 'idle'`,
    );
    if ((busy.rows[0]?.n ?? 0) === 0) return;
    if (performance.now() - started > timeoutMs) throw new Error("Ludus did not go idle after the load");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

// ------------------------------------------------------------------------------------------ correctness

interface Books {
  problems: string[];
  players: number;
  purchases: number;
  inventory: number;
  purchaseEntries: number;
  events: number;
  negative: number;
}

async function checkBooks(ludus: Ludus, admin: pg.Client): Promise<Books> {
  const report = await verifyWithCustomPlans(ludus);
  const counts = await admin.query<{
    purchases: number;
    inventory: number;
    entries: number;
    events: number;
    negative: number;
  }>(
    `SELECT (SELECT count(*)::int FROM purchases) AS purchases,
            (SELECT coalesce(sum(purchased), 0)::int FROM user_inventory) AS inventory,
            (SELECT count(*)::int FROM ledger_entries WHERE type = 'purchase') AS entries,
            (SELECT count(*)::int FROM events WHERE type = 'item.purchased') AS events,
            (SELECT count(*)::int FROM wallets WHERE balance < 0) AS negative`,
  );
  const c = counts.rows[0]!;
  return {
    problems: report.problems.map((p) => `${p.user_id} ${p.currency} ${p.problem}: ${p.detail}`),
    players: report.players,
    purchases: c.purchases,
    inventory: c.inventory,
    purchaseEntries: c.entries,
    events: c.events,
    negative: c.negative,
  };
}

// -------------------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  console.log("Ludus shop benchmark");
  console.log(`  code: ${describeSource(BENCH_ROOT)}`);
  await describeMachine();
  console.log(
    `  load: autocannon in a child process, ${CLIENTS.join(" and ")} clients, ${ROUNDS} round(s) of ` +
      `${SECONDS} s each per client count, ${PLAYERS} players; medians over the rounds`,
  );
  const secret = randomBytes(32).toString("hex");
  const ludus = await startLudus({
    LUDUS_ADMIN_EMAIL: "bench.admin@example.com",
    LUDUS_ADMIN_PASSWORD: `Bench-admin-${randomBytes(12).toString("hex")}`,
    LUDUS_JWT_SECRET: secret,
    LUDUS_ACCESS_TOKEN_TTL: "86400",
    LUDUS_AUTH_RATE_LIMIT: "100000",
  });
  const admin = new pg.Client({ connectionString: ludus.adminUrl });
  let pgbench: Awaited<ReturnType<typeof preparePgbench>> | undefined;
  try {
    await admin.connect();
    // Owner connections are subject to row-level security unless superuser: act as the system.
    await admin.query(`SELECT set_config('ludus.system', 'on', false)`);
    const settings = await admin.query<{ name: string; setting: string }>(
      `SELECT name, current_setting(name) AS setting FROM unnest(ARRAY['server_version', 'fsync',
         'synchronous_commit', 'shared_buffers', 'max_connections']) AS name`,
    );
    console.log(`  Ludus: ${ludus.server.url} on ${ludus.where}, pool ${ludus.config.poolSize} connections`);
    console.log(`  PostgreSQL: ${settings.rows.map((r) => `${r.name}=${r.setting}`).join(", ")}`);
    const items = await admin.query<{ key: string; price: number }>(
      `SELECT key, price::int FROM shop_items WHERE key = ANY($1::text[]) AND active ORDER BY key`,
      [ITEMS.map((i) => i.key)],
    );
    if (items.rows.length !== ITEMS.length)
      fail("the default shop (content/dietgame-shop.json) is not loaded");
    console.log(
      `  items bought: ${ITEMS.map((i) => `${i.key} (${items.rows.find((r) => r.key === i.key)?.price} coins, ${i.weight}%)`).join(", ")}`,
    );

    console.log(
      `\ncreating ${PLAYERS} players in SQL (funded with ${FUNDS.toLocaleString("en-US")} coins, signed in)...`,
    );
    const started = performance.now();
    const tokens = await createPlayers(admin, PLAYERS, secret);
    console.log(`  done in ${fmt((performance.now() - started) / 1000, 2)} s`);

    console.log(
      `\nbaseline: pgbench TPC-B, scale ${PGBENCH_SCALE}, on a scratch database of the same server...`,
    );
    pgbench = await preparePgbench(ludus.serverUrl, PGBENCH_SCALE);
    console.log(`  initialised in ${fmt(pgbench.initSeconds, 1)} s`);

    console.log(`\nwarming up (${WARMUP_PURCHASES} purchases), then ANALYZE...`);
    const runs: PurchaseRun[] = [await purchaseRun(ludus, tokens, "warm-up", 8, WARMUP_PURCHASES)];
    await waitForIdle(admin);
    await admin.query(`ANALYZE`);

    const results = new Map<number, { purchases: PurchaseRun[]; pgbench: PgbenchRun[] }>();
    for (const clients of CLIENTS) {
      const mine = { purchases: [] as PurchaseRun[], pgbench: [] as PgbenchRun[] };
      results.set(clients, mine);
      for (let round = 1; round <= ROUNDS; round++) {
        await waitForIdle(admin);
        const base = await pgbench.run(clients, SECONDS);
        mine.pgbench.push(base);
        await waitForIdle(admin);
        const run = await purchaseRun(ludus, tokens, `c${clients}-r${round}`, clients);
        mine.purchases.push(run);
        runs.push(run);
        console.log(
          `  ${clients} clients, round ${round}: pgbench ${fmt(base.tps)} tps, ` +
            `purchases ${fmt(run.perSecond)}/s (p50 ${fmt(run.load.p50, 2)} ms, p99 ${fmt(run.load.p99, 2)} ms)`,
        );
      }
    }

    await waitForIdle(admin);
    console.log("\nchecking the books (verifyBooks, as `ludus verify` does)...");
    const books = await checkBooks(ludus, admin);
    report(results);
    return correctness(books, runs);
  } finally {
    await pgbench?.drop().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await ludus.cleanup();
  }
}

// ------------------------------------------------------------------------------------------------ report

function report(results: Map<number, { purchases: PurchaseRun[]; pgbench: PgbenchRun[] }>): void {
  console.log(`\nResults (${SECONDS} s per run, median of ${ROUNDS} round(s), ${PLAYERS} players)\n`);
  const rows: string[][] = [];
  for (const [clients, r] of results) {
    const perSecond = r.purchases.map((x) => x.perSecond);
    const tps = r.pgbench.map((x) => x.tps);
    const range = (v: number[]) => (v.length > 1 ? ` (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})` : "");
    rows.push([
      String(clients),
      `${fmt(median(perSecond))}${range(perSecond)}`,
      fmt(median(r.purchases.map((x) => x.load.p50)), 2),
      fmt(median(r.purchases.map((x) => x.load.p99)), 2),
      String(r.purchases.reduce((s, x) => s + x.load.non2xx + x.load.errors, 0)),
      `${fmt(median(tps))}${range(tps)}`,
      fmt(median(r.pgbench.map((x) => x.p50)), 2),
      fmt(median(perSecond) / median(tps), 2),
    ]);
  }
  console.log(
    table(
      ["clients", "purchases/s", "p50 ms", "p99 ms", "failed", "pgbench tps", "pgbench p50 ms", "ratio"],
      rows,
    ),
  );
  console.log(
    "\n  ratio: median purchases/s ÷ median pgbench TPC-B tps with the same clients, same server, same run.",
  );
}

function correctness(books: Books, runs: PurchaseRun[]): number {
  console.log("\nCorrectness after the load");
  const accepted = runs.reduce((s, r) => s + r.purchases, 0);
  // A request still in flight when autocannon stops is still applied: up to one per connection.
  const inFlight = runs.reduce((s, r) => s + r.clients, 0);
  const checks: [string, boolean][] = [
    [
      `books balance (verifyBooks over ${books.players} players: wallets = ledgers, running sums, levels, ` +
        `statistics, inventories = purchases, every purchase paid): ${books.problems.length} problem(s)`,
      books.problems.length === 0,
    ],
    [
      `purchases recorded ${books.purchases}; 201 answers ${accepted} (+ at most ${inFlight} in flight)`,
      books.purchases >= accepted && books.purchases <= accepted + inFlight,
    ],
    [
      `units bought in inventories ${books.inventory}, purchase ledger entries ${books.purchaseEntries}, ` +
        `item.purchased events ${books.events}: all equal to the purchases`,
      books.inventory === books.purchases &&
        books.purchaseEntries === books.purchases &&
        books.events === books.purchases,
    ],
    [`wallets below zero: ${books.negative}`, books.negative === 0],
  ];
  const invalid = runs.filter((r) => isInvalid(r.load));
  checks.push([
    `runs with more than ${fmt(100 * MAX_FAILURE_SHARE, 0)}% failed requests: ${invalid.length}`,
    invalid.length === 0,
  ]);
  for (const r of invalid) console.log(`    INVALID ${describeRun(r.load)}`);
  for (const p of books.problems.slice(0, 20)) console.log(`    ${p}`);
  for (const [label, ok] of checks) console.log(`  ${ok ? "ok  " : "FAIL"}  ${label}`);
  return checks.every(([, ok]) => ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
