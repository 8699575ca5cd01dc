/**
 * A bad-input sweep over every route in /openapi.json: cases are generated from each operation's
 * documented parameters and body schema, so new routes are covered without touching this file.
 * Every bad request must get a 4xx problem+json answer and must change nothing.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { test } from "node:test";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import {
  bearer,
  createAdmin,
  createTestContext,
  tableDigests,
  registerPlayer,
  type TestContext,
} from "./helpers/context.ts";

/** Routes that by design show any player to any signed-in caller (none today). */
const PUBLIC_VIEWS = new Set<string>([]);

/** A well-formed id that names nothing: a random UUID, or an unused key for {key} parameters. */
const unknownId = (param: string): string => (param === "key" ? "no.such.thing" : randomUUID());

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  anyOf?: Schema[];
  items?: Schema;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  minProperties?: number;
}
interface Parameter {
  in: string;
  name: string;
  schema?: Schema;
}
interface Operation {
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}
interface Case {
  name: string;
  url: string;
  /** Raw body text; undefined sends none. */
  payload?: string;
  contentType?: string;
  /** The acceptable statuses; all of them are 4xx. */
  expect: number[];
  /** Replaces the caller's Authorization header; null sends none. */
  authorization?: string | null;
  /** The problem code the answer must have, when one is meant. */
  code?: string;
}
interface Fixtures {
  /** A resource of another player that the calling player must not reach, per path parameter route. */
  othersResource: (path: string) => string;
}

const METHODS = new Set(["get", "post", "put", "patch", "delete"]);
const b64url = (text: string) => Buffer.from(text).toString("base64url");

/** The JSON types a schema admits (an enum counts by the types of its values). */
function typesOf(s: Schema): string[] {
  if (s.anyOf) return s.anyOf.flatMap(typesOf);
  if (s.enum) return [...new Set(s.enum.map((v) => (v === null ? "null" : typeof v)))];
  if (s.type === undefined) return [];
  return Array.isArray(s.type) ? s.type : [s.type];
}

/** A valid value for a schema: every bad body departs from this in exactly one place. */
function example(s: Schema): unknown {
  if (s.enum) return s.enum[0];
  if (s.anyOf?.[0]) return example(s.anyOf[0]);
  switch (typesOf(s)[0] ?? "null") {
    case "string":
      if (s.format === "email") return `sweep-${randomBytes(4).toString("hex")}@example.com`;
      if (s.format === "uuid") return randomUUID();
      if (s.format === "date-time") return new Date(Date.now() + 86_400_000).toISOString();
      if (s.format === "uri") return "https://example.com/a.png";
      return "x".repeat(Math.max(s.minLength ?? 1, 3));
    case "integer":
    case "number":
      return s.minimum ?? 1;
    case "boolean":
      return true;
    case "array":
      return Array.from({ length: s.minItems ?? 0 }, () => example(s.items ?? {}));
    case "object": {
      const props = Object.entries(s.properties ?? {});
      const required = new Set(s.required ?? []);
      const chosen = props.filter(([name]) => required.has(name));
      for (const prop of props) {
        if (chosen.length >= (s.minProperties ?? 0)) break;
        if (!required.has(prop[0])) chosen.push(prop);
      }
      return Object.fromEntries(chosen.map(([name, p]) => [name, example(p)]));
    }
    default:
      return null;
  }
}

/** Values of the wrong JSON type for a schema, each labelled. */
function wrongTypes(s: Schema): [string, unknown][] {
  const types = typesOf(s);
  const candidates: [string, unknown, string[]][] = [
    ["a number", 12345, ["string"]],
    ['the string "1"', "1", ["integer", "number"]],
    ['the string "true"', "true", ["boolean"]],
    ["an object", { a: 1 }, ["array"]],
    ["an array", [1], ["object"]],
  ];
  return candidates
    .filter(([, value, when]) => when.some((t) => types.includes(t)) && !types.includes(jsonType(value)))
    .map(([label, value]) => [label, value]);
}

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  return typeof value;
}

