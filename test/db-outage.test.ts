import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { after, describe, it } from "node:test";
import pino from "pino";
import { startEmbeddedPostgres, type EmbeddedServer } from "../src/platform/db/embedded.ts";
import { freePort } from "./helpers/ports.ts";
import { spawnServe, type Serving } from "./helpers/serve.ts";
import { cloneTemplate, databaseUrl, testServer, withClient } from "./helpers/postgres.ts";

/**
 * Issue 12, acceptance 1 (database half): `ludus serve` as a real process keeps running when its
 * database connections are killed, or the database is stopped, while 16 clients send events and
 * purchases. Every failed request is a 503 problem+json `db.unavailable` (never a 500, never a cut
 * connection), service resumes by itself within seconds of the database being back, and
 * `ludus verify` finds the books balanced.
 */
const ROOT = path.resolve(import.meta.dirname, "..");
const CLIENTS = 16;
const PLAYERS = 8;
const ITEM = "outage-snack";
const ADMIN_EMAIL = "outage-admin@example.com";
const ADMIN_PASSWORD = "outage test admin password";
/** Generous: how long service may take to come back once the database is reachable again. */
const RECOVERY_DEADLINE_MS = 30_000;

const children: ChildProcess[] = [];

type Started = Serving;

async function startLudus(url: string): Promise<Started> {
  const serving = await spawnServe({
    env: {
      DATABASE_URL: url,
      LUDUS_ADMIN_EMAIL: ADMIN_EMAIL,
      LUDUS_ADMIN_PASSWORD: ADMIN_PASSWORD,
      LUDUS_ARGON2_MEMORY_KIB: "1024",
      LUDUS_ARGON2_TIME_COST: "1",
      LUDUS_AUTH_RATE_LIMIT: "100000",
      LUDUS_EVENTS_RATE_LIMIT: "1000000",
      LUDUS_DELIVERY_POLL_MS: "50",
    },
  });
  children.push(serving.child);
  return serving;
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

async function stopLudus(ludus: Started): Promise<void> {
  if (!alive(ludus.child)) return;
  const gone = new Promise<void>((resolve) => ludus.child.once("exit", () => resolve()));
  ludus.child.kill("SIGTERM");
  const timer = setTimeout(() => ludus.child.kill("SIGKILL"), 20_000);
  await gone;
  clearTimeout(timer);
}

interface Answer {
  status: number;
  type: string;
  text: string;
  retryAfter: string | null;
}

async function call(
  base: string,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    text: await res.text(),
    retryAfter: res.headers.get("retry-after"),
  };
}

function ok(answer: Answer): void {
  assert.ok(answer.status >= 200 && answer.status < 300, `${answer.status} ${answer.text}`);
}

/** An admin, an API key for events, a cheap item, and players with coins to buy it. */
async function setUp(base: string) {
  const login = await call(
    base,
    "POST",
    "/v1/auth/login",
    {},
    { login: ADMIN_EMAIL, password: ADMIN_PASSWORD },
  );
  ok(login);
  const admin = {
    authorization: `Bearer ${(JSON.parse(login.text) as { tokens: { accessToken: string } }).tokens.accessToken}`,
  };
  const key = await call(base, "POST", "/v1/admin/api-keys", admin, {
    name: "outage test",
    scopes: ["events:write"],
  });
  ok(key);
  const apiKey = { "x-api-key": (JSON.parse(key.text) as { key: string }).key };
  ok(
    await call(base, "POST", "/v1/admin/shop-items", admin, {
      key: ITEM,
      name: "Snack",
      price: 1,
      type: "consumable",
    }),
  );
  const players: { id: string; auth: Record<string, string> }[] = [];
  for (let i = 0; i < PLAYERS; i++) {
    const tag = randomBytes(4).toString("hex");
    const res = await call(
      base,
      "POST",
      "/v1/auth/register",
      {},
      { email: `outage${tag}@example.com`, username: `outage${tag}`, password: "a long enough password" },
    );
    ok(res);
    const body = JSON.parse(res.text) as { user: { id: string }; tokens: { accessToken: string } };
    ok(
      await call(base, "POST", `/v1/admin/users/${body.user.id}/adjustments`, admin, {
        currency: "coins",
        amount: 1_000_000,
        reason: "outage test funds",
        idempotencyKey: randomUUID(),
      }),
    );
    players.push({ id: body.user.id, auth: { authorization: `Bearer ${body.tokens.accessToken}` } });
  }
  return { apiKey, players };
}

