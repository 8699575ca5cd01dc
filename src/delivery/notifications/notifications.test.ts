import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  bearer,
  createAdmin,
  createApiKey,
  createTestContext,
  problem,
  registerPlayer,
  type TestContext,
} from "../../../test/helpers/context.ts";
import { startSmtpReceiver } from "../../../test/helpers/smtp-receiver.ts";
import { startReceiver } from "../../../test/helpers/webhook-receiver.ts";

interface Notification {
  id: string;
  type: string;
  title: string;
  message: string;
  data: Record<string, unknown>;
  read: boolean;
}
interface Preference {
  type: string;
  inApp: boolean;
  email: boolean;
  push: boolean;
  custom: boolean;
}

describe("notifications", () => {
  let ctx: TestContext;
  let apiKey: string;
  let adminToken: string;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let push: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    smtp = await startSmtpReceiver();
    push = await startReceiver();
    ctx = await createTestContext({
      packs: ["dietgame", "dietgame-achievements"],
      delivery: {
        notifications: {
          email: { url: smtp.url, from: "Ludus <game@example.com>" },
          push: { url: push.url, token: "push-token" },
        },
      },
    });
    const admin = await createAdmin(ctx);
    adminToken = admin.accessToken;
    apiKey = await createApiKey(ctx, admin.accessToken, ["events:write"]);
  });
  after(async () => {
    await ctx.close();
    await smtp.close();
    await push.close();
  });

  const send = async (userId: string, type: string, data: Record<string, unknown>) => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: { type, userId, data },
    });
    assert.equal(res.statusCode, 201, res.body);
  };
  const list = async (token: string, query = "") => {
    const res = await ctx.app.inject({
      method: "GET",
      url: `/v1/me/notifications${query}`,
      headers: bearer(token),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ items: Notification[]; nextCursor: string | null; unreadCount: number }>();
  };
  const deliver = async () => {
    await ctx.delivery.dispatcher.drain();
    await ctx.delivery.notifications.runOnce();
  };
  const setPrefs = async (token: string, payload: unknown) => {
    const res = await ctx.app.inject({
      method: "PATCH",
      url: "/v1/me/notification-preferences",
      headers: bearer(token),
      payload: payload as object,
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ items: Preference[]; channels: Record<string, boolean> }>();
  };

  it("tells a player once per board period when an event puts them in the board's top", async () => {
    const board = await ctx.app.inject({
      method: "POST",
      url: "/v1/admin/leaderboards",
      headers: bearer(adminToken),
      payload: {
        key: "meal-count-top",
        name: "Most meals",
        source: { kind: "counter", stat: "events.meal.logged" },
        operator: "sum",
        sort: "desc",
        period: "all",
        snapshotSize: 2,
      },
    });
    assert.equal(board.statusCode, 201, board.body);
    const [first, second, third] = [
      await registerPlayer(ctx.app),
      await registerPlayer(ctx.app),
      await registerPlayer(ctx.app),
    ];
    const meals = async (player: { id: string }, n: number) => {
      for (let i = 0; i < n; i++) await send(player.id, "meal.logged", { mealType: "snack" });
      await deliver();
    };
    const tops = async (player: { accessToken: string }) =>
      (await list(player.accessToken)).items
        .filter((n) => n.type === "rank_top")
        .map((n) => [n.data.board, n.data.period, n.data.rank]);
    await meals(first, 3);
    await meals(second, 2);
    await meals(third, 1);
    assert.deepEqual(await tops(first), [["meal-count-top", "all", 1]], "three events in the top: told once");
    assert.deepEqual(await tops(second), [["meal-count-top", "all", 2]]);
    assert.deepEqual(await tops(third), [], "third of a top 2");
    await meals(third, 5);
    assert.deepEqual(await tops(third), [["meal-count-top", "all", 1]]);
    assert.deepEqual(
      await tops(first),
      [["meal-count-top", "all", 1]],
      "moving within the top is not told again",
    );
  });

  it("turns an unlock into a notification on the default channels (in-app and push, not email)", async () => {
    const player = await registerPlayer(ctx.app);
    const pushesBefore = push.received.length;
    const mailsBefore = smtp.mails.length;
    await send(player.id, "meal.logged", { mealType: "breakfast" });
    await deliver();
    const page = await list(player.accessToken);
    const unlock = page.items.find((n) => n.type === "achievement");
    assert.equal(unlock?.title, "Achievement unlocked: First Steps");
    assert.equal(unlock?.data.key, "first-steps");
    assert.equal(unlock?.read, false);
    assert.equal(page.unreadCount, page.items.length);
    const pushes = push.received
      .slice(pushesBefore)
      .map((r) => JSON.parse(r.body) as Record<string, unknown>);
    assert.deepEqual(
      pushes.filter((p) => p.userId === player.id).map((p) => [p.type, p.title]),
      [["achievement", "Achievement unlocked: First Steps"]],
    );
    assert.equal(push.received[pushesBefore]?.headers.authorization, "Bearer push-token");
    assert.equal(smtp.mails.length, mailsBefore, "email is off by default for unlocks");

    // Dispatching the same outbox rows again makes no second notification.
    await ctx.db.asSystem((tx) =>
      tx.exec(`UPDATE outbox SET dispatched_at = NULL WHERE user_id = $1`, [player.id]),
    );
    await deliver();
    assert.equal((await list(player.accessToken)).items.length, page.items.length);
    assert.equal(push.received.length, pushesBefore + 1);
  });

  it("honours preferences per type and channel; email lands in the SMTP receiver with the right content", async () => {
    const player = await registerPlayer(ctx.app);
    const defaults = await ctx.app.inject({
      method: "GET",
      url: "/v1/me/notification-preferences",
      headers: bearer(player.accessToken),
    });
    assert.equal(defaults.statusCode, 200);
    const d = defaults.json<{ items: Preference[]; channels: Record<string, boolean> }>();
    assert.deepEqual(d.channels, { inApp: true, email: true, push: true });
    assert.deepEqual(
      d.items.find((p) => p.type === "achievement"),
      {
        type: "achievement",
        inApp: true,
        email: false,
        push: true,
        custom: false,
      },
    );

    const changed = await setPrefs(player.accessToken, {
      achievement: { email: true, push: false },
      level_up: { inApp: false },
    });
    assert.deepEqual(
      changed.items.find((p) => p.type === "achievement"),
      {
        type: "achievement",
        inApp: true,
        email: true,
        push: false,
        custom: true,
      },
    );
    assert.equal(changed.items.find((p) => p.type === "level_up")?.inApp, false);

    const pushesBefore = push.received.length;
    await send(player.id, "meal.logged", { mealType: "breakfast" });
    await deliver();
    const mail = smtp.mails.find(
      (m) => m.to.includes(player.email.toLowerCase()) || m.to.includes(player.email),
    );
    assert.ok(mail, "an email for the player");
    assert.equal(mail.from, "game@example.com");
    assert.match(mail.raw, /^Subject: Achievement unlocked: First Steps\r?$/m);
    assert.match(mail.raw.replace(/=\r?\n/g, ""), /You unlocked "First Steps"/);
    assert.match(mail.raw, /X-Ludus-Notification-Type: achievement/);
    assert.ok(
      !push.received
        .slice(pushesBefore)
        .some((r) => (JSON.parse(r.body) as { userId: string }).userId === player.id),
      "push turned off",
    );
    const sends = await ctx.db.asSystem((tx) =>
      tx.rows<{ channel: string; status: string }>(
        `SELECT channel, status FROM notification_sends WHERE user_id = $1`,
        [player.id],
      ),
    );
    assert.deepEqual(sends, [{ channel: "email", status: "sent" }]);
    assert.ok(
      !(await list(player.accessToken)).items.some((n) => n.type === "level_up"),
      "level-ups not in-app",
    );
  });

  it("retries a failed send with backoff", async () => {
    const player = await registerPlayer(ctx.app);
    await setPrefs(player.accessToken, { achievement: { email: false, push: true } });
    await send(player.id, "meal.logged", { mealType: "dinner" });
    await ctx.delivery.dispatcher.drain();
    // The push gateway is down: point the send at a closed port by failing the first try by hand.
    await ctx.db.asSystem((tx) =>
      tx.exec(
        `UPDATE notification_sends SET status = 'pending', attempts = 1, next_attempt_at = $2 WHERE user_id = $1`,
        [player.id, new Date(ctx.clock.now().getTime() + 30_000)],
      ),
    );
    const pushesBefore = push.received.length;
    await ctx.delivery.notifications.runOnce();
    assert.equal(push.received.length, pushesBefore, "not before its time");
    ctx.clock.advance(30_000);
    await ctx.delivery.notifications.runOnce();
    assert.equal(push.received.length, pushesBefore + 1);
  });

  it("marks dead a send whose notification is gone, instead of claiming it for ever", async () => {
    const player = await registerPlayer(ctx.app);
    await setPrefs(player.accessToken, { achievement: { email: false, push: true } });
    await send(player.id, "meal.logged", { mealType: "dinner" });
    await ctx.delivery.dispatcher.drain();
    await ctx.db.asSystem((tx) => tx.exec(`DELETE FROM notifications WHERE user_id = $1`, [player.id]));
    const sends = () =>
      ctx.db.asSystem((tx) =>
        tx.rows<{ status: string; attempts: number }>(
          `SELECT status, attempts FROM notification_sends WHERE user_id = $1`,
          [player.id],
        ),
      );
    assert.ok((await sends()).length > 0);
    const pushesBefore = push.received.length;
    await ctx.delivery.notifications.runOnce();
    assert.equal(push.received.length, pushesBefore);
    assert.ok((await sends()).every((r) => r.status === "dead" && r.attempts === 1));
  });

  it("lists with a cursor and an unread filter; marks one or all read; never another player's", async () => {
    const player = await registerPlayer(ctx.app);
    const other = await registerPlayer(ctx.app);
    await send(player.id, "meal.logged", { mealType: "breakfast" });
    for (let i = 0; i < 3; i++) await send(player.id, "exercise.logged", { minutes: 30 });
    await send(other.id, "meal.logged", { mealType: "breakfast" });
    await deliver();
    const all = await list(player.accessToken, "?limit=100");
    assert.ok(all.items.length >= 2, `${all.items.length} notifications`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(player.accessToken, `?limit=1${cursor === null ? "" : `&cursor=${cursor}`}`);
      seen.push(...page.items.map((n) => n.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(
      seen,
      all.items.map((n) => n.id),
    );

    const first = all.items[0]!;
    const read = await ctx.app.inject({
      method: "POST",
      url: `/v1/me/notifications/${first.id}/read`,
      headers: bearer(player.accessToken),
    });
    assert.equal(read.statusCode, 200, read.body);
    assert.equal(read.json<Notification>().read, true);
    const unread = await list(player.accessToken, "?unread=true&limit=100");
    assert.equal(unread.items.length, all.items.length - 1);
    assert.equal(unread.unreadCount, all.items.length - 1);

    const stolen = await ctx.app.inject({
      method: "POST",
      url: `/v1/me/notifications/${first.id}/read`,
      headers: bearer(other.accessToken),
    });
    assert.equal(problem(stolen).status, 404);

    const readAll = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/notifications/read-all",
      headers: bearer(player.accessToken),
    });
    assert.deepEqual(readAll.json(), { updated: all.items.length - 1 });
    assert.equal((await list(player.accessToken, "?unread=true")).unreadCount, 0);
    assert.ok((await list(other.accessToken)).unreadCount > 0, "the other player's stay unread");
  });

  it("row-level security: a player's transaction sees only their notifications and preferences", async () => {
    const a = await registerPlayer(ctx.app);
    const b = await registerPlayer(ctx.app);
    for (const p of [a, b]) {
      await setPrefs(p.accessToken, { quest_complete: { push: false } });
      await send(p.id, "meal.logged", { mealType: "lunch" });
    }
    await deliver();
    for (const table of ["notifications", "notification_preferences"]) {
      const rows = await ctx.db.asUser(a.id, (tx) =>
        tx.rows<{ user_id: string }>(`SELECT user_id FROM ${table}`),
      );
      assert.ok(rows.length > 0, table);
      assert.ok(
        rows.every((r) => r.user_id === a.id),
        table,
      );
      await assert.rejects(
        ctx.db.asUser(a.id, (tx) =>
          tx.exec(
            `INSERT INTO notification_preferences (user_id, type, in_app, email, push, updated_at)
                   VALUES ($1, 'rank_top', true, true, true, now())`,
            [b.id],
          ),
        ),
        /row-level security/,
      );
    }
    for (const table of ["notification_sends", "webhook_endpoints", "webhook_deliveries"]) {
      const rows = await ctx.db.asUser(a.id, (tx) => tx.rows(`SELECT 1 FROM ${table}`));
      assert.equal(rows.length, 0, `${table} is system-only`);
    }
  });

  it("refuses bad preference changes and bad list queries", async () => {
    const player = await registerPlayer(ctx.app);
    for (const payload of [
      {},
      { achievement: {} },
      { achievement: { email: "yes" } },
      { achievement: { sms: true } },
      { no_such_type: { email: true } },
      [],
    ]) {
      const res = await ctx.app.inject({
        method: "PATCH",
        url: "/v1/me/notification-preferences",
        headers: bearer(player.accessToken),
        payload: payload as object,
      });
      assert.equal(problem(res).status, 400, JSON.stringify(payload));
    }
    for (const query of ["?unread=maybe", "?limit=0", "?limit=101", "?cursor=!!", "?other=1"]) {
      const res = await ctx.app.inject({
        method: "GET",
        url: `/v1/me/notifications${query}`,
        headers: bearer(player.accessToken),
      });
      assert.equal(problem(res).status, 400, query);
    }
    const bad = await ctx.app.inject({
      method: "POST",
      url: "/v1/me/notifications/not-a-uuid/read",
      headers: bearer(player.accessToken),
    });
    assert.equal(problem(bad).status, 400);
  });
});
