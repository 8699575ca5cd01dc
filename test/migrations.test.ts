import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { MIGRATIONS_DIR, migrate, migrationStatus } from "../src/platform/db/migrator.ts";
import { createTestContext, registerPlayer, type TestContext } from "./helpers/context.ts";
import { databaseUrl, testServer, withClient } from "./helpers/postgres.ts";

const logger = pino({ level: "silent" });

async function tables(url: string): Promise<string[]> {
  return withClient(url, async (c) => {
    const r = await c.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
    );
    return r.rows.map((row) => row.relname).filter((t) => t !== "schema_migrations");
  });
}

describe("migrations", () => {
  let ctx: TestContext;
  let count: number;
  before(async () => {
    ctx = await createTestContext();
    count = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).length;
  });
  after(() => ctx.close());

  it("go all the way down and up again on a database holding data", async () => {
    const player = await registerPlayer(ctx.app);
    assert.ok(player.id);
    const full = await tables(ctx.ownerUrl);
    assert.ok(full.includes("users") && full.includes("audit_logs"));

    // The runtime pool must let go of the database's tables before they are dropped.
    await ctx.db.pool.query("SELECT 1");
    const down = await migrate(ctx.ownerUrl, "down", logger, Infinity);
    assert.equal(down.length, count);
    assert.deepEqual(await tables(ctx.ownerUrl), []);
    assert.ok((await migrationStatus(ctx.ownerUrl)).every((m) => m.appliedAt === null));

    const up = await migrate(ctx.ownerUrl, "up", logger);
    assert.equal(up.length, count);
    assert.deepEqual(await tables(ctx.ownerUrl), full);

    // And the app works on the rebuilt schema.
    await registerPlayer(ctx.app);
  });

  it("step down and up one migration at a time with rows present", async () => {
    for (let i = 0; i < count; i++) {
      await registerPlayer(ctx.app).catch(() => undefined); // rows wherever the schema allows them
      const reverted = await migrate(ctx.ownerUrl, "down", logger, 1);
      assert.equal(reverted.length, 1);
      const reapplied = await migrate(ctx.ownerUrl, "up", logger);
      assert.deepEqual(reapplied, reverted);
      await migrate(ctx.ownerUrl, "down", logger, i + 1);
      await migrate(ctx.ownerUrl, "up", logger);
    }
    assert.ok((await migrationStatus(ctx.ownerUrl)).every((m) => m.appliedAt !== null));
  });

  it("several migrators started at once apply each migration exactly once", async () => {
    const { url } = testServer();
    const name = `ludus_migrate_race_${randomBytes(4).toString("hex")}`;
    await withClient(url, (c) => c.query(`CREATE DATABASE ${name}`));
    const target = databaseUrl(url, name);
    try {
      const runs = await Promise.all([1, 2, 3].map(() => migrate(target, "up", logger)));
      // The advisory lock serialises them: one applies everything, the others find nothing to do.
      assert.equal(runs.flat().length, count);
      const applied = await withClient(target, (c) =>
        c.query<{ n: number }>(`SELECT count(*)::int AS n FROM schema_migrations`),
      );
      assert.equal(applied.rows[0]?.n, count);
    } finally {
      await withClient(url, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    }
  });
});
