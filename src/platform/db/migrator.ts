import path from "node:path";
import { fileURLToPath } from "node:url";
import { readdir } from "node:fs/promises";
import pg from "pg";
import { runner } from "node-pg-migrate";
import type { Logger } from "pino";

export const MIGRATIONS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../migrations",
);
const MIGRATIONS_TABLE = "schema_migrations";

/**
 * Applies (up) or reverts (down) migrations. node-pg-migrate holds a PostgreSQL advisory lock for
 * the whole run and we ask it to wait for that lock, so several instances starting at once apply
 * each migration exactly once. Each migration runs in its own transaction.
 */
export async function migrate(
  url: string,
  direction: "up" | "down",
  logger: Logger,
  count: number = direction === "up" ? Infinity : 1,
): Promise<string[]> {
  const applied = await runner({
    databaseUrl: url,
    dir: MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction,
    count,
    singleTransaction: false,
    checkOrder: true,
    advisoryLockMode: "wait",
    log: () => undefined,
    logger: {
      debug: () => undefined,
      info: (msg: string) => logger.debug({ migrator: msg }, "migrator"),
      warn: (msg: string) => logger.warn({ migrator: msg }, "migrator"),
      error: (msg: string) => logger.error({ migrator: msg }, "migrator"),
    },
  });
  const names = applied.map((m) => m.name);
  if (names.length > 0) logger.info({ direction, migrations: names }, "migrations applied");
  return names;
}

export interface MigrationStatus {
  name: string;
  appliedAt: Date | null;
}

/** Every migration file with the time it was applied, or null if it is pending. */
export async function migrationStatus(url: string): Promise<MigrationStatus[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).sort();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query<{ t: string | null }>("SELECT to_regclass($1) AS t", [
      MIGRATIONS_TABLE,
    ]);
    const rows =
      exists.rows[0]?.t === null
        ? []
        : (await client.query<{ name: string; run_on: Date }>(`SELECT name, run_on FROM ${MIGRATIONS_TABLE}`))
            .rows;
    const appliedAt = new Map(rows.map((r) => [r.name, r.run_on]));
    return files.map((f) => {
      const name = f.replace(/\.sql$/, "");
      return { name, appliedAt: appliedAt.get(name) ?? null };
    });
  } finally {
    await client.end();
  }
}
