import { randomUUID } from "node:crypto";
import { AppError } from "../platform/http/errors.ts";
import { dayKey, periodAt } from "../platform/time/periods.ts";
import { levelForXp } from "../progression/levels.ts";
import type { AwardSpec, RuleDef, Snapshot } from "./definitions.ts";
import type { AwardEffect, Effects, EventSource } from "./effects.ts";

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
  /** Who sent it, for idempotency: the same key from two callers is two events. */
  scope: string;
  requestHash: Buffer;
}

export interface EventResult {
  eventId: string;
  duplicate: boolean;
  type: string;
  userId: string;
  occurredAt: string;
  effects: Effects;
}

/** What the planner needs to know about a player, read after the player is locked. */
export interface PlayerState {
  userId: string;
  level: number;
  timeZone: string;
  wallets: Map<string, { balance: number; earned: number }>;
  /** Paid so far per `${ruleId}|${currency}|${periodKey}`, for the periods of this batch. */
  capTotals: Map<string, number>;
  /** Counters per `${stat}|${day}` for the days of this batch, and lifetime per stat. */
  daily: Map<string, number>;
  totals: Map<string, number>;
  /** Ids of the achievements the player has unlocked. */
  unlocked: Set<string>;
}

export interface StoredAnswer {
  requestHash: Buffer;
  response: EventResult;
}

/** Everything one batch changes, gathered so that each table is written by one statement. */
export interface Writes {
  wallets: Map<string, { userId: string; currency: string; delta: number; earned: number }>;
  ledger: {
    userId: string;
    currency: string;
    type: "earn" | "reward";
    amount: number;
    balanceAfter: number;
    reason: string;
    source: string;
    reference: string;
    metadata: Record<string, unknown>;
  }[];
  caps: Map<string, { userId: string; ruleId: string; currency: string; periodKey: string; amount: number }>;
  daily: Map<string, { userId: string; stat: string; day: string; amount: number }>;
  totals: Map<string, { userId: string; stat: string; amount: number }>;
  events: {
    id: string;
    userId: string;
    type: string;
    occurredAt: Date;
    source: EventSource;
    sourceId: string | null;
    parentId: string | null;
    idempotencyKey: string | null;
    data: Record<string, unknown>;
    result: Record<string, unknown>;
  }[];
  outbox: { userId: string; payload: Record<string, unknown> }[];
  progress: Map<string, { userId: string; level: number; counted: number }>;
  answers: { scope: string; userId: string; key: string; requestHash: Buffer; response: EventResult }[];
  unlocks: { userId: string; achievementId: string; eventId: string }[];
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

function add<K>(map: Map<K, number>, key: K, amount: number): number {
  const next = (map.get(key) ?? 0) + amount;
  map.set(key, next);
  return next;
}

export const answerKey = (scope: string, userId: string, key: string) => `${scope}|${userId}|${key}`;

/**
 * The engine's logic with no I/O: given the players' current state, it applies events in order —
 * idempotency, client caps, rules (conditions, awards within caps, counters), levels and derived
 * level.up events — updating the state in memory and collecting every row to write. The caller
 * loads the state (with the players locked) and writes the result in one statement.
 */
export class Planner {
  readonly writes: Writes = {
    wallets: new Map(),
    ledger: [],
    caps: new Map(),
    daily: new Map(),
    totals: new Map(),
    events: [],
    outbox: [],
    progress: new Map(),
    answers: [],
    unlocks: [],
  };
  private readonly answered = new Map<string, { requestHash: Buffer; response: EventResult }>();

  constructor(
    private readonly snapshot: Snapshot,
    private readonly players: Map<string, PlayerState>,
    stored: Map<string, StoredAnswer>,
    private readonly now: Date,
  ) {
    for (const [k, v] of stored) this.answered.set(k, v);
  }

