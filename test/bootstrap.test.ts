import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadNewPacks } from "../src/content/loader.ts";
import { ensureAdmin } from "../src/identity/bootstrap.ts";
import { createTestContext, type TestContext } from "./helpers/context.ts";

/**
 * Start-up steps run by several instances at once (each also holds the start-up advisory lock in
 * src/server.ts; these check the steps are safe without it too).
 */
describe("start-up steps under concurrent starts", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext({ content: false });
  });
  after(() => ctx.close());

  it("ensureAdmin run by several instances at once creates the admin once, and none of them fails", async () => {
    const admin = {
      email: "race-admin@example.com",
      username: "raceadmin",
      password: "a race admin password",
    };
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () => ensureAdmin(ctx.db, ctx.identity.auth, admin)),
    );
    assert.deepEqual(
      outcomes.filter((o) => o === "created"),
      ["created"],
    );
    const n = await ctx.db.asSystem((tx) =>
      tx.one<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email = $1 AND role = 'admin'`, [
        admin.email,
      ]),
    );
    assert.equal(n.n, 1);
  });

  it("loading the default content twice in a row leaves it loaded once", async () => {
    const first = await loadNewPacks(ctx.db, ctx.game, ["dietgame"]);
    assert.ok(first.length === 1 && first[0]!.created > 0);
    assert.deepEqual(await loadNewPacks(ctx.db, ctx.game, ["dietgame"]), []);
  });
});
