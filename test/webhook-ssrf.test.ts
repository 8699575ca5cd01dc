/**
 * Webhooks cannot be pointed at internal addresses: refused when registered (every spelling the URL
 * parser normalises, names for this machine and metadata services, names that resolve inside), and
 * checked again on every connection, so a name that later resolves inside (DNS rebinding) reaches
 * nothing. The operator's allow list opens named ranges, and the connection goes to the address
 * that was checked.
 */
import assert from "node:assert/strict";
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
} from "./helpers/context.ts";
import { startReceiver } from "./helpers/webhook-receiver.ts";

interface Try {
  statusCode: number | null;
  durationMs: number;
  ok: boolean;
  error: string | null;
}

/** A DNS the test controls: names map to what the test says now; others do not exist. */
function fakeDns() {
  const names = new Map<string, string[]>();
  const resolve = (host: string) => {
    const found = names.get(host);
    return found
      ? Promise.resolve(found)
      : Promise.reject(Object.assign(new Error(`no ${host}`), { code: "ENOTFOUND" }));
  };
  return { names, resolve };
}

async function setUp(ctx: TestContext) {
  const admin = await createAdmin(ctx);
  const apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  const player = await registerPlayer(ctx.app);
  const api = (method: "GET" | "POST" | "PATCH", url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(admin.accessToken), ...(payload ? { payload } : {}) });
  const register = (url: string, enabled = true) =>
    api("POST", "/v1/admin/webhooks", { url, eventTypes: ["meal.logged"], enabled });
  /** Sends an event, runs delivery, answers the endpoint's tries. */
  const deliverTo = async (endpointId: string) => {
    const sent = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type: "meal.logged", userId: player.id, data: { mealType: "lunch" } },
    });
    assert.equal(sent.statusCode, 201, sent.body);
    await ctx.delivery.runOnce();
    const log = await api("GET", `/v1/admin/webhooks/${endpointId}/deliveries?limit=100`);
    assert.equal(log.statusCode, 200, log.body);
    return log.json<{ items: { tries: Try[] }[] }>().items.flatMap((d) => d.tries);
  };
  return { api, register, deliverTo };
}

