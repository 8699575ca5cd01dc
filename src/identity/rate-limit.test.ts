import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
} from "../../test/helpers/context.ts";

describe("rate limits on auth routes", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext({ authRateLimitPerMinute: 3 });
  });
  after(() => ctx.close());

  it("answers 429 rate_limited with Retry-After past the per-address limit", async () => {
    const attempt = () =>
      ctx.app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: "not-a-token" } });
    for (let i = 0; i < 3; i++) assert.equal((await attempt()).statusCode, 401);
    const limited = await attempt();
    assert.equal(limited.statusCode, 429);
    assert.equal(problem(limited).code, "rate_limited");
    assert.ok(Number(limited.headers["retry-after"]) >= 1);
  });

  it("limits each route and address separately, and leaves other routes alone", async () => {
    const fromOther = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/refresh",
      remoteAddress: "10.0.0.9",
      payload: { refreshToken: "not-a-token" },
    });
    assert.equal(fromOther.statusCode, 401);
    assert.equal((await ctx.app.inject({ method: "GET", url: "/healthz" })).statusCode, 200);
  });
});

describe("the player rate limit is keyed on the authenticated player", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext({ eventsRateLimitPerMinute: 3 });
  });
  after(() => ctx.close());

  const send = (headers: Record<string, string>, userId: string) =>
    ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers,
      payload: { type: "meal.logged", userId, data: { mealType: "lunch" } },
    });

  it("holds for every spelling of the Authorization header and every session of the player", async () => {
    const player = await registerPlayer(ctx.app);
    const second = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: player.username, password: player.password },
    });
    const otherSession = second.json<{ tokens: { accessToken: string } }>().tokens.accessToken;
    const spellings = [
      { authorization: `Bearer ${player.accessToken}` },
      { authorization: `bearer ${player.accessToken}` },
      { authorization: `BEARER\t${player.accessToken}` },
      { authorization: `Bearer   ${otherSession}` },
      { authorization: `bEaReR ${player.accessToken} ` },
    ];
    const codes = [];
    for (const headers of spellings) codes.push((await send(headers, player.id)).statusCode);
    assert.deepEqual(
      codes.map((c) => c === 429),
      [false, false, false, true, true],
      codes.join(","),
    );
    // Another player has a bucket of its own.
    const other = await registerPlayer(ctx.app);
    assert.notEqual((await send(bearer(other.accessToken), other.id)).statusCode, 429);
  });

  it("an empty or malformed credential is a 401, and cannot skip the limit", async () => {
    const player = await registerPlayer(ctx.app);
    for (const headers of <Record<string, string>[]>[
      { authorization: `Bearer ${player.accessToken}`, "x-api-key": "" },
      { authorization: `Bearer ${player.accessToken}`, "x-api-key": "ludus_abc_def" },
      { "x-api-key": "" },
      { "x-api-key": "   " },
      { authorization: "" },
      { authorization: "Bearer" },
      { authorization: "Bearer " },
      { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` },
      { authorization: `Bearer ${player.accessToken} extra` },
    ]) {
      const res = await send(headers, player.id);
      assert.equal(res.statusCode, 401, `${JSON.stringify(headers).slice(0, 60)}: ${res.body}`);
      assert.equal(problem(res).code, "auth.invalid_token");
    }
    for (let i = 0; i < 3; i++)
      assert.notEqual((await send(bearer(player.accessToken), player.id)).statusCode, 429);
    assert.equal((await send(bearer(player.accessToken), player.id)).statusCode, 429);
  });

  it("authenticates before validating the body: an anonymous caller learns nothing of the schema", async () => {
    for (const [url, payload] of [
      ["/v1/events", { nope: 1 }],
      ["/v1/events/batch", { events: "x" }],
      ["/v1/admin/api-keys", { name: 1 }],
      ["/v1/me/password", { currentPassword: 1 }],
    ] as const) {
      const res = await ctx.app.inject({ method: "POST", url, payload });
      assert.equal(res.statusCode, 401, `${url}: ${res.body}`);
      assert.equal(problem(res).code, "auth.unauthenticated");
    }
    const bad = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { authorization: "Bearer not.a.jwt" },
      payload: { nope: 1 },
    });
    assert.equal(bad.statusCode, 401);
  });
});
