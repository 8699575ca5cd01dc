import type { Snapshot } from "../engine/definitions.ts";
import { drawOrder, Planner, questCadences, questPeriodKey, type QuestState } from "../engine/plan.ts";
import { loadStates, lockPlayers, writePlan } from "../engine/state.store.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError } from "../platform/http/errors.ts";

/**
 * Quest assignment outside events: a player opening their quests (first touch), the scheduler
 * handing out a period's quests ahead of time, a reroll. Each locks the players and goes through
 * the Planner, like an event, so it can never race one.
 */
export async function openPlanner(tx: Tx, snapshot: Snapshot, userIds: string[], at: Date, now: Date) {
  const locked = await lockPlayers(tx, userIds);
  const players = [...locked.values()].filter((p) => p.usable);
  const questPeriods = new Set<string>();
  for (const p of players) {
    const calendar = { timeZone: p.time_zone, dayStartHour: p.day_start_hour };
    for (const c of questCadences(snapshot)) questPeriods.add(questPeriodKey(c, at, calendar));
  }
  const { states } = await loadStates(tx, players, {
    stats: [],
    days: [],
    capPeriods: [],
    allTotals: false,
    keys: [],
    questPeriods: [...questPeriods],
    streaks: false,
    protectionsSince: now,
    boardPeriods: [],
  });
  return { planner: new Planner(snapshot, states, new Map(), now), states };
}

/** Gives players the quests of the periods containing `at` that they do not have yet. */
export async function assignQuests(tx: Tx, snapshot: Snapshot, userIds: string[], at: Date): Promise<number> {
  if (snapshot.quests.length === 0) return 0;
  const { planner, states } = await openPlanner(tx, snapshot, userIds, at, at);
  for (const state of states.values()) planner.assignQuests(state, at);
  if (planner.writes.quests.size > 0) await writePlan(tx, planner.writes);
  return planner.writes.quests.size;
}

/**
 * Swaps one of a player's active pool quests of the current period for the next one the pool
 * draws for them, within the pool's rerolls per period. Returns the new quest.
 */
export async function rerollQuest(
  tx: Tx,
  snapshot: Snapshot,
  userId: string,
  key: string,
  now: Date,
): Promise<{ templateKey: string; quest: QuestState }> {
  const template = snapshot.quests.find((q) => q.key === key);
  if (template === undefined) throw new AppError("quest.not_found", `No active quest ${key}`);
  const { planner, states } = await openPlanner(tx, snapshot, [userId], now, now);
  const player = states.get(userId);
  if (player === undefined) throw new AppError("quest.not_found", "No such player");
  planner.assignQuests(player, now);
  const periodKey = questPeriodKey(template.cadence, now, {
    timeZone: player.timeZone,
    dayStartHour: player.dayStartHour,
  });
  const quest = player.quests.get(`${template.id}|${periodKey}`);
  if (quest === undefined || quest.status === "rerolled") {
    throw new AppError("quest.not_found", `Quest ${key} is not one of your current quests`);
  }
  const pool = template.pool === null ? undefined : snapshot.pools.get(template.pool);
  if (pool === undefined) throw new AppError("quest.not_rerollable", `Quest ${key} is not drawn from a pool`);
  if (quest.status !== "active" || quest.expiresAt <= now) {
    throw new AppError(
      "quest.not_rerollable",
      `Quest ${key} is already ${quest.status === "active" ? "expired" : "completed"}`,
    );
  }
  const siblings = snapshot.quests.filter((q) => q.pool === pool.key && q.cadence === template.cadence);
  const rerolled = siblings.filter((q) => player.quests.get(`${q.id}|${periodKey}`)?.status === "rerolled");
  if (rerolled.length >= pool.rerolls) {
    throw new AppError(
      "quest.reroll_limit",
      `At most ${pool.rerolls} rerolls per period in pool ${pool.key}`,
    );
  }
  const next = drawOrder(siblings, userId, periodKey).find(
    (q) =>
      !player.quests.has(`${q.id}|${periodKey}`) &&
      (q.startsAt === null || q.startsAt <= now) &&
      (q.endsAt === null || now < q.endsAt),
  );
  if (next === undefined)
    throw new AppError("quest.not_rerollable", `Pool ${pool.key} has no other quest to give`);
  planner.saveQuest(player, { ...quest, status: "rerolled" });
  const given = planner.giveQuest(player, next, now);
  await writePlan(tx, planner.writes);
  return { templateKey: next.key, quest: given };
}

/**
 * Gives every active player the quests of the periods containing `at` (their own periods, in their
 * own calendars), a chunk of players per transaction. What the scheduler runs ahead of each
 * period; `ludus quests assign` runs it by hand. Returns how many quests were given.
 */
export async function assignQuestsToAll(
  db: Database,
  snapshot: Snapshot,
  at: Date,
  onProgress: (done: number, total: number) => void = () => {},
  chunk = 500,
): Promise<number> {
  if (snapshot.quests.length === 0) return 0;
  const ids = await db.asSystem((tx) =>
    tx.rows<{ id: string }>(`SELECT id FROM users WHERE is_active AND deleted_at IS NULL ORDER BY id`),
  );
  let given = 0;
  for (let i = 0; i < ids.length; i += chunk) {
    const slice = ids.slice(i, i + chunk).map((r) => r.id);
    given += await db.asSystem((tx) => assignQuests(tx, snapshot, slice, at));
    onProgress(Math.min(i + chunk, ids.length), ids.length);
  }
  return given;
}