  /** Applies one event sent by a caller (not derived) and returns its answer. */
  submit(input: ApplyInput): EventResult {
    const key = input.idempotencyKey;
    const slot = key === null ? undefined : answerKey(input.scope, input.userId, key);
    if (slot !== undefined) {
      const first = this.answered.get(slot);
      if (first !== undefined) {
        if (!first.requestHash.equals(input.requestHash)) {
          throw new AppError("idempotency.key_reused", "This idempotency key was used for a different event");
        }
        return { ...first.response, duplicate: true };
      }
    }
    const player = this.player(input.userId);
    this.checkClientCap(input, player);
    const result: EventResult = {
      eventId: "",
      duplicate: false,
      type: input.type,
      userId: input.userId,
      occurredAt: input.occurredAt.toISOString(),
      effects: { awards: [], balances: {}, levelUps: [], counters: [], achievements: [], derived: [] },
    };
    result.eventId = this.apply(input, player, result.effects, 0);
    if (slot !== undefined && key !== null) {
      this.answered.set(slot, { requestHash: input.requestHash, response: result });
      this.writes.answers.push({
        scope: input.scope,
        userId: input.userId,
        key,
        requestHash: input.requestHash,
        response: result,
      });
    }
    return result;
  }

  private player(userId: string): PlayerState {
    const player = this.players.get(userId);
    if (player === undefined) throw new Error(`player ${userId} was not loaded`);
    return player;
  }

  private checkClientCap(input: ApplyInput, player: PlayerState): void {
    const cap = this.snapshot.eventTypes.get(input.type)?.clientDailyCap;
    if (input.source !== "player" || cap === null || cap === undefined) return;
    const day = dayKey(input.occurredAt, { timeZone: player.timeZone });
    if ((player.daily.get(`client_events.${input.type}|${day}`) ?? 0) >= cap) {
      throw new AppError(
        "event.client_cap_reached",
        `At most ${cap} '${input.type}' events a day may be sent by players`,
      );
    }
  }

  /** Applies an event (and, depth permitting, what it derives); effects accumulate into `effects`. */
  private apply(input: ApplyInput, player: PlayerState, effects: Effects, depth: number): string {
    const eventId = input.id ?? randomUUID();
    const zone = { timeZone: player.timeZone };
    const day = dayKey(input.occurredAt, zone);
    const event = {
      type: input.type,
      data: input.data,
      occurredAt: input.occurredAt.toISOString(),
      source: input.source,
    };
    const own: {
      awards: AwardEffect[];
      levelUps: Effects["levelUps"];
      achievements: Effects["achievements"];
    } = {
      awards: [],
      levelUps: [],
      achievements: [],
    };

    const rules = this.snapshot.rulesByType.get(input.type) ?? [];
    const context = rules.some((r) => r.readsPlayer)
      ? { event, player: this.playerContext(player) }
      : { event };
    const counters: { stat: string; amount: number }[] = [{ stat: `events.${input.type}`, amount: 1 }];
    if (input.source === "player") counters.push({ stat: `client_events.${input.type}`, amount: 1 });

    for (const rule of rules) {
      if (!rule.test(context)) continue;
      for (const spec of rule.awards) {
        const { amount, capped } = this.grant(rule, spec, input, player);
        if (amount === 0 && !capped) continue;
        const award: AwardEffect = {
          rule: rule.key,
          currency: spec.currency,
          amount,
          balance: null,
          capped,
          eventId,
        };
        if (amount > 0) {
          award.balance = this.credit(player, spec.currency, amount, {
            type: "earn",
            reason: rule.name,
            source: `rule:${rule.key}`,
            reference: eventId,
            metadata: { ruleVersion: rule.version, eventType: input.type },
          });
        }
        own.awards.push(award);
      }
      for (const c of rule.counters) {
        const amount = c.field !== undefined ? (readNumber(input, c.field) ?? 0) : (c.amount ?? 1);
        if (amount !== 0) counters.push({ stat: c.stat, amount: Math.trunc(amount) });
      }
    }

    for (const c of counters) {
      const daily = add(player.daily, `${c.stat}|${day}`, c.amount);
      const total = add(player.totals, c.stat, c.amount);
      this.bump(
        this.writes.daily,
        `${player.userId}|${c.stat}|${day}`,
        { userId: player.userId, stat: c.stat, day },
        c.amount,
      );
      this.bump(
        this.writes.totals,
        `${player.userId}|${c.stat}`,
        { userId: player.userId, stat: c.stat },
        c.amount,
      );
      const shown = effects.counters.find((x) => x.stat === c.stat && x.day === day);
      if (shown !== undefined) Object.assign(shown, { daily, total });
      else effects.counters.push({ stat: c.stat, day, daily, total });
    }
    effects.counters.sort((a, b) => a.stat.localeCompare(b.stat) || a.day.localeCompare(b.day));

    // Levels follow XP; achievements may pay XP, so levels are looked at again after them.
    const derived: ApplyInput[] = this.levelUps(input, player, eventId, own);
    derived.push(...this.unlockAchievements(input, player, eventId, own, day));
    derived.push(...this.levelUps(input, player, eventId, own));
    effects.levelUps.push(...own.levelUps);

    effects.awards.push(...own.awards);
    for (const a of own.awards) if (a.balance !== null) effects.balances[a.currency] = a.balance;
    effects.achievements.push(...own.achievements);

    this.writes.events.push({
      id: eventId,
      userId: player.userId,
      type: input.type,
      occurredAt: input.occurredAt,
      source: input.source,
      sourceId: input.sourceId,
      parentId: input.parentId ?? null,
      idempotencyKey: input.idempotencyKey,
      data: input.data,
      result: own,
    });
    this.writes.outbox.push({
      userId: player.userId,
      payload: { eventId, type: input.type, occurredAt: event.occurredAt },
    });
    const progress = this.writes.progress.get(player.userId) ?? {
      userId: player.userId,
      level: player.level,
      counted: 0,
    };
    progress.level = player.level;
    // Events Ludus derives (level.up) are recorded but not counted as the player's events.
    if (input.source !== "system") progress.counted += 1;
    this.writes.progress.set(player.userId, progress);

    if (depth < MAX_CASCADE_DEPTH) {
      for (const next of derived) {
        next.id = randomUUID();
        effects.derived.push({ eventId: next.id, type: next.type, data: next.data });
        this.apply(next, player, effects, depth + 1);
      }
    }
    return eventId;
  }

