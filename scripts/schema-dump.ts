/**
 * Writes db/schema.sql: the schema the migrations produce, as pg_dump prints it, so reviews show
 * DDL changes as SQL. With --check, compares instead and fails on drift. Needs DATABASE_URL (a server
 * where it may create a scratch database) and a pg_dump of the same major version as that server.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import pino from "pino";
import { migrate } from "../src/platform/db/migrator.ts";
import { databaseUrl, withClient } from "../test/helpers/postgres.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const OUTPUT = path.join(ROOT, "db/schema.sql");
const check = process.argv.includes("--check");

async function main(): Promise<number> {
  const server = process.env.DATABASE_URL;
  if (server === undefined) {
    console.error("Set DATABASE_URL to a PostgreSQL server where a scratch database may be created.");
    return 2;
  }
  const scratch = `ludus_schema_dump_${process.pid}`;
  await withClient(server, (c) => c.query(`CREATE DATABASE ${scratch}`));
  try {
    const url = databaseUrl(server, scratch);
    await migrate(url, "up", pino({ level: "warn" }));
    const { stdout } = await promisify(execFile)(
      "pg_dump",
      // Monthly partitions are named by the month the migration ran in; they are data, not schema.
      [
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "--exclude-table=*_y[0-9][0-9][0-9][0-9]m[0-9][0-9]",
        url,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    // Drop version banners and per-run restrict keys so the file changes only when the schema does.
    const dump = stdout
      .split("\n")
      .filter((line) => !/^-- Dumped (from|by)/.test(line) && !/^\\(un)?restrict /.test(line))
      .join("\n");
    if (!check) {
      await writeFile(OUTPUT, dump);
      console.log(`Wrote ${path.relative(ROOT, OUTPUT)}`);
      return 0;
    }
    const committed = await readFile(OUTPUT, "utf8").catch(() => "");
    if (committed !== dump) {
      console.error(
        "db/schema.sql does not match the migrations. Run `npm run db:dump` and commit the result.",
      );
      return 1;
    }
    console.log("db/schema.sql matches the migrations.");
    return 0;
  } finally {
    await withClient(server, (c) => c.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`));
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
