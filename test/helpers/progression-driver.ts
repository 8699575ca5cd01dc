import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { LightMyRequestResponse } from "fastify";
import {
  questStatus,
  replay,
  streakView,
  type Calendar,
  type Definitions,
  type HistoryEntry,
  type Outcome,
  type RefQuest,
} from "../reference/progression-reference.ts";
import { bearer, createAdmin, registerPlayer, type TestContext } from "./context.ts";

/**
 * Drives players through the API while recording their raw history (what was applied, when it
 * arrived, the calendar they had, quest look-ups and protections), and compares everything the
 * product stored and shows about streaks and quests with the reference's replay of that history.
 */

const MINUTE = 60_000;
/** Small pages, so that reading a player's quest history goes through the cursor many times. */
const QUEST_PAGE = 7;

export interface Player {
  label: string;
  id: string;
  username: string;
  password: string;
  calendar: Calendar;
  history: HistoryEntry[];
  token: { value: string; at: number } | null;
}

export interface Sent {
  status: number;
  eventId: string | null;
  duplicate: boolean;
  body: unknown;
}

interface QuestItem {
  key: string;
  period: string;
  status: string;
  progress: number;
  target: number;
  startsAt: string;
  expiresAt: string;
  secondsLeft: number;
  completedAt: string | null;
}