/**
 * Numbers no documented field accepts (every amount has a ceiling; see src/platform/limits.ts):
 * each number anywhere in a body (nested objects and array items too) replaced by one of them.
 */
const BAD_NUMBERS: [string, number][] = [
  ["1e18", 1e18],
  ["-1e18", -1e18],
  ["9.3e18", 9.3e18],
  ["2^53 + 1", 2 ** 53 + 1],
  ["-(2^53 + 1)", -(2 ** 53 + 1)],
  ["1e300", 1e300],
];

function numberVariants(s: Schema, value: unknown, depth = 0): [string, unknown][] {
  if (depth > 5) return [];
  const types = typesOf(s);
  const out: [string, unknown][] = [];
  if (types.includes("integer") || types.includes("number")) {
    out.push(...BAD_NUMBERS.map(([label, n]): [string, unknown] => [` = ${label}`, n]));
    if (!types.includes("number")) out.push([" = 1.5 (an integer field)", 1.5]);
  }
  for (const branch of s.anyOf ?? []) {
    if (!typesOf(branch).some((t) => t === "object" || t === "array")) continue;
    out.push(...numberVariants(branch, example(branch), depth + 1));
  }
  if (s.properties !== undefined) {
    const base = (value !== null && typeof value === "object" ? value : {}) as Record<string, unknown>;
    for (const [prop, p] of Object.entries(s.properties)) {
      for (const [label, v] of numberVariants(p, base[prop] ?? example(p), depth + 1)) {
        out.push([`.${prop}${label}`, { ...base, [prop]: v }]);
      }
    }
  }
  if (s.items !== undefined) {
    const first: unknown = Array.isArray(value) && value.length > 0 ? value[0] : example(s.items);
    for (const [label, v] of numberVariants(s.items, first, depth + 1)) out.push([`[0]${label}`, [v]]);
  }
  return out;
}

/** Query values a parameter's schema refuses. */
function badQueryValues(p: Parameter): [string, string][] {
  const s = p.schema ?? {};
  if (p.name === "limit") return ["0", "-1", "101", "1e9", "abc"].map((v) => [v, v]);
  const out: [string, string][] = [];
  const types = typesOf(s);
  if (s.enum) out.push(["no-such-value", "no-such-value"]);
  if (s.format === "uuid") out.push(["not-a-uuid", "not-a-uuid"]);
  if (types.includes("boolean")) out.push(["maybe", "maybe"]);
  if (types.includes("integer") || types.includes("number")) out.push(["abc", "abc"]);
  if (s.maxLength !== undefined) out.push([`${s.maxLength + 1} chars`, "x".repeat(s.maxLength + 1)]);
  if ((s.minLength ?? 0) > 0) out.push(["empty", ""]);
  if (p.name === "cursor") {
    out.push(
      ["random base64url", randomBytes(24).toString("base64url")],
      ["JSON of the wrong shape", b64url(JSON.stringify({ at: "2026-01-01", id: 1 }))],
      [
        "31 February",
        b64url(JSON.stringify(["2026-02-31 10:00:00+00", "00000000-0000-0000-0000-000000000000"])),
      ],
    );
  }
  return out;
}

