import pg from "pg";
import type { Logger } from "pino";

/** The advisory lock key held by start-up steps (not the migrator's). */
export const STARTUP_LOCK_KEY = 4_281_712_012;

/**
 * Runs `fn` while holding a session-level advisory lock on its own connection, so that start-up
 * steps of instances starting at once (partitions, the bootstrap admin, default content) run one
 * instance after the other. Each step is also safe on its own when it finds the work done.
 */
export async function withStartupLock<T>(url: string, logger: Logger, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "ludus-startup" });
  client.on("error", (err) => logger.warn({ err }, "start-up lock connection failed"));
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [STARTUP_LOCK_KEY]);
    return await fn();
  } finally {
    // Ending the session releases the lock.
    await client.end().catch(() => undefined);
  }
}
