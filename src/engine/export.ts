import type { Exporter } from "../identity/account.service.ts";

/**
 * What the game holds about a player, for their data export (GDPR): one key per table, every row
 * of theirs. Table names are fixed here, never taken from input.
 */
const PLAYER_TABLES = {
  progress: "user_progress",
  wallets: "wallets",
  ledger: "ledger_entries",
  statisticsDaily: "user_stats_daily",
  statistics: "user_stats_totals",
  events: "events",
  achievements: "user_achievements",
  streaks: "user_streaks",
  streakMilestones: "user_streak_milestones",
  streakProtections: "streak_protections",
  quests: "user_quests",
  inventory: "user_inventory",
  purchases: "purchases",
  boosts: "user_boosts",
  gifts: "user_gifts",
} as const;

export const gameExporters: Exporter[] = Object.entries(PLAYER_TABLES).map(
  ([key, table]) =>
    async (tx, userId) => [key, await tx.rows(`SELECT * FROM ${table} WHERE user_id = $1`, [userId])],
);
