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
const TOKYO = 9 * HOUR; // Asia/Tokyo is UTC+9 all year: no daylight saving to reason about.

/**
 * Midnight in Tokyo of a Wednesday one to two weeks after the real date. Dates follow the real
 * one so that protection windows stay within the 400 days the server looks back (by its own time).
 */
function tokyoWednesday(): number {
  const local = new Date(Date.now() + TOKYO);
  const midnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate());
  const ahead = ((3 - local.getUTCDay() + 7) % 7) + 7;
  return midnight + ahead * DAY - TOKYO;
}

const iso = (ms: number) => new Date(ms).toISOString();

interface StreakEffect {
  key: string;
  change: string;
  current: number;
  longest: number;
  frozen: number;
  protected: number;
  milestones: number[];
}
interface Effects {
  awards: { rule: string; currency: string; amount: number; capped: boolean; balance: number | null }[];
  streaks: StreakEffect[];
}
interface MyStreak {
  key: string;
  name: string;
  cadence: string;
  current: number;
  longest: number;
  safe: boolean;
  atRisk: boolean;
  periodEndsAt: string;
  secondsLeft: number;
  freezesNeeded: number;
  freezeTokens: { currency: string; balance: number; max: number | null } | null;
  freezesUsed: number;
  protectedUntil: string | null;
  startedAt: string | null;
  lastCountedAt: string | null;
  milestones: { count: number; rewards: { currency: string; amount: number }[]; reached: boolean }[];
}
interface StreakDefinition {
  key: string;
  name: string;
  description: string;
  category: string;
  cadence: string;
  eventTypes: string[];
  condition: Record<string, unknown> | null;
  graceHours: number;
  freezeCurrency: string | null;
  milestones: { count: number; rewards: { currency: string; amount: number }[] }[];
  active: boolean;
}

const NUTRITION_MILESTONES = [
  {
    count: 3,
    rewards: [
      { currency: "xp", amount: 30 },
      { currency: "streak_freeze", amount: 1 },
    ],
  },
  {
    count: 7,
    rewards: [
      { currency: "xp", amount: 100 },
      { currency: "coins", amount: 200 },
    ],
  },
  {
    count: 30,
    rewards: [
      { currency: "xp", amount: 500 },
      { currency: "coins", amount: 1000 },
      { currency: "streak_freeze", amount: 1 },
    ],
  },
  {
    count: 100,
    rewards: [
      { currency: "xp", amount: 2000 },
      { currency: "coins", amount: 5000 },
    ],
  },
];

const DEFINITION_TABLES = ["streak_definitions", "audit_logs"] as const;

