/**
 * Boost arithmetic, with no I/O: the engine's planner asks what boosts a player had running when an
 * event happened, and the inventory asks where a boost used now ends.
 *
 * Stacking: the same item used again while its boost runs extends that boost's end by its
 * duration; boosts of different items on one currency multiply, up to BOOST_CEILING. Multipliers
 * are kept in thousandths so that 1.15 × 100 pays 15 extra, not 14.999….
 */

/** The most a player's boosts on one currency multiply awards by, however many are running. */
export const BOOST_CEILING = 3;

/** A boost as the planner sees it: the item it came from and its window. */
export interface BoostWindow {
  key: string;
  currency: string;
  multiplier: number;
  startsAt: Date;
  endsAt: Date;
}

export interface ActiveBoost {
  /** Keys of the items whose boosts are running, in the order given. */
  keys: string[];
  /** The combined multiplier, at most BOOST_CEILING. */
  multiplier: number;
}

const milli = (m: number) => Math.round(m * 1000);

/** Whether a boost window contains the instant: it starts at startsAt and is over at endsAt. */
export const covers = (b: { startsAt: Date; endsAt: Date }, at: Date): boolean =>
  b.startsAt.getTime() <= at.getTime() && at.getTime() < b.endsAt.getTime();

/**
 * The boosts on `currency` running at `at` and their combined multiplier (the product, capped at
 * the ceiling); undefined when none is.
 */
export function boostAt(boosts: readonly BoostWindow[], currency: string, at: Date): ActiveBoost | undefined {
  let product = 1000;
  const keys: string[] = [];
  for (const b of boosts) {
    if (b.currency !== currency || !covers(b, at)) continue;
    keys.push(b.key);
    product = Math.round((product * milli(b.multiplier)) / 1000);
  }
  if (keys.length === 0) return undefined;
  return { keys, multiplier: Math.min(product, BOOST_CEILING * 1000) / 1000 };
}

/** What a multiplier adds to an award: the award times (multiplier − 1), rounded down. */
export function boostExtra(amount: number, multiplier: number): number {
  return Math.floor((amount * (milli(multiplier) - 1000)) / 1000);
}

/**
 * The combined multiplier of each currency that has boosts running at `at`, for showing them.
 */
export function multipliersAt(boosts: readonly BoostWindow[], at: Date): Record<string, number> {
  const out: Record<string, number> = {};
  for (const currency of new Set(boosts.map((b) => b.currency))) {
    const active = boostAt(boosts, currency, at);
    if (active !== undefined) out[currency] = active.multiplier;
  }
  return out;
}

/**
 * Where a boost used at `now` for `minutes` runs: the same item's boost still running (`current`,
 * if any) is extended by the duration from its end; otherwise a new one starts now.
 */
export function boostWindowFor(
  current: { startsAt: Date; endsAt: Date } | undefined,
  now: Date,
  minutes: number,
): { startsAt: Date; endsAt: Date; extended: boolean } {
  const ms = minutes * 60_000;
  if (current !== undefined && current.endsAt.getTime() > now.getTime()) {
    return { startsAt: current.startsAt, endsAt: new Date(current.endsAt.getTime() + ms), extended: true };
  }
  return { startsAt: now, endsAt: new Date(now.getTime() + ms), extended: false };
}