describe("webhook URLs pointing inside (no allow list)", () => {
  const dns = fakeDns();
  let ctx: TestContext;
  let t: Awaited<ReturnType<typeof setUp>>;

  before(async () => {
    ctx = await createTestContext({
      // The clock moves by an hour (a retry); tokens must outlive that.
      accessTokenTtlSeconds: 86_400,
      delivery: { webhooks: { resolve: dns.resolve } },
    });
    t = await setUp(ctx);
  });
  after(() => ctx.close());

  it("are refused at registration in every spelling, and nothing is written", async () => {
    dns.names.set("inside.example", ["10.0.0.5"]);
    dns.names.set("mixed.example", ["93.184.216.34", "127.0.0.1"]);
    dns.names.set("v6inside.example", ["fd12::1"]);
    const urls = [
      "http://127.0.0.1:8080/hook",
      "http://127.1/hook",
      "http://2130706433/hook", // decimal
      "http://0177.0.0.1/hook", // octal
      "http://0x7f.0x0.0x0.0x1/hook", // hex
      "http://0.0.0.0/hook",
      "http://[::1]/hook",
      "http://[::ffff:127.0.0.1]/hook", // IPv4-mapped IPv6
      "http://[::ffff:a9fe:a9fe]/hook", // 169.254.169.254, mapped
      "http://[fd00::1]/hook",
      "http://[fe80::1]/hook",
      "http://10.1.2.3/hook",
      "http://172.16.0.1/hook",
      "http://192.168.1.1/hook",
      "http://100.64.0.1/hook",
      "http://169.254.169.254/latest/meta-data/",
      "http://metadata.google.internal/computeMetadata/v1/",
      "http://localhost:3000/hook",
      "http://api.localhost/hook",
      "https://inside.example/hook",
      "https://mixed.example/hook",
      "https://v6inside.example/hook",
    ];
    const before = await tableDigests(ctx, ["webhook_endpoints", "audit_logs"]);
    for (const url of urls) {
      const res = await t.register(url);
      assert.equal(res.statusCode, 422, `${url}: ${res.body}`);
      const body = problem(res);
      assert.equal(body.code, "webhook.url_forbidden", url);
      assert.equal(body.errors?.[0]?.path, "body/url");
    }
    assert.deepEqual(await tableDigests(ctx, ["webhook_endpoints", "audit_logs"]), before);
  });

  it("are refused when an endpoint is changed to one", async () => {
    dns.names.set("public.example", ["93.184.216.34"]);
    // Disabled: nothing is sent to it (the address is a real one).
    const created = await t.register("https://public.example/hook", false);
    assert.equal(created.statusCode, 201, created.body);
    const { id } = created.json<{ id: string }>();
    const patched = await t.api("PATCH", `/v1/admin/webhooks/${id}`, { url: "http://169.254.169.254/" });
    assert.equal(patched.statusCode, 422, patched.body);
    assert.equal(problem(patched).code, "webhook.url_forbidden");
    const read = await t.api("GET", `/v1/admin/webhooks/${id}`);
    assert.equal(read.json<{ url: string }>().url, "https://public.example/hook");
  });

  it("reach nothing when the name resolves inside at send time (DNS rebinding), and log no timing", async () => {
    const receiver = await startReceiver();
    after(() => receiver.close());
    const port = new URL(receiver.url).port;
    // Public when registered...
    dns.names.set("rebind.example", ["93.184.216.34"]);
    const created = await t.register(`http://rebind.example:${port}/hook`);
    assert.equal(created.statusCode, 201, created.body);
    const { id } = created.json<{ id: string }>();
    // ...then the attacker's DNS answers with loopback, where the receiver listens.
    dns.names.set("rebind.example", ["127.0.0.1"]);
    const tries = await t.deliverTo(id);
    assert.equal(receiver.received.length, 0, "nothing may reach the internal address");
    assert.equal(tries.length, 1);
    assert.deepEqual(tries[0], {
      ...tries[0],
      ok: false,
      statusCode: null,
      durationMs: 0,
      error: "forbidden address",
    });
    // One internal address among public ones is enough to refuse; the retry is refused so.
    dns.names.set("rebind.example", ["93.184.216.34", "127.0.0.1"]);
    ctx.clock.advance(3_600_000);
    const again = await t.deliverTo(id);
    assert.equal(receiver.received.length, 0);
    assert.equal(again.length, 2);
    assert.ok(again.every((x) => x.error === "forbidden address" && x.durationMs === 0));
  });

  it("stored before the check (or by SQL) are still refused when sending", async () => {
    const receiver = await startReceiver();
    after(() => receiver.close());
    dns.names.set("public2.example", ["93.184.216.34"]);
    const created = await t.register("https://public2.example/hook");
    assert.equal(created.statusCode, 201, created.body);
    const { id } = created.json<{ id: string }>();
    await ctx.db.asSystem((tx) =>
      tx.exec(`UPDATE webhook_endpoints SET url = $1 WHERE id = $2`, [receiver.url, id]),
    );
    const tries = await t.deliverTo(id);
    assert.equal(receiver.received.length, 0);
    assert.equal(tries.at(-1)?.error, "forbidden address");
  });
});

describe("webhook URLs inside a range the operator allows", () => {
  const dns = fakeDns();
  let ctx: TestContext;
  let t: Awaited<ReturnType<typeof setUp>>;

  before(async () => {
    ctx = await createTestContext({
      delivery: { webhooks: { resolve: dns.resolve, allowPrivate: ["127.0.0.0/8"] } },
    });
    t = await setUp(ctx);
  });
  after(() => ctx.close());

  it("are accepted and delivered to the address that was checked", async () => {
    const receiver = await startReceiver();
    after(() => receiver.close());
    const port = new URL(receiver.url).port;
    // A name only the test's DNS knows: the delivery can arrive only through the checked lookup.
    dns.names.set("onprem.example", ["127.0.0.1"]);
    const created = await t.register(`http://onprem.example:${port}/hook`);
    assert.equal(created.statusCode, 201, created.body);
    const tries = await t.deliverTo(created.json<{ id: string }>().id);
    assert.equal(receiver.received.length, 1);
    assert.equal(receiver.received[0]!.headers.host, `onprem.example:${port}`);
    assert.equal(tries.at(-1)?.ok, true);
    // Only the named range: other internal addresses stay refused.
    for (const url of ["http://10.0.0.1/hook", "http://169.254.169.254/", "http://[::1]/hook"]) {
      const res = await t.register(url);
      assert.equal(res.statusCode, 422, `${url}: ${res.body}`);
    }
    // A literal loopback address (any spelling) is allowed too.
    const literal = await t.register(`http://0x7f000001:${port}/hook`);
    assert.equal(literal.statusCode, 201, literal.body);
  });
});
