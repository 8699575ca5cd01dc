import { randomUUID } from "node:crypto";
import type { Clock } from "../platform/clock.ts";
import type { Tx } from "../platform/db/database.ts";
import { AppError } from "../platform/http/errors.ts";
import { dayKey, periodAt } from "../platform/time/periods.ts";
import { creditMany, listWallets, type Credit } from "../economy/ledger.store.ts";
import { levelForXp } from "../progression/levels.ts";
import { lockPlayer, type LockedPlayer } from "../progression/progress.store.ts";
import { bumpCounters, totals, type CounterChange } from "../progression/stats.store.ts";
import type { AwardSpec, RuleDef, Snapshot } from "./definitions.ts";
import type { AwardEffect, DerivedEvent, Effects, EventSource } from "./effects.ts";

/** How many generations of derived events (level.up → …) one event may cause. */
export const MAX_CASCADE_DEPTH = 3;

export interface ApplyInput {
  id?: string;
  type: string;
  userId: string;
  occurredAt: Date;
  data: Record<string, unknown>;
  source: EventSource;
  sourceId: string | null;
  idempotencyKey: string | null;
  parentId?: string | null;
}

export interface Applied {
  eventId: string;
  effects: Effects;
}

/** Reads a number at a dotted path such as "data.minutes" in the event; undefined if absent. */
function readNumber(event: { data: Record<string, unknown> }, path: string): number | undefined {
  let node: unknown = event;
  for (const part of path.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return typeof node === "number" && Number.isFinite(node) ? node : undefined;
}

function awardAmount(spec: AwardSpec, event: { data: Record<string, unknown> }): number {
  const base =
    spec.field !== undefined
      ? (readNumber(event, spec.field) ?? 0) * (spec.multiplier ?? 1)
      : (spec.amount ?? 0);
  const amount = Math.floor(base);
  return spec.max !== undefined ? Math.min(amount, spec.max) : amount;
}

/**
 * The apply pipeline for one event, inside the caller's transaction (whose acting user is the
 * event's player): lock the player, run the matching rules (awards within caps, counters), derive
 * level-ups, record the event and its outbox row, then apply derived events the same way.
 */
export class Engine {
  constructor(private readonly clock: Clock) {}

  /** Locks the player for the rest of the transaction; refuses players who cannot receive events. */
  async lock(tx: Tx, userId: string): Promise<LockedPlayer> {
    const player = await lockPlayer(tx, userId);
    if (!player.exists) throw new AppError("event.unknown_user", `No player ${userId}`);
    if (!player.usable) throw new AppError("event.user_inactive", "The player is deactivated or deleted");
    return player;
  }

  /** Applies an event of a player already locked with lock(). */
  async apply(
    tx: Tx,
    snapshot: Snapshot,
    input: ApplyInput,
    player: LockedPlayer,
    depth = 0,
  ): Promise<Applied> {
    const eventId = input.id ?? randomUUID();
    const zone = { timeZone: player.time_zone };
    const event = {
      type: input.type,
      data: input.data,
      occurredAt: input.occurredAt.toISOString(),
      source: input.source,
    };
    const effects: Effects = { awards: [], balances: {}, levelUps: [], counters: [], derived: [] };

    const rules = snapshot.rulesByType.get(input.type) ?? [];
    const playerContext = rules.some((r) => r.readsPlayer)
      ? await this.playerContext(tx, input.userId, player.level)
      : undefined;
    const counters: CounterChange[] = [{ stat: `events.${input.type}`, amount: 1 }];
    if (input.source === "player") counters.push({ stat: `client_events.${input.type}`, amount: 1 });

    const credits: (Credit & { award: AwardEffect })[] = [];
    for (const rule of rules) {
      if (!rule.test({ event, player: playerContext })) continue;
      for (const spec of rule.awards) {
        const { amount, capped } = await this.grant(tx, rule, spec, input, zone);
        if (amount === 0 && !capped) continue;
        const award: AwardEffect = {
          rule: rule.key,
          currency: spec.currency,
          amount,
          balance: null,
          capped,
          eventId,
        };
        effects.awards.push(award);
        if (amount > 0) {
          credits.push({
            currency: spec.currency,
            amount,
            reason: rule.name,
            source: `rule:${rule.key}`,
            metadata: { ruleVersion: rule.version, eventType: input.type },
            award,
          });
        }
      }
      for (const c of rule.counters) {
        const amount = c.field !== undefined ? (readNumber(input, c.field) ?? 0) : (c.amount ?? 1);
        if (amount !== 0) counters.push({ stat: c.stat, amount: Math.trunc(amount) });
      }
    }
    // Every award of the event in one statement: wallets and ledger entries, in rule order.
    const balances = await creditMany(tx, input.userId, "earn", eventId, credits);
    credits.forEach((c, i) => {
      c.award.balance = balances[i] ?? null;
      effects.balances[c.currency] = balances[i] ?? 0;
    });

    effects.counters = await bumpCounters(tx, input.userId, dayKey(input.occurredAt, zone), counters);

    const derived: ApplyInput[] = [];
    const xp = effects.balances.xp;
    const previousLevel = player.level;
    if (xp !== undefined) {
      const level = levelForXp(snapshot.curve, xp);
      if (level > previousLevel) {
        player.level = level;
        for (let l = previousLevel + 1; l <= level; l++) {
          effects.levelUps.push({ level: l, previousLevel: l - 1 });
          derived.push({
            type: "level.up",
            userId: input.userId,
            occurredAt: input.occurredAt,
            data: { level: l, previousLevel: l - 1 },
            source: "system",
            sourceId: null,
            idempotencyKey: null,
            parentId: eventId,
          });
        }
      }
    }

    // The event, its outbox row and the player's progress in one statement. Events Ludus derives
    // (level.up) are recorded but not counted as the player's events.
    await tx.exec(
      `WITH e AS (
         INSERT INTO events (id, user_id, type, occurred_at, source, source_id, parent_id, idempotency_key, data, result)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ),
       o AS (INSERT INTO outbox (user_id, topic, payload) VALUES ($2, 'event.applied', $11))
       UPDATE user_progress SET level = $12, events_count = events_count + $13, updated_at = now() WHERE user_id = $2`,
      [
        eventId,
        input.userId,
        input.type,
        input.occurredAt,
        input.source,
        input.sourceId,
        input.parentId ?? null,
        input.idempotencyKey,
        input.data,
        { awards: effects.awards, levelUps: effects.levelUps },
        { eventId, type: input.type, occurredAt: event.occurredAt },
        player.level,
        input.source === "system" ? 0 : 1,
      ],
    );

    if (depth < MAX_CASCADE_DEPTH) {
      for (const next of derived) {
        const child = await this.apply(tx, snapshot, next, player, depth + 1);
        const entry: DerivedEvent = { eventId: child.eventId, type: next.type, data: next.data };
        effects.derived.push(entry, ...child.effects.derived);
        effects.awards.push(...child.effects.awards);
        effects.levelUps.push(...child.effects.levelUps);
        Object.assign(effects.balances, child.effects.balances);
        effects.counters = mergeCounters(effects.counters, child.effects.counters);
      }
    }
    return { eventId, effects };
  }

  /**
   * How much of an award the rule may pay now: the amount from the spec, reduced by the rule's caps
   * for this player's current periods (recorded as paid). One statement per cap; the read and the
   * write cannot race because the player's events are serialised by their lock.
   */
  private async grant(
    tx: Tx,
    rule: RuleDef,
    spec: AwardSpec,
    input: ApplyInput,
    zone: { timeZone: string },
  ): Promise<{ amount: number; capped: boolean }> {
    let amount = awardAmount(spec, input);
    if (amount <= 0) return { amount: 0, capped: false };
    let capped = false;
    for (const cap of rule.caps) {
      if (cap.currency !== spec.currency) continue;
      const period =
        cap.period === "day"
          ? dayKey(input.occurredAt, zone)
          : periodAt(input.occurredAt, cap.period, zone).key;
      const row = await tx.one<{ granted: number }>(
        `WITH cur AS (
           SELECT coalesce((SELECT amount FROM rule_award_totals
                            WHERE user_id = $1 AND rule_id = $2 AND currency = $3 AND period_key = $4), 0) AS amount
         ),
         g AS (SELECT least($5::bigint, greatest($6::bigint - cur.amount, 0)) AS granted FROM cur)
         INSERT INTO rule_award_totals (user_id, rule_id, currency, period_key, amount)
         SELECT $1, $2, $3, $4, granted FROM g
         ON CONFLICT (user_id, rule_id, currency, period_key)
           DO UPDATE SET amount = rule_award_totals.amount + EXCLUDED.amount
         RETURNING (SELECT granted FROM g) AS granted`,
        [input.userId, rule.id, spec.currency, `${cap.period}:${period}`, amount, cap.max],
      );
      if (row.granted < amount) capped = true;
      amount = row.granted;
    }
    return { amount, capped };
  }

  private async playerContext(tx: Tx, userId: string, level: number) {
    const wallets = await listWallets(tx, userId);
    return {
      level,
      balances: Object.fromEntries(wallets.map((w) => [w.currency, w.balance])),
      earned: Object.fromEntries(wallets.map((w) => [w.currency, w.lifetime_earned])),
      stats: await totals(tx, userId),
      now: this.clock.now().toISOString(),
    };
  }
}

function mergeCounters(a: Effects["counters"], b: Effects["counters"]): Effects["counters"] {
  const byStat = new Map(a.map((c) => [c.stat, c]));
  for (const c of b) byStat.set(c.stat, c);
  return [...byStat.values()].sort((x, y) => x.stat.localeCompare(y.stat));
}
