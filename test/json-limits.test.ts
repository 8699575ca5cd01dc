/**
 * Bounded JSON structure: every JSON body is checked for depth, keys per object and items per array
 * right after parsing, so nothing that walks it recursively later (schema validation, the
 * idempotency hash, conditions) can be made to overflow the stack.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { checkJsonShape, JSON_LIMITS } from "../src/platform/http/json-limits.ts";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  problem,
  registerPlayer,
  tableDigests,
  type TestContext,
} from "./helpers/context.ts";

/** `levels` arrays (or objects) nested in one another, as JSON text, built without recursion. */
const nestedArrays = (levels: number, inner = "1") => "[".repeat(levels) + inner + "]".repeat(levels);
const nestedObjects = (levels: number, inner = "1") => '{"a":'.repeat(levels) + inner + "}".repeat(levels);

const TABLES = ["events", "ledger_entries", "wallets", "idempotency_keys", "event_types", "rules", "outbox"];

describe("checkJsonShape", () => {
  it("accepts values inside the limits, up to exactly the limits", () => {
    assert.equal(checkJsonShape(JSON.parse(nestedArrays(JSON_LIMITS.maxDepth))), undefined);
    assert.equal(checkJsonShape(JSON.parse(nestedObjects(JSON_LIMITS.maxDepth))), undefined);
    assert.equal(checkJsonShape(Array.from({ length: JSON_LIMITS.maxItems }, () => ({}))), undefined);
    const keys = Object.fromEntries(Array.from({ length: JSON_LIMITS.maxKeys }, (_, i) => [`k${i}`, [i]]));
    assert.equal(checkJsonShape(keys), undefined);
    for (const scalar of [null, 1, "x", true]) assert.equal(checkJsonShape(scalar), undefined);
  });

  it("finds the first place past a limit, with its path", () => {
    const deep = checkJsonShape(JSON.parse(nestedObjects(JSON_LIMITS.maxDepth + 1)), JSON_LIMITS, "body");
    assert.equal(deep?.kind, "depth");
    assert.equal(deep?.path, `body/${Array.from({ length: JSON_LIMITS.maxDepth }, () => "a").join("/")}`);
    const wide = checkJsonShape({ list: [0, { x: Array.from({ length: JSON_LIMITS.maxItems + 1 }) }] });
    assert.deepEqual([wide?.kind, wide?.path], ["items", "list/1/x"]);
    const keys = Object.fromEntries(Array.from({ length: JSON_LIMITS.maxKeys + 1 }, (_, i) => [`k${i}`, i]));
    assert.equal(checkJsonShape({ a: [keys] })?.kind, "keys");
  });

  it("walks a value nested a million levels deep without recursing", () => {
    // JSON.parse copes with this; a recursive walk would overflow the stack long before the end.
    const value: unknown = JSON.parse(nestedArrays(1_000_000));
    assert.equal(checkJsonShape(value, { ...JSON_LIMITS, maxDepth: 2_000_000 }), undefined);
    assert.equal(checkJsonShape(value)?.kind, "depth");
  });
});

