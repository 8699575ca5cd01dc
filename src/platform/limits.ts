/**
 * The ceilings of every amount Ludus stores, in one place (docs/engine.md "Numbers" lists them).
 *
 * JavaScript reads integers exactly up to 2^53 - 1 (about 9.007e15). Balances, counters and board
 * scores are kept at most VALUE_CEILING (10^15) in magnitude, so any sum of two of them is still
 * exact; every amount that enters one of them is bounded by a ceiling far below it. The database
 * enforces VALUE_CEILING with CHECK constraints named `*_ceiling` (migration 0015), so even a bug
 * cannot store more; crossing it is refused with `limits.ceiling_reached` (409).
 */
export const LIMITS = {
  /** The most (in magnitude) a balance, a lifetime total, a counter or a board score may reach. */
  valueCeiling: 1_000_000_000_000_000,
  /** One award of one rule for one event (fixed, or read from the event and multiplied). */
  award: 1_000_000_000,
  /** One fixed reward (achievements, quests, streak milestones, gifts). */
  reward: 1_000_000_000,
  /** One counter increment (in magnitude), fixed in a rule or read from the event. */
  counterStep: 1_000_000_000,
  /** One admin adjustment (in magnitude). */
  adjustment: 1_000_000_000,
  /** The price of a shop item. */
  price: 1_000_000_000,
  /** One score (in magnitude): submitted by an app, or read from an event by a board. */
  score: 1_000_000_000_000,
  /** A currency's configured maximum balance. */
  maxBalance: 1_000_000_000_000,
} as const;

/** Whether a number is a finite value within ±limit. */
export const within = (value: number, limit: number): boolean =>
  Number.isFinite(value) && Math.abs(value) <= limit;
