import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { closeDuePeriods } from "../src/leaderboards/period-close.ts";
import pg from "pg";
import { resolveJwtSecret } from "../src/platform/secrets.ts";
import { createAdmin, createTestContext, registerPlayer, type TestContext } from "./helpers/context.ts";

/**
 * Row-level security checked in SQL, below the API: connected as the runtime role, a transaction
 * with user A set sees only A's rows in every user-owned table, and one with no user sees nothing.
 */

// The column that names each user-owned table's owner. A new RLS table must be added here (or to
// SYSTEM_ONLY), or the catalog test below fails.
const OWNER_COLUMN: Record<string, string> = {
  users: "id",
  user_profiles: "user_id",
  sessions: "user_id",
  refresh_tokens: "user_id",
  audit_logs: "subject_user_id",
  user_progress: "user_id",
  wallets: "user_id",
  ledger_entries: "user_id",
  rule_award_totals: "user_id",
  user_stats_daily: "user_id",
  user_stats_totals: "user_id",
  events: "user_id",
  idempotency_keys: "user_id",
  outbox: "user_id",
  user_achievements: "user_id",
  user_streaks: "user_id",
  user_streak_milestones: "user_id",
  streak_protections: "user_id",
  user_quests: "user_id",
  notifications: "user_id",
  notification_preferences: "user_id",
  user_inventory: "user_id",
  purchases: "user_id",
  user_boosts: "user_id",
  user_gifts: "user_id",
};
const SYSTEM_ONLY = [
  "webhook_endpoints",
  "webhook_deliveries",
  "webhook_attempts",
  "notification_sends",
  "scheduled_jobs",
  "api_keys",
  "login_failures",
  "settings",
];
// Shared definitions: everyone reads them, only system transactions write them.
const DEFINITIONS = [
  "currencies",
  "event_types",
  "rules",
  "rule_versions",
  "achievements",
  "streak_definitions",
  "quest_pools",
  "quest_templates",
  "leaderboards",
  "shop_items",
  "gifts",
];
// Leaderboards are public: everyone reads them; only the owner's (entries) or system transactions write.
const PUBLIC = [
  "leaderboard_entries",
  "leaderboard_periods",
  "leaderboard_snapshots",
  "leaderboard_snapshot_sets",
];

