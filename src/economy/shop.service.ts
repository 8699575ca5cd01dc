import { randomUUID } from "node:crypto";
import { audit, type AuditActor, type RequestMeta } from "../audit/audit.service.ts";
import type { Engine } from "../engine/apply.ts";
import type { Definitions } from "../engine/definitions.ts";
import type { Effects } from "../engine/effects.ts";
import { saveKeyed } from "../engine/keyed-definitions.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import { decodeCursor, toPage } from "../platform/http/pagination.ts";
import { lockPlayer } from "../progression/progress.store.ts";
import { followXp, idempotencySlot, recordEvent, requestHash } from "./economy-events.ts";
import { addToInventory, inventoryOf, removePurchased } from "./inventory.store.ts";
import { balanceOf, credit, debit } from "./ledger.store.ts";
import { COSMETICS, SHOP_ITEMS, shopItemView, type ShopItemInput, type ShopItemRow } from "./shop-items.ts";
import {
  allItems,
  catalogue,
  findItem,
  findPurchaseOwner,
  insertPurchase,
  listPurchases,
  lockPurchase,
  markRefunded,
  playerExists,
  returnStock,
  takeStock,
  type CatalogueFilter,
  type CatalogueRow,
  type PurchaseListRow,
} from "./shop.store.ts";

const itemRef = (i: Pick<ShopItemRow, "id" | "key" | "name" | "item_type">) => ({
  id: i.id,
  key: i.key,
  name: i.name,
  type: i.item_type,
});

export interface PurchaseResult {
  purchaseId: string;
  item: ReturnType<typeof itemRef>;
  quantity: number;
  unitPrice: number;
  total: number;
  currency: string;
  /** The balance after paying; null for free items (nothing was debited). */
  balance: number | null;
  /** Units of the item the player holds now. */
  held: number;
  /** Units left in the shop; null when the item is not stocked. */
  stockLeft: number | null;
  createdAt: string;
  duplicate: boolean;
  effects: Effects;
}

export interface RefundResult {
  purchaseId: string;
  userId: string;
  item: ReturnType<typeof itemRef>;
  quantity: number;
  amount: number;
  currency: string;
  balance: number | null;
  reason: string;
  refundedAt: string;
  duplicate: boolean;
}

export interface GrantResult {
  userId: string;
  item: ReturnType<typeof itemRef>;
  quantity: number;
  held: number;
  reason: string;
  duplicate: boolean;
}

/** Why an item cannot be bought now by this player, if it cannot; the order of the checks. */
function refusal(item: ShopItemRow, now: Date): AppError | undefined {
  if (!item.active) return new AppError("shop.item_inactive", `${item.name} is not for sale`);
  if (item.available_from !== null && now < item.available_from) {
    return new AppError(
      "shop.item_unavailable",
      `${item.name} is on sale from ${item.available_from.toISOString()}`,
    );
  }
  if (item.available_until !== null && now >= item.available_until) {
    return new AppError(
      "shop.item_unavailable",
      `${item.name} was on sale until ${item.available_until.toISOString()}`,
    );
  }
  return undefined;
}

/** The catalogue cursor: the (category, price, key) of the last item of a page. */
function decodeCatalogueCursor(cursor: string | undefined): CatalogueFilter["after"] {
  if (cursor === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(v) &&
      v.length === 3 &&
      typeof v[0] === "string" &&
      v[0].length <= 50 &&
      Number.isSafeInteger(v[1]) &&
      typeof v[2] === "string" &&
      /^[a-z0-9][a-z0-9_.-]{0,63}$/.test(v[2])
    ) {
      return { category: v[0], price: v[1] as number, key: v[2] };
    }
  } catch {
    // fall through
  }
  throw new AppError("validation.failed", "The cursor is not valid", {
    errors: [{ path: "querystring/cursor", message: "is not a cursor from this API" }],
  });
}

/**
 * The shop: items (admin CRUD, content packs), the catalogue as a player sees it, purchases (one
 * transaction each: never an overdraft, never more than the stock or the player's limit), purchase
 * history, and operators' grants and refunds.
 */
