import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort } from "./helpers/ports.ts";
import { spawnServe, type Serving } from "./helpers/serve.ts";

/**
 * The product as a user runs it: `ludus serve` (what `npm start` runs) with no DATABASE_URL starts
 * the embedded PostgreSQL, serves, reuses its data on the next start, and stops cleanly on a signal.
 */
const ROOT = path.resolve(import.meta.dirname, "..");

type Started = Serving;

function startLudus(env: Record<string, string>): Promise<Started> {
  return spawnServe({ env });
}

/** Processes whose command line mentions the folder: a stray postgres would. */
function processesUsing(dir: string): string[] {
  const out = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
  return out.split("\n").filter((line) => line.includes(dir) && !line.includes("ps -eo"));
}

describe("ludus serve on the embedded PostgreSQL", () => {
  let dataDir: string;
  let env: Record<string, string>;
  let base: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(ROOT, ".ludus-test-serve-"));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      PORT: String(port),
      LUDUS_DATA_DIR: dataDir,
      LUDUS_EMBEDDED_PORT: String(await freePort()),
      LUDUS_ADMIN_EMAIL: "root@example.com",
      LUDUS_ADMIN_PASSWORD: "bootstrap admin password",
    };
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it("starts, prints its URLs, serves, and stops PostgreSQL on Ctrl-C", async () => {
    const ludus = await startLudus(env);
    try {
      for (const label of ["API docs", "/docs", "/openapi.json", "/healthz"])
        assert.ok(ludus.output().includes(label), label);
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      const register = await fetch(`${base}/v1/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          email: "keep@example.com",
          username: "keeper",
          password: "survives a restart",
        }),
      });
      assert.equal(register.status, 201);
      assert.ok(processesUsing(dataDir).length > 0, "the embedded PostgreSQL runs from the data folder");
    } finally {
      ludus.child.kill("SIGINT");
    }
    assert.equal(await ludus.exited, 0, ludus.output());
    assert.deepEqual(processesUsing(dataDir), [], "no stray processes after Ctrl-C");
  });

  it("reuses the data on the next start, with the bootstrap admin created once", async () => {
    const ludus = await startLudus(env);
    try {
      const login = async (loginName: string, password: string) =>
        fetch(`${base}/v1/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ login: loginName, password }),
        });
      assert.equal((await login("keeper", "survives a restart")).status, 200);
      const admin = await login("root@example.com", "bootstrap admin password");
      assert.equal(admin.status, 200);
      const body = (await admin.json()) as { user: { role: string } };
      assert.equal(body.user.role, "admin");
    } finally {
      ludus.child.kill("SIGTERM");
    }
    assert.equal(await ludus.exited, 0, ludus.output());
    assert.deepEqual(processesUsing(dataDir), []);
  });

  it("refuses a bad configuration with a message naming the variable", async () => {
    await assert.rejects(startLudus({ ...env, PORT: "not-a-port" }), /PORT="not-a-port": must be integer/);
  });
});
