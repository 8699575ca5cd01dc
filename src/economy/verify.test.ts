import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import {
  createAdmin,
  createTestContext,
  registerPlayer,
  type TestContext,
  createApiKey,
} from "../../test/helpers/context.ts";
import { verifyBooks } from "./verify.ts";

describe("ludus verify", () => {
  let ctx: TestContext;
  let players: { id: string }[];

  before(async () => {
    ctx = await createTestContext();
    const admin = await createAdmin(ctx);
    const apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"], "verify");
    players = [await registerPlayer(ctx.app), await registerPlayer(ctx.app), await registerPlayer(ctx.app)];
    for (const p of players) {
      for (const minutes of [30, 60, 90]) {
        const res = await ctx.app.inject({
          method: "POST",
          url: "/v1/events",
          headers: { "x-api-key": apiKey },
          payload: { type: "exercise.logged", userId: p.id, data: { minutes } },
        });
        assert.equal(res.statusCode, 201, res.body);
      }
    }
  });
  after(() => ctx.close());

  /** Tampers with the books as the database owner, below the application. */
  async function tamper(sql: string, values: unknown[]) {
    const client = new pg.Client({ connectionString: ctx.ownerUrl });
    await client.connect();
    try {
      await client.query(sql, values);
    } finally {
      await client.end();
    }
  }

  it("finds nothing wrong in books written by the engine, and reports progress", async () => {
    const seen: number[] = [];
    const report = await verifyBooks(ctx.db, ctx.game.definitions, (done) => seen.push(done));
    assert.deepEqual(report.problems, []);
    assert.ok(report.players >= 3);
    assert.equal(seen[seen.length - 1], report.players);
  });

  it("finds a balance that does not match its ledger", async () => {
    const victim = players[0]!.id;
    await tamper(`UPDATE wallets SET balance = balance + 7 WHERE user_id = $1 AND currency = 'coins'`, [
      victim,
    ]);
    const report = await verifyBooks(ctx.db, ctx.game.definitions);
    assert.deepEqual(
      report.problems.map((p) => [p.user_id, p.currency, p.problem]),
      [[victim, "coins", "balance"]],
    );
    await tamper(`UPDATE wallets SET balance = balance - 7 WHERE user_id = $1 AND currency = 'coins'`, [
      victim,
    ]);
  });

  it("finds a ledger entry whose balance_after is not the running sum", async () => {
    const victim = players[1]!.id;
    await tamper(
      `UPDATE ledger_entries SET balance_after = balance_after + 1
       WHERE id = (SELECT min(id) FROM ledger_entries WHERE user_id = $1 AND currency = 'xp')`,
      [victim],
    );
    const report = await verifyBooks(ctx.db, ctx.game.definitions);
    assert.ok(report.problems.some((p) => p.user_id === victim && p.problem === "running_sum"));
  });

  it("finds statistics whose lifetime total is not the sum of their days", async () => {
    const victim = players[2]!.id;
    await tamper(
      `UPDATE user_stats_totals SET value = value + 1 WHERE user_id = $1 AND stat = 'exercise.minutes'`,
      [victim],
    );
    const report = await verifyBooks(ctx.db, ctx.game.definitions);
    assert.ok(report.problems.some((p) => p.user_id === victim && p.problem === "statistics"));
  });
});
