import type { Clock } from "../platform/clock.ts";
import type { Tx } from "../platform/db/database.ts";
import { AppError } from "../platform/http/errors.ts";
import { dayKey } from "../platform/time/periods.ts";
import type { Snapshot } from "./definitions.ts";
import {
  type RankChange,
  capPeriod,
  Planner,
  questCadences,
  questPeriodKey,
  type ApplyInput,
  type EventResult,
} from "./plan.ts";
import { loadStates, lockBoardPeriods, lockPlayers, writePlan } from "./state.store.ts";
import { boardPeriodKey, boardsBySource } from "../leaderboards/board-feed.ts";
import { moveEntry } from "../leaderboards/entry-writer.ts";
import { protectionsSince } from "../streaks/streaks.store.ts";

/** Event types Ludus emits itself; rules may listen to them. */
const DERIVED_TYPES = ["level.up", "achievement.unlocked", "streak.extended", "quest.completed"];

export { MAX_CASCADE_DEPTH, type ApplyInput, type EventResult } from "./plan.ts";

/**
 * Applies events inside the caller's transaction, in three statements whatever their number:
 * lock the players (in id order), read what the events need, then — after the pure Planner has
 * worked out every effect in memory — write all of it at once. Events apply in the order given.
 */
/** Where rank index changes go: applied just before an event's transaction commits. */
export interface RankSink {
  apply(changes: RankChange[]): Promise<void>;
  /** The index may disagree with PostgreSQL (a commit whose outcome is unknown): rebuild it. */
  distrust?(): void;
}

/** The same changes the other way round: what undoes them if the transaction fails to commit. */
const reversed = (changes: RankChange[]): RankChange[] =>
  changes.map((c) => ({ list: c.list, previous: c.next, next: c.previous })).reverse();

export class Engine {
  constructor(
    private readonly clock: Clock,
    private readonly ranks?: RankSink,
  ) {}

  async run(tx: Tx, snapshot: Snapshot, inputs: ApplyInput[]): Promise<EventResult[]> {
    const locked = await lockPlayers(
      tx,
      inputs.map((i) => i.userId),
    );
    for (const input of inputs) {
      const player = locked.get(input.userId);
      if (player === undefined) throw new AppError("event.unknown_user", `No player ${input.userId}`);
      if (!player.usable) throw new AppError("event.user_inactive", "The player is deactivated or deleted");
    }

    // Exactly what to read: the counters, days and cap periods these events can touch.
    const types = new Set([...inputs.map((i) => i.type), ...DERIVED_TYPES]);
    const rules = [...types].flatMap((t) => snapshot.rulesByType.get(t) ?? []);
    const stats = new Set<string>();
    for (const t of types) stats.add(`events.${t}`).add(`client_events.${t}`);
    for (const r of rules) for (const c of r.counters) stats.add(c.stat);
    // Achievements measure counters too, and unlocking one is counted.
    stats.add("achievements.unlocked").add("quests.completed");
    for (const a of snapshot.achievements) if (a.metric.startsWith("stats.")) stats.add(a.metric.slice(6));
    const days = new Set<string>();
    const capPeriods = new Set<string>();
    const questPeriods = new Set<string>();
    const boardPeriods = new Set<string>();
    const cadences = questCadences(snapshot);
    for (const input of inputs) {
      const player = locked.get(input.userId)!;
      const timeZone = player.time_zone;
      const calendar = { timeZone, dayStartHour: player.day_start_hour };
      days.add(dayKey(input.occurredAt, calendar));
      for (const c of cadences) questPeriods.add(questPeriodKey(c, input.occurredAt, calendar));
      for (const b of snapshot.boards) boardPeriods.add(`${b.id}|${boardPeriodKey(b, input.occurredAt)}`);
      for (const r of rules) {
        for (const cap of r.caps)
          capPeriods.add(`${cap.period}:${capPeriod(input.occurredAt, cap.period, timeZone)}`);
      }
    }
    const players = [...new Set(inputs.map((i) => i.userId))].map((id) => locked.get(id)!);
    const closed = await lockBoardPeriods(tx, [...boardPeriods]);
    const { states, answers, gone } = await loadStates(tx, players, {
      stats: [...stats],
      days: [...days],
      capPeriods: [...capPeriods],
      // Conditions that read the player (rules', achievements') see all of their totals.
      allTotals: rules.some((r) => r.readsPlayer) || snapshot.achievements.length > 0,
      keys: inputs.flatMap((i) =>
        i.idempotencyKey === null ? [] : [{ scope: i.scope, userId: i.userId, key: i.idempotencyKey }],
      ),
      questPeriods: [...questPeriods],
      // Achievements and conditions may read streaks even when these events count for none.
      streaks: snapshot.streaks.length > 0,
      protectionsSince: protectionsSince(this.clock.now()),
      boardPeriods: [...boardPeriods],
      // Boosts are judged by when each event happened: those ending after the earliest one.
      boostsSince: new Date(Math.min(...inputs.map((i) => i.occurredAt.getTime()))),
    });
    if (gone.length > 0) throw new AppError("event.user_inactive", "The player is deactivated or deleted");

    const planner = new Planner(snapshot, states, answers, this.clock.now(), closed);
    const results = inputs.map((input) => planner.submit(input));
    if (planner.writes.events.length > 0) await writePlan(tx, planner.writes);
    const changes = planner.rankChanges();
    const ranks = this.ranks;
    if (ranks !== undefined && changes.length > 0) {
      tx.beforeCommit(
        () => ranks.apply(changes),
        () => ranks.apply(reversed(changes)),
        () => ranks.distrust?.(),
      );
    }
    return results;
  }

  /**
   * Moves the player's balance boards of a currency after a change made outside an event (a
   * purchase, gift, item use or adjustment), in the caller's transaction, which holds the player's
   * lock. Events feed the same boards through the planner.
   */
  async balanceChanged(tx: Tx, snapshot: Snapshot, userId: string, currency: string, balance: number) {
    const at = this.clock.now();
    for (const board of boardsBySource(snapshot).balance.get(currency) ?? []) {
      await moveEntry(tx, this.ranks, board, userId, balance, at);
    }
  }
}
