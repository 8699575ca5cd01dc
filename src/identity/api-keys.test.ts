import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { SYSTEM_META } from "../audit/audit.service.ts";
import {
  bearer,
  createAdmin,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
} from "../../test/helpers/context.ts";

interface ApiKeyBody {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

describe("API keys", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let player: Awaited<ReturnType<typeof registerPlayer>>;
  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
    player = await registerPlayer(ctx.app);
    // Something public to read.
    await ctx.app.inject({
      method: "PATCH",
      url: "/v1/me",
      headers: bearer(player.accessToken),
      payload: {
        displayName: "Public Player",
        avatarUrl: "https://cdn.example.com/p.png",
        bio: "private-ish",
      },
    });
  });
  after(() => ctx.close());

  const createKey = (payload: object, token = admin.accessToken) =>
    ctx.app.inject({ method: "POST", url: "/v1/admin/api-keys", headers: bearer(token), payload });
  const newKey = async (payload: object = {}) => {
    const res = await createKey({
      name: `key ${randomUUID().slice(0, 8)}`,
      scopes: ["users:read"],
      ...payload,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<ApiKeyBody & { key: string }>();
  };
  const readUser = (headers: Record<string, string>, id = player.id) =>
    ctx.app.inject({ method: "GET", url: `/v1/users/${id}`, headers });
  const withKey = (key: string, id = player.id) => readUser({ "x-api-key": key }, id);
  const listKeys = () =>
    ctx.app.inject({ method: "GET", url: "/v1/admin/api-keys", headers: bearer(admin.accessToken) });

  function assertRefused(res: LightMyRequestResponse, what: string) {
    assert.ok(res.statusCode === 401 || res.statusCode === 403, `${what}: ${res.statusCode} ${res.body}`);
    const body = problem(res);
    assert.equal(body.status, res.statusCode);
    assert.ok(!res.body.includes(player.email), `${what} leaks data`);
    return body;
  }

  it("creates a key shown once (201, ludus_ prefix); the listing never shows it", async () => {
    const before = new Date(ctx.clock.now());
    const res = await createKey({ name: "game server", scopes: ["users:read"] });
    assert.equal(res.statusCode, 201);
    const created = res.json<ApiKeyBody & { key: string }>();
    assert.ok(created.key.startsWith("ludus_"), created.key);
    assert.ok(created.key.length > 40, "enough entropy");
    assert.ok(created.key.startsWith(`ludus_${created.prefix}_`));
    assert.equal(created.name, "game server");
    assert.deepEqual(created.scopes, ["users:read"]);
    assert.equal(created.createdBy, admin.id);
    assert.equal(created.createdAt, before.toISOString());
    assert.equal(created.expiresAt, null);
    assert.equal(created.lastUsedAt, null);
    assert.equal(created.revokedAt, null);

    const list = await listKeys();
    assert.equal(list.statusCode, 200);
    assert.ok(!list.body.includes(created.key), "the listing holds the key");
    const secret = created.key.slice(`ludus_${created.prefix}_`.length);
    assert.ok(!list.body.includes(secret), "the listing holds the key's secret part");
    const items = list.json<{ items: (ApiKeyBody & Record<string, unknown>)[] }>().items;
    const listed = items.find((k) => k.id === created.id);
    assert.ok(listed);
    assert.equal(listed.name, "game server");
    assert.equal(listed.prefix, created.prefix);
    for (const field of ["key", "keyHash", "key_hash", "hash"]) {
      assert.ok(!(field in listed), `listing has ${field}`);
    }

    // Two keys never share a value or prefix.
    const other = await newKey();
    assert.notEqual(other.key, created.key);
    assert.notEqual(other.prefix, created.prefix);
  });

  it("validates the creation body", async () => {
    for (const payload of [
      { name: "", scopes: ["users:read"] },
      { name: "x", scopes: [] },
      { name: "x", scopes: ["users:write"] },
      { name: "x", scopes: ["users:read"], expiresAt: "tomorrow" },
      { name: "x", scopes: ["users:read"], extra: true },
    ]) {
      const res = await createKey(payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(problem(res).code, "validation.failed");
    }
  });

  it("authenticates GET /v1/users/{id} via X-API-Key and via Authorization: Bearer, with public fields only", async () => {
    const { key } = await newKey();
    for (const headers of [{ "x-api-key": key }, bearer(key), { authorization: `bearer ${key}` }]) {
      const res = await readUser(headers);
      assert.equal(res.statusCode, 200, `${JSON.stringify(Object.keys(headers))}: ${res.body}`);
      const body = res.json<Record<string, unknown>>();
      assert.deepEqual(body, {
        id: player.id,
        username: player.username,
        displayName: "Public Player",
        avatarUrl: "https://cdn.example.com/p.png",
      });
      assert.ok(!res.body.includes(player.email), "no email");
      assert.ok(!res.body.includes("private-ish"), "no bio");
      assert.ok(!("role" in body) && !("isActive" in body) && !("profile" in body));
    }
  });

  it("records when a key was last used", async () => {
    const created = await newKey();
    assert.equal((await withKey(created.key)).statusCode, 200);
    const listed = (await listKeys()).json<{ items: ApiKeyBody[] }>().items.find((k) => k.id === created.id);
    assert.equal(listed?.lastUsedAt, ctx.clock.now().toISOString());
  });

  it("answers 404 for unknown and erased users", async () => {
    const { key } = await newKey();
    const unknown = await withKey(key, randomUUID());
    assert.equal(unknown.statusCode, 404);
    assert.equal(problem(unknown).code, "resource.not_found");

    const gone = await registerPlayer(ctx.app);
    const erase = await ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${gone.id}/erase`,
      headers: bearer(admin.accessToken),
    });
    assert.equal(erase.statusCode, 200);
    const erased = await withKey(key, gone.id);
    assert.equal(erased.statusCode, 404);
    assert.equal(problem(erased).code, "resource.not_found");
  });

  it("refuses a key without the users:read scope (403 auth.insufficient_scope)", async () => {
    // The API only creates keys with at least one known scope, so this one is made through the service.
    const scopeless = await ctx.identity.apiKeys.create({ type: "system" }, SYSTEM_META, {
      name: "no scopes",
      scopes: [],
    });
    const res = await withKey(scopeless.key);
    assert.equal(res.statusCode, 403);
    assert.equal(assertRefused(res, "scopeless").code, "auth.insufficient_scope");
  });

  it("refuses a revoked key with 401", async () => {
    const created = await newKey();
    assert.equal((await withKey(created.key)).statusCode, 200);
    const revoke = await ctx.app.inject({
      method: "DELETE",
      url: `/v1/admin/api-keys/${created.id}`,
      headers: bearer(admin.accessToken),
    });
    assert.equal(revoke.statusCode, 200);
    assert.equal(revoke.json<ApiKeyBody>().revokedAt, ctx.clock.now().toISOString());

    for (const res of [await withKey(created.key), await readUser(bearer(created.key))]) {
      assert.equal(res.statusCode, 401);
      assert.equal(assertRefused(res, "revoked").code, "auth.invalid_token");
    }
    const listed = (await listKeys()).json<{ items: ApiKeyBody[] }>().items.find((k) => k.id === created.id);
    assert.notEqual(listed?.revokedAt, null);

    // Revoking again keeps the first revocation time; unknown ids are 404.
    ctx.clock.advance(5000);
    const again = await ctx.app.inject({
      method: "DELETE",
      url: `/v1/admin/api-keys/${created.id}`,
      headers: bearer(admin.accessToken),
    });
    ctx.clock.advance(-5000);
    assert.equal(again.json<ApiKeyBody>().revokedAt, revoke.json<ApiKeyBody>().revokedAt);
    const missing = await ctx.app.inject({
      method: "DELETE",
      url: `/v1/admin/api-keys/${randomUUID()}`,
      headers: bearer(admin.accessToken),
    });
    assert.equal(missing.statusCode, 404);
    assert.equal(problem(missing).code, "resource.not_found");
  });

  it("refuses to create a key that would be expired already", async () => {
    const count = async () =>
      (
        await ctx.app.inject({ method: "GET", url: "/v1/admin/api-keys", headers: bearer(admin.accessToken) })
      ).json<{ items: unknown[] }>().items.length;
    const before = await count();
    for (const expiresAt of [
      new Date(ctx.clock.now().getTime() - 3600_000).toISOString(),
      ctx.clock.now().toISOString(),
    ]) {
      const res = await createKey({ name: "already expired", scopes: ["users:read"], expiresAt });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(problem(res).code, "validation.failed");
    }
    assert.equal(await count(), before);
  });

  it("refuses a key once the clock passes its expiresAt", async () => {
    const expiresAt = new Date(ctx.clock.now().getTime() + 3600_000).toISOString();
    const created = await newKey({ expiresAt });
    assert.equal(created.expiresAt, expiresAt);
    assert.equal((await withKey(created.key)).statusCode, 200);
    ctx.clock.advance(3600_000 + 1000);
    try {
      const res = await withKey(created.key);
      assert.equal(res.statusCode, 401);
      assert.equal(assertRefused(res, "expired").code, "auth.invalid_token");
    } finally {
      ctx.clock.advance(-(3600_000 + 1000));
    }
    assert.equal((await withKey(created.key)).statusCode, 200, "valid again before expiry");
  });

  it("refuses garbage ludus_ keys with 401", async () => {
    const { key, prefix } = await newKey();
    const garbage = [
      "ludus_",
      "ludus_nope",
      `ludus_${randomBytes(6).toString("base64url")}_${randomBytes(32).toString("base64url")}`,
      `ludus_${prefix}_${randomBytes(32).toString("base64url")}`, // right prefix, wrong secret
      `${key}x`,
      key.slice(0, -1),
      `ludus_${"a".repeat(500)}`,
    ];
    for (const value of garbage) {
      for (const headers of [{ "x-api-key": value }, bearer(value)]) {
        const res = await readUser(headers);
        assert.equal(res.statusCode, 401, `${value.slice(0, 30)}: ${res.body}`);
        assert.equal(assertRefused(res, value).code, "auth.invalid_token");
      }
    }
    const none = await readUser({});
    assert.equal(none.statusCode, 401);
    assert.equal(assertRefused(none, "none").code, "auth.unauthenticated");
  });

  it("a player JWT on /v1/users/{id} gets 403 auth.insufficient_scope; an admin JWT is allowed", async () => {
    const other = await registerPlayer(ctx.app);
    const res = await readUser(bearer(other.accessToken));
    assert.equal(res.statusCode, 403);
    assert.equal(assertRefused(res, "player").code, "auth.insufficient_scope");
    const self = await readUser(bearer(player.accessToken));
    assert.equal(self.statusCode, 403);
    assert.equal(problem(self).code, "auth.insufficient_scope");

    const byAdmin = await readUser(bearer(admin.accessToken));
    assert.equal(byAdmin.statusCode, 200);
    assert.equal(byAdmin.json<{ id: string }>().id, player.id);
  });

  it("a key cannot act as a user: /v1/me and admin routes refuse it", async () => {
    const { key } = await newKey();
    for (const [method, url] of [
      ["GET", "/v1/me"],
      ["GET", "/v1/admin/users"],
      ["GET", "/v1/admin/api-keys"],
      ["GET", "/v1/admin/audit-logs"],
    ] as const) {
      const res = await ctx.app.inject({ method, url, headers: { "x-api-key": key } });
      assert.equal(res.statusCode, 403, `${url}: ${res.body}`);
      assert.equal(problem(res).code, "auth.forbidden");
    }
    const create = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/api-keys",
      headers: bearer(key),
      payload: { name: "escalate", scopes: ["users:read"] },
    });
    assert.equal(create.statusCode, 403);
  });

  it("the database stores only a hash of the key", async () => {
    const created = await newKey({ name: "hash check" });
    const secret = created.key.slice(`ludus_${created.prefix}_`.length);
    const rows = await ctx.db.asSystem((tx) =>
      tx.rows<Record<string, unknown>>(`SELECT * FROM api_keys WHERE id = $1`, [created.id]),
    );
    assert.equal(rows.length, 1);
    const row = rows[0];
    assert.ok(row);
    for (const [column, value] of Object.entries(row)) {
      const text = Buffer.isBuffer(value) ? value.toString("latin1") + value.toString("hex") : String(value);
      assert.ok(!text.includes(created.key), `column ${column} holds the key`);
      assert.ok(!text.includes(secret), `column ${column} holds the key's secret`);
    }
    assert.ok(Buffer.isBuffer(row.key_hash));
    assert.equal(row.key_hash.length, 32, "a SHA-256 digest");

    // Nor anywhere else: the audit log and the key table as text.
    const dump = await ctx.db.asSystem((tx) =>
      tx.one<{ keys: string; audit: string }>(
        `SELECT (SELECT coalesce(string_agg(k::text, ' '), '') FROM api_keys k) AS keys,
                (SELECT coalesce(string_agg(a::text, ' '), '') FROM audit_logs a) AS audit`,
      ),
    );
    assert.ok(!dump.keys.includes(secret));
    assert.ok(!dump.audit.includes(secret));
  });

  it("players and moderators cannot create or list keys", async () => {
    const mod = await registerPlayer(ctx.app);
    await ctx.app.inject({
      method: "PUT",
      url: `/v1/admin/users/${mod.id}/role`,
      headers: bearer(admin.accessToken),
      payload: { role: "moderator" },
    });
    for (const token of [player.accessToken, mod.accessToken]) {
      const create = await createKey({ name: "sneaky", scopes: ["users:read"] }, token);
      assert.equal(create.statusCode, 403);
      assert.equal(problem(create).code, "auth.forbidden");
      const list = await ctx.app.inject({ method: "GET", url: "/v1/admin/api-keys", headers: bearer(token) });
      assert.equal(list.statusCode, 403);
    }
  });
});
