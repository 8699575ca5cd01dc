import type { Tx } from "../platform/db/database.ts";
import { isUuid, type ItemType, type ShopItemRow } from "./shop-items.ts";

export async function playerExists(tx: Tx, userId: string): Promise<boolean> {
  return (await tx.maybeOne(`SELECT 1 FROM users WHERE id = $1`, [userId])) !== undefined;
}

/** An item by id or by key (keys never look like UUIDs). */
export function findItem(tx: Tx, idOrKey: string): Promise<ShopItemRow | undefined> {
  return isUuid(idOrKey)
    ? tx.maybeOne<ShopItemRow>(`SELECT * FROM shop_items WHERE id = $1`, [idOrKey])
    : tx.maybeOne<ShopItemRow>(`SELECT * FROM shop_items WHERE key = $1`, [idOrKey]);
}

export function findItemsByKey(tx: Tx, keys: string[]): Promise<ShopItemRow[]> {
  return tx.rows<ShopItemRow>(`SELECT * FROM shop_items WHERE key = ANY($1::text[])`, [keys]);
}

export function allItems(tx: Tx): Promise<ShopItemRow[]> {
  return tx.rows<ShopItemRow>(`SELECT * FROM shop_items ORDER BY category, key`);
}

/** A shop item with what the asking player holds and has bought of it, and their balance. */
export interface CatalogueRow extends ShopItemRow {
  held: number;
  bought: number;
  balance: number;
}

export interface CatalogueFilter {
  category?: string;
  type?: ItemType;
  premium?: boolean;
  /** Only items the player can buy now (in stock, under the limit, affordable). */
  purchasable?: boolean;
  /** Only this item (by id or key). */
  item?: string;
  after?: { category: string; price: number; key: string };
  limit: number;
}

/**
 * The items on sale at `now` (active, inside their window) in catalogue order (category, price,
 * key), with the player's holdings and balance. One statement.
 */
export function catalogue(tx: Tx, userId: string, now: Date, f: CatalogueFilter): Promise<CatalogueRow[]> {
  return tx.rows<CatalogueRow>(
    `SELECT i.*, coalesce(inv.quantity, 0) AS held, coalesce(inv.purchased, 0) AS bought,
            coalesce(w.balance, 0) AS balance
     FROM shop_items i
     LEFT JOIN user_inventory inv ON inv.user_id = $1 AND inv.item_id = i.id
     LEFT JOIN wallets w ON w.user_id = $1 AND w.currency = i.currency
     WHERE i.active
       AND (i.available_from IS NULL OR i.available_from <= $2)
       AND (i.available_until IS NULL OR i.available_until > $2)
       AND ($3::text IS NULL OR i.category = $3)
       AND ($4::text IS NULL OR i.item_type = $4)
       AND ($5::boolean IS NULL OR i.premium = $5)
       AND (NOT $6 OR (
             (i.stock IS NULL OR i.stock > 0)
             AND (i.per_player_limit IS NULL OR coalesce(inv.purchased, 0) < i.per_player_limit)
             AND (i.item_type NOT IN ('avatar', 'badge') OR coalesce(inv.quantity, 0) = 0)
             AND coalesce(w.balance, 0) >= i.price))
       AND ($7::text IS NULL OR i.id::text = lower($7) OR i.key = $7)
       AND ($8::text IS NULL OR (i.category, i.price, i.key) > ($8::text, $9::bigint, $10::text))
     ORDER BY i.category, i.price, i.key
     LIMIT $11`,
    [
      userId,
      now,
      f.category ?? null,
      f.type ?? null,
      f.premium ?? null,
      f.purchasable ?? false,
      f.item ?? null,
      f.after?.category ?? null,
      f.after?.price ?? null,
      f.after?.key ?? null,
      f.limit + 1,
    ],
  );
}

/**
 * Takes units from a stocked item; the row stays locked until the transaction ends, so racing
 * purchases take them one after another. Returns what is left, or undefined if too few are.
 */
export async function takeStock(tx: Tx, itemId: string, quantity: number): Promise<number | undefined> {
  const row = await tx.maybeOne<{ stock: number }>(
    `UPDATE shop_items SET stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING stock`,
    [itemId, quantity],
  );
  return row?.stock;
}

/** Puts refunded units back into a stocked item (system transactions only). */
export async function returnStock(tx: Tx, itemId: string, quantity: number): Promise<void> {
  await tx.exec(`UPDATE shop_items SET stock = stock + $2 WHERE id = $1 AND stock IS NOT NULL`, [
    itemId,
    quantity,
  ]);
}

export interface PurchaseRow {
  id: string;
  user_id: string;
  item_id: string;
  quantity: number;
  unit_price: number;
  total: number;
  currency: string;
  status: "completed" | "refunded";
  idempotency_key: string;
  ledger_entry_id: number | null;
  created_at: Date;
  refunded_at: Date | null;
  refund: Record<string, unknown> | null;
}

/** A purchase with its item's key, name and type. */
export interface PurchaseListRow extends PurchaseRow {
  item_key: string;
  item_name: string;
  item_type: ItemType;
  cursor_at: string;
}

