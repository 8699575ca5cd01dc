import type { AuditActor, RequestMeta } from "../audit/audit.service.ts";
import { audit } from "../audit/audit.service.ts";
import type { Definitions, Reward, StreakRow } from "../engine/definitions.ts";
import {
  checkCondition,
  checkCurrencies,
  checkEventTypes,
  invalid,
  saveKeyed,
  type KeyedTable,
} from "../engine/keyed-definitions.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import type { Cadence } from "../platform/time/periods.ts";
import { streakStatus } from "./streak-logic.ts";
import { addProtection, milestonesOf, userProtections, userStreaks } from "./streaks.store.ts";

export interface StreakInput {
  key: string;
  name: string;
  description?: string;
  category?: string;
  cadence: Cadence;
  eventTypes: string[];
  condition?: Record<string, unknown> | null;
  graceHours?: number;
  freezeCurrency?: string | null;
  milestones?: { count: number; rewards: Reward[] }[];
  active?: boolean;
}

export const streakView = (s: StreakRow) => ({
  key: s.key,
  name: s.name,
  description: s.description,
  category: s.category,
  cadence: s.cadence,
  eventTypes: s.event_types,
  condition: s.condition,
  graceHours: s.grace_hours,
  freezeCurrency: s.freeze_currency,
  milestones: s.milestones,
  active: s.active,
});

type StreakView = ReturnType<typeof streakView>;

const STREAKS: KeyedTable<StreakRow, StreakView> = {
  table: "streak_definitions",
  resource: "streak",
  label: "Streak",
  view: streakView,
  defaults: {
    description: "",
    category: "general",
    condition: null,
    graceHours: 6,
    freezeCurrency: null,
    milestones: [],
    active: true,
  },
  columns: (s) => ({
    key: s.key,
    name: s.name,
    description: s.description,
    category: s.category,
    cadence: s.cadence,
    event_types: s.eventTypes,
    condition: s.condition,
    grace_hours: s.graceHours,
    freeze_currency: s.freezeCurrency,
    milestones: JSON.stringify(s.milestones),
    active: s.active,
  }),
  async check(tx, s, stored) {
    checkCondition(s.condition);
    if (stored !== undefined && stored.cadence !== s.cadence) {
      // Players' streaks count periods of the old cadence; they cannot be read in another.
      const used = await tx.maybeOne(
        `SELECT 1 FROM user_streaks us JOIN streak_definitions d ON d.id = us.streak_id WHERE d.key = $1 LIMIT 1`,
        [s.key],
      );
      if (used !== undefined) {
        throw new AppError(
          "definition.in_use",
          "Players have this streak: its cadence cannot change (create another streak instead)",
        );
      }
    }
    await checkEventTypes(tx, s.eventTypes, "body/eventTypes");
    const counts = s.milestones.map((m) => m.count);
    if (new Set(counts).size !== counts.length)
      throw invalid("milestone counts must differ", "body/milestones");
    for (const [i, m] of s.milestones.entries()) {
      await checkCurrencies(tx, m.rewards, `body/milestones/${i}/rewards`);
    }
    if (s.freezeCurrency !== null) {
      const known = await tx.maybeOne(`SELECT 1 FROM currencies WHERE code = $1`, [s.freezeCurrency]);
      if (known === undefined) throw invalid(`Unknown currency ${s.freezeCurrency}`, "body/freezeCurrency");
    }
  },
};

const HOUR = 3_600_000;

