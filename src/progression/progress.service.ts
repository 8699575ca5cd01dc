import type { Definitions } from "../engine/definitions.ts";
import { listWallets } from "../economy/ledger.store.ts";
import type { Database } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import { progressFor } from "./levels.ts";
import { findProgress } from "./progress.store.ts";
import { dailySeries, totals } from "./stats.store.ts";

/** A player's level, XP, score and flags (seed 000 user_progress, seed 004 user_scores). */
export class ProgressService {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
  ) {}

  async progress(userId: string) {
    const { curve } = await this.definitions.snapshot();
    return this.db.asUser(userId, async (tx) => {
      const user = await tx.maybeOne<{ deleted_at: Date | null }>(
        `SELECT deleted_at FROM users WHERE id = $1`,
        [userId],
      );
      if (user === undefined || user.deleted_at !== null) throw notFound("Player");
      const row = await findProgress(tx, userId);
      const wallets = new Map((await listWallets(tx, userId)).map((w) => [w.currency, w]));
      const xp = wallets.get("xp")?.balance ?? 0;
      // The level shown is derived from total XP with the current curve, so it is right even
      // before the player's next event catches the stored level up with a changed curve.
      const level = progressFor(curve, xp);
      return {
        userId,
        level: level.level,
        totalXp: xp,
        xpIntoLevel: level.xpIntoLevel,
        xpToNextLevel: level.xpToNextLevel,
        levelStartXp: level.levelStartXp,
        nextLevelXp: level.nextLevelXp,
        score: wallets.get("score")?.balance ?? 0,
        lifetimeScore: wallets.get("score")?.lifetime_earned ?? 0,
        coins: wallets.get("coins")?.balance ?? 0,
        recipesUnlocked: row?.recipes_unlocked ?? 0,
        hasClaimedGift: row?.has_claimed_gift ?? false,
        eventsCount: row?.events_count ?? 0,
      };
    });
  }

  /** The fields anyone may see of a player's progress. */
  async publicProgress(userId: string) {
    const p = await this.progress(userId);
    return { userId: p.userId, level: p.level, totalXp: p.totalXp, score: p.score };
  }

  async stats(userId: string, query: { stat?: string; from?: string; to?: string }, today: string) {
    const to = query.to ?? today;
    const from = query.from ?? shiftDays(to, -29);
    if (from > to) {
      throw new AppError("validation.failed", "from must not be after to", {
        errors: [{ path: "querystring/from", message: "is after to" }],
      });
    }
    // Both ends count: from..to spans daysBetween + 1 days.
    if (daysBetween(from, to) + 1 > 366) {
      throw new AppError("validation.failed", "Ask for at most 366 days at a time", {
        errors: [{ path: "querystring/from", message: "range longer than 366 days" }],
      });
    }
    return this.db.asUser(userId, async (tx) => {
      const all = await totals(tx, userId);
      const daily = await dailySeries(tx, userId, { stat: query.stat, from, to });
      const lifetime = query.stat === undefined ? all : { [query.stat]: all[query.stat] ?? 0 };
      return { from, to, totals: lifetime, daily };
    });
  }
}

function shiftDays(day: string, delta: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + delta);
  return d.toISOString().slice(0, 10);
}

function daysBetween(from: string, to: string): number {
  return (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000;
}
