import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { verify } from "../src/delivery/webhooks/signing.ts";
import { spawnServe, type Serving } from "./helpers/serve.ts";
import { cloneTemplate, withClient } from "./helpers/postgres.ts";
import { startReceiver } from "./helpers/webhook-receiver.ts";

/**
 * Issue 7, acceptance 3: killing the server (SIGKILL) in the middle of a stream of events loses no
 * notification or webhook for a committed event. Ludus runs as a real process (`ludus serve`) on
 * its own cloned database; the test streams events at it over HTTP, kills it while requests are in
 * flight and deliveries are queued or being sent, starts it again on the same database, waits for
 * the outbox and the webhook queue to drain, then checks every committed event against what the
 * receiver got (at least once, deduplicated by event id) and against the notifications table.
 */

const PLAYERS = 8;
/** An upper bound: the stream stops at the kill; events never sent are not sent later. */
const EVENTS_PER_PLAYER = 150;
const CONCURRENCY = 16;
/**
 * SIGKILL once this many events have been answered and the receiver has had this many requests
 * (webhooks are being sent, not only queued); the requests in flight are cut off. Whatever the
 * receiver's pace, the kill comes at the latest after KILL_AT_THE_LATEST answers.
 */
const KILL_AFTER = { answered: 200, received: 40 };
const KILL_AT_THE_LATEST = 900;
/** The first webhook requests the receiver fails: their retries (10 s later) outlive the kill. */
const FAILED_FIRST = 3;

const ADMIN_EMAIL = "crash-admin@example.com";
const ADMIN_PASSWORD = "crash test admin password";

type Started = Serving;

const children: ChildProcess[] = [];

async function startLudus(databaseUrl: string): Promise<Started> {
  const serving = await spawnServe({
    env: {
      DATABASE_URL: databaseUrl,
      LUDUS_ADMIN_EMAIL: ADMIN_EMAIL,
      LUDUS_ADMIN_PASSWORD: ADMIN_PASSWORD,
      LUDUS_ARGON2_MEMORY_KIB: "1024",
      LUDUS_ARGON2_TIME_COST: "1",
      LUDUS_AUTH_RATE_LIMIT: "100000",
      LUDUS_DELIVERY_POLL_MS: "50",
      // A delivery being sent when the process dies is leased for the timeout + 30 s: keep it short.
      LUDUS_WEBHOOK_TIMEOUT_MS: "2000",
      LUDUS_WEBHOOK_ALLOW_PRIVATE: "loopback",
      LUDUS_WEBHOOK_MAX_ATTEMPTS: "100",
      LUDUS_WEBHOOK_DISABLE_AFTER: "100000",
    },
  });
  children.push(serving.child);
  return serving;
}

async function call<T>(
  base: string,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; json: T; text: string }> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text === "" ? undefined : JSON.parse(text)) as T, text };
}

interface EventAnswer {
  eventId: string;
  duplicate: boolean;
  effects: { derived: { eventId: string }[] };
}

interface Planned {
  userId: string;
  type: string;
  data: Record<string, unknown>;
  idempotencyKey: string;
  /** The answer, once one came (2xx). */
  answer?: EventAnswer;
  /** Sent to the first process and cut off by the kill (no answer). */
  cutOff?: boolean;
}

interface EffectsRow {
  achievements?: { key: string }[];
  levelUps?: { level: number; previousLevel: number }[];
  quests?: { key: string; period: string; completed: boolean }[];
  streaks?: { key: string; frozen: number }[];
}

