/**
 * Ludus for benchmarks: started in this process through startServer, on a throwaway embedded
 * PostgreSQL (or on a scratch database in the server named by DATABASE_URL), with everything a
 * benchmark needs to reach the database behind it.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import type { Logger } from "pino";
import { loadConfig, type Config } from "../../src/config.ts";
import { createLogger } from "../../src/platform/logging.ts";
import { startServer, type RunningServer } from "../../src/server.ts";
import { freePort } from "../../test/helpers/ports.ts";
import { databaseUrl, withClient } from "../../test/helpers/postgres.ts";
import { BENCH_ROOT } from "./load.ts";

// The project's own helpers for ports and scratch databases, shared with the test runner.
export { freePort } from "../../test/helpers/ports.ts";
export { databaseUrl, withClient } from "../../test/helpers/postgres.ts";

export const quoteIdent = (name: string) => pg.Client.prototype.escapeIdentifier(name);

export interface Ludus {
  server: RunningServer;
  config: Config;
  logger: Logger;
  /** Where the data lives, for the report. */
  where: string;
  /** Connection to Ludus's database as its owner, the role migrations run as. */
  adminUrl: string;
  /** A connection to the same PostgreSQL server, for creating and dropping other scratch databases. */
  serverUrl: string;
  cleanup(): Promise<void>;
}

/**
 * Starts Ludus with `env` on top of the benchmark defaults (PORT 0, HOST 127.0.0.1, LOG_LEVEL warn).
 * DATABASE_POOL_SIZE from the environment is passed through in both modes.
 */
export async function startLudus(extraEnv: NodeJS.ProcessEnv = {}): Promise<Ludus> {
  const env: NodeJS.ProcessEnv = { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "warn", ...extraEnv };
  if (process.env.DATABASE_POOL_SIZE !== undefined) env.DATABASE_POOL_SIZE = process.env.DATABASE_POOL_SIZE;
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step();
    cleanups.length = 0;
  };
  try {
    let where: string;
    let resolveUrls: () => Promise<{ adminUrl: string; serverUrl: string }>;
    const given = process.env.DATABASE_URL;
    if (given !== undefined && given !== "") {
      const scratch = `ludus_bench_${process.pid}_${randomBytes(4).toString("hex")}`;
      await withClient(given, (c) => c.query(`CREATE DATABASE ${quoteIdent(scratch)}`));
      // Ctrl-C ends the process before async cleanup can run (see below): say what was left.
      const leftBehind = () => console.error(`scratch database ${scratch} was not dropped; drop it by hand`);
      process.on("exit", leftBehind);
      cleanups.push(async () => {
        await withClient(given, (c) =>
          c.query(`DROP DATABASE IF EXISTS ${quoteIdent(scratch)} WITH (FORCE)`),
        );
        process.off("exit", leftBehind);
      });
      env.DATABASE_URL = databaseUrl(given, scratch);
      where = `DATABASE_URL, scratch database ${scratch}`;
      const adminUrl = env.DATABASE_URL;
      resolveUrls = async () => ({ adminUrl, serverUrl: given });
    } else {
      const dataDir = await mkdtemp(path.join(BENCH_ROOT, ".ludus-test-bench-"));
      // On Ctrl-C, the embedded server's signal handler stops the cluster and exits the process before
      // async cleanup here could finish; this still removes the folder on the way out.
      const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
      process.on("exit", removeDataDir);
      cleanups.push(async () => {
        await rm(dataDir, { recursive: true, force: true });
        process.off("exit", removeDataDir);
      });
      const port = await freePort();
      env.LUDUS_DATA_DIR = dataDir;
      env.LUDUS_EMBEDDED_PORT = String(port);
      where = `embedded PostgreSQL in ${path.relative(BENCH_ROOT, dataDir)}`;
      // The embedded server writes its superuser's credentials here when it creates the cluster
      // (src/platform/db/embedded.ts); Ludus's database on it is "ludus" (src/platform/db/connect.ts).
      resolveUrls = async () => {
        const credentials = JSON.parse(await readFile(path.join(dataDir, "credentials.json"), "utf8")) as {
          user: string;
          password: string;
        };
        const serverUrl = `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
        return { serverUrl, adminUrl: databaseUrl(serverUrl, "ludus") };
      };
    }
    const config = loadConfig(env);
    const logger = createLogger(config.logLevel);
    const server = await startServer(config, logger);
    cleanups.push(async () => {
      // pg-pool's end() resolves before its connections have closed, and the embedded PostgreSQL is
      // stopped right after, so idle connections get "terminating connection due to administrator
      // command" and the pool logs each as an error. Harmless at shutdown: keep it out of the report.
      logger.level = "fatal";
      await server.stop();
    });
    const { adminUrl, serverUrl } = await resolveUrls();
    return { server, config, logger, where, adminUrl, serverUrl, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
