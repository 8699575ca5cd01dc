import { createHash } from "node:crypto";
import type { Engine } from "../engine/apply.ts";
import type { Snapshot } from "../engine/definitions.ts";
import type { Effects } from "../engine/effects.ts";
import type { Tx } from "../platform/db/database.ts";
import { AppError } from "../platform/http/errors.ts";
import { levelForXp } from "../progression/levels.ts";
import { setLevel } from "../progression/progress.store.ts";
import { findAnswer, saveAnswer } from "./shop.store.ts";

const NO_HASH = Buffer.alloc(0);

/**
 * Records an event Ludus emits for the economy (item.purchased, item.used, gift.claimed) through
 * the engine, in the caller's transaction: rules, quests, streaks, achievements and levels react to
 * it as to any event (a gift's XP levels the player up; "buy 3 items" can be a quest). Returns its
 * effects, which the caller's answer carries.
 */
export async function recordEvent(
  engine: Engine,
  tx: Tx,
  snapshot: Snapshot,
  e: { userId: string; type: string; data: Record<string, unknown>; at: Date },
): Promise<Effects> {
  const [result] = await engine.run(tx, snapshot, [
    {
      type: e.type,
      userId: e.userId,
      occurredAt: e.at,
      data: e.data,
      source: "system",
      sourceId: null,
      idempotencyKey: null,
      scope: "system",
      requestHash: NO_HASH,
    },
  ]);
  if (result === undefined) throw new Error(`${e.type} was not applied`);
  return result.effects;
}

/** What makes two requests "the same" for an idempotency key. */
export const requestHash = (parts: unknown[]): Buffer =>
  createHash("sha256").update(JSON.stringify(parts)).digest();

/**
 * An idempotency slot (a caller's key for one kind of request): `first` gives the answer kept for
 * the key if it was used with the same request, and refuses it if it was used for another; `keep`
 * stores the answer. The player's row must be locked first, so repeats of a key run one after
 * another and the second finds the first's answer.
 */
export function idempotencySlot(tx: Tx, scope: string, userId: string, key: string, hash: Buffer) {
  return {
    async first<T extends object>(): Promise<(T & { duplicate: boolean }) | undefined> {
      const found = await findAnswer<T>(tx, scope, userId, key);
      if (found === undefined) return undefined;
      if (!found.request_hash.equals(hash)) {
        throw new AppError("idempotency.key_reused", "This idempotency key was used for a different request");
      }
      return { ...found.response, duplicate: true };
    },
    keep: (response: unknown) => saveAnswer(tx, { scope, userId, key, hash, response }),
  };
}

/** Levels follow total XP: after XP is spent or refunded the level moves with it, either way. */
export async function followXp(
  tx: Tx,
  snapshot: Snapshot,
  userId: string,
  level: number,
  xp: number,
): Promise<void> {
  const next = levelForXp(snapshot.curve, xp);
  if (next !== level) await setLevel(tx, userId, next);
}