/** Streak definitions (admin), each player's streaks as they stand, and protection windows. */
export class StreaksService {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
    private readonly clock: Clock,
  ) {}

  list() {
    return this.db.asSystem(async (tx) =>
      (await tx.rows<StreakRow>(`SELECT * FROM streak_definitions ORDER BY category, key`)).map(streakView),
    );
  }

  save(
    actor: AuditActor,
    meta: RequestMeta,
    input: StreakInput | (Partial<StreakInput> & { key: string }),
    mode: "create" | "update",
  ) {
    return saveKeyed(this.db, this.definitions, STREAKS, { actor, meta }, input, mode);
  }

  /**
   * A player's streaks now: counts, whether the current period is done or at risk and until when,
   * the freeze tokens that would be spent, protection, and milestones. Nothing is changed: a
   * missed period is settled by the player's next activity.
   */
  async mine(userId: string) {
    const snapshot = await this.definitions.snapshot();
    const now = this.clock.now();
    return this.db.asUser(userId, async (tx) => {
      const profile = await tx.maybeOne<{ time_zone: string; day_start_hour: number }>(
        `SELECT time_zone, day_start_hour FROM user_profiles WHERE user_id = $1`,
        [userId],
      );
      const calendar = { timeZone: profile?.time_zone ?? "UTC", dayStartHour: profile?.day_start_hour ?? 0 };
      const states = new Map((await userStreaks(tx, userId)).map((s) => [s.key, s.state]));
      const protections = await userProtections(tx, userId, now);
      const reached = new Set((await milestonesOf(tx, userId)).map((m) => `${m.key}|${m.count}`));
      const balances = new Map(
        (
          await tx.rows<{ currency: string; balance: number }>(
            `SELECT currency, balance FROM wallets WHERE user_id = $1`,
            [userId],
          )
        ).map((w) => [w.currency, w.balance]),
      );
      return snapshot.streaks.map((s) => {
        const state = states.get(s.key);
        const own = protections.filter((p) => p.streakId === null || p.streakId === s.id);
        const tokens = s.freezeCurrency === null ? 0 : (balances.get(s.freezeCurrency) ?? 0);
        const status = streakStatus(state, now, s.cadence, calendar, { tokens, protections: own });
        const shield = own.find((p) => p.startsAt <= now && now < p.endsAt);
        return {
          key: s.key,
          name: s.name,
          cadence: s.cadence,
          current: status.current,
          longest: status.longest,
          safe: status.safe,
          atRisk: status.atRisk,
          periodEndsAt: status.periodEndsAt.toISOString(),
          secondsLeft: Math.max(0, Math.floor((status.periodEndsAt.getTime() - now.getTime()) / 1000)),
          freezesNeeded: status.freezesNeeded,
          freezeTokens:
            s.freezeCurrency === null
              ? null
              : {
                  currency: s.freezeCurrency,
                  balance: tokens,
                  max: snapshot.currencyCaps.get(s.freezeCurrency) ?? null,
                },
          freezesUsed: state?.freezesUsed ?? 0,
          protectedUntil: shield?.endsAt.toISOString() ?? null,
          startedAt: state !== undefined && status.current > 0 ? state.startedAt.toISOString() : null,
          lastCountedAt: state?.lastEventAt.toISOString() ?? null,
          milestones: s.milestones.map((m) => ({
            count: m.count,
            rewards: m.rewards,
            reached: reached.has(`${s.key}|${m.count}`),
          })),
        };
      });
    });
  }

  /**
   * Shields a player's streak (or all of them, `streakId` null) inside the caller's transaction,
   * for the shop's protection items: the window starts now, or where the shield of the same scope
   * running now ends, so two protections used back to back protect for twice as long.
   */
  async shield(tx: Tx, userId: string, input: { streakId: string | null; hours: number; source: string }) {
    const now = this.clock.now();
    let start = now.getTime();
    // Windows come ordered by start: follow the chain of those covering the start so far.
    for (const p of await userProtections(tx, userId, now)) {
      if (p.streakId !== input.streakId) continue;
      if (p.startsAt.getTime() <= start && p.endsAt.getTime() > start) start = p.endsAt.getTime();
    }
    const startsAt = new Date(start);
    const endsAt = new Date(startsAt.getTime() + input.hours * HOUR);
    const { id } = await addProtection(tx, {
      userId,
      streakId: input.streakId,
      startsAt,
      endsAt,
      source: input.source,
    });
    return { id, startsAt, endsAt };
  }

  /**
   * Shields a player's streak (or all of them) for a window: missed periods it overlaps are
   * forgiven. Used by admins; the shop's protection items use `shield`.
   */
  async protect(
    actor: AuditActor,
    meta: RequestMeta,
    userId: string,
    input: { streak?: string; startsAt?: string; hours: number },
  ) {
    const snapshot = await this.definitions.snapshot();
    const streak =
      input.streak === undefined ? undefined : snapshot.streaks.find((s) => s.key === input.streak);
    if (input.streak !== undefined && streak === undefined) {
      throw new AppError("resource.not_found", `No active streak ${input.streak}`);
    }
    const now = this.clock.now();
    const startsAt = input.startsAt === undefined ? now : new Date(input.startsAt);
    // A window is for the near past (a missed day to forgive) or the coming year.
    if (Math.abs(startsAt.getTime() - now.getTime()) > 366 * 24 * HOUR) {
      throw new AppError("validation.failed", "startsAt must be within a year of now", {
        errors: [{ path: "body/startsAt", message: "must be within a year of now" }],
      });
    }
    const endsAt = new Date(startsAt.getTime() + input.hours * HOUR);
    return this.db.asSystem(async (tx) => {
      const user = await tx.maybeOne(`SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL`, [userId]);
      if (user === undefined) throw notFound("Player");
      const source = actor.type === "system" ? "system" : `${actor.type}:${actor.id}`;
      const { id } = await addProtection(tx, {
        userId,
        streakId: streak?.id ?? null,
        startsAt,
        endsAt,
        source,
      });
      const view = {
        id,
        streak: streak?.key ?? null,
        startsAt: startsAt.toISOString(),
        endsAt: endsAt.toISOString(),
      };
      await audit(tx, actor, meta, {
        action: "streak.protected",
        resourceType: "streak_protection",
        resourceId: String(id),
        subjectUserId: userId,
        after: view,
      });
      return view;
    });
  }
}
