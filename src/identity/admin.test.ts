import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { SYSTEM_META } from "../audit/audit.service.ts";
import { AppError } from "../platform/http/errors.ts";
import { encodeCursor } from "../platform/http/pagination.ts";
import {
  bearer,
  createAdmin,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
} from "../../test/helpers/context.ts";

interface UserBody {
  id: string;
  email: string;
  username: string;
  displayName: string;
  role: string;
  isActive: boolean;
  deletedAt: string | null;
  createdAt: string;
  profile: { avatarUrl: string | null; bio: string | null };
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

interface AuditBody {
  id: string;
  createdAt: string;
  actorType: string;
  actorId: string | null;
  subjectUserId: string | null;
  action: string;
  resourceType: string;
  resourceId: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

const tag = () => randomBytes(4).toString("hex");

describe("admin routes (/v1/admin)", () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  before(async () => {
    ctx = await createTestContext();
    admin = await createAdmin(ctx);
  });
  after(() => ctx.close());

  const as = (token: string, method: HttpMethod, url: string, payload?: object) =>
    ctx.app.inject({
      method,
      url,
      headers: bearer(token),
      ...(payload === undefined ? {} : { payload }),
    });
  const listUsers = (token: string, query: Record<string, string>) =>
    as(token, "GET", `/v1/admin/users?${new URLSearchParams(query).toString()}`);
  const setRole = (token: string, id: string, role: string) =>
    as(token, "PUT", `/v1/admin/users/${id}/role`, { role });
  const login = (name: string, password: string) =>
    ctx.app.inject({ method: "POST", url: "/v1/auth/login", payload: { login: name, password } });

  /** Every user a listing returns, following nextCursor to the end. */
  async function walkUsers(token: string, query: Record<string, string>) {
    const pages: UserBody[][] = [];
    let cursor: string | null = null;
    do {
      const res = await listUsers(token, { ...query, ...(cursor === null ? {} : { cursor }) });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<Page<UserBody>>();
      pages.push(page.items);
      cursor = page.nextCursor;
      assert.ok(pages.length < 1000, "pagination terminates");
    } while (cursor !== null);
    return pages;
  }

  async function auditRows(where: string, values: unknown[]) {
    return ctx.db.asSystem((tx) =>
      tx.rows<{
        action: string;
        actor_type: string;
        actor_id: string | null;
        subject_user_id: string | null;
        resource_type: string;
        resource_id: string | null;
        before_data: unknown;
        after_data: unknown;
        ip: string | null;
        user_agent: string | null;
        request_id: string | null;
        created_at: Date;
      }>(
        `SELECT action, actor_type, actor_id, subject_user_id, resource_type, resource_id, before_data,
                after_data, host(ip) AS ip, user_agent, request_id, created_at
         FROM audit_logs WHERE ${where} ORDER BY created_at, id`,
        values,
      ),
    );
  }

  describe("access control", () => {
    const someId = randomUUID();
    const routes: [HttpMethod, string, object?][] = [
      ["GET", "/v1/admin/users"],
      ["GET", `/v1/admin/users/${someId}`],
      ["PUT", `/v1/admin/users/${someId}/role`, { role: "admin" }],
      ["POST", `/v1/admin/users/${someId}/deactivate`],
      ["POST", `/v1/admin/users/${someId}/activate`],
      ["POST", `/v1/admin/users/${someId}/erase`],
      ["POST", "/v1/admin/api-keys", { name: "k", scopes: ["users:read"] }],
      ["GET", "/v1/admin/api-keys"],
      ["DELETE", `/v1/admin/api-keys/${someId}`],
      ["GET", "/v1/admin/audit-logs"],
    ];

    it("players get 403 auth.forbidden on every admin route", async () => {
      const player = await registerPlayer(ctx.app);
      for (const [method, url, payload] of routes) {
        const res = await as(player.accessToken, method, url, payload);
        assert.equal(res.statusCode, 403, `${method} ${url}: ${res.body}`);
        assert.equal(problem(res).code, "auth.forbidden", `${method} ${url}`);
      }
      const { count } = await ctx.db.asSystem((tx) =>
        tx.one<{ count: number }>(`SELECT count(*)::int AS count FROM api_keys`),
      );
      assert.equal(count, 0, "the player created no API key");
    });

    it("no token gets 401 auth.unauthenticated on every admin route", async () => {
      for (const [method, url, payload] of routes) {
        const res = await ctx.app.inject({ method, url, ...(payload === undefined ? {} : { payload }) });
        assert.equal(res.statusCode, 401, `${method} ${url}: ${res.body}`);
        assert.equal(problem(res).code, "auth.unauthenticated", `${method} ${url}`);
      }
    });
  });

  describe("GET /v1/admin/users", () => {
    it("searches email, username and display name partially and case-insensitively", async () => {
      const t = tag();
      const a = await registerPlayer(ctx.app, { username: `srch${t}alpha`, email: `alpha${t}@example.com` });
      const b = await registerPlayer(ctx.app, { username: `srch${t}beta`, email: `beta${t}@example.com` });
      const c = await registerPlayer(ctx.app);
      await as(c.accessToken, "PATCH", "/v1/me", { displayName: `Display SRCH${t} Gamma` });

      const byPrefix = await listUsers(admin.accessToken, { q: `SRCH${t.toUpperCase()}` });
      assert.equal(byPrefix.statusCode, 200);
      assert.deepEqual(
        byPrefix
          .json<Page<UserBody>>()
          .items.map((u) => u.id)
          .sort(),
        [a.id, b.id, c.id].sort(),
      );

      const byEmail = await listUsers(admin.accessToken, { q: `BETA${t}@EXAMPLE` });
      assert.deepEqual(
        byEmail.json<Page<UserBody>>().items.map((u) => u.id),
        [b.id],
      );

      const byMiddle = await listUsers(admin.accessToken, { q: `${t}alp` });
      assert.deepEqual(
        byMiddle.json<Page<UserBody>>().items.map((u) => u.id),
        [a.id],
      );

      const none = await listUsers(admin.accessToken, { q: `nobody${t}` });
      assert.deepEqual(none.json<Page<UserBody>>(), { items: [], nextCursor: null });
    });

    it("treats % and _ in q literally", async () => {
      const t = tag();
      const underscore = await registerPlayer(ctx.app, { username: `lit${t}a_b` });
      const letter = await registerPlayer(ctx.app, { username: `lit${t}axb` });
      const percent = await registerPlayer(ctx.app);
      const digits = await registerPlayer(ctx.app);
      await as(percent.accessToken, "PATCH", "/v1/me", { displayName: `pct${t} 100% off` });
      await as(digits.accessToken, "PATCH", "/v1/me", { displayName: `pct${t} 1000 off` });

      const ids = async (q: string) =>
        (await listUsers(admin.accessToken, { q, limit: "100" }))
          .json<Page<UserBody>>()
          .items.map((u) => u.id);

      assert.deepEqual(await ids(`lit${t}a_b`), [underscore.id]);
      assert.deepEqual(await ids(`pct${t} 100%`), [percent.id]);
      assert.deepEqual(await ids(`pct${t} 100% off`), [percent.id]);

      // A bare wildcard character must match only users whose fields contain it.
      const justPercent = await ids("%");
      assert.ok(justPercent.includes(percent.id));
      assert.ok(!justPercent.includes(digits.id), "% is not a wildcard");
      const justUnderscore = await ids("_");
      assert.ok(justUnderscore.includes(underscore.id));
      assert.ok(!justUnderscore.includes(letter.id), "_ is not a wildcard");

      const backslash = await listUsers(admin.accessToken, { q: "\\" });
      assert.equal(backslash.statusCode, 200);
    });

    it("filters by role and by active", async () => {
      const t = tag();
      const mod = await registerPlayer(ctx.app, { username: `flt${t}mod` });
      const off = await registerPlayer(ctx.app, { username: `flt${t}off` });
      const plain = await registerPlayer(ctx.app, { username: `flt${t}plain` });
      assert.equal((await setRole(admin.accessToken, mod.id, "moderator")).statusCode, 200);
      assert.equal(
        (await as(admin.accessToken, "POST", `/v1/admin/users/${off.id}/deactivate`)).statusCode,
        200,
      );

      const mods = (await walkUsers(admin.accessToken, { role: "moderator", limit: "100" })).flat();
      assert.ok(mods.length > 0);
      assert.ok(mods.every((u) => u.role === "moderator"));
      assert.ok(mods.some((u) => u.id === mod.id));

      const admins = (await walkUsers(admin.accessToken, { role: "admin", limit: "100" })).flat();
      assert.ok(admins.every((u) => u.role === "admin"));
      assert.ok(admins.some((u) => u.id === admin.id));

      const inactive = (await walkUsers(admin.accessToken, { active: "false", limit: "100" })).flat();
      assert.ok(inactive.every((u) => !u.isActive));
      assert.ok(inactive.some((u) => u.id === off.id));
      assert.ok(!inactive.some((u) => u.id === plain.id));

      const mine = await listUsers(admin.accessToken, { q: `flt${t}`, active: "true" });
      assert.deepEqual(
        mine
          .json<Page<UserBody>>()
          .items.map((u) => u.id)
          .sort(),
        [mod.id, plain.id].sort(),
      );

      const combined = await listUsers(admin.accessToken, { q: `flt${t}`, role: "player", active: "true" });
      assert.deepEqual(
        combined.json<Page<UserBody>>().items.map((u) => u.id),
        [plain.id],
      );

      const badRole = await listUsers(admin.accessToken, { role: "superuser" });
      assert.equal(badRole.statusCode, 400);
      assert.equal(problem(badRole).code, "validation.failed");
    });

    it("walks every page with a cursor, without duplicates or gaps", async () => {
      const t = tag();
      const created: string[] = [];
      for (let batch = 0; batch < 5; batch++) {
        // Five at a time, so some registrations share a transaction start and tie on created_at.
        const players = await Promise.all(
          Array.from({ length: 5 }, (_, i) => registerPlayer(ctx.app, { username: `pg${t}n${batch}${i}` })),
        );
        created.push(...players.map((p) => p.id));
      }

      const pages = await walkUsers(admin.accessToken, { q: `pg${t}`, limit: "10" });
      assert.deepEqual(
        pages.map((p) => p.length),
        [10, 10, 5],
      );
      const seen = pages.flat();
      assert.equal(new Set(seen.map((u) => u.id)).size, 25, "no duplicates");
      assert.deepEqual(seen.map((u) => u.id).sort(), [...created].sort(), "no gaps");
      for (let i = 1; i < seen.length; i++) {
        const prev = seen[i - 1];
        const cur = seen[i];
        assert.ok(prev && cur);
        assert.ok(prev.createdAt <= cur.createdAt, "ascending by creation");
      }

      // The whole table, too: every user exactly once.
      const all = (await walkUsers(admin.accessToken, { limit: "7" })).flat();
      const { count } = await ctx.db.asSystem((tx) =>
        tx.one<{ count: number }>(`SELECT count(*)::int AS count FROM users`),
      );
      assert.equal(all.length, count);
      assert.equal(new Set(all.map((u) => u.id)).size, count);
    });

    it("ends with nextCursor null when the last page is exactly full", async () => {
      const t = tag();
      for (let i = 0; i < 4; i++) await registerPlayer(ctx.app, { username: `full${t}n${i}` });
      const pages = await walkUsers(admin.accessToken, { q: `full${t}`, limit: "2" });
      assert.deepEqual(
        pages.map((p) => p.length),
        [2, 2],
      );
    });

    it("rejects malformed cursors and limits", async () => {
      for (const cursor of ["garbage", encodeCursor("yesterday", randomUUID()), "eyJub3QiOiJhbiBhcnJheSJ9"]) {
        const res = await listUsers(admin.accessToken, { cursor });
        assert.equal(res.statusCode, 400, cursor);
        assert.equal(problem(res).code, "validation.failed");
      }
      // Well-formed but impossible date: PostgreSQL refuses it; still the client's fault.
      const impossible = await listUsers(admin.accessToken, {
        cursor: encodeCursor("2026-02-31 00:00:00+00", randomUUID()),
      });
      assert.equal(impossible.statusCode, 400, impossible.body);
      for (const limit of ["0", "101", "ten"]) {
        const res = await listUsers(admin.accessToken, { limit });
        assert.equal(res.statusCode, 400, limit);
        assert.equal(problem(res).code, "validation.failed");
      }
    });
  });

  describe("roles", () => {
    it("promotes a player to moderator: they can list users but not change roles or create API keys", async () => {
      const player = await registerPlayer(ctx.app);
      const victim = await registerPlayer(ctx.app);
      const res = await setRole(admin.accessToken, player.id, "moderator");
      assert.equal(res.statusCode, 200);
      assert.equal(res.json<UserBody>().role, "moderator");

      // The existing access token carries the new role at once.
      const list = await listUsers(player.accessToken, { limit: "5" });
      assert.equal(list.statusCode, 200);
      const one = await as(player.accessToken, "GET", `/v1/admin/users/${victim.id}`);
      assert.equal(one.statusCode, 200);
      assert.equal(one.json<UserBody>().email, victim.email);

      const promote = await setRole(player.accessToken, victim.id, "moderator");
      assert.equal(promote.statusCode, 403);
      assert.equal(problem(promote).code, "auth.forbidden");
      const selfPromote = await setRole(player.accessToken, player.id, "admin");
      assert.equal(selfPromote.statusCode, 403);
      const key = await as(player.accessToken, "POST", "/v1/admin/api-keys", {
        name: "mod key",
        scopes: ["users:read"],
      });
      assert.equal(key.statusCode, 403);
      assert.equal(problem(key).code, "auth.forbidden");
      for (const [method, url] of [
        ["POST", `/v1/admin/users/${victim.id}/deactivate`],
        ["POST", `/v1/admin/users/${victim.id}/erase`],
        ["GET", "/v1/admin/api-keys"],
        ["GET", "/v1/admin/audit-logs"],
      ] as const) {
        const r = await as(player.accessToken, method, url);
        assert.equal(r.statusCode, 403, `${method} ${url}`);
      }
      assert.equal(
        (await as(admin.accessToken, "GET", `/v1/admin/users/${victim.id}`)).json<UserBody>().role,
        "player",
      );

      // Demoted again: the moderator routes close at once.
      assert.equal((await setRole(admin.accessToken, player.id, "player")).statusCode, 200);
      const closed = await listUsers(player.accessToken, {});
      assert.equal(closed.statusCode, 403);
    });

    it("an admin cannot change their own role (409 user.cannot_change_own_role)", async () => {
      for (const role of ["player", "moderator", "admin"]) {
        const res = await setRole(admin.accessToken, admin.id, role);
        assert.equal(res.statusCode, 409);
        assert.equal(problem(res).code, "user.cannot_change_own_role");
      }
      assert.equal((await listUsers(admin.accessToken, {})).statusCode, 200, "still an admin");
    });

    it("answers 404 for unknown users and 400 for unknown roles", async () => {
      const missing = await setRole(admin.accessToken, randomUUID(), "moderator");
      assert.equal(missing.statusCode, 404);
      assert.equal(problem(missing).code, "resource.not_found");
      const player = await registerPlayer(ctx.app);
      const bad = await setRole(admin.accessToken, player.id, "owner");
      assert.equal(bad.statusCode, 400);
      assert.equal(problem(bad).code, "validation.failed");
      for (const action of ["deactivate", "activate", "erase"]) {
        const res = await as(admin.accessToken, "POST", `/v1/admin/users/${randomUUID()}/${action}`);
        assert.equal(res.statusCode, 404, action);
      }
    });
  });

  describe("the last active admin", () => {
    it("cannot be demoted, deactivated or erased (409 user.last_admin)", async () => {
      // A database of its own, so that exactly one admin exists.
      const own = await createTestContext();
      try {
        const only = await createAdmin(own);
        const system = { type: "system" } as const;
        const isLastAdmin = (error: unknown) => error instanceof AppError && error.code === "user.last_admin";
        for (const role of ["player", "moderator"] as const) {
          await assert.rejects(
            own.identity.adminUsers.setRole(system, SYSTEM_META, only.id, role),
            isLastAdmin,
          );
        }
        await assert.rejects(
          own.identity.adminUsers.setActive(system, SYSTEM_META, only.id, false),
          isLastAdmin,
        );
        await assert.rejects(own.identity.adminUsers.erase(system, SYSTEM_META, only.id), isLastAdmin);
        const me = await own.app.inject({ method: "GET", url: "/v1/me", headers: bearer(only.accessToken) });
        assert.equal(me.json<UserBody>().role, "admin");
        assert.equal(me.json<UserBody>().isActive, true);
      } finally {
        await own.close();
      }
    });

    it("two admins demoting each other at once: one wins, one active admin remains", async () => {
      const own = await createTestContext();
      try {
        const a = await createAdmin(own);
        const b = await createAdmin(own);
        const put = (token: string, id: string) =>
          own.app.inject({
            method: "PUT",
            url: `/v1/admin/users/${id}/role`,
            headers: bearer(token),
            payload: { role: "player" },
          });
        const results = await Promise.all([put(a.accessToken, b.id), put(b.accessToken, a.id)]);
        const ok = results.filter((r) => r.statusCode === 200);
        assert.equal(ok.length, 1, results.map((r) => r.body).join("\n"));
        const loser = results.find((r) => r.statusCode !== 200);
        assert.ok(loser);
        // Lost inside the database (the last-admin check, after the lock) or, if the winner committed
        // before the loser was authenticated, no longer an admin at all.
        assert.ok(["user.last_admin", "auth.forbidden"].includes(problem(loser).code), loser.body);
        const { count } = await own.db.asSystem((tx) =>
          tx.one<{ count: number }>(
            `SELECT count(*)::int AS count FROM users WHERE role = 'admin' AND is_active`,
          ),
        );
        assert.equal(count, 1);
      } finally {
        await own.close();
      }
    });

    it("two admins deactivating each other at once: exactly one active admin remains", async () => {
      const own = await createTestContext();
      try {
        const a = await createAdmin(own);
        const b = await createAdmin(own);
        const deactivate = (token: string, id: string) =>
          own.app.inject({
            method: "POST",
            url: `/v1/admin/users/${id}/deactivate`,
            headers: bearer(token),
          });
        const results = await Promise.all([deactivate(a.accessToken, b.id), deactivate(b.accessToken, a.id)]);
        const ok = results.filter((r) => r.statusCode === 200);
        assert.equal(ok.length, 1, results.map((r) => r.body).join("\n"));
        const loser = results.find((r) => r.statusCode !== 200);
        assert.ok(loser);
        // The loser either lost the race in the database (last admin) or was already signed out.
        assert.ok(
          ["user.last_admin", "auth.session_revoked", "auth.account_inactive"].includes(problem(loser).code),
          loser.body,
        );
        const { count } = await own.db.asSystem((tx) =>
          tx.one<{ count: number }>(
            `SELECT count(*)::int AS count FROM users WHERE role = 'admin' AND is_active`,
          ),
        );
        assert.equal(count, 1);
      } finally {
        await own.close();
      }
    });

    it("a deactivated admin can be demoted while another admin is active", async () => {
      // Demoting or erasing an inactive admin does not reduce the number of active admins.
      const other = await createAdmin(ctx);
      const off = await as(admin.accessToken, "POST", `/v1/admin/users/${other.id}/deactivate`);
      assert.equal(off.statusCode, 200);
      const demote = await setRole(admin.accessToken, other.id, "player");
      assert.equal(demote.statusCode, 200, demote.body);
      assert.equal(demote.json<UserBody>().role, "player");
    });

    it("a deactivated admin can be erased while another admin is active", async () => {
      const other = await createAdmin(ctx);
      const off = await as(admin.accessToken, "POST", `/v1/admin/users/${other.id}/deactivate`);
      assert.equal(off.statusCode, 200);
      const erase = await as(admin.accessToken, "POST", `/v1/admin/users/${other.id}/erase`);
      assert.equal(erase.statusCode, 200, erase.body);
    });
  });

  describe("erase", () => {
    it("replaces personal fields, ends sessions, scrubs client data and keeps the old email out of the audit", async () => {
      const agent = "PlayerPhone/9.9 (secret device)";
      const player = await registerPlayer(ctx.app);
      const meAs = (method: HttpMethod, url: string, payload?: object) =>
        ctx.app.inject({
          method,
          url,
          headers: { ...bearer(player.accessToken), "user-agent": agent },
          ...(payload === undefined ? {} : { payload }),
        });
      assert.equal(
        (
          await meAs("PATCH", "/v1/me", {
            displayName: "Real Name",
            bio: "about me",
            avatarUrl: "https://x.io/a",
          })
        ).statusCode,
        200,
      );
      const second = await ctx.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        headers: { "user-agent": agent },
        payload: { login: player.email, password: player.password },
      });
      const secondTokens = second.json<{ tokens: { accessToken: string; refreshToken: string } }>().tokens;
      // An admin action about them, before the erasure.
      assert.equal((await setRole(admin.accessToken, player.id, "moderator")).statusCode, 200);

      const beforeErase = await auditRows(`subject_user_id = $1 OR actor_id = $1`, [player.id]);
      assert.ok(beforeErase.length >= 4);
      assert.ok(
        beforeErase.some((r) => r.ip !== null && r.user_agent === agent),
        "client data was recorded",
      );

      const res = await as(admin.accessToken, "POST", `/v1/admin/users/${player.id}/erase`);
      assert.equal(res.statusCode, 200, res.body);
      const erased = res.json<UserBody>();
      assert.equal(erased.id, player.id);
      assert.notEqual(erased.email, player.email);
      assert.ok(!erased.email.toLowerCase().includes(player.email.toLowerCase()));
      assert.notEqual(erased.username, player.username);
      assert.ok(!erased.username.includes(player.username));
      assert.notEqual(erased.displayName, "Real Name");
      assert.equal(erased.profile.bio, null);
      assert.equal(erased.profile.avatarUrl, null);
      assert.equal(erased.isActive, false);
      assert.notEqual(erased.deletedAt, null);

      // Nothing personal is left in the user's rows.
      const rawUser = await ctx.db.asSystem((tx) =>
        tx.one<Record<string, unknown>>(
          `SELECT u.*, p.avatar_url, p.bio FROM users u JOIN user_profiles p ON p.user_id = u.id WHERE u.id = $1`,
          [player.id],
        ),
      );
      const rawText = JSON.stringify(rawUser);
      for (const personal of [player.email, player.username, "Real Name", "about me", "https://x.io/a"]) {
        assert.ok(!rawText.includes(personal), `users row still holds ${personal}`);
      }
      assert.equal(rawUser.password_hash, null);

      // They cannot log in with either old identifier, and their tokens are dead.
      for (const name of [player.username, player.email]) {
        const l = await login(name, player.password);
        assert.equal(l.statusCode, 401, l.body);
        assert.equal(problem(l).code, "auth.invalid_credentials");
      }
      for (const token of [player.accessToken, secondTokens.accessToken]) {
        const me = await ctx.app.inject({ method: "GET", url: "/v1/me", headers: bearer(token) });
        assert.equal(me.statusCode, 401);
      }
      for (const refreshToken of [player.refreshToken, secondTokens.refreshToken]) {
        const r = await ctx.app.inject({
          method: "POST",
          url: "/v1/auth/refresh",
          payload: { refreshToken },
        });
        assert.equal(r.statusCode, 401);
      }
      const sessionState = await ctx.db.asSystem((tx) =>
        tx.one<{ open: number; total: number; tokens: number }>(
          `SELECT (SELECT count(*)::int FROM sessions WHERE user_id = $1 AND revoked_at IS NULL) AS open,
                  (SELECT count(*)::int FROM sessions WHERE user_id = $1) AS total,
                  (SELECT count(*)::int FROM refresh_tokens WHERE user_id = $1) AS tokens`,
          [player.id],
        ),
      );
      assert.equal(sessionState.open, 0);
      assert.equal(sessionState.total, 2);
      assert.equal(sessionState.tokens, 0);

      // Every audit row about them written before the erasure lost its client data.
      const afterErase = await auditRows(`subject_user_id = $1 OR actor_id = $1`, [player.id]);
      const older = afterErase.filter((r) => r.action !== "user.erased");
      assert.equal(older.length, beforeErase.length, "history is kept");
      for (const row of older) {
        assert.equal(row.ip, null, `${row.action} ip`);
        assert.equal(row.user_agent, null, `${row.action} user agent`);
      }

      const erasedEntries = afterErase.filter((r) => r.action === "user.erased");
      assert.equal(erasedEntries.length, 1);
      const entry = erasedEntries[0];
      assert.ok(entry);
      assert.equal(entry.actor_type, "user");
      assert.equal(entry.actor_id, admin.id);
      assert.equal(entry.subject_user_id, player.id);
      const entryText = JSON.stringify(entry).toLowerCase();
      assert.ok(!entryText.includes(player.email.toLowerCase()), "user.erased holds the old email");
      assert.ok(!entryText.includes(player.username.toLowerCase()), "user.erased holds the old username");
      assert.ok(!entryText.includes("real name"), "user.erased holds the old display name");
      assert.ok(!entryText.includes(agent.toLowerCase()));

      // Same through the audit API.
      const viaApi = await as(
        admin.accessToken,
        "GET",
        `/v1/admin/audit-logs?action=user.erased&subjectUserId=${player.id}`,
      );
      assert.equal(viaApi.statusCode, 200);
      assert.equal(viaApi.json<Page<AuditBody>>().items.length, 1);
      assert.ok(!viaApi.body.toLowerCase().includes(player.email.toLowerCase()));

      // Old email and username are free again.
      const again = await ctx.app.inject({
        method: "POST",
        url: "/v1/auth/register",
        payload: { email: player.email, username: player.username, password: "another long password" },
      });
      assert.equal(again.statusCode, 201, again.body);
    });
  });