/** The bad requests for one operation, generated from its documented inputs. */
function casesFor(method: string, path: string, op: Operation, fixtures: Fixtures, admin: boolean): Case[] {
  const params = op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === "path");
  const queryParams = params.filter((p) => p.in === "query");
  const body = op.requestBody?.content?.["application/json"]?.schema;
  const valid = body === undefined ? undefined : (example(body) as Record<string, unknown>);
  const validText = valid === undefined ? undefined : JSON.stringify(valid);
  // Path parameters are well-formed but unknown unless a case says otherwise.
  const urlWith = (values: Record<string, string> = {}, query = "") =>
    path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? unknownId(name))) +
    query;
  const cases: Case[] = [];
  const add = (c: Omit<Case, "url"> & { url?: string }) => cases.push({ url: urlWith(), ...c });

  if (method !== "get") add({ name: "malformed JSON", payload: '{"a":', expect: [400] });
  if (method !== "get") {
    // Bounded structure, refused as the body is parsed: too deep (400), too wide (413).
    add({
      name: "JSON nested 5,000 levels",
      payload: `{"a":${"[".repeat(5000)}${"]".repeat(5000)}}`,
      expect: [400],
      code: "request.json_too_deep",
    });
    add({
      name: "JSON array of 10,001 items",
      payload: `{"a":[${"0,".repeat(10_000)}0]}`,
      expect: [413],
      code: "request.json_too_large",
    });
  }
  if (body !== undefined && valid !== undefined) {
    add({ name: "empty JSON body", payload: "", expect: [400] });
    for (const [label, v] of [
      ["an array", []],
      ["a string", "str"],
      ["a number", 42],
      ["null", null],
    ]) {
      add({ name: `body is ${String(label)}`, payload: JSON.stringify(v), expect: [400] });
    }
    add({ name: "unknown field alone", payload: JSON.stringify({ unknownField: 1 }), expect: [400] });
    add({
      name: "unknown field beside valid ones",
      payload: JSON.stringify({ ...valid, unknownField: 1 }),
      expect: [400],
    });
    const huge = "x".repeat(100_000);
    for (const [prop, schema] of Object.entries(body.properties ?? {})) {
      for (const [label, v] of wrongTypes(schema)) {
        add({ name: `${prop} is ${label}`, payload: JSON.stringify({ ...valid, [prop]: v }), expect: [400] });
      }
      if (typesOf(schema).includes("string")) {
        add({
          name: `${prop} of 100,000 chars`,
          payload: JSON.stringify({ ...valid, [prop]: huge }),
          expect: [400, 413],
        });
      }
    }
    for (const [label, v] of numberVariants(body, valid)) {
      add({ name: `body${label}`, payload: JSON.stringify(v), expect: [400] });
    }
    add({ name: "text/plain body", payload: validText, contentType: "text/plain", expect: [400, 415] });
    add({ name: "application/xml body", payload: "<a/>", contentType: "application/xml", expect: [415] });
  }
  for (const p of pathParams) {
    const bad: [string, string][] = [
      ["not-a-uuid", urlWith({ [p.name]: "not-a-uuid" })],
      ["a UUID with a g", urlWith({ [p.name]: "00000000-0000-0000-0000-00000000000g" })],
      ["5,000 chars", urlWith({ [p.name]: "a".repeat(5000) })],
      // Sent as is, not encoded: a percent sign that starts no valid escape.
      ["broken percent-encoding", urlWith({ [p.name]: "\0" }).replace("%00", "%E0%A4%A")],
    ];
    for (const [label, url] of bad) {
      add({ name: `{${p.name}} is ${label}`, url, payload: validText, expect: [400, 404, 414] });
    }
    add({ name: `{${p.name}} is a random UUID`, payload: validText, expect: [404] });
    // Public views (a player's public progress) are meant to show other players.
    if (!admin && !PUBLIC_VIEWS.has(path)) {
      const other = fixtures.othersResource(path);
      add({
        name: `{${p.name}} is another player's`,
        url: urlWith({ [p.name]: other }),
        payload: validText,
        expect: [404],
      });
    }
  }
  if (queryParams.length > 0) {
    add({ name: "unknown query parameter", url: urlWith({}, "?unknownParam=1"), expect: [400] });
    for (const p of queryParams) {
      for (const [label, v] of badQueryValues(p)) {
        const query = `?${encodeURIComponent(p.name)}=${encodeURIComponent(v)}`;
        // A stream ticket is a credential: a malformed one is refused by the guard, before validation.
        add({
          name: `?${p.name}=${label}`,
          url: urlWith({}, query),
          expect: p.name === "ticket" ? [401] : [400],
        });
      }
    }
  }
  return cases;
}

