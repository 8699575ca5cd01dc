/**
 * Shop purchases for random players, made in the load generator (a `generated` LoadBody, see
 * load.ts): each request is POST /v1/shop/{item}/purchase with one player's access token, an item
 * picked by weight and an idempotency key never used before.
 */
import type { BodyFactory } from "./load.ts";

export interface PurchaseRequestOptions {
  /** Access tokens of the players to pick from, uniformly at random. */
  tokens: string[];
  /** Items (keys) and how often each is bought relative to the others. */
  items: { key: string; weight: number }[];
  /** Start of every idempotency key; unique per run so no request repeats an earlier one. */
  keyPrefix: string;
  seed: number;
}

/** mulberry32, as in event-bodies.ts. */
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

export const createBodies: BodyFactory = (raw) => {
  const options = raw as PurchaseRequestOptions;
  const rnd = random(options.seed);
  const total = options.items.reduce((s, i) => s + i.weight, 0);
  const pickItem = () => {
    let roll = rnd() * total;
    for (const item of options.items) {
      roll -= item.weight;
      if (roll < 0) return item.key;
    }
    return options.items[options.items.length - 1]!.key;
  };
  return (n) => {
    const token = options.tokens[Math.floor(rnd() * options.tokens.length)]!;
    return {
      path: `/v1/shop/${pickItem()}/purchase`,
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ idempotencyKey: `${options.keyPrefix}-${n}` }),
    };
  };
};
