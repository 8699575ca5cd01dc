import type { Tx } from "../platform/db/database.ts";
import type { BoostWindow } from "./boosts.ts";
import type { ItemType, ShopItemRow } from "./shop-items.ts";

export interface InventoryRow {
  user_id: string;
  item_id: string;
  quantity: number;
  purchased: number;
  granted: number;
  used: number;
  equipped: boolean;
  first_acquired_at: Date;
  last_used_at: Date | null;
}

export type InventoryItemRow = InventoryRow & { item: ShopItemRow };

export function inventoryOf(tx: Tx, userId: string, itemId: string): Promise<InventoryRow | undefined> {
  return tx.maybeOne<InventoryRow>(`SELECT * FROM user_inventory WHERE user_id = $1 AND item_id = $2`, [
    userId,
    itemId,
  ]);
}

/** Adds bought or granted units to a player's inventory (making the row on first acquisition). */
export function addToInventory(
  tx: Tx,
  a: { userId: string; itemId: string; purchased: number; granted: number; at: Date },
): Promise<InventoryRow> {
  return tx.one<InventoryRow>(
    `INSERT INTO user_inventory (user_id, item_id, quantity, purchased, granted, first_acquired_at)
     VALUES ($1, $2, $3::bigint + $4::bigint, $3::bigint, $4::bigint, $5)
     ON CONFLICT (user_id, item_id) DO UPDATE SET
       quantity = user_inventory.quantity + EXCLUDED.quantity,
       purchased = user_inventory.purchased + EXCLUDED.purchased,
       granted = user_inventory.granted + EXCLUDED.granted,
       updated_at = now()
     RETURNING *`,
    [a.userId, a.itemId, a.purchased, a.granted, a.at],
  );
}

/** Uses up units the player holds; undefined (nothing changed) if they hold too few. */
export function useUnits(
  tx: Tx,
  userId: string,
  itemId: string,
  quantity: number,
  at: Date,
): Promise<InventoryRow | undefined> {
  return tx.maybeOne<InventoryRow>(
    `UPDATE user_inventory SET quantity = quantity - $3, used = used + $3, last_used_at = $4, updated_at = now()
     WHERE user_id = $1 AND item_id = $2 AND quantity >= $3 RETURNING *`,
    [userId, itemId, quantity, at],
  );
}

/** Takes refunded units back out; undefined (nothing changed) if fewer are held unused. */
export function removePurchased(
  tx: Tx,
  userId: string,
  itemId: string,
  quantity: number,
): Promise<InventoryRow | undefined> {
  return tx.maybeOne<InventoryRow>(
    `UPDATE user_inventory SET quantity = quantity - $3, purchased = purchased - $3,
       equipped = equipped AND quantity - $3 > 0, updated_at = now()
     WHERE user_id = $1 AND item_id = $2 AND quantity >= $3 AND purchased >= $3 RETURNING *`,
    [userId, itemId, quantity],
  );
}

/**
 * Equips a cosmetic. Avatars are exclusive: equipping one takes any other avatar off. Returns the
 * row, or undefined if the player does not hold it.
 */
export async function equip(
  tx: Tx,
  userId: string,
  item: Pick<ShopItemRow, "id" | "item_type">,
  at: Date,
): Promise<InventoryRow | undefined> {
  const row = await tx.maybeOne<InventoryRow>(
    `UPDATE user_inventory SET equipped = true, last_used_at = $3, updated_at = now()
     WHERE user_id = $1 AND item_id = $2 AND quantity > 0 RETURNING *`,
    [userId, item.id, at],
  );
  if (row !== undefined && item.item_type === "avatar") {
    await tx.exec(
      `UPDATE user_inventory inv SET equipped = false, updated_at = now()
       FROM shop_items i
       WHERE inv.user_id = $1 AND inv.item_id = i.id AND i.item_type = 'avatar' AND inv.item_id <> $2
         AND inv.equipped`,
      [userId, item.id],
    );
  }
  return row;
}

export function unequip(tx: Tx, userId: string, itemId: string): Promise<InventoryRow | undefined> {
  return tx.maybeOne<InventoryRow>(
    `UPDATE user_inventory SET equipped = false, updated_at = now()
     WHERE user_id = $1 AND item_id = $2 AND quantity > 0 RETURNING *`,
    [userId, itemId],
  );
}

