import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  problem,
  registerPlayer,
  tableDigests,
  type TestContext,
} from "../../test/helpers/context.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const POOL = "dietgame-daily-bonus";
const POOL_QUESTS = ["bonus-breakfast", "bonus-move-15", "bonus-share"];
const SEED_PACKS = ["dietgame", "dietgame-streaks-quests"];
/** Tokens must outlive the days the clock is moved through. */
const LONG_TOKENS = 10 * 365 * 86_400;

interface QuestTemplate {
  key: string;
  name: string;
  description: string;
  category: string;
  difficulty: string;
  cadence: string;
  startsAt: string | null;
  endsAt: string | null;
  target: number;
  eventTypes: string[];
  condition: Record<string, unknown> | null;
  amountField: string | null;
  mode: string;
  rewards: { currency: string; amount: number }[];
  timeLimitHours: number | null;
  pool: string | null;
  active: boolean;
}
interface MyQuest {
  key: string;
  name: string;
  description: string;
  category: string;
  difficulty: string;
  cadence: string;
  period: string;
  status: "active" | "completed" | "expired" | "rerolled";
  progress: number;
  target: number;
  rewards: { currency: string; amount: number }[];
  pool: string | null;
  startsAt: string;
  expiresAt: string;
  secondsLeft: number;
  completedAt: string | null;
}
interface QuestEffect {
  key: string;
  period: string;
  progress: number;
  target: number;
  completed: boolean;
}
interface Effects {
  awards: { rule: string; currency: string; amount: number }[];
  quests: QuestEffect[];
  streaks: { key: string; change: string; current: number }[];
}
type Player = Awaited<ReturnType<typeof registerPlayer>>;

