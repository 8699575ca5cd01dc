/**
 * The rank index: for each board period, the entries in rank order, so that a player's rank, a
 * page of the top and the neighbours of a rank take O(log n) instead of PostgreSQL's O(rank)
 * COUNT(*). PostgreSQL holds the entries and is the truth; an index is rebuilt from it.
 *
 * An entry's key is what orders it. `score` is normalised by the caller so that higher is better
 * (a board where lower wins stores the negated score); ties go to the earlier `reachedAt`
 * (milliseconds since the epoch), then to the smaller user id, so no two keys are equal.
 */
export interface RankKey {
  score: number;
  reachedAt: number;
  userId: string;
}

/** Negative if `a` ranks before (is better than) `b`, positive if after; 0 only for the same key. */
export function compareKeys(a: RankKey, b: RankKey): number {
  if (a.score !== b.score) return a.score > b.score ? -1 : 1;
  if (a.reachedAt !== b.reachedAt) return a.reachedAt < b.reachedAt ? -1 : 1;
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

/**
 * One implementation per place the index lives: in this process (the default) or in Redis (shared
 * by every instance). `list` names one board period, e.g. `${boardId}:${periodKey}`.
 */
export interface RankIndex {
  /** Puts an entry in, or moves it: `previous` is its key before the change, if it had one. */
  upsert(list: string, next: RankKey, previous?: RankKey): Promise<void>;
  /** Applies many changes at once (rebuilds, batches of events), in order. */
  upsertMany(list: string, changes: { next: RankKey; previous?: RankKey }[]): Promise<void>;
  remove(list: string, key: RankKey): Promise<void>;
  /** How many entries rank before this key (0 for the first); the key need not be in the list. */
  rank(list: string, key: RankKey): Promise<number>;
  /** The entries at ranks offset … offset + limit − 1, best first. */
  range(list: string, offset: number, limit: number): Promise<RankKey[]>;
  size(list: string): Promise<number>;
  /** Forgets a list (a closed period, or before a rebuild). */
  drop(list: string): Promise<void>;
  /**
   * Only for an index other instances share (Redis), which outlives this process: whether it was
   * fully built from PostgreSQL and nothing has been lost since, so that reads may use it and a
   * starting instance rebuilds it only when it must.
   */
  isBuilt?(): Promise<boolean>;
  /**
   * Only for a shared index: marks it not built after a change this instance could not write, so
   * that every instance answers from PostgreSQL (reads then throw `RankIndexNotBuilt`) until a
   * rebuild, and a rebuild running meanwhile does not finish on a copy that lacks the change.
   */
  invalidate?(): Promise<void>;
  /**
   * Only for a shared index: starts a rebuild that fills new copies of the lists while every
   * instance keeps writing its changes to the live ones (and to a journal the rebuild replays),
   * then swaps the copies in at once. Undefined when another rebuild holds the lock.
   */
  beginRebuild?(): Promise<SharedRebuild | undefined>;
  close(): Promise<void>;
}

/** A rebuild of a shared index in progress (see `RankIndex.beginRebuild`). */
export interface SharedRebuild {
  /** Adds keys to the new copy of a list (the first call for a list starts it empty). */
  fill(list: string, keys: RankKey[]): Promise<void>;
  /**
   * Replays onto the new copies every change made since the rebuild began, swaps them in for the
   * live lists and marks the index built. Throws if the rebuild lost its lock or the index was
   * invalidated meanwhile; then nothing is swapped.
   */
  finish(): Promise<void>;
  /** Gives up: the copies and the journal are deleted, the live lists stay as they are. */
  abort(): Promise<void>;
}

/** A shared index read while it is not built (being rebuilt, or invalidated): ask PostgreSQL. */
export class RankIndexNotBuilt extends Error {
  constructor() {
    super("the shared rank index is not built");
    this.name = "RankIndexNotBuilt";
  }
}

/**
 * A shared rebuild that could not finish: it lost its lock (it stalled past the lock's time to
 * live), or an instance could not write a change meanwhile. Nothing was swapped; start again.
 */
export class RebuildInterrupted extends Error {
  constructor(reason: string) {
    super(`the rank index rebuild was interrupted: ${reason}`);
    this.name = "RebuildInterrupted";
  }
}
