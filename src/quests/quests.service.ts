import type { AuditActor, RequestMeta } from "../audit/audit.service.ts";
import type { Definitions, PoolDef, QuestMode, QuestRow, Reward } from "../engine/definitions.ts";
import {
  checkCondition,
  checkCurrencies,
  checkEventTypes,
  checkWindow,
  invalid,
  saveKeyed,
  type KeyedTable,
} from "../engine/keyed-definitions.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database } from "../platform/db/database.ts";
import { decodeCursor, toPage } from "../platform/http/pagination.ts";
import { assignQuests, rerollQuest } from "./quest-book.ts";

export interface QuestInput {
  key: string;
  name: string;
  description?: string;
  category?: string;
  difficulty?: QuestRow["difficulty"];
  cadence: QuestRow["cadence"];
  startsAt?: string | null;
  endsAt?: string | null;
  target: number;
  eventTypes: string[];
  condition?: Record<string, unknown> | null;
  amountField?: string | null;
  mode?: QuestMode;
  rewards?: Reward[];
  timeLimitHours?: number | null;
  pool?: string | null;
  active?: boolean;
}

export const questView = (q: QuestRow) => ({
  key: q.key,
  name: q.name,
  description: q.description,
  category: q.category,
  difficulty: q.difficulty,
  cadence: q.cadence,
  startsAt: q.starts_at?.toISOString() ?? null,
  endsAt: q.ends_at?.toISOString() ?? null,
  target: q.target,
  eventTypes: q.event_types,
  condition: q.condition,
  amountField: q.amount_field,
  mode: q.mode,
  rewards: q.rewards,
  timeLimitHours: q.time_limit_hours,
  pool: q.pool,
  active: q.active,
});

type QuestView = ReturnType<typeof questView>;

const QUESTS: KeyedTable<QuestRow, QuestView> = {
  table: "quest_templates",
  resource: "quest",
  label: "Quest",
  view: questView,
  defaults: {
    description: "",
    category: "general",
    difficulty: "easy",
    startsAt: null,
    endsAt: null,
    condition: null,
    amountField: null,
    mode: "sum",
    rewards: [],
    timeLimitHours: null,
    pool: null,
    active: true,
  },
  columns: (q) => ({
    key: q.key,
    name: q.name,
    description: q.description,
    category: q.category,
    difficulty: q.difficulty,
    cadence: q.cadence,
    starts_at: q.startsAt,
    ends_at: q.endsAt,
    target: q.target,
    event_types: q.eventTypes,
    condition: q.condition,
    amount_field: q.amountField,
    mode: q.mode,
    rewards: JSON.stringify(q.rewards),
    time_limit_hours: q.timeLimitHours,
    pool: q.pool,
    active: q.active,
  }),
  async check(tx, q) {
    checkCondition(q.condition);
    checkWindow(q.startsAt, q.endsAt);
    if (q.cadence === "special" && (q.startsAt === null || q.endsAt === null)) {
      throw invalid("a special quest needs startsAt and endsAt", "body/startsAt");
    }
    if (q.mode === "max" && q.amountField === null) {
      throw invalid("mode max needs an amountField to take the largest of", "body/amountField");
    }
    if (q.mode === "distinct" && q.amountField === null) {
      throw invalid("mode distinct needs an amountField whose values it counts", "body/amountField");
    }
    await checkEventTypes(tx, q.eventTypes, "body/eventTypes");
    await checkCurrencies(tx, q.rewards, "body/rewards");
    if (q.pool !== null) {
      const pool = await tx.maybeOne(`SELECT 1 FROM quest_pools WHERE key = $1`, [q.pool]);
      if (pool === undefined) throw invalid(`Unknown pool ${q.pool}`, "body/pool");
    }
  },
};

interface PoolRow extends PoolDef {
  created_at: Date;
  updated_at: Date;
}

const poolView = (p: PoolRow): PoolDef => ({ key: p.key, name: p.name, size: p.size, rerolls: p.rerolls });

const POOLS: KeyedTable<PoolRow, PoolDef> = {
  table: "quest_pools",
  resource: "quest_pool",
  label: "Quest pool",
  view: poolView,
  defaults: { rerolls: 1 },
  columns: (p) => ({ key: p.key, name: p.name, size: p.size, rerolls: p.rerolls }),
  check: async () => {},
};

export type QuestStatusFilter = "current" | "active" | "completed" | "expired" | "all";

// Each filter is a fixed SQL fragment; the instant it compares with is a parameter ($2).
const FILTERS: Record<QuestStatusFilter, string> = {
  current: `q.status <> 'rerolled' AND q.expires_at > $2::timestamptz`,
  active: `q.status = 'active' AND q.expires_at > $2::timestamptz`,
  completed: `q.status = 'completed' AND $2::timestamptz IS NOT NULL`,
  expired: `q.status = 'active' AND q.expires_at <= $2::timestamptz`,
  all: `$2::timestamptz IS NOT NULL`,
};