describe("JSON bodies past the limits", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  let player: Awaited<ReturnType<typeof registerPlayer>>;

  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken);
    player = await registerPlayer(ctx.app);
    // An event type whose schema takes any data, so nothing but the structure check stands between
    // a deeply nested body and the code that walks event data.
    const type = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/event-types",
      headers: bearer(admin.accessToken),
      payload: { key: "free.form", clientWritable: true, dataSchema: { type: "object" } },
    });
    assert.equal(type.statusCode, 201, type.body);
  });
  after(() => ctx.close());

  const post = (url: string, payload: string, headers: Record<string, string>) =>
    ctx.app.inject({
      method: "POST",
      url,
      headers: { ...headers, "content-type": "application/json" },
      payload,
    });

  async function refused(res: Promise<Awaited<ReturnType<typeof post>>>, status: number, code: string) {
    const before = await tableDigests(ctx, TABLES);
    const answer = await res;
    assert.equal(answer.statusCode, status, answer.body.slice(0, 300));
    const body = problem(answer);
    assert.equal(body.code, code);
    assert.equal(body.status, status);
    assert.deepEqual(await tableDigests(ctx, TABLES), before, "nothing may be written");
    return body;
  }

  it("an event whose data nests 4,000 levels deep is a 400, not a 500", async () => {
    const payload = `{"type":"free.form","userId":"${player.id}","data":${nestedObjects(4000)}}`;
    const body = await refused(
      post("/v1/events", payload, { "x-api-key": apiKey }),
      400,
      "request.json_too_deep",
    );
    assert.match(body.errors?.[0]?.path ?? "", /^body\/data\/a\/a/);
    // The same as a player, in a batch and in a dry run.
    const batch = `{"events":[{"type":"free.form","data":${nestedArrays(4000, "{}").replace(/^\[/, '{"x":[').replace(/\]$/, "]}")}}]}`;
    await refused(post("/v1/events/batch", batch, bearer(player.accessToken)), 400, "request.json_too_deep");
    const dry = `{"type":"free.form","userId":"${player.id}","data":${nestedObjects(50)}}`;
    await refused(
      post("/v1/admin/events/dry-run", dry, bearer(admin.accessToken)),
      400,
      "request.json_too_deep",
    );
  });

  it("depth is refused on every JSON route before validation; an anonymous caller's body is never read", async () => {
    await refused(post("/v1/auth/login", nestedArrays(100_000), {}), 400, "request.json_too_deep");
    for (const url of ["/v1/admin/rules", "/v1/admin/webhooks"]) {
      await refused(
        post(url, nestedArrays(100_000), bearer(admin.accessToken)),
        400,
        "request.json_too_deep",
      );
      // Credentials are checked first (on request, before the body is parsed).
      await refused(post(url, nestedArrays(100_000), {}), 401, "auth.unauthenticated");
    }
  });

  it("objects with too many keys and arrays with too many items are 413", async () => {
    const wide = `{"type":"free.form","data":{"list":[${Array.from({ length: JSON_LIMITS.maxItems + 1 }, () => "0").join(",")}]}}`;
    const body = await refused(
      post("/v1/events", wide, bearer(player.accessToken)),
      413,
      "request.json_too_large",
    );
    assert.equal(body.errors?.[0]?.path, "body/data/list");
    const keys = Array.from({ length: JSON_LIMITS.maxKeys + 1 }, (_, i) => `"k${i}":0`).join(",");
    await refused(
      post("/v1/events", `{"type":"free.form","data":{${keys}}}`, bearer(player.accessToken)),
      413,
      "request.json_too_large",
    );
  });

  it("event data that arrives other than over HTTP is bounded by the intake too", async () => {
    const before = await tableDigests(ctx, TABLES);
    const caller = {
      kind: "user" as const,
      userId: player.id,
      sessionId: player.sessionId,
      role: "player" as const,
    };
    const data = JSON.parse(nestedObjects(4000)) as Record<string, unknown>;
    await assert.rejects(ctx.game.intake.submit(caller, { type: "free.form", data }), (error: unknown) => {
      assert.equal((error as { code?: string }).code, "event.invalid_data");
      return true;
    });
    assert.deepEqual(await tableDigests(ctx, TABLES), before);
  });

  it("data inside the limits is still taken, and prototype keys are still refused", async () => {
    // Depth 32 in all: the body, data, then 30 levels inside it.
    const payload = `{"type":"free.form","data":${nestedObjects(JSON_LIMITS.maxDepth - 2)}}`;
    const res = await post("/v1/events", payload, bearer(player.accessToken));
    assert.equal(res.statusCode, 201, res.body.slice(0, 300));
    const poisoned = `{"type":"free.form","data":{"__proto__":{"x":1}}}`;
    await refused(post("/v1/events", poisoned, bearer(player.accessToken)), 400, "request.malformed_json");
  });
});
