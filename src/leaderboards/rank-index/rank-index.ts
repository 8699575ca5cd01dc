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
   * fully built from PostgreSQL, so that a starting instance rebuilds it only when it never was
   * (or after `ludus ranks rebuild` cleared the mark).
   */
  isBuilt?(): Promise<boolean>;
  setBuilt?(built: boolean): Promise<void>;
  close(): Promise<void>;
}
