import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
  createApiKey,
} from "../../test/helpers/context.ts";

/**
 * Admin management of event types, rules and currencies: bad definitions are refused with their
 * reason and nothing saved; good ones take effect on the very next event; rules are versioned,
 * deactivated rather than deleted, and audited; only admins may touch any of it.
 */

interface Rule {
  id: string;
  key: string;
  name: string;
  eventType: string;
  condition: Record<string, unknown> | null;
  awards: { currency: string; amount?: number; field?: string }[];
  active: boolean;
  version: number;
}
interface EventType {
  key: string;
  description: string | null;
  dataSchema: Record<string, unknown>;
  clientWritable: boolean;
  clientDailyCap: number | null;
  system: boolean;
  active: boolean;
}
interface Award {
  rule: string;
  currency: string;
  amount: number;
  balance: number | null;
}
interface EventResult {
  eventId: string;
  effects: { awards: Award[]; balances: Record<string, number> };
}

type Player = Awaited<ReturnType<typeof registerPlayer>>;

describe("definitions", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  let player: Player;

  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write", "users:read"], "definitions");
    player = await registerPlayer(ctx.app);
  });
  after(() => ctx.close());

  const asAdmin = (method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE", url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(admin.accessToken), ...(payload ? { payload } : {}) });

  async function createRule(input: Record<string, unknown>): Promise<Rule> {
    const res = await asAdmin("POST", "/v1/admin/rules", { name: "A test rule", ...input });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Rule>();
  }

  async function send(payload: Record<string, unknown>, userId = player.id): Promise<EventResult> {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { userId, ...payload },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<EventResult>();
  }

  const paidBy = (result: EventResult, rule: string) =>
    result.effects.awards.filter((a) => a.rule === rule).map((a) => [a.currency, a.amount]);

  const definitionState = () =>
    ctx.db.asSystem(async (tx) => ({
      rules: (await tx.one<{ n: number }>(`SELECT count(*)::int AS n FROM rules`)).n,
      versions: (await tx.one<{ n: number }>(`SELECT count(*)::int AS n FROM rule_versions`)).n,
      types: (await tx.one<{ n: number }>(`SELECT count(*)::int AS n FROM event_types`)).n,
      currencies: (await tx.one<{ n: number }>(`SELECT count(*)::int AS n FROM currencies`)).n,
      audit: (
        await tx.one<{ n: number }>(
          `SELECT count(*)::int AS n FROM audit_logs WHERE resource_type IN ('rule', 'event_type', 'currency', 'settings')`,
        )
      ).n,
      digest: (
        await tx.one<{ d: string }>(
          `SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r.key), '')) AS d FROM rules r`,
        )
      ).d,
    }));

  it("refuses bad rules with 422 definition.invalid, the reason in detail, and saves nothing", async () => {
    const before = await definitionState();
    const base = {
      key: "test.bad",
      name: "Bad",
      eventType: "meal.logged",
      awards: [{ currency: "xp", amount: 1 }],
    };
    const cases: [string, Record<string, unknown>, RegExp, string][] = [
      ["$where", { condition: { $where: "this.event.data.calories > 1" } }, /\$where/, "body/condition"],
      [
        "$function",
        { condition: { "event.data.x": { $function: "return true" } } },
        /\$function/,
        "body/condition",
      ],
      ["unknown operator", { condition: { "event.data.calories": { $foo: 3 } } }, /\$foo/, "body/condition"],
      [
        "unknown currency",
        { awards: [{ currency: "rubies", amount: 1 }] },
        /rubies/,
        "body/awards/0/currency",
      ],
      [
        "unknown currency in a cap",
        { caps: [{ currency: "rubies", period: "day", max: 5 }] },
        /rubies/,
        "body/caps/0/currency",
      ],
      ["unknown event type", { eventType: "no.such.type" }, /no\.such\.type/, "body/eventType"],
      [
        "amount and field",
        { awards: [{ currency: "xp", amount: 5, field: "data.minutes" }] },
        /exactly one of amount and field/,
        "body/awards/0",
      ],
      [
        "neither amount nor field",
        { awards: [{ currency: "xp" }] },
        /exactly one of amount and field/,
        "body/awards/0",
      ],
      [
        "counter with amount and field",
        { counters: [{ stat: "x.y", amount: 1, field: "data.minutes" }] },
        /amount or field/,
        "body/counters/0",
      ],
    ];
    for (const [what, change, reason, path] of cases) {
      const res = await asAdmin("POST", "/v1/admin/rules", { ...base, ...change });
      assert.equal(res.statusCode, 422, `${what}: ${res.body}`);
      const body = problem(res);
      assert.equal(body.code, "definition.invalid", what);
      assert.match(body.detail, reason, what);
      assert.deepEqual(
        body.errors?.map((e) => e.path),
        [path],
        what,
      );
    }
    assert.deepEqual(await definitionState(), before);
    const listed = await asAdmin("GET", "/v1/admin/rules");
    assert.ok(!listed.json<{ items: Rule[] }>().items.some((r) => r.key === "test.bad"));

    // The same checks on a change: the rule keeps its version and behaviour.
    const rule = await createRule({
      key: "test.patch-guard",
      eventType: "meal.logged",
      condition: { "event.data.calories": 123456 },
    });
    const guarded = await definitionState();
    for (const change of [
      { condition: { $where: "1" } },
      { awards: [{ currency: "rubies", amount: 1 }] },
      { eventType: "no.such.type" },
      { awards: [{ currency: "xp", amount: 1, field: "data.calories" }] },
    ]) {
      const res = await asAdmin("PATCH", `/v1/admin/rules/${rule.id}`, change);
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(problem(res).code, "definition.invalid");
    }
    assert.deepEqual(await definitionState(), guarded);
    const same = await asAdmin("GET", `/v1/admin/rules/${rule.id}`);
    assert.equal(same.json<Rule>().version, 1);
  });

  it("refuses an event type whose data schema is not a usable JSON Schema", async () => {
    const before = await definitionState();
    const res = await asAdmin("POST", "/v1/admin/event-types", {
      key: "bad.schema",
      dataSchema: { type: "nonsense" },
    });
    assert.equal(res.statusCode, 422, res.body);
    const body = problem(res);
    assert.equal(body.code, "definition.invalid");
    assert.match(body.detail, /dataSchema/);
    assert.deepEqual(
      body.errors?.map((e) => e.path),
      ["body/dataSchema"],
    );
    const worse = await asAdmin("POST", "/v1/admin/event-types", {
      key: "bad.schema",
      dataSchema: { type: "object", properties: { a: { minimum: "zero" } } },
    });
    assert.equal(worse.statusCode, 422, worse.body);
    assert.deepEqual(await definitionState(), before);
    const types = await asAdmin("GET", "/v1/admin/event-types");
    assert.ok(!types.json<{ items: EventType[] }>().items.some((t) => t.key === "bad.schema"));

    // Changing an existing type to a bad schema is refused too, and the type keeps validating.
    const patched = await asAdmin("PATCH", "/v1/admin/event-types/meal.logged", { dataSchema: { type: 12 } });
    assert.equal(patched.statusCode, 422, patched.body);
    await send({ type: "meal.logged", data: { mealType: "lunch" } });
    // System types cannot be changed at all.
    const system = await asAdmin("PATCH", "/v1/admin/event-types/level.up", { clientWritable: true });
    assert.equal(system.statusCode, 422, system.body);
    assert.equal(problem(system).code, "definition.invalid");
  });

  it("a new rule takes effect for the very next event, honouring conditions on event data and player state", async () => {
    const p = await registerPlayer(ctx.app);
    // Warm the cache first, so the rule must reach the engine through invalidation.
    const warm = await send({ type: "meal.logged", data: { mealType: "lunch", calories: 900 } }, p.id);
    assert.deepEqual(paidBy(warm, "test.big-meal"), []);

    const bigMeal = await createRule({
      key: "test.big-meal",
      name: "Big meal",
      eventType: "meal.logged",
      condition: { "event.data.calories": { $gte: 800 } },
      awards: [{ currency: "coins", amount: 7 }],
      counters: [{ stat: "meals.big" }],
    });
    const big = await send({ type: "meal.logged", data: { mealType: "dinner", calories: 900 } }, p.id);
    assert.deepEqual(paidBy(big, "test.big-meal"), [["coins", 7]]);
    const small = await send({ type: "meal.logged", data: { mealType: "snack", calories: 100 } }, p.id);
    assert.deepEqual(paidBy(small, "test.big-meal"), []);

    const veteran = await createRule({
      key: "test.veteran",
      name: "Veteran exerciser",
      eventType: "exercise.logged",
      condition: { "player.level": { $gte: 2 }, "event.data.minutes": { $gte: 10 } },
      awards: [{ currency: "score", amount: 3 }],
    });
    const novice = await send({ type: "exercise.logged", data: { minutes: 20 } }, p.id);
    assert.deepEqual(paidBy(novice, "test.veteran"), [], "a level 1 player does not qualify");
    // Reach level 2 (100 XP on the default curve) through an adjustment.
    const xp = await asAdmin("POST", `/v1/admin/users/${p.id}/adjustments`, {
      currency: "xp",
      amount: 100,
      reason: "test",
      idempotencyKey: "to-level-2",
    });
    assert.equal(xp.statusCode, 201, xp.body);
    const progress = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/progress",
      headers: bearer(p.accessToken),
    });
    assert.equal(progress.json<{ level: number }>().level, 2);
    const qualified = await send({ type: "exercise.logged", data: { minutes: 20 } }, p.id);
    assert.deepEqual(paidBy(qualified, "test.veteran"), [["score", 3]]);
    const tooShort = await send({ type: "exercise.logged", data: { minutes: 5 } }, p.id);
    assert.deepEqual(paidBy(tooShort, "test.veteran"), []);

    // Leave the shared event types as they were for the other tests.
    for (const rule of [bigMeal, veteran]) {
      assert.equal((await asAdmin("DELETE", `/v1/admin/rules/${rule.id}`)).statusCode, 200);
    }
  });

  it("PATCH makes a new version, GET …/versions lists every version, and events pay the current one", async () => {
    const rule = await createRule({
      key: "test.versioned",
      name: "Versioned",
      eventType: "recipe.tried",
      condition: { "event.data.recipeId": "versioned" },
      awards: [{ currency: "coins", amount: 1 }],
    });
    assert.equal(rule.version, 1);
    const v2 = await asAdmin("PATCH", `/v1/admin/rules/${rule.id}`, {
      awards: [{ currency: "coins", amount: 9 }],
    });
    assert.equal(v2.statusCode, 200, v2.body);
    assert.equal(v2.json<Rule>().version, 2);
    const v3 = await asAdmin("PATCH", `/v1/admin/rules/${rule.id}`, { name: "Versioned, renamed" });
    assert.equal(v3.statusCode, 200, v3.body);
    const current = v3.json<Rule>();
    assert.equal(current.version, 3);
    assert.deepEqual(current.awards, [{ currency: "coins", amount: 9 }], "unchanged fields are kept");
    assert.equal(current.key, "test.versioned");

    const versions = await asAdmin("GET", `/v1/admin/rules/${rule.id}/versions`);
    assert.equal(versions.statusCode, 200, versions.body);
    const items = versions.json<{
      items: { version: number; definition: Rule; changedBy: string | null; changedAt: string }[];
    }>().items;
    assert.deepEqual(
      items.map((v) => v.version),
      [3, 2, 1],
    );
    assert.deepEqual(
      items.map((v) => [v.definition.name, v.definition.awards[0]?.amount]),
      [
        ["Versioned, renamed", 9],
        ["Versioned", 9],
        ["Versioned", 1],
      ],
    );
    for (const v of items) assert.equal(v.changedBy, admin.id);
    const unknown = await asAdmin("GET", `/v1/admin/rules/${randomUUID()}/versions`);
    assert.equal(unknown.statusCode, 404);

    const paid = await send({ type: "recipe.tried", data: { recipeId: "versioned" } });
    assert.deepEqual(paidBy(paid, "test.versioned"), [["coins", 9]]);
    const entry = await ctx.db.asSystem((tx) =>
      tx.one<{ metadata: Record<string, unknown>; reason: string }>(
        `SELECT metadata, reason FROM ledger_entries WHERE reference = $1 AND source = 'rule:test.versioned'`,
        [paid.eventId],
      ),
    );
    assert.deepEqual(entry.metadata, { ruleVersion: 3, eventType: "recipe.tried" });
    assert.equal(entry.reason, "Versioned, renamed");
  });

  it("DELETE deactivates a rule: it stops paying, stays readable, and can be reactivated", async () => {
    const rule = await createRule({
      key: "test.deactivate",
      eventType: "recipe.tried",
      condition: { "event.data.recipeId": "deactivate" },
      awards: [{ currency: "xp", amount: 4 }],
    });
    const before = await send({ type: "recipe.tried", data: { recipeId: "deactivate" } });
    assert.deepEqual(paidBy(before, "test.deactivate"), [["xp", 4]]);

    const deleted = await asAdmin("DELETE", `/v1/admin/rules/${rule.id}`);
    assert.equal(deleted.statusCode, 200, deleted.body);
    assert.deepEqual(
      { active: deleted.json<Rule>().active, version: deleted.json<Rule>().version },
      { active: false, version: 2 },
    );
    const after = await send({ type: "recipe.tried", data: { recipeId: "deactivate" } });
    assert.deepEqual(paidBy(after, "test.deactivate"), []);
    const still = await asAdmin("GET", `/v1/admin/rules/${rule.id}`);
    assert.equal(still.statusCode, 200);
    assert.equal(still.json<Rule>().active, false);

    const reactivated = await asAdmin("PATCH", `/v1/admin/rules/${rule.id}`, { active: true });
    assert.equal(reactivated.json<Rule>().version, 3);
    const again = await send({ type: "recipe.tried", data: { recipeId: "deactivate" } });
    assert.deepEqual(paidBy(again, "test.deactivate"), [["xp", 4]]);
    assert.equal((await asAdmin("DELETE", `/v1/admin/rules/${randomUUID()}`)).statusCode, 404);
  });

  it("audits every change of a rule, event type and currency", async () => {
    const rule = await createRule({
      key: "test.audited",
      eventType: "meal.logged",
      condition: { "event.data.calories": 1 },
    });
    await asAdmin("PATCH", `/v1/admin/rules/${rule.id}`, { priority: 5 });
    await asAdmin("DELETE", `/v1/admin/rules/${rule.id}`);
    const type = await asAdmin("POST", "/v1/admin/event-types", {
      key: "audit.thing",
      description: "audited",
    });
    assert.equal(type.statusCode, 201, type.body);
    await asAdmin("PATCH", "/v1/admin/event-types/audit.thing", { description: "still audited" });
    assert.equal(
      (await asAdmin("POST", "/v1/admin/currencies", { code: "stars", name: "Stars" })).statusCode,
      201,
    );

    const rows = await ctx.db.asSystem((tx) =>
      tx.rows<{
        action: string;
        actor_type: string;
        actor_id: string;
        before_data: unknown;
        after_data: Rule | null;
      }>(
        `SELECT action, actor_type, actor_id, before_data, after_data FROM audit_logs
         WHERE resource_id = ANY($1) ORDER BY created_at, action`,
        [[rule.id, "audit.thing", "stars"]],
      ),
    );
    assert.deepEqual(
      rows.map((r) => r.action),
      [
        "rule.created",
        "rule.updated",
        "rule.updated",
        "event_type.created",
        "event_type.updated",
        "currency.created",
      ],
    );
    for (const r of rows) {
      assert.equal(r.actor_type, "user");
      assert.equal(r.actor_id, admin.id);
    }
    assert.equal(rows[0]?.before_data, null);
    assert.equal(rows[1]?.after_data?.version, 2);
    assert.equal(rows[2]?.after_data?.active, false);
  });

  it("players (and API keys) get 403 on every admin definition route, and change nothing", async () => {
    const rule = await createRule({
      key: "test.forbidden",
      eventType: "meal.logged",
      condition: { "event.data.calories": 2 },
    });
    const before = await definitionState();
    const routes: [string, string, object?][] = [
      ["GET", "/v1/admin/event-types"],
      ["POST", "/v1/admin/event-types", { key: "player.type" }],
      ["PATCH", "/v1/admin/event-types/meal.logged", { clientWritable: false }],
      ["GET", "/v1/admin/rules"],
      ["POST", "/v1/admin/rules", { key: "player.rule", name: "x", eventType: "meal.logged" }],
      ["GET", `/v1/admin/rules/${rule.id}`],
      ["PATCH", `/v1/admin/rules/${rule.id}`, { name: "mine now" }],
      ["DELETE", `/v1/admin/rules/${rule.id}`],
      ["GET", `/v1/admin/rules/${rule.id}/versions`],
      ["GET", "/v1/admin/currencies"],
      ["POST", "/v1/admin/currencies", { code: "player_gold", name: "Gold" }],
      ["GET", "/v1/admin/level-curve"],
      ["PUT", "/v1/admin/level-curve", { kind: "formula", base: 1, exponent: 1, maxLevel: 10 }],
    ];
    for (const headers of [bearer(player.accessToken), { "x-api-key": apiKey }]) {
      for (const [method, url, payload] of routes) {
        const res = await ctx.app.inject({
          method: method as "GET",
          url,
          headers,
          ...(payload ? { payload } : {}),
        });
        assert.equal(res.statusCode, 403, `${method} ${url}: ${res.body}`);
        assert.equal(problem(res).code, "auth.forbidden");
      }
    }
    assert.deepEqual(await definitionState(), before);
  });

  it("GET /v1/event-types lists the active types for players and API keys", async () => {
    const created = await asAdmin("POST", "/v1/admin/event-types", {
      key: "hidden.type",
      description: "soon inactive",
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(
      (await asAdmin("PATCH", "/v1/admin/event-types/hidden.type", { active: false })).statusCode,
      200,
    );

    for (const headers of [bearer(player.accessToken), { "x-api-key": apiKey }]) {
      const res = await ctx.app.inject({ method: "GET", url: "/v1/event-types", headers });
      assert.equal(res.statusCode, 200, res.body);
      const items = res.json<{ items: EventType[] }>().items;
      const meal = items.find((t) => t.key === "meal.logged");
      assert.deepEqual(
        meal && {
          clientWritable: meal.clientWritable,
          clientDailyCap: meal.clientDailyCap,
          system: meal.system,
        },
        { clientWritable: true, clientDailyCap: 20, system: false },
      );
      assert.deepEqual(meal?.dataSchema.required, ["mealType"]);
      assert.equal(items.find((t) => t.key === "social.interaction")?.clientWritable, false);
      assert.equal(items.find((t) => t.key === "level.up")?.system, true);
      assert.ok(!items.some((t) => t.key === "hidden.type"), "inactive types are not listed");
      assert.ok(items.every((t) => t.active));
    }
    const all = await asAdmin("GET", "/v1/admin/event-types");
    assert.equal(
      all.json<{ items: EventType[] }>().items.find((t) => t.key === "hidden.type")?.active,
      false,
    );
    const anonymous = await ctx.app.inject({ method: "GET", url: "/v1/event-types" });
    assert.equal(anonymous.statusCode, 401);

    // An inactive type cannot be sent.
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type: "hidden.type", userId: player.id },
    });
    assert.equal(res.statusCode, 422);
    assert.equal(problem(res).code, "event.unknown_type");
  });

  it("a new event type and a custom currency work end to end", async () => {
    const currency = await asAdmin("POST", "/v1/admin/currencies", {
      code: "gems",
      name: "Gems",
      description: "Shiny",
    });
    assert.equal(currency.statusCode, 201, currency.body);
    assert.deepEqual(currency.json(), {
      code: "gems",
      name: "Gems",
      description: "Shiny",
      allowNegative: false,
      maxBalance: null,
    });
    const again = await asAdmin("POST", "/v1/admin/currencies", { code: "gems", name: "Gems" });
    assert.equal(again.statusCode, 409);
    assert.equal(problem(again).code, "definition.exists");

    const type = await asAdmin("POST", "/v1/admin/event-types", {
      key: "water.drunk",
      description: "Glasses of water",
      clientWritable: true,
      clientDailyCap: 3,
      dataSchema: {
        type: "object",
        required: ["glasses"],
        properties: { glasses: { type: "integer", minimum: 1, maximum: 20 } },
        additionalProperties: false,
      },
    });
    assert.equal(type.statusCode, 201, type.body);
    assert.equal((await asAdmin("POST", "/v1/admin/event-types", { key: "water.drunk" })).statusCode, 409);
    await createRule({
      key: "test.water",
      name: "Hydration",
      eventType: "water.drunk",
      awards: [
        { currency: "gems", field: "data.glasses", multiplier: 2, max: 10 },
        { currency: "xp", amount: 1 },
      ],
      counters: [{ stat: "water.glasses", field: "data.glasses" }],
    });

    const p = await registerPlayer(ctx.app);
    const sent = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: bearer(p.accessToken),
      payload: { type: "water.drunk", data: { glasses: 3 } },
    });
    assert.equal(sent.statusCode, 201, sent.body);
    const result = sent.json<EventResult & { effects: { counters: { stat: string; total: number }[] } }>();
    assert.deepEqual(paidBy(result, "test.water"), [
      ["gems", 6],
      ["xp", 1],
    ]);
    assert.equal(result.effects.balances.gems, 6);
    assert.equal(result.effects.counters.find((c) => c.stat === "water.glasses")?.total, 3);
    const capped = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: bearer(p.accessToken),
      payload: { type: "water.drunk", data: { glasses: 8 } },
    });
    assert.equal(capped.statusCode, 201, capped.body);
    assert.deepEqual(paidBy(capped.json<EventResult>(), "test.water")[0], ["gems", 10]);
    const invalid = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: bearer(p.accessToken),
      payload: { type: "water.drunk", data: { glasses: 0 } },
    });
    assert.equal(invalid.statusCode, 422);
    assert.equal(problem(invalid).code, "event.invalid_data");

    const wallet = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/wallet",
      headers: bearer(p.accessToken),
    });
    const gems = wallet
      .json<{ items: { currency: string; balance: number }[] }>()
      .items.find((w) => w.currency === "gems");
    assert.equal(gems?.balance, 16);
  });
});

describe("definitions: a data schema with $id", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
  });
  after(() => ctx.close());

  it("an event type whose schema has an $id is refused or works, and events keep working", async () => {
    const player = await registerPlayer(ctx.app);
    const send = (payload: object) =>
      ctx.app.inject({ method: "POST", url: "/v1/events", headers: bearer(player.accessToken), payload });
    assert.equal((await send({ type: "meal.logged", data: { mealType: "lunch" } })).statusCode, 201);

    const created = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/event-types",
      headers: bearer(admin.accessToken),
      payload: {
        key: "steps.walked",
        clientWritable: true,
        dataSchema: { $id: "https://example.com/schemas/steps", type: "object" },
      },
    });
    assert.ok([201, 422].includes(created.statusCode), created.body);

    const meal = await send({ type: "meal.logged", data: { mealType: "dinner" } });
    assert.equal(
      meal.statusCode,
      201,
      `after saving a schema with $id, meal.logged answers ${meal.statusCode}: ${meal.body}`,
    );
    if (created.statusCode === 201) {
      const steps = await send({ type: "steps.walked", data: {} });
      assert.equal(steps.statusCode, 201, steps.body);
    }
  });
});
