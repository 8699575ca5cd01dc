import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import {
  bearer,
  createAdmin,
  createTestContext,
  problem,
  registerPlayer,
  TEST_JWT_SECRET,
  type TestContext,
} from "../../test/helpers/context.ts";

describe("auth flows", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  const refresh = (refreshToken: string) =>
    ctx.app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken } });
  const me = (token: string) => ctx.app.inject({ method: "GET", url: "/v1/me", headers: bearer(token) });

  it("register → login → refresh → reuse kills the family → logout", async () => {
    const player = await registerPlayer(ctx.app);
    assert.equal((await me(player.accessToken)).statusCode, 200);

    const login = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: player.email.toUpperCase(), password: player.password },
    });
    assert.equal(login.statusCode, 200);
    const first = login.json<{ tokens: { accessToken: string; refreshToken: string; sessionId: string } }>()
      .tokens;

    const rotated = await refresh(first.refreshToken);
    assert.equal(rotated.statusCode, 200);
    const second = rotated.json<{ accessToken: string; refreshToken: string; sessionId: string }>();
    assert.notEqual(second.refreshToken, first.refreshToken);
    assert.equal(second.sessionId, first.sessionId);
    assert.equal((await me(second.accessToken)).statusCode, 200);

    // The old token again: reuse. The answer is 401 and the whole family dies, including the new token.
    const reuse = await refresh(first.refreshToken);
    assert.equal(reuse.statusCode, 401);
    assert.equal(problem(reuse).code, "auth.refresh_token_reused");
    assert.equal(problem(await refresh(second.refreshToken)).code, "auth.session_revoked");
    assert.equal(problem(await me(second.accessToken)).code, "auth.session_revoked");

    // The registration session is a different family and still works; log it out.
    const logout = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/logout",
      headers: bearer(player.accessToken),
    });
    assert.equal(logout.statusCode, 204);
    assert.equal((await me(player.accessToken)).statusCode, 401);
    assert.equal((await refresh(player.refreshToken)).statusCode, 401);

    const audit = await ctx.db.asSystem((tx) =>
      tx.rows<{ action: string }>(
        `SELECT action FROM audit_logs WHERE subject_user_id = $1 ORDER BY created_at`,
        [player.id],
      ),
    );
    const actions = audit.map((a) => a.action);
    for (const action of ["user.registered", "auth.login", "auth.refresh_reuse_detected", "auth.logout"]) {
      assert.ok(actions.includes(action), `audit has ${action}: ${actions.join(",")}`);
    }
  });

  it("two concurrent refreshes with one token: one wins, the family is revoked", async () => {
    const player = await registerPlayer(ctx.app);
    const [a, b] = await Promise.all([refresh(player.refreshToken), refresh(player.refreshToken)]);
    const codes = [a.statusCode, b.statusCode].sort();
    assert.deepEqual(codes, [200, 401]);
    const winner = a.statusCode === 200 ? a : b;
    assert.equal((await refresh(winner.json<{ refreshToken: string }>().refreshToken)).statusCode, 401);
  });

  it("login errors do not reveal whether the account exists", async () => {
    const player = await registerPlayer(ctx.app);
    const wrongPassword = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: player.username, password: "not the password at all" },
    });
    const noAccount = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: "nobody-here", password: "not the password at all" },
    });
    assert.equal(wrongPassword.statusCode, 401);
    assert.equal(noAccount.statusCode, 401);
    const a = problem(wrongPassword);
    const b = problem(noAccount);
    assert.equal(a.code, b.code);
    assert.equal(a.detail, b.detail);
  });

  it("changing the password revokes my other sessions but keeps this one", async () => {
    const player = await registerPlayer(ctx.app);
    const other = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: player.username, password: player.password },
    });
    const otherTokens = other.json<{ tokens: { accessToken: string; refreshToken: string } }>().tokens;

    const wrong = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/password",
      headers: bearer(player.accessToken),
      payload: { currentPassword: "wrong password here", newPassword: "a brand new password" },
    });
    assert.equal(problem(wrong).code, "auth.wrong_password");

    const weak = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/password",
      headers: bearer(player.accessToken),
      payload: { currentPassword: player.password, newPassword: player.username },
    });
    assert.equal(problem(weak).code, "auth.password_rejected");

    const change = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/password",
      headers: bearer(player.accessToken),
      payload: { currentPassword: player.password, newPassword: "a brand new password" },
    });
    assert.equal(change.statusCode, 200);
    assert.equal(change.json<{ revokedSessions: number }>().revokedSessions, 1);
    assert.equal((await me(player.accessToken)).statusCode, 200);
    assert.equal((await me(otherTokens.accessToken)).statusCode, 401);
    assert.equal((await refresh(otherTokens.refreshToken)).statusCode, 401);

    const oldLogin = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: player.username, password: player.password },
    });
    assert.equal(oldLogin.statusCode, 401);
    const newLogin = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: player.username, password: "a brand new password" },
    });
    assert.equal(newLogin.statusCode, 200);
  });

  it("deactivated users cannot log in or refresh; reactivated ones can log in again", async () => {
    const admin = await createAdmin(ctx);
    const player = await registerPlayer(ctx.app);
    const deactivate = await ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${player.id}/deactivate`,
      headers: bearer(admin.accessToken),
    });
    assert.equal(deactivate.statusCode, 200);
    assert.equal(deactivate.json<{ isActive: boolean }>().isActive, false);

    assert.equal((await me(player.accessToken)).statusCode, 401);
    assert.equal((await refresh(player.refreshToken)).statusCode, 401);
    const login = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: player.username, password: player.password },
    });
    assert.equal(problem(login).code, "auth.account_inactive");

    await ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${player.id}/activate`,
      headers: bearer(admin.accessToken),
    });
    const again = await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: player.username, password: player.password },
    });
    assert.equal(again.statusCode, 200);
  });

  it("access tokens expire, and tokens signed another way are refused", async () => {
    const player = await registerPlayer(ctx.app);
    ctx.clock.advance(901 * 1000);
    assert.equal(problem(await me(player.accessToken)).code, "auth.invalid_token");
    ctx.clock.advance(-901 * 1000);

    // alg "none" with the same claims: the pinned algorithm refuses it.
    const [, payload] = player.accessToken.split(".");
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
    assert.equal(problem(await me(unsigned)).code, "auth.invalid_token");
    const tampered = `${player.accessToken.slice(0, -4)}AAAA`;
    assert.equal(problem(await me(tampered)).code, "auth.invalid_token");

    // Rightly signed, but without an expiry: it would never expire, so it is refused.
    const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as Record<string, unknown>;
    delete claims.exp;
    const forever = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const refused = await me(forever);
    assert.equal(refused.statusCode, 401);
    assert.equal(problem(refused).code, "auth.invalid_token");
    // The same claims with an expiry are accepted (the test signs like the server).
    const withExp = await new SignJWT({ ...claims, exp: Math.floor(ctx.clock.now().getTime() / 1000) + 60 })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    assert.equal((await me(withExp)).statusCode, 200);
  });

  it("repeated failures lock the account for a growing time, then it opens again", async () => {
    const player = await registerPlayer(ctx.app);
    const attempt = (password: string) =>
      ctx.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        payload: { login: player.username, password },
      });
    for (let i = 0; i < 5; i++) assert.equal((await attempt("wrong password number")).statusCode, 401);
    const locked = await attempt(player.password);
    assert.equal(locked.statusCode, 429);
    assert.equal(problem(locked).code, "auth.too_many_attempts");
    assert.ok(Number(locked.headers["retry-after"]) >= 1);

    ctx.clock.advance(31 * 1000);
    assert.equal((await attempt("wrong password again")).statusCode, 401);
    // The sixth failure doubles the lock to 60 s: 31 s later it is still closed.
    ctx.clock.advance(31 * 1000);
    assert.equal((await attempt(player.password)).statusCode, 429);
    ctx.clock.advance(30 * 1000);
    assert.equal((await attempt(player.password)).statusCode, 200);
  });

  it("unknown accounts lock the same way as real ones", async () => {
    const attempt = () =>
      ctx.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        payload: { login: "ghost-account", password: "whatever it is" },
      });
    for (let i = 0; i < 5; i++) assert.equal((await attempt()).statusCode, 401);
    assert.equal((await attempt()).statusCode, 429);
  });
  it("display names are NFKC-normalised and refuse bidi overrides, zero-width and control characters", async () => {
    const tag = Date.now().toString(36);
    const register = (displayName: string, n: number) =>
      ctx.app.inject({
        method: "POST",
        url: "/v1/auth/register",
        payload: {
          email: `dn${tag}${n}@example.com`,
          username: `dn${tag}${n}`,
          password: "a long enough password",
          displayName,
        },
      });
    const wide = await register("  Ｍａｒｉｅ　ｎｏ．１ ", 0);
    assert.equal(wide.statusCode, 201, wide.body);
    assert.equal(wide.json<{ user: { displayName: string } }>().user.displayName, "Marie no.1");
    const bad = [
      "admin\u202Egnp.exe",
      "\u2067ltr\u2069",
      "Mar\u200Bie",
      "Ma\u200Drie",
      "\uFEFFMarie",
      "a\u0007b",
      "\u200B",
    ];
    for (const [i, name] of bad.entries()) {
      const res = await register(name, i + 1);
      assert.equal(res.statusCode, 400, `${JSON.stringify(name)}: ${res.body}`);
      assert.equal(problem(res).code, "validation.failed");
    }
    const token = wide.json<{ tokens: { accessToken: string } }>().tokens.accessToken;
    const patch = (displayName: string) =>
      ctx.app.inject({ method: "PATCH", url: "/v1/me", headers: bearer(token), payload: { displayName } });
    for (const name of bad) assert.equal((await patch(name)).statusCode, 400, JSON.stringify(name));
    const ok = await patch("ﬁne ⅫＸ");
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json<{ displayName: string }>().displayName, "fine XIIX");
    assert.equal((await patch("　 ")).statusCode, 400);
  });

  describe("lockout under parallel guessing", () => {
    const login = (body: { login: string; password: string }, remoteAddress = "127.0.0.1") =>
      ctx.app.inject({ method: "POST", url: "/v1/auth/login", remoteAddress, payload: body });

    for (const { total, addresses } of [
      { total: 30, addresses: 1 },
      { total: 150, addresses: 150 },
    ]) {
      it(`${total} parallel guesses from ${addresses} address(es) check at most 5 passwords`, async () => {
        const player = await registerPlayer(ctx.app);
        const before = ctx.identity.hasher.checkedPasswords;
        const answers = await Promise.all(
          Array.from({ length: total }, (_, i) =>
            login(
              { login: player.username, password: i === 24 ? player.password : `wrong password ${i}` },
              `10.${addresses}.${Math.floor(i / 100)}.${addresses === 1 ? 1 : (i % 100) + 1}`,
            ),
          ),
        );
        const checked = ctx.identity.hasher.checkedPasswords - before;
        assert.ok(checked <= 5, `${checked} passwords were checked`);
        const codes = answers.map((a) => a.statusCode);
        assert.equal(codes.filter((c) => c === 401).length, checked, codes.join(","));
        // The right password at position 25 never signs in: it is refused or not checked at all.
        assert.notEqual(codes[24], 200);
        assert.ok(codes.filter((c) => c === 429).length >= total - 5);
        for (const a of answers.filter((x) => x.statusCode === 429))
          assert.equal(problem(a).code, "auth.too_many_attempts");
        // Still locked after the burst, right password or not.
        assert.equal((await login({ login: player.username, password: player.password })).statusCode, 429);
      });
    }

    it("locks the account, not the spelling, and answers the same for unknown accounts", async () => {
      const player = await registerPlayer(ctx.app);
      for (let i = 0; i < 5; i++)
        assert.equal((await login({ login: player.username, password: "wrong password!!" })).statusCode, 401);
      assert.equal((await login({ login: player.username, password: player.password })).statusCode, 429);
      const before = ctx.identity.hasher.checkedPasswords;
      // The account's email and an unknown email answer alike: 401 five times, then 429. The
      // right password through the email does not sign in while the account is locked.
      const byEmail: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 6; i++) {
        byEmail.push((await login({ login: player.email, password: player.password })).statusCode);
        unknown.push((await login({ login: `ghost-${player.email}`, password: player.password })).statusCode);
      }
      assert.deepEqual(byEmail, [401, 401, 401, 401, 401, 429]);
      assert.deepEqual(unknown, byEmail);
      assert.equal(ctx.identity.hasher.checkedPasswords - before, 0);
      // When the lock ends, the account opens to its right password.
      ctx.clock.advance(31 * 1000);
      assert.equal((await login({ login: player.email, password: player.password })).statusCode, 200);
      ctx.clock.advance(-31 * 1000);
    });

    it("a success gives the address its attempt back and forgets the account's failures", async () => {
      const player = await registerPlayer(ctx.app);
      for (let i = 0; i < 4; i++)
        assert.equal((await login({ login: player.username, password: "wrong password!!" })).statusCode, 401);
      assert.equal((await login({ login: player.username, password: player.password })).statusCode, 200);
      for (let i = 0; i < 4; i++)
        assert.equal((await login({ login: player.username, password: "wrong password!!" })).statusCode, 401);
      assert.equal((await login({ login: player.username, password: player.password })).statusCode, 200);
    });

    it("parallel right passwords under the limit all sign in and leave nothing counted", async () => {
      const player = await registerPlayer(ctx.app);
      const answers = await Promise.all(
        [player.username, player.email, player.username.toUpperCase()].map((name, i) =>
          login({ login: name, password: player.password }, `10.9.9.${i + 1}`),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.statusCode),
        [200, 200, 200],
      );
      const rows = await ctx.db.asSystem((tx) =>
        tx.rows(`SELECT key FROM login_failures WHERE key = ANY($1)`, [
          [
            `account:${player.id}`,
            `login:${player.username.toLowerCase()}`,
            `login:${player.email.toLowerCase()}`,
            "ip:10.9.9.1",
            "ip:10.9.9.2",
            "ip:10.9.9.3",
          ],
        ]),
      );
      assert.deepEqual(rows, []);
    });
  });
});
