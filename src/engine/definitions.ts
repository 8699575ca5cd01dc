import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { Listener } from "../platform/db/listener.ts";
import type { Logger } from "pino";
import type { Database, Tx } from "../platform/db/database.ts";
import type { Cadence } from "../platform/time/periods.ts";
import { DEFAULT_CURVE, type LevelCurve } from "../progression/levels.ts";
import { compileStoredCondition, readsPlayer, type Predicate } from "./conditions.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export interface AwardSpec {
  currency: string;
  /** A fixed amount … */
  amount?: number;
  /** … or a number read from the event, e.g. "data.minutes", times multiplier, at most max. */
  field?: string;
  multiplier?: number;
  max?: number;
}

export interface CounterSpec {
  stat: string;
  amount?: number;
  field?: string;
}

export interface CapSpec {
  currency: string;
  period: Cadence;
  max: number;
}

export interface EventTypeDef {
  key: string;
  description: string | null;
  dataSchema: Record<string, unknown>;
  clientWritable: boolean;
  clientDailyCap: number | null;
  system: boolean;
  active: boolean;
  validate: ValidateFunction;
}

export interface RuleDef {
  id: string;
  key: string;
  name: string;
  description: string | null;
  eventType: string;
  condition: Record<string, unknown> | null;
  awards: AwardSpec[];
  counters: CounterSpec[];
  caps: CapSpec[];
  priority: number;
  active: boolean;
  version: number;
  test: Predicate;
  readsPlayer: boolean;
}