  /** One level.up event per level the player's XP now reaches beyond their level. */
  private levelUps(
    input: ApplyInput,
    player: PlayerState,
    eventId: string,
    own: { levelUps: Effects["levelUps"] },
  ): ApplyInput[] {
    const previous = player.level;
    const level = levelForXp(this.snapshot.curve, player.wallets.get("xp")?.balance ?? 0);
    const derived: ApplyInput[] = [];
    for (let l = previous + 1; l <= level; l++) {
      own.levelUps.push({ level: l, previousLevel: l - 1 });
      derived.push({
        type: "level.up",
        userId: player.userId,
        occurredAt: input.occurredAt,
        data: { level: l, previousLevel: l - 1 },
        source: "system",
        sourceId: null,
        idempotencyKey: null,
        parentId: eventId,
        scope: input.scope,
        requestHash: input.requestHash,
      });
    }
    if (level > previous) player.level = level;
    return derived;
  }

  /**
   * Unlocks every active, locked achievement whose metric now reaches its target (and whose
   * condition holds): records it, pays its rewards, counts it, and emits achievement.unlocked.
   */
  private unlockAchievements(
    input: ApplyInput,
    player: PlayerState,
    eventId: string,
    own: { awards: AwardEffect[]; achievements: Effects["achievements"] },
    day: string,
  ): ApplyInput[] {
    const derived: ApplyInput[] = [];
    for (const a of this.snapshot.achievements) {
      if (player.unlocked.has(a.id)) continue;
      if (
        (a.startsAt !== null && input.occurredAt < a.startsAt) ||
        (a.endsAt !== null && input.occurredAt >= a.endsAt)
      ) {
        continue;
      }
      if (metricValue(player, a.metric) < a.target) continue;
      if (!a.test({ player: this.playerContext(player) })) continue;
      player.unlocked.add(a.id);
      this.writes.unlocks.push({ userId: player.userId, achievementId: a.id, eventId });
      own.achievements.push({ key: a.key, name: a.name, rarity: a.rarity, eventId });
      for (const reward of a.rewards) {
        const balance = this.credit(player, reward.currency, reward.amount, {
          type: "reward",
          reason: `Achievement: ${a.name}`,
          source: `achievement:${a.key}`,
          reference: eventId,
          metadata: { achievement: a.key },
        });
        own.awards.push({
          rule: `achievement:${a.key}`,
          currency: reward.currency,
          amount: reward.amount,
          balance,
          capped: false,
          eventId,
        });
      }
      this.count(player, "achievements.unlocked", 1, day);
      derived.push({
        type: "achievement.unlocked",
        userId: player.userId,
        occurredAt: input.occurredAt,
        data: { key: a.key },
        source: "system",
        sourceId: null,
        idempotencyKey: null,
        parentId: eventId,
        scope: input.scope,
        requestHash: input.requestHash,
      });
    }
    return derived;
  }

