import type { Tx } from "../platform/db/database.ts";

export interface GiftRow {
  id: string;
  key: string;
  name: string;
  description: string;
  rewards: { currency: string; amount: number }[];
  items: { item: string; quantity: number }[];
  active: boolean;
  starts_at: Date | null;
  ends_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export function findGift(tx: Tx, key: string): Promise<GiftRow | undefined> {
  return tx.maybeOne<GiftRow>(`SELECT * FROM gifts WHERE key = $1`, [key]);
}

export function allGifts(tx: Tx): Promise<GiftRow[]> {
  return tx.rows<GiftRow>(`SELECT * FROM gifts ORDER BY key`);
}

/** Active gifts open at `now` or already claimed by the player, with the claim. */
export function giftsFor(
  tx: Tx,
  userId: string,
  now: Date,
): Promise<(GiftRow & { claimed_at: Date | null })[]> {
  return tx.rows<GiftRow & { claimed_at: Date | null }>(
    `SELECT g.*, ug.claimed_at
     FROM gifts g LEFT JOIN user_gifts ug ON ug.gift_id = g.id AND ug.user_id = $1
     WHERE ug.user_id IS NOT NULL
        OR (g.active AND (g.starts_at IS NULL OR g.starts_at <= $2) AND (g.ends_at IS NULL OR g.ends_at > $2))
     ORDER BY g.key`,
    [userId, now],
  );
}

export function findClaim<T>(tx: Tx, userId: string, giftId: string): Promise<{ result: T } | undefined> {
  return tx.maybeOne<{ result: T }>(`SELECT result FROM user_gifts WHERE user_id = $1 AND gift_id = $2`, [
    userId,
    giftId,
  ]);
}

export async function insertClaim(
  tx: Tx,
  c: { userId: string; giftId: string; at: Date; result: unknown },
): Promise<void> {
  await tx.exec(`INSERT INTO user_gifts (user_id, gift_id, claimed_at, result) VALUES ($1, $2, $3, $4)`, [
    c.userId,
    c.giftId,
    c.at,
    JSON.stringify(c.result),
  ]);
}

export async function markWelcomeGiftClaimed(tx: Tx, userId: string): Promise<void> {
  await tx.exec(`UPDATE user_progress SET has_claimed_gift = true, updated_at = now() WHERE user_id = $1`, [
    userId,
  ]);
}
