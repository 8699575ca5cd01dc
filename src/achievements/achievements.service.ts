import type { AuditActor, RequestMeta } from "../audit/audit.service.ts";
import type { AchievementRow, Definitions } from "../engine/definitions.ts";
import { emptyPlayerState, metricValue, type PlayerState } from "../engine/plan.ts";
import { listWallets } from "../economy/ledger.store.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { totals } from "../progression/stats.store.ts";
import { userStreaks } from "../streaks/streaks.store.ts";
import {
  checkCondition,
  checkCurrencies,
  checkWindow,
  invalid,
  saveKeyed,
  type KeyedTable,
} from "../engine/keyed-definitions.ts";

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

const ACHIEVEMENTS: KeyedTable<AchievementRow, ReturnType<typeof achievementView>> = {
  table: "achievements",
  resource: "achievement",
  label: "Achievement",
  view: achievementView,
  defaults: {
    description: "",
    category: "general",
    rarity: "common",
    icon: null,
    color: null,
    rewards: [],
    condition: null,
    hidden: false,
    startsAt: null,
    endsAt: null,
    active: true,
  },
  columns: (a) => ({
    key: a.key,
    name: a.name,
    description: a.description,
    category: a.category,
    rarity: a.rarity,
    icon: a.icon,
    color: a.color,
    rewards: JSON.stringify(a.rewards),
    metric: a.metric,
    target: a.target,
    condition: a.condition,
    hidden: a.hidden,
    starts_at: a.startsAt,
    ends_at: a.endsAt,
    active: a.active,
  }),
  async check(tx, a) {
    if (!METRIC.test(a.metric)) {
      throw invalid(
        "metric must be level, stats.<counter>, earned.<currency>, balances.<currency> or streaks.<key>",
        "body/metric",
      );
    }
    checkCondition(a.condition);
    checkWindow(a.startsAt, a.endsAt);
    await checkCurrencies(tx, a.rewards, "body/rewards");
  },
};

const METRIC = /^(level|(stats|earned|balances)\.[a-z][a-z0-9_.]*|streaks\.[a-z0-9][a-z0-9_.-]*)$/;

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
  save(
    actor: AuditActor,
    meta: RequestMeta,
    input: AchievementInput | (Partial<AchievementInput> & { key: string }),
    mode: "create" | "update",
  ) {
    return saveKeyed(this.db, this.definitions, ACHIEVEMENTS, { actor, meta }, input, mode);
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
    const streaks = await userStreaks(tx, userId);
    const state = emptyPlayerState(userId, level?.level ?? 1, { timeZone: "UTC", dayStartHour: 0 });
    for (const w of wallets) state.wallets.set(w.currency, { balance: w.balance, earned: w.lifetime_earned });
    for (const [stat, value] of Object.entries(stats)) state.totals.set(stat, value);
    for (const s of streaks) state.streaks.set(s.key, s.state);
    return state;
  }
}