/**
 * 16 clients sending events (API key) and purchases (players) until stopped. Collects every answer
 * that is neither 2xx nor the 503 an outage may give, and every request that got no answer at all.
 */
function traffic(base: string, setup: Awaited<ReturnType<typeof setUp>>) {
  const stats = { ok: 0, unavailable: 0, okSince: 0, unexpected: [] as string[] };
  let stopped = false;
  let n = 0;
  const one = async (i: number): Promise<void> => {
    const player = setup.players[i % setup.players.length]!;
    let answer: Answer;
    try {
      answer =
        i % 2 === 0
          ? await call(base, "POST", "/v1/events", setup.apiKey, {
              type: "exercise.logged",
              userId: player.id,
              data: { minutes: 10 + (i % 50), kind: "run" },
              idempotencyKey: randomUUID(),
            })
          : await call(base, "POST", `/v1/shop/${ITEM}/purchase`, player.auth, {
              idempotencyKey: randomUUID(),
            });
    } catch (error) {
      stats.unexpected.push(`no answer: ${String(error)}`);
      return;
    }
    if (answer.status >= 200 && answer.status < 300) {
      stats.ok += 1;
      stats.okSince += 1;
      return;
    }
    let code: unknown;
    try {
      code = (JSON.parse(answer.text) as { code?: unknown }).code;
    } catch {
      code = undefined;
    }
    if (
      answer.status === 503 &&
      answer.type.startsWith("application/problem+json") &&
      code === "db.unavailable" &&
      answer.retryAfter !== null
    ) {
      stats.unavailable += 1;
    } else {
      stats.unexpected.push(`${answer.status} ${answer.type} ${answer.text.slice(0, 300)}`);
    }
  };
  const workers = Array.from({ length: CLIENTS }, async () => {
    while (!stopped) await one(n++);
  });
  return {
    stats,
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

/** Waits (bounded) until `count` requests succeeded after this call. */
async function recovered(stats: { okSince: number }, count = 40): Promise<boolean> {
  stats.okSince = 0;
  for (let waited = 0; waited < RECOVERY_DEADLINE_MS; waited += 100) {
    if (stats.okSince >= count) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function waitFor(condition: () => boolean, what: string, ms = 60_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 50) {
    if (waited > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The outage is logged once by the database layer: no request logged as failed (a 500 would be),
 * no background loop logging an error on every tick.
 */
function assertQuietLog(output: string): void {
  for (const flood of ['"msg":"request failed"', '"msg":"background loop tick failed"']) {
    assert.ok(!output.includes(flood), `${flood} in the log:\n${output}`);
  }
}

/** `ludus verify` as an operator runs it: exit 0 and every book balanced. */
function verify(url: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "verify"], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "warn", DATABASE_URL: url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, output })));
}

after(async () => {
  // Even when a test failed half-way: no process outlives the file.
  const running = children.filter(alive);
  const gone = running.map((c) => new Promise<void>((resolve) => c.once("exit", () => resolve())));
  for (const child of running) child.kill("SIGKILL");
  await Promise.all(gone);
});

describe("database connections killed under load", () => {
  let database: Awaited<ReturnType<typeof cloneTemplate>> | undefined;
  after(() => database?.drop());

  it(
    "keeps the process up, answers 503 db.unavailable, recovers, books balance",
    { timeout: 300_000 },
    async () => {
      const name = `ludus_test_outage_${randomBytes(6).toString("hex")}`;
      database = await cloneTemplate(name);
      const ludus = await startLudus(database.url);
      const setup = await setUp(ludus.base);
      let terminated = 0;
      // Every Ludus connection (pool, listeners, background loops), again and again.
      const killRounds = (rounds: number) =>
        withClient(testServer().url, async (killer) => {
          for (let round = 0; round < rounds; round++) {
            const res = await killer.query<{ n: number }>(
              `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
               FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
              [name],
            );
            terminated += res.rows[0]?.n ?? 0;
            await new Promise((r) => setTimeout(r, 200));
            assert.ok(
              alive(ludus.child),
              `ludus exited while its connections were killed:\n${ludus.output()}`,
            );
          }
        });
      // First with only the background loops at work (no requests).
      await killRounds(10);
      const load = traffic(ludus.base, setup);
      try {
        await waitFor(() => load.stats.ok >= 50, "traffic to get going");
        // Then while the 16 clients keep sending.
        await killRounds(25);
        assert.ok(
          await recovered(load.stats),
          `no service within ${RECOVERY_DEADLINE_MS} ms of the kills stopping:\n${ludus.output()}`,
        );
      } finally {
        await load.stop();
      }
      assert.ok(alive(ludus.child), `ludus exited:\n${ludus.output()}`);
      assert.ok(terminated > 0, "connections were terminated");
      assert.ok(load.stats.unavailable > 0, "some requests lost their connection (503)");
      assert.deepEqual(load.stats.unexpected, [], ludus.output());
      assertQuietLog(ludus.output());
      const ready = await call(ludus.base, "GET", "/readyz", {});
      assert.equal(ready.status, 200, ready.text);
      await stopLudus(ludus);
      const checked = await verify(database.url);
      assert.equal(checked.code, 0, checked.output);
      assert.match(checked.output, /All books balance/);
    },
  );
});

describe("the database stopped and started under load", () => {
  let dataDir: string | undefined;
  let server: EmbeddedServer | undefined;
  after(async () => {
    await server?.stop().catch(() => undefined);
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it(
    "answers 503 while it is down, serves again by itself, books balance",
    { timeout: 300_000 },
    async () => {
      dataDir = await mkdtemp(path.join(ROOT, ".ludus-test-outage-"));
      const port = await freePort();
      const logger = pino({ level: "silent" });
      const start = () =>
        startEmbeddedPostgres({ dataDir: dataDir!, port, logger, settings: { fsync: "off" } });
      server = await start();
      await withClient(server.url, (c) => c.query("CREATE DATABASE outage"));
      const url = databaseUrl(server.url, "outage");
      const ludus = await startLudus(url);
      const setup = await setUp(ludus.base);
      const load = traffic(ludus.base, setup);
      try {
        await waitFor(() => load.stats.ok >= 50, "traffic to get going");
        await server.stop();
        server = undefined;
        // While it is down: requests fail as 503, the process stays, and /readyz says not ready.
        const before = load.stats.unavailable;
        await waitFor(() => load.stats.unavailable >= before + 20, "503s during the outage");
        const ready = await call(ludus.base, "GET", "/readyz", {});
        assert.equal(ready.status, 503, ready.text);
        assert.ok(ready.type.startsWith("application/problem+json"));
        // A few seconds of outage, so that the background loops back off and must come back.
        await new Promise((r) => setTimeout(r, 3000));
        assert.ok(alive(ludus.child), `ludus exited while the database was down:\n${ludus.output()}`);
        server = await start();
        assert.ok(
          await recovered(load.stats),
          `no service within ${RECOVERY_DEADLINE_MS} ms of the database starting:\n${ludus.output()}`,
        );
      } finally {
        await load.stop();
      }
      assert.ok(alive(ludus.child), `ludus exited:\n${ludus.output()}`);
      assert.deepEqual(load.stats.unexpected, [], ludus.output());
      assertQuietLog(ludus.output());
      const ready = await call(ludus.base, "GET", "/readyz", {});
      assert.equal(ready.status, 200, ready.text);
      await stopLudus(ludus);
      const checked = await verify(url);
      assert.equal(checked.code, 0, checked.output);
      assert.match(checked.output, /All books balance/);
    },
  );
});
