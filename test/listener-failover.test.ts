import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { loadConfig } from "../src/config.ts";
import { LISTENER_APPLICATION_NAME } from "../src/platform/db/listener.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { bearer, registerPlayer } from "./helpers/context.ts";
import { cloneTemplate, withClient } from "./helpers/postgres.ts";

/**
 * Two instances of `startServer` on one database. The first one's LISTEN connection is killed;
 * the second then changes a rule and switches an event type off. The first must hear of it
 * within 2 s: its listener reconnects and reloads every cache, and while it is down the caches
 * are held only briefly. (Before, the first kept paying the old rule and accepting the type.)
 */
describe("a killed LISTEN connection", () => {
  let database: Awaited<ReturnType<typeof cloneTemplate>>;
  let first: RunningServer;
  let second: RunningServer;
  let adminToken: string;
  let player: Awaited<ReturnType<typeof registerPlayer>>;
  const admin = { email: "failover-admin@example.com", password: "failover admin password" };

  before(async () => {
    database = await cloneTemplate(`ludus_test_failover_${randomBytes(4).toString("hex")}`);
    const config = loadConfig({
      DATABASE_URL: database.url,
      PORT: "0",
      LUDUS_JWT_SECRET: "a failover test secret that is long enough",
      LUDUS_ADMIN_EMAIL: admin.email,
      LUDUS_ADMIN_PASSWORD: admin.password,
      LUDUS_ARGON2_MEMORY_KIB: "1024",
      LUDUS_ARGON2_TIME_COST: "1",
      LUDUS_AUTH_RATE_LIMIT: "100000",
      LUDUS_EVENTS_RATE_LIMIT: "100000",
    });
    const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
    // Started at once, as two processes would be.
    [first, second] = await Promise.all([startServer(config, logger), startServer(config, logger)]);
    const login = await second.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: admin.email, password: admin.password },
    });
    assert.equal(login.statusCode, 200, login.body);
    adminToken = login.json<{ tokens: { accessToken: string } }>().tokens.accessToken;
    player = await registerPlayer(first.app);
  });

  after(async () => {
    await first?.stop();
    await second?.stop();
    await database?.drop();
  });

  const asAdmin = async (server: RunningServer, method: "POST" | "PATCH", url: string, payload: object) => {
    const res = await server.app.inject({ method, url, headers: bearer(adminToken), payload });
    assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json<{ id: string }>();
  };

  const send = (server: RunningServer, type: string) =>
    server.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: bearer(player.accessToken),
      payload: { type, data: {} },
    });

  const awarded = async (server: RunningServer, type: string): Promise<number> => {
    const res = await send(server, type);
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json<{ effects: { awards: { currency: string; amount: number }[] } }>();
    return body.effects.awards.filter((a) => a.currency === "coins").reduce((n, a) => n + a.amount, 0);
  };

  it("the first instance applies the new rule, refuses the switched-off type and the revoked key within 2 s", async () => {
    for (const key of ["failover.paid", "failover.other"]) {
      await asAdmin(second, "POST", "/v1/admin/event-types", {
        key,
        dataSchema: { type: "object" },
        clientWritable: true,
      });
    }
    const rule = await asAdmin(second, "POST", "/v1/admin/rules", {
      key: "failover-pay",
      name: "Failover pay",
      eventType: "failover.paid",
      awards: [{ currency: "coins", amount: 3 }],
    });
    // The first instance has both types and the rule cached (heard through NOTIFY while connected).
    await until(async () => (await awarded(first, "failover.paid")) === 3, "the first instance pays 3");
    assert.equal((await send(first, "failover.other")).statusCode, 201);

    // An API key, verified (and cached) by the first instance.
    const created = await second.app.inject({
      method: "POST",
      url: "/v1/admin/api-keys",
      headers: bearer(adminToken),
      payload: { name: "failover", scopes: ["users:read"] },
    });
    assert.equal(created.statusCode, 201, created.body);
    const apiKey = created.json<{ id: string; key: string }>();
    const profile = () =>
      first.app.inject({
        method: "GET",
        url: `/v1/users/${player.id}`,
        headers: { "x-api-key": apiKey.key },
      });
    assert.equal((await profile()).statusCode, 200);

    const pid = first.listener.backendPid;
    assert.ok(pid !== undefined, "the first instance listens");
    await withClient(database.url, async (c) => {
      const found = await c.query(
        `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%' OR pid = $2`,
        [LISTENER_APPLICATION_NAME, pid],
      );
      assert.ok(
        found.rows.some((r: { pid: number }) => r.pid === pid),
        "its LISTEN backend is visible",
      );
      await c.query("SELECT pg_terminate_backend($1)", [pid]);
    });
    // Cached again at once, whether or not the loss has been noticed yet.
    assert.equal(await awarded(first, "failover.paid"), 3);

    assert.equal((await profile()).statusCode, 200, "the key is cached again");
    const revoked = await second.app.inject({
      method: "DELETE",
      url: `/v1/admin/api-keys/${apiKey.id}`,
      headers: bearer(adminToken),
    });
    assert.ok(revoked.statusCode < 300, revoked.body);
    await asAdmin(second, "PATCH", `/v1/admin/rules/${rule.id}`, {
      awards: [{ currency: "coins", amount: 40 }],
    });
    await asAdmin(second, "PATCH", "/v1/admin/event-types/failover.other", { active: false });

    // Both within 2 s of the change (the deadline of the acceptance criterion).
    await until(
      async () =>
        (await awarded(first, "failover.paid")) === 40 &&
        (await send(first, "failover.other")).statusCode >= 400,
      "the first instance pays 40 and refuses the switched-off type",
    );
    await until(
      async () => (await profile()).statusCode === 401,
      "the first instance refuses the revoked key",
    );
    const refused = await send(first, "failover.other");
    assert.ok(refused.statusCode >= 400 && refused.statusCode < 500, refused.body);
    // And the listener is back: later changes are heard at once again.
    await until(async () => first.listener.connected, "the listener reconnects", 10_000);
    assert.notEqual(first.listener.backendPid, pid);
  });
});

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    if (await check()) return;
    if (performance.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