describe("row-level security", () => {
  let ctx: TestContext;
  let client: pg.Client;
  let a: { id: string; accessToken: string };
  let b: { id: string; accessToken: string };

  before(async () => {
    ctx = await createTestContext({
      packs: [
        "dietgame",
        "dietgame-achievements",
        "dietgame-streaks-quests",
        "questlog",
        "prodev",
        "leaderboards",
        "dietgame-shop",
      ],
      // Push to a closed port: the sends exist (and fail), which is all RLS needs.
      // The webhook too (loopback, allowed for it).
      delivery: {
        notifications: { push: { url: "http://127.0.0.1:9/push", token: undefined } },
        webhooks: { allowPrivate: ["loopback"] },
      },
    });
    a = await registerPlayer(ctx.app);
    b = await registerPlayer(ctx.app);
    const admin = await createAdmin(ctx);
    // Rows in the system-only tables too: a key, a failed login.
    await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/api-keys",
      headers: { authorization: `Bearer ${admin.accessToken}` },
      payload: { name: "rls", scopes: ["users:read"] },
    });
    await ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: "nobody", password: "x" },
    });
    assert.ok((await resolveJwtSecret(ctx.db, undefined)).length >= 32);
    // Rows in every player table: events that pay (a capped rule), count, and carry idempotency keys.
    const key = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/api-keys",
      headers: { authorization: `Bearer ${admin.accessToken}` },
      payload: { name: "events", scopes: ["events:write"] },
    });
    const apiKey = key.json<{ key: string }>().key;
    // Protection first: the admin token does not outlive the days below.
    for (const who of [a, b]) {
      const protection = await ctx.app.inject({
        method: "POST",
        url: `/v1/admin/users/${who.id}/streak-protections`,
        headers: { authorization: `Bearer ${admin.accessToken}` },
        payload: { hours: 24 },
      });
      assert.equal(protection.statusCode, 201, protection.body);
    }
    // The shop: coins, a purchase (inventory, purchase), a boost used, the welcome gift claimed.
    const stocked = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/shop-items",
      headers: { authorization: `Bearer ${admin.accessToken}` },
      payload: { key: "rls-stocked", name: "Stocked", price: 1, type: "consumable", stock: 5 },
    });
    assert.equal(stocked.statusCode, 201, stocked.body);
    for (const who of [a, b]) {
      const player = { authorization: `Bearer ${who.accessToken}` };
      const steps = [
        () =>
          ctx.app.inject({
            method: "POST",
            url: `/v1/admin/users/${who.id}/adjustments`,
            headers: { authorization: `Bearer ${admin.accessToken}` },
            payload: { currency: "coins", amount: 1000, reason: "rls", idempotencyKey: `rls-${who.id}` },
          }),
        () =>
          ctx.app.inject({
            method: "POST",
            url: "/v1/shop/xp-boost/purchase",
            headers: player,
            payload: { idempotencyKey: `buy-${who.id}` },
          }),
        () =>
          ctx.app.inject({
            method: "POST",
            url: "/v1/me/inventory/xp-boost/use",
            headers: player,
            payload: { idempotencyKey: `use-${who.id}` },
          }),
        () => ctx.app.inject({ method: "POST", url: "/v1/me/gift/claim", headers: player }),
      ];
      for (const step of steps) {
        const res = await step();
        assert.equal(res.statusCode, 201, res.body);
      }
    }
    // Delivery: preferences and a webhook endpoint (unreachable: its tries are logged), made
    // before the tokens expire.
    for (const who of [a, b]) {
      const prefs = await ctx.app.inject({
        method: "PATCH",
        url: "/v1/me/notification-preferences",
        headers: { authorization: `Bearer ${who.accessToken}` },
        payload: { level_up: { push: true } },
      });
      assert.equal(prefs.statusCode, 200, prefs.body);
    }
    const hook = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/webhooks",
      headers: { authorization: `Bearer ${admin.accessToken}` },
      payload: { url: "http://127.0.0.1:9/hook", eventTypes: ["*"] },
    });
    assert.equal(hook.statusCode, 201, hook.body);
    // Three days of meals: a streak, quests, and the streak's first milestone.
    for (let day = 0; day < 3; day++) {
      for (const who of [a, b]) {
        const sent = await ctx.app.inject({
          method: "POST",
          url: "/v1/events",
          headers: { "x-api-key": apiKey },
          payload: {
            type: "meal.logged",
            userId: who.id,
            idempotencyKey: `rls-${who.id}-${day}`,
            data: { mealType: "lunch" },
          },
        });
        assert.equal(sent.statusCode, 201, sent.body);
      }
      ctx.clock.advance(86_400_000);
    }
    // A week later the boards' periods have ended: closing them writes snapshots.
    ctx.clock.advance(8 * 86_400_000);
    assert.ok(
      (await closeDuePeriods(ctx.db, ctx.game.ranks, ctx.clock.now(), pino({ level: "silent" }))) > 0,
    );
    // The scheduler's table (system-only) holds its jobs once it has run.
    await ctx.db.asSystem((tx) =>
      tx.exec(`INSERT INTO scheduled_jobs (name, interval_ms, next_run_at) VALUES ('rls.check', 60000, $1)`, [
        ctx.clock.now(),
      ]),
    );
    // Dispatching the events makes notifications, push sends and webhook deliveries (tried once).
    await ctx.delivery.dispatcher.drain();
    await ctx.delivery.webhooks.runOnce();
    await ctx.delivery.notifications.runOnce();
    client = new pg.Client({ connectionString: ctx.ownerUrl });
    await client.connect();
    await client.query("SET ROLE ludus_app");
  });
  after(async () => {
    await client.end();
    await ctx.close();
  });

  async function asActing(userId: string | null, sql: string) {
    await client.query("BEGIN");
    try {
      if (userId !== null) await client.query("SELECT set_config('ludus.user_id', $1, true)", [userId]);
      return (await client.query<Record<string, unknown>>(sql)).rows;
    } finally {
      await client.query("ROLLBACK");
    }
  }

  it("every table is RLS-enabled and forced, and the runtime role owns none", async () => {
    const tables = await asActing(
      null,
      `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         AND c.relname <> 'schema_migrations'`,
    );
    const names = tables.map((t) => String(t.relname)).sort();
    assert.deepEqual(names, [...Object.keys(OWNER_COLUMN), ...SYSTEM_ONLY, ...DEFINITIONS, ...PUBLIC].sort());
    for (const t of tables) {
      assert.equal(t.relrowsecurity, true, `${String(t.relname)} has RLS enabled`);
      assert.equal(t.relforcerowsecurity, true, `${String(t.relname)} forces RLS`);
      assert.notEqual(t.owner, "ludus_app", `${String(t.relname)} is not owned by the runtime role`);
    }
  });

  for (const [table, column] of Object.entries(OWNER_COLUMN)) {
    it(`${table}: user A sees only A's rows; no user sees none`, async () => {
      const all = await asActing(null, `SELECT count(*)::int AS n FROM ${table}`);
      assert.equal(all[0]?.n, 0, "no acting user: no rows");

      const rowsA = await asActing(a.id, `SELECT * FROM ${table}`);
      assert.ok(rowsA.length > 0, `A has rows in ${table}`);
      for (const row of rowsA) assert.equal(row[column], a.id);

      const rowsB = await asActing(b.id, `SELECT * FROM ${table}`);
      assert.ok(rowsB.length > 0, `B has rows in ${table}`);
      for (const row of rowsB) assert.equal(row[column], b.id);
    });
  }

  for (const table of SYSTEM_ONLY) {
    it(`${table}: invisible to players and to transactions with no user`, async () => {
      const owner = new pg.Client({ connectionString: ctx.ownerUrl });
      await owner.connect();
      try {
        const total = await owner.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
        assert.ok((total.rows[0]?.n ?? 0) > 0, `${table} holds rows`);
      } finally {
        await owner.end();
      }
      assert.equal((await asActing(a.id, `SELECT * FROM ${table}`)).length, 0);
      assert.equal((await asActing(null, `SELECT * FROM ${table}`)).length, 0);
    });
  }

  for (const table of DEFINITIONS) {
    it(`${table}: readable by everyone, writable only by system transactions`, async () => {
      assert.ok((await asActing(a.id, `SELECT * FROM ${table}`)).length > 0);
      assert.ok((await asActing(null, `SELECT * FROM ${table}`)).length > 0);
      await assert.rejects(
        asActing(a.id, `DELETE FROM ${table} WHERE false OR true RETURNING 1`).then((rows) => {
          if (rows.length === 0) throw new Error("row-level security: nothing deletable");
        }),
        // Refused either way: by the policies, or (for definitions never deleted) by the grants.
        /row-level security|permission denied/,
      );
    });
  }

  for (const table of PUBLIC) {
    it(`${table}: everyone reads every row`, async () => {
      const rows = await asActing(a.id, `SELECT * FROM ${table}`);
      assert.ok(rows.length > 0, `${table} holds rows`);
      assert.equal((await asActing(null, `SELECT * FROM ${table}`)).length, rows.length);
      if (table !== "leaderboard_periods" && table !== "leaderboard_snapshot_sets") {
        assert.ok(
          rows.some((r) => r.user_id === b.id),
          "A sees B's rows",
        );
      }
    });
  }

  it("leaderboards: a player cannot change anyone else's entry, a period or a snapshot", async () => {
    const updated = await asActing(
      a.id,
      `UPDATE leaderboard_entries SET score = score + 1000 WHERE user_id = '${b.id}' RETURNING 1`,
    );
    assert.equal(updated.length, 0, "B's entries are not A's to change");
    await assert.rejects(
      asActing(
        a.id,
        `INSERT INTO leaderboard_entries (leaderboard_id, period_key, user_id, score, rank_score, reached_at)
         SELECT id, 'all', '${b.id}', 1, 1, now() FROM leaderboards LIMIT 1`,
      ),
      /row-level security/,
    );
    await assert.rejects(
      asActing(a.id, `UPDATE leaderboard_periods SET closed_at = NULL WHERE closed_at IS NOT NULL`),
      /row-level security/,
    );
    await assert.rejects(
      asActing(
        a.id,
        `INSERT INTO leaderboard_snapshots (leaderboard_id, period_key, taken_at, rank, user_id, score, reached_at)
         SELECT id, 'x', now(), 1, '${a.id}', 1, now() FROM leaderboards LIMIT 1`,
      ),
      /row-level security|permission denied/,
    );
    await assert.rejects(
      asActing(
        a.id,
        `INSERT INTO leaderboard_snapshot_sets (leaderboard_id, period_key, taken_at, final, entries)
         SELECT id, 'x', now(), false, 0 FROM leaderboards LIMIT 1`,
      ),
      /row-level security|permission denied/,
    );
  });

  it("shop items: a player's transaction may take stock, and change nothing else", async () => {
    const taken = await asActing(
      a.id,
      `UPDATE shop_items SET stock = stock - 1 WHERE key = 'rls-stocked' RETURNING stock`,
    );
    assert.deepEqual(taken, [{ stock: 4 }]);
    await assert.rejects(
      asActing(a.id, `UPDATE shop_items SET stock = stock + 1 WHERE key = 'rls-stocked'`),
      /may only take stock/,
    );
    await assert.rejects(
      asActing(a.id, `UPDATE shop_items SET price = 0, stock = stock - 1 WHERE key = 'rls-stocked'`),
      /may only take stock/,
    );
    const unstocked = await asActing(a.id, `UPDATE shop_items SET price = 0 WHERE stock IS NULL RETURNING 1`);
    assert.equal(unstocked.length, 0, "items without stock are not a player's to touch at all");
  });

  it("a player cannot write rows for someone else", async () => {
    await client.query("BEGIN");
    try {
      await client.query("SELECT set_config('ludus.user_id', $1, true)", [a.id]);
      const updated = await client.query(`UPDATE users SET display_name = 'hijacked' WHERE id = $1`, [b.id]);
      assert.equal(updated.rowCount, 0);
      await assert.rejects(
        client.query(`INSERT INTO sessions (user_id, expires_at) VALUES ($1, now() + interval '1 day')`, [
          b.id,
        ]),
        /row-level security/,
      );
    } finally {
      await client.query("ROLLBACK");
    }
  });

  it("partitions cannot be read directly, around the parent's policies", async () => {
    const parts = await asActing(
      null,
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'audit_logs'::regclass LIMIT 1`,
    );
    const partition = String(parts[0]?.relname);
    await assert.rejects(asActing(a.id, `SELECT * FROM ${partition}`), /permission denied/);
  });

  it("history is append-only for the runtime role", async () => {
    await assert.rejects(asActing(a.id, `DELETE FROM audit_logs`), /permission denied/);
    await assert.rejects(asActing(a.id, `UPDATE audit_logs SET action = 'x'`), /permission denied/);
  });
});
