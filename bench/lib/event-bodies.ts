/**
 * Realistic DietGame events (content/dietgame.json) for random players, made in the load generator
 * (a `generated` LoadBody, see load.ts): ~50% meal.logged, 25% exercise.logged (10–90 minutes), 15%
 * recipe.tried, 10% social.interaction, each with an idempotency key never used before.
 */
import type { BodyFactory } from "./load.ts";

export interface EventBodyOptions {
  /** Players to pick from, uniformly at random. */
  userIds: string[];
  /** null: one event per request (POST /v1/events); n: { events: [n events] } (POST /v1/events/batch). */
  perRequest: number | null;
  /** Start of every idempotency key; unique per run so no request repeats an earlier one. */
  keyPrefix: string;
  seed: number;
}

export interface BenchEvent {
  type: string;
  userId: string;
  occurredAt: string;
  idempotencyKey: string;
  data: Record<string, unknown>;
}

/** mulberry32: small, fast, and the same sequence for the same seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The event types this module sends. */
export const DIETGAME_EVENT_TYPES = ["meal.logged", "exercise.logged", "recipe.tried", "social.interaction"];

const MEALS = ["breakfast", "lunch", "dinner", "snack"];
const EXERCISES = ["walk", "run", "cycling", "swim", "yoga", "strength"];
const SOCIAL = ["like", "comment", "share", "message", "challenge"];

/** A generator of events: the n-th call returns the n-th event, idempotency key `<prefix>-<n>`. */
export function eventStream(options: Omit<EventBodyOptions, "perRequest">): () => BenchEvent {
  const rnd = random(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
  const between = (min: number, max: number) => min + Math.floor(rnd() * (max - min + 1));
  let n = 0;
  return () => {
    const userId = pick(options.userIds);
    // Sent within the hour after it happened, as an app backend would.
    const occurredAt = new Date(Date.now() - between(0, 3_600_000)).toISOString();
    const idempotencyKey = `${options.keyPrefix}-${n++}`;
    const roll = rnd();
    let type: string;
    let data: Record<string, unknown>;
    if (roll < 0.5) {
      type = "meal.logged";
      data = { mealType: pick(MEALS), calories: between(80, 1200) };
    } else if (roll < 0.75) {
      type = "exercise.logged";
      data = { minutes: between(10, 90), kind: pick(EXERCISES) };
    } else if (roll < 0.9) {
      type = "recipe.tried";
      data = { recipeId: `recipe-${between(1, 500)}`, isNew: rnd() < 0.3 };
    } else {
      type = "social.interaction";
      data = { kind: pick(SOCIAL), friendId: pick(options.userIds) };
    }
    return { type, userId, occurredAt, idempotencyKey, data };
  };
}

export const createBodies: BodyFactory = (raw) => {
  const options = raw as EventBodyOptions;
  const next = eventStream(options);
  const size = options.perRequest;
  if (size === null) return () => JSON.stringify(next());
  return () => JSON.stringify({ events: Array.from({ length: size }, next) });
};