/** A player's inventory with each item, in catalogue order; rows used up are left out unless asked. */
export async function listInventory(
  tx: Tx,
  userId: string,
  f: { type?: ItemType; category?: string; all: boolean },
): Promise<InventoryItemRow[]> {
  const rows = await tx.rows<InventoryRow & { item: ShopItemJson }>(
    `SELECT inv.*, to_jsonb(i) AS item
     FROM user_inventory inv JOIN shop_items i ON i.id = inv.item_id
     WHERE inv.user_id = $1 AND ($2 OR inv.quantity > 0 OR inv.equipped)
       AND ($3::text IS NULL OR i.item_type = $3) AND ($4::text IS NULL OR i.category = $4)
     ORDER BY i.category, i.key`,
    [userId, f.all, f.type ?? null, f.category ?? null],
  );
  return rows.map((r) => ({ ...r, item: fromJson(r.item) }));
}

/** A shop item row as to_jsonb gives it: timestamps as text. */
type ShopItemJson = Omit<ShopItemRow, "available_from" | "available_until" | "created_at" | "updated_at"> & {
  available_from: string | null;
  available_until: string | null;
  created_at: string;
  updated_at: string;
};

const fromJson = (i: ShopItemJson): ShopItemRow => ({
  ...i,
  available_from: i.available_from === null ? null : new Date(i.available_from),
  available_until: i.available_until === null ? null : new Date(i.available_until),
  created_at: new Date(i.created_at),
  updated_at: new Date(i.updated_at),
});

export async function addRecipes(tx: Tx, userId: string, count: number): Promise<number> {
  const row = await tx.one<{ recipes_unlocked: number }>(
    `UPDATE user_progress SET recipes_unlocked = recipes_unlocked + $2, updated_at = now()
     WHERE user_id = $1 RETURNING recipes_unlocked`,
    [userId, count],
  );
  return row.recipes_unlocked;
}

export interface BoostRow {
  id: number;
  user_id: string;
  item_id: string;
  item_key: string;
  item_name: string;
  currency: string;
  multiplier: number;
  starts_at: Date;
  ends_at: Date;
}

const BOOSTS = `
  SELECT b.id, b.user_id, b.item_id, i.key AS item_key, i.name AS item_name, b.currency, b.multiplier,
         b.starts_at, b.ends_at
  FROM user_boosts b JOIN shop_items i ON i.id = b.item_id`;

/** The player's boost of this item that is still running at `now`, if any. */
export function runningBoost(
  tx: Tx,
  userId: string,
  itemId: string,
  now: Date,
): Promise<BoostRow | undefined> {
  return tx.maybeOne<BoostRow>(
    `${BOOSTS} WHERE b.user_id = $1 AND b.item_id = $2 AND b.ends_at > $3 ORDER BY b.ends_at DESC LIMIT 1`,
    [userId, itemId, now],
  );
}

export async function startBoost(
  tx: Tx,
  b: { userId: string; itemId: string; currency: string; multiplier: number; startsAt: Date; endsAt: Date },
): Promise<void> {
  await tx.exec(
    `INSERT INTO user_boosts (user_id, item_id, currency, multiplier, starts_at, ends_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [b.userId, b.itemId, b.currency, b.multiplier, b.startsAt, b.endsAt],
  );
}

export async function extendBoost(tx: Tx, userId: string, id: number, endsAt: Date): Promise<void> {
  await tx.exec(`UPDATE user_boosts SET ends_at = $3, updated_at = now() WHERE user_id = $1 AND id = $2`, [
    userId,
    id,
    endsAt,
  ]);
}

/** The player's boosts that have not ended by `now` (those running, and any starting later). */
export function currentBoosts(tx: Tx, userId: string, now: Date): Promise<BoostRow[]> {
  return tx.rows<BoostRow>(`${BOOSTS} WHERE b.user_id = $1 AND b.ends_at > $2 ORDER BY b.ends_at, b.id`, [
    userId,
    now,
  ]);
}

export const toBoostWindow = (b: BoostRow): BoostWindow => ({
  key: b.item_key,
  currency: b.currency,
  multiplier: b.multiplier,
  startsAt: b.starts_at,
  endsAt: b.ends_at,
});

/** SQL for the engine's read of players' boosts: those ending after the parameter named. */
export const boostsSql = (players: string, since: string) => `
  SELECT b.user_id, i.key, b.currency, b.multiplier, b.starts_at, b.ends_at
  FROM user_boosts b JOIN shop_items i ON i.id = b.item_id
  WHERE b.user_id = ANY(${players}::uuid[]) AND ${since}::timestamptz IS NOT NULL AND b.ends_at > ${since}::timestamptz`;
