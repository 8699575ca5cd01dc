import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  bearer,
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
  profile: { avatarUrl: string | null; bio: string | null; timeZone: string; locale: string };
}

interface SessionBody {
  id: string;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}

interface Tokens {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

describe("my account (/v1/me)", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  const getMe = (token: string) => ctx.app.inject({ method: "GET", url: "/v1/me", headers: bearer(token) });
  const patchMe = (token: string, payload: unknown) =>
    ctx.app.inject({ method: "PATCH", url: "/v1/me", headers: bearer(token), payload: payload as object });
  const refresh = (refreshToken: string) =>
    ctx.app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken } });
  const login = (loginName: string, password: string, userAgent?: string) =>
    ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: loginName, password },
      headers: userAgent === undefined ? {} : { "user-agent": userAgent },
    });
  const loginTokens = async (loginName: string, password: string, userAgent?: string): Promise<Tokens> => {
    const res = await login(loginName, password, userAgent);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ tokens: Tokens }>().tokens;
  };

  describe("GET /v1/me", () => {
    it("returns my own account with default profile and no secrets", async () => {
      const player = await registerPlayer(ctx.app);
      const res = await getMe(player.accessToken);
      assert.equal(res.statusCode, 200);
      const body = res.json<UserBody>();
      assert.equal(body.id, player.id);
      assert.equal(body.email, player.email);
      assert.equal(body.username, player.username);
      assert.equal(body.displayName, player.username);
      assert.equal(body.role, "player");
      assert.equal(body.isActive, true);
      assert.equal(body.deletedAt, null);
      assert.deepEqual(body.profile, {
        avatarUrl: null,
        bio: null,
        timeZone: "UTC",
        dayStartHour: 0,
        locale: "en",
      });
      assert.ok(!res.body.includes("argon2"), "no password hash in the answer");
      assert.ok(!/password/i.test(res.body), "no password field in the answer");
    });

    it("needs a token", async () => {
      const res = await ctx.app.inject({ method: "GET", url: "/v1/me" });
      assert.equal(res.statusCode, 401);
      assert.equal(problem(res).code, "auth.unauthenticated");
      const garbage = await getMe("not-a-jwt");
      assert.equal(garbage.statusCode, 401);
      assert.equal(problem(garbage).code, "auth.invalid_token");
    });
  });

  describe("PATCH /v1/me", () => {
    it("changes the display name", async () => {
      const player = await registerPlayer(ctx.app);
      const res = await patchMe(player.accessToken, { displayName: "Ana the Great" });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json<UserBody>().displayName, "Ana the Great");
      assert.equal((await getMe(player.accessToken)).json<UserBody>().displayName, "Ana the Great");
    });

    it("changes the username; the new one logs in and the old one no longer does", async () => {
      const player = await registerPlayer(ctx.app);
      const newName = `renamed${randomUUID().slice(0, 8)}`;
      const res = await patchMe(player.accessToken, { username: newName });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json<UserBody>().username, newName);
      assert.equal((await login(newName, player.password)).statusCode, 200);
      assert.equal((await login(player.username, player.password)).statusCode, 401);
    });

    it("refuses another user's username, case-insensitively, with 409 user.username_taken", async () => {
      const me = await registerPlayer(ctx.app);
      const other = await registerPlayer(ctx.app);
      for (const taken of [other.username, other.username.toUpperCase()]) {
        const res = await patchMe(me.accessToken, { username: taken });
        assert.equal(res.statusCode, 409, `${taken}: ${res.body}`);
        assert.equal(problem(res).code, "user.username_taken");
      }
      // Nothing changed, and the other user is untouched.
      assert.equal((await getMe(me.accessToken)).json<UserBody>().username, me.username);
      assert.equal((await getMe(other.accessToken)).json<UserBody>().username, other.username);
    });

    it("lets me change only the case of my own username", async () => {
      const me = await registerPlayer(ctx.app);
      const res = await patchMe(me.accessToken, { username: me.username.toUpperCase() });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<UserBody>().username, me.username.toUpperCase());
    });

    it("sets avatarUrl and bio, leaves absent fields alone, and clears them with null", async () => {
      const player = await registerPlayer(ctx.app);
      const set = await patchMe(player.accessToken, {
        avatarUrl: "https://cdn.example.com/a.png",
        bio: "Loves quests",
      });
      assert.equal(set.statusCode, 200);
      assert.equal(set.json<UserBody>().profile.avatarUrl, "https://cdn.example.com/a.png");
      assert.equal(set.json<UserBody>().profile.bio, "Loves quests");

      // A change that does not mention them keeps both.
      const other = await patchMe(player.accessToken, { displayName: "Someone" });
      assert.equal(other.json<UserBody>().profile.avatarUrl, "https://cdn.example.com/a.png");
      assert.equal(other.json<UserBody>().profile.bio, "Loves quests");

      const clearBio = await patchMe(player.accessToken, { bio: null });
      assert.equal(clearBio.statusCode, 200);
      assert.equal(clearBio.json<UserBody>().profile.bio, null);
      assert.equal(clearBio.json<UserBody>().profile.avatarUrl, "https://cdn.example.com/a.png");

      const clearAvatar = await patchMe(player.accessToken, { avatarUrl: null });
      assert.equal(clearAvatar.statusCode, 200);
      assert.deepEqual((await getMe(player.accessToken)).json<UserBody>().profile, {
        avatarUrl: null,
        bio: null,
        dayStartHour: 0,
        timeZone: "UTC",
        locale: "en",
      });
    });

    it("rejects an avatarUrl that is not a URI", async () => {
      const player = await registerPlayer(ctx.app);
      const res = await patchMe(player.accessToken, { avatarUrl: "not a url" });
      assert.equal(res.statusCode, 400);
      assert.equal(problem(res).code, "validation.failed");
    });

    it("accepts the IANA time zone America/New_York", async () => {
      const player = await registerPlayer(ctx.app);
      const res = await patchMe(player.accessToken, { timeZone: "America/New_York" });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<UserBody>().profile.timeZone, "America/New_York");
    });

    it("accepts the IANA time zone Asia/Kathmandu (canonical IANA name)", async () => {
      const player = await registerPlayer(ctx.app);
      const res = await patchMe(player.accessToken, { timeZone: "Asia/Kathmandu" });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<UserBody>().profile.timeZone, "Asia/Kathmandu");
    });

    it("rejects an unknown time zone with 400 validation.failed", async () => {
      const player = await registerPlayer(ctx.app);
      const res = await patchMe(player.accessToken, { timeZone: "Mars/Olympus" });
      assert.equal(res.statusCode, 400);
      const body = problem(res);
      assert.equal(body.code, "validation.failed");
      assert.ok(body.errors?.some((e) => e.path === "body/timeZone"));
      assert.equal((await getMe(player.accessToken)).json<UserBody>().profile.timeZone, "UTC");
    });

    it("rejects an empty body and unknown fields", async () => {
      const player = await registerPlayer(ctx.app);
      const empty = await patchMe(player.accessToken, {});
      assert.equal(empty.statusCode, 400);
      assert.equal(problem(empty).code, "validation.failed");
      const unknown = await patchMe(player.accessToken, { role: "admin" });
      assert.equal(unknown.statusCode, 400);
      assert.equal(problem(unknown).code, "validation.failed");
      assert.equal((await getMe(player.accessToken)).json<UserBody>().role, "player");
    });

    it("writes a user.profile_updated audit row with before and after of the changed fields", async () => {
      const player = await registerPlayer(ctx.app);
      const res = await patchMe(player.accessToken, { displayName: "After Name", bio: "new bio" });
      assert.equal(res.statusCode, 200);
      const rows = await ctx.db.asSystem((tx) =>
        tx.rows<{
          actor_type: string;
          actor_id: string | null;
          subject_user_id: string | null;
          resource_type: string;
          resource_id: string | null;
          before_data: unknown;
          after_data: unknown;
        }>(
          `SELECT actor_type, actor_id, subject_user_id, resource_type, resource_id, before_data, after_data
           FROM audit_logs WHERE action = 'user.profile_updated' AND subject_user_id = $1`,
          [player.id],
        ),
      );
      assert.equal(rows.length, 1);
      const row = rows[0];
      assert.ok(row);
      assert.equal(row.actor_type, "user");
      assert.equal(row.actor_id, player.id);
      assert.equal(row.resource_type, "user");
      assert.equal(row.resource_id, player.id);
      assert.deepEqual(row.before_data, { displayName: player.username, bio: null });
      assert.deepEqual(row.after_data, { displayName: "After Name", bio: "new bio" });
    });

    it("writes no audit row when the change is rejected", async () => {
      const player = await registerPlayer(ctx.app);
      const other = await registerPlayer(ctx.app);
      await patchMe(player.accessToken, { username: other.username });
      await patchMe(player.accessToken, { timeZone: "Mars/Olympus" });
      const { count } = await ctx.db.asSystem((tx) =>
        tx.one<{ count: number }>(
          `SELECT count(*)::int AS count FROM audit_logs
           WHERE action = 'user.profile_updated' AND subject_user_id = $1`,
          [player.id],
        ),
      );
      assert.equal(count, 0);
    });
  });

  describe("sessions", () => {
    it("lists my active sessions with current: true on the one I use", async () => {
      const player = await registerPlayer(ctx.app);
      const second = await loginTokens(player.username, player.password, "Second/1.0");
      const third = await loginTokens(player.email, player.password, "Third/1.0");
      const stranger = await registerPlayer(ctx.app);

      const res = await ctx.app.inject({
        method: "GET",
        url: "/v1/me/sessions",
        headers: bearer(second.accessToken),
      });
      assert.equal(res.statusCode, 200);
      const items = res.json<{ items: SessionBody[] }>().items;
      assert.deepEqual(
        items.map((s) => s.id).sort(),
        [player.sessionId, second.sessionId, third.sessionId].sort(),
      );
      assert.ok(!items.some((s) => s.id === stranger.sessionId));
      const current = items.filter((s) => s.current);
      assert.equal(current.length, 1);
      assert.equal(current[0]?.id, second.sessionId);
      assert.equal(items.find((s) => s.id === third.sessionId)?.userAgent, "Third/1.0");

      // From another session, that one is current instead.
      const fromFirst = await ctx.app.inject({
        method: "GET",
        url: "/v1/me/sessions",
        headers: bearer(player.accessToken),
      });
      const firstItems = fromFirst.json<{ items: SessionBody[] }>().items;
      assert.deepEqual(
        firstItems.filter((s) => s.current).map((s) => s.id),
        [player.sessionId],
      );
    });

    it("revokes another of my sessions: its refresh and access token stop working", async () => {
      const player = await registerPlayer(ctx.app);
      const other = await loginTokens(player.username, player.password);

      const del = await ctx.app.inject({
        method: "DELETE",
        url: `/v1/me/sessions/${other.sessionId}`,
        headers: bearer(player.accessToken),
      });
      assert.equal(del.statusCode, 204);
      assert.equal(del.body, "");

      const refreshed = await refresh(other.refreshToken);
      assert.equal(refreshed.statusCode, 401);
      assert.equal(problem(refreshed).code, "auth.session_revoked");
      assert.equal((await getMe(other.accessToken)).statusCode, 401);
      // The session I used is unaffected.
      assert.equal((await getMe(player.accessToken)).statusCode, 200);

      const list = await ctx.app.inject({
        method: "GET",
        url: "/v1/me/sessions",
        headers: bearer(player.accessToken),
      });
      assert.deepEqual(
        list.json<{ items: SessionBody[] }>().items.map((s) => s.id),
        [player.sessionId],
      );

      // Revoking it again: it is no longer an active session.
      const again = await ctx.app.inject({
        method: "DELETE",
        url: `/v1/me/sessions/${other.sessionId}`,
        headers: bearer(player.accessToken),
      });
      assert.equal(again.statusCode, 404);

      const audited = await ctx.db.asSystem((tx) =>
        tx.rows<{ actor_id: string }>(
          `SELECT actor_id FROM audit_logs WHERE action = 'auth.session_revoked' AND resource_id = $1`,
          [other.sessionId],
        ),
      );
      assert.deepEqual(
        audited.map((a) => a.actor_id),
        [player.id],
      );
    });

    it("answers 404 for another player's session id, and that session keeps working", async () => {
      const me = await registerPlayer(ctx.app);
      const victim = await registerPlayer(ctx.app);

      const res = await ctx.app.inject({
        method: "DELETE",
        url: `/v1/me/sessions/${victim.sessionId}`,
        headers: bearer(me.accessToken),
      });
      assert.equal(res.statusCode, 404);
      assert.equal(problem(res).code, "resource.not_found");

      // An unknown id gets exactly the same answer.
      const unknown = await ctx.app.inject({
        method: "DELETE",
        url: `/v1/me/sessions/${randomUUID()}`,
        headers: bearer(me.accessToken),
      });
      assert.equal(unknown.statusCode, 404);
      assert.equal(problem(unknown).detail, problem(res).detail);

      assert.equal((await getMe(victim.accessToken)).statusCode, 200);
      const refreshed = await refresh(victim.refreshToken);
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      const { revoked_at } = await ctx.db.asSystem((tx) =>
        tx.one<{ revoked_at: Date | null }>(`SELECT revoked_at FROM sessions WHERE id = $1`, [
          victim.sessionId,
        ]),
      );
      assert.equal(revoked_at, null);
    });

    it("rejects a session id that is not a UUID", async () => {
      const me = await registerPlayer(ctx.app);
      const res = await ctx.app.inject({
        method: "DELETE",
        url: "/v1/me/sessions/not-a-uuid",
        headers: bearer(me.accessToken),
      });
      assert.equal(res.statusCode, 400);
      assert.equal(problem(res).code, "validation.failed");
    });
  });

  describe("DELETE /v1/me", () => {
    it("refuses a wrong password with 403 auth.wrong_password and changes nothing", async () => {
      const player = await registerPlayer(ctx.app);
      const res = await ctx.app.inject({
        method: "DELETE",
        url: "/v1/me",
        headers: bearer(player.accessToken),
        payload: { password: "definitely not it" },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(problem(res).code, "auth.wrong_password");
      assert.equal((await getMe(player.accessToken)).statusCode, 200);
      assert.equal((await login(player.username, player.password)).statusCode, 200);
    });

    it("needs the password in the body", async () => {
      const player = await registerPlayer(ctx.app);
      const res = await ctx.app.inject({
        method: "DELETE",
        url: "/v1/me",
        headers: bearer(player.accessToken),
        payload: {},
      });
      assert.equal(res.statusCode, 400);
      assert.equal(problem(res).code, "validation.failed");
    });

    it("with the right password: 204, then access token, refresh token and login all fail", async () => {
      const player = await registerPlayer(ctx.app);
      const other = await loginTokens(player.username, player.password);

      const res = await ctx.app.inject({
        method: "DELETE",
        url: "/v1/me",
        headers: bearer(player.accessToken),
        payload: { password: player.password },
      });
      assert.equal(res.statusCode, 204);
      assert.equal(res.body, "");

      for (const token of [player.accessToken, other.accessToken]) {
        const me = await getMe(token);
        assert.equal(me.statusCode, 401);
        problem(me);
      }
      for (const token of [player.refreshToken, other.refreshToken]) {
        const r = await refresh(token);
        assert.equal(r.statusCode, 401);
        problem(r);
      }
      for (const name of [player.username, player.email]) {
        const l = await login(name, player.password);
        assert.ok(l.statusCode === 401 || l.statusCode === 403, `login ${l.statusCode}`);
        assert.ok(!("tokens" in l.json<object>()));
        problem(l);
      }

      const row = await ctx.db.asSystem((tx) =>
        tx.one<{ deleted_at: Date | null; is_active: boolean; open_sessions: number }>(
          `SELECT u.deleted_at, u.is_active,
                  (SELECT count(*)::int FROM sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL)
                    AS open_sessions
           FROM users u WHERE u.id = $1`,
          [player.id],
        ),
      );
      assert.notEqual(row.deleted_at, null);
      assert.equal(row.is_active, false);
      assert.equal(row.open_sessions, 0);
      const audited = await ctx.db.asSystem((tx) =>
        tx.rows(`SELECT 1 FROM audit_logs WHERE action = 'user.deleted' AND subject_user_id = $1`, [
          player.id,
        ]),
      );
      assert.equal(audited.length, 1);
    });
  });

  describe("GET /v1/me/export", () => {
    it("returns my user, sessions and audit log, and nothing about anyone else", async () => {
      const me = await registerPlayer(ctx.app);
      const second = await loginTokens(me.username, me.password, "ExportAgent/2.0");
      await patchMe(me.accessToken, { bio: "my own bio" });

      const stranger = await registerPlayer(ctx.app);
      const strangerSecond = await loginTokens(stranger.username, stranger.password);
      await patchMe(stranger.accessToken, { bio: "stranger secret bio", displayName: "Stranger Danger" });

      const res = await ctx.app.inject({
        method: "GET",
        url: "/v1/me/export",
        headers: bearer(me.accessToken),
      });
      assert.equal(res.statusCode, 200);
      const body = res.json<{
        exportedAt: string;
        user: UserBody;
        sessions: (SessionBody & { revokedAt: string | null })[];
        auditLog: { action: string; resourceType: string; resourceId: string | null }[];
      }>();
      assert.equal(body.exportedAt, ctx.clock.now().toISOString());
      assert.equal(body.user.id, me.id);
      assert.equal(body.user.email, me.email);
      assert.equal(body.user.profile.bio, "my own bio");
      assert.deepEqual(body.sessions.map((s) => s.id).sort(), [me.sessionId, second.sessionId].sort());
      assert.ok(body.sessions.some((s) => s.userAgent === "ExportAgent/2.0"));
      const actions = body.auditLog.map((a) => a.action);
      for (const action of ["user.registered", "auth.login", "user.profile_updated"]) {
        assert.ok(actions.includes(action), `export has ${action}: ${actions.join(",")}`);
      }
      for (const entry of body.auditLog) {
        assert.ok(
          entry.resourceId === null || entry.resourceId === me.id || entry.resourceId === second.sessionId,
          `audit entry about ${entry.resourceId}`,
        );
      }

      const text = res.body;
      for (const foreign of [
        stranger.id,
        stranger.email,
        stranger.username,
        stranger.sessionId,
        strangerSecond.sessionId,
        "stranger secret bio",
        "Stranger Danger",
      ]) {
        assert.ok(!text.toLowerCase().includes(foreign.toLowerCase()), `export leaks ${foreign}`);
      }
      assert.ok(!text.includes("argon2"), "export holds no password hash");
      assert.ok(!text.includes(me.refreshToken), "export holds no refresh token");

      // Exporting is itself audited.
      const exported = await ctx.db.asSystem((tx) =>
        tx.rows(`SELECT 1 FROM audit_logs WHERE action = 'user.exported' AND subject_user_id = $1`, [me.id]),
      );
      assert.equal(exported.length, 1);
    });

    it("needs a token", async () => {
      const res = await ctx.app.inject({ method: "GET", url: "/v1/me/export" });
      assert.equal(res.statusCode, 401);
      problem(res);
    });
  });
});
