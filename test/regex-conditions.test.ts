/**
 * `$regex` in rule conditions, end to end: matched by a linear-time engine, so a player-sent field
 * cannot stall the event loop, and patterns it cannot match are refused when the rule is defined.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
} from "./helpers/context.ts";

interface EventResult {
  effects: { awards: { rule: string; currency: string; amount: number }[] };
}

describe("$regex conditions", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let player: Awaited<ReturnType<typeof registerPlayer>>;

  const asAdmin = (method: "POST" | "PATCH", url: string, payload: object) =>
    ctx.app.inject({ method, url, headers: bearer(admin.accessToken), payload });

  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
    player = await registerPlayer(ctx.app);
    const type = await asAdmin("POST", "/v1/admin/event-types", {
      key: "note.written",
      clientWritable: true,
      dataSchema: {
        type: "object",
        properties: { note: { type: "string", maxLength: 5000 } },
        additionalProperties: false,
      },
    });
    assert.equal(type.statusCode, 201, type.body);
  });
  after(() => ctx.close());

  const send = async (note: string) => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: bearer(player.accessToken),
      payload: { type: "note.written", data: { note } },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res
      .json<EventResult>()
      .effects.awards.filter((a) => a.rule === "test.all-a")
      .map((a) => a.amount);
  };

  it("a catastrophic pattern on a player's field neither stalls nor misjudges", async () => {
    const rule = await asAdmin("POST", "/v1/admin/rules", {
      key: "test.all-a",
      name: "All a",
      eventType: "note.written",
      condition: { "event.data.note": { $regex: "^(a+)+$" } },
      awards: [{ currency: "coins", amount: 3 }],
    });
    assert.equal(rule.statusCode, 201, rule.body);
    assert.deepEqual(await send("aaaa"), [3]);
    // A backtracking engine takes seconds on this (2^30 ways to split the a's); the rule's only
    // work is one linear scan. The whole request, database included, stays far below that.
    const start = process.cpuUsage();
    assert.deepEqual(await send(`${"a".repeat(30)}!`), []);
    const used = process.cpuUsage(start);
    assert.ok(
      (used.user + used.system) / 1000 < 1000,
      `the request took ${used.user + used.system} µs of CPU`,
    );
    // Longer than the matching bound: never matches.
    assert.deepEqual(await send("a".repeat(1001)), []);
  });

  it("a pattern that needs backtracking is refused when the rule is defined", async () => {
    for (const pattern of ["^(?=a)", "(a)\\1", "(unclosed"]) {
      const res = await asAdmin("POST", "/v1/admin/rules", {
        key: "test.lookahead",
        name: "Look-ahead",
        eventType: "note.written",
        condition: { "event.data.note": { $regex: pattern } },
        awards: [{ currency: "coins", amount: 1 }],
      });
      assert.equal(res.statusCode, 422, res.body);
      const body = problem(res);
      assert.equal(body.code, "definition.invalid");
      assert.match(body.detail, /\$regex/);
    }
    const flags = await asAdmin("POST", "/v1/admin/rules", {
      key: "test.flags",
      name: "Flags",
      eventType: "note.written",
      condition: { "event.data.note": { $regex: "a", $options: "g" } },
      awards: [{ currency: "coins", amount: 1 }],
    });
    assert.equal(flags.statusCode, 422, flags.body);
  });
});