  describe("GET /v1/admin/audit-logs", () => {
    it("lists newest first and filters by action and subjectUserId", async () => {
      const player = await registerPlayer(ctx.app);
      for (let i = 0; i < 3; i++) {
        await as(player.accessToken, "PATCH", "/v1/me", { displayName: `Name ${i}` });
      }
      await setRole(admin.accessToken, player.id, "moderator");

      const all = await as(admin.accessToken, "GET", "/v1/admin/audit-logs?limit=100");
      assert.equal(all.statusCode, 200);
      assertNewestFirst(all.json<Page<AuditBody>>().items);

      const bySubject = await as(admin.accessToken, "GET", `/v1/admin/audit-logs?subjectUserId=${player.id}`);
      const subjectItems = bySubject.json<Page<AuditBody>>().items;
      assertNewestFirst(subjectItems);
      assert.ok(subjectItems.every((e) => e.subjectUserId === player.id));
      assert.deepEqual(
        subjectItems.map((e) => e.action),
        [
          "user.role_changed",
          "user.profile_updated",
          "user.profile_updated",
          "user.profile_updated",
          "user.registered",
        ],
      );
      const patches = subjectItems.filter((e) => e.action === "user.profile_updated");
      assert.deepEqual(
        patches.map((e) => e.after),
        [{ displayName: "Name 2" }, { displayName: "Name 1" }, { displayName: "Name 0" }],
      );

      const byAction = await as(admin.accessToken, "GET", "/v1/admin/audit-logs?action=user.role_changed");
      const actionItems = byAction.json<Page<AuditBody>>().items;
      assert.ok(actionItems.length > 0);
      assert.ok(actionItems.every((e) => e.action === "user.role_changed"));

      const both = await as(
        admin.accessToken,
        "GET",
        `/v1/admin/audit-logs?action=user.role_changed&subjectUserId=${player.id}`,
      );
      const bothItems = both.json<Page<AuditBody>>().items;
      assert.equal(bothItems.length, 1);
      const roleEntry = bothItems[0];
      assert.ok(roleEntry);
      assert.equal(roleEntry.actorType, "user");
      assert.equal(roleEntry.actorId, admin.id);
      assert.deepEqual(roleEntry.before, { role: "player", isActive: true, deletedAt: null });
      assert.deepEqual(roleEntry.after, { role: "moderator", isActive: true, deletedAt: null });
      assert.equal(roleEntry.ip, "127.0.0.1");

      const byActor = await as(
        admin.accessToken,
        "GET",
        `/v1/admin/audit-logs?actorId=${admin.id}&limit=100`,
      );
      assert.ok(byActor.json<Page<AuditBody>>().items.every((e) => e.actorId === admin.id));

      const unknown = await as(admin.accessToken, "GET", "/v1/admin/audit-logs?action=no.such.action");
      assert.deepEqual(unknown.json<Page<AuditBody>>(), { items: [], nextCursor: null });

      const badUuid = await as(admin.accessToken, "GET", "/v1/admin/audit-logs?subjectUserId=nope");
      assert.equal(badUuid.statusCode, 400);
      assert.equal(problem(badUuid).code, "validation.failed");
    });

    it("walks all pages with a cursor, newest first, without duplicates or gaps", async () => {
      const player = await registerPlayer(ctx.app);
      for (let i = 0; i < 11; i++) {
        await as(player.accessToken, "PATCH", "/v1/me", { bio: `bio ${i}` });
      }
      const expected = await auditRows(`subject_user_id = $1`, [player.id]);
      assert.equal(expected.length, 12);

      const seen: AuditBody[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      do {
        const url: string = `/v1/admin/audit-logs?subjectUserId=${player.id}&limit=5${
          cursor === null ? "" : `&cursor=${cursor}`
        }`;
        const res = await as(admin.accessToken, "GET", url);
        assert.equal(res.statusCode, 200, res.body);
        const page = res.json<Page<AuditBody>>();
        sizes.push(page.items.length);
        seen.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null && sizes.length < 100);
      assert.deepEqual(sizes, [5, 5, 2]);
      assert.equal(new Set(seen.map((e) => e.id)).size, 12);
      assertNewestFirst(seen);
      assert.equal(seen[seen.length - 1]?.action, "user.registered");
      assert.deepEqual(
        seen.filter((e) => e.action === "user.profile_updated").map((e) => e.after),
        Array.from({ length: 11 }, (_, i) => ({ bio: `bio ${10 - i}` })),
      );

      const whole = await walkAudit(admin.accessToken, 13);
      const { count } = await ctx.db.asSystem((tx) =>
        tx.one<{ count: number }>(`SELECT count(*)::int AS count FROM audit_logs`),
      );
      // Reading the log does not write to it, so the count is stable while walking.
      assert.equal(whole.length, count);
      assert.equal(new Set(whole.map((e) => e.id)).size, count);
      assertNewestFirst(whole);
    });
  });

  describe("audit of admin actions", () => {
    it("every admin action leaves an audit row with the admin as actor", async () => {
      const target = await registerPlayer(ctx.app);
      const started = new Date();
      const steps: [string, () => Promise<LightMyRequestResponse>][] = [
        ["user.role_changed", () => setRole(admin.accessToken, target.id, "moderator")],
        ["user.deactivated", () => as(admin.accessToken, "POST", `/v1/admin/users/${target.id}/deactivate`)],
        ["user.activated", () => as(admin.accessToken, "POST", `/v1/admin/users/${target.id}/activate`)],
        ["user.erased", () => as(admin.accessToken, "POST", `/v1/admin/users/${target.id}/erase`)],
      ];
      for (const [action, step] of steps) {
        const res = await step();
        assert.equal(res.statusCode, 200, `${action}: ${res.body}`);
        const rows = await auditRows(`action = $1 AND resource_id = $2`, [action, target.id]);
        assert.equal(rows.length, 1, action);
        const row = rows[0];
        assert.ok(row);
        assert.equal(row.actor_type, "user", action);
        assert.equal(row.actor_id, admin.id, action);
        assert.equal(row.subject_user_id, target.id, action);
        assert.equal(row.resource_type, "user", action);
        assert.notEqual(row.request_id, null, action);
        assert.ok(row.created_at.getTime() >= started.getTime() - 60_000);
      }

      const created = await as(admin.accessToken, "POST", "/v1/admin/api-keys", {
        name: "audited key",
        scopes: ["users:read"],
      });
      assert.equal(created.statusCode, 201);
      const { id: keyId, key } = created.json<{ id: string; key: string }>();
      const revoked = await as(admin.accessToken, "DELETE", `/v1/admin/api-keys/${keyId}`);
      assert.equal(revoked.statusCode, 200);
      for (const action of ["api_key.created", "api_key.revoked"]) {
        const rows = await auditRows(`action = $1 AND resource_id = $2`, [action, keyId]);
        assert.equal(rows.length, 1, action);
        assert.equal(rows[0]?.actor_type, "user");
        assert.equal(rows[0]?.actor_id, admin.id);
        assert.ok(!JSON.stringify(rows[0]).includes(key), "the key is not in the audit log");
      }

      // Refused actions leave no trace.
      await setRole(admin.accessToken, admin.id, "player");
      const own = await auditRows(`action = 'user.role_changed' AND resource_id = $1`, [admin.id]);
      assert.equal(own.length, 0);
    });
  });

  async function walkAudit(token: string, limit: number) {
    const seen: AuditBody[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await as(
        token,
        "GET",
        `/v1/admin/audit-logs?limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`,
      );
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<Page<AuditBody>>();
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 1000);
    return seen;
  }
});

function assertNewestFirst(items: { id: string; createdAt: string }[]) {
  for (let i = 1; i < items.length; i++) {
    const prev = items[i - 1];
    const cur = items[i];
    assert.ok(prev && cur);
    assert.ok(prev.createdAt >= cur.createdAt, `newest first at ${i}: ${prev.createdAt} < ${cur.createdAt}`);
  }
}