export function insertPurchase(
  tx: Tx,
  p: {
    id: string;
    userId: string;
    itemId: string;
    quantity: number;
    unitPrice: number;
    currency: string;
    idempotencyKey: string;
    ledgerEntryId: number | null;
    at: Date;
  },
): Promise<PurchaseRow> {
  return tx.one<PurchaseRow>(
    `INSERT INTO purchases (id, user_id, item_id, quantity, unit_price, total, currency, idempotency_key,
                            ledger_entry_id, created_at)
     VALUES ($1, $2, $3, $4::int, $5::bigint, $4::int * $5::bigint, $6, $7, $8, $9) RETURNING *`,
    [p.id, p.userId, p.itemId, p.quantity, p.unitPrice, p.currency, p.idempotencyKey, p.ledgerEntryId, p.at],
  );
}

/** A purchase by id, locked for its refund. */
export function lockPurchase(tx: Tx, id: string): Promise<PurchaseRow | undefined> {
  return tx.maybeOne<PurchaseRow>(`SELECT * FROM purchases WHERE id = $1 FOR UPDATE`, [id]);
}

export function findPurchaseOwner(tx: Tx, id: string): Promise<{ user_id: string } | undefined> {
  return tx.maybeOne<{ user_id: string }>(`SELECT user_id FROM purchases WHERE id = $1`, [id]);
}

export async function markRefunded(
  tx: Tx,
  userId: string,
  id: string,
  at: Date,
  refund: object,
): Promise<void> {
  await tx.exec(
    `UPDATE purchases SET status = 'refunded', refunded_at = $3, refund = $4 WHERE user_id = $1 AND id = $2`,
    [userId, id, at, refund],
  );
}

/** A player's purchases, newest first, keyset-paginated on (created_at, id). */
export function listPurchases(
  tx: Tx,
  userId: string,
  f: { status?: "completed" | "refunded"; item?: string; after?: { at: string; id: string }; limit: number },
): Promise<PurchaseListRow[]> {
  return tx.rows<PurchaseListRow>(
    `SELECT p.*, i.key AS item_key, i.name AS item_name, i.item_type, p.created_at::text AS cursor_at
     FROM purchases p JOIN shop_items i ON i.id = p.item_id
     WHERE p.user_id = $1 AND ($2::text IS NULL OR p.status = $2)
       AND ($3::text IS NULL OR i.key = $3 OR i.id::text = lower($3))
       AND ($4::timestamptz IS NULL OR (p.created_at, p.id) < ($4::timestamptz, $5::uuid))
     ORDER BY p.created_at DESC, p.id DESC
     LIMIT $6`,
    [userId, f.status ?? null, f.item ?? null, f.after?.at ?? null, f.after?.id ?? null, f.limit + 1],
  );
}

/** The first answer kept for an idempotency key, if the key was used. */
export function findAnswer<T>(
  tx: Tx,
  scope: string,
  userId: string,
  key: string,
): Promise<{ request_hash: Buffer; response: T } | undefined> {
  return tx.maybeOne<{ request_hash: Buffer; response: T }>(
    `SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND user_id = $2 AND key = $3`,
    [scope, userId, key],
  );
}

export async function saveAnswer(
  tx: Tx,
  a: { scope: string; userId: string; key: string; hash: Buffer; response: unknown },
): Promise<void> {
  await tx.exec(
    `INSERT INTO idempotency_keys (scope, user_id, key, request_hash, response) VALUES ($1, $2, $3, $4, $5)`,
    [a.scope, a.userId, a.key, a.hash, JSON.stringify(a.response)],
  );
}

/**
 * Checks the shop's books for the given players: what each holds as bought equals the units of
 * their completed purchases, and each paid purchase has its ledger entry for exactly its price.
 * (The inventory's own balance, held = bought + granted − used, is a CHECK on the table.)
 */
export function findShopDiscrepancies(
  tx: Tx,
  userIds: string[],
): Promise<{ user_id: string; currency: string; problem: string; detail: string }[]> {
  return tx.rows(
    `SELECT coalesce(inv.user_id, p.user_id) AS user_id, i.key AS currency, 'inventory' AS problem,
            format('%s bought (net of refunds) in the inventory, %s in completed purchases',
                   coalesce(inv.purchased, 0), coalesce(p.n, 0)) AS detail
     FROM (SELECT user_id, item_id, purchased FROM user_inventory WHERE user_id = ANY($1::uuid[])) inv
     FULL JOIN (SELECT user_id, item_id, sum(quantity) AS n FROM purchases
                WHERE user_id = ANY($1::uuid[]) AND status = 'completed' GROUP BY 1, 2) p
       ON p.user_id = inv.user_id AND p.item_id = inv.item_id
     JOIN shop_items i ON i.id = coalesce(inv.item_id, p.item_id)
     WHERE coalesce(inv.purchased, 0) <> coalesce(p.n, 0)
     UNION ALL
     SELECT p.user_id, p.currency, 'purchase',
            format('purchase %s of %s %s has no ledger entry paying it', p.id, p.total, p.currency)
     FROM purchases p
     WHERE p.user_id = ANY($1::uuid[]) AND p.total > 0 AND NOT EXISTS (
       SELECT 1 FROM ledger_entries l
       WHERE l.user_id = p.user_id AND l.currency = p.currency AND l.id = p.ledger_entry_id
         AND l.type = 'purchase' AND l.amount = -p.total)`,
    [userIds],
  );
}
