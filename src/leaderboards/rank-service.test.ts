import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  createAdmin,
  createApiKey,
  createTestContext,
  registerPlayer,
  type TestContext,
} from "../../test/helpers/context.ts";
import { listName } from "./board-feed.ts";

describe("rank index upkeep (ludus ranks verify / rebuild)", () => {
  let ctx: TestContext;
  let scoresKey: string;

  before(async () => {
    ctx = await createTestContext({ packs: ["dietgame", "questlog", "prodev", "leaderboards"] });
    const admin = await createAdmin(ctx);
    scoresKey = await createApiKey(ctx, admin.accessToken, ["scores:write"]);
    for (let i = 0; i < 30; i++) {
      const p = await registerPlayer(ctx.app);
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/leaderboards/arcade-high-scores/scores",
        headers: { "x-api-key": scoresKey },
        payload: { userId: p.id, score: (i * 7) % 11, idempotencyKey: `k${i}` },
      });
      assert.equal(res.statusCode, 200, res.body);
    }
  });
  after(() => ctx.close());

  it("finds the index in step with PostgreSQL, finds a tampered one, and a rebuild mends it", async () => {
    const ranks = ctx.game.ranks;
    const clean = await ranks.verify();
    assert.deepEqual(clean.problems, []);
    assert.equal(clean.entries, 30);
    assert.equal(clean.lists, 1);

    const board = await ctx.db.asSystem((tx) =>
      tx.one<{ id: string }>(`SELECT id FROM leaderboards WHERE key = 'arcade-high-scores'`),
    );
    const list = listName(board.id, "all");
    const [second] = await ranks.index.range(list, 1, 1);
    assert.ok(second !== undefined);
    // A stray key and a lost one: both must be reported.
    await ranks.index.upsert(list, { score: 1e9, reachedAt: 0, userId: randomUUID() });
    await ranks.index.remove(list, second);
    const tampered = await ranks.verify();
    assert.ok(tampered.problems.length > 0);
    assert.ok(
      tampered.problems.some((p) => p.includes("rank 1")),
      tampered.problems.join("\n"),
    );

    let reported = 0;
    await ranks.rebuild((done) => (reported = done));
    assert.equal(reported, 30, "rebuild reports its progress");
    assert.ok(ranks.usable);
    assert.deepEqual((await ranks.verify()).problems, []);
  });

  it("an index it cannot trust (a commit with an unknown outcome) is rebuilt by itself", async () => {
    const ranks = ctx.game.ranks;
    const board = await ctx.db.asSystem((tx) =>
      tx.one<{ id: string }>(`SELECT id FROM leaderboards WHERE key = 'arcade-high-scores'`),
    );
    // What a rank write applied before a COMMIT whose connection then failed would leave.
    await ranks.index.upsert(listName(board.id, "all"), { score: 1e9, reachedAt: 0, userId: randomUUID() });
    ranks.distrust();
    assert.equal(ranks.usable, false, "ranks come from PostgreSQL meanwhile");
    for (let waited = 0; !ranks.usable; waited += 50) {
      assert.ok(waited < 30_000, "rebuilt within 30 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual((await ranks.verify()).problems, []);
  });
});