/** Requests shared by the describe blocks below, each on its own app. */
function client(get: () => { ctx: TestContext; adminToken: string; apiKey: string }) {
  const inject = (
    method: "GET" | "POST" | "PATCH",
    url: string,
    token: string | undefined,
    payload?: unknown,
  ) =>
    get().ctx.app.inject({
      method,
      url,
      headers: token === undefined ? {} : bearer(token),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const asAdmin = (method: "GET" | "POST" | "PATCH", url: string, payload?: unknown) =>
    inject(method, url, get().adminToken, payload);

  async function event(userId: string, type: string, data: Record<string, unknown>): Promise<Effects> {
    const res = await get().ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": get().apiKey },
      payload: { type, userId, data },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ effects: Effects }>().effects;
  }

  async function page(token: string, query = "") {
    const res = await inject("GET", `/v1/me/quests${query}`, token);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ items: MyQuest[]; nextCursor: string | null }>();
  }
  const quests = async (token: string, status = "current") =>
    (await page(token, `?status=${status}&limit=100`)).items;

  async function createQuest(body: Record<string, unknown>): Promise<QuestTemplate> {
    const res = await asAdmin("POST", "/v1/admin/quests", body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json<QuestTemplate>();
  }
  return { inject, asAdmin, event, page, quests, createQuest };
}

const summary = (q: MyQuest) => `${q.key}@${q.period}:${q.status}`;
const byKey = (items: MyQuest[], key: string) => items.find((q) => q.key === key);

async function auditRows(ctx: TestContext, action: string, resourceId: string) {
  return ctx.db.asSystem((tx) =>
    tx.rows<{
      actor_id: string | null;
      resource_type: string;
      before_data: Record<string, unknown> | null;
      after_data: Record<string, unknown> | null;
    }>(
      `SELECT actor_id, resource_type, before_data, after_data FROM audit_logs
       WHERE action = $1 AND resource_id = $2 ORDER BY created_at`,
      [action, resourceId],
    ),
  );
}

const TEMPLATE_TABLES = ["quest_templates", "quest_pools", "audit_logs"] as const;

describe("quest templates and pools (admin)", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  const { inject, asAdmin, event, quests, createQuest } = client(() => ({
    ctx,
    adminToken: admin.accessToken,
    apiKey,
  }));

  before(async () => {
    ctx = await createTestContext({ packs: SEED_PACKS, accessTokenTtlSeconds: LONG_TOKENS });
    ctx.clock.set("2026-06-10T03:00:00Z");
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  after(() => ctx.close());

  const minimal = { name: "Minimal", cadence: "week", target: 2, eventTypes: ["recipe.tried"] };

  it("lists the seeded templates with every field, and the pool", async () => {
    const res = await asAdmin("GET", "/v1/admin/quests");
    assert.equal(res.statusCode, 200, res.body);
    const items = res.json<{ items: QuestTemplate[] }>().items;
    assert.deepEqual(items.map((q) => q.key).sort(), [
      "bonus-breakfast",
      "bonus-move-15",
      "bonus-share",
      "daily-nutrition-log",
      "exercise-log",
      "recipe-master",
      "social-engagement",
      "weekly-streak",
    ]);
    assert.deepEqual(byKeyT(items, "bonus-move-15"), {
      key: "bonus-move-15",
      name: "Move 15",
      description: "Exercise for 15 minutes in one go",
      category: "fitness",
      difficulty: "easy",
      cadence: "day",
      startsAt: null,
      endsAt: null,
      target: 15,
      eventTypes: ["exercise.logged"],
      condition: null,
      amountField: "data.minutes",
      mode: "max",
      rewards: [{ currency: "coins", amount: 50 }],
      timeLimitHours: null,
      pool: POOL,
      active: true,
    });
    assert.deepEqual(byKeyT(items, "weekly-streak")?.condition, { "event.data.key": "nutrition" });
    const pools = await asAdmin("GET", "/v1/admin/quest-pools");
    assert.equal(pools.statusCode, 200, pools.body);
    assert.deepEqual(pools.json(), { items: [{ key: POOL, name: "Daily bonus", size: 1, rerolls: 1 }] });
  });

  const byKeyT = (items: QuestTemplate[], key: string) => items.find((q) => q.key === key);

  it("creates a template with defaults for what is left out, and audits it", async () => {
    const created = await createQuest({ key: "minimal", ...minimal, active: false });
    assert.deepEqual(created, {
      key: "minimal",
      name: "Minimal",
      description: "",
      category: "general",
      difficulty: "easy",
      cadence: "week",
      startsAt: null,
      endsAt: null,
      target: 2,
      eventTypes: ["recipe.tried"],
      condition: null,
      amountField: null,
      mode: "sum",
      rewards: [],
      timeLimitHours: null,
      pool: null,
      active: false,
    });
    const listed = (await asAdmin("GET", "/v1/admin/quests")).json<{ items: QuestTemplate[] }>().items;
    assert.deepEqual(byKeyT(listed, "minimal"), created);
    const audits = await auditRows(ctx, "quest.created", "minimal");
    assert.equal(audits.length, 1);
    assert.equal(audits[0]?.actor_id, admin.id);
    assert.equal(audits[0]?.resource_type, "quest");
    assert.equal(audits[0]?.before_data, null);
    assert.deepEqual(audits[0]?.after_data, created);

    const special = await createQuest({
      key: "special-window",
      ...minimal,
      cadence: "special",
      startsAt: "2026-07-01T09:00:00+09:00",
      endsAt: "2026-07-08T00:00:00Z",
      amountField: "data.isNew",
      mode: "max",
      timeLimitHours: 48,
      pool: POOL,
      difficulty: "legendary",
      active: false,
    });
    assert.deepEqual(
      [special.startsAt, special.endsAt, special.amountField, special.mode, special.pool, special.difficulty],
      ["2026-07-01T00:00:00.000Z", "2026-07-08T00:00:00.000Z", "data.isNew", "max", POOL, "legendary"],
    );
  });

  it("PATCH changes only the fields given (nullable ones can be cleared) and audits before and after", async () => {
    const before = await createQuest({
      key: "patch-me",
      ...minimal,
      description: "before",
      rewards: [{ currency: "coins", amount: 10 }],
      timeLimitHours: 5,
      pool: POOL,
      active: false,
    });
    const res = await asAdmin("PATCH", "/v1/admin/quests/patch-me", { target: 9, difficulty: "hard" });
    assert.equal(res.statusCode, 200, res.body);
    const changed = res.json<QuestTemplate>();
    assert.deepEqual(changed, { ...before, target: 9, difficulty: "hard" });
    const cleared = await asAdmin("PATCH", "/v1/admin/quests/patch-me", { pool: null, timeLimitHours: null });
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.deepEqual(cleared.json(), { ...changed, pool: null, timeLimitHours: null });
    const audits = await auditRows(ctx, "quest.updated", "patch-me");
    assert.equal(audits.length, 2);
    assert.deepEqual(audits[0]?.before_data, before);
    assert.deepEqual(audits[0]?.after_data, changed);
  });

  it("creates and changes pools, audited, with one reroll by default", async () => {
    const res = await asAdmin("POST", "/v1/admin/quest-pools", { key: "side-pool", name: "Side", size: 2 });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json(), { key: "side-pool", name: "Side", size: 2, rerolls: 1 });
    const changed = await asAdmin("PATCH", "/v1/admin/quest-pools/side-pool", { rerolls: 3 });
    assert.equal(changed.statusCode, 200, changed.body);
    assert.deepEqual(changed.json(), { key: "side-pool", name: "Side", size: 2, rerolls: 3 });
    const listed = (await asAdmin("GET", "/v1/admin/quest-pools")).json<{ items: { key: string }[] }>().items;
    assert.deepEqual(
      listed.map((p) => p.key),
      [POOL, "side-pool"],
    );
    assert.equal((await auditRows(ctx, "quest_pool.created", "side-pool")).length, 1);
    const [updated] = await auditRows(ctx, "quest_pool.updated", "side-pool");
    assert.deepEqual([updated?.before_data?.rerolls, updated?.after_data?.rerolls], [1, 3]);
    // A template may now be drawn from the new pool.
    const pooled = await createQuest({ key: "in-side-pool", ...minimal, pool: "side-pool", active: false });
    assert.equal(pooled.pool, "side-pool");
  });

  it("refuses existing keys (409) and unknown ones (404), writing nothing", async () => {
    const digests = await tableDigests(ctx, TEMPLATE_TABLES);
    const cases = [
      ["POST", "/v1/admin/quests", { key: "daily-nutrition-log", ...minimal }, 409, "definition.exists"],
      ["POST", "/v1/admin/quest-pools", { key: POOL, name: "Again", size: 1 }, 409, "definition.exists"],
      ["PATCH", "/v1/admin/quests/no-such-quest", { name: "Ghost" }, 404, "resource.not_found"],
      ["PATCH", "/v1/admin/quest-pools/no-such-pool", { size: 2 }, 404, "resource.not_found"],
    ] as const;
    for (const [method, url, body, status, code] of cases) {
      const res = await asAdmin(method, url, body);
      assert.equal(res.statusCode, status, `${method} ${url}: ${res.body}`);
      assert.equal(problem(res).code, code);
    }
    assert.deepEqual(await tableDigests(ctx, TEMPLATE_TABLES), digests);
  });

  const window = { startsAt: "2026-07-01T00:00:00Z", endsAt: "2026-07-08T00:00:00Z" };
  const invalid: { name: string; body: Record<string, unknown>; path: string; detail: RegExp }[] = [
    {
      name: "a condition with $where",
      body: { condition: { $where: "sleep(1000)" } },
      path: "body/condition",
      detail: /\$where is not allowed/,
    },
    {
      name: "a condition with $function",
      body: { condition: { "event.data": { $function: {} } } },
      path: "body/condition",
      detail: /\$function is not allowed/,
    },
    {
      name: "an unknown event type",
      body: { eventTypes: ["recipe.tried", "meal.eaten"] },
      path: "body/eventTypes/1",
      detail: /Unknown event type meal\.eaten/,
    },
    {
      name: "an unknown reward currency",
      body: {
        rewards: [
          { currency: "coins", amount: 1 },
          { currency: "gems", amount: 1 },
        ],
      },
      path: "body/rewards/1/currency",
      detail: /Unknown currency gems/,
    },
    {
      name: "an unknown pool",
      body: { pool: "no-such-pool" },
      path: "body/pool",
      detail: /Unknown pool no-such-pool/,
    },
    {
      name: "a special quest without a window",
      body: { cadence: "special" },
      path: "body/startsAt",
      detail: /special quest needs startsAt and endsAt/,
    },
    {
      name: "a special quest without an end",
      body: { cadence: "special", startsAt: window.startsAt },
      path: "body/startsAt",
      detail: /special quest needs startsAt and endsAt/,
    },
    {
      name: "a window that ends before it starts",
      body: { startsAt: window.endsAt, endsAt: window.startsAt },
      path: "body/endsAt",
      detail: /endsAt must be after startsAt/,
    },
    {
      name: "a window that ends as it starts",
      body: { cadence: "special", startsAt: window.startsAt, endsAt: "2026-07-01T02:00:00+02:00" },
      path: "body/endsAt",
      detail: /endsAt must be after startsAt/,
    },
    {
      name: "mode max without an amountField",
      body: { mode: "max" },
      path: "body/amountField",
      detail: /mode max needs an amountField/,
    },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name} with 422 definition.invalid at ${c.path}`, async () => {
      const digests = await tableDigests(ctx, TEMPLATE_TABLES);
      const res = await asAdmin("POST", "/v1/admin/quests", { key: "bad-quest", ...minimal, ...c.body });
      assert.equal(res.statusCode, 422, res.body);
      const body = problem(res);
      assert.equal(body.code, "definition.invalid");
      assert.match(body.detail, c.detail);
      assert.deepEqual(
        body.errors?.map((e) => e.path),
        [c.path],
      );
      assert.deepEqual(await tableDigests(ctx, TEMPLATE_TABLES), digests);
    });
  }

  it("checks a PATCH against the whole stored template, refusing what would make it invalid", async () => {
    const digests = await tableDigests(ctx, TEMPLATE_TABLES);
    const patches: [string, Record<string, unknown>, string][] = [
      // exercise-log has an amountField but no window; bonus-move-15 is in mode max.
      ["exercise-log", { mode: "max", amountField: null }, "body/amountField"],
      ["recipe-master", { mode: "distinct" }, "body/amountField"],
      ["bonus-move-15", { amountField: null }, "body/amountField"],
      ["exercise-log", { cadence: "special" }, "body/startsAt"],
      ["exercise-log", { endsAt: "2026-01-01T00:00:00Z", startsAt: "2026-02-01T00:00:00Z" }, "body/endsAt"],
      ["exercise-log", { eventTypes: ["nope"] }, "body/eventTypes/0"],
      ["exercise-log", { pool: "nope" }, "body/pool"],
      ["exercise-log", { condition: { $where: "1" } }, "body/condition"],
    ];
    for (const [key, body, path] of patches) {
      const res = await asAdmin("PATCH", `/v1/admin/quests/${key}`, body);
      assert.equal(res.statusCode, 422, `${key} ${JSON.stringify(body)}: ${res.body}`);
      assert.deepEqual(
        problem(res).errors?.map((e) => e.path),
        [path],
      );
    }
    assert.deepEqual(await tableDigests(ctx, TEMPLATE_TABLES), digests);
  });

  it("refuses schema violations with 400 validation.failed, writing nothing", async () => {
    const digests = await tableDigests(ctx, TEMPLATE_TABLES);
    const valid = { key: "schema-case", ...minimal };
    const huge = "x".repeat(100_000);
    const bodies: [string, unknown][] = [
      ["no key", { ...valid, key: undefined }],
      ["no target", { ...valid, target: undefined }],
      ["no eventTypes", { ...valid, eventTypes: undefined }],
      ["no cadence", { ...valid, cadence: undefined }],
      ["an amountField without data.", { ...valid, amountField: "minutes" }],
      ["an amountField ending in a dot", { ...valid, amountField: "data." }],
      ["an amountField with a dash", { ...valid, amountField: "data.a-b" }],
      ["an amountField of 101 characters", { ...valid, amountField: `data.${"m".repeat(96)}` }],
      ["target 0", { ...valid, target: 0 }],
      ["target -1", { ...valid, target: -1 }],
      ["a fractional target", { ...valid, target: 1.5 }],
      ["target as a string", { ...valid, target: "3" }],
      ["a target over a billion", { ...valid, target: 1_000_000_001 }],
      ["an unknown field", { ...valid, xp: 5 }],
      ["an unknown cadence", { ...valid, cadence: "yearly" }],
      ["an unknown difficulty", { ...valid, difficulty: "impossible" }],
      ["an unknown mode", { ...valid, mode: "avg" }],
      ["timeLimitHours 0", { ...valid, timeLimitHours: 0 }],
      ["timeLimitHours over a leap year", { ...valid, timeLimitHours: 8785 }],
      ["a pool key in capitals", { ...valid, pool: "Daily" }],
      ["startsAt that is not a date", { ...valid, startsAt: "next tuesday" }],
      ["a key in capitals", { ...valid, key: "Schema" }],
      ["a key of 65 characters", { ...valid, key: "q".repeat(65) }],
      ["a name of 100,000 characters", { ...valid, name: huge }],
      ["a description of 100,000 characters", { ...valid, description: huge }],
      ["a reward of 0", { ...valid, rewards: [{ currency: "coins", amount: 0 }] }],
      [
        "eleven rewards",
        { ...valid, rewards: Array.from({ length: 11 }, () => ({ currency: "coins", amount: 1 })) },
      ],
      ["a reward with an unknown field", { ...valid, rewards: [{ currency: "coins", amount: 1, x: 1 }] }],
      ["no event types", { ...valid, eventTypes: [] }],
      ["a condition that is a string", { ...valid, condition: "true" }],
      ["an array", [valid]],
    ];
    for (const [label, body] of bodies) {
      const res = await asAdmin("POST", "/v1/admin/quests", body);
      assert.equal(res.statusCode, 400, `${label}: ${res.body.slice(0, 200)}`);
      assert.equal(problem(res).code, "validation.failed", label);
    }
    const patches: [string, unknown][] = [
      ["an empty change", {}],
      ["a key in the body", { key: "renamed" }],
      ["target 0", { target: 0 }],
      ["an amountField without data.", { amountField: "minutes" }],
    ];
    for (const [label, body] of patches) {
      const res = await asAdmin("PATCH", "/v1/admin/quests/exercise-log", body);
      assert.equal(res.statusCode, 400, `${label}: ${res.body.slice(0, 200)}`);
      assert.equal(problem(res).code, "validation.failed", label);
    }
    const poolBodies: [string, string, unknown][] = [
      ["POST", "size 0", { key: "p2", name: "P", size: 0 }],
      ["POST", "size 51", { key: "p2", name: "P", size: 51 }],
      ["POST", "rerolls 11", { key: "p2", name: "P", size: 1, rerolls: 11 }],
      ["POST", "rerolls -1", { key: "p2", name: "P", size: 1, rerolls: -1 }],
      ["POST", "no size", { key: "p2", name: "P" }],
      ["POST", "an empty name", { key: "p2", name: "", size: 1 }],
      ["POST", "an unknown field", { key: "p2", name: "P", size: 1, weight: 2 }],
      ["POST", "size as a string", { key: "p2", name: "P", size: "1" }],
      ["PATCH", "an empty change", {}],
      ["PATCH", "a key in the body", { key: "p3" }],
    ];
    for (const [method, label, body] of poolBodies) {
      const url = method === "POST" ? "/v1/admin/quest-pools" : `/v1/admin/quest-pools/${POOL}`;
      const res = await asAdmin(method as "POST" | "PATCH", url, body);
      assert.equal(res.statusCode, 400, `pool ${label}: ${res.body.slice(0, 200)}`);
      assert.equal(problem(res).code, "validation.failed", label);
    }
    for (const [url, payload] of [
      ["/v1/admin/quests", '{"key": "x", "name":'],
      ["/v1/admin/quest-pools", "{"],
    ]) {
      const res = await ctx.app.inject({
        method: "POST",
        url,
        headers: { ...bearer(admin.accessToken), "content-type": "application/json" },
        payload,
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(problem(res).code, "request.malformed_json");
    }
    const xml = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/quests",
      headers: { ...bearer(admin.accessToken), "content-type": "application/xml" },
      payload: "<quest/>",
    });
    assert.equal(xml.statusCode, 415);
    assert.equal(problem(xml).code, "request.unsupported_media_type");
    for (const key of ["Exercise-Log", "q".repeat(65), "q".repeat(5000), "exercise%20log", "bad%E0%A4%A"]) {
      for (const base of ["/v1/admin/quests", "/v1/admin/quest-pools"]) {
        const res = await asAdmin("PATCH", `${base}/${key}`, { name: "Renamed" });
        assert.equal(res.statusCode, 400, `${base}/${key.slice(0, 20)}: ${res.body.slice(0, 200)}`);
        assert.ok(["validation.failed", "request.invalid"].includes(problem(res).code));
      }
    }
    assert.deepEqual(await tableDigests(ctx, TEMPLATE_TABLES), digests);
  });

  it("creates a template or pool once when the same create is sent concurrently", async () => {
    for (const [url, body, action] of [
      ["/v1/admin/quests", { key: "raced", ...minimal, active: false }, "quest.created"],
      ["/v1/admin/quest-pools", { key: "raced-pool", name: "Raced", size: 1 }, "quest_pool.created"],
    ] as const) {
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => asAdmin("POST", url, { ...body, name: `Raced ${i}` })),
      );
      assert.deepEqual(answers.map((a) => a.statusCode).sort(), [201, 409, 409, 409, 409, 409], url);
      assert.equal((await auditRows(ctx, action, body.key)).length, 1, url);
    }
  });

  it("answers 401 without a token and 403 to a player, writing nothing", async () => {
    const player = await registerPlayer(ctx.app);
    const digests = await tableDigests(ctx, TEMPLATE_TABLES);
    const requests = [
      ["GET", "/v1/admin/quests", undefined],
      ["POST", "/v1/admin/quests", { key: "sneaky", ...minimal }],
      ["PATCH", "/v1/admin/quests/exercise-log", { target: 1 }],
      ["GET", "/v1/admin/quest-pools", undefined],
      ["POST", "/v1/admin/quest-pools", { key: "sneaky", name: "S", size: 1 }],
      ["PATCH", `/v1/admin/quest-pools/${POOL}`, { rerolls: 10 }],
    ] as const;
    for (const [method, url, payload] of requests) {
      const anonymous = await inject(method, url, undefined, payload);
      assert.equal(anonymous.statusCode, 401, `${method} ${url}`);
      assert.equal(problem(anonymous).code, "auth.unauthenticated");
      const asPlayer = await inject(method, url, player.accessToken, payload);
      assert.equal(asPlayer.statusCode, 403, `${method} ${url}`);
      assert.equal(problem(asPlayer).code, "auth.forbidden");
    }
    for (const [method, url] of [
      ["GET", "/v1/me/quests"],
      ["POST", "/v1/me/quests/bonus-share/reroll"],
    ] as const) {
      const anonymous = await inject(method, url, undefined);
      assert.equal(anonymous.statusCode, 401, `${method} ${url}`);
      assert.equal(problem(anonymous).code, "auth.unauthenticated");
    }
    assert.deepEqual(await tableDigests(ctx, TEMPLATE_TABLES), digests);
  });

  it("gives a new template from the next look, and stops giving it once switched off", async () => {
    const first = await registerPlayer(ctx.app, { timeZone: "Asia/Tokyo" });
    // The first look loads (and caches) the definitions before the template exists.
    assert.equal(byKey(await quests(first.accessToken), "cook-twice"), undefined);
    await createQuest({
      key: "cook-twice",
      name: "Cook twice",
      cadence: "week",
      target: 2,
      eventTypes: ["recipe.tried"],
      rewards: [{ currency: "coins", amount: 7 }],
    });
    const given = byKey(await quests(first.accessToken), "cook-twice");
    assert.deepEqual(given && [given.period, given.status, given.progress, given.target], [
      "2026-W24",
      "active",
      0,
      2,
    ]);
    await event(first.id, "recipe.tried", { recipeId: "a" });
    const done = await event(first.id, "recipe.tried", { recipeId: "b" });
    assert.deepEqual(
      done.quests.filter((q) => q.key === "cook-twice").map((q) => [q.progress, q.completed]),
      [[2, true]],
    );
    assert.deepEqual(
      done.awards.filter((a) => a.rule === "quest:cook-twice").map((a) => [a.currency, a.amount]),
      [["coins", 7]],
    );

    const off = await asAdmin("PATCH", "/v1/admin/quests/cook-twice", { active: false });
    assert.equal(off.statusCode, 200, off.body);
    const second = await registerPlayer(ctx.app, { timeZone: "Asia/Tokyo" });
    assert.equal(byKey(await quests(second.accessToken), "cook-twice"), undefined);
  });
});

describe("my quests", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  const { inject, asAdmin, event, page, quests } = client(() => ({
    ctx,
    adminToken: admin.accessToken,
    apiKey,
  }));

  // Wednesday 10 June 2026 (ISO week 24) at noon in Tokyo (UTC+9, no daylight saving).
  const NOON = "2026-06-10T03:00:00Z";
  const DAY_START = "2026-06-09T15:00:00.000Z";
  const DAY_END = "2026-06-10T15:00:00.000Z";
  const WEEK_START = "2026-06-07T15:00:00.000Z";
  const WEEK_END = "2026-06-14T15:00:00.000Z";
  const at = (iso: string, plus = 0) => new Date(Date.parse(iso) + plus).toISOString();

  before(async () => {
    ctx = await createTestContext({ packs: SEED_PACKS, accessTokenTtlSeconds: LONG_TOKENS });
    ctx.clock.set(NOON);
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  after(() => ctx.close());

  const tokyoPlayer = () => registerPlayer(ctx.app, { timeZone: "Asia/Tokyo" });
  const poolQuest = (items: MyQuest[]) => {
    const drawn = items.filter((q) => q.pool === POOL && q.status !== "rerolled");
    assert.equal(drawn.length, 1, `one pool quest: ${items.map(summary).join(", ")}`);
    return drawn[0]!;
  };
  const reroll = (token: string, key: string) => inject("POST", `/v1/me/quests/${key}/reroll`, token);

  /** The event that completes each pool quest. */
  const completing: Record<string, [string, Record<string, unknown>]> = {
    "bonus-breakfast": ["meal.logged", { mealType: "breakfast" }],
    "bonus-move-15": ["exercise.logged", { minutes: 15 }],
    "bonus-share": ["social.interaction", { kind: "share" }],
  };

  /** A player whose draw for today is `key` (the draw hashes the player's id, so a few may be needed). */
  async function playerDrawing(key: string): Promise<{ player: Player; items: MyQuest[] }> {
    for (let i = 0; i < 40; i++) {
      const player = await tokyoPlayer();
      const items = await quests(player.accessToken);
      if (poolQuest(items).key === key) return { player, items };
    }
    throw new Error(`no player drew ${key} in 40 tries`);
  }

  it("assigns the current periods' quests on first look, in the player's calendar", async () => {
    ctx.clock.set(NOON);
    const player = await tokyoPlayer();
    const res = await page(player.accessToken);
    assert.equal(res.nextCursor, null);
    const items = res.items;
    const drawn = poolQuest(items);
    assert.ok(POOL_QUESTS.includes(drawn.key));
    // Newest expiry first: the week's quests, then the day's.
    assert.deepEqual(
      items.map((q) => [q.cadence, q.period]),
      [
        ["week", "2026-W24"],
        ["week", "2026-W24"],
        ["week", "2026-W24"],
        ["day", "2026-06-10"],
        ["day", "2026-06-10"],
        ["day", "2026-06-10"],
      ],
    );
    assert.deepEqual(
      items.map((q) => q.key).sort(),
      [
        ...["daily-nutrition-log", "exercise-log", drawn.key, "recipe-master", "social-engagement"],
        "weekly-streak",
      ].sort(),
    );
    assert.deepEqual(byKey(items, "daily-nutrition-log"), {
      key: "daily-nutrition-log",
      name: "Daily Nutrition Log",
      description: "Log breakfast, lunch and dinner today",
      category: "nutrition",
      difficulty: "easy",
      cadence: "day",
      period: "2026-06-10",
      status: "active",
      progress: 0,
      target: 3,
      rewards: [
        { currency: "xp", amount: 150 },
        { currency: "coins", amount: 300 },
      ],
      pool: null,
      startsAt: DAY_START,
      // 24 hours from noon would be later than the day's end: the day's end it is.
      expiresAt: DAY_END,
      secondsLeft: 12 * 3600,
      completedAt: null,
    });
    const weekly = byKey(items, "weekly-streak");
    assert.deepEqual(weekly && [weekly.startsAt, weekly.expiresAt, weekly.secondsLeft], [
      WEEK_START,
      WEEK_END,
      4.5 * 86_400,
    ]);
    // Looking again gives nothing new and the same draw.
    const again = await quests(player.accessToken);
    assert.deepEqual(again.map(summary), items.map(summary));
    const rows = await ctx.db.asSystem((tx) =>
      tx.one<{ n: number }>(`SELECT count(*)::int AS n FROM user_quests WHERE user_id = $1`, [player.id]),
    );
    assert.equal(rows.n, 6);
  });

  it("uses each player's own zone for period keys and ends", async () => {
    ctx.clock.set(NOON); // 23:00 on Tuesday 9 June in New York
    const player = await registerPlayer(ctx.app, { timeZone: "America/New_York" });
    const items = await quests(player.accessToken);
    const daily = byKey(items, "daily-nutrition-log");
    assert.deepEqual(daily && [daily.period, daily.startsAt, daily.expiresAt, daily.secondsLeft], [
      "2026-06-09",
      "2026-06-09T04:00:00.000Z",
      "2026-06-10T04:00:00.000Z",
      3600,
    ]);
    const weekly = byKey(items, "weekly-streak");
    assert.deepEqual(weekly && [weekly.period, weekly.startsAt, weekly.expiresAt], [
      "2026-W24",
      "2026-06-08T04:00:00.000Z",
      "2026-06-15T04:00:00.000Z",
    ]);
  });

  it("filters by status, and yesterday's unfinished quests show as expired once the day is over", async () => {
    ctx.clock.set(NOON);
    const player = await tokyoPlayer();
    for (const mealType of ["breakfast", "lunch", "dinner"])
      await event(player.id, "meal.logged", { mealType });
    await event(player.id, "recipe.tried", { recipeId: "r", isNew: false });
    const keys = async (status: string) => (await quests(player.accessToken, status)).map(summary).sort();
    const drawn = poolQuest(await quests(player.accessToken)).key;
    // Daily Nutrition Log needs a breakfast, which also completes bonus-breakfast if the pool drew it.
    const drawnDone = drawn === "bonus-breakfast";

    const today = [
      "daily-nutrition-log@2026-06-10:completed",
      "exercise-log@2026-06-10:active",
      `${drawn}@2026-06-10:${drawnDone ? "completed" : "active"}`,
      "recipe-master@2026-W24:active",
      "social-engagement@2026-W24:active",
      "weekly-streak@2026-W24:active",
    ].sort();
    assert.deepEqual(await keys("current"), today);
    assert.deepEqual(
      await keys("active"),
      today.filter((k) => k.endsWith(":active")),
    );
    assert.deepEqual(await keys("expired"), []);
    const completed = byKey(await quests(player.accessToken), "daily-nutrition-log");
    assert.deepEqual(completed && [completed.progress, completed.completedAt, completed.secondsLeft], [
      3,
      at(NOON),
      0,
    ]);
    // The default is current.
    assert.deepEqual((await page(player.accessToken)).items.map(summary).sort(), today);

    ctx.clock.set(at(NOON, DAY));
    const tomorrowDrawn = poolQuest(await quests(player.accessToken)).key;
    const expired = await quests(player.accessToken, "expired");
    assert.deepEqual(
      expired.map(summary).sort(),
      ["exercise-log@2026-06-10:expired", ...(drawnDone ? [] : [`${drawn}@2026-06-10:expired`])].sort(),
    );
    assert.ok(expired.every((q) => q.secondsLeft === 0 && q.expiresAt === DAY_END));
    assert.deepEqual(
      await keys("current"),
      [
        "daily-nutrition-log@2026-06-11:active",
        "exercise-log@2026-06-11:active",
        `${tomorrowDrawn}@2026-06-11:active`,
        "recipe-master@2026-W24:active",
        "social-engagement@2026-W24:active",
        "weekly-streak@2026-W24:active",
      ].sort(),
    );
    assert.deepEqual(
      await keys("active"),
      (await keys("current")).filter((k) => k.endsWith(":active")),
    );
    // The weekly quest kept its progress across the day: the streak counted on both days it was fed.
    await event(player.id, "meal.logged", { mealType: "dinner" });
    const weekly = byKey(await quests(player.accessToken), "weekly-streak");
    assert.equal(weekly?.progress, 2);
  });

  it("pages through quests with limit and cursor, refusing bad cursors and queries", async () => {
    ctx.clock.set(NOON);
    const player = await tokyoPlayer();
    await quests(player.accessToken);
    ctx.clock.set(at(NOON, DAY));
    async function walk(status: string): Promise<string[]> {
      const walked: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `?status=${status}&limit=1${cursor === null ? "" : `&cursor=${cursor}`}`;
        const res = await page(player.accessToken, query);
        assert.equal(res.items.length, 1, query);
        walked.push(summary(res.items[0]!));
        cursor = res.nextCursor;
      } while (cursor !== null && walked.length < 20);
      return walked;
    }
    const current = await quests(player.accessToken);
    assert.equal(current.length, 6);
    assert.deepEqual(await walk("current"), current.map(summary));
    const expired = await quests(player.accessToken, "expired");
    assert.equal(expired.length, 3);
    assert.deepEqual(await walk("expired"), expired.map(summary));
    const fours = await page(player.accessToken, "?limit=4");
    const rest = await page(player.accessToken, `?limit=4&cursor=${fours.nextCursor}`);
    assert.deepEqual([...fours.items, ...rest.items].map(summary), current.map(summary));
    assert.deepEqual([fours.items.length, rest.items.length, rest.nextCursor], [4, 2, null]);

    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const digests = await tableDigests(ctx, ["user_quests"]);
    for (const [query, code] of [
      ["?cursor=not*base64", "validation.failed"],
      [`?cursor=${Buffer.from("garbage").toString("base64url")}`, "validation.failed"],
      [`?cursor=${b64({ at: "2026-06-10", id: 1 })}`, "validation.failed"],
      [`?cursor=${b64(["2026-02-31 10:00:00+00", randomUUID()])}`, "request.invalid"],
      [`?cursor=${"a".repeat(201)}`, "validation.failed"],
      ["?limit=0", "validation.failed"],
      ["?limit=101", "validation.failed"],
      ["?limit=abc", "validation.failed"],
      ["?status=rerolled", "validation.failed"],
      ["?status=", "validation.failed"],
      ["?page=2", "validation.failed"],
    ]) {
      const res = await inject("GET", `/v1/me/quests${query}`, player.accessToken);
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      assert.equal(problem(res).code, code, query);
    }
    assert.deepEqual(await tableDigests(ctx, ["user_quests"]), digests);
  });

  it("lists history with status=completed and status=all: yesterday's quests, rerolled ones, page by page", async () => {
    ctx.clock.set(NOON);
    const player = await tokyoPlayer();
    // Rerolled before the meals: Daily Nutrition Log needs a breakfast, which would complete
    // bonus-breakfast if the pool drew it (a completed quest cannot be rerolled).
    const first = poolQuest(await quests(player.accessToken));
    const rerolled = await reroll(player.accessToken, first.key);
    assert.equal(rerolled.statusCode, 200, rerolled.body);
    const second = poolQuest(await quests(player.accessToken));
    for (const mealType of ["breakfast", "lunch", "dinner"])
      await event(player.id, "meal.logged", { mealType });
    ctx.clock.set(at(NOON, DAY));
    await quests(player.accessToken);

    const completed = await quests(player.accessToken, "completed");
    assert.deepEqual(
      completed.map(summary).sort(),
      [
        "daily-nutrition-log@2026-06-10:completed",
        ...(second.key === "bonus-breakfast" ? ["bonus-breakfast@2026-06-10:completed"] : []),
      ].sort(),
    );
    const daily = completed.find((q) => q.key === "daily-nutrition-log");
    assert.deepEqual([daily?.progress, daily?.completedAt, daily?.secondsLeft], [3, at(NOON), 0]);
    const all = await quests(player.accessToken, "all");
    assert.equal(all.length, 10, all.map(summary).join(", "));
    assert.equal(all.find((q) => q.key === first.key && q.period === "2026-06-10")?.status, "rerolled");
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?status=all&limit=1${cursor === null ? "" : `&cursor=${cursor}`}`;
      const res = await page(player.accessToken, query);
      walked.push(...res.items.map(summary));
      cursor = res.nextCursor;
    } while (cursor !== null && walked.length < 20);
    assert.deepEqual(walked, all.map(summary));
  });

  it("advances by an amount field: summed for exercise-log, the largest one for bonus-move-15 (mode max)", async () => {
    ctx.clock.set(NOON);
    const { player } = await playerDrawing("bonus-move-15");
    const progress = async (minutes: number) =>
      Object.fromEntries(
        (await event(player.id, "exercise.logged", { minutes })).quests.map((q) => [
          q.key,
          [q.progress, q.completed],
        ]),
      );
    assert.deepEqual(await progress(10), { "exercise-log": [10, false], "bonus-move-15": [10, false] });
    assert.deepEqual(await progress(5), { "exercise-log": [15, false] }, "5 is not more than 10");
    assert.deepEqual(await progress(12), { "exercise-log": [27, false], "bonus-move-15": [12, false] });
    const last = await event(player.id, "exercise.logged", { minutes: 20 });
    assert.deepEqual(
      last.quests.map((q) => [q.key, q.progress, q.completed]).sort(),
      [
        ["bonus-move-15", 15, true],
        ["exercise-log", 30, true],
      ],
      "progress stops at the target",
    );
    assert.deepEqual(
      last.awards.filter((a) => a.rule.startsWith("quest:")).map((a) => [a.rule, a.currency, a.amount]),
      [
        ["quest:bonus-move-15", "coins", 50],
        ["quest:exercise-log", "xp", 200],
        ["quest:exercise-log", "coins", 400],
      ],
    );
    assert.deepEqual(
      (await event(player.id, "exercise.logged", { minutes: 60 })).quests,
      [],
      "completed quests are not advanced again",
    );
    const done = (await quests(player.accessToken)).filter((q) => q.status === "completed");
    assert.deepEqual(done.map((q) => [q.key, q.progress, q.target]).sort(), [
      ["bonus-move-15", 15, 15],
      ["exercise-log", 30, 30],
    ]);
  });

  it("rerolls a pool quest once a day: the old one is kept as rerolled, the next day allows another", async () => {
    ctx.clock.set(NOON);
    const player = await tokyoPlayer();
    const first = poolQuest(await quests(player.accessToken));
    const res = await reroll(player.accessToken, first.key);
    assert.equal(res.statusCode, 200, res.body);
    const swapped = res.json<MyQuest>();
    assert.notEqual(swapped.key, first.key);
    assert.ok(POOL_QUESTS.includes(swapped.key));
    assert.deepEqual(
      [swapped.pool, swapped.period, swapped.status, swapped.progress, swapped.startsAt, swapped.expiresAt],
      [POOL, "2026-06-10", "active", 0, DAY_START, DAY_END],
    );
    assert.equal(poolQuest(await quests(player.accessToken)).key, swapped.key);
    const stored = await ctx.db.asSystem((tx) =>
      tx.rows<{ key: string; status: string }>(
        `SELECT t.key, q.status FROM user_quests q JOIN quest_templates t ON t.id = q.template_id
         WHERE q.user_id = $1 AND t.pool = $2 ORDER BY t.key`,
        [player.id, POOL],
      ),
    );
    assert.deepEqual(
      stored,
      [
        { key: first.key, status: "rerolled" },
        { key: swapped.key, status: "active" },
      ].sort((x, y) => x.key.localeCompare(y.key)),
    );
    assert.equal(byKey(await quests(player.accessToken, "expired"), first.key), undefined);

    const digests = await tableDigests(ctx, ["user_quests"]);
    const untouched = POOL_QUESTS.find((k) => k !== first.key && k !== swapped.key)!;
    const refusals: [string, number, string][] = [
      [swapped.key, 409, "quest.reroll_limit"],
      ["daily-nutrition-log", 409, "quest.not_rerollable"],
      ["weekly-streak", 409, "quest.not_rerollable"],
      [first.key, 404, "quest.not_found"],
      [untouched, 404, "quest.not_found"],
      ["no-such-quest", 404, "quest.not_found"],
    ];
    for (const [key, status, code] of refusals) {
      const refused = await reroll(player.accessToken, key);
      assert.equal(refused.statusCode, status, `${key}: ${refused.body}`);
      assert.equal(problem(refused).code, code, key);
    }
    assert.deepEqual(await tableDigests(ctx, ["user_quests"]), digests);

    ctx.clock.set(at(NOON, DAY));
    const tomorrow = poolQuest(await quests(player.accessToken));
    assert.equal(tomorrow.period, "2026-06-11");
    const next = await reroll(player.accessToken, tomorrow.key);
    assert.equal(next.statusCode, 200, next.body);
    assert.equal(next.json<MyQuest>().period, "2026-06-11");
  });

  it("refuses to reroll a completed pool quest (409) or with a pool allowing none", async () => {
    ctx.clock.set(NOON);
    const player = await tokyoPlayer();
    const drawn = poolQuest(await quests(player.accessToken));
    const [type, data] = completing[drawn.key]!;
    const effects = await event(player.id, type, data);
    assert.ok(
      effects.quests.some((q) => q.key === drawn.key && q.completed),
      JSON.stringify(effects.quests),
    );
    const refused = await reroll(player.accessToken, drawn.key);
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(problem(refused).code, "quest.not_rerollable");

    const other = await tokyoPlayer();
    const otherDrawn = poolQuest(await quests(other.accessToken));
    const none = await asAdmin("PATCH", `/v1/admin/quest-pools/${POOL}`, { rerolls: 0 });
    assert.equal(none.statusCode, 200, none.body);
    try {
      const limited = await reroll(other.accessToken, otherDrawn.key);
      assert.equal(limited.statusCode, 409, limited.body);
      assert.equal(problem(limited).code, "quest.reroll_limit");
    } finally {
      const restored = await asAdmin("PATCH", `/v1/admin/quest-pools/${POOL}`, { rerolls: 1 });
      assert.equal(restored.statusCode, 200, restored.body);
    }
    assert.equal((await reroll(other.accessToken, otherDrawn.key)).statusCode, 200);
  });

  it("serialises concurrent first looks and rerolls: one assignment, one swap", async () => {
    ctx.clock.set(NOON);
    const player = await tokyoPlayer();
    const looks = await Promise.all(
      Array.from({ length: 5 }, () => inject("GET", "/v1/me/quests", player.accessToken)),
    );
    assert.deepEqual(
      looks.map((r) => r.statusCode),
      [200, 200, 200, 200, 200],
    );
    const seen = looks.map((r) => r.json<{ items: MyQuest[] }>().items.map(summary).sort().join());
    assert.equal(new Set(seen).size, 1, "every look sees the same quests");
    const count = () =>
      ctx.db.asSystem((tx) =>
        tx.rows<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM user_quests WHERE user_id = $1 GROUP BY status ORDER BY status`,
          [player.id],
        ),
      );
    assert.deepEqual(await count(), [{ status: "active", n: 6 }]);

    const drawn = poolQuest(await quests(player.accessToken));
    const swaps = await Promise.all(Array.from({ length: 3 }, () => reroll(player.accessToken, drawn.key)));
    const statuses = swaps.map((r) => r.statusCode).sort();
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join());
    for (const r of swaps.filter((x) => x.statusCode !== 200)) {
      assert.ok([404, 409].includes(r.statusCode), r.body);
      assert.ok(["quest.not_found", "quest.reroll_limit"].includes(problem(r).code));
    }
    assert.deepEqual(await count(), [
      { status: "active", n: 6 },
      { status: "rerolled", n: 1 },
    ]);
  });

  it("refuses bad reroll requests with a 4xx problem, changing nothing", async () => {
    ctx.clock.set(NOON);
    const player = await tokyoPlayer();
    const drawn = poolQuest(await quests(player.accessToken));
    const digests = await tableDigests(ctx, ["user_quests"]);
    for (const key of ["Bonus-Share", "b".repeat(65), "b".repeat(5000), "bonus%20share", "bad%E0%A4%A"]) {
      const res = await reroll(player.accessToken, key);
      assert.equal(res.statusCode, 400, `${key.slice(0, 20)}: ${res.body}`);
      assert.ok(["validation.failed", "request.invalid"].includes(problem(res).code));
    }
    const malformed = await ctx.app.inject({
      method: "POST",
      url: `/v1/me/quests/${drawn.key}/reroll`,
      headers: { ...bearer(player.accessToken), "content-type": "application/json" },
      payload: "{",
    });
    assert.equal(malformed.statusCode, 400);
    assert.equal(problem(malformed).code, "request.malformed_json");
    assert.deepEqual(await tableDigests(ctx, ["user_quests"]), digests);
  });

  it("counts an event at 02:00 for the previous day when the player's day starts at 04:00", async () => {
    ctx.clock.set(NOON);
    const owl = await tokyoPlayer();
    const lark = await tokyoPlayer();
    const set = await inject("PATCH", "/v1/me", owl.accessToken, { dayStartHour: 4 });
    assert.equal(set.statusCode, 200, set.body);
    assert.equal(set.json<{ profile: { dayStartHour: number } }>().profile.dayStartHour, 4);
    for (const bad of [24, -1, 4.5, "4", null]) {
      const res = await inject("PATCH", "/v1/me", owl.accessToken, { dayStartHour: bad });
      assert.equal(res.statusCode, 400, `${String(bad)}: ${res.body}`);
      assert.equal(problem(res).code, "validation.failed");
    }
    const me = await inject("GET", "/v1/me", owl.accessToken);
    assert.equal(me.json<{ profile: { dayStartHour: number } }>().profile.dayStartHour, 4);

    const meal = (userId: string, mealType = "lunch") => event(userId, "meal.logged", { mealType });
    const daily = (effects: Effects) => effects.quests.find((q) => q.key === "daily-nutrition-log");
    const nutrition = (effects: Effects) => effects.streaks.find((s) => s.key === "nutrition");
    for (const p of [owl, lark]) assert.equal(nutrition(await meal(p.id))?.current, 1);

    // 02:00 on Thursday in Tokyo: a (late) dinner, a second meal type of the owl's Wednesday.
    ctx.clock.set("2026-06-10T17:00:00Z");
    const late = await meal(owl.id, "dinner");
    assert.deepEqual(daily(late) && [daily(late)?.period, daily(late)?.progress], ["2026-06-10", 2]);
    assert.equal(nutrition(late), undefined, "Wednesday was already counted");
    const early = await meal(lark.id);
    assert.deepEqual(daily(early) && [daily(early)?.period, daily(early)?.progress], ["2026-06-11", 1]);
    assert.equal(nutrition(early)?.current, 2);

    const owlDaily = byKey(await quests(owl.accessToken), "daily-nutrition-log");
    assert.deepEqual(
      owlDaily && [owlDaily.period, owlDaily.startsAt, owlDaily.expiresAt, owlDaily.secondsLeft],
      ["2026-06-10", "2026-06-09T19:00:00.000Z", "2026-06-10T19:00:00.000Z", 7200],
    );
    const streaks = await inject("GET", "/v1/me/streaks", owl.accessToken);
    const owlStreak = streaks
      .json<{ items: { key: string; safe: boolean; periodEndsAt: string }[] }>()
      .items.find((s) => s.key === "nutrition");
    assert.deepEqual(owlStreak && [owlStreak.safe, owlStreak.periodEndsAt], [
      true,
      "2026-06-10T19:00:00.000Z",
    ]);

    // 05:00 in Tokyo: the owl's Thursday has begun.
    ctx.clock.set("2026-06-10T20:00:00Z");
    const morning = await meal(owl.id);
    assert.deepEqual(daily(morning) && [daily(morning)?.period, daily(morning)?.progress], ["2026-06-11", 1]);
    assert.equal(nutrition(morning)?.current, 2);
  });
});

describe("special and time-limited quests", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  const { event, quests, createQuest } = client(() => ({ ctx, adminToken: admin.accessToken, apiKey }));

  before(async () => {
    // Only the base pack: the quests here are the ones this block creates.
    ctx = await createTestContext({ packs: ["dietgame"], accessTokenTtlSeconds: LONG_TOKENS });
    ctx.clock.set("2026-06-30T12:00:00Z");
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
    await createQuest({
      key: "launch-week",
      name: "Launch week",
      cadence: "special",
      startsAt: "2026-07-01T00:00:00Z",
      endsAt: "2026-07-04T00:00:00Z",
      target: 2,
      eventTypes: ["recipe.tried"],
      rewards: [{ currency: "coins", amount: 100 }],
    });
    await createQuest({
      key: "flash",
      name: "Flash",
      cadence: "special",
      startsAt: "2026-07-01T00:00:00Z",
      endsAt: "2026-07-10T00:00:00Z",
      target: 2,
      eventTypes: ["exercise.logged"],
      timeLimitHours: 2,
    });
    await createQuest({
      key: "quick-daily",
      name: "Quick daily",
      cadence: "day",
      target: 1,
      eventTypes: ["meal.logged"],
      timeLimitHours: 2,
      endsAt: "2026-07-05T12:00:00Z",
    });
  });
  after(() => ctx.close());

  const keysOf = (items: MyQuest[]) => items.map((q) => q.key).sort();

  it("gives a special quest only inside its window, running from assignment to the window's end", async () => {
    ctx.clock.set("2026-06-30T12:00:00Z");
    const early = await registerPlayer(ctx.app);
    assert.deepEqual(keysOf(await quests(early.accessToken)), ["quick-daily"]);

    ctx.clock.set("2026-07-01T06:00:00Z");
    const launch = byKey(await quests(early.accessToken), "launch-week");
    assert.deepEqual(launch, {
      key: "launch-week",
      name: "Launch week",
      description: "",
      category: "general",
      difficulty: "easy",
      cadence: "special",
      period: "special",
      status: "active",
      progress: 0,
      target: 2,
      rewards: [{ currency: "coins", amount: 100 }],
      pool: null,
      startsAt: "2026-07-01T06:00:00.000Z",
      expiresAt: "2026-07-04T00:00:00.000Z",
      secondsLeft: 66 * 3600,
      completedAt: null,
    });
    await event(early.id, "recipe.tried", { recipeId: "a" });

    ctx.clock.set("2026-07-04T01:00:00Z");
    const late = await registerPlayer(ctx.app);
    assert.equal(byKey(await quests(late.accessToken), "launch-week"), undefined, "too late");
    const expired = byKey(await quests(early.accessToken, "expired"), "launch-week");
    assert.deepEqual(expired && [expired.status, expired.progress, expired.secondsLeft], ["expired", 1, 0]);
    assert.equal(byKey(await quests(early.accessToken), "launch-week"), undefined, "no longer current");
  });

  it("gives a special quest on the event that first touches it, and pays it on completion", async () => {
    ctx.clock.set("2026-07-01T08:00:00Z");
    const player = await registerPlayer(ctx.app);
    const first = await event(player.id, "recipe.tried", { recipeId: "a" });
    assert.deepEqual(
      first.quests.map((q) => [q.key, q.period, q.progress, q.completed]),
      [["launch-week", "special", 1, false]],
    );
    ctx.clock.set("2026-07-02T08:00:00Z");
    const second = await event(player.id, "recipe.tried", { recipeId: "b" });
    assert.deepEqual(
      second.quests.map((q) => [q.key, q.progress, q.completed]),
      [["launch-week", 2, true]],
    );
    assert.deepEqual(
      second.awards.filter((a) => a.rule === "quest:launch-week").map((a) => [a.currency, a.amount]),
      [["coins", 100]],
    );
    const done = byKey(await quests(player.accessToken), "launch-week");
    assert.equal(done?.status, "completed");
    assert.equal(done?.completedAt, "2026-07-02T08:00:00.000Z");
    // Once completed it is not given again within the window.
    ctx.clock.set("2026-07-03T08:00:00Z");
    assert.deepEqual((await event(player.id, "recipe.tried", { recipeId: "c" })).quests, []);
    assert.equal((await quests(player.accessToken)).filter((q) => q.key === "launch-week").length, 1);
  });

  it("ends a quest timeLimitHours after it was given when that comes first", async () => {
    ctx.clock.set("2026-07-02T10:00:00Z");
    const player = await registerPlayer(ctx.app);
    const items = await quests(player.accessToken);
    const flash = byKey(items, "flash");
    assert.deepEqual(flash && [flash.startsAt, flash.expiresAt, flash.secondsLeft], [
      "2026-07-02T10:00:00.000Z",
      "2026-07-02T12:00:00.000Z",
      7200,
    ]);
    // A daily quest starts with the day but still ends two hours after it was given.
    const quick = byKey(items, "quick-daily");
    assert.deepEqual(quick && [quick.period, quick.startsAt, quick.expiresAt], [
      "2026-07-02",
      "2026-07-02T00:00:00.000Z",
      "2026-07-02T12:00:00.000Z",
    ]);

    ctx.clock.set("2026-07-02T11:00:00Z");
    const inTime = await event(player.id, "exercise.logged", { minutes: 10 });
    assert.deepEqual(
      inTime.quests.map((q) => [q.key, q.progress]),
      [["flash", 1]],
    );
    ctx.clock.set("2026-07-02T12:30:00Z");
    assert.deepEqual((await event(player.id, "exercise.logged", { minutes: 10 })).quests, [], "too late");
    assert.deepEqual((await event(player.id, "meal.logged", { mealType: "snack" })).quests, [], "too late");
    assert.deepEqual(keysOf(await quests(player.accessToken, "expired")), ["flash", "quick-daily"]);

    // Given an hour before the day ends, the day's end comes before the time limit.
    ctx.clock.set("2026-07-03T23:00:00Z");
    const next = byKey(await quests(player.accessToken), "quick-daily");
    assert.deepEqual(next && [next.period, next.expiresAt], ["2026-07-03", "2026-07-04T00:00:00.000Z"]);
  });

  it("stops a recurring quest at the end of its template's window", async () => {
    ctx.clock.set("2026-07-05T06:00:00Z");
    const player = await registerPlayer(ctx.app);
    const quick = byKey(await quests(player.accessToken), "quick-daily");
    // Two hours from 06:00 is 08:00, before the window closes at 12:00.
    assert.equal(quick?.expiresAt, "2026-07-05T08:00:00.000Z");
    ctx.clock.set("2026-07-05T11:00:00Z");
    const other = await registerPlayer(ctx.app);
    const cut = byKey(await quests(other.accessToken), "quick-daily");
    assert.equal(cut?.expiresAt, "2026-07-05T12:00:00.000Z", "the window ends before the time limit");
    ctx.clock.set("2026-07-06T06:00:00Z");
    assert.equal(byKey(await quests(player.accessToken), "quick-daily"), undefined, "the window is over");
  });

  it("keeps the target of quests already given when an admin changes it", async () => {
    ctx.clock.set("2026-07-05T01:00:00Z");
    const before = await registerPlayer(ctx.app);
    assert.equal(byKey(await quests(before.accessToken), "quick-daily")?.target, 1);
    const res = await ctx.app.inject({
      method: "PATCH",
      url: "/v1/admin/quests/quick-daily",
      headers: bearer(admin.accessToken),
      payload: { target: 2 },
    });
    assert.equal(res.statusCode, 200, res.body);
    const after = await registerPlayer(ctx.app);
    assert.equal(byKey(await quests(after.accessToken), "quick-daily")?.target, 2);
    assert.equal(byKey(await quests(before.accessToken), "quick-daily")?.target, 1);
    const done = await event(before.id, "meal.logged", { mealType: "snack" });
    assert.deepEqual(
      done.quests.map((q) => [q.key, q.progress, q.target, q.completed]),
      [["quick-daily", 1, 1, true]],
    );
  });

  it("refuses to reroll the only quest of a pool (409), changing nothing", async () => {
    ctx.clock.set("2026-07-06T01:00:00Z");
    const pool = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/quest-pools",
      headers: bearer(admin.accessToken),
      payload: { key: "solo", name: "Solo", size: 1, rerolls: 3 },
    });
    assert.equal(pool.statusCode, 201, pool.body);
    await createQuest({
      key: "solo-quest",
      name: "Solo",
      cadence: "day",
      target: 1,
      eventTypes: ["meal.logged"],
      pool: "solo",
    });
    const player = await registerPlayer(ctx.app);
    assert.equal(byKey(await quests(player.accessToken), "solo-quest")?.pool, "solo");
    const digests = await tableDigests(ctx, ["user_quests"]);
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/quests/solo-quest/reroll",
      headers: bearer(player.accessToken),
    });
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(problem(res).code, "quest.not_rerollable");
    assert.deepEqual(await tableDigests(ctx, ["user_quests"]), digests);
  });
});
