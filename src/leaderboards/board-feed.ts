import type { BoardDef, Snapshot } from "../engine/definitions.ts";
import { periodAt, periodKey } from "../platform/time/periods.ts";
import type { RankKey } from "./rank-index/rank-index.ts";

/** A player's entry on one board period, as the planner holds it. */
export interface EntryState {
  score: number;
  rankScore: number;
  reachedAt: Date;
  ranked: boolean;
}

/** Which event-fed boards each kind of change feeds, per definitions snapshot. */
export interface BoardsBySource {
  currency: Map<string, BoardDef[]>;
  /** Balance boards by currency: fed the balance after each change. */
  balance: Map<string, BoardDef[]>;
  counter: Map<string, BoardDef[]>;
  level: BoardDef[];
  event: Map<string, BoardDef[]>;
}

const cache = new WeakMap<Snapshot, BoardsBySource>();

export function boardsBySource(snapshot: Snapshot): BoardsBySource {
  let found = cache.get(snapshot);
  if (found === undefined) {
    found = { currency: new Map(), balance: new Map(), counter: new Map(), level: [], event: new Map() };
    const push = (map: Map<string, BoardDef[]>, name: string, board: BoardDef) =>
      map.set(name, [...(map.get(name) ?? []), board]);
    for (const b of snapshot.boards) {
      const s = b.source;
      if (s.kind === "currency") push(found.currency, s.currency, b);
      else if (s.kind === "balance") push(found.balance, s.currency, b);
      else if (s.kind === "counter") push(found.counter, s.stat, b);
      else if (s.kind === "level") found.level.push(b);
      else if (s.kind === "event") push(found.event, s.eventType, b);
    }
    cache.set(snapshot, found);
  }
  return found;
}

/** The key of the board period containing `at` in the board's zone ("all" for all-time boards). */
export function boardPeriodKey(board: Pick<BoardDef, "period" | "timeZone">, at: Date): string {
  return board.period === "all" ? "all" : periodKey(at, board.period, { timeZone: board.timeZone });
}

/** The bounds of a board period; all-time runs from -infinity to infinity (null). */
export function boardPeriodBounds(
  board: Pick<BoardDef, "period" | "timeZone">,
  at: Date,
): { startsAt: Date | null; endsAt: Date | null } {
  if (board.period === "all") return { startsAt: null, endsAt: null };
  const p = periodAt(at, board.period, { timeZone: board.timeZone });
  return { startsAt: p.start, endsAt: p.end };
}

const better = (board: BoardDef, a: number, b: number) => (board.sort === "desc" ? a > b : a < b);

/**
 * The entry after `value` arrives at `at`, or undefined if it does not change: sum adds, best keeps
 * the better of the two, latest replaces. reachedAt moves only when the score does.
 */
export function nextEntry(
  board: BoardDef,
  entry: EntryState | undefined,
  value: number,
  at: Date,
): EntryState | undefined {
  let score: number;
  if (board.operator === "sum") score = (entry?.score ?? 0) + value;
  else if (board.operator === "best")
    score = entry === undefined || better(board, value, entry.score) ? value : entry.score;
  else score = value;
  if (entry !== undefined && score === entry.score) return undefined;
  return {
    score,
    rankScore: board.sort === "desc" ? score : -score,
    reachedAt: at,
    ranked:
      board.minScore === null || (board.sort === "desc" ? score >= board.minScore : score <= board.minScore),
  };
}

export const rankKey = (entry: EntryState, userId: string): RankKey => ({
  score: entry.rankScore,
  reachedAt: entry.reachedAt.getTime(),
  userId,
});

/** The rank index list of a board period. */
export const listName = (boardId: string, periodKey: string) => `${boardId}:${periodKey}`;
