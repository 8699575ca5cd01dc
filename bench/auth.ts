/**
 * Authentication benchmark: argon2id hashing rate, then HTTP throughput and latency of
 * POST /v1/auth/login and POST /v1/auth/refresh against a bare Fastify baseline, all in one run on
 * one machine. Ludus runs in this process on a throwaway embedded PostgreSQL (or on a scratch
 * database in the server named by DATABASE_URL); autocannon runs in a child process.
 *
 *   npx tsx bench/auth.ts          BENCH_CONNECTIONS (8), BENCH_SECONDS (10), BENCH_PLAYERS (200),
 *                                  BENCH_ARGON2_SECONDS (3)
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import Fastify, { type FastifyInstance } from "fastify";
import { PasswordHasher } from "../src/identity/passwords.ts";
import { BENCH_ROOT, runLoad, type LoadSummary } from "./lib/load.ts";
import { freePort, startLudus, type Ludus } from "./lib/ludus.ts";
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

const CONNECTIONS = intFromEnv("BENCH_CONNECTIONS", 8, 1);
const SECONDS = intFromEnv("BENCH_SECONDS", 10, 1);
const PLAYERS = intFromEnv("BENCH_PLAYERS", 200, 1);
const ARGON2_SECONDS = intFromEnv("BENCH_ARGON2_SECONDS", 3, 1);
// Each connection of the refresh run needs a token of its own to start with.
if (PLAYERS < CONNECTIONS) fail("BENCH_PLAYERS must be at least BENCH_CONNECTIONS");
const REGISTER_CONCURRENCY = 4;

// ------------------------------------------------------------------------------------------------ argon2

interface HashRate {
  hashes: number;
  seconds: number;
  perSecond: number;
}

/** Hashes with Ludus's own PasswordHasher for about `seconds`, `concurrency` at a time. */
async function measureHashing(
  hasher: PasswordHasher,
  concurrency: number,
  seconds: number,
): Promise<HashRate> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let hashes = 0;
  while (performance.now() < deadline) {
    await Promise.all(
      Array.from({ length: concurrency }, (_, i) => hasher.hash(`bench-password-${hashes + i}`)),
    );
    hashes += concurrency;
  }
  const elapsed = (performance.now() - started) / 1000;
  return { hashes, seconds: elapsed, perSecond: hashes / elapsed };
}

// ---------------------------------------------------------------------------------------------- baseline

async function startBaseline(): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false });
  app.post("/", async () => ({ ok: true }));
  await app.listen({ port: await freePort(), host: "127.0.0.1" });
  const address = app.server.address();
  if (typeof address !== "object" || address === null) throw new Error("baseline has no address");
  return { app, url: `http://127.0.0.1:${address.port}/` };
}

// ----------------------------------------------------------------------------------------------- players

interface Player {
  username: string;
  password: string;
  refreshToken: string;
}

function playerCredentials(i: number): { email: string; username: string; password: string } {
  const id = String(i).padStart(4, "0");
  return {
    email: `bench.player.${id}@example.com`,
    username: `bench_player_${id}`,
    password: `Bench-pass-${id}-${randomBytes(6).toString("hex")}`,
  };
}

