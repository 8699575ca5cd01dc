import { createHash, randomUUID } from "node:crypto";
import { AppError } from "../platform/http/errors.ts";
import { LIMITS, within } from "../platform/limits.ts";
import { dayKey, periodAt, periodKey, type Cadence, type Period } from "../platform/time/periods.ts";
import { levelForXp } from "../progression/levels.ts";
import {
  countingInstant,
  stepStreak,
  type Calendar,
  type ProtectionWindow,
  type StreakState,
} from "../streaks/streak-logic.ts";
import {
  boardPeriodBounds,
  boardPeriodKey,
  boardsBySource,
  listName,
  nextEntry,
  rankKey,
  type EntryState,
} from "../leaderboards/board-feed.ts";
import type { RankKey } from "../leaderboards/rank-index/rank-index.ts";
import { boostAt, boostExtra, type BoostWindow } from "../economy/boosts.ts";
import type {
  AwardSpec,
  BoardDef,
  QuestCadence,
  QuestDef,
  Reward,
  RuleDef,
  Snapshot,
} from "./definitions.ts";
import type { AwardEffect, Effects, EventSource } from "./effects.ts";

/**
 * How many generations of derived events one event may cause: meal.logged → streak.extended →
 * quest.completed → achievement.unlocked → level.up is four.
 */
export const MAX_CASCADE_DEPTH = 5;

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
  /** Where a player's own event came from (seed 000 activity_logs); absent for app backends. */
  client?: ClientInfo;
}

/** The address and user agent of the device that sent a player's event. */
export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
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
export interface QuestState {
  templateId: string;
  periodKey: string;
  status: "active" | "completed" | "rerolled";
  progress: number;
  target: number;
  /** Events that happened in [startsAt, expiresAt) advance it. */
  startsAt: Date;
  expiresAt: Date;
  assignedAt: Date;
  completedAt: Date | null;
  completedEventId: string | null;
  /** The values already counted by a distinct quest. */
  seen: string[];
}

export interface PlayerState {
  userId: string;
  level: number;
  timeZone: string;
  dayStartHour: number;
  wallets: Map<string, { balance: number; earned: number }>;
  /** Paid so far per `${ruleId}|${currency}|${periodKey}`, for the periods of this batch. */
  capTotals: Map<string, number>;
  /** Counters per `${stat}|${day}` for the days of this batch, and lifetime per stat. */
  daily: Map<string, number>;
  totals: Map<string, number>;
  /** Ids of the achievements the player has unlocked. */
  unlocked: Set<string>;
  /** Streaks by streak key. */
  streaks: Map<string, StreakState>;
  /** Milestones paid, as `${streakId}|${count}`. */
  milestones: Set<string>;
  protections: (ProtectionWindow & { streakId: string | null })[];
  /** The player's quests of the batch's periods, by `${templateId}|${periodKey}`. */
  quests: Map<string, QuestState>;
  /** The player's leaderboard entries of the batch's board periods, by `${boardId}|${periodKey}`. */
  entries: Map<string, EntryState>;
  /** Boosts (from the shop) whose windows may hold the batch's events. */
  boosts: BoostWindow[];
}

/** A change to a rank index list: the entry's key before (if it was ranked) and after (if it is). */
export interface RankChange {
  list: string;
  previous?: RankKey;
  next?: RankKey;
}

/** A player with nothing loaded yet. */
export function emptyPlayerState(userId: string, level: number, calendar: Calendar): PlayerState {
  return {
    userId,
    level,
    timeZone: calendar.timeZone,
    dayStartHour: calendar.dayStartHour,
    wallets: new Map(),
    capTotals: new Map(),
    daily: new Map(),
    totals: new Map(),
    unlocked: new Set(),
    streaks: new Map(),
    milestones: new Set(),
    protections: [],
    quests: new Map(),
    entries: new Map(),
    boosts: [],
  };
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
    type: "earn" | "reward" | "spend" | "bonus";
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
    client: ClientInfo | null;
  }[];
  outbox: { userId: string; payload: Record<string, unknown> }[];
  progress: Map<string, { userId: string; level: number; counted: number }>;
  answers: { scope: string; userId: string; key: string; requestHash: Buffer; response: EventResult }[];
  unlocks: { userId: string; achievementId: string; eventId: string }[];
  streaks: Map<string, { userId: string; streakId: string; state: StreakState }>;
  milestones: { userId: string; streakId: string; count: number; eventId: string }[];
  quests: Map<string, QuestState & { userId: string }>;
  entries: Map<string, { userId: string; boardId: string; periodKey: string; entry: EntryState }>;
  /** Board periods written into, so that their rows exist (for closing them later). */
  periods: Map<string, { boardId: string; periodKey: string; startsAt: Date | null; endsAt: Date | null }>;
}