export class ShopService {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
    private readonly engine: Engine,
    private readonly clock: Clock,
  ) {}

  list() {
    return this.db.asSystem(async (tx) => (await allItems(tx)).map(shopItemView));
  }

  save(
    actor: AuditActor,
    meta: RequestMeta,
    input: ShopItemInput | (Partial<ShopItemInput> & { key: string }),
    mode: "create" | "update",
  ) {
    return saveKeyed(this.db, this.definitions, SHOP_ITEMS, { actor, meta }, input, mode);
  }

  /** Items on sale now, with what the player holds, may still buy and can afford. */
  async catalogue(
    userId: string,
    f: Omit<CatalogueFilter, "after" | "item"> & { cursor?: string },
  ): Promise<{ items: ReturnType<typeof catalogueView>[]; nextCursor: string | null }> {
    const after = decodeCatalogueCursor(f.cursor);
    const now = this.clock.now();
    const rows = await this.db.asUser(userId, (tx) => catalogue(tx, userId, now, { ...f, after }));
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(catalogueView),
      nextCursor:
        rows.length > f.limit && last !== undefined
          ? Buffer.from(JSON.stringify([last.category, last.price, last.key])).toString("base64url")
          : null,
    };
  }

  /** One item on sale now, as the catalogue shows it. */
  async item(userId: string, ref: string) {
    const now = this.clock.now();
    const [row] = await this.db.asUser(userId, (tx) => catalogue(tx, userId, now, { item: ref, limit: 1 }));
    if (row === undefined) throw notFound("Shop item");
    return catalogueView(row);
  }

  /**
   * Buys `quantity` units in one transaction: the player's row is locked (their purchases and
   * events run one at a time), the price is debited (never below zero), units are taken from the
   * stock, the inventory, the purchase, its ledger entry and audit row are written, and an
   * item.purchased event is applied. Every refusal throws, so nothing is written. A repeat of the
   * idempotency key answers the first purchase and changes nothing.
   */
  async purchase(
    userId: string,
    ref: string,
    body: { quantity?: number; idempotencyKey: string },
    meta: RequestMeta,
  ): Promise<PurchaseResult> {
    const quantity = body.quantity ?? 1;
    const snapshot = await this.definitions.snapshot();
    const now = this.clock.now();
    return this.db.asUser(userId, async (tx) => {
      // The player first, then the item: read after waiting for the player's earlier purchases,
      // so price, stock and availability are as fresh as this transaction can see them.
      const player = await lockPlayer(tx, userId);
      const item = await findItem(tx, ref);
      if (item === undefined) throw notFound("Shop item");
      const slot = idempotencySlot(
        tx,
        "shop:purchase",
        userId,
        body.idempotencyKey,
        requestHash([item.id, quantity]),
      );
      const first = await slot.first<PurchaseResult>();
      if (first !== undefined) return first;

      const refused = refusal(item, now);
      if (refused !== undefined) throw refused;
      const held = await inventoryOf(tx, userId, item.id);
      if (COSMETICS.has(item.item_type) && ((held?.quantity ?? 0) > 0 || quantity > 1)) {
        throw new AppError("shop.limit_reached", `A player holds ${item.name} at most once`);
      }
      if (item.per_player_limit !== null && (held?.purchased ?? 0) + quantity > item.per_player_limit) {
        throw new AppError(
          "shop.limit_reached",
          `A player may buy at most ${item.per_player_limit} of ${item.name}; you bought ${held?.purchased ?? 0}`,
        );
      }
      // A first look at the stock, so a sold-out item is refused before anything is written; the
      // decrement at the end decides under the item's row lock.
      if (item.stock !== null && item.stock < quantity) throw outOfStock(item);

      const purchaseId = randomUUID();
      const total = item.price * quantity;
      const paid =
        total === 0
          ? undefined
          : await debit(
              tx,
              {
                userId,
                currency: item.currency,
                amount: -total,
                type: "purchase",
                reason: `Purchase: ${item.name}`,
                source: `shop:${item.key}`,
                reference: purchaseId,
                metadata: { item: item.key, quantity, unitPrice: item.price },
              },
              { overdraft: false },
            );
      if (total > 0 && paid === undefined) {
        throw new AppError(
          "economy.insufficient_funds",
          `${quantity} × ${item.name} costs ${total} ${item.currency}, more than your balance`,
        );
      }
      if (paid !== undefined && item.currency === "xp") {
        await followXp(tx, snapshot, userId, player.level, paid.balance);
      }
      if (paid !== undefined) {
        await this.engine.balanceChanged(tx, snapshot, userId, item.currency, paid.balance);
      }
      const inventory = await addToInventory(tx, {
        userId,
        itemId: item.id,
        purchased: quantity,
        granted: 0,
        at: now,
      });
      await insertPurchase(tx, {
        id: purchaseId,
        userId,
        itemId: item.id,
        quantity,
        unitPrice: item.price,
        currency: item.currency,
        idempotencyKey: body.idempotencyKey,
        ledgerEntryId: paid?.entryId ?? null,
        at: now,
      });
      await audit(tx, { type: "user", id: userId }, meta, {
        action: "shop.purchased",
        resourceType: "purchase",
        resourceId: purchaseId,
        after: { item: item.key, quantity, total, currency: item.currency, balance: paid?.balance ?? null },
      });
      const effects = await recordEvent(this.engine, tx, snapshot, {
        userId,
        type: "item.purchased",
        data: {
          item: item.key,
          itemType: item.item_type,
          category: item.category,
          quantity,
          currency: item.currency,
          total,
          purchaseId,
        },
        at: now,
      });
      // Last, so the item's row (which racing buyers of a stocked item queue on) is held briefly.
      let stockLeft: number | null = null;
      if (item.stock !== null) {
        const left = await takeStock(tx, item.id, quantity);
        if (left === undefined) throw outOfStock(item);
        stockLeft = left;
      }
      const result: PurchaseResult = {
        purchaseId,
        item: itemRef(item),
        quantity,
        unitPrice: item.price,
        total,
        currency: item.currency,
        balance: paid?.balance ?? null,
        held: inventory.quantity,
        stockLeft,
        createdAt: now.toISOString(),
        duplicate: false,
        effects,
      };
      await slot.keep(result);
      return result;
    });
  }

  /** A player's purchases, newest first. */
  async history(
    userId: string,
    f: { status?: "completed" | "refunded"; item?: string; cursor?: string; limit: number },
    as: "user" | "admin" = "user",
  ) {
    const after = decodeCursor(f.cursor);
    const read = async (tx: Tx) => {
      // A bad cursor is a 400 first (the database may refuse it), then an unknown player a 404.
      const rows = await listPurchases(tx, userId, { ...f, after });
      if (as === "admin" && !(await playerExists(tx, userId))) throw notFound("Player");
      return rows;
    };
    const rows = as === "admin" ? await this.db.asSystem(read) : await this.db.asUser(userId, read);
    return toPage(rows, f.limit, (r) => ({ at: r.cursor_at, id: r.id }), purchaseView);
  }

  /**
   * Refunds a purchase: the price back as a `refund` ledger entry (not counted as earned), the
   * units out of the inventory (refused if the player no longer holds them unused), the stock back,
   * the purchase marked and audited. Refunding again answers the first refund.
   */
  async refund(
    actor: AuditActor,
    meta: RequestMeta,
    purchaseId: string,
    reason: string,
  ): Promise<RefundResult> {
    const snapshot = await this.definitions.snapshot();
    const now = this.clock.now();
    return this.db.asSystem(async (tx) => {
      const owner = await findPurchaseOwner(tx, purchaseId);
      if (owner === undefined) throw notFound("Purchase");
      const player = await lockPlayer(tx, owner.user_id);
      const p = await lockPurchase(tx, purchaseId);
      if (p === undefined) throw notFound("Purchase");
      if (p.status === "refunded") return { ...(p.refund as unknown as RefundResult), duplicate: true };
      const item = await findItem(tx, p.item_id);
      if (item === undefined) throw notFound("Shop item");
      if ((await removePurchased(tx, p.user_id, p.item_id, p.quantity)) === undefined) {
        throw new AppError(
          "shop.refund_not_possible",
          `The player no longer holds the ${p.quantity} unit(s) of ${item.name} bought (some were used)`,
        );
      }
      let balance: number | null = null;
      if (p.total > 0) {
        const cap = snapshot.currencyCaps.get(p.currency);
        if (cap !== undefined) {
          if ((await balanceOf(tx, p.user_id, p.currency)) + p.total > cap) {
            throw new AppError("economy.balance_cap", `A player may hold at most ${cap} ${p.currency}`);
          }
        }
        const posted = await credit(tx, {
          userId: p.user_id,
          currency: p.currency,
          amount: p.total,
          type: "refund",
          reason: `Refund: ${item.name}`,
          source: actor.type === "system" ? "admin:system" : `admin:${actor.id}`,
          reference: p.id,
          metadata: { item: item.key, quantity: p.quantity, reason },
          earned: false,
        });
        if (posted === undefined)
          throw new AppError("economy.unknown_currency", `Unknown currency ${p.currency}`);
        balance = posted.balance;
        if (p.currency === "xp") await followXp(tx, snapshot, p.user_id, player.level, posted.balance);
        await this.engine.balanceChanged(tx, snapshot, p.user_id, p.currency, posted.balance);
      }
      if (item.stock !== null) await returnStock(tx, item.id, p.quantity);
      const result: RefundResult = {
        purchaseId: p.id,
        userId: p.user_id,
        item: itemRef(item),
        quantity: p.quantity,
        amount: p.total,
        currency: p.currency,
        balance,
        reason,
        refundedAt: now.toISOString(),
        duplicate: false,
      };
      await markRefunded(tx, p.user_id, p.id, now, result);
      await audit(tx, actor, meta, {
        action: "shop.refunded",
        resourceType: "purchase",
        resourceId: p.id,
        subjectUserId: p.user_id,
        before: { status: "completed" },
        after: { ...result },
      });
      return result;
    });
  }

  /**
   * Gives a player units of an item, free and audited (idempotent by key). Grants ignore the
   * item's sale (active, window, stock, limit), so items not for sale can be given; a cosmetic is
   * still held at most once.
   */
  async grant(
    actor: AuditActor,
    meta: RequestMeta,
    userId: string,
    g: { item: string; quantity: number; reason: string; idempotencyKey: string },
  ): Promise<GrantResult> {
    const now = this.clock.now();
    return this.db.asSystem(async (tx) => {
      const player = await lockPlayer(tx, userId);
      if (!player.exists) throw notFound("Player");
      const item = await findItem(tx, g.item);
      if (item === undefined) throw notFound("Shop item");
      const scope = `shop:grant:${actor.type === "system" ? "system" : actor.id}`;
      const slot = idempotencySlot(
        tx,
        scope,
        userId,
        g.idempotencyKey,
        requestHash([item.id, g.quantity, g.reason]),
      );
      const first = await slot.first<GrantResult>();
      if (first !== undefined) return first;
      const held = await inventoryOf(tx, userId, item.id);
      if (COSMETICS.has(item.item_type) && ((held?.quantity ?? 0) > 0 || g.quantity > 1)) {
        throw new AppError("shop.limit_reached", `A player holds ${item.name} at most once`);
      }
      const inventory = await addToInventory(tx, {
        userId,
        itemId: item.id,
        purchased: 0,
        granted: g.quantity,
        at: now,
      });
      const result: GrantResult = {
        userId,
        item: itemRef(item),
        quantity: g.quantity,
        held: inventory.quantity,
        reason: g.reason,
        duplicate: false,
      };
      await audit(tx, actor, meta, {
        action: "inventory.granted",
        resourceType: "inventory",
        resourceId: `${userId}:${item.key}`,
        subjectUserId: userId,
        after: { item: item.key, quantity: g.quantity, held: inventory.quantity, reason: g.reason },
      });
      await slot.keep(result);
      return result;
    });
  }
}

