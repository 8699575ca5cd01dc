import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTestContext, problem, type TestContext } from "../../test/helpers/context.ts";

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