export interface AchievementRow {
  id: string;
  key: string;
  name: string;
  description: string;
  category: string;
  rarity: "common" | "uncommon" | "rare" | "epic" | "legendary";
  icon: string | null;
  color: string | null;
  rewards: { currency: string; amount: number }[];
  metric: string;
  target: number;
  condition: Record<string, unknown> | null;
  hidden: boolean;
  starts_at: Date | null;
  ends_at: Date | null;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface AchievementDef {
  id: string;
  key: string;
  name: string;
  rarity: AchievementRow["rarity"];
  rewards: { currency: string; amount: number }[];
  metric: string;
  target: number;
  test: Predicate;
  startsAt: Date | null;
  endsAt: Date | null;
}

export interface Reward {
  currency: string;
  amount: number;
}

export interface StreakRow {
  id: string;
  key: string;
  name: string;
  description: string;
  category: string;
  cadence: Cadence;
  event_types: string[];
  condition: Record<string, unknown> | null;
  grace_hours: number;
  freeze_currency: string | null;
  milestones: { count: number; rewards: Reward[] }[];
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface StreakDef {
  id: string;
  key: string;
  name: string;
  cadence: Cadence;
  eventTypes: string[];
  test: Predicate;
  readsPlayer: boolean;
  graceHours: number;
  freezeCurrency: string | null;
  /** Ascending by count. */
  milestones: { count: number; rewards: Reward[] }[];
}

export type QuestCadence = Cadence | "special";

export interface QuestRow {
  id: string;
  key: string;
  name: string;
  description: string;
  category: string;
  difficulty: "easy" | "medium" | "hard" | "epic" | "legendary";
  cadence: QuestCadence;
  starts_at: Date | null;
  ends_at: Date | null;
  target: number;
  event_types: string[];
  condition: Record<string, unknown> | null;
  amount_field: string | null;
  mode: QuestMode;
  rewards: Reward[];
  time_limit_hours: number | null;
  pool: string | null;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface QuestDef {
  id: string;
  key: string;
  name: string;
  cadence: QuestCadence;
  startsAt: Date | null;
  endsAt: Date | null;
  target: number;
  eventTypes: string[];
  test: Predicate;
  readsPlayer: boolean;
  amountField: string | null;
  mode: QuestMode;
  rewards: Reward[];
  timeLimitHours: number | null;
  pool: string | null;
}

export interface PoolDef {
  key: string;
  name: string;
  size: number;
  rerolls: number;
}

/**
 * How events advance a quest: sum their amounts, keep the largest, or count each value of the field
 * once (distinct: "breakfast, lunch and dinner", "five different friends").
 */
export type QuestMode = "sum" | "max" | "distinct";

/** What a leaderboard ranks. */
export type BoardSource =
  | { kind: "currency"; currency: string }
  | { kind: "balance"; currency: string }
  | { kind: "counter"; stat: string }
  | { kind: "level" }
  | { kind: "event"; eventType: string; field: string }
  | { kind: "submitted" };

export type BoardPeriod = Cadence | "all";

export interface LeaderboardRow {
  id: string;
  key: string;
  name: string;
  description: string;
  category: string;
  source: BoardSource;
  period: BoardPeriod;
  time_zone: string;
  sort: "desc" | "asc";
  operator: "sum" | "best" | "latest";
  min_score: number | null;
  snapshot_size: number;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface BoardDef {
  id: string;
  key: string;
  source: BoardSource;
  period: BoardPeriod;
  timeZone: string;
  sort: "desc" | "asc";
  operator: "sum" | "best" | "latest";
  minScore: number | null;
}

export function toBoardDef(row: LeaderboardRow): BoardDef {
  return {
    id: row.id,
    key: row.key,
    source: row.source,
    period: row.period,
    timeZone: row.time_zone,
    sort: row.sort,
    operator: row.operator,
    minScore: row.min_score,
  };
}

export interface Snapshot {
  eventTypes: Map<string, EventTypeDef>;
  /** Active leaderboards fed by events (not those whose scores apps submit). */
  boards: BoardDef[];
  /** Active streaks, and by the event types that count for them. */
  streaks: StreakDef[];
  streaksByType: Map<string, StreakDef[]>;
  /** Active quest templates, and by the event types that advance them. */
  quests: QuestDef[];
  questsByType: Map<string, QuestDef[]>;
  pools: Map<string, PoolDef>;
  /** The most one player may hold, for currencies that have a ceiling. */
  currencyCaps: Map<string, number>;
  /** Active achievements; each player's locked ones are checked after each of their events. */
  achievements: AchievementDef[];
  /** Active rules by event type, highest priority first. */
  rulesByType: Map<string, RuleDef[]>;
  currencies: Set<string>;
  curve: LevelCurve;
}

/** Changes that instances cache: definitions (empty payload) and others named by their payload. */
export const NOTIFY_CHANNEL = "ludus_changes";

/** How long cached definitions are served while the LISTEN connection is down. */
export const UNGUARDED_TTL_MS = 1000;
export const LEVEL_CURVE_SETTING = "level_curve";

/**
 * Ajv for event data schemas: strict about the data, lenient about schema keywords it does not
 * know. addUsedSchema: false keeps schemas out of Ajv's $id registry, so two types (or two loads of
 * one type) whose schemas carry the same $id do not collide.
 */
export function createSchemaCompiler(): Ajv {
  return addFormats(
    new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false, addUsedSchema: false }),
  );
}

export interface EventTypeRow {
  key: string;
  description: string | null;
  data_schema: Record<string, unknown>;
  client_writable: boolean;
  client_daily_cap: number | null;
  system: boolean;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface RuleRow {
  id: string;
  key: string;
  name: string;
  description: string | null;
  event_type: string;
  condition: Record<string, unknown> | null;
  awards: AwardSpec[];
  counters: CounterSpec[];
  caps: CapSpec[];
  priority: number;
  active: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export function toRuleDef(row: RuleRow): RuleDef {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    description: row.description,
    eventType: row.event_type,
    condition: row.condition,
    awards: row.awards,
    counters: row.counters,
    caps: row.caps,
    priority: row.priority,
    active: row.active,
    version: row.version,
    test: compileStoredCondition(row.condition),
    readsPlayer: readsPlayer(row.condition),
  };
}

export function toAchievementDef(row: AchievementRow): AchievementDef {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    rarity: row.rarity,
    rewards: row.rewards,
    metric: row.metric,
    target: row.target,
    test: compileStoredCondition(row.condition),
    startsAt: row.starts_at,
    endsAt: row.ends_at,
  };
}

export function toStreakDef(row: StreakRow): StreakDef {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    cadence: row.cadence,
    eventTypes: row.event_types,
    test: compileStoredCondition(row.condition),
    readsPlayer: readsPlayer(row.condition),
    graceHours: row.grace_hours,
    freezeCurrency: row.freeze_currency,
    milestones: [...row.milestones].sort((a, b) => a.count - b.count),
  };
}

export function toQuestDef(row: QuestRow): QuestDef {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    cadence: row.cadence,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    target: row.target,
    eventTypes: row.event_types,
    test: compileStoredCondition(row.condition),
    readsPlayer: readsPlayer(row.condition),
    amountField: row.amount_field,
    mode: row.mode,
    rewards: row.rewards,
    timeLimitHours: row.time_limit_hours,
    pool: row.pool,
  };
}

/** Groups definitions by each event type they listen to. */
function byEventType<T extends { eventTypes: string[] }>(defs: T[]): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const d of defs) for (const t of d.eventTypes) map.set(t, [...(map.get(t) ?? []), d]);
  return map;
}

/**
 * Event types, rules, currencies and the level curve, cached in memory. A change made through the
 * admin API invalidates the cache here at once and on every other instance through NOTIFY.
 */
