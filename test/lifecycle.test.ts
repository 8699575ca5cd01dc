import assert from "node:assert/strict";
import { execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort } from "./helpers/ports.ts";
import { spawnServe, type Serving } from "./helpers/serve.ts";
import { databaseUrl, testServer, withClient } from "./helpers/postgres.ts";

/**
 * `ludus serve` as operators run it: several instances starting at once on one empty database,
 * and stopped by a signal to the whole process group (Ctrl-C in a terminal, `docker stop`, a
 * service manager) while requests are in flight. Each stop must let those requests finish, exit 0
 * within 10 s, log no error and leave nothing running, the embedded PostgreSQL included.
 */
const ROOT = path.resolve(import.meta.dirname, "..");

type Started = Serving;

/** Every process group started, so that a failed test leaves none behind. */
const spawned: ChildProcess[] = [];
function killLeftovers(): void {
  for (const child of spawned) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Gone.
      }
    }
  }
}

/** Spawns `ludus serve` leading its own process group (as a shell does for a foreground job). */
async function startLudus(env: Record<string, string>): Promise<Started> {
  const serving = await spawnServe({
    env: { LOG_LEVEL: "info", ...env },
    detached: true,
    startTimeoutMs: 120_000,
  });
  spawned.push(serving.child);
  return serving;
}

/** JSON log lines at error level or above (pino: 50 error, 60 fatal). */
function errorLines(output: string): string[] {
  return output.split("\n").filter((line) => {
    if (!line.startsWith("{")) return false;
    try {
      return (JSON.parse(line) as { level?: number }).level! >= 50;
    } catch {
      return false;
    }
  });
}

/** Processes in the process group `pgid`. */
function groupMembers(pgid: number): string[] {
  const out = execFileSync("ps", ["-eo", "pid=,pgid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => Number(f[1]) === pgid)
    .map((f) => f.join(" "));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const register = (base: string, tag: string) =>
  fetch(`${base}/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      email: `${tag}@example.com`,
      username: tag.slice(0, 30),
      password: "a long enough password",
    }),
  });

/**
 * Sends registrations (each hashes a password with the production cost), waits until the server
 * has received them all, signals the process group, and checks the whole stop.
 */
async function stopWithRequestsInFlight(ludus: Started, signal: NodeJS.Signals): Promise<void> {
  const pid = ludus.child.pid!;
  const before = ludus.output().split("incoming request").length;
  const n = 4;
  const requests = Array.from({ length: n }, () =>
    register(ludus.base, `life${randomBytes(6).toString("hex")}`).then(
      (res) => res.status,
      (err: unknown) => `failed: ${String(err)}`,
    ),
  );
  const received = () => ludus.output().split("incoming request").length - before >= n;
  for (let waited = 0; !received(); waited += 5) {
    if (waited > 20_000) throw new Error(`requests not received:\n${ludus.output()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  process.kill(-pid, signal);
  const deadline = new Promise<"late">((r) => setTimeout(r, 10_000, "late").unref());
  const code = await Promise.race([ludus.exited, deadline]);
  if (code === "late") process.kill(-pid, "SIGKILL");
  assert.equal(code, 0, `exit code after ${signal}:\n${ludus.output()}`);
  assert.deepEqual(await Promise.all(requests), Array(n).fill(201), "the requests in flight completed");
  assert.deepEqual(errorLines(ludus.output()), [], "no error logged");
  assert.deepEqual(groupMembers(pid), [], "nothing left in the process group");
}

describe("ludus serve on DATABASE_URL", () => {
  let database: string;
  let url: string;
  const admin = { LUDUS_ADMIN_EMAIL: "life-admin@example.com", LUDUS_ADMIN_PASSWORD: "life admin password" };

  before(async () => {
    // An empty database: the instances migrate it too.
    database = `ludus_test_life_${randomBytes(4).toString("hex")}`;
    await withClient(testServer().url, (c) => c.query(`CREATE DATABASE ${database}`));
    url = databaseUrl(testServer().url, database);
  });
  after(async () => {
    killLeftovers();
    await withClient(testServer().url, (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  });

  it("two instances started at the same moment on one empty database both serve", async () => {
    const envs = await Promise.all(
      [0, 1].map(async () => ({ DATABASE_URL: url, PORT: String(await freePort()), ...admin })),
    );
    const started = await Promise.allSettled(envs.map((env) => startLudus(env)));
    try {
      for (const s of started)
        assert.equal(s.status, "fulfilled", s.status === "rejected" ? String(s.reason) : "");
      for (const s of started) {
        if (s.status !== "fulfilled") continue;
        assert.equal((await fetch(`${s.value.base}/readyz`)).status, 200);
        const login = await fetch(`${s.value.base}/v1/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ login: admin.LUDUS_ADMIN_EMAIL, password: admin.LUDUS_ADMIN_PASSWORD }),
        });
        assert.equal(login.status, 200);
        assert.deepEqual(errorLines(s.value.output()), []);
      }
      const admins = await withClient(url, (c) =>
        c.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email = $1`, [
          admin.LUDUS_ADMIN_EMAIL,
        ]),
      );
      assert.equal(admins.rows[0]?.n, 1);
    } finally {
      for (const s of started) {
        if (s.status !== "fulfilled") continue;
        process.kill(-s.value.child.pid!, "SIGTERM");
        await s.value.exited;
      }
    }
  });

  it("stops cleanly on SIGINT and SIGTERM to its process group, 10 times, requests in flight", async () => {
    // Two instances at a time (the machine's time goes mostly to starting them): 10 stops in all.
    for (let round = 0; round < 5; round++) {
      const pair = await Promise.all(
        [0, 1].map(async () => startLudus({ DATABASE_URL: url, PORT: String(await freePort()) })),
      );
      await Promise.all([
        stopWithRequestsInFlight(pair[0]!, "SIGINT"),
        stopWithRequestsInFlight(pair[1]!, "SIGTERM"),
      ]);
    }
  });
});

describe("ludus serve on the embedded PostgreSQL", () => {
  let dataDir: string;
  let env: Record<string, string>;

  before(async () => {
    dataDir = await mkdtemp(path.join(ROOT, ".ludus-test-life-"));
    env = { LUDUS_DATA_DIR: dataDir, LUDUS_EMBEDDED_PORT: String(await freePort()) };
  });
  after(async () => {
    killLeftovers();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("drains before PostgreSQL stops, exits 0 and leaves no PostgreSQL running", async () => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const ludus = await startLudus({ ...env, PORT: String(await freePort()) });
      const postmaster = Number(
        (await readFile(path.join(dataDir, "pgdata", "postmaster.pid"), "utf8")).split("\n")[0],
      );
      assert.ok(alive(postmaster), "the embedded PostgreSQL runs");
      assert.ok(
        !groupMembers(ludus.child.pid!).some((line) => line.startsWith(`${postmaster} `)),
        "PostgreSQL runs outside Ludus' process group",
      );
      await stopWithRequestsInFlight(ludus, signal);
      assert.equal(alive(postmaster), false, "the embedded PostgreSQL stopped with Ludus");
    }
  });
});