interface MyQuestRow {
  template_id: string;
  key: string;
  name: string;
  description: string;
  category: string;
  difficulty: string;
  cadence: string;
  rewards: Reward[];
  pool: string | null;
  period_key: string;
  status: "active" | "completed" | "rerolled";
  progress: number;
  target: number;
  starts_at: Date;
  expires_at: Date;
  completed_at: Date | null;
  cursor_at: string;
}

const MY_QUESTS = `
  SELECT q.template_id, t.key, t.name, t.description, t.category, t.difficulty, t.cadence, t.rewards, t.pool,
         q.period_key, q.status, q.progress, q.target, q.starts_at, q.expires_at, q.completed_at,
         q.expires_at::text AS cursor_at
  FROM user_quests q JOIN quest_templates t ON t.id = q.template_id`;

/** Quest templates and pools (admin), and each player's quests. */
export class QuestsService {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
    private readonly clock: Clock,
  ) {}

  list() {
    return this.db.asSystem(async (tx) =>
      (await tx.rows<QuestRow>(`SELECT * FROM quest_templates ORDER BY cadence, category, key`)).map(
        questView,
      ),
    );
  }

  save(
    actor: AuditActor,
    meta: RequestMeta,
    input: QuestInput | (Partial<QuestInput> & { key: string }),
    mode: "create" | "update",
  ) {
    return saveKeyed(this.db, this.definitions, QUESTS, { actor, meta }, input, mode);
  }

  listPools() {
    return this.db.asSystem(async (tx) =>
      (await tx.rows<PoolRow>(`SELECT * FROM quest_pools ORDER BY key`)).map(poolView),
    );
  }

  savePool(
    actor: AuditActor,
    meta: RequestMeta,
    input: PoolDef | (Partial<PoolDef> & { key: string }),
    mode: "create" | "update",
  ) {
    return saveKeyed(this.db, this.definitions, POOLS, { actor, meta }, input, mode);
  }

  /**
   * The player's quests, newest period first. Opening them is a first touch: the current periods'
   * quests are assigned now if no event has done it yet.
   */
  async mine(userId: string, filter: { status: QuestStatusFilter; limit: number; cursor?: string }) {
    const snapshot = await this.definitions.snapshot();
    const now = this.clock.now();
    const after = decodeCursor(filter.cursor);
    return this.db.asUser(userId, async (tx) => {
      await assignQuests(tx, snapshot, [userId], now);
      const rows = await tx.rows<MyQuestRow>(
        `${MY_QUESTS} WHERE q.user_id = $1 AND ${FILTERS[filter.status]}
           AND ($3::timestamptz IS NULL
                OR (q.expires_at, q.template_id, q.period_key) < ($3::timestamptz, $4::uuid, $6::text))
         ORDER BY q.expires_at DESC, q.template_id DESC, q.period_key DESC
         LIMIT $5`,
        [userId, now, after?.at ?? null, after?.id ?? null, filter.limit + 1, after?.part ?? ""],
      );
      return toPage(
        rows,
        filter.limit,
        // A change of calendar can give one template two quests ending at the same instant.
        (r) => ({ at: r.cursor_at, id: r.template_id, part: r.period_key }),
        (r) => this.view(r, now),
      );
    });
  }

  async reroll(userId: string, key: string) {
    const snapshot = await this.definitions.snapshot();
    const now = this.clock.now();
    return this.db.asUser(userId, async (tx) => {
      const { templateKey, quest } = await rerollQuest(tx, snapshot, userId, key, now);
      const row = await tx.one<MyQuestRow>(
        `${MY_QUESTS} WHERE q.user_id = $1 AND t.key = $2 AND q.period_key = $3`,
        [userId, templateKey, quest.periodKey],
      );
      return this.view(row, now);
    });
  }

  private view(r: MyQuestRow, now: Date) {
    const expired = r.status === "active" && r.expires_at <= now;
    return {
      key: r.key,
      name: r.name,
      description: r.description,
      category: r.category,
      difficulty: r.difficulty,
      cadence: r.cadence,
      period: r.period_key,
      status: expired ? ("expired" as const) : r.status,
      progress: r.progress,
      target: r.target,
      rewards: r.rewards,
      pool: r.pool,
      startsAt: r.starts_at.toISOString(),
      expiresAt: r.expires_at.toISOString(),
      secondsLeft:
        r.status === "active" && !expired ? Math.floor((r.expires_at.getTime() - now.getTime()) / 1000) : 0,
      completedAt: r.completed_at?.toISOString() ?? null,
    };
  }
}