export class Definitions {
  private cached: Promise<Snapshot> | undefined;
  /** When the cached snapshot started loading (performance.now()). */
  private cachedAt = 0;
  /**
   * The instance's listener, once attached: while it is disconnected, NOTIFY may be missed, so a
   * snapshot is trusted for at most `unguardedTtlMs`. Without one (tests, one-off commands) the
   * cache is invalidated only by this process.
   */
  private guard: Listener | undefined;
  private readonly ajv = createSchemaCompiler();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    /** How long a snapshot may be served while the listener is down. */
    readonly unguardedTtlMs = UNGUARDED_TTL_MS,
  ) {}

  snapshot(): Promise<Snapshot> {
    if (
      this.cached !== undefined &&
      this.guard !== undefined &&
      !this.guard.connected &&
      performance.now() - this.cachedAt > this.unguardedTtlMs
    ) {
      this.cached = undefined;
    }
    if (this.cached === undefined) {
      const loading = this.load();
      this.cached = loading;
      this.cachedAt = performance.now();
      // A failed load must not stay cached.
      loading.catch(() => {
        if (this.cached === loading) this.cached = undefined;
      });
    }
    return this.cached;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  /** Tells every instance (including this one, once committed) that definitions changed. */
  async announce(tx: Tx): Promise<void> {
    await tx.exec(`SELECT pg_notify($1, '')`, [NOTIFY_CHANNEL]);
  }

  /**
   * Hears changes made by any instance on the instance's listener (an empty payload on
   * NOTIFY_CHANNEL). Every (re)connection and every loss of the connection drops the snapshot:
   * changes announced while it was down were not heard.
   */
  attach(listener: Listener): void {
    this.guard = listener;
    listener.on(NOTIFY_CHANNEL, (payload) => {
      if (payload === "") this.invalidate();
    });
    listener.onConnect(() => this.invalidate());
    listener.onDisconnect(() => {
      this.invalidate();
      this.logger.debug("definitions cached for at most %d ms while LISTEN is down", this.unguardedTtlMs);
    });
  }

  compileDataSchema(schema: unknown): ValidateFunction {
    return this.ajv.compile(schema as Record<string, unknown>);
  }

  private async load(): Promise<Snapshot> {
    return this.db.asSystem(async (tx) => {
      const types = await tx.rows<EventTypeRow>(`SELECT * FROM event_types`);
      const rules = await tx.rows<RuleRow>(`SELECT * FROM rules WHERE active ORDER BY priority DESC, key`);
      const currencies = await tx.rows<{ code: string; max_balance: number | null }>(
        `SELECT code, max_balance FROM currencies`,
      );
      const streaks = (
        await tx.rows<StreakRow>(`SELECT * FROM streak_definitions WHERE active ORDER BY key`)
      ).map(toStreakDef);
      const quests = (await tx.rows<QuestRow>(`SELECT * FROM quest_templates WHERE active ORDER BY key`)).map(
        toQuestDef,
      );
      const pools = await tx.rows<PoolDef>(`SELECT key, name, size, rerolls FROM quest_pools`);
      const boards = await tx.rows<LeaderboardRow>(
        `SELECT * FROM leaderboards WHERE active AND source->>'kind' <> 'submitted' ORDER BY key`,
      );
      const achievements = await tx.rows<AchievementRow>(
        `SELECT * FROM achievements WHERE active ORDER BY key`,
      );
      const curve = await tx.maybeOne<{ value: string }>(`SELECT value FROM settings WHERE key = $1`, [
        LEVEL_CURVE_SETTING,
      ]);
      const eventTypes = new Map<string, EventTypeDef>();
      for (const t of types) {
        eventTypes.set(t.key, {
          key: t.key,
          description: t.description,
          dataSchema: t.data_schema,
          clientWritable: t.client_writable,
          clientDailyCap: t.client_daily_cap,
          system: t.system,
          active: t.active,
          validate: this.ajv.compile(t.data_schema),
        });
      }
      const rulesByType = new Map<string, RuleDef[]>();
      for (const r of rules) {
        const list = rulesByType.get(r.event_type) ?? [];
        list.push(toRuleDef(r));
        rulesByType.set(r.event_type, list);
      }
      return {
        eventTypes,
        rulesByType,
        currencies: new Set(currencies.map((c) => c.code)),
        currencyCaps: new Map(
          currencies.flatMap((c) => (c.max_balance === null ? [] : [[c.code, c.max_balance]])),
        ),
        streaks,
        streaksByType: byEventType(streaks),
        quests,
        questsByType: byEventType(quests),
        pools: new Map(pools.map((p) => [p.key, p])),
        boards: boards.map(toBoardDef),
        achievements: achievements.map(toAchievementDef),
        curve: curve === undefined ? DEFAULT_CURVE : (JSON.parse(curve.value) as LevelCurve),
      };
    });
  }
}
