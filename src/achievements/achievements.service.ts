import { audit, type AuditActor, type RequestMeta } from "../audit/audit.service.ts";
import { compileCondition, ConditionError } from "../engine/conditions.ts";
import type { AchievementRow, Definitions } from "../engine/definitions.ts";
import { metricValue, type PlayerState } from "../engine/plan.ts";
import { listWallets } from "../economy/ledger.store.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { totals } from "../progression/stats.store.ts";
import { AppError, notFound } from "../platform/http/errors.ts";

export interface AchievementInput {
  key: string;
  name: string;
  description?: string;
  category?: string;
  rarity?: AchievementRow["rarity"];
  icon?: string | null;
  color?: string | null;
  rewards?: { currency: string; amount: number }[];
  metric: string;
  target: number;
  condition?: Record<string, unknown> | null;
  hidden?: boolean;
  startsAt?: string | null;
  endsAt?: string | null;
  active?: boolean;
}

export const achievementView = (a: AchievementRow) => ({
  key: a.key,
  name: a.name,
  description: a.description,
  category: a.category,
  rarity: a.rarity,
  icon: a.icon,
  color: a.color,
  rewards: a.rewards,
  metric: a.metric,
  target: a.target,
  condition: a.condition,
  hidden: a.hidden,
  startsAt: a.starts_at?.toISOString() ?? null,
  endsAt: a.ends_at?.toISOString() ?? null,
  active: a.active,
});

const METRIC = /^(level|(stats|earned|balances)\.[a-z][a-z0-9_.]*)$/;

const invalid = (message: string, path: string) =>
  new AppError("definition.invalid", message, { errors: [{ path, message }] });

/** Achievement definitions (admin) and each player's catalogue with progress. */
export class AchievementsService {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
  ) {}

  list() {
    return this.db.asSystem(async (tx) =>
      (await tx.rows<AchievementRow>(`SELECT * FROM achievements ORDER BY category, key`)).map(
        achievementView,
      ),
    );
  }

  /** Creates an achievement, or changes the given fields of an existing one (mode "update"). */
  async save(
    actor: AuditActor,
    meta: RequestMeta,
    input: AchievementInput | (Partial<AchievementInput> & { key: string }),
    mode: "create" | "update",
  ) {
    if (input.metric !== undefined && !METRIC.test(input.metric)) {
      throw invalid(
        "metric must be level, stats.<counter>, earned.<currency> or balances.<currency>",
        "body/metric",
      );
    }
    try {
      compileCondition(input.condition ?? null);
    } catch (error) {
      if (error instanceof ConditionError) throw invalid(`condition: ${error.message}`, "body/condition");
      throw error;
    }
    const result = await this.db.asSystem(async (tx) => {
      await this.checkCurrencies(tx, input.rewards ?? []);
      const existing = await tx.maybeOne<AchievementRow>(
        `SELECT * FROM achievements WHERE key = $1 FOR UPDATE`,
        [input.key],
      );
      if (mode === "create" && existing !== undefined) {
        throw new AppError("definition.exists", `Achievement ${input.key} exists`);
      }
      if (mode === "update" && existing === undefined) throw notFound("Achievement");
      const merged = { ...(existing ? achievementView(existing) : {}), ...input } as AchievementInput;
      const row = await tx.one<AchievementRow>(
        `INSERT INTO achievements (key, name, description, category, rarity, icon, color, rewards, metric, target,
           condition, hidden, starts_at, ends_at, active)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
           category = EXCLUDED.category, rarity = EXCLUDED.rarity, icon = EXCLUDED.icon, color = EXCLUDED.color,
           rewards = EXCLUDED.rewards, metric = EXCLUDED.metric, target = EXCLUDED.target,
           condition = EXCLUDED.condition, hidden = EXCLUDED.hidden, starts_at = EXCLUDED.starts_at,
           ends_at = EXCLUDED.ends_at, active = EXCLUDED.active, updated_at = now()
         RETURNING *`,
        [
          merged.key,
          merged.name,
          merged.description ?? "",
          merged.category ?? "general",
          merged.rarity ?? "common",
          merged.icon ?? null,
          merged.color ?? null,
          JSON.stringify(merged.rewards ?? []),
          merged.metric,
          merged.target,
          merged.condition ?? null,
          merged.hidden ?? false,
          merged.startsAt ?? null,
          merged.endsAt ?? null,
          merged.active ?? true,
        ],
      );
      await audit(tx, actor, meta, {
        action: `achievement.${mode}d`,
        resourceType: "achievement",
        resourceId: row.key,
        subjectUserId: null,
        before: existing && achievementView(existing),
        after: achievementView(row),
      });
      await this.definitions.announce(tx);
      return achievementView(row);
    });
    this.definitions.invalidate();
    return result;
  }

  /** The catalogue as one player sees it: unlocks, progress toward locked ones, hidden ones masked. */
  async catalogue(userId: string) {
    return this.db.asUser(userId, async (tx) => {
      const all = await tx.rows<AchievementRow & { unlocked_at: Date | null; seen_at: Date | null }>(
        `SELECT a.*, ua.unlocked_at, ua.seen_at FROM achievements a
         LEFT JOIN user_achievements ua ON ua.achievement_id = a.id AND ua.user_id = $1
         WHERE a.active OR ua.unlocked_at IS NOT NULL ORDER BY a.category, a.key`,
        [userId],
      );
      const state = await this.playerState(tx, userId);
      return all.map((a) => {
        const unlocked = a.unlocked_at !== null;
        const masked = a.hidden && !unlocked;
        return {
          key: a.key,
          name: masked ? "Hidden achievement" : a.name,
          description: masked ? null : a.description,
          category: a.category,
          rarity: a.rarity,
          icon: masked ? null : a.icon,
          color: a.color,
          hidden: a.hidden,
          unlocked,
          unlockedAt: a.unlocked_at?.toISOString() ?? null,
          seen: a.seen_at !== null,
          progress: masked
            ? null
            : { current: Math.min(metricValue(state, a.metric), a.target), target: a.target },
        };
      });
    });
  }

  async markSeen(userId: string, keys: string[]): Promise<number> {
    return this.db.asUser(userId, (tx) =>
      tx.exec(
        `UPDATE user_achievements ua SET seen_at = now() FROM achievements a
         WHERE ua.achievement_id = a.id AND ua.user_id = $1 AND a.key = ANY($2::text[]) AND ua.seen_at IS NULL`,
        [userId, keys],
      ),
    );
  }

  private async playerState(tx: Tx, userId: string): Promise<PlayerState> {
    const level = await tx.maybeOne<{ level: number }>(`SELECT level FROM user_progress WHERE user_id = $1`, [
      userId,
    ]);
    const wallets = await listWallets(tx, userId);
    const stats = await totals(tx, userId);
    return {
      userId,
      level: level?.level ?? 1,
      timeZone: "UTC",
      wallets: new Map(wallets.map((w) => [w.currency, { balance: w.balance, earned: w.lifetime_earned }])),
      capTotals: new Map(),
      daily: new Map(),
      totals: new Map(Object.entries(stats)),
      unlocked: new Set(),
    };
  }

  private async checkCurrencies(tx: Tx, rewards: { currency: string }[]): Promise<void> {
    const known = new Set(
      (await tx.rows<{ code: string }>(`SELECT code FROM currencies`)).map((c) => c.code),
    );
    rewards.forEach((r, i) => {
      if (!known.has(r.currency))
        throw invalid(`Unknown currency ${r.currency}`, `body/rewards/${i}/currency`);
    });
  }
}