interface StreakItem {
  key: string;
  current: number;
  longest: number;
  safe: boolean;
  atRisk: boolean;
  freezesNeeded: number;
  periodEndsAt: string;
  secondsLeft: number;
  freezeTokens: { currency: string; balance: number; max: number | null } | null;
  freezesUsed: number;
  protectedUntil: string | null;
  milestones: { count: number; reached: boolean }[];
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());
const sorted = <T>(list: T[], key: (t: T) => string) =>
  [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

export class ProgressionDriver {
  private admin: { value: string; at: number } | null = null;
  /** How many comparisons were made (so a test can show it compared something). */
  checks = 0;
  /**
   * Soft mode, for investigating: mismatches and refused events are collected in `problems` and the
   * walk goes on, instead of failing at the first checkpoint that differs.
   */
  soft = false;
  readonly problems: string[] = [];

  /** Fails with every problem found at a checkpoint (or, in soft mode, collects them). */
  private report(found: string[]): void {
    if (found.length === 0) return;
    if (this.soft) {
      this.problems.push(...found);
      return;
    }
    assert.fail(`${found.length} mismatch(es):\n\n${found.join("\n\n")}`);
  }

  constructor(
    readonly ctx: TestContext,
    readonly apiKey: string,
    readonly defs: Definitions,
  ) {}

  private now() {
    return this.ctx.clock.now();
  }

  /** Tokens expire 15 minutes after they were issued by the (manual) clock: log in again if needed. */
  private fresh(token: { value: string; at: number } | null): token is { value: string; at: number } {
    const now = this.now().getTime();
    return token !== null && now >= token.at && now - token.at < 10 * MINUTE;
  }

  async tokenOf(p: Player): Promise<string> {
    if (this.fresh(p.token)) return p.token.value;
    const res = await this.ctx.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { login: p.username, password: p.password },
    });
    assert.equal(res.statusCode, 200, `login ${p.label}: ${res.body}`);
    p.token = {
      value: res.json<{ tokens: { accessToken: string } }>().tokens.accessToken,
      at: this.now().getTime(),
    };
    return p.token.value;
  }

  private async adminToken(): Promise<string> {
    if (this.fresh(this.admin)) return this.admin.value;
    const admin = await createAdmin(this.ctx);
    this.admin = { value: admin.accessToken, at: this.now().getTime() };
    return admin.accessToken;
  }

  async addPlayer(label: string, timeZone: string, dayStartHour = 0): Promise<Player> {
    const reg = await registerPlayer(this.ctx.app, { timeZone });
    const p: Player = {
      label,
      id: reg.id,
      username: reg.username,
      password: reg.password,
      calendar: { timeZone, dayStartHour: 0 },
      history: [],
      token: { value: reg.accessToken, at: this.now().getTime() },
    };
    if (dayStartHour !== 0) await this.setCalendar(p, { dayStartHour });
    return p;
  }

  /** PATCH /v1/me with a new zone and/or day start; later events use the new calendar. */
  async setCalendar(p: Player, change: Partial<Calendar>): Promise<void> {
    const res = await this.ctx.app.inject({
      method: "PATCH",
      url: "/v1/me",
      headers: bearer(await this.tokenOf(p)),
      payload: change,
    });
    assert.equal(res.statusCode, 200, `PATCH /v1/me ${p.label}: ${res.body}`);
    const profile = res.json<{ profile: Calendar }>().profile;
    p.calendar = { timeZone: profile.timeZone, dayStartHour: profile.dayStartHour };
    assert.deepEqual(p.calendar, { ...p.calendar, ...change });
  }

  /** POST /v1/events with the API key; a 201 is recorded in the player's history. */
  async send(
    p: Player,
    type: string,
    data: Record<string, unknown>,
    options: { occurredAt?: Date; idempotencyKey?: string } = {},
  ): Promise<Sent> {
    const receivedAt = this.now();
    const res = await this.ctx.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": this.apiKey },
      payload: {
        type,
        userId: p.id,
        data,
        ...(options.occurredAt === undefined ? {} : { occurredAt: options.occurredAt.toISOString() }),
        ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
      },
    });
    assert.equal(this.now().getTime(), receivedAt.getTime(), "the clock must not move during a request");
    if (res.statusCode === 201) {
      p.history.push({
        kind: "event",
        type,
        data,
        occurredAt: options.occurredAt ?? receivedAt,
        receivedAt,
        calendar: { ...p.calendar },
      });
    }
    const body: unknown = res.statusCode < 300 ? res.json() : res.body;
    const answer = res.statusCode < 300 ? (body as { eventId: string; duplicate: boolean }) : undefined;
    return {
      status: res.statusCode,
      eventId: answer?.eventId ?? null,
      duplicate: answer?.duplicate ?? false,
      body,
    };
  }

  /** Like send, but the event must be applied. */
  async event(
    p: Player,
    type: string,
    data: Record<string, unknown>,
    options: { occurredAt?: Date; idempotencyKey?: string } = {},
  ): Promise<Sent> {
    const sent = await this.send(p, type, data, options);
    if (sent.status !== 201) {
      this.report([
        `${p.label} ${type} at ${this.now().toISOString()}: ${sent.status} ${JSON.stringify(sent.body)}`,
      ]);
    }
    return sent;
  }

  /** Shields a streak (or all, with null) for a window, through the admin API. */
  async protect(p: Player, streak: string | null, startsAt: Date, hours: number): Promise<void> {
    const res = await this.ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${p.id}/streak-protections`,
      headers: bearer(await this.adminToken()),
      payload: { ...(streak === null ? {} : { streak }), startsAt: startsAt.toISOString(), hours },
    });
    assert.equal(res.statusCode, 201, `protection for ${p.label}: ${res.body}`);
    p.history.push({
      kind: "protection",
      streak,
      startsAt,
      endsAt: new Date(startsAt.getTime() + hours * 3_600_000),
    });
  }

  /** An admin adjustment of one of the player's wallets (it must be accepted). */
  async adjust(p: Player, currency: string, amount: number): Promise<void> {
    const res = await this.ctx.app.inject({
      method: "POST",
      url: `/v1/admin/users/${p.id}/adjustments`,
      headers: bearer(await this.adminToken()),
      payload: { currency, amount, reason: "progression test", idempotencyKey: randomUUID() },
    });
    assert.equal(res.statusCode, 201, `adjustment for ${p.label}: ${res.body}`);
    p.history.push({ kind: "adjust", currency, amount });
  }

  /** GET /v1/me/quests?status=all, every page. Opening them is a first touch, so it is recorded. */
  async quests(p: Player, pageSize = QUEST_PAGE): Promise<QuestItem[]> {
    const items: QuestItem[] = [];
    let cursor: string | null = null;
    const at = this.now();
    p.history.push({ kind: "touch", at, calendar: { ...p.calendar } });
    do {
      const res: LightMyRequestResponse = await this.ctx.app.inject({
        method: "GET",
        url: `/v1/me/quests?status=all&limit=${pageSize}${cursor === null ? "" : `&cursor=${cursor}`}`,
        headers: bearer(await this.tokenOf(p)),
      });
      assert.equal(res.statusCode, 200, `GET /v1/me/quests ${p.label}: ${res.body}`);
      const page = res.json<{ items: QuestItem[]; nextCursor: string | null }>();
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return items;
  }

  async streaks(p: Player): Promise<StreakItem[]> {
    const res = await this.ctx.app.inject({
      method: "GET",
      url: "/v1/me/streaks",
      headers: bearer(await this.tokenOf(p)),
    });
    assert.equal(res.statusCode, 200, `GET /v1/me/streaks ${p.label}: ${res.body}`);
    return res.json<{ items: StreakItem[] }>().items;
  }

  /**
   * Compares everything about the player's streaks and quests with the reference. With
   * viewQuests, also GET /v1/me/quests?status=all — a first touch, recorded before comparing.
   * Returns the reference outcome, so tests can check the walk exercised what it meant to.
   */
  async check(
    p: Player,
    options: { viewQuests?: boolean; pageSize?: number; where?: string } = {},
  ): Promise<Outcome> {
    const now = this.now();
    const label = `${p.label} at ${now.toISOString()}${options.where ? ` (${options.where})` : ""}`;
    const defs = this.defs;
    const tracked = [...defs.tracked];
    const db = await this.ctx.db.asSystem(async (tx) => ({
      streaks: await tx.rows<{
        key: string;
        current: number;
        longest: number;
        last_period: number;
        time_zone: string;
        day_start_hour: number;
        freezes_used: number;
      }>(
        `SELECT d.key, s.current, s.longest, s.last_period, s.time_zone, s.day_start_hour, s.freezes_used
         FROM user_streaks s JOIN streak_definitions d ON d.id = s.streak_id WHERE s.user_id = $1 ORDER BY d.key`,
        [p.id],
      ),
      milestones: await tx.rows<{ slot: string; n: number }>(
        `SELECT d.key || '|' || m.count AS slot, count(*)::int AS n
         FROM user_streak_milestones m JOIN streak_definitions d ON d.id = m.streak_id
         WHERE m.user_id = $1 GROUP BY 1 ORDER BY 1`,
        [p.id],
      ),
      wallets: await tx.rows<{ currency: string; balance: number }>(
        `SELECT currency, balance::int AS balance FROM wallets WHERE user_id = $1`,
        [p.id],
      ),
      ledger: await tx.rows<{
        currency: string;
        type: string;
        amount: number;
        balance_after: number;
        source: string;
        period: string | null;
      }>(
        `SELECT currency, type::text, amount::int AS amount, balance_after::int AS balance_after, source,
                CASE WHEN source LIKE 'quest:%' THEN metadata->>'period' END AS period
         FROM ledger_entries
         WHERE user_id = $1 AND (source LIKE 'streak:%' OR source LIKE 'quest:%' OR currency = ANY($2))
         ORDER BY id`,
        [p.id, tracked],
      ),
      quests: await tx.rows<{
        key: string;
        period_key: string;
        status: string;
        progress: number;
        target: number;
        starts_at: Date;
        expires_at: Date;
        completed_at: Date | null;
      }>(
        `SELECT t.key, q.period_key, q.status, q.progress::int AS progress, q.target::int AS target,
                q.starts_at, q.expires_at, q.completed_at
         FROM user_quests q JOIN quest_templates t ON t.id = q.template_id WHERE q.user_id = $1`,
        [p.id],
      ),
      derived: await tx.rows<{ type: string; data: Record<string, unknown> }>(
        `SELECT type, data FROM events WHERE user_id = $1 AND type IN ('streak.extended', 'quest.completed')`,
        [p.id],
      ),
      completedStat: await tx.maybeOne<{ value: number }>(
        `SELECT value::int AS value FROM user_stats_totals WHERE user_id = $1 AND stat = 'quests.completed'`,
        [p.id],
      ),
    }));
    const ref = replay(p.id, p.history, defs);
    const found: string[] = [];
    const compare = (actual: unknown, expected: unknown, what: string) => {
      try {
        assert.deepStrictEqual(actual, expected, `${label}: ${what}`);
      } catch (error) {
        if (!(error instanceof assert.AssertionError)) throw error;
        found.push(error.message);
      }
    };

    // user_streaks
    compare(
      db.streaks.map((r) => ({
        key: r.key,
        current: r.current,
        longest: r.longest,
        last: r.last_period,
        calendar: { timeZone: r.time_zone, dayStartHour: r.day_start_hour },
        freezesUsed: r.freezes_used,
      })),
      sorted([...ref.streaks.values()], (s) => s.key).map((s) => ({
        key: s.key,
        current: s.current,
        longest: s.longest,
        last: s.last,
        calendar: s.calendar,
        freezesUsed: s.freezesUsed,
      })),
      "user_streaks",
    );
    // milestones, each once
    compare(
      db.milestones,
      [...ref.milestones].sort().map((slot) => ({ slot, n: 1 })),
      "user_streak_milestones",
    );
    // freeze token balances and their whole ledger, in order, never below zero
    for (const currency of tracked) {
      const entries = db.ledger.filter((e) => e.currency === currency);
      compare(
        {
          balance: db.wallets.find((w) => w.currency === currency)?.balance ?? 0,
          entries: entries.map((e) => ({
            type: e.type,
            amount: e.amount,
            source: e.source.startsWith("admin:") ? "admin" : e.source,
          })),
          negative: entries.filter((e) => e.balance_after < 0).length,
        },
        {
          balance: ref.balances.get(currency),
          entries: ref.ledger
            .filter((e) => e.currency === currency)
            .map((e) => ({ type: e.type, amount: e.amount, source: e.source })),
          negative: 0,
        },
        `${currency} balance and ledger entries`,
      );
    }
    // every reward and spend of streaks and quests, as a multiset
    const entryKey = (e: {
      source: string;
      currency: string;
      type: string;
      amount: number;
      period: string | null;
    }) => `${e.source}|${e.currency}|${e.type}|${e.amount}|${e.period ?? ""}`;
    compare(
      db.ledger
        .filter((e) => e.source.startsWith("streak:") || e.source.startsWith("quest:"))
        .map(entryKey)
        .sort(),
      ref.ledger
        .filter((e) => e.source.startsWith("streak:") || e.source.startsWith("quest:"))
        .map(entryKey)
        .sort(),
      "streak and quest ledger entries",
    );
    // user_quests rows
    const questRow = (q: RefQuest) => ({
      key: q.key,
      period: q.periodKey,
      status: q.status as string,
      progress: q.progress,
      target: q.target,
      startsAt: iso(q.startsAt),
      expiresAt: iso(q.expiresAt),
      completedAt: iso(q.completedAt),
    });
    compare(
      sorted(
        db.quests.map((r) => ({
          key: r.key,
          period: r.period_key,
          status: r.status,
          progress: r.progress,
          target: r.target,
          startsAt: iso(r.starts_at),
          expiresAt: iso(r.expires_at),
          completedAt: iso(r.completed_at),
        })),
        (q) => `${q.key}|${q.period}`,
      ),
      sorted([...ref.quests.values()].map(questRow), (q) => `${q.key}|${q.period}`),
      "user_quests",
    );
    // derived events: one streak.extended per counting step, one quest.completed per completion
    compare(
      db.derived
        .filter((e) => e.type === "streak.extended")
        .map((e) => `${String(e.data.key)}|${String(e.data.current)}|${String(e.data.longest)}`)
        .sort(),
      ref.steps.map((s) => `${s.key}|${s.current}|${s.longest}`).sort(),
      "streak.extended events",
    );
    compare(
      db.derived
        .filter((e) => e.type === "quest.completed")
        .map((e) => `${String(e.data.key)}|${String(e.data.period)}`)
        .sort(),
      ref.completions.map((c) => `${c.key}|${c.period}`).sort(),
      "quest.completed events",
    );
    compare(db.completedStat?.value ?? 0, ref.completions.length, "stat quests.completed");

    // GET /v1/me/streaks
    try {
      const shown = await this.streaks(p);
      compare(
        sorted(shown, (s) => s.key).map((s) => ({
          key: s.key,
          current: s.current,
          longest: s.longest,
          safe: s.safe,
          atRisk: s.atRisk,
          freezesNeeded: s.freezesNeeded,
          periodEndsAt: s.periodEndsAt,
          secondsLeft: s.secondsLeft,
          freezeTokens: s.freezeTokens,
          freezesUsed: s.freezesUsed,
          milestones: s.milestones.map((m) => ({ count: m.count, reached: m.reached })),
          protected: s.protectedUntil !== null,
        })),
        sorted(defs.streaks, (s) => s.key).map((s) => {
          const v = streakView(ref, defs, s.key, now, p.calendar);
          return {
            key: s.key,
            current: v.current,
            longest: v.longest,
            safe: v.safe,
            atRisk: v.atRisk,
            freezesNeeded: v.freezesNeeded,
            periodEndsAt: v.periodEndsAt.toISOString(),
            secondsLeft: Math.max(0, Math.floor((v.periodEndsAt.getTime() - now.getTime()) / 1000)),
            freezeTokens:
              s.freezeCurrency === null
                ? null
                : {
                    currency: s.freezeCurrency,
                    balance: ref.balances.get(s.freezeCurrency) ?? 0,
                    max: defs.maxBalance.get(s.freezeCurrency) ?? null,
                  },
            freezesUsed: ref.streaks.get(s.key)?.freezesUsed ?? 0,
            milestones: s.milestones.map((m) => ({
              count: m.count,
              reached: ref.milestones.has(`${s.key}|${m.count}`),
            })),
            protected: coveringNow(ref, s.key, now).length > 0,
          };
        }),
        "GET /v1/me/streaks",
      );
      for (const s of shown) {
        const ends = coveringNow(ref, s.key, now).map((w) => w.endsAt.toISOString());
        if (s.protectedUntil !== null && !ends.includes(s.protectedUntil)) {
          found.push(
            `${label}: ${s.key} protectedUntil ${s.protectedUntil}, windows end at ${ends.join(", ")}`,
          );
        }
      }
    } catch (error) {
      if (!(error instanceof assert.AssertionError)) throw error;
      found.push(error.message);
    }

    let outcome = ref;
    if (options.viewQuests === true) {
      try {
        const items = await this.quests(p, options.pageSize);
        outcome = replay(p.id, p.history, defs);
        compare(
          sorted(items, (q) => `${q.key}|${q.period}`).map((q) => ({
            key: q.key,
            period: q.period,
            status: q.status,
            progress: q.progress,
            target: q.target,
            startsAt: q.startsAt,
            expiresAt: q.expiresAt,
            secondsLeft: q.secondsLeft,
            completedAt: q.completedAt,
          })),
          sorted([...outcome.quests.values()], (q) => `${q.key}|${q.periodKey}`).map((q) => {
            const status = questStatus(q, now);
            return {
              key: q.key,
              period: q.periodKey,
              status,
              progress: q.progress,
              target: q.target,
              startsAt: q.startsAt.toISOString(),
              expiresAt: q.expiresAt.toISOString(),
              secondsLeft:
                status === "active" ? Math.floor((q.expiresAt.getTime() - now.getTime()) / 1000) : 0,
              completedAt: iso(q.completedAt),
            };
          }),
          "GET /v1/me/quests?status=all",
        );
      } catch (error) {
        if (!(error instanceof assert.AssertionError)) throw error;
        found.push(error.message);
      }
    }
    this.checks++;
    if (found.length > 0) found.push(`${p.label}'s history:\n${describeHistory(p)}`);
    this.report(found);
    return outcome;
  }
}

/** The recorded history, one line per entry, for failure messages. */
export function describeHistory(p: Player): string {
  const cal = (c: Calendar) => `${c.timeZone}${c.dayStartHour === 0 ? "" : `+${c.dayStartHour}h`}`;
  return p.history
    .map((h) => {
      switch (h.kind) {
        case "event":
          return `  event ${h.type} ${JSON.stringify(h.data)} occurred ${h.occurredAt.toISOString()} received ${h.receivedAt.toISOString()} in ${cal(h.calendar)}`;
        case "touch":
          return `  GET /v1/me/quests at ${h.at.toISOString()} in ${cal(h.calendar)}`;
        case "protection":
          return `  protection ${h.streak ?? "(all streaks)"} ${h.startsAt.toISOString()} – ${h.endsAt.toISOString()}`;
        case "adjust":
          return `  adjustment ${h.currency} ${h.amount}`;
      }
    })
    .join("\n");
}

/** The protection windows of a streak (or of all) that contain `now`. */
function coveringNow(ref: Outcome, key: string, now: Date) {
  return ref.protections.filter(
    (w) => (w.streak === null || w.streak === key) && w.startsAt <= now && now < w.endsAt,
  );
}
