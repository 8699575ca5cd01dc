import type { Engine } from "../engine/apply.ts";
import type { Definitions, Snapshot } from "../engine/definitions.ts";
import type { Effects } from "../engine/effects.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import { lockPlayer } from "../progression/progress.store.ts";
import type { StreaksService } from "../streaks/streaks.service.ts";
import { BOOST_CEILING, boostWindowFor, multipliersAt } from "./boosts.ts";
import { idempotencySlot, recordEvent, requestHash } from "./economy-events.ts";
import {
  addRecipes,
  currentBoosts,
  equip,
  extendBoost,
  inventoryOf,
  listInventory,
  runningBoost,
  startBoost,
  toBoostWindow,
  unequip,
  useUnits,
  type InventoryRow,
} from "./inventory.store.ts";
import { balanceOf, credit } from "./ledger.store.ts";
import {
  boostData,
  COSMETICS,
  freezeData,
  protectionData,
  recipeCount,
  shopItemView,
  type ItemType,
  type ShopItemRow,
} from "./shop-items.ts";
import { findItem, playerExists } from "./shop.store.ts";

/** What using an item did; the fields present depend on the kind. */
export interface UseEffect {
  kind: "boost" | "protection" | "freeze" | "recipes" | "equipped" | "consumed";
  currency?: string;
  multiplier?: number;
  startsAt?: string;
  endsAt?: string;
  /** A boost: whether it extended the same item's running boost rather than starting one. */
  extended?: boolean;
  /** A protection: the streak shielded (null: all of them). */
  streak?: string | null;
  /** Freeze tokens: how many were added, and the balance after. */
  amount?: number;
  balance?: number;
  recipesUnlocked?: number;
}

export interface UseResult {
  item: { id: string; key: string; name: string; type: ItemType };
  quantity: number;
  /** Units held after the use. */
  held: number;
  equipped: boolean;
  effect: UseEffect;
  usedAt: string;
  duplicate: boolean;
  effects: Effects;
}

const notHeld = (item: ShopItemRow, held: number, wanted: number) =>
  new AppError(
    "inventory.not_held",
    held === 0 ? `You do not hold ${item.name}` : `You hold ${held} of ${item.name}, not ${wanted}`,
  );

export function inventoryView(r: InventoryRow & { item: ShopItemRow }) {
  return {
    item: shopItemView(r.item),
    quantity: r.quantity,
    equipped: r.equipped,
    purchased: r.purchased,
    granted: r.granted,
    used: r.used,
    firstAcquiredAt: r.first_acquired_at.toISOString(),
    lastUsedAt: r.last_used_at?.toISOString() ?? null,
  };
}

/**
 * A player's inventory and what using an item does: a boost multiplies the matching awards for its
 * duration, a protection shields streaks, a freeze adds freeze tokens (within their cap), a recipe
 * pack raises recipes_unlocked, a cosmetic is equipped, a generic consumable is used up (apps react
 * to its item.used event). Only the items one holds can be used: another player's are not theirs.
 */