/** What a sweep of bad requests must leave exactly as it was. */
// Every table a refused request could have written, compared whole (rows and content).
const GAME_TABLES = [
  "currencies",
  "event_types",
  "rules",
  "achievements",
  "streak_definitions",
  "quest_pools",
  "quest_templates",
  "wallets",
  "ledger_entries",
  "events",
  "user_progress",
  "user_achievements",
  "user_streaks",
  "user_streak_milestones",
  "streak_protections",
  "user_quests",
  "idempotency_keys",
  "leaderboards",
  "leaderboard_entries",
  "leaderboard_periods",
  "leaderboard_snapshots",
  "shop_items",
  "user_inventory",
  "purchases",
  "user_boosts",
  "gifts",
  "user_gifts",
  "notifications",
  "notification_preferences",
  "webhook_endpoints",
  "webhook_deliveries",
];

async function snapshot(ctx: TestContext) {
  return { ...(await identitySnapshot(ctx)), ...(await tableDigests(ctx, GAME_TABLES)) };
}

async function identitySnapshot(ctx: TestContext) {
  return ctx.db.asSystem((tx) =>
    tx.one<Record<string, unknown>>(
      `SELECT (SELECT count(*) FROM users)::int AS users,
              (SELECT count(*) FROM sessions)::int AS sessions,
              (SELECT count(*) FROM refresh_tokens)::int AS refresh_tokens,
              (SELECT count(*) FROM api_keys)::int AS api_keys,
              (SELECT count(*) FROM sessions WHERE revoked_at IS NULL)::int AS live_sessions,
              (SELECT count(*) FROM refresh_tokens WHERE used_at IS NULL)::int AS unused_refresh_tokens,
              (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL)::int AS live_api_keys,
              (SELECT md5(string_agg(concat_ws('|', u.id, u.email, u.username, u.display_name, u.role,
                        u.is_active, u.deleted_at, u.erased_at, u.password_hash, p.avatar_url, p.bio,
                        p.time_zone, p.locale), ',' ORDER BY u.id))
                 FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id) AS users_digest`,
    ),
  );
}

function checkAnswer(c: Case, method: string, res: LightMyRequestResponse): string | undefined {
  const type = String(res.headers["content-type"] ?? "");
  const what = `${c.name}: ${method.toUpperCase()} ${c.url.slice(0, 100)} → ${res.statusCode} ${type} ${res.body.slice(0, 300)}`;
  if (!c.expect.includes(res.statusCode)) return `expected ${c.expect.join("/")}; ${what}`;
  if (!type.startsWith("application/problem+json")) return `not problem+json; ${what}`;
  let body: { code?: unknown; status?: unknown };
  try {
    body = res.json<{ code?: unknown; status?: unknown }>();
  } catch {
    return `body is not JSON; ${what}`;
  }
  if (typeof body.code !== "string" || body.code.length === 0) return `no string code; ${what}`;
  if (body.status !== res.statusCode) return `body status differs from HTTP status; ${what}`;
  if (c.code !== undefined && body.code !== c.code) return `expected code ${c.code}; ${what}`;
  return undefined;
}