describe("streaks", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let apiKey: string;
  const wednesday = tokyoWednesday();
  /** Noon in Tokyo `days` after the Wednesday. */
  const noon = (days: number) => wednesday + days * DAY + 12 * HOUR;

  before(async () => {
    // Tokens must outlive the days the clock is moved through.
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-streaks-quests"],
      accessTokenTtlSeconds: 10 * 365 * 86_400,
    });
    ctx.clock.set(iso(noon(0)));
    admin = await createAdmin(ctx);
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  after(() => ctx.close());

  const asAdmin = (method: "GET" | "POST" | "PATCH", url: string, payload?: unknown) =>
    ctx.app.inject({
      method,
      url,
      headers: bearer(admin.accessToken),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  const send = (userId: string, type: string, data: Record<string, unknown>) =>
    ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type, userId, data },
    });

  async function event(userId: string, type: string, data: Record<string, unknown>): Promise<Effects> {
    const res = await send(userId, type, data);
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ effects: Effects }>().effects;
  }
  const meal = (userId: string) => event(userId, "meal.logged", { mealType: "lunch" });
  const nutritionEffect = (effects: Effects) => effects.streaks.find((s) => s.key === "nutrition");

  async function myStreaks(token: string): Promise<MyStreak[]> {
    const res = await ctx.app.inject({ method: "GET", url: "/v1/me/streaks", headers: bearer(token) });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ items: MyStreak[] }>().items;
  }
  async function myStreak(token: string, key = "nutrition"): Promise<MyStreak> {
    const found = (await myStreaks(token)).find((s) => s.key === key);
    assert.ok(found, `streak ${key} is listed`);
    return found;
  }

  async function tokyoPlayer() {
    return registerPlayer(ctx.app, { timeZone: "Asia/Tokyo" });
  }

  async function giveFreezeTokens(userId: string, amount: number) {
    const res = await asAdmin("POST", `/v1/admin/users/${userId}/adjustments`, {
      currency: "streak_freeze",
      amount,
      reason: "test tokens",
      idempotencyKey: randomUUID(),
    });
    assert.equal(res.statusCode, 201, res.body);
  }

  async function auditRows(action: string, resourceId: string) {
    return ctx.db.asSystem((tx) =>
      tx.rows<{
        actor_type: string;
        actor_id: string | null;
        subject_user_id: string | null;
        resource_type: string;
        before_data: Record<string, unknown> | null;
        after_data: Record<string, unknown> | null;
      }>(
        `SELECT actor_type, actor_id, subject_user_id, resource_type, before_data, after_data
         FROM audit_logs WHERE action = $1 AND resource_id = $2 ORDER BY created_at`,
        [action, resourceId],
      ),
    );
  }

  describe("definitions (admin)", () => {
    it("lists the seeded streaks with every field", async () => {
      const res = await asAdmin("GET", "/v1/admin/streaks");
      assert.equal(res.statusCode, 200, res.body);
      const items = res.json<{ items: StreakDefinition[] }>().items;
      assert.deepEqual(
        items.find((s) => s.key === "nutrition"),
        {
          key: "nutrition",
          name: "Nutrition streak",
          description: "Log at least one meal every day",
          category: "nutrition",
          cadence: "day",
          eventTypes: ["meal.logged"],
          condition: null,
          graceHours: 6,
          freezeCurrency: "streak_freeze",
          milestones: NUTRITION_MILESTONES,
          active: true,
        },
      );
      const weekly = items.find((s) => s.key === "fitness-weekly");
      assert.equal(weekly?.cadence, "week");
      assert.equal(weekly?.freezeCurrency, null);
      assert.equal(weekly?.graceHours, 24);
    });

    it("creates a streak with defaults for what is left out, lists it, and audits it", async () => {
      const res = await asAdmin("POST", "/v1/admin/streaks", {
        key: "cooking",
        name: "Cooking streak",
        cadence: "week",
        eventTypes: ["recipe.tried"],
      });
      assert.equal(res.statusCode, 201, res.body);
      const created = res.json<StreakDefinition>();
      assert.deepEqual(created, {
        key: "cooking",
        name: "Cooking streak",
        description: "",
        category: "general",
        cadence: "week",
        eventTypes: ["recipe.tried"],
        condition: null,
        graceHours: 6,
        freezeCurrency: null,
        milestones: [],
        active: true,
      });
      const list = (await asAdmin("GET", "/v1/admin/streaks")).json<{ items: StreakDefinition[] }>().items;
      assert.deepEqual(
        list.find((s) => s.key === "cooking"),
        created,
      );
      const audits = await auditRows("streak.created", "cooking");
      assert.equal(audits.length, 1);
      assert.equal(audits[0]?.actor_type, "user");
      assert.equal(audits[0]?.actor_id, admin.id);
      assert.equal(audits[0]?.resource_type, "streak");
      assert.equal(audits[0]?.before_data, null);
      assert.deepEqual(audits[0]?.after_data, created);
    });

    it("PATCH changes only the fields given and audits before and after", async () => {
      const created = await asAdmin("POST", "/v1/admin/streaks", {
        key: "patchable",
        name: "Patchable",
        description: "before",
        cadence: "day",
        eventTypes: ["recipe.tried"],
        freezeCurrency: "streak_freeze",
        milestones: [{ count: 2, rewards: [{ currency: "coins", amount: 5 }] }],
        active: false,
      });
      assert.equal(created.statusCode, 201, created.body);
      const before = created.json<StreakDefinition>();
      const res = await asAdmin("PATCH", "/v1/admin/streaks/patchable", { name: "Renamed", graceHours: 0 });
      assert.equal(res.statusCode, 200, res.body);
      const changed = res.json<StreakDefinition>();
      assert.deepEqual(changed, { ...before, name: "Renamed", graceHours: 0 });
      // Clearing a nullable field is a change too.
      const cleared = await asAdmin("PATCH", "/v1/admin/streaks/patchable", { freezeCurrency: null });
      assert.equal(cleared.statusCode, 200, cleared.body);
      assert.deepEqual(cleared.json(), { ...changed, freezeCurrency: null });

      const audits = await auditRows("streak.updated", "patchable");
      assert.equal(audits.length, 2);
      assert.deepEqual(audits[0]?.before_data, before);
      assert.deepEqual(audits[0]?.after_data, changed);
      assert.equal(audits[0]?.actor_id, admin.id);
    });

    it("refuses a key that exists (409) and leaves the stored streak as it was", async () => {
      const digests = await tableDigests(ctx, DEFINITION_TABLES);
      const res = await asAdmin("POST", "/v1/admin/streaks", {
        key: "nutrition",
        name: "Impostor",
        cadence: "week",
        eventTypes: ["recipe.tried"],
      });
      assert.equal(res.statusCode, 409);
      assert.equal(problem(res).code, "definition.exists");
      assert.deepEqual(await tableDigests(ctx, DEFINITION_TABLES), digests);
    });

    it("answers 404 for a PATCH of a key that does not exist, creating nothing", async () => {
      const digests = await tableDigests(ctx, DEFINITION_TABLES);
      const res = await asAdmin("PATCH", "/v1/admin/streaks/no-such-streak", { name: "Ghost" });
      assert.equal(res.statusCode, 404);
      assert.equal(problem(res).code, "resource.not_found");
      assert.deepEqual(await tableDigests(ctx, DEFINITION_TABLES), digests);
    });

    const base = { name: "Bad", cadence: "day", eventTypes: ["meal.logged"] };
    const deep: Record<string, unknown> = { "event.data.x": 1 };
    let node = deep;
    for (let i = 0; i < 10; i++) {
      const next: Record<string, unknown> = { "event.data.x": 1 };
      node.$and = [next];
      node = next;
    }
    const invalidCases: { name: string; body: Record<string, unknown>; path: string; detail: RegExp }[] = [
      {
        name: "a condition with $where",
        body: { condition: { $where: "this.player.level > 1" } },
        path: "body/condition",
        detail: /\$where is not allowed/,
      },
      {
        name: "a condition with an unknown operator",
        body: { condition: { "event.data.x": { $bogus: 1 } } },
        path: "body/condition",
        detail: /^condition: /,
      },
      {
        name: "a condition nested too deep",
        body: { condition: deep },
        path: "body/condition",
        detail: /nest/,
      },
      {
        name: "an unknown event type",
        body: { eventTypes: ["meal.logged", "no.such.type"] },
        path: "body/eventTypes/1",
        detail: /Unknown event type no\.such\.type/,
      },
      {
        name: "an unknown currency in a milestone's rewards",
        body: {
          milestones: [
            { count: 2, rewards: [{ currency: "xp", amount: 1 }] },
            {
              count: 5,
              rewards: [
                { currency: "coins", amount: 1 },
                { currency: "gems", amount: 1 },
              ],
            },
          ],
        },
        path: "body/milestones/1/rewards/1/currency",
        detail: /Unknown currency gems/,
      },
      {
        name: "two milestones with the same count",
        body: {
          milestones: [
            { count: 3, rewards: [{ currency: "xp", amount: 1 }] },
            { count: 3, rewards: [{ currency: "coins", amount: 1 }] },
          ],
        },
        path: "body/milestones",
        detail: /milestone counts must differ/,
      },
    ];
    for (const c of invalidCases) {
      it(`refuses ${c.name} with 422 definition.invalid at ${c.path}, on create and on change`, async () => {
        const digests = await tableDigests(ctx, DEFINITION_TABLES);
        const created = await asAdmin("POST", "/v1/admin/streaks", { key: "bad-one", ...base, ...c.body });
        assert.equal(created.statusCode, 422, created.body);
        const body = problem(created);
        assert.equal(body.code, "definition.invalid");
        assert.match(body.detail, c.detail);
        assert.deepEqual(
          body.errors?.map((e) => e.path),
          [c.path],
        );
        const changed = await asAdmin("PATCH", "/v1/admin/streaks/nutrition", c.body);
        assert.equal(changed.statusCode, 422, changed.body);
        assert.equal(problem(changed).code, "definition.invalid");
        assert.deepEqual(await tableDigests(ctx, DEFINITION_TABLES), digests);
      });
    }

    it("refuses an unknown freeze currency with 422, on create and on change", async () => {
      const digests = await tableDigests(ctx, DEFINITION_TABLES);
      const created = await asAdmin("POST", "/v1/admin/streaks", {
        key: "bad-one",
        ...base,
        freezeCurrency: "gems",
      });
      assert.equal(created.statusCode, 422, created.body);
      const body = problem(created);
      assert.equal(body.code, "definition.invalid");
      assert.match(body.detail, /Unknown currency gems/);
      const changed = await asAdmin("PATCH", "/v1/admin/streaks/nutrition", { freezeCurrency: "gems" });
      assert.equal(changed.statusCode, 422, changed.body);
      assert.equal(problem(changed).code, "definition.invalid");
      assert.deepEqual(await tableDigests(ctx, DEFINITION_TABLES), digests);
    });

    it("points the error for an unknown freeze currency at body/freezeCurrency", async () => {
      const res = await asAdmin("POST", "/v1/admin/streaks", {
        key: "bad-one",
        ...base,
        freezeCurrency: "gems",
      });
      assert.deepEqual(
        problem(res).errors?.map((e) => e.path),
        ["body/freezeCurrency"],
      );
    });

    it("keeps the audit trail of a streak definition when the admin who made it is erased", async () => {
      const author = await createAdmin(ctx);
      const res = await ctx.app.inject({
        method: "POST",
        url: "/v1/admin/streaks",
        headers: bearer(author.accessToken),
        payload: { key: "authored", name: "Authored", cadence: "day", eventTypes: ["recipe.tried"] },
      });
      assert.equal(res.statusCode, 201, res.body);
      const erased = await asAdmin("POST", `/v1/admin/users/${author.id}/erase`);
      assert.equal(erased.statusCode, 200, erased.body);
      const [row] = await auditRows("streak.created", "authored");
      assert.equal(row?.actor_id, author.id, "who did it stays on record");
      assert.equal(row?.subject_user_id, null, "a definition concerns no player");
      assert.deepEqual(row?.after_data, res.json(), "the definition is not personal data");
    });

    it("refuses a condition that compiles but cannot be evaluated ($type with an unknown alias)", async () => {
      const res = await asAdmin("POST", "/v1/admin/streaks", {
        key: "bad-type-alias",
        name: "Bad alias",
        cadence: "day",
        eventTypes: ["recipe.tried"],
        condition: { "event.data.recipeId": { $type: "nonsense" } },
      });
      let eventStatus: number | undefined;
      if (res.statusCode === 201) {
        const player = await registerPlayer(ctx.app);
        eventStatus = (await send(player.id, "recipe.tried", { recipeId: "x" })).statusCode;
        // Switched off at once so that the rest of this file's recipe events are not broken.
        await asAdmin("PATCH", "/v1/admin/streaks/bad-type-alias", { active: false });
      }
      assert.equal(res.statusCode, 422, `created, and then an event answered ${String(eventStatus)}`);
      assert.deepEqual(
        problem(res).errors?.map((e) => e.path),
        ["body/condition"],
      );
    });

    it("creates a key once when the same create is sent concurrently", async () => {
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          asAdmin("POST", "/v1/admin/streaks", {
            key: "raced",
            name: `Raced ${i}`,
            cadence: "day",
            eventTypes: ["recipe.tried"],
            active: false,
          }),
        ),
      );
      const statuses = answers.map((a) => a.statusCode).sort();
      assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409]);
      assert.equal((await auditRows("streak.created", "raced")).length, 1);
    });

    it("answers 401 without a token and 403 to a player, before doing anything", async () => {
      const player = await registerPlayer(ctx.app);
      const digests = await tableDigests(ctx, [...DEFINITION_TABLES, "streak_protections"]);
      const valid = { key: "sneaky", name: "Sneaky", cadence: "day", eventTypes: ["meal.logged"] };
      const requests = [
        { method: "GET", url: "/v1/admin/streaks" },
        { method: "POST", url: "/v1/admin/streaks", payload: valid },
        { method: "PATCH", url: "/v1/admin/streaks/nutrition", payload: { name: "Hacked" } },
        { method: "POST", url: `/v1/admin/users/${player.id}/streak-protections`, payload: { hours: 24 } },
      ] as const;
      for (const r of requests) {
        const anonymous = await ctx.app.inject(r);
        assert.equal(anonymous.statusCode, 401, `${r.method} ${r.url}`);
        assert.equal(problem(anonymous).code, "auth.unauthenticated");
        const asPlayer = await ctx.app.inject({ ...r, headers: bearer(player.accessToken) });
        assert.equal(asPlayer.statusCode, 403, `${r.method} ${r.url}`);
        assert.equal(problem(asPlayer).code, "auth.forbidden");
        const withKey = await ctx.app.inject({ ...r, headers: { "x-api-key": apiKey } });
        assert.ok([401, 403].includes(withKey.statusCode), `${r.method} ${r.url} with an API key`);
        problem(withKey);
      }
      const me = await ctx.app.inject({ method: "GET", url: "/v1/me/streaks" });
      assert.equal(me.statusCode, 401);
      assert.deepEqual(await tableDigests(ctx, [...DEFINITION_TABLES, "streak_protections"]), digests);
    });

    it("takes effect from the next event: created, changed and switched off through the API", async () => {
      const player = await tokyoPlayer();
      ctx.clock.set(iso(noon(0)));
      const mine = (effects: Effects) =>
        effects.streaks.filter((s) => s.key === "new-recipes").map((s) => [s.change, s.current]);
      // The first event loads (and caches) the definitions before the streak exists.
      assert.deepEqual(mine(await event(player.id, "recipe.tried", { recipeId: "r1", isNew: true })), []);

      const created = await asAdmin("POST", "/v1/admin/streaks", {
        key: "new-recipes",
        name: "New recipes",
        cadence: "day",
        eventTypes: ["recipe.tried"],
        condition: { "event.data.isNew": true },
      });
      assert.equal(created.statusCode, 201, created.body);
      const old = await event(player.id, "recipe.tried", { recipeId: "r2", isNew: false });
      assert.deepEqual(mine(old), [], "the condition is applied");
      const counted = await event(player.id, "recipe.tried", { recipeId: "r3", isNew: true });
      assert.deepEqual(mine(counted), [["started", 1]]);
      assert.equal((await myStreak(player.accessToken, "new-recipes")).safe, true);

      // A changed condition applies at once, on the next day's event.
      const patched = await asAdmin("PATCH", "/v1/admin/streaks/new-recipes", { condition: null });
      assert.equal(patched.statusCode, 200, patched.body);
      ctx.clock.set(iso(noon(1)));
      const any = await event(player.id, "recipe.tried", { recipeId: "r4", isNew: false });
      assert.deepEqual(mine(any), [["extended", 2]]);

      const off = await asAdmin("PATCH", "/v1/admin/streaks/new-recipes", { active: false });
      assert.equal(off.statusCode, 200, off.body);
      assert.equal(off.json<StreakDefinition>().active, false);
      ctx.clock.set(iso(noon(2)));
      assert.deepEqual(mine(await event(player.id, "recipe.tried", { recipeId: "r5" })), []);
      assert.equal(
        (await myStreaks(player.accessToken)).some((s) => s.key === "new-recipes"),
        false,
        "an inactive streak is not listed",
      );
    });

    it("refuses to change the cadence of a streak players have, which keeps counting days", async () => {
      const created = await asAdmin("POST", "/v1/admin/streaks", {
        key: "recadenced",
        name: "Re-cadenced",
        cadence: "day",
        eventTypes: ["recipe.tried"],
      });
      assert.equal(created.statusCode, 201, created.body);
      const player = await tokyoPlayer();
      ctx.clock.set(iso(noon(0)));
      await event(player.id, "recipe.tried", { recipeId: "a" });
      const patched = await asAdmin("PATCH", "/v1/admin/streaks/recadenced", { cadence: "week" });
      // Players count days: their streaks cannot be read in weeks, so the change is refused.
      assert.equal(patched.statusCode, 409, patched.body);
      assert.equal(problem(patched).code, "definition.in_use");
      ctx.clock.set(iso(noon(1)));
      const next = await event(player.id, "recipe.tried", { recipeId: "b" });
      assert.deepEqual(
        next.streaks.filter((s) => s.key === "recadenced").map((s) => s.current),
        [2],
      );
    });
  });

  describe("bad input to the streak routes", () => {
    const valid = { key: "fine-key", name: "Fine", cadence: "day", eventTypes: ["meal.logged"] };
    const huge = "x".repeat(100_000);
    const createBodies: [string, unknown][] = [
      ["no key", { ...valid, key: undefined }],
      ["no name", { ...valid, name: undefined }],
      ["no cadence", { ...valid, cadence: undefined }],
      ["no eventTypes", { ...valid, eventTypes: undefined }],
      ["an unknown field", { ...valid, colour: "red" }],
      ["a key in capitals", { ...valid, key: "Fine" }],
      ["a key of 65 characters", { ...valid, key: "k".repeat(65) }],
      ["an empty name", { ...valid, name: "" }],
      ["a name of 100,000 characters", { ...valid, name: huge }],
      ["a description of 1,001 characters", { ...valid, description: "d".repeat(1001) }],
      ["the cadence special (quests only)", { ...valid, cadence: "special" }],
      ["eventTypes as a string", { ...valid, eventTypes: "meal.logged" }],
      ["no event types", { ...valid, eventTypes: [] }],
      ["an event type twice", { ...valid, eventTypes: ["meal.logged", "meal.logged"] }],
      ["an event type in capitals", { ...valid, eventTypes: ["Meal.Logged"] }],
      ["graceHours as a string", { ...valid, graceHours: "6" }],
      ["graceHours over a week", { ...valid, graceHours: 169 }],
      ["a condition that is an array", { ...valid, condition: [1] }],
      ["a condition that is a string", { ...valid, condition: "x > 1" }],
      ["a freeze currency in capitals", { ...valid, freezeCurrency: "Streak_Freeze" }],
      ["a milestone at count 0", { ...valid, milestones: [{ count: 0, rewards: [] }] }],
      [
        "a milestone reward of 0",
        { ...valid, milestones: [{ count: 2, rewards: [{ currency: "xp", amount: 0 }] }] },
      ],
      ["a milestone with an unknown field", { ...valid, milestones: [{ count: 2, rewards: [], bonus: 1 }] }],
      ["active as a string", { ...valid, active: "yes" }],
      ["an array", [valid]],
      ["null", null],
    ];

    async function expectRefused(
      method: "POST" | "PATCH",
      url: string,
      payload: string,
      statuses: number[],
      codes: string[],
      label: string,
      contentType = "application/json",
    ) {
      const res = await ctx.app.inject({
        method,
        url,
        headers: { ...bearer(admin.accessToken), "content-type": contentType },
        payload,
      });
      assert.ok(statuses.includes(res.statusCode), `${label}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      assert.ok(codes.includes(problem(res).code), `${label}: ${problem(res).code}`);
    }

    it("refuses bad bodies to POST /v1/admin/streaks with 400 validation.failed, writing nothing", async () => {
      const digests = await tableDigests(ctx, DEFINITION_TABLES);
      for (const [label, body] of createBodies) {
        await expectRefused(
          "POST",
          "/v1/admin/streaks",
          JSON.stringify(body),
          [400],
          ["validation.failed"],
          label,
        );
      }
      await expectRefused(
        "POST",
        "/v1/admin/streaks",
        '{"key": "x",',
        [400],
        ["request.malformed_json"],
        "bad JSON",
      );
      await expectRefused("POST", "/v1/admin/streaks", "", [400], ["request.malformed_json"], "empty body");
      await expectRefused(
        "POST",
        "/v1/admin/streaks",
        "<streak/>",
        [415],
        ["request.unsupported_media_type"],
        "XML",
        "application/xml",
      );
      assert.deepEqual(await tableDigests(ctx, DEFINITION_TABLES), digests);
    });

    it("refuses bad bodies and bad keys to PATCH /v1/admin/streaks/{key}, writing nothing", async () => {
      const digests = await tableDigests(ctx, DEFINITION_TABLES);
      const patches: [string, unknown][] = [
        ["an empty change", {}],
        ["a key in the body", { key: "other" }],
        ["an unknown field", { colour: "red" }],
        ["a name of 100,000 characters", { name: huge }],
        ["graceHours below 0", { graceHours: -1 }],
        ["eventTypes as a number", { eventTypes: 5 }],
        ["milestones as an object", { milestones: { count: 3 } }],
        ["null", null],
      ];
      for (const [label, body] of patches) {
        await expectRefused(
          "PATCH",
          "/v1/admin/streaks/nutrition",
          JSON.stringify(body),
          [400],
          ["validation.failed"],
          label,
        );
      }
      await expectRefused(
        "PATCH",
        "/v1/admin/streaks/nutrition",
        '{"name": ',
        [400],
        ["request.malformed_json"],
        "bad JSON",
      );
      for (const [label, key] of [
        ["capitals", "Nutrition"],
        ["a space", "nutri%20tion"],
        ["65 characters", "k".repeat(65)],
        ["5,000 characters", "k".repeat(5000)],
        ["broken percent-encoding", "nutri%E0%A4%A"],
      ]) {
        await expectRefused(
          "PATCH",
          `/v1/admin/streaks/${key}`,
          JSON.stringify({ name: "Renamed" }),
          [400],
          ["validation.failed", "request.invalid"],
          `key with ${label}`,
        );
      }
      assert.deepEqual(await tableDigests(ctx, DEFINITION_TABLES), digests);
    });
  });

  describe("protection windows (admin)", () => {
    const protect = (userId: string, payload: unknown) =>
      asAdmin("POST", `/v1/admin/users/${userId}/streak-protections`, payload);

    it("creates a window for one streak, starting now unless told, and audits it", async () => {
      const player = await tokyoPlayer();
      ctx.clock.set(iso(noon(0)));
      const res = await protect(player.id, { streak: "nutrition", hours: 48 });
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json<{ id: number; streak: string | null; startsAt: string; endsAt: string }>();
      assert.equal(typeof body.id, "number");
      assert.deepEqual(
        { ...body, id: 0 },
        { id: 0, streak: "nutrition", startsAt: iso(noon(0)), endsAt: iso(noon(2)) },
      );

      const all = await protect(player.id, { startsAt: iso(wednesday + 5 * DAY), hours: 720 });
      assert.equal(all.statusCode, 201, all.body);
      assert.deepEqual(
        { ...all.json<typeof body>(), id: 0 },
        { id: 0, streak: null, startsAt: iso(wednesday + 5 * DAY), endsAt: iso(wednesday + 35 * DAY) },
      );
      const rows = await ctx.db.asSystem((tx) =>
        tx.rows<{ streak_id: string | null; starts_at: Date; ends_at: Date; source: string }>(
          `SELECT streak_id, starts_at, ends_at, source FROM streak_protections WHERE user_id = $1 ORDER BY id`,
          [player.id],
        ),
      );
      assert.equal(rows.length, 2);
      assert.notEqual(rows[0]?.streak_id, null);
      assert.equal(rows[1]?.streak_id, null);
      assert.equal(rows[0]?.source, `user:${admin.id}`);

      const audits = await auditRows("streak.protected", String(body.id));
      assert.equal(audits.length, 1);
      assert.equal(audits[0]?.subject_user_id, player.id);
      assert.equal(audits[0]?.actor_id, admin.id);
      assert.deepEqual(audits[0]?.after_data, body);

      // While the window is open the player sees it.
      assert.equal((await myStreak(player.accessToken)).protectedUntil, iso(noon(2)));
      assert.equal((await myStreak(player.accessToken, "fitness-weekly")).protectedUntil, null);
    });

    it("answers 404 for an unknown streak, an unknown player and a deleted one, writing nothing", async () => {
      const player = await registerPlayer(ctx.app);
      const gone = await registerPlayer(ctx.app);
      const deleted = await ctx.app.inject({
        method: "DELETE",
        url: "/v1/me",
        headers: bearer(gone.accessToken),
        payload: { password: gone.password },
      });
      assert.equal(deleted.statusCode, 204, deleted.body);
      const tables = ["streak_protections", "audit_logs"];
      const digests = await tableDigests(ctx, tables);
      for (const [userId, payload] of [
        [player.id, { streak: "no-such-streak", hours: 24 }],
        [randomUUID(), { hours: 24 }],
        [randomUUID(), { streak: "nutrition", hours: 24 }],
        [gone.id, { hours: 24 }],
      ] as const) {
        const res = await protect(userId, payload);
        assert.equal(res.statusCode, 404, `${JSON.stringify(payload)}: ${res.body}`);
        assert.equal(problem(res).code, "resource.not_found");
      }
      assert.deepEqual(await tableDigests(ctx, tables), digests);
    });

    it("refuses bad input with 400 and a stable code, writing nothing", async () => {
      const player = await registerPlayer(ctx.app);
      const tables = ["streak_protections", "audit_logs"];
      const digests = await tableDigests(ctx, tables);
      const url = `/v1/admin/users/${player.id}/streak-protections`;
      const bodies: unknown[] = [
        { hours: 0 },
        { hours: 721 },
        { hours: -5 },
        { hours: 1.5 },
        { hours: "12" },
        {},
        { streak: "nutrition" },
        { hours: 24, extra: true },
        { hours: 24, streak: "Not A Key" },
        { hours: 24, streak: "x".repeat(100_000) },
        { hours: 24, startsAt: "tomorrow" },
        { hours: 24, startsAt: 1_700_000_000 },
        [],
        null,
      ];
      for (const payload of bodies) {
        const res = await ctx.app.inject({
          method: "POST",
          url,
          headers: { ...bearer(admin.accessToken), "content-type": "application/json" },
          payload: JSON.stringify(payload),
        });
        assert.equal(res.statusCode, 400, `${JSON.stringify(payload)?.slice(0, 80)}: ${res.body}`);
        assert.equal(problem(res).code, "validation.failed");
      }
      for (const [target, code] of [
        ["not-a-uuid", "validation.failed"],
        ["a".repeat(5000), "request.invalid"],
      ] as const) {
        const res = await protect(target, { hours: 24 });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(problem(res).code, code);
      }
      const malformed = await ctx.app.inject({
        method: "POST",
        url,
        headers: { ...bearer(admin.accessToken), "content-type": "application/json" },
        payload: '{"hours": 24',
      });
      assert.equal(malformed.statusCode, 400);
      assert.equal(problem(malformed).code, "request.malformed_json");
      assert.deepEqual(await tableDigests(ctx, tables), digests);
    });

    it("saves a streak across a missed day with no freeze tokens; other streaks' windows do not", async () => {
      const shielded = await tokyoPlayer();
      const unshielded = await tokyoPlayer();
      const elsewhere = await tokyoPlayer();
      ctx.clock.set(iso(noon(0)));
      for (const p of [shielded, unshielded, elsewhere]) await meal(p.id);
      const day1 = { startsAt: iso(wednesday + DAY), hours: 24 };
      assert.equal((await protect(shielded.id, { streak: "nutrition", ...day1 })).statusCode, 201);
      assert.equal((await protect(elsewhere.id, { streak: "fitness-weekly", ...day1 })).statusCode, 201);

      // Day 1 is missed by everyone; on day 2 only the shielded player's streak is still alive.
      ctx.clock.set(iso(noon(2)));
      const seen = await myStreak(shielded.accessToken);
      assert.deepEqual(
        [seen.current, seen.atRisk, seen.freezesNeeded, seen.freezeTokens?.balance],
        [1, true, 0, 0],
      );
      assert.equal(seen.protectedUntil, null, "the window has closed");
      for (const p of [unshielded, elsewhere]) {
        const broken = await myStreak(p.accessToken);
        assert.deepEqual([broken.current, broken.atRisk, broken.longest], [0, false, 1]);
      }

      const saved = nutritionEffect(await meal(shielded.id));
      assert.deepEqual(saved && [saved.change, saved.current, saved.frozen, saved.protected], [
        "extended",
        2,
        0,
        1,
      ]);
      for (const p of [unshielded, elsewhere]) {
        const restarted = nutritionEffect(await meal(p.id));
        assert.deepEqual(restarted && [restarted.change, restarted.current], ["restarted", 1]);
      }
      assert.equal((await myStreak(shielded.accessToken)).freezesUsed, 0);
    });
  });

  describe("GET /v1/me/streaks", () => {
    it("shows a player with no activity: nothing counted, nothing at risk, the period's end", async () => {
      const player = await tokyoPlayer();
      ctx.clock.set(iso(noon(0)));
      const items = await myStreaks(player.accessToken);
      const nutrition = items.find((s) => s.key === "nutrition");
      assert.deepEqual(nutrition, {
        key: "nutrition",
        name: "Nutrition streak",
        cadence: "day",
        current: 0,
        longest: 0,
        safe: false,
        atRisk: false,
        periodEndsAt: iso(wednesday + DAY),
        secondsLeft: 12 * 3600,
        freezesNeeded: 0,
        freezeTokens: { currency: "streak_freeze", balance: 0, max: 2 },
        freezesUsed: 0,
        protectedUntil: null,
        startedAt: null,
        lastCountedAt: null,
        milestones: NUTRITION_MILESTONES.map((m) => ({ ...m, reached: false })),
      });
      const weekly = items.find((s) => s.key === "fitness-weekly");
      // The ISO week ends on Monday at midnight in Tokyo: 4½ days after Wednesday noon.
      assert.equal(weekly?.periodEndsAt, iso(wednesday + 5 * DAY));
      assert.equal(weekly?.secondsLeft, 4.5 * 86_400);
      assert.equal(weekly?.freezeTokens, null);
      assert.deepEqual(weekly?.milestones, [
        { count: 4, rewards: [{ currency: "xp", amount: 200 }], reached: false },
      ]);
    });

    it("is safe after today's event and at risk the next day, with the time left to local midnight", async () => {
      const player = await tokyoPlayer();
      ctx.clock.set(iso(noon(0)));
      const started = nutritionEffect(await meal(player.id));
      assert.deepEqual(started && [started.change, started.current, started.frozen], ["started", 1, 0]);
      const today = await myStreak(player.accessToken);
      assert.deepEqual(
        [today.current, today.longest, today.safe, today.atRisk, today.startedAt, today.lastCountedAt],
        [1, 1, true, false, iso(noon(0)), iso(noon(0))],
      );
      ctx.clock.set(iso(noon(0) + 3 * HOUR));
      assert.deepEqual(nutritionEffect(await meal(player.id)), undefined, "a second meal the same day");

      ctx.clock.set(iso(noon(1) + 11.5 * HOUR)); // 23:30 in Tokyo
      const tomorrow = await myStreak(player.accessToken);
      assert.deepEqual(
        [tomorrow.current, tomorrow.safe, tomorrow.atRisk, tomorrow.freezesNeeded],
        [1, false, true, 0],
      );
      assert.equal(tomorrow.periodEndsAt, iso(wednesday + 2 * DAY));
      assert.equal(tomorrow.secondsLeft, 1800);
    });

    it("measures the period in the player's own zone (New York)", async () => {
      const player = await registerPlayer(ctx.app, { timeZone: "America/New_York" });
      // Tokyo's Wednesday midnight is 15:00 UTC on Tuesday, so this is Wednesday 12:00 UTC: 07:00 or
      // 08:00 in New York, whose day ends at 04:00 or 05:00 UTC on Thursday.
      const at = wednesday + 21 * HOUR;
      ctx.clock.set(iso(at));
      const status = await myStreak(player.accessToken);
      const localDate = new Intl.DateTimeFormat("en-CA", { timeZone: "America/New_York" }).format(at);
      const offsetHours = Number(
        new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", timeZoneName: "shortOffset" })
          .formatToParts(at)
          .find((p) => p.type === "timeZoneName")
          ?.value.replace("GMT", ""),
      );
      const midnight = Date.parse(`${localDate}T00:00:00Z`) + DAY - offsetHours * HOUR;
      assert.equal(status.periodEndsAt, iso(midnight));
      assert.equal(status.secondsLeft, (midnight - at) / 1000);
    });

    it("spends a freeze token on a missed day: the ledger says so and the streak goes on", async () => {
      const player = await tokyoPlayer();
      ctx.clock.set(iso(noon(0)));
      await giveFreezeTokens(player.id, 1);
      await meal(player.id);
      ctx.clock.set(iso(noon(2)));
      const waiting = await myStreak(player.accessToken);
      assert.deepEqual(
        [waiting.current, waiting.atRisk, waiting.freezesNeeded, waiting.freezeTokens],
        [1, true, 1, { currency: "streak_freeze", balance: 1, max: 2 }],
      );

      const effects = await meal(player.id);
      const step = nutritionEffect(effects);
      assert.deepEqual(step && [step.change, step.current, step.longest, step.frozen, step.protected], [
        "extended",
        2,
        2,
        1,
        0,
      ]);
      const ledger = await ctx.app.inject({
        method: "GET",
        url: "/v1/me/ledger?currency=streak_freeze",
        headers: bearer(player.accessToken),
      });
      assert.equal(ledger.statusCode, 200, ledger.body);
      const entries = ledger.json<{
        items: { type: string; amount: number; balanceAfter: number; reason: string; source: string }[];
      }>().items;
      assert.deepEqual(
        entries.map((e) => [e.type, e.amount, e.balanceAfter]),
        [
          ["spend", -1, 0],
          ["adjust", 1, 1],
        ],
      );
      assert.match(entries[0]?.reason ?? "", /Nutrition streak/);
      assert.equal(entries[0]?.source, "streak:nutrition");

      const after = await myStreak(player.accessToken);
      assert.deepEqual(
        [after.current, after.safe, after.freezesUsed, after.freezesNeeded, after.freezeTokens?.balance],
        [2, true, 1, 0, 0],
      );
    });

    it("breaks without tokens, and never burns tokens on a streak that breaks anyway", async () => {
      const none = await tokyoPlayer();
      const one = await tokyoPlayer();
      ctx.clock.set(iso(noon(0)));
      await giveFreezeTokens(one.id, 1);
      for (const p of [none, one]) await meal(p.id);

      ctx.clock.set(iso(noon(2)));
      const broken = await myStreak(none.accessToken);
      assert.deepEqual(
        [broken.current, broken.longest, broken.safe, broken.atRisk, broken.freezesNeeded, broken.startedAt],
        [0, 1, false, false, 0, null],
      );
      assert.equal(broken.lastCountedAt, iso(noon(0)));
      const restarted = nutritionEffect(await meal(none.id));
      assert.deepEqual(restarted && [restarted.change, restarted.current, restarted.frozen], [
        "restarted",
        1,
        0,
      ]);

      // Two missed days and one token: the token cannot save it, so it is kept.
      ctx.clock.set(iso(noon(3)));
      const short = await myStreak(one.accessToken);
      assert.deepEqual([short.current, short.atRisk, short.freezesNeeded], [0, false, 0]);
      const again = nutritionEffect(await meal(one.id));
      assert.deepEqual(again && [again.change, again.current, again.frozen], ["restarted", 1, 0]);
      const kept = await myStreak(one.accessToken);
      assert.deepEqual([kept.freezeTokens?.balance, kept.freezesUsed], [1, 0]);
    });

    it("marks milestones reached and pays them once", async () => {
      const player = await tokyoPlayer();
      const milestonesSeen: number[][] = [];
      for (let day = 0; day < 4; day++) {
        ctx.clock.set(iso(noon(day)));
        const step = nutritionEffect(await meal(player.id));
        assert.equal(step?.current, day + 1);
        milestonesSeen.push(step?.milestones ?? []);
      }
      assert.deepEqual(milestonesSeen, [[], [], [3], []]);
      const status = await myStreak(player.accessToken);
      assert.deepEqual(
        status.milestones.map((m) => [m.count, m.reached]),
        [
          [3, true],
          [7, false],
          [30, false],
          [100, false],
        ],
      );
      assert.equal(status.freezeTokens?.balance, 1, "the day-3 milestone pays a freeze token");
      const paid = await ctx.db.asSystem((tx) =>
        tx.rows<{ currency: string; amount: number }>(
          `SELECT currency, amount FROM ledger_entries WHERE user_id = $1 AND source = 'streak:nutrition'
           ORDER BY currency`,
          [player.id],
        ),
      );
      assert.deepEqual(paid, [
        { currency: "streak_freeze", amount: 1 },
        { currency: "xp", amount: 30 },
      ]);
    });
  });
});