type OwnEffects = Pick<Effects, "awards" | "levelUps" | "achievements" | "streaks" | "quests">;

interface LedgerNote {
  type: "earn" | "reward" | "spend" | "bonus";
  reason: string;
  source: string;
  reference: string;
  metadata: Record<string, unknown>;
}

/** The value at a dotted path such as "data.minutes" in the event; undefined if absent. */
function readField(event: { data: Record<string, unknown> }, path: string): unknown {
  let node: unknown = event;
  for (const part of path.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Reads a number at a dotted path in the event; undefined if absent or not a finite number. */
/** How much of a value a distinct quest keeps to tell values apart. */
const MAX_DISTINCT_VALUE_LENGTH = 200;

function readNumber(event: { data: Record<string, unknown> }, path: string): number | undefined {
  const node = readField(event, path);
  return typeof node === "number" && Number.isFinite(node) ? node : undefined;
}

/** Refuses the event (and with it the whole request): an amount it carries is out of range. */
function outOfRange(what: string, path: string, detail: string): never {
  throw new AppError("event.amount_out_of_range", `${what} ${path}, which ${detail}`);
}

/**
 * An amount that a rule reads from the event: absent counts as 0; anything but a number, or a
 * number beyond ±limit (after the multiplier), refuses the event rather than paying or counting
 * something no one meant.
 */
function readAmount(
  event: { data: Record<string, unknown> },
  path: string,
  what: string,
  limit: number,
  multiplier = 1,
): number {
  const value = readField(event, path);
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isFinite(value)) outOfRange(what, path, "is not a number");
  const amount = value * multiplier;
  if (!within(amount, limit)) {
    outOfRange(
      what,
      path,
      `${multiplier === 1 ? "" : `times ${multiplier} `}is beyond the ceiling of ${limit}`,
    );
  }
  return amount;
}

function awardAmount(rule: RuleDef, spec: AwardSpec, event: { data: Record<string, unknown> }): number {
  if (spec.field === undefined) return Math.min(spec.amount ?? 0, LIMITS.award);
  const value = readField(event, spec.field);
  // A rule with a maximum cuts whatever the event says (a number; beyond it, the maximum).
  if (spec.max !== undefined && typeof value === "number" && !Number.isNaN(value)) {
    const scaled = value * (spec.multiplier ?? 1);
    return scaled >= spec.max ? Math.min(spec.max, LIMITS.award) : Math.floor(scaled);
  }
  const what = `rule ${rule.key} awards ${spec.currency} from`;
  return Math.floor(readAmount(event, spec.field, what, LIMITS.award, spec.multiplier ?? 1));
}

/** Refuses the request: a balance, counter or score would pass LIMITS.valueCeiling. */
function ceilingReached(what: string): never {
  throw new AppError("limits.ceiling_reached", `${what} would pass its ceiling of ${LIMITS.valueCeiling}`);
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
    streaks: new Map(),
    milestones: [],
    quests: new Map(),
    entries: new Map(),
    periods: new Map(),
  };
  /** Entries as they were before this batch, for the rank index changes. */
  private readonly entriesBefore = new Map<string, EntryState | undefined>();
  /** When the event being applied happened: leaderboard periods are taken from it. */
  private eventAt: Date;
  /** Board periods (`${boardId}|${periodKey}`) the event being applied left the player ranked on. */
  private fedBoards = new Set<string>();
  private readonly answered = new Map<string, { requestHash: Buffer; response: EventResult }>();
  /** Recurring quest periods already assigned in this batch, as `${userId}|${cadence}|${key}`. */
  private readonly assigned = new Set<string>();

  constructor(
    private readonly snapshot: Snapshot,
    private readonly players: Map<string, PlayerState>,
    stored: Map<string, StoredAnswer>,
    private readonly now: Date,
    /** Closed board periods (`${boardId}|${periodKey}`): late events no longer change them. */
    private readonly closedPeriods: ReadonlySet<string> = new Set(),
  ) {
    for (const [k, v] of stored) this.answered.set(k, v);
    this.eventAt = now;
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
      effects: {
        awards: [],
        balances: {},
        levelUps: [],
        counters: [],
        achievements: [],
        streaks: [],
        quests: [],
        derived: [],
      },
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
    const day = dayKey(input.occurredAt, calendarOf(player));
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
    this.eventAt = input.occurredAt;
    const calendar = calendarOf(player);
    const day = dayKey(input.occurredAt, calendar);
    const event = {
      type: input.type,
      data: input.data,
      occurredAt: input.occurredAt.toISOString(),
      source: input.source,
    };
    const own: OwnEffects = { awards: [], levelUps: [], achievements: [], streaks: [], quests: [] };
    this.fedBoards = new Set();

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
          const paid = this.credit(player, spec.currency, amount, {
            type: "earn",
            reason: rule.name,
            source: `rule:${rule.key}`,
            reference: eventId,
            metadata: { ruleVersion: rule.version, eventType: input.type },
          });
          award.amount = paid.amount;
          award.balance = paid.balance;
          award.capped ||= paid.amount < amount;
        }
        own.awards.push(award);
        this.boost(player, spec.currency, award.amount, own, eventId);
      }
      for (const c of rule.counters) {
        const amount =
          c.field !== undefined
            ? readAmount(input, c.field, `rule ${rule.key} counts ${c.stat} from`, LIMITS.counterStep)
            : (c.amount ?? 1);
        if (Math.trunc(amount) !== 0) counters.push({ stat: c.stat, amount: Math.trunc(amount) });
      }
    }

    for (const c of counters) {
      const { daily, total } = this.count(player, c.stat, c.amount, day);
      const shown = effects.counters.find((x) => x.stat === c.stat && x.day === day);
      if (shown !== undefined) Object.assign(shown, { daily, total });
      else effects.counters.push({ stat: c.stat, day, daily, total });
    }
    effects.counters.sort((a, b) => a.stat.localeCompare(b.stat) || a.day.localeCompare(b.day));
    for (const board of boardsBySource(this.snapshot).event.get(input.type) ?? []) {
      if (board.source.kind !== "event") continue;
      const value = readField(input, board.source.field);
      // A board takes the numbers it finds (anything else is not a score); beyond ±LIMITS.score is refused.
      if (typeof value !== "number" || !Number.isFinite(value)) continue;
      if (!within(value, LIMITS.score)) {
        outOfRange(
          `leaderboard ${board.key} ranks`,
          board.source.field,
          `is beyond the ceiling of ${LIMITS.score}`,
        );
      }
      this.feedBoards(player, [board], value);
    }

    // Streaks and quests see the counters; achievements see streaks, quests and levels. Levels
    // follow XP, which achievements may pay, so levels are looked at again after them.
    const full = { event, player: this.playerContext(player) };
    const contextFor = (readsPlayer: boolean) => (readsPlayer ? full : { event });
    this.assignQuests(player, input.occurredAt);
    const derived: ApplyInput[] = this.countStreaks(input, player, eventId, own, contextFor);
    derived.push(...this.advanceQuests(input, player, eventId, own, contextFor, day));
    derived.push(...this.levelUps(input, player, eventId, own));
    derived.push(...this.unlockAchievements(input, player, eventId, own, day));
    derived.push(...this.levelUps(input, player, eventId, own));

    for (const a of own.awards) if (a.balance !== null) effects.balances[a.currency] = a.balance;
    effects.awards.push(...own.awards);
    effects.levelUps.push(...own.levelUps);
    effects.achievements.push(...own.achievements);
    effects.streaks.push(...own.streaks);
    effects.quests.push(...own.quests);

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
      client: input.client ?? null,
    });
    this.writes.outbox.push({
      userId: player.userId,
      // What the delivery dispatcher needs (webhooks, notifications, the stream) without reading
      // the event back: the event and its own effects (each effect is in exactly one event's).
      payload: {
        eventId,
        type: input.type,
        occurredAt: event.occurredAt,
        parentId: input.parentId ?? null,
        data: input.data,
        effects: own,
        // The board periods where this event left the player ranked (rank notifications).
        boards: [...this.fedBoards].map((slot) => {
          const [boardId, periodKey] = slot.split("|") as [string, string];
          return { boardId, periodKey };
        }),
      },
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
      derived.push(derive(input, eventId, "level.up", { level: l, previousLevel: l - 1 }));
    }
    if (level > previous) {
      player.level = level;
      this.feedBoards(player, boardsBySource(this.snapshot).level, level);
    }
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
    own: OwnEffects,
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
      this.reward(player, a.rewards, own, eventId, `Achievement: ${a.name}`, `achievement:${a.key}`, {
        achievement: a.key,
      });
      this.count(player, "achievements.unlocked", 1, day);
      derived.push(derive(input, eventId, "achievement.unlocked", { key: a.key }));
    }
    return derived;
  }

  /**
   * Counts the event into the streaks it belongs to: a new period extends (or, after misses that
   * protection and freeze tokens cannot cover, restarts) the streak, spends the tokens needed, pays
   * milestones reached for the first time, and emits streak.extended.
   */
  private countStreaks(
    input: ApplyInput,
    player: PlayerState,
    eventId: string,
    own: OwnEffects,
    contextFor: (readsPlayer: boolean) => unknown,
  ): ApplyInput[] {
    const derived: ApplyInput[] = [];
    const calendar = calendarOf(player);
    for (const s of this.snapshot.streaksByType.get(input.type) ?? []) {
      if (!s.test(contextFor(s.readsPlayer))) continue;
      const at = countingInstant(input.occurredAt, this.now, s.cadence, s.graceHours, calendar);
      const tokens = s.freezeCurrency === null ? 0 : (player.wallets.get(s.freezeCurrency)?.balance ?? 0);
      const protections = player.protections.filter((p) => p.streakId === null || p.streakId === s.id);
      const previous = player.streaks.get(s.key);
      const step = stepStreak(previous, at, s.cadence, calendar, { tokens, protections });
      if (step.state !== previous) {
        player.streaks.set(s.key, step.state);
        this.writes.streaks.set(`${player.userId}|${s.id}`, {
          userId: player.userId,
          streakId: s.id,
          state: step.state,
        });
      }
      if (step.change === "none") continue;
      if (step.frozen > 0 && s.freezeCurrency !== null) {
        this.debit(player, s.freezeCurrency, step.frozen, {
          type: "spend",
          reason: `Streak freeze: ${s.name}`,
          source: `streak:${s.key}`,
          reference: eventId,
          metadata: { streak: s.key, missedPeriods: step.frozen },
        });
      }
      const milestones: number[] = [];
      for (const m of s.milestones) {
        const slot = `${s.id}|${m.count}`;
        if (step.state.current < m.count || player.milestones.has(slot)) continue;
        player.milestones.add(slot);
        this.writes.milestones.push({ userId: player.userId, streakId: s.id, count: m.count, eventId });
        milestones.push(m.count);
        this.reward(
          player,
          m.rewards,
          own,
          eventId,
          `Streak milestone: ${s.name} ${m.count}`,
          `streak:${s.key}`,
          {
            streak: s.key,
            milestone: m.count,
          },
        );
      }
      own.streaks.push({
        key: s.key,
        name: s.name,
        change: step.change,
        current: step.state.current,
        longest: step.state.longest,
        frozen: step.frozen,
        protected: step.protectedPeriods,
        milestones,
        eventId,
      });
      derived.push(
        derive(input, eventId, "streak.extended", {
          key: s.key,
          current: step.state.current,
          longest: step.state.longest,
        }),
      );
    }
    return derived;
  }

  /**
   * Gives the player the quests of the periods containing `at` that they do not have yet: every
   * template of the period, except that a pool hands out only `size` of its templates, picked by a
   * hash of player, period and template (so any instance picks the same ones).
   */
  assignQuests(player: PlayerState, at: Date): void {
    const calendar = calendarOf(player);
    for (const cadence of questCadences(this.snapshot)) {
      const key = questPeriodKey(cadence, at, calendar);
      const slot = `${player.userId}|${cadence}|${key}`;
      if (this.assigned.has(slot)) continue;
      // Special quests depend on their own windows, so they are looked at for every instant.
      if (cadence !== "special") this.assigned.add(slot);
      const open = this.snapshot.quests.filter(
        (q) =>
          q.cadence === cadence &&
          (q.startsAt === null || q.startsAt <= at) &&
          (q.endsAt === null || at < q.endsAt),
      );
      if (open.length === 0) continue;
      for (const q of this.pick(open, player, key)) {
        if (!player.quests.has(`${q.id}|${key}`)) this.giveQuest(player, q, at);
      }
    }
  }

  /**
   * Gives one quest for the period containing `at`. It runs from the period's start (from `at` for
   * special quests) until the period ends, the template's window closes or the time limit counted
   * from `at` runs out, whichever is first.
   */
  giveQuest(player: PlayerState, q: QuestDef, at: Date): QuestState {
    const calendar = calendarOf(player);
    const key = questPeriodKey(q.cadence, at, calendar);
    const period = q.cadence === "special" ? undefined : this.periodOf(at, q.cadence, key, calendar);
    const limits = [period?.end.getTime() ?? Infinity, q.endsAt?.getTime() ?? Infinity];
    if (q.timeLimitHours !== null) limits.push(at.getTime() + q.timeLimitHours * 3_600_000);
    const quest: QuestState = {
      templateId: q.id,
      periodKey: key,
      status: "active",
      progress: 0,
      target: q.target,
      startsAt: period?.start ?? at,
      expiresAt: new Date(Math.min(...limits)),
      assignedAt: at,
      completedAt: null,
      completedEventId: null,
      seen: [],
    };
    this.saveQuest(player, quest);
    return quest;
  }

  /** A period's bounds, computed once for each period and calendar (luxon is not cheap). */
  private periodOf(at: Date, cadence: Cadence, key: string, calendar: Calendar): Period {
    const slot = `${cadence}|${key}|${calendar.timeZone}|${calendar.dayStartHour}`;
    let period = periodCache.get(slot);
    if (period === undefined) {
      period = periodAt(at, cadence, calendar);
      // Current periods of the zones in use: a few thousand at most; start again if it grows.
      if (periodCache.size > 20_000) periodCache.clear();
      periodCache.set(slot, period);
    }
    return period;
  }

  /** Records a changed quest of the player, in memory and for writing. */
  saveQuest(player: PlayerState, quest: QuestState): void {
    const id = `${quest.templateId}|${quest.periodKey}`;
    player.quests.set(id, quest);
    this.writes.quests.set(`${player.userId}|${id}`, { userId: player.userId, ...quest });
  }

  /** The templates a player gets for a period: all outside pools, and each pool's draw. */
  private pick(open: QuestDef[], player: PlayerState, key: string): QuestDef[] {
    const chosen = open.filter((q) => q.pool === null);
    const pools = new Map<string, QuestDef[]>();
    for (const q of open) if (q.pool !== null) pools.set(q.pool, [...(pools.get(q.pool) ?? []), q]);
    for (const [pool, templates] of pools) {
      // A pool already drawn for this period (rerolls included) is left as it is.
      if (templates.some((q) => player.quests.has(`${q.id}|${key}`))) continue;
      const size = this.snapshot.pools.get(pool)?.size ?? templates.length;
      chosen.push(...drawOrder(templates, player.userId, key).slice(0, size));
    }
    return chosen;
  }

  /** Advances the player's active quests that this event counts for; completion pays once. */
  private advanceQuests(
    input: ApplyInput,
    player: PlayerState,
    eventId: string,
    own: OwnEffects,
    contextFor: (readsPlayer: boolean) => unknown,
    day: string,
  ): ApplyInput[] {
    const derived: ApplyInput[] = [];
    const calendar = calendarOf(player);
    for (const q of this.snapshot.questsByType.get(input.type) ?? []) {
      const key = questPeriodKey(q.cadence, input.occurredAt, calendar);
      const quest = player.quests.get(`${q.id}|${key}`);
      if (
        quest === undefined ||
        quest.status !== "active" ||
        input.occurredAt < quest.startsAt ||
        input.occurredAt >= quest.expiresAt ||
        !q.test(contextFor(q.readsPlayer))
      ) {
        continue;
      }
      let reached: number;
      if (q.mode === "distinct") {
        // Each value of the field counts once per quest period (a number as its text: 1 and "1"
        // are one value); events without a string or number there do not count.
        const value = q.amountField === null ? undefined : readField(input, q.amountField);
        if (typeof value !== "string" && typeof value !== "number") continue;
        const seen = String(value).slice(0, MAX_DISTINCT_VALUE_LENGTH);
        if (quest.seen.includes(seen)) continue;
        quest.seen = [...quest.seen, seen];
        reached = quest.seen.length;
      } else {
        const amount = q.amountField === null ? 1 : Math.floor(readNumber(input, q.amountField) ?? 0);
        if (amount <= 0) continue;
        reached = q.mode === "sum" ? quest.progress + amount : Math.max(quest.progress, amount);
      }
      const progress = Math.min(quest.target, reached);
      if (progress === quest.progress) continue;
      quest.progress = progress;
      const completed = progress >= quest.target;
      if (completed) {
        quest.status = "completed";
        quest.completedAt = input.occurredAt;
        quest.completedEventId = eventId;
        this.reward(player, q.rewards, own, eventId, `Quest: ${q.name}`, `quest:${q.key}`, {
          quest: q.key,
          period: key,
        });
        this.count(player, "quests.completed", 1, day);
        derived.push(derive(input, eventId, "quest.completed", { key: q.key, period: key }));
      }
      this.saveQuest(player, quest);
      own.quests.push({
        key: q.key,
        name: q.name,
        period: key,
        progress,
        target: quest.target,
        completed,
        eventId,
      });
    }
    return derived;
  }

  /** Pays rewards through the ledger and lists them among the event's awards. */
  private reward(
    player: PlayerState,
    rewards: Reward[],
    own: OwnEffects,
    eventId: string,
    reason: string,
    source: string,
    metadata: Record<string, unknown>,
  ): void {
    for (const r of rewards) {
      const paid = this.credit(player, r.currency, r.amount, {
        type: "reward",
        reason,
        source,
        reference: eventId,
        metadata,
      });
      own.awards.push({
        rule: source,
        currency: r.currency,
        amount: paid.amount,
        balance: paid.balance,
        capped: paid.amount < r.amount,
        eventId,
      });
      this.boost(player, r.currency, paid.amount, own, eventId);
    }
  }

  /**
   * Pays what the player's boosts add to an award or reward just paid: boosts of its currency
   * running when the event happened multiply it (together, up to the ceiling), and the extra is a
   * `bonus` ledger entry of its own, listed among the awards as `boost:<item keys>`. Caps limit
   * what a rule pays before the boost; a currency's ceiling still cuts the extra.
   */
  private boost(player: PlayerState, currency: string, paid: number, own: OwnEffects, eventId: string): void {
    if (player.boosts.length === 0 || paid <= 0) return;
    const active = boostAt(player.boosts, currency, this.eventAt);
    if (active === undefined) return;
    const extra = boostExtra(paid, active.multiplier);
    if (extra <= 0) return;
    const source = `boost:${active.keys.join("+")}`.slice(0, 200);
    const bonus = this.credit(player, currency, extra, {
      type: "bonus",
      reason: `Boost ×${active.multiplier}`,
      source,
      reference: eventId,
      metadata: { boosts: active.keys, multiplier: active.multiplier, base: paid },
    });
    if (bonus.amount === 0) return;
    own.awards.push({
      rule: source,
      currency,
      amount: bonus.amount,
      balance: bonus.balance,
      capped: bonus.amount < extra,
      eventId,
    });
  }

  /** Bumps a counter for the day and for life, and the leaderboards that rank it. */
  private count(player: PlayerState, stat: string, amount: number, day: string) {
    const dayKey = `${stat}|${day}`;
    if (
      !within((player.daily.get(dayKey) ?? 0) + amount, LIMITS.valueCeiling) ||
      !within((player.totals.get(stat) ?? 0) + amount, LIMITS.valueCeiling)
    ) {
      ceilingReached(`The counter ${stat}`);
    }
    const daily = add(player.daily, dayKey, amount);
    const total = add(player.totals, stat, amount);
    this.bump(
      this.writes.daily,
      `${player.userId}|${stat}|${day}`,
      { userId: player.userId, stat, day },
      amount,
    );
    this.bump(this.writes.totals, `${player.userId}|${stat}`, { userId: player.userId, stat }, amount);
    this.feedBoards(player, boardsBySource(this.snapshot).counter.get(stat), amount);
    return { daily, total };
  }

  /** Puts a value into the player's entries on the given boards, for the event's periods. */
  private feedBoards(player: PlayerState, boards: BoardDef[] | undefined, value: number): void {
    if (boards === undefined) return;
    const at = this.eventAt;
    for (const board of boards) {
      const periodKey = boardPeriodKey(board, at);
      const slot = `${board.id}|${periodKey}`;
      if (this.closedPeriods.has(slot)) continue;
      const entry = player.entries.get(slot);
      const next = nextEntry(board, entry, value, at);
      if (next === undefined) continue;
      if (!within(next.score, LIMITS.valueCeiling)) ceilingReached(`The score on leaderboard ${board.key}`);
      const write = `${player.userId}|${slot}`;
      if (!this.entriesBefore.has(write)) this.entriesBefore.set(write, entry);
      player.entries.set(slot, next);
      if (next.ranked) this.fedBoards.add(slot);
      this.writes.entries.set(write, { userId: player.userId, boardId: board.id, periodKey, entry: next });
      if (!this.writes.periods.has(slot)) {
        this.writes.periods.set(slot, { boardId: board.id, periodKey, ...boardPeriodBounds(board, at) });
      }
    }
  }

  /** How the batch moved entries in the rank index: what to apply once it is written. */
  rankChanges(): RankChange[] {
    const changes: RankChange[] = [];
    for (const [write, { userId, boardId, periodKey, entry }] of this.writes.entries) {
      const before = this.entriesBefore.get(write);
      const change: RankChange = { list: listName(boardId, periodKey) };
      if (before?.ranked === true) change.previous = rankKey(before, userId);
      if (entry.ranked) change.next = rankKey(entry, userId);
      if (change.previous !== undefined || change.next !== undefined) changes.push(change);
    }
    return changes;
  }

  /** The award a rule may pay now: reduced by its caps for the player's current periods. */
  private grant(rule: RuleDef, spec: AwardSpec, input: ApplyInput, player: PlayerState) {
    let amount = awardAmount(rule, spec, input);
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

  /**
   * Credits a wallet, cut to the room left under the currency's ceiling if it has one. Returns what
   * was paid and the balance after.
   */
  private credit(
    player: PlayerState,
    currency: string,
    amount: number,
    entry: LedgerNote,
  ): { amount: number; balance: number } {
    const cap = this.snapshot.currencyCaps.get(currency);
    const balance = player.wallets.get(currency)?.balance ?? 0;
    const paid = cap === undefined ? amount : Math.min(amount, Math.max(0, cap - balance));
    if (paid <= 0) return { amount: 0, balance };
    return { amount: paid, balance: this.post(player, currency, paid, paid, entry) };
  }

  /** Takes from a wallet; the caller has checked the balance covers it. */
  private debit(player: PlayerState, currency: string, amount: number, entry: LedgerNote): number {
    return this.post(player, currency, -amount, 0, entry);
  }

  private post(player: PlayerState, currency: string, delta: number, earned: number, entry: LedgerNote) {
    const wallet = player.wallets.get(currency) ?? { balance: 0, earned: 0 };
    if (
      !within(wallet.balance + delta, LIMITS.valueCeiling) ||
      !within(wallet.earned + earned, LIMITS.valueCeiling)
    ) {
      ceilingReached(`The ${currency} balance`);
    }
    wallet.balance += delta;
    wallet.earned += earned;
    player.wallets.set(currency, wallet);
    const slot = `${player.userId}|${currency}`;
    const w = this.writes.wallets.get(slot) ?? { userId: player.userId, currency, delta: 0, earned: 0 };
    w.delta += delta;
    w.earned += earned;
    this.writes.wallets.set(slot, w);
    if (earned > 0) this.feedBoards(player, boardsBySource(this.snapshot).currency.get(currency), earned);
    if (delta !== 0)
      this.feedBoards(player, boardsBySource(this.snapshot).balance.get(currency), wallet.balance);
    this.writes.ledger.push({
      userId: player.userId,
      currency,
      amount: delta,
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
      streaks: Object.fromEntries(
        [...player.streaks].map(([k, s]) => [k, { current: s.current, longest: s.longest }]),
      ),
      now: this.now.toISOString(),
    };
  }
}

export const calendarOf = (player: PlayerState): Calendar => ({
  timeZone: player.timeZone,
  dayStartHour: player.dayStartHour,
});

/** An event Ludus emits because of another: recorded, applied, and listed among its effects. */
function derive(
  input: ApplyInput,
  parentId: string,
  type: string,
  data: Record<string, unknown>,
): ApplyInput {
  return {
    type,
    userId: input.userId,
    occurredAt: input.occurredAt,
    data,
    source: "system",
    sourceId: null,
    idempotencyKey: null,
    parentId,
    scope: input.scope,
    requestHash: input.requestHash,
  };
}

const cadenceCache = new WeakMap<Snapshot, QuestCadence[]>();
const periodCache = new Map<string, Period>();

/** The cadences that have active quest templates. */
export function questCadences(snapshot: Snapshot): QuestCadence[] {
  let cadences = cadenceCache.get(snapshot);
  if (cadences === undefined) {
    cadences = [...new Set(snapshot.quests.map((q) => q.cadence))];
    cadenceCache.set(snapshot, cadences);
  }
  return cadences;
}

/** The key of a quest period containing `at`: a calendar period's, or "special". */
export function questPeriodKey(cadence: QuestCadence, at: Date, calendar: Calendar): string {
  return cadence === "special" ? "special" : periodKey(at, cadence, calendar);
}

/** A pool's templates in the order a player draws them for a period. */
export function drawOrder(templates: QuestDef[], userId: string, key: string): QuestDef[] {
  const weight = (q: QuestDef) => createHash("sha256").update(`${userId}|${key}|${q.key}`).digest("hex");
  return templates
    .map((q) => ({ q, w: weight(q) }))
    .sort((a, b) => (a.w < b.w ? -1 : a.w > b.w ? 1 : 0))
    .map((x) => x.q);
}

/**
 * A player's value of an achievement metric: level, stats.<counter>, earned.<currency>,
 * balances.<currency>, or streaks.<key> (the longest that streak has been).
 */
export function metricValue(player: PlayerState, metric: string): number {
  if (metric === "level") return player.level;
  const dot = metric.indexOf(".");
  const kind = metric.slice(0, dot);
  const name = metric.slice(dot + 1);
  if (kind === "stats") return player.totals.get(name) ?? 0;
  if (kind === "earned") return player.wallets.get(name)?.earned ?? 0;
  if (kind === "balances") return player.wallets.get(name)?.balance ?? 0;
  if (kind === "streaks") return player.streaks.get(name)?.longest ?? 0;
  return 0;
}

/** The key of the period a cap counts in. */
export function capPeriod(at: Date, period: "day" | "week" | "month", timeZone: string): string {
  return period === "day" ? dayKey(at, { timeZone }) : periodAt(at, period, { timeZone }).key;
}