async function register(baseUrl: string, i: number): Promise<Player> {
  const credentials = playerCredentials(i);
  const response = await fetch(`${baseUrl}/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(credentials),
  });
  const text = await response.text();
  if (response.status !== 201)
    throw new Error(`register ${credentials.username}: ${response.status} ${text}`);
  const parsed = JSON.parse(text) as { tokens: { refreshToken: string } };
  return {
    username: credentials.username,
    password: credentials.password,
    refreshToken: parsed.tokens.refreshToken,
  };
}

/** Registers `count` players, a few at a time (each registration hashes a password). */
async function registerPlayers(baseUrl: string, count: number): Promise<Player[]> {
  const players: Player[] = new Array<Player>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      players[i] = await register(baseUrl, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(REGISTER_CONCURRENCY, count) }, worker));
  return players;
}

// -------------------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  const cores = os.availableParallelism();
  console.log("Ludus authentication benchmark");
  console.log(`  code: ${describeSource(BENCH_ROOT)}`);
  await describeMachine();
  console.log(
    `  load: autocannon in a child process, ${CONNECTIONS} connections, ${SECONDS} s per endpoint, ${PLAYERS} players`,
  );

  const baseline = await startBaseline();
  let ludus: Ludus | undefined;
  try {
    ludus = await startLudus({
      // The highest values the configuration accepts, so limits never refuse benchmark traffic.
      LUDUS_AUTH_RATE_LIMIT: "100000",
      LUDUS_LOGIN_MAX_FAILURES: "1000",
      LUDUS_LOGIN_MAX_FAILURES_PER_IP: "100000",
      // LUDUS_ARGON2_* deliberately unset: production defaults.
    });
    const { config } = ludus;
    console.log(`  Ludus: ${ludus.server.url} on ${ludus.where}`);
    const argon2 = config.argon2;
    console.log(
      `  argon2id: memoryCost=${argon2.memoryCost} KiB, timeCost=${argon2.timeCost}, parallelism=1 (config defaults)\n`,
    );

    // 1. argon2 on its own, with the server idle.
    const hasher = new PasswordHasher(argon2);
    await hasher.hash("warm-up-password"); // also lets the hasher's own dummy hash finish
    console.log(
      `measuring argon2id hashing (${ARGON2_SECONDS} s sequential, ${ARGON2_SECONDS} s x${cores})...`,
    );
    const sequential = await measureHashing(hasher, 1, ARGON2_SECONDS);
    const parallel = await measureHashing(hasher, cores, ARGON2_SECONDS);

    // 2. HTTP floor: bare Fastify, same tool, connections and duration.
    const loginBody = (p: { username: string; password: string }) =>
      JSON.stringify({ login: p.username, password: p.password });
    console.log(`measuring baseline (bare Fastify) for ${SECONDS} s...`);
    const baselineRun = await runLoad({
      title: "baseline",
      url: baseline.url,
      method: "POST",
      // Same shape and size as a login body, so JSON parsing is part of the floor too.
      body: { kind: "fixed", json: loginBody(playerCredentials(0)) },
      connections: CONNECTIONS,
      durationSeconds: SECONDS,
    });

    // 3. Players: each registration also yields a session whose refresh token seeds the refresh run.
    console.log(`registering ${PLAYERS} players...`);
    const registerStarted = performance.now();
    const players = await registerPlayers(ludus.server.url, PLAYERS);
    console.log(`  done in ${((performance.now() - registerStarted) / 1000).toFixed(1)} s`);

    console.log(`measuring POST /v1/auth/login for ${SECONDS} s...`);
    const loginRun = await runLoad({
      title: "login",
      url: `${ludus.server.url}/v1/auth/login`,
      method: "POST",
      body: { kind: "rotate", jsons: players.map(loginBody) },
      connections: CONNECTIONS,
      durationSeconds: SECONDS,
    });

    console.log(`measuring POST /v1/auth/refresh for ${SECONDS} s...`);
    const refreshRun = await runLoad({
      title: "refresh",
      url: `${ludus.server.url}/v1/auth/refresh`,
      method: "POST",
      body: { kind: "refresh", tokens: players.map((p) => p.refreshToken) },
      connections: CONNECTIONS,
      durationSeconds: SECONDS,
    });

    // 4. Report.
    const runs = [baselineRun, loginRun, refreshRun];
    const ratio = (s: LoadSummary) =>
      s === baselineRun
        ? "1"
        : `${(s.rps / baselineRun.rps).toFixed(4)} (${fmt((100 * s.rps) / baselineRun.rps, 2)}%)`;
    console.log(`\nResults (${CONNECTIONS} connections, ${SECONDS} s each)\n`);
    console.log(
      table(
        ["endpoint", "req/s", "p50 ms", "p99 ms", "max ms", "non-2xx", "errors", "ratio to baseline"],
        runs.map((s) => [
          s.title === "baseline" ? "baseline (bare Fastify)" : `POST /v1/auth/${s.title}`,
          fmt(s.rps),
          fmt(s.p50, 2),
          fmt(s.p99, 2),
          fmt(s.max, 2),
          String(s.non2xx),
          String(s.errors),
          ratio(s),
        ]),
      ),
    );
    console.log(
      `\nargon2id (memoryCost=${argon2.memoryCost} KiB, timeCost=${argon2.timeCost}, parallelism=1)\n`,
    );
    console.log(
      table(
        ["mode", "hashes", "seconds", "hashes/s", "ms per hash"],
        (
          [
            ["sequential (1 at a time)", sequential],
            [`parallel (${cores} at a time)`, parallel],
          ] as const
        ).map(([label, r]) => [
          label,
          String(r.hashes),
          fmt(r.seconds, 2),
          fmt(r.perSecond),
          fmt((1000 * r.seconds) / r.hashes, 1),
        ]),
      ),
    );

    const loginShare = loginRun.rps / parallel.perSecond;
    console.log("\nWhat this says");
    console.log(
      `  login:    ${fmt(loginRun.rps)} req/s vs ${fmt(parallel.perSecond)} argon2 hashes/s on all ${cores} cores ` +
        `(${fmt(100 * loginShare, 0)}%): each login verifies one argon2id hash, so ` +
        (loginShare >= 0.5
          ? "argon2 dominates login cost and sets its ceiling."
          : "argon2 sets the ceiling, but here other work (PostgreSQL, HTTP, other load on the machine) takes a large share too."),
    );
    console.log(
      `  refresh:  ${fmt(refreshRun.rps)} req/s, ${fmt(refreshRun.rps / loginRun.rps)}x login: no argon2, ` +
        `its cost is one PostgreSQL transaction (lock, mark used, insert new token) plus a JWT signature.`,
    );
    console.log(
      `  baseline: ${fmt(baselineRun.rps)} req/s is the HTTP floor of Fastify here; ` +
        `login reaches ${fmt(100 * (loginRun.rps / baselineRun.rps), 2)}% of it, refresh ${fmt(100 * (refreshRun.rps / baselineRun.rps), 2)}%.`,
    );

    console.log("\nRun details");
    for (const s of runs) console.log(`  ${describeRun(s)}`);
    if (refreshRun.tokenStarved > 0) {
      console.log(`  refresh: ${refreshRun.tokenStarved} requests found no unused refresh token`);
    }

    const invalid = runs.filter(isInvalid);
    if (invalid.length > 0) {
      console.error(
        `\nINVALID: more than ${MAX_FAILURE_SHARE * 100}% of requests failed in: ${invalid.map((s) => s.title).join(", ")}`,
      );
      return 1;
    }
    return 0;
  } finally {
    await baseline.app.close();
    await ludus?.cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