  private count(player: PlayerState, stat: string, amount: number, day: string): void {
    add(player.daily, `${stat}|${day}`, amount);
    add(player.totals, stat, amount);
    this.bump(
      this.writes.daily,
      `${player.userId}|${stat}|${day}`,
      { userId: player.userId, stat, day },
      amount,
    );
    this.bump(this.writes.totals, `${player.userId}|${stat}`, { userId: player.userId, stat }, amount);
  }

  /** The award a rule may pay now: reduced by its caps for the player's current periods. */
  private grant(rule: RuleDef, spec: AwardSpec, input: ApplyInput, player: PlayerState) {
    let amount = awardAmount(spec, input);
    if (amount <= 0) return { amount: 0, capped: false };
    let capped = false;
    for (const cap of rule.caps) {
      if (cap.currency !== spec.currency) continue;
      const periodKey = `${cap.period}:${capPeriod(input.occurredAt, cap.period, player.timeZone)}`;
      const slot = `${rule.id}|${spec.currency}|${periodKey}`;
      const room = Math.max(0, cap.max - (player.capTotals.get(slot) ?? 0));
      if (room < amount) {
        amount = room;
        capped = true;
      }
      add(player.capTotals, slot, amount);
      this.bump(
        this.writes.caps,
        `${player.userId}|${slot}`,
        { userId: player.userId, ruleId: rule.id, currency: spec.currency, periodKey },
        amount,
      );
    }
    return { amount, capped };
  }

  private credit(
    player: PlayerState,
    currency: string,
    amount: number,
    entry: {
      type: "earn" | "reward";
      reason: string;
      source: string;
      reference: string;
      metadata: Record<string, unknown>;
    },
  ): number {
    const wallet = player.wallets.get(currency) ?? { balance: 0, earned: 0 };
    wallet.balance += amount;
    wallet.earned += amount;
    player.wallets.set(currency, wallet);
    const slot = `${player.userId}|${currency}`;
    const w = this.writes.wallets.get(slot) ?? { userId: player.userId, currency, delta: 0, earned: 0 };
    w.delta += amount;
    w.earned += amount;
    this.writes.wallets.set(slot, w);
    this.writes.ledger.push({
      userId: player.userId,
      currency,
      amount,
      balanceAfter: wallet.balance,
      ...entry,
    });
    return wallet.balance;
  }

  private bump<T extends { amount: number }>(
    map: Map<string, T>,
    key: string,
    init: Omit<T, "amount">,
    amount: number,
  ) {
    const row = map.get(key) ?? ({ ...init, amount: 0 } as T);
    row.amount += amount;
    map.set(key, row);
  }

  private playerContext(player: PlayerState) {
    return {
      level: player.level,
      balances: Object.fromEntries([...player.wallets].map(([c, w]) => [c, w.balance])),
      earned: Object.fromEntries([...player.wallets].map(([c, w]) => [c, w.earned])),
      stats: Object.fromEntries(player.totals),
      now: this.now.toISOString(),
    };
  }
}

/** A player's value of an achievement metric: level, stats.<counter>, earned.<currency>, balances.<currency>. */
export function metricValue(player: PlayerState, metric: string): number {
  if (metric === "level") return player.level;
  const dot = metric.indexOf(".");
  const kind = metric.slice(0, dot);
  const name = metric.slice(dot + 1);
  if (kind === "stats") return player.totals.get(name) ?? 0;
  if (kind === "earned") return player.wallets.get(name)?.earned ?? 0;
  if (kind === "balances") return player.wallets.get(name)?.balance ?? 0;
  return 0;
}

/** The key of the period a cap counts in. */
export function capPeriod(at: Date, period: "day" | "week" | "month", timeZone: string): string {
  return period === "day" ? dayKey(at, { timeZone }) : periodAt(at, period, { timeZone }).key;
}