test("every documented route refuses bad input with a 4xx problem and changes nothing", async (t) => {
  // All the default content, so quests, pools and streaks exist to be poked at.
  const ctx = await createTestContext({
    packs: [
      "dietgame",
      "dietgame-achievements",
      "dietgame-streaks-quests",
      "questlog",
      "prodev",
      "leaderboards",
      "dietgame-shop",
    ],
  });
  t.after(() => ctx.close());

  const player = await registerPlayer(ctx.app);
  const other = await registerPlayer(ctx.app);
  const admin = await createAdmin(ctx);
  const key = await ctx.app.inject({
    method: "POST",
    url: "/v1/admin/api-keys",
    headers: bearer(admin.accessToken),
    payload: { name: "sweep", scopes: ["users:read"] },
  });
  assert.equal(key.statusCode, 201, key.body);
  const fixtures: Fixtures = {
    othersResource: (path) => (path.includes("/sessions/") ? other.sessionId : other.id),
  };

  const spec = await ctx.app.inject({ method: "GET", url: "/openapi.json" });
  assert.equal(spec.statusCode, 200);
  const paths = spec.json<{ paths: Record<string, Record<string, Operation>> }>().paths;
  const operations = Object.entries(paths)
    .filter(([path]) => path !== "/openapi.json" && !path.startsWith("/docs"))
    .flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.has(method))
        .map(([method, op]) => ({ method, path, op })),
    );
  assert.ok(operations.length >= 20, `only ${operations.length} operations documented`);

  const ajv = addFormats(new Ajv({ strict: false }));
  const before = await snapshot(ctx);
  let total = 0;
  for (const { method, path, op } of operations) {
    // Auth routes sign in; admin, users/{id} and score submission (an app backend's, or an admin's)
    // routes need an admin; the rest act as a player.
    const asAdmin =
      path.startsWith("/v1/admin/") || path.startsWith("/v1/users/{id}") || path.endsWith("/scores");
    const token = op.security === undefined ? undefined : asAdmin ? admin.accessToken : player.accessToken;
    const cases = casesFor(method, path, op, fixtures, asAdmin);
    if (op.security !== undefined) {
      // Bad credentials are bad input too: every guarded route must refuse them the same way.
      // A valid request in every other way (the guard runs first anyway).
      const url = path.replace(/\{([^}]+)\}/g, (_, name: string) => unknownId(name));
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      const payload = schema === undefined ? undefined : JSON.stringify(example(schema));
      const basic = `Basic ${Buffer.from("a:b").toString("base64")}`;
      cases.push(
        { name: "no credentials", url, payload, expect: [401], authorization: null },
        { name: "garbage bearer token", url, payload, expect: [401], authorization: "Bearer not-a-token" },
        { name: "wrong auth scheme", url, payload, expect: [401], authorization: basic },
        {
          name: "oversize bearer token",
          url,
          payload,
          expect: [401],
          authorization: `Bearer ${"x".repeat(20000)}`,
        },
      );
      if (asAdmin) {
        cases.push({
          name: "a player's token",
          url,
          payload,
          expect: [403],
          authorization: `Bearer ${player.accessToken}`,
        });
      }
    }
    // Routes with no input and no guard (health, metrics) have nothing to get wrong.
    if (cases.length === 0) continue;
    total += cases.length;
    await t.test(`${method.toUpperCase()} ${path}`, async () => {
      // The base body each case departs from must itself be valid, or the sweep proves nothing.
      const body = op.requestBody?.content?.["application/json"]?.schema;
      if (body !== undefined) {
        const validate = ajv.compile(body);
        assert.ok(validate(example(body)), `base body invalid: ${ajv.errorsText(validate.errors)}`);
      }
      const failures: string[] = [];
      for (const c of cases) {
        const headers: Record<string, string> = token === undefined ? {} : bearer(token);
        if (c.authorization === null) delete headers.authorization;
        else if (c.authorization !== undefined) headers.authorization = c.authorization;
        if (c.payload !== undefined) headers["content-type"] = c.contentType ?? "application/json";
        const res = await ctx.app.inject({
          method: method.toUpperCase() as InjectOptions["method"],
          url: c.url,
          headers,
          ...(c.payload === undefined ? {} : { payload: c.payload }),
        });
        const failure = checkAnswer(c, method, res);
        if (failure !== undefined) failures.push(failure);
      }
      assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases failed`);
    });
  }
  t.diagnostic(`${total} bad requests over ${operations.length} operations`);

  await t.test("the sweep changed nothing", async () => {
    assert.deepEqual(await snapshot(ctx), before);
    for (const who of [player, other, admin]) {
      const me = await ctx.app.inject({ method: "GET", url: "/v1/me", headers: bearer(who.accessToken) });
      assert.equal(me.statusCode, 200, `a sweep account still works: ${me.body}`);
    }
  });
});
