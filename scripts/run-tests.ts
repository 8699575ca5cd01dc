/**
 * Runs the test suite against real PostgreSQL: the embedded server (a throwaway cluster) by default,
 * or the server in DATABASE_URL. Migrates a template database once; each test file clones it.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import path from "node:path";
import pino from "pino";
import { startEmbeddedPostgres, type EmbeddedServer } from "../src/platform/db/embedded.ts";
import { migrate } from "../src/platform/db/migrator.ts";
import { freePort } from "../test/helpers/ports.ts";
import { databaseUrl, withClient } from "../test/helpers/postgres.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const logger = pino({ level: process.env.LOG_LEVEL ?? "warn" });

async function testFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".test.ts"))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)))
    .sort();
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  let embedded: EmbeddedServer | undefined;
  let tempDir: string | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (serverUrl === undefined) {
    await rm(path.join(ROOT, ".ludus-test"), { recursive: true, force: true }).catch(() => undefined);
    tempDir = await mkdtemp(path.join(ROOT, ".ludus-test-"));
    embedded = await startEmbeddedPostgres({
      dataDir: tempDir,
      port: await freePort(),
      logger,
      // A throwaway cluster: durability buys nothing here.
      settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off", max_connections: "300" },
    });
    serverUrl = embedded.url;
  }
  const template = `ludus_template_${process.pid}`;
  try {
    await withClient(serverUrl, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${template}`);
    });
    await migrate(databaseUrl(serverUrl, template), "up", logger);
    const files =
      only.length > 0
        ? only
        : [...(await testFiles(path.join(ROOT, "src"))), ...(await testFiles(path.join(ROOT, "test")))];
    console.log(
      `Running ${files.length} test files against ${embedded ? "embedded PostgreSQL" : "DATABASE_URL"}`,
    );
    const code = await new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--test", "--test-concurrency=2", "--test-reporter=spec", ...files],
        {
          cwd: ROOT,
          stdio: "inherit",
          env: { ...process.env, LUDUS_TEST_SERVER_URL: serverUrl, LUDUS_TEST_TEMPLATE: template },
        },
      );
      child.on("exit", (c) => resolve(c ?? 1));
    });
    return code;
  } finally {
    await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`)).catch(
      () => undefined,
    );
    await embedded?.stop();
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