describe("SIGKILL in the middle of a stream of events", () => {
  let database: Awaited<ReturnType<typeof cloneTemplate>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    database = await cloneTemplate(`ludus_test_crash_${randomBytes(6).toString("hex")}`);
    receiver = await startReceiver((_r, index) => (index < FAILED_FIRST ? 503 : 200));
  });
  after(async () => {
    // Even when the test failed half-way: no Ludus process outlives it.
    const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
    const gone = alive.map((c) => new Promise<void>((resolve) => c.once("exit", () => resolve())));
    for (const child of alive) child.kill("SIGKILL");
    await Promise.all(gone);
    await receiver?.close();
    await database?.drop();
  });

  it("loses no webhook or notification of a committed event", { timeout: 400_000 }, async (t) => {
    // --- first run: set up as the admin, then stream events and kill the process -------------------
    const first = await startLudus(database.url);
    const login = await call<{ tokens: { accessToken: string } }>(
      first.base,
      "POST",
      "/v1/auth/login",
      {},
      {
        login: ADMIN_EMAIL,
        password: ADMIN_PASSWORD,
      },
    );
    assert.equal(login.status, 200, login.text);
    const admin = { authorization: `Bearer ${login.json.tokens.accessToken}` };
    const key = await call<{ key: string }>(first.base, "POST", "/v1/admin/api-keys", admin, {
      name: "crash test",
      scopes: ["events:write"],
    });
    assert.equal(key.status, 201, key.text);
    const apiKey = { "x-api-key": key.json.key };
    const endpoint = await call<{ id: string; secret: string }>(
      first.base,
      "POST",
      "/v1/admin/webhooks",
      admin,
      {
        url: receiver.url,
        eventTypes: ["*"],
        description: "crash test receiver",
      },
    );
    assert.equal(endpoint.status, 201, endpoint.text);
    const secret = endpoint.json.secret;

    const players: string[] = [];
    for (let i = 0; i < PLAYERS; i++) {
      const tag = randomBytes(4).toString("hex");
      const res = await call<{ user: { id: string } }>(
        first.base,
        "POST",
        "/v1/auth/register",
        {},
        {
          email: `crash${tag}@example.com`,
          username: `crash${tag}`,
          password: "a long enough password",
        },
      );
      assert.equal(res.status, 201, res.text);
      players.push(res.json.user.id);
    }

    // Round-robin over the players: meals (first-steps, quests) and exercise (XP without a daily
    // cap: level-ups, level achievements).
    const meals = ["breakfast", "lunch", "dinner", "snack"];
    const planned: Planned[] = [];
    for (let n = 0; n < EVENTS_PER_PLAYER; n++) {
      for (const [p, userId] of players.entries()) {
        const meal = n % 2 === 0;
        planned.push({
          userId,
          type: meal ? "meal.logged" : "exercise.logged",
          data: meal
            ? { mealType: meals[(n / 2) % meals.length]!, calories: 300 + n }
            : { minutes: 30 + ((n * 7 + p) % 91), kind: "run" },
          idempotencyKey: `crash-${p}-${n}`,
        });
      }
    }
    const send = (base: string, e: Planned) =>
      call<EventAnswer>(base, "POST", "/v1/events", apiKey, {
        type: e.type,
        userId: e.userId,
        data: e.data,
        idempotencyKey: e.idempotencyKey,
      });

    let answered = 0;
    let killed = false;
    let inFlight = 0;
    let inFlightAtKill = 0;
    let nextIndex = 0;
    const kill = () => {
      if (killed) return;
      killed = true;
      inFlightAtKill = inFlight;
      first.child.kill("SIGKILL");
    };
    const worker = async () => {
      while (!killed && nextIndex < planned.length) {
        const e = planned[nextIndex++]!;
        inFlight += 1;
        try {
          const res = await send(first.base, e);
          if (res.status !== 200 && res.status !== 201) throw new Error(`${res.status} ${res.text}`);
          e.answer = res.json;
          answered += 1;
          if (
            (answered >= KILL_AFTER.answered && receiver.received.length >= KILL_AFTER.received) ||
            answered >= KILL_AT_THE_LATEST
          ) {
            kill();
          }
        } catch (error) {
          if (!killed) throw error;
          e.cutOff = true;
        } finally {
          inFlight -= 1;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.ok(killed, "the process was killed mid-stream");
    assert.equal(await first.exited, null, "killed by the signal, not exited");
    assert.equal(first.child.signalCode, "SIGKILL");
    assert.ok(inFlightAtKill > 0, "requests were in flight when the process died");

    // What the kill left behind, read before the restart, once PostgreSQL has ended the dead
    // process's sessions (a COMMIT it sent just before dying may still be running until then).
    const cutOff = planned.filter((e) => e.cutOff === true);
    const atKill = await withClient(database.url, async (c) => {
      for (const deadline = Date.now() + 60_000; ;) {
        const others = await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        if (others.rows[0]!.n === 0) break;
        if (Date.now() > deadline) assert.fail("the killed process's sessions did not end within 60 s");
        await new Promise((r) => setTimeout(r, 100));
      }
      const outbox = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox WHERE dispatched_at IS NULL`,
      );
      const deliveries = await c.query<{ status: string; n: number }>(
        `SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status`,
      );
      const committed = await c.query<{ idempotency_key: string; id: string }>(
        `SELECT idempotency_key, id FROM events WHERE idempotency_key = ANY($1::text[])`,
        [cutOff.map((e) => e.idempotencyKey)],
      );
      return {
        undispatched: outbox.rows[0]!.n,
        deliveries: Object.fromEntries(deliveries.rows.map((r) => [r.status, r.n])),
        committedUnanswered: new Map(committed.rows.map((r) => [r.idempotency_key, r.id])),
      };
    });
    const receivedAtKill = receiver.received.length;

    // --- second run on the same database: resend what got no answer, wait for the queues to drain --
    const second = await startLudus(database.url);
    const unanswered = cutOff;
    const sent = planned.filter((e) => e.answer !== undefined || e.cutOff === true);
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < unanswered.length) {
          const e = unanswered[next++]!;
          const res = await send(second.base, e);
          assert.ok(res.status === 200 || res.status === 201, `${res.status} ${res.text}`);
          e.answer = res.json;
          // An event committed before the kill is not applied again: the first result comes back.
          const committedId = atKill.committedUnanswered.get(e.idempotencyKey);
          if (committedId !== undefined) {
            assert.equal(res.json.duplicate, true, `${e.idempotencyKey} committed before the kill`);
            assert.equal(res.json.eventId, committedId);
          } else {
            assert.equal(res.json.duplicate, false, `${e.idempotencyKey} was not committed before the kill`);
          }
        }
      }),
    );

    const drained = async () =>
      withClient(database.url, async (c) => {
        const r = await c.query<{ outbox: number; deliveries: number }>(
          `SELECT (SELECT count(*)::int FROM outbox WHERE dispatched_at IS NULL AND dead_at IS NULL) AS outbox,
                  (SELECT count(*)::int FROM webhook_deliveries WHERE status IN ('pending', 'sending')) AS deliveries`,
        );
        return r.rows[0]!;
      });
    const deadline = Date.now() + 240_000;
    for (;;) {
      const left = await drained();
      if (left.outbox === 0 && left.deliveries === 0) break;
      if (Date.now() > deadline) {
        assert.fail(`not drained within 240 s: ${JSON.stringify(left)}\n${second.output()}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }

    // --- checks --------------------------------------------------------------------------------------
    const state = await withClient(database.url, async (c) => {
      const events = await c.query<{ id: string; user_id: string; type: string; result: EffectsRow }>(
        `SELECT id, user_id, type, result FROM events`,
      );
      const dead = await c.query<{ outbox: number; deliveries: number }>(
        `SELECT (SELECT count(*)::int FROM outbox WHERE dead_at IS NOT NULL) AS outbox,
                (SELECT count(*)::int FROM webhook_deliveries WHERE status = 'dead') AS deliveries`,
      );
      const notifications = await c.query<{
        user_id: string;
        type: string;
        dedupe_key: string;
        event_id: string;
      }>(`SELECT user_id, type, dedupe_key, data->>'eventId' AS event_id FROM notifications`);
      return { events: events.rows, dead: dead.rows[0]!, notifications: notifications.rows };
    });
    assert.deepEqual(state.dead, { outbox: 0, deliveries: 0 }, "no dead letters");

    // Every answered event (and what it derived) is committed.
    const committed = new Map(state.events.map((e) => [e.id, e]));
    for (const e of sent) {
      assert.ok(e.answer !== undefined, `${e.idempotencyKey} answered`);
      for (const id of [e.answer.eventId, ...e.answer.effects.derived.map((d) => d.eventId)]) {
        assert.ok(committed.has(id), `answered event ${id} (${e.idempotencyKey}) is in the events table`);
      }
    }
    assert.equal(
      state.events.filter((e) => e.type === "meal.logged" || e.type === "exercise.logged").length,
      sent.length,
      "each event sent committed exactly once",
    );

    // The receiver: every delivery signed; every committed event delivered at least once.
    const byEvent = new Map<string, number>();
    for (const r of receiver.received) {
      const signed = verify(
        secret,
        {
          signature: r.headers["ludus-signature"] as string | undefined,
          timestamp: r.headers["ludus-timestamp"] as string | undefined,
        },
        r.body,
        r.at,
      );
      assert.ok(signed, `the signature verifies: ${r.body.slice(0, 200)}`);
      if (r.status < 200 || r.status >= 300) continue;
      const body = JSON.parse(r.body) as { eventId: string; type: string };
      assert.equal(r.headers["ludus-event-id"], body.eventId);
      byEvent.set(body.eventId, (byEvent.get(body.eventId) ?? 0) + 1);
    }
    const missing = state.events.filter((e) => !byEvent.has(e.id));
    assert.deepEqual(
      missing.map((e) => `${e.type} ${e.id}`),
      [],
      "every committed event reached the receiver",
    );
    for (const id of byEvent.keys()) assert.ok(committed.has(id), `delivered ${id} is a committed event`);

    // Every achievement, level-up, completed quest and frozen streak of a committed event has its
    // notification, exactly once.
    const notes = new Map<string, number>();
    for (const n of state.notifications) {
      const k = `${n.user_id} ${n.dedupe_key}`;
      notes.set(k, (notes.get(k) ?? 0) + 1);
    }
    const noteEvent = new Map(state.notifications.map((n) => [`${n.user_id} ${n.dedupe_key}`, n.event_id]));
    let expectedNotes = 0;
    const expect = (e: (typeof state.events)[number], dedupeKey: string) => {
      expectedNotes += 1;
      const k = `${e.user_id} ${dedupeKey}`;
      assert.equal(notes.get(k), 1, `one notification ${dedupeKey} for ${e.type} ${e.id}`);
      assert.equal(noteEvent.get(k), e.id, `notification ${dedupeKey} names its event`);
    };
    let achievements = 0;
    let levelUps = 0;
    for (const e of state.events) {
      for (const a of e.result.achievements ?? []) {
        achievements += 1;
        expect(e, `achievement:${a.key}`);
      }
      for (const l of e.result.levelUps ?? []) {
        levelUps += 1;
        expect(e, `level:${e.id}:${l.level}`);
      }
      for (const q of e.result.quests ?? []) if (q.completed) expect(e, `quest:${q.key}:${q.period}`);
      for (const s of e.result.streaks ?? []) if (s.frozen > 0) expect(e, `streak_saved:${e.id}:${s.key}`);
    }
    assert.ok(achievements >= PLAYERS, "achievements were unlocked (first-steps at least)");
    assert.ok(levelUps >= PLAYERS, "players levelled up");

    const duplicates = [...byEvent.values()].reduce((sum, n) => sum + n - 1, 0);
    t.diagnostic(
      `events committed: ${state.events.length} (sent ${sent.length} of the ${planned.length} planned); answered by the first process: ` +
        `${answered}; in flight at the kill: ${inFlightAtKill}; cut off: ${cutOff.length}, of which ` +
        `committed without an answer: ${atKill.committedUnanswered.size}`,
    );
    t.diagnostic(
      `at the kill: ${atKill.undispatched} outbox rows undispatched, deliveries ${JSON.stringify(atKill.deliveries)}, ` +
        `${receivedAtKill} requests received`,
    );
    t.diagnostic(
      `receiver: ${receiver.received.length} requests, ${byEvent.size} event ids, ${duplicates} duplicates; ` +
        `notifications checked: ${expectedNotes} (${achievements} achievements, ${levelUps} level-ups)`,
    );

    second.child.kill("SIGTERM");
    assert.equal(await second.exited, 0, "a clean stop on SIGTERM");
  });
});