export class InventoryService {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
    private readonly engine: Engine,
    private readonly clock: Clock,
    private readonly streaks: StreaksService,
  ) {}

  async inventory(
    userId: string,
    f: { type?: ItemType; category?: string; all?: boolean },
    as: "user" | "admin" = "user",
  ) {
    const read = async (tx: Tx) => {
      if (as === "admin" && !(await playerExists(tx, userId))) throw notFound("Player");
      return listInventory(tx, userId, { ...f, all: f.all ?? false });
    };
    const rows = as === "admin" ? await this.db.asSystem(read) : await this.db.asUser(userId, read);
    return rows.map(inventoryView);
  }

  /** Uses `quantity` units of an item the player holds; a repeat of the key answers the first use. */
  async use(
    userId: string,
    ref: string,
    body: { quantity?: number; idempotencyKey: string },
  ): Promise<UseResult> {
    const quantity = body.quantity ?? 1;
    const snapshot = await this.definitions.snapshot();
    const now = this.clock.now();
    return this.db.asUser(userId, async (tx) => {
      const item = await findItem(tx, ref);
      if (item === undefined) throw notFound("Shop item");
      await lockPlayer(tx, userId);
      const slot = idempotencySlot(
        tx,
        "inventory:use",
        userId,
        body.idempotencyKey,
        requestHash([item.id, quantity]),
      );
      const first = await slot.first<UseResult>();
      if (first !== undefined) return first;

      if (COSMETICS.has(item.item_type) && quantity !== 1) {
        throw new AppError("validation.failed", "A cosmetic is equipped one at a time", {
          errors: [{ path: "body/quantity", message: "must be 1 for a cosmetic" }],
        });
      }
      const held = await inventoryOf(tx, userId, item.id);
      if (held === undefined || held.quantity < quantity) throw notHeld(item, held?.quantity ?? 0, quantity);
      let after: InventoryRow | undefined = held;
      let effect: UseEffect;
      if (COSMETICS.has(item.item_type)) {
        after = await equip(tx, userId, item, now);
        effect = { kind: "equipped" };
      } else {
        // Used up first: whatever the effect, the units are gone with it.
        after = await useUnits(tx, userId, item.id, quantity, now);
        if (after === undefined) throw notHeld(item, held.quantity, quantity);
        effect = await this.apply(tx, snapshot, userId, item, quantity, now);
      }
      // Equipping uses nothing up: its own event, so that it cannot stand in for using items.
      const effects = await recordEvent(this.engine, tx, snapshot, {
        userId,
        type: effect.kind === "equipped" ? "item.equipped" : "item.used",
        data:
          effect.kind === "equipped"
            ? { item: item.key, itemType: item.item_type }
            : { item: item.key, itemType: item.item_type, quantity },
        at: now,
      });
      const result: UseResult = {
        item: { id: item.id, key: item.key, name: item.name, type: item.item_type },
        quantity,
        held: after?.quantity ?? 0,
        equipped: after?.equipped ?? false,
        effect,
        usedAt: now.toISOString(),
        duplicate: false,
        effects,
      };
      await slot.keep(result);
      return result;
    });
  }

  /** What a consumable does when used. */
  private async apply(
    tx: Tx,
    snapshot: Snapshot,
    userId: string,
    item: ShopItemRow,
    quantity: number,
    now: Date,
  ): Promise<UseEffect> {
    switch (item.item_type) {
      case "boost": {
        const data = boostData(item);
        const running = await runningBoost(tx, userId, item.id, now);
        const window = boostWindowFor(running && toBoostWindow(running), now, data.duration * quantity);
        if (running !== undefined && window.extended) {
          await extendBoost(tx, userId, running.id, window.endsAt);
        } else {
          await startBoost(tx, {
            userId,
            itemId: item.id,
            currency: data.currency,
            multiplier: data.multiplier,
            ...window,
          });
        }
        return {
          kind: "boost",
          currency: running?.currency ?? data.currency,
          multiplier: running?.multiplier ?? data.multiplier,
          startsAt: window.startsAt.toISOString(),
          endsAt: window.endsAt.toISOString(),
          extended: window.extended,
        };
      }
      case "protection": {
        const data = protectionData(item);
        const streak =
          data.streak === undefined ? undefined : snapshot.streaks.find((s) => s.key === data.streak);
        if (data.streak !== undefined && streak === undefined) {
          throw new AppError(
            "inventory.not_usable",
            `The streak ${data.streak} this item protects is not active`,
          );
        }
        const window = await this.streaks.shield(tx, userId, {
          streakId: streak?.id ?? null,
          hours: data.duration * quantity,
          source: `item:${item.key}`,
        });
        return {
          kind: "protection",
          streak: streak?.key ?? null,
          startsAt: window.startsAt.toISOString(),
          endsAt: window.endsAt.toISOString(),
        };
      }
      case "freeze": {
        const { currency, amount } = freezeData(item);
        const tokens = amount * quantity;
        const cap = snapshot.currencyCaps.get(currency);
        if (cap !== undefined) {
          const balance = await balanceOf(tx, userId, currency);
          if (balance + tokens > cap) {
            throw new AppError(
              "economy.balance_cap",
              `You hold ${balance} ${currency} of at most ${cap}: ${tokens} more do not fit`,
            );
          }
        }
        const posted = await credit(tx, {
          userId,
          currency,
          amount: tokens,
          type: "bonus",
          reason: `Used: ${item.name}`,
          source: `item:${item.key}`,
          reference: item.id,
          metadata: { item: item.key, quantity },
        });
        if (posted === undefined) throw new AppError("inventory.not_usable", `Unknown currency ${currency}`);
        await this.engine.balanceChanged(tx, snapshot, userId, currency, posted.balance);
        return { kind: "freeze", currency, amount: tokens, balance: posted.balance };
      }
      case "recipe":
        return {
          kind: "recipes",
          recipesUnlocked: await addRecipes(tx, userId, recipeCount(item) * quantity),
        };
      case "consumable":
      case "avatar":
      case "badge":
        // Used up: apps react to the item.used event (cosmetics are equipped before reaching here).
        return { kind: "consumed" };
    }
  }

  /** Takes a cosmetic off. */
  async unequip(userId: string, ref: string) {
    return this.db.asUser(userId, async (tx) => {
      const item = await findItem(tx, ref);
      if (item === undefined) throw notFound("Shop item");
      if (!COSMETICS.has(item.item_type)) {
        throw new AppError("inventory.not_usable", `${item.name} is not a cosmetic; it cannot be equipped`);
      }
      const row = await unequip(tx, userId, item.id);
      if (row === undefined) throw notHeld(item, 0, 1);
      return { item: { id: item.id, key: item.key, name: item.name, type: item.item_type }, equipped: false };
    });
  }

  /** The player's boosts running now, with time left, and the multiplier of each currency. */
  async boosts(userId: string) {
    const now = this.clock.now();
    const rows = await this.db.asUser(userId, (tx) => currentBoosts(tx, userId, now));
    const running = rows.filter((b) => b.starts_at <= now);
    return {
      items: running.map((b) => ({
        item: { id: b.item_id, key: b.item_key, name: b.item_name },
        currency: b.currency,
        multiplier: b.multiplier,
        startsAt: b.starts_at.toISOString(),
        endsAt: b.ends_at.toISOString(),
        secondsLeft: Math.max(0, Math.ceil((b.ends_at.getTime() - now.getTime()) / 1000)),
      })),
      multipliers: multipliersAt(running.map(toBoostWindow), now),
      ceiling: BOOST_CEILING,
    };
  }
}