const outOfStock = (item: ShopItemRow) =>
  new AppError("shop.out_of_stock", `${item.name} is sold out (or fewer units are left than asked for)`);

/** An item as the catalogue shows it to one player. */
export function catalogueView(r: CatalogueRow) {
  const cosmetic = COSMETICS.has(r.item_type);
  const remaining = cosmetic
    ? Math.max(0, 1 - r.held)
    : r.per_player_limit === null
      ? null
      : Math.max(0, r.per_player_limit - r.bought);
  const soldOut = r.stock !== null && r.stock <= 0;
  const affordable = r.balance >= r.price;
  const reason = soldOut
    ? ("sold_out" as const)
    : remaining === 0
      ? ("limit_reached" as const)
      : !affordable
        ? ("insufficient_funds" as const)
        : null;
  return {
    ...shopItemView(r),
    held: r.held,
    bought: r.bought,
    remaining,
    affordable,
    purchasable: reason === null,
    reason,
  };
}

export function purchaseView(r: PurchaseListRow) {
  return {
    id: r.id,
    item: { id: r.item_id, key: r.item_key, name: r.item_name, type: r.item_type },
    quantity: r.quantity,
    unitPrice: r.unit_price,
    total: r.total,
    currency: r.currency,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    refundedAt: r.refunded_at?.toISOString() ?? null,
  };
}
